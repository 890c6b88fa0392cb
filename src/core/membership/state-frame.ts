import { MemoryViews } from '../runtime/memory-views.js';
import type { MembershipTable } from '../table/membership-table.js';
import { checksum } from '../wire/checksum.js';
import * as F from '../wire/format.js';
import type { Summary } from './summary.js';

/**
 * Push-pull state frames: the whole membership with each member's metadata, sent over
 * a stream on join and every push-pull interval. This is a cold path (seconds apart),
 * so it is plain TypeScript over an ordinary buffer; the merge of a received frame is
 * the kernel's (mergeDigest accepts PUSH_PULL_STATE). `checksums`: the runtime's datagram
 * checksum mode (Runtime.setDatagramChecksums: a 0 trailer under AES-GCM), which the
 * receiving kernel checks.
 */
export function encodeStateFrame(table: MembershipTable, metaOf: (row: number) => Uint8Array | undefined, flags: number, checksums: boolean, include?: (row: number) => boolean): Uint8Array {
  const rows: number[] = [];
  let size = F.kHeaderBytes + 5 + F.kChecksumBytes;
  const rowCount = table.rowCount;
  for (let row = 0; row < rowCount; row++) {
    if (table.status[row] === F.kStatusEmpty) continue;
    if (include !== undefined && !include(row)) continue;
    rows.push(row);
    const family = table.family[row]!;
    size += 8 + 1 + (family === 4 ? 6 : family === 6 ? 18 : 0) + 9 + 2 + (metaOf(row)?.length ?? 0);
  }
  if (size > F.kFrameBytesMax) throw new RangeError(`state frame of ${size} bytes exceeds the ${F.kFrameBytesMax}-byte frame limit`);
  // The backing buffer is a multiple of 8 so MemoryViews can lay its wider views over it.
  const bytes = new Uint8Array(new ArrayBuffer((size + 7) & ~7), 0, size);
  const dv = new DataView(bytes.buffer);
  bytes.set([F.kMagic0, F.kMagic1, F.kProtocolVersion, F.kTypePushPullState, flags]);
  dv.setUint32(5, rows.length, true);
  let p = 9;
  for (const row of rows) {
    dv.setUint32(p, table.idHigh[row]!, true);
    dv.setUint32(p + 4, table.idLow[row]!, true);
    const family = table.family[row]!;
    const addressBytes = family === 4 ? 4 : family === 6 ? 16 : 0;
    bytes[p + 8] = addressBytes === 0 ? 0 : family;
    p += 9;
    if (addressBytes > 0) {
      bytes.set(table.address.subarray(row * 16, row * 16 + addressBytes), p);
      dv.setUint16(p + addressBytes, table.port[row]!, true);
      p += addressBytes + 2;
    }
    dv.setUint32(p, table.incarnation[row]!, true);
    dv.setUint32(p + 4, table.heartbeat[row]!, true);
    bytes[p + 8] = table.status[row]!;
    p += 9;
    const meta = metaOf(row) ?? kEmpty;
    dv.setUint16(p, meta.length, true);
    bytes.set(meta, p + 2);
    p += 2 + meta.length;
  }
  dv.setUint32(p, checksums ? checksum(new MemoryViews(bytes.buffer), 0, p) : 0, true);
  return bytes;
}

const kEmpty = new Uint8Array(0);

/** A PUSH_PULL_SUMMARY frame (see summary.ts), byte for byte as the codec encodes it. */
export function encodeSummaryFrame(summary: Summary, flags: number, checksums: boolean): Uint8Array {
  const size = F.kHeaderBytes + 7 + 4 * summary.bucketCount + F.kChecksumBytes;
  const bytes = new Uint8Array(new ArrayBuffer((size + 7) & ~7), 0, size);
  const dv = new DataView(bytes.buffer);
  bytes.set([F.kMagic0, F.kMagic1, F.kProtocolVersion, F.kTypePushPullSummary, flags]);
  dv.setUint16(5, summary.bucketCount, true);
  dv.setUint32(7, summary.memberCount, true);
  for (let i = 0; i < summary.bucketCount; i++) dv.setUint32(11 + 4 * i, summary.hashes[i]!, true);
  const end = size - F.kChecksumBytes;
  dv.setUint32(end, checksums ? checksum(new MemoryViews(bytes.buffer), 0, end) : 0, true);
  return bytes;
}

/**
 * Visits every entry of the digest and state parts of a datagram or frame that the
 * kernel has already validated (so this parser trusts lengths). Meta is a subarray of
 * `bytes` (copy it to keep it), or undefined for digest entries.
 */
export function forEachEntry(bytes: Uint8Array, visit: (high: number, low: number, incarnation: number, status: number, meta: Uint8Array | undefined) => void): void {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = bytes.length - F.kChecksumBytes;
  const type = bytes[3]!;
  if (type === F.kTypePushPullDigest || type === F.kTypePushPullState) {
    walk(bytes, dv, F.kHeaderBytes, type === F.kTypePushPullState, visit);
    return;
  }
  if (type !== F.kTypeCompound) return;
  const parts = bytes[4]!;
  let p = 5;
  for (let i = 0; i < parts && p + 2 <= end; i++) {
    const length = dv.getUint16(p, true);
    const partType = bytes[p + 2]!;
    if (partType === F.kTypePushPullDigest || partType === F.kTypePushPullState) walk(bytes, dv, p + 3, partType === F.kTypePushPullState, visit);
    p += 2 + length;
  }
}

function walk(bytes: Uint8Array, dv: DataView, at: number, withMeta: boolean, visit: (high: number, low: number, incarnation: number, status: number, meta: Uint8Array | undefined) => void): void {
  const count = dv.getUint32(at + 1, true);
  let p = at + 5;
  for (let i = 0; i < count; i++) {
    const high = dv.getUint32(p, true);
    const low = dv.getUint32(p + 4, true);
    const family = bytes[p + 8]!;
    p += 9 + (family === 4 ? 6 : family === 6 ? 18 : 0);
    const incarnation = dv.getUint32(p, true);
    const status = bytes[p + 8]!;
    p += 9;
    let meta: Uint8Array | undefined;
    if (withMeta) {
      const length = dv.getUint16(p, true);
      meta = bytes.subarray(p + 2, p + 2 + length);
      p += 2 + length;
    }
    visit(high, low, incarnation, status, meta);
  }
}
