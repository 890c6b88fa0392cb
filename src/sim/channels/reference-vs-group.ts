import { encodeMessage } from '../../core/channels/channel-header.js';
import { ChannelLayer } from '../../core/channels/channel-layer.js';
import type { AppCommand, AppEvent, ChannelOutput } from '../../core/channels/channel-layer-io.js';
import type { ChannelLayerOptions } from '../../core/channels/channel-layer-options.js';
import type { ChannelOptions } from '../../core/channels/channel-options.js';
import { Prng } from '../../core/util/prng.js';
import { ChannelHistoryRecorder } from './channel-history.js';
import { SeededEventQueue } from './seeded-event-queue.js';

/**
 * A test harness, not a product part: a reference model of a view-synchronous group,
 * correct by construction, that runs one ChannelLayer per member on a seeded event
 * queue, so the channel layer can be checked before the real cluster core exists.
 *
 * What it gives the layers (the contract of vs-group-port.ts):
 * - Reliable multicast: each copy arrives after a random delay (so messages of
 *   different senders interleave differently at each member), FIFO per sender and
 *   receiver, the sender's own copy included.
 * - A view change (after a crash, a removal, a join, or on request): after detectMs the
 *   members get `vsViewEnding`, and from then on their multicasts of the view are
 *   dropped; copies in flight keep arriving for flushMs; then the model completes the
 *   flush by construction — every survivor gets, FIFO per sender and in a random merge
 *   of senders, each message of the view that any survivor delivered or any survivor
 *   sent — and installs the next view (survivors, then joiners, in order).
 * - Best-effort datagrams: lost, duplicated and reordered at random, dropped outside
 *   their view.
 * - Crashes stop a member at once, and its copies still in flight are lost (only the
 *   flush can carry its messages on, from a survivor that has them); partitions are modelled as the minority's removal
 *   (a minority side stops, as the cluster service does).
 *
 * It records each member's channel outputs in a ChannelHistory for the checkers.
 */
export interface ReferenceVsGroupOptions {
  seed: number;
  /** Members of the first view: m0, m1, … */
  members: number;
  /** A multicast copy's delay, uniform in [delayMsMin, delayMsMax]. Defaults 0.05 and 4 ms. */
  delayMsMin?: number;
  delayMsMax?: number;
  datagramLossRate?: number;
  datagramDuplicateRate?: number;
  /** How often every layer is ticked. Default 1 ms. */
  tickIntervalMs?: number;
  /** From a crash to vsViewEnding. Default 3 ms. */
  detectMs?: number;
  /** From vsViewEnding to the flush's completion and the next view. Default 3 ms. */
  flushMs?: number;
  /** By member: how long its application takes per delivery of a reliable channel (0: consumed at once). */
  consumeDelayMs?: Record<string, number>;
  /** Remove a member reported by a slowMember output. Default true. */
  removeSlow?: boolean;
  /** Options of every member's layer (self is filled in). */
  layer?: Omit<ChannelLayerOptions, 'self'>;
  /** Called for each delivery, e.g. to send a reply (causal workloads). */
  onDelivered?: (member: string, event: Extract<AppEvent, { kind: 'delivered' }>) => void;
  /**
   * Members whose application is outside the model (e.g. a ChannelEndpoint under test):
   * the model hands them every application event through onAppEvent and does not consume
   * their deliveries; they consume through command().
   */
  external?: readonly string[];
  onAppEvent?: (member: string, event: AppEvent) => void;
  eventsMax?: number;
}

interface Member {
  id: string;
  layer: ChannelLayer;
  alive: boolean;
  viewId: number;
  delivered: Set<number>;
  /** By sender: when its last copy to this member is due (FIFO). */
  dueMs: Map<string, number>;
  /** By channel: deliveries the application has not taken yet, and whether it is taking them. */
  unconsumed: Map<string, number>;
  consuming: Set<string>;
  consumeDelayMs: number;
}

interface GroupMessage {
  uid: number;
  sender: string;
  bytes: Uint8Array;
}

export type SendStatus = 'queued' | 'done' | { failed: string };

export class ReferenceVsGroup {
  readonly recorder = new ChannelHistoryRecorder();
  readonly queue: SeededEventQueue;
  readonly prng: Prng;
  /** Multicasts the group dropped: stamped with an ended view or sent during a flush. */
  droppedMulticasts = 0;
  readonly slowReports: { member: string; channel: string; reporter: string }[] = [];
  /** By `member|channel`: the most deliveries its application held unconsumed at once (what flow control bounds). */
  readonly unconsumedMax = new Map<string, number>();
  private readonly options: Required<Omit<ReferenceVsGroupOptions, 'onDelivered' | 'layer' | 'consumeDelayMs' | 'onAppEvent'>> & Pick<ReferenceVsGroupOptions, 'onDelivered' | 'layer' | 'consumeDelayMs' | 'onAppEvent'>;
  private readonly members = new Map<string, Member>();
  private viewId = 0;
  private viewMembers: string[] = [];
  private messages: GroupMessage[] = [];
  private uidNext = 1;
  private flushing = false;
  private flushCompleting = false;
  private copiesInFlight = 0;
  private changePending = false;
  private readonly joiners: string[] = [];
  private readonly removed = new Set<string>();
  private sendIdNext = 1;
  private readonly sendPayloads = new Map<number, Uint8Array>();
  readonly sendStatus = new Map<number, SendStatus>();
  private joinedCount = 0;

  constructor(options: ReferenceVsGroupOptions) {
    this.options = {
      delayMsMin: 0.05, delayMsMax: 4, datagramLossRate: 0, datagramDuplicateRate: 0, tickIntervalMs: 1, detectMs: 3, flushMs: 3,
      removeSlow: true, eventsMax: 5_000_000, external: [], ...options,
    };
    this.prng = new Prng(options.seed);
    this.queue = new SeededEventQueue(this.options.eventsMax);
    const first: string[] = [];
    for (let i = 0; i < options.members; i++) first.push(this.addMember(`m${i}`).id);
    this.installView(first);
    this.scheduleTick();
  }

  get nowMs(): number {
    return this.queue.nowMs;
  }

  /** The current view's members. */
  view(): readonly string[] {
    return this.viewMembers;
  }

  layerOf(member: string): ChannelLayer {
    return this.members.get(member)!.layer;
  }

  isAlive(member: string): boolean {
    return this.members.get(member)?.alive === true;
  }

  /** Opens a channel at a member (it announces it to the others). */
  open(member: string, name: string, options: ChannelOptions): void {
    this.stepApp(member, () => this.layerOf(member).step({ kind: 'open', name, options }));
  }

  /** Sends from a member; returns the send id (see sendStatus). A dead member's send is ignored (-1). */
  send(member: string, channel: string, payload: Uint8Array): number {
    if (!this.isAlive(member)) return -1;
    const sendId = this.sendIdNext++;
    this.sendPayloads.set(sendId, payload);
    this.sendStatus.set(sendId, 'queued');
    this.stepApp(member, () => this.layerOf(member).step({ kind: 'send', sendId, channel, payload }));
    return sendId;
  }

  /** Steps any application command into a member's layer (for external applications). */
  command(member: string, command: AppCommand): void {
    this.stepApp(member, () => this.layerOf(member).step(command));
  }

  setRate(member: string, channel: string, rateMessagesPerSecond: number): void {
    this.stepApp(member, () => this.layerOf(member).step({ kind: 'setRate', channel, rateMessagesPerSecond }));
  }

  /** Crashes a member now; the view changes without it. */
  crash(member: string): void {
    const m = this.members.get(member);
    if (m === undefined || !m.alive) return;
    m.alive = false;
    this.recorder.stop(member);
    this.requestViewChange();
  }

  /** A new member joins in the next view; returns its id. */
  join(): string {
    const id = `j${this.joinedCount++}`;
    this.addMember(id);
    this.joiners.push(id);
    this.requestViewChange();
    return id;
  }

  /** Asks for a view change with no membership change (so the current view is flushed and checkable). */
  requestViewChange(): void {
    if (this.changePending) return;
    this.changePending = true;
    this.queue.at(this.nowMs + this.options.detectMs, () => this.beginFlush());
  }

  /** Whether a view change is under way. */
  get changing(): boolean {
    return this.changePending;
  }

  runFor(durationMs: number): void {
    this.queue.runUntil(this.nowMs + durationMs);
  }

  /**
   * Runs until the group is quiet — no view change pending, no copy in flight, nothing
   * queued to send, nothing unconsumed — at two checks 5 ms apart, or maxMs passes.
   */
  settle(maxMs: number): boolean {
    const end = this.nowMs + maxMs;
    let quietChecks = 0;
    while (this.nowMs < end) {
      this.runFor(5);
      quietChecks = !this.changePending && this.idle() ? quietChecks + 1 : 0;
      if (quietChecks >= 2) return true;
    }
    return false;
  }

  private idle(): boolean {
    if (this.copiesInFlight > 0) return false;
    for (const m of this.members.values()) {
      if (!m.alive) continue;
      for (const name of m.layer.channelNames()) if ((m.layer.channelCounters(name)?.sendQueueLength ?? 0) > 0) return false;
      for (const count of m.unconsumed.values()) if (count > 0) return false;
    }
    return true;
  }

  private addMember(id: string): Member {
    const member: Member = {
      id, layer: new ChannelLayer({ ...this.options.layer, self: id }), alive: true, viewId: 0, delivered: new Set(), dueMs: new Map(),
      unconsumed: new Map(), consuming: new Set(), consumeDelayMs: this.options.consumeDelayMs?.[id] ?? 0,
    };
    this.members.set(id, member);
    return member;
  }

  private stepApp(member: string, run: () => void): void {
    if (!this.isAlive(member)) return;
    run();
    this.drain(this.members.get(member)!);
  }

  private scheduleTick(): void {
    this.queue.at(this.nowMs + this.options.tickIntervalMs, () => {
      for (const m of this.members.values()) {
        if (!m.alive || m.viewId === 0) continue;
        m.layer.tick(this.nowMs);
        this.drain(m);
      }
      this.scheduleTick();
    });
  }

  private beginFlush(): void {
    this.flushing = true;
    for (const id of this.viewMembers) {
      const m = this.members.get(id)!;
      if (!m.alive) continue;
      m.layer.step({ kind: 'vsViewEnding', viewId: this.viewId });
      this.drain(m);
    }
    this.queue.at(this.nowMs + this.options.flushMs, () => this.completeFlush());
  }

  /** Gives every survivor the same set of the view's messages, then installs the next view. */
  private completeFlush(): void {
    const survivors = this.viewMembers.filter((id) => this.members.get(id)!.alive && !this.removed.has(id));
    const inSet = new Set<number>();
    for (const message of this.messages) {
      if (survivors.includes(message.sender)) inSet.add(message.uid);
      else if (survivors.some((id) => this.members.get(id)!.delivered.has(message.uid))) inSet.add(message.uid);
    }
    this.flushCompleting = true;
    for (const id of survivors) {
      const m = this.members.get(id)!;
      const bySender = new Map<string, GroupMessage[]>();
      for (const message of this.messages) {
        if (!inSet.has(message.uid) || m.delivered.has(message.uid)) continue;
        bySender.set(message.sender, [...(bySender.get(message.sender) ?? []), message]);
      }
      const senders = [...bySender.keys()];
      while (senders.length > 0) {
        const at = this.prng.nextInt(senders.length);
        const list = bySender.get(senders[at]!)!;
        const message = list.shift()!;
        if (list.length === 0) senders.splice(at, 1);
        this.deliverCopy(m, message, this.viewId);
      }
    }
    this.flushCompleting = false;
    for (const id of this.viewMembers) {
      if (this.removed.has(id) && this.members.get(id)!.alive) {
        this.members.get(id)!.alive = false;
        this.recorder.stop(id);
      }
    }
    this.removed.clear();
    const next = [...survivors, ...this.joiners.splice(0)];
    this.flushing = false;
    this.changePending = false;
    this.installView(next);
  }

  private installView(members: string[]): void {
    this.viewId++;
    this.viewMembers = members;
    this.messages = [];
    // Every member enters the view before any is told: a member told first may multicast at once.
    for (const id of members) {
      const m = this.members.get(id)!;
      m.viewId = this.viewId;
      m.delivered = new Set();
      m.dueMs = new Map();
    }
    for (const id of members) {
      const m = this.members.get(id)!;
      m.layer.tick(this.nowMs);
      m.layer.step({ kind: 'vsViewInstalled', view: { id: this.viewId, members } });
      this.drain(m);
    }
  }

  private drain(m: Member): void {
    const outputs = [...m.layer.ready()];
    m.layer.advance();
    for (const output of outputs) this.act(m, output);
  }

  private act(m: Member, output: ChannelOutput): void {
    if (output.kind !== 'vsMulticast' && output.kind !== 'vsMulticastMessage' && output.kind !== 'vsSendDatagram' && this.options.external.includes(m.id)) {
      this.record(m, output);
      this.options.onAppEvent?.(m.id, output);
      return;
    }
    switch (output.kind) {
      case 'vsMulticast': return this.multicast(m, output.viewId, output.bytes);
      case 'vsMulticastMessage': return this.multicast(m, output.viewId, encodeMessage(output.header, output.body));
      case 'vsSendDatagram': return this.datagram(m, output.viewId, output.bytes);
      case 'view': return this.recorder.view(m.id, output.view.id, output.view.members);
      case 'opened': return this.recorder.channel(output.channel, output.options.reliability, output.options.ordering);
      case 'sent': return this.recorder.sent(m.id, output.channel, output.viewId, output.seq, this.sendPayloads.get(output.sendId)!);
      case 'sendDone':
        this.sendStatus.set(output.sendId, 'done');
        this.sendPayloads.delete(output.sendId);
        return;
      case 'sendFailed': return void this.sendStatus.set(output.sendId, { failed: output.code });
      case 'slowMember': return this.slow(m, output.member, output.channel);
      case 'delivered': return this.delivered(m, output);
    }
  }

  /** Records an external member's events (its sends' payloads are taken from the sent event's echo). */
  private record(m: Member, output: AppEvent): void {
    if (output.kind === 'view') this.recorder.view(m.id, output.view.id, output.view.members);
    else if (output.kind === 'opened') this.recorder.channel(output.channel, output.options.reliability, output.options.ordering);
    else if (output.kind === 'delivered') this.recorder.delivered(m.id, output.channel, output.sender, output.viewId, output.seq, output.payload);
  }

  private delivered(m: Member, event: Extract<AppEvent, { kind: 'delivered' }>): void {
    this.recorder.delivered(m.id, event.channel, event.sender, event.viewId, event.seq, event.payload);
    const name = event.channel;
    if (m.layer.channelCounters(name) !== undefined && this.isReliable(m, name)) {
      const waiting = (m.unconsumed.get(name) ?? 0) + 1;
      m.unconsumed.set(name, waiting);
      const key = `${m.id}|${name}`;
      this.unconsumedMax.set(key, Math.max(this.unconsumedMax.get(key) ?? 0, waiting));
      this.scheduleConsume(m, name);
    }
    this.options.onDelivered?.(m.id, event);
  }

  private isReliable(m: Member, channel: string): boolean {
    return this.recorder.history.channels[channel]?.reliability === 'reliable' && m.alive;
  }

  /** The member's application takes deliveries one at a time, consumeDelayMs each. */
  private scheduleConsume(m: Member, channel: string): void {
    if (m.consuming.has(channel)) return;
    m.consuming.add(channel);
    this.queue.at(this.nowMs + m.consumeDelayMs, () => {
      m.consuming.delete(channel);
      const waiting = m.unconsumed.get(channel) ?? 0;
      if (!m.alive || waiting === 0) return;
      const count = m.consumeDelayMs === 0 ? waiting : 1;
      m.unconsumed.set(channel, waiting - count);
      m.layer.step({ kind: 'consume', channel, count });
      this.drain(m);
      if (waiting - count > 0) this.scheduleConsume(m, channel);
    });
  }

  private slow(reporter: Member, member: string, channel: string): void {
    this.slowReports.push({ member, channel, reporter: reporter.id });
    if (!this.options.removeSlow || this.removed.has(member)) return;
    this.removed.add(member);
    this.requestViewChange();
  }

  private multicast(from: Member, viewId: number, bytes: Uint8Array): void {
    if (viewId !== this.viewId || this.flushing || !from.alive || this.removed.has(from.id)) {
      this.droppedMulticasts++;
      return;
    }
    const message: GroupMessage = { uid: this.uidNext++, sender: from.id, bytes };
    this.messages.push(message);
    const { delayMsMin, delayMsMax } = this.options;
    for (const id of this.viewMembers) {
      const to = this.members.get(id)!;
      if (!to.alive) continue;
      const dueMs = Math.max(this.nowMs + delayMsMin + this.prng.nextFloat() * (delayMsMax - delayMsMin), (to.dueMs.get(from.id) ?? 0) + 0.001);
      to.dueMs.set(from.id, dueMs);
      this.copiesInFlight++;
      this.queue.at(dueMs, () => {
        this.copiesInFlight--;
        this.deliverCopy(to, message, viewId);
      });
    }
  }

  private deliverCopy(to: Member, message: GroupMessage, viewId: number): void {
    if (!to.alive || to.viewId !== viewId || to.delivered.has(message.uid)) return;
    // A crash loses the copies its member had not yet got out; the flush decides what survives.
    if (!this.flushCompleting && !this.members.get(message.sender)!.alive) return;
    to.delivered.add(message.uid);
    to.layer.step({ kind: 'vsDeliver', viewId, sender: message.sender, bytes: message.bytes });
    this.drain(to);
  }

  private datagram(from: Member, viewId: number, bytes: Uint8Array): void {
    if (viewId !== this.viewId) return;
    for (const id of this.viewMembers) {
      const to = this.members.get(id)!;
      if (id === from.id || !to.alive || this.prng.chance(this.options.datagramLossRate)) continue;
      const copies = this.prng.chance(this.options.datagramDuplicateRate) ? 2 : 1;
      for (let i = 0; i < copies; i++) {
        this.queue.at(this.nowMs + this.prng.nextFloat() * this.options.delayMsMax * 2, () => {
          if (!to.alive || to.viewId !== viewId) return;
          to.layer.step({ kind: 'vsDatagram', viewId, sender: from.id, bytes });
          this.drain(to);
        });
      }
    }
  }
}
