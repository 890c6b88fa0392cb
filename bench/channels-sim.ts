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
import type { ClusterMemberOptions } from '../src/core/cluster/cluster-config.js';
import { benchGrid, corosyncColumns, corosyncOf, loadOf, throughputColumns, writeResults, type ChannelLoad } from './channels-common.js';
import { runSimulated, type SimulatedFigure } from './channels-sim-run.js';

const quick = process.env.GALAXY_BENCH_QUICK === '1';
const kMeasureMs = quick ? 200 : 1000;
const kWarmMs = quick ? 200 : 400;
const { sizes: kSizes, orderings: kOrderings, subset } = benchGrid();
/** The cluster core's send window in messages (each may pack many channel messages); acknowledged promptly every quarter window. */
const kMembership: ClusterMemberOptions = { sendWindowMax: 256, payloadBytesMax: 64 * 1024 };
/** The layer's credit window per member, in messages. */
const kWindowMessages = Number(process.env.GALAXY_BENCH_WINDOW_MESSAGES ?? 1024);

function run(load: ChannelLoad, seed: number): SimulatedFigure {
  return runSimulated(load, seed, {
    membership: kMembership, windowMessages: kWindowMessages, floodQueue: 256, latencySamplesMax: 4_000_000, warmMs: kWarmMs, measureMs: kMeasureMs,
    multicastBacklogMax: 4096, recordMessages: false, steadyView: true,
  });
}

const results: Record<string, unknown>[] = [];
console.log('SIMULATED: ClusterChannels cores in one thread on the simulated LAN; processing costs no simulated time. Not real agents.');
console.log(`cluster sendWindowMax ${kMembership.sendWindowMax}, payloadBytesMax ${kMembership.payloadBytesMax}; layer windowMessages ${kWindowMessages}; ${kMeasureMs} ms measured per figure`);
console.log('members ordering | 100 B one sender | 100 B all sending | 1000 B one sender | 1000 B all sending | p50 / p99 at 1000 msg/s, 100 B | p99 / max, all flooding 1000 B || Corosync CPG agreed (real): 100 B one | 100 B all | 1000 B one | p50 / p99');
for (const size of kSizes) {
  for (const ordering of kOrderings) {
    const one100 = run(loadOf(size, ordering, 'one100'), 1);
    const all100 = run(loadOf(size, ordering, 'all100'), 2);
    const one1000 = run(loadOf(size, ordering, 'one1000'), 3);
    const all1000 = run(loadOf(size, ordering, 'all1000'), 5);
    const moderate = run(loadOf(size, ordering, 'moderate'), 4);
    const c = corosyncOf(size);
    const wallMs = one100.wallMs + all100.wallMs + one1000.wallMs + all1000.wallMs + moderate.wallMs;
    results.push({
      size, ordering,
      oneSender100: one100.deliveredPerSecond, allSending100: all100.deliveredPerSecond,
      oneSender1000: one1000.deliveredPerSecond, allSending1000: all1000.deliveredPerSecond,
      latencyAt1000: moderate.latency, saturatedAllSending1000Latency: all1000.latency, saturatedAllSending100Latency: all100.latency,
      corosync: c,
      ratioToCorosync: c === null ? null : {
        oneSender100: one100.deliveredPerSecond / c.oneSender100, allSending100: all100.deliveredPerSecond / c.allSending100, oneSender1000: one1000.deliveredPerSecond / c.oneSender1000,
      },
      wallMs,
    });
    console.log(
      `${size} ${ordering.padEnd(6)} | ${throughputColumns(one100.deliveredPerSecond, all100.deliveredPerSecond, one1000.deliveredPerSecond, all1000.deliveredPerSecond, c)}` +
        ` | ${moderate.latency.p50Ms} / ${moderate.latency.p99Ms} ms | ${all1000.latency.p99Ms} / ${all1000.latency.maxMs} ms` +
        ` || ${corosyncColumns(c)}  [${(wallMs / 1000).toFixed(1)} s wall]`,
    );
  }
}
if (!subset) {
  writeResults('channels-sim.json', {
    simulated: true,
    note: 'ClusterChannels cores in the network simulator, all members in one thread; processing costs no simulated time; not real agents. Corosync figures are real processes (issue 18).',
    measureMs: kMeasureMs, membership: kMembership, windowMessages: kWindowMessages, results,
  });
}
