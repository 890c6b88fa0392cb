import { DomainError } from '../../core/util/domain-error.js';

/**
 * What the agent keeps of one channel for API clients to read (issue 18, item 3): the
 * channel layer's deliveries and the views installed, in the order this member saw them,
 * each numbered by `at` (1, 2, 3, ... per channel on this agent) so a client reads on
 * from the last `at` it saw. The agent consumes a delivery (gives the sender its credit
 * back) as soon as it is here: flow control stops at the agent, and a client that reads
 * too slowly loses the oldest entries instead of stalling the channel for every member.
 * The bound is kInboxEntriesMax entries; what falls off is counted in `dropped`, and a
 * reader that asks for entries after one that fell off sees `first` past its `after`.
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

/** Entries one channel's inbox keeps at most: memory is at most this × the layer's messageBytesMax (1 MiB), in practice × the messages' size. */
export const kInboxEntriesMax = 4096;
/** Entries one read returns at most. */
export const kInboxReadMax = 1024;
/** Long-polls waiting on one inbox at most. */
export const kInboxWaitersMax = 256;

interface Waiter {
  readonly after: number;
  readonly resolve: () => void;
}

export class ChannelInbox {
  private readonly entries: InboxEntry[] = [];
  private nextAt = 1;
  private lastViewId = -1;
  dropped = 0;
  delivered = 0;
  private readonly waiters = new Set<Waiter>();

  /** The `at` of the last entry pushed (0 before any). */
  get last(): number {
    return this.nextAt - 1;
  }

  get length(): number {
    return this.entries.length;
  }

  /** A view entry, once per view (a channel that becomes known starts with the current view, which the layer's own view event may repeat). */
  pushView(viewId: number, members: readonly string[]): void {
    if (viewId === this.lastViewId) return;
    this.lastViewId = viewId;
    this.push({ at: this.nextAt++, kind: 'view', viewId, members: [...members] });
  }

  pushMessage(sender: string, viewId: number, seq: number, payload: Uint8Array): void {
    this.delivered++;
    this.push({ at: this.nextAt++, kind: 'message', sender, viewId, seq, payload });
  }

  /** The entries after `after` (at most `max`), at once. */
  read(after: number, max = kInboxReadMax): InboxRead {
    const first = this.entries[0]?.at ?? this.nextAt;
    const from = Math.max(0, after + 1 - first);
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

  /** Wakes every waiting reader (the channel's core stopped, the agent closes). */
  wakeAll(): void {
    for (const waiter of [...this.waiters]) waiter.resolve();
  }

  private push(entry: InboxEntry): void {
    if (this.entries.length >= kInboxEntriesMax) {
      this.entries.shift();
      this.dropped++;
    }
    this.entries.push(entry);
    for (const waiter of [...this.waiters]) if (waiter.after < entry.at) waiter.resolve();
  }
}
