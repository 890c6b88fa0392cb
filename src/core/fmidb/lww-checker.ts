import type { FmidbChange } from './entry.js';
import { isNewer } from './entry.js';

/** One violation: a replica's read of a key went from a newer write to an older one. */
export interface LwwViolation {
  readonly replica: string;
  readonly subject: string;
  readonly key: string;
  readonly before: { readonly stamp: number; readonly origin: string };
  readonly after: { readonly stamp: number; readonly origin: string };
}

/** Violations kept as examples (all are counted). */
const kExamplesMax = 20;

/**
 * The FMIDB's safety invariant, checked from the outside: no replica ever replaces the
 * value it reads for a (subject, key) by one with an older (stamp, origin id). Feed it
 * every replica's drainChanges() after every call into it (FmidbSimulation's onChanges
 * does); a departure or return resets the key, since the record left and came back.
 */
export class LwwChecker {
  private readonly last = new Map<string, Map<string, { stamp: number; origin: string }>>();
  changes = 0;
  violationCount = 0;
  readonly violations: LwwViolation[] = [];

  observe(replica: string, changes: readonly FmidbChange[]): void {
    let byKey = this.last.get(replica);
    if (byKey === undefined) {
      byKey = new Map();
      this.last.set(replica, byKey);
    }
    for (const c of changes) {
      this.changes++;
      const slot = c.subject + '\u0000' + c.key;
      if (c.cause !== 'write') {
        byKey.delete(slot);
        continue;
      }
      const before = byKey.get(slot);
      const after = { stamp: c.stamp, origin: c.origin };
      if (before !== undefined && !isNewer(after.stamp, after.origin, before.stamp, before.origin)) {
        this.violationCount++;
        if (this.violations.length < kExamplesMax) this.violations.push({ replica, subject: c.subject, key: c.key, before, after });
      }
      byKey.set(slot, after);
    }
  }

  /** One line for a failure message. */
  summary(): string {
    const examples = this.violations.slice(0, 3).map((v) => `${v.replica} read ${v.subject}/${v.key} at (${v.before.stamp}, ${v.before.origin}) then (${v.after.stamp}, ${v.after.origin})`);
    return `${this.violationCount} of ${this.changes} changes went back in time${examples.length > 0 ? `: ${examples.join('; ')}` : ''}`;
  }
}
