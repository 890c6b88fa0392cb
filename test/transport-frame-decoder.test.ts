// Proves the stream framing on its own, without sockets: frames come out whole and in
// order however the bytes are split (one byte at a time, many frames per chunk, empty
// frames), a length prefix over the bound is refused at once, and a half-read frame is
// visible (midFrame) so a closing connection can be counted as truncated. Random splits
// are driven by a seeded generator so a failure replays.
import { describe, expect, it } from 'vitest';
import { encodeFrame, FrameDecoder, kFrameHeaderBytes } from '../src/node/transport/frame-decoder.js';
import { Prng } from '../src/core/util/prng.js';

function frames(prng: Prng, count: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const bytes = new Uint8Array(prng.nextInt(3) === 0 ? 0 : prng.nextInt(3000));
    for (let j = 0; j < bytes.length; j++) bytes[j] = prng.nextInt(256);
    out.push(bytes);
  }
  return out;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

describe('FrameDecoder', () => {
  it('delivers every frame whole and in order for any split of the stream', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const prng = new Prng(seed);
      const sent = frames(prng, 30);
      const stream = concat(sent.map(encodeFrame));
      const decoder = new FrameDecoder(4096);
      const received: Uint8Array[] = [];
      let at = 0;
      while (at < stream.length) {
        const size = seed === 1 ? 1 : 1 + prng.nextInt(5000);
        expect(decoder.push(stream.subarray(at, at + size), (frame) => received.push(frame.slice()))).toBe(true);
        at += size;
      }
      expect(received.length).toBe(sent.length);
      for (let i = 0; i < sent.length; i++) expect(Buffer.compare(received[i]!, sent[i]!)).toBe(0);
      expect(decoder.midFrame).toBe(false);
      expect(decoder.bufferedBytes).toBe(0);
    }
  });

  it('refuses a length prefix over frameBytesMax before reading the body', () => {
    const decoder = new FrameDecoder(100);
    const header = new Uint8Array(kFrameHeaderBytes);
    new DataView(header.buffer).setUint32(0, 101, true);
    const seen: Uint8Array[] = [];
    expect(decoder.push(concat([encodeFrame(new Uint8Array(100)), header]), (f) => seen.push(f))).toBe(false);
    expect(seen.length).toBe(1); // the frame before the bad prefix still counts
  });

  it('reads a prefix of 0xffffffff as too large, not as a negative length', () => {
    const decoder = new FrameDecoder(16 * 1024 * 1024);
    expect(decoder.push(new Uint8Array([0xff, 0xff, 0xff, 0xff]), () => {})).toBe(false);
  });

  it('reports a frame cut short as midFrame, with its buffered bytes', () => {
    const decoder = new FrameDecoder(1000);
    const whole = encodeFrame(new Uint8Array(500));
    decoder.push(whole.subarray(0, 2), () => {});
    expect(decoder.midFrame).toBe(true);
    expect(decoder.bufferedBytes).toBe(2);
    decoder.push(whole.subarray(2, 300), () => {});
    expect(decoder.bufferedBytes).toBe(300);
    let delivered = 0;
    decoder.push(whole.subarray(300), () => delivered++);
    expect(delivered).toBe(1);
    expect(decoder.midFrame).toBe(false);
  });

  it('copies the payload in encodeFrame, so the caller may reuse its buffer', () => {
    const source = new Uint8Array([1, 2, 3]);
    const frame = encodeFrame(source);
    source.fill(9);
    expect([...frame]).toEqual([3, 0, 0, 0, 1, 2, 3]);
  });
});
