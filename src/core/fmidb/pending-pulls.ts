/** A pull under way: which version was asked for, until when, and who else announced it. */
export interface PendingPull {
  readonly high: number;
  readonly low: number;
  /** The version announced (and asked for). */
  version: number;
  untilMs: number;
  /** Another peer that announced this version while the pull was under way; null when none. */
  alternate: string | null;
  /** Pulls sent for it so far. */
  attempts: number;
}

/**
 * Pulls this replica sent and awaits, by origin fingerprint key. While a pull is
 * pending, announcements of the same or an older version are not pulled again, so a
 * replica that hears of an update from several peers at once fetches it once; the last
 * of those peers is kept as the alternate. A pull still unanswered at its deadline (the
 * pull or its answer was lost) is sent again to the alternate (the peer first asked when
 * no other announced it), at most attemptsMax times
 * in all: without that, a loss late in the epidemic, when no peer announces the version
 * any more, would leave it to the next full sync.
 *
 * Bounded: when full, the oldest pull is forgotten (at worst a duplicate pull follows).
 */
export class PendingPulls {
  private readonly items = new Map<number, PendingPull>();
  private readonly lengthMax: number;
  private readonly attemptsMax: number;

  constructor(lengthMax: number, attemptsMax: number) {
    this.lengthMax = lengthMax;
    this.attemptsMax = attemptsMax;
  }

  get length(): number {
    return this.items.size;
  }

  /** True when a pull of `version` or newer is under way; `from` then becomes its alternate. */
  covers(key: number, version: number, nowMs: number, from: string): boolean {
    const p = this.items.get(key);
    if (p === undefined || p.version < version || nowMs >= p.untilMs) return false;
    p.alternate = from;
    return true;
  }

  /**
   * A pull of `version` sent to `asked`, answered by `untilMs` or retried. `asked` is the
   * first alternate: when no other peer announces the version meanwhile, a lost pull or
   * answer is asked of the same peer again (losses are independent), instead of waiting
   * for an announcement that may never come.
   */
  add(key: number, high: number, low: number, version: number, untilMs: number, asked: string | null = null): void {
    const before = this.items.get(key);
    this.items.delete(key);
    if (this.items.size >= this.lengthMax) this.items.delete(this.items.keys().next().value!);
    this.items.set(key, { high, low, version, untilMs, alternate: asked, attempts: (before?.version === version ? before.attempts : 0) + 1 });
  }

  /** The origin arrived at `version`: a pull for it up to that version is done. */
  settle(key: number, version: number): void {
    const p = this.items.get(key);
    if (p !== undefined && p.version <= version) this.items.delete(key);
  }

  /**
   * Forgets pulls past their deadline (they were added in deadline order, so the scan
   * stops at the first live one) and hands each that has an alternate and attempts left
   * to `retry`, which pulls again (calling add) or declines.
   */
  expire(nowMs: number, retry: (key: number, pull: PendingPull) => void): void {
    const due: Array<[number, PendingPull]> = [];
    for (const [key, p] of this.items) {
      if (p.untilMs > nowMs) break;
      this.items.delete(key);
      if (p.alternate !== null && p.attempts < this.attemptsMax) due.push([key, p]);
    }
    for (const [key, p] of due) retry(key, p);
  }
}
