import type { Runtime } from '../kernels/runtime.js';
import { MembershipTable } from '../table/membership-table.js';
import * as L from '../table/layout.js';
import type { Prng } from '../util/prng.js';
import { assembledBytes, assembleParts } from '../wire/compound.js';
import * as F from '../wire/format.js';
import { formatNodeId, formatWireAddress, type NodeId, type WireAddress } from '../wire/message.js';
import { Tape } from '../wire/tape.js';
import { WireCounters } from '../wire/wire-counters.js';
import { AddressIndex } from './address-index.js';
import { Awareness } from './awareness.js';
import { BroadcastQueue } from './broadcast-queue.js';
import { pushPullIntervalFor, retransmitLimit, type MembershipConfig } from './config.js';
import { phiKSquared } from './failure-detector.js';
import type { MembershipEvent, MembershipEventType } from './membership-event.js';
import { MessageParts } from './message-parts.js';
import { encodeStateFrame, encodeSummaryFrame, forEachEntry } from './state-frame.js';
import { bucketOf, mismatchedBuckets, summarize, summaryBucketsFor } from './summary.js';
import { expectedConfirmations, Suspicion, suspicionMinMs, suspicionTimeoutMs } from './suspicion.js';

/**
 * The engine's whole view of the outside world: a clock, a seeded generator and two
 * ways to send. It does no I/O of its own (sans-I/O, like etcd's raft): the agent
 * drives it over UDP and TCP, the simulator over a simulated network.
 *
 * The bytes handed to sendDatagram and sendFrame are only valid during the call (they
 * may be a view into shared memory that is reused): copy them to keep them.
 */
export interface EngineEnvironment {
  /** Local monotonic time, ms. */
  nowMs(): number;
  readonly random: Prng;
  sendDatagram(to: string, bytes: Uint8Array): void;
  /** A reliable, ordered stream message (push-pull state); failures come back as streamFailed. */
  sendFrame(to: string, bytes: Uint8Array): void;
}

/** Scratch memory an engine uses within one call; engines on one thread may share it. */
export class EngineScratch {
  readonly parts: MessageParts;
  readonly receiveTape: Tape;
  readonly receivePacket: number;
  readonly sendPacket: number;
  readonly frame: number;
  readonly frameTape: Tape;
  readonly rowList: number;

  constructor(runtime: Runtime, membersMax: number) {
    this.parts = new MessageParts(runtime, membersMax);
    this.receiveTape = new Tape(runtime, { messages: F.kCompoundPartsMax, entries: 256, payloadBytes: 8192 });
    this.receivePacket = runtime.allocate(F.kDatagramBytesMax + 64, 8);
    this.sendPacket = runtime.allocate(F.kDatagramBytesMax + 64, 8);
    this.frame = runtime.allocate(F.kFrameBytesMax, 8);
    this.frameTape = new Tape(runtime, { messages: 1, entries: 0, payloadBytes: 4 * F.kSummaryBucketsMax });
    this.rowList = runtime.allocate(64 * 4, 8);
  }
}

export interface EngineOptions {
  config: MembershipConfig;
  runtime: Runtime;
  environment: EngineEnvironment;
  id: NodeId;
  address: WireAddress;
  /** Starting incarnation; give each restart a higher one (the agent uses wall-clock seconds). */
  incarnation?: number;
  meta?: Uint8Array;
  /** Addresses to join through ("ip:port"). */
  seeds?: readonly string[];
  /** Shared scratch (many engines on one thread); made when absent. */
  scratch?: EngineScratch;
  /** A table to use (for a worker that owns it); made with config.membersMax when absent. */
  table?: MembershipTable;
  /**
   * IPv4 address texts remembered so that a ping's reply-to address is not formatted for
   * every ping (AddressIndex.textOf); 0 keeps none. One agent keeps one per member (the
   * default); a simulator running thousands of engines passes 0 to save the memory.
   */
  addressTextsMax?: number;
}

/** Counters exported as metrics and read by the simulator and benchmarks. */
export class EngineStats {
  datagramsSent = 0;
  bytesSent = 0;
  framesSent = 0;
  frameBytesSent = 0;
  datagramsReceived = 0;
  bytesReceived = 0;
  probes = 0;
  probesFailed = 0;
  indirectProbes = 0;
  suspicionsRaised = 0;
  /** Independent confirmations of a suspicion already held (each shortens its timer). */
  suspicionConfirmations = 0;
  refutations = 0;
  deathsDeclared = 0;
  unreachableReports = 0;
  streamFailures = 0;
  userDelivered = 0;
  readonly wire = new WireCounters();
}

interface ProbeState {
  row: number;
  seq: number;
  indirectAtMs: number;
  endAtMs: number;
  acked: boolean;
  indirectSent: boolean;
  nacks: number;
  expectedNacks: number;
  /** The fallback ping over a stream: 0 none, 1 pending, 2 failed. */
  streamPing: number;
  address: string;
}

interface Relay {
  originSeq: number;
  origin: string;
  deadlineMs: number;
  wantNack: boolean;
}

const kUserHeaderBytes = 12; // origin id (8) + sequence (4)
const kUserSeenMax = 4096;
const kPhiThreshold = 8;
const kPriorityProbesMax = 16;
const kAddressTextsMaxDefault = 16_384;

/**
 * The SWIM + Lifeguard membership engine: a pure state machine fed by tick() and
 * receive*(), emitting datagrams, stream frames and membership events.
 *
 *  - Probing: one member per probe interval, round-robin over a shuffled list; a direct
 *    ping, then indirect pings through `indirectChecks` members, who send nacks when
 *    the target stays silent, so a prober can tell its own slowness from the target's.
 *  - Lifeguard: the probe interval and timeout stretch with local health (missed nacks,
 *    refutations, event-loop lag); suspicion timeouts start long and shrink with
 *    independent confirmations; a SUSPECT rides on the ping to the suspect so it
 *    refutes at once.
 *  - Dissemination: news rides on every datagram through a transmit-limited queue, and
 *    gossip rounds carry it to a random fanout; a death or a refutation triggers a
 *    round at once. Every datagram also carries this node's own heartbeat entry, which
 *    the receiving kernel merges and feeds to its phi-accrual statistics.
 *  - Anti-entropy: push-pull of the whole state over a stream on join and every
 *    (log N scaled) interval; tombstones are kept and reaped later; dead members and
 *    seeds are re-contacted so healed partitions merge back.
 *  - Strong evidence: an ICMP unreachable from the transport makes the member suspect at
 *    once with a short confirmation window (unreachable()).
 */
export class MembershipEngine {
  readonly config: MembershipConfig;
  readonly table: MembershipTable;
  readonly stats = new EngineStats();
  readonly selfId: NodeId;
  readonly selfAddress: string;
  readonly selfRow: number;
  private readonly runtime: Runtime;
  private readonly env: EngineEnvironment;
  private readonly scratch: EngineScratch;
  private readonly parts: MessageParts;
  private readonly broadcasts: BroadcastQueue;
  private readonly addressIndex: AddressIndex;
  private readonly awareness: Awareness;
  private readonly seeds: readonly string[];
  private readonly meta = new Map<number, Uint8Array>();
  private readonly suspicions = new Map<number, Suspicion>();
  private readonly relays = new Map<number, Relay>();
  private readonly knownStatus: Uint8Array;
  private readonly probeOrder: Int32Array;
  private probeCount = 0;
  private probeIndex = 0;
  private readonly priorityProbes: number[] = [];
  /** Rows learned from a merge, announced once their metadata is in. */
  private readonly toAnnounce: number[] = [];
  private readonly seedRows = new Map<string, number>();
  private priorityTurn = false;
  private probe: ProbeState | null = null;
  private urgent: ProbeState | null = null;
  private events: MembershipEvent[] = [];
  private userMessages: Uint8Array[] = [];
  private readonly userSeen = new Set<string>();
  private readonly userSeenOrder: string[] = [];
  private userSequence = 0;
  private seq = 1;
  private now = 0;
  private started = false;
  private leaving = false;
  private selfPart: Uint8Array | null = null;
  private nextProbeAtMs = 0;
  private nextGossipAtMs = 0;
  private nextSweepAtMs = 0;
  private nextDeadlineAtMs = Infinity;
  private nextPushPullAtMs = 0;
  private nextReconnectAtMs = 0;
  private lastLagReportMs = -Infinity;
  private liveMembers = 1;
  private readonly phiK2 = phiKSquared(kPhiThreshold);

  constructor(options: EngineOptions) {
    this.config = options.config;
    this.runtime = options.runtime;
    this.env = options.environment;
    this.scratch = options.scratch ?? new EngineScratch(options.runtime, options.config.membersMax);
    this.parts = this.scratch.parts;
    this.table = options.table ?? MembershipTable.create(options.runtime, options.config.membersMax);
    this.broadcasts = new BroadcastQueue(options.config.broadcastQueueLengthMax);
    this.awareness = new Awareness(options.config.awarenessMax);
    this.seeds = (options.seeds ?? []).filter((s) => s !== formatWireAddress(options.address));
    this.selfId = options.id;
    this.selfAddress = formatWireAddress(options.address);
    const meta = options.meta ?? new Uint8Array(0);
    if (meta.length > this.config.metaBytesMax) throw new RangeError(`meta of ${meta.length} bytes exceeds metaBytesMax ${this.config.metaBytesMax}`);
    this.knownStatus = new Uint8Array(this.table.capacity);
    this.probeOrder = new Int32Array(this.table.capacity);
    this.now = this.env.nowMs();
    this.selfRow = this.table.upsert(options.id, options.address, options.incarnation ?? 1, F.kStatusAlive, this.now);
    this.table.markSelf(this.selfRow);
    this.addressIndex = new AddressIndex(this.table, options.addressTextsMax ?? kAddressTextsMaxDefault);
    this.knownStatus[this.selfRow] = F.kStatusAlive;
    if (meta.length > 0) this.meta.set(this.selfRow, meta);
  }

  /**
   * Takes the members already in the table as known (alive ones to be probed, the dead
   * as tombstones), for an engine handed a table that is already filled: a worker
   * restarted over a live table, or a simulated farm started in its steady state.
   * Emits no events for them.
   */
  adoptTable(): void {
    let live = 0;
    for (let row = 0; row < this.table.rowCount; row++) {
      const status = this.table.status[row]!;
      this.knownStatus[row] = status;
      if (status === F.kStatusAlive || status === F.kStatusSuspect) live++;
      if ((status === F.kStatusDead || status === F.kStatusLeft) && row !== this.selfRow) this.table.armDeadline(row, this.now + this.config.tombstoneReapMs);
    }
    this.liveMembers = live;
    this.addressIndex.rebuild();
    this.rebuildProbeOrder();
  }

  // ---------------------------------------------------------------- driving

  /** Joins through the seeds and starts the timers. */
  start(): void {
    this.now = this.env.nowMs();
    this.started = true;
    const jitter = (ms: number) => this.now + this.env.random.nextFloat() * ms;
    this.nextProbeAtMs = jitter(this.config.probeIntervalMs);
    this.nextGossipAtMs = jitter(this.config.gossipIntervalMs);
    this.nextSweepAtMs = this.now + this.config.probeIntervalMs;
    this.nextPushPullAtMs = jitter(this.pushPullInterval());
    this.queueAnnouncement(this.selfRow);
    // A table that already holds live members (adoptTable) needs no join.
    if (this.liveMembers <= 1) this.joinSeeds();
    this.nextReconnectAtMs = this.now + (this.liveMembers <= 1 ? Math.min(1000, this.config.reconnectIntervalMs) : this.config.reconnectIntervalMs);
  }

  /** Advances every timer to the current time; call often (the drivers use 5-10 ms). */
  tick(): void {
    if (!this.started) return;
    this.now = this.env.nowMs();
    const now = this.now;
    if (this.urgent !== null && now >= this.urgent.endAtMs) this.finishUrgentProbe();
    if (this.probe !== null && !this.probe.acked && !this.probe.indirectSent && now >= this.probe.indirectAtMs) this.sendIndirectProbes(this.probe);
    if (this.probe !== null && now >= this.probe.endAtMs) this.finishProbe();
    if (this.probe === null && now >= this.nextProbeAtMs && !this.leaving) this.startProbe();
    if (this.relays.size > 0) this.expireRelays();
    if (now >= this.nextGossipAtMs) {
      this.nextGossipAtMs = now + this.config.gossipIntervalMs;
      this.gossip();
    }
    if (now >= this.nextSweepAtMs || now >= this.nextDeadlineAtMs) this.sweep();
    if (this.config.pushPullIntervalMs > 0 && now >= this.nextPushPullAtMs) {
      this.nextPushPullAtMs = now + this.pushPullInterval();
      this.pushPullRandom();
    }
    if (this.config.reconnectIntervalMs > 0 && now >= this.nextReconnectAtMs) {
      this.nextReconnectAtMs = now + (this.liveMembers <= 1 ? Math.min(1000, this.config.reconnectIntervalMs) : this.config.reconnectIntervalMs);
      this.reconnect();
    }
  }

  /** Handles one datagram from the network. `bytes` is only read during the call. */
  receiveDatagram(from: string, bytes: Uint8Array): void {
    this.now = this.env.nowMs();
    this.stats.datagramsReceived++;
    this.stats.bytesReceived += bytes.length;
    if (bytes.length > F.kDatagramBytesMax) {
      this.stats.wire.record(-F.kErrTooLarge);
      return;
    }
    const { u8 } = this.runtime.views;
    const packet = this.scratch.receivePacket;
    u8.set(bytes, packet);
    const tape = this.scratch.receiveTape;
    const count = this.runtime.kernels.decode(packet, bytes.length, F.kDatagramBytesMax, tape.pointer);
    this.stats.wire.record(count);
    if (count < 0 || this.leaving) return;
    let hasEntries = false;
    for (let i = 0; i < count; i++) {
      const type = u8[tape.message(i) + F.kMsgType];
      if (type === F.kTypePushPullDigest || type === F.kTypePushPullState) hasEntries = true;
    }
    // Messages first: an ALIVE brings a new member in with its metadata, so its join
    // event carries tags; then the heartbeat entries.
    for (let i = 0; i < count; i++) this.handleMessage(from, tape.message(i));
    if (hasEntries) this.mergeEntries(packet, bytes.length, F.kDatagramBytesMax, bytes);
    this.announceLearned();
  }

  /** Handles one stream frame (push-pull state). */
  receiveFrame(from: string, bytes: Uint8Array): void {
    this.now = this.env.nowMs();
    if (bytes.length > F.kFrameBytesMax || bytes.length < 9) {
      this.stats.wire.record(-F.kErrTooLarge);
      return;
    }
    this.runtime.views.u8.set(bytes, this.scratch.frame);
    const type = bytes[3];
    if (type === F.kTypePushPullSummary) {
      this.receiveSummary(from, bytes.length);
      return;
    }
    if (type === F.kTypePing || type === F.kTypeAck) {
      this.receiveStreamProbe(from, bytes.length, type);
      return;
    }
    if (type !== F.kTypePushPullState && type !== F.kTypePushPullDigest) {
      this.stats.wire.record(-F.kErrWrongType);
      return;
    }
    const result = this.mergeEntries(this.scratch.frame, bytes.length, F.kFrameBytesMax, bytes);
    this.stats.wire.record(result);
    if (result < 0) return;
    if (type === F.kTypePushPullState) this.takeMeta(bytes);
    this.announceLearned();
    const flags = bytes[4]!;
    // A full state (a join) is answered with a full state; partial ones close an exchange.
    if ((flags & (F.kPushPullFlagReply | F.kPushPullFlagPartial)) === 0 && !this.leaving) this.sendState(from, F.kPushPullFlagReply);
  }

  /**
   * Push-pull by summary: compare bucket hashes and send the entries of the buckets
   * that differ. The responder sends its differing buckets, then its own summary with
   * the reply flag; the initiator, having merged them, sends back what it still has
   * that differs. Two summaries of a few KiB when views agree.
   */
  private receiveSummary(from: string, length: number): void {
    const tape = this.scratch.frameTape;
    const count = this.runtime.kernels.decode(this.scratch.frame, length, F.kFrameBytesMax, tape.pointer);
    this.stats.wire.record(count);
    if (count !== 1 || this.leaving) return;
    const { u8, dv } = this.runtime.views;
    const m = tape.message(0);
    const flags = u8[m + F.kMsgFlags]!;
    const bucketCount = dv.getUint32(m + F.kMsgSeq, true);
    const at = tape.payloadArea + dv.getUint32(m + F.kMsgPayloadOffset, true);
    const theirs = new Uint32Array(bucketCount);
    for (let i = 0; i < bucketCount; i++) theirs[i] = dv.getUint32(at + 4 * i, true);
    const mine = summarize(this.table, bucketCount);
    const differ = mismatchedBuckets(mine, theirs);
    if (differ.some((d) => d === 1)) {
      this.sendState(from, F.kPushPullFlagPartial | F.kPushPullFlagReply, (row) => differ[bucketOf(this.table.idHigh[row]!, this.table.idLow[row]!, bucketCount)] === 1);
    }
    if ((flags & F.kPushPullFlagReply) === 0) this.sendSummary(from, F.kPushPullFlagReply, bucketCount);
  }

  /** A ping over a stream is answered over the stream; an ack over one completes a probe. */
  private receiveStreamProbe(from: string, length: number, type: number): void {
    const tape = this.scratch.frameTape;
    const count = this.runtime.kernels.decode(this.scratch.frame, length, F.kFrameBytesMax, tape.pointer);
    this.stats.wire.record(count);
    if (count !== 1 || this.leaving) return;
    const dv = this.runtime.views.dv;
    const m = tape.message(0);
    const seq = dv.getUint32(m + F.kMsgSeq, true);
    if (type === F.kTypePing) {
      if (!this.isSelf(dv.getUint32(m + F.kMsgNodeHigh, true), dv.getUint32(m + F.kMsgNodeLow, true))) return;
      const ack = this.parts.ack(seq, this.table, this.selfRow);
      const n = assembleParts(this.runtime, this.scratch.sendPacket, [ack], F.kDatagramBytesMax);
      this.stats.framesSent++;
      this.stats.frameBytesSent += n;
      this.env.sendFrame(from, this.runtime.views.u8.subarray(this.scratch.sendPacket, this.scratch.sendPacket + n));
    } else if (this.probe !== null && this.probe.seq === seq) {
      this.probe.acked = true;
    }
  }

  private sendSummary(address: string, flags: number, bucketCount: number): void {
    const frame = encodeSummaryFrame(summarize(this.table, bucketCount), flags);
    this.stats.framesSent++;
    this.stats.frameBytesSent += frame.length;
    this.env.sendFrame(address, frame);
  }

  /**
   * Strong evidence from the transport: a datagram to `to` drew an ICMP unreachable, so
   * the process there is most likely gone. Suspect it now and re-probe at once; a
   * second report or silence for unreachableConfirmMs confirms the death, an ack or a
   * higher incarnation refutes.
   */
  unreachable(to: string): void {
    this.now = this.env.nowMs();
    this.stats.unreachableReports++;
    const row = this.rowOfAddress(to);
    if (row < 0 || row === this.selfRow) return;
    const status = this.table.status[row];
    if (status !== F.kStatusAlive && status !== F.kStatusSuspect) return;
    if (this.urgent !== null && this.urgent.row === row) {
      this.declareDead(row, this.table.incarnation[row]!, this.selfRow);
      this.urgent = null;
      return;
    }
    if (this.urgent !== null) return; // one confirmation at a time; the next report will be seen
    if (status === F.kStatusAlive) this.suspect(row, this.table.incarnation[row]!, this.selfRow, true);
    const seq = this.seq++;
    this.urgent = { row, seq, indirectAtMs: Infinity, endAtMs: this.now + this.config.unreachableConfirmMs, acked: false, indirectSent: true, nacks: 0, expectedNacks: 0, streamPing: 0, address: to };
    this.sendTo(to, [this.parts.accusation(F.kTypeSuspect, this.table.incarnation[row]!, this.table, row, this.selfRow), this.parts.ping(seq, this.table, row, this.selfRow)]);
  }

  /** A stream to `to` could not be opened or broke. */
  streamFailed(to: string): void {
    this.stats.streamFailures++;
    const probe = this.probe;
    if (probe !== null && probe.streamPing === 1 && probe.address === to) {
      probe.streamPing = 2;
      if (!probe.acked && probe.nacks >= probe.expectedNacks && probe.expectedNacks > 0) probe.endAtMs = this.now;
    }
    // Alone and the seed refused: try again soon rather than after a whole reconnect interval.
    if (this.liveMembers <= 1 && this.seeds.includes(to)) this.nextReconnectAtMs = Math.min(this.nextReconnectAtMs, this.env.nowMs() + Math.min(1000, this.config.reconnectIntervalMs));
  }

  /** The driver measured event-loop lag: a slow node should not accuse others. */
  reportEventLoopLag(lagMs: number): void {
    if (lagMs <= this.config.eventLoopLagMsMax) return;
    this.now = this.env.nowMs();
    // Whatever this node was waiting for may be sitting unread in its socket: give an
    // in-flight probe a fresh wait instead of accusing its target of our own stall.
    const probe = this.probe;
    if (probe !== null && !probe.acked) {
      probe.indirectAtMs = Math.max(probe.indirectAtMs, this.now + this.config.probeTimeoutMs / 2);
      probe.endAtMs = Math.max(probe.endAtMs, this.now + this.config.probeIntervalMs - this.config.probeTimeoutMs);
    }
    for (const relay of this.relays.values()) relay.deadlineMs = Math.max(relay.deadlineMs, this.now + this.config.probeTimeoutMs / 2);
    if (this.urgent !== null && !this.urgent.acked) this.urgent.endAtMs = Math.max(this.urgent.endAtMs, this.now + this.config.unreachableConfirmMs);
    if (this.now - this.lastLagReportMs < this.config.probeIntervalMs) return;
    this.lastLagReportMs = this.now;
    this.awareness.apply(1);
  }

  /** Leaves gracefully: tells the farm at once; the driver stops after a short flush. */
  leave(): void {
    if (this.leaving) return;
    this.now = this.env.nowMs();
    const incarnation = this.table.incarnation[this.selfRow]!;
    this.broadcasts.queueMembership(this.key(this.selfRow), this.parts.leave(incarnation, this.table, this.selfRow));
    this.gossip(true);
    this.leaving = true;
    this.table.status[this.selfRow] = F.kStatusLeft;
    this.selfPart = null;
  }

  /** Changes this node's metadata at runtime (bounded), spread with a new incarnation. */
  setMeta(meta: Uint8Array): void {
    if (meta.length > this.config.metaBytesMax) throw new RangeError(`meta of ${meta.length} bytes exceeds metaBytesMax ${this.config.metaBytesMax}`);
    this.meta.set(this.selfRow, Uint8Array.from(meta));
    this.table.incarnation[this.selfRow] = this.table.incarnation[this.selfRow]! + 1;
    this.selfPart = null;
    this.queueAnnouncement(this.selfRow);
  }

  /** Broadcasts a payload to every member (epidemic, deduplicated, bounded size). */
  broadcastUser(payload: Uint8Array): void {
    if (payload.length > this.config.userPayloadBytesMax) throw new RangeError(`user broadcast of ${payload.length} bytes exceeds userPayloadBytesMax ${this.config.userPayloadBytesMax}`);
    const framed = new Uint8Array(kUserHeaderBytes + payload.length);
    const dv = new DataView(framed.buffer);
    dv.setUint32(0, this.selfId.high, true);
    dv.setUint32(4, this.selfId.low, true);
    dv.setUint32(8, this.userSequence++, true);
    framed.set(payload, kUserHeaderBytes);
    this.rememberUser(framed);
    this.broadcasts.queueUser(this.parts.user(framed));
  }

  /** Membership events since the last call, oldest first. */
  drainEvents(): MembershipEvent[] {
    const out = this.events;
    this.events = [];
    return out;
  }

  /** User broadcasts received since the last call (each once), oldest first. */
  drainUserMessages(): Uint8Array[] {
    const out = this.userMessages;
    this.userMessages = [];
    return out;
  }

  /** Lifeguard local health score (0 = healthy). */
  get health(): number {
    return this.awareness.health;
  }

  get incarnation(): number {
    return this.table.incarnation[this.selfRow]!;
  }

  /** Members known alive or suspect, this node included. */
  get aliveCount(): number {
    return this.liveMembers;
  }

  metaOf(row: number): Uint8Array | undefined {
    return this.meta.get(row);
  }

  addressOf(row: number): string {
    return formatWireAddress({ family: this.table.family[row]! as 0 | 4 | 6, bytes: this.table.address.subarray(row * 16, row * 16 + 16), port: this.table.port[row]! });
  }

  // ---------------------------------------------------------------- probing

  private startProbe(): void {
    const row = this.nextProbeTarget();
    const interval = this.awareness.scale(this.config.probeIntervalMs);
    this.table.heartbeat[this.selfRow] = (this.table.heartbeat[this.selfRow]! + 1) >>> 0;
    this.selfPart = null;
    if (row < 0) {
      this.nextProbeAtMs = this.now + interval;
      return;
    }
    const seq = this.seq++;
    this.stats.probes++;
    const address = this.addressOf(row);
    this.probe = { row, seq, indirectAtMs: this.now + this.awareness.scale(this.config.probeTimeoutMs), endAtMs: this.now + interval, acked: false, indirectSent: false, nacks: 0, expectedNacks: 0, streamPing: 0, address };
    this.nextProbeAtMs = this.now + interval;
    const parts = [this.parts.ping(seq, this.table, row, this.selfRow)];
    // Lifeguard: tell a suspect it is suspected, on the ping itself, so it refutes at once.
    if (this.table.status[row] === F.kStatusSuspect) parts.unshift(this.parts.accusation(F.kTypeSuspect, this.table.incarnation[row]!, this.table, row, this.selfRow));
    this.sendTo(address, parts);
  }

  private nextProbeTarget(): number {
    // Priority probes (members whose heartbeat went silent) take at most every other
    // turn, so the round-robin always advances: SWIM's detection bound depends on it.
    this.priorityTurn = !this.priorityTurn;
    while (this.priorityTurn && this.priorityProbes.length > 0) {
      const row = this.priorityProbes.shift()!;
      if (this.probeable(row)) return row;
    }
    for (let attempts = 0; attempts < 2; attempts++) {
      while (this.probeIndex < this.probeCount) {
        const row = this.probeOrder[this.probeIndex++]!;
        if (this.probeable(row)) return row;
      }
      this.rebuildProbeOrder();
    }
    return -1;
  }

  private probeable(row: number): boolean {
    const status = this.table.status[row];
    return row !== this.selfRow && (status === F.kStatusAlive || status === F.kStatusSuspect);
  }

  private rebuildProbeOrder(): void {
    let n = 0;
    for (let row = 0; row < this.table.rowCount; row++) if (this.probeable(row)) this.probeOrder[n++] = row;
    const random = this.env.random;
    for (let i = n - 1; i > 0; i--) {
      const j = random.nextInt(i + 1);
      const t = this.probeOrder[i]!;
      this.probeOrder[i] = this.probeOrder[j]!;
      this.probeOrder[j] = t;
    }
    this.probeCount = n;
    this.probeIndex = 0;
  }

  private sendIndirectProbes(probe: ProbeState): void {
    probe.indirectSent = true;
    // Also ping over a stream, as memberlist does: TCP retransmits what a lossy network
    // drops, so a live member on a path losing 20% of datagrams still answers.
    const pingPart = this.parts.ping(probe.seq, this.table, probe.row, this.selfRow);
    const length = assembleParts(this.runtime, this.scratch.sendPacket, [pingPart], F.kDatagramBytesMax);
    if (length > 0) {
      probe.streamPing = 1;
      this.stats.framesSent++;
      this.stats.frameBytesSent += length;
      this.env.sendFrame(probe.address, this.runtime.views.u8.subarray(this.scratch.sendPacket, this.scratch.sendPacket + length));
    }
    const helpers = this.randomMembers(this.config.indirectChecks, (row) => row !== probe.row && this.table.status[row] === F.kStatusAlive);
    if (helpers.length === 0) return;
    this.stats.indirectProbes++;
    probe.expectedNacks = helpers.length;
    const part = this.parts.indirectPing(probe.seq, this.table, probe.row, this.selfRow, true);
    for (const helper of helpers) this.sendTo(this.addressOf(helper), [part]);
  }

  private finishProbe(): void {
    const probe = this.probe!;
    this.probe = null;
    if (probe.acked) {
      this.awareness.apply(-1);
      return;
    }
    this.stats.probesFailed++;
    // Lifeguard: nacks that never came mean our own network or process is the slow part.
    if (probe.expectedNacks > 0) this.awareness.apply(probe.expectedNacks - probe.nacks);
    // Suspect it, or confirm an existing suspicion (which shortens its timer).
    const status = this.table.status[probe.row];
    if (status === F.kStatusAlive || status === F.kStatusSuspect) this.suspect(probe.row, this.table.incarnation[probe.row]!, this.selfRow, false);
  }

  private finishUrgentProbe(): void {
    const urgent = this.urgent!;
    this.urgent = null;
    if (urgent.acked) return;
    const status = this.table.status[urgent.row];
    if (status === F.kStatusAlive || status === F.kStatusSuspect) this.declareDead(urgent.row, this.table.incarnation[urgent.row]!, this.selfRow);
  }

  private expireRelays(): void {
    for (const [seq, relay] of this.relays) {
      if (this.now < relay.deadlineMs) continue;
      this.relays.delete(seq);
      if (relay.wantNack) this.sendTo(relay.origin, [this.parts.nack(relay.originSeq, this.table, this.selfRow)]);
    }
  }

  // ---------------------------------------------------------------- receiving

  private handleMessage(from: string, m: number): void {
    const { u8, dv } = this.runtime.views;
    const type = u8[m + F.kMsgType]!;
    const seq = dv.getUint32(m + F.kMsgSeq, true);
    switch (type) {
      case F.kTypePing: {
        if (!this.isSelf(dv.getUint32(m + F.kMsgNodeHigh, true), dv.getUint32(m + F.kMsgNodeLow, true))) return;
        const replyTo = u8[m + F.kMsgFamilyB] === 0 ? from : this.tapeAddress(m + F.kMsgFamilyB, m + F.kMsgAddressB, m + F.kMsgPortB);
        this.sendTo(replyTo, [this.parts.ack(seq, this.table, this.selfRow)]);
        return;
      }
      case F.kTypeIndirectPing: {
        const target = this.tapeAddress(m + F.kMsgFamilyA, m + F.kMsgAddressA, m + F.kMsgPortA);
        const origin = u8[m + F.kMsgFamilyB] === 0 ? from : this.tapeAddress(m + F.kMsgFamilyB, m + F.kMsgAddressB, m + F.kMsgPortB);
        const targetRow = this.table.find({ high: dv.getUint32(m + F.kMsgNodeHigh, true), low: dv.getUint32(m + F.kMsgNodeLow, true) });
        if (targetRow < 0 || target === '-') return;
        const relaySeq = this.seq++;
        this.relays.set(relaySeq, { originSeq: seq, origin, deadlineMs: this.now + this.config.probeTimeoutMs * 0.8, wantNack: (u8[m + F.kMsgFlags]! & F.kIndirectPingFlagNack) !== 0 });
        this.sendTo(target, [this.parts.ping(relaySeq, this.table, targetRow, this.selfRow)]);
        return;
      }
      case F.kTypeAck: {
        if (this.probe !== null && this.probe.seq === seq) this.probe.acked = true;
        if (this.urgent !== null && this.urgent.seq === seq) this.urgent.acked = true;
        const relay = this.relays.get(seq);
        if (relay !== undefined) {
          this.relays.delete(seq);
          this.sendTo(relay.origin, [this.parts.ack(relay.originSeq, this.table, this.selfRow)]);
        }
        return;
      }
      case F.kTypeNack:
        if (this.probe !== null && this.probe.seq === seq) {
          this.probe.nacks++;
          // Every helper reached us but not the target: nothing more can arrive, so the
          // probe ends now instead of at the end of the interval.
          if (!this.probe.acked && this.probe.nacks >= this.probe.expectedNacks && this.probe.streamPing !== 1) this.probe.endAtMs = this.now;
        }
        return;
      case F.kTypeSuspect:
      case F.kTypeDead:
      case F.kTypeLeave: {
        const row = this.table.find({ high: dv.getUint32(m + F.kMsgNodeHigh, true), low: dv.getUint32(m + F.kMsgNodeLow, true) });
        if (row < 0) return;
        const incarnation = dv.getUint32(m + F.kMsgIncarnation, true);
        if (type === F.kTypeLeave) {
          this.declareDead(row, incarnation, row);
          return;
        }
        const fromRow = this.table.find({ high: dv.getUint32(m + F.kMsgFromHigh, true), low: dv.getUint32(m + F.kMsgFromLow, true) });
        if (type === F.kTypeSuspect) this.suspect(row, incarnation, fromRow, false);
        else this.declareDead(row, incarnation, fromRow < 0 ? this.selfRow : fromRow);
        return;
      }
      case F.kTypeAlive:
      case F.kTypeJoin:
        this.handleAlive(m);
        return;
      case F.kTypeUser:
        this.handleUser(m);
        return;
      default:
        return;
    }
  }

  private handleAlive(m: number): void {
    const { u8, dv } = this.runtime.views;
    const id = { high: dv.getUint32(m + F.kMsgNodeHigh, true), low: dv.getUint32(m + F.kMsgNodeLow, true) };
    const incarnation = dv.getUint32(m + F.kMsgIncarnation, true);
    if (this.isSelf(id.high, id.low)) {
      // Someone holds a newer incarnation of us (a previous life): overtake it.
      if (incarnation > this.incarnation && !this.leaving) this.refute(incarnation);
      return;
    }
    const family = u8[m + F.kMsgFamilyA]! as 0 | 4 | 6;
    if (family === 0) return;
    const address: WireAddress = { family, bytes: u8.subarray(m + F.kMsgAddressA, m + F.kMsgAddressA + 16), port: dv.getUint16(m + F.kMsgPortA, true) };
    const offset = dv.getUint32(m + F.kMsgPayloadOffset, true);
    const length = dv.getUint32(m + F.kMsgPayloadLength, true);
    const metaAt = this.scratch.receiveTape.payloadArea + offset;
    let row = this.table.find(id);
    const status = row < 0 ? F.kStatusEmpty : this.table.status[row]!;
    const current = row < 0 ? 0 : this.table.incarnation[row]!;
    const isNew = row < 0;
    if (!isNew && incarnation < current) return;
    if (!isNew && incarnation === current) {
      // The heartbeat entry in the same datagram may have raised the incarnation first;
      // the metadata travels only here, so take it.
      if (status === F.kStatusAlive) this.takeAnnouncedMeta(row, metaAt, length);
      return;
    }
    if (isNew) {
      try {
        row = this.table.upsert(id, address, incarnation, F.kStatusAlive, this.now);
      } catch {
        return; // table full: counted by the table's owner through capacity metrics
      }
    } else {
      this.table.incarnation[row] = incarnation;
      this.table.setAddress(row, address);
      this.table.status[row] = F.kStatusAlive;
      this.table.stateChangeMs[row] = this.now >>> 0;
      this.table.touch();
    }
    const meta = u8.slice(metaAt, metaAt + length);
    const previousMeta = this.meta.get(row);
    if (length > 0) this.meta.set(row, meta);
    else this.meta.delete(row);
    const metaChanged = !isNew && !equalBytes(previousMeta, meta);
    this.settle(row, metaChanged);
    this.queueAnnouncement(row);
  }

  private takeAnnouncedMeta(row: number, metaAt: number, length: number): void {
    const meta = this.runtime.views.u8.subarray(metaAt, metaAt + length);
    if (equalBytes(this.meta.get(row), meta)) return;
    if (length > 0) this.meta.set(row, meta.slice());
    else this.meta.delete(row);
    this.emit('update', row);
    this.queueAnnouncement(row);
  }

  private handleUser(m: number): void {
    const { u8, dv } = this.runtime.views;
    const offset = dv.getUint32(m + F.kMsgPayloadOffset, true);
    const length = dv.getUint32(m + F.kMsgPayloadLength, true);
    if (length < kUserHeaderBytes) return;
    const at = this.scratch.receiveTape.payloadArea + offset;
    const framed = u8.slice(at, at + length);
    if (!this.rememberUser(framed)) return;
    this.userMessages.push(framed.subarray(kUserHeaderBytes));
    this.stats.userDelivered++;
    // Relay once, so a broadcast reaches the whole farm epidemically (not only the fanout of its origin).
    this.broadcasts.queueUser(this.parts.user(framed));
  }

  /** Remembers a user broadcast by origin and sequence; returns false when already seen. */
  private rememberUser(framed: Uint8Array): boolean {
    const dv = new DataView(framed.buffer, framed.byteOffset);
    const key = `${dv.getUint32(0, true)}:${dv.getUint32(4, true)}:${dv.getUint32(8, true)}`;
    if (this.userSeen.has(key)) return false;
    this.userSeen.add(key);
    this.userSeenOrder.push(key);
    if (this.userSeenOrder.length > kUserSeenMax) this.userSeen.delete(this.userSeenOrder.shift()!);
    return true;
  }

  /** Runs the merge kernel over a packet or frame and acts on every changed row. */
  private mergeEntries(pointer: number, length: number, limit: number, bytes: Uint8Array): number {
    const kernels = this.runtime.kernels;
    const out = this.parts.out;
    const result = kernels.mergeDigest(this.table.base, pointer, length, limit, this.now >>> 0, out, this.parts.outCapacity);
    if (result < 0) return result;
    const i32 = this.runtime.views.i32;
    const o = out >>> 2;
    const n = i32[o + L.kOutCountField]!;
    for (let i = 0; i < n; i++) {
      const row = i32[o + L.kOutHeaderWords + 2 * i]!;
      const flags = i32[o + L.kOutHeaderWords + 2 * i + 1]!;
      if (row === this.selfRow) {
        if ((flags & L.kChangeStatus) !== 0 && !this.leaving) this.refute(this.claimedSelfIncarnation(bytes));
        continue;
      }
      if ((flags & (L.kChangeStatus | L.kChangeInserted | L.kChangeIncarnation | L.kChangeAddress)) === 0) continue;
      this.settle(row, false);
      // News to this node is passed on once (as memberlist does on a merge), so joins
      // spread epidemically instead of waiting for the next push-pull.
      if ((flags & (L.kChangeInserted | L.kChangeIncarnation)) !== 0 && this.table.status[row] === F.kStatusAlive) this.toAnnounce.push(row);
    }
    return result;
  }

  private announceLearned(): void {
    for (const row of this.toAnnounce) if (this.table.status[row] === F.kStatusAlive) this.queueAnnouncement(row);
    this.toAnnounce.length = 0;
  }

  /** The highest incarnation the packet claims for this node (a cold path: only when accused). */
  private claimedSelfIncarnation(bytes: Uint8Array): number {
    let claimed = 0;
    forEachEntry(bytes, (high, low, incarnation) => {
      if (this.isSelf(high, low) && incarnation > claimed) claimed = incarnation;
    });
    return claimed;
  }

  /** Copies metadata from a state frame for members whose meta changed. */
  private takeMeta(bytes: Uint8Array): void {
    forEachEntry(bytes, (high, low, incarnation, status, meta) => {
      if (meta === undefined || this.isSelf(high, low) || status === F.kStatusDead || status === F.kStatusLeft) return;
      const row = this.table.find({ high, low });
      if (row < 0 || this.table.incarnation[row] !== incarnation) return;
      const previous = this.meta.get(row);
      if (equalBytes(previous, meta)) return;
      if (meta.length > 0) this.meta.set(row, Uint8Array.from(meta));
      else this.meta.delete(row);
      // Also when the metadata arrives after the join (the join event then carried none):
      // the layers above learn a member's tags from these events.
      this.emit('update', row);
    });
  }

  /**
   * Brings the engine's own bookkeeping in line with a row the table now holds
   * (changed by a kernel merge or by a message): events, suspicion timers, tombstones.
   */
  private settle(row: number, metaChanged: boolean): void {
    // Every insertion and change of address reaches settle (merges and ALIVE messages).
    this.addressIndex.refresh(row);
    const status = this.table.status[row]!;
    const before = this.knownStatus[row]!;
    this.knownStatus[row] = status;
    if (status === before) {
      if (status === F.kStatusAlive && metaChanged) this.emit('update', row);
      if (status === F.kStatusSuspect) this.startSuspicion(row, -1);
      return;
    }
    const wasLive = before === F.kStatusAlive || before === F.kStatusSuspect;
    const isLive = status === F.kStatusAlive || status === F.kStatusSuspect;
    if (isLive && !wasLive) this.liveMembers++;
    if (!isLive && wasLive) this.liveMembers--;
    switch (status) {
      case F.kStatusAlive:
        this.clearSuspicion(row);
        this.table.disarmDeadline(row);
        this.emit(before === F.kStatusSuspect ? 'alive' : 'join', row);
        if (before !== F.kStatusSuspect) this.addProbeTarget(row);
        break;
      case F.kStatusSuspect:
        if (!wasLive) {
          this.emit('join', row);
          this.addProbeTarget(row);
        }
        this.startSuspicion(row, -1);
        this.emit('suspect', row);
        break;
      case F.kStatusDead:
      case F.kStatusLeft:
        this.clearSuspicion(row);
        this.table.armDeadline(row, this.now + this.config.tombstoneReapMs);
        this.emit(status === F.kStatusDead ? 'dead' : 'leave', row);
        break;
    }
  }

  // ---------------------------------------------------------------- state changes

  /** Suspects a member (SWIM): from a failed probe, an ICMP report, or a SUSPECT message. */
  private suspect(row: number, incarnation: number, fromRow: number, urgent: boolean): void {
    if (row === this.selfRow) {
      if (incarnation >= this.incarnation && !this.leaving) this.refute(incarnation);
      return;
    }
    const status = this.table.status[row];
    const current = this.table.incarnation[row]!;
    if (incarnation < current || status === F.kStatusDead || status === F.kStatusLeft) return;
    if (status === F.kStatusSuspect && incarnation === current) {
      // A confirmation from another member shortens the timer (Lifeguard).
      if (fromRow >= 0 && this.suspicions.get(row)?.confirm(this.key(fromRow))) {
        this.stats.suspicionConfirmations++;
        this.armSuspicionDeadline(row);
        this.broadcasts.queueMembership(this.key(row), this.parts.accusation(F.kTypeSuspect, incarnation, this.table, row, fromRow));
      }
      return;
    }
    this.stats.suspicionsRaised++;
    this.table.incarnation[row] = incarnation;
    this.table.status[row] = F.kStatusSuspect;
    this.table.stateChangeMs[row] = this.now >>> 0;
    this.table.touch();
    this.suspicions.set(row, new Suspicion(this.now, incarnation, this.key(fromRow < 0 ? this.selfRow : fromRow)));
    this.settle(row, false);
    this.broadcasts.queueMembership(this.key(row), this.parts.accusation(F.kTypeSuspect, incarnation, this.table, row, fromRow < 0 ? this.selfRow : fromRow));
    if (urgent) this.gossip(true);
  }

  private startSuspicion(row: number, fromRow: number): void {
    if (!this.suspicions.has(row)) this.suspicions.set(row, new Suspicion(this.now, this.table.incarnation[row]!, fromRow < 0 ? 'anti-entropy' : this.key(fromRow)));
    this.armSuspicionDeadline(row);
  }

  private armSuspicionDeadline(row: number): void {
    const suspicion = this.suspicions.get(row);
    if (suspicion === undefined) return;
    const members = Math.max(this.liveMembers, 1);
    const minMs = suspicionMinMs(this.config.suspicionMult, members, this.config.probeIntervalMs);
    const maxMs = minMs * this.config.suspicionMaxTimeoutMult;
    const timeout = suspicionTimeoutMs(suspicion.confirmations, expectedConfirmations(this.config.suspicionMult, members), minMs, maxMs);
    const deadline = suspicion.startedMs + timeout;
    this.table.armDeadline(row, deadline);
    if (deadline < this.nextDeadlineAtMs) this.nextDeadlineAtMs = deadline;
  }

  private clearSuspicion(row: number): void {
    this.suspicions.delete(row);
  }

  /** Declares a member dead (or left, when it said so itself) and spreads the news at once. */
  private declareDead(row: number, incarnation: number, fromRow: number): void {
    if (row === this.selfRow) {
      if (!this.leaving && incarnation >= this.incarnation) this.refute(incarnation);
      return;
    }
    const status = this.table.status[row];
    if (status === F.kStatusDead || status === F.kStatusLeft || status === F.kStatusEmpty) return;
    if (incarnation < this.table.incarnation[row]!) return;
    const left = fromRow === row;
    if (!left) this.stats.deathsDeclared++;
    this.table.incarnation[row] = incarnation;
    this.table.status[row] = left ? F.kStatusLeft : F.kStatusDead;
    this.table.stateChangeMs[row] = this.now >>> 0;
    this.table.touch();
    this.settle(row, false);
    const part = left ? this.parts.leave(incarnation, this.table, row) : this.parts.accusation(F.kTypeDead, incarnation, this.table, row, fromRow);
    this.broadcasts.queueMembership(this.key(row), part);
    this.gossip(true);
  }

  /** Refutes a suspicion or death of this node with a higher incarnation, spread at once. */
  private refute(claimed: number): void {
    this.stats.refutations++;
    this.awareness.apply(1);
    this.table.incarnation[this.selfRow] = Math.max(this.incarnation, claimed) + 1;
    this.table.touch();
    this.selfPart = null;
    this.queueAnnouncement(this.selfRow);
    this.gossip(true);
  }

  private queueAnnouncement(row: number): void {
    this.broadcasts.queueMembership(this.key(row), this.parts.announcement(F.kTypeAlive, this.table.incarnation[row]!, this.table, row, this.meta.get(row) ?? kEmpty));
  }

  private sweep(): void {
    this.nextSweepAtMs = this.now + this.config.probeIntervalMs;
    const interval = this.config.probeIntervalMs;
    const out = this.parts.out;
    const count = this.runtime.kernels.sweep(this.table.base, this.now >>> 0, this.phiK2, (interval / 4) ** 2, 3, this.silenceLimitMs(), out, this.parts.outCapacity);
    const i32 = this.runtime.views.i32;
    const o = out >>> 2;
    for (let i = 0; i < count; i++) {
      const row = i32[o + L.kOutHeaderWords + 2 * i]!;
      const kind = i32[o + L.kOutHeaderWords + 2 * i + 1]!;
      // A silent heartbeat moves the member to the front of the probe order; the bound
      // keeps a farm-wide silence (say, after a partition) from displacing the round.
      if (kind === L.kSweepSilent) {
        if (this.priorityProbes.length < kPriorityProbesMax) this.priorityProbes.push(row);
      }
      else if (kind === L.kSweepSuspicionExpired) {
        if (this.table.status[row] === F.kStatusSuspect) this.declareDead(row, this.table.incarnation[row]!, this.selfRow);
      } else if (kind === L.kSweepReapable) this.reap(row);
    }
    this.nextDeadlineAtMs = Infinity;
    for (const row of this.suspicions.keys()) {
      const deadline = this.table.deadlineMs[row]!;
      const due = this.now + ((deadline - (this.now >>> 0)) | 0);
      if (due < this.nextDeadlineAtMs) this.nextDeadlineAtMs = due;
    }
  }

  /**
   * Heartbeat silence after which a member is probed out of turn. A member's heartbeat
   * reaches this node directly about twice per N probe intervals (its ping to us, its
   * ack to ours), so the limit grows with N; in big farms phi, fed by gossip, and the
   * round-robin do the work.
   */
  private silenceLimitMs(): number {
    return this.config.probeIntervalMs * Math.max(5, 2 * this.liveMembers);
  }

  private reap(row: number): void {
    const status = this.table.status[row];
    if (status !== F.kStatusDead && status !== F.kStatusLeft) return;
    this.emit('reap', row);
    this.broadcasts.forget(this.key(row));
    this.meta.delete(row);
    this.knownStatus[row] = F.kStatusEmpty;
    this.table.remove(row);
    this.addressIndex.refresh(row);
  }

  // ---------------------------------------------------------------- sending

  /** Sends primary parts plus this node's heartbeat entry and as much queued news as fits. */
  private sendTo(address: string, primary: Uint8Array[]): void {
    if (address === '-' || address === this.selfAddress) return;
    const parts = primary.slice();
    if (!this.leaving) parts.push(this.heartbeatPart());
    const room = this.config.datagramBytesMax - assembledBytes(parts) - 2;
    const limit = retransmitLimit(this.config, this.liveMembers);
    for (const extra of this.broadcasts.take(room, F.kCompoundPartsMax - parts.length, limit, this.config.userBroadcastReserveBytes)) parts.push(extra);
    const length = assembleParts(this.runtime, this.scratch.sendPacket, parts, this.config.datagramBytesMax);
    if (length < 0) return;
    this.stats.datagramsSent++;
    this.stats.bytesSent += length;
    this.env.sendDatagram(address, this.runtime.views.u8.subarray(this.scratch.sendPacket, this.scratch.sendPacket + length));
  }

  /** This node's own entry as a one-entry digest: the gossip heartbeat every datagram carries. */
  private heartbeatPart(): Uint8Array {
    if (this.selfPart === null) {
      this.runtime.views.i32[this.scratch.rowList >>> 2] = this.selfRow;
      this.selfPart = this.parts.digest(this.table, this.scratch.rowList, 1, F.kPushPullFlagGossip);
    }
    return this.selfPart;
  }

  /** A gossip round: queued news to a random fanout (alive, suspect and recently dead). */
  private gossip(urgent = false): void {
    if (this.broadcasts.length === 0) return;
    const deadWindow = this.config.gossipToTheDeadMs;
    const targets = this.randomMembers(this.config.gossipNodes, (row) => {
      const status = this.table.status[row];
      if (status === F.kStatusAlive || status === F.kStatusSuspect) return true;
      return status === F.kStatusDead && ((this.now - this.table.stateChangeMs[row]!) >>> 0) < deadWindow;
    });
    for (const row of targets) {
      if (this.broadcasts.length === 0) break;
      this.sendTo(this.addressOf(row), []);
    }
    if (urgent) this.nextGossipAtMs = this.now + this.config.gossipIntervalMs;
  }

  private pushPullRandom(): void {
    const [row] = this.randomMembers(1, (r) => this.table.status[r] === F.kStatusAlive);
    if (row !== undefined) this.sendSummary(this.addressOf(row), 0, summaryBucketsFor(this.liveMembers));
  }

  private joinSeeds(): void {
    for (const seed of this.seeds) this.sendState(seed, F.kPushPullFlagJoin);
  }

  /** Re-contacts a dead member or a seed so the halves of a healed partition find each other. */
  private reconnect(): void {
    if (this.leaving) return;
    if (this.liveMembers <= 1 && this.seeds.length > 0) {
      this.joinSeeds();
      return;
    }
    const [dead] = this.randomMembers(1, (r) => this.table.status[r] === F.kStatusDead);
    if (dead !== undefined) this.sendState(this.addressOf(dead), 0);
    if (this.seeds.length > 0) {
      const seed = this.seeds[this.env.random.nextInt(this.seeds.length)]!;
      if (!this.seedAlive(seed)) this.sendState(seed, F.kPushPullFlagJoin);
    }
  }

  private sendState(address: string, flags: number, include?: (row: number) => boolean): void {
    const frame = encodeStateFrame(this.table, (row) => this.meta.get(row), flags, include);
    this.stats.framesSent++;
    this.stats.frameBytesSent += frame.length;
    this.env.sendFrame(address, frame);
  }

  // ---------------------------------------------------------------- helpers

  private pushPullInterval(): number {
    return pushPullIntervalFor(this.config, this.liveMembers);
  }

  /** Up to `count` distinct random rows satisfying `accept`, never this node. */
  private randomMembers(count: number, accept: (row: number) => boolean): number[] {
    const rows = this.table.rowCount;
    const out: number[] = [];
    if (rows <= 1 || count <= 0) return out;
    const random = this.env.random;
    if (rows <= 64) {
      const candidates: number[] = [];
      for (let row = 0; row < rows; row++) if (row !== this.selfRow && accept(row)) candidates.push(row);
      random.shuffle(candidates);
      return candidates.slice(0, count);
    }
    for (let attempt = 0; attempt < count * 8 && out.length < count; attempt++) {
      const row = random.nextInt(rows);
      if (row !== this.selfRow && !out.includes(row) && accept(row)) out.push(row);
    }
    return out;
  }

  private addProbeTarget(row: number): void {
    // Insert at a random place in the remaining round so a new member is probed within one round.
    if (this.probeCount >= this.probeOrder.length) return;
    const at = this.probeIndex + this.env.random.nextInt(this.probeCount - this.probeIndex + 1);
    this.probeOrder[this.probeCount] = this.probeOrder[at]!;
    this.probeOrder[at] = row;
    this.probeCount++;
  }

  /** Whether a seed address belongs to a member known alive (row found once, then cached). */
  private seedAlive(seed: string): boolean {
    let row = this.seedRows.get(seed);
    if (row === undefined || this.table.status[row] === F.kStatusEmpty || this.addressOf(row) !== seed) {
      // Rare (the cached row went away): a scan, so that only ICMP evidence builds the index.
      row = this.addressIndex.scan(seed, this.selfRow);
      this.seedRows.set(seed, row);
    }
    return row >= 0 && this.table.status[row] === F.kStatusAlive;
  }

  private rowOfAddress(address: string): number {
    return this.addressIndex.rowOf(address, this.selfRow);
  }

  private isSelf(high: number, low: number): boolean {
    return high === this.selfId.high >>> 0 && low === this.selfId.low >>> 0;
  }

  private tapeAddress(family: number, bytes: number, port: number): string {
    const { u8, dv } = this.runtime.views;
    return this.addressIndex.textOf(u8[family]!, u8, bytes, dv.getUint16(port, true));
  }

  private key(row: number): string {
    return `n${this.table.idHigh[row]}:${this.table.idLow[row]}`;
  }

  private emit(type: MembershipEventType, row: number): void {
    const meta = this.meta.get(row);
    const event = { type, id: formatNodeId({ high: this.table.idHigh[row]!, low: this.table.idLow[row]! }), address: this.addressOf(row), incarnation: this.table.incarnation[row]!, atMs: this.now };
    this.events.push(meta === undefined ? event : { ...event, meta });
  }
}

const kEmpty = new Uint8Array(0);

function equalBytes(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (a === undefined || a.length === 0) return b === undefined || b.length === 0;
  if (b === undefined || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
