import type { JobEvent } from '../../core/jobs/job-coordinator-core.js';
import type { JobsOpenOptions } from '../../core/jobs/node-jobs.js';
import type { JobsCommand, JobsStackEvent } from '../../node/driver/agent-worker-protocol.js';
import type { JobsLink } from '../../node/driver/jobs-link.js';
import { errorCode, errorMessage, JobsError } from './jobs-error.js';
import { jobCoordinator, makeJobId } from './job-id.js';
import {
  kEndedRememberedMax,
  kEndRetryMs,
  kJobsMax,
  kLocalProcessesMax,
  kProbeFailuresMax,
  kProbeIntervalMs,
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
 * The coordinator side of the jobs service, as a driver of a JobsLink: the job
 * coordination itself (JobCoordinatorCore, src/core/jobs, composed with the runner in
 * NodeJobs) runs behind the link — in the agent's worker stack, or in this thread
 * (InProcessJobs) — and decides everything about coordination: starts in waves of
 * startConcurrencyMax, resent until answered, the lost-node rule (membership departures,
 * unanswered probe rounds, processes a node no longer knows), stops, signals, refusals,
 * when a job finishes, exactly as in the simulated farms. This driver sends the
 * operator's commands through the link and records the process events that come back.
 *
 * Beside the coordination it keeps what the operator sees and the cores need not know:
 * the table (specs, pids, states as the API shows them, captured output, the watch
 * journal), the waiters of wait and watch, and the output reports nodes send
 * (jobs.output, over the farm RPC: output is data, not coordination). A request about a
 * job coordinated elsewhere (its id names the node) is forwarded there, so every
 * operator service works from any node. Jobs live in memory: a coordinator that restarts
 * forgets them, and the nodes then terminate the processes of the forgotten jobs when
 * their next output is refused (GALAXY_JOBS_UNKNOWN_JOB).
 */
export interface JobCoordinatorOptions {
  readonly selfId: string;
  /** The job coordination this drives (opened by whoever made it: see jobsOpenOptions). */
  readonly link: JobsLink;
  /** Farm RPC: farm.resolve, and requests forwarded to other coordinators. */
  readonly call: FarmCall;
  /** The clock, ms; injected so tests can step it. */
  readonly now?: () => number;
  readonly table?: JobTableOptions;
  readonly waitersMax?: number;
  readonly log?: (level: 'info' | 'warn', message: string) => void;
}

/** What a coordinator saw of its jobs' processes (the cores' own counters are behind the link). */
export interface JobCoordinatorCounters {
  created: number;
  startsFailed: number;
  lost: number;
  waitersRefused: number;
  /** Commands the coordination refused (DomainError from the link) or could not take (the link is gone). */
  commandsRefused: number;
}

/** The settings of the jobs service that shape its coordination. */
export interface JobsCoordinationSettings {
  readonly probeIntervalMs?: number;
  readonly probeFailuresMax?: number;
  readonly startRetryMs?: number;
  readonly startAttemptsMax?: number;
  readonly startConcurrencyMax?: number;
  readonly jobsMax?: number;
  readonly processesPerJobMax?: number;
  readonly localProcessesMax?: number;
  readonly endRetryMs?: number;
}

/**
 * The options to open the link's job coordination with for the jobs service: launches
 * confirmed by the host (pids and refusals reach the coordinator), starts taken only from
 * the node a job id names, the core holding at least what the table holds (the table
 * refuses first, with the operator's codes).
 */
export function jobsOpenOptions(s: JobsCoordinationSettings = {}): JobsOpenOptions {
  return {
    coordinator: {
      jobsMax: s.jobsMax ?? kJobsMax,
      processesPerJobMax: s.processesPerJobMax ?? kProcessesPerJobMax,
      startConcurrencyMax: s.startConcurrencyMax ?? kStartConcurrencyMax,
      startRetryMs: s.startRetryMs ?? kStartRetryMs,
      startAttemptsMax: s.startAttemptsMax ?? kStartAttemptsMax,
      probeIntervalMs: s.probeIntervalMs ?? kProbeIntervalMs,
      probeFailuresMax: s.probeFailuresMax ?? kProbeFailuresMax,
      probeKeysMax: kKeysPerMessageMax,
    },
    runner: { confirmLaunches: true, startsFromJobIdNode: true, processesMax: (s.localProcessesMax ?? kLocalProcessesMax) + kEndedRememberedMax, endRetryMs: s.endRetryMs ?? kEndRetryMs },
  };
}

interface Waiter {
  readonly ready: () => boolean;
  readonly wake: () => void;
}

/** Answer timeout of a forwarded request beyond the wait it may hold, ms. */
const kForwardMarginMs = 5000;

export class JobCoordinator {
  readonly table: JobTable;
  readonly counters: JobCoordinatorCounters = { created: 0, startsFailed: 0, lost: 0, waitersRefused: 0, commandsRefused: 0 };
  private readonly selfId: string;
  private readonly call: FarmCall;
  private readonly now: () => number;
  private readonly link: JobsLink;
  private readonly waiters = new Map<string, Set<Waiter>>();
  private waiterCount = 0;
  private sequence = 0;
  private unsubscribe: (() => void) | null;
  private closed = false;
  private readonly waitersMax: number;

  constructor(private readonly options: JobCoordinatorOptions) {
    this.selfId = options.selfId;
    this.call = options.call;
    this.link = options.link;
    this.now = options.now ?? Date.now;
    this.table = new JobTable({ ...options.table, changed: (jobId) => this.wake(jobId) });
    this.waitersMax = options.waitersMax ?? kWaitersMax;
    this.unsubscribe = options.link.onJobs((events) => this.events(events));
  }

  close(): void {
    this.closed = true;
    this.unsubscribe?.();
    this.unsubscribe = null;
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
    this.counters.created++;
    await this.command({ type: 'create-job', jobId: job.id, command: commandOf(spec), nodes }, job.id, 0);
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
    const added = this.table.add(jobId, spec, nodes);
    await this.command({ type: 'add-job', jobId, command: commandOf(spec), nodes }, jobId, added[0]!.index);
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
    if (job.finishedAtMs === null) await this.command({ type: 'signal-job', jobId, signal, ...(indexes === undefined ? {} : { indexes }) }, jobId, null);
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
    if (!finished) await this.command({ type: 'stop-job', jobId }, jobId, null);
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

  // ---- internals ------------------------------------------------------------------

  /**
   * One command to the coordination; its events are recorded before it resolves. When it
   * is refused (or the link is gone), a create's or add's new processes (from `from`) are
   * failed with the reason, so no job waits for processes nobody coordinates, and the
   * error goes to the caller.
   */
  private async command(command: JobsCommand, jobId: string, from: number | null): Promise<void> {
    try {
      await this.link.commandJobs(command);
    } catch (error) {
      this.counters.commandsRefused++;
      const reason = `${errorCode(error) ?? 'error'}: ${errorMessage(error)}`;
      if (from !== null && this.table.has(jobId)) {
        const job = this.table.get(jobId);
        for (let index = from; index < job.processes.length; index++) this.table.apply(jobId, index, job.processes[index]!.node, { type: 'start-failed', reason, atMs: this.now() });
      }
      throw error;
    }
  }

  /** The link's events: the coordinator's process events go to the table (run, terminate and signal are the worker's). */
  private events(events: readonly JobsStackEvent[]): void {
    for (const e of events) if (e.layer === 'jobs') this.record(e.event);
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
        this.counters.startsFailed++;
        this.table.apply(jobId, index, node, { type: 'start-failed', reason: event.reason, atMs });
        return;
      case 'process-cancelled':
        this.table.apply(jobId, index, node, { type: 'cancelled', reason: 'the job was stopped before the process started', atMs });
        return;
      case 'process-lost':
        this.counters.lost++;
        this.table.apply(jobId, index, node, { type: 'lost', reason: event.reason, atMs });
        this.options.log?.('warn', `process ${jobId}/${index} lost: ${event.reason}`);
        return;
    }
  }

  /** Holds until `ready()` or timeoutMs; answered at once when too many wait already. */
  private hold(jobId: string, timeoutMs: number, ready: () => boolean): Promise<void> {
    if (ready() || timeoutMs <= 0 || this.closed) return Promise.resolve();
    if (this.waiterCount >= this.waitersMax) {
      this.counters.waitersRefused++;
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
