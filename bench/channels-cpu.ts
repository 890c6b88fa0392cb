/**
 * The CPU cost of the channel path itself (issue 18, item 4's evidence): N ClusterChannels
 * cores in this one thread, wired by an instant in-memory FIFO (no sockets, no seals, no
 * simulator), one sender flooding 100-byte or 1,000-byte messages, with and without a
 * cork around each burst of sends. Measured in CPU time of this process (user + system,
 * so other load on the machine does not count), it gives microseconds of CPU per
 * delivery, every member's work added up, and the end-to-end rate one core could carry
 * if it ran all N members: a floor for what a real member, with a core of its own and
 * only its own share of the work, can do before sockets and AES-GCM.
 *
 *   npm run bench:channels-cpu              (writes bench/results/channels-cpu.json)
 *   GALAXY_BENCH_QUICK=1 npm run bench:channels-cpu
 */
import type { Ordering } from '../src/core/channels/channel-options.js';
import { thousands, writeResults } from './channels-common.js';
import { runCpuCase } from './channels-cpu-run.js';

const quick = process.env.GALAXY_BENCH_QUICK === '1';
const kMessages = quick ? 30_000 : 150_000;

const results: Record<string, unknown>[] = [];
console.log(`IN-PROCESS CPU (all members in this one thread, no sockets or seals; CPU time, not wall): ${kMessages} messages from one sender per figure`);
console.log('members ordering bytes | corked: us CPU per delivery, msg/s per CPU second, msg per pack | uncorked: same');
for (const size of [3, 5, 8]) {
  for (const ordering of ['fifo', 'total', 'safe'] as Ordering[]) {
    for (const payloadBytes of [100, 1000]) {
      const corked = runCpuCase({ size, ordering, payloadBytes, cork: true }, kMessages);
      const uncorked = runCpuCase({ size, ordering, payloadBytes, cork: false }, kMessages);
      results.push({ size, ordering, payloadBytes, corked, uncorked });
      console.log(
        `${size} ${ordering.padEnd(5)} ${String(payloadBytes).padStart(4)} | ${corked.cpuUsPerDelivery} us, ${thousands(corked.messagesPerCpuSecond)} msg/s, ${corked.messagesPerPack}/pack` +
          ` | ${uncorked.cpuUsPerDelivery} us, ${thousands(uncorked.messagesPerCpuSecond)} msg/s, ${uncorked.messagesPerPack}/pack`,
      );
    }
  }
}
writeResults('channels-cpu.json', { inProcess: true, note: 'all members in one thread, instant in-memory wire, no sockets or seals; CPU time of the process', messages: kMessages, results });
