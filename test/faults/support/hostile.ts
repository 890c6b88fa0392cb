// Hostile input for the fault suite, from one seed: random datagrams, mutations of
// datagrams captured from a live agent (sealed ones, which must fail authentication,
// and opened ones mutated and sealed again with the farm key, as an insider could, which
// must fail the wire decoder), junk on the admission channel, and stream frames that lie
// about their length or stop half-way. Each generator says which counter it must raise,
// so the suite can hold the agent to it.
import { createRuntime } from '../../../src/core/kernels/create-runtime.js';
import { Keyring } from '../../../src/node/security/keyring.js';
import { Prng } from '../../../src/core/util/prng.js';
import { Codec } from '../../../src/core/wire/codec.js';
import * as F from '../../../src/core/wire/format.js';
import { parseNodeId } from '../../../src/core/wire/message.js';
import { isEnvelope } from '../../../src/core/messenger/envelope.js';
import { kAdmissionMagic } from '../../../src/farm/admission/admission-wire.js';
import { goldenSamples } from '../../support/messages.js';

/** Attempts at most to find a mutation the decoder refuses, per datagram asked for. */
const kMutationAttemptsMax = 64;

export class HostileInput {
  readonly seed: number;
  private readonly prng: Prng;
  private readonly codec: Codec;
  private readonly keyring: Keyring;

  /**
   * `keys`: the farm keyring, as an insider holds it (the suite reads it from a node's
   * credentials). The farm is sealed, so its datagrams carry no checksum (a 0 trailer,
   * as the agent's runtime: NodeDriver, issue 14): the codec here is set the same way.
   */
  constructor(seed: number, keys: readonly string[]) {
    const runtime = createRuntime({ backend: 'ts', memoryBytes: 4 << 20 });
    runtime.setDatagramChecksums(false);
    this.codec = new Codec(runtime);
    this.seed = seed;
    this.prng = new Prng(seed);
    this.keyring = new Keyring(keys);
  }

  bytes(length: number): Buffer {
    const out = Buffer.alloc(length);
    for (let i = 0; i < length; i++) out[i] = this.prng.nextInt(256);
    return out;
  }

  /** 1 to 1,400 random bytes that do not start with the admission magic: no farm key opens them. */
  randomDatagram(): Buffer {
    const out = this.bytes(1 + this.prng.nextInt(F.kDatagramBytesMax));
    if (out.subarray(0, 4).equals(kAdmissionMagic)) out[0] = 0;
    return out;
  }

  /** A datagram over the transport's 1,400-byte bound (2,000 to 8,000 bytes: IP fragments it). */
  oversizedDatagram(): Buffer {
    return this.bytes(2000 + this.prng.nextInt(6001));
  }

  /** A sealed ping for the node `targetId` (its ack comes back to the sender's socket). */
  sealedPing(targetId: string, seq: number): Buffer {
    const ping = this.codec.encode([{ type: F.kTypePing, seq, target: parseNodeId(targetId), source: { high: 0x66617574, low: seq >>> 0 }, sourceAddress: { family: 0, bytes: new Uint8Array(16), port: 0 } }]);
    return this.keyring.seal(ping);
  }

  open(sealed: Uint8Array): Buffer | null {
    return this.keyring.open(sealed);
  }

  /** A captured sealed datagram with some bytes changed: AES-GCM refuses every one. */
  mutatedSealed(captured: Uint8Array): Buffer {
    for (;;) {
      const out = Buffer.from(this.mutate(captured));
      if (out.length > 0 && !out.equals(Buffer.from(captured)) && !out.subarray(0, 4).equals(kAdmissionMagic)) return out;
    }
  }

  /**
   * A plaintext taken from `bases` (captured and golden datagrams), mutated until the wire
   * decoder refuses it and it is not a messenger envelope, then sealed
   * with the farm key: it passes authentication and must be refused by the decoder.
   */
  resealedInvalid(bases: readonly Uint8Array[]): Buffer {
    for (let attempt = 0; attempt < kMutationAttemptsMax; attempt++) {
      const plaintext = this.mutate(bases[this.prng.nextInt(bases.length)]!, true);
      if (plaintext.length === 0 || isEnvelope(plaintext)) continue;
      if (this.codec.tryDecode(plaintext) < 0) return this.keyring.seal(plaintext);
    }
    throw new Error(`no invalid mutation in ${kMutationAttemptsMax} attempts (seed ${this.seed})`);
  }

  /** The golden sample datagrams, encoded: bases for mutation beside the captured ones. */
  goldenDatagrams(): Uint8Array[] {
    return goldenSamples.map(([, messages]) => this.codec.encode(messages));
  }

  /** An admission datagram (magic "GXA1") whose body is not a valid admission message. */
  admissionJunk(): Buffer {
    const bodies = [
      () => this.bytes(1 + this.prng.nextInt(600)),
      () => Buffer.from('{"t":"request","request":{"body":'),
      () => Buffer.from(JSON.stringify({ t: 'grant', cert: 7 })),
      () => Buffer.from(JSON.stringify({ t: 'request', request: { body: 'x'.repeat(1100), sig: '' } })),
      () => Buffer.from(`${'['.repeat(1000)}${']'.repeat(300)}`),
      () => Buffer.from(JSON.stringify({ t: 'pending', id: 'not-an-id', extra: true })),
    ];
    return Buffer.concat([kAdmissionMagic, bodies[this.prng.nextInt(bodies.length)]!()]).subarray(0, 1400);
  }

  /** A frame header announcing `length` bytes (u32 little-endian). */
  static frameHeader(length: number): Buffer {
    const header = Buffer.alloc(4);
    header.writeUInt32LE(length >>> 0, 0);
    return header;
  }

  /** A whole frame of random bytes: it fails authentication. */
  randomFrame(): Buffer {
    const body = this.bytes(1 + this.prng.nextInt(4000));
    return Buffer.concat([HostileInput.frameHeader(body.length), body]);
  }

  /** Random edits as in test/wire-fuzz.test.ts; with fixChecksum, half get a valid (sealed farm: 0) trailer again. */
  private mutate(base: Uint8Array, fixChecksum = false): Uint8Array {
    const prng = this.prng;
    let bytes = Uint8Array.from(base);
    const edits = 1 + prng.nextInt(4);
    for (let e = 0; e < edits; e++) {
      switch (prng.nextInt(5)) {
        case 0:
          if (bytes.length > 0) bytes[prng.nextInt(bytes.length)]! ^= 1 << prng.nextInt(8);
          break;
        case 1:
          if (bytes.length > 0) bytes[prng.nextInt(bytes.length)] = [0, 1, 0x7f, 0x80, 0xff, 4, 6, 13][prng.nextInt(8)]!;
          break;
        case 2:
          bytes = bytes.slice(0, prng.nextInt(bytes.length + 1));
          break;
        case 3: {
          const grown = new Uint8Array(bytes.length + 1 + prng.nextInt(40));
          grown.set(bytes);
          for (let i = bytes.length; i < grown.length; i++) grown[i] = prng.nextInt(256);
          bytes = grown;
          break;
        }
        default:
          if (bytes.length > 8) {
            const at = prng.nextInt(bytes.length - 4);
            bytes.copyWithin(prng.nextInt(bytes.length - 4), at, at + 4);
          }
      }
    }
    if (fixChecksum && prng.chance(0.5) && bytes.length >= 8) new DataView(bytes.buffer, bytes.byteOffset).setUint32(bytes.length - 4, 0, true);
    return bytes.slice(0, F.kDatagramBytesMax);
  }
}
