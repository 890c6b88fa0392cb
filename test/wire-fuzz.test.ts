// Proves that the decoders never throw on hostile input: 100,000 random and mutated
// datagrams per run (seeded; the seed is printed on failure) go through both the Wasm
// and the TypeScript decoder, which must agree on every result, reject each bad one
// with a typed error code, and count it. Half of the mutations get a fixed-up
// checksum so that the structural checks behind the checksum are exercised too.
import { describe, expect, it } from 'vitest';
import { createRuntime } from '../src/core/kernels/create-runtime.js';
import { Prng } from '../src/core/util/prng.js';
import { Codec } from '../src/core/wire/codec.js';
import * as F from '../src/core/wire/format.js';
import { WireCounters } from '../src/core/wire/wire-counters.js';
import { goldenSamples } from './support/messages.js';

const kSeed = Number(process.env.GALAXY_FUZZ_SEED ?? 20261126);
const kCases = 100_000;

function mutate(prng: Prng, base: Uint8Array, fixChecksum: (b: Uint8Array) => void): Uint8Array {
  let bytes = Uint8Array.from(base);
  const edits = 1 + prng.nextInt(4);
  for (let e = 0; e < edits; e++) {
    switch (prng.nextInt(5)) {
      case 0: // flip a bit
        if (bytes.length > 0) bytes[prng.nextInt(bytes.length)]! ^= 1 << prng.nextInt(8);
        break;
      case 1: // overwrite a byte with an interesting value
        if (bytes.length > 0) bytes[prng.nextInt(bytes.length)] = [0, 1, 0x7f, 0x80, 0xff, 4, 6, 13][prng.nextInt(8)]!;
        break;
      case 2: // truncate
        bytes = bytes.slice(0, prng.nextInt(bytes.length + 1));
        break;
      case 3: { // extend with random bytes
        const extra = new Uint8Array(1 + prng.nextInt(40));
        for (let i = 0; i < extra.length; i++) extra[i] = prng.nextInt(256);
        const grown = new Uint8Array(bytes.length + extra.length);
        grown.set(bytes);
        grown.set(extra, bytes.length);
        bytes = grown;
        break;
      }
      default: // duplicate a slice in place
        if (bytes.length > 8) {
          const at = prng.nextInt(bytes.length - 4);
          bytes.copyWithin(prng.nextInt(bytes.length - 4), at, at + 4);
        }
    }
  }
  if (prng.chance(0.5)) fixChecksum(bytes);
  return bytes.slice(0, F.kDatagramBytesMax + 64);
}

describe('decoder fuzzing', () => {
  it(`rejects ${kCases} random and mutated datagrams without throwing; both backends agree (seed ${kSeed})`, () => {
    const ts = new Codec(createRuntime({ backend: 'ts', memoryBytes: 4 << 20 }));
    const wasm = new Codec(createRuntime({ backend: 'wasm', memoryBytes: 4 << 20 }));
    const counters = { ts: new WireCounters(), wasm: new WireCounters() };
    const prng = new Prng(kSeed);
    const bases = goldenSamples.map(([, messages]) => ts.encode(messages));
    const scratch = createRuntime({ backend: 'ts', memoryBytes: 1 << 20 });
    const scratchAt = scratch.allocate(4096);
    const fixChecksum = (b: Uint8Array) => {
      if (b.length < 8) return;
      scratch.views.u8.set(b, scratchAt);
      const sum = scratch.kernels.checksum(scratchAt, b.length - 4);
      new DataView(b.buffer, b.byteOffset).setUint32(b.length - 4, sum, true);
    };
    for (let i = 0; i < kCases; i++) {
      let bytes: Uint8Array;
      if (prng.chance(0.25)) {
        bytes = new Uint8Array(prng.nextInt(F.kDatagramBytesMax + 100));
        for (let j = 0; j < bytes.length; j++) bytes[j] = prng.nextInt(256);
        if (prng.chance(0.5) && bytes.length > 4) bytes.set([F.kMagic0, F.kMagic1, F.kProtocolVersion], 0);
        if (prng.chance(0.5)) fixChecksum(bytes);
      } else {
        bytes = mutate(prng, bases[prng.nextInt(bases.length)]!, fixChecksum);
      }
      const a = ts.tryDecode(bytes);
      const b = wasm.tryDecode(bytes);
      if (a !== b) throw new Error(`backends disagree (ts ${a}, wasm ${b}) on case ${i}; repro: GALAXY_FUZZ_SEED=${kSeed} npx vitest run test/wire-fuzz.test.ts; bytes ${Buffer.from(bytes).toString('hex')}`);
      counters.ts.record(a);
      counters.wasm.record(b);
    }
    expect(counters.ts.accepted + counters.ts.rejected).toBe(kCases);
    expect(counters.wasm.rejectedByCode).toEqual(counters.ts.rejectedByCode);
    // The mix must reach well past the checksum into the structural checks.
    for (const code of ['GALAXY_WIRE_TRUNCATED', 'GALAXY_WIRE_BAD_CHECKSUM', 'GALAXY_WIRE_BAD_LENGTH', 'GALAXY_WIRE_BAD_MAGIC', 'GALAXY_WIRE_UNKNOWN_TYPE', 'GALAXY_WIRE_TOO_LARGE']) {
      expect(counters.ts.rejectedByCode.get(code) ?? 0, code).toBeGreaterThan(0);
    }
    expect(counters.ts.rejected).toBeGreaterThan(kCases * 0.5);
  });
});
