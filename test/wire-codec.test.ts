// Proves the wire codec: every message type round-trips through both backends, both
// produce the checked-in golden bytes, and on random inputs (fast-check, seeded) the
// Wasm and TypeScript codecs give identical datagrams, identical tapes and identical
// error codes. Set GALAXY_UPDATE_GOLDEN=1 to rewrite test/golden/wire-v1.hex; review
// the diff: a change there is a protocol change.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRuntime } from '../src/core/kernels/create-runtime.js';
import { Codec } from '../src/core/wire/codec.js';
import * as F from '../src/core/wire/format.js';
import { WireError } from '../src/core/wire/wire-error.js';
import { datagramArb, goldenSamples } from './support/messages.js';

const goldenPath = new URL('./golden/wire-v1.hex', import.meta.url);
const backends = ['ts', 'wasm'] as const;
const codecs = Object.fromEntries(backends.map((b) => [b, new Codec(createRuntime({ backend: b, memoryBytes: 8 << 20 }))])) as Record<(typeof backends)[number], Codec>;
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function readGolden(): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of readFileSync(goldenPath, 'utf8').split('\n')) {
    const m = /^(\S+)\s+([0-9a-f]+)$/.exec(line.trim());
    if (m) map.set(m[1]!, m[2]!);
  }
  return map;
}

describe('golden vectors', () => {
  if (process.env.GALAXY_UPDATE_GOLDEN === '1' || !existsSync(goldenPath)) {
    const lines = ['# Galaxy wire format v1: one datagram per line, name then hex. Both codecs must produce these bytes.'];
    for (const [name, messages] of goldenSamples) lines.push(`${name} ${hex(codecs.ts.encode(messages))}`);
    writeFileSync(goldenPath, lines.join('\n') + '\n');
  }
  const golden = readGolden();

  for (const backend of backends) {
    it(`${backend} encodes and decodes every sample to the golden bytes`, () => {
      expect(golden.size).toBe(goldenSamples.length);
      for (const [name, messages] of goldenSamples) {
        const bytes = codecs[backend].encode(messages);
        expect(hex(bytes), name).toBe(golden.get(name));
        expect(codecs[backend].decode(bytes), name).toEqual(messages);
      }
    });
  }
});

describe('round trip and backend agreement (property)', () => {
  it('every random datagram round-trips in both backends with identical bytes and tapes', () => {
    fc.assert(
      fc.property(datagramArb, (messages) => {
        let tsBytes: Uint8Array;
        try {
          tsBytes = codecs.ts.encode(messages);
        } catch (error) {
          // Too large for one datagram: both backends must refuse with the same code.
          expect(error).toBeInstanceOf(WireError);
          expect(() => codecs.wasm.encode(messages)).toThrow((error as WireError).message);
          return;
        }
        const wasmBytes = codecs.wasm.encode(messages);
        expect(hex(wasmBytes)).toBe(hex(tsBytes));
        expect(tsBytes.length).toBeLessThanOrEqual(F.kDatagramBytesMax);
        expect(codecs.ts.decode(tsBytes)).toEqual(messages);
        expect(codecs.wasm.decode(tsBytes)).toEqual(messages);
        expect(hex(codecs.wasm.tapeBytes())).toBe(hex(codecs.ts.tapeBytes()));
      }),
      { seed: 20261126, numRuns: 3000 },
    );
  });

  it('refuses a datagram over 1,400 bytes with GALAXY_WIRE_TOO_LARGE', () => {
    const big = [{ type: F.kTypeUser, payload: new Uint8Array(F.kUserPayloadBytesMax) } as const, { type: F.kTypeUser, payload: new Uint8Array(300) } as const];
    for (const backend of backends) {
      expect(() => codecs[backend].encode(big)).toThrowError(expect.objectContaining({ code: 'GALAXY_WIRE_TOO_LARGE' }));
    }
  });

  it('refuses payloads over their field limit', () => {
    const huge = [{ type: F.kTypeAlive, incarnation: 1, node: { high: 1, low: 2 }, address: { family: 0, bytes: new Uint8Array(16), port: 0 }, meta: new Uint8Array(F.kMetaBytesMax + 1) } as const];
    for (const backend of backends) {
      expect(() => codecs[backend].encode(huge)).toThrowError(expect.objectContaining({ code: 'GALAXY_WIRE_FIELD_TOO_LARGE' }));
    }
  });
});
