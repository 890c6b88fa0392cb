/**
 * The 48-bit fingerprint of an origin's id, the name digests use for it: 6 bytes on the
 * wire instead of the id itself, which travels only in the first delta a peer gets
 * from that origin (see wire-format.ts).
 *
 * Two FNV-1a passes over the id's UTF-8 bytes with different offset bases, each
 * finished with an avalanche step; the low 32 bits come from one, the high 16 from the
 * other. Why 48 bits: digests carry one fingerprint per origin, so every byte counts,
 * and at 10,000 origins the chance that any two collide is about 2 x 10^-7 (the
 * registry refuses the second of a colliding pair and counts it, see origin-registry.ts).
 */
export interface Fingerprint {
  /** The high 16 bits. */
  readonly high: number;
  /** The low 32 bits. */
  readonly low: number;
}

const encoder = new TextEncoder();

export function fingerprintOf(id: string): Fingerprint {
  const bytes = encoder.encode(id);
  let a = 0x811c9dc5;
  let b = 0x9747b28c;
  for (let i = 0; i < bytes.length; i++) {
    a = Math.imul(a ^ bytes[i]!, 16777619);
    b = Math.imul(b ^ bytes[i]!, 16777619);
  }
  return { high: avalanche(b) & 0xffff, low: avalanche(a ^ bytes.length) };
}

/** A fingerprint as one number (high * 2^32 + low), exact below 2^48: a Map key. */
export function fingerprintKey(high: number, low: number): number {
  return (high & 0xffff) * 4294967296 + (low >>> 0);
}

/** murmur3's fmix32: spreads every input bit over the whole word. */
function avalanche(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
