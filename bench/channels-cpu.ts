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
import { ClusterChannels } from '../src/core/cluster-channels/cluster-channels.js';
import { Prng } from '../src/core/util/prng.js';
import { thousands, writeResults } from './channels-common.js';

const quick = process.env.GALAXY_BENCH_QUICK === '1';
const kMessages = quick ? 30_000 : 150_000;
/** Sends per burst (one cork), and the layer send queue a burst stops at. */
const kBurst = 256;

interface Case {
  size: number;
  ordering: Ordering;
  payloadBytes: number;
  cork: boolean;
}

function run(c: Case): { cpuUsPerDelivery: number; messagesPerCpuSecond: number; messagesPerPack: number } {
  const ids = Array.from({ length: c.size }, (_, i) => `n${i}`);
  let nowMs = 0;
  const cores = ids.map((id, i) => new ClusterChannels({
    cluster: 'b', nodeId: id, incarnation: 0, definition: ids, random: new Prng(i + 1), nowMs: 0,
    membership: { sendWindowMax: 128, payloadBytesMax: 32 * 1024 }, layer: { fragmentBytes: 8192, autoConsume: true }, multicastBacklogMax: 4096,
  }));
  const wire: { to: number; from: string; bytes: Uint8Array }[] = [];
  let delivered = 0;
  let counting = false;
  const drain = (i: number): void => {
    const core = cores[i]!;
    for (const o of core.ready()) {
      if (o.kind === 'send') wire.push({ to: ids.indexOf(o.to), from: ids[i]!, bytes: o.bytes });
      else if (o.kind === 'delivered' && o.channel === 'x' && counting) delivered++;
    }
    core.advance();
  };
  const settle = (): void => {
    while (wire.length > 0) {
      for (const m of wire.splice(0)) {
        // A socket hands over a fresh buffer per datagram.
        cores[m.to]!.step({ kind: 'receive', from: m.from, bytes: m.bytes.slice() });
        drain(m.to);
      }
    }
  };
  const tick = (): void => {
    nowMs += 1;
    cores.forEach((core, i) => {
      core.tick(nowMs);
      drain(i);
    });
    settle();
  };
  for (let t = 0; t < 300; t++) tick();
  cores[0]!.step({ kind: 'open', name: 'x', options: { reliability: 'reliable', ordering: c.ordering, windowMessages: 1024 } });
  drain(0);
  for (let t = 0; t < 100; t++) tick();
  if (cores.some((core) => core.layer.currentView()?.members.length !== c.size || !core.layer.channelNames().includes('x'))) throw new Error('no common view with the channel');
  counting = true;
  const sender = cores[0]!;
  const packsBefore = sender.counters.multicasts;
  const packedBefore = sender.counters.packedMessages;
  const payload = new Uint8Array(c.payloadBytes);
  const cpu = process.cpuUsage();
  let sent = 0;
  let bursts = 0;
  while (sent < kMessages) {
    if (c.cork) sender.step({ kind: 'cork' });
    for (let k = 0; k < kBurst && sent < kMessages; k++) {
      if ((sender.layer.channelCounters('x')?.sendQueueLength ?? 0) >= kBurst) break;
      sender.step({ kind: 'send', sendId: ++sent, channel: 'x', payload });
    }
    if (c.cork) sender.step({ kind: 'uncork' });
    drain(0);
    settle();
    // A millisecond passes every few bursts: heartbeats, feedback timers.
    if (++bursts % 8 === 0) tick();
  }
  for (let t = 0; t < 50; t++) tick();
  const used = process.cpuUsage(cpu);
  const cpuMs = (used.user + used.system) / 1000;
  if (delivered !== kMessages * c.size) throw new Error(`${delivered} deliveries, expected ${kMessages * c.size}`);
  return {
    cpuUsPerDelivery: Math.round((cpuMs * 1000 / delivered) * 100) / 100,
    messagesPerCpuSecond: Math.round(kMessages / (cpuMs / 1000)),
    messagesPerPack: Math.round(((sender.counters.packedMessages - packedBefore) / Math.max(1, sender.counters.multicasts - packsBefore)) * 10) / 10,
  };
}

const results: Record<string, unknown>[] = [];
console.log(`IN-PROCESS CPU (all members in this one thread, no sockets or seals; CPU time, not wall): ${kMessages} messages from one sender per figure`);
console.log('members ordering bytes | corked: us CPU per delivery, msg/s per CPU second, msg per pack | uncorked: same');
for (const size of [3, 5, 8]) {
  for (const ordering of ['fifo', 'total', 'safe'] as Ordering[]) {
    for (const payloadBytes of [100, 1000]) {
      const corked = run({ size, ordering, payloadBytes, cork: true });
      const uncorked = run({ size, ordering, payloadBytes, cork: false });
      results.push({ size, ordering, payloadBytes, corked, uncorked });
      console.log(
        `${size} ${ordering.padEnd(5)} ${String(payloadBytes).padStart(4)} | ${corked.cpuUsPerDelivery} us, ${thousands(corked.messagesPerCpuSecond)} msg/s, ${corked.messagesPerPack}/pack` +
          ` | ${uncorked.cpuUsPerDelivery} us, ${thousands(uncorked.messagesPerCpuSecond)} msg/s, ${uncorked.messagesPerPack}/pack`,
      );
    }
  }
}
writeResults('channels-cpu.json', { inProcess: true, note: 'all members in one thread, instant in-memory wire, no sockets or seals; CPU time of the process', messages: kMessages, results });
