import { OutputQueue, type SansIoCore } from '../contract.js';
import type { Prng } from '../util/prng.js';
import { resolveClusterMemberOptions, type ClusterMemberOptions, type ClusterMemberSettings } from './cluster-config.js';
import { ClusterError } from './cluster-error.js';
import type { ClusterInput, ClusterOutput, ClusterStatus, ClusterView, MemberRef } from './cluster-io.js';
import * as W from './cluster-wire.js';

/** Ballots of one view change whose acceptances a learner counts at once (competing coordinators are few). */
const kLearnBallotsMax = 16;
/** The adaptive suspect timeout remembers the silences of the last one or two windows of this many suspect timeouts (10 to 20 s at the default). */
const kGapWindowSuspectTimeouts = 25;
/**
 * The adaptive suspect timeout is this many times the longest silence heard. For silences
 * with an exponential tail (a descheduled process), one over k times the longest of the
 * last n is about n^-k each: 2 left about one false suspicion per window on the loaded
 * simulation, 4 almost none (src/sim/cluster/loaded-loss.ts).
 */
const kSuspectGapFactor = 4;

/** What a ClusterMember starts from. */
export interface ClusterMemberInit {
  /** The cluster's name; every message carries it so a host can route to the right core. */
  readonly cluster: string;
  /** This node's id. */
  readonly nodeId: string;
  /**
   * 0 on the node's first boot into this cluster, higher after every restart (a boot
   * counter the driver keeps). Only incarnation-0 nodes may form the cluster's first
   * view, so a restarted node, which forgot what it promised, can never vote twice.
   */
  readonly incarnation: number;
  /** The node ids that should be members (the cluster definition at start). */
  readonly definition: readonly string[];
  readonly random: Prng;
  /** The core's clock at construction, in ms (the same clock later ticks use). */
  readonly nowMs: number;
  readonly options?: ClusterMemberOptions;
}

/**
 * One node's membership in one cluster: consensus on a sequence of views and virtually
 * synchronous reliable FIFO multicast inside each view. Sans-I/O (see SansIoCore).
 *
 * Each view change is one decree of single-decree Paxos among the members of the
 * current view (the acceptors), on the value (next view id, member list, flush cut).
 * The coordinator is the first member in view order that this member does not suspect;
 * a majority of the current view must promise and accept, which is the primary-
 * component rule: a side without a majority never installs a view and reports
 * 'minority'. A promise freezes the member (no more sending or delivering in the
 * view) and carries what it holds of the view; the cut is the highest contiguous prefix
 * any promiser holds per sender, and the install carries the messages of the cut, so
 * every member passing into the next view delivers exactly the cut. See README.md.
 */
export class ClusterMember implements SansIoCore<ClusterInput, ClusterOutput> {
  readonly settings: ClusterMemberSettings;
  readonly cluster: string;
  readonly nodeId: string;
  readonly incarnation: number;

  private readonly out: OutputQueue<ClusterOutput>;
  private readonly random: Prng;
  private readonly bounds: W.WireBounds;
  private nowMs: number;
  private definition: Set<string>;

  // The view this member is in (or the virtual view 0 of the initial definition), and its rank in it (-1: not a member).
  private view: { id: number; members: MemberRef[] } = { id: 0, members: [] };
  private myRank = -1;
  private statusValue: ClusterStatus = 'joining';
  private leftAtMs = -1;

  // Data of the current view, per sender rank.
  private ownSeq = 0;
  private contiguous: number[] = [];
  private delivered: number[] = [];
  private store: Map<number, Uint8Array>[] = [];
  private sentAtMs = new Map<number, number>();
  /** acks[r][s]: the contiguous prefix of sender s that member r last reported. */
  private acks: number[][] = [];
  private ackHeardMs: number[] = [];
  /** ackSentTo[s]: the prefix of sender s this member last reported to s (by heartbeat or prompt ack). */
  private ackSentTo: number[] = [];
  /** Own messages up to this one are stable and dropped from the store. */
  private ownCollected = 0;
  /** The own stable prefix last told to the view (kMessageStable). */
  private stableAnnounced = 0;
  /** collectedOf[s]: sender s's messages up to this one were dropped here on its stable message. */
  private collectedOf: number[] = [];
  private lastHeardMs: number[] = [];
  /**
   * gapHeard[r]: the longest silence between two messages of member r heard in this gap
   * window; gapHeardBefore[r]: in the window before (see suspectTimeoutOf). Carried
   * across views by node id: a loaded host stays loaded through a view change.
   */
  private gapHeard: number[] = [];
  private gapHeardBefore: number[] = [];
  private gapWindowStartMs: number;
  /** Sticky for the view: external evidence, a leave, or a newer incarnation asking to join. */
  private evidence: boolean[] = [];
  /** inherited[r]: evidence[r] came only from deadIncarnations at setView (evidence of an earlier view), so proof of life may lift it. */
  private inherited: boolean[] = [];
  /** leaving[r]: member r said it leaves; it is suspected, but still an acceptor that prepares and accepts are sent to. */
  private leaving: boolean[] = [];
  private frozen = false;
  private frozenSinceMs = 0;

  // Acceptor state for the decree view.id + 1.
  private promised: W.Ballot | null = null;
  private accepted: { ballot: W.Ballot; value: W.ViewValue; messages: W.CarriedMessage[] } | null = null;
  private roundSeenMax = 0;

  // Coordinator state.
  private round: Round | null = null;
  private backoffUntilMs = 0;
  private fanout: { bytes: Uint8Array; pending: Set<string>; lastSentMs: number } | null = null;
  /** The install that brought this member into its view, re-encoded as its own, for members that missed it. */
  private lastInstall: Uint8Array | null = null;

  private readonly joinCandidates = new Map<string, { incarnation: number; lastHeardMs: number }>();
  /**
   * Incarnations known dead from external evidence, with the view the evidence came in,
   * so the evidence outlives a view change that was already running when it came (the
   * next view may still hold them). An entry goes when that incarnation proves it lives
   * after the evidence: a message tagged with a later view, or a join heard in a later
   * view (a node the farm declared dead during a partition, which never crashed, asks to
   * join at the heal with the same incarnation; see forgiveEvidence). Bounded by
   * membersMax: the oldest entry goes first.
   */
  private readonly deadIncarnations = new Map<string, { readonly incarnation: number; readonly viewId: number; readonly atMs: number }>();
  /** Per ballot of the current view change (round * 0x10000 + rank), the ranks heard to have accepted it (learn()); reset per view. */
  private learnVotes = new Map<number, Set<number>>();
  private lastHeartbeatMs = -Infinity;
  private lastRetransmitMs = -Infinity;
  private lastJoinMs = -Infinity;

  constructor(init: ClusterMemberInit) {
    this.settings = resolveClusterMemberOptions(init.options);
    if (typeof init.cluster !== 'string' || init.cluster.length === 0) throw new RangeError('init.cluster must be a non-empty string');
    if (typeof init.nodeId !== 'string' || init.nodeId.length === 0) throw new RangeError('init.nodeId must be a non-empty string');
    if (!Number.isInteger(init.incarnation) || init.incarnation < 0 || init.incarnation > 0xffffffff) {
      throw new RangeError(`init.incarnation must be an unsigned 32-bit integer, got ${init.incarnation}`);
    }
    this.cluster = init.cluster;
    this.nodeId = init.nodeId;
    this.incarnation = init.incarnation;
    this.random = init.random;
    this.nowMs = init.nowMs;
    this.gapWindowStartMs = init.nowMs;
    this.out = new OutputQueue(this.settings.outputsMax);
    this.bounds = {
      membersMax: this.settings.membersMax,
      payloadBytesMax: this.settings.payloadBytesMax,
      nodeIdBytesMax: this.settings.nodeIdBytesMax,
      carriedMessagesMax: 4 * this.settings.membersMax * this.settings.sendWindowMax,
    };
    const initial = [...new Set(init.definition)].sort();
    if (initial.length > this.settings.membersMax) throw new RangeError(`the definition has ${initial.length} nodes, over membersMax ${this.settings.membersMax}`);
    this.definition = new Set(initial);
    // The virtual view 0: the initial definition, every node at its first incarnation.
    this.setView(0, initial.map((nodeId) => ({ nodeId, incarnation: 0 })));
    this.out.push({ kind: 'status', status: 'joining' });
  }

  // ---- The contract ---------------------------------------------------------------

  step(input: ClusterInput): void {
    switch (input.kind) {
      case 'receive':
        this.receive(input.from, input.bytes);
        break;
      case 'multicast':
        this.multicast(input.payload);
        break;
      case 'leave':
        this.leave();
        break;
      case 'suspect':
        this.suspect(input.nodeId);
        break;
      case 'definitionChanged':
        this.definition = new Set(input.members);
        break;
    }
    // Evidence, a leave or a join acts now, not at the next tick: a crash reported by
    // ICMP starts the view change in the same step.
    if (this.statusValue !== 'left') this.driveViewChange();
    this.updateStatus();
  }

  tick(nowMs: number): void {
    if (nowMs > this.nowMs) {
      this.discountOwnStall(nowMs - this.nowMs);
      this.nowMs = nowMs;
    }
    const now = this.nowMs;
    if (this.statusValue === 'left') {
      if (this.lingering() && now - this.lastHeartbeatMs >= this.settings.heartbeatIntervalMs) {
        this.lastHeartbeatMs = now;
        this.broadcastToView(this.header(W.kMessageLeave));
      }
      return;
    }
    if (now - this.gapWindowStartMs >= kGapWindowSuspectTimeouts * this.settings.suspectTimeoutMs) {
      this.gapWindowStartMs = now;
      this.gapHeardBefore = this.gapHeard;
      this.gapHeard = new Array<number>(this.gapHeardBefore.length).fill(0);
    }
    if (now - this.lastHeartbeatMs >= this.settings.heartbeatIntervalMs) {
      this.lastHeartbeatMs = now;
      this.sendHeartbeats();
      this.collectGarbage();
    }
    if (now - this.lastRetransmitMs >= this.settings.retransmitIntervalMs) {
      this.lastRetransmitMs = now;
      this.retransmitData();
      this.retransmitRound();
      this.retransmitInstall();
    }
    if (now - this.lastJoinMs >= this.settings.joinIntervalMs) {
      this.lastJoinMs = now;
      this.pruneCandidates();
      if (this.wantsToJoin()) this.sendJoins();
    }
    this.driveViewChange();
    this.updateStatus();
  }

  /**
   * A gap between ticks longer than a heartbeat period is this process's own stall (a
   * starved or descheduled agent, a stopped VM), not its peers' silence: what they sent
   * meanwhile waits in its socket buffers, and a host hands it over only after the
   * first tick (Node runs due timers before it polls I/O). Counting the gap as silence
   * made a member that woke from a 400 ms stall suspect every peer at once, take itself
   * for the coordinator and prepare a ballot that froze the view or beat the real
   * coordinator's round; and made a coordinator that stalled mid-round restart it at
   * once and drop the promises waiting for it (issue 17: the 16- and 32-member kills on
   * a loaded machine, rebuilt in src/sim/cluster/loaded-crash.ts). So the timers that
   * measure others (silence, a round's progress, the backoff, a frozen view's wait)
   * are moved on by the stall, less one heartbeat period. Suspicion is liveness only:
   * this delays a silent crash's detection by a member that itself stalled, never
   * safety. The broken variant suspectAcrossOwnStall counts the gap as silence.
   */
  private discountOwnStall(gapMs: number): void {
    const excess = gapMs - this.settings.heartbeatIntervalMs;
    if (excess <= 0 || this.settings.broken.suspectAcrossOwnStall === true) return;
    for (let r = 0; r < this.lastHeardMs.length; r++) this.lastHeardMs[r]! += excess;
    for (const c of this.joinCandidates.values()) c.lastHeardMs += excess;
    const round = this.round;
    if (round !== null) {
      round.startMs += excess;
      round.progressMs += excess;
    }
    if (this.backoffUntilMs > this.nowMs) this.backoffUntilMs += excess;
    if (this.frozen) this.frozenSinceMs += excess;
  }

  ready(): readonly ClusterOutput[] {
    return this.out.ready();
  }

  advance(): void {
    this.out.advance();
  }

  // ---- Queries --------------------------------------------------------------------

  status(): ClusterStatus {
    return this.statusValue;
  }

  /** The installed view, or null before the first one. */
  currentView(): ClusterView | null {
    if (this.myRank < 0 || this.view.id === 0) return null;
    return { id: this.view.id, members: this.view.members, primary: true };
  }

  /** Messages of the view this member holds for a possible flush (every sender's, own included): what stability has not yet freed. */
  heldCount(): number {
    let held = 0;
    for (const store of this.store) held += store.size;
    return held;
  }

  /**
   * True while a member that left still acts as an acceptor of its view: until a view
   * without it is installed, for at most leaveLingerMs. A host keeps a left core running
   * (feeding it messages and ticks) while this holds, and may drop it afterwards.
   */
  lingering(): boolean {
    return this.statusValue === 'left' && this.myRank >= 0 && this.nowMs - this.leftAtMs < this.settings.leaveLingerMs;
  }

  /** True when multicast would be accepted now. */
  canMulticast(): boolean {
    // The same conditions as multicastRefusal, without building an error (a host asks at every step).
    return this.statusValue !== 'left' && this.myRank >= 0 && this.view.id !== 0 && !this.frozen && this.ownSeq - this.stableOf(this.myRank) < this.settings.sendWindowMax;
  }

  // ---- Commands -------------------------------------------------------------------

  /** Multicasts to the current view; throws ClusterError when blocked, full or too large. */
  multicast(payload: Uint8Array): void {
    if (payload.length > this.settings.payloadBytesMax) {
      throw new ClusterError('GALAXY_CLUSTER_PAYLOAD_TOO_LARGE', `payload of ${payload.length} bytes over payloadBytesMax ${this.settings.payloadBytesMax}`);
    }
    const refusal = this.multicastRefusal();
    if (refusal !== null) throw refusal;
    const seq = ++this.ownSeq;
    const me = this.myRank;
    const copy = payload.slice();
    this.store[me]!.set(seq, copy);
    this.sentAtMs.set(seq, this.nowMs);
    this.contiguous[me] = seq;
    this.acks[me]![me] = seq;
    this.broadcastToView(this.encode({ ...this.headerFields(W.kMessageData), type: W.kMessageData, seq, payload: copy }));
    this.delivered[me] = seq;
    this.out.push({ kind: 'deliver', viewId: this.view.id, sender: this.nodeId, seq, payload: copy });
  }

  private multicastRefusal(): ClusterError | null {
    if (this.statusValue === 'left') return new ClusterError('GALAXY_CLUSTER_LEFT', 'this member left the cluster');
    if (this.myRank < 0 || this.view.id === 0 || this.frozen) return new ClusterError('GALAXY_CLUSTER_BLOCKED', 'no view is installed or a view change runs');
    if (this.ownSeq - this.stableOf(this.myRank) >= this.settings.sendWindowMax) {
      return new ClusterError('GALAXY_CLUSTER_WINDOW_FULL', `${this.settings.sendWindowMax} own messages are not yet stable`);
    }
    return null;
  }

  /**
   * Leaves gracefully: tells the view, stops sending, delivering and coordinating, but
   * stays an acceptor of its view until a view without it is installed (at most
   * leaveLingerMs). The majority that decides the view without the leaver is counted
   * over the old view, the leaver included: a leaver that stopped voting at once would
   * strand the survivor of a 2-member view in 'minority' for good, and would cost any
   * view a vote while the change that removes it runs.
   */
  leave(): void {
    if (this.statusValue === 'left') return;
    this.leftAtMs = this.nowMs;
    this.round = null;
    this.fanout = null;
    this.joinCandidates.clear();
    // Frozen without a 'blocked' output: a leaver's upper layer hears nothing more but 'left'.
    this.frozen = true;
    this.frozenSinceMs = this.nowMs;
    this.setStatus('left');
    if (this.myRank >= 0) this.broadcastToView(this.header(W.kMessageLeave));
    this.lastHeartbeatMs = this.nowMs;
  }

  /** External evidence that nodeId's process is dead: it is suspected at once, for the rest of this view. */
  suspect(nodeId: string): void {
    const rank = this.view.members.findIndex((m) => m.nodeId === nodeId);
    if (rank >= 0 && rank !== this.myRank) {
      const fresh = !this.evidence[rank] || this.inherited[rank];
      this.evidence[rank] = true;
      this.inherited[rank] = false;
      this.deadIncarnations.delete(nodeId);
      if (this.deadIncarnations.size >= this.settings.membersMax) this.deadIncarnations.delete(this.deadIncarnations.keys().next().value!);
      this.deadIncarnations.set(nodeId, { incarnation: this.view.members[rank]!.incarnation, viewId: this.view.id, atMs: this.nowMs });
      if (fresh && !this.leaving[rank]) this.relayEvidence(rank);
    }
    this.joinCandidates.delete(nodeId);
  }

  /** Tells the member this one takes for the coordinator about fresh external evidence against rank `suspect` (relayEvidence). */
  private relayEvidence(suspect: number): void {
    if (!this.settings.relayEvidence || this.myRank < 0 || this.statusValue === 'left') return;
    let coordinator = 0;
    while (coordinator < this.myRank && this.suspected(coordinator)) coordinator++;
    if (coordinator === this.myRank) return;
    const message: W.WireMessage = { ...this.headerFields(W.kMessageSuspect), type: W.kMessageSuspect, rank: suspect, suspectIncarnation: this.view.members[suspect]!.incarnation };
    this.sendTo(this.view.members[coordinator]!.nodeId, this.encode(message));
  }

  /** Evidence a member of this view relayed: taken as this member's own (and handed on if this member is not the coordinator either). */
  private onSuspect(rank: number, m: W.WireMessage & { type: typeof W.kMessageSuspect }): void {
    if (rank < 0 || this.myRank < 0 || m.viewId !== this.view.id || m.rank === this.myRank) return;
    const target = this.view.members[m.rank];
    if (target === undefined || target.incarnation !== m.suspectIncarnation) return;
    this.suspect(target.nodeId);
  }

  // ---- Receiving ------------------------------------------------------------------

  private receive(from: string, bytes: Uint8Array): void {
    const leaving = this.statusValue === 'left';
    if (leaving && (!this.lingering() || this.settings.broken.leaverStopsVoting === true)) return;
    let message: W.WireMessage;
    try {
      message = W.decodeMessage(bytes, this.bounds);
    } catch (error) {
      if (!(error instanceof ClusterError)) throw error;
      this.out.push({ kind: 'dropped', from, code: 'GALAXY_CLUSTER_WIRE_MALFORMED' });
      return;
    }
    if (message.cluster !== this.cluster) {
      this.out.push({ kind: 'dropped', from, code: 'GALAXY_CLUSTER_WRONG_CLUSTER' });
      return;
    }
    const rank = this.rankOf(from, message.incarnation);
    if (rank >= 0) {
      const gap = this.nowMs - this.lastHeardMs[rank]!;
      if (gap > this.gapHeard[rank]!) this.gapHeard[rank] = gap;
      this.lastHeardMs[rank] = this.nowMs;
    }
    // A leaver only answers as an acceptor and takes the install that ends its part.
    if (leaving && message.type !== W.kMessagePrepare && message.type !== W.kMessageAccept && message.type !== W.kMessageInstall) return;
    if (!leaving) this.forgiveEvidence(from, rank, message);
    switch (message.type) {
      case W.kMessageHeartbeat:
        this.onHeartbeat(from, rank, message);
        break;
      case W.kMessageData:
        this.onData(from, rank, message);
        break;
      case W.kMessageStable:
        this.onStable(rank, message);
        break;
      case W.kMessageSuspect:
        this.onSuspect(rank, message);
        break;
      case W.kMessageJoin:
        this.onJoin(from, rank, message);
        break;
      case W.kMessageNewer:
        if (message.viewId > this.view.id) this.sendTo(from, this.header(W.kMessageJoin));
        break;
      case W.kMessageLeave:
        // A leaver still in an older view missed the install of a change that took it
        // along (it coordinated that change and left while learners installed it): it
        // gets the install, so it can say its leave in this view and lend its vote to
        // the change that removes it.
        if (rank >= 0 && message.viewId < this.view.id) this.otherView(from, rank, message.viewId);
        if (rank >= 0 && message.viewId === this.view.id && rank !== this.myRank) {
          this.evidence[rank] = true;
          this.inherited[rank] = false;
          this.leaving[rank] = true;
        }
        this.joinCandidates.delete(from);
        break;
      case W.kMessagePrepare:
        this.onPrepare(from, rank, message);
        break;
      case W.kMessagePromise:
        this.onPromise(rank, message);
        break;
      case W.kMessageAccept:
        this.onAccept(from, rank, message);
        break;
      case W.kMessageAccepted:
        this.onAccepted(rank, message);
        break;
      case W.kMessageReject:
        this.onReject(message);
        break;
      case W.kMessageInstall:
        this.onInstall(from, message);
        break;
      case W.kMessageInstalled:
        if (this.fanout !== null && message.viewId === this.view.id) this.fanout.pending.delete(from);
        break;
    }
  }

  /**
   * Drops evidence against an incarnation that shows it lives after the evidence came:
   * once this member is in a later view than the evidence's and at least
   * suspectTimeoutMs after it, a join from outside the view (a node cut off by a
   * partition and declared dead by the farm, which never crashed, asks to join with the
   * same incarnation at the heal), or any message tagged with a later view than the
   * evidence's. Without it such a node was suspected again at each re-admission: it
   * joined and was evicted in a loop. The wait keeps messages sent before a real death,
   * still in flight when the evidence came, from lifting it. Should one be older still,
   * the dead incarnation is re-admitted and its silence evicts it again within
   * suspectTimeoutMs: evidence only decides whom to suspect, so the cost is a view
   * change, never safety.
   */
  private forgiveEvidence(from: string, rank: number, m: W.Header): void {
    const dead = this.deadIncarnations.get(from);
    if (this.settings.broken.keepDeadEvidence === true || dead === undefined || dead.incarnation !== m.incarnation || this.view.id <= dead.viewId) return;
    if (this.nowMs - dead.atMs < this.settings.suspectTimeoutMs) return;
    if (!(m.viewId > dead.viewId || (m.type === W.kMessageJoin && rank < 0))) return;
    this.deadIncarnations.delete(from);
    if (rank >= 0 && this.inherited[rank]) {
      this.inherited[rank] = false;
      this.evidence[rank] = false;
    }
  }

  /** Answers a message tagged with another view: a laggard gets the install it missed, a stranger learns it is behind, and this member asks to catch up. */
  private otherView(from: string, rank: number, viewId: number): void {
    if (this.statusValue === 'left') return;
    if (viewId > this.view.id) {
      this.sendTo(from, this.header(W.kMessageJoin));
    } else if (viewId < this.view.id) {
      if (rank >= 0 && this.lastInstall !== null) this.sendTo(from, this.lastInstall);
      else if (this.definition.has(from)) this.sendTo(from, this.header(W.kMessageNewer));
    }
  }

  private onHeartbeat(from: string, rank: number, m: W.WireMessage & { type: typeof W.kMessageHeartbeat }): void {
    if (m.viewId !== this.view.id) return this.otherView(from, rank, m.viewId);
    if (rank < 0 || this.myRank < 0 || m.acks.length !== this.view.members.length) return;
    const row = this.acks[rank]!;
    for (let s = 0; s < row.length; s++) row[s] = Math.max(row[s]!, m.acks[s]!);
    this.ackHeardMs[rank] = this.nowMs;
    this.collectOwn();
  }

  /**
   * Drops own messages that became stable, and tells the view once a quarter window more
   * is stable: with prompt acks a sender goes a window per round trip, and receivers
   * that learnt stability only from every member's heartbeat would hold a heartbeat
   * period of its sending.
   */
  private collectOwn(): void {
    const me = this.myRank;
    if (me < 0 || this.ownSeq === 0) return;
    const limit = this.stableOf(me);
    if (limit <= this.ownCollected) return;
    const store = this.store[me]!;
    for (let seq = this.ownCollected + 1; seq <= limit; seq++) {
      store.delete(seq);
      this.sentAtMs.delete(seq);
    }
    this.ownCollected = limit;
    const every = this.settings.ackEveryMessages;
    if (every > 0 && limit - this.stableAnnounced >= every && !this.frozen) {
      this.stableAnnounced = limit;
      this.broadcastToView(this.encode({ ...this.headerFields(W.kMessageStable), type: W.kMessageStable, stable: limit }));
    }
  }

  /** A sender's own stable prefix: every member holds it, so what of it was delivered here can go. */
  private onStable(rank: number, m: W.WireMessage & { type: typeof W.kMessageStable }): void {
    if (m.viewId !== this.view.id || rank < 0 || this.myRank < 0 || rank === this.myRank) return;
    const limit = Math.min(m.stable, this.delivered[rank]!);
    const store = this.store[rank]!;
    for (let seq = this.collectedOf[rank]! + 1; seq <= limit; seq++) store.delete(seq);
    if (limit > this.collectedOf[rank]!) this.collectedOf[rank] = limit;
  }

  private onData(from: string, rank: number, m: W.WireMessage & { type: typeof W.kMessageData }): void {
    if (m.viewId !== this.view.id) {
      if (this.settings.broken.deliverStaleView === true && m.viewId < this.view.id && this.myRank >= 0 && !this.frozen) {
        const sender = this.view.members.findIndex((x) => x.nodeId === from);
        if (sender >= 0) this.out.push({ kind: 'deliver', viewId: this.view.id, sender: from, seq: m.seq, payload: m.payload });
      }
      return this.otherView(from, rank, m.viewId);
    }
    if (rank < 0 || this.myRank < 0 || rank === this.myRank) return;
    if (m.seq <= this.contiguous[rank]!) {
      if (this.settings.broken.deliverDuplicates === true && !this.frozen) this.deliverOne(rank, m.seq, m.payload);
      return;
    }
    // At most sendWindowMax ahead of what was delivered: a frozen member delivers nothing,
    // so its buffer (and its acks, which let senders go on) stop there.
    if (m.seq > this.delivered[rank]! + this.settings.sendWindowMax) return;
    const store = this.store[rank]!;
    if (this.settings.broken.deliverOutOfOrder === true && !this.frozen && !store.has(m.seq) && m.seq > this.delivered[rank]! + 1) {
      this.deliverOne(rank, m.seq, m.payload);
    }
    store.set(m.seq, m.payload);
    let c = this.contiguous[rank]!;
    while (store.has(c + 1)) c++;
    this.contiguous[rank] = c;
    this.acks[this.myRank]![rank] = c;
    this.deliverReady();
    const every = this.settings.ackEveryMessages;
    if (every > 0 && c - this.ackSentTo[rank]! >= every) this.promptAck(rank);
  }

  /**
   * Tells sender s at once what this member holds (a heartbeat to s alone): the sender's
   * window reopens within a round trip instead of a heartbeat period.
   */
  private promptAck(s: number): void {
    this.ackSentTo[s] = this.contiguous[s]!;
    this.sendTo(this.view.members[s]!.nodeId, this.encode({ ...this.headerFields(W.kMessageHeartbeat), type: W.kMessageHeartbeat, ownSeq: this.ownSeq, acks: this.contiguous }));
  }

  private onJoin(from: string, rank: number, m: W.WireMessage): void {
    if (m.viewId > this.view.id) this.sendTo(from, this.header(W.kMessageJoin));
    if (rank >= 0) {
      // A member of this view that is behind: it missed the install.
      if (m.viewId < this.view.id && this.lastInstall !== null) this.sendTo(from, this.lastInstall);
      return;
    }
    if (!this.definition.has(from) || from === this.nodeId) return;
    const old = this.view.members.findIndex((x) => x.nodeId === from);
    if (old >= 0) {
      // A newer incarnation of a member: the old one is gone.
      if (m.incarnation <= this.view.members[old]!.incarnation) return;
      if (old !== this.myRank) {
        this.evidence[old] = true;
        this.inherited[old] = false;
      }
    }
    const known = this.joinCandidates.get(from);
    if (known === undefined && this.joinCandidates.size >= this.settings.joinCandidatesMax) return;
    if (known !== undefined && known.incarnation > m.incarnation) return;
    this.joinCandidates.set(from, { incarnation: m.incarnation, lastHeardMs: this.nowMs });
  }

  // ---- Acceptor -------------------------------------------------------------------

  private onPrepare(from: string, rank: number, m: W.Header & { readonly ballot: W.Ballot }): void {
    if (m.viewId !== this.view.id) return this.otherView(from, rank, m.viewId);
    if (rank < 0 || this.myRank < 0 || m.ballot.rank !== rank) return;
    this.roundSeenMax = Math.max(this.roundSeenMax, m.ballot.round);
    if (this.promised !== null && compareBallots(m.ballot, this.promised) < 0) {
      this.sendTo(from, this.encode({ ...this.headerFields(W.kMessageReject), type: W.kMessageReject, ballot: this.promised }));
      return;
    }
    this.promised = m.ballot;
    if (this.round !== null && compareBallots(this.round.ballot, m.ballot) < 0) this.round = null;
    this.freeze();
    // A leaver reminds the coordinator first, so the value it proposes leaves it out.
    if (this.statusValue === 'left') this.sendTo(from, this.header(W.kMessageLeave));
    this.sendTo(from, this.encode(this.promiseMessage(m.ballot)));
  }

  private promiseMessage(ballot: W.Ballot): W.WireMessage {
    const accepted = this.accepted === null ? null : { ballot: this.accepted.ballot, value: this.accepted.value };
    return {
      ...this.headerFields(W.kMessagePromise),
      type: W.kMessagePromise,
      ballot,
      accepted,
      contiguous: this.contiguous.slice(),
      messages: this.heldMessages(),
    };
  }

  /** Every message of the view this member holds, and those of the value it accepted, once each. */
  private heldMessages(): W.CarriedMessage[] {
    const out: W.CarriedMessage[] = [];
    const seen = new Set<number>();
    for (let s = 0; s < this.store.length; s++) {
      for (const [seq, payload] of this.store[s]!) {
        seen.add(s * 0x100000000 + seq);
        out.push({ senderRank: s, seq, payload });
      }
    }
    for (const m of this.accepted?.messages ?? []) {
      if (!seen.has(m.senderRank * 0x100000000 + m.seq)) out.push(m);
    }
    return out;
  }

  private onAccept(from: string, rank: number, m: W.WireMessage & { type: typeof W.kMessageAccept }): void {
    if (m.viewId !== this.view.id) return this.otherView(from, rank, m.viewId);
    if (rank < 0 || this.myRank < 0 || m.ballot.rank !== rank) return;
    if (m.value.viewId !== this.view.id + 1 || m.value.cut.length !== this.view.members.length) return;
    this.roundSeenMax = Math.max(this.roundSeenMax, m.ballot.round);
    if (this.promised !== null && compareBallots(m.ballot, this.promised) < 0) {
      this.sendTo(from, this.encode({ ...this.headerFields(W.kMessageReject), type: W.kMessageReject, ballot: this.promised }));
      return;
    }
    this.promised = m.ballot;
    if (this.round !== null && compareBallots(this.round.ballot, m.ballot) < 0) this.round = null;
    this.accepted = { ballot: m.ballot, value: m.value, messages: m.messages.slice() };
    this.freeze();
    const accepted = this.encode({ ...this.headerFields(W.kMessageAccepted), type: W.kMessageAccepted, ballot: m.ballot });
    this.sendTo(from, accepted);
    if (!this.settings.learnFromAcceptors) return;
    // Every acceptor is a learner too: it tells the whole view, and installs as soon as a
    // majority of the view accepted this ballot, a message hop before the coordinator's
    // INSTALL would reach it (see learn()).
    for (let r = 0; r < this.view.members.length; r++) if (r !== this.myRank && r !== rank) this.sendTo(this.view.members[r]!.nodeId, accepted);
    this.learn(m.ballot, rank);
    this.learn(m.ballot, this.myRank);
  }

  /**
   * Counts `rank`'s acceptance of `ballot` and installs the value this member accepted in
   * that ballot once a majority of the view accepted it: Paxos' learner rule (a value is
   * chosen when a majority of acceptors accepted it in one ballot, and a ballot has one
   * value). The install carries what the ACCEPT carried, the same as the coordinator's
   * INSTALL, which still comes (to joiners, and to anyone who missed the ACCEPT) and is
   * answered as a repeat. The coordinator of the ballot decides by its own count
   * (tryDecide), which also starts the INSTALL fan-out.
   */
  private learn(ballot: W.Ballot, rank: number): void {
    if (rank < 0 || this.myRank < 0) return;
    const key = ballot.round * 0x10000 + ballot.rank;
    let votes = this.learnVotes.get(key);
    if (votes === undefined) {
      // Bounded: ballots of one view change; the lowest goes first.
      if (this.learnVotes.size >= kLearnBallotsMax) this.learnVotes.delete(Math.min(...this.learnVotes.keys()));
      votes = new Set<number>();
      this.learnVotes.set(key, votes);
    }
    votes.add(rank);
    const accepted = this.accepted;
    const quorum = this.settings.broken.learnWithoutMajority === true ? 1 : this.majority();
    if (accepted === null || compareBallots(accepted.ballot, ballot) !== 0 || votes.size < quorum) return;
    if (this.round !== null && compareBallots(this.round.ballot, ballot) === 0) return;
    // Only a member that passes into the new view learns by itself: it keeps that view's
    // INSTALL and answers a coordinator still retransmitting its ACCEPT with it
    // (otherView). A leaver, or a member the value leaves out, stays an acceptor of the
    // old view until the coordinator's INSTALL comes, so the coordinator's count can
    // still reach a majority if an ACCEPTED of theirs was lost (the survivor of a
    // 2-member view needs the leaver's vote).
    if (this.statusValue === 'left' || !accepted.value.members.some((m) => m.nodeId === this.nodeId && m.incarnation === this.incarnation)) return;
    const coordinator = this.view.members[ballot.rank];
    if (coordinator === undefined) return;
    this.round = null;
    this.applyInstall(coordinator.nodeId, accepted.value, accepted.messages);
  }

  /** Stops sending and delivering in the view: from here on what this member holds only grows toward the cut. */
  private freeze(): void {
    if (this.frozen) return;
    this.frozen = true;
    this.frozenSinceMs = this.nowMs;
    if (this.view.id > 0) this.out.push({ kind: 'blocked', viewId: this.view.id });
  }

  // ---- Coordinator ----------------------------------------------------------------

  private driveViewChange(): void {
    if (this.myRank < 0) return;
    const eligible = this.isCoordinator();
    if (!eligible) {
      this.round = null;
      return;
    }
    const round = this.round;
    if (round !== null) {
      // A prepare with its majority goes on before the stall check, and one still
      // waiting for a promise worth waiting for (tryFinishPrepare: a slow promiser up
      // to twice the round timeout, a silent one until it is suspected) is not stalled:
      // a late tick must not turn the wait into a restart.
      const waiting = round.phase === 'prepare' && this.tryFinishPrepare(round);
      if (this.round === round && !waiting && this.nowMs - round.progressMs > 2 * this.settings.roundTimeoutMs) {
        this.round = null;
        this.backoffUntilMs = this.nowMs + this.random.nextFloat() * this.settings.roundTimeoutMs;
      }
      return;
    }
    if (this.nowMs < this.backoffUntilMs || !this.needsChange()) return;
    this.startRound();
  }

  /** The first member in view order that this member does not suspect coordinates. */
  private isCoordinator(): boolean {
    for (let r = 0; r < this.myRank; r++) if (!this.suspected(r)) return false;
    return true;
  }

  private needsChange(): boolean {
    if (this.view.id === 0 || this.frozen) return true;
    for (let r = 0; r < this.view.members.length; r++) {
      if (this.suspected(r) || !this.definition.has(this.view.members[r]!.nodeId)) return true;
    }
    return this.freshCandidates().length > 0;
  }

  private startRound(): void {
    const ballot: W.Ballot = { round: this.roundSeenMax + 1, rank: this.myRank };
    this.roundSeenMax = ballot.round;
    const round: Round = { ballot, phase: 'prepare', startMs: this.nowMs, progressMs: this.nowMs, promises: new Map(), accepts: new Set(), value: null, messages: [] };
    this.round = round;
    this.promised = ballot;
    this.freeze();
    round.promises.set(this.myRank, {
      accepted: this.accepted === null ? null : { ballot: this.accepted.ballot, value: this.accepted.value },
      contiguous: this.contiguous.slice(),
      messages: this.heldMessages(),
    });
    this.broadcastToView(this.encode({ ...this.headerFields(W.kMessagePrepare), type: W.kMessagePrepare, ballot }));
  }

  private onPromise(rank: number, m: W.WireMessage & { type: typeof W.kMessagePromise }): void {
    const round = this.round;
    if (round === null || rank < 0 || m.viewId !== this.view.id || round.phase !== 'prepare' || compareBallots(m.ballot, round.ballot) !== 0) return;
    if (m.contiguous.length !== this.view.members.length || round.promises.has(rank)) return;
    round.promises.set(rank, { accepted: m.accepted, contiguous: m.contiguous, messages: m.messages });
    round.progressMs = this.nowMs;
    this.tryFinishPrepare(round);
  }

  private majority(): number {
    return Math.floor(this.view.members.length / 2) + 1;
  }

  /**
   * Moves a prepare with its majority on to the accept phase once no promise is worth
   * waiting for; returns true while it waits for one (the round is not stalled then).
   */
  private tryFinishPrepare(round: Round): boolean {
    const quorum = this.settings.broken.acceptWithoutMajority === true ? 1 : this.majority();
    if (round.promises.size < quorum) return false;
    // Wait for every member that is not suspected. A member heard but not answering (a
    // one-way cut) must not stall the majority: it is waited for one round timeout, or
    // twice that if heard from since this round began (it lives, and its promise is most
    // likely on its way: a slow process on a loaded machine). A member silent since the
    // round began is a stalled process or a dead one: the failure detector decides
    // which, so it is waited for until it is suspected (at most suspectTimeoutMs after
    // it was last heard), not cut out after one round timeout (the broken variant
    // leaveOutStalledPromisers, the rule before issue 17's loaded runs). A member left
    // out comes back only through a join and another change, which freezes the view
    // again: on a loaded machine, seconds later.
    const waited = this.nowMs - round.startMs;
    const heardSince = this.settings.broken.leaveOutSlowPromisers === true ? Infinity : round.startMs;
    const stalledWait = this.settings.broken.leaveOutStalledPromisers !== true;
    for (let r = 0; r < this.view.members.length; r++) {
      if (round.promises.has(r) || this.suspected(r)) continue;
      if (waited < this.settings.roundTimeoutMs) return true;
      const heard = this.lastHeardMs[r]! >= round.startMs;
      if (heard ? this.lastHeardMs[r]! >= heardSince && waited < 2 * this.settings.roundTimeoutMs : stalledWait) return true;
    }
    const chosen = this.chooseValue(round);
    if (chosen === null) {
      this.round = null;
      return false;
    }
    round.phase = 'accept';
    round.value = chosen.value;
    round.messages = chosen.messages;
    round.progressMs = this.nowMs;
    this.accepted = { ballot: round.ballot, value: chosen.value, messages: chosen.messages };
    round.accepts.add(this.myRank);
    this.broadcastToView(this.acceptMessage(round));
    this.tryDecide(round);
    return false;
  }

  private acceptMessage(round: Round): Uint8Array {
    return this.encode({ ...this.headerFields(W.kMessageAccept), type: W.kMessageAccept, ballot: round.ballot, value: round.value!, messages: round.messages });
  }

  /** The value of this round: the highest accepted one found (Paxos), else a new view of the promisers and the joiners. */
  private chooseValue(round: Round): { value: W.ViewValue; messages: W.CarriedMessage[] } | null {
    const pool = new Map<number, W.CarriedMessage>();
    let best: { ballot: W.Ballot; value: W.ViewValue } | null = null;
    for (const p of round.promises.values()) {
      for (const m of p.messages) pool.set(m.senderRank * 0x100000000 + m.seq, m);
      if (p.accepted !== null && (best === null || compareBallots(p.accepted.ballot, best.ballot) > 0)) best = p.accepted;
    }
    const size = this.view.members.length;
    let value: W.ViewValue;
    if (best !== null && this.settings.broken.ignoreAcceptedValue !== true) {
      value = best.value;
    } else {
      const members: MemberRef[] = [];
      for (let r = 0; r < size; r++) {
        const m = this.view.members[r]!;
        if (round.promises.has(r) && !this.evidence[r] && this.definition.has(m.nodeId)) members.push(m);
      }
      for (const j of this.freshCandidates()) {
        if (members.length >= this.settings.membersMax) break;
        if (!members.some((m) => m.nodeId === j.nodeId)) members.push(j);
      }
      if (members.length === 0) return null;
      const cut = new Array<number>(size).fill(0);
      for (const p of round.promises.values()) for (let s = 0; s < size; s++) cut[s] = Math.max(cut[s]!, p.contiguous[s]!);
      value = { viewId: this.view.id + 1, prevViewId: this.view.id, members, cut };
    }
    // Carry the messages of the cut that some member passing on may lack: everything the
    // promises brought (a promiser of an earlier round whose value was adopted may hold
    // less than this round's promisers, and what it lacks came with that value). A
    // message of the cut absent from every promise was stable when a promiser dropped
    // it: every member of the view had received it, and a member keeps what it received
    // until it delivers it, so each one delivers it from its own buffer at the install.
    // A sender is never more than sendWindowMax ahead of what every member holds, so
    // nothing at or below cut - sendWindowMax needs carrying.
    const window = this.settings.sendWindowMax;
    const messages: W.CarriedMessage[] = [];
    for (let s = 0; s < size; s++) {
      for (let seq = Math.max(1, value.cut[s]! - window + 1); seq <= value.cut[s]!; seq++) {
        const m = pool.get(s * 0x100000000 + seq);
        if (m !== undefined) messages.push(m);
      }
    }
    return { value, messages };
  }

  private onAccepted(rank: number, m: W.Header & { readonly ballot: W.Ballot }): void {
    const round = this.round;
    if (round === null || rank < 0 || m.viewId !== this.view.id || round.phase !== 'accept' || compareBallots(m.ballot, round.ballot) !== 0) {
      if (rank >= 0 && m.viewId === this.view.id && this.settings.learnFromAcceptors && this.statusValue !== 'left') this.learn(m.ballot, rank);
      return;
    }
    round.accepts.add(rank);
    round.progressMs = this.nowMs;
    this.tryDecide(round);
  }

  private tryDecide(round: Round): void {
    const quorum = this.settings.broken.acceptWithoutMajority === true ? 1 : this.majority();
    if (round.accepts.size < quorum) return;
    const value = round.value!;
    const install = this.encode({ ...this.headerFields(W.kMessageInstall), viewId: value.viewId, type: W.kMessageInstall, value, messages: round.messages });
    const targets = new Set<string>();
    for (const m of value.members) targets.add(m.nodeId);
    for (const m of this.view.members) targets.add(m.nodeId);
    targets.delete(this.nodeId);
    for (const to of targets) this.sendTo(to, install);
    this.round = null;
    this.applyInstall(this.nodeId, value, round.messages);
    this.fanout = { bytes: install, pending: new Set(value.members.map((m) => m.nodeId).filter((id) => id !== this.nodeId)), lastSentMs: this.nowMs };
  }

  private onReject(m: W.Header & { readonly ballot: W.Ballot }): void {
    this.roundSeenMax = Math.max(this.roundSeenMax, m.ballot.round);
    const round = this.round;
    if (round === null || m.viewId !== this.view.id || compareBallots(m.ballot, round.ballot) <= 0) return;
    this.round = null;
    this.backoffUntilMs = this.nowMs + this.random.nextFloat() * this.settings.roundTimeoutMs;
  }

  // ---- Installing -----------------------------------------------------------------

  private onInstall(from: string, m: W.WireMessage & { type: typeof W.kMessageInstall }): void {
    const value = m.value;
    const older = value.viewId <= this.view.id;
    if (older && !(this.settings.broken.installOlderViews === true && value.viewId !== this.view.id)) {
      if (value.viewId === this.view.id) this.sendTo(from, this.header(W.kMessageInstalled));
      return;
    }
    this.applyInstall(from, value, m.messages);
  }

  private applyInstall(from: string, value: W.ViewValue, carried: readonly W.CarriedMessage[]): void {
    const me = value.members.findIndex((m) => m.nodeId === this.nodeId && m.incarnation === this.incarnation);
    const wasMember = this.myRank >= 0 && this.view.id > 0;
    const leaving = this.statusValue === 'left';
    if (!leaving && me >= 0 && this.myRank >= 0 && value.prevViewId === this.view.id && this.settings.broken.skipFlush !== true) {
      this.deliverCut(value.cut, carried);
    }
    if (!leaving && wasMember && me >= 0) this.out.push({ kind: 'viewEnding', viewId: this.view.id });
    this.setView(value.viewId, value.members.slice());
    this.fanout = null;
    if (me < 0) {
      // For a leaver this is the end: a view without it is installed, and it stops.
      this.lastInstall = null;
      return;
    }
    if (leaving) {
      // The change that took this leaver along was decided before its leave was heard:
      // it stays frozen, an acceptor of the new view, and says again that it leaves.
      this.frozen = true;
      this.frozenSinceMs = this.nowMs;
      if (from !== this.nodeId) this.sendTo(from, this.header(W.kMessageInstalled));
      this.broadcastToView(this.header(W.kMessageLeave));
      return;
    }
    this.lastInstall = this.encode({ ...this.headerFields(W.kMessageInstall), type: W.kMessageInstall, value, messages: carried.slice() });
    for (const m of value.members) if (this.joinCandidates.get(m.nodeId)?.incarnation === m.incarnation) this.joinCandidates.delete(m.nodeId);
    this.out.push({ kind: 'viewInstalled', view: { id: value.viewId, members: value.members, primary: true } });
    if (from !== this.nodeId) this.sendTo(from, this.header(W.kMessageInstalled));
  }

  /** Delivers, per sender in rank order, every message of the cut not yet delivered. */
  private deliverCut(cut: readonly number[], carried: readonly W.CarriedMessage[]): void {
    const extra = new Map<number, Uint8Array>();
    for (const m of carried) extra.set(m.senderRank * 0x100000000 + m.seq, m.payload);
    for (let s = 0; s < this.view.members.length; s++) {
      for (let seq = this.delivered[s]! + 1; seq <= cut[s]!; seq++) {
        const payload = this.store[s]!.get(seq) ?? extra.get(s * 0x100000000 + seq);
        if (payload === undefined) throw new Error(`cluster ${this.cluster}: message ${s}/${seq} of the cut reached ${this.nodeId} with neither its buffer nor the install (a bug)`);
        this.deliverOne(s, seq, payload);
      }
    }
  }

  /** Makes (id, members) the current view and resets everything that belongs to one view. */
  private setView(id: number, members: MemberRef[]): void {
    const size = members.length;
    const gaps = new Map<string, readonly [number, number]>();
    for (let r = 0; r < this.gapHeard.length; r++) gaps.set(this.view.members[r]!.nodeId, [this.gapHeard[r]!, this.gapHeardBefore[r]!]);
    this.gapHeard = members.map((m) => gaps.get(m.nodeId)?.[0] ?? 0);
    this.gapHeardBefore = members.map((m) => gaps.get(m.nodeId)?.[1] ?? 0);
    this.view = { id, members };
    this.myRank = members.findIndex((m) => m.nodeId === this.nodeId && m.incarnation === this.incarnation);
    this.ownSeq = 0;
    this.contiguous = new Array<number>(size).fill(0);
    this.delivered = new Array<number>(size).fill(0);
    this.store = Array.from({ length: size }, () => new Map<number, Uint8Array>());
    this.sentAtMs.clear();
    this.acks = Array.from({ length: size }, () => new Array<number>(size).fill(0));
    this.ackHeardMs = new Array<number>(size).fill(this.nowMs);
    this.ackSentTo = new Array<number>(size).fill(0);
    this.ownCollected = 0;
    this.stableAnnounced = 0;
    this.collectedOf = new Array<number>(size).fill(0);
    this.lastHeardMs = new Array<number>(size).fill(this.nowMs);
    this.evidence = members.map((m) => this.deadIncarnations.get(m.nodeId)?.incarnation === m.incarnation);
    this.inherited = this.evidence.slice();
    this.leaving = new Array<boolean>(size).fill(false);
    this.frozen = false;
    this.promised = null;
    this.accepted = null;
    this.round = null;
    this.backoffUntilMs = 0;
    this.learnVotes.clear();
  }

  // ---- Data path ------------------------------------------------------------------

  private deliverReady(): void {
    if (this.frozen || this.myRank < 0) return;
    for (let s = 0; s < this.view.members.length; s++) {
      while (this.delivered[s]! < this.contiguous[s]!) {
        const seq = this.delivered[s]! + 1;
        this.deliverOne(s, seq, this.store[s]!.get(seq)!);
      }
    }
  }

  private deliverOne(s: number, seq: number, payload: Uint8Array): void {
    if (seq > this.delivered[s]!) this.delivered[s] = seq;
    this.out.push({ kind: 'deliver', viewId: this.view.id, sender: this.view.members[s]!.nodeId, seq, payload });
  }

  /** The prefix of sender s every member of the view has acknowledged. */
  private stableOf(s: number): number {
    let stable = Number.MAX_SAFE_INTEGER;
    for (let r = 0; r < this.acks.length; r++) stable = Math.min(stable, r === this.myRank ? this.contiguous[s]! : this.acks[r]![s]!);
    return stable;
  }

  /** Drops messages delivered here and held by every member: no flush can need them. */
  private collectGarbage(): void {
    if (this.myRank < 0) return;
    for (let s = 0; s < this.store.length; s++) {
      const limit = Math.min(this.stableOf(s), this.delivered[s]!);
      const store = this.store[s]!;
      for (const seq of store.keys()) {
        if (seq > limit) continue;
        store.delete(seq);
        if (s === this.myRank) this.sentAtMs.delete(seq);
      }
    }
  }

  private sendHeartbeats(): void {
    if (this.myRank < 0) return;
    this.acks[this.myRank] = this.contiguous.slice();
    for (let r = 0; r < this.contiguous.length; r++) this.ackSentTo[r] = this.contiguous[r]!;
    this.broadcastToView(this.encode({ ...this.headerFields(W.kMessageHeartbeat), type: W.kMessageHeartbeat, ownSeq: this.ownSeq, acks: this.contiguous }));
  }

  /** Sends own messages again to each member whose acks, heard well after the send, still lack them. */
  private retransmitData(): void {
    const me = this.myRank;
    if (me < 0 || this.ownSeq === 0) return;
    const store = this.store[me]!;
    for (let r = 0; r < this.view.members.length; r++) {
      if (r === me || this.suspected(r)) continue;
      for (let seq = this.acks[r]![me]! + 1; seq <= this.ownSeq; seq++) {
        const sentMs = this.sentAtMs.get(seq);
        const payload = store.get(seq);
        if (sentMs === undefined || payload === undefined || this.ackHeardMs[r]! - sentMs < this.settings.retransmitIntervalMs) break;
        this.sendTo(this.view.members[r]!.nodeId, this.encode({ ...this.headerFields(W.kMessageData), type: W.kMessageData, seq, payload }));
      }
    }
  }

  private retransmitRound(): void {
    const round = this.round;
    if (round === null) return;
    const bytes =
      round.phase === 'prepare'
        ? this.encode({ ...this.headerFields(W.kMessagePrepare), type: W.kMessagePrepare, ballot: round.ballot })
        : this.acceptMessage(round);
    const answered = round.phase === 'prepare' ? (r: number) => round.promises.has(r) : (r: number) => round.accepts.has(r);
    for (let r = 0; r < this.view.members.length; r++) {
      // A leaver is suspected but still votes: in a 2-member view the survivor needs it.
      if (r !== this.myRank && !answered(r) && (!this.suspected(r) || this.leaving[r])) this.sendTo(this.view.members[r]!.nodeId, bytes);
    }
  }

  private retransmitInstall(): void {
    const fanout = this.fanout;
    if (fanout === null || fanout.pending.size === 0) return;
    for (const to of fanout.pending) {
      const rank = this.view.members.findIndex((m) => m.nodeId === to);
      if (rank >= 0 && this.suspected(rank)) fanout.pending.delete(to);
      else this.sendTo(to, fanout.bytes);
    }
  }

  // ---- Joining and suspicion ------------------------------------------------------

  private wantsToJoin(): boolean {
    if (!this.definition.has(this.nodeId)) return false;
    if (this.myRank < 0) return true;
    // Cut off in a blocked view for longer than a suspicion: ask whoever went on.
    return this.frozen && this.nowMs - this.frozenSinceMs > this.settings.suspectTimeoutMs;
  }

  private sendJoins(): void {
    const bytes = this.header(W.kMessageJoin);
    for (const to of this.definition) if (to !== this.nodeId) this.sendTo(to, bytes);
  }

  private freshCandidates(): MemberRef[] {
    const out: MemberRef[] = [];
    for (const [nodeId, c] of this.joinCandidates) {
      if (this.nowMs - c.lastHeardMs > this.settings.suspectTimeoutMs || !this.definition.has(nodeId)) continue;
      if (this.rankOf(nodeId, c.incarnation) >= 0) continue;
      out.push({ nodeId, incarnation: c.incarnation });
    }
    return out.sort((a, b) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0));
  }

  private pruneCandidates(): void {
    for (const [nodeId, c] of this.joinCandidates) {
      if (this.nowMs - c.lastHeardMs > 2 * this.settings.suspectTimeoutMs || this.rankOf(nodeId, c.incarnation) >= 0) this.joinCandidates.delete(nodeId);
    }
  }

  private suspected(r: number): boolean {
    if (r === this.myRank) return false;
    if (this.evidence[r]) return true;
    return this.settings.broken.neverSuspect !== true && this.nowMs - this.lastHeardMs[r]! > this.suspectTimeoutOf(r);
  }

  /**
   * The silence after which member r is suspected: four times the longest silence heard
   * between two of its messages over the last one or two gap windows, at least
   * suspectTimeoutMs, at most suspectTimeoutMaxMs (an adaptive failure detector, after
   * Chen et al. and the phi-accrual detector: the timeout follows the member's own
   * rhythm). Issue 17's 10% loss scenario on a loaded machine saw view changes that
   * removed live members: a member descheduled for 250-350 ms, whose heartbeat just
   * before or after the stall was lost, was silent past the fixed 400 ms (rebuilt in
   * src/sim/cluster/loaded-loss.ts). On a quiet machine without loss the gaps stay near
   * a heartbeat period and the timeout at suspectTimeoutMs, so a silent crash is found
   * as fast as before; at 10% loss (two or three heartbeats lost in a row) or on a
   * loaded machine it grows, never past suspectTimeoutMaxMs. Evidence does not wait
   * for it. The broken variant unboundedSuspectTimeout drops the ceiling.
   */
  private suspectTimeoutOf(r: number): number {
    const settings = this.settings;
    const adaptive = kSuspectGapFactor * Math.max(this.gapHeard[r]!, this.gapHeardBefore[r]!);
    const ceiling = settings.broken.unboundedSuspectTimeout === true ? Infinity : settings.suspectTimeoutMaxMs;
    return Math.max(settings.suspectTimeoutMs, Math.min(ceiling, adaptive));
  }

  private updateStatus(): void {
    if (this.statusValue === 'left') return;
    let status: ClusterStatus;
    if (this.myRank < 0 || this.view.id === 0) status = 'joining';
    else if (!this.frozen) status = 'member';
    else {
      let reachable = 0;
      for (let r = 0; r < this.view.members.length; r++) if (!this.suspected(r)) reachable++;
      status = reachable >= this.majority() ? 'blocked' : 'minority';
    }
    this.setStatus(status);
  }

  private setStatus(status: ClusterStatus): void {
    if (status === this.statusValue) return;
    this.statusValue = status;
    this.out.push({ kind: 'status', status });
  }

  // ---- Helpers --------------------------------------------------------------------

  private rankOf(nodeId: string, incarnation: number): number {
    const members = this.view.members;
    for (let r = 0; r < members.length; r++) if (members[r]!.nodeId === nodeId && members[r]!.incarnation === incarnation) return r;
    return -1;
  }

  private headerFields(type: number): W.Header {
    return { type, cluster: this.cluster, incarnation: this.incarnation, viewId: this.view.id };
  }

  private header(type: typeof W.kMessageJoin | typeof W.kMessageNewer | typeof W.kMessageLeave | typeof W.kMessageInstalled): Uint8Array {
    return this.encode({ ...this.headerFields(type), type });
  }

  private encode(message: W.WireMessage): Uint8Array {
    return W.encodeMessage(message);
  }

  private sendTo(to: string, bytes: Uint8Array): void {
    this.out.push({ kind: 'send', to, bytes });
  }

  private broadcastToView(bytes: Uint8Array): void {
    for (let r = 0; r < this.view.members.length; r++) if (r !== this.myRank) this.sendTo(this.view.members[r]!.nodeId, bytes);
  }
}

interface PromiseRecord {
  readonly accepted: { readonly ballot: W.Ballot; readonly value: W.ViewValue } | null;
  readonly contiguous: readonly number[];
  readonly messages: readonly W.CarriedMessage[];
}

interface Round {
  readonly ballot: W.Ballot;
  phase: 'prepare' | 'accept';
  startMs: number;
  progressMs: number;
  readonly promises: Map<number, PromiseRecord>;
  readonly accepts: Set<number>;
  value: W.ViewValue | null;
  messages: W.CarriedMessage[];
}

/** Orders ballots: by round, then by the coordinator's rank. */
export function compareBallots(a: W.Ballot, b: W.Ballot): number {
  return a.round !== b.round ? a.round - b.round : a.rank - b.rank;
}
