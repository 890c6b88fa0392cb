/**
 * Stream framing for push-pull over TCP: every frame is a u32 little-endian length and
 * then that many bytes (format.ts: the same bytes as a datagram, up to kFrameBytesMax).
 * The decoder is pure (no sockets, no timers) so it is tested byte by byte.
 */
export const kFrameHeaderBytes = 4;

export class FrameDecoder {
  readonly frameBytesMax: number;
  private readonly header = new Uint8Array(kFrameHeaderBytes);
  private headerFilled = 0;
  /** Length of the frame being read; -1 while its header is incomplete. */
  private bodyBytes = -1;
  private bodyFilled = 0;
  // Chunks are kept as they came and joined once the frame is whole, so memory follows
  // the bytes a peer actually sent, not the length it claims (a lying 16 MiB prefix
  // costs nothing until the bytes arrive).
  private chunks: Uint8Array[] = [];

  constructor(frameBytesMax: number) {
    if (!Number.isInteger(frameBytesMax) || frameBytesMax < 0 || frameBytesMax > 0xffffffff) throw new RangeError(`frameBytesMax must be an integer from 0 to ${0xffffffff}, got ${frameBytesMax}`);
    this.frameBytesMax = frameBytesMax;
  }

  /**
   * Feeds bytes read from the stream; calls onFrame once per complete frame, in order.
   * A frame passed to onFrame is only valid during the call. Returns false when a
   * length prefix exceeds frameBytesMax: the stream cannot be resynchronised, so the
   * caller must close it (the decoder stays failed).
   */
  push(chunk: Uint8Array, onFrame: (frame: Uint8Array) => void): boolean {
    let at = 0;
    while (at < chunk.length) {
      if (this.bodyBytes < 0) {
        const take = Math.min(kFrameHeaderBytes - this.headerFilled, chunk.length - at);
        this.header.set(chunk.subarray(at, at + take), this.headerFilled);
        this.headerFilled += take;
        at += take;
        if (this.headerFilled < kFrameHeaderBytes) return true;
        const length = (this.header[0]! | (this.header[1]! << 8) | (this.header[2]! << 16) | (this.header[3]! << 24)) >>> 0;
        if (length > this.frameBytesMax) return false;
        this.bodyBytes = length;
        this.bodyFilled = 0;
      }
      const take = Math.min(this.bodyBytes - this.bodyFilled, chunk.length - at);
      if (take > 0) this.chunks.push(chunk.subarray(at, at + take));
      this.bodyFilled += take;
      at += take;
      if (this.bodyFilled === this.bodyBytes) this.deliver(onFrame);
    }
    return true;
  }

  /** Whether part of a frame has been read: closing now would truncate it. */
  get midFrame(): boolean {
    return this.headerFilled > 0;
  }

  /** Bytes held for the frame being read. */
  get bufferedBytes(): number {
    return this.bodyBytes < 0 ? this.headerFilled : kFrameHeaderBytes + this.bodyFilled;
  }

  private deliver(onFrame: (frame: Uint8Array) => void): void {
    const chunks = this.chunks;
    const frame = chunks.length === 1 ? chunks[0]! : joinChunks(chunks, this.bodyBytes);
    this.chunks = [];
    this.headerFilled = 0;
    this.bodyBytes = -1;
    this.bodyFilled = 0;
    onFrame(frame);
  }
}

/** A frame ready to write: the length prefix and a copy of `bytes` in one buffer. */
export function encodeFrame(bytes: Uint8Array): Uint8Array {
  const frame = new Uint8Array(kFrameHeaderBytes + bytes.length);
  new DataView(frame.buffer).setUint32(0, bytes.length, true);
  frame.set(bytes, kFrameHeaderBytes);
  return frame;
}

function joinChunks(chunks: readonly Uint8Array[], length: number): Uint8Array {
  const out = new Uint8Array(length);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}
