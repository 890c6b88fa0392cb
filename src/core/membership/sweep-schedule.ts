import * as L from '../table/layout.js';
import type { MembershipTable } from '../table/membership-table.js';
import * as F from '../wire/format.js';

/** Phi needs this many heartbeat intervals before it judges a member (the sweep kernel's samplesMin). */
export const kSweepSamplesMin = 3;
/** A full sweep queues the rows due within this many probe intervals; the rest wait for the next full sweep. */
const kQueueSpanIntervals = 32;
/** Keys stay within 2^30 ms of the clock, so a wrapping u32 difference never flips sign. */
const kKeyAheadMax = 2 ** 30;

/**
 * The failure detector's sweep, made incremental: which rows can the sweep report, and
 * when. The full sweep (the sweep kernel) visits every row of the table at every probe
 * interval to find the few whose heartbeat went silent, whose suspicion expired or whose
 * tombstone is due: O(N) per node per interval, O(N²) for a simulator of N nodes, and
 * nearly always for nothing (in a farm of 10,000, a member's heartbeat reaches a given
 * node a few times an hour, so its silence limit is hours away).
 *
 * Each row has a due time: the earliest time at which the sweep could report it, given
 * what the table holds now (its last heartbeat, its phi statistics, the silence limit,
 * its armed deadline, its status and flags). A min-heap holds (due time, row) for the
 * rows due before `horizonMs`, at most one live entry per row (`queued` maps a row to
 * its live entry's due time; an entry whose due time differs is stale and skipped). A
 * sweep pops the entries due by now, checks each row exactly as the kernel does, and
 * reports the rows that crossed, in row order, as the kernel would; a row that did not
 * cross is queued again at its new due time. A full sweep (the kernel, then a rebuild of
 * the queue) runs when the horizon is reached, when the silence limit shrank below one
 * a due time was computed with, or when stale entries pile up.
 *
 * A due time may be early (the check then finds nothing and re-queues the row) but
 * never late: every change to what a due time depends on reaches note() (the merge
 * kernel's changed rows, settle(), every deadline armed), and a due time only moves
 * earlier through such a change. So each sweep reports exactly the rows, in the same
 * order and with the same flags set, as the full sweep at the same moment
 * (test/sweep-schedule.test.ts runs farms both ways and compares everything).
 */
export class SweepSchedule {
  /** Every row due before this time has a live entry in the heap. */
  horizonMs = -Infinity;
  /** Full sweeps run (the kernel and a rebuild of the queue). */
  fullSweeps = 0;
  /** Rows checked by incremental sweeps. */
  rowsChecked = 0;
  private readonly table: MembershipTable;
  private readonly spanMs: number;
  private keys = new Float64Array(16);
  private rows = new Int32Array(16);
  private size = 0;
  private readonly queued = new Map<number, number>();
  /** The largest silence limit a queued due time was computed with since the last rebuild. */
  private silenceKeyedMs = 0;
  private due = new Int32Array(16);

  constructor(table: MembershipTable, probeIntervalMs: number) {
    this.table = table;
    this.spanMs = kQueueSpanIntervals * probeIntervalMs;
  }

  /** Whether the next sweep at `now` with silence limit `silenceMaxMs` must be a full one. */
  fullSweepDue(now: number, silenceMaxMs: number): boolean {
    return now >= this.horizonMs || silenceMaxMs < this.silenceKeyedMs || this.size > 2 * this.table.rowCount + 64;
  }

  /**
   * After a full sweep at `now`: queues every row due within the span and sets the
   * horizon at the earliest due time of the rows left out.
   */
  rebuild(now: number, silenceMaxMs: number, phiKSquared: number, varianceMinMs2: number): void {
    this.fullSweeps++;
    this.size = 0;
    this.queued.clear();
    this.silenceKeyedMs = silenceMaxMs;
    const limit = now + this.spanMs;
    let horizon = Infinity;
    const rows = this.table.rowCount;
    for (let row = 0; row < rows; row++) {
      const key = this.dueAt(row, now, silenceMaxMs, phiKSquared, varianceMinMs2);
      if (key < limit) this.push(key, row);
      else if (key < horizon) horizon = key;
    }
    this.horizonMs = horizon;
  }

  /** A row's due time may have moved (its heartbeat, statistics, status, flags or deadline changed). */
  note(row: number, now: number, silenceMaxMs: number, phiKSquared: number, varianceMinMs2: number): void {
    if (this.horizonMs === -Infinity) return;
    // A row left out because it was due after the horizon with this limit may be due
    // before it with a smaller one: a smaller limit from now on means a full sweep.
    if (silenceMaxMs > this.silenceKeyedMs) this.silenceKeyedMs = silenceMaxMs;
    const key = this.dueAt(row, now, silenceMaxMs, phiKSquared, varianceMinMs2);
    if (key >= this.horizonMs) return;
    const current = this.queued.get(row);
    if (current !== undefined && current <= key) return;
    this.push(key, row);
  }

  /**
   * The incremental sweep at `now`: checks the rows due by now as the sweep kernel
   * does (setting the same flags) and writes the kernel's output (row, kind records,
   * in row order) to `out`. Returns the count.
   */
  sweep(now: number, silenceMaxMs: number, phiKSquared: number, varianceMinMs2: number, i32: Int32Array, out: number, outCapacity: number): number {
    if (silenceMaxMs > this.silenceKeyedMs) this.silenceKeyedMs = silenceMaxMs;
    let count = 0;
    while (this.size > 0 && this.keys[0]! <= now) {
      const key = this.keys[0]!;
      const row = this.rows[0]!;
      this.pop();
      if (this.queued.get(row) !== key) continue;
      this.queued.delete(row);
      if (count === this.due.length) this.due = grow(this.due);
      this.due[count++] = row;
    }
    const due = this.due.subarray(0, count);
    due.sort();
    this.rowsChecked += count;
    const o = out >>> 2;
    i32[o + L.kOutCountField] = 0;
    i32[o + L.kOutOverflowField] = 0;
    let reported = 0;
    for (let i = 0; i < count; i++) {
      const row = due[i]!;
      const kind = this.check(row, now, silenceMaxMs, phiKSquared, varianceMinMs2);
      if (kind !== 0) {
        if (reported < outCapacity) {
          i32[o + L.kOutHeaderWords + 2 * reported] = row;
          i32[o + L.kOutHeaderWords + 2 * reported + 1] = kind;
          reported++;
        } else i32[o + L.kOutOverflowField] = i32[o + L.kOutOverflowField]! + 1;
        continue;
      }
      const key = this.dueAt(row, now, silenceMaxMs, phiKSquared, varianceMinMs2);
      if (key < this.horizonMs) this.push(key > now ? key : Math.floor(now) + 1, row);
    }
    i32[o + L.kOutCountField] = reported;
    return reported;
  }

  /** Entries in the heap, live and stale. */
  get queuedEntries(): number {
    return this.size;
  }

  /**
   * The sweep kernel's test of one row at `now` (asm/table.ts sweep, same arithmetic):
   * sets the row's reported flag and returns the kind, or 0.
   */
  private check(row: number, now: number, silenceMaxMs: number, phiKSquared: number, varianceMinMs2: number): number {
    const t = this.table;
    const status = t.status[row]!;
    if (status === F.kStatusEmpty) return 0;
    const flags = t.flags[row]!;
    if ((flags & L.kRowFlagSelf) !== 0) return 0;
    const nowU = now >>> 0;
    if (status === F.kStatusAlive) {
      if ((flags & L.kRowFlagSilenceReported) !== 0) return 0;
      const elapsed = (nowU - t.lastHeardMs[row]!) >>> 0;
      let silent = elapsed > silenceMaxMs >>> 0;
      if (!silent && t.fdSamples[row]! >= kSweepSamplesMin) {
        const d = elapsed - t.fdMeanMs[row]!;
        if (d > 0) {
          const v = t.fdVarianceMs2[row]!;
          silent = d * d > phiKSquared * (v > varianceMinMs2 ? v : varianceMinMs2);
        }
      }
      if (!silent) return 0;
      t.flags[row] = flags | L.kRowFlagSilenceReported;
      return L.kSweepSilent;
    }
    if ((flags & (L.kRowFlagDeadlineArmed | L.kRowFlagDeadlineReported)) !== L.kRowFlagDeadlineArmed) return 0;
    if (((nowU - t.deadlineMs[row]!) | 0) < 0) return 0;
    t.flags[row] = flags | L.kRowFlagDeadlineReported;
    return status === F.kStatusSuspect ? L.kSweepSuspicionExpired : L.kSweepReapable;
  }

  /**
   * The earliest time (engine ms, whole) at which check() could report the row if the
   * table stays as it is, or Infinity when only a change to the row could make it due.
   * Never later than the true time; may be earlier by a millisecond (the phi bound is
   * computed with a square root and rounded down).
   */
  private dueAt(row: number, now: number, silenceMaxMs: number, phiKSquared: number, varianceMinMs2: number): number {
    const t = this.table;
    const status = t.status[row]!;
    if (status === F.kStatusEmpty) return Infinity;
    const flags = t.flags[row]!;
    if ((flags & L.kRowFlagSelf) !== 0) return Infinity;
    const base = Math.floor(now);
    const nowU = now >>> 0;
    if (status === F.kStatusAlive) {
      if ((flags & L.kRowFlagSilenceReported) !== 0) return Infinity;
      // Silent once elapsed > silenceMax, or (with enough samples) once
      // (elapsed - mean)² > k²·max(v, vMin) with elapsed > mean.
      let after = (silenceMaxMs >>> 0) + 1;
      if (t.fdSamples[row]! >= kSweepSamplesMin) {
        const v = t.fdVarianceMs2[row]!;
        const phi = Math.floor(t.fdMeanMs[row]! + Math.sqrt(phiKSquared * (v > varianceMinMs2 ? v : varianceMinMs2))) - 1;
        if (phi < after) after = phi < 0 ? 0 : phi;
      }
      const heard = t.lastHeardMs[row]!;
      const sinceHeard = (nowU - heard) >>> 0;
      if (sinceHeard >= after) return base;
      const ahead = after - sinceHeard;
      return base + (ahead < kKeyAheadMax ? ahead : kKeyAheadMax);
    }
    if ((flags & (L.kRowFlagDeadlineArmed | L.kRowFlagDeadlineReported)) !== L.kRowFlagDeadlineArmed) return Infinity;
    const ahead = (t.deadlineMs[row]! - nowU) | 0;
    return base + (ahead > 0 ? ahead : 0);
  }

  private push(key: number, row: number): void {
    if (this.size === this.keys.length) {
      const keys = new Float64Array(this.keys.length * 2);
      keys.set(this.keys);
      this.keys = keys;
      this.rows = grow(this.rows);
    }
    this.queued.set(row, key);
    const keys = this.keys;
    const rows = this.rows;
    let i = this.size++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (keys[parent]! <= key) break;
      keys[i] = keys[parent]!;
      rows[i] = rows[parent]!;
      i = parent;
    }
    keys[i] = key;
    rows[i] = row;
  }

  private pop(): void {
    const keys = this.keys;
    const rows = this.rows;
    const n = --this.size;
    if (n === 0) return;
    const key = keys[n]!;
    const row = rows[n]!;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && keys[child + 1]! < keys[child]!) child++;
      if (keys[child]! >= key) break;
      keys[i] = keys[child]!;
      rows[i] = rows[child]!;
      i = child;
    }
    keys[i] = key;
    rows[i] = row;
  }
}

function grow(a: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> {
  const b = new Int32Array(a.length * 2);
  b.set(a);
  return b;
}
