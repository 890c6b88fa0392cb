import type { Ordering, Reliability } from '../../core/channels/channel-options.js';

/**
 * The recorded history of channel traffic that the channel checkers read: plain data
 * (JSON-serialisable), independent of whatever produced it (the reference VS model
 * here, or the real cluster core later). A producer records:
 *
 * - `channels`: each channel's guarantees, by name.
 * - `sends`: one record per message as it left its sender, identified by
 *   (channel, sender, viewId, seq) — the pair a delivery carries — with a digest of the
 *   payload and its causal dependencies: for each sender, the highest seq of that
 *   sender, in the same view and channel, that the sending member had delivered (or,
 *   for itself, sent) before this send. Deliveries are FIFO per sender within a view for
 *   every channel with causal order, so "up to seq" covers the whole causal past.
 * - `logs`: per member, its events in the order they happened there: the views it
 *   installed, its deliveries, and a final `stop` if it crashed or was removed. A member
 *   that joins later starts its log with its first view.
 *
 * A member "passes from v to w" when its log has view v and the next view entry is w;
 * members that stop (or whose log ends) in v do not pass. Checkers judge each view from
 * the members passing out of it, so a run should end by installing one more view.
 */
export interface ChannelHistory {
  channels: Record<string, { reliability: Reliability; ordering: Ordering }>;
  sends: SendRecord[];
  logs: Record<string, LogEntry[]>;
}

export interface SendRecord {
  channel: string;
  sender: string;
  viewId: number;
  seq: number;
  bytes: number;
  digest: number;
  /** [sender, highest seq] pairs: the send's causal past in its view. */
  deps: [string, number][];
}

export type LogEntry =
  | { kind: 'view'; viewId: number; members: string[] }
  | { kind: 'deliver'; channel: string; sender: string; viewId: number; seq: number; bytes: number; digest: number }
  | { kind: 'stop' };

/** FNV-1a over the bytes: a cheap check that a delivered payload is the one sent. */
export function payloadDigest(payload: Uint8Array): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < payload.length; i++) hash = Math.imul(hash ^ payload[i]!, 0x01000193);
  return hash >>> 0;
}

/** The identity of a message in a history. */
export const messageId = (channel: string, sender: string, viewId: number, seq: number): string => `${channel}|${sender}|${viewId}|${seq}`;

/**
 * Builds a ChannelHistory from what a member's channel layer outputs (`view`,
 * `delivered`, `sent`), computing each send's dependencies from the member's own log.
 */
export class ChannelHistoryRecorder {
  readonly history: ChannelHistory = { channels: {}, sends: [], logs: {} };
  /** member → channel → (viewId, sender → highest seq delivered or sent in that view). */
  private readonly past = new Map<string, Map<string, { viewId: number; highest: Map<string, number> }>>();

  channel(name: string, reliability: Reliability, ordering: Ordering): void {
    this.history.channels[name] ??= { reliability, ordering };
  }

  view(member: string, viewId: number, members: readonly string[]): void {
    this.logOf(member).push({ kind: 'view', viewId, members: [...members] });
  }

  stop(member: string): void {
    this.logOf(member).push({ kind: 'stop' });
  }

  delivered(member: string, channel: string, sender: string, viewId: number, seq: number, payload: Uint8Array): void {
    this.logOf(member).push({ kind: 'deliver', channel, sender, viewId, seq, bytes: payload.length, digest: payloadDigest(payload) });
    this.note(member, channel, viewId, sender, seq);
  }

  sent(member: string, channel: string, viewId: number, seq: number, payload: Uint8Array): void {
    const past = this.pastOf(member, channel, viewId);
    const deps: [string, number][] = [...past.highest.entries()];
    this.history.sends.push({ channel, sender: member, viewId, seq, bytes: payload.length, digest: payloadDigest(payload), deps });
    this.note(member, channel, viewId, member, seq);
  }

  private note(member: string, channel: string, viewId: number, sender: string, seq: number): void {
    const past = this.pastOf(member, channel, viewId);
    past.highest.set(sender, Math.max(past.highest.get(sender) ?? 0, seq));
  }

  private pastOf(member: string, channel: string, viewId: number): { viewId: number; highest: Map<string, number> } {
    let byChannel = this.past.get(member);
    if (byChannel === undefined) this.past.set(member, (byChannel = new Map()));
    let past = byChannel.get(channel);
    if (past === undefined || past.viewId !== viewId) byChannel.set(channel, (past = { viewId, highest: new Map() }));
    return past;
  }

  private logOf(member: string): LogEntry[] {
    return (this.history.logs[member] ??= []);
  }
}
