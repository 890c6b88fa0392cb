// Proves the membership table and its kernels: lookup, insertion, removal and a clear
// error at capacity; SWIM precedence in the digest merge (incarnations, statuses,
// heartbeats, the local row); the failure-detector sweep (phi threshold, hard silence
// limit, deadlines, each crossing reported once); and, on random sequences of digests
// and sweeps (fast-check, seeded), that the Wasm and TypeScript kernels leave
// byte-identical tables and output buffers, with small ids and with ids whose halves
// are at or above 2^31 (the TS digest walk reads them as int32; a lookup that compared
// them without `>>> 0` passes the first and fails the second).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRuntime } from '../src/core/kernels/create-runtime.js';
import { type Runtime } from '../src/core/runtime/runtime.js';
import { MembershipTable, TableFullError } from '../src/core/table/membership-table.js';
import * as L from '../src/core/table/layout.js';
import * as F from '../src/core/wire/format.js';
import { Codec } from '../src/core/wire/codec.js';
import type { MemberEntry, NodeId, WireAddress } from '../src/core/wire/message.js';

const backends = ['ts', 'wasm'] as const;
type Backend = (typeof backends)[number];

function v4(last: number, port = 7946): WireAddress {
  const bytes = new Uint8Array(16);
  bytes.set([10, 0, 0, last]);
  return { family: 4, bytes, port };
}
let wideIds = false;
/** Member n's id; with wideIds both halves are at or above 2^31 for most n (the TS kernels read them as int32). */
const id = (n: number): NodeId => (wideIds ? { high: (0x80000000 + n * 7919) >>> 0, low: (n * 2654435761) >>> 0 } : { high: 0xabc, low: n });

class Fixture {
  readonly runtime: Runtime;
  readonly table: MembershipTable;
  readonly codec: Codec;
  readonly out: number;
  readonly outCapacity = 512;
  readonly packet: number;

  constructor(backend: Backend, capacity = 64) {
    this.runtime = createRuntime({ backend, memoryBytes: 4 << 20 });
    this.table = MembershipTable.create(this.runtime, capacity);
    this.codec = new Codec(this.runtime, F.kFrameBytesMax >> 8, { messages: 4, entries: 4096, payloadBytes: 65536 });
    this.out = this.runtime.allocate((L.kOutHeaderWords + 2 * this.outCapacity) * 4, 8);
    this.packet = this.runtime.allocate(65536, 8);
  }

  merge(entries: MemberEntry[], nowMs: number): { result: number; changes: Array<[number, number]>; overflow: number } {
    const bytes = this.codec.encode([{ type: F.kTypePushPullDigest, flags: 0, entries }]);
    return this.mergeBytes(bytes, nowMs);
  }

  mergeBytes(bytes: Uint8Array, nowMs: number): { result: number; changes: Array<[number, number]>; overflow: number } {
    this.runtime.views.u8.set(bytes, this.packet);
    const result = this.runtime.kernels.mergeDigest(this.table.base, this.packet, bytes.length, 65536, nowMs >>> 0, this.out, this.outCapacity);
    return { result, ...this.output() };
  }

  sweep(nowMs: number, k2 = 9, varianceMin = 100, samplesMin = 3, silenceMax = 5000) {
    const result = this.runtime.kernels.sweep(this.table.base, nowMs >>> 0, k2, varianceMin, samplesMin, silenceMax, this.out, this.outCapacity);
    return { result, ...this.output() };
  }

  output(): { changes: Array<[number, number]>; overflow: number } {
    const i32 = this.runtime.views.i32;
    const o = this.out >>> 2;
    const changes: Array<[number, number]> = [];
    const n = i32[o + L.kOutCountField]!;
    for (let i = 0; i < n; i++) changes.push([i32[o + L.kOutHeaderWords + 2 * i]!, i32[o + L.kOutHeaderWords + 2 * i + 1]!]);
    return { changes, overflow: i32[o + L.kOutOverflowField]! };
  }

  outBytes(): Uint8Array {
    return this.runtime.views.u8.slice(this.out, this.out + (L.kOutHeaderWords + 2 * this.outCapacity) * 4);
  }
}

const entry = (n: number, incarnation: number, heartbeat: number, status: number, address = v4(n)): MemberEntry => ({ id: id(n), address, incarnation, heartbeat, status });

for (const backend of backends) {
  describe(`table kernels (${backend})`, () => {
    it('inserts, finds and removes rows, reusing released ones, and refuses past capacity', () => {
      const f = new Fixture(backend, 4);
      const rows = [1, 2, 3, 4].map((n) => f.table.upsert(id(n), v4(n), 1, F.kStatusAlive, 0));
      expect(rows).toEqual([0, 1, 2, 3]);
      expect(() => f.table.upsert(id(5), v4(5), 1, F.kStatusAlive, 0)).toThrow(TableFullError);
      f.table.remove(1);
      expect(f.table.find(id(2))).toBe(-1);
      expect(f.table.find(id(3))).toBe(2);
      expect(f.table.size).toBe(3);
      expect(f.table.upsert(id(9), v4(9), 1, F.kStatusAlive, 0)).toBe(1);
      for (const n of [1, 3, 4, 9]) expect(f.table.find(id(n))).toBeGreaterThanOrEqual(0);
    });

    it('applies SWIM precedence by incarnation and status', () => {
      const f = new Fixture(backend);
      expect(f.merge([entry(1, 5, 10, F.kStatusAlive)], 1000).changes).toEqual([[0, L.kChangeInserted | L.kChangeStatus | L.kChangeIncarnation | L.kChangeHeartbeat | L.kChangeAddress]]);
      // Unknown dead nodes are not inserted.
      expect(f.merge([entry(2, 1, 0, F.kStatusDead)], 1000).changes).toEqual([]);
      // Older incarnation: ignored. Same incarnation suspect: applies.
      expect(f.merge([entry(1, 4, 10, F.kStatusSuspect)], 1100).changes).toEqual([]);
      expect(f.merge([entry(1, 5, 10, F.kStatusSuspect)], 1100).changes).toEqual([[0, L.kChangeStatus]]);
      // Same incarnation alive cannot refute a suspicion; a higher one can.
      expect(f.merge([entry(1, 5, 10, F.kStatusAlive)], 1200).changes).toEqual([]);
      expect(f.merge([entry(1, 6, 11, F.kStatusAlive)], 1200).changes).toEqual([[0, L.kChangeStatus | L.kChangeIncarnation | L.kChangeHeartbeat]]);
      // Dead at the same incarnation applies; then only a higher alive revives.
      expect(f.merge([entry(1, 6, 11, F.kStatusDead)], 1300).changes).toEqual([[0, L.kChangeStatus]]);
      expect(f.merge([entry(1, 6, 99, F.kStatusAlive)], 1300).changes).toEqual([]);
      expect(f.merge([entry(1, 7, 0, F.kStatusSuspect)], 1300).changes).toEqual([]);
      expect(f.merge([entry(1, 7, 0, F.kStatusAlive, v4(77))], 1400).changes).toEqual([[0, L.kChangeStatus | L.kChangeIncarnation | L.kChangeHeartbeat | L.kChangeAddress]]);
      expect(f.table.get(0).address.bytes[3]).toBe(77);
      expect(f.table.get(0).status).toBe(F.kStatusAlive);
    });

    it('keeps the larger heartbeat and feeds the inter-arrival statistics', () => {
      const f = new Fixture(backend);
      f.merge([entry(1, 1, 10, F.kStatusAlive)], 0);
      expect(f.merge([entry(1, 1, 12, F.kStatusAlive)], 1000).changes).toEqual([[0, L.kChangeHeartbeat]]);
      expect(f.merge([entry(1, 1, 11, F.kStatusAlive)], 1500).changes).toEqual([]);
      f.merge([entry(1, 1, 13, F.kStatusAlive)], 2000);
      f.merge([entry(1, 1, 14, F.kStatusAlive)], 3200);
      expect(f.table.heartbeat[0]).toBe(14);
      expect(f.table.fdSamples[0]).toBe(3);
      // mean: 1000, then 1000 + 0*w, then 1000 + 200/8 = 1025
      expect(f.table.fdMeanMs[0]).toBeCloseTo(1025, 3);
      expect(f.table.lastHeardMs[0]).toBe(3200);
    });

    it('never changes the local row, but reports news that it is suspected', () => {
      const f = new Fixture(backend);
      const self = f.table.upsert(id(1), v4(1), 3, F.kStatusAlive, 0);
      f.table.markSelf(self);
      expect(f.merge([entry(1, 3, 0, F.kStatusSuspect)], 10).changes).toEqual([[self, L.kChangeStatus]]);
      expect(f.merge([entry(1, 2, 0, F.kStatusDead)], 10).changes).toEqual([]);
      expect(f.table.get(self).status).toBe(F.kStatusAlive);
      expect(f.table.get(self).incarnation).toBe(3);
    });

    it('counts entries that do not fit a full table and changes nothing on a malformed packet', () => {
      const f = new Fixture(backend, 2);
      const r = f.merge([entry(1, 1, 0, F.kStatusAlive), entry(2, 1, 0, F.kStatusAlive), entry(3, 1, 0, F.kStatusAlive)], 0);
      expect(r.result).toBe(3);
      expect(r.overflow).toBe(1);
      const bytes = f.codec.encode([{ type: F.kTypePushPullDigest, flags: 0, entries: [entry(9, 1, 0, F.kStatusAlive)] }]);
      bytes[bytes.length - 1]! ^= 0xff;
      const before = f.table.bytes();
      expect(f.mergeBytes(bytes, 0).result).toBe(-F.kErrBadChecksum);
      expect(f.table.bytes()).toEqual(before);
      const ping = f.codec.encode([{ type: F.kTypeNack, seq: 1, source: id(1) }]);
      expect(f.mergeBytes(ping, 0).result).toBe(-F.kErrWrongType);
    });

    it('merges the digest parts of a compound datagram and leaves the other parts alone', () => {
      const f = new Fixture(backend);
      const bytes = f.codec.encode([
        { type: F.kTypePing, seq: 9, target: id(1), source: id(2), sourceAddress: v4(2) },
        { type: F.kTypePushPullDigest, flags: F.kPushPullFlagGossip, entries: [entry(2, 3, 40, F.kStatusAlive)] },
        { type: F.kTypeSuspect, incarnation: 1, node: id(3), from: id(2) },
        { type: F.kTypePushPullDigest, flags: 0, entries: [entry(4, 1, 1, F.kStatusAlive), entry(5, 1, 1, F.kStatusSuspect)] },
      ]);
      const r = f.mergeBytes(bytes, 100);
      expect(r.result).toBe(3);
      expect(r.changes.map(([row]) => row)).toEqual([0, 1, 2]);
      expect(f.table.get(f.table.find(id(5))).status).toBe(F.kStatusSuspect);
      const noDigest = f.codec.encode([{ type: F.kTypePing, seq: 9, target: id(1), source: id(2), sourceAddress: v4(2) }, { type: F.kTypeNack, seq: 1, source: id(2) }]);
      expect(f.mergeBytes(noDigest, 100).result).toBe(0);
    });

    it('sweeps: phi threshold after enough samples, hard silence limit, deadlines, each reported once', () => {
      const f = new Fixture(backend);
      for (let i = 0; i <= 5; i++) f.merge([entry(1, 1, i, F.kStatusAlive), entry(2, 1, 0, F.kStatusAlive)], i * 1000);
      // Node 1: mean 1000 ms, variance floor 100 ms² (σ = 10), k = 3: silent past 1030 ms.
      // Node 2 has no samples (its heartbeat never grew since time 0): only the 5,000 ms
      // hard limit applies to it.
      expect(f.sweep(5000 + 1020).changes).toEqual([[1, L.kSweepSilent]]);
      expect(f.sweep(5000 + 1040).changes).toEqual([[0, L.kSweepSilent]]);
      expect(f.sweep(5000 + 1100).changes).toEqual([]);
      // A suspect with an armed deadline expires once.
      f.merge([entry(2, 1, 0, F.kStatusSuspect)], 7000);
      f.table.armDeadline(1, 9000);
      expect(f.sweep(8999).changes).toEqual([]);
      expect(f.sweep(9000).changes).toEqual([[1, L.kSweepSuspicionExpired]]);
      expect(f.sweep(9500).changes).toEqual([]);
      // Deadlines compare by wrapping difference across 2^32.
      f.merge([entry(2, 1, 0, F.kStatusDead)], 9600);
      f.table.armDeadline(1, 0xfffffff0 + 0x20);
      expect(f.sweep(0xfffffff0).changes).toEqual([]);
      expect(f.sweep(0x10).changes).toEqual([[1, L.kSweepReapable]]);
    });
  });
}

describe('Wasm and TypeScript table kernels agree (property)', () => {
  const statusArb = fc.integer({ min: 1, max: 4 });
  const stepArb = fc.oneof(
    fc.record({
      kind: fc.constant('merge' as const),
      dtMs: fc.integer({ min: 0, max: 3000 }),
      entries: fc.array(
        fc.record({ n: fc.integer({ min: 1, max: 40 }), incarnation: fc.integer({ min: 0, max: 4 }), heartbeat: fc.integer({ min: 0, max: 50 }), status: statusArb, addr: fc.integer({ min: 1, max: 3 }) }),
        { maxLength: 30 },
      ),
    }),
    fc.record({ kind: fc.constant('sweep' as const), dtMs: fc.integer({ min: 0, max: 6000 }), k2: fc.double({ min: 0.5, max: 30, noNaN: true }) }),
    fc.record({ kind: fc.constant('remove' as const), dtMs: fc.constant(0), n: fc.integer({ min: 1, max: 40 }) }),
    fc.record({ kind: fc.constant('arm' as const), dtMs: fc.constant(0), n: fc.integer({ min: 1, max: 40 }), inMs: fc.integer({ min: 0, max: 5000 }) }),
  );

  for (const wide of [false, true]) it(`random merges, sweeps, removals and deadlines leave identical bytes${wide ? ' (ids with both halves at or above 2^31)' : ''}`, () => {
    wideIds = wide;
    try {
      propertyRun();
    } finally {
      wideIds = false;
    }
  });

  const propertyRun = (): void => {
    fc.assert(
      fc.property(fc.array(stepArb, { minLength: 1, maxLength: 40 }), fc.integer({ min: 0, max: 0xffffffff }), (steps, start) => {
        const ts = new Fixture('ts', 32);
        const wasm = new Fixture('wasm', 32);
        let now = start;
        for (const step of steps) {
          now = (now + step.dtMs) >>> 0;
          const results = [ts, wasm].map((f) => {
            if (step.kind === 'merge') {
              return f.merge(step.entries.map((e) => entry(e.n, e.incarnation, e.heartbeat, e.status, v4(e.addr))), now).result;
            }
            if (step.kind === 'sweep') return f.sweep(now, step.k2).result;
            const row = f.table.find(id(step.n));
            if (row < 0) return -1;
            if (step.kind === 'remove') f.table.remove(row);
            else f.table.armDeadline(row, now + step.inMs);
            return row;
          });
          expect(results[1]).toBe(results[0]);
          expect(Buffer.from(wasm.table.bytes()).equals(Buffer.from(ts.table.bytes()))).toBe(true);
          expect(Buffer.from(wasm.outBytes()).equals(Buffer.from(ts.outBytes()))).toBe(true);
        }
      }),
      { seed: 7, numRuns: 300 },
    );
  };
});
