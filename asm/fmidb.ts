// The FMIDB kernels, AssemblyScript twin of src/fmidb/ts-fmidb-kernels.ts: the origin
// registry (lookup, insertion, removal) and the digest compare of the anti-entropy.
//
// Results must match the TypeScript kernels bit for bit: the same checks in the same
// order, the same negated kFmidbErr* codes, the same bytes left in the registry (slots,
// columns, free list, epoch, seen marks) and in the output records. Versions are f64
// holding integers below 2^53; the varint is accumulated in a u64 here and in a double
// there, which agree: every partial sum below 2^53 is exact in a double, and one at or
// above it stays at or above it after rounding, so the range check decides alike.
//
// Pointers are u32 byte offsets into the one (imported, shared) memory; the registry
// is aligned down to 4 and the version column and output buffer to 8, as the
// TypeScript typed-array indexing does. No allocation: only loads and stores.

import * as L from "../src/core/fmidb/layout";
import { hashId, probeIndex, unindexRow } from "./table";

const kVersionLimit: f64 = 9007199254740992.0;
const kVersionLimitU64: u64 = 9007199254740992;

/** A u32 field of the registry header; rh is the registry base aligned down to 4. */
@inline function hdr(rh: u32, field: i32): u32 {
  return load<u32>(rh + (<u32>field << 2));
}

@inline function setHdr(rh: u32, field: i32, value: u32): void {
  store<u32>(rh + (<u32>field << 2), value);
}

/** Base of a 4-byte column. */
@inline function col(rh: u32, field: i32): u32 {
  return (rh + hdr(rh, field)) & ~3;
}

@inline function findIn(rh: u32, high: u32, low: u32): i32 {
  const mask = hdr(rh, L.kRegistrySlotCountField) - 1;
  const slots = col(rh, L.kRegistrySlotsOffsetField);
  const highs = col(rh, L.kRegistryFpHighOffsetField);
  const lows = col(rh, L.kRegistryFpLowOffsetField);
  return probeIndex(slots, highs, lows, mask, high, low);
}

/** Finds the row of a fingerprint; -1 when the registry lacks it. */
export function fmidbFindOrigin(registry: u32, high: u32, low: u32): i32 {
  return findIn(registry & ~3, high, low);
}

/**
 * Takes a row for a fingerprint (the last released one first) and indexes it; -1 when
 * the registry is full. The caller has checked that the fingerprint is absent.
 */
export function fmidbInsertOrigin(registry: u32, high: u32, low: u32): i32 {
  const rh = registry & ~3;
  const lows = col(rh, L.kRegistryFpLowOffsetField);
  let row: u32;
  const head = hdr(rh, L.kRegistryFreeHeadField);
  if (head > 0) {
    row = head - 1;
    setHdr(rh, L.kRegistryFreeHeadField, load<u32>(lows + (row << 2)));
    setHdr(rh, L.kRegistryFreeCountField, hdr(rh, L.kRegistryFreeCountField) - 1);
  } else {
    row = hdr(rh, L.kRegistryRowCountField);
    if (row >= hdr(rh, L.kRegistryCapacityField)) return -1;
    setHdr(rh, L.kRegistryRowCountField, row + 1);
  }
  const mask = hdr(rh, L.kRegistrySlotCountField) - 1;
  const slots = col(rh, L.kRegistrySlotsOffsetField);
  let slot = hashId(high, low) & mask;
  while (load<i32>(slots + (slot << 2)) != 0) slot = (slot + 1) & mask;
  store<i32>(slots + (slot << 2), <i32>row + 1);
  store<u32>(col(rh, L.kRegistryFpHighOffsetField) + (row << 2), high & <u32>L.kFingerprintHighMask);
  store<u32>(lows + (row << 2), low);
  store<u32>(col(rh, L.kRegistrySeenOffsetField) + (row << 2), 0);
  return <i32>row;
}

/**
 * Releases a row: unindexes it (backward-shift deletion), marks it free and links it
 * into the free list. A row that is not indexed is left alone.
 */
export function fmidbRemoveOrigin(registry: u32, row: i32): void {
  const rh = registry & ~3;
  if (!(row >= 0 && <u32>row < hdr(rh, L.kRegistryRowCountField))) return;
  const r = <u32>row;
  const mask = hdr(rh, L.kRegistrySlotCountField) - 1;
  const slots = col(rh, L.kRegistrySlotsOffsetField);
  const highs = col(rh, L.kRegistryFpHighOffsetField);
  const lows = col(rh, L.kRegistryFpLowOffsetField);
  if ((load<u32>(highs + (r << 2)) & <u32>L.kRowFree) != 0) return;
  if (!unindexRow(slots, highs, lows, mask, r)) return;
  store<u32>(highs + (r << 2), <u32>L.kRowFree);
  store<u32>(lows + (r << 2), hdr(rh, L.kRegistryFreeHeadField));
  setHdr(rh, L.kRegistryFreeHeadField, r + 1);
  setHdr(rh, L.kRegistryFreeCountField, hdr(rh, L.kRegistryFreeCountField) + 1);
}

/** Appends a record to the output buffer, or counts it as overflow. */
@inline function report(out: u32, outCapacity: u32, kind: i32, row: i32, high: u32, low: u32, peer: f64, ours: f64): void {
  const n = load<i32>(out + (<u32>L.kCompareOutCountField << 2));
  if (<i64>n >= <i64>outCapacity) {
    const at = out + (<u32>L.kCompareOutOverflowField << 2);
    store<i32>(at, load<i32>(at) + 1);
    return;
  }
  const at = out + <u32>L.kCompareOutHeaderBytes + <u32>n * <u32>L.kCompareRecordBytes;
  store<i32>(at + <u32>L.kRecordKindOffset, kind);
  store<i32>(at + <u32>L.kRecordRowOffset, row);
  store<u32>(at + <u32>L.kRecordFpHighOffset, high);
  store<u32>(at + <u32>L.kRecordFpLowOffset, low);
  store<f64>(at + <u32>L.kRecordPeerVersionOffset, peer);
  store<f64>(at + <u32>L.kRecordOurVersionOffset, ours);
  store<i32>(out + (<u32>L.kCompareOutCountField << 2), n + 1);
}

/**
 * Compares a digest body with a replica's version column (see the TypeScript twin for
 * the records it writes). Returns the number of entries read, or a negated kFmidbErr*.
 */
export function fmidbCompareDigest(registry: u32, versions: u32, body: u32, length: u32, flags: u32, out: u32, outCapacity: u32): i32 {
  const rh = registry & ~3;
  const column = versions & ~7;
  const o = out & ~7;
  store<i32>(o + (<u32>L.kCompareOutCountField << 2), 0);
  store<i32>(o + (<u32>L.kCompareOutOverflowField << 2), 0);
  if (length < <u32>L.kDigestBodyHeaderBytes) return -L.kFmidbErrTruncated;
  const count = <u32>load<u16>(body);
  const base = load<f64>(body, 2);
  if (!(base >= 0 && base < kVersionLimit) || floor<f64>(base) != base) return -L.kFmidbErrBadVersion;
  if (count > (length - <u32>L.kDigestBodyHeaderBytes) / <u32>L.kDigestEntryBytesMin) return -L.kFmidbErrBadCount;
  const full = (flags & <u32>L.kCompareFlagFull) != 0;
  const seen = col(rh, L.kRegistrySeenOffsetField);
  let epoch: u32 = 0;
  if (full) {
    epoch = hdr(rh, L.kRegistryEpochField) + 1;
    if (epoch == 0) epoch = 1; // 0 is what a fresh seen column holds
    setHdr(rh, L.kRegistryEpochField, epoch);
  }
  const end = body + length;
  let p = body + <u32>L.kDigestBodyHeaderBytes;
  for (let i: u32 = 0; i < count; i++) {
    if (p + <u32>L.kDigestEntryFingerprintBytes > end) return -L.kFmidbErrTruncated;
    const high = <u32>load<u16>(p);
    const low = load<u32>(p, 2);
    p += <u32>L.kDigestEntryFingerprintBytes;
    let value: u64 = 0;
    let shift: u64 = 0;
    let bytes: i32 = 0;
    let b: u32;
    do {
      if (p >= end) return -L.kFmidbErrTruncated;
      if (bytes == L.kVarintBytesMax) return -L.kFmidbErrBadVarint;
      b = <u32>load<u8>(p);
      p++;
      value |= <u64>(b & 0x7f) << shift;
      shift += 7;
      bytes++;
    } while ((b & 0x80) != 0);
    if (value >= kVersionLimitU64) return -L.kFmidbErrBadVarint;
    let peer: f64 = -1;
    if (value != 0) {
      peer = base + <f64>(value - 1);
      if (peer >= kVersionLimit) return -L.kFmidbErrBadVersion;
    }
    const row = findIn(rh, high, low);
    const ours: f64 = row < 0 ? -1 : load<f64>(column + (<u32>row << 3));
    if (full && row >= 0) store<u32>(seen + (<u32>row << 2), epoch);
    if (peer > ours) report(o, outCapacity, L.kRecordWeLack, row, high, low, peer, ours);
    else if (ours > peer) report(o, outCapacity, L.kRecordPeerLacks, row, high, low, peer, ours);
  }
  if (p != end) return -L.kFmidbErrTrailing;
  if (full) {
    const rows = hdr(rh, L.kRegistryRowCountField);
    const highs = col(rh, L.kRegistryFpHighOffsetField);
    const lows = col(rh, L.kRegistryFpLowOffsetField);
    for (let row: u32 = 0; row < rows; row++) {
      const high = load<u32>(highs + (row << 2));
      if ((high & <u32>L.kRowFree) != 0) continue;
      const ours = load<f64>(column + (row << 3));
      if (!(ours >= 0) || load<u32>(seen + (row << 2)) == epoch) continue;
      report(o, outCapacity, L.kRecordPeerMissing, <i32>row, high, load<u32>(lows + (row << 2)), -1, ours);
    }
  }
  return <i32>count;
}
