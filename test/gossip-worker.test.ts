// Proves the worker path: a batch of digests pushed through the shared-memory ring is
// merged by the gossip worker (Wasm and TS kernels), the main thread reads the merged
// table in place, and the result is byte-identical to merging the same digests on the
// main thread. Also proves the ring itself: order, wrap-around and refusal when full.
import { describe, expect, it } from 'vitest';
import { createRuntime } from '../src/core/kernels/create-runtime.js';
import { MembershipTable } from '../src/core/table/membership-table.js';
import * as L from '../src/core/table/layout.js';
import { GossipWorkerClient } from '../src/node/threads/gossip-worker-client.js';
import * as P from '../src/node/threads/gossip-worker-protocol.js';
import { Ring } from '../src/node/threads/ring.js';
import { Prng } from '../src/core/util/prng.js';
import { Codec } from '../src/core/wire/codec.js';
import * as F from '../src/core/wire/format.js';
import type { MemberEntry } from '../src/core/wire/message.js';

function randomDigests(seed: number, count: number): Uint8Array[] {
  const runtime = createRuntime({ backend: 'ts', memoryBytes: 2 << 20 });
  const codec = new Codec(runtime);
  const prng = new Prng(seed);
  const out: Uint8Array[] = [];
  for (let d = 0; d < count; d++) {
    const entries: MemberEntry[] = [];
    for (let i = 0; i < 40; i++) {
      const bytes = new Uint8Array(16);
      bytes.set([10, 1, prng.nextInt(4), prng.nextInt(250)]);
      entries.push({ id: { high: 7, low: prng.nextInt(500) }, address: { family: 4, bytes, port: 7946 }, incarnation: prng.nextInt(3), heartbeat: prng.nextInt(100), status: 1 + prng.nextInt(4) });
    }
    out.push(codec.encode([{ type: F.kTypePushPullDigest, flags: F.kPushPullFlagGossip, entries }]));
  }
  return out;
}

describe('ring', () => {
  it('delivers records in order across wrap-around and refuses when full', () => {
    const runtime = createRuntime({ backend: 'ts', memoryBytes: 1 << 20 });
    const ring = Ring.create(runtime.views, runtime.allocate(Ring.bytesFor(256)), 256);
    const reader = new Ring(runtime.views, ring.base);
    const seen: number[] = [];
    let next = 0;
    for (let round = 0; round < 50; round++) {
      while (ring.push(new Uint8Array(1 + (next % 37)).fill(next & 0xff))) next++;
      reader.drain((p, n) => {
        expect(runtime.views.u8[p]).toBe(seen.length & 0xff);
        expect(n).toBe(1 + (seen.length % 37));
        seen.push(n);
      });
    }
    expect(seen.length).toBe(next);
    expect(ring.refused).toBe(50);
    expect(() => ring.reserve(300)).toThrow(/can never fit/);
  });
});

for (const backend of ['wasm', 'ts'] as const) {
  describe(`gossip worker (${backend})`, () => {
    it('merges batches from the ring; the main thread reads the same table as a local merge', async () => {
      const runtime = createRuntime({ backend, memoryBytes: 16 << 20 });
      const table = MembershipTable.create(runtime, 1000);
      const worker = await GossipWorkerClient.start(runtime, table);
      expect(worker.backend).toBe(backend);
      const digests = randomDigests(42, 200);
      let results = 0;
      let merged = 0;
      try {
        for (let batch = 0; batch < 4; batch++) {
          const seen = worker.resultSignal;
          for (const [i, d] of digests.slice(batch * 50, batch * 50 + 50).entries()) expect(worker.submitMerge(d, batch * 1000 + i)).toBe(true);
          worker.flush();
          while (results < (batch + 1) * 50) {
            await worker.waitForResults(seen, 5000);
            worker.drainResults((r) => {
              expect(r.kind).toBe(P.kRecordKindMerged);
              expect(r.result).toBe(40);
              merged += r.pairCount;
              results++;
            });
          }
        }
        const swept = worker.resultSignal;
        worker.submitSweep(10_000_000, 9, 100, 3, 5000);
        worker.flush();
        let sweepRows = -1;
        while (sweepRows < 0) {
          await worker.waitForResults(swept, 5000);
          worker.drainResults((r) => {
            expect(r.kind).toBe(P.kRecordKindSwept);
            sweepRows = r.result;
          });
        }
        expect(sweepRows).toBeGreaterThan(0);
      } finally {
        await worker.stop();
      }
      expect(merged).toBeGreaterThan(200);
      // The same digests merged on this thread give the same table, byte for byte.
      const local = createRuntime({ backend, memoryBytes: 16 << 20 });
      const localTable = MembershipTable.create(local, 1000);
      const out = local.allocate((L.kOutHeaderWords + 2 * 4096) * 4);
      const packet = local.allocate(2048);
      digests.forEach((d, i) => {
        local.views.u8.set(d, packet);
        local.kernels.mergeDigest(localTable.base, packet, d.length, F.kFrameBytesMax, Math.floor(i / 50) * 1000 + (i % 50), out, 4096);
      });
      local.kernels.sweep(localTable.base, 10_000_000, 9, 100, 3, 5000, out, 4096);
      expect(Buffer.from(table.bytes()).equals(Buffer.from(localTable.bytes()))).toBe(true);
      expect(table.size).toBe(localTable.size);
      expect(table.members().length).toBeGreaterThan(100);
    });
  });
}
