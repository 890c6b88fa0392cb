import type { FmidbChange, FmidbValue } from '../../core/fmidb/entry.js';

/** One key's value as the view reads it: the winner the replica reported last. */
export interface ViewEntry {
  readonly key: string;
  readonly value: string | number;
  readonly origin: string;
  readonly stamp: number;
}

/**
 * The main thread's read view of the FMIDB replica that runs in the agent's worker: the
 * winner of every (subject, key), kept from the replica's change stream (a change is
 * the new winner, or null when the key is gone: deleted, or its subject departed). It
 * answers the API's reads without a round trip to the worker. Its size is the
 * replica's read view, which the replica bounds (originsMax, keysPerNodeMax).
 */
export class FmidbView {
  private readonly subjectsById = new Map<string, Map<string, ViewEntry>>();

  apply(change: FmidbChange): void {
    const value: FmidbValue = change.value;
    let keys = this.subjectsById.get(change.subject);
    if (value === null) {
      if (keys === undefined) return;
      keys.delete(change.key);
      if (keys.size === 0) this.subjectsById.delete(change.subject);
      return;
    }
    if (keys === undefined) {
      keys = new Map();
      this.subjectsById.set(change.subject, keys);
    }
    keys.set(change.key, { key: change.key, value, origin: change.origin, stamp: change.stamp });
  }

  /** The value of a subject's key, or undefined. */
  get(subject: string, key: string): string | number | undefined {
    return this.subjectsById.get(subject)?.get(key)?.value;
  }

  /** A subject's entries, sorted by key (as FmidbReplica.entriesOf). */
  entriesOf(subject: string): ViewEntry[] {
    const keys = this.subjectsById.get(subject);
    if (keys === undefined) return [];
    return [...keys.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /** Subjects with at least one value. */
  subjects(): string[] {
    return [...this.subjectsById.keys()];
  }
}
