/**
 * The replicated set of landscape definitions on one node: per name, the winning record
 * of landscape-record.ts, deletions kept as tombstones. Pure: no SQLite, no clock, no
 * I/O; the engine compiles and evaluates what it holds, and the caller carries records
 * between nodes.
 *
 * Bounds: at most landscapesMax live definitions (a new one beyond that is refused,
 * 'full'), and at most recordsMax records in all; past that the tombstone with the
 * oldest stamp is forgotten. Forgetting a tombstone lets a copy of the definition it
 * deleted, still travelling, bring the landscape back: recordsMax is sized so that only
 * deletions far older than any copy in flight are forgotten.
 */
import { compareRecords, type LandscapeRecord } from './landscape-record.js';

export type MergeOutcome =
  /** The record won and is now held. */
  | 'applied'
  /** The held record wins (or is the same): nothing changed. */
  | 'stale'
  /** A new live definition, but landscapesMax are live already: refused. */
  | 'full';

export class LandscapeRegistry {
  private readonly records = new Map<string, LandscapeRecord>();
  private readonly recordsMax: number;
  private readonly landscapesMax: number;
  private liveCount = 0;
  /** Tombstones forgotten because the store was full. */
  tombstonesForgotten = 0;

  constructor(recordsMax: number, landscapesMax: number) {
    if (recordsMax < landscapesMax) throw new RangeError(`recordsMax (${recordsMax}) must be at least landscapesMax (${landscapesMax})`);
    this.recordsMax = recordsMax;
    this.landscapesMax = landscapesMax;
  }

  get size(): number {
    return this.records.size;
  }

  get live(): number {
    return this.liveCount;
  }

  /** The record held for a name, tombstone or not. */
  get(name: string): LandscapeRecord | undefined {
    return this.records.get(name);
  }

  /** Whether a live definition of this name would be accepted: it replaces one, or there is room. */
  hasRoomFor(name: string): boolean {
    const current = this.records.get(name);
    return (current !== undefined && !current.deleted) || this.liveCount < this.landscapesMax;
  }

  /** Every record, tombstones included, in name order: what a node sends to converge a peer. */
  all(): LandscapeRecord[] {
    return [...this.records.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  merge(record: LandscapeRecord): MergeOutcome {
    const current = this.records.get(record.name);
    if (current !== undefined && compareRecords(record, current) <= 0) return 'stale';
    const wasLive = current !== undefined && !current.deleted;
    if (!record.deleted && !wasLive && this.liveCount >= this.landscapesMax) return 'full';
    this.records.set(record.name, record);
    this.liveCount += (record.deleted ? 0 : 1) - (wasLive ? 1 : 0);
    if (this.records.size > this.recordsMax) this.forgetOldestTombstone(record.name);
    return 'applied';
  }

  private forgetOldestTombstone(keep: string): void {
    let oldest: LandscapeRecord | undefined;
    for (const record of this.records.values()) {
      if (!record.deleted || record.name === keep) continue;
      if (oldest === undefined || compareRecords(record, oldest) < 0) oldest = record;
    }
    // live <= landscapesMax <= recordsMax < size, so some record is a tombstone; when
    // the only one is `keep` (a deletion of a name never defined here), it goes itself.
    const forget = oldest ?? this.records.get(keep)!;
    if (!forget.deleted) throw new Error('landscape registry over its bound without a tombstone to forget');
    this.records.delete(forget.name);
    this.tombstonesForgotten++;
  }
}
