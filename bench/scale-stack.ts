/**
 * The whole node in the simulator (issue 15, part 2): a farm of N simulated nodes, each
 * running the NodeStack (membership, FMIDB, job coordination, as the agent does), LAN
 * membership preset, started in its steady state, under a loss rate (5% by default).
 * After a 3-s warm-up, ten nodes spread over the farm each write one attribute at once;
 * the benchmark measures how long until 99% and 100% of the nodes hold each write (from
 * the FMIDB change events the stacks emit), the bytes each node sends per second over
 * the window (all of them, and the FMIDB's own beside the minimum its ten writes need:
 * each to every other node once), CPU time and the process's peak memory.
 *
 *   node dist/bench/scale-stack.js [NODES] [LOSS] [WINDOW_MS] [SEED]
 *   npm run bench:scale-stack -- 1000 0.05
 *
 * Target (issue 15): 99% of nodes within 1 s at 10,000 nodes under 5% loss. Prints one
 * JSON object (figures in ms and bytes).
 */
import type { FmidbOptions } from '../src/core/fmidb/config.js';
import { membershipConfig } from '../src/core/membership/config.js';
import { NetworkSimulator } from '../src/sim/network-simulator.js';
import { nodeAddress } from '../src/sim/node-address.js';
import { SimulatedStackFarm } from '../src/sim/simulated-stack-farm.js';

const [nodesText = '1000', lossText = '0.05', windowText = '10000', seedText] = process.argv.slice(2);
const n = Number(nodesText);
const lossRate = Number(lossText);
const windowMs = Number(windowText);
const seed = seedText === undefined ? 2000 + n : Number(seedText);
const kWarmupMs = 3000;
const kWriters = 10;

const started = performance.now();
const cpuStarted = process.cpuUsage();
const sim = new NetworkSimulator({ seed, nodesMax: n + 8, tickMs: 10, eventsQueuedMax: 1 << 24, lossRate: 0 });
const addresses = Array.from({ length: n }, (_, i) => nodeAddress(i));
/** write key -> sim time each node first held it. */
const heldAt = new Map<string, Map<string, number>>();
let t0 = -1;
// FMIDB options as JSON, to compare settings (the defaults when absent).
const fmidbOptions = process.env.GALAXY_STACK_FMIDB === undefined ? undefined : JSON.parse(process.env.GALAXY_STACK_FMIDB) as FmidbOptions;
const farm = new SimulatedStackFarm(sim, {
  ...(fmidbOptions === undefined ? {} : { fmidb: fmidbOptions }),
  membership: membershipConfig({ membersMax: n + 16, failedProbesToSuspect: 2 }, 'lan'),
  startsMax: n + 8,
  prepopulate: addresses,
  onEvent: (address, event, simNowMs) => {
    if (t0 < 0 || event.layer !== 'fmidb' || event.change.cause !== 'write' || !event.change.key.startsWith('scale-')) return;
    const key = `${event.change.subject}/${event.change.key}`;
    let held = heldAt.get(key);
    if (held === undefined) heldAt.set(key, (held = new Map()));
    if (!held.has(address)) held.set(address, simNowMs - t0);
  },
});
for (let i = 0; i < n; i++) farm.addNode(addresses.slice(0, 3));
const setupMs = performance.now() - started;
sim.runFor(kWarmupMs);
sim.setLossRate(lossRate);
const sentBefore = bytesSent();
const fmidbBefore = fmidbBytesSent();
const kindsBefore = fmidbBytesByKind();
t0 = sim.nowMs();
const writers = Array.from({ length: kWriters }, (_, i) => addresses[Math.floor((i * n) / kWriters) + 1] ?? addresses[0]!);
for (const [i, writer] of writers.entries()) farm.command(writer, { type: 'write', writes: [{ subject: writer, key: `scale-${i}`, value: `v${i}` }] });
sim.runFor(windowMs);
const sent = bytesSent() - sentBefore;
const fmidbSent = fmidbBytesSent() - fmidbBefore;
const kindsAfter = fmidbBytesByKind();
// The minimum (as bench:fmidb counts it): every other node must receive each write's subject, key and an 8-byte value once.
const encoder = new TextEncoder();
const minimumBytes = writers.reduce((sum, writer, i) => sum + (n - 1) * (encoder.encode(writer).length + encoder.encode(`scale-${i}`).length + 8), 0);

const perWrite = [...heldAt.entries()].map(([key, held]) => {
  const times = [...held.values()].sort((a, b) => a - b);
  const at = (fraction: number): number | null => (times.length >= Math.ceil(fraction * n) ? round(times[Math.ceil(fraction * n) - 1]!) : null);
  return { key, holders: times.length, p99Ms: at(0.99), allMs: at(1) };
});
const worst = (field: 'p99Ms' | 'allMs'): number | null => (perWrite.length < kWriters || perWrite.some((w) => w[field] === null) ? null : Math.max(...perWrite.map((w) => w[field]!)));
const cpu = process.cpuUsage(cpuStarted);
console.log(JSON.stringify({
  nodes: n,
  lossRate,
  seed,
  windowMs,
  writes: kWriters,
  p99WorstMs: worst('p99Ms'),
  allWorstMs: worst('allMs'),
  perWrite,
  bytesPerNodePerSecond: Math.round(sent / n / (windowMs / 1000)),
  // The FMIDB's own messages (replica counters, before envelopes) against the minimum its writes need.
  fmidbBytesPerNodePerSecond: Math.round(fmidbSent / n / (windowMs / 1000)),
  minimumBytesPerNodePerSecond: Math.round(minimumBytes / n / (windowMs / 1000)),
  fmidbRatioToMinimum: Math.round((fmidbSent / minimumBytes) * 100) / 100,
  fmidbBytesPerNodePerSecondByKind: Object.fromEntries(Object.entries(kindsAfter).map(([kind, bytes]) => [kind, Math.round((bytes - kindsBefore[kind as keyof typeof kindsBefore]) / n / (windowMs / 1000))])),
  // The simulator's running hash of every event: equal digests mean equal runs (to compare builds).
  eventDigest: sim.eventDigest(),
  events: sim.stats().eventsProcessed,
  setupWallMs: Math.round(setupMs),
  wallMs: Math.round(performance.now() - started),
  cpuMs: Math.round((cpu.user + cpu.system) / 1000),
  maxRssBytes: process.resourceUsage().maxRSS * 1024,
}, null, 2));

function bytesSent(): number {
  const totals = sim.stats().totals;
  return totals.datagramBytesSent + totals.frameBytesSent;
}

/** Bytes every running replica has sent (datagrams and frames, before the stack's envelopes). */
function fmidbBytesSent(): number {
  let total = 0;
  for (const address of addresses) {
    const counters = farm.stackOf(address)?.fmidb.replica.counters;
    if (counters !== undefined) total += counters.datagramBytesSent + counters.frameBytesSent;
  }
  return total;
}

/** The same, by message kind (announcements, full syncs, pulls, deltas). */
function fmidbBytesByKind(): { announcements: number; fullSyncs: number; pulls: number; deltas: number } {
  const t = { announcements: 0, fullSyncs: 0, pulls: 0, deltas: 0 };
  for (const address of addresses) {
    const c = farm.stackOf(address)?.fmidb.replica.counters;
    if (c === undefined) continue;
    t.announcements += c.digestBytesSent;
    t.fullSyncs += c.fullSyncBytesSent;
    t.pulls += c.requestBytesSent;
    t.deltas += c.deltaBytesSent;
  }
  return t;
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}
