/**
 * The last `capacity` bytes of a stream, in a ring that never grows: what a process
 * wrote beyond it is dropped from the front and counted, so `galaxy job show` always has
 * the end of the output (where the error usually is) and says how much came before.
 * One ring per process and stream; its memory is reserved up front by the coordinator's
 * output budget, so it is allocated lazily but never exceeds `capacity`.
 */
export class OutputTail {
  readonly capacity: number;
  private ring: Uint8Array | null = null;
  /** Where the next byte goes in the ring. */
  private end = 0;
  /** Bytes written in all: kept plus dropped. */
  private written = 0;

  constructor(capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity <= 0) throw new RangeError(`an output tail's capacity must be a positive integer, got ${capacity}`);
    this.capacity = capacity;
  }

  /** Bytes seen in all. */
  get totalBytes(): number {
    return this.written;
  }

  /** Bytes kept (at most capacity). */
  get keptBytes(): number {
    return Math.min(this.written, this.capacity);
  }

  /** Bytes dropped from the front to stay within capacity. */
  get droppedBytes(): number {
    return this.written - this.keptBytes;
  }

  append(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.written += bytes.length;
    // Only the last `capacity` bytes of a large write can survive it.
    const source = bytes.length > this.capacity ? bytes.subarray(bytes.length - this.capacity) : bytes;
    const ring = (this.ring ??= new Uint8Array(this.capacity));
    const first = Math.min(source.length, this.capacity - this.end);
    ring.set(source.subarray(0, first), this.end);
    ring.set(source.subarray(first), 0);
    this.end = (this.end + source.length) % this.capacity;
  }

  /** The kept bytes, oldest first (a copy). */
  bytes(): Uint8Array {
    const kept = this.keptBytes;
    const out = new Uint8Array(kept);
    if (this.ring === null || kept === 0) return out;
    if (this.written <= this.capacity) {
      out.set(this.ring.subarray(0, kept));
      return out;
    }
    // Full ring: the oldest byte is where the next one would go.
    out.set(this.ring.subarray(this.end));
    out.set(this.ring.subarray(0, this.end), this.capacity - this.end);
    return out;
  }

  /**
   * The kept bytes as text. Invalid UTF-8 becomes U+FFFD; so does a character whose
   * first bytes were dropped from the front, which is why a cut tail says it was cut.
   */
  text(): string {
    return new TextDecoder('utf-8', { fatal: false }).decode(this.bytes());
  }
}
