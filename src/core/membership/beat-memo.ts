/**
 * The last few heartbeat-only datagrams this engine received in full, by sender, so
 * that the same bytes again (a watch beat: the ring predecessors send the same bytes
 * fifty times a second until their heartbeat entry changes) are known to change
 * nothing without being decoded and merged.
 *
 * Why a repeat changes nothing: such a datagram holds one message, a gossip digest of
 * heartbeat entries, and merging an entry only ever raises a row (a higher incarnation,
 * a status of higher rank, a larger heartbeat; the failure detector is fed only by a
 * larger heartbeat). Every other change to a row raises it too (suspicion, death,
 * ALIVE with a higher incarnation), except its removal, when a tombstone is reaped.
 * After the first merge the row holds at least what the entry says, so merging it
 * again is a no-op, as long as no row was removed since (`removals`, bumped by
 * MemberState at every reap and table takeover). Only the counters move, and the
 * engine moves them as a full receive would.
 */
export class BeatMemo {
  private readonly senders: string[];
  private readonly bytes: Uint8Array[];
  private readonly counts: Int32Array;
  private readonly removalsAt: Float64Array;
  private next = 0;

  constructor(size: number) {
    this.senders = new Array<string>(size).fill('');
    this.bytes = new Array<Uint8Array>(size).fill(new Uint8Array(0));
    this.counts = new Int32Array(size);
    this.removalsAt = new Float64Array(size).fill(-1);
  }

  /** The decoder's message count for these bytes when they repeat a remembered datagram from `from`; -1 otherwise. */
  repeatCount(from: string, bytes: Uint8Array, removals: number): number {
    const senders = this.senders;
    for (let i = 0; i < senders.length; i++) {
      if (senders[i] !== from || this.removalsAt[i] !== removals) continue;
      const kept = this.bytes[i]!;
      const length = kept.length;
      if (length !== bytes.length) return -1;
      for (let j = 0; j < length; j++) if (kept[j] !== bytes[j]) return -1;
      return this.counts[i]!;
    }
    return -1;
  }

  /** Remembers a datagram from `from` just received in full (heartbeat entries only), replacing the sender's older one or the oldest. */
  remember(from: string, bytes: Uint8Array, count: number, removals: number): void {
    const senders = this.senders;
    let at = senders.indexOf(from);
    if (at < 0) {
      at = this.next;
      this.next = (at + 1) % senders.length;
      senders[at] = from;
    }
    const kept = this.bytes[at]!;
    if (kept.length === bytes.length) kept.set(bytes);
    else this.bytes[at] = bytes.slice();
    this.counts[at] = count;
    this.removalsAt[at] = removals;
  }
}
