/**
 * Message packing on the channel hot path (issue 18, item 4): the TypeScript the path
 * runs today against the Wasm pack kernels (asm/channels.ts) doing the same job on the
 * same inputs, and against the kernels' TypeScript twin (the fallback), every output
 * checked byte for byte against the path's. Three jobs:
 *
 *   encode   header packing and batching on the sender: N channel messages (header
 *            objects and bodies, as ChannelLayer holds them) to one pack. Path:
 *            encodeMessage per message (channel-layer.ts) then encodePack
 *            (ClusterChannels.drainBacklog). Kernel: packMessages, the header, clock and
 *            body of each written straight into the pack (bodies copied into the Wasm
 *            memory, the pack copied out).
 *   pack     batching alone: N encoded messages to one pack. Path: encodePack. Kernel:
 *            packRecords (records copied in, the pack copied out).
 *   unpack   every receiver: a pack to its records. Path: decodePack (views, no
 *            copies). Kernel: unpackRecords (the pack copied in, offsets read back).
 *
 * Time is this process's CPU time (user + system) per pack, the median of rounds that
 * interleave the variants, so that the machine's other load hits them alike. Ratios
 * are the path's time over the variant's (above 1: the variant is faster).
 *
 * Then the same on the whole core path (bench:channels-cpu's loop, channels-cpu-run.ts):
 * ClusterChannels cores of 3 and 5 members in this thread, one sender flooding corked
 * bursts, packs written with no kernel (encodeMessage and encodePack), the Wasm kernel
 * and its TS twin: CPU µs per delivery, every member's work added up, median of
 * interleaved runs.
 *
 *   npm run bench:channel-pack                 (writes bench/results/channel-pack.json)
 *   GALAXY_BENCH_QUICK=1 npm run bench:channel-pack
 */
import { loadavg } from 'node:os';
import { encodeMessage, kKindData, type ChannelHeader } from '../src/core/channels/channel-header.js';
import type { Ordering } from '../src/core/channels/channel-options.js';
import { decodePack, encodePack } from '../src/core/cluster-channels/cluster-channels-pack.js';
import { PackKernel } from '../src/core/cluster-channels/pack-kernel.js';
import { createRuntime } from '../src/core/kernels/create-runtime.js';
import { createPackKernel } from '../src/core/kernels/pack-runtime.js';
import { thousands, writeResults } from './channels-common.js';
import { runCpuCase } from './channels-cpu-run.js';

const quick = process.env.GALAXY_BENCH_QUICK === '1';
const kRounds = quick ? 3 : 7;
const kRoundMs = quick ? 40 : 120;
/** The benchmarks' cluster payload bound (bench:channels-cpu runs 32 KiB, bench:channels-sim 64 KiB). */
const kPackBytesMax = 64 * 1024;

interface Case {
  messages: number;
  bodyBytes: number;
  /** Vector clock entries: 0 for none/fifo/total/safe, the view's size for causal. */
  clock: number;
}

const cases: Case[] = [];
for (const bodyBytes of [100, 1000]) {
  for (const clock of [0, 5]) {
    for (const messages of [1, 8, 48]) cases.push({ messages, bodyBytes, clock });
  }
}

function inputs(c: Case): { headers: ChannelHeader[]; bodies: Uint8Array[] } {
  const ordering: Ordering = c.clock > 0 ? 'causal' : 'total';
  const headers: ChannelHeader[] = [];
  const bodies: Uint8Array[] = [];
  for (let i = 0; i < c.messages; i++) {
    headers.push({
      kind: kKindData, ordering, reliability: 'reliable', viewId: 7, channelId: 0x9e3779b1, seq: 1000 + i,
      fragmentIndex: 0, fragmentCount: 1, messageBytes: c.bodyBytes, clock: Array.from({ length: c.clock }, (_, k) => 100 * k + i),
    });
    // A body cut from a bigger payload, as the layer's fragments are.
    const whole = new Uint8Array(c.bodyBytes + 16);
    for (let k = 0; k < whole.length; k++) whole[k] = (k * 31 + i) & 0xff;
    bodies.push(whole.subarray(8, 8 + c.bodyBytes));
  }
  return { headers, bodies };
}

function cpuNs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
}

/** CPU ns per call of fn, over about kRoundMs of wall time. */
function measure(fn: () => unknown): number {
  let calls = 0;
  const startWall = performance.now();
  const start = cpuNs();
  let sink = 0;
  do {
    for (let i = 0; i < 64; i++) {
      const r = fn() as { length: number };
      sink += r.length;
    }
    calls += 64;
  } while (performance.now() - startWall < kRoundMs);
  const ns = (cpuNs() - start) / calls;
  if (sink === -1) console.log(sink);
  return ns;
}

function median(values: number[]): number {
  return values.slice().sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function sameRecords(a: Uint8Array[], b: Uint8Array[]): boolean {
  return a.length === b.length && a.every((r, i) => sameBytes(r, b[i]!) && r.byteOffset === b[i]!.byteOffset);
}

interface Row {
  job: 'encode' | 'pack' | 'unpack';
  messages: number;
  bodyBytes: number;
  clock: number;
  packBytes: number;
  nsPerPack: { path: number; wasm: number; tsTwin: number };
  /** The path's time over the variant's: above 1, the variant is faster. */
  ratio: { wasm: number; tsTwin: number };
  identical: boolean;
}

function main(): void {
  const load = loadavg();
  const wasm = new PackKernel(createRuntime({ backend: 'wasm', memoryBytes: 4 << 20 }), kPackBytesMax);
  const ts = new PackKernel(createRuntime({ backend: 'ts', memoryBytes: 4 << 20 }), kPackBytesMax);
  console.log(`channel packing: the path's TypeScript against the Wasm pack kernels and their TS twin; CPU ns per pack, median of ${kRounds} interleaved rounds of ${kRoundMs} ms; load ${load.map((x) => x.toFixed(1)).join(' ')}`);
  const rows: Row[] = [];
  for (const c of cases) {
    const { headers, bodies } = inputs(c);
    const messages = headers.map((header, i) => ({ header, body: bodies[i]! }));
    const records = headers.map((h, i) => encodeMessage(h, bodies[i]!));
    const pack = encodePack(records);
    const recordsMax = kPackBytesMax >>> 1;
    const jobs: { job: Row['job']; path: () => unknown; wasm: () => unknown; tsTwin: () => unknown; identical: () => boolean }[] = [
      {
        job: 'encode',
        path: () => encodePack(headers.map((h, i) => encodeMessage(h, bodies[i]!))),
        wasm: () => wasm.packMessages(messages),
        tsTwin: () => ts.packMessages(messages),
        identical: () => sameBytes(wasm.packMessages(messages), pack) && sameBytes(ts.packMessages(messages), pack),
      },
      {
        job: 'pack',
        path: () => encodePack(records),
        wasm: () => wasm.packRecords(records),
        tsTwin: () => ts.packRecords(records),
        identical: () => sameBytes(wasm.packRecords(records), pack) && sameBytes(ts.packRecords(records), pack),
      },
      {
        job: 'unpack',
        path: () => decodePack(pack, recordsMax),
        wasm: () => wasm.unpack(pack, recordsMax),
        tsTwin: () => ts.unpack(pack, recordsMax),
        identical: () => sameRecords(wasm.unpack(pack, recordsMax), decodePack(pack, recordsMax)) && sameRecords(ts.unpack(pack, recordsMax), decodePack(pack, recordsMax)),
      },
    ];
    for (const j of jobs) {
      const identical = j.identical();
      if (!identical) throw new Error(`${j.job} ${JSON.stringify(c)}: a kernel's output differs from the path's`);
      // Warm every variant, then interleave the rounds.
      measure(j.path);
      measure(j.wasm);
      measure(j.tsTwin);
      const p: number[] = [];
      const w: number[] = [];
      const t: number[] = [];
      for (let r = 0; r < kRounds; r++) {
        p.push(measure(j.path));
        w.push(measure(j.wasm));
        t.push(measure(j.tsTwin));
      }
      const ns = { path: Math.round(median(p)), wasm: Math.round(median(w)), tsTwin: Math.round(median(t)) };
      const row: Row = {
        job: j.job, messages: c.messages, bodyBytes: c.bodyBytes, clock: c.clock, packBytes: pack.length, nsPerPack: ns,
        ratio: { wasm: Math.round((ns.path / ns.wasm) * 100) / 100, tsTwin: Math.round((ns.path / ns.tsTwin) * 100) / 100 },
        identical,
      };
      rows.push(row);
      console.log(
        `${j.job.padEnd(6)} ${String(c.messages).padStart(3)} × ${String(c.bodyBytes).padStart(4)} B, clock ${c.clock} (${thousands(pack.length)} B): ` +
          `path ${thousands(ns.path)} ns, wasm ${thousands(ns.wasm)} ns (${row.ratio.wasm}x), ts twin ${thousands(ns.tsTwin)} ns (${row.ratio.tsTwin}x); identical bytes`,
      );
    }
  }
  const pathRows = corePath();
  const loadAfter = loadavg();
  writeResults(quick ? 'channel-pack-quick.json' : 'channel-pack.json', {
    date: new Date().toISOString(),
    quick,
    node: process.version,
    unit: 'CPU ns (user + system of this process) per pack, median of interleaved rounds; ratio = path ns / variant ns (above 1: faster than the path)',
    rounds: kRounds,
    roundMs: kRoundMs,
    loadAverageBefore: load,
    loadAverageAfter: loadAfter,
    rows,
    corePath: pathRows,
  });
  console.log(`load ${loadAfter.map((x) => x.toFixed(1)).join(' ')} at the end; bench/results/${quick ? 'channel-pack-quick.json' : 'channel-pack.json'}`);
}

interface PathRow {
  members: number;
  ordering: Ordering;
  payloadBytes: number;
  cpuUsPerDelivery: { none: number; wasm: number; tsTwin: number };
  /** none / variant: above 1, the kernel saves CPU on the whole path. */
  ratio: { wasm: number; tsTwin: number };
  messagesPerPack: number;
}

function corePath(): PathRow[] {
  const messages = quick ? 5_000 : 20_000;
  const runs = quick ? 1 : 3;
  // bench:channels-cpu's cluster payload (32 KiB).
  const wasmKernel = createPackKernel(32 * 1024, 'wasm');
  const tsKernel = createPackKernel(32 * 1024, 'ts');
  const rows: PathRow[] = [];
  console.log(`core path: ClusterChannels cores in this thread, one sender flooding corked bursts, ${thousands(messages)} messages per run, median of ${runs}; CPU µs per delivery (all members)`);
  for (const members of [3, 5]) {
    for (const ordering of ['fifo', 'total'] as Ordering[]) {
      for (const payloadBytes of [100, 1000]) {
        const c = { size: members, ordering, payloadBytes, cork: true };
        runCpuCase(c, messages >>> 2);
        const none: number[] = [];
        const w: number[] = [];
        const t: number[] = [];
        let perPack = 0;
        for (let r = 0; r < runs; r++) {
          const a = runCpuCase(c, messages);
          none.push(a.cpuUsPerDelivery);
          perPack = a.messagesPerPack;
          w.push(runCpuCase({ ...c, packKernel: wasmKernel }, messages).cpuUsPerDelivery);
          t.push(runCpuCase({ ...c, packKernel: tsKernel }, messages).cpuUsPerDelivery);
        }
        const us = { none: median(none), wasm: median(w), tsTwin: median(t) };
        const row: PathRow = {
          members, ordering, payloadBytes, cpuUsPerDelivery: us, messagesPerPack: perPack,
          ratio: { wasm: Math.round((us.none / us.wasm) * 100) / 100, tsTwin: Math.round((us.none / us.tsTwin) * 100) / 100 },
        };
        rows.push(row);
        console.log(`${members} ${ordering.padEnd(5)} ${String(payloadBytes).padStart(4)} B: none ${us.none} µs, wasm ${us.wasm} µs (${row.ratio.wasm}x), ts twin ${us.tsTwin} µs (${row.ratio.tsTwin}x); ${perPack} messages per pack`);
      }
    }
  }
  return rows;
}

main();
