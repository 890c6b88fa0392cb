import { OutputQueue, type SansIoCore } from '../contract.js';
import type { FmidbChange, FmidbWrite } from '../fmidb/entry.js';
import { FmidbCore, type FmidbCoreOptions } from '../fmidb/fmidb-core.js';
import { JobCoordinatorCore, type JobCoordinatorCoreOptions, type JobEvent } from '../jobs/job-coordinator-core.js';
import { decodeJobMessage, encodeJobMessage, isCoordinatorBound, type JobMessage } from '../jobs/job-message.js';
import { JobRunnerCore, type JobRunnerCoreOptions } from '../jobs/job-runner-core.js';
import { MembershipCore, type MembershipCoreOptions } from '../membership/membership-core.js';
import type { MembershipEvent } from '../membership/membership-event.js';
import { channelByName } from '../messenger/channel-table.js';
import { decodeEnvelope, encodeEnvelope, isEnvelope } from '../messenger/envelope.js';
import * as F from '../wire/format.js';
import { formatNodeId } from '../wire/message.js';
import { nodeIdOf } from '../wire/node-id-of.js';

/** What the stack's operator (the driver, a test, later the API) asks of the node. */
export type StackCommand =
  | { readonly type: 'start' }
  | { readonly type: 'leave' }
  /** How late the driver's last tick came, for Lifeguard. */
  | { readonly type: 'lag'; readonly lagMs: number }
  | { readonly type: 'write'; readonly writes: readonly FmidbWrite[] }
  /** Creates a job coordinated by this node, running `command` once on each of `nodes` (addresses). */
  | { readonly type: 'create-job'; readonly jobId: string; readonly command: string; readonly nodes: readonly string[] }
  /** A process this node ran (a 'run' event) has exited. */
  | { readonly type: 'exited'; readonly jobId: string; readonly index: number; readonly exitCode: number };

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
  | { readonly layer: 'jobs'; readonly event: JobEvent }
  /** The host must run this process, then send an 'exited' command. */
  | { readonly layer: 'run'; readonly jobId: string; readonly index: number; readonly command: string };

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
  readonly fmidb: Omit<FmidbCoreOptions, 'nowMs' | 'selfId'>;
  readonly coordinator?: Omit<JobCoordinatorCoreOptions, 'nowMs' | 'selfId'>;
  readonly runner?: Omit<JobRunnerCoreOptions, 'nowMs'>;
  /**
   * The node id a peer's envelopes must carry as their sender. By default the id its
   * address hashes to (nodeIdOf), as the simulator names nodes; an agent passes the
   * membership table's lookup.
   */
  readonly senderIdOf?: (address: string) => string;
  readonly outputsMax?: number;
}

export interface NodeStackCounters {
  /** Envelopes whose sender id is not the id of the address they came from (forged or misrouted). */
  forgedDropped: number;
  /** Envelopes of a channel this stack does not run, or in a mode the channel does not take. */
  unknownChannelDropped: number;
  malformedDropped: number;
}

const kFmidbChannel = channelByName('fmidb').id;
const kJobsChannel = channelByName('jobs-coordination').id;

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
  readonly fmidb: FmidbCore;
  readonly coordinator: JobCoordinatorCore;
  readonly runner: JobRunnerCore;
  readonly counters: NodeStackCounters = { forgedDropped: 0, unknownChannelDropped: 0, malformedDropped: 0 };
  private readonly selfSenderId: string;
  private readonly senderIdOf: (address: string) => string;
  private readonly out: OutputQueue<StackOutput>;
  /** Members held alive or suspect, by address (self included). */
  private readonly live = new Set<string>();
  private liveChanged = false;
  private readonly departures: string[] = [];
  /** Sender id -> address of every member in the table (the engine's bound: membersMax). */
  private readonly addressBySender = new Map<string, string>();

  constructor(options: NodeStackOptions, makeCoordinator?: (options: JobCoordinatorCoreOptions) => JobCoordinatorCore) {
    this.address = options.address;
    this.senderIdOf = options.senderIdOf ?? ((address) => formatNodeId(nodeIdOf(address)));
    this.selfSenderId = this.senderIdOf(options.address);
    this.out = new OutputQueue(options.outputsMax ?? 262_144);
    this.membership = new MembershipCore({ ...options.membership, nowMs: options.nowMs });
    this.fmidb = new FmidbCore({ ...options.fmidb, selfId: options.address, nowMs: options.nowMs });
    const coordinatorOptions = { ...options.coordinator, selfId: options.address, nowMs: options.nowMs };
    this.coordinator = makeCoordinator?.(coordinatorOptions) ?? new JobCoordinatorCore(coordinatorOptions);
    this.runner = new JobRunnerCore({ ...options.runner, nowMs: options.nowMs });
    this.live.add(options.address);
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

  tick(nowMs: number): void {
    this.membership.tick(nowMs);
    this.pump();
    this.fmidb.tick(nowMs);
    this.coordinator.tick(nowMs);
    this.runner.tick(nowMs);
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
      case 'create-job':
        this.coordinator.step({ type: 'create', jobId: c.jobId, command: c.command, nodes: c.nodes });
        break;
      case 'exited':
        this.runner.step({ type: 'exited', jobId: c.jobId, index: c.index, exitCode: c.exitCode });
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
    // A frame on an inbound connection comes from a name the driver gave the connection
    // (the TCP transport's "tcp#n"), not a node address: its sender is then the member
    // its envelope names. A datagram's sender must be the node it came from.
    let peer: string | undefined = from;
    if (envelope.sender !== this.senderIdOf(from)) {
      peer = stream && !this.live.has(from) ? this.addressBySender.get(envelope.sender) : undefined;
      if (peer === undefined) {
        this.counters.forgedDropped++;
        return;
      }
    }
    if (envelope.channelId === kFmidbChannel && envelope.mode !== 'broadcast') {
      this.fmidb.step({ type: 'message', from: peer, bytes: envelope.payload, stream });
    } else if (envelope.channelId === kJobsChannel && envelope.mode === 'datagram') {
      const message = decodeJobMessage(envelope.payload);
      if (message === null) this.counters.malformedDropped++;
      else this.toJobs(peer, message);
    } else {
      this.counters.unknownChannelDropped++;
    }
  }

  /** Coordinator-bound messages go to the coordinator, the rest to the runner. */
  private toJobs(from: string, message: JobMessage): void {
    if (isCoordinatorBound(message)) this.coordinator.step({ type: 'message', from, message });
    else this.runner.step({ type: 'message', from, message });
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
            // User broadcasts have no consumer in the stack yet (the farm's component channel uses the messenger).
          } else this.out.push(o);
        }
        this.membership.advance();
      }
      if (this.liveChanged) {
        moved = true;
        this.liveChanged = false;
        for (const id of this.departures.splice(0)) this.fmidb.step({ type: 'departed', id });
        this.fmidb.step({ type: 'peers', alive: [...this.live] });
        this.coordinator.step({ type: 'members', live: new Set(this.live) });
      }
      const f = this.fmidb.ready();
      if (f.length > 0) {
        moved = true;
        for (const o of f) {
          if (o.type === 'change') this.out.push({ type: 'event', event: { layer: 'fmidb', change: o.change } });
          else {
            const bytes = encodeEnvelope(o.stream ? 'stream' : 'datagram', kFmidbChannel, this.selfSenderId, o.bytes);
            this.out.push(o.stream ? { type: 'frame', to: o.to, bytes } : { type: 'datagram', to: o.to, bytes });
          }
        }
        this.fmidb.advance();
      }
      // Copies of the batches: feeding a message to self may queue more outputs on the same core.
      const c = this.coordinator.ready().slice();
      this.coordinator.advance();
      const r = this.runner.ready().slice();
      this.runner.advance();
      if (c.length + r.length > 0) moved = true;
      for (const o of c) {
        if (o.type === 'event') this.out.push({ type: 'event', event: { layer: 'jobs', event: o.event } });
        else this.sendJob(o.to, o.message);
      }
      for (const o of r) {
        if (o.type === 'run') this.out.push({ type: 'event', event: { layer: 'run', jobId: o.jobId, index: o.index, command: o.command } });
        // Terminate and signal come only from an operator's stop or signal, which simulated farms do not send.
        else if (o.type === 'send') this.sendJob(o.to, o.message);
      }
      if (!moved) return;
    }
  }

  private sendJob(to: string, message: JobMessage): void {
    if (to === this.address) {
      this.toJobs(to, message);
      return;
    }
    this.out.push({ type: 'datagram', to, bytes: encodeEnvelope('datagram', kJobsChannel, this.selfSenderId, encodeJobMessage(message)) });
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
      const address = engine.addressOf(row);
      this.live.add(address);
      this.addressBySender.set(this.senderIdOf(address), address);
      this.liveChanged = true;
    }
  }

  private noteMember(event: MembershipEvent): void {
    const address = event.address;
    if (address === this.address) return;
    if (event.type === 'reap') this.addressBySender.delete(this.senderIdOf(address));
    else this.addressBySender.set(this.senderIdOf(address), address);
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
          this.departures.push(address);
          this.liveChanged = true;
        }
        return;
      case 'reap':
        return;
    }
  }
}
