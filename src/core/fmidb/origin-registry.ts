import type { Runtime } from '../runtime/runtime.js';
import { fingerprintOf, fingerprintKey } from './fingerprint.js';
import * as L from './layout.js';

/** Why insert() gave no row. */
export const kRegistryFull = -1;
/** Another id already holds this id's fingerprint. */
export const kFingerprintCollision = -2;

/**
 * The origin registry: every origin (writer) a replica knows, each with a row, indexed
 * by its 48-bit fingerprint in shared memory so that the digest-compare kernel can look
 * origins up straight from a digest's bytes (layout.ts). The ids themselves live here,
 * on the JavaScript side, by row.
 *
 * A replica normally owns its registry. The simulator gives thousands of replicas one
 * registry to save memory (a replica's view of an origin is its own version column,
 * -1 where it knows nothing); a shared registry never releases rows.
 */
export class OriginRegistry {
  readonly runtime: Runtime;
  readonly base: number;
  readonly capacity: number;
  readonly shared: boolean;
  private readonly ids: (string | undefined)[] = [];
  private readonly rowById = new Map<string, number>();
  private readonly rowByKey = new Map<number, number>();

  private constructor(runtime: Runtime, base: number, capacity: number, shared: boolean) {
    this.runtime = runtime;
    this.base = base;
    this.capacity = capacity;
    this.shared = shared;
  }

  /** Carves a registry for `capacity` origins out of the runtime's memory. */
  static create(runtime: Runtime, capacity: number, options: { shared?: boolean } = {}): OriginRegistry {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > kRegistryCapacityLimit) {
      throw new RangeError(`registry capacity must be an integer from 1 to ${kRegistryCapacityLimit}, got ${capacity}`);
    }
    const layout = registryLayout(capacity);
    const base = runtime.allocate(layout.totalBytes, 8);
    initializeRegistry(runtime, base, capacity, layout);
    return new OriginRegistry(runtime, base, capacity, options.shared ?? false);
  }

  /** Live origins. */
  get size(): number {
    return this.rowById.size;
  }

  /** The row of an id, or -1. */
  find(id: string): number {
    return this.rowById.get(id) ?? -1;
  }

  /** The row of a fingerprint, or -1 (the kernel's lookup; used for digest entries). */
  findFingerprint(high: number, low: number): number {
    return this.rowByKey.get(fingerprintKey(high, low)) ?? -1;
  }

  /** The id at a row, or undefined for a free row. */
  idOf(row: number): string | undefined {
    return this.ids[row];
  }

  /**
   * The row of `id`, inserting it when new. Returns kRegistryFull or
   * kFingerprintCollision (another id has the same fingerprint) instead of a row.
   */
  insert(id: string): number {
    const known = this.rowById.get(id);
    if (known !== undefined) return known;
    const fp = fingerprintOf(id);
    const kernels = this.runtime.kernels;
    const existing = kernels.fmidbFindOrigin(this.base, fp.high, fp.low);
    if (existing >= 0) return kFingerprintCollision;
    const row = kernels.fmidbInsertOrigin(this.base, fp.high, fp.low);
    if (row < 0) return kRegistryFull;
    this.ids[row] = id;
    this.rowById.set(id, row);
    this.rowByKey.set(fingerprintKey(fp.high, fp.low), row);
    return row;
  }

  /** Releases a row (an origin reaped); a shared registry keeps it, as other replicas may use it. */
  remove(row: number): void {
    if (this.shared) return;
    const id = this.ids[row];
    if (id === undefined) return;
    const fp = fingerprintOf(id);
    this.runtime.kernels.fmidbRemoveOrigin(this.base, row);
    this.ids[row] = undefined;
    this.rowById.delete(id);
    this.rowByKey.delete(fingerprintKey(fp.high, fp.low));
  }

  /** The fingerprint halves of a live row, read from the registry columns. */
  fingerprintAt(row: number): { high: number; low: number } {
    const u32 = this.runtime.views.u32;
    const r = this.base >>> 2;
    const high = u32[((this.base + u32[r + L.kRegistryFpHighOffsetField]!) >>> 2) + row]!;
    const low = u32[((this.base + u32[r + L.kRegistryFpLowOffsetField]!) >>> 2) + row]!;
    return { high, low };
  }

  /** The fingerprint of a live row as one number (fingerprintKey), read without allocating. */
  keyAt(row: number): number {
    const u32 = this.runtime.views.u32;
    const r = this.base >>> 2;
    const high = u32[((this.base + u32[r + L.kRegistryFpHighOffsetField]!) >>> 2) + row]!;
    const low = u32[((this.base + u32[r + L.kRegistryFpLowOffsetField]!) >>> 2) + row]!;
    return fingerprintKey(high, low);
  }

  /** Whether the last full digest compared (the kernel's seen column and epoch) listed this row. */
  listedInLastFull(row: number): boolean {
    const u32 = this.runtime.views.u32;
    const r = this.base >>> 2;
    const epoch = u32[r + L.kRegistryEpochField]!;
    return epoch !== 0 && u32[((this.base + u32[r + L.kRegistrySeenOffsetField]!) >>> 2) + row] === epoch;
  }

  /** Rows ever handed out (the loop bound for scans; rows below it may be free). */
  get rowCount(): number {
    return this.runtime.views.u32[(this.base >>> 2) + L.kRegistryRowCountField]!;
  }

  /** A copy of the registry's bytes (for the kernel property tests). */
  bytes(): Uint8Array {
    const total = this.runtime.views.u32[(this.base >>> 2) + L.kRegistryTotalBytesField]!;
    return this.runtime.views.u8.slice(this.base, this.base + total);
  }
}

/** Rows a registry may have: the slot index needs 2x as many slots, counted in i32. */
export const kRegistryCapacityLimit = 1 << 22;

export interface RegistryLayout {
  readonly slotCount: number;
  readonly fpHighOffset: number;
  readonly fpLowOffset: number;
  readonly seenOffset: number;
  readonly slotsOffset: number;
  readonly totalBytes: number;
}

/** Where each column sits; the slot index keeps its load at or below one half. */
export function registryLayout(capacity: number): RegistryLayout {
  let slotCount = 2;
  while (slotCount < 2 * capacity) slotCount *= 2;
  const fpHighOffset = L.kRegistryHeaderBytes;
  const fpLowOffset = fpHighOffset + 4 * capacity;
  const seenOffset = fpLowOffset + 4 * capacity;
  const slotsOffset = seenOffset + 4 * capacity;
  const totalBytes = slotsOffset + 4 * slotCount;
  return { slotCount, fpHighOffset, fpLowOffset, seenOffset, slotsOffset, totalBytes };
}

/** Writes an empty registry's header and zeroes its columns. */
export function initializeRegistry(runtime: Runtime, base: number, capacity: number, layout: RegistryLayout = registryLayout(capacity)): void {
  const views = runtime.views;
  views.u8.fill(0, base, base + layout.totalBytes);
  const u32 = views.u32;
  const r = base >>> 2;
  u32[r + L.kRegistryMagicField] = L.kRegistryMagic;
  u32[r + L.kRegistryVersionField] = L.kRegistryLayoutVersion;
  u32[r + L.kRegistryCapacityField] = capacity;
  u32[r + L.kRegistrySlotCountField] = layout.slotCount;
  u32[r + L.kRegistryFpHighOffsetField] = layout.fpHighOffset;
  u32[r + L.kRegistryFpLowOffsetField] = layout.fpLowOffset;
  u32[r + L.kRegistrySeenOffsetField] = layout.seenOffset;
  u32[r + L.kRegistrySlotsOffsetField] = layout.slotsOffset;
  u32[r + L.kRegistryTotalBytesField] = layout.totalBytes;
}
