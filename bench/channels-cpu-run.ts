/**
 * One figure of bench:channels-cpu (channels-cpu.ts), shared with bench:channel-pack's
 * path rows: N ClusterChannels cores in this one thread on an instant in-memory FIFO
 * wire, one sender flooding, CPU time of this process per delivery.
 */
import type { Ordering } from '../src/core/channels/channel-options.js';
import { ClusterChannels } from '../src/core/cluster-channels/cluster-channels.js';
import type { PackKernel } from '../src/core/cluster-channels/pack-kernel.js';
import { Prng } from '../src/core/util/prng.js';

/** Sends per burst (one cork), and the layer send queue a burst stops at. */
const kBurst = 256;

export interface CpuCase {
  size: number;
  ordering: Ordering;
  payloadBytes: number;
  cork: boolean;
  /** The pack kernel every core writes its packs with (one shared), or none: TypeScript. */
  packKernel?: PackKernel;
}

export function runCpuCase(c: CpuCase, messages: number): { cpuUsPerDelivery: number; messagesPerCpuSecond: number; messagesPerPack: number } {
  const ids = Array.from({ length: c.size }, (_, i) => `n${i}`);
  let nowMs = 0;
  const cores = ids.map((id, i) => new ClusterChannels({
    cluster: 'b', nodeId: id, incarnation: 0, definition: ids, random: new Prng(i + 1), nowMs: 0,
    membership: { sendWindowMax: 128, payloadBytesMax: 32 * 1024 }, layer: { fragmentBytes: 8192, autoConsume: true }, multicastBacklogMax: 4096, packKernel: c.packKernel,
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
  while (sent < messages) {
    if (c.cork) sender.step({ kind: 'cork' });
    for (let k = 0; k < kBurst && sent < messages; k++) {
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
  if (delivered !== messages * c.size) throw new Error(`${delivered} deliveries, expected ${messages * c.size}`);
  return {
    cpuUsPerDelivery: Math.round((cpuMs * 1000 / delivered) * 100) / 100,
    messagesPerCpuSecond: Math.round(messages / (cpuMs / 1000)),
    messagesPerPack: Math.round(((sender.counters.packedMessages - packedBefore) / Math.max(1, sender.counters.multicasts - packsBefore)) * 10) / 10,
  };
}

