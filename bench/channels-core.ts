/**
 * The channel core's benchmark, in one process: (1) the channel header codec in
 * TypeScript against the least a Wasm header kernel could cost (copying the message into
 * the Wasm memory and one kernel call), to decide whether header packing belongs in
 * Wasm; (2) the sequencing throughput of the core itself — ChannelLayers of 3, 5 and 8
 * members joined by an in-memory FIFO group with no network, all in this one thread —
 * for each ordering, 100 B and 1,000 B, one sender and all sending. These are core-only
 * ceilings (every member's work on one core), not the agent benchmark of issue 18; the
 * Corosync figures are printed beside them for scale only. Writes
 * bench/results/channels-core.json.
 *
 *   npm run build:ts && node dist/bench/channels-core.js
 *   GALAXY_BENCH_QUICK=1 node dist/bench/channels-core.js     a fast smoke run
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { Bench } from 'tinybench';
import { decodeMessage, encodeMessage, kKindData, type ChannelHeader } from '../src/core/channels/channel-header.js';
import { ChannelLayer } from '../src/core/channels/channel-layer.js';
import type { Ordering } from '../src/core/channels/channel-options.js';
import { createRuntime } from '../src/core/kernels/create-runtime.js';
import { packageRoot } from '../src/core/platform/package-root.js';
import { corosyncOf } from './channels-common.js';

const quick = process.env.GALAXY_BENCH_QUICK === '1';
const benchTimeMs = quick ? 150 : 600;
const kLimits = { messageBytesMax: 1 << 20, fragmentBytes: 8192 };

function median(values: number[]): number {
  return values.slice().sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
}

function ratio(a: number, b: number): number {
  return Math.round((a / b) * 100) / 100;
}

async function headerBench(): Promise<Record<string, unknown>> {
  const header: ChannelHeader = {
    kind: kKindData, ordering: 'total', reliability: 'reliable', viewId: 3, channelId: 0x12345678, seq: 42,
    fragmentIndex: 0, fragmentCount: 1, messageBytes: 100, clock: [],
  };
  const body = new Uint8Array(100).fill(7);
  const encoded = encodeMessage(header, body);
  const wasm = createRuntime({ backend: 'wasm', memoryBytes: 16 << 20 });
  const ts = createRuntime({ backend: 'ts', memoryBytes: 16 << 20 });
  const at = wasm.allocate(4096);
  const atTs = ts.allocate(4096);
  const payload = new Uint8Array(1000).fill(3);
  wasm.views.u8.set(payload, at);
  ts.views.u8.set(payload, atTs);
  let sink = 0;
  const bench = new Bench({ time: benchTimeMs });
  bench
    .add('allocation alone: new Uint8Array(128)', () => {
      sink ^= new Uint8Array(128)[3]!;
    })
    .add('ts encode (28 B header + 100 B)', () => {
      sink ^= encodeMessage(header, body)[12]!;
    })
    .add('ts decode (28 B header + 100 B)', () => {
      sink ^= decodeMessage(encoded, kLimits).header.seq;
    })
    .add('wasm boundary: copy 128 B in + one kernel call', () => {
      wasm.views.u8.set(encoded, at);
      sink ^= wasm.kernels.checksum(at, 28);
    })
    .add('wasm checksum 1,000 B', () => {
      sink ^= wasm.kernels.checksum(at, 1000);
    })
    .add('ts checksum 1,000 B', () => {
      sink ^= ts.kernels.checksum(atTs, 1000);
    });
  await bench.run();
  if (sink === 0.5) console.log(sink);
  const hz = Object.fromEntries(bench.tasks.map((t) => [t.name, Math.round(t.result!.throughput.mean)]));
  return {
    opsPerSecond: hz,
    wasmBoundaryOverTsEncode: ratio(hz['wasm boundary: copy 128 B in + one kernel call']!, hz['ts encode (28 B header + 100 B)']!),
    wasmOverTsChecksum1000: ratio(hz['wasm checksum 1,000 B']!, hz['ts checksum 1,000 B']!),
  };
}

/** Members joined by an in-memory FIFO group: every multicast reaches every member at once, in order. */
function sequencingRun(members: number, ordering: Ordering, bytes: number, allSending: boolean, messages: number): { wall: number; cpu: number } {
  const ids = Array.from({ length: members }, (_, i) => `m${i}`);
  const layers = ids.map((self) => new ChannelLayer({ self, autoConsume: true, feedbackIntervalMs: 1, sendQueueMessagesMax: 1 << 16 }));
  const view = { id: 1, members: ids };
  const queue: { from: number; bytes: Uint8Array }[] = [];
  let delivered = 0;
  const drain = (index: number): void => {
    const layer = layers[index]!;
    for (const output of layer.ready()) {
      if (output.kind === 'vsMulticast') queue.push({ from: index, bytes: output.bytes });
      else if (output.kind === 'delivered') delivered++;
    }
    layer.advance();
  };
  const pump = (): void => {
    for (let head = 0; head < queue.length; head++) {
      const { from, bytes: message } = queue[head]!;
      for (let i = 0; i < members; i++) {
        layers[i]!.step({ kind: 'vsDeliver', viewId: 1, sender: ids[from]!, bytes: message });
        drain(i);
      }
    }
    queue.length = 0;
  };
  layers.forEach((layer, i) => {
    layer.step({ kind: 'vsViewInstalled', view });
    drain(i);
  });
  layers[0]!.step({ kind: 'open', name: 'bench', options: { reliability: 'reliable', ordering, windowMessages: 256 } });
  drain(0);
  pump();
  const payload = new Uint8Array(bytes).fill(1);
  const senders = allSending ? members : 1;
  let nowMs = 0;
  const start = process.hrtime.bigint();
  const cpuStart = process.cpuUsage();
  let sent = 0;
  while (delivered < messages * members) {
    // Each sender offers a batch, then the group carries everything and time moves on.
    for (let s = 0; s < senders && sent < messages; s++) {
      for (let k = 0; k < 32 && sent < messages; k++, sent++) layers[s]!.step({ kind: 'send', sendId: sent, channel: 'bench', payload });
      drain(s);
    }
    pump();
    nowMs += 1;
    layers.forEach((layer, i) => {
      layer.tick(nowMs);
      drain(i);
    });
    pump();
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const cpu = process.cpuUsage(cpuStart);
  return { wall: Math.round(messages / seconds), cpu: Math.round(messages / ((cpu.user + cpu.system) / 1e6)) };
}

/** Corosync CPG agreed order, measured on these machines (issue 18), for scale: not measured with 1,000 B from all members. */
function corosyncAgreed(members: number, bytes: number, allSending: boolean): number | undefined {
  const c = corosyncOf(members);
  if (c === null) return undefined;
  if (bytes === 100) return allSending ? c.allSending100 : c.oneSender100;
  return allSending ? undefined : c.oneSender1000;
}

function sequencingBench(): Record<string, unknown> {
  const messages = quick ? 2_000 : 10_000;
  const rows: Record<string, unknown>[] = [];
  for (const members of [3, 5, 8]) {
    for (const bytes of [100, 1000]) {
      for (const allSending of [false, true]) {
        const label = `${members} members, ${bytes} B, ${allSending ? 'all sending' : 'one sender'}`;
        const row: Record<string, unknown> = { case: label };
        for (const ordering of ['none', 'fifo', 'causal', 'total', 'safe'] as const) {
          sequencingRun(members, ordering, bytes, allSending, Math.min(2_000, messages)); // warm-up
          const runs = [0, 1, 2].map(() => sequencingRun(members, ordering, bytes, allSending, messages));
          row[ordering] = median(runs.map((r) => r.wall));
          row[`${ordering}PerCpuSecond`] = median(runs.map((r) => r.cpu));
        }
        const corosync = corosyncAgreed(members, bytes, allSending);
        if (corosync !== undefined) {
          row.corosyncAgreed = corosync;
          row.totalOverCorosync = ratio(row.total as number, corosync);
          row.totalPerCpuSecondOverCorosync = ratio(row.totalPerCpuSecond as number, corosync);
        }
        rows.push(row);
        console.log(JSON.stringify(row));
      }
    }
  }
  return {
    unit: 'messages/s delivered at every member (median of 3), all members in one thread, no network; by wall time, and per CPU-second of this process (the machine is shared, so wall time undercounts)',
    rows,
  };
}

async function main(): Promise<void> {
  const header = await headerBench();
  console.log(JSON.stringify(header, null, 2));
  const sequencing = sequencingBench();
  const result = { date: new Date().toISOString(), quick, cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version, header, sequencing };
  const dir = join(packageRoot(), 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'channels-core.json'), `${JSON.stringify(result, null, 2)}\n`);
}

await main();
