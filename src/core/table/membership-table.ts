import type { Runtime } from '../runtime/runtime.js';
import type { MemoryViews } from '../runtime/memory-views.js';
import * as F from '../wire/format.js';
import type { NodeId, WireAddress } from '../wire/message.js';
import { WireError } from '../wire/wire-error.js';
import * as L from './layout.js';
import { initializeTable, readTableLayout, tableLayout, type TableLayout } from './table-layout.js';

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
  readonly idHigh: Uint32Array;
  readonly idLow: Uint32Array;
  readonly incarnation: Uint32Array;
  readonly heartbeat: Uint32Array;
  readonly port: Uint16Array;
  readonly status: Uint8Array;
  readonly family: Uint8Array;
  readonly flags: Uint8Array;
  readonly address: Uint8Array;
  readonly stateChangeMs: Uint32Array;
  readonly lastHeardMs: Uint32Array;
  readonly fdMeanMs: Float32Array;
  readonly fdVarianceMs2: Float32Array;
  readonly fdSamples: Uint16Array;
  readonly deadlineMs: Uint32Array;
  private readonly runtime: Runtime;
  private readonly header: Uint32Array;

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
    this.idHigh = new Uint32Array(buffer, base + o.idHigh, n);
    this.idLow = new Uint32Array(buffer, base + o.idLow, n);
    this.incarnation = new Uint32Array(buffer, base + o.incarnation, n);
    this.heartbeat = new Uint32Array(buffer, base + o.heartbeat, n);
    this.port = new Uint16Array(buffer, base + o.port, n);
    this.status = new Uint8Array(buffer, base + o.status, n);
    this.family = new Uint8Array(buffer, base + o.family, n);
    this.flags = new Uint8Array(buffer, base + o.flags, n);
    this.address = new Uint8Array(buffer, base + o.address, n * L.kAddressBytes);
    this.stateChangeMs = new Uint32Array(buffer, base + o.stateChange, n);
    this.lastHeardMs = new Uint32Array(buffer, base + o.lastHeard, n);
    this.fdMeanMs = new Float32Array(buffer, base + o.fdMean, n);
    this.fdVarianceMs2 = new Float32Array(buffer, base + o.fdVariance, n);
    this.fdSamples = new Uint16Array(buffer, base + o.fdSamples, n);
    this.deadlineMs = new Uint32Array(buffer, base + o.deadline, n);
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
    this.family[row] = address.family;
    this.port[row] = address.port;
    this.address.fill(0, row * L.kAddressBytes, (row + 1) * L.kAddressBytes);
    this.address.set(address.bytes.subarray(0, address.family === 6 ? 16 : 4), row * L.kAddressBytes);
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
