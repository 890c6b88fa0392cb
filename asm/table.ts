// The membership-table kernels, AssemblyScript twin of src/table/ts-table-kernels.ts.
//
// Results must match the TypeScript kernels bit for bit: the same checks in the same
// order, the same negated kErr* codes, the same bytes left in the table columns, the
// header (free list, row count, generation) and the i32 output buffers, and the same
// arithmetic in the same order: times are u32 ms compared by wrapping difference
// (TypeScript: `nowMs >>> 0`, `(a - b) >>> 0`, `(a - b) | 0`), the heartbeat EWMA is
// f32 arithmetic (TypeScript: Math.fround after every step, which equals one rounded
// f32 operation), and the sweep's phi test is f64 as in TypeScript.
//
// Pointers are u32 byte offsets into the one (imported, shared) memory. Word-indexed
// accesses align down exactly as the TypeScript typed-array indexing does
// (u32/f32[ptr >>> 2], u16[ptr >>> 1]); the layout keeps them aligned anyway.
//
// No allocation: only loads and stores.

import * as F from "../src/core/wire/format";
import * as L from "../src/core/table/layout";
import { datagramChecksumOf } from "./checksum";
import { checkHeader } from "./codec";

// ---------------------------------------------------------------------------------
// Addressing helpers

/** A u32 field of the table header; th is the table base aligned down to 4. */
@inline function hdr(th: u32, field: i32): u32 {
  return load<u32>(th + (<u32>field << 2));
}

@inline function setHdr(th: u32, field: i32, value: u32): void {
  store<u32>(th + (<u32>field << 2), value);
}

/** Base of a 4-byte column (u32/i32/f32[(table + offset) >>> 2]). */
@inline function col32(table: u32, th: u32, field: i32): u32 {
  return (table + hdr(th, field)) & ~3;
}

/** Base of a 2-byte column (u16[(table + offset) >>> 1]). */
@inline function col16(table: u32, th: u32, field: i32): u32 {
  return (table + hdr(th, field)) & ~1;
}

/** Base of a byte column. */
@inline function col8(table: u32, th: u32, field: i32): u32 {
  return table + hdr(th, field);
}

/** The open-addressing hash of a 64-bit id (Math.imul and >>> semantics). */
@inline export function hashId(high: u32, low: u32): u32 {
  let h: u32 = (low ^ (high * 668265261)) * 374761393;
  h ^= h >>> 15;
  h = h * 668265261;
  return h ^ (h >>> 13);
}

/** kFdWeight = 1 / (1 << kFdWeightShift) = 0.125 and kFdKeep = 1 - kFdWeight, exact in f32. */
const kFdWeight: f32 = <f32>(1.0 / <f64>(1 << L.kFdWeightShift));
const kFdKeep: f32 = <f32>(1.0 - 1.0 / <f64>(1 << L.kFdWeightShift));

/**
 * ECMAScript ToUint32 (`x >>> 0`): NaN and infinities give 0, otherwise truncate toward
 * zero and wrap modulo 2^32.
 *
 * The common case (0 <= x < 2^32) is a plain truncation; everything else takes the
 * exact general formula, in which every step is exact in f64 (scaling by 2^32, floor,
 * and a difference whose exact value is a representable integer below 2^32).
 *
 * The if/else is deliberate, not a select: V8 then merges the result in a Phi before
 * the caller's loop. As a pure expression it would be recomputed inside the sweep loop
 * (TurboFan only hoists pure nodes from blocks that dominate the loop exit), which
 * costs about 20 ns a row.
 */
@inline function toUint32(x: f64): u32 {
  let result: u32;
  if (x >= 0 && x < 4294967296.0) {
    result = <u32>x;
  } else {
    const t = trunc<f64>(x);
    const r = t - floor<f64>(t * (1.0 / 4294967296.0)) * 4294967296.0;
    result = r >= 0 && r < 4294967296.0 ? <u32>r : 0; // NaN (from NaN or +-Infinity) fails both
  }
  return result;
}

// ---------------------------------------------------------------------------------
// Identity sharing (src/core/table/shared-identity.ts, the same steps)

/** Whether the table reads its identity columns and id index from a shared table. */
@inline function identityShared(th: u32): bool {
  return hdr(th, L.kHeaderIdHighOffsetField) != hdr(th, L.kHeaderOwnIdHighOffsetField);
}

/** The shared table's base (it has the same layout, so the same own offsets). */
@inline function sharedTableOf(table: u32, th: u32): u32 {
  return table + hdr(th, L.kHeaderIdHighOffsetField) - hdr(th, L.kHeaderOwnIdHighOffsetField);
}

@inline function unshareColumn(table: u32, th: u32, field: i32, own: i32, bytes: u32, rows: u32): void {
  memory.copy(table + hdr(th, own), table + hdr(th, field), rows * bytes);
  setHdr(th, field, hdr(th, own));
}

/**
 * Copies a shared identity into the table's own columns and rebuilds its own id index
 * from its rows; a no-op for a table that does not share.
 */
export function unshareIdentity(table: u32): void {
  const th = table & ~3;
  if (!identityShared(th)) return;
  const rows = hdr(th, L.kHeaderRowCountField);
  unshareColumn(table, th, L.kHeaderIdHighOffsetField, L.kHeaderOwnIdHighOffsetField, 4, rows);
  unshareColumn(table, th, L.kHeaderIdLowOffsetField, L.kHeaderOwnIdLowOffsetField, 4, rows);
  unshareColumn(table, th, L.kHeaderPortOffsetField, L.kHeaderOwnPortOffsetField, 2, rows);
  unshareColumn(table, th, L.kHeaderFamilyOffsetField, L.kHeaderOwnFamilyOffsetField, 1, rows);
  unshareColumn(table, th, L.kHeaderAddressOffsetField, L.kHeaderOwnAddressOffsetField, L.kAddressBytes, rows);
  setHdr(th, L.kHeaderHashSlotsOffsetField, hdr(th, L.kHeaderOwnHashSlotsOffsetField));
  const mask = hdr(th, L.kHeaderHashSlotCountField) - 1;
  const slots = col32(table, th, L.kHeaderHashSlotsOffsetField);
  memory.fill(slots, 0, (mask + 1) << 2);
  const highs = col32(table, th, L.kHeaderIdHighOffsetField);
  const lows = col32(table, th, L.kHeaderIdLowOffsetField);
  // A sharing table never released a row (a removal copies first), so every row below
  // its row count is in use, the one being inserted right now included.
  for (let row: u32 = 0; row < rows; row++) {
    let slot = hashId(load<u32>(highs + (row << 2)), load<u32>(lows + (row << 2))) & mask;
    while (load<i32>(slots + (slot << 2)) != 0) slot = (slot + 1) & mask;
    store<i32>(slots + (slot << 2), <i32>row + 1);
  }
}

// ---------------------------------------------------------------------------------
// Index

@inline function findRowIn(table: u32, high: u32, low: u32): i32 {
  const th = table & ~3;
  const mask = hdr(th, L.kHeaderHashSlotCountField) - 1;
  const slots = col32(table, th, L.kHeaderHashSlotsOffsetField);
  const highs = col32(table, th, L.kHeaderIdHighOffsetField);
  const lows = col32(table, th, L.kHeaderIdLowOffsetField);
  const row = probeIndex(slots, highs, lows, mask, high, low);
  // A shared index also holds rows other tables claimed past this table's end.
  if (row >= 0 && identityShared(th) && <u32>row >= hdr(th, L.kHeaderRowCountField)) return -1;
  return row;
}

/**
 * The open-addressing probe over an id index (slots of row + 1, 0 empty), shared by the
 * membership table and the FMIDB origin registry: the row of (high, low), or -1.
 */
@inline export function probeIndex(slots: u32, highs: u32, lows: u32, mask: u32, high: u32, low: u32): i32 {
  let slot = hashId(high, low) & mask;
  let entry = load<i32>(slots + (slot << 2));
  while (entry != 0) {
    const row = <u32>(entry - 1);
    if (load<u32>(highs + (row << 2)) == high && load<u32>(lows + (row << 2)) == low) return <i32>row;
    slot = (slot + 1) & mask;
    entry = load<i32>(slots + (slot << 2));
  }
  return -1;
}

/** Finds the row of a node id; returns -1 when it is not in the table. */
export function findRow(table: u32, high: u32, low: u32): i32 {
  return findRowIn(table, high, low);
}

function insertRowIn(table: u32, high: u32, low: u32): i32 {
  const th = table & ~3;
  if (identityShared(th)) {
    const shared = sharedTableOf(table, th);
    const sh = shared & ~3;
    const next = hdr(th, L.kHeaderRowCountField);
    const sharedRows = hdr(sh, L.kHeaderRowCountField);
    if (hdr(th, L.kHeaderFreeHeadField) == 0 && next < hdr(th, L.kHeaderCapacityField)) {
      if (next < sharedRows) {
        if (load<u32>(col32(table, th, L.kHeaderIdHighOffsetField) + (next << 2)) == high
          && load<u32>(col32(table, th, L.kHeaderIdLowOffsetField) + (next << 2)) == low) {
          setHdr(th, L.kHeaderRowCountField, next + 1);
          return <i32>next;
        }
      } else if (next == sharedRows) {
        // Claim the shared table's next row; its address is written by writeRowAddress
        // (the shared row's status says whether it was).
        const claimed = insertRowIn(shared, high, low);
        store<u8>(col8(shared, sh, L.kHeaderStatusOffsetField) + <u32>claimed, F.kStatusEmpty);
        setHdr(th, L.kHeaderRowCountField, next + 1);
        return claimed;
      }
    }
    unshareIdentity(table);
  }
  let row: u32;
  const head = hdr(th, L.kHeaderFreeHeadField);
  if (head > 0) {
    row = head - 1;
    setHdr(th, L.kHeaderFreeHeadField, load<u32>(col32(table, th, L.kHeaderIncarnationOffsetField) + (row << 2)));
    setHdr(th, L.kHeaderFreeCountField, hdr(th, L.kHeaderFreeCountField) - 1);
  } else {
    row = hdr(th, L.kHeaderRowCountField);
    if (row >= hdr(th, L.kHeaderCapacityField)) return -1;
    setHdr(th, L.kHeaderRowCountField, row + 1);
  }
  const mask = hdr(th, L.kHeaderHashSlotCountField) - 1;
  const slots = col32(table, th, L.kHeaderHashSlotsOffsetField);
  let slot = hashId(high, low) & mask;
  while (load<i32>(slots + (slot << 2)) != 0) slot = (slot + 1) & mask;
  store<i32>(slots + (slot << 2), <i32>row + 1);
  store<u32>(col32(table, th, L.kHeaderIdHighOffsetField) + (row << 2), high);
  store<u32>(col32(table, th, L.kHeaderIdLowOffsetField) + (row << 2), low);
  return <i32>row;
}

/**
 * Takes a row for a new id (the last released one first) and indexes it; returns -1
 * when the table is full. The caller has checked that the id is absent.
 */
export function insertRow(table: u32, high: u32, low: u32): i32 {
  return insertRowIn(table, high, low);
}

/**
 * Backward-shift deletion of row `r` from an id index (shared with the FMIDB origin
 * registry); false when the row was not indexed.
 */
export function unindexRow(slots: u32, highs: u32, lows: u32, mask: u32, r: u32): bool {
  const tag = <i32>r + 1;
  let slot = hashId(load<u32>(highs + (r << 2)), load<u32>(lows + (r << 2))) & mask;
  for (;;) {
    const entry = load<i32>(slots + (slot << 2));
    if (entry == tag) break;
    if (entry == 0) return false;
    slot = (slot + 1) & mask;
  }
  let hole = slot;
  let next = (hole + 1) & mask;
  for (;;) {
    const entry = load<i32>(slots + (next << 2));
    if (entry == 0) break;
    const other = <u32>(entry - 1);
    const home = hashId(load<u32>(highs + (other << 2)), load<u32>(lows + (other << 2))) & mask;
    // Move the entry back into the hole unless its home lies cyclically in (hole, next].
    const stays = hole <= next ? home > hole && home <= next : home > hole || home <= next;
    if (!stays) {
      store<i32>(slots + (hole << 2), entry);
      hole = next;
    }
    next = (next + 1) & mask;
  }
  store<i32>(slots + (hole << 2), 0);
  return true;
}

/**
 * Releases a row: unindexes it (backward-shift deletion), clears its status and flags,
 * links it into the free list (through the incarnation column) and bumps the generation.
 */
export function removeRow(table: u32, row: i32): void {
  const th = table & ~3;
  unshareIdentity(table);
  const mask = hdr(th, L.kHeaderHashSlotCountField) - 1;
  const slots = col32(table, th, L.kHeaderHashSlotsOffsetField);
  const highs = col32(table, th, L.kHeaderIdHighOffsetField);
  const lows = col32(table, th, L.kHeaderIdLowOffsetField);
  const r = <u32>row;
  if (!unindexRow(slots, highs, lows, mask, r)) return; // not indexed: nothing to release
  store<u8>(col8(table, th, L.kHeaderStatusOffsetField) + r, F.kStatusEmpty);
  store<u8>(col8(table, th, L.kHeaderFlagsOffsetField) + r, 0);
  store<u32>(col32(table, th, L.kHeaderIncarnationOffsetField) + (r << 2), hdr(th, L.kHeaderFreeHeadField));
  setHdr(th, L.kHeaderFreeHeadField, <u32>(row + 1));
  setHdr(th, L.kHeaderFreeCountField, hdr(th, L.kHeaderFreeCountField) + 1);
  setHdr(th, L.kHeaderGenerationField, hdr(th, L.kHeaderGenerationField) + 1);
}

// ---------------------------------------------------------------------------------
// Digest merge

/** SWIM precedence within one incarnation: alive < suspect < dead = left. */
@inline function rank(status: u32): u32 {
  return status == F.kStatusAlive ? 0 : status == F.kStatusSuspect ? 1 : 2;
}

/**
 * Merges the PUSH_PULL_DIGEST or PUSH_PULL_STATE datagram at `packet` into the table;
 * in a compound datagram, every digest and state part (other parts are left to the
 * decoder). Writes (row, kChange* flags) pairs to `out` and returns the number of
 * entries read, or a negated error. The packet is validated whole before the first
 * entry is applied, so a malformed packet changes nothing.
 */
export function mergeDigest(table: u32, packet: u32, length: u32, limit: u32, nowMs: f64, out: u32, outCapacity: u32): i32 {
  const head = checkHeader(packet, length, limit);
  if (head < 0) return head;
  const end = packet + length - F.kChecksumBytes;
  const now = toUint32(nowMs);
  const count = walkDatagram(packet, end, table, now, out, outCapacity, false);
  if (count < 0) return count;
  const o = out & ~3;
  store<i32>(o + (<u32>L.kOutCountField << 2), 0);
  store<i32>(o + (<u32>L.kOutOverflowField << 2), 0);
  walkDatagram(packet, end, table, now, out, outCapacity, true);
  if (load<i32>(o + (<u32>L.kOutCountField << 2)) > 0) {
    const th = table & ~3;
    setHdr(th, L.kHeaderGenerationField, hdr(th, L.kHeaderGenerationField) + 1);
  }
  return count;
}

/** Walks a whole datagram's digest and state bodies; validates only, or applies them. */
@inline function walkDatagram(packet: u32, end: u32, table: u32, now: u32, out: u32, outCapacity: u32, apply: bool): i32 {
  const type = <u32>load<u8>(packet, 3);
  const start = packet + F.kHeaderBytes;
  if (type == F.kTypePushPullDigest || type == F.kTypePushPullState) {
    return walkEntries(start, end, type == F.kTypePushPullState, table, now, out, outCapacity, apply);
  }
  if (type != F.kTypeCompound) return -F.kErrWrongType;
  let p = start;
  if (p + 1 > end) return -F.kErrTruncated;
  const parts = <u32>load<u8>(p);
  p += 1;
  if (parts == 0 || parts > <u32>F.kCompoundPartsMax) return -F.kErrBadCount;
  let total: i32 = 0;
  for (let i: u32 = 0; i < parts; i++) {
    if (p + 2 > end) return -F.kErrTruncated;
    const partLength = <u32>load<u16>(p);
    p += 2;
    if (partLength < 1) return -F.kErrBadLength;
    if (p + partLength > end) return -F.kErrTruncated;
    const partType = <u32>load<u8>(p);
    if (partType == F.kTypeCompound) return -F.kErrNestedCompound;
    if (partType == F.kTypePushPullDigest || partType == F.kTypePushPullState) {
      const n = walkEntries(p + 1, p + partLength, partType == F.kTypePushPullState, table, now, out, outCapacity, apply);
      if (n < 0) return n;
      total += n;
    }
    p += partLength;
  }
  if (p != end) return -F.kErrBadLength;
  return total;
}

/** Walks the entries of a digest body; validates only, or applies each entry. */
@inline function walkEntries(start: u32, end: u32, withMeta: bool, table: u32, now: u32, out: u32, outCapacity: u32, apply: bool): i32 {
  let p = start;
  if (p + 5 > end) return -F.kErrTruncated;
  const count = load<u32>(p, 1);
  p += 5;
  if (count > (end - p) / 18) return -F.kErrBadCount;
  for (let i: u32 = 0; i < count; i++) {
    if (p + 9 > end) return -F.kErrTruncated;
    const high = load<u32>(p);
    const low = load<u32>(p, 4);
    const family = <u32>load<u8>(p, 8);
    const size: i32 =
      family == F.kFamilyNone ? 0 : family == F.kFamilyIPv4 ? 4 : family == F.kFamilyIPv6 ? 16 : -1;
    if (size < 0) return -F.kErrBadAddress;
    const addressAt = p + 9;
    p = addressAt + (size == 0 ? 0 : <u32>size + 2);
    if (p + 9 > end) return -F.kErrTruncated;
    const port: u32 = size == 0 ? 0 : <u32>load<u16>(addressAt + <u32>size);
    const incarnation = load<u32>(p);
    const heartbeat = load<u32>(p, 4);
    const status = <u32>load<u8>(p, 8);
    if (status == F.kStatusEmpty || status >= <u32>F.kStatusLimit) return -F.kErrBadStatus;
    p += 9;
    if (withMeta) {
      if (p + 2 > end) return -F.kErrTruncated;
      const metaLength = <u32>load<u16>(p);
      if (metaLength > <u32>F.kMetaBytesMax) return -F.kErrFieldTooLarge;
      p += 2 + metaLength;
      if (p > end) return -F.kErrTruncated;
    }
    if (apply) {
      mergeEntry(table, high, low, family, addressAt, <u32>size, port, incarnation, heartbeat, status, now, out, outCapacity);
    }
  }
  if (p != end) return -F.kErrBadLength;
  return <i32>count;
}

/** Appends a (row, flags) record to an output buffer, or counts it as overflow. */
@inline function report(out: u32, outCapacity: u32, row: i32, flags: i32): void {
  const o = out & ~3;
  const n = load<i32>(o + (<u32>L.kOutCountField << 2));
  if (<i64>n >= <i64>outCapacity) {
    const at = o + (<u32>L.kOutOverflowField << 2);
    store<i32>(at, load<i32>(at) + 1);
    return;
  }
  const record = o + ((<u32>L.kOutHeaderWords + 2 * <u32>n) << 2);
  store<i32>(record, row);
  store<i32>(record, flags, 4);
  store<i32>(o + (<u32>L.kOutCountField << 2), n + 1);
}

/** Whether the row's stored address differs from the one in the packet. */
@inline function addressDiffers(table: u32, th: u32, row: u32, family: u32, addressAt: u32, size: u32, port: u32): bool {
  if (<u32>load<u8>(col8(table, th, L.kHeaderFamilyOffsetField) + row) != family) return true;
  if (<u32>load<u16>(col16(table, th, L.kHeaderPortOffsetField) + (row << 1)) != port) return true;
  const stored = col8(table, th, L.kHeaderAddressOffsetField) + row * L.kAddressBytes;
  if (size == 4) return load<u32>(stored) != load<u32>(addressAt);
  if (size == 16) {
    return load<u64>(stored) != load<u64>(addressAt) || load<u64>(stored, 8) != load<u64>(addressAt, 8);
  }
  return false;
}

/** Stores family, port and address (zero-filled to 16 bytes, then copied) of a row. */
@inline function writeRowAddress(table: u32, th: u32, row: u32, family: u32, addressAt: u32, size: u32, port: u32): void {
  if (identityShared(th)) {
    const shared = sharedTableOf(table, th);
    const sharedStatus = col8(shared, shared & ~3, L.kHeaderStatusOffsetField) + row;
    // The shared row's address is written once, by the table that claimed it.
    if (<u32>load<u8>(sharedStatus) == F.kStatusEmpty) store<u8>(sharedStatus, <u8>F.kStatusAlive);
    else if (addressDiffers(table, th, row, family, addressAt, size, port)) unshareIdentity(table);
    else return;
  }
  store<u8>(col8(table, th, L.kHeaderFamilyOffsetField) + row, <u8>family);
  store<u16>(col16(table, th, L.kHeaderPortOffsetField) + (row << 1), <u16>port);
  const stored = col8(table, th, L.kHeaderAddressOffsetField) + row * L.kAddressBytes;
  v128.store(stored, i32x4.splat(0));
  if (size == 4) store<u32>(stored, load<u32>(addressAt));
  else if (size == 16) v128.store(stored, v128.load(addressAt));
}

function mergeEntry(
  table: u32, high: u32, low: u32, family: u32, addressAt: u32, size: u32, port: u32,
  incarnation: u32, heartbeat: u32, status: u32, now: u32, out: u32, outCapacity: u32,
): void {
  const th = table & ~3;
  let found = findRowIn(table, high, low);
  const statusAt = col8(table, th, L.kHeaderStatusOffsetField);
  const flagsAt = col8(table, th, L.kHeaderFlagsOffsetField);
  const incarnations = col32(table, th, L.kHeaderIncarnationOffsetField);
  const heartbeats = col32(table, th, L.kHeaderHeartbeatOffsetField);
  // The other column bases are read where used: most entries change nothing.
  if (found < 0) {
    if (status == F.kStatusDead || status == F.kStatusLeft) return;
    found = insertRowIn(table, high, low);
    if (found < 0) {
      const at = (out & ~3) + (<u32>L.kOutOverflowField << 2);
      store<i32>(at, load<i32>(at) + 1);
      return;
    }
    const row = <u32>found;
    writeRowAddress(table, th, row, family, addressAt, size, port);
    store<u32>(incarnations + (row << 2), incarnation);
    store<u32>(heartbeats + (row << 2), heartbeat);
    store<u8>(statusAt + row, <u8>status);
    store<u8>(flagsAt + row, 0);
    store<u32>(col32(table, th, L.kHeaderStateChangeOffsetField) + (row << 2), now);
    store<u32>(col32(table, th, L.kHeaderLastHeardOffsetField) + (row << 2), now);
    store<f32>(col32(table, th, L.kHeaderFdMeanOffsetField) + (row << 2), 0);
    store<f32>(col32(table, th, L.kHeaderFdVarianceOffsetField) + (row << 2), 0);
    store<u16>(col16(table, th, L.kHeaderFdSamplesOffsetField) + (row << 1), 0);
    store<u32>(col32(table, th, L.kHeaderDeadlineOffsetField) + (row << 2), 0);
    report(out, outCapacity, found,
      L.kChangeInserted | L.kChangeStatus | L.kChangeIncarnation | L.kChangeHeartbeat | L.kChangeAddress);
    return;
  }
  const row = <u32>found;
  const flags = <u32>load<u8>(flagsAt + row);
  const current = <u32>load<u8>(statusAt + row);
  const currentIncarnation = load<u32>(incarnations + (row << 2));
  if ((flags & L.kRowFlagSelf) != 0) {
    if (status != F.kStatusAlive && incarnation >= currentIncarnation) report(out, outCapacity, found, L.kChangeStatus);
    return;
  }
  let changes: i32 = 0;
  let apply: bool;
  if (current == F.kStatusDead || current == F.kStatusLeft) {
    apply = status == F.kStatusAlive && incarnation > currentIncarnation;
  } else {
    apply = incarnation > currentIncarnation || (incarnation == currentIncarnation && rank(status) > rank(current));
  }
  if (apply) {
    if (status != current) {
      store<u8>(statusAt + row, <u8>status);
      store<u32>(col32(table, th, L.kHeaderStateChangeOffsetField) + (row << 2), now);
      store<u8>(flagsAt + row,
        <u8>(flags & ~(L.kRowFlagSilenceReported | L.kRowFlagDeadlineReported | L.kRowFlagDeadlineArmed)));
      changes |= L.kChangeStatus;
    }
    if (incarnation > currentIncarnation) {
      changes |= L.kChangeIncarnation;
      store<u32>(incarnations + (row << 2), incarnation);
      if (addressDiffers(table, th, row, family, addressAt, size, port)) {
        writeRowAddress(table, th, row, family, addressAt, size, port);
        changes |= L.kChangeAddress;
      }
      if (load<u32>(heartbeats + (row << 2)) != heartbeat) {
        store<u32>(heartbeats + (row << 2), heartbeat);
        changes |= L.kChangeHeartbeat;
      }
      store<u32>(col32(table, th, L.kHeaderLastHeardOffsetField) + (row << 2), now);
    }
  }
  const stored = <u32>load<u8>(statusAt + row);
  const live = stored == F.kStatusAlive || stored == F.kStatusSuspect;
  if (live && incarnation == load<u32>(incarnations + (row << 2)) && heartbeat > load<u32>(heartbeats + (row << 2))) {
    store<u32>(heartbeats + (row << 2), heartbeat);
    const lastHeard = col32(table, th, L.kHeaderLastHeardOffsetField);
    const means = col32(table, th, L.kHeaderFdMeanOffsetField);
    const variances = col32(table, th, L.kHeaderFdVarianceOffsetField);
    const samples = col16(table, th, L.kHeaderFdSamplesOffsetField);
    // Single-precision EWMA, one rounded f32 operation per TypeScript Math.fround.
    const interval = <f32>(now - load<u32>(lastHeard + (row << 2)));
    const n = <u32>load<u16>(samples + (row << 1));
    if (n == 0) {
      store<f32>(means + (row << 2), interval);
      store<f32>(variances + (row << 2), 0);
    } else {
      const mean = load<f32>(means + (row << 2));
      const d: f32 = interval - mean;
      store<f32>(means + (row << 2), mean + d * kFdWeight);
      store<f32>(variances + (row << 2), (load<f32>(variances + (row << 2)) + d * d * kFdWeight) * kFdKeep);
    }
    if (n < <u32>L.kFdSamplesMax) store<u16>(samples + (row << 1), <u16>(n + 1));
    store<u32>(lastHeard + (row << 2), now);
    store<u8>(flagsAt + row, <u8>(<u32>load<u8>(flagsAt + row) & ~L.kRowFlagSilenceReported));
    changes |= L.kChangeHeartbeat;
  }
  if (changes != 0) report(out, outCapacity, found, changes);
}

// ---------------------------------------------------------------------------------
// Failure-detector sweep

/**
 * Sweeps the whole table once: reports alive rows whose heartbeat silence crossed the
 * phi-accrual threshold or the hard limit, suspects whose deadline passed, and dead or
 * left rows ready to reap. Each crossing is reported once (a row flag remembers it).
 * Times are u32 ms compared by wrapping difference; the phi test is in f64.
 */
export function sweep(
  table: u32, nowMs: f64, phiKSquared: f64, varianceMinMs2: f64, samplesMin: u32, silenceMaxMs: f64,
  out: u32, outCapacity: u32,
): i32 {
  const th = table & ~3;
  const now = toUint32(nowMs);
  const silenceMax = toUint32(silenceMaxMs);
  const rows = hdr(th, L.kHeaderRowCountField);
  const statusAt = col8(table, th, L.kHeaderStatusOffsetField);
  const flagsAt = col8(table, th, L.kHeaderFlagsOffsetField);
  const lastHeard = col32(table, th, L.kHeaderLastHeardOffsetField);
  const means = col32(table, th, L.kHeaderFdMeanOffsetField);
  const variances = col32(table, th, L.kHeaderFdVarianceOffsetField);
  const samples = col16(table, th, L.kHeaderFdSamplesOffsetField);
  const deadlines = col32(table, th, L.kHeaderDeadlineOffsetField);
  const o = out & ~3;
  store<i32>(o + (<u32>L.kOutCountField << 2), 0);
  store<i32>(o + (<u32>L.kOutOverflowField << 2), 0);
  for (let row: u32 = 0; row < rows; row++) {
    const status = <u32>load<u8>(statusAt + row);
    if (status == F.kStatusEmpty) continue;
    const flags = <u32>load<u8>(flagsAt + row);
    if ((flags & L.kRowFlagSelf) != 0) continue;
    if (status == F.kStatusAlive) {
      if ((flags & L.kRowFlagSilenceReported) != 0) continue;
      const elapsed = now - load<u32>(lastHeard + (row << 2));
      let silent = elapsed > silenceMax;
      if (!silent && <u32>load<u16>(samples + (row << 1)) >= samplesMin) {
        const d = <f64>elapsed - <f64>load<f32>(means + (row << 2));
        if (d > 0) {
          const v = <f64>load<f32>(variances + (row << 2));
          silent = d * d > phiKSquared * (v > varianceMinMs2 ? v : varianceMinMs2);
        }
      }
      if (silent) {
        store<u8>(flagsAt + row, <u8>(flags | L.kRowFlagSilenceReported));
        report(out, outCapacity, <i32>row, L.kSweepSilent);
      }
    } else if ((flags & (L.kRowFlagDeadlineArmed | L.kRowFlagDeadlineReported)) == L.kRowFlagDeadlineArmed) {
      if (<i32>(now - load<u32>(deadlines + (row << 2))) >= 0) {
        store<u8>(flagsAt + row, <u8>(flags | L.kRowFlagDeadlineReported));
        report(out, outCapacity, <i32>row, status == F.kStatusSuspect ? L.kSweepSuspicionExpired : L.kSweepReapable);
      }
    }
  }
  return load<i32>(o + (<u32>L.kOutCountField << 2));
}

// ---------------------------------------------------------------------------------
// Digest encoder

/**
 * Encodes a PUSH_PULL_DIGEST datagram (or frame, with a larger limit) holding the given
 * rows straight from the table columns; returns its length or a negated error.
 */
export function encodeDigest(table: u32, rowList: u32, rowCount: u32, flags: u32, out: u32, limit: u32): i32 {
  const th = table & ~3;
  const rowsUsed = hdr(th, L.kHeaderRowCountField);
  const statusAt = col8(table, th, L.kHeaderStatusOffsetField);
  const familyAt = col8(table, th, L.kHeaderFamilyOffsetField);
  const addressAt = col8(table, th, L.kHeaderAddressOffsetField);
  const ports = col16(table, th, L.kHeaderPortOffsetField);
  const highs = col32(table, th, L.kHeaderIdHighOffsetField);
  const lows = col32(table, th, L.kHeaderIdLowOffsetField);
  const incarnations = col32(table, th, L.kHeaderIncarnationOffsetField);
  const heartbeats = col32(table, th, L.kHeaderHeartbeatOffsetField);
  // capEnd = out + limit - kChecksumBytes: TS checks out + 9 > capEnd, i.e. limit < 13; then clamp
  // (an if/else rather than a select, so that V8 computes it once, not at each use in the loop)
  if (limit < <u32>(F.kHeaderBytes + 5 + F.kChecksumBytes)) return -F.kErrTooLarge;
  let capEnd: u32;
  if (limit <= ~out) capEnd = out + limit - F.kChecksumBytes;
  else capEnd = 0xffffffff;
  store<u8>(out, F.kMagic0);
  store<u8>(out, F.kMagic1, 1);
  store<u8>(out, F.kProtocolVersion, 2);
  store<u8>(out, F.kTypePushPullDigest, 3);
  store<u8>(out, <u8>flags, 4);
  store<u32>(out, rowCount, 5);
  let p = out + F.kHeaderBytes + 5;
  const list = rowList & ~3;
  for (let i: u32 = 0; i < rowCount; i++) {
    const row = load<i32>(list + (i << 2));
    if (row < 0 || <u32>row >= rowsUsed) return -F.kErrBadCount;
    const r = <u32>row;
    const status = load<u8>(statusAt + r);
    if (status == F.kStatusEmpty) return -F.kErrBadStatus;
    const family = <u32>load<u8>(familyAt + r);
    const size: u32 = family == F.kFamilyIPv4 ? 4 : family == F.kFamilyIPv6 ? 16 : 0;
    const entryBytes: u32 = 8 + 1 + (size == 0 ? 0 : size + 2) + 9;
    if (p + entryBytes > capEnd) return -F.kErrTooLarge;
    store<u32>(p, load<u32>(highs + (r << 2)));
    store<u32>(p, load<u32>(lows + (r << 2)), 4);
    store<u8>(p, <u8>(size == 0 ? 0 : family), 8);
    p += 9;
    if (size != 0) {
      const a = addressAt + r * L.kAddressBytes;
      if (size == 4) store<u32>(p, load<u32>(a));
      else v128.store(p, v128.load(a));
      store<u16>(p + size, load<u16>(ports + (r << 1)));
      p += size + 2;
    }
    store<u32>(p, load<u32>(incarnations + (r << 2)));
    store<u32>(p, load<u32>(heartbeats + (r << 2)), 4);
    store<u8>(p, status, 8);
    p += 9;
  }
  store<u32>(p, datagramChecksumOf(out, p - out));
  return <i32>(p + F.kChecksumBytes - out);
}
