import { DomainError } from '../../core/util/domain-error.js';

/**
 * What the agent keeps of one channel for API clients to read (issue 18, item 3): the
 * channel layer's deliveries and the views installed, in the order this member saw them,
 * each numbered by `at` (1, 2, 3, ... per channel on this agent) so a client reads on
 * from the last `at` it saw.
 *
 * Two kinds of reader, two flow-control rules:
 * - **No stream attached** (only long-polls, or nobody): a delivery is consumed (the
 *   sender's credit given back) as soon as it is here, so flow control stops at the
 *   agent, and a long-poll client that reads too slowly loses the oldest entries beyond
 *   kInboxEntriesMax (counted in `dropped`; a reader that asks after one that fell off
 *   sees `first` past its `after`).
 * - **Streams attached** (the WebSocket delivery stream, channel-stream.ts): a delivery
 *   is consumed only once every attached stream has written it to its socket, so a slow
 *   stream reader closes the senders' credit window (the channel's slow-receiver policy
 *   then applies: block, or remove after its bound) and nothing is dropped: an entry
 *   leaves only after every stream passed it. The inbox may then hold more than
 *   kInboxEntriesMax entries, but at most the unconsumed deliveries the layer's credit
 *   allows (members × windowMessages) plus views, above the streams' slowest cursor.
 */
export type InboxEntry =
  | { readonly at: number; readonly kind: 'view'; readonly viewId: number; readonly members: readonly string[] }
  | { readonly at: number; readonly kind: 'message'; readonly sender: string; readonly viewId: number; readonly seq: number; readonly payload: Uint8Array };

export interface InboxRead {
  readonly entries: readonly InboxEntry[];
  /** The `at` of the oldest entry kept (the next one to come when none is kept). */
  readonly first: number;
  /** Entries dropped at the bound since the channel became known here. */
  readonly dropped: number;
}

/** A stream's position: the `at` through which it has written every entry to its client. */
export interface InboxCursor {
  after: number;
}

/** Entries one channel's inbox keeps at most without streams: memory is at most this × the layer's messageBytesMax (1 MiB), in practice × the messages' size. */
export const kInboxEntriesMax = 4096;
/** Entries one read returns at most. */
export const kInboxReadMax = 1024;
/** Long-polls waiting on one inbox at most. */
export const kInboxWaitersMax = 256;
/** Streams attached to one inbox at most. */
export const kInboxStreamsMax = 64;

interface Waiter {
  readonly after: number;
  readonly resolve: () => void;
}

export class ChannelInbox {
  /** Entries at [head, entries.length); the front is cut off in chunks, not shifted per entry. */
  private entries: InboxEntry[] = [];
  private head = 0;
  private nextAt = 1;
  private lastViewId = -1;
  /** Messages with an `at` up to this have been consumed (handed back to the layer as credit). */
  private consumedThrough = 0;
  dropped = 0;
  delivered = 0;
  private readonly waiters = new Set<Waiter>();
  private readonly cursors = new Set<InboxCursor>();
  private readonly listeners = new Set<() => void>();

  /** The `at` of the last entry pushed (0 before any). */
  get last(): number {
    return this.nextAt - 1;
  }

  get length(): number {
    return this.entries.length - this.head;
  }

  /** Streams attached now. */
  get streams(): number {
    return this.cursors.size;
  }

  /** A view entry, once per view (a channel that becomes known starts with the current view, which the layer's own view event may repeat). */
  pushView(viewId: number, members: readonly string[]): void {
    if (viewId === this.lastViewId) return;
    this.lastViewId = viewId;
    this.push({ at: this.nextAt++, kind: 'view', viewId, members: [...members] });
  }

  /** A delivery; true when it is consumed at once (no stream attached), false when it waits for the streams to write it. */
  pushMessage(sender: string, viewId: number, seq: number, payload: Uint8Array): boolean {
    this.delivered++;
    const at = this.nextAt++;
    const now = this.cursors.size === 0;
    if (now) this.consumedThrough = at;
    this.push({ at, kind: 'message', sender, viewId, seq, payload });
    return now;
  }

  /** The entries after `after` (at most `max`), at once. */
  read(after: number, max = kInboxReadMax): InboxRead {
    const first = this.firstAt();
    const from = this.head + Math.max(0, after + 1 - first);
    return { entries: this.entries.slice(from, from + Math.min(max, kInboxReadMax)), first, dropped: this.dropped };
  }

  /** The entries after `after`; when there are none, waits up to waitMs for some. */
  async wait(after: number, waitMs: number, max = kInboxReadMax): Promise<InboxRead> {
    if (after < this.last || waitMs <= 0) return this.read(after, max);
    if (this.waiters.size >= kInboxWaitersMax) throw new DomainError('unavailable', 'GALAXY_CHANNEL_TOO_MANY_LISTENERS', `${kInboxWaitersMax} clients already wait on this channel here`);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => finish(), waitMs);
      const waiter: Waiter = { after, resolve: () => finish() };
      const finish = (): void => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
        resolve();
      };
      this.waiters.add(waiter);
    });
    return this.read(after, max);
  }

  /**
   * Attaches a stream reading on from `after` (clamped to what is here) and a listener
   * called after every push. From now on deliveries wait for the streams (see above).
   */
  attach(cursor: InboxCursor, onPush: () => void): void {
    if (this.cursors.size >= kInboxStreamsMax) throw new DomainError('unavailable', 'GALAXY_CHANNEL_TOO_MANY_LISTENERS', `${kInboxStreamsMax} streams already read this channel here`);
    cursor.after = Math.min(Math.max(cursor.after, this.firstAt() - 1), this.last);
    this.cursors.add(cursor);
    this.listeners.add(onPush);
  }

  /** Detaches a stream; returns the deliveries this consumes (all still held when it was the last stream). */
  detach(cursor: InboxCursor, onPush: () => void): number {
    if (!this.cursors.delete(cursor)) return 0;
    this.listeners.delete(onPush);
    return this.consumeTo(this.cursors.size === 0 ? this.last : this.slowestCursor());
  }

  /** A stream wrote every entry through `at`; returns the deliveries this consumes (those every stream has now written). */
  advance(cursor: InboxCursor, at: number): number {
    if (!this.cursors.has(cursor) || at <= cursor.after) return 0;
    cursor.after = Math.min(at, this.last);
    return this.consumeTo(this.slowestCursor());
  }

  /** Wakes every waiting reader (the channel's core stopped, the agent closes). */
  wakeAll(): void {
    for (const waiter of [...this.waiters]) waiter.resolve();
  }

  private firstAt(): number {
    return this.entries[this.head]?.at ?? this.nextAt;
  }

  private slowestCursor(): number {
    let slowest = Infinity;
    for (const c of this.cursors) slowest = Math.min(slowest, c.after);
    return slowest;
  }

  /** Consumes the messages in (consumedThrough, upTo]; returns how many. */
  private consumeTo(upTo: number): number {
    if (upTo <= this.consumedThrough) return 0;
    const first = this.firstAt();
    let count = 0;
    for (let i = this.head + Math.max(0, this.consumedThrough + 1 - first); i < this.entries.length && this.entries[i]!.at <= upTo; i++) {
      if (this.entries[i]!.kind === 'message') count++;
    }
    this.consumedThrough = upTo;
    this.trim();
    return count;
  }

  private push(entry: InboxEntry): void {
    this.entries.push(entry);
    this.trim();
    for (const waiter of [...this.waiters]) if (waiter.after < entry.at) waiter.resolve();
    for (const listener of this.listeners) listener();
  }

  /** Beyond the bound the oldest entries go, but with streams attached only those every stream has written (so consumed). */
  private trim(): void {
    const floor = this.cursors.size === 0 ? Infinity : Math.min(this.slowestCursor(), this.consumedThrough);
    while (this.length > kInboxEntriesMax && this.entries[this.head]!.at <= floor) {
      this.head++;
      this.dropped++;
    }
    if (this.head >= 1024 && this.head * 2 >= this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }
}
