// The channel fault scenario's reading of real agents' inboxes into the ChannelHistory the
// channel checkers judge (src/sim/channels/channel-checkers.ts). Pure: the scenario
// records each agent life's inbox entries and every send's outcome, and this turns them
// into member logs. Kept apart so that test/channel-faults-history.test.ts proves the
// reading on made-up lives in `npm test` (no root, no namespaces).
import type { WireEntry } from '../../../src/cluster/service/channel-routes.js';
import type { SendOutcome } from '../../../src/cluster/service/cluster-channel-desk.js';
import { messageId, payloadDigest, type ChannelHistory, type LogEntry, type SendRecord } from '../../../src/sim/channels/channel-history.js';

/** What one agent process delivered, read as it happened: its inbox entries in order. */
export interface RecordedLife {
  /** The agent's node id. */
  readonly node: string;
  readonly entries: readonly WireEntry[];
  /** True when this process is gone (killed, or restarted as another life): its log ends in a stop. */
  readonly ended: boolean;
}

/** One message an agent was asked to send (its text unique over the run), with its outcome (null: no answer). */
export interface SentText {
  readonly node: string;
  readonly text: string;
  readonly outcome: SendOutcome | null;
}

export interface ReadHistory {
  readonly history: ChannelHistory;
  readonly deliveries: number;
  /** Every view id some life installed. */
  readonly views: Set<number>;
}

/**
 * The history the checkers read. An agent's inbox spans its core's incarnations (a core
 * cut out of a view is stopped and a new one, the next incarnation, joins in the same
 * process): the log is split where the view entries name this node under a new
 * incarnation, the old one ending in a stop, as does a process that is gone.
 *
 * A member passes out of a view only when its log shows the next view. A member whose log
 * jumps over views others installed (cut out, back later in the same incarnation) stopped
 * in the view before the jump. A running member whose log ends in the newest view any
 * member installed gets one closing marker view (the checkers judge a view from the
 * members passing out of it, and every reliable message of that view was delivered
 * everywhere before the logs were taken). A running member whose log ends in an OLDER
 * view did not pass out of it as far as the logs show: it was cut out of the next view
 * (by a false suspicion on a loaded machine) and its next core had not installed a view
 * when the logs were taken, or it had not yet installed the next view. It stopped there,
 * so it must have delivered a prefix of the survivors' sequence, as a crashed member
 * (checkTotal) — not the whole view, which it was never going to finish (issue 18: the
 * failure at load ~160, two members "leaving" view 16 with one's sequence a prefix of the
 * other's, is what the old closing marker on every running life produced for a member
 * cut out at the end of the run).
 */
export function channelHistoryOf(channel: string, lives: readonly RecordedLife[], sent: readonly SentText[]): ReadHistory {
  const logs: Record<string, LogEntry[]> = {};
  const views = new Set<number>();
  const byText = new Map<string, { node: string; outcome: SendOutcome | null }>();
  for (const s of sent) byText.set(s.text, { node: s.node, outcome: s.outcome });
  const sends = new Map<string, SendRecord>();
  let deliveries = 0;
  for (const life of lives) for (const e of life.entries) if (e.kind === 'view') views.add(e.viewId);
  const newest = Math.max(0, ...views);
  for (const life of lives) {
    const node = life.node;
    let member: string | null = null;
    let log: LogEntry[] = [];
    let lastView = 0;
    for (const e of life.entries) {
      if (e.kind === 'view') {
        const self = (e.members ?? []).find((m) => m.startsWith(`${node}/`)) ?? null;
        if (self !== null && self !== member) {
          if (member !== null) log.push({ kind: 'stop' });
          member = self;
          log = logs[member] ?? [];
          logs[member] = log;
        }
        log.push({ kind: 'view', viewId: e.viewId, members: [...(e.members ?? [])] });
        lastView = e.viewId;
        continue;
      }
      const payload = Buffer.from(e.base64!, 'base64');
      log.push({ kind: 'deliver', channel, sender: e.sender!, viewId: e.viewId, seq: e.seq!, bytes: payload.length, digest: payloadDigest(payload) });
      deliveries++;
      // The send record: from the sender's outcome when it had one; a send that timed out
      // (killed or cut off under it) is known by its unique text. Either way the digest is
      // that of the bytes SENT, so a changed payload does not match.
      const text = payload.toString();
      const origin = byText.get(text);
      if (origin === undefined || !e.sender!.startsWith(`${origin.node}/`)) continue;
      const viewId = origin.outcome?.ok === true ? origin.outcome.viewId! : e.viewId;
      const seq = origin.outcome?.ok === true ? origin.outcome.seq! : e.seq!;
      const bytes = Buffer.from(text);
      sends.set(messageId(channel, e.sender!, viewId, seq), { channel, sender: e.sender!, viewId, seq, bytes: bytes.length, digest: payloadDigest(bytes), deps: [] });
    }
    if (member === null) continue;
    if (life.ended || lastView < newest) log.push({ kind: 'stop' });
    else log.push({ kind: 'view', viewId: newest + 1000, members: [] });
  }
  // A member cut out of the next view (the minority of a partition, which may come back
  // later in the same incarnation) did not pass out of its view with the others: it
  // stopped there as far as the checkers go, and must have delivered a prefix of the
  // survivors' sequence (checkTotal's rule for a member that stops). Its log gets a stop
  // before the view it comes back in, where the views it missed were installed by others.
  for (const log of Object.values(logs)) {
    for (let i = log.length - 1; i > 0; i--) {
      const entry = log[i]!;
      if (entry.kind !== 'view' || entry.members.length === 0) continue;
      const previous = log.slice(0, i).reverse().find((e) => e.kind === 'view' || e.kind === 'stop');
      if (previous?.kind !== 'view') continue;
      const missed = [...views].some((v) => v > previous.viewId && v < entry.viewId);
      if (missed) log.splice(i, 0, { kind: 'stop' });
    }
  }
  return { history: { channels: { [channel]: { reliability: 'reliable', ordering: 'total' } }, sends: [...sends.values()], logs }, deliveries, views };
}

/** What each member incarnation saw, for a report: its last views in order (id, members, deliveries there, then the next). */
export function staysSummary(history: ChannelHistory, last = 8): Record<string, string[]> {
  return Object.fromEntries(Object.entries(history.logs).map(([member, log]) => {
    const stays: string[] = [];
    let count = 0;
    for (const e of log) {
      if (e.kind === 'deliver') count++;
      else {
        if (stays.length > 0) stays[stays.length - 1] += ` (${count} delivered)`;
        count = 0;
        stays.push(e.kind === 'stop' ? 'stop' : `${e.viewId}:${e.members.map((m) => m.slice(0, 4) + m.slice(m.indexOf('/'))).join(',')}`);
      }
    }
    return [member, stays.slice(-last)];
  }));
}
