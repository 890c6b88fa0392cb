/** A pull waiting to be sent: an origin's fingerprint and the version this replica holds (-1: none). */
export interface PullItem {
  readonly high: number;
  readonly low: number;
  readonly version: number;
}

/** What waits for one peer: deltas to send it and pulls to ask it for. */
export class PeerQueue {
  readonly peer: string;
  /** Origin row -> the version the peer holds (-1: none); the delta is cut from the store when sent. */
  readonly deltas = new Map<number, number>();
  /** Origin fingerprint key -> the pull. */
  readonly pulls = new Map<number, PullItem>();
  /** Send over a stream: the peer asked over one, or the catch-up is big. */
  stream = false;
  /** About how many entries the queued deltas hold (for the stream threshold). */
  entriesEstimate = 0;

  constructor(peer: string) {
    this.peer = peer;
  }

  get empty(): boolean {
    return this.deltas.size === 0 && this.pulls.size === 0;
  }
}

/**
 * The per-peer send queues, served round robin while the budget allows (fmidb-replica.ts).
 *
 * A queued delta is a (origin, version the peer holds) pair, not bytes: the entries are
 * read from the store when the delta leaves, so they are always the newest the replica
 * holds, and a value written or received while the delta waited replaces the older one
 * for free. That is the flow control's "newer values replace older ones in the send
 * queue": under a tight budget a peer gets the latest value of each key, never a backlog
 * of superseded ones.
 *
 * Bounded twice: at most peersMax queues (the longest-waiting goes when a new peer
 * needs one) and itemsMax deltas or pulls in each (the oldest goes); what is dropped is
 * counted, and the periodic full sync repairs it.
 */
export class SendQueues {
  private readonly queues = new Map<string, PeerQueue>();
  private readonly peersMax: number;
  private readonly itemsMax: number;
  dropped = 0;

  constructor(peersMax: number, itemsMax: number) {
    this.peersMax = peersMax;
    this.itemsMax = itemsMax;
  }

  get length(): number {
    return this.queues.size;
  }

  queueDelta(peer: string, row: number, peerVersion: number, estimate: number, stream: boolean): void {
    const q = this.queueOf(peer);
    if (!q.deltas.has(row) && q.deltas.size >= this.itemsMax) {
      q.deltas.delete(q.deltas.keys().next().value!);
      this.dropped++;
    }
    q.deltas.set(row, peerVersion);
    q.entriesEstimate += estimate;
    if (stream) q.stream = true;
  }

  queuePull(peer: string, key: number, item: PullItem, stream: boolean): void {
    const q = this.queueOf(peer);
    if (!q.pulls.has(key) && q.pulls.size >= this.itemsMax) {
      q.pulls.delete(q.pulls.keys().next().value!);
      this.dropped++;
    }
    q.pulls.set(key, item);
    if (stream) q.stream = true;
  }

  /** The queue whose turn it is, or undefined when nothing waits. */
  next(): PeerQueue | undefined {
    return this.queues.values().next().value;
  }

  /** After a turn: an emptied queue leaves, others go to the back of the line. */
  rotate(q: PeerQueue): void {
    this.queues.delete(q.peer);
    if (!q.empty) this.queues.set(q.peer, q);
  }

  delete(peer: string): void {
    this.queues.delete(peer);
  }

  private queueOf(peer: string): PeerQueue {
    let q = this.queues.get(peer);
    if (q !== undefined) return q;
    if (this.queues.size >= this.peersMax) {
      const oldest = this.queues.values().next().value!;
      this.queues.delete(oldest.peer);
      this.dropped += oldest.deltas.size + oldest.pulls.size;
    }
    q = new PeerQueue(peer);
    this.queues.set(peer, q);
    return q;
  }
}
