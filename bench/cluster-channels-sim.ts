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
import { kOrderings } from '../src/core/channels/channel-options.js';
import type { ClusterMemberOptions } from '../src/core/cluster/cluster-config.js';
import { corosyncColumns, corosyncOf, loadOf, thousands, writeResults, type ChannelLoad } from './channels-common.js';
import { runSimulated } from './channels-sim-run.js';

const quick = process.env.GALAXY_BENCH_QUICK === '1';
const kMeasureMs = quick ? 300 : 1000;
const kSizes = [3, 5, 8];
/** The cluster core's send window, raised from its default of 32: stability comes with heartbeats (50 ms), so the window bounds a sender's rate. */
const kMembership: ClusterMemberOptions = { sendWindowMax: 1024, payloadBytesMax: 16 * 1024 };

function run(load: ChannelLoad, seed: number): { deliveredPerSecond: number; latency: { p50Ms: number; p99Ms: number; samples: number } } {
  const f = runSimulated(load, seed, { membership: kMembership, windowMessages: 256, floodQueue: 64, latencySamplesMax: 2_000_000, warmMs: 400, measureMs: kMeasureMs, steadyView: false });
  return { deliveredPerSecond: f.deliveredPerSecond, latency: { p50Ms: f.latency.p50Ms, p99Ms: f.latency.p99Ms, samples: f.latency.samples } };
}

const results: Record<string, unknown>[] = [];
console.log(`SIMULATED (ClusterChannels cores on the simulated LAN, not real agents; cluster sendWindowMax ${kMembership.sendWindowMax}); ${kMeasureMs} ms measured per figure`);
console.log('members ordering | 100 B one sender | 100 B all sending | 1000 B one sender | p50 / p99 at 1000 msg/s, 100 B || Corosync CPG agreed (real, issue 18)');
for (const size of kSizes) {
  for (const ordering of kOrderings) {
    const started = Date.now();
    const one100 = run(loadOf(size, ordering, 'one100'), 1);
    const all100 = run(loadOf(size, ordering, 'all100'), 2);
    const one1000 = run(loadOf(size, ordering, 'one1000'), 3);
    const moderate = run(loadOf(size, ordering, 'moderate'), 4);
    const c = corosyncOf(size);
    // This file's results give Corosync's figures as printed (this benchmark's format since it began).
    const corosync = c === null ? null : { oneSender100: thousands(c.oneSender100), allSending100: thousands(c.allSending100), oneSender1000: thousands(c.oneSender1000), latency: `${c.p50Ms} / ${c.p99Ms} ms` };
    results.push({ size, ordering, oneSender100: one100.deliveredPerSecond, allSending100: all100.deliveredPerSecond, oneSender1000: one1000.deliveredPerSecond, latencyAt1000: moderate.latency, saturatedAllSending100Latency: all100.latency, corosync });
    console.log(
      `${size} ${ordering.padEnd(6)} | ${one100.deliveredPerSecond} | ${all100.deliveredPerSecond} | ${one1000.deliveredPerSecond} | ${moderate.latency.p50Ms} / ${moderate.latency.p99Ms} ms` +
        ` || ${corosyncColumns(c)}  [${((Date.now() - started) / 1000).toFixed(1)} s wall]`,
    );
  }
}
writeResults('cluster-channels-sim.json', { simulated: true, note: 'ClusterChannels cores in the network simulator; processing costs no simulated time; Corosync figures are real processes (issue 18)', measureMs: kMeasureMs, membership: kMembership, results });
