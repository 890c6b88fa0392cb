// Proves the channel pack kernels (asm/channels.ts and their TypeScript twin,
// src/core/cluster-channels/ts-pack-kernels.ts) and their place on the path:
// (1) on random messages, records and packs (fast-check, seeded), the Wasm and
// TypeScript kernels return the same values and leave the same bytes, and PackKernel
// on either backend gives exactly what the path's TypeScript gives (encodePack of
// encodeMessage, decodePack), malformed packs refused alike; (2) ClusterChannels cores
// writing their packs with the Wasm kernel, with the TS twin and with no kernel (the
// TypeScript encoders) send byte-identical envelopes and deliver the same messages,
// over total and causal channels, fragmented messages and corked bursts; and (3) that
// comparison catches a deliberately broken kernel.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeMessage, kKindData, kKindFeedback, type ChannelHeader } from '../src/core/channels/channel-header.js';
import { kOrderings, kReliabilities, type Ordering } from '../src/core/channels/channel-options.js';
import { decodePack, encodePack } from '../src/core/cluster-channels/cluster-channels-pack.js';
import { ClusterChannels } from '../src/core/cluster-channels/cluster-channels.js';
import { PackKernel } from '../src/core/cluster-channels/pack-kernel.js';
import * as L from '../src/core/cluster-channels/pack-layout.js';
import { createRuntime } from '../src/core/kernels/create-runtime.js';
import { createPackKernel } from '../src/core/kernels/pack-runtime.js';
import { createTsKernels } from '../src/core/kernels/ts-kernels.js';
import { MemoryViews } from '../src/core/runtime/memory-views.js';
import { Runtime } from '../src/core/runtime/runtime.js';
import { Prng } from '../src/core/util/prng.js';

const kPackBytes = 32 * 1024;

const headerArb = (clockMax: number): fc.Arbitrary<ChannelHeader> =>
  fc.record({
    kind: fc.constantFrom(kKindData, kKindFeedback),
    ordering: fc.constantFrom(...kOrderings),
    reliability: fc.constantFrom(...kReliabilities),
    viewId: fc.nat({ max: 0xffffffff }),
    channelId: fc.nat({ max: 0xffffffff }),
    seq: fc.nat({ max: 0xffffffff }),
    fragmentIndex: fc.nat({ max: 0xffff }),
    fragmentCount: fc.nat({ max: 0xffff }),
    messageBytes: fc.nat({ max: 0xffffffff }),
    clock: fc.array(fc.nat({ max: 0xffffffff }), { maxLength: clockMax }),
  });

const messageArb = fc.record({ header: headerArb(9), body: fc.uint8Array({ maxLength: 600 }), offset: fc.nat({ max: 7 }) }).map(({ header, body, offset }) => {
  // Bodies as views into bigger buffers, as the layer's fragments are.
  const whole = new Uint8Array(body.length + 8);
  whole.set(body, offset);
  return { header, body: whole.subarray(offset, offset + body.length) };
});

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

describe('channel pack kernels', () => {
  const wasm = new PackKernel(createRuntime({ backend: 'wasm', memoryBytes: 1 << 20 }), kPackBytes);
  const ts = new PackKernel(createRuntime({ backend: 'ts', memoryBytes: 1 << 20 }), kPackBytes);

  it('both backends write encodePack of encodeMessage, byte for byte, for any messages that fit', () => {
    expect(wasm.backend).toBe('wasm');
    expect(ts.backend).toBe('ts');
    fc.assert(
      fc.property(fc.array(messageArb, { minLength: 0, maxLength: 40 }), (messages) => {
        const expected = encodePack(messages.map((m) => encodeMessage(m.header, m.body)));
        expect(sameBytes(wasm.packMessages(messages), expected)).toBe(true);
        expect(sameBytes(ts.packMessages(messages), expected)).toBe(true);
        // A slice of the list, as ClusterChannels packs its backlog's head.
        if (messages.length >= 2) {
          const part = encodePack(messages.slice(1, -1).map((m) => encodeMessage(m.header, m.body)));
          expect(sameBytes(wasm.packMessages(messages, 1, messages.length - 1), part)).toBe(true);
          expect(sameBytes(ts.packMessages(messages, 1, messages.length - 1), part)).toBe(true);
        }
      }),
      { seed: 18, numRuns: 300 },
    );
  });

  it('both backends pack records as encodePack does and find them as decodePack does', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { minLength: 1, maxLength: 60 }), (records) => {
        const expected = encodePack(records);
        expect(sameBytes(wasm.packRecords(records), expected)).toBe(true);
        expect(sameBytes(ts.packRecords(records), expected)).toBe(true);
        const found = decodePack(expected, 1000);
        for (const kernel of [wasm, ts]) {
          const got = kernel.unpack(expected, 1000);
          expect(got.length).toBe(found.length);
          got.forEach((r, i) => {
            expect(r.buffer).toBe(expected.buffer);
            expect(r.byteOffset).toBe(found[i]!.byteOffset);
            expect(r.length).toBe(found[i]!.length);
          });
        }
      }),
      { seed: 19, numRuns: 300 },
    );
  });

  it('refuses malformed packs with the same codes on both backends, and wherever decodePack throws', () => {
    const wr = createRuntime({ backend: 'wasm', memoryBytes: 1 << 20 });
    const tr = createRuntime({ backend: 'ts', memoryBytes: 1 << 20 });
    const at = { w: wr.allocate(4096), t: tr.allocate(4096), wo: wr.allocate(4096), to: tr.allocate(4096) };
    const good = encodePack([new Uint8Array(3).fill(1), new Uint8Array(200).fill(2), new Uint8Array(1).fill(3)]);
    const corrupt = fc.record({ bytes: fc.constant(good), flips: fc.array(fc.tuple(fc.nat({ max: good.length - 1 }), fc.nat({ max: 255 })), { maxLength: 4 }), cut: fc.nat({ max: good.length }), recordsMax: fc.nat({ max: 4 }) });
    fc.assert(
      fc.property(fc.oneof(corrupt.map((c) => {
        const b = c.bytes.slice(0, Math.max(0, c.bytes.length - c.cut));
        for (const [i, v] of c.flips) if (i < b.length) b[i] = v;
        return { bytes: b, recordsMax: c.recordsMax };
      }), fc.record({ bytes: fc.uint8Array({ maxLength: 64 }), recordsMax: fc.nat({ max: 40 }) })), ({ bytes, recordsMax }) => {
        wr.views.u8.set(bytes, at.w);
        tr.views.u8.set(bytes, at.t);
        wr.views.u8.fill(0xee, at.wo, at.wo + 1024);
        tr.views.u8.fill(0xee, at.to, at.to + 1024);
        const w = wr.kernels.unpackRecords(at.w, bytes.length, recordsMax, at.wo, 100);
        const t = tr.kernels.unpackRecords(at.t, bytes.length, recordsMax, at.to, 100);
        expect(w).toBe(t);
        expect(sameBytes(wr.views.u8.subarray(at.wo, at.wo + 1024), tr.views.u8.subarray(at.to, at.to + 1024))).toBe(true);
        let reference: number | 'throws';
        try {
          reference = decodePack(bytes, recordsMax).length;
        } catch {
          reference = 'throws';
        }
        expect(w < 0 ? 'throws' : w).toBe(reference);
      }),
      { seed: 20, numRuns: 600 },
    );
  });

  it('refuses a pack over the output limit and a bad record without writing, alike on both backends', () => {
    for (const runtime of [createRuntime({ backend: 'wasm', memoryBytes: 1 << 20 }), createRuntime({ backend: 'ts', memoryBytes: 1 << 20 })]) {
      const list = runtime.allocate(64);
      const data = runtime.allocate(256);
      const out = runtime.allocate(256);
      runtime.views.u8.fill(0xaa, out, out + 256);
      runtime.views.u32.set([data, 100, data, 100], list >>> 2);
      expect(runtime.kernels.packRecords(list, 2, out, 203)).toBe(203);
      runtime.views.u8.fill(0xaa, out, out + 256);
      expect(runtime.kernels.packRecords(list, 2, out, 202)).toBe(-L.kPackErrOverflow);
      runtime.views.u32.set([data, 0], list >>> 2);
      expect(runtime.kernels.packRecords(list, 1, out, 256)).toBe(-L.kPackErrBadRecord);
      runtime.views.u32.fill(0, list >>> 2, (list >>> 2) + L.kMessageWords);
      runtime.views.u32[(list >>> 2) + L.kMessageClockLengthField] = 256;
      expect(runtime.kernels.packMessages(list, 1, out, 4096)).toBe(-L.kPackErrBadClock);
      expect(runtime.views.u8.subarray(out, out + 256).every((b) => b === 0xaa)).toBe(true);
    }
  });
});

// ---- On the path: ClusterChannels cores with and without the kernel ----------------

interface Trace {
  sends: string[];
  deliveries: string[];
  packsByKernel: number;
  multicasts: number;
}

/** Three cores on an instant in-memory wire, deterministic from their seeds; every envelope sent and every delivery, in order. */
function runCluster(ordering: Ordering, kernel: (i: number) => PackKernel | undefined): Trace {
  const ids = ['a', 'b', 'c'];
  let nowMs = 0;
  const cores = ids.map((id, i) => new ClusterChannels({
    cluster: 'k', nodeId: id, incarnation: 0, definition: ids, random: new Prng(i + 7), nowMs: 0,
    membership: { sendWindowMax: 16, payloadBytesMax: kPackBytes }, layer: { fragmentBytes: 2048, autoConsume: true }, packKernel: kernel(i),
  }));
  const wire: { to: number; from: string; bytes: Uint8Array }[] = [];
  const trace: Trace = { sends: [], deliveries: [], packsByKernel: 0, multicasts: 0 };
  const drain = (i: number): void => {
    const core = cores[i]!;
    for (const o of core.ready()) {
      if (o.kind === 'send') {
        trace.sends.push(`${ids[i]}>${o.to}:${Buffer.from(o.bytes).toString('hex')}`);
        wire.push({ to: ids.indexOf(o.to), from: ids[i]!, bytes: o.bytes });
      } else if (o.kind === 'delivered') trace.deliveries.push(`${ids[i]} ${o.channel} ${o.sender} ${o.viewId}/${o.seq} ${Buffer.from(o.payload).toString('hex')}`);
    }
    core.advance();
  };
  const settle = (): void => {
    for (let head = 0; head < wire.length; head++) {
      const m = wire[head]!;
      cores[m.to]!.step({ kind: 'receive', from: m.from, bytes: m.bytes.slice() });
      drain(m.to);
    }
    wire.length = 0;
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
  cores[0]!.step({ kind: 'open', name: 'x', options: { reliability: 'reliable', ordering, windowMessages: 256 } });
  drain(0);
  for (let t = 0; t < 50; t++) tick();
  const random = new Prng(99);
  let sendId = 0;
  for (let round = 0; round < 40; round++) {
    for (let s = 0; s < cores.length; s++) {
      const core = cores[s]!;
      const cork = random.nextInt(2) === 0;
      if (cork) core.step({ kind: 'cork' });
      const burst = 1 + random.nextInt(12);
      for (let k = 0; k < burst; k++) {
        // Mostly small, now and then over a fragment (2 KiB) so messages are cut.
        const size = random.nextInt(10) === 0 ? 2048 + random.nextInt(5000) : random.nextInt(300);
        const payload = new Uint8Array(size);
        for (let b = 0; b < size; b++) payload[b] = (b * 13 + sendId) & 0xff;
        core.step({ kind: 'send', sendId: ++sendId, channel: 'x', payload });
      }
      if (cork) core.step({ kind: 'uncork' });
      drain(s);
    }
    settle();
    tick();
  }
  for (let t = 0; t < 200; t++) tick();
  for (const core of cores) {
    trace.packsByKernel += core.counters.packsByKernel;
    trace.multicasts += core.counters.multicasts;
  }
  return trace;
}

/** A kernel that writes the first record's fragment index and count swapped: what the comparison must catch. */
function brokenPackKernel(): PackKernel {
  const memory = new WebAssembly.Memory({ initial: 16, maximum: 16, shared: true });
  const views = new MemoryViews(memory.buffer);
  const good = createTsKernels(views);
  const kernels = {
    ...good,
    packMessages: (list: number, count: number, out: number, limit: number): number => {
      const n = good.packMessages(list, count, out, limit);
      if (n > 0 && count > 0) {
        const header = out + 1 + (views.u8[out + 1]! >= 0x80 ? 2 : 1);
        const index = views.dv.getUint16(header + 16, true);
        views.dv.setUint16(header + 16, views.dv.getUint16(header + 18, true), true);
        views.dv.setUint16(header + 18, index, true);
      }
      return n;
    },
  };
  return new PackKernel(new Runtime(memory, kernels, 'broken on purpose'), kPackBytes);
}

describe('the pack kernel on the ClusterChannels path', () => {
  for (const ordering of ['total', 'causal'] as Ordering[]) {
    it(`sends the same envelopes and delivers the same messages with the Wasm kernel, its TS twin and none (${ordering})`, () => {
      const none = runCluster(ordering, () => undefined);
      const shared = createPackKernel(kPackBytes, 'wasm');
      const withWasm = runCluster(ordering, () => shared);
      const withTs = runCluster(ordering, () => createPackKernel(kPackBytes, 'ts'));
      expect(none.packsByKernel).toBe(0);
      expect(none.deliveries.length).toBeGreaterThan(3 * 400);
      expect(withWasm.packsByKernel).toBe(withWasm.multicasts);
      expect(withTs.packsByKernel).toBe(withTs.multicasts);
      expect(withWasm.multicasts).toBeGreaterThan(50);
      expect(withWasm.sends).toEqual(none.sends);
      expect(withTs.sends).toEqual(none.sends);
      expect(withWasm.deliveries).toEqual(none.deliveries);
      expect(withTs.deliveries).toEqual(none.deliveries);
    });
  }

  it('the comparison catches a broken kernel', () => {
    const none = runCluster('total', () => undefined);
    const broken = runCluster('total', () => brokenPackKernel());
    expect(broken.packsByKernel).toBeGreaterThan(0);
    expect(broken.sends).not.toEqual(none.sends);
  });

  it('refuses a kernel smaller than the cluster payload', () => {
    expect(() => new ClusterChannels({
      cluster: 'k', nodeId: 'a', incarnation: 0, definition: ['a'], random: new Prng(1), nowMs: 0,
      membership: { payloadBytesMax: kPackBytes }, packKernel: createPackKernel(kPackBytes / 2, 'ts'),
    })).toThrow(/packBytesMax/);
  });
});
