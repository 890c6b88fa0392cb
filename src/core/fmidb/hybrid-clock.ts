/**
 * A hybrid logical clock (Kulkarni et al., 2014): stamps that follow wall-clock time
 * yet never go backwards and always exceed every stamp this replica has seen, so a
 * write made after reading a value wins over it whatever the clocks say.
 *
 * A stamp is the wall-clock millisecond, or one more than the last stamp when that is
 * higher: the logical count shares the millisecond's place. Why no separate logical
 * bits: a batch of writes shares one stamp, so a node stamps a few times a second, and
 * millisecond stamps keep the versions in digests short (two varint bytes for versions
 * within 16 s of each other). Writing faster than one batch a millisecond runs the
 * clock ahead of the wall, which is harmless: it catches up when writes slow down.
 *
 * In the FMIDB a stamp is both a write's last-writer-wins timestamp and its origin's
 * version number: an origin's stamps only grow, across restarts too, as long as its
 * wall clock does not jump back past its last stamp (see fmidb-replica.ts for what
 * happens when it does).
 */
export class HybridClock {
  private last = 0;

  /** The largest stamp issued or observed. */
  get lastStamp(): number {
    return this.last;
  }

  /** A stamp for a local write at wall time wallMs: above every stamp seen, and at least the wall time. */
  next(wallMs: number): number {
    this.last = Math.max(this.last + 1, Math.floor(wallMs));
    return this.last;
  }

  /** Takes in a stamp from a peer. */
  observe(stamp: number): void {
    if (stamp > this.last) this.last = stamp;
  }
}
