import type { EntryView, FmidbWrite } from './entry.js';
import type { ReplicaStore } from './replica-store.js';

/**
 * The simulator's stand-in for EntryStore (see replica-store.ts): every origin's writes
 * in one shared, append-only history per origin row (the replicas share a registry, so
 * rows agree). A replica holding an origin at version v holds exactly the origin's
 * writes up to v, less those overwritten by a later write up to v; collect() computes
 * that from the history instead of storing it per replica.
 */
export class SharedHistory {
  private readonly logs: EntryView[][] = [];

  /** Writes recorded so far, over all origins. */
  entries = 0;

  record(origin: number, version: number, writes: readonly FmidbWrite[]): void {
    let log = this.logs[origin];
    if (log === undefined) {
      log = [];
      this.logs[origin] = log;
    }
    for (const w of writes) log.push({ subject: w.subject, key: w.key, value: w.value, version });
    this.entries += writes.length;
  }

  collect(origin: number, base: number, upTo: number, out: EntryView[]): void {
    const log = this.logs[origin];
    if (log === undefined) return;
    const first = firstAbove(log, base);
    let last = firstAbove(log, upTo) - 1;
    const start = out.length;
    // Newest first, skipping writes that a later one in range overwrote; then reversed.
    for (; last >= first; last--) {
      const e = log[last]!;
      if (!overwritten(out, start, e)) out.push(e);
    }
    reverseFrom(out, start);
  }

  estimate(origin: number, base: number): number {
    const log = this.logs[origin];
    return log === undefined ? 0 : log.length - firstAbove(log, base);
  }
}

/** One replica's view of a SharedHistory. */
export class HistoryStore implements ReplicaStore {
  readonly keepsValues = false;
  private readonly shared: SharedHistory;

  constructor(shared: SharedHistory) {
    this.shared = shared;
  }

  write(origin: number, _originId: string, version: number, writes: readonly FmidbWrite[]): void {
    this.shared.record(origin, version, writes);
  }

  apply(): void {
    // The history already holds every origin's writes; the replica's versions say which it has.
  }

  merge(): number {
    return 0; // as apply(): the history holds every write of the node's earlier lives too
  }

  collect(origin: number, base: number, upTo: number, out: EntryView[]): void {
    this.shared.collect(origin, base, upTo, out);
  }

  estimate(origin: number, base: number): number {
    return this.shared.estimate(origin, base);
  }
}

/** The first index whose version exceeds v (versions never decrease along a log). */
function firstAbove(log: readonly EntryView[], v: number): number {
  let lo = 0;
  let hi = log.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (log[mid]!.version > v) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Whether out[start..] already holds a write of e's (subject, key); a scan, as ranges are a batch or two. */
function overwritten(out: readonly EntryView[], start: number, e: EntryView): boolean {
  for (let i = start; i < out.length; i++) {
    const o = out[i]!;
    if (o.key === e.key && o.subject === e.subject) return true;
  }
  return false;
}

function reverseFrom(out: EntryView[], start: number): void {
  for (let i = start, j = out.length - 1; i < j; i++, j--) {
    const t = out[i]!;
    out[i] = out[j]!;
    out[j] = t;
  }
}
