/**
 * The FMIDB's data model. A record is a set of key/values about a node (the subject),
 * each value written by some node (its origin) and stamped with the origin's hybrid
 * clock; the stamp is also the origin's version number. Replication runs per origin
 * (Scuttlebutt); reads resolve values of the same (subject, key) from several origins
 * by last writer wins on (stamp, origin id).
 */
export type FmidbValue = string | number | null;

/** One write of setMany: null deletes the key. */
export interface FmidbWrite {
  readonly subject: string;
  readonly key: string;
  readonly value: FmidbValue;
}

/** An entry as replicated: what the delta codec reads and writes. */
export interface EntryView {
  readonly subject: string;
  readonly key: string;
  readonly value: FmidbValue;
  /** The origin's stamp of the write. */
  readonly version: number;
}

/** An entry a replica holds; origin is its registry row, originId the writer's id. */
export class StoredEntry implements EntryView {
  readonly subject: string;
  readonly key: string;
  readonly value: FmidbValue;
  readonly version: number;
  readonly origin: number;
  readonly originId: string;
  /** Written by this replica since it started (see the restart resync in fmidb-replica.ts). */
  readonly owned: boolean;
  /** Replaced by a newer write of its origin; dropped from the log at the next compaction. */
  dead = false;

  constructor(subject: string, key: string, value: FmidbValue, version: number, origin: number, originId: string, owned: boolean) {
    this.subject = subject;
    this.key = key;
    this.value = value;
    this.version = version;
    this.origin = origin;
    this.originId = originId;
    this.owned = owned;
  }
}

/** Last writer wins: true when (version a, origin a) is newer than (version b, origin b). */
export function isNewer(aVersion: number, aOrigin: string, bVersion: number, bOrigin: string): boolean {
  return aVersion > bVersion || (aVersion === bVersion && aOrigin > bOrigin);
}

/** What changed in a replica's read view (drainChanges); value null means the key is gone. */
export interface FmidbChange {
  readonly subject: string;
  readonly key: string;
  readonly value: FmidbValue;
  /** The stamp of the value now read (or of the value removed). */
  readonly stamp: number;
  /** The id of the node that wrote it. */
  readonly origin: string;
  /**
   * 'write': a newer value (local or replicated); 'departed': the subject departed and
   * its record is hidden; 'returned': a departed subject came back before it was reaped.
   */
  readonly cause: 'write' | 'departed' | 'returned';
}
