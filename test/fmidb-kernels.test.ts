// Proves the FMIDB kernels: the origin registry (lookup, insertion, backward-shift
// removal with row reuse, a clear -1 at capacity) and the digest compare (which side is
// behind for each listed origin, origins a full digest left out, overflow counting, and
// a negated error for every kind of malformed body). Then, on random sequences of
// insertions, removals, version changes and compares of random and corrupted digest
// bodies (fast-check, seeded), that the Wasm and TypeScript kernels return the same
// values and leave byte-identical registries and output buffers.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRuntime } from '../src/core/kernels/create-runtime.js';
import { type Runtime } from '../src/core/runtime/runtime.js';
import { OriginRegistry } from '../src/core/fmidb/origin-registry.js';
import * as L from '../src/core/fmidb/layout.js';

const backends = ['ts', 'wasm'] as const;
type Backend = (typeof backends)[number];

interface Entry {
  high: number;
  low: number;
  /** -1: the sender holds nothing. */
  version: number;
}

/** An independent encoder of digest bodies (layout.ts), so the kernels are not tested against themselves. */
function body(entries: readonly Entry[], base: number): Uint8Array {
  const bytes: number[] = [entries.length & 0xff, entries.length >>> 8];
  const f = new DataView(new ArrayBuffer(8));
  f.setFloat64(0, base, true);
  for (let i = 0; i < 8; i++) bytes.push(f.getUint8(i));
  for (const e of entries) {
    bytes.push(e.high & 0xff, (e.high >>> 8) & 0xff, e.low & 0xff, (e.low >>> 8) & 0xff, (e.low >>> 16) & 0xff, e.low >>> 24);
    let v = e.version < 0 ? 0 : e.version - base + 1;
    do {
      const b = v % 128;
      v = Math.floor(v / 128);
      bytes.push(v > 0 ? b | 0x80 : b);
    } while (v > 0);
  }
  return Uint8Array.from(bytes);
}

interface Record {
  kind: number;
  row: number;
  high: number;
  low: number;
  peer: number;
  ours: number;
}

class Fixture {
  readonly runtime: Runtime;
  readonly registry: OriginRegistry;
  readonly versions: number;
  readonly body: number;
  readonly out: number;
  readonly outCapacity: number;

  constructor(backend: Backend, capacity = 16, outCapacity = 64) {
    this.runtime = createRuntime({ backend, memoryBytes: 1 << 20 });
    this.registry = OriginRegistry.create(this.runtime, capacity);
    this.versions = this.runtime.allocate(8 * capacity, 8);
    this.runtime.views.f64.fill(-1, this.versions >>> 3, (this.versions >>> 3) + capacity);
    this.body = this.runtime.allocate(4096, 8);
    this.outCapacity = outCapacity;
    this.out = this.runtime.allocate(L.kCompareOutHeaderBytes + outCapacity * L.kCompareRecordBytes, 8);
  }

  insert(high: number, low: number): number {
    const k = this.runtime.kernels;
    const found = k.fmidbFindOrigin(this.registry.base, high, low);
    return found >= 0 ? found : k.fmidbInsertOrigin(this.registry.base, high, low);
  }

  setVersion(row: number, version: number): void {
    this.runtime.views.f64[(this.versions >>> 3) + row] = version;
  }

  compare(bytes: Uint8Array, full = false): { result: number; records: Record[]; overflow: number } {
    this.runtime.views.u8.set(bytes, this.body);
    const result = this.runtime.kernels.fmidbCompareDigest(this.registry.base, this.versions, this.body, bytes.length, full ? L.kCompareFlagFull : 0, this.out, this.outCapacity);
    const v = this.runtime.views;
    const n = v.i32[this.out >>> 2]!;
    const records: Record[] = [];
    for (let i = 0; i < n; i++) {
      const at = this.out + L.kCompareOutHeaderBytes + i * L.kCompareRecordBytes;
      records.push({
        kind: v.i32[at >>> 2]!,
        row: v.i32[(at + 4) >>> 2]!,
        high: v.u32[(at + 8) >>> 2]!,
        low: v.u32[(at + 12) >>> 2]!,
        peer: v.f64[(at + 16) >>> 3]!,
        ours: v.f64[(at + 24) >>> 3]!,
      });
    }
    return { result, records, overflow: v.i32[(this.out >>> 2) + 1]! };
  }

  state(): Buffer {
    const v = this.runtime.views;
    const cap = this.registry.capacity;
    return Buffer.concat([
      Buffer.from(this.registry.bytes()),
      Buffer.from(v.u8.slice(this.versions, this.versions + 8 * cap)),
      Buffer.from(v.u8.slice(this.out, this.out + L.kCompareOutHeaderBytes + this.outCapacity * L.kCompareRecordBytes)),
    ]);
  }
}

for (const backend of backends) {
  describe(`FMIDB kernels (${backend})`, () => {
    it('inserts, finds and removes origins, reusing released rows, and refuses past capacity', () => {
      const f = new Fixture(backend, 4);
      const k = f.runtime.kernels;
      const base = f.registry.base;
      expect([1, 2, 3, 4].map((n) => k.fmidbInsertOrigin(base, n & 0xffff, n * 7919))).toEqual([0, 1, 2, 3]);
      expect(k.fmidbInsertOrigin(base, 9, 9)).toBe(-1);
      k.fmidbRemoveOrigin(base, 1);
      k.fmidbRemoveOrigin(base, 1); // a second release changes nothing
      expect(k.fmidbFindOrigin(base, 2, 2 * 7919)).toBe(-1);
      for (const n of [1, 3, 4]) expect(k.fmidbFindOrigin(base, n, n * 7919)).toBe(n - 1);
      expect(k.fmidbInsertOrigin(base, 0xffff, 0xffffffff)).toBe(1);
      expect(k.fmidbFindOrigin(base, 0xffff, 0xffffffff)).toBe(1);
    });

    it('says which side is behind for each listed origin, and nothing for equal versions', () => {
      const f = new Fixture(backend);
      const a = f.insert(1, 100);
      const b = f.insert(2, 200);
      const c = f.insert(3, 300);
      f.setVersion(a, 1000);
      f.setVersion(b, 2000);
      // c stays -1: the registry knows it (another replica's origin), this replica holds nothing.
      const r = f.compare(body([
        { high: 1, low: 100, version: 1500 }, // peer ahead
        { high: 2, low: 200, version: 1999 }, // we are ahead
        { high: 3, low: 300, version: 1001 }, // peer ahead, we hold nothing
        { high: 4, low: 400, version: 1000 }, // unknown origin: row -1
        { high: 1, low: 100, version: -1 }, // the peer holds nothing of a
        { high: 2, low: 200, version: 2000 }, // equal: nothing
      ], 1000));
      expect(r.result).toBe(6);
      expect(r.records).toEqual([
        { kind: L.kRecordWeLack, row: a, high: 1, low: 100, peer: 1500, ours: 1000 },
        { kind: L.kRecordPeerLacks, row: b, high: 2, low: 200, peer: 1999, ours: 2000 },
        { kind: L.kRecordWeLack, row: c, high: 3, low: 300, peer: 1001, ours: -1 },
        { kind: L.kRecordWeLack, row: -1, high: 4, low: 400, peer: 1000, ours: -1 },
        { kind: L.kRecordPeerLacks, row: a, high: 1, low: 100, peer: -1, ours: 1000 },
      ]);
    });

    it('reports the origins a full digest left out, once per compare', () => {
      const f = new Fixture(backend);
      for (let n = 1; n <= 4; n++) f.setVersion(f.insert(n, n), n * 10);
      f.setVersion(f.insert(5, 5), -1); // known to the registry, not held: not reported
      const digest = body([{ high: 2, low: 2, version: 20 }, { high: 4, low: 4, version: 40 }], 20);
      const full = f.compare(digest, true);
      expect(full.records.map((r) => [r.kind, r.row, r.peer])).toEqual([[L.kRecordPeerMissing, 0, -1], [L.kRecordPeerMissing, 2, -1]]);
      expect(f.compare(digest, true).records.length).toBe(2);
      expect(f.compare(digest, false).records).toEqual([]);
    });

    it('counts records past the output capacity', () => {
      const f = new Fixture(backend, 16, 2);
      const r = f.compare(body([1, 2, 3, 4, 5].map((n) => ({ high: 0, low: n, version: 7 })), 7));
      expect(r.result).toBe(5);
      expect(r.records.length).toBe(2);
      expect(r.overflow).toBe(3);
    });

    it('returns a negated error for every malformed body', () => {
      const f = new Fixture(backend);
      const good = body([{ high: 1, low: 1, version: 5 }, { high: 2, low: 2, version: 300 }], 5);
      expect(f.compare(good).result).toBe(2);
      expect(f.compare(good.subarray(0, 9)).result).toBe(-L.kFmidbErrTruncated);
      expect(f.compare(good.subarray(0, good.length - 1)).result).toBe(-L.kFmidbErrTruncated);
      expect(f.compare(Uint8Array.from([...good, 0])).result).toBe(-L.kFmidbErrTrailing);
      const many = good.slice();
      many[0] = 200;
      expect(f.compare(many).result).toBe(-L.kFmidbErrBadCount);
      const badBase = good.slice();
      new DataView(badBase.buffer).setFloat64(2, 0.5, true);
      expect(f.compare(badBase).result).toBe(-L.kFmidbErrBadVersion);
      new DataView(badBase.buffer).setFloat64(2, Number.NaN, true);
      expect(f.compare(badBase).result).toBe(-L.kFmidbErrBadVersion);
      new DataView(badBase.buffer).setFloat64(2, 2 ** 53, true);
      expect(f.compare(badBase).result).toBe(-L.kFmidbErrBadVersion);
      // A nine-byte varint, and one of 2^53.
      const long = Uint8Array.from([1, 0, ...new Uint8Array(8), 1, 0, 1, 0, 0, 0, 0x81, 0x81, 0x81, 0x81, 0x81, 0x81, 0x81, 0x81, 0x01]);
      expect(f.compare(long).result).toBe(-L.kFmidbErrBadVarint);
      const huge = Uint8Array.from([1, 0, ...new Uint8Array(8), 1, 0, 1, 0, 0, 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10]);
      expect(f.compare(huge).result).toBe(-L.kFmidbErrBadVarint);
      // A base near 2^53 pushes a version past it.
      expect(f.compare(body([{ high: 1, low: 1, version: 2 ** 53 + 10 }], 2 ** 53 - 4)).result).toBe(-L.kFmidbErrBadVersion);
    });
  });
}

describe('Wasm and TypeScript FMIDB kernels agree (property)', () => {
  const fpArb = fc.record({ high: fc.integer({ min: 0, max: 3 }), low: fc.integer({ min: 0, max: 12 }) });
  const stepArb = fc.oneof(
    fc.record({ kind: fc.constant('insert' as const), fp: fpArb }),
    fc.record({ kind: fc.constant('remove' as const), row: fc.integer({ min: -1, max: 20 }) }),
    fc.record({ kind: fc.constant('version' as const), fp: fpArb, version: fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 2000 }), fc.constant(2 ** 53 - 1)) }),
    fc.record({
      kind: fc.constant('compare' as const),
      full: fc.boolean(),
      base: fc.oneof(fc.integer({ min: 0, max: 1000 }), fc.constant(2 ** 53 - 5)),
      entries: fc.array(fc.record({ fp: fpArb, version: fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 3000 })) }), { maxLength: 24 }),
      corrupt: fc.option(fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }), cut: fc.nat({ max: 6 }) }), { nil: undefined }),
    }),
  );

  it('random registry changes and compares of random and corrupted digests leave identical bytes', () => {
    fc.assert(
      fc.property(fc.array(stepArb, { minLength: 1, maxLength: 40 }), (steps) => {
        const ts = new Fixture('ts', 12, 8);
        const wasm = new Fixture('wasm', 12, 8);
        for (const step of steps) {
          const results = [ts, wasm].map((f) => {
            const k = f.runtime.kernels;
            if (step.kind === 'insert') return f.insert(step.fp.high, step.fp.low);
            if (step.kind === 'remove') {
              k.fmidbRemoveOrigin(f.registry.base, step.row);
              return 0;
            }
            if (step.kind === 'version') {
              const row = k.fmidbFindOrigin(f.registry.base, step.fp.high, step.fp.low);
              if (row >= 0) f.setVersion(row, step.version);
              return row;
            }
            const entries = step.entries.map((e) => ({ high: e.fp.high, low: e.fp.low, version: e.version < 0 ? -1 : step.base + e.version }));
            let bytes = body(entries, step.base);
            if (step.corrupt !== undefined) {
              bytes = bytes.slice(0, Math.max(0, bytes.length - step.corrupt.cut));
              if (bytes.length > 0) bytes[step.corrupt.at % bytes.length] = step.corrupt.value;
            }
            return f.compare(bytes, step.full).result;
          });
          expect(results[1]).toBe(results[0]);
          expect(wasm.state().equals(ts.state())).toBe(true);
        }
      }),
      { seed: 11, numRuns: 400 },
    );
  });
});
