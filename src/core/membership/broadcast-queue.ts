/**
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
 *
 * Cost: every datagram takes from this queue, so nothing here may walk or sort the whole
 * queue. Each kind (membership, user) is kept in order (fewest transmits, then newest)
 * in a treap whose nodes also know the smallest part below them: take() walks in order
 * and skips every subtree in which nothing fits the bytes left, so it visits O((k + 1)
 * log n) nodes for k parts taken; insert, replace and forget are O(log n) (memberlist
 * uses a B-tree the same way). The order, the choice of parts and the evictions are
 * exactly those of the sort-every-take queue it replaced (bench/baseline-broadcast-queue.ts),
 * which test/broadcast-queue.test.ts checks on random operation sequences.
 */
export interface QueuedBroadcast {
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
export const kPartOverheadBytes = 2;

const kNothing: readonly Uint8Array[] = Object.freeze([]);
/** What a TakePass points at between passes, so it holds no caller's list. */
const kNoParts: Uint8Array[] = [];

/** A queued item is its own treap node (one object per item): its heap priority and the smallest part cost in its subtree. */
interface OrderNode extends QueuedBroadcast {
  readonly priority: number;
  left: OrderNode | null;
  right: OrderNode | null;
  costMin: number;
  /** Where the item was last sent: not twice in a row to the same member. */
  lastTo: string;
}

/** Items in take order: fewer transmits first, then higher sequence (newer) first. */
function before(a: QueuedBroadcast, b: QueuedBroadcast): boolean {
  return a.transmits < b.transmits || (a.transmits === b.transmits && a.sequence > b.sequence);
}

function costOf(item: QueuedBroadcast): number {
  return kPartOverheadBytes + item.part.length;
}

function update(node: OrderNode): void {
  let cost = costOf(node);
  if (node.left !== null && node.left.costMin < cost) cost = node.left.costMin;
  if (node.right !== null && node.right.costMin < cost) cost = node.right.costMin;
  node.costMin = cost;
}

/**
 * A deterministic priority from the item's sequence (a multiplicative hash): the treap
 * stays balanced in expectation without a random generator, which the protocol code may
 * not call outside the seeded Prng.
 */
function priorityOf(sequence: number): number {
  return Math.imul(sequence ^ (sequence >>> 16), 0x45d9f3b) >>> 0;
}

/** One kind's items in take order. */
class OrderedItems {
  root: OrderNode | null = null;
  size = 0;

  insert(item: OrderNode): void {
    item.left = null;
    item.right = null;
    item.costMin = costOf(item);
    this.root = this.insertAt(this.root, item);
    this.size++;
  }

  remove(item: OrderNode): void {
    this.root = this.removeAt(this.root, item);
    this.size--;
  }

  /** The last item in take order (most transmits, then oldest): the one evicted first. */
  last(): OrderNode | undefined {
    let node = this.root;
    if (node === null) return undefined;
    while (node.right !== null) node = node.right;
    return node;
  }

  private insertAt(node: OrderNode | null, fresh: OrderNode): OrderNode {
    if (node === null) return fresh;
    if (before(fresh, node)) {
      node.left = this.insertAt(node.left, fresh);
      if (node.left.priority > node.priority) return rotateRight(node);
    } else {
      node.right = this.insertAt(node.right, fresh);
      if (node.right.priority > node.priority) return rotateLeft(node);
    }
    update(node);
    return node;
  }

  private removeAt(node: OrderNode | null, item: OrderNode): OrderNode | null {
    if (node === null) throw new Error('BroadcastQueue: removing an item that is not queued');
    if (node === item) return merge(node.left, node.right);
    if (before(item, node)) node.left = this.removeAt(node.left, item);
    else node.right = this.removeAt(node.right, item);
    update(node);
    return node;
  }
}

function rotateRight(node: OrderNode): OrderNode {
  const top = node.left!;
  node.left = top.right;
  top.right = node;
  update(node);
  update(top);
  return top;
}

function rotateLeft(node: OrderNode): OrderNode {
  const top = node.right!;
  node.right = top.left;
  top.left = node;
  update(node);
  update(top);
  return top;
}

/** Joins two treaps where every item of `left` comes before every item of `right`. */
function merge(left: OrderNode | null, right: OrderNode | null): OrderNode | null {
  if (left === null) return right;
  if (right === null) return left;
  if (left.priority > right.priority) {
    left.right = merge(left.right, right);
    update(left);
    return left;
  }
  right.left = merge(left, right.left);
  update(right);
  return right;
}

/** The state of one take() pass, kept in fields so the in-order walk allocates nothing per node. */
class TakePass {
  /** Bytes left in the datagram. */
  total = 0;
  /** Bytes left for membership news (equal to total in the user pass). */
  kindBudget = 0;
  partsMax = 0;
  /** The datagram's destination: items last sent there are passed over. */
  to = '';
  /** Where the parts go, and the index past the last one written (partsMax bounds it). */
  out: Uint8Array[] = kNoParts;
  count = 0;
  /** The items taken, by index; reused, so a pass allocates nothing once it has grown. */
  readonly chosen: Array<OrderNode | null> = [];
  chosenCount = 0;

  walk(node: OrderNode | null): void {
    while (node !== null) {
      if (this.count >= this.partsMax || node.costMin > this.total || node.costMin > this.kindBudget) return;
      this.walk(node.left);
      if (this.count >= this.partsMax) return;
      const cost = costOf(node);
      if (cost <= this.total && cost <= this.kindBudget && (node.lastTo !== this.to || this.to === '')) {
        this.total -= cost;
        this.kindBudget -= cost;
        this.out[this.count++] = node.part;
        this.chosen[this.chosenCount++] = node;
      }
      node = node.right;
    }
  }
}

export class BroadcastQueue {
  private readonly items = new Map<string, OrderNode>();
  private readonly membership = new OrderedItems();
  private readonly users = new OrderedItems();
  private readonly pass = new TakePass();
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
    this.forget(key);
    this.insert(key, part, false);
  }

  /** Queues a user broadcast (never replaced by another). */
  queueUser(part: Uint8Array): void {
    this.insert(`u${this.userSequence++}`, part, true);
  }

  /** Drops news about a key (for example: a node was reaped). */
  forget(key: string): void {
    const item = this.items.get(key);
    if (item !== undefined) this.delete(item);
  }

  private orderOf(item: OrderNode): OrderedItems {
    return item.user ? this.users : this.membership;
  }

  private delete(item: OrderNode): void {
    this.items.delete(item.key);
    this.orderOf(item).remove(item);
  }

  private insert(key: string, part: Uint8Array, user: boolean): void {
    const sequence = this.sequence++;
    const item: OrderNode = { key, part, user, transmits: 0, sequence, priority: priorityOf(sequence), left: null, right: null, costMin: 0, lastTo: '' };
    if (this.items.size >= this.lengthMax) {
      // The worst of each kind is its last; the worse of the two goes.
      const a = this.membership.last();
      const b = this.users.last();
      const worst = a === undefined ? b : b === undefined ? a : before(a, b) ? b : a;
      if (worst !== undefined) {
        this.delete(worst);
        this.dropped++;
      }
    }
    this.items.set(item.key, item);
    this.orderOf(item).insert(item);
  }

  /**
   * Picks parts that fit in `budgetBytes` (each costs kPartOverheadBytes + length), at
   * most `partsMax` of them, counts a transmit for each, and retires items that
   * reached `limit` transmits. Membership parts come first, then user parts, each in
   * take order; a part that does not fit is passed over for smaller ones after it. A part
   * whose last transmit went to `to` is passed over too (`to` '' turns this off): a burst
   * of datagrams to one member (a probe's ping, an ack, a gossip round at once) would
   * spend the part's transmits there, and the epidemic would miss others.
   */
  take(budgetBytes: number, partsMax: number, limit: number, userReserveBytes: number, to = ''): readonly Uint8Array[] {
    // Most datagrams find the queue empty: they get one shared empty list, not a new one.
    if (this.items.size === 0 || partsMax <= 0) return kNothing;
    const out: Uint8Array[] = [];
    this.takeInto(out, 0, budgetBytes, partsMax, limit, userReserveBytes, to);
    return out;
  }

  /**
   * take() for the datagram hot path: writes the parts into `out` from index `start` and
   * returns the index past the last one, so a caller that reuses `out` allocates nothing
   * (Dissemination.sendTo). Entries of `out` past the returned index are left as they were.
   */
  takeInto(out: Uint8Array[], start: number, budgetBytes: number, partsMax: number, limit: number, userReserveBytes: number, to = ''): number {
    if (this.items.size === 0 || partsMax <= 0) return start;
    const pass = this.pass;
    pass.out = out;
    pass.count = start;
    pass.partsMax = start + partsMax;
    pass.total = budgetBytes;
    pass.to = to;
    pass.kindBudget = this.users.size > 0 && this.membership.size > 0 ? Math.max(0, budgetBytes - userReserveBytes) : budgetBytes;
    pass.walk(this.membership.root);
    pass.kindBudget = pass.total;
    pass.walk(this.users.root);
    // Counted after both walks, so a transmit does not move an item during its own walk.
    const chosen = pass.chosen;
    for (let i = 0; i < pass.chosenCount; i++) {
      const item = chosen[i]!;
      const order = this.orderOf(item);
      order.remove(item);
      item.transmits++;
      item.lastTo = pass.to;
      if (item.transmits >= limit) this.items.delete(item.key);
      else order.insert(item);
    }
    // The references are dropped (a retired item's part may be large) but the slots kept.
    chosen.fill(null, 0, pass.chosenCount);
    pass.chosenCount = 0;
    pass.out = kNoParts;
    return pass.count;
  }
}
