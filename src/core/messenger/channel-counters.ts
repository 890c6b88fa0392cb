/**
 * Counters of one channel: what was sent and received, and what was dropped, by reason.
 * Reasons are metric labels, so they are a closed list.
 */
export type DropReason =
  | 'malformed'
  | 'unknown-channel'
  | 'mode-refused'
  | 'unknown-sender'
  | 'revoked-sender'
  | 'self-sender'
  | 'address-mismatch'
  | 'decode'
  | 'no-handler'
  | 'handler-failed'
  | 'no-route'
  | 'outbox-full'
  | 'too-large'
  /** A channel an extra network does not carry arrived on one (messenger.ts kNetworkChannels). */
  | 'network-refused';

export class ChannelCounters {
  sent = 0;
  received = 0;
  readonly dropped = new Map<DropReason, number>();

  drop(reason: DropReason): void {
    this.dropped.set(reason, (this.dropped.get(reason) ?? 0) + 1);
  }

  droppedTotal(): number {
    let total = 0;
    for (const value of this.dropped.values()) total += value;
    return total;
  }

  snapshot(): { sent: number; received: number; dropped: Record<string, number> } {
    return { sent: this.sent, received: this.received, dropped: Object.fromEntries(this.dropped) };
  }
}
