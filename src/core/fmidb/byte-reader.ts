import { kVarintBytesMax } from './layout.js';
import { kVarintLimit } from './varint.js';

const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * Reads a message from untrusted bytes. Nothing throws: a read past the end or a bad
 * varint clears `ok` and returns 0 (or ''), and the caller checks `ok` before it uses
 * what it read. Why a flag instead of exceptions: a malformed message from a peer is an
 * operating condition to count, not a bug, and V8 keeps this path fast.
 */
export class ByteReader {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  pos: number;
  end: number;
  ok = true;

  constructor(bytes: Uint8Array, from: number, end: number = bytes.length) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = from;
    this.end = end;
  }

  private need(n: number): boolean {
    if (this.ok && this.pos + n <= this.end) return true;
    this.ok = false;
    return false;
  }

  u8(): number {
    if (!this.need(1)) return 0;
    return this.bytes[this.pos++]!;
  }

  u16(): number {
    if (!this.need(2)) return 0;
    const v = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }

  u32(): number {
    if (!this.need(4)) return 0;
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  f64(): number {
    if (!this.need(8)) return 0;
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }

  varint(): number {
    let value = 0;
    let scale = 1;
    for (let n = 0; n < kVarintBytesMax; n++) {
      if (!this.need(1)) return 0;
      const b = this.bytes[this.pos++]!;
      value += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) {
        if (value >= kVarintLimit) break;
        return value;
      }
      scale *= 128;
    }
    this.ok = false;
    return 0;
  }

  skip(n: number): void {
    if (this.need(n)) this.pos += n;
  }

  /** n bytes of UTF-8 as a string; invalid UTF-8 clears ok. */
  utf8(n: number): string {
    if (!this.need(n)) return '';
    try {
      const text = decoder.decode(this.bytes.subarray(this.pos, this.pos + n));
      this.pos += n;
      return text;
    } catch {
      this.ok = false;
      return '';
    }
  }
}
