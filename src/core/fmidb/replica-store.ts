import type { EntryView, FmidbWrite } from './entry.js';

/**
 * Where a replica keeps the entries of each origin. The replica runs the protocol
 * (versions, digests, queues) the same way over either implementation:
 *  - EntryStore (entry-store.ts) keeps every value and serves reads: the real thing;
 *  - HistoryStore (history-store.ts) keeps none: the simulator's stand-in for farms of
 *    10,000 nodes, whose 5 x 10^8 replicated values would not fit in one process. It
 *    derives what a replica holds from its versions and the origins' write histories,
 *    which is exact because a replica applies each origin's entries as whole groups
 *    (see wire-format.ts); test/fmidb-sim.test.ts proves both send the same bytes.
 */
export interface ReplicaStore {
  /** False for the simulator's history store: reads and tombstones are then not served. */
  readonly keepsValues: boolean;
  /** Records a batch of local writes by this replica's own origin row at `version`. */
  write(origin: number, originId: string, version: number, writes: readonly FmidbWrite[]): void;
  /** Applies replicated entries of an origin (all newer than what the replica held, oldest first). */
  apply(origin: number, originId: string, entries: readonly EntryView[]): void;
  /**
   * Merges entries of an origin that may be older than some the replica holds (this node's
   * own origin, written by an earlier life): per (subject, key) the newer entry stays.
   * Returns how many it took.
   */
  merge(origin: number, originId: string, entries: readonly EntryView[]): number;
  /** Appends the origin's entries with version in (base, upTo] that the replica holds, oldest first. */
  collect(origin: number, base: number, upTo: number, out: EntryView[]): void;
  /** About how many entries collect(origin, base, upTo) would give (an upper bound). */
  estimate(origin: number, base: number): number;
}
