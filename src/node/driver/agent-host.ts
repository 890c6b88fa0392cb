import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { randomInt } from 'node:crypto';
import type { MembershipEvent } from '../../core/membership/membership-event.js';
import { createRuntime } from '../../core/kernels/create-runtime.js';
import { wasmModule } from '../../core/platform/wasm-module.js';
import * as L from '../../core/table/layout.js';
import { MembershipTable } from '../../core/table/membership-table.js';
import { packageRoot } from '../../core/platform/package-root.js';
import * as F from '../../core/wire/format.js';
import { formatNodeId, formatWireAddress } from '../../core/wire/message.js';
import { decodeMeta, encodeMeta } from './agent-meta.js';
import { agentSettings, validateJoin, type AgentOptions, type AgentSettings } from './agent-options.js';
import type { AgentStats, AgentWorkerData, AgentWorkerReport, AgentWorkerRequest, AppMessage, FmidbReadout, JobsCommand, JobsStackEvent } from './agent-worker-protocol.js';
import type { FmidbOptions } from '../../core/fmidb/config.js';
import type { FmidbWrite } from '../../core/fmidb/entry.js';
import { FmidbError, type FmidbErrorCode } from '../../core/fmidb/fmidb-error.js';
import type { JobsOpenOptions, SnapshotOrigin } from '../../core/stack/node-stack.js';
import { DomainError, type FailureKind } from '../../core/util/domain-error.js';
import type { FmidbLink, FmidbUpdate } from './fmidb-link.js';
import type { JobsLink } from './jobs-link.js';
import { hopTrace } from '../util/hop-trace.js';

/** A member as the main thread reads it from the shared table. */
export interface AgentMember {
  /** 16 hex digits. */
  readonly id: string;
  readonly address: string;
  readonly status: 'alive' | 'suspect' | 'dead' | 'left';
  readonly incarnation: number;
  /** Whether this row is the local node. */
  readonly self: boolean;
}

interface AgentHostEvents {
  /** One membership change, in the order the engine saw them. */
  event: [MembershipEvent];
  /** The worker crashed (an engine or transport bug): the agent no longer runs. */
  error: [Error];
  /** The worker exited without stop() being called. */
  exit: [number];
  /** Farm-wide user broadcasts received, each once. */
  user: [Uint8Array];
  /** Messenger envelopes from other nodes (not yet parsed), one batch per worker tick. */
  app: [readonly AppMessage[]];
  /** An admission datagram (admission-wire.ts) from `from`, not yet parsed. */
  admission: [string, Uint8Array];
  /** The worker's FMIDB replica: its changes (one batch per worker tick), or that it opened. */
  fmidb: [FmidbUpdate];
  /** Job coordination's events in the worker's stack, one batch per worker tick. */
  jobs: [readonly JobsStackEvent[]];
}

/** FMIDB writes and reads waiting for the worker's answer at most; more are refused at once. */
const kFmidbRequestsPendingMax = 4096;
/** Job commands waiting for the worker's answer at most; more are refused at once. */
const kJobsRequestsPendingMax = 4096;

const kStatusNames: Readonly<Record<number, AgentMember['status']>> = { [F.kStatusAlive]: 'alive', [F.kStatusSuspect]: 'suspect', [F.kStatusDead]: 'dead', [F.kStatusLeft]: 'left' };

/**
 * Reads retried when the worker changed the table during a read (the generation moved);
 * the last read is returned even if it moved again, since a busier table never settles.
 */
const kConsistentReadAttemptsMax = 3;

/**
 * The start data of one node's worker (NodeDriver): its settings, the shared memory with
 * the table already in it, and its random seed. Everything the runtime has left becomes
 * the worker's region (its engine scratch), so the two threads' bump allocators never
 * hand out the same bytes: allocate anything of the caller's own before this. Gossip is
 * on unless the node is secure and holds no key yet (it waits for admission).
 * AgentHost.start, the driver tests and bench:path's agent rows all build it here.
 */
export function agentWorkerData(settings: AgentSettings, runtime: ReturnType<typeof createRuntime>, table: MembershipTable, randomSeed: number, gossip = !settings.secure || settings.keys.length > 0): AgentWorkerData {
  const regionStart = runtime.allocate(runtime.bytesFree, 1);
  return {
    memory: runtime.memory,
    module: runtime.kernels.backend === 'wasm' ? wasmModule() : null,
    tableBase: table.base,
    regionStart,
    config: settings.config,
    bind: settings.bind,
    seeds: settings.join,
    id: settings.id,
    incarnation: settings.incarnation,
    meta: settings.meta,
    randomSeed,
    tickIntervalMs: settings.tickIntervalMs,
    datagram: settings.datagram,
    stream: settings.stream,
    transport: settings.transport,
    keys: settings.keys,
    secure: settings.secure,
    gossip,
    networks: settings.networks,
  };
}

/**
 * One farm member, hosted: the engine runs in a worker thread that owns its sockets
 * (workers/agent-worker.ts); this thread gets membership events (one message per tick
 * at most) and reads the membership table in shared memory without copying it.
 */
/**
 * The worker's young generation, MiB (issue 14: an agent's RSS). V8 sizes it as two
 * semi-spaces and a new large-object space of one semi-space each, so 3 MiB holds V8's
 * initial 1 MiB semi-spaces: left to Node's default (48 MiB here) the worker's new space
 * started at 2 MiB semi-spaces and stayed resident for the agent's life. The worker's
 * steady state allocates almost nothing per datagram (README "Receive path"); what it
 * keeps (tables, FMIDB) lives in the shared memory and the old generation.
 */
const kWorkerYoungGenerationMb = 3;

export class AgentHost extends EventEmitter<AgentHostEvents> implements FmidbLink, JobsLink {
  readonly settings: AgentSettings;
  private readonly worker: Worker;
  private readonly table: MembershipTable;
  private readonly pendingStats = new Map<number, { resolve: (stats: AgentStats) => void; reject: (error: Error) => void }>();
  private readonly pendingWrites = new Map<number, { resolve: (stamp: number) => void; reject: (error: Error) => void }>();
  private readonly pendingReads = new Map<number, { resolve: (readout: FmidbReadout) => void; reject: (error: Error) => void }>();
  private readonly pendingJobs = new Map<number, { resolve: () => void; reject: (error: Error) => void }>();
  private ready: ReadyReport | null = null;
  private readonly tags = new Map<string, Record<string, string>>();
  private readyWaiter: { resolve: () => void; reject: (error: Error) => void } | null = null;
  private nextRequestId = 1;
  private exited = false;
  private stopping: Promise<void> | null = null;

  // Listeners are attached at once, before the worker can report anything, so no event
  // posted right after 'ready' can slip past.
  private constructor(settings: AgentSettings, worker: Worker, table: MembershipTable) {
    super();
    this.settings = settings;
    this.worker = worker;
    this.table = table;
    worker.on('message', (report: AgentWorkerReport) => this.handle(report));
    worker.on('error', (error) => {
      this.settlePending(error);
      if (this.readyWaiter !== null) this.readyWaiter.reject(error);
      else if (this.listenerCount('error') > 0) this.emit('error', error);
    });
    worker.on('exit', (code) => {
      this.exited = true;
      const error = new Error(`agent worker exited with code ${code}${this.ready === null ? ' before it was ready' : ''}`);
      this.settlePending(error);
      if (this.readyWaiter !== null) this.readyWaiter.reject(error);
      else if (this.stopping === null) this.emit('exit', code);
    });
  }

  /** Validates the options, starts the worker, binds the sockets and joins; resolves once bound. */
  static async start(options: AgentOptions = {}): Promise<AgentHost> {
    const settings = agentSettings(options);
    const runtime = createRuntime({ memoryBytes: settings.memoryBytes, backend: settings.backend });
    const table = MembershipTable.create(runtime, settings.config.membersMax);
    const data = agentWorkerData(settings, runtime, table, randomInt(0, 2 ** 32));
    const worker = new Worker(agentWorkerEntry(), { workerData: data, resourceLimits: { maxYoungGenerationSizeMb: kWorkerYoungGenerationMb } });
    const host = new AgentHost(settings, worker, table);
    await host.waitUntilReady(settings.startTimeoutMs);
    return host;
  }

  /** The bound address, canonical; the port the OS chose when bound to port 0. */
  get address(): string {
    return this.ready!.address;
  }

  /** Replaces the farm keyring (primary first); a node waiting for admission starts gossiping. */
  setKeys(keys: readonly string[]): void {
    this.post({ type: 'keys', keys: [...keys] });
  }

  /** Stops taking part in the farm (revoked): nothing more is sent or handed to the engine. */
  suspend(): void {
    this.post({ type: 'suspend' });
  }

  /** Broadcasts a payload to every member (sealed, epidemic, at most userPayloadBytesMax bytes). */
  broadcast(payload: Uint8Array): void {
    if (payload.length > this.settings.config.userPayloadBytesMax) throw new RangeError(`broadcast of ${payload.length} bytes exceeds userPayloadBytesMax ${this.settings.config.userPayloadBytesMax}`);
    this.post({ type: 'broadcast', payload });
  }

  /** Sends messenger envelopes by address, sealed like all farm traffic, in one batch (Messenger does this). */
  sendApp(messages: readonly AppMessage[]): void {
    if (hopTrace !== null) for (const m of messages) hopTrace.scan('main.post', m.bytes);
    if (messages.length > 0 && !this.exited) this.post({ type: 'app-send', messages });
  }

  /** Sends an admission datagram unsealed. */
  sendAdmission(to: string, bytes: Uint8Array): void {
    this.post({ type: 'admission-send', to, bytes });
  }

  /**
   * Hands the node a changed seed list (the whole set, canonical "ip:port" addresses, at
   * most 1024, checked as options.join is): a node with no live member left joins through
   * it at once, a connected one lets its reconnect timer re-contact the seeds it does not
   * hold alive.
   */
  join(seeds: readonly string[]): void {
    const checked = validateJoin(seeds);
    if (!this.exited) this.post({ type: 'join', seeds: [...checked] });
  }

  /** Changes this node's announced tags (bounded by metaBytesMax). */
  setMeta(tags: Readonly<Record<string, string>>): void {
    this.post({ type: 'meta', meta: encodeMeta(tags, this.settings.config.metaBytesMax) });
    this.tags.set(this.id, { ...tags });
  }

  /** The tags a member announced, as last seen in a membership event (the local node's from its settings). */
  tagsOf(id: string): Readonly<Record<string, string>> {
    return this.tags.get(id) ?? {};
  }

  /** The node id, 16 hex digits. */
  get id(): string {
    return this.ready!.id;
  }

  /** The incarnation this life started with. */
  get incarnation(): number {
    return this.ready!.incarnation;
  }

  /** Which datagram transport the worker runs ('native' or 'dgram'), and why. */
  get transport(): { kind: string; reason: string } {
    return { kind: this.ready!.transport, reason: this.ready!.transportReason };
  }

  /** Which kernels the worker runs, and why. */
  get backend(): string {
    return this.ready!.backend;
  }

  /** Every member in the table (the dead and left until reaped), read in place from shared memory. */
  members(): AgentMember[] {
    let members: AgentMember[] = [];
    for (let attempt = 0; attempt < kConsistentReadAttemptsMax; attempt++) {
      const generation = this.table.generation;
      members = this.readMembers();
      if (this.table.generation === generation) break;
    }
    return members;
  }

  /** The farm revoked a node: the worker's stack takes nothing more it sends. */
  revokeSender(id: string): void {
    if (!this.exited) this.post({ type: 'revoke', id });
  }

  // ---- the FMIDB replica in the worker's stack (FmidbLink) ---------------------------

  openFmidb(options: FmidbOptions, snapshot: readonly SnapshotOrigin[]): void {
    this.post({ type: 'fmidb-open', options, randomSeed: randomInt(0, 2 ** 32), snapshot });
  }

  writeFmidb(writes: readonly FmidbWrite[]): Promise<number> {
    if (this.exited || this.stopping !== null) return Promise.reject(new FmidbError('FMIDB_NOT_OPEN', 'the agent is stopped'));
    if (this.pendingWrites.size >= kFmidbRequestsPendingMax) return Promise.reject(new FmidbError('FMIDB_BUSY', `${kFmidbRequestsPendingMax} FMIDB writes are waiting for the worker already`));
    const requestId = this.nextRequestId++;
    return new Promise((resolve, reject) => {
      this.pendingWrites.set(requestId, { resolve, reject });
      this.post({ type: 'fmidb-write', requestId, writes });
    });
  }

  departFmidb(ids: readonly string[]): void {
    if (ids.length > 0 && !this.exited) this.post({ type: 'fmidb-depart', ids: [...ids] });
  }

  readFmidb(exportOrigins: boolean): Promise<FmidbReadout> {
    if (this.exited || this.stopping !== null) return Promise.reject(new Error('agent is stopped'));
    if (this.pendingReads.size >= kFmidbRequestsPendingMax) return Promise.reject(new Error(`${kFmidbRequestsPendingMax} FMIDB reads are waiting for the worker already`));
    const requestId = this.nextRequestId++;
    return new Promise((resolve, reject) => {
      this.pendingReads.set(requestId, { resolve, reject });
      this.post({ type: 'fmidb-read', requestId, exportOrigins });
    });
  }

  onFmidb(listener: (update: FmidbUpdate) => void): () => void {
    this.on('fmidb', listener);
    return () => this.off('fmidb', listener);
  }

  // ---- job coordination in the worker's stack (JobsLink) -----------------------------

  openJobs(options: JobsOpenOptions): void {
    if (!this.exited) this.post({ type: 'jobs-open', options });
  }

  commandJobs(command: JobsCommand): Promise<void> {
    if (this.exited || this.stopping !== null) return Promise.reject(new DomainError('unavailable', 'GALAXY_JOBS_NOT_OPEN', 'the agent is stopped'));
    if (this.pendingJobs.size >= kJobsRequestsPendingMax) return Promise.reject(new DomainError('unavailable', 'GALAXY_JOBS_BUSY', `${kJobsRequestsPendingMax} job commands are waiting for the worker already`));
    const requestId = this.nextRequestId++;
    return new Promise((resolve, reject) => {
      this.pendingJobs.set(requestId, { resolve, reject });
      this.post({ type: 'jobs-command', requestId, command });
    });
  }

  onJobs(listener: (events: readonly JobsStackEvent[]) => void): () => void {
    this.on('jobs', listener);
    return () => this.off('jobs', listener);
  }

  /** Counters of the engine and both transports. */
  stats(): Promise<AgentStats> {
    if (this.exited || this.stopping !== null) return Promise.reject(new Error('agent is stopped'));
    const requestId = this.nextRequestId++;
    return new Promise((resolve, reject) => {
      this.pendingStats.set(requestId, { resolve, reject });
      this.post({ type: 'stats', requestId });
    });
  }

  /**
   * Leaves gracefully: the engine announces LEAVE and gossips it for leaveFlushMs, then
   * the sockets close and the worker exits. Events up to the end are still emitted.
   */
  stop(): Promise<void> {
    this.stopping ??= this.stopWorker();
    return this.stopping;
  }

  private async waitUntilReady(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        this.readyWaiter = { resolve, reject };
        timer = setTimeout(() => reject(new Error(`agent worker not ready within ${timeoutMs} ms`)), timeoutMs);
      });
    } catch (error) {
      this.stopping = Promise.resolve();
      await this.worker.terminate();
      throw error;
    } finally {
      clearTimeout(timer);
      this.readyWaiter = null;
    }
  }

  private async stopWorker(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    this.post({ type: 'stop', flushMs: this.settings.leaveFlushMs });
    const timer = setTimeout(() => void this.worker.terminate(), this.settings.leaveFlushMs + this.settings.stopTimeoutMs);
    await exited;
    clearTimeout(timer);
  }

  private handle(report: AgentWorkerReport): void {
    switch (report.type) {
      case 'ready':
        this.ready = report;
        this.tags.set(report.id, decodeMeta(this.settings.meta));
        this.readyWaiter?.resolve();
        return;
      case 'failed':
        this.readyWaiter?.reject(new Error(report.message));
        return;
      case 'events':
        for (const event of report.events) {
          if (event.type === 'reap') this.tags.delete(event.id);
          else if (event.meta !== undefined) this.tags.set(event.id, decodeMeta(event.meta));
          this.emit('event', event);
        }
        return;
      case 'user':
        for (const payload of report.payloads) this.emit('user', payload);
        return;
      case 'admission':
        this.emit('admission', report.from, report.bytes);
        return;
      case 'app':
        if (hopTrace !== null) for (const m of report.messages) hopTrace.scan('main.app', m.bytes);
        this.emit('app', report.messages);
        return;
      case 'stats': {
        const pending = this.pendingStats.get(report.requestId);
        this.pendingStats.delete(report.requestId);
        pending?.resolve(report.stats);
        return;
      }
      case 'fmidb':
        this.emit('fmidb', { type: 'changes', changes: report.changes, counters: report.counters });
        return;
      case 'fmidb-opened':
        this.emit('fmidb', { type: 'opened', origins: report.origins, entries: report.entries, refused: report.refused });
        return;
      case 'fmidb-written': {
        const pending = this.pendingWrites.get(report.requestId);
        this.pendingWrites.delete(report.requestId);
        if (report.error === null) pending?.resolve(report.stamp);
        else pending?.reject(new FmidbError(report.error.code as FmidbErrorCode, report.error.message));
        return;
      }
      case 'fmidb-read': {
        const pending = this.pendingReads.get(report.requestId);
        this.pendingReads.delete(report.requestId);
        pending?.resolve(report.readout);
        return;
      }
      case 'jobs':
        this.emit('jobs', report.events);
        return;
      case 'jobs-done': {
        const pending = this.pendingJobs.get(report.requestId);
        this.pendingJobs.delete(report.requestId);
        if (report.error === null) pending?.resolve();
        else pending?.reject(new DomainError(report.error.kind as FailureKind, report.error.code, report.error.message));
        return;
      }
      case 'stopped':
        return;
    }
  }

  private post(request: AgentWorkerRequest): void {
    this.worker.postMessage(request);
  }

  private settlePending(error: Error): void {
    for (const pending of [...this.pendingStats.values(), ...this.pendingWrites.values(), ...this.pendingReads.values(), ...this.pendingJobs.values()]) pending.reject(error);
    this.pendingJobs.clear();
    this.pendingStats.clear();
    this.pendingWrites.clear();
    this.pendingReads.clear();
  }

  private readMembers(): AgentMember[] {
    const table = this.table;
    const out: AgentMember[] = [];
    const rows = table.rowCount;
    for (let row = 0; row < rows; row++) {
      const status = kStatusNames[table.status[row]!];
      if (status === undefined) continue;
      out.push({
        id: formatNodeId({ high: table.idHigh[row]!, low: table.idLow[row]! }),
        address: formatWireAddress({ family: table.family[row]! as 0 | 4 | 6, bytes: table.address.subarray(row * L.kAddressBytes, (row + 1) * L.kAddressBytes), port: table.port[row]! }),
        status,
        incarnation: table.incarnation[row]!,
        self: (table.flags[row]! & L.kRowFlagSelf) !== 0,
      });
    }
    return out;
  }
}

type ReadyReport = Extract<AgentWorkerReport, { type: 'ready' }>;

/**
 * The worker's entry: inside the bundled program (scripts/bundle.mjs defines
 * globalThis.galaxyBundled) the bundled worker with its code cache, else the compiled module.
 */
function agentWorkerEntry(): string {
  const bundled = (globalThis as { galaxyBundled?: boolean }).galaxyBundled === true;
  return bundled ? join(packageRoot(), 'dist', 'bundle', 'agent-worker.cjs') : join(packageRoot(), 'dist', 'workers', 'agent-worker.js');
}
