import type { MemoryViews } from '../runtime/memory-views.js';

/**
 * The datagram checksum: a Fletcher-style pair of 32-bit sums over little-endian
 * 32-bit words (a final partial word is zero-padded), folded into one u32.
 *
 * Why not CRC-32: a byte-at-a-time CRC costs about 1 ns a byte, which alone would be
 * several times the cost of encoding a whole 30-entry digest. This checksum takes two
 * additions per four bytes and still catches truncation, reordered words and the bit
 * flips a broken network card makes. It does not protect against an attacker: farm
 * traffic is authenticated by AES-GCM one layer down.
 *
 * The AssemblyScript twin is asm/checksum.ts; both must give the same value.
 */
export function checksum(views: MemoryViews, pointer: number, length: number): number {
  const dv = views.dv;
  let a = length >>> 0;
  let b = 0;
  const whole = pointer + (length & ~3);
  let p = pointer;
  for (; p < whole; p += 4) {
    a = (a + dv.getUint32(p, true)) >>> 0;
    b = (b + a) >>> 0;
  }
  const rest = length & 3;
  if (rest !== 0) {
    let word = 0;
    for (let i = 0; i < rest; i++) word |= views.u8[p + i]! << (8 * i);
    a = (a + (word >>> 0)) >>> 0;
    b = (b + a) >>> 0;
  }
  return (a ^ Math.imul(b, kChecksumMultiplier)) >>> 0;
}

/**
 * The datagram trailer: the checksum, or 0 where AES-GCM authenticates every datagram
 * (the kernels' setDatagramChecksums(false), fixed when the node sets up its keyring).
 * Under GCM the checksum adds nothing: a corrupted or truncated datagram fails the
 * authentication tag before it is decoded. Receivers then neither compute nor check it.
 */
export function datagramChecksum(views: MemoryViews, pointer: number, length: number): number {
  return views.datagramChecksums ? checksum(views, pointer, length) : 0;
}

/** The golden-ratio multiplier spreads the second sum over all bits before folding. */
const kChecksumMultiplier = -1640531535; // 0x9E3779B1 as a signed 32-bit integer
