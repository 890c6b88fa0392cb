/**
 * Versions this replica learned (or wrote) and has not yet announced: one item per
 * origin row, so a newer version of an origin replaces the one waiting (and goes to the
 * back). Each item is announced in one round, to gossipFanout peers at once, then
 * leaves (infect and die). Bounded: when full, the oldest item is dropped and counted;
 * the periodic full sync repairs what that loses.
 */
export class AnnounceQueue {
  private readonly versions = new Map<number, number>();
  private readonly lengthMax: number;
  /** When the queue last went from empty to waiting (local ms): how long its oldest item has waited, near enough. */
  private waitingSinceMs = Infinity;
  dropped = 0;

  constructor(lengthMax: number) {
    this.lengthMax = lengthMax;
  }

  get length(): number {
    return this.versions.size;
  }

  /** When the oldest waiting item was queued (items a round left behind count from that round), or Infinity. */
  get oldestAtMs(): number {
    return this.versions.size === 0 ? Infinity : this.waitingSinceMs;
  }

  add(row: number, version: number, nowMs: number): void {
    const waiting = this.versions.get(row);
    if (waiting !== undefined) {
      if (waiting >= version) return;
      this.versions.delete(row);
    } else if (this.versions.size >= this.lengthMax) {
      this.versions.delete(this.versions.keys().next().value!);
      this.dropped++;
    }
    if (this.versions.size === 0) this.waitingSinceMs = nowMs;
    this.versions.set(row, version);
  }

  delete(row: number): void {
    this.versions.delete(row);
  }

  /** A round sent what it could: what is left waits from now on. */
  roundDone(nowMs: number): void {
    this.waitingSinceMs = nowMs;
  }

  /** The waiting rows, oldest first (the caller removes what it sends with delete). */
  rows(): IterableIterator<number> {
    return this.versions.keys();
  }
}
