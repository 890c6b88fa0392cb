import type { MemoryViews } from '../runtime/memory-views.js';
import { checkHeader } from '../wire/ts-codec.js';
import { datagramChecksum } from '../wire/checksum.js';
import * as F from '../wire/format.js';
import * as L from './layout.js';
import { hashId } from './hash-id.js';
import { identityShared, sharedTableOf, unshareIdentity } from './shared-identity.js';

/**
 * The TypeScript table kernels: id lookup, insertion and removal, the digest merge,
 * the failure-detector sweep and the digest encoder. asm/table.ts is their twin; the
 * property tests prove both leave the same bytes in the table and the output buffers.
 *
 * Every function takes the table base pointer and reads the column offsets from the
 * table header (see layout.ts), so it works on any table in the memory.
 */

function field(views: MemoryViews, table: number, index: number): number {
  return views.u32[(table >>> 2) + index]!;
}

export { hashId };

/** Finds the row of a node id; returns -1 when it is not in the table. */
export function findRow(views: MemoryViews, table: number, high: number, low: number): number {
  const mask = field(views, table, L.kHeaderHashSlotCountField) - 1;
  const slots = (table + field(views, table, L.kHeaderHashSlotsOffsetField)) >>> 2;
  const highs = (table + field(views, table, L.kHeaderIdHighOffsetField)) >>> 2;
  const lows = (table + field(views, table, L.kHeaderIdLowOffsetField)) >>> 2;
  const row = probeIndex(views, slots, highs, lows, mask, high, low);
  // A shared index also holds rows other tables claimed past this table's end.
  if (row >= 0 && identityShared(views.u32, table) && row >= field(views, table, L.kHeaderRowCountField)) return -1;
  return row;
}

/**
 * The open-addressing probe over an id index (slots of row + 1, 0 empty), shared by the
 * membership table and the FMIDB origin registry: the row of (high, low), or -1.
 * Addresses are u32 indexes into the views.
 */
export function probeIndex(views: MemoryViews, slots: number, highs: number, lows: number, mask: number, high: number, low: number): number {
  const u32 = views.u32;
  const i32 = views.i32;
  let slot = hashId(high, low) & mask;
  for (;;) {
    const entry = i32[slots + slot]!;
    if (entry === 0) return -1;
    const row = entry - 1;
    if (u32[highs + row] === high >>> 0 && u32[lows + row] === low >>> 0) return row;
    slot = (slot + 1) & mask;
  }
}

/**
 * Takes a row for a new id (the last released one first) and indexes it; returns -1 when the
 * table is full. The caller has checked that the id is absent.
 */
export function insertRow(views: MemoryViews, table: number, high: number, low: number): number {
  const u32 = views.u32;
  const i32 = views.i32;
  const t = table >>> 2;
  if (identityShared(u32, table)) {
    const shared = sharedTableOf(u32, table);
    const s = shared >>> 2;
    const next = u32[t + L.kHeaderRowCountField]!;
    const sharedRows = u32[s + L.kHeaderRowCountField]!;
    if (u32[t + L.kHeaderFreeHeadField] === 0 && next < u32[t + L.kHeaderCapacityField]!) {
      if (next < sharedRows) {
        if (u32[((table + u32[t + L.kHeaderIdHighOffsetField]!) >>> 2) + next] === high >>> 0 && u32[((table + u32[t + L.kHeaderIdLowOffsetField]!) >>> 2) + next] === low >>> 0) {
          u32[t + L.kHeaderRowCountField] = next + 1;
          return next;
        }
      } else if (next === sharedRows) {
        // Claim the shared table's next row; its address is written by writeAddress (the
        // shared row's status says whether it was).
        const row = insertRow(views, shared, high, low);
        views.u8[shared + u32[s + L.kHeaderStatusOffsetField]! + row] = F.kStatusEmpty;
        u32[t + L.kHeaderRowCountField] = next + 1;
        return row;
      }
    }
    unshareIdentity(views, table);
  }
  let row: number;
  const head = u32[t + L.kHeaderFreeHeadField]!;
  if (head > 0) {
    row = head - 1;
    u32[t + L.kHeaderFreeHeadField] = u32[((table + u32[t + L.kHeaderIncarnationOffsetField]!) >>> 2) + row]!;
    u32[t + L.kHeaderFreeCountField] = u32[t + L.kHeaderFreeCountField]! - 1;
  } else {
    row = u32[t + L.kHeaderRowCountField]!;
    if (row >= u32[t + L.kHeaderCapacityField]!) return -1;
    u32[t + L.kHeaderRowCountField] = row + 1;
  }
  const mask = u32[t + L.kHeaderHashSlotCountField]! - 1;
  const slots = (table + u32[t + L.kHeaderHashSlotsOffsetField]!) >>> 2;
  let slot = hashId(high, low) & mask;
  while (i32[slots + slot] !== 0) slot = (slot + 1) & mask;
  i32[slots + slot] = row + 1;
  u32[((table + u32[t + L.kHeaderIdHighOffsetField]!) >>> 2) + row] = high >>> 0;
  u32[((table + u32[t + L.kHeaderIdLowOffsetField]!) >>> 2) + row] = low >>> 0;
  return row;
}

/**
 * Releases a row: unindexes it (backward-shift deletion keeps every probe chain
 * unbroken without tombstone slots), clears its status and links it into the free list.
 */
export function removeRow(views: MemoryViews, table: number, row: number): void {
  const u32 = views.u32;
  const t = table >>> 2;
  unshareIdentity(views, table);
  const mask = u32[t + L.kHeaderHashSlotCountField]! - 1;
  const slots = (table + u32[t + L.kHeaderHashSlotsOffsetField]!) >>> 2;
  const highs = (table + u32[t + L.kHeaderIdHighOffsetField]!) >>> 2;
  const lows = (table + u32[t + L.kHeaderIdLowOffsetField]!) >>> 2;
  if (!unindexRow(views, slots, highs, lows, mask, row)) return; // not indexed: nothing to release
  views.u8[table + u32[t + L.kHeaderStatusOffsetField]! + row] = F.kStatusEmpty;
  views.u8[table + u32[t + L.kHeaderFlagsOffsetField]! + row] = 0;
  u32[((table + u32[t + L.kHeaderIncarnationOffsetField]!) >>> 2) + row] = u32[t + L.kHeaderFreeHeadField]!;
  u32[t + L.kHeaderFreeHeadField] = row + 1;
  u32[t + L.kHeaderFreeCountField] = u32[t + L.kHeaderFreeCountField]! + 1;
  u32[t + L.kHeaderGenerationField] = (u32[t + L.kHeaderGenerationField]! + 1) >>> 0;
}

/**
 * Backward-shift deletion of `row` from an id index (shared with the FMIDB origin
 * registry); false when the row was not indexed.
 */
export function unindexRow(views: MemoryViews, slots: number, highs: number, lows: number, mask: number, row: number): boolean {
  const u32 = views.u32;
  const i32 = views.i32;
  let slot = hashId(u32[highs + row]!, u32[lows + row]!) & mask;
  while (i32[slots + slot] !== row + 1) {
    if (i32[slots + slot] === 0) return false;
    slot = (slot + 1) & mask;
  }
  let hole = slot;
  let next = (hole + 1) & mask;
  while (i32[slots + next] !== 0) {
    const other = i32[slots + next]! - 1;
    const home = hashId(u32[highs + other]!, u32[lows + other]!) & mask;
    // Move the entry back into the hole unless its home lies cyclically in (hole, next].
    const stays = hole <= next ? home > hole && home <= next : home > hole || home <= next;
    if (!stays) {
      i32[slots + hole] = i32[slots + next]!;
      hole = next;
    }
    next = (next + 1) & mask;
  }
  i32[slots + hole] = 0;
  return true;
}

/** SWIM precedence within one incarnation: alive < suspect < dead = left. */
function rank(status: number): number {
  return status === F.kStatusAlive ? 0 : status === F.kStatusSuspect ? 1 : 2;
}

/**
 * Merges the PUSH_PULL_DIGEST or PUSH_PULL_STATE datagram at `packet` into the table,
 * straight from its bytes; in a compound datagram, every digest and state part (other
 * parts are left to the decoder). Writes (row, kChange* flags) pairs to `out` and
 * returns the number of entries read, or a negated error. The packet is validated
 * whole before the first entry is applied, so a malformed packet changes nothing.
 *
 * Rules (SWIM, with gossip heartbeats):
 *  - an unknown node is inserted when alive or suspect; unknown dead or left nodes are
 *    ignored (nothing to bury); a full table counts the entry in the overflow word;
 *  - for a known live node, news applies when its incarnation is higher, or equal with
 *    a stronger status (alive < suspect < dead = left);
 *  - a dead or left node comes back only through alive with a higher incarnation;
 *  - the heartbeat keeps the larger within one incarnation and restarts with a new one;
 *    a grown heartbeat feeds the failure detector's inter-arrival statistics;
 *  - the local node's row is never changed by others; news that it is suspect or dead
 *    is reported (kChangeStatus) so the engine refutes.
 */
export function mergeDigest(views: MemoryViews, table: number, packet: number, length: number, limit: number, nowMs: number, out: number, outCapacity: number): number {
  const head = checkHeader(views, packet, length, limit);
  if (head < 0) return head;
  const end = packet + length - F.kChecksumBytes;
  const count = walkDatagram(views, packet, end, table, nowMs, out, outCapacity, false);
  if (count < 0) return count;
  views.i32[(out >>> 2) + L.kOutCountField] = 0;
  views.i32[(out >>> 2) + L.kOutOverflowField] = 0;
  walkDatagram(views, packet, end, table, nowMs, out, outCapacity, true);
  if (views.i32[(out >>> 2) + L.kOutCountField]! > 0) {
    const g = (table >>> 2) + L.kHeaderGenerationField;
    views.u32[g] = (views.u32[g]! + 1) >>> 0;
  }
  return count;
}

/** Walks a whole datagram's digest and state bodies; validates only, or applies them. */
function walkDatagram(views: MemoryViews, packet: number, end: number, table: number, nowMs: number, out: number, outCapacity: number, apply: boolean): number {
  const type = views.u8[packet + 3]!;
  const start = packet + F.kHeaderBytes;
  if (type === F.kTypePushPullDigest || type === F.kTypePushPullState) {
    return walkEntries(views, start, end, type === F.kTypePushPullState, table, nowMs, out, outCapacity, apply);
  }
  if (type !== F.kTypeCompound) return -F.kErrWrongType;
  let p = start;
  if (p + 1 > end) return -F.kErrTruncated;
  const parts = views.u8[p]!;
  p += 1;
  if (parts === 0 || parts > F.kCompoundPartsMax) return -F.kErrBadCount;
  let total = 0;
  for (let i = 0; i < parts; i++) {
    if (p + 2 > end) return -F.kErrTruncated;
    const partLength = views.dv.getUint16(p, true);
    p += 2;
    if (partLength < 1) return -F.kErrBadLength;
    if (p + partLength > end) return -F.kErrTruncated;
    const partType = views.u8[p]!;
    if (partType === F.kTypeCompound) return -F.kErrNestedCompound;
    if (partType === F.kTypePushPullDigest || partType === F.kTypePushPullState) {
      const n = walkEntries(views, p + 1, p + partLength, partType === F.kTypePushPullState, table, nowMs, out, outCapacity, apply);
      if (n < 0) return n;
      total += n;
    }
    p += partLength;
  }
  if (p !== end) return -F.kErrBadLength;
  return total;
}

/** Walks the entries of a digest body; validates only, or applies each entry. */
function walkEntries(views: MemoryViews, start: number, end: number, withMeta: boolean, table: number, nowMs: number, out: number, outCapacity: number, apply: boolean): number {
  const dv = views.dv;
  const u8 = views.u8;
  let p = start;
  if (p + 5 > end) return -F.kErrTruncated;
  const count = dv.getUint32(p + 1, true);
  p += 5;
  if (count > ((end - p) / 18) >>> 0) return -F.kErrBadCount;
  for (let i = 0; i < count; i++) {
    if (p + 9 > end) return -F.kErrTruncated;
    // The id's halves as int32, the same bits: a uint32 at or above 2^31 is no small
    // integer to V8 and was boxed as it went to mergeEntry (9 heap bytes per datagram on
    // the agent's path, bench:path's count). findRow, insertRow and hashId take either.
    const high = dv.getInt32(p, true);
    const low = dv.getInt32(p + 4, true);
    const family = u8[p + 8]!;
    const size = family === F.kFamilyNone ? 0 : family === F.kFamilyIPv4 ? 4 : family === F.kFamilyIPv6 ? 16 : -1;
    if (size < 0) return -F.kErrBadAddress;
    const addressAt = p + 9;
    p = addressAt + (size === 0 ? 0 : size + 2);
    if (p + 9 > end) return -F.kErrTruncated;
    const port = size === 0 ? 0 : dv.getUint16(addressAt + size, true);
    const incarnation = dv.getUint32(p, true);
    const heartbeat = dv.getUint32(p + 4, true);
    const status = u8[p + 8]!;
    if (status === F.kStatusEmpty || status >= F.kStatusLimit) return -F.kErrBadStatus;
    p += 9;
    if (withMeta) {
      if (p + 2 > end) return -F.kErrTruncated;
      const metaLength = dv.getUint16(p, true);
      if (metaLength > F.kMetaBytesMax) return -F.kErrFieldTooLarge;
      p += 2 + metaLength;
      if (p > end) return -F.kErrTruncated;
    }
    if (apply) mergeEntry(views, table, high, low, family, addressAt, size, port, incarnation, heartbeat, status, nowMs, out, outCapacity);
  }
  if (p !== end) return -F.kErrBadLength;
  return count;
}

function report(views: MemoryViews, out: number, outCapacity: number, row: number, flags: number): void {
  const o = out >>> 2;
  const n = views.i32[o + L.kOutCountField]!;
  if (n >= outCapacity) {
    views.i32[o + L.kOutOverflowField] = views.i32[o + L.kOutOverflowField]! + 1;
    return;
  }
  views.i32[o + L.kOutHeaderWords + 2 * n] = row;
  views.i32[o + L.kOutHeaderWords + 2 * n + 1] = flags;
  views.i32[o + L.kOutCountField] = n + 1;
}

/** Whether the row's stored address differs from the one in the packet. */
function addressDiffers(views: MemoryViews, table: number, row: number, family: number, addressAt: number, size: number, port: number): boolean {
  const t = table >>> 2;
  const u8 = views.u8;
  if (u8[((table + views.u32[t + L.kHeaderFamilyOffsetField]!) >>> 0) + row] !== family) return true;
  if (views.u16[((table + views.u32[t + L.kHeaderPortOffsetField]!) >>> 1) + row] !== port) return true;
  const stored = ((table + views.u32[t + L.kHeaderAddressOffsetField]!) >>> 0) + row * L.kAddressBytes;
  for (let i = 0; i < size; i++) if (u8[stored + i] !== u8[addressAt + i]) return true;
  return false;
}

function writeAddress(views: MemoryViews, table: number, row: number, family: number, addressAt: number, size: number, port: number): void {
  const t = table >>> 2;
  const u8 = views.u8;
  if (identityShared(views.u32, table)) {
    const shared = sharedTableOf(views.u32, table);
    const sharedStatus = shared + views.u32[(shared >>> 2) + L.kHeaderStatusOffsetField]! + row;
    // The shared row's address is written once, by the table that claimed it.
    if (u8[sharedStatus] === F.kStatusEmpty) u8[sharedStatus] = F.kStatusAlive;
    else if (addressDiffers(views, table, row, family, addressAt, size, port)) unshareIdentity(views, table);
    else return;
  }
  u8[((table + views.u32[t + L.kHeaderFamilyOffsetField]!) >>> 0) + row] = family;
  views.u16[((table + views.u32[t + L.kHeaderPortOffsetField]!) >>> 1) + row] = port;
  const stored = ((table + views.u32[t + L.kHeaderAddressOffsetField]!) >>> 0) + row * L.kAddressBytes;
  u8.fill(0, stored, stored + L.kAddressBytes);
  u8.copyWithin(stored, addressAt, addressAt + size);
}

function mergeEntry(views: MemoryViews, table: number, high: number, low: number, family: number, addressAt: number, size: number, port: number, incarnation: number, heartbeat: number, status: number, nowMs: number, out: number, outCapacity: number): void {
  const u32 = views.u32;
  const u8 = views.u8;
  const f32 = views.f32;
  const t = table >>> 2;
  const now = nowMs >>> 0;
  let row = findRow(views, table, high, low);
  const statusAt = table + u32[t + L.kHeaderStatusOffsetField]!;
  const flagsAt = table + u32[t + L.kHeaderFlagsOffsetField]!;
  const incarnations = (table + u32[t + L.kHeaderIncarnationOffsetField]!) >>> 2;
  const heartbeats = (table + u32[t + L.kHeaderHeartbeatOffsetField]!) >>> 2;
  const stateChange = (table + u32[t + L.kHeaderStateChangeOffsetField]!) >>> 2;
  const lastHeard = (table + u32[t + L.kHeaderLastHeardOffsetField]!) >>> 2;
  const means = (table + u32[t + L.kHeaderFdMeanOffsetField]!) >>> 2;
  const variances = (table + u32[t + L.kHeaderFdVarianceOffsetField]!) >>> 2;
  const samples = (table + u32[t + L.kHeaderFdSamplesOffsetField]!) >>> 1;
  const deadlines = (table + u32[t + L.kHeaderDeadlineOffsetField]!) >>> 2;
  if (row < 0) {
    if (status === F.kStatusDead || status === F.kStatusLeft) return;
    row = insertRow(views, table, high, low);
    if (row < 0) {
      views.i32[(out >>> 2) + L.kOutOverflowField] = views.i32[(out >>> 2) + L.kOutOverflowField]! + 1;
      return;
    }
    writeAddress(views, table, row, family, addressAt, size, port);
    u32[incarnations + row] = incarnation;
    u32[heartbeats + row] = heartbeat;
    u8[statusAt + row] = status;
    u8[flagsAt + row] = 0;
    u32[stateChange + row] = now;
    u32[lastHeard + row] = now;
    f32[means + row] = 0;
    f32[variances + row] = 0;
    views.u16[samples + row] = 0;
    u32[deadlines + row] = 0;
    report(views, out, outCapacity, row, L.kChangeInserted | L.kChangeStatus | L.kChangeIncarnation | L.kChangeHeartbeat | L.kChangeAddress);
    return;
  }
  const flags = u8[flagsAt + row]!;
  const current = u8[statusAt + row]!;
  const currentIncarnation = u32[incarnations + row]!;
  if ((flags & L.kRowFlagSelf) !== 0) {
    if (status !== F.kStatusAlive && incarnation >= currentIncarnation) report(views, out, outCapacity, row, L.kChangeStatus);
    return;
  }
  let changes = 0;
  let apply: boolean;
  if (current === F.kStatusDead || current === F.kStatusLeft) {
    apply = status === F.kStatusAlive && incarnation > currentIncarnation;
  } else {
    apply = incarnation > currentIncarnation || (incarnation === currentIncarnation && rank(status) > rank(current));
  }
  if (apply) {
    if (status !== current) {
      u8[statusAt + row] = status;
      u32[stateChange + row] = now;
      u8[flagsAt + row] = flags & ~(L.kRowFlagSilenceReported | L.kRowFlagDeadlineReported | L.kRowFlagDeadlineArmed);
      changes |= L.kChangeStatus;
    }
    if (incarnation > currentIncarnation) {
      changes |= L.kChangeIncarnation;
      u32[incarnations + row] = incarnation;
      if (addressDiffers(views, table, row, family, addressAt, size, port)) {
        writeAddress(views, table, row, family, addressAt, size, port);
        changes |= L.kChangeAddress;
      }
      if (u32[heartbeats + row] !== heartbeat) {
        u32[heartbeats + row] = heartbeat;
        changes |= L.kChangeHeartbeat;
      }
      u32[lastHeard + row] = now;
    }
  }
  const live = u8[statusAt + row] === F.kStatusAlive || u8[statusAt + row] === F.kStatusSuspect;
  if (live && incarnation === u32[incarnations + row] && heartbeat > u32[heartbeats + row]!) {
    u32[heartbeats + row] = heartbeat;
    // Single-precision EWMA: Math.fround after every step matches Wasm f32 arithmetic.
    const interval = Math.fround((now - u32[lastHeard + row]!) >>> 0);
    const n = views.u16[samples + row]!;
    if (n === 0) {
      f32[means + row] = interval;
      f32[variances + row] = 0;
    } else {
      const mean = f32[means + row]!;
      const d = Math.fround(interval - mean);
      f32[means + row] = Math.fround(mean + Math.fround(d * kFdWeight));
      f32[variances + row] = Math.fround(Math.fround(f32[variances + row]! + Math.fround(Math.fround(d * d) * kFdWeight)) * kFdKeep);
    }
    if (n < L.kFdSamplesMax) views.u16[samples + row] = n + 1;
    u32[lastHeard + row] = now;
    u8[flagsAt + row] = u8[flagsAt + row]! & ~L.kRowFlagSilenceReported;
    changes |= L.kChangeHeartbeat;
  }
  if (changes !== 0) report(views, out, outCapacity, row, changes);
}

const kFdWeight = 1 / (1 << L.kFdWeightShift);
const kFdKeep = 1 - kFdWeight;

/**
 * Sweeps the whole table once: reports alive rows whose heartbeat silence crossed the
 * phi-accrual threshold or the hard limit, suspects whose deadline passed, and dead or
 * left rows ready to reap. Each crossing is reported once (a row flag remembers it).
 *
 * phi(t) >= Φ for a normal inter-arrival model means t - mean >= k·σ with k fixed by Φ,
 * so the test is (t - mean)² > k²·σ² with t > mean: no exp, log or sqrt per member.
 * The caller computes k² once (failure-detector.ts). Times are u32 ms, compared by
 * wrapping difference.
 */
export function sweep(views: MemoryViews, table: number, nowMs: number, phiKSquared: number, varianceMinMs2: number, samplesMin: number, silenceMaxMs: number, out: number, outCapacity: number): number {
  const u32 = views.u32;
  const u8 = views.u8;
  const f32 = views.f32;
  const t = table >>> 2;
  const now = nowMs >>> 0;
  const silenceMax = silenceMaxMs >>> 0;
  const rows = u32[t + L.kHeaderRowCountField]!;
  const statusAt = table + u32[t + L.kHeaderStatusOffsetField]!;
  const flagsAt = table + u32[t + L.kHeaderFlagsOffsetField]!;
  const lastHeard = (table + u32[t + L.kHeaderLastHeardOffsetField]!) >>> 2;
  const means = (table + u32[t + L.kHeaderFdMeanOffsetField]!) >>> 2;
  const variances = (table + u32[t + L.kHeaderFdVarianceOffsetField]!) >>> 2;
  const samples = (table + u32[t + L.kHeaderFdSamplesOffsetField]!) >>> 1;
  const deadlines = (table + u32[t + L.kHeaderDeadlineOffsetField]!) >>> 2;
  const o = out >>> 2;
  views.i32[o + L.kOutCountField] = 0;
  views.i32[o + L.kOutOverflowField] = 0;
  for (let row = 0; row < rows; row++) {
    const status = u8[statusAt + row]!;
    if (status === F.kStatusEmpty) continue;
    const flags = u8[flagsAt + row]!;
    if ((flags & L.kRowFlagSelf) !== 0) continue;
    if (status === F.kStatusAlive) {
      if ((flags & L.kRowFlagSilenceReported) !== 0) continue;
      const elapsed = (now - u32[lastHeard + row]!) >>> 0;
      let silent = elapsed > silenceMax;
      if (!silent && views.u16[samples + row]! >= samplesMin) {
        const d = elapsed - f32[means + row]!;
        if (d > 0) {
          const v = f32[variances + row]!;
          silent = d * d > phiKSquared * (v > varianceMinMs2 ? v : varianceMinMs2);
        }
      }
      if (silent) {
        u8[flagsAt + row] = flags | L.kRowFlagSilenceReported;
        report(views, out, outCapacity, row, L.kSweepSilent);
      }
    } else if ((flags & (L.kRowFlagDeadlineArmed | L.kRowFlagDeadlineReported)) === L.kRowFlagDeadlineArmed) {
      if (((now - u32[deadlines + row]!) | 0) >= 0) {
        u8[flagsAt + row] = flags | L.kRowFlagDeadlineReported;
        report(views, out, outCapacity, row, status === F.kStatusSuspect ? L.kSweepSuspicionExpired : L.kSweepReapable);
      }
    }
  }
  return views.i32[o + L.kOutCountField]!;
}

/**
 * Encodes a PUSH_PULL_DIGEST datagram (or frame, with a larger limit) holding the given
 * rows straight from the table columns; returns its length or a negated error.
 */
export function encodeDigest(views: MemoryViews, table: number, rowList: number, rowCount: number, flags: number, out: number, limit: number): number {
  const u32 = views.u32;
  const u8 = views.u8;
  const dv = views.dv;
  const t = table >>> 2;
  const rowsUsed = u32[t + L.kHeaderRowCountField]!;
  const statusAt = table + u32[t + L.kHeaderStatusOffsetField]!;
  const familyAt = (table + u32[t + L.kHeaderFamilyOffsetField]!) >>> 0;
  const addressAt = (table + u32[t + L.kHeaderAddressOffsetField]!) >>> 0;
  const ports = (table + u32[t + L.kHeaderPortOffsetField]!) >>> 1;
  const highs = (table + u32[t + L.kHeaderIdHighOffsetField]!) >>> 2;
  const lows = (table + u32[t + L.kHeaderIdLowOffsetField]!) >>> 2;
  const incarnations = (table + u32[t + L.kHeaderIncarnationOffsetField]!) >>> 2;
  const heartbeats = (table + u32[t + L.kHeaderHeartbeatOffsetField]!) >>> 2;
  const capEnd = out + limit - F.kChecksumBytes;
  if (out + F.kHeaderBytes + 5 > capEnd) return -F.kErrTooLarge;
  u8[out] = F.kMagic0;
  u8[out + 1] = F.kMagic1;
  u8[out + 2] = F.kProtocolVersion;
  u8[out + 3] = F.kTypePushPullDigest;
  u8[out + 4] = flags;
  dv.setUint32(out + 5, rowCount, true);
  let p = out + F.kHeaderBytes + 5;
  const list = rowList >>> 2;
  for (let i = 0; i < rowCount; i++) {
    const row = views.i32[list + i]!;
    if (row < 0 || row >= rowsUsed) return -F.kErrBadCount;
    const status = u8[statusAt + row]!;
    if (status === F.kStatusEmpty) return -F.kErrBadStatus;
    const family = u8[familyAt + row]!;
    const size = family === F.kFamilyIPv4 ? 4 : family === F.kFamilyIPv6 ? 16 : 0;
    const entryBytes = 8 + 1 + (size === 0 ? 0 : size + 2) + 9;
    if (p + entryBytes > capEnd) return -F.kErrTooLarge;
    dv.setUint32(p, u32[highs + row]!, true);
    dv.setUint32(p + 4, u32[lows + row]!, true);
    u8[p + 8] = size === 0 ? 0 : family;
    p += 9;
    if (size !== 0) {
      const a = addressAt + row * L.kAddressBytes;
      u8.copyWithin(p, a, a + size);
      dv.setUint16(p + size, views.u16[ports + row]!, true);
      p += size + 2;
    }
    dv.setUint32(p, u32[incarnations + row]!, true);
    dv.setUint32(p + 4, u32[heartbeats + row]!, true);
    u8[p + 8] = status;
    p += 9;
  }
  dv.setUint32(p, datagramChecksum(views, out, p - out), true);
  return p + F.kChecksumBytes - out;
}
