import type { MemoryViews } from '../../core/runtime/memory-views.js';

/**
 * A single-producer, single-consumer ring of variable-length records in shared
 * memory: how work crosses threads in batches. A thread wake-up costs 10-300 µs on
 * these machines and a record in the ring about 0.04 µs, so the producer pushes many
 * records and then wakes the consumer once (`signal`), and the consumer drains all
 * of them per wake-up. Records are read in place (`drain` hands out pointers into the
 * ring), so a datagram goes from the ring straight into a Wasm kernel without a copy.
 *
 * Layout at `base` (i32 words): head (bytes written, wrapping), tail (bytes read),
 * capacity (bytes of the data area, a power of two), the count of records refused
 * because the ring was full, and a wake-up word for Atomics.wait/notify. The data area
 * follows the header. A record is a u32 length, then the bytes, padded to 4; a length
 * of kWrapMarker tells the reader to continue at the start of the data area.
 */
export class Ring {
  static readonly headerBytes = 32;
  readonly base: number;
  readonly capacity: number;
  private readonly views: MemoryViews;
  private readonly header: Int32Array;
  private readonly data: number;

  /** Lays out a new ring; `capacity` must be a power of two of at least 64 bytes. */
  static create(views: MemoryViews, base: number, capacity: number): Ring {
    if (!Number.isInteger(capacity) || capacity < 64 || (capacity & (capacity - 1)) !== 0) {
      throw new RangeError(`ring capacity must be a power of two of at least 64 bytes, got ${capacity}`);
    }
    if (base % 8 !== 0) throw new RangeError(`ring base must be 8-byte aligned, got ${base}`);
    const header = new Int32Array(views.buffer, base, Ring.headerBytes / 4);
    header.fill(0);
    header[kCapacityField] = capacity;
    return new Ring(views, base);
  }

  /** Bytes a ring of this capacity occupies. */
  static bytesFor(capacity: number): number {
    return Ring.headerBytes + capacity;
  }

  /** Attaches to an existing ring (the other thread does this). */
  constructor(views: MemoryViews, base: number) {
    this.views = views;
    this.base = base;
    this.header = new Int32Array(views.buffer, base, Ring.headerBytes / 4);
    this.capacity = this.header[kCapacityField]!;
    this.data = base + Ring.headerBytes;
  }

  /** Records refused because the ring was full. */
  get refused(): number {
    return Atomics.load(this.header, kRefusedField);
  }

  /** Bytes written and not yet read. */
  get pending(): number {
    return (Atomics.load(this.header, kHeadField) - Atomics.load(this.header, kTailField)) | 0;
  }

  /**
   * Reserves room for a record of `length` bytes and returns the pointer to write its
   * bytes at, or -1 when the ring is full (counted). Call commit() after writing.
   */
  reserve(length: number): number {
    const need = 4 + align4(length);
    if (need + 4 > this.capacity) throw new RangeError(`record of ${length} bytes can never fit a ring of ${this.capacity}`);
    const head = Atomics.load(this.header, kHeadField);
    const tail = Atomics.load(this.header, kTailField);
    const mask = this.capacity - 1;
    const at = head & mask;
    const toEnd = this.capacity - at;
    const skip = toEnd < need ? toEnd : 0;
    if (((head - tail) | 0) + skip + need > this.capacity) {
      Atomics.add(this.header, kRefusedField, 1);
      return -1;
    }
    const dv = this.views.dv;
    if (skip > 0) dv.setUint32(this.data + at, kWrapMarker, true);
    const start = (head + skip) & mask;
    dv.setUint32(this.data + start, length, true);
    this.pendingHead = (head + skip + need) | 0;
    return this.data + start + 4;
  }

  private pendingHead = 0;

  /** Publishes the record reserved last. The consumer sees it after this store. */
  commit(): void {
    Atomics.store(this.header, kHeadField, this.pendingHead);
  }

  /** Copies `bytes` in as one record; returns false when the ring is full. */
  push(bytes: Uint8Array): boolean {
    const at = this.reserve(bytes.length);
    if (at < 0) return false;
    this.views.u8.set(bytes, at);
    this.commit();
    return true;
  }

  /** Wakes a consumer blocked in wait(). Call once per batch, not per record. */
  signal(): void {
    Atomics.add(this.header, kSignalField, 1);
    Atomics.notify(this.header, kSignalField);
  }

  /** Current value of the wake-up word, to pass to wait() or waitAsync(). */
  get signalValue(): number {
    return Atomics.load(this.header, kSignalField);
  }

  /** Blocks (worker threads only) until signalled past `seen`, or the timeout. */
  wait(seen: number, timeoutMs: number): void {
    Atomics.wait(this.header, kSignalField, seen, timeoutMs);
  }

  /** Resolves when signalled past `seen` (usable on the main thread). */
  async waitAsync(seen: number, timeoutMs: number): Promise<void> {
    const result = Atomics.waitAsync(this.header, kSignalField, seen, timeoutMs);
    if (result.async) await result.value;
  }

  /**
   * Hands every available record to `visit(pointer, length)` in order, then frees
   * them all at once; returns the number of records read.
   */
  drain(visit: (pointer: number, length: number) => void): number {
    const head = Atomics.load(this.header, kHeadField);
    let tail = Atomics.load(this.header, kTailField);
    const mask = this.capacity - 1;
    const dv = this.views.dv;
    let count = 0;
    while (tail !== head) {
      const at = tail & mask;
      const length = dv.getUint32(this.data + at, true);
      if (length === kWrapMarker) {
        tail = (tail + (this.capacity - at)) | 0;
        continue;
      }
      visit(this.data + at + 4, length);
      tail = (tail + 4 + align4(length)) | 0;
      count++;
    }
    Atomics.store(this.header, kTailField, tail);
    return count;
  }
}

const kHeadField = 0;
const kTailField = 1;
const kCapacityField = 2;
const kRefusedField = 3;
const kSignalField = 4;
const kWrapMarker = 0xffffffff;

function align4(n: number): number {
  return (n + 3) & ~3;
}
