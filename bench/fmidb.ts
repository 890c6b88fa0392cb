/**
 * The FMIDB benchmark: simulated farms of 100, 1,000 and 10,000 nodes, each node posting
 * 5 dynamic values (the Measurement service's load, CPU, memory, disk and network)
 * every 10 s. It measures, in one run per size:
 *   - how long until 99% and 100% of the nodes hold each update posted in the window;
 *   - the bytes each node sends per second, beside the minimum every replica must
 *     receive (the updates themselves: the subject's id once per batch, then each key
 *     and its 8-byte number), as a ratio.
 * Targets (issue 6): 99% within 5 s at 10,000 nodes; traffic within 2x of the minimum.
 *
 * The replicas run the real protocol (src/fmidb) on the deterministic network simulator
 * (LAN latency, no loss) with the Wasm kernels. They keep no values (HistoryStore: 5 x
 * 10^8 replicated values would not fit in one process at 10,000 nodes), which sends
 * exactly the bytes an EntryStore would (test/fmidb-sim.test.ts proves it); bytes are
 * message payloads, without UDP/IP headers or the agent's envelope.
 *
 *   npm run bench:fmidb                             all sizes (about 40 minutes on a shared 2-vCPU VM,
 *                                                   nearly all of it the 10,000-node farm)
 *   GALAXY_FMIDB_SIZES=100,1000 npm run bench:fmidb a subset (15 s)
 *   GALAXY_FMIDB_WINDOW_MS, GALAXY_FMIDB_TAIL_MS     the window (5 s) and the tail after it (11 s)
 *
 * Writes bench/results/fmidb.json and prints a table.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import type { FmidbObserver } from '../src/core/fmidb/fmidb-replica.js';
import { FmidbSimulation, type FmidbSimNode } from '../src/sim/fmidb-simulation.js';
import { packageRoot } from '../src/core/platform/package-root.js';
import { Prng } from '../src/core/util/prng.js';

const sizes = (process.env.GALAXY_FMIDB_SIZES ?? '100,1000,10000').split(',').map(Number);

/** Each node posts its batch this often, ms (issue 6: every 10 s). */
const kPostIntervalMs = 10_000;
/**
 * The farm starts in its steady state (every replica holds every node's first batch);
 * updates posted in [warm-up, warm-up + window) are measured, so each node posts once
 * in the window, and the traffic is counted over the window.
 */
const kWarmupMs = 4_000;
const kWindowMs = Number(process.env.GALAXY_FMIDB_WINDOW_MS ?? 5_000);
/** Stragglers get this long after the window to reach every node (the next cycle's update supersedes theirs). */
const kTailMs = Number(process.env.GALAXY_FMIDB_TAIL_MS ?? 11_000);
const kKeys = ['load1', 'cpuBusy', 'memAvailableBytes', 'diskFreeBytes', 'netReceiveBytesPerSecond'] as const;
const encoder = new TextEncoder();

interface Tracked {
  row: number;
  version: number;
  postMs: number;
  seen: number;
  t99Ms: number;
  t100Ms: number;
}

/** Counts, for each measured update, the replicas that hold it (their version of its origin reached it). */
class UpdateTracker implements FmidbObserver {
  readonly updates: Tracked[] = [];
  private readonly byRow: Tracked[][] = [];
  private readonly nodes: number;
  private readonly need99: number;
  private readonly nowMs: () => number;
  open = 0;

  constructor(nodes: number, nowMs: () => number) {
    this.nodes = nodes;
    this.need99 = Math.ceil(0.99 * nodes);
    this.nowMs = nowMs;
  }

  track(row: number, version: number, postMs: number): void {
    // The origin holds its own write at once (the observer saw that before the stamp was known).
    const u: Tracked = { row, version, postMs, seen: 1, t99Ms: -1, t100Ms: -1 };
    this.updates.push(u);
    (this.byRow[row] ??= []).push(u);
    this.open++;
  }

  versionAdvanced(_replica: string, row: number, fromVersion: number, toVersion: number): void {
    const list = this.byRow[row];
    if (list === undefined) return;
    for (let i = 0; i < list.length; i++) {
      const u = list[i]!;
      if (u.version <= fromVersion || u.version > toVersion) continue;
      u.seen++;
      if (u.seen === this.need99) u.t99Ms = this.nowMs() - u.postMs;
      if (u.seen === this.nodes) {
        u.t100Ms = this.nowMs() - u.postMs;
        list.splice(i--, 1);
        this.open--;
      }
    }
  }
}

interface SizeResult {
  nodes: number;
  updatesMeasured: number;
  t99Ms: { median: number; p99: number; max: number };
  t100Ms: { median: number; p99: number; max: number; unfinished: number };
  bytesPerNodePerSecond: number;
  minimumBytesPerNodePerSecond: number;
  ratioToMinimum: number;
  breakdownBytesPerNodePerSecond: { announcements: number; pulls: number; deltas: number; fullSyncs: number };
  /** Deltas applied twice (a late or duplicate answer), per delta applied. */
  duplicateDeliveries: number;
  /** Message shapes in the window: bytes per announcement, announcements per digest, and so on. */
  messages: { bytesPerAnnouncement: number; announcementsPerDigest: number; bytesPerPull: number; pullsPerRequest: number; bytesPerGroup: number; groupsPerDelta: number; announcementsPerUpdatePerNode: number };
  simulatedSeconds: number;
  wallSeconds: number;
  eventsProcessed: number;
}

function runSize(nodes: number, seed: number): SizeResult {
  const started = performance.now();
  const prng = new Prng(seed ^ 0xf0d);
  const phases = Array.from({ length: nodes }, () => prng.nextFloat() * kPostIntervalMs);
  const nextPostMs = new Float64Array(nodes).fill(-1);
  let tracker!: UpdateTracker;
  let simRef!: FmidbSimulation;
  let minimumBytes = 0;
  let measuring = false;
  const post = (node: FmidbSimNode): void => {
    const local = node.nowMs();
    if (nextPostMs[node.index]! < 0) nextPostMs[node.index] = local + phases[node.index]!;
    if (local < nextPostMs[node.index]!) return;
    nextPostMs[node.index]! += kPostIntervalMs;
    const r = prng.nextFloat();
    const values = [Math.round(r * 400) / 100, Math.round(r * 1000) / 1000, Math.floor(8e9 + r * 2e9), Math.floor(4e11 + r * 1e11), Math.round(r * 1.25e8) / 10];
    const stamp = node.replica.setMany(kKeys.map((key, i) => ({ subject: node.address, key, value: values[i]! })));
    const globalMs = simRef.sim.nowMs();
    if (globalMs >= kWarmupMs && globalMs < kWarmupMs + kWindowMs) {
      tracker.track(simRef.memory.registry!.find(node.address), stamp, globalMs);
      if (measuring) minimumBytes += (nodes - 1) * batchBytes(node.address);
    }
  };
  const sim = new FmidbSimulation({
    nodes,
    network: { seed, tickMs: 20, nodesMax: nodes + 8, eventsQueuedMax: 1 << 25 },
    values: 'history',
    prepopulate: (address) => kKeys.map((key) => ({ subject: address, key, value: 0 })),
    workload: post,
    observer: { versionAdvanced: (...args) => tracker.versionAdvanced(...args) },
  });
  simRef = sim;
  tracker = new UpdateTracker(nodes, () => sim.sim.nowMs());
  console.log(`    ${nodes} nodes: started in ${round((performance.now() - started) / 1000)} s`);
  sim.sim.runFor(kWarmupMs);
  console.log(`    ${nodes} nodes: warm-up done at ${round((performance.now() - started) / 1000)} s`);
  const before = totals(sim);
  measuring = true;
  sim.sim.runFor(kWindowMs);
  measuring = false;
  const after = totals(sim);
  console.log(`    ${nodes} nodes: window done at ${round((performance.now() - started) / 1000)} s`);
  sim.sim.runUntil(() => tracker.open === 0, kTailMs, 200);
  const windowS = kWindowMs / 1000;
  const perNode = (bytes: number): number => round(bytes / nodes / windowS);
  const t99 = tracker.updates.map((u) => u.t99Ms).filter((t) => t >= 0);
  const t100 = tracker.updates.map((u) => u.t100Ms).filter((t) => t >= 0);
  const bytes = after.bytes - before.bytes;
  const stats = sim.sim.stats();
  return {
    nodes,
    updatesMeasured: tracker.updates.length,
    t99Ms: summary(t99),
    t100Ms: { ...summary(t100), unfinished: tracker.updates.length - t100.length },
    bytesPerNodePerSecond: perNode(bytes),
    minimumBytesPerNodePerSecond: perNode(minimumBytes),
    ratioToMinimum: round(bytes / minimumBytes),
    breakdownBytesPerNodePerSecond: {
      announcements: perNode(after.digest - before.digest),
      pulls: perNode(after.request - before.request),
      deltas: perNode(after.delta - before.delta),
      fullSyncs: perNode(after.sync - before.sync),
    },
    duplicateDeliveries: round((after.stale - before.stale) / Math.max(1, after.applied - before.applied)),
    messages: {
      bytesPerAnnouncement: round((after.digest - before.digest) / (after.announcements - before.announcements)),
      announcementsPerDigest: round((after.announcements - before.announcements) / (after.digests - before.digests)),
      bytesPerPull: round((after.request - before.request) / (after.pulls - before.pulls)),
      pullsPerRequest: round((after.pulls - before.pulls) / (after.requests - before.requests)),
      bytesPerGroup: round((after.delta - before.delta) / (after.groups - before.groups)),
      groupsPerDelta: round((after.groups - before.groups) / (after.deltas - before.deltas)),
      announcementsPerUpdatePerNode: round((after.announcements - before.announcements) / tracker.updates.length / nodes),
    },
    simulatedSeconds: round(stats.simTimeMs / 1000),
    wallSeconds: round((performance.now() - started) / 1000),
    eventsProcessed: stats.eventsProcessed,
  };
}

/** The update bytes themselves: the subject's id once, then each key and its 8-byte number. */
function batchBytes(subject: string): number {
  let n = encoder.encode(subject).length;
  for (const key of kKeys) n += encoder.encode(key).length + 8;
  return n;
}

interface Totals {
  bytes: number;
  digest: number;
  request: number;
  delta: number;
  sync: number;
  stale: number;
  applied: number;
  announcements: number;
  digests: number;
  pulls: number;
  requests: number;
  groups: number;
  deltas: number;
}

function totals(sim: FmidbSimulation): Totals {
  const t: Totals = { bytes: 0, digest: 0, request: 0, delta: 0, sync: 0, stale: 0, applied: 0, announcements: 0, digests: 0, pulls: 0, requests: 0, groups: 0, deltas: 0 };
  for (const r of sim.replicas()) {
    const c = r.counters;
    t.bytes += c.datagramBytesSent + c.frameBytesSent;
    t.digest += c.digestBytesSent;
    t.request += c.requestBytesSent;
    t.delta += c.deltaBytesSent;
    t.sync += c.fullSyncBytesSent;
    t.stale += c.groupsStale;
    t.applied += c.groupsApplied;
    t.announcements += c.announcementsSent;
    t.digests += c.digestsSent;
    t.pulls += c.pullsSent;
    t.requests += c.requestsSent;
    t.groups += c.groupsSent;
    t.deltas += c.deltasSent;
  }
  return t;
}

function summary(values: number[]): { median: number; p99: number; max: number } {
  if (values.length === 0) return { median: -1, p99: -1, max: -1 };
  const s = [...values].sort((a, b) => a - b);
  const at = (q: number): number => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  return { median: round(at(0.5)), p99: round(at(0.99)), max: round(s[s.length - 1]!) };
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

function main(): void {
  console.log(`Galaxy FMIDB benchmark: ${sizes.join(', ')} nodes, 5 values a node every ${kPostIntervalMs / 1000} s, updates posted in a ${kWindowMs / 1000} s window measured`);
  const results: SizeResult[] = [];
  for (const n of sizes) {
    const r = runSize(n, 6000 + n);
    results.push(r);
    console.log(`  ${n} nodes: 99% in ${r.t99Ms.median} ms (median; max ${r.t99Ms.max}), 100% in ${r.t100Ms.median} ms (max ${r.t100Ms.max}, ${r.t100Ms.unfinished} unfinished); ${r.bytesPerNodePerSecond} B/node/s = ${r.ratioToMinimum}x the minimum ${r.minimumBytesPerNodePerSecond} (wall ${r.wallSeconds} s)`);
  }
  const table = results.map((r) => ({
    nodes: r.nodes,
    'to 99% median s': r.t99Ms.median / 1000,
    'to 99% max s': r.t99Ms.max / 1000,
    'to 100% median s': r.t100Ms.median / 1000,
    'to 100% max s': r.t100Ms.max / 1000,
    'B/node/s': r.bytesPerNodePerSecond,
    'minimum B/node/s': r.minimumBytesPerNodePerSecond,
    'ratio': r.ratioToMinimum,
  }));
  console.table(table);
  const out = { date: new Date().toISOString(), node: process.version, cpu: cpus()[0]?.model ?? 'unknown', postIntervalMs: kPostIntervalMs, windowMs: kWindowMs, targets: { to99PercentMsAt10000: 5000, ratioToMinimumMax: 2 }, results };
  const dir = join(packageRoot(), 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'fmidb.json'), JSON.stringify(out, null, 2) + '\n');
  console.log(`wrote ${join(dir, 'fmidb.json')}`);
}

main();
