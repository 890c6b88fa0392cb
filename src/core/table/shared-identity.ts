import type { MemoryViews } from '../runtime/memory-views.js';
import * as F from '../wire/format.js';
import * as L from './layout.js';
import { kIdentityColumns } from './table-layout.js';
import { hashId } from './hash-id.js';

/**
 * Identity sharing: many tables in one memory that list the same members in the same
 * rows (a simulated farm, where every node starts from the same prepopulated table) keep
 * one copy of the identity columns (idHigh, idLow, port, family, address) and of the id
 * index, in a shared table, instead of one each: 33 of a row's 65 bytes.
 *
 * A sharing table's header offsets for those columns lead, modulo 2^32, into the shared
 * table; its own columns stay untouched (fresh pages are never committed). Invariant:
 * each of its rows below its row count holds the identity of the shared table's row.
 * The kernels keep it: a lookup ignores shared rows at or past the table's row count;
 * an insert takes the shared row at its row count when that row holds the same id, or
 * claims the shared table's next row when the table is as long as the shared one; an
 * address is written into the shared row only by the table that just claimed it. Any
 * other write (a removal, another id, another address) first copies the identity into
 * the table's own columns (unshareIdentity) and then proceeds as in any table. Reads
 * never differ from a table that never shared; asm/table.ts does the same steps.
 */

/** Whether the table at `table` reads its identity from a shared table. */
export function identityShared(u32: Uint32Array, table: number): boolean {
  const t = table >>> 2;
  return u32[t + L.kHeaderIdHighOffsetField] !== u32[t + L.kHeaderOwnIdHighOffsetField];
}

/** The base of the shared table a sharing table reads from (same layout, so same offsets). */
export function sharedTableOf(u32: Uint32Array, table: number): number {
  const t = table >>> 2;
  return (table + u32[t + L.kHeaderIdHighOffsetField]! - u32[t + L.kHeaderOwnIdHighOffsetField]!) >>> 0;
}

/**
 * Points the table at `table` to the identity of the table at `shared`. The caller
 * guarantees the invariant: the table's rows below its row count hold the shared rows'
 * identities (both were filled from one template); no row was released.
 */
export function shareIdentity(views: MemoryViews, table: number, shared: number): void {
  const u32 = views.u32;
  const t = table >>> 2;
  const s = shared >>> 2;
  if (u32[s + L.kHeaderMagicField] !== L.kTableMagic || u32[t + L.kHeaderMagicField] !== L.kTableMagic) throw new Error('shareIdentity: no membership table');
  if (u32[s + L.kHeaderCapacityField] !== u32[t + L.kHeaderCapacityField] || u32[s + L.kHeaderTotalBytesField] !== u32[t + L.kHeaderTotalBytesField]) {
    throw new Error('shareIdentity: tables of different layouts');
  }
  if (u32[t + L.kHeaderFreeHeadField] !== 0 || u32[t + L.kHeaderRowCountField]! > u32[s + L.kHeaderRowCountField]!) {
    throw new Error('shareIdentity: the table has rows the shared table lacks');
  }
  if (identityShared(u32, table)) throw new Error('shareIdentity: the table already shares');
  for (const [index] of kIdentityColumns) u32[t + index] = (shared + u32[s + index]! - table) >>> 0;
  u32[t + L.kHeaderHashSlotsOffsetField] = (shared + u32[s + L.kHeaderHashSlotsOffsetField]! - table) >>> 0;
}

/**
 * Copies a sharing table's identity into its own columns and rebuilds its own id index
 * from its rows; afterwards it is a table like any other. No-op when not sharing.
 */
export function unshareIdentity(views: MemoryViews, table: number): void {
  const u32 = views.u32;
  const u8 = views.u8;
  const t = table >>> 2;
  if (!identityShared(u32, table)) return;
  const rows = u32[t + L.kHeaderRowCountField]!;
  for (const [index, own, bytes] of kIdentityColumns) {
    const from = (table + u32[t + index]!) >>> 0;
    const to = (table + u32[t + own]!) >>> 0;
    u8.copyWithin(to, from, from + rows * bytes);
    u32[t + index] = u32[t + own]!;
  }
  const ownSlots = u32[t + L.kHeaderOwnHashSlotsOffsetField]!;
  u32[t + L.kHeaderHashSlotsOffsetField] = ownSlots;
  const mask = u32[t + L.kHeaderHashSlotCountField]! - 1;
  const slots = (table + ownSlots) >>> 2;
  views.i32.fill(0, slots, slots + mask + 1);
  const highs = (table + u32[t + L.kHeaderIdHighOffsetField]!) >>> 2;
  const lows = (table + u32[t + L.kHeaderIdLowOffsetField]!) >>> 2;
  // A sharing table never released a row (a removal copies first), so every row below
  // its row count is in use, the one being inserted right now included.
  for (let row = 0; row < rows; row++) {
    let slot = hashId(u32[highs + row]!, u32[lows + row]!) & mask;
    while (views.i32[slots + slot] !== 0) slot = (slot + 1) & mask;
    views.i32[slots + slot] = row + 1;
  }
}

/** Bytes per piece of a template checked for zeros: a page, the unit the OS commits. */
const kPieceBytes = 4096;

/** A template's pieces holding a byte other than zero, as [start, end) pairs, made once per template. */
const nonZeroPieces = new WeakMap<Uint8Array, number[]>();

/**
 * Writes a sharing table at `table` from `template` (the bytes of a whole table, as
 * MembershipTable.bytes() gives them, whose identity the shared table at `shared` holds
 * in the same rows): the header and every column but the identity columns and the id
 * index, then shares. The memory at `table` must be zero: only the template's pieces
 * that hold something are written, so columns still zero (deadlines, flags) and the
 * identity columns leave their pages uncommitted until a kernel writes there.
 */
export function writeSharingTable(views: MemoryViews, table: number, template: Uint8Array, shared: number): void {
  if (template.byteLength < L.kTableHeaderBytes) throw new Error('writeSharingTable: template too short');
  let pieces = nonZeroPieces.get(template);
  if (pieces === undefined) {
    pieces = piecesOf(template);
    nonZeroPieces.set(template, pieces);
  }
  for (let i = 0; i < pieces.length; i += 2) views.u8.set(template.subarray(pieces[i]!, pieces[i + 1]!), table + pieces[i]!);
  shareIdentity(views, table, shared);
}

/** The header, then the pieces of every column but the identity ones that are not all zero. */
function piecesOf(template: Uint8Array): number[] {
  const header = new Uint32Array(template.buffer, template.byteOffset, L.kHeaderFieldCount);
  const skipped = new Set<number>([L.kHeaderHashSlotsOffsetField]);
  for (const [index] of kIdentityColumns) skipped.add(index);
  const offsets: Array<[number, number]> = [];
  for (let f = L.kHeaderIdHighOffsetField; f <= L.kHeaderHashSlotsOffsetField; f++) offsets.push([f, header[f]!]);
  offsets.sort((a, b) => a[1] - b[1]);
  const pieces = [0, L.kTableHeaderBytes];
  // Columns run from their offset to the next column's (or the table's end).
  for (let i = 0; i < offsets.length; i++) {
    const [f, start] = offsets[i]!;
    if (skipped.has(f)) continue;
    const end = i + 1 < offsets.length ? offsets[i + 1]![1] : header[L.kHeaderTotalBytesField]!;
    for (let at = start; at < end; at += kPieceBytes) {
      const stop = Math.min(end, at + kPieceBytes);
      let zero = true;
      for (let b = at; b < stop && zero; b++) zero = template[b] === 0;
      if (!zero) pieces.push(at, stop);
    }
  }
  return pieces;
}
