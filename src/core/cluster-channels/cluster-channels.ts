import { OutputQueue, type SansIoCore } from '../contract.js';
import { kHeaderBytes, kNameBytesMax } from '../channels/channel-header.js';
import type { AppCommand, AppEvent } from '../channels/channel-layer-io.js';
import { ChannelLayer } from '../channels/channel-layer.js';
import type { ChannelLayerOptions } from '../channels/channel-layer-options.js';
import type { VsCommand } from '../channels/vs-group-port.js';
import { encodeMessage, type ChannelHeader } from '../channels/channel-header.js';
import { resolveClusterMemberOptions, type ClusterMemberOptions } from '../cluster/cluster-config.js';
import { ClusterError } from '../cluster/cluster-error.js';
import type { ClusterOutput, ClusterStatus, ClusterView, MemberRef } from '../cluster/cluster-io.js';
import { ClusterMember } from '../cluster/cluster-member.js';
import type { Prng } from '../util/prng.js';
import { decodeEnvelope, encodeClusterEnvelope, encodeDatagramEnvelope, encodeSlowMemberEnvelope } from './cluster-channels-envelope.js';
import { ClusterChannelsError } from './cluster-channels-error.js';
import { decodePack, encodePack, kPackHeaderBytes, packRecordBytes } from './cluster-channels-pack.js';
import type { PackKernel } from './pack-kernel.js';

/**
 * One node's membership in one cluster together with its channel layer: a ClusterMember
 * (consensus views, virtual synchrony) under a ChannelLayer (named channels with their
 * ordering), composed as one pure core. It does no I/O: the host routes received
 * envelopes to it, ticks it and acts on its outputs.
 *
 * The seam, in order of the cluster core's events:
 * - Members are named `<nodeId>/<incarnation>` in the layer (memberName), so a node that
 *   restarts (a new incarnation) is a new member of the channel layer as it is of the
 *   cluster.
 * - `deliver` becomes `vsDeliver` (the sender's name looked up in the installed view;
 *   the cluster core delivers only in the view sent, self-delivery included).
 * - `blocked(v)` becomes `vsViewEnding(v)`: from the first promise on, the cluster core
 *   refuses multicasts in v and delivers only the rest of v's cut, which is what the
 *   layer's flush expects. `viewEnding(v)` gives it too if `blocked` did not come first.
 * - `viewInstalled(v+1)` after `viewEnding(v)` becomes `vsViewInstalled`. A view
 *   installed any other way (this member was cut out of v, e.g. on a minority side, and
 *   joined a later view) is not a passage from v: the layer would flush leftovers of a
 *   view its peers left without it. So the old layer is discarded (its unsent messages
 *   fail with GALAXY_CHANNEL_VIEW_LEFT — see channelsReset) and a fresh layer starts in
 *   the new view, as a joiner: the port's "a removed member comes back as a new member".
 * - `vsMulticast` (given unencoded, `vsMulticastMessage`: the layer runs with
 *   deferMulticastEncoding, and each message's header and body are written straight
 *   into its pack, by the pack kernel when the host gives one) joins a FIFO backlog; when the two cores are quiet at the end of a
 *   step (and no cork holds it), the backlog's head goes to `multicast` as one pack of
 *   as many layer messages as payloadBytesMax allows (cluster-channels-pack.ts), and a
 *   delivered pack reaches the layer as one `vsDeliverBatch`. When the cluster core
 *   refuses (its send window of unstable messages is full, or a view change runs), the
 *   backlog waits, retried at every step and tick. A backlog stamped with a view that ends is
 *   dropped (counted): the layer sends again, in the next view, every message it had
 *   not delivered to itself (nothing is lost, as the cluster core itself would have
 *   refused those payloads after `blocked`).
 * - The backlog's bound is `multicastBacklogMax` payloads. At the bound, application
 *   sends are refused at once (`sendFailed`, GALAXY_CLUSTER_CHANNELS_BACKLOG_FULL)
 *   without reaching the layer; what the layer had already accepted (its send queues,
 *   bounded by channelsMax × sendQueueMessagesMax) and its control messages still
 *   queue, so the hard memory bound is multicastBacklogMax plus those, each payload
 *   at most the cluster core's payloadBytesMax. Nothing reliable is ever dropped at
 *   the bound: dropping would stall the channel's FIFO at every receiver.
 * - `vsSendDatagram` goes as a datagram envelope to each other member of the view;
 *   received, it is handed on only in the view named and only from the member named.
 * - `slowMember` is passed to the cluster core as a `suspect` of that node here, and
 *   reported to every other member of the view in a slow-member envelope, repeated every
 *   slowReportRepeatMs until the view changes, because only the view's coordinator (its
 *   first unsuspected member) starts a view change and the reporter is often not it.
 */
export interface ClusterChannelsInit {
  readonly cluster: string;
  readonly nodeId: string;
  /** The incarnation of this node's process in the cluster (see ClusterMemberInit). */
  readonly incarnation: number;
  readonly definition: readonly string[];
  readonly random: Prng;
  readonly nowMs: number;
  /** The cluster core's options; payloadBytesMax defaults to 16 KiB here and must fit the layer's largest message. */
  readonly membership?: ClusterMemberOptions;
  /** The channel layer's options (self is filled in). */
  readonly layer?: Omit<ChannelLayerOptions, 'self'>;
  /** The bound of the multicast backlog, in payloads (see above). Default 1,024. */
  readonly multicastBacklogMax?: number;
  /** How often a slow-member report is repeated until the view changes, in ms. Default 50. */
  readonly slowReportRepeatMs?: number;
  /**
   * Writes each pack of channel messages in one pass (the Wasm kernel or its TypeScript
   * twin, pack-kernel.ts; one can serve every core of a thread), its packBytesMax at
   * least payloadBytesMax. Without one, each message is encoded (encodeMessage) and the
   * records packed (encodePack): the same bytes, bench:channel-pack gives the cost.
   */
  readonly packKernel?: PackKernel;
}

export type ClusterChannelsInput =
  /** An envelope from another node's ClusterChannels core of the same cluster. */
  | { readonly kind: 'receive'; readonly from: string; readonly bytes: Uint8Array }
  /** External evidence that a node's process is dead (ICMP, a farm dead event, a closed connection). */
  | { readonly kind: 'suspect'; readonly nodeId: string }
  | { readonly kind: 'leave' }
  | { readonly kind: 'definitionChanged'; readonly members: readonly string[] }
  /**
   * Hold channel messages back from the cluster core (they wait in the backlog) until
   * `uncork` or the next tick, whichever comes first, so that a burst of application
   * sends goes as a few full packs instead of one pack each. A host corks around a burst
   * it is about to step in (a loop of sends, one event-loop turn of input); the tick
   * bound means a forgotten uncork costs at most one tick period.
   */
  | { readonly kind: 'cork' }
  | { readonly kind: 'uncork' }
  | AppCommand;

export type ClusterChannelsOutput =
  /** Send this envelope to that node's core for this cluster (datagram semantics). */
  | { readonly kind: 'send'; readonly to: string; readonly bytes: Uint8Array }
  /** The channel layer's application events (view, opened, delivered, sent, sendDone, sendFailed, slowMember). */
  | AppEvent
  /** The cluster core installed a view (members with incarnations; the layer's `view` follows). */
  | { readonly kind: 'clusterView'; readonly view: ClusterView }
  | { readonly kind: 'clusterStatus'; readonly status: ClusterStatus }
  /**
   * This member was cut out of view fromViewId and is now in a later view as a joiner:
   * the channel layer restarted empty (channels are announced again by the view's first
   * member); sends not yet delivered here failed. A recorder ends the member's stay here.
   */
  | { readonly kind: 'channelsReset'; readonly fromViewId: number }
  /** A received message was dropped (malformed envelope or cluster bytes, wrong cluster, stale datagram). */
  | { readonly kind: 'dropped'; readonly from: string; readonly code: string };

/** Counters of the seam (the layer and the cluster core keep their own). */
export interface ClusterChannelsCounters {
  /** Cluster multicasts (packs) made. */
  multicasts: number;
  /** Layer messages sent in those packs. */
  packedMessages: number;
  /** Packs delivered by the cluster core (own included). */
  packsDelivered: number;
  /** Layer messages queued for the cluster core (every one passes the backlog, if only until the end of the step). */
  backlogQueued: number;
  backlogLengthMax: number;
  /** Backlog payloads dropped because their view ended (the layer sends them again). */
  backlogDroppedAtViewEnd: number;
  /** vsMulticast of a view that is not the current one (or already ending): dropped, the layer resends. */
  staleMulticastsDropped: number;
  sendsRefusedBacklogFull: number;
  datagramsSent: number;
  datagramsReceived: number;
  datagramsDropped: number;
  slowReportsSent: number;
  slowReportsReceived: number;
  layerResets: number;
  /** Packs written by the pack kernel (the rest, by encodeMessage and encodePack). */
  packsByKernel: number;
}

/** A layer message waiting in the backlog, unencoded, with the bytes its encoding takes. */
interface BacklogMessage {
  readonly header: ChannelHeader;
  readonly body: Uint8Array;
  readonly bytes: number;
}

/** The layer's name of a cluster member: a restart is a new member. */
export const memberName = (m: MemberRef): string => `${m.nodeId}/${m.incarnation}`;

/** The node id and incarnation of a layer member name, or null if it is not one. */
export function parseMemberName(name: string): MemberRef | null {
  const at = name.lastIndexOf('/');
  if (at <= 0) return null;
  const incarnation = Number(name.slice(at + 1));
  return Number.isInteger(incarnation) && incarnation >= 0 ? { nodeId: name.slice(0, at), incarnation } : null;
}

const kOutputsMax = 1 << 20;

/** The cluster core's payloadBytesMax when the init's membership options leave it out. */
export const kClusterChannelsPayloadBytesDefault = 16 * 1024;

export class ClusterChannels implements SansIoCore<ClusterChannelsInput, ClusterChannelsOutput> {
  readonly counters: ClusterChannelsCounters = {
    multicasts: 0, packedMessages: 0, packsDelivered: 0, backlogQueued: 0, backlogLengthMax: 0, backlogDroppedAtViewEnd: 0, staleMulticastsDropped: 0, sendsRefusedBacklogFull: 0,
    datagramsSent: 0, datagramsReceived: 0, datagramsDropped: 0, slowReportsSent: 0, slowReportsReceived: 0, layerResets: 0, packsByKernel: 0,
  };
  readonly cluster: string;
  readonly nodeId: string;
  readonly incarnation: number;
  readonly self: string;
  readonly multicastBacklogMax: number;
  private readonly member: ClusterMember;
  private layerValue: ChannelLayer;
  private readonly layerOptions: Omit<ChannelLayerOptions, 'self'>;
  private readonly out = new OutputQueue<ClusterChannelsOutput>(kOutputsMax);
  private readonly slowReportRepeatMs: number;
  private readonly membersMax: number;
  private readonly payloadBytesMax: number;
  /** The cluster view the layer is in (this module's copy, from viewInstalled). */
  private view: ClusterView | null = null;
  private names: string[] = [];
  /** The view for which the layer was told vsViewEnding, and the view the cluster core said it ended. */
  private endingGiven = -1;
  private endedViewId = -1;
  /** FIFO of payloads the cluster core refused for now, all of view backlogViewId. */
  private backlog: BacklogMessage[] = [];
  private readonly packKernel: PackKernel | null;
  private backlogHead = 0;
  private backlogViewId = -1;
  /** While true the backlog is not handed to the cluster core (see the cork input). */
  private corked = false;
  /** Slow members reported in the current view (at most membersMax), with when to repeat. */
  private readonly slowReports = new Map<string, { ref: MemberRef; nextMs: number }>();
  private nowMs: number;
  /**
   * The cluster core's last send and its envelope: a multicast is one bytes object sent
   * to every other member in a row (broadcastToView), so it is wrapped once and the
   * same envelope goes to each (the host, the messenger and the worker seal it once too;
   * nothing downstream writes into it). Cleared after each batch of the core's outputs.
   */
  private lastSent: Uint8Array | null = null;
  private lastEnvelope: Uint8Array | null = null;

  constructor(init: ClusterChannelsInit) {
    this.cluster = init.cluster;
    this.nodeId = init.nodeId;
    this.incarnation = init.incarnation;
    this.self = memberName(init);
    this.nowMs = init.nowMs;
    this.multicastBacklogMax = init.multicastBacklogMax ?? 1024;
    if (!Number.isInteger(this.multicastBacklogMax) || this.multicastBacklogMax < 1) throw new RangeError(`multicastBacklogMax must be a positive integer, got ${this.multicastBacklogMax}`);
    this.slowReportRepeatMs = init.slowReportRepeatMs ?? 50;
    if (!(this.slowReportRepeatMs > 0)) throw new RangeError(`slowReportRepeatMs must be > 0, got ${this.slowReportRepeatMs}`);
    const membership = resolveClusterMemberOptions({ payloadBytesMax: kClusterChannelsPayloadBytesDefault, ...init.membership });
    this.membersMax = membership.membersMax;
    this.payloadBytesMax = membership.payloadBytesMax;
    this.layerOptions = init.layer ?? {};
    this.packKernel = init.packKernel ?? null;
    if (this.packKernel !== null && this.packKernel.packBytesMax < this.payloadBytesMax) {
      throw new RangeError(`packKernel.packBytesMax ${this.packKernel.packBytesMax} is under membership.payloadBytesMax ${this.payloadBytesMax}`);
    }
    this.layerValue = this.newLayer();
    // Every message the layer multicasts must fit one cluster payload: a header with a
    // vector clock of the view, then a fragment, an order batch, a feedback or an open.
    const layer = this.layerValue.settings;
    const bodyMax = Math.max(layer.fragmentBytes, 2 + 6 * layer.orderEntriesMax, 5 + 8 * membership.membersMax, kNameBytesMax);
    const needed = kPackHeaderBytes + packRecordBytes(kHeaderBytes + 4 * membership.membersMax + bodyMax);
    if (membership.payloadBytesMax < needed) {
      throw new RangeError(`membership.payloadBytesMax ${membership.payloadBytesMax} is under the channel layer's largest message, ${needed} bytes (fragmentBytes ${layer.fragmentBytes}, orderEntriesMax ${layer.orderEntriesMax}, membersMax ${membership.membersMax})`);
    }
    this.member = new ClusterMember({
      cluster: init.cluster, nodeId: init.nodeId, incarnation: init.incarnation, definition: init.definition, random: init.random, nowMs: init.nowMs,
      options: { ...init.membership, payloadBytesMax: membership.payloadBytesMax },
    });
    this.pump();
  }

  // ---- Queries --------------------------------------------------------------------

  /** The channel layer now in use (it is replaced when this member is cut out and rejoins). */
  get layer(): ChannelLayer {
    return this.layerValue;
  }

  get membership(): ClusterMember {
    return this.member;
  }

  status(): ClusterStatus {
    return this.member.status();
  }

  currentView(): ClusterView | null {
    return this.view;
  }

  /** Payloads waiting for the cluster core to accept them. */
  backlogLength(): number {
    return this.backlog.length - this.backlogHead;
  }

  // ---- The contract ---------------------------------------------------------------

  step(input: ClusterChannelsInput): void {
    switch (input.kind) {
      case 'receive': this.receive(input.from, input.bytes); break;
      case 'suspect': this.member.step({ kind: 'suspect', nodeId: input.nodeId }); break;
      case 'leave': this.member.step({ kind: 'leave' }); break;
      case 'definitionChanged': this.member.step({ kind: 'definitionChanged', members: input.members }); break;
      case 'cork': this.corked = true; break;
      case 'uncork': this.corked = false; break;
      case 'send':
        if (this.backlogLength() >= this.multicastBacklogMax) {
          this.counters.sendsRefusedBacklogFull++;
          this.out.push({ kind: 'sendFailed', sendId: input.sendId, code: 'GALAXY_CLUSTER_CHANNELS_BACKLOG_FULL', message: `${this.backlogLength()} payloads wait for the cluster core (multicastBacklogMax ${this.multicastBacklogMax})` });
          break;
        }
        this.layerValue.step(input);
        break;
      default: this.layerValue.step(input);
    }
    this.pump();
  }

  tick(nowMs: number): void {
    if (nowMs < this.nowMs) throw new Error(`tick went back from ${this.nowMs} to ${nowMs}`);
    this.nowMs = nowMs;
    this.corked = false;
    this.member.tick(nowMs);
    this.pump();
    this.layerValue.tick(nowMs);
    this.repeatSlowReports();
    this.pump();
  }

  ready(): readonly ClusterChannelsOutput[] {
    return this.out.ready();
  }

  advance(): void {
    this.out.advance();
  }

  // ---- Receiving --------------------------------------------------------------------

  private receive(from: string, bytes: Uint8Array): void {
    let envelope;
    try {
      envelope = decodeEnvelope(bytes);
    } catch (error) {
      if (!(error instanceof ClusterChannelsError)) throw error;
      this.out.push({ kind: 'dropped', from, code: error.code });
      return;
    }
    switch (envelope.kind) {
      case 'cluster':
        this.member.step({ kind: 'receive', from, bytes: envelope.bytes });
        return;
      case 'datagram': {
        const sender = this.memberOf(from, envelope.senderIncarnation);
        if (envelope.cluster !== this.cluster || sender === null || this.view === null || envelope.viewId !== this.view.id) {
          this.counters.datagramsDropped++;
          return;
        }
        this.counters.datagramsReceived++;
        this.layerValue.step({ kind: 'vsDatagram', viewId: envelope.viewId, sender, bytes: envelope.bytes });
        return;
      }
      case 'slowMember': {
        // Only a report from a member of this view, about a member of this view, counts.
        if (envelope.cluster !== this.cluster || this.view === null || envelope.viewId !== this.view.id || this.memberOf(from, null) === null) return;
        if (this.memberOf(envelope.nodeId, envelope.incarnation) === null || envelope.nodeId === this.nodeId) return;
        this.counters.slowReportsReceived++;
        this.member.step({ kind: 'suspect', nodeId: envelope.nodeId });
        return;
      }
    }
  }

  /** The layer name of node `nodeId` in the current view (at `incarnation` if given), or null. */
  private memberOf(nodeId: string, incarnation: number | null): string | null {
    if (this.view === null) return null;
    const rank = this.view.members.findIndex((m) => m.nodeId === nodeId && (incarnation === null || m.incarnation === incarnation));
    return rank < 0 ? null : this.names[rank]!;
  }

  // ---- The seam ---------------------------------------------------------------------

  /** Moves outputs between the two cores until both are quiet; each may feed the other. */
  private pump(): void {
    for (let guard = 0; ; guard++) {
      if (guard > 1_000_000) throw new Error('cluster channels: the cores did not settle');
      const fromMember = this.member.ready();
      if (fromMember.length > 0) {
        const batch = fromMember.slice();
        this.member.advance();
        for (const output of batch) this.onMember(output);
        this.lastSent = null;
        this.lastEnvelope = null;
        continue;
      }
      const fromLayer = this.layerValue.ready();
      if (fromLayer.length > 0) {
        const batch = fromLayer.slice();
        this.layerValue.advance();
        for (const output of batch) this.onLayer(output);
        continue;
      }
      if (this.drainBacklog()) continue;
      return;
    }
  }

  private onMember(output: ClusterOutput): void {
    switch (output.kind) {
      case 'send': {
        if (output.bytes !== this.lastSent) {
          this.lastSent = output.bytes;
          this.lastEnvelope = encodeClusterEnvelope(output.bytes);
        }
        this.out.push({ kind: 'send', to: output.to, bytes: this.lastEnvelope! });
        return;
      }
      case 'deliver': {
        const sender = this.view !== null && this.view.id === output.viewId ? this.memberOf(output.sender, null) : null;
        if (sender === null) throw new Error(`cluster channels: a delivery from ${output.sender} in view ${output.viewId}, outside the installed view ${this.view?.id ?? '-'}`);
        let items: Uint8Array[];
        try {
          // Every record is at least one byte and a varint: a pack of payloadBytesMax holds fewer than payloadBytesMax / 2.
          items = decodePack(output.payload, this.payloadBytesMax >>> 1);
        } catch (error) {
          if (!(error instanceof ClusterChannelsError)) throw error;
          this.out.push({ kind: 'dropped', from: output.sender, code: error.code });
          return;
        }
        this.counters.packsDelivered++;
        this.layerValue.step({ kind: 'vsDeliverBatch', viewId: output.viewId, sender, items });
        return;
      }
      case 'blocked':
        this.endView(output.viewId);
        return;
      case 'viewEnding':
        this.endView(output.viewId);
        this.endedViewId = output.viewId;
        return;
      case 'viewInstalled':
        this.install(output.view);
        return;
      case 'status':
        this.out.push({ kind: 'clusterStatus', status: output.status });
        return;
      case 'dropped':
        this.out.push({ kind: 'dropped', from: output.from, code: output.code });
        return;
    }
  }

  private endView(viewId: number): void {
    if (this.view === null || this.view.id !== viewId || this.endingGiven === viewId) return;
    this.endingGiven = viewId;
    this.layerValue.step({ kind: 'vsViewEnding', viewId });
    this.dropBacklog();
  }

  private install(view: ClusterView): void {
    const old = this.view;
    if (old !== null && !(this.endedViewId === old.id && view.id === old.id + 1)) {
      // Cut out of `old`: start a fresh layer as a new member of `view`.
      this.counters.layerResets++;
      this.out.push({ kind: 'channelsReset', fromViewId: old.id });
      this.failUnsent(this.layerValue);
      this.layerValue = this.newLayer();
      this.layerValue.tick(this.nowMs);
    }
    this.dropBacklog();
    this.slowReports.clear();
    this.view = view;
    this.names = view.members.map(memberName);
    this.out.push({ kind: 'clusterView', view });
    this.layerValue.step({ kind: 'vsViewInstalled', view: { id: view.id, members: this.names } });
  }

  private newLayer(): ChannelLayer {
    // The cluster core hands over its own copies (decoded or multicast), never written again.
    // Its multicasts come unencoded: drainBacklog writes them into packs.
    return new ChannelLayer({ inputsImmutable: true, ...this.layerOptions, self: this.self, deferMulticastEncoding: true });
  }

  /** The sends a discarded layer had not completed fail, so no caller waits forever. */
  private failUnsent(layer: ChannelLayer): void {
    for (const sendId of layer.pendingSendIds()) {
      this.out.push({ kind: 'sendFailed', sendId, code: 'GALAXY_CHANNEL_VIEW_LEFT', message: 'this member was cut out of the view before the send completed' });
    }
  }

  private onLayer(output: VsCommand | AppEvent): void {
    switch (output.kind) {
      case 'vsMulticast':
        throw new Error('cluster channels: the layer multicast encoded bytes, though it runs with deferMulticastEncoding');
      case 'vsMulticastMessage':
        this.multicast(output.viewId, output.header, output.body);
        return;
      case 'vsSendDatagram':
        this.sendDatagram(output.viewId, output.bytes);
        return;
      case 'slowMember':
        this.out.push(output);
        this.reportSlow(output.member);
        return;
      default:
        this.out.push(output);
    }
  }

  /**
   * Queues a layer message for the cluster core. It goes out at the end of this pump
   * (drainBacklog), packed with whatever else the layer multicast meanwhile, so nothing
   * waits for a later step or tick: a lone message goes at once, a burst goes as one pack.
   */
  private multicast(viewId: number, header: ChannelHeader, body: Uint8Array): void {
    if (this.view === null || viewId !== this.view.id || this.endingGiven === viewId) {
      this.counters.staleMulticastsDropped++;
      return;
    }
    if (this.backlogLength() === 0) this.backlogViewId = viewId;
    this.backlog.push({ header, body, bytes: kHeaderBytes + 4 * header.clock.length + body.length });
    this.counters.backlogQueued++;
    this.counters.backlogLengthMax = Math.max(this.counters.backlogLengthMax, this.backlogLength());
  }

  /** Hands a payload to the cluster core; false when it refuses for now (window full or blocked). */
  private tryMulticast(bytes: Uint8Array): boolean {
    if (!this.member.canMulticast()) return false;
    try {
      this.member.step({ kind: 'multicast', payload: bytes });
    } catch (error) {
      // canMulticast said yes, so only a payload over the bound can land here: the constructor rules it out.
      if (error instanceof ClusterError) throw new Error(`cluster channels: the cluster core refused a payload of ${bytes.length} bytes: ${error.code}`);
      throw error;
    }
    this.counters.multicasts++;
    return true;
  }

  /**
   * Sends the backlog's head as one pack, as many messages as fit payloadBytesMax, when
   * the cluster core accepts; returns whether it sent one. One pack per call: the
   * cluster core's self-delivery of it reaches the layer before the next goes.
   */
  private drainBacklog(): boolean {
    let sent = false;
    if (!this.corked && this.backlogLength() > 0 && this.view !== null && this.backlogViewId === this.view.id && this.endingGiven !== this.view.id && this.member.canMulticast()) {
      let end = this.backlogHead;
      let bytes = kPackHeaderBytes;
      while (end < this.backlog.length) {
        const next = bytes + packRecordBytes(this.backlog[end]!.bytes);
        if (next > this.payloadBytesMax && end > this.backlogHead) break;
        bytes = next;
        end++;
      }
      if (this.tryMulticast(this.packOf(this.backlogHead, end))) {
        this.counters.packedMessages += end - this.backlogHead;
        this.backlogHead = end;
        sent = true;
      }
    }
    if (this.backlogHead > 0 && this.backlogHead === this.backlog.length) {
      this.backlog = [];
      this.backlogHead = 0;
    } else if (this.backlogHead > 1024 && this.backlogHead * 2 > this.backlog.length) {
      this.backlog.splice(0, this.backlogHead);
      this.backlogHead = 0;
    }
    return sent;
  }

  /** The pack of backlog[from, end): one pass by the kernel, else encodeMessage and encodePack (the same bytes). */
  private packOf(from: number, end: number): Uint8Array {
    if (this.packKernel === null) return encodePack(this.backlog.slice(from, end).map((m) => encodeMessage(m.header, m.body)));
    this.counters.packsByKernel++;
    return this.packKernel.packMessages(this.backlog, from, end);
  }

  private dropBacklog(): void {
    this.counters.backlogDroppedAtViewEnd += this.backlogLength();
    this.backlog = [];
    this.backlogHead = 0;
    this.backlogViewId = -1;
  }

  private sendDatagram(viewId: number, bytes: Uint8Array): void {
    if (this.view === null || viewId !== this.view.id) {
      this.counters.datagramsDropped++;
      return;
    }
    const envelope = encodeDatagramEnvelope(this.cluster, viewId, this.incarnation, bytes);
    for (const m of this.view.members) {
      if (m.nodeId === this.nodeId) continue;
      this.counters.datagramsSent++;
      this.out.push({ kind: 'send', to: m.nodeId, bytes: envelope });
    }
  }

  // ---- Slow members -----------------------------------------------------------------

  private reportSlow(member: string): void {
    const ref = parseMemberName(member);
    if (ref === null || this.view === null || ref.nodeId === this.nodeId) return;
    if (this.memberOf(ref.nodeId, ref.incarnation) === null) return;
    if (!this.slowReports.has(member) && this.slowReports.size < this.membersMax) this.slowReports.set(member, { ref, nextMs: this.nowMs });
    this.member.step({ kind: 'suspect', nodeId: ref.nodeId });
    this.repeatSlowReports();
  }

  private repeatSlowReports(): void {
    if (this.view === null) return;
    for (const report of this.slowReports.values()) {
      if (this.nowMs < report.nextMs) continue;
      report.nextMs = this.nowMs + this.slowReportRepeatMs;
      const envelope = encodeSlowMemberEnvelope(this.cluster, this.view.id, report.ref.nodeId, report.ref.incarnation);
      for (const m of this.view.members) {
        if (m.nodeId === this.nodeId || m.nodeId === report.ref.nodeId) continue;
        this.counters.slowReportsSent++;
        this.out.push({ kind: 'send', to: m.nodeId, bytes: envelope });
      }
    }
  }
}
