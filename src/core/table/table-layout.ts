import type { MemoryViews } from '../runtime/memory-views.js';
import * as L from './layout.js';

/** The largest table Galaxy creates: a farm of 100,000 members and then some. */
export const kTableCapacityMax = 1 << 20;

/** Where each column lives, in bytes from the table base, for a given capacity. */
export interface TableLayout {
  readonly capacity: number;
  readonly hashSlotCount: number;
  readonly totalBytes: number;
  readonly offsets: Readonly<Record<ColumnName, number>>;
}

type ColumnName =
  | 'idHigh' | 'idLow' | 'incarnation' | 'heartbeat' | 'port' | 'status' | 'family' | 'flags'
  | 'address' | 'stateChange' | 'lastHeard' | 'fdMean' | 'fdVariance' | 'fdSamples' | 'deadline'
  | 'hashSlots';

/** Column name, header field holding its offset, and bytes per row (hash slots: per slot). */
const kColumns: ReadonlyArray<readonly [ColumnName, number, number]> = [
  ['idHigh', L.kHeaderIdHighOffsetField, 4],
  ['idLow', L.kHeaderIdLowOffsetField, 4],
  ['incarnation', L.kHeaderIncarnationOffsetField, 4],
  ['heartbeat', L.kHeaderHeartbeatOffsetField, 4],
  ['stateChange', L.kHeaderStateChangeOffsetField, 4],
  ['lastHeard', L.kHeaderLastHeardOffsetField, 4],
  ['deadline', L.kHeaderDeadlineOffsetField, 4],
  ['fdMean', L.kHeaderFdMeanOffsetField, 4],
  ['fdVariance', L.kHeaderFdVarianceOffsetField, 4],
  ['hashSlots', L.kHeaderHashSlotsOffsetField, 4],
  ['port', L.kHeaderPortOffsetField, 2],
  ['fdSamples', L.kHeaderFdSamplesOffsetField, 2],
  ['status', L.kHeaderStatusOffsetField, 1],
  ['family', L.kHeaderFamilyOffsetField, 1],
  ['flags', L.kHeaderFlagsOffsetField, 1],
  ['address', L.kHeaderAddressOffsetField, L.kAddressBytes],
];

/**
 * The identity columns and the id index, with the header fields of their own offsets:
 * what a table may share with others (shared-identity.ts).
 */
export const kIdentityColumns: ReadonlyArray<readonly [field: number, ownField: number, bytesPerRow: number]> = [
  [L.kHeaderIdHighOffsetField, L.kHeaderOwnIdHighOffsetField, 4],
  [L.kHeaderIdLowOffsetField, L.kHeaderOwnIdLowOffsetField, 4],
  [L.kHeaderPortOffsetField, L.kHeaderOwnPortOffsetField, 2],
  [L.kHeaderFamilyOffsetField, L.kHeaderOwnFamilyOffsetField, 1],
  [L.kHeaderAddressOffsetField, L.kHeaderOwnAddressOffsetField, L.kAddressBytes],
];

/** Computes the layout of a table holding `capacity` members; throws on a bad capacity. */
export function tableLayout(capacity: number): TableLayout {
  if (!Number.isInteger(capacity) || capacity < 1 || capacity > kTableCapacityMax) {
    throw new RangeError(`table capacity must be an integer from 1 to ${kTableCapacityMax}, got ${capacity}`);
  }
  // One and a half slots per row, rounded up to a power of two: the load stays at most
  // 0.67, where linear probing averages under 2 probes for a hit and 5 for a miss, and
  // the index costs 6-12 bytes a row instead of 8-16 (the simulator holds 10^8 rows).
  let hashSlotCount = 1;
  while (hashSlotCount < Math.ceil(capacity * 1.5)) hashSlotCount *= 2;
  const offsets = {} as Record<ColumnName, number>;
  let at = L.kTableHeaderBytes;
  for (const [name, , bytes] of kColumns) {
    offsets[name] = at;
    const count = name === 'hashSlots' ? hashSlotCount : capacity;
    at = align8(at + count * bytes);
  }
  return { capacity, hashSlotCount, totalBytes: at, offsets };
}

/** Writes a fresh header at `base` and clears the table's memory. */
export function initializeTable(views: MemoryViews, base: number, layout: TableLayout): void {
  checkFits(views, base, layout);
  views.u8.fill(0, base, base + layout.totalBytes);
  writeHeader(views, base, layout);
}

/**
 * Writes a fresh header at `base` without clearing the rest of the table: for memory
 * known to be zero (fresh pages, which stay uncommitted until written), so that a
 * table whose identity is shared never touches its own identity columns.
 */
export function initializeHeader(views: MemoryViews, base: number, layout: TableLayout): void {
  checkFits(views, base, layout);
  views.u8.fill(0, base, base + L.kTableHeaderBytes);
  writeHeader(views, base, layout);
}

function checkFits(views: MemoryViews, base: number, layout: TableLayout): void {
  if (base % 8 !== 0) throw new RangeError(`table base must be 8-byte aligned, got ${base}`);
  if (base + layout.totalBytes > views.buffer.byteLength) {
    throw new RangeError(`table of ${layout.totalBytes} bytes does not fit at ${base} in ${views.buffer.byteLength} bytes of memory`);
  }
}

function writeHeader(views: MemoryViews, base: number, layout: TableLayout): void {
  const h = base >>> 2;
  views.u32[h + L.kHeaderMagicField] = L.kTableMagic;
  views.u32[h + L.kHeaderVersionField] = L.kTableLayoutVersion;
  views.u32[h + L.kHeaderCapacityField] = layout.capacity;
  views.u32[h + L.kHeaderHashSlotCountField] = layout.hashSlotCount;
  views.u32[h + L.kHeaderTotalBytesField] = layout.totalBytes;
  for (const [name, index] of kColumns) views.u32[h + index] = layout.offsets[name];
  for (const [index, own] of kIdentityColumns) views.u32[h + own] = views.u32[h + index]!;
  views.u32[h + L.kHeaderOwnHashSlotsOffsetField] = layout.offsets.hashSlots;
}

/** Reads the layout back from a table header (a worker attaching to a table does this). */
export function readTableLayout(views: MemoryViews, base: number): TableLayout {
  const h = base >>> 2;
  if (views.u32[h + L.kHeaderMagicField] !== L.kTableMagic) throw new Error(`no membership table at ${base}: bad magic`);
  if (views.u32[h + L.kHeaderVersionField] !== L.kTableLayoutVersion) {
    throw new Error(`membership table at ${base} has layout version ${views.u32[h + L.kHeaderVersionField]}, expected ${L.kTableLayoutVersion}`);
  }
  const offsets = {} as Record<ColumnName, number>;
  for (const [name, index] of kColumns) offsets[name] = views.u32[h + index]!;
  // A table sharing its identity: its layout is still that of its own memory.
  offsets.idHigh = views.u32[h + L.kHeaderOwnIdHighOffsetField]!;
  offsets.idLow = views.u32[h + L.kHeaderOwnIdLowOffsetField]!;
  offsets.port = views.u32[h + L.kHeaderOwnPortOffsetField]!;
  offsets.family = views.u32[h + L.kHeaderOwnFamilyOffsetField]!;
  offsets.address = views.u32[h + L.kHeaderOwnAddressOffsetField]!;
  offsets.hashSlots = views.u32[h + L.kHeaderOwnHashSlotsOffsetField]!;
  return {
    capacity: views.u32[h + L.kHeaderCapacityField]!,
    hashSlotCount: views.u32[h + L.kHeaderHashSlotCountField]!,
    totalBytes: views.u32[h + L.kHeaderTotalBytesField]!,
    offsets,
  };
}

function align8(n: number): number {
  return (n + 7) & ~7;
}
