import type { Runtime } from '../runtime/runtime.js';
import * as F from './format.js';
import type { Message } from './message.js';
import { Tape, type TapeCapacity, kDatagramTapeCapacity } from './tape.js';
import { WireError } from './wire-error.js';

/**
 * The object-level codec: Message objects in, datagram bytes out, and back. It runs
 * the runtime's kernels (Wasm or TS) over a tape and a packet buffer of its own, so
 * it is what tests, tools and cold paths use; hot paths call the kernels directly.
 */
export class Codec {
  readonly tape: Tape;
  readonly limit: number;
  private readonly runtime: Runtime;
  private readonly packet: number;

  constructor(runtime: Runtime, limit: number = F.kDatagramBytesMax, capacity: TapeCapacity = kDatagramTapeCapacity) {
    if (!Number.isInteger(limit) || limit < 8 || limit > F.kFrameBytesMax) {
      throw new RangeError(`codec limit must be an integer from 8 to ${F.kFrameBytesMax}, got ${limit}`);
    }
    this.runtime = runtime;
    this.limit = limit;
    this.tape = new Tape(runtime, capacity);
    this.packet = runtime.allocate(limit, 8);
  }

  get backend(): string {
    return this.runtime.kernels.backend;
  }

  /** Encodes messages into one datagram (a compound when several); throws WireError. */
  encode(messages: readonly Message[]): Uint8Array {
    this.tape.write(messages);
    const length = this.runtime.kernels.encode(this.tape.pointer, this.packet, this.limit);
    if (length < 0) throw new WireError(-length, 'encode');
    return this.runtime.views.u8.slice(this.packet, this.packet + length);
  }

  /** Decodes one datagram; returns the message count or a negated error code, never throws. */
  tryDecode(bytes: Uint8Array): number {
    if (bytes.length > this.limit) return -F.kErrTooLarge;
    this.runtime.views.u8.set(bytes, this.packet);
    return this.runtime.kernels.decode(this.packet, bytes.length, this.limit, this.tape.pointer);
  }

  /** Decodes one datagram into messages; throws WireError on bad input. */
  decode(bytes: Uint8Array): Message[] {
    const count = this.tryDecode(bytes);
    if (count < 0) throw new WireError(-count, 'decode');
    return this.tape.read();
  }

  /** The tape's bytes after a decode, for tests comparing backends exactly. */
  tapeBytes(): Uint8Array {
    const t = this.tape;
    const end = t.payloadArea + t.capacity.payloadBytes;
    return this.runtime.views.u8.slice(t.pointer, end);
  }
}
