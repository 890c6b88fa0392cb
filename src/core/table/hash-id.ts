/** The open-addressing hash of a 64-bit id; both backends use these exact steps (asm/table.ts hashId). */
export function hashId(high: number, low: number): number {
  let h = Math.imul(low ^ Math.imul(high, 668265261), 374761393);
  h ^= h >>> 15;
  h = Math.imul(h, 668265261);
  return (h ^ (h >>> 13)) >>> 0;
}
