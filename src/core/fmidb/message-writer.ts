import type { Runtime } from '../runtime/runtime.js';
import { kChecksumOffset, kMessageHeaderBytes, kWireMagic, kWireVersion } from './wire-format.js';
import { varintBytes, writeVarint } from './varint.js';

/** Bytes of the slab finished messages are copied into before a fresh allocation is needed. */
const kOutputSlabBytes = 4 * 1024 * 1024;

/**
 * Builds one message at a time in a scratch region of shared memory, so that the
 * checksum kernel reads it where it was written; finish() seals it and copies it out.
 * Callers check `room` before each write (every size is computable in advance); writing
 * past the limit is a bug and throws.
 *
 * Each copy is a fresh array, the caller's to keep. With reuseOutput (the simulator,
 * which copies what it sends anyway) the copies go into one reused slab instead, since
 * allocating a small ArrayBuffer costs about 2 us, more than encoding the message; they
 * are then valid only until release(), which the replica calls at each drainOutbox (see
 * FmidbOutgoing).
 */
export class MessageWriter {
  private readonly runtime: Runtime;
  readonly base: number;
  readonly capacity: number;
  private pos = 0;
  private limit = 0;
  private readonly slab: Uint8Array;
  private slabUsed = 0;

  constructor(runtime: Runtime, base: number, capacity: number, reuseOutput = false) {
    this.runtime = runtime;
    this.base = base;
    this.capacity = capacity;
    this.slab = new Uint8Array(reuseOutput ? kOutputSlabBytes : 0);
  }

  /** Starts a message of at most `limit` bytes with its header. */
  begin(type: number, flags: number, limit: number): void {
    if (limit > this.capacity || limit < kMessageHeaderBytes) throw new RangeError(`message limit ${limit} is outside [${kMessageHeaderBytes}, ${this.capacity}]`);
    this.limit = limit;
    const u8 = this.runtime.views.u8;
    const b = this.base;
    u8[b] = kWireMagic;
    u8[b + 1] = kWireVersion;
    u8[b + 2] = type;
    u8[b + 3] = flags;
    this.pos = kMessageHeaderBytes;
  }

  /** Bytes written so far, header included. */
  get length(): number {
    return this.pos;
  }

  /** Bytes still free under the limit. */
  get room(): number {
    return this.limit - this.pos;
  }

  /** A position to return to with reset() (to take back a group that did not fit). */
  mark(): number {
    return this.pos;
  }

  reset(mark: number): void {
    this.pos = mark;
  }

  private ensure(n: number): number {
    const at = this.pos;
    if (at + n > this.limit) throw new RangeError(`message overflow: ${n} bytes at ${at} past the limit ${this.limit}`);
    this.pos = at + n;
    return this.base + at;
  }

  u8(v: number): void {
    this.runtime.views.u8[this.ensure(1)] = v;
  }

  u16(v: number): void {
    this.runtime.views.dv.setUint16(this.ensure(2), v, true);
  }

  u32(v: number): void {
    this.runtime.views.dv.setUint32(this.ensure(4), v >>> 0, true);
  }

  f64(v: number): void {
    this.runtime.views.dv.setFloat64(this.ensure(8), v, true);
  }

  varint(v: number): void {
    writeVarint(this.runtime.views.u8, this.ensure(varintBytes(v)), v);
  }

  bytes(b: Uint8Array): void {
    this.runtime.views.u8.set(b, this.ensure(b.length));
  }

  /** Overwrites a u16 already written (a count known only at the end). */
  patchU16(offset: number, v: number): void {
    this.runtime.views.dv.setUint16(this.base + offset, v, true);
  }

  /** Seals the message with its checksum and returns a copy of its bytes, valid until release(). */
  finish(): Uint8Array {
    const length = this.pos;
    const u8 = this.runtime.views.u8;
    const sum = this.runtime.kernels.checksum(this.base + kMessageHeaderBytes, length - kMessageHeaderBytes);
    this.runtime.views.dv.setUint32(this.base + kChecksumOffset, sum >>> 0, true);
    const message = u8.subarray(this.base, this.base + length);
    if (this.slabUsed + length > this.slab.length) return message.slice();
    const copy = this.slab.subarray(this.slabUsed, this.slabUsed + length);
    copy.set(message);
    this.slabUsed += length;
    return copy;
  }

  /** Every copy finish() returned since the last release may now be overwritten. */
  release(): void {
    this.slabUsed = 0;
  }
}
