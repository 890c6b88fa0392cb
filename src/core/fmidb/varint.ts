/**
 * Varints of the FMIDB wire (wire-format.ts): base 128, least significant group first,
 * at most kVarintBytesMax bytes, values below 2^53 so that a double holds them exactly.
 * Arithmetic is in doubles, not 32-bit bit operations, since versions exceed 2^32.
 */
export const kVarintLimit = 9007199254740992; // 2^53

/** Bytes the varint of v takes (0 <= v < 2^53). */
export function varintBytes(v: number): number {
  let n = 1;
  while (v >= 128) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

/** Writes the varint of v at u8[at]; returns the position after it. */
export function writeVarint(u8: Uint8Array, at: number, v: number): number {
  while (v >= 128) {
    u8[at++] = (v % 128) | 0x80;
    v = Math.floor(v / 128);
  }
  u8[at++] = v;
  return at;
}

/** Zigzag: n >= 0 to 2n, n < 0 to -2n - 1, so small magnitudes of either sign stay short. */
export function zigzag(n: number): number {
  return n >= 0 ? 2 * n : -2 * n - 1;
}

export function unzigzag(z: number): number {
  return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
}
