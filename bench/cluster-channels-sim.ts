/**
 * Channels over the real cluster core, in the simulator (issue 18, a simulated
 * preview of item 6): per ordering, at 3, 5 and 8 members, the throughput delivered at
 * every member (messages per simulated second, the slowest member's) with one sender
 * and with all sending, 100-byte and 1,000-byte messages, and the send-to-delivery
 * latency p50 / p99 at 1,000 msg/s of 100-byte messages. SIMULATED: ClusterChannels
 * cores on the simulated LAN (0.2-1 ms one-way), where processing costs no simulated
 * time, so these are the protocols' limits (windows, rounds, stability), not this
 * machine's and not real agents. Corosync CPG's agreed-order figures, measured on
 * these machines with real processes (issue 18), are printed beside them.
 *
 *   npm run bench:cluster-channels-sim           (writes bench/results/cluster-channels-sim.json)
 *   GALAXY_BENCH_QUICK=1 npm run bench:cluster-channels-sim
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChannelOptions, Ordering } from '../src/core/channels/channel-options.js';
import type { ClusterMemberOptions } from '../src/core/cluster/cluster-config.js';
import { nodeIdOfIndex } from '../src/sim/cluster/cluster-simulation.js';
import { ClusterChannelsSimulation } from '../src/sim/cluster-channels/cluster-channels-simulation.js';

const quick = process.env.GALAXY_BENCH_QUICK === '1';
const kMeasureMs = quick ? 300 : 1000;
const kSizes = [3, 5, 8];
const kOrderings: Ordering[] = ['none', 'fifo', 'causal', 'total', 'safe'];
/** The cluster core's send window, raised from its default of 32: stability comes with heartbeats (50 ms), so the window bounds a sender's rate. */
const kMembership: ClusterMemberOptions = { sendWindowMax: 1024, payloadBytesMax: 16 * 1024 };

const kCorosync: Record<number, Record<string, string>> = {
  3: { oneSender100: '12,000', allSending100: '15,400', oneSender1000: '12,200', latency: '0.51 / 1.56 ms' },
  5: { oneSender100: '7,800', allSending100: '7,800', oneSender1000: '6,700', latency: '0.68 / 1.76 ms' },
};

interface Load {
  size: number;
  ordering: Ordering;
  payloadBytes: number;
  allSending: boolean;
  /** Flood (as fast as the windows allow) or a fixed mean gap per sender. */
  sendEveryMs: number | 'flood';
}

function run(load: Load, seed: number): { deliveredPerSecond: number; latency: { p50Ms: number; p99Ms: number; samples: number } } {
  const nodes = Array.from({ length: load.size }, (_, i) => i);
  const options: ChannelOptions = { reliability: 'reliable', ordering: load.ordering, windowMessages: 256 };
  const latency = { samplesMs: [] as number[], samplesMax: 2_000_000 };
  const warmMs = 400;
  const s = new ClusterChannelsSimulation({
    seed,
    nodeCount: load.size,
    workload: {
      channel: 'bench', options, sendEveryMs: load.sendEveryMs === 'flood' ? 0 : load.sendEveryMs, sendUntilMs: Infinity, bigRate: 0, replyRate: 0,
      senderNodeIds: load.allSending ? undefined : new Set([nodeIdOfIndex(0)]), payloadBytes: load.payloadBytes,
      floodQueue: load.sendEveryMs === 'flood' ? 64 : undefined,
    },
    membership: kMembership,
    layer: { fragmentBytes: 8192 },
    latency,
    sim: { tickMs: 1 },
  });
  if (s.sim.runUntil(() => s.host(0)?.core.currentView() !== null, 5000, 5) < 0) throw new Error('no first view');
  s.host(0)!.open();
  if (s.awaitCommonView(nodes, 5000) < 0) throw new Error(`no common view: ${s.describe(nodes)}`);
  s.sim.runFor(warmMs);
  const before = nodes.map((i) => s.host(i)!.deliveredCount);
  latency.samplesMs.length = 0;
  s.sim.runFor(kMeasureMs);
  const delivered = nodes.map((i) => s.host(i)!.deliveredCount - before[i]!);
  const sorted = latency.samplesMs.slice().sort((a, b) => a - b);
  const at = (q: number): number => Math.round((sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN) * 100) / 100;
  return { deliveredPerSecond: Math.round(Math.min(...delivered) / (kMeasureMs / 1000)), latency: { p50Ms: at(0.5), p99Ms: at(0.99), samples: sorted.length } };
}

const results: Record<string, unknown>[] = [];
console.log(`SIMULATED (ClusterChannels cores on the simulated LAN, not real agents; cluster sendWindowMax ${kMembership.sendWindowMax}); ${kMeasureMs} ms measured per figure`);
console.log('members ordering | 100 B one sender | 100 B all sending | 1000 B one sender | p50 / p99 at 1000 msg/s, 100 B || Corosync CPG agreed (real, issue 18)');
for (const size of kSizes) {
  for (const ordering of kOrderings) {
    const started = Date.now();
    const one100 = run({ size, ordering, payloadBytes: 100, allSending: false, sendEveryMs: 'flood' }, 1);
    const all100 = run({ size, ordering, payloadBytes: 100, allSending: true, sendEveryMs: 'flood' }, 2);
    const one1000 = run({ size, ordering, payloadBytes: 1000, allSending: false, sendEveryMs: 'flood' }, 3);
    // One sender with a mean gap of 1 ms: 1,000 msg/s.
    const moderate = run({ size, ordering, payloadBytes: 100, allSending: false, sendEveryMs: 1 }, 4);
    const corosync = kCorosync[size];
    results.push({ size, ordering, oneSender100: one100.deliveredPerSecond, allSending100: all100.deliveredPerSecond, oneSender1000: one1000.deliveredPerSecond, latencyAt1000: moderate.latency, saturatedAllSending100Latency: all100.latency, corosync: corosync ?? null });
    console.log(
      `${size} ${ordering.padEnd(6)} | ${one100.deliveredPerSecond} | ${all100.deliveredPerSecond} | ${one1000.deliveredPerSecond} | ${moderate.latency.p50Ms} / ${moderate.latency.p99Ms} ms` +
        ` || ${corosync === undefined ? '(not measured)' : `${corosync.oneSender100} | ${corosync.allSending100} | ${corosync.oneSender1000} | ${corosync.latency}`}  [${((Date.now() - started) / 1000).toFixed(1)} s wall]`,
    );
  }
}
const out = join('bench', 'results');
mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'cluster-channels-sim.json'), JSON.stringify({ simulated: true, note: 'ClusterChannels cores in the network simulator; processing costs no simulated time; Corosync figures are real processes (issue 18)', measureMs: kMeasureMs, membership: kMembership, results }, null, 2));
