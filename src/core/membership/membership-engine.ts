import type { Runtime } from '../runtime/runtime.js';
import { MembershipTable } from '../table/membership-table.js';
import * as F from '../wire/format.js';
import { formatWireAddress, type NodeId, type WireAddress } from '../wire/message.js';
import { AntiEntropy } from './anti-entropy.js';
import type { MembershipConfig } from './config.js';
import { Dissemination } from './dissemination.js';
import { EngineContext } from './engine-context.js';
import type { EngineEnvironment } from './engine-environment.js';
import { EngineScratch } from './engine-scratch.js';
import { EngineStats } from './engine-stats.js';
import { MemberState } from './member-state.js';
import type { MembershipEvent } from './membership-event.js';
import { Prober } from './prober.js';
import { Watcher } from './watcher.js';
import { BeatMemo } from './beat-memo.js';

// The engine's parts of the outside world and its scratch and counters live in files of
// their own; callers keep importing them from here.
export type { EngineEnvironment } from './engine-environment.js';
export { EngineScratch } from './engine-scratch.js';
export { EngineStats } from './engine-stats.js';

/** Reply-to address texts an agent's engine remembers by default (see EngineOptions.addressTextsMax). */
const kAddressTextsMaxDefault = 16_384;
/** Datagrams at most this long may be remembered by the BeatMemo (a beat is about 40 bytes with an IPv6 address). */
const kBeatBytesMax = 64;
/** Seeds a running node takes at most (replaceSeeds): as many as discovery reports (kDiscoveredSeedsMax), enough to find a farm through. */
export const kSeedsMax = 1024;

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
  /**
   * Whether the transport reports ICMP unreachables (MembershipEngine.unreachable); when
   * it does not (node:dgram), the watch beats would prove nothing and are not sent.
   * Default true.
   */
  unreachableEvidence?: boolean;
  /**
   * Whether the driver holds a link (a TCP connection) to each watch-ring successor
   * instead of the engine beating to them every watchIntervalMs (watcher.ts): the
   * driver asks for watchTargets() and calls watchLinkLost() when a link closes. No
   * idle traffic; only meaningful with unreachableEvidence. Default false (beats).
   */
  watchLinks?: boolean;
  /**
   * Recognise a heartbeat-only datagram repeating one already merged from the same
   * sender and skip its decode and merge (BeatMemo); true by default. Off only to show
   * that it changes nothing (test/beat-memo.test.ts).
   */
  beatMemo?: boolean;
  /**
   * Sweep the failure detector incrementally (only the rows due, sweep-schedule.ts)
   * instead of the whole table every probe interval; true by default. Off only to show
   * that it changes nothing (test/sweep-schedule.test.ts).
   */
  incrementalSweep?: boolean;
}

/**
 * The SWIM + Lifeguard membership engine: a pure state machine fed by tick() and
 * receive*(), emitting datagrams, stream frames and membership events. It is a facade
 * over five parts, one per protocol seam, which share an EngineContext:
 *
 *  - Prober (prober.ts): one member per probe interval, round-robin over a shuffled
 *    list; a direct ping, then indirect pings through `indirectChecks` members, who send
 *    nacks when the target stays silent, so a prober can tell its own slowness from the
 *    target's. Lifeguard: the probe interval and timeout stretch with local health
 *    (missed nacks, refutations, event-loop lag). Strong evidence: an ICMP unreachable
 *    from the transport makes the member suspect at once with a short confirmation
 *    window (unreachable()).
 *  - MemberState (member-state.ts): the member states and SWIM's incarnation rules;
 *    suspicion timeouts start long and shrink with independent confirmations
 *    (Lifeguard); refutation; tombstones kept and reaped later; the events.
 *  - Dissemination (dissemination.ts): news rides on every datagram through a
 *    transmit-limited queue, and gossip rounds carry it to a random fanout; a death or a
 *    refutation triggers a round at once. Every datagram also carries this node's own
 *    heartbeat entry, which the receiving kernel merges and feeds to its phi-accrual
 *    statistics. A SUSPECT rides on the ping to the suspect so it refutes at once.
 *  - Watcher (watcher.ts): a heartbeat-only datagram every watchIntervalMs to the
 *    `watchSuccessors` ring successors (by node id), so a killed process's kernel
 *    answers with an ICMP unreachable within one beat, not at its next probe; a death
 *    this node declares is then relayed directly to every member of a small farm.
 *  - AntiEntropy (anti-entropy.ts): push-pull of the whole state over a stream on join
 *    and by summaries every (log N scaled) interval; dead members and seeds are
 *    re-contacted so healed partitions merge back.
 */
export class MembershipEngine {
  readonly config: MembershipConfig;
  readonly table: MembershipTable;
  readonly stats = new EngineStats();
  readonly selfId: NodeId;
  readonly selfAddress: string;
  readonly selfRow: number;
  private readonly ctx: EngineContext;
  private readonly state: MemberState;
  private readonly prober: Prober;
  private readonly dissemination: Dissemination;
  private readonly antiEntropy: AntiEntropy;
  private readonly watcher: Watcher;
  /** Heartbeat-only datagrams received in full, by sender: repeats change nothing (null when no beats are expected). */
  private readonly beatMemo: BeatMemo | null;
  private started = false;

  constructor(options: EngineOptions) {
    this.config = options.config;
    const scratch = options.scratch ?? new EngineScratch(options.runtime, options.config.membersMax);
    this.table = options.table ?? MembershipTable.create(options.runtime, options.config.membersMax);
    this.selfId = options.id;
    this.selfAddress = formatWireAddress(options.address);
    const ctx = new EngineContext({ config: this.config, runtime: options.runtime, env: options.environment, scratch, table: this.table, stats: this.stats, selfId: this.selfId, selfAddress: this.selfAddress, addressTextsMax: options.addressTextsMax ?? kAddressTextsMaxDefault });
    this.ctx = ctx;
    this.state = ctx.state = new MemberState(ctx, options.incrementalSweep ?? true);
    this.prober = ctx.prober = new Prober(ctx);
    this.dissemination = ctx.dissemination = new Dissemination(ctx);
    this.watcher = ctx.watcher = new Watcher(ctx, options.unreachableEvidence ?? true, options.watchLinks ?? false);
    this.beatMemo = options.beatMemo !== false && this.config.watchSuccessors > 0 ? new BeatMemo(Math.max(4, 2 * this.config.watchSuccessors)) : null;
    this.antiEntropy = ctx.antiEntropy = new AntiEntropy(ctx, (options.seeds ?? []).filter((s) => s !== formatWireAddress(options.address)));
    const meta = options.meta ?? new Uint8Array(0);
    if (meta.length > this.config.metaBytesMax) throw new RangeError(`meta of ${meta.length} bytes exceeds metaBytesMax ${this.config.metaBytesMax}`);
    ctx.now = options.environment.nowMs();
    this.selfRow = ctx.selfRow = this.table.upsert(options.id, options.address, options.incarnation ?? 1, F.kStatusAlive, ctx.now);
    this.table.markSelf(this.selfRow);
    this.state.markSelfKnown();
    if (meta.length > 0) this.state.meta.set(this.selfRow, meta);
  }

  /**
   * Takes the members already in the table as known (alive ones to be probed, the dead
   * as tombstones), for an engine handed a table that is already filled: a worker
   * restarted over a live table, or a simulated farm started in its steady state.
   * Emits no events for them.
   */
  adoptTable(): void {
    this.state.adopt();
    this.prober.rebuildProbeOrder();
  }

  // ---------------------------------------------------------------- driving

  /** Joins through the seeds and starts the timers. */
  start(): void {
    const ctx = this.ctx;
    ctx.now = ctx.env.nowMs();
    this.started = true;
    const jitter = (ms: number) => ctx.now + ctx.env.random.nextFloat() * ms;
    this.prober.nextProbeAtMs = jitter(this.config.probeIntervalMs);
    this.dissemination.nextGossipAtMs = jitter(this.config.gossipIntervalMs);
    this.state.start();
    this.antiEntropy.nextPushPullAtMs = jitter(this.antiEntropy.pushPullInterval());
    this.dissemination.queueAnnouncement(this.selfRow);
    this.antiEntropy.start();
  }

  /**
   * Replaces the seeds (at most kSeedsMax, self left out) while running; joins through
   * them at once only when this node is alone (AntiEntropy.replaceSeeds says why).
   * Returns the join frames sent now. Before start() it only replaces the list start() uses.
   */
  replaceSeeds(seeds: readonly string[]): number {
    if (seeds.length > kSeedsMax) throw new RangeError(`${seeds.length} seeds, more than kSeedsMax ${kSeedsMax}`);
    this.ctx.now = this.ctx.env.nowMs();
    return this.antiEntropy.replaceSeeds(seeds.filter((s) => s !== this.selfAddress), this.started);
  }

  /** Advances every timer to the current time; call often (the drivers use 5-10 ms). */
  tick(): void {
    if (!this.started) return;
    const ctx = this.ctx;
    ctx.now = ctx.env.nowMs();
    const now = ctx.now;
    this.prober.tick(now);
    this.watcher.tick(now);
    this.dissemination.tick(now);
    if (this.state.sweepDue(now)) this.state.sweep();
    this.antiEntropy.tick(now);
  }

  /**
   * The earliest local time at which tick() has something to do: the minimum of every
   * timer tick() checks. A driver may skip the ticks before it (the simulator's
   * skipIdleTicks); events waiting for drainEvents() count as due now.
   */
  nextTickAtMs(): number {
    if (!this.started || this.state.pendingEvents > 0) return -Infinity;
    return Math.min(this.prober.nextTimerAtMs(), this.dissemination.nextGossipAtMs, this.state.nextDeadlineMs(), this.antiEntropy.nextDeadlineMs(), this.watcher.nextDeadlineMs());
  }

  /**
   * The earliest engine time (the environment's nowMs) at which tick() has something to
   * do: a probe, an indirect probe, a relay's nack, a watch beat, a gossip round with news
   * queued, a suspicion's deadline or the periodic sweep, a push-pull or a reconnect.
   * A driver that sleeps until then instead of ticking on a fixed interval wakes only
   * when there is work; it must ask again after every receive and every call, since
   * those can bring a deadline forward. Infinity before start().
   */
  nextDeadlineMs(): number {
    this.refreshDeadline();
    return this.deadlineMs;
  }

  /**
   * nextDeadlineMs() as of the last refreshDeadline() call. A driver that re-arms after
   * every received batch calls refreshDeadline() and reads this field: a double returned
   * across a call V8 did not inline is boxed (16 bytes per batch), a field written in
   * place is not (bench:path's allocation count).
   */
  deadlineMs = Infinity;

  /** Sets deadlineMs to nextDeadlineMs(). */
  refreshDeadline(): void {
    let next = Infinity;
    if (this.started) next = Math.min(this.prober.nextDeadlineMs(), this.watcher.nextDeadlineMs(), this.dissemination.nextDeadlineMs(), this.state.nextDeadlineMs(), this.antiEntropy.nextDeadlineMs());
    this.deadlineMs = next;
  }

  /** Whether events or user broadcasts wait to be drained (a driver flushes them soon). */
  get hasPendingOutput(): boolean {
    return this.state.pendingEvents > 0 || this.dissemination.pendingUserMessages > 0;
  }

  /** Handles one datagram from the network. `bytes` is only read during the call. */
  receiveDatagram(from: string, bytes: Uint8Array): void {
    this.ctx.now = this.ctx.env.nowMs();
    this.receiveInBatch(from, bytes);
  }

  /**
   * A batch of datagrams arrived together (one recvmmsg): the clock is read once here,
   * and receiveInBatch takes each of them at that time. A driver that reads batches saves
   * a clock read per datagram, and with it the only allocation left on the path (the
   * clock's double, boxed as it crosses a call).
   */
  batchArrived(): void {
    this.ctx.now = this.ctx.env.nowMs();
  }

  /** receiveDatagram for a datagram of the batch announced by batchArrived: the clock is not read again. */
  receiveInBatch(from: string, bytes: Uint8Array): void {
    const ctx = this.ctx;
    this.stats.datagramsReceived++;
    this.stats.bytesReceived += bytes.length;
    if (bytes.length > F.kDatagramBytesMax) {
      this.stats.wire.record(-F.kErrTooLarge);
      return;
    }
    // A watch beat repeating one already merged changes nothing (BeatMemo says why).
    const memo = this.beatMemo;
    if (memo !== null && bytes.length <= kBeatBytesMax) {
      const repeated = memo.repeatCount(from, bytes, this.state.removals);
      if (repeated >= 0) {
        this.stats.beatRepeatsSkipped++;
        this.stats.wire.record(repeated);
        return;
      }
    }
    const { u8 } = ctx.runtime.views;
    const packet = ctx.scratch.receivePacket;
    u8.set(bytes, packet);
    const tape = ctx.scratch.receiveTape;
    const count = ctx.runtime.kernels.decode(packet, bytes.length, F.kDatagramBytesMax, tape.pointer);
    this.stats.wire.record(count);
    if (count < 0 || ctx.leaving) return;
    let hasEntries = false;
    let digestsOnly = true;
    for (let i = 0; i < count; i++) {
      const type = u8[tape.message(i) + F.kMsgType];
      if (type === F.kTypePushPullDigest || type === F.kTypePushPullState) hasEntries = true;
      if (type !== F.kTypePushPullDigest) digestsOnly = false;
    }
    // Messages first: an ALIVE brings a new member in with its metadata, so its join
    // event carries tags; then the heartbeat entries.
    for (let i = 0; i < count; i++) this.handleMessage(from, tape.message(i));
    if (hasEntries) this.antiEntropy.mergeEntries(packet, bytes.length, F.kDatagramBytesMax, bytes, true);
    this.antiEntropy.announceLearned();
    if (memo !== null && digestsOnly && bytes.length <= kBeatBytesMax && !ctx.leaving) memo.remember(from, bytes, count, this.state.removals);
  }

  /** Handles one stream frame (push-pull state). */
  receiveFrame(from: string, bytes: Uint8Array): void {
    const ctx = this.ctx;
    ctx.now = ctx.env.nowMs();
    if (bytes.length > F.kFrameBytesMax || bytes.length < 9) {
      this.stats.wire.record(-F.kErrTooLarge);
      return;
    }
    ctx.runtime.views.u8.set(bytes, ctx.scratch.frame);
    const type = bytes[3]!;
    if (type === F.kTypePing || type === F.kTypeAck) {
      this.prober.receiveStreamProbe(from, bytes.length, type);
      return;
    }
    if (type !== F.kTypePushPullSummary && type !== F.kTypePushPullState && type !== F.kTypePushPullDigest) {
      this.stats.wire.record(-F.kErrWrongType);
      return;
    }
    this.antiEntropy.receiveFrame(from, bytes, type);
  }

  /**
   * Strong evidence from the transport: a datagram to `to` drew an ICMP unreachable, so
   * the process there is most likely gone (see Prober.unreachable).
   */
  unreachable(to: string): void {
    this.ctx.now = this.ctx.env.nowMs();
    this.prober.unreachable(to);
  }

  /** A stream to `to` could not be opened or broke. */
  streamFailed(to: string): void {
    this.stats.streamFailures++;
    this.prober.streamFailed(to);
    this.antiEntropy.streamFailed(to);
  }

  /** The driver measured event-loop lag: a slow node should not accuse others. */
  reportEventLoopLag(lagMs: number): void {
    if (lagMs <= this.config.eventLoopLagMsMax) return;
    this.ctx.now = this.ctx.env.nowMs();
    this.prober.reportEventLoopLag();
  }

  /** Leaves gracefully: tells the farm at once; the driver stops after a short flush. */
  leave(): void {
    const ctx = this.ctx;
    if (ctx.leaving) return;
    ctx.now = ctx.env.nowMs();
    const incarnation = this.table.incarnation[this.selfRow]!;
    this.dissemination.queueMembership(ctx.key(this.selfRow), ctx.parts.leave(incarnation, this.table, this.selfRow));
    this.dissemination.gossip(true);
    ctx.leaving = true;
    this.table.status[this.selfRow] = F.kStatusLeft;
    this.dissemination.heartbeatChanged();
  }

  /** Changes this node's metadata at runtime (bounded), spread with a new incarnation. */
  setMeta(meta: Uint8Array): void {
    if (meta.length > this.config.metaBytesMax) throw new RangeError(`meta of ${meta.length} bytes exceeds metaBytesMax ${this.config.metaBytesMax}`);
    this.state.setSelfMeta(meta);
  }

  /** Broadcasts a payload to every member (epidemic, deduplicated, bounded size). */
  broadcastUser(payload: Uint8Array): void {
    this.dissemination.broadcastUser(payload);
  }

  /** Membership events since the last call, oldest first. */
  drainEvents(): MembershipEvent[] {
    return this.state.drainEvents();
  }

  /** User broadcasts received since the last call (each once), oldest first. */
  drainUserMessages(): Uint8Array[] {
    return this.dissemination.drainUserMessages();
  }

  /** Whether watch beats are sent (the transport sees ICMP and the config enables them). */
  get watching(): boolean {
    return this.watcher.active;
  }

  /**
   * With watchLinks: the addresses of the ring successors to hold a link to (the same
   * array while they are unchanged; empty before start, when leaving or when off).
   */
  watchTargets(): readonly string[] {
    if (!this.started) return [];
    this.ctx.now = this.ctx.env.nowMs();
    return this.watcher.watchTargets(this.ctx.now);
  }

  /**
   * With watchLinks: the link to `address` closed. Sends it one beat at once, so a dead
   * process's kernel answers with an ICMP unreachable (then unreachable() and the urgent
   * confirmation run as for a beat); a live member merges it. Returns whether one was sent.
   */
  watchLinkLost(address: string): boolean {
    if (!this.started) return false;
    this.ctx.now = this.ctx.env.nowMs();
    return this.watcher.linkLost(address);
  }

  /** The ring successors this node beats to (rows), for tests and diagnostics. */
  watchedRows(): number[] {
    return this.watcher.successorRows();
  }

  /** Lifeguard local health score (0 = healthy). */
  get health(): number {
    return this.prober.awareness.health;
  }

  get incarnation(): number {
    return this.ctx.incarnation;
  }

  /** Members known alive or suspect, this node included. */
  get aliveCount(): number {
    return this.state.liveMembers;
  }

  metaOf(row: number): Uint8Array | undefined {
    return this.state.meta.get(row);
  }

  addressOf(row: number): string {
    return this.ctx.addressOf(row);
  }

  // ---------------------------------------------------------------- receiving

  /** Hands one decoded message (tape record at `m`) to the part whose seam it belongs to. */
  private handleMessage(from: string, m: number): void {
    const { u8, dv } = this.ctx.runtime.views;
    const type = u8[m + F.kMsgType]!;
    const seq = dv.getUint32(m + F.kMsgSeq, true);
    switch (type) {
      case F.kTypePing:
        this.prober.receivePing(from, m, seq);
        return;
      case F.kTypeIndirectPing:
        this.prober.receiveIndirectPing(from, m, seq);
        return;
      case F.kTypeAck:
        this.prober.receiveAck(seq);
        return;
      case F.kTypeNack:
        this.prober.receiveNack(seq);
        return;
      case F.kTypeSuspect:
      case F.kTypeDead:
      case F.kTypeLeave:
        this.state.receiveAccusation(from, m, type);
        return;
      case F.kTypeAlive:
      case F.kTypeJoin:
        this.state.receiveAlive(m);
        return;
      case F.kTypeUser:
        this.dissemination.receiveUser(m);
        return;
      default:
        return;
    }
  }
}
