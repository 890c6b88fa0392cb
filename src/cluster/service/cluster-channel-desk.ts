import { ChannelError } from '../../core/channels/channel-error.js';
import type { AppCommand, AppEvent } from '../../core/channels/channel-layer-io.js';
import type { ChannelView } from '../../core/channels/vs-group-port.js';
import type { ClusterChannelsInput } from '../../core/cluster-channels/cluster-channels.js';
import { kOrderings, kReliabilities, type ChannelOptions, type Ordering, type Reliability } from '../../core/channels/channel-options.js';
import { DomainError, type FailureKind } from '../../core/util/domain-error.js';
import type { ApiStreamAttach } from '../../surface/api/api-route.js';
import { ChannelInbox, kInboxEntriesMax, type InboxRead } from './channel-inbox.js';
import { ChannelStream } from './channel-stream.js';
import type { ClusterRunner } from './cluster-runner.js';
import { hopTrace } from '../../node/util/hop-trace.js';

/**
 * The channels of the clusters this agent is a member of, as API clients use them
 * (issue 18, item 3): open a channel with its guarantees, send (each send resolved as
 * the core's channel layer resolves it: `sendDone` per the guarantee, or `sendFailed`),
 * read what was delivered here (ChannelInbox), list channels with counters.
 *
 * - A burst of sends is stepped between `cork` and `uncork`, so the core packs it into
 *   as few cluster multicasts as it can (bench:channels-cpu: 1-3.7 µs of CPU per
 *   delivery corked against 5-9 µs uncorked).
 * - Every channel the layer knows here (opened here or announced by another member) has
 *   an inbox; a delivery is consumed (the sender's credit given back) when it is in the
 *   inbox, which is bounded and drops its oldest entries (counted).
 * - Channels opened here are remembered per cluster (with the cluster's uid) and opened
 *   again on a fresh channel layer: after this member was cut out and came back
 *   (`channelsReset`) or rejoined as a new incarnation (a new core).
 *
 * The desk does no I/O of its own: the service hands it the layer's events and steps
 * the commands it returns into the right core.
 */
export interface ChannelSummary {
  readonly cluster: string;
  readonly name: string;
  readonly reliability: Reliability;
  readonly ordering: Ordering;
  /** Whether an API client opened it on this agent (else another member announced it). */
  readonly openedHere: boolean;
  readonly delivered: number;
  /** Entries (deliveries and views) the inbox holds now, and its bound. */
  readonly buffered: number;
  readonly bufferMax: number;
  /** Entries dropped at the bound (a reader too slow). */
  readonly dropped: number;
  /** The `at` of the newest inbox entry (a listener starting now reads after it). */
  readonly last: number;
  /** WebSocket delivery streams attached here (with any, deliveries are consumed only once streamed: flow control reaches the client). */
  readonly streams: number;
  readonly sends: number;
  readonly sendsDone: number;
  readonly sendsFailed: number;
}

export type SendOutcome =
  | { readonly ok: true; readonly viewId: number | null; readonly seq: number | null }
  | { readonly ok: false; readonly code: string; readonly message: string };

export interface ChannelDeskHost {
  /** The running core of a cluster this node is a member of; throws a DomainError otherwise. */
  readonly runnerOf: (cluster: string) => ClusterRunner;
  /** Steps application commands into the cluster's core, in order, and acts on its outputs. */
  readonly step: (cluster: string, inputs: readonly ClusterChannelsInput[]) => void;
}

/** Sends awaiting their outcome at most, over every channel of this agent. */
export const kPendingSendsMax = 65_536;
/** Payloads one send call takes at most. */
export const kSendBatchMax = 1024;

interface ChannelEntry {
  readonly name: string;
  reliability: Reliability;
  ordering: Ordering;
  openedHere: boolean;
  readonly inbox: ChannelInbox;
  readonly streams: Set<ChannelStream>;
  sends: number;
  sendsDone: number;
  sendsFailed: number;
}

interface ClusterChannelsHere {
  readonly uid: string;
  readonly channels: Map<string, ChannelEntry>;
  /** What API clients opened here, to open again on a fresh layer. */
  readonly wanted: Map<string, ChannelOptions>;
  /** Deliveries put in inboxes and not yet consumed in the core, per channel. */
  readonly consumed: Map<string, number>;
}

interface PendingSend {
  readonly cluster: string;
  readonly channel: string;
  viewId: number | null;
  seq: number | null;
  readonly resolve: (outcome: SendOutcome) => void;
}

export class ClusterChannelDesk {
  private readonly host: ChannelDeskHost;
  private readonly clusters = new Map<string, ClusterChannelsHere>();
  private readonly pending = new Map<number, PendingSend>();
  private nextSendId = 1;

  constructor(host: ChannelDeskHost) {
    this.host = host;
  }

  // ---- The API's side ------------------------------------------------------------------

  open(cluster: string, name: string, options: ChannelOptions): ChannelSummary {
    if (!kOrderings.includes(options.ordering)) throw new DomainError('invalid', 'GALAXY_CHANNEL_BAD_ORDERING', `ordering must be one of ${kOrderings.join(', ')}, got ${JSON.stringify(options.ordering)}`);
    if (!kReliabilities.includes(options.reliability)) throw new DomainError('invalid', 'GALAXY_CHANNEL_BAD_RELIABILITY', `reliability must be one of ${kReliabilities.join(', ')}, got ${JSON.stringify(options.reliability)}`);
    const runner = this.host.runnerOf(cluster);
    coded(() => this.host.step(cluster, [{ kind: 'open', name, options }]));
    const here = this.here(cluster, runner.uid);
    here.wanted.set(name, options);
    const entry = here.channels.get(name);
    if (entry === undefined) throw new DomainError('failed', 'GALAXY_CHANNEL_NOT_OPENED', `the channel layer did not report channel ${name} opened`);
    entry.openedHere = true;
    return summaryOf(cluster, entry);
  }

  /** Changes this member's rate limits of the channel from now on (the layer's setRate; an omitted field stays). */
  setRate(cluster: string, name: string, rates: { rateMessagesPerSecond?: number; senderRateMessagesPerSecond?: number; burstMessages?: number }): ChannelSummary {
    const runner = this.host.runnerOf(cluster);
    const entry = this.entry(cluster, runner.uid, name);
    coded(() => this.host.step(cluster, [{ kind: 'setRate', channel: name, ...rates }]));
    const wanted = this.here(cluster, runner.uid).wanted.get(name);
    // A fresh layer opens the channel again with the rates last set here.
    if (wanted !== undefined) this.here(cluster, runner.uid).wanted.set(name, { ...wanted, ...rates });
    return summaryOf(cluster, entry);
  }

  list(cluster: string): ChannelSummary[] {
    const runner = this.host.runnerOf(cluster);
    const here = this.here(cluster, runner.uid);
    return [...here.channels.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map((e) => summaryOf(cluster, e));
  }

  /** Sends the payloads in order as one corked burst; resolves once each has its outcome, or after timeoutMs (the rest GALAXY_CHANNEL_SEND_TIMEOUT). */
  async send(cluster: string, name: string, payloads: readonly Uint8Array[], timeoutMs: number): Promise<SendOutcome[]> {
    const runner = this.host.runnerOf(cluster);
    const entry = this.entry(cluster, runner.uid, name);
    if (payloads.length === 0) return [];
    if (payloads.length > kSendBatchMax) throw new DomainError('too-large', 'GALAXY_CHANNEL_BATCH_TOO_LARGE', `${payloads.length} messages in one send; at most ${kSendBatchMax}`);
    if (this.pending.size + payloads.length > kPendingSendsMax) throw new DomainError('unavailable', 'GALAXY_CHANNEL_TOO_MANY_SENDS', `${this.pending.size} sends already await their outcome on this agent (at most ${kPendingSendsMax})`);
    if (hopTrace !== null) for (const p of payloads) hopTrace.scan('api.send', p);
    const ids: number[] = [];
    const outcomes: Promise<SendOutcome>[] = [];
    for (let i = 0; i < payloads.length; i++) {
      const sendId = this.nextSendId++;
      ids.push(sendId);
      outcomes.push(new Promise<SendOutcome>((resolve) => this.pending.set(sendId, { cluster, channel: name, viewId: null, seq: null, resolve })));
    }
    entry.sends += payloads.length;
    try {
      this.host.step(cluster, [{ kind: 'cork' }, ...ids.map((sendId, i): ClusterChannelsInput => ({ kind: 'send', sendId, channel: name, payload: payloads[i]! })), { kind: 'uncork' }]);
    } catch (error) {
      // The core stopped under us: nothing waits for these ids any more.
      for (const sendId of ids) this.pending.delete(sendId);
      throw error;
    }
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    await Promise.race([Promise.all(outcomes), expired]);
    clearTimeout(timer);
    for (const sendId of ids) this.settle(sendId, { ok: false, code: 'GALAXY_CHANNEL_SEND_TIMEOUT', message: `no outcome within ${timeoutMs} ms (the message may still be delivered)` });
    return Promise.all(outcomes);
  }

  /** The inbox entries after `after`, waiting up to waitMs for one when there are none. */
  async read(cluster: string, name: string, after: number, waitMs: number, max?: number): Promise<InboxRead> {
    const runner = this.host.runnerOf(cluster);
    return this.entry(cluster, runner.uid, name).inbox.wait(after, waitMs, max);
  }

  /**
   * A WebSocket delivery stream of the channel from after `after` (the inbox's last entry
   * when null: what comes from now on), checked now; the returned function attaches the
   * socket once the handshake is done. Each frame is `serialize` of an inbox read.
   */
  stream(cluster: string, name: string, after: number | null, serialize: (read: InboxRead) => string): ApiStreamAttach {
    const runner = this.host.runnerOf(cluster);
    const uid = runner.uid;
    const entry = this.entry(cluster, uid, name);
    return (socket) => {
      // The channel may have gone between the check and the handshake.
      if (this.clusters.get(cluster)?.uid !== uid || this.clusters.get(cluster)?.channels.get(name) !== entry) {
        socket.close(1011, 'the channel is gone here');
        return;
      }
      const stream = new ChannelStream(entry.inbox, socket, after ?? entry.inbox.last, serialize, (count) => this.consumeNow(cluster, uid, name, count));
      entry.streams.add(stream);
      socket.onClose(() => entry.streams.delete(stream));
    };
  }

  /** Steps a stream's consumption into the core (the stream wrote deliveries to its client). */
  private consumeNow(cluster: string, uid: string, name: string, count: number): void {
    if (this.clusters.get(cluster)?.uid !== uid) return;
    try {
      this.host.step(cluster, [{ kind: 'consume', channel: name, count }]);
    } catch {
      // The core stopped or its layer was reset: the credit is moot.
    }
  }

  // ---- The service's side --------------------------------------------------------------

  /** A channel event of the cluster's core (whose uid is given); layerView is its layer's current view, which a new inbox starts with. */
  event(cluster: string, uid: string, event: AppEvent, layerView: ChannelView | null): void {
    const here = this.here(cluster, uid);
    switch (event.kind) {
      case 'opened': {
        const existing = here.channels.get(event.channel);
        if (existing !== undefined) {
          existing.reliability = event.options.reliability;
          existing.ordering = event.options.ordering;
          break;
        }
        const entry: ChannelEntry = { name: event.channel, reliability: event.options.reliability, ordering: event.options.ordering, openedHere: false, inbox: new ChannelInbox(), streams: new Set(), sends: 0, sendsDone: 0, sendsFailed: 0 };
        here.channels.set(event.channel, entry);
        if (layerView !== null) entry.inbox.pushView(layerView.id, layerView.members);
        break;
      }
      case 'view':
        for (const entry of here.channels.values()) entry.inbox.pushView(event.view.id, event.view.members);
        break;
      case 'delivered': {
        const entry = here.channels.get(event.channel);
        if (entry === undefined) break;
        hopTrace?.scan('main.deliver', event.payload);
        // With a stream attached the delivery is consumed once the streams wrote it (ChannelStream), not here.
        if (entry.inbox.pushMessage(event.sender, event.viewId, event.seq, event.payload)) here.consumed.set(event.channel, (here.consumed.get(event.channel) ?? 0) + 1);
        break;
      }
      case 'sent': {
        const p = this.pending.get(event.sendId);
        if (p !== undefined) {
          p.viewId = event.viewId;
          p.seq = event.seq;
        }
        break;
      }
      case 'sendDone': {
        const p = this.pending.get(event.sendId);
        if (p !== undefined) this.settle(event.sendId, { ok: true, viewId: p.viewId, seq: p.seq });
        break;
      }
      case 'sendFailed':
        this.settle(event.sendId, { ok: false, code: event.code, message: event.message });
        break;
      case 'slowMember':
        // The core itself suspects the member and tells the others (cluster-channels README, "The seam").
        break;
    }
  }

  /** The consume commands owed to a cluster's core (deliveries now in inboxes). */
  takeConsumed(cluster: string): AppCommand[] {
    const here = this.clusters.get(cluster);
    if (here === undefined || here.consumed.size === 0) return [];
    const out: AppCommand[] = [...here.consumed].map(([channel, count]) => ({ kind: 'consume', channel, count }));
    here.consumed.clear();
    return out;
  }

  /** The open commands for a fresh channel layer of the cluster (a new core, or one reset). */
  reopen(cluster: string, uid: string): AppCommand[] {
    const here = this.clusters.get(cluster);
    if (here === undefined || here.uid !== uid) return [];
    return [...here.wanted].map(([name, options]) => ({ kind: 'open', name, options }));
  }

  /** Fails what waits and wakes the listeners (the agent stops). */
  close(): void {
    for (const sendId of [...this.pending.keys()]) this.settle(sendId, { ok: false, code: 'GALAXY_CHANNEL_CLOSED', message: 'the agent is stopping' });
    for (const here of this.clusters.values()) for (const entry of here.channels.values()) closeEntry(entry, 1001, 'the agent is stopping');
  }

  counters(): { channels: number; delivered: number; dropped: number; pendingSends: number } {
    let channels = 0;
    let delivered = 0;
    let dropped = 0;
    for (const here of this.clusters.values()) {
      for (const entry of here.channels.values()) {
        channels++;
        delivered += entry.inbox.delivered;
        dropped += entry.inbox.dropped;
      }
    }
    return { channels, delivered, dropped, pendingSends: this.pending.size };
  }

  private settle(sendId: number, outcome: SendOutcome): void {
    const p = this.pending.get(sendId);
    if (p === undefined) return;
    this.pending.delete(sendId);
    const entry = this.clusters.get(p.cluster)?.channels.get(p.channel);
    if (entry !== undefined) {
      if (outcome.ok) entry.sendsDone++;
      else entry.sendsFailed++;
    }
    p.resolve(outcome);
  }

  private here(cluster: string, uid: string): ClusterChannelsHere {
    let here = this.clusters.get(cluster);
    if (here === undefined || here.uid !== uid) {
      // A cluster created again under the same name: its channels are new.
      for (const entry of here?.channels.values() ?? []) closeEntry(entry, 4410, 'the cluster was created again: its channels are new');
      here = { uid, channels: new Map(), wanted: new Map(), consumed: new Map() };
      this.clusters.set(cluster, here);
    }
    return here;
  }

  private entry(cluster: string, uid: string, name: string): ChannelEntry {
    const entry = this.here(cluster, uid).channels.get(name);
    if (entry === undefined) throw new DomainError('not-found', 'GALAXY_CHANNEL_UNKNOWN', `cluster "${cluster}" has no channel named "${name}" here (galaxy channel ls ${cluster} lists them)`);
    return entry;
  }
}

/** Wakes the channel's long-polls and closes its streams. */
function closeEntry(entry: ChannelEntry, code: number, reason: string): void {
  entry.inbox.wakeAll();
  for (const stream of [...entry.streams]) stream.close(code, reason);
  entry.streams.clear();
}

function summaryOf(cluster: string, e: ChannelEntry): ChannelSummary {
  return { cluster, name: e.name, reliability: e.reliability, ordering: e.ordering, openedHere: e.openedHere, delivered: e.inbox.delivered, buffered: e.inbox.length, bufferMax: kInboxEntriesMax, dropped: e.inbox.dropped, last: e.inbox.last, streams: e.inbox.streams, sends: e.sends, sendsDone: e.sendsDone, sendsFailed: e.sendsFailed };
}

/** The channel layer's refusals as domain errors. */
const kChannelErrorKinds: Readonly<Record<string, FailureKind>> = {
  GALAXY_CHANNEL_BAD_OPTIONS: 'invalid',
  GALAXY_CHANNEL_CONFIG_CONFLICT: 'conflict',
  GALAXY_CHANNEL_ID_COLLISION: 'conflict',
  GALAXY_CHANNEL_TOO_MANY: 'too-large',
  GALAXY_CHANNEL_UNKNOWN: 'not-found',
};

function coded<T>(action: () => T): T {
  try {
    return action();
  } catch (error) {
    if (error instanceof ChannelError) throw new DomainError(kChannelErrorKinds[error.code] ?? 'invalid', error.code, error.message);
    throw error;
  }
}
