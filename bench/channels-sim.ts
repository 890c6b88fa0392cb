/**
 * Channel throughput and latency over the real cluster core, IN THE SIMULATOR (issue 18,
 * item 6's figures, simulated): per ordering, at 3, 5 and 8 members, messages per
 * simulated second delivered at every member (the slowest member's count) for 100-byte
 * and 1,000-byte messages, one sender and all sending; the send-to-delivery latency
 * p50 / p99 at 1,000 msg/s of 100-byte messages from one sender; and the p99 when all
 * members flood 1,000-byte messages (the flow-control target: within 50 ms).
 *
 * SIMULATED: every member is a ClusterChannels core in one thread on the simulated LAN
 * (0.2-1 ms one-way, 1 ms ticks), and processing costs no simulated time. These are the
 * protocols' limits (windows, acknowledgements, the sequencer's order round), not this
 * machine's CPU and not real agents. The wall-clock column shows what the simulation
 * cost this thread: every member's work added up. Corosync CPG's agreed-order figures
 * (real processes, issue 18) are printed beside them with our ratio to them.
 *
 *   npm run bench:channels-sim                 (writes bench/results/channels-sim.json)
 *   GALAXY_BENCH_QUICK=1 npm run bench:channels-sim
 *   GALAXY_BENCH_SIZES=5 GALAXY_BENCH_ORDERINGS=total npm run bench:channels-sim   (a subset; no file written)
 *   GALAXY_BENCH_WINDOW_MESSAGES=256 (the layer's credit window; default 1,024)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChannelOptions, Ordering } from '../src/core/channels/channel-options.js';
import type { ClusterMemberOptions } from '../src/core/cluster/cluster-config.js';
import { nodeIdOfIndex } from '../src/sim/cluster/cluster-simulation.js';
import { ClusterChannelsSimulation } from '../src/sim/cluster-channels/cluster-channels-simulation.js';

const quick = process.env.GALAXY_BENCH_QUICK === '1';
const kMeasureMs = quick ? 200 : 1000;
const kWarmMs = quick ? 200 : 400;
const kSizes = (process.env.GALAXY_BENCH_SIZES ?? '3,5,8').split(',').map(Number);
const kOrderings = (process.env.GALAXY_BENCH_ORDERINGS ?? 'none,fifo,causal,total,safe').split(',') as Ordering[];
const subset = process.env.GALAXY_BENCH_SIZES !== undefined || process.env.GALAXY_BENCH_ORDERINGS !== undefined;
/** The cluster core's send window in messages (each may pack many channel messages); acknowledged promptly every quarter window. */
const kMembership: ClusterMemberOptions = { sendWindowMax: 256, payloadBytesMax: 64 * 1024 };
/** The layer's credit window per member, in messages. */
const kWindowMessages = Number(process.env.GALAXY_BENCH_WINDOW_MESSAGES ?? 1024);

/** Corosync CPG, agreed order, one synchronous sender, measured on these machines (issue 18). */
const kCorosync: Record<number, { oneSender100: number; allSending100: number; oneSender1000: number; p50Ms: number; p99Ms: number }> = {
  3: { oneSender100: 12_000, allSending100: 15_400, oneSender1000: 12_200, p50Ms: 0.51, p99Ms: 1.56 },
  5: { oneSender100: 7_800, allSending100: 7_800, oneSender1000: 6_700, p50Ms: 0.68, p99Ms: 1.76 },
};

interface Load {
  size: number;
  ordering: Ordering;
  payloadBytes: number;
  allSending: boolean;
  /** Flood (as fast as the windows allow) or a fixed mean gap per sender. */
  sendEveryMs: number | 'flood';
}

interface Figure {
  deliveredPerSecond: number;
  latency: { p50Ms: number; p99Ms: number; maxMs: number; samples: number };
  wallMs: number;
}

function run(load: Load, seed: number): Figure {
  const started = Date.now();
  const nodes = Array.from({ length: load.size }, (_, i) => i);
  const options: ChannelOptions = { reliability: 'reliable', ordering: load.ordering, windowMessages: kWindowMessages };
  const latency = { samplesMs: [] as number[], samplesMax: 4_000_000 };
  const s = new ClusterChannelsSimulation({
    seed,
    nodeCount: load.size,
    workload: {
      channel: 'bench', options, sendEveryMs: load.sendEveryMs === 'flood' ? 0 : load.sendEveryMs, sendUntilMs: Infinity, bigRate: 0, replyRate: 0,
      senderNodeIds: load.allSending ? undefined : new Set([nodeIdOfIndex(0)]), payloadBytes: load.payloadBytes,
      floodQueue: load.sendEveryMs === 'flood' ? 256 : undefined,
    },
    membership: kMembership,
    layer: { fragmentBytes: 8192 },
    multicastBacklogMax: 4096,
    latency,
    recordMessages: false,
    sim: { tickMs: 1 },
  });
  if (s.sim.runUntil(() => s.host(0)?.core.currentView() !== null, 5000, 5) < 0) throw new Error('no first view');
  s.host(0)!.open();
  if (s.awaitCommonView(nodes, 5000) < 0) throw new Error(`no common view: ${s.describe(nodes)}`);
  s.sim.runFor(kWarmMs);
  const before = nodes.map((i) => s.host(i)!.deliveredCount);
  latency.samplesMs.length = 0;
  s.sim.runFor(kMeasureMs);
  const delivered = nodes.map((i) => s.host(i)!.deliveredCount - before[i]!);
  if (!s.hasCommonView(nodes)) throw new Error(`the view changed during the run: ${s.describe(nodes)}`);
  const sorted = latency.samplesMs.slice().sort((a, b) => a - b);
  const at = (q: number): number => Math.round((sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN) * 100) / 100;
  return {
    deliveredPerSecond: Math.round(Math.min(...delivered) / (kMeasureMs / 1000)),
    latency: { p50Ms: at(0.5), p99Ms: at(0.99), maxMs: at(1), samples: sorted.length },
    wallMs: Date.now() - started,
  };
}

const ratio = (ours: number, theirs: number | undefined): string => (theirs === undefined ? '' : ` (${(ours / theirs).toFixed(1)}x)`);
const n = (x: number): string => x.toLocaleString('en-US');

const results: Record<string, unknown>[] = [];
console.log('SIMULATED: ClusterChannels cores in one thread on the simulated LAN; processing costs no simulated time. Not real agents.');
console.log(`cluster sendWindowMax ${kMembership.sendWindowMax}, payloadBytesMax ${kMembership.payloadBytesMax}; layer windowMessages ${kWindowMessages}; ${kMeasureMs} ms measured per figure`);
console.log('members ordering | 100 B one sender | 100 B all sending | 1000 B one sender | 1000 B all sending | p50 / p99 at 1000 msg/s, 100 B | p99 / max, all flooding 1000 B || Corosync CPG agreed (real): 100 B one | 100 B all | 1000 B one | p50 / p99');
for (const size of kSizes) {
  for (const ordering of kOrderings) {
    const one100 = run({ size, ordering, payloadBytes: 100, allSending: false, sendEveryMs: 'flood' }, 1);
    const all100 = run({ size, ordering, payloadBytes: 100, allSending: true, sendEveryMs: 'flood' }, 2);
    const one1000 = run({ size, ordering, payloadBytes: 1000, allSending: false, sendEveryMs: 'flood' }, 3);
    const all1000 = run({ size, ordering, payloadBytes: 1000, allSending: true, sendEveryMs: 'flood' }, 5);
    // One sender with a mean gap of 1 ms: 1,000 msg/s.
    const moderate = run({ size, ordering, payloadBytes: 100, allSending: false, sendEveryMs: 1 }, 4);
    const c = kCorosync[size];
    const wallMs = one100.wallMs + all100.wallMs + one1000.wallMs + all1000.wallMs + moderate.wallMs;
    results.push({
      size, ordering,
      oneSender100: one100.deliveredPerSecond, allSending100: all100.deliveredPerSecond,
      oneSender1000: one1000.deliveredPerSecond, allSending1000: all1000.deliveredPerSecond,
      latencyAt1000: moderate.latency, saturatedAllSending1000Latency: all1000.latency, saturatedAllSending100Latency: all100.latency,
      corosync: c ?? null,
      ratioToCorosync: c === undefined ? null : {
        oneSender100: one100.deliveredPerSecond / c.oneSender100, allSending100: all100.deliveredPerSecond / c.allSending100, oneSender1000: one1000.deliveredPerSecond / c.oneSender1000,
      },
      wallMs,
    });
    console.log(
      `${size} ${ordering.padEnd(6)} | ${n(one100.deliveredPerSecond)}${ratio(one100.deliveredPerSecond, c?.oneSender100)} | ${n(all100.deliveredPerSecond)}${ratio(all100.deliveredPerSecond, c?.allSending100)}` +
        ` | ${n(one1000.deliveredPerSecond)}${ratio(one1000.deliveredPerSecond, c?.oneSender1000)} | ${n(all1000.deliveredPerSecond)}` +
        ` | ${moderate.latency.p50Ms} / ${moderate.latency.p99Ms} ms | ${all1000.latency.p99Ms} / ${all1000.latency.maxMs} ms` +
        ` || ${c === undefined ? '(not measured)' : `${n(c.oneSender100)} | ${n(c.allSending100)} | ${n(c.oneSender1000)} | ${c.p50Ms} / ${c.p99Ms} ms`}  [${(wallMs / 1000).toFixed(1)} s wall]`,
    );
  }
}
if (!subset) {
  const out = join('bench', 'results');
  mkdirSync(out, { recursive: true });
  writeFileSync(
    join(out, 'channels-sim.json'),
    JSON.stringify({
      simulated: true,
      note: 'ClusterChannels cores in the network simulator, all members in one thread; processing costs no simulated time; not real agents. Corosync figures are real processes (issue 18).',
      measureMs: kMeasureMs, membership: kMembership, windowMessages: kWindowMessages, results,
    }, null, 2),
  );
}
