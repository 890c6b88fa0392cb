/**
 * Issue 14's starting point, kept verbatim so that tests (fast-check, against random
 * operation sequences) and bench:path compare the bucketed queue with it in one run.
 * It copies and sorts the whole queue on every take: do not use it in the engine.
 *
 * The transmit-limited broadcast queue (SWIM's dissemination component, as in
 * memberlist's queue.go). Membership news and user broadcasts wait here as encoded
 * message parts and ride on every outgoing datagram: pings, acks and gossip rounds.
 *
 *  - Each item is sent at most `limit` times (λ·log N, see config.retransmitLimit).
 *  - Items sent fewer times go first, newest first among equals, so fresh news spreads
 *    fastest.
 *  - Newer news about a node replaces older news about it (one item per key).
 *  - The queue is bounded: when full, the item sent most often is dropped.
 *  - When membership news and user broadcasts are both waiting, membership news may
 *    use only (budget - userReserve) bytes, so the layers above always get through.
 */
interface QueuedBroadcast {
  /** One item per key: 'n' + node id for membership news; user items get unique keys. */
  readonly key: string;
  /** The encoded message part: type byte then body (see wire/compound.ts). */
  readonly part: Uint8Array;
  readonly user: boolean;
  transmits: number;
  /** Insertion order, to put the newest first among equals. */
  readonly sequence: number;
}

/** Bytes a part costs inside a compound datagram: its u16 length prefix plus itself. */
const kPartOverheadBytes = 2;

export class BaselineBroadcastQueue {
  private readonly items = new Map<string, QueuedBroadcast>();
  private readonly lengthMax: number;
  private sequence = 0;
  private userSequence = 0;
  /** Items dropped because the queue was full. */
  dropped = 0;

  constructor(lengthMax: number) {
    this.lengthMax = lengthMax;
  }

  get length(): number {
    return this.items.size;
  }

  /** Queues membership news about a node, replacing older news about it. */
  queueMembership(key: string, part: Uint8Array): void {
    this.items.delete(key);
    this.insert({ key, part, user: false, transmits: 0, sequence: this.sequence++ });
  }

  /** Queues a user broadcast (never replaced by another). */
  queueUser(part: Uint8Array): void {
    this.insert({ key: `u${this.userSequence++}`, part, user: true, transmits: 0, sequence: this.sequence++ });
  }

  /** Drops news about a key (for example: a node was reaped). */
  forget(key: string): void {
    this.items.delete(key);
  }

  private insert(item: QueuedBroadcast): void {
    if (this.items.size >= this.lengthMax) {
      let worst: QueuedBroadcast | undefined;
      for (const candidate of this.items.values()) {
        if (worst === undefined || candidate.transmits > worst.transmits || (candidate.transmits === worst.transmits && candidate.sequence < worst.sequence)) worst = candidate;
      }
      if (worst !== undefined) {
        this.items.delete(worst.key);
        this.dropped++;
      }
    }
    this.items.set(item.key, item);
  }

  /**
   * Picks parts that fit in `budgetBytes` (each costs kPartOverheadBytes + length), at
   * most `partsMax` of them, counts a transmit for each, and retires items that
   * reached `limit` transmits.
   */
  take(budgetBytes: number, partsMax: number, limit: number, userReserveBytes: number): Uint8Array[] {
    if (this.items.size === 0 || partsMax <= 0) return [];
    const ordered = [...this.items.values()].sort((a, b) => a.transmits - b.transmits || b.sequence - a.sequence);
    const hasUser = ordered.some((i) => i.user);
    const hasMembership = ordered.some((i) => !i.user);
    let membershipBudget = hasUser && hasMembership ? Math.max(0, budgetBytes - userReserveBytes) : budgetBytes;
    let total = budgetBytes;
    const out: Uint8Array[] = [];
    for (const pass of [false, true]) {
      for (const item of ordered) {
        if (item.user !== pass || out.length >= partsMax) continue;
        const cost = kPartOverheadBytes + item.part.length;
        if (cost > total || (!item.user && cost > membershipBudget)) continue;
        total -= cost;
        if (!item.user) membershipBudget -= cost;
        out.push(item.part);
        item.transmits++;
        if (item.transmits >= limit) this.items.delete(item.key);
      }
    }
    return out;
  }
}
