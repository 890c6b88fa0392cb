// Proves the datagram checksum switch (issue 14 item 2: checksum only where nothing
// authenticates). With datagram checksums off (a secure farm: AES-GCM authenticates every
// datagram), the Wasm and TypeScript kernels write the same bytes: the datagram of the
// checksummed mode with a 0 trailer, for every golden sample and for random datagrams
// (fast-check, seeded), for the digest encoder and for assembled compounds; they decode
// them to the same messages. The modes refuse each other's datagrams (a checksummed
// receiver refuses a 0 trailer, an unchecksummed one a real checksum), which is why the
// mode is fixed per farm (secure or insecure) and agents of one farm run one build. The
// golden vectors themselves (checksums on) are checked by wire-codec.test.ts.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRuntime } from '../src/core/kernels/create-runtime.js';
import { MembershipTable } from '../src/core/table/membership-table.js';
import { Codec } from '../src/core/wire/codec.js';
import { assembleParts } from '../src/core/wire/compound.js';
import * as F from '../src/core/wire/format.js';
import { parseWireAddress } from '../src/core/wire/message.js';
import { datagramArb, goldenSamples } from './support/messages.js';

const backends = ['ts', 'wasm'] as const;
type Backend = (typeof backends)[number];

function codecOf(backend: Backend, checksums: boolean): Codec {
  const runtime = createRuntime({ backend, memoryBytes: 8 << 20 });
  runtime.setDatagramChecksums(checksums);
  return new Codec(runtime);
}

const on = { ts: codecOf('ts', true), wasm: codecOf('wasm', true) };
const off = { ts: codecOf('ts', false), wasm: codecOf('wasm', false) };
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const trailer = (b: Uint8Array): number => Buffer.from(b).readUInt32LE(b.length - F.kChecksumBytes);
const body = (b: Uint8Array): string => hex(b.subarray(0, b.length - F.kChecksumBytes));

function checkBothModes(messages: Parameters<Codec['encode']>[0], name: string): void {
  const checked = on.ts.encode(messages);
  const bare = off.ts.encode(messages);
  expect(hex(off.wasm.encode(messages)), name).toBe(hex(bare));
  expect(trailer(bare), name).toBe(0);
  expect(body(bare), name).toBe(body(checked));
  for (const backend of backends) {
    expect(off[backend].decode(bare), name).toEqual(messages);
    expect(on[backend].tryDecode(bare), name).toBe(-F.kErrBadChecksum);
    if (trailer(checked) !== 0) expect(off[backend].tryDecode(checked), name).toBe(-F.kErrBadChecksum);
  }
}

describe('datagram checksums off (AES-GCM authenticates)', () => {
  it('every golden sample: identical bytes in both backends, a 0 trailer, refused across modes', () => {
    for (const [name, messages] of goldenSamples) checkBothModes(messages, name);
  });

  it('random datagrams (property): the same in both backends', () => {
    fc.assert(
      fc.property(datagramArb, (messages) => {
        let fits = true;
        try {
          on.ts.encode(messages);
        } catch {
          fits = false;
        }
        if (fits) checkBothModes(messages, 'random');
      }),
      { seed: 1414, numRuns: 300 },
    );
  });

  it('the digest encoder and assembled compounds write a 0 trailer too, identical in both backends', () => {
    const results = new Map<string, string>();
    for (const backend of backends) {
      for (const checksums of [true, false]) {
        const runtime = createRuntime({ backend, memoryBytes: 8 << 20 });
        runtime.setDatagramChecksums(checksums);
        const table = MembershipTable.create(runtime, 64);
        const rowList = runtime.allocate(4 * 8, 8);
        for (let i = 0; i < 8; i++) runtime.views.i32[(rowList >>> 2) + i] = table.upsert({ high: 7, low: i + 1 }, parseWireAddress(`10.0.0.${i + 1}:7946`), i + 1, F.kStatusAlive, 0);
        const out = runtime.allocate(F.kDatagramBytesMax + 64, 8);
        const length = runtime.kernels.encodeDigest(table.base, rowList, 8, F.kPushPullFlagGossip, out, F.kDatagramBytesMax);
        expect(length).toBeGreaterThan(0);
        const digest = runtime.views.u8.slice(out, out + length);
        const codec = new Codec(runtime);
        const parts = goldenSamples.slice(0, 3).map(([, messages]) => {
          const bytes = codec.encode(messages);
          return bytes.slice(3, bytes.length - F.kChecksumBytes);
        });
        const assembled = assembleParts(runtime, out, parts, F.kDatagramBytesMax);
        expect(assembled).toBeGreaterThan(0);
        const compound = runtime.views.u8.slice(out, out + assembled);
        expect(codec.tryDecode(compound)).toBe(3);
        expect(codec.tryDecode(digest)).toBeGreaterThan(0);
        if (!checksums) {
          expect(trailer(digest)).toBe(0);
          expect(trailer(compound)).toBe(0);
        } else {
          expect(trailer(digest)).not.toBe(0);
        }
        results.set(`${backend}/${checksums}`, `${hex(digest)} ${hex(compound)}`);
      }
    }
    expect(results.get('wasm/false')).toBe(results.get('ts/false'));
    expect(results.get('wasm/true')).toBe(results.get('ts/true'));
    const [digestOn, compoundOn] = results.get('ts/true')!.split(' ');
    const [digestOff, compoundOff] = results.get('ts/false')!.split(' ');
    expect(digestOff!.slice(0, -8)).toBe(digestOn!.slice(0, -8));
    expect(compoundOff!.slice(0, -8)).toBe(compoundOn!.slice(0, -8));
  });
});
