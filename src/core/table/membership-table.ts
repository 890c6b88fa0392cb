import type { Runtime } from '../runtime/runtime.js';
import type { MemoryViews } from '../runtime/memory-views.js';
import * as F from '../wire/format.js';
import type { NodeId, WireAddress } from '../wire/message.js';
import { WireError } from '../wire/wire-error.js';
import * as L from './layout.js';
import { initializeTable, readTableLayout, tableLayout, type TableLayout } from './table-layout.js';
import { identityShared, sharedTableOf, unshareIdentity } from './shared-identity.js';

/** A member as an object, for cold paths (CLI, API, tests). */
export interface MemberRow {
  readonly row: number;
  readonly id: NodeId;
  readonly address: WireAddress;
  readonly incarnation: number;
  readonly heartbeat: number;
  readonly status: number;
  /** Local time of the last status change, u32 ms. */
  readonly stateChangeMs: number;
  /** Local time the heartbeat last grew, u32 ms. */
  readonly lastHeardMs: number;
}

/** Thrown when a member would not fit: the capacity is fixed when the table is made. */
export class TableFullError extends WireError {
  constructor(capacity: number) {
    super(F.kErrTableFull, `membership table capacity of ${capacity} reached; create the table with a larger capacity`);
    this.name = 'TableFullError';
  }
}

/**
 * The membership table in shared memory (layout.ts): a struct of arrays that the
 * kernels update in place and that any thread reads without copying. This class
 * gives typed column views and object accessors for cold paths; it adds no state of
 * its own, so a second instance over the same memory (another thread) sees the same.
 */
export class MembershipTable {
  readonly base: number;
  readonly layout: TableLayout;
  readonly incarnation: Uint32Array;
  readonly heartbeat: Uint32Array;
  readonly status: Uint8Array;
  readonly flags: Uint8Array;
  readonly stateChangeMs: Uint32Array;
  readonly lastHeardMs: Uint32Array;
  readonly fdMeanMs: Float32Array;
  readonly fdVarianceMs2: Float32Array;
  readonly fdSamples: Uint16Array;
  readonly deadlineMs: Uint32Array;
  private readonly runtime: Runtime;
  private readonly header: Uint32Array;
  // The identity columns move when a table stops sharing them (shared-identity.ts), so
  // they are views bound to the header's offsets, checked at each access.
  private idHighView!: Uint32Array;
  private idLowView!: Uint32Array;
  private portView!: Uint16Array;
  private familyView!: Uint8Array;
  private addressView!: Uint8Array;
  private boundIdHighOffset = -1;

  /** Allocates and initialises a table for `capacity` members in the runtime's memory. */
  static create(runtime: Runtime, capacity: number): MembershipTable {
    const layout = tableLayout(capacity);
    const base = runtime.allocate(layout.totalBytes, 8);
    initializeTable(runtime.views, base, layout);
    return new MembershipTable(runtime, base);
  }

  /** Attaches to a table that already exists at `base` (made by another thread). */
  constructor(runtime: Runtime, base: number) {
    this.runtime = runtime;
    this.base = base;
    const views: MemoryViews = runtime.views;
    const layout = readTableLayout(views, base);
    this.layout = layout;
    const buffer = views.buffer;
    const n = layout.capacity;
    const o = layout.offsets;
    this.header = new Uint32Array(buffer, base, L.kHeaderFieldCount);
    this.incarnation = new Uint32Array(buffer, base + o.incarnation, n);
    this.heartbeat = new Uint32Array(buffer, base + o.heartbeat, n);
    this.status = new Uint8Array(buffer, base + o.status, n);
    this.flags = new Uint8Array(buffer, base + o.flags, n);
    this.bindIdentity();
    this.stateChangeMs = new Uint32Array(buffer, base + o.stateChange, n);
    this.lastHeardMs = new Uint32Array(buffer, base + o.lastHeard, n);
    this.fdMeanMs = new Float32Array(buffer, base + o.fdMean, n);
    this.fdVarianceMs2 = new Float32Array(buffer, base + o.fdVariance, n);
    this.fdSamples = new Uint16Array(buffer, base + o.fdSamples, n);
    this.deadlineMs = new Uint32Array(buffer, base + o.deadline, n);
  }

  get idHigh(): Uint32Array {
    if (this.header[L.kHeaderIdHighOffsetField] !== this.boundIdHighOffset) this.bindIdentity();
    return this.idHighView;
  }

  get idLow(): Uint32Array {
    if (this.header[L.kHeaderIdHighOffsetField] !== this.boundIdHighOffset) this.bindIdentity();
    return this.idLowView;
  }

  get port(): Uint16Array {
    if (this.header[L.kHeaderIdHighOffsetField] !== this.boundIdHighOffset) this.bindIdentity();
    return this.portView;
  }

  get family(): Uint8Array {
    if (this.header[L.kHeaderIdHighOffsetField] !== this.boundIdHighOffset) this.bindIdentity();
    return this.familyView;
  }

  /** 16 bytes per row (IPv4 in the first 4). */
  get address(): Uint8Array {
    if (this.header[L.kHeaderIdHighOffsetField] !== this.boundIdHighOffset) this.bindIdentity();
    return this.addressView;
  }

  /** Whether this table reads its identity columns from a shared table (shared-identity.ts). */
  get identityShared(): boolean {
    return identityShared(this.header, 0);
  }

  /** Copies a shared identity into this table's own columns (no-op when not sharing). */
  unshareIdentity(): void {
    unshareIdentity(this.runtime.views, this.base);
  }

  private bindIdentity(): void {
    const buffer = this.runtime.views.buffer;
    const h = this.header;
    const n = this.layout.capacity;
    const at = (field: number): number => (this.base + h[field]!) >>> 0;
    this.idHighView = new Uint32Array(buffer, at(L.kHeaderIdHighOffsetField), n);
    this.idLowView = new Uint32Array(buffer, at(L.kHeaderIdLowOffsetField), n);
    this.portView = new Uint16Array(buffer, at(L.kHeaderPortOffsetField), n);
    this.familyView = new Uint8Array(buffer, at(L.kHeaderFamilyOffsetField), n);
    this.addressView = new Uint8Array(buffer, at(L.kHeaderAddressOffsetField), n * L.kAddressBytes);
    this.boundIdHighOffset = h[L.kHeaderIdHighOffsetField]!;
  }

  get capacity(): number {
    return this.layout.capacity;
  }

  /** Rows ever handed out; scan rows below this, skipping status 0 (free). */
  get rowCount(): number {
    return Atomics.load(this.header, L.kHeaderRowCountField);
  }

  /** Bumped by every kernel call that changed something; cheap change detection for readers. */
  get generation(): number {
    return Atomics.load(this.header, L.kHeaderGenerationField);
  }

  /** Members in use (rows handed out minus rows released). */
  get size(): number {
    return this.rowCount - Atomics.load(this.header, L.kHeaderFreeCountField);
  }

  /** Arms the row's deadline (suspicion expiry or reap time), in local u32 ms. */
  armDeadline(row: number, deadlineMs: number): void {
    this.deadlineMs[row] = deadlineMs >>> 0;
    this.flags[row] = (this.flags[row]! | L.kRowFlagDeadlineArmed) & ~L.kRowFlagDeadlineReported;
  }

  disarmDeadline(row: number): void {
    this.flags[row] = this.flags[row]! & ~(L.kRowFlagDeadlineArmed | L.kRowFlagDeadlineReported);
  }

  find(id: NodeId): number {
    return this.runtime.kernels.findRow(this.base, id.high, id.low);
  }

  /**
   * Inserts a member (or updates it when present) and returns its row. Throws
   * TableFullError when the table is at capacity.
   */
  upsert(id: NodeId, address: WireAddress, incarnation: number, status: number, nowMs: number): number {
    if (status <= F.kStatusEmpty || status >= F.kStatusLimit) throw new RangeError(`status must be 1..4, got ${status}`);
    let row = this.find(id);
    if (row < 0) {
      row = this.runtime.kernels.insertRow(this.base, id.high, id.low);
      if (row < 0) throw new TableFullError(this.capacity);
      this.heartbeat[row] = 0;
      this.fdMeanMs[row] = 0;
      this.fdVarianceMs2[row] = 0;
      this.fdSamples[row] = 0;
      this.deadlineMs[row] = 0;
      this.flags[row] = 0;
      this.lastHeardMs[row] = nowMs >>> 0;
    }
    this.setAddress(row, address);
    this.incarnation[row] = incarnation;
    if (this.status[row] !== status) this.stateChangeMs[row] = nowMs >>> 0;
    this.status[row] = status;
    this.touch();
    return row;
  }

  /** Releases a row (a reaped tombstone). */
  remove(row: number): void {
    this.runtime.kernels.removeRow(this.base, row);
  }

  setAddress(row: number, address: WireAddress): void {
    if (identityShared(this.header, 0)) {
      // The kernels' rule (shared-identity.ts): only the table that claimed a shared row
      // writes its address there; any other change is written to this table's own copy.
      const u32 = this.runtime.views.u32;
      const shared = sharedTableOf(u32, this.base);
      const sharedStatus = shared + u32[(shared >>> 2) + L.kHeaderStatusOffsetField]! + row;
      const u8 = this.runtime.views.u8;
      if (u8[sharedStatus] === F.kStatusEmpty) u8[sharedStatus] = F.kStatusAlive;
      else if (!this.sameAddress(row, address)) this.unshareIdentity();
      else return;
    }
    this.family[row] = address.family;
    this.port[row] = address.port;
    this.address.fill(0, row * L.kAddressBytes, (row + 1) * L.kAddressBytes);
    this.address.set(address.bytes.subarray(0, address.family === 6 ? 16 : 4), row * L.kAddressBytes);
  }

  private sameAddress(row: number, address: WireAddress): boolean {
    if (this.family[row] !== address.family || this.port[row] !== address.port) return false;
    const stored = this.address;
    const size = address.family === 6 ? 16 : address.family === 4 ? 4 : 0;
    for (let i = 0; i < L.kAddressBytes; i++) if (stored[row * L.kAddressBytes + i] !== (i < size ? address.bytes[i]! : 0)) return false;
    return true;
  }

  /** Marks the row as the local node, which merges never overwrite. */
  markSelf(row: number): void {
    this.flags[row] = this.flags[row]! | L.kRowFlagSelf;
  }

  /** Records that a change was made outside the kernels, for readers watching the generation. */
  touch(): void {
    Atomics.add(this.header, L.kHeaderGenerationField, 1);
  }

  get(row: number): MemberRow {
    return {
      row,
      id: { high: this.idHigh[row]!, low: this.idLow[row]! },
      address: { family: this.family[row]! as 0 | 4 | 6, bytes: this.address.slice(row * 16, row * 16 + 16), port: this.port[row]! },
      incarnation: this.incarnation[row]!,
      heartbeat: this.heartbeat[row]!,
      status: this.status[row]!,
      stateChangeMs: this.stateChangeMs[row]!,
      lastHeardMs: this.lastHeardMs[row]!,
    };
  }

  /** Every member in use, as objects (cold path). */
  members(): MemberRow[] {
    const out: MemberRow[] = [];
    for (let row = 0; row < this.rowCount; row++) if (this.status[row] !== F.kStatusEmpty) out.push(this.get(row));
    return out;
  }

  /** The table's bytes, for tests that compare two tables exactly. */
  bytes(): Uint8Array {
    return this.runtime.views.u8.slice(this.base, this.base + this.layout.totalBytes);
  }
}
