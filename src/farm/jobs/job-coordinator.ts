import { JobCoordinatorCore, type JobCoordinatorCoreOptions, type JobEvent } from '../../core/jobs/job-coordinator-core.js';
import { isCoordinatorBound, type JobMessage } from '../../core/jobs/job-message.js';
import { errorCode, errorMessage, JobsError } from './jobs-error.js';
import { jobCoordinator, makeJobId } from './job-id.js';
import {
  kCoordinationMessagesInFlightMax,
  kJobsMax,
  kProbeFailuresMax,
  kProbeIntervalMs,
  kProbeTimeoutMs,
  kProcessesPerJobMax,
  kStartAttemptsMax,
  kStartConcurrencyMax,
  kStartRetryMs,
  kWaitersMax,
  kWaitTimeoutMsDefault,
  kWatchJsonCharsMax,
  kWatchChunksMax,
} from './jobs-limits.js';
import type { JobAddRequest, JobCreateRequest, JobSignal, ProcessSpec } from './job-spec.js';
import { JobTable, type JobTableOptions } from './job-table.js';
import { jobSummary, jobView, type JobSummary, type JobView, type JobWaitView, type JobWatchView } from './job-view.js';
import { kJobsServices, kKeysPerMessageMax } from './jobs-wire.js';
import type { FarmCall } from './job-worker.js';
import { resolvedNodes, resolveRequest } from './target-resolution.js';

/**
 * The coordinator side of the jobs service, as a driver of the pure JobCoordinatorCore
 * (src/core/jobs): the core decides everything about coordination — starts in waves of
 * startConcurrencyMax, resent until answered, the lost-node rule (membership departures,
 * unanswered probe rounds, processes a node no longer knows), stops, signals, refusals,
 * when a job finishes — exactly as it does in the simulated farms. This driver feeds it
 * real time (one interval timer), the membership, and the coordination messages that
 * arrive over the farm RPC (jobs.message), and acts on what it outputs: messages to
 * send (jobs.message, fire and forget: the core resends what matters) and process events,
 * which it records in the job table.
 *
 * Beside the core it keeps what the operator sees and the core need not know: the table
 * (specs, pids, states as the API shows them, captured output, the watch journal), the
 * waiters of wait and watch, and the output reports nodes send (jobs.output). A request
 * about a job coordinated elsewhere (its id names the node) is forwarded there, so every
 * operator service works from any node. Jobs live in memory: a coordinator that restarts
 * forgets them, and the nodes then terminate the processes of the forgotten jobs when
 * their next output is refused (GALAXY_JOBS_UNKNOWN_JOB).
 */
export interface JobCoordinatorOptions {
  readonly selfId: string;
  readonly call: FarmCall;
  /** The clock, ms; injected so tests can step it. */
  readonly now?: () => number;
  readonly table?: JobTableOptions;
  readonly startConcurrencyMax?: number;
  /** A start unanswered this long is sent again. */
  readonly startRetryMs?: number;
  /** Starts sent before the process is lost: with startRetryMs, how long a node has to answer. */
  readonly startAttemptsMax?: number;
  readonly probeIntervalMs?: number;
  /** Timeout of the RPC that carries one coordination message (a probe's answer counts only within its round). */
  readonly probeTimeoutMs?: number;
  readonly probeFailuresMax?: number;
  readonly waitersMax?: number;
  readonly log?: (level: 'info' | 'warn', message: string) => void;
  /** Makes the core; tests pass a deliberately broken one to show the decisions are the core's. */
  readonly makeCore?: (options: JobCoordinatorCoreOptions) => JobCoordinatorCore;
}

export interface JobCoordinatorCounters {
  created: number;
  startsSent: number;
  startsFailed: number;
  lost: number;
  /** Reports about processes this coordinator does not hold, or from a node that does not run them. */
  reportsRefused: number;
  /** Reports about processes already final (a late end after a loss). */
  reportsIgnored: number;
  probesFailed: number;
  waitersRefused: number;
  /** Coordination messages whose RPC failed, or that were dropped with kCoordinationMessagesInFlightMax in flight. */
  messagesFailed: number;
}

interface Waiter {
  readonly ready: () => boolean;
  readonly wake: () => void;
}

/** Answer timeout of a forwarded request beyond the wait it may hold, ms. */
const kForwardMarginMs = 5000;
/** How often the core's clock is advanced at most, ms: a fraction of its shortest timer. */
const kTickIntervalMsMax = 100;

export class JobCoordinator {
  readonly table: JobTable;
  readonly core: JobCoordinatorCore;
  private readonly local = { waitersRefused: 0, messagesFailed: 0 };
  private readonly selfId: string;
  private readonly call: FarmCall;
  private readonly now: () => number;
  private readonly waiters = new Map<string, Set<Waiter>>();
  private waiterCount = 0;
  private messagesInFlight = 0;
  private sequence = 0;
  private tickTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly tickIntervalMs: number;
  private readonly messageTimeoutMs: number;
  private readonly waitersMax: number;

  constructor(private readonly options: JobCoordinatorOptions) {
    this.selfId = options.selfId;
    this.call = options.call;
    this.now = options.now ?? Date.now;
    this.table = new JobTable({ ...options.table, changed: (jobId) => this.wake(jobId) });
    const probeIntervalMs = options.probeIntervalMs ?? kProbeIntervalMs;
    const startRetryMs = options.startRetryMs ?? kStartRetryMs;
    const coreOptions: JobCoordinatorCoreOptions = {
      selfId: options.selfId,
      nowMs: this.now(),
      // The table refuses first, with the operator's codes; the core holds at least what it holds.
      jobsMax: options.table?.jobsMax ?? kJobsMax,
      processesPerJobMax: options.table?.processesPerJobMax ?? kProcessesPerJobMax,
      startConcurrencyMax: options.startConcurrencyMax ?? kStartConcurrencyMax,
      startRetryMs,
      startAttemptsMax: options.startAttemptsMax ?? kStartAttemptsMax,
      probeIntervalMs,
      probeFailuresMax: options.probeFailuresMax ?? kProbeFailuresMax,
      probeKeysMax: kKeysPerMessageMax,
    };
    this.core = options.makeCore?.(coreOptions) ?? new JobCoordinatorCore(coreOptions);
    this.tickIntervalMs = Math.max(1, Math.min(kTickIntervalMsMax, Math.floor(probeIntervalMs / 4), Math.floor(startRetryMs / 4)));
    this.messageTimeoutMs = options.probeTimeoutMs ?? kProbeTimeoutMs;
    this.waitersMax = options.waitersMax ?? kWaitersMax;
  }

  get counters(): JobCoordinatorCounters {
    const c = this.core.counters;
    return { created: c.created, startsSent: c.startsSent, startsFailed: c.startsFailed, lost: c.lost, reportsRefused: c.reportsRefused, reportsIgnored: c.reportsIgnored, probesFailed: c.probesFailed, ...this.local };
  }

  /** Starts the core's clock; call once the component runs. */
  start(): void {
    this.tickTimer ??= setInterval(() => {
      this.core.tick(this.now());
      this.act();
    }, this.tickIntervalMs);
  }

  close(): void {
    this.closed = true;
    if (this.tickTimer !== null) clearInterval(this.tickTimer);
    this.tickTimer = null;
    for (const set of this.waiters.values()) for (const waiter of set) waiter.wake();
  }

  // ---- operator services ----------------------------------------------------------

  async create(request: JobCreateRequest, by: string): Promise<JobView> {
    this.mustBeOpen();
    const { target, ...spec } = request;
    const nodes = resolvedNodes(target, await this.call(this.selfId, 'farm.resolve', resolveRequest(target)));
    this.mustBeOpen();
    const createdAtMs = this.now();
    const job = this.table.create(makeJobId(this.selfId, createdAtMs, ++this.sequence), by, target, spec, nodes, createdAtMs);
    this.stepCore({ type: 'create', jobId: job.id, command: commandOf(spec), nodes });
    return jobView(job);
  }

  async add(jobId: string, request: JobAddRequest): Promise<JobView> {
    if (this.elsewhere(jobId)) return (await this.forward(jobId, kJobsServices.add, { jobId, request }, 0)) as JobView;
    this.mustBeOpen();
    const before = this.table.get(jobId);
    const { target, ...overrides } = request;
    const spec: ProcessSpec = { ...before.spec, ...overrides };
    const nodes = resolvedNodes(target, await this.call(this.selfId, 'farm.resolve', resolveRequest(target)));
    // The job may have finished or been forgotten while the target resolved; add() checks again.
    this.table.add(jobId, spec, nodes);
    this.stepCore({ type: 'add', jobId, command: commandOf(spec), nodes });
    return jobView(this.table.get(jobId));
  }

  list(): JobSummary[] {
    return this.table.list().map(jobSummary);
  }

  /** The job; with `output`, the captured output of its processes (or of one, `process`) as far as kViewOutputCharsMax allows. */
  async show(jobId: string, output: boolean, process?: number): Promise<JobView> {
    if (this.elsewhere(jobId)) return (await this.forward(jobId, kJobsServices.show, { jobId, output, ...(process === undefined ? {} : { process }) }, 0)) as JobView;
    const job = this.table.get(jobId);
    if (process !== undefined && job.processes[process] === undefined) unknownProcess(jobId, process);
    return jobView(job, output ? { output: true, ...(process === undefined ? {} : { process }) } : {});
  }

  /** A signal to the running processes of the job (all, or the given indexes). */
  async signal(jobId: string, signal: JobSignal, indexes?: readonly number[]): Promise<JobView> {
    if (this.elsewhere(jobId)) return (await this.forward(jobId, kJobsServices.signal, { jobId, signal, ...(indexes === undefined ? {} : { processes: indexes }) }, 0)) as JobView;
    const job = this.table.get(jobId);
    for (const i of indexes ?? []) if (job.processes[i] === undefined) unknownProcess(jobId, i);
    if (job.finishedAtMs === null) this.stepCore({ type: 'signal', jobId, signal, ...(indexes === undefined ? {} : { indexes }) });
    return jobView(job);
  }

  /**
   * Stops the job: the core cancels its processes not yet sent to their node, terminates
   * the running ones (SIGTERM, SIGKILL after the grace), and those whose start is in
   * flight as soon as it is answered. The job finishes when every process has ended,
   * been cancelled or been lost.
   */
  async stop(jobId: string): Promise<JobView> {
    if (this.elsewhere(jobId)) return (await this.forward(jobId, kJobsServices.stop, { jobId }, 0)) as JobView;
    const finished = this.table.get(jobId).finishedAtMs !== null;
    const job = this.table.requestStop(jobId, this.now());
    if (!finished) this.stepCore({ type: 'stop', jobId });
    return jobView(job);
  }

  /** The job once it has finished, or as it is after timeoutMs. */
  async wait(jobId: string, timeoutMs = kWaitTimeoutMsDefault): Promise<JobWaitView> {
    if (this.elsewhere(jobId)) return (await this.forward(jobId, kJobsServices.wait, { jobId, timeoutMs }, timeoutMs)) as JobWaitView;
    const job = this.table.get(jobId);
    await this.hold(jobId, timeoutMs, () => job.finishedAtMs !== null);
    return { finished: job.finishedAtMs !== null, job: jobView(job) };
  }

  /** Output after `after` (a seq from the previous answer), once there is some, the job finished, or timeoutMs passed. */
  async watch(jobId: string, after = 0, timeoutMs = kWaitTimeoutMsDefault): Promise<JobWatchView> {
    if (this.elsewhere(jobId)) return (await this.forward(jobId, kJobsServices.watch, { jobId, after, timeoutMs }, timeoutMs)) as JobWatchView;
    const job = this.table.get(jobId);
    const version = job.version;
    await this.hold(jobId, timeoutMs, () => job.journal.newest > after || job.finishedAtMs !== null || job.version !== version);
    const read = job.journal.read(after, kWatchChunksMax, kWatchJsonCharsMax);
    return { job: jobSummary(job), chunks: read.chunks, next: read.next, gap: read.gap };
  }

  // ---- node reports ---------------------------------------------------------------

  /** jobs.message for this node's coordinator: started, start-failed, end, probe-answer. */
  receive(from: string, message: JobMessage): void {
    if (!isCoordinatorBound(message)) throw new Error(`a ${message.t} message is not for the coordinator`);
    this.core.tick(this.now());
    this.stepCore({ type: 'message', from, message });
  }

  /** jobs.output from a node; throws GALAXY_JOBS_UNKNOWN_* so the node terminates a process nobody holds. */
  output(from: string, jobId: string, index: number, stdout: string, stderr: string): void {
    for (const [stream, text] of [['stdout', stdout], ['stderr', stderr]] as const) {
      if (text.length === 0) continue;
      const result = this.table.appendOutput(jobId, index, from, stream, text);
      if (result === 'unknown' || result === 'wrong-node') {
        throw new JobsError(this.table.has(jobId) ? 'GALAXY_JOBS_UNKNOWN_PROCESS' : 'GALAXY_JOBS_UNKNOWN_JOB', `coordinator ${this.selfId} holds no process ${jobId}/${index} run by that node`);
      }
    }
  }

  /** Where the jobs component runs on other nodes now (alive or suspect): the core loses the processes of those that left. */
  membership(peers: ReadonlySet<string>): void {
    this.stepCore({ type: 'members', live: new Set([...peers, this.selfId]) });
  }

  // ---- internals ------------------------------------------------------------------

  private stepCore(input: Parameters<JobCoordinatorCore['step']>[0]): void {
    this.core.step(input);
    this.act();
  }

  /** Acts on the core's outputs: sends its messages, records its events in the table. */
  private act(): void {
    const batch = this.core.ready().slice();
    this.core.advance();
    for (const output of batch) {
      if (output.type === 'send') this.send(output.to, output.message);
      else this.record(output.event);
    }
  }

  private record(event: JobEvent): void {
    if (event.type === 'job-finished' || !this.table.has(event.jobId)) return;
    const atMs = this.now();
    const { jobId, index, node } = event;
    switch (event.type) {
      case 'process-running':
        this.table.apply(jobId, index, node, { type: 'started', pid: event.pid ?? null, atMs });
        return;
      case 'process-ended': {
        const end = { exitCode: event.exitCode, signal: event.detail.signal ?? null, timedOut: event.detail.timedOut ?? false, undeliveredBytes: event.detail.undeliveredBytes ?? 0 };
        this.table.apply(jobId, index, node, { type: 'ended', end, atMs });
        return;
      }
      case 'process-failed':
        this.table.apply(jobId, index, node, { type: 'start-failed', reason: event.reason, atMs });
        return;
      case 'process-cancelled':
        this.table.apply(jobId, index, node, { type: 'cancelled', reason: 'the job was stopped before the process started', atMs });
        return;
      case 'process-lost':
        this.table.apply(jobId, index, node, { type: 'lost', reason: event.reason, atMs });
        this.options.log?.('warn', `process ${jobId}/${index} lost: ${event.reason}`);
        return;
    }
  }

  /** One coordination message over the farm RPC; a failure is only counted, since the core resends what it needs answered. */
  private send(to: string, message: JobMessage): void {
    if (this.closed) return;
    if (this.messagesInFlight >= kCoordinationMessagesInFlightMax) {
      this.local.messagesFailed++;
      return;
    }
    this.messagesInFlight++;
    this.call(to, kJobsServices.message, { message }, { timeoutMs: this.messageTimeoutMs })
      .catch((error: unknown) => {
        this.local.messagesFailed++;
        if (errorCode(error) !== 'GALAXY_RPC_TIMEOUT') this.options.log?.('warn', `${message.t} to ${to} failed: ${errorMessage(error)}`);
      })
      .finally(() => this.messagesInFlight--);
  }

  /** Holds until `ready()` or timeoutMs; answered at once when too many wait already. */
  private hold(jobId: string, timeoutMs: number, ready: () => boolean): Promise<void> {
    if (ready() || timeoutMs <= 0 || this.closed) return Promise.resolve();
    if (this.waiterCount >= this.waitersMax) {
      this.local.waitersRefused++;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const set = this.waiters.get(jobId) ?? new Set<Waiter>();
      this.waiters.set(jobId, set);
      const waiter: Waiter = {
        ready,
        wake: () => {
          clearTimeout(timer);
          if (set.delete(waiter)) this.waiterCount--;
          if (set.size === 0 && this.waiters.get(jobId) === set) this.waiters.delete(jobId);
          resolve();
        },
      };
      const timer = setTimeout(() => waiter.wake(), timeoutMs);
      set.add(waiter);
      this.waiterCount++;
    });
  }

  /** Wakes the waiters of a job whose condition now holds (called by the table after each change). */
  private wake(jobId: string): void {
    const set = this.waiters.get(jobId);
    if (set === undefined) return;
    for (const waiter of [...set]) if (waiter.ready()) waiter.wake();
  }

  private elsewhere(jobId: string): boolean {
    return jobCoordinator(jobId) !== this.selfId;
  }

  private async forward(jobId: string, service: string, body: unknown, holdMs: number): Promise<unknown> {
    const coordinator = jobCoordinator(jobId);
    try {
      return await this.call(coordinator, service, body, { timeoutMs: holdMs + kForwardMarginMs });
    } catch (error) {
      const code = errorCode(error);
      if (code !== undefined && code.startsWith('GALAXY_JOBS_')) throw error;
      throw new JobsError('GALAXY_JOBS_COORDINATOR_UNREACHABLE', `job ${jobId} is held by node ${coordinator}, which could not be asked: ${errorMessage(error)}`);
    }
  }

  private mustBeOpen(): void {
    if (this.closed) throw new JobsError('GALAXY_JOBS_UNAVAILABLE', 'the jobs component is stopping');
  }
}

/** What a start carries to the node: the process spec as JSON (opaque to the core; the node checks it again). */
export function commandOf(spec: ProcessSpec): string {
  return JSON.stringify(spec);
}

function unknownProcess(jobId: string, index: number): never {
  throw new JobsError('GALAXY_JOBS_UNKNOWN_PROCESS', `job ${jobId} has no process ${index}`);
}
