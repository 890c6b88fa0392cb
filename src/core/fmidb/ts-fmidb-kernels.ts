import type { MemoryViews } from '../runtime/memory-views.js';
import { hashId, probeIndex, unindexRow } from '../table/ts-table-kernels.js';
import * as L from './layout.js';

/**
 * The TypeScript FMIDB kernels: the origin registry (lookup, insertion, removal) and
 * the digest compare. asm/fmidb.ts is their twin; the property test in
 * test/fmidb-kernels.test.ts proves both leave the same bytes in the registry and the
 * output buffer and return the same values.
 *
 * Every function takes the registry base and reads the column offsets from its header
 * (see layout.ts). Nothing here throws on bad input: compareDigest returns a negated
 * kFmidbErr* code.
 */

/** Versions and varints are integers below 2^53, the largest range a double holds exactly. */
export const kVersionLimit = 9007199254740992;

function field(views: MemoryViews, registry: number, index: number): number {
  return views.u32[(registry >>> 2) + index]!;
}

/** Finds the row of a fingerprint; -1 when the registry lacks it. */
export function findOrigin(views: MemoryViews, registry: number, high: number, low: number): number {
  const mask = field(views, registry, L.kRegistrySlotCountField) - 1;
  const slots = (registry + field(views, registry, L.kRegistrySlotsOffsetField)) >>> 2;
  const highs = (registry + field(views, registry, L.kRegistryFpHighOffsetField)) >>> 2;
  const lows = (registry + field(views, registry, L.kRegistryFpLowOffsetField)) >>> 2;
  return probeIndex(views, slots, highs, lows, mask, high, low);
}

/**
 * Takes a row for a fingerprint (the last released one first) and indexes it; -1 when
 * the registry is full. The caller has checked that the fingerprint is absent.
 */
export function insertOrigin(views: MemoryViews, registry: number, high: number, low: number): number {
  const u32 = views.u32;
  const i32 = views.i32;
  const r = registry >>> 2;
  const lows = (registry + u32[r + L.kRegistryFpLowOffsetField]!) >>> 2;
  let row: number;
  const head = u32[r + L.kRegistryFreeHeadField]!;
  if (head > 0) {
    row = head - 1;
    u32[r + L.kRegistryFreeHeadField] = u32[lows + row]!;
    u32[r + L.kRegistryFreeCountField] = u32[r + L.kRegistryFreeCountField]! - 1;
  } else {
    row = u32[r + L.kRegistryRowCountField]!;
    if (row >= u32[r + L.kRegistryCapacityField]!) return -1;
    u32[r + L.kRegistryRowCountField] = row + 1;
  }
  const mask = u32[r + L.kRegistrySlotCountField]! - 1;
  const slots = (registry + u32[r + L.kRegistrySlotsOffsetField]!) >>> 2;
  let slot = hashId(high, low) & mask;
  while (i32[slots + slot] !== 0) slot = (slot + 1) & mask;
  i32[slots + slot] = row + 1;
  u32[((registry + u32[r + L.kRegistryFpHighOffsetField]!) >>> 2) + row] = (high & L.kFingerprintHighMask) >>> 0;
  u32[lows + row] = low >>> 0;
  u32[((registry + u32[r + L.kRegistrySeenOffsetField]!) >>> 2) + row] = 0;
  return row;
}

/**
 * Releases a row: unindexes it (backward-shift deletion keeps every probe chain
 * unbroken without tombstone slots), marks it free and links it into the free list.
 * A row that is not indexed (already free, or never used) is left alone.
 */
export function removeOrigin(views: MemoryViews, registry: number, row: number): void {
  const u32 = views.u32;
  const r = registry >>> 2;
  if (!(row >= 0 && row < u32[r + L.kRegistryRowCountField]!)) return;
  const mask = u32[r + L.kRegistrySlotCountField]! - 1;
  const slots = (registry + u32[r + L.kRegistrySlotsOffsetField]!) >>> 2;
  const highs = (registry + u32[r + L.kRegistryFpHighOffsetField]!) >>> 2;
  const lows = (registry + u32[r + L.kRegistryFpLowOffsetField]!) >>> 2;
  if ((u32[highs + row]! & L.kRowFree) !== 0) return;
  if (!unindexRow(views, slots, highs, lows, mask, row)) return;
  u32[highs + row] = L.kRowFree >>> 0;
  u32[lows + row] = u32[r + L.kRegistryFreeHeadField]!;
  u32[r + L.kRegistryFreeHeadField] = row + 1;
  u32[r + L.kRegistryFreeCountField] = u32[r + L.kRegistryFreeCountField]! + 1;
}

/**
 * Compares a digest body (see layout.ts) with a replica's version column. For each
 * listed origin it reports, as 32-byte records in `out`, whether the peer is ahead
 * (kRecordWeLack, also for an origin the registry lacks: row -1) or behind
 * (kRecordPeerLacks); equal versions give nothing. With kCompareFlagFull it then
 * reports every origin the replica holds that the digest left out (kRecordPeerMissing).
 * Records beyond outCapacity are counted in the overflow word.
 *
 * Returns the number of entries read, or a negated kFmidbErr*. The registry changes
 * only in the seen column and epoch (full digests), so a malformed body changes no
 * state that matters; the caller drops the output then.
 */
export function compareDigest(views: MemoryViews, registry: number, versions: number, body: number, length: number, flags: number, out: number, outCapacity: number): number {
  // Aligned down exactly as asm/fmidb.ts does; the callers align anyway.
  registry = (registry & ~3) >>> 0;
  versions = (versions & ~7) >>> 0;
  out = (out & ~7) >>> 0;
  const u8 = views.u8;
  const u32 = views.u32;
  const i32 = views.i32;
  const f64 = views.f64;
  const dv = views.dv;
  const o = out >>> 2;
  i32[o + L.kCompareOutCountField] = 0;
  i32[o + L.kCompareOutOverflowField] = 0;
  if (length < L.kDigestBodyHeaderBytes) return -L.kFmidbErrTruncated;
  const count = dv.getUint16(body, true);
  const base = dv.getFloat64(body + 2, true);
  if (!(base >= 0 && base < kVersionLimit) || Math.floor(base) !== base) return -L.kFmidbErrBadVersion;
  if (count > Math.floor((length - L.kDigestBodyHeaderBytes) / L.kDigestEntryBytesMin)) return -L.kFmidbErrBadCount;
  const r = registry >>> 2;
  const full = (flags & L.kCompareFlagFull) !== 0;
  const seen = (registry + u32[r + L.kRegistrySeenOffsetField]!) >>> 2;
  const column = versions >>> 3;
  let epoch = 0;
  if (full) {
    epoch = (u32[r + L.kRegistryEpochField]! + 1) >>> 0;
    if (epoch === 0) epoch = 1; // 0 is what a fresh seen column holds
    u32[r + L.kRegistryEpochField] = epoch;
  }
  const end = body + length;
  let p = body + L.kDigestBodyHeaderBytes;
  for (let i = 0; i < count; i++) {
    if (p + L.kDigestEntryFingerprintBytes > end) return -L.kFmidbErrTruncated;
    const high = u8[p]! | (u8[p + 1]! << 8);
    const low = dv.getUint32(p + 2, true);
    p += L.kDigestEntryFingerprintBytes;
    let value = 0;
    let scale = 1;
    let bytes = 0;
    let b: number;
    do {
      if (p >= end) return -L.kFmidbErrTruncated;
      if (bytes === L.kVarintBytesMax) return -L.kFmidbErrBadVarint;
      b = u8[p++]!;
      value += (b & 0x7f) * scale;
      scale *= 128;
      bytes++;
    } while ((b & 0x80) !== 0);
    if (value >= kVersionLimit) return -L.kFmidbErrBadVarint;
    let peer = -1;
    if (value !== 0) {
      peer = base + (value - 1);
      if (peer >= kVersionLimit) return -L.kFmidbErrBadVersion;
    }
    const row = findOrigin(views, registry, high, low);
    const ours = row < 0 ? -1 : f64[column + row]!;
    if (full && row >= 0) u32[seen + row] = epoch;
    if (peer > ours) report(views, out, outCapacity, L.kRecordWeLack, row, high, low, peer, ours);
    else if (ours > peer) report(views, out, outCapacity, L.kRecordPeerLacks, row, high, low, peer, ours);
  }
  if (p !== end) return -L.kFmidbErrTrailing;
  if (full) {
    const rows = u32[r + L.kRegistryRowCountField]!;
    const highs = (registry + u32[r + L.kRegistryFpHighOffsetField]!) >>> 2;
    const lows = (registry + u32[r + L.kRegistryFpLowOffsetField]!) >>> 2;
    for (let row = 0; row < rows; row++) {
      const high = u32[highs + row]!;
      if ((high & L.kRowFree) !== 0) continue;
      const ours = f64[column + row]!;
      if (!(ours >= 0) || u32[seen + row] === epoch) continue;
      report(views, out, outCapacity, L.kRecordPeerMissing, row, high, u32[lows + row]!, -1, ours);
    }
  }
  return count;
}

/** Appends a record to the output buffer, or counts it as overflow. */
function report(views: MemoryViews, out: number, outCapacity: number, kind: number, row: number, high: number, low: number, peer: number, ours: number): void {
  const i32 = views.i32;
  const o = out >>> 2;
  const n = i32[o + L.kCompareOutCountField]!;
  if (n >= outCapacity) {
    i32[o + L.kCompareOutOverflowField] = i32[o + L.kCompareOutOverflowField]! + 1;
    return;
  }
  const at = out + L.kCompareOutHeaderBytes + n * L.kCompareRecordBytes;
  i32[(at + L.kRecordKindOffset) >>> 2] = kind;
  i32[(at + L.kRecordRowOffset) >>> 2] = row;
  views.u32[(at + L.kRecordFpHighOffset) >>> 2] = high >>> 0;
  views.u32[(at + L.kRecordFpLowOffset) >>> 2] = low >>> 0;
  views.f64[(at + L.kRecordPeerVersionOffset) >>> 3] = peer;
  views.f64[(at + L.kRecordOurVersionOffset) >>> 3] = ours;
  i32[o + L.kCompareOutCountField] = n + 1;
}
