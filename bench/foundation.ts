/**
 * The foundation benchmark: the wire codec and the table kernels, Wasm against
 * TypeScript (and the codec against msgpackr and JSON), each pair measured in one run
 * and reported as ratios. Writes bench/results/foundation.json and prints a table.
 *
 *   npm run bench                      full run (about two minutes)
 *   GALAXY_BENCH_QUICK=1 npm run bench a fast smoke run with fewer samples
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { Packr } from 'msgpackr';
import { Bench } from 'tinybench';
import { createRuntime } from '../src/core/kernels/create-runtime.js';
import { type Runtime } from '../src/core/runtime/runtime.js';
import { MembershipTable } from '../src/core/table/membership-table.js';
import * as L from '../src/core/table/layout.js';
import { Prng } from '../src/core/util/prng.js';
import { packageRoot } from '../src/core/platform/package-root.js';
import * as F from '../src/core/wire/format.js';
import { Tape } from '../src/core/wire/tape.js';

const quick = process.env.GALAXY_BENCH_QUICK === '1';
const benchTimeMs = quick ? 150 : 800;
const sizes = [1_000, 10_000, 100_000];

interface Side {
  runtime: Runtime;
  table: MembershipTable;
  rowList: number;
  packet: number;
  tape: Tape;
  out: number;
}

function makeSide(backend: 'wasm' | 'ts', capacity: number): Side {
  const runtime = createRuntime({ backend, memoryBytes: 256 << 20 });
  const table = MembershipTable.create(runtime, capacity);
  const rowList = runtime.allocate(capacity * 4, 8);
  const packet = runtime.allocate(F.kFrameBytesMax, 8);
  const tape = new Tape(runtime, { messages: 64, entries: 256, payloadBytes: 65536 });
  const out = runtime.allocate((L.kOutHeaderWords + 2 * capacity) * 4, 8);
  return { runtime, table, rowList, packet, tape, out };
}

/** Fills a table with `count` alive IPv4 members, ids 0..count-1, and lists the rows. */
function populate(side: Side, count: number, prng: Prng): void {
  for (let i = 0; i < count; i++) {
    const bytes = new Uint8Array(16);
    bytes.set([10, (i >> 16) & 255, (i >> 8) & 255, i & 255]);
    const row = side.table.upsert({ high: 0x6a1a, low: i }, { family: 4, bytes, port: 7946 }, 1 + prng.nextInt(3), F.kStatusAlive, 0);
    side.table.heartbeat[row] = prng.nextInt(1_000_000);
    side.runtime.views.i32[(side.rowList >>> 2) + i] = row;
  }
}

function ratio(a: number, b: number): number {
  return Math.round((a / b) * 100) / 100;
}

async function codecBench(): Promise<Record<string, unknown>> {

  const wasm = makeSide('wasm', 64);
  const ts = makeSide('ts', 64);
  populate(wasm, 30, new Prng(30));
  populate(ts, 30, new Prng(30));
  // The same digest as objects, the way a JS implementation would hold it.
  const objects = ts.table.members().map((m) => ({
    id: (m.id.high >>> 0).toString(16).padStart(8, '0') + (m.id.low >>> 0).toString(16).padStart(8, '0'),
    address: `${m.address.bytes.subarray(0, 4).join('.')}`,
    port: m.address.port,
    incarnation: m.incarnation,
    heartbeat: m.heartbeat,
    status: 'alive',
  }));
  const packr = new Packr({ useRecords: false });
  const packedRecords = new Packr({ useRecords: true });
  const msgpackBytes = packr.pack(objects);
  const msgpackRecordBytes = packedRecords.pack(objects);
  const jsonText = JSON.stringify(objects);
  const encodeDigest = (s: Side) => s.runtime.kernels.encodeDigest(s.table.base, s.rowList, 30, F.kPushPullFlagGossip, s.packet, F.kDatagramBytesMax);
  const wasmLength = encodeDigest(wasm);
  const tsLength = encodeDigest(ts);
  if (wasmLength !== tsLength || wasmLength < 0) throw new Error(`digest encoders disagree: ${wasmLength} vs ${tsLength}`);
  const decode = (s: Side) => s.runtime.kernels.decode(s.packet, wasmLength, F.kDatagramBytesMax, s.tape.pointer);
  if (decode(wasm) !== 1 || decode(ts) !== 1) throw new Error('digest does not decode');

  // Each task repeats its operation `reps` times so that the harness's own per-call
  // cost (tens of ns) does not swamp a sub-microsecond kernel; figures are per operation.
  const bench = new Bench({ time: benchTimeMs, warmupTime: quick ? 100 : 500 });
  const reps: Record<string, number> = {};
  const add = (name: string, times: number, op: () => unknown) => {
    reps[name] = times;
    bench.add(name, () => {
      for (let i = 0; i < times; i++) op();
    });
  };
  add('encode wasm', 64, () => encodeDigest(wasm));
  add('encode ts', 16, () => encodeDigest(ts));
  add('encode msgpackr', 4, () => packr.pack(objects));
  add('encode msgpackr records', 4, () => packedRecords.pack(objects));
  add('encode JSON', 4, () => Buffer.from(JSON.stringify(objects)));
  add('decode wasm', 64, () => decode(wasm));
  add('decode ts', 16, () => decode(ts));
  add('decode msgpackr', 4, () => packr.unpack(msgpackBytes));
  add('decode msgpackr records', 4, () => packedRecords.unpack(msgpackRecordBytes));
  add('decode JSON', 4, () => JSON.parse(jsonText));
  await bench.run();
  const ns: Record<string, number> = {};
  for (const task of bench.tasks) {
    const mean = task.result?.latency?.mean ?? (task.result as unknown as { mean: number }).mean;
    ns[task.name] = Math.round((mean * 1e6 * 10) / reps[task.name]!) / 10;
  }
  const bytes = { galaxy: wasmLength, msgpackr: msgpackBytes.length, msgpackrRecords: msgpackRecordBytes.length, json: Buffer.byteLength(jsonText) };
  return {
    entries: 30,
    nsPerOp: ns,
    bytes,
    ratios: {
      encodeMsgpackrOverWasm: ratio(ns['encode msgpackr']!, ns['encode wasm']!),
      decodeMsgpackrOverWasm: ratio(ns['decode msgpackr']!, ns['decode wasm']!),
      encodeMsgpackrOverTs: ratio(ns['encode msgpackr']!, ns['encode ts']!),
      decodeMsgpackrOverTs: ratio(ns['decode msgpackr']!, ns['decode ts']!),
      encodeTsOverWasm: ratio(ns['encode ts']!, ns['encode wasm']!),
      decodeTsOverWasm: ratio(ns['decode ts']!, ns['decode wasm']!),
      roundTripMsgpackrOverWasm: ratio(ns['encode msgpackr']! + ns['decode msgpackr']!, ns['encode wasm']! + ns['decode wasm']!),
      bytesMsgpackrOverGalaxy: ratio(bytes.msgpackr, bytes.galaxy),
    },
  };
}

/**
 * Untimed rounds before the timed ones of each kernel measurement: without them the first
 * size measured the TypeScript kernels before V8 had optimised them (issue 14: the sweep's
 * "42x" at 1,000 members was JIT warm-up, 3 to 5x warm).
 */
const kWarmupRounds = quick ? 2 : 10;

/** Median of `rounds` timings of `run`, each after an untimed `prepare`, after kWarmupRounds untimed ones. */
function medianNs(rounds: number, prepare: (round: number) => void, run: () => void): number {
  for (let r = 0; r < kWarmupRounds; r++) {
    prepare(r);
    run();
  }
  const samples: number[] = [];
  for (let r = 0; r < rounds; r++) {
    prepare(r);
    const t0 = process.hrtime.bigint();
    run();
    samples.push(Number(process.hrtime.bigint() - t0));
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)]!;
}

function kernelBench(size: number): Record<string, unknown> {
  const result: Record<string, unknown> = { members: size };
  const sides = { wasm: makeSide('wasm', size), ts: makeSide('ts', size) };
  const source = makeSide('ts', size);
  populate(source, size, new Prng(size));
  for (const s of Object.values(sides)) populate(s, size, new Prng(size));
  const rounds = quick ? 5 : size >= 100_000 ? 15 : 41;
  const prng = new Prng(64);
  let clock = 0;

  // (a) A 64-entry gossip digest from packet bytes: random members, heartbeats grown.
  const digestRows = source.runtime.allocate(64 * 4, 8);
  const small: Record<string, number> = {};
  for (const [name, side] of Object.entries(sides)) {
    let length = 0;
    const batch = 200;
    const packets: Uint8Array[] = [];
    small[name] = medianNs(rounds, () => {
      packets.length = 0;
      for (let b = 0; b < batch; b++) {
        for (let i = 0; i < 64; i++) {
          const row = prng.nextInt(size);
          source.table.heartbeat[row] = source.table.heartbeat[row]! + 1;
          source.runtime.views.i32[(digestRows >>> 2) + i] = row;
        }
        // 64 IPv4 entries take 1,545 bytes: more than a datagram, so this is a small stream frame.
        length = source.runtime.kernels.encodeDigest(source.table.base, digestRows, 64, 0, source.packet, F.kFrameBytesMax);
        if (length < 0) throw new Error(`digest encode failed: ${length}`);
        packets.push(source.runtime.views.u8.slice(source.packet, source.packet + length));
      }
      clock += 1000;
    }, () => {
      for (const p of packets) {
        side.runtime.views.u8.set(p, side.packet);
        side.runtime.kernels.mergeDigest(side.table.base, side.packet, p.length, F.kFrameBytesMax, clock, side.out, size);
      }
    }) / (batch * 64);
  }
  result.merge64NsPerEntry = { wasm: round1(small.wasm!), ts: round1(small.ts!), tsOverWasm: ratio(small.ts!, small.wasm!) };

  // (b) The whole table from one push-pull frame: every member's heartbeat grown.
  const whole: Record<string, number> = {};
  for (const [name, side] of Object.entries(sides)) {
    let length = 0;
    whole[name] = medianNs(rounds, () => {
      for (let row = 0; row < size; row++) source.table.heartbeat[row] = source.table.heartbeat[row]! + 1;
      length = source.runtime.kernels.encodeDigest(source.table.base, source.rowList, size, 0, source.packet, F.kFrameBytesMax);
      side.runtime.views.u8.set(source.runtime.views.u8.subarray(source.packet, source.packet + length), side.packet);
      clock += 1000;
    }, () => {
      side.runtime.kernels.mergeDigest(side.table.base, side.packet, length, F.kFrameBytesMax, clock, side.out, size);
    }) / size;
  }
  result.mergeWholeTableNsPerEntry = { wasm: round1(whole.wasm!), ts: round1(whole.ts!), tsOverWasm: ratio(whole.ts!, whole.wasm!) };

  // (c) The failure-detector sweep over every member (nobody crosses: a full scan).
  const sweep: Record<string, number> = {};
  for (const [name, side] of Object.entries(sides)) {
    sweep[name] = medianNs(rounds, () => undefined, () => {
      side.runtime.kernels.sweep(side.table.base, clock, 9, 100, 3, 3_600_000, side.out, size);
    }) / size;
  }
  result.sweepNsPerEntry = { wasm: round1(sweep.wasm!), ts: round1(sweep.ts!), tsOverWasm: ratio(sweep.ts!, sweep.wasm!) };

  // (d) Encoding the whole table into one frame.
  const encode: Record<string, number> = {};
  for (const [name, side] of Object.entries(sides)) {
    encode[name] = medianNs(rounds, () => undefined, () => {
      side.runtime.kernels.encodeDigest(side.table.base, side.rowList, size, 0, side.packet, F.kFrameBytesMax);
    }) / size;
  }
  result.encodeWholeTableNsPerEntry = { wasm: round1(encode.wasm!), ts: round1(encode.ts!), tsOverWasm: ratio(encode.ts!, encode.wasm!) };
  return result;
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}

async function main(): Promise<void> {
  console.log(`Galaxy foundation benchmark (${quick ? 'quick' : 'full'}) on ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}`);
  console.log('Codec: a 30-entry membership digest ...');
  const codec = await codecBench();
  printCodec(codec);
  const kernels: Record<string, unknown>[] = [];
  for (const size of sizes) {
    console.log(`Kernels at ${size} members ...`);
    const r = kernelBench(size);
    kernels.push(r);
    printKernels(r);
  }
  const results = { date: new Date().toISOString(), node: process.version, cpu: cpus()[0]?.model, quick, codec, kernels };
  const dir = join(packageRoot(), 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'foundation.json'), JSON.stringify(results, null, 2) + '\n');
  console.log(`Results written to bench/results/foundation.json`);
}

function printCodec(c: Record<string, unknown>): void {
  const ns = c.nsPerOp as Record<string, number>;
  const bytes = c.bytes as Record<string, number>;
  const r = c.ratios as Record<string, number>;
  console.log('| codec (30 entries) | encode ns | decode ns | bytes |');
  console.log('|---|---:|---:|---:|');
  console.log(`| Galaxy Wasm | ${ns['encode wasm']} | ${ns['decode wasm']} | ${bytes.galaxy} |`);
  console.log(`| Galaxy TS | ${ns['encode ts']} | ${ns['decode ts']} | ${bytes.galaxy} |`);
  console.log(`| msgpackr | ${ns['encode msgpackr']} | ${ns['decode msgpackr']} | ${bytes.msgpackr} |`);
  console.log(`| msgpackr (records) | ${ns['encode msgpackr records']} | ${ns['decode msgpackr records']} | ${bytes.msgpackrRecords} |`);
  console.log(`| JSON | ${ns['encode JSON']} | ${ns['decode JSON']} | ${bytes.json} |`);
  console.log(`ratios: msgpackr/Wasm encode ${r.encodeMsgpackrOverWasm}x, decode ${r.decodeMsgpackrOverWasm}x; msgpackr/TS encode ${r.encodeMsgpackrOverTs}x, decode ${r.decodeMsgpackrOverTs}x; TS/Wasm encode ${r.encodeTsOverWasm}x, decode ${r.decodeTsOverWasm}x; msgpackr bytes / Galaxy bytes ${r.bytesMsgpackrOverGalaxy}x`);
}

function printKernels(r: Record<string, unknown>): void {
  for (const key of ['merge64NsPerEntry', 'mergeWholeTableNsPerEntry', 'sweepNsPerEntry', 'encodeWholeTableNsPerEntry']) {
    const v = r[key] as { wasm: number; ts: number; tsOverWasm: number };
    console.log(`  ${key.padEnd(28)} wasm ${String(v.wasm).padStart(7)} ns   ts ${String(v.ts).padStart(7)} ns   ts/wasm ${v.tsOverWasm}x`);
  }
}

await main();
