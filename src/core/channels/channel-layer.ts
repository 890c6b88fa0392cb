import { OutputQueue, type SansIoCore } from '../contract.js';
import { ChannelError } from './channel-error.js';
import { newChannelLayerCounters, type ChannelCounters, type ChannelLayerCounters } from './channel-counters.js';
import {
  channelIdOf, decodeFeedbackBody, decodeMessage, decodeOpenBody, decodeOrderBody, encodeFeedbackBody, encodeMessage, encodeOpenBody,
  encodeOrderBody, fragmentCountOf, kKindData, kKindFeedback, kKindOpen, kKindOrder, kViewMembersMax, type ChannelHeader, type DecodedMessage,
} from './channel-header.js';
import type { AppCommand, ChannelInput, ChannelOutput } from './channel-layer-io.js';
import { channelLayerSettings, type ChannelLayerOptions, type ChannelLayerSettings } from './channel-layer-options.js';
import { channelSettings, validateRate, type ChannelOptions } from './channel-options.js';
import { ChannelState, messageKey, type HeldMessage, type QueuedSend } from './channel-state.js';
import type { ChannelView } from './vs-group-port.js';

/**
 * The cluster channel layer of one member: named channels made at runtime, each with its
 * reliability and ordering, on top of a view-synchronous group (see vs-group-port.ts).
 *
 * - Reliable channels ride the group's reliable FIFO multicast; unreliable ones its
 *   best-effort datagrams. Messages are cut into fragments of fragmentBytes.
 * - FIFO comes from the group (reliable) or from sequence numbers (unreliable, late
 *   messages dropped). Causal: a vector clock over the view's ranks. Total: the view's
 *   first member is the sequencer; its order messages travel FIFO like any other, and
 *   every member, the sequencer too, delivers when an order message comes back. Safe:
 *   total, and a message (and the order message placing it) must be held by every
 *   member, as their feedback says, before delivery.
 * - At a view change, before the next view is output, what is left of the old view is
 *   delivered by a deterministic rule: the rest of the received order, then the
 *   unordered messages by (sender rank, seq); causal leftovers by repeated passes. The
 *   group makes survivors hold the same set, so they deliver the same sequence. What
 *   cannot be delivered (its causal or total past died with crashed members) is dropped
 *   and counted (orphansDropped).
 * - Flow control: each member consumes deliveries (`consume`, or autoConsume) and
 *   reports it in feedback; a sender keeps at most windowMessages unconsumed messages
 *   per member of the view. In a new view a sender has no credit at a member until that
 *   member's first feedback, which it withholds until it has consumed what it delivered
 *   in earlier views, so the bound holds across view changes. Rate control: a token
 *   bucket per channel at this sender.
 *
 * Memory per channel: send queue ≤ sendQueueMessagesMax × messageBytesMax; held,
 * pending, partial and delivered-but-unconsumed messages together ≤ members ×
 * windowMessages × messageBytesMax (senders respect credit; reliable partials are at
 * most one per sender); unreliable partials ≤
 * partialsMax × messageBytesMax. Messages for channels not yet announced here ≤
 * unknownChannelMessagesMax fragments, layer-wide.
 */
export class ChannelLayer implements SansIoCore<ChannelInput, ChannelOutput> {
  readonly settings: ChannelLayerSettings;
  readonly counters: ChannelLayerCounters = newChannelLayerCounters();
  private readonly outputs: OutputQueue<ChannelOutput>;
  private readonly channels = new Map<number, ChannelState>();
  private readonly byName = new Map<string, ChannelState>();
  private readonly unknown: { sender: string; decoded: DecodedMessage }[] = [];
  private view: ChannelView | null = null;
  private selfRank = -1;
  private flushing = false;
  private nowMs = 0;

  constructor(options: ChannelLayerOptions) {
    this.settings = channelLayerSettings(options);
    this.outputs = new OutputQueue(this.settings.outputsMax);
  }

  /** The counters of one channel, by name (undefined if unknown here). */
  channelCounters(name: string): Readonly<ChannelCounters> | undefined {
    return this.byName.get(name)?.counters;
  }

  /** The channels known here, by name. */
  channelNames(): string[] {
    return [...this.byName.keys()];
  }

  currentView(): ChannelView | null {
    return this.view;
  }

  /**
   * The send ids this layer accepted and has not yet completed (queued, or sent and not
   * yet delivered here), in no particular order. A host that discards the layer (its
   * member was cut out of the view) fails them.
   */
  pendingSendIds(): number[] {
    const ids: number[] = [];
    for (const channel of this.channels.values()) {
      for (const item of channel.sendQueue) ids.push(item.sendId);
      for (const item of channel.awaitingSelf.values()) ids.push(item.sendId);
    }
    return ids;
  }

  ready(): readonly ChannelOutput[] {
    return this.outputs.ready();
  }

  advance(): void {
    this.outputs.advance();
  }

  step(input: ChannelInput): void {
    switch (input.kind) {
      case 'vsViewInstalled': this.installView(input.view); break;
      case 'vsViewEnding': if (this.view !== null && input.viewId === this.view.id) this.flushing = true; break;
      case 'vsDeliver': this.receive(input.viewId, input.sender, input.bytes, true); break;
      case 'vsDeliverBatch': for (const bytes of input.items) this.receive(input.viewId, input.sender, bytes, true); break;
      case 'vsDatagram': this.receive(input.viewId, input.sender, input.bytes, false); break;
      default: this.command(input);
    }
    this.afterStep();
  }

  tick(nowMs: number): void {
    if (nowMs < this.nowMs) throw new Error(`tick went back from ${this.nowMs} to ${nowMs}`);
    this.nowMs = nowMs;
    for (const channel of this.channels.values()) {
      this.pump(channel);
      this.checkSlow(channel);
    }
    this.afterStep();
  }

  // ---- Application commands -------------------------------------------------------------

  private command(input: AppCommand): void {
    switch (input.kind) {
      case 'open': this.openLocal(input.name, input.options); break;
      case 'send': this.send(input.sendId, input.channel, input.payload); break;
      case 'consume': this.consume(this.named(input.channel), input.count); break;
      case 'setRate': this.setRate(input); break;
    }
  }

  private named(name: string): ChannelState {
    const channel = this.byName.get(name);
    if (channel === undefined) throw new ChannelError('GALAXY_CHANNEL_UNKNOWN', `no channel named ${name}`);
    return channel;
  }

  private openLocal(name: string, options: ChannelOptions): void {
    const settings = channelSettings(options);
    encodeOpenBody(name); // validates the name
    const existing = this.byName.get(name);
    if (existing !== undefined) {
      if (existing.settings.reliability !== settings.reliability || existing.settings.ordering !== settings.ordering) {
        throw new ChannelError('GALAXY_CHANNEL_CONFIG_CONFLICT', `channel ${name} exists as ${existing.settings.reliability} ${existing.settings.ordering}`);
      }
      // The guarantees agree; the local options (window, rates, policy) are this member's to set.
      existing.settings = settings;
      existing.openedHere = true;
      return;
    }
    const channel = this.create(name, channelIdOf(name), options);
    channel.openedHere = true;
    this.announce(channel);
  }

  private create(name: string, id: number, options: ChannelOptions): ChannelState {
    const clash = this.channels.get(id);
    if (clash !== undefined) throw new ChannelError('GALAXY_CHANNEL_ID_COLLISION', `channel ${name} has the id of ${clash.name}; choose another name`);
    if (this.channels.size >= this.settings.channelsMax) throw new ChannelError('GALAXY_CHANNEL_TOO_MANY', `already ${this.channels.size} channels`);
    const channel = new ChannelState(name, id, channelSettings(options), this.nowMs);
    this.channels.set(id, channel);
    this.byName.set(name, channel);
    if (this.view !== null) channel.resetForView(this.view.members.length, this.nowMs);
    if (this.selfRank >= 0) channel.creditKnown[this.selfRank] = true;
    this.outputs.push({ kind: 'opened', channel: name, channelId: id, options: { ...channel.settings } });
    this.replayUnknown(id);
    return channel;
  }

  private send(sendId: number, name: string, payload: Uint8Array): void {
    const channel = this.byName.get(name);
    const fail = (code: string, message: string): void => this.outputs.push({ kind: 'sendFailed', sendId, code, message });
    if (channel === undefined) return fail('GALAXY_CHANNEL_UNKNOWN', `no channel named ${name}`);
    if (payload.length > this.settings.messageBytesMax) return fail('GALAXY_CHANNEL_MESSAGE_TOO_LARGE', `${payload.length} bytes over ${this.settings.messageBytesMax}`);
    if (channel.sendQueue.length >= this.settings.sendQueueMessagesMax) {
      channel.counters.sendsRefused++;
      return fail('GALAXY_CHANNEL_SEND_QUEUE_FULL', `${channel.sendQueue.length} messages already wait on ${name}`);
    }
    channel.sendQueue.push({ sendId, payload });
    this.pump(channel);
    channel.counters.sendQueueLength = channel.sendQueue.length;
  }

  private setRate(input: Extract<AppCommand, { kind: 'setRate' }>): void {
    const channel = this.named(input.channel);
    const next = { ...channel.settings };
    if (input.rateMessagesPerSecond !== undefined) next.rateMessagesPerSecond = input.rateMessagesPerSecond;
    if (input.senderRateMessagesPerSecond !== undefined) next.senderRateMessagesPerSecond = input.senderRateMessagesPerSecond;
    if (input.burstMessages !== undefined) next.burstMessages = input.burstMessages;
    validateRate(next.rateMessagesPerSecond, 'rateMessagesPerSecond');
    validateRate(next.senderRateMessagesPerSecond, 'senderRateMessagesPerSecond');
    if (!Number.isInteger(next.burstMessages) || next.burstMessages < 1) throw new ChannelError('GALAXY_CHANNEL_BAD_OPTIONS', 'burstMessages must be a positive integer');
    channel.settings = next;
    channel.bucket.set(channel.effectiveRate(this.view?.members.length ?? 1), next.burstMessages, this.nowMs);
    this.pump(channel);
  }

  private consume(channel: ChannelState, count: number): void {
    if (!Number.isInteger(count) || count < 0) throw new ChannelError('GALAXY_CHANNEL_BAD_OPTIONS', `consume count must be a non-negative integer, got ${count}`);
    // Deliveries of earlier views come first (the application takes them in order).
    const fromCarried = Math.min(count, channel.carried);
    channel.carried -= fromCarried;
    if (fromCarried > 0 && channel.carried === 0) channel.feedbackDirty = true;
    const available = channel.unconsumed.length - channel.unconsumedHead;
    for (let i = 0; i < Math.min(count - fromCarried, available); i++) {
      const rank = channel.unconsumed[channel.unconsumedHead++]!;
      channel.myConsumed[rank]!++;
      if (rank === this.selfRank) channel.consumedBy[rank] = channel.myConsumed[rank]!;
      channel.consumedSinceFeedback++;
      channel.feedbackDirty = true;
    }
    if (channel.unconsumedHead > 1024 && channel.unconsumedHead * 2 > channel.unconsumed.length) {
      channel.unconsumed.splice(0, channel.unconsumedHead);
      channel.unconsumedHead = 0;
    }
    if (available > 0) this.pump(channel);
  }

  // ---- Views --------------------------------------------------------------------------------

  private installView(view: ChannelView): void {
    if (view.members.length > kViewMembersMax) throw new Error(`a view of ${view.members.length} members is over ${kViewMembersMax}`);
    if (this.view !== null && view.id <= this.view.id) throw new Error(`view ${view.id} after view ${this.view.id}`);
    const old = this.view;
    const late = this.settings.faults.deliverLeftoversAfterInstall === true;
    if (old !== null && !late) for (const channel of this.channels.values()) this.endView(channel, old);
    const leftovers = old !== null && late ? [...this.channels.values()].map((c) => ({ c, snapshot: this.snapshotLeftovers(c) })) : [];
    this.view = view;
    this.selfRank = view.members.indexOf(this.settings.self);
    this.flushing = false;
    this.counters.viewsInstalled++;
    this.outputs.push({ kind: 'view', view });
    if (old !== null && late) for (const { c, snapshot } of leftovers) this.endViewWith(c, old, snapshot);
    for (const channel of this.channels.values()) {
      const resend = channel.resetForView(view.members.length, this.nowMs);
      if (this.selfRank >= 0) channel.creditKnown[this.selfRank] = true;
      channel.counters.resent += resend.length;
      channel.sendQueue.unshift(...resend);
    }
    this.unknown.length = 0;
    if (this.selfRank < 0) return;
    for (const channel of this.channels.values()) if (this.selfRank === 0 || channel.openedHere) this.announce(channel);
    for (const channel of this.channels.values()) this.pump(channel);
  }

  /** The leftovers of a channel's view, taken before the reset (only the broken late-delivery variant needs them apart). */
  private snapshotLeftovers(channel: ChannelState): ChannelState {
    const copy = Object.create(Object.getPrototypeOf(channel) as object) as ChannelState;
    Object.assign(copy, channel);
    return copy;
  }

  private endView(channel: ChannelState, old: ChannelView): void {
    this.endViewWith(channel, old, channel);
  }

  /** Delivers what is left of view `old` by the deterministic flush rule (see the class comment). */
  private endViewWith(channel: ChannelState, old: ChannelView, state: ChannelState): void {
    if (channel.settings.ordering === 'causal') {
      this.deliverCausal(state, old, true);
      channel.counters.orphansDropped += state.causalPending.length;
      return;
    }
    if (!channel.ordered) return;
    for (let i = state.orderHead; i < state.order.length; i++) {
      const slot = state.order[i]!;
      const key = messageKey(slot.rank, slot.seq);
      const message = state.held.get(key);
      if (message === undefined) {
        channel.counters.orphansDropped++;
        continue;
      }
      state.held.delete(key);
      channel.counters.flushDelivered++;
      this.deliver(state, old, message.rank, message.seq, message.payload);
    }
    state.orderHead = state.order.length;
    const rest = [...state.held.entries()].sort((a, b) => a[0] - b[0]);
    for (const [, message] of rest) {
      channel.counters.flushDelivered++;
      this.deliver(state, old, message.rank, message.seq, message.payload);
    }
    state.held.clear();
  }

  /** Sends the channel's open message, once per view. The view's first member announces every channel at installation, for joiners. */
  private announce(channel: ChannelState): void {
    if (this.view === null || this.flushing || this.selfRank < 0 || channel.announced) return;
    channel.announced = true;
    this.multicast(channel, this.controlHeader(channel, kKindOpen, 0), encodeOpenBody(channel.name));
  }

  // ---- Sending --------------------------------------------------------------------------

  /** Sends queued messages while the view, the window and the bucket allow. */
  private pump(channel: ChannelState): void {
    const view = this.view;
    if (view === null || this.flushing || this.selfRank < 0) return;
    while (channel.sendQueue.length > 0) {
      if (channel.reliable && !this.windowOpen(channel)) return;
      if (!channel.bucket.take(this.nowMs)) {
        if (!channel.rateBlocked) channel.counters.rateBlocked++;
        channel.rateBlocked = true;
        return;
      }
      channel.rateBlocked = false;
      this.transmit(channel, view, channel.sendQueue.shift()!);
      channel.counters.sendQueueLength = channel.sendQueue.length;
    }
    // The backlog is gone: whoever slowed it down kept up in the end.
    channel.blockedTotalMs.fill(0);
  }

  /**
   * Whether every member has credit left. It also notes since when each member has held
   * the window closed while lagging half a window behind the fastest member: a member is
   * charged with slowness only when it is behind the others, not when the whole group is
   * paced by the network or by a common speed.
   */
  private windowOpen(channel: ChannelState): boolean {
    const window = channel.settings.windowMessages;
    // A member whose first feedback of the view has not come has given no credit yet.
    const inFlightAt = (rank: number): number => {
      const inFlight = channel.sendSeq - channel.consumedBy[rank]!;
      return channel.creditKnown[rank] ? inFlight : Math.max(window, inFlight);
    };
    let fastest = Infinity;
    for (let rank = 0; rank < channel.members; rank++) fastest = Math.min(fastest, inFlightAt(rank));
    let open = true;
    for (let rank = 0; rank < channel.members; rank++) {
      const inFlight = inFlightAt(rank);
      if (inFlight >= window) open = false;
      const lagging = inFlight >= window && inFlight - fastest >= window / 2;
      const since = channel.blockedSinceMs[rank]!;
      if (lagging && Number.isNaN(since)) {
        channel.blockedSinceMs[rank] = this.nowMs;
        channel.counters.windowBlocked++;
      } else if (!lagging && !Number.isNaN(since)) {
        channel.blockedTotalMs[rank]! += this.nowMs - since;
        channel.blockedSinceMs[rank] = NaN;
      }
    }
    if (!open && fastest >= window) channel.counters.windowBlocked++;
    return open;
  }

  private checkSlow(channel: ChannelState): void {
    if (channel.settings.slowReceiverPolicy !== 'remove' || this.view === null) return;
    for (let rank = 0; rank < channel.members; rank++) {
      const since = channel.blockedSinceMs[rank]!;
      const blockedMs = channel.blockedTotalMs[rank]! + (Number.isNaN(since) ? 0 : this.nowMs - since);
      if (channel.reported[rank] || blockedMs < channel.settings.slowReceiverBoundMs) continue;
      channel.reported[rank] = true;
      channel.counters.slowMembersReported++;
      this.outputs.push({ kind: 'slowMember', channel: channel.name, member: this.view.members[rank]!, blockedMs });
    }
  }

  private transmit(channel: ChannelState, view: ChannelView, item: QueuedSend): void {
    const seq = ++channel.sendSeq;
    const { fragmentBytes } = this.settings;
    const payload = item.payload;
    const fragmentCount = fragmentCountOf(payload.length, fragmentBytes);
    let clock: number[] = [];
    if (channel.settings.ordering === 'causal') {
      clock = channel.deliveredCount.slice();
      clock[this.selfRank] = seq;
    }
    // Every member announces a channel in a view before its first message on it, so a
    // receiver (a joiner too) always knows the channel before that sender's data (FIFO).
    if (channel.reliable) this.announce(channel);
    for (let index = 0; index < fragmentCount; index++) {
      const header: ChannelHeader = {
        kind: kKindData, ordering: channel.settings.ordering, reliability: channel.settings.reliability, viewId: view.id, channelId: channel.id,
        seq, fragmentIndex: index, fragmentCount, messageBytes: payload.length, clock,
      };
      const body = payload.subarray(index * fragmentBytes, Math.min(payload.length, (index + 1) * fragmentBytes));
      if (channel.reliable && this.settings.deferMulticastEncoding) this.outputs.push({ kind: 'vsMulticastMessage', viewId: view.id, header, body });
      else {
        const bytes = encodeMessage(header, body);
        this.outputs.push(channel.reliable ? { kind: 'vsMulticast', viewId: view.id, bytes } : { kind: 'vsSendDatagram', viewId: view.id, bytes });
      }
    }
    channel.counters.messagesSent++;
    channel.counters.bytesSent += payload.length;
    channel.counters.fragmentsSent += fragmentCount;
    this.outputs.push({ kind: 'sent', sendId: item.sendId, channel: channel.name, viewId: view.id, seq });
    if (channel.reliable) {
      channel.awaitingSelf.set(seq, item);
      return;
    }
    // The best-effort path reaches the others only; this member has its message at once.
    this.outputs.push({ kind: 'sendDone', sendId: item.sendId });
    this.acceptUnreliable(channel, view, this.selfRank, seq, payload);
  }

  private multicast(channel: ChannelState, header: ChannelHeader, body: Uint8Array): void {
    if (header.kind !== kKindOpen) this.announce(channel);
    channel.counters.controlSent++;
    if (this.settings.deferMulticastEncoding) this.outputs.push({ kind: 'vsMulticastMessage', viewId: header.viewId, header, body });
    else this.outputs.push({ kind: 'vsMulticast', viewId: header.viewId, bytes: encodeMessage(header, body) });
  }

  private controlHeader(channel: ChannelState, kind: number, seq: number): ChannelHeader {
    return {
      kind, ordering: channel.settings.ordering, reliability: channel.settings.reliability, viewId: this.view!.id, channelId: channel.id,
      seq, fragmentIndex: 0, fragmentCount: 1, messageBytes: 0, clock: [],
    };
  }

  /** End of every step and tick: the sequencer's order batches and due feedback go out. */
  private afterStep(): void {
    if (this.view === null || this.selfRank < 0) return;
    for (const channel of this.channels.values()) {
      if (channel.orderBatch.length > 0) this.flushOrder(channel);
      if (channel.feedbackDirty) this.maybeFeedback(channel);
    }
  }

  private flushOrder(channel: ChannelState): void {
    if (this.flushing) {
      channel.orderBatch = [];
      return;
    }
    const max = this.settings.orderEntriesMax;
    for (let at = 0; at < channel.orderBatch.length; at += max) {
      this.multicast(channel, this.controlHeader(channel, kKindOrder, ++channel.orderSeq), encodeOrderBody(channel.orderBatch.slice(at, at + max)));
    }
    channel.orderBatch = [];
  }

  private maybeFeedback(channel: ChannelState): void {
    if (this.flushing || channel.carried > 0) return;
    const due = this.nowMs - channel.lastFeedbackMs >= this.settings.feedbackIntervalMs;
    const urgent = channel.consumedSinceFeedback * 2 >= channel.settings.windowMessages || channel.stabilityDirty;
    if (!due && !urgent) return;
    channel.feedbackDirty = false;
    channel.stabilityDirty = false;
    channel.consumedSinceFeedback = 0;
    channel.lastFeedbackMs = this.nowMs;
    const body = encodeFeedbackBody({ received: channel.dataReceived, consumed: channel.myConsumed, orderReceived: channel.orderReceived });
    this.multicast(channel, this.controlHeader(channel, kKindFeedback, 0), body);
  }

  // ---- Receiving ----------------------------------------------------------------------------

  private receive(viewId: number, sender: string, bytes: Uint8Array, reliablePath: boolean): void {
    const view = this.view;
    if (view === null || viewId !== view.id || this.selfRank < 0) {
      this.counters.wrongView++;
      return;
    }
    let decoded: DecodedMessage;
    try {
      decoded = decodeMessage(bytes, this.settings);
    } catch (error) {
      if (!(error instanceof ChannelError)) throw error;
      this.counters.decodeErrors++;
      this.counters.decodeErrorsByCode[error.code] = (this.counters.decodeErrorsByCode[error.code] ?? 0) + 1;
      return;
    }
    const { header } = decoded;
    if (header.viewId !== view.id) {
      this.counters.wrongView++;
      return;
    }
    const rank = view.members.indexOf(sender);
    if (rank < 0) {
      this.counters.unknownSender++;
      return;
    }
    // A datagram must be unreliable data; everything else comes over the reliable path.
    if (reliablePath !== (header.reliability === 'reliable' || header.kind !== kKindData)) {
      this.counters.configConflicts++;
      return;
    }
    if (header.kind === kKindOpen) return this.receiveOpen(header, decoded.body);
    const channel = this.channels.get(header.channelId);
    if (channel === undefined) {
      if (this.unknown.length < this.settings.unknownChannelMessagesMax) this.unknown.push({ sender, decoded: { header, body: decoded.body.slice() } });
      else this.counters.unknownChannelDropped++;
      return;
    }
    this.dispatch(channel, view, rank, decoded);
  }

  private dispatch(channel: ChannelState, view: ChannelView, rank: number, { header, body }: DecodedMessage): void {
    if (header.ordering !== channel.settings.ordering || header.reliability !== channel.settings.reliability) {
      this.counters.configConflicts++;
      return;
    }
    if (header.kind === kKindData) return this.receiveFragment(channel, view, rank, header, body);
    channel.counters.controlReceived++;
    try {
      if (header.kind === kKindOrder) this.receiveOrder(channel, view, rank, decodeOrderBody(body));
      else if (header.kind === kKindFeedback) this.receiveFeedback(channel, view, rank, decodeFeedbackBody(body));
    } catch (error) {
      if (!(error instanceof ChannelError)) throw error;
      this.counters.decodeErrors++;
      this.counters.decodeErrorsByCode[error.code] = (this.counters.decodeErrorsByCode[error.code] ?? 0) + 1;
    }
  }

  private receiveOpen(header: ChannelHeader, body: Uint8Array): void {
    let name: string;
    try {
      name = decodeOpenBody(body);
    } catch {
      this.counters.decodeErrors++;
      return;
    }
    const known = this.channels.get(header.channelId);
    if (known !== undefined) {
      if (known.name !== name || known.settings.ordering !== header.ordering || known.settings.reliability !== header.reliability) this.counters.configConflicts++;
      return;
    }
    if (channelIdOf(name) !== header.channelId || this.byName.has(name)) {
      this.counters.configConflicts++;
      return;
    }
    try {
      this.create(name, header.channelId, { reliability: header.reliability, ordering: header.ordering });
    } catch (error) {
      if (!(error instanceof ChannelError)) throw error;
      this.counters.configConflicts++;
    }
  }

  private replayUnknown(channelId: number): void {
    const view = this.view;
    if (view === null) return;
    const waiting = this.unknown.filter((u) => u.decoded.header.channelId === channelId);
    if (waiting.length === 0) return;
    const others = this.unknown.filter((u) => u.decoded.header.channelId !== channelId);
    this.unknown.length = 0;
    this.unknown.push(...others);
    const channel = this.channels.get(channelId)!;
    for (const { sender, decoded } of waiting) this.dispatch(channel, view, view.members.indexOf(sender), decoded);
  }

  private receiveFragment(channel: ChannelState, view: ChannelView, rank: number, header: ChannelHeader, body: Uint8Array): void {
    channel.counters.fragmentsReceived++;
    if (header.clock.length !== 0 && header.clock.length !== view.members.length) {
      this.counters.configConflicts++;
      return;
    }
    // Most messages are one fragment: no reassembly state, one copy out of the input.
    if (header.fragmentCount === 1) {
      if (!channel.reliable && this.isStale(channel, rank, header.seq)) {
        channel.counters.fragmentsDropped++;
        return;
      }
      const payload = channel.reliable && this.settings.inputsImmutable ? body : body.slice();
      return this.complete(channel, view, { rank, seq: header.seq, payload, clock: header.clock });
    }
    const key = messageKey(rank, header.seq);
    let partial = channel.partials.get(key);
    if (partial === undefined) {
      if (!channel.reliable && this.isStale(channel, rank, header.seq)) {
        channel.counters.fragmentsDropped++;
        return;
      }
      if (channel.partials.size >= this.settings.partialsMax + view.members.length) {
        const oldest = channel.partials.keys().next().value as number;
        channel.partials.delete(oldest);
        channel.counters.fragmentsDropped++;
      }
      partial = {
        rank, seq: header.seq, buffer: new Uint8Array(header.messageBytes), clock: header.clock,
        have: new Array<boolean>(header.fragmentCount).fill(false), missing: header.fragmentCount,
      };
      channel.partials.set(key, partial);
    }
    if (partial.buffer.length !== header.messageBytes || partial.have.length !== header.fragmentCount) {
      this.counters.configConflicts++;
      return;
    }
    if (partial.have[header.fragmentIndex]) return; // a duplicate fragment
    partial.have[header.fragmentIndex] = true;
    partial.missing--;
    partial.buffer.set(body, header.fragmentIndex * this.settings.fragmentBytes);
    if (partial.missing > 0) return;
    channel.partials.delete(key);
    this.complete(channel, view, { rank, seq: header.seq, payload: partial.buffer, clock: partial.clock });
  }

  private complete(channel: ChannelState, view: ChannelView, message: HeldMessage): void {
    if (channel.reliable) this.acceptReliable(channel, view, message);
    else this.acceptUnreliable(channel, view, message.rank, message.seq, message.payload);
  }

  /** An unreliable message already delivered, or (FIFO) older than one delivered. */
  private isStale(channel: ChannelState, rank: number, seq: number): boolean {
    if (channel.seen[rank]!.has(seq)) return true;
    return channel.settings.ordering === 'fifo' && seq <= channel.lastSeq[rank]! && this.settings.faults.skipFifoCheck !== true;
  }

  private acceptUnreliable(channel: ChannelState, view: ChannelView, rank: number, seq: number, payload: Uint8Array): void {
    if (this.isStale(channel, rank, seq)) {
      channel.counters.lateDropped++;
      return;
    }
    const seen = channel.seen[rank]!;
    seen.add(seq);
    // Remember recent seqs only: older ones are refused as duplicates by the bound below.
    if (seen.size > 2 * this.settings.partialsMax + 64) for (const old of seen) if (old < seq - this.settings.partialsMax - 32) seen.delete(old);
    channel.lastSeq[rank] = Math.max(channel.lastSeq[rank]!, seq);
    this.deliver(channel, view, rank, seq, payload);
  }

  private acceptReliable(channel: ChannelState, view: ChannelView, message: HeldMessage): void {
    const { rank, seq } = message;
    channel.dataReceived[rank] = Math.max(channel.dataReceived[rank]!, seq);
    if (channel.settings.ordering === 'safe') channel.feedbackDirty = channel.stabilityDirty = true;
    if (channel.settings.ordering === 'safe') channel.ackReceived[this.selfRank]![rank] = channel.dataReceived[rank]!;
    switch (channel.settings.ordering) {
      case 'none':
      case 'fifo':
        return this.deliver(channel, view, rank, seq, message.payload);
      case 'causal':
        if (this.settings.faults.skipCausalWait === true) return this.deliverCausalOne(channel, view, message);
        channel.causalPending.push(message);
        return this.deliverCausal(channel, view, false);
      default:
        if (this.settings.faults.deliverTotalOnReceipt === true) return this.deliver(channel, view, rank, seq, message.payload);
        channel.held.set(messageKey(rank, seq), message);
        if (this.selfRank === 0 && !this.flushing) channel.orderBatch.push({ senderRank: rank, seq });
        return this.deliverOrdered(channel, view);
    }
  }

  private deliverCausalOne(channel: ChannelState, view: ChannelView, message: HeldMessage): void {
    channel.deliveredCount[message.rank] = Math.max(channel.deliveredCount[message.rank]!, message.seq);
    this.deliver(channel, view, message.rank, message.seq, message.payload);
  }

  /** Delivers every pending causal message whose past is delivered; at a view end, in (rank, seq) order. */
  private deliverCausal(channel: ChannelState, view: ChannelView, viewEnd: boolean): void {
    if (viewEnd) channel.causalPending.sort((a, b) => a.rank - b.rank || a.seq - b.seq);
    let progress = true;
    while (progress) {
      progress = false;
      for (let i = 0; i < channel.causalPending.length; i++) {
        const message = channel.causalPending[i]!;
        if (!this.causallyReady(channel, message)) continue;
        channel.causalPending.splice(i, 1);
        if (viewEnd) channel.counters.flushDelivered++;
        this.deliverCausalOne(channel, view, message);
        progress = true;
        break;
      }
    }
  }

  private causallyReady(channel: ChannelState, message: HeldMessage): boolean {
    const delivered = channel.deliveredCount;
    if (message.clock[message.rank] !== delivered[message.rank]! + 1) return false;
    for (let k = 0; k < delivered.length; k++) if (k !== message.rank && message.clock[k]! > delivered[k]!) return false;
    return true;
  }

  private receiveOrder(channel: ChannelState, view: ChannelView, rank: number, entries: readonly { senderRank: number; seq: number }[]): void {
    if (rank !== 0 || !channel.ordered) {
      this.counters.configConflicts++;
      return;
    }
    const orderIndex = ++channel.orderReceived;
    if (channel.settings.ordering === 'safe') {
      channel.ackOrder[this.selfRank] = orderIndex;
      channel.feedbackDirty = channel.stabilityDirty = true;
    }
    for (const entry of entries) {
      if (entry.senderRank >= view.members.length) continue;
      channel.order.push({ rank: entry.senderRank, seq: entry.seq, orderIndex });
    }
    this.deliverOrdered(channel, view);
  }

  private receiveFeedback(channel: ChannelState, view: ChannelView, rank: number, feedback: { received: readonly number[]; consumed: readonly number[]; orderReceived: number }): void {
    if (feedback.received.length !== view.members.length) {
      this.counters.configConflicts++;
      return;
    }
    if (rank !== this.selfRank) {
      channel.creditKnown[rank] = true;
      channel.ackReceived[rank] = feedback.received.slice();
      channel.ackOrder[rank] = feedback.orderReceived;
      channel.consumedBy[rank] = Math.max(channel.consumedBy[rank]!, feedback.consumed[this.selfRank]!);
    }
    if (channel.settings.ordering === 'safe') this.deliverOrdered(channel, view);
    this.pump(channel);
  }

  /** Delivers held messages in the order received from the sequencer (safe: once stable). */
  private deliverOrdered(channel: ChannelState, view: ChannelView): void {
    const safe = channel.settings.ordering === 'safe' && this.settings.faults.deliverSafeBeforeStable !== true;
    while (channel.orderHead < channel.order.length) {
      const slot = channel.order[channel.orderHead]!;
      const key = messageKey(slot.rank, slot.seq);
      const message = channel.held.get(key);
      if (message === undefined) return;
      if (safe && !this.stable(channel, slot.rank, slot.seq, slot.orderIndex)) return;
      channel.held.delete(key);
      channel.orderHead++;
      this.deliver(channel, view, slot.rank, slot.seq, message.payload);
    }
    if (channel.orderHead > 1024) {
      channel.order.splice(0, channel.orderHead);
      channel.orderHead = 0;
    }
  }

  /** Every member of the view holds the message and the order message that placed it. */
  private stable(channel: ChannelState, rank: number, seq: number, orderIndex: number): boolean {
    for (let member = 0; member < channel.members; member++) {
      if (channel.ackReceived[member]![rank]! < seq || channel.ackOrder[member]! < orderIndex) return false;
    }
    return true;
  }

  private deliver(channel: ChannelState, view: ChannelView, rank: number, seq: number, payload: Uint8Array): void {
    channel.counters.messagesDelivered++;
    channel.counters.bytesDelivered += payload.length;
    this.outputs.push({ kind: 'delivered', channel: channel.name, sender: view.members[rank]!, viewId: view.id, seq, payload });
    if (rank === this.selfRank && view === this.view) {
      const own = channel.awaitingSelf.get(seq);
      if (own !== undefined) {
        channel.awaitingSelf.delete(seq);
        this.outputs.push({ kind: 'sendDone', sendId: own.sendId });
      }
    }
    if (!channel.reliable || view !== this.view) return;
    channel.unconsumed.push(rank);
    if (this.settings.autoConsume) this.consume(channel, 1);
  }
}
