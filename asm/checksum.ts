// The datagram checksum, AssemblyScript twin of src/wire/checksum.ts.
//
// Results must match the TypeScript version bit for bit: a Fletcher-style pair of
// 32-bit sums over little-endian 32-bit words (a final partial word zero-padded),
// folded into one u32 as a ^ imul(b, 0x9E3779B1).
//
// The bulk of the buffer is summed 16 bytes at a time with SIMD. All the arithmetic is
// modulo 2^32, so the block form below is exactly the word-by-word sum: for K blocks of
// four words w[k][j], with V[j] = sum_k w[k][j] and P[j] = sum_k (K - k) w[k][j]
// (the running sum of V after each block), and N = 4K words,
//   a' = a + sum_j V[j]
//   b' = b + N*a + 4*sum_j P[j] - (V[1] + 2*V[2] + 3*V[3]).

/** 0x9E3779B1, the golden-ratio multiplier of the TypeScript version (-1640531535 as i32). */
const kChecksumMultiplier: u32 = 0x9e3779b1;

/** The checksum of `length` bytes at `pointer` (internal entry point). */
export function checksumOf(pointer: usize, length: u32): u32 {
  let a: u32 = length;
  let b: u32 = 0;
  let p: usize = pointer;
  const blocks: usize = pointer + <usize>(length & ~15);
  if (p < blocks) {
    let v = i32x4.splat(0);
    let s = i32x4.splat(0);
    do {
      v = i32x4.add(v, v128.load(p));
      s = i32x4.add(s, v);
      p += 16;
    } while (p < blocks);
    const n = <u32>(p - pointer) >>> 2;
    const v0 = <u32>i32x4.extract_lane(v, 0);
    const v1 = <u32>i32x4.extract_lane(v, 1);
    const v2 = <u32>i32x4.extract_lane(v, 2);
    const v3 = <u32>i32x4.extract_lane(v, 3);
    const sp =
      <u32>i32x4.extract_lane(s, 0) +
      <u32>i32x4.extract_lane(s, 1) +
      <u32>i32x4.extract_lane(s, 2) +
      <u32>i32x4.extract_lane(s, 3);
    b = b + n * a + (sp << 2) - (v1 + (v2 << 1) + v3 * 3);
    a = a + v0 + v1 + v2 + v3;
  }
  const whole: usize = pointer + <usize>(length & ~3);
  for (; p < whole; p += 4) {
    a += load<u32>(p);
    b += a;
  }
  const rest = length & 3;
  if (rest != 0) {
    let word: u32;
    if (rest == 1) word = <u32>load<u8>(p);
    else if (rest == 2) word = <u32>load<u16>(p);
    else word = <u32>load<u16>(p) | (<u32>load<u8>(p, 2) << 16);
    a += word;
    b += a;
  }
  return a ^ (b * kChecksumMultiplier);
}

/**
 * Whether datagrams carry the checksum: true unless setDatagramChecksums(0) (under
 * AES-GCM, which authenticates every datagram). A global of this instance: each thread's
 * instance, like the TypeScript kernels' views, keeps its own.
 */
let datagramChecksums: bool = true;

/** Exported: datagram checksums on (1) or off (0): then the trailer is written and expected as 0. */
export function setDatagramChecksums(on: u32): void {
  datagramChecksums = on != 0;
}

/** The datagram trailer (internal entry point): the checksum, or 0 with datagram checksums off. */
export function datagramChecksumOf(pointer: usize, length: u32): u32 {
  return datagramChecksums ? checksumOf(pointer, length) : 0;
}

/** Exported: the datagram trailer of `length` bytes at `pointer`. */
export function datagramChecksum(pointer: u32, length: u32): u32 {
  return datagramChecksumOf(pointer, length);
}

/** Exported: the checksum of `length` bytes at `pointer`. */
export function checksum(pointer: u32, length: u32): u32 {
  return checksumOf(pointer, length);
}
