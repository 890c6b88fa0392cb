import { OutputQueue, type SansIoCore } from '../contract.js';
import type { EntryView, FmidbChange, FmidbWrite } from '../fmidb/entry.js';
import { FmidbCore, type FmidbCoreOptions } from '../fmidb/fmidb-core.js';
import type { JobCoordinatorCore, JobCoordinatorCoreOptions } from '../jobs/job-coordinator-core.js';
import { decodeJobMessage, encodeJobMessage, kJobMessageBytesMax, kJobMessageStreamBytesMax, type JobMessage } from '../jobs/job-message.js';
import type { JobRunnerCore } from '../jobs/job-runner-core.js';
import { NodeJobs, type JobsOpenOptions, type NodeJobsCommand, type NodeJobsEvent, type NodeJobsSink } from '../jobs/node-jobs.js';
import { MembershipCore, type MembershipCoreOptions } from '../membership/membership-core.js';
import type { MembershipEvent } from '../membership/membership-event.js';
import { channelByName } from '../messenger/channel-table.js';
import { decodeEnvelope, encodeEnvelope, isEnvelope, type DeliveryMode } from '../messenger/envelope.js';
import { kRevokedIdsMax } from '../messenger/member-directory.js';
import * as F from '../wire/format.js';
import { formatNodeId } from '../wire/message.js';
import { nodeIdOf } from '../wire/node-id-of.js';

/** What the stack's operator (the driver, a test, later the API) asks of the node. */
export type StackCommand =
  | { readonly type: 'start' }
  | { readonly type: 'leave' }
  /** How late the driver's last tick came, for Lifeguard. */
  | { readonly type: 'lag'; readonly lagMs: number }
  /** Writes of this node's FMIDB: one batch under one stamp (throws FmidbError and writes nothing when a limit is broken). */
  | { readonly type: 'write'; readonly writes: readonly FmidbWrite[] }
  /**
   * Opens the FMIDB of a stack made without one (the agent opens it when its farm data
   * starts), loading a snapshot's origins first as if they had been replicated.
   */
  | { readonly type: 'open-fmidb'; readonly fmidb: FmidbOpenOptions; readonly snapshot: readonly SnapshotOrigin[] }
  /** These nodes (FMIDB names) are gone though membership never saw them (restored from a snapshot, never back). */
  | { readonly type: 'depart'; readonly ids: readonly string[] }
  /** The farm revoked this node (by sender id): nothing it sends is taken from now on (member-directory.ts's rule). */
  | { readonly type: 'revoke'; readonly senderId: string }
  /** Membership: this node's announced metadata. */
  | { readonly type: 'meta'; readonly meta: Uint8Array }
  /**
   * Membership: the seeds changed while running (the agent's discovery): the whole new
   * set, joined through at once only when this node has no live member left, otherwise
   * re-contacted by the reconnect timer (MembershipEngine.replaceSeeds).
   */
  | { readonly type: 'join'; readonly seeds: readonly string[] }
  /** Membership: a farm-wide epidemic broadcast (the messenger's broadcast mode rides on it). */
  | { readonly type: 'broadcast'; readonly payload: Uint8Array }
  /**
   * Opens job coordination on a stack made with jobs: false (the agent opens it when its
   * jobs component starts): the coordinator and the runner, fed the live members at once.
   */
  | { readonly type: 'open-jobs'; readonly jobs: JobsOpenOptions }
  /** The job commands (node-jobs.ts): create, add, stop, signal; the host's launched, launch-failed, exited. */
  | NodeJobsCommand;

/** Bytes received, transport evidence, or a command. `from`/`to` are node addresses. */
export type StackInput =
  | { readonly type: 'datagram'; readonly from: string; readonly bytes: Uint8Array }
  | { readonly type: 'frame'; readonly from: string; readonly bytes: Uint8Array }
  | { readonly type: 'unreachable'; readonly to: string }
  | { readonly type: 'stream-failed'; readonly to: string }
  | { readonly type: 'command'; readonly command: StackCommand };

export type StackEvent =
  | { readonly layer: 'membership'; readonly event: MembershipEvent }
  | { readonly layer: 'fmidb'; readonly change: FmidbChange }
  /** The job events (node-jobs.ts): the coordinator's, and the processes to run, terminate or signal. */
  | NodeJobsEvent
  /** A user broadcast membership received (each once): the messenger's broadcast channels are above the stack. */
  | { readonly layer: 'user'; readonly payload: Uint8Array }
  /** The FMIDB opened: origins loaded from the snapshot, and those refused with why. */
  | { readonly layer: 'fmidb-opened'; readonly origins: number; readonly entries: number; readonly refused: readonly { readonly origin: string; readonly reason: string }[] };

/** One origin of an FMIDB snapshot (FmidbReplica.exportOrigins). */
export interface SnapshotOrigin {
  readonly origin: string;
  readonly version: number;
  readonly entries: readonly EntryView[];
}

export type { JobsOpenOptions } from '../jobs/node-jobs.js';

/** What the job cores counted (JobCoordinatorCore.counters, JobRunnerCore.counters). */
export interface NodeJobsCounters {
  readonly coordinator: Readonly<Record<string, number>>;
  readonly runner: Readonly<Record<string, number>>;
}

/** What an FMIDB opened after the stack was made needs: its options but its name and clock. */
export type FmidbOpenOptions = Omit<FmidbCoreOptions, 'nowMs' | 'selfId'>;

/** What the driver must do, in order: send bytes (the driver seals them on a real network), hand events up. */
export type StackOutput =
  | { readonly type: 'datagram'; readonly to: string; readonly bytes: Uint8Array }
  | { readonly type: 'frame'; readonly to: string; readonly bytes: Uint8Array }
  | { readonly type: 'event'; readonly event: StackEvent };

export interface NodeStackOptions {
  /** This node's address ("ip:port"): its name for membership, the FMIDB and jobs. */
  readonly address: string;
  readonly nowMs: number;
  readonly membership: Omit<MembershipCoreOptions, 'nowMs'>;
  /** The FMIDB from the start; absent: none until an 'open-fmidb' command (its envelopes are dropped until then). */
  readonly fmidb?: FmidbOpenOptions;
  /**
   * How the FMIDB names nodes: by address (the simulator), or by the sender id of
   * their envelopes (the agent, whose records and snapshots are keyed by node id).
   */
  readonly fmidbNames?: 'address' | 'sender-id';
  /**
   * Whether the stack runs job coordination from the start (default true). False: none
   * until an 'open-jobs' command (the agent's worker opens it when the main thread asks);
   * until then the channel's envelopes are dropped as unknown and no job core is ticked.
   */
  readonly jobs?: boolean;
  /**
   * How job coordination names nodes: by address (the simulator), or by the sender id of
   * their envelopes (the agent, whose job ids and process records name node ids). Job
   * messages to a node named by id go to the address membership holds for it.
   */
  readonly jobsNames?: 'address' | 'sender-id';
  readonly coordinator?: JobsOpenOptions['coordinator'];
  readonly runner?: JobsOpenOptions['runner'];
  /**
   * The node id a peer's envelopes must carry as their sender. By default the id its
   * address hashes to (nodeIdOf), as the simulator names nodes; an agent passes the
   * membership table's lookup.
   */
  readonly senderIdOf?: (address: string) => string;
  /**
   * 'membership': a peer's sender id is the id membership holds for its address (the
   * agent, whose node ids come from its keys, not from its address); senderIdOf is then
   * not used. Default 'address': senderIdOf.
   */
  readonly senderIds?: 'address' | 'membership';
  readonly outputsMax?: number;
  /**
   * The copy of a member's address text to keep (its live set, the FMIDB's peers, the
   * jobs' members). The simulator passes one farm-wide table, so that its thousands of
   * stacks share one copy of each text instead of each holding its own: at 10,000
   * nodes, 10^8 strings. Default: the text as given (the agent's one stack).
   */
  readonly internText?: (text: string) => string;
}

export interface NodeStackCounters {
  /** Envelopes whose sender id is not the id of the address they came from (forged or misrouted). */
  forgedDropped: number;
  /** Envelopes from a node the farm revoked. */
  revokedDropped: number;
  /** Envelopes of a channel this stack does not run, or in a mode the channel does not take. */
  unknownChannelDropped: number;
  malformedDropped: number;
  /** FMIDB messages for a node id no member of the table has (named by sender id): no route. */
  noRouteDropped: number;
  /** Job messages sent as stream frames because they do not fit a datagram (a start with a big command). */
  jobFramesSent: number;
  /** Job messages too large even for a frame (kJobMessageStreamBytesMax), dropped: the core resends nothing it cannot send. */
  jobTooLargeDropped: number;
  /** Starts that came while this stack runs no job coordination (the agent's jobs component never started): refused at once. */
  jobStartsUnopened: number;
}

const kFmidbChannel = channelByName('fmidb').id;
const kFmidbModes: readonly DeliveryMode[] = channelByName('fmidb').modes;
const kNothing: readonly never[] = [];
const kJobsChannel = channelByName('jobs-coordination').id;
const kJobsModes: readonly DeliveryMode[] = channelByName('jobs-coordination').modes;
const kNoJobsHere = 'GALAXY_JOBS_UNAVAILABLE: job coordination does not run on this node (its jobs component never started)';

/**
 * One node's protocols composed as one sans-I/O core (contract.ts): membership, the
 * messenger's pure part (envelopes and the channel table), the FMIDB replica, and job
 * coordination (coordinator and runner). The same stack runs in the simulator
 * (src/sim/simulated-stack-farm.ts) and is what a driver runs on real sockets.
 *
 * Routing: bytes that are an envelope go by channel to the FMIDB or the jobs cores,
 * after checking that the envelope's sender is the node the bytes came from (on a real
 * network the seal authenticates the farm, this check binds the node; a frame on an
 * inbound TCP connection, which names no node, is taken from the member its envelope
 * names); the rest is membership's wire format. Wiring inside the stack, not in the driver: membership
 * events set the FMIDB's peers (joins and returns) and departures (dead, left), and
 * the coordinator's live set, whose departures lose a node's processes. Messages a
 * node's coordinator sends to itself go straight to its runner, never to the network.
 */
export class NodeStack implements SansIoCore<StackInput, StackOutput> {
  readonly address: string;
  readonly membership: MembershipCore;
  readonly counters: NodeStackCounters = { forgedDropped: 0, revokedDropped: 0, unknownChannelDropped: 0, malformedDropped: 0, noRouteDropped: 0, jobFramesSent: 0, jobTooLargeDropped: 0, jobStartsUnopened: 0 };
  /** Revoked sender ids, oldest first, at most kRevokedIdsMax (as the messenger's directory). */
  private readonly revoked = new Set<string>();
  private fmidbCore: FmidbCore | null = null;
  /** Job coordination (coordinator and runner), once made or opened. */
  private jobs: NodeJobs | null;
  /** Where the jobs' outputs go: events to the batch, messages in envelopes (sendJob). */
  private readonly jobsSink: NodeJobsSink = { event: (event) => this.out.push({ type: 'event', event }), send: (to, message) => this.sendJob(to, message) };
  private readonly byId: boolean;
  private readonly jobsById: boolean;
  private clockMs: number;
  private readonly selfSenderId: string;
  private readonly senderIdOf: (address: string) => string;
  private readonly out: OutputQueue<StackOutput>;
  /** Members held alive or suspect, by address (self included). */
  private readonly live = new Set<string>();
  private liveChanged = false;
  /** Departed members by FMIDB name, until the next pump (bounded by the table's rows). */
  private readonly departures: string[] = [];
  /** Sender id -> address of every member in the table (the engine's bound: membersMax). */
  private readonly addressBySender = new Map<string, string>();
  /** Node id by address, from membership (senderIds: 'membership'; bounded by the table like addressBySender). */
  private readonly idByAddress: Map<string, string> | null = null;

  private readonly makeCoordinator: ((options: JobCoordinatorCoreOptions) => JobCoordinatorCore) | undefined;
  private readonly internText: (text: string) => string;

  constructor(options: NodeStackOptions, makeCoordinator?: (options: JobCoordinatorCoreOptions) => JobCoordinatorCore) {
    this.address = options.address;
    this.makeCoordinator = makeCoordinator;
    this.internText = options.internText ?? sameText;
    if (options.senderIds === 'membership') {
      const selfId = formatNodeId(options.membership.id);
      this.idByAddress = new Map();
      const ids = this.idByAddress;
      this.senderIdOf = (address) => (address === options.address ? selfId : (ids.get(address) ?? ''));
    } else this.senderIdOf = options.senderIdOf ?? ((address) => formatNodeId(nodeIdOf(address)));
    this.selfSenderId = this.senderIdOf(options.address);
    this.out = new OutputQueue(options.outputsMax ?? 262_144);
    this.byId = options.fmidbNames === 'sender-id';
    this.jobsById = options.jobsNames === 'sender-id';
    this.clockMs = options.nowMs;
    this.membership = new MembershipCore({ ...options.membership, nowMs: options.nowMs });
    if (options.fmidb !== undefined) this.fmidbCore = new FmidbCore({ ...options.fmidb, selfId: this.fmidbName(options.address), nowMs: options.nowMs });
    this.jobs = null;
    if (options.jobs !== false) this.makeJobCores(options);
    this.live.add(options.address);
  }

  /** The FMIDB core; throws when the stack has none open (see hasFmidb). */
  get fmidb(): FmidbCore {
    if (this.fmidbCore === null) throw new Error('NodeStack: no FMIDB is open on this stack');
    return this.fmidbCore;
  }

  get hasFmidb(): boolean {
    return this.fmidbCore !== null;
  }

  /** The job coordinator; throws when none is open (made with jobs: false, no open-jobs since; see hasJobs). */
  get coordinator(): JobCoordinatorCore {
    if (this.jobs === null) throw new Error('NodeStack: this stack runs no job coordination (jobs: false, not opened)');
    return this.jobs.coordinator;
  }

  /** The job runner; throws when none is open (see hasJobs). */
  get runner(): JobRunnerCore {
    if (this.jobs === null) throw new Error('NodeStack: this stack runs no job coordination (jobs: false, not opened)');
    return this.jobs.runner;
  }

  /** Whether job coordination runs (made with jobs, or opened since). */
  get hasJobs(): boolean {
    return this.jobs !== null;
  }

  step(input: StackInput): void {
    switch (input.type) {
      case 'datagram':
      case 'frame':
        this.receive(input.from, input.bytes, input.type === 'frame');
        break;
      case 'unreachable':
        this.membership.step({ type: 'unreachable', to: input.to });
        break;
      case 'stream-failed':
        // FMIDB repairs a lost frame by its next round; only membership acts on it.
        this.membership.step({ type: 'stream-failed', to: input.to });
        break;
      case 'command':
        this.command(input.command);
        break;
    }
    this.pump();
  }

  /**
   * A batch of datagrams arrived together (one recvmmsg): the membership engine reads
   * the clock once for all of them (MembershipEngine.batchArrived). Their
   * receiveInBatch calls follow.
   */
  batchArrived(): void {
    this.membership.engine.batchArrived();
  }

  /**
   * step({ type: 'datagram', from, bytes }) for one datagram of the batch announced by
   * batchArrived(), without an input object: the agent's receive path (NodeDriver over
   * the native transport) allocates nothing per datagram. A membership datagram that
   * changes nothing pumps nothing; an envelope takes step()'s path.
   */
  receiveInBatch(from: string, bytes: Uint8Array): void {
    if (isEnvelope(bytes)) {
      this.receive(from, bytes, false);
      this.pump();
      return;
    }
    this.membership.receiveInBatch(from, bytes);
    if (this.membership.ready().length > 0) this.pump();
  }

  tick(nowMs: number): void {
    if (nowMs > this.clockMs) this.clockMs = nowMs;
    this.membership.tick(nowMs);
    this.pump();
    this.fmidbCore?.tick(nowMs);
    this.jobs?.tick(nowMs);
    this.pump();
  }

  ready(): readonly StackOutput[] {
    return this.out.ready();
  }

  advance(): void {
    this.out.advance();
  }

  /** Members this node holds alive or suspect (self included). */
  liveMembers(): ReadonlySet<string> {
    return this.live;
  }

  private command(c: StackCommand): void {
    switch (c.type) {
      case 'start':
        this.membership.step({ type: 'start' });
        this.adoptTableMembers();
        break;
      case 'leave':
        this.membership.step({ type: 'leave' });
        break;
      case 'lag':
        this.membership.step({ type: 'lag', lagMs: c.lagMs });
        break;
      case 'write':
        this.fmidb.step({ type: 'write', writes: c.writes });
        break;
      case 'open-fmidb':
        this.openFmidb(c.fmidb, c.snapshot);
        break;
      case 'open-jobs':
        this.openJobs(c.jobs);
        break;
      case 'depart':
        for (const id of c.ids) this.fmidb.step({ type: 'departed', id });
        break;
      case 'revoke':
        if (this.revoked.has(c.senderId)) break;
        if (this.revoked.size >= kRevokedIdsMax) this.revoked.delete(this.revoked.values().next().value!);
        this.revoked.add(c.senderId);
        break;
      case 'meta':
        this.membership.step({ type: 'meta', meta: c.meta });
        break;
      case 'broadcast':
        this.membership.step({ type: 'broadcast', payload: c.payload });
        break;
      case 'join':
        this.membership.step({ type: 'join', seeds: c.seeds });
        break;
      case 'create-job':
      case 'add-job':
      case 'stop-job':
      case 'signal-job':
      case 'launched':
      case 'launch-failed':
      case 'exited':
      case 'host-restarted':
        this.openedJobs().command(c);
        break;
    }
  }

  private receive(from: string, bytes: Uint8Array, stream: boolean): void {
    if (!isEnvelope(bytes)) {
      this.membership.step(stream ? { type: 'frame', from, bytes } : { type: 'datagram', from, bytes });
      return;
    }
    let envelope;
    try {
      envelope = decodeEnvelope(bytes);
    } catch {
      this.counters.malformedDropped++;
      return;
    }
    // The mode it names must be the one it travelled by, and one its channel carries
    // (channel-table.ts), as the messenger's own rule has it (node/messenger/messenger.ts).
    if (envelope.mode !== (stream ? 'stream' : 'datagram') || !(envelope.channelId === kFmidbChannel ? kFmidbModes : envelope.channelId === kJobsChannel ? kJobsModes : kNothing).includes(envelope.mode)) {
      this.counters.unknownChannelDropped++;
      return;
    }
    // A frame on an inbound connection comes from a name the driver gave the connection
    // (the TCP transport's "tcp#n"), not a node address: its sender is then the member
    // its envelope names. A datagram's sender must be the node it came from.
    if (this.revoked.size > 0 && this.revoked.has(envelope.sender)) {
      this.counters.revokedDropped++;
      return;
    }
    let peer: string | undefined = from;
    if (envelope.sender !== this.senderIdOf(from)) {
      peer = stream && !this.live.has(from) ? this.addressBySender.get(envelope.sender) : undefined;
      if (peer === undefined) {
        this.counters.forgedDropped++;
        return;
      }
    }
    if (envelope.channelId === kFmidbChannel && this.fmidbCore !== null) {
      this.fmidbCore.step({ type: 'message', from: this.byId ? envelope.sender : peer, bytes: envelope.payload, stream });
    } else if (envelope.channelId === kJobsChannel && this.jobs !== null) {
      // A start too big for a datagram comes as a frame (sendJob): only frames may carry more.
      const message = envelope.mode === 'stream' || envelope.payload.length <= kJobMessageBytesMax ? decodeJobMessage(envelope.payload, kJobMessageStreamBytesMax) : null;
      if (message === null) this.counters.malformedDropped++;
      else this.toJobs(this.jobsById ? envelope.sender : peer, message);
    } else if (envelope.channelId === kJobsChannel) {
      // No job coordination here (the agent opens it when its jobs component starts, and a
      // node may run without one): a start is refused at once, so its coordinator fails
      // the process now instead of after its start attempts run out. Anything else is dropped.
      const message = envelope.mode === 'stream' || envelope.payload.length <= kJobMessageBytesMax ? decodeJobMessage(envelope.payload, kJobMessageStreamBytesMax) : null;
      if (message?.t !== 'start') {
        this.counters.unknownChannelDropped++;
        return;
      }
      this.counters.jobStartsUnopened++;
      this.sendJob(this.jobsById ? envelope.sender : peer, { t: 'start-failed', jobId: message.jobId, index: message.index, reason: kNoJobsHere });
    } else {
      this.counters.unknownChannelDropped++;
    }
  }

  /** Coordinator-bound messages go to the coordinator, the rest to the runner. */
  private toJobs(from: string, message: JobMessage): void {
    this.openedJobs().receive(from, message);
  }

  /** Whether the job cores have anything to do on a tick (false while none is open). */
  get jobsBusy(): boolean {
    return this.jobs !== null && this.jobs.busy;
  }

  /** The job cores' counters (a copy), or null while this stack runs no job coordination. */
  jobsCounters(): NodeJobsCounters | null {
    if (this.jobs === null) return null;
    return { coordinator: { ...this.jobs.coordinator.counters }, runner: { ...this.jobs.runner.counters } };
  }

  private openedJobs(): NodeJobs {
    if (this.jobs === null) throw new Error('NodeStack: this stack runs no job coordination (jobs: false, not opened)');
    return this.jobs;
  }

  /**
   * Drains every core into the stack's batch until all are quiet: a core's output may
   * be another core's input (membership events, jobs messages to self), and those are
   * fed at once, in the order they came out.
   */
  private pump(): void {
    for (let rounds = 0; ; rounds++) {
      if (rounds > 64) throw new Error('NodeStack.pump: the cores keep feeding each other (a wiring loop)');
      let moved = false;
      const m = this.membership.ready();
      if (m.length > 0) {
        moved = true;
        for (const o of m) {
          if (o.type === 'event') {
            this.noteMember(o.event);
            this.out.push({ type: 'event', event: { layer: 'membership', event: o.event } });
          } else if (o.type === 'user') {
            // The messenger's broadcast channels (farm control, components) live above the stack.
            this.out.push({ type: 'event', event: { layer: 'user', payload: o.payload } });
          } else this.out.push(o);
        }
        this.membership.advance();
      }
      if (this.liveChanged) {
        moved = true;
        this.liveChanged = false;
        const departures = this.departures.splice(0);
        if (this.fmidbCore !== null) {
          for (const name of departures) if (name !== '') this.fmidbCore.step({ type: 'departed', id: name });
          const alive: string[] = [];
          for (const address of this.live) {
            const name = this.fmidbName(address);
            if (name !== '') alive.push(name);
          }
          // Frozen, so that the replica keeps this array instead of copying it (peersChanged).
          this.fmidbCore.step({ type: 'peers', alive: Object.freeze(alive) });
        }
        // NodeJobs keeps a copy of the set it is given.
        this.jobs?.members(this.jobsById ? this.jobsLive() : this.live);
      }
      const f = this.fmidbCore?.ready() ?? kNothing;
      if (f.length > 0) {
        moved = true;
        for (const o of f) {
          if (o.type === 'change') this.out.push({ type: 'event', event: { layer: 'fmidb', change: o.change } });
          else this.sendFmidb(o.to, o.bytes, o.stream);
        }
        this.fmidbCore!.advance();
      }
      if (this.jobs !== null && this.jobs.drainOnce(this.jobsSink)) moved = true;
      if (!moved) return;
    }
  }

  /** An FMIDB message to a node by its FMIDB name, in an envelope of the fmidb channel. */
  private sendFmidb(to: string, payload: Uint8Array, stream: boolean): void {
    const address = this.byId ? this.addressBySender.get(to) : to;
    if (address === undefined) {
      this.counters.noRouteDropped++;
      return;
    }
    const bytes = encodeEnvelope(stream ? 'stream' : 'datagram', kFmidbChannel, this.selfSenderId, payload);
    this.out.push(stream ? { type: 'frame', to: address, bytes } : { type: 'datagram', to: address, bytes });
  }

  /** A node's name in the FMIDB: its address, or its sender id when the stack names FMIDB nodes by id. */
  private fmidbName(address: string): string {
    return this.byId ? (address === this.address ? this.selfSenderId : this.senderIdOf(address)) : address;
  }

  private openFmidb(options: FmidbOpenOptions, snapshot: readonly SnapshotOrigin[]): void {
    if (this.fmidbCore !== null) throw new Error('NodeStack: the FMIDB is open already');
    const core = new FmidbCore({ ...options, selfId: this.fmidbName(this.address), nowMs: this.clockMs });
    const refused: { origin: string; reason: string }[] = [];
    let origins = 0;
    let entries = 0;
    for (const origin of snapshot) {
      try {
        core.replica.prepopulate(origin.origin, origin.version, origin.entries);
      } catch (error) {
        refused.push({ origin: origin.origin, reason: (error as Error).message });
        continue;
      }
      origins++;
      entries += origin.entries.length;
    }
    this.fmidbCore = core;
    this.out.push({ type: 'event', event: { layer: 'fmidb-opened', origins, entries, refused } });
    // The members known so far are its peers at once; departures before it opened are not its news.
    this.liveChanged = true;
  }

  private makeJobCores(options: JobsOpenOptions): void {
    this.jobs = new NodeJobs(this.jobsById ? this.selfSenderId : this.address, options, this.clockMs, this.makeCoordinator);
  }

  private openJobs(options: JobsOpenOptions): void {
    if (this.jobs !== null) throw new Error('NodeStack: job coordination is open already');
    this.makeJobCores(options);
    // The members known so far are its live set at once, as for an FMIDB opened late.
    this.liveChanged = true;
  }

  /** The live members by sender id, as job coordination names them when jobsNames is 'sender-id'. */
  private jobsLive(): Set<string> {
    const live = new Set<string>();
    for (const address of this.live) {
      const id = address === this.address ? this.selfSenderId : this.senderIdOf(address);
      if (id !== '') live.add(id);
    }
    return live;
  }

  /**
   * A job message to a node (by its job name), in an envelope of the jobs channel: a
   * datagram when it fits one, else a stream frame (a start carries the whole command,
   * the agent's process spec with its script: up to kJobMessageStreamBytesMax).
   */
  private sendJob(to: string, message: JobMessage): void {
    const self = this.jobsById ? this.selfSenderId : this.address;
    if (to === self) {
      this.toJobs(to, message);
      return;
    }
    const address = this.jobsById ? this.addressBySender.get(to) : to;
    if (address === undefined) {
      this.counters.noRouteDropped++;
      return;
    }
    let payload: Uint8Array;
    try {
      payload = encodeJobMessage(message, kJobMessageStreamBytesMax);
    } catch {
      this.counters.jobTooLargeDropped++;
      return;
    }
    if (payload.length <= kJobMessageBytesMax) {
      this.out.push({ type: 'datagram', to: address, bytes: encodeEnvelope('datagram', kJobsChannel, this.selfSenderId, payload) });
      return;
    }
    this.counters.jobFramesSent++;
    this.out.push({ type: 'frame', to: address, bytes: encodeEnvelope('stream', kJobsChannel, this.selfSenderId, payload) });
  }

  /**
   * Takes the members a table already held at start (a farm started in its steady
   * state, a worker restarted over a live table) as live: the engine raises no join for
   * them, yet the FMIDB and the coordinator must know them.
   */
  private adoptTableMembers(): void {
    const engine = this.membership.engine;
    const table = engine.table;
    for (let row = 0; row < table.rowCount; row++) {
      const status = table.status[row];
      if (row === engine.selfRow || (status !== F.kStatusAlive && status !== F.kStatusSuspect)) continue;
      const address = this.internText(engine.addressOf(row));
      this.idByAddress?.set(address, formatNodeId({ high: table.idHigh[row]!, low: table.idLow[row]! }));
      this.live.add(address);
      this.addressBySender.set(this.senderIdOf(address), address);
      this.liveChanged = true;
    }
  }

  private noteMember(event: MembershipEvent): void {
    const address = this.internText(event.address);
    if (address === this.address) return;
    if (event.type !== 'reap' && this.idByAddress !== null) {
      // A member that moved leaves its old address behind: forget it, so the map stays within the table's rows.
      const previous = this.addressBySender.get(event.id);
      if (previous !== undefined && previous !== address) this.idByAddress.delete(previous);
      this.idByAddress.set(address, event.id);
    }
    if (event.type === 'reap') this.addressBySender.delete(this.senderIdOf(address));
    else this.addressBySender.set(this.senderIdOf(address), address);
    if (event.type === 'reap') this.idByAddress?.delete(address);
    switch (event.type) {
      case 'join':
      case 'alive':
      case 'update':
      case 'suspect':
        if (!this.live.has(address)) {
          this.live.add(address);
          this.liveChanged = true;
        }
        return;
      case 'dead':
      case 'leave':
        if (this.live.delete(address)) {
          // Named now: a reap in the same batch forgets the member's id.
          this.departures.push(this.fmidbName(address));
          this.liveChanged = true;
        }
        return;
      case 'reap':
        return;
    }
  }
}

function sameText(text: string): string {
  return text;
}
