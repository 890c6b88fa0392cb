import { errorCode, errorMessage, JobsError } from './jobs-error.js';
import { jobCoordinator, makeJobId } from './job-id.js';
import {
  kProbeFailuresMax,
  kProbeIntervalMs,
  kProbeTimeoutMs,
  kStartConcurrencyMax,
  kStartTimeoutMs,
  kWaitersMax,
  kWaitTimeoutMsDefault,
  kWatchJsonCharsMax,
  kWatchChunksMax,
} from './jobs-limits.js';
import type { JobAddRequest, JobCreateRequest, JobSignal, ProcessSpec } from './job-spec.js';
import { JobTable, jobState, type Job, type JobProcess, type JobTableOptions } from './job-table.js';
import { jobSummary, jobView, type JobSummary, type JobView, type JobWaitView, type JobWatchView } from './job-view.js';
import { kJobsServices, kKeysPerMessageMax, kProbeAnswerSchema, kStartAnswerSchema } from './jobs-wire.js';
import type { FarmCall } from './job-worker.js';
import { departedNodes, probeVerdicts, processKey, ProbeTracker } from './lost-node-rule.js';
import type { ProcessEnd } from './process-state.js';
import { resolvedNodes, resolveRequest } from './target-resolution.js';

/**
 * The coordinator side of the jobs service: the node where a job is created holds it.
 * It resolves the target to nodes (farm.resolve), starts one process per node through
 * their jobs.start (at most kStartConcurrencyMax starts in flight, so a large job starts
 * in waves), takes their output and end reports, signals and stops them, answers waits
 * and watches (long-polls), and gives up on the processes of nodes that die (the
 * membership departure and probe rules of lost-node-rule.ts), so a job always finishes.
 *
 * A request about a job coordinated elsewhere (its id names the node) is forwarded
 * there, so every operator service works from any node. The job table lives in memory:
 * a coordinator that restarts forgets its jobs, and the nodes then terminate the
 * processes of the forgotten jobs on their next report (GALAXY_JOBS_UNKNOWN_JOB).
 */
export interface JobCoordinatorOptions {
  readonly selfId: string;
  readonly call: FarmCall;
  /** The clock, ms; injected so tests can step it. */
  readonly now?: () => number;
  readonly table?: JobTableOptions;
  readonly startConcurrencyMax?: number;
  readonly startTimeoutMs?: number;
  readonly probeIntervalMs?: number;
  readonly probeTimeoutMs?: number;
  readonly probeFailuresMax?: number;
  readonly waitersMax?: number;
  readonly log?: (level: 'info' | 'warn', message: string) => void;
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
}

interface Waiter {
  readonly ready: () => boolean;
  readonly wake: () => void;
}

/** Answer timeout of a forwarded request beyond the wait it may hold, ms. */
const kForwardMarginMs = 5000;

export class JobCoordinator {
  readonly table: JobTable;
  readonly counters: JobCoordinatorCounters = { created: 0, startsSent: 0, startsFailed: 0, lost: 0, reportsRefused: 0, reportsIgnored: 0, probesFailed: 0, waitersRefused: 0 };
  private readonly selfId: string;
  private readonly call: FarmCall;
  private readonly now: () => number;
  private readonly waiters = new Map<string, Set<Waiter>>();
  private waiterCount = 0;
  private readonly startQueue: Array<{ readonly jobId: string; readonly index: number }> = [];
  private readonly startsInFlight = new Set<string>();
  private readonly probesInFlight = new Set<string>();
  private readonly probes: ProbeTracker;
  private peers: ReadonlySet<string> | null = null;
  private sequence = 0;
  private probeTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly o: Required<Pick<JobCoordinatorOptions, 'startConcurrencyMax' | 'startTimeoutMs' | 'probeIntervalMs' | 'probeTimeoutMs' | 'waitersMax'>>;

  constructor(private readonly options: JobCoordinatorOptions) {
    this.selfId = options.selfId;
    this.call = options.call;
    this.now = options.now ?? Date.now;
    this.table = new JobTable({ ...options.table, changed: (jobId) => this.wake(jobId) });
    this.probes = new ProbeTracker(options.probeFailuresMax ?? kProbeFailuresMax);
    this.o = {
      startConcurrencyMax: options.startConcurrencyMax ?? kStartConcurrencyMax,
      startTimeoutMs: options.startTimeoutMs ?? kStartTimeoutMs,
      probeIntervalMs: options.probeIntervalMs ?? kProbeIntervalMs,
      probeTimeoutMs: options.probeTimeoutMs ?? kProbeTimeoutMs,
      waitersMax: options.waitersMax ?? kWaitersMax,
    };
  }

  /** Starts probing; call once the component runs. */
  start(): void {
    this.probeTimer ??= setInterval(() => this.probeAll(), this.o.probeIntervalMs);
  }

  close(): void {
    this.closed = true;
    if (this.probeTimer !== null) clearInterval(this.probeTimer);
    this.probeTimer = null;
    for (const set of this.waiters.values()) for (const waiter of set) waiter.wake();
  }

  // ---- operator services ----------------------------------------------------------

  async create(request: JobCreateRequest, by: string): Promise<JobView> {
    this.mustBeOpen();
    const { target, ...spec } = request;
    const nodes = resolvedNodes(target, await this.call(this.selfId, 'farm.resolve', resolveRequest(target)));
    const createdAtMs = this.now();
    const job = this.table.create(makeJobId(this.selfId, createdAtMs, ++this.sequence), by, target, spec, nodes, createdAtMs);
    this.counters.created++;
    this.enqueueStarts(job, job.processes);
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
    const job = this.table.get(jobId);
    this.enqueueStarts(job, added);
    return jobView(job);
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
    const chosen = indexes === undefined ? job.processes : indexes.map((i) => job.processes[i] ?? unknownProcess(jobId, i));
    await this.toNodes(job, chosen, (keys) => ({ service: kJobsServices.kill, body: { keys, signal } }));
    return jobView(job);
  }

  /**
   * Stops the job: its processes not yet sent to their node are cancelled, the running
   * ones terminated (SIGTERM, SIGKILL after the grace), and those whose start is in
   * flight terminated as soon as it is answered. The job finishes when every process has
   * ended or been lost.
   */
  async stop(jobId: string): Promise<JobView> {
    if (this.elsewhere(jobId)) return (await this.forward(jobId, kJobsServices.stop, { jobId }, 0)) as JobView;
    const job = this.table.requestStop(jobId, this.now());
    for (const process of job.processes) {
      if (process.status.state === 'pending' && !this.startsInFlight.has(processKey(job.id, process.index))) {
        this.table.apply(job.id, process.index, process.node, { type: 'cancelled', reason: 'the job was stopped before the process started', atMs: this.now() });
      }
    }
    await this.toNodes(job, job.processes, (keys) => ({ service: kJobsServices.terminate, body: { keys } }));
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

  /** jobs.output from a node. */
  output(from: string, jobId: string, index: number, stdout: string, stderr: string): void {
    for (const [stream, text] of [['stdout', stdout], ['stderr', stderr]] as const) {
      if (text.length === 0) continue;
      this.settle(this.table.appendOutput(jobId, index, from, stream, text), jobId, index);
    }
  }

  /** jobs.ended from a node. */
  ended(from: string, jobId: string, index: number, end: ProcessEnd): void {
    this.settle(this.table.apply(jobId, index, from, { type: 'ended', end, atMs: this.now() }), jobId, index);
  }

  /** Where the jobs component runs on other nodes now (alive or suspect). */
  membership(peers: ReadonlySet<string>): string[] {
    const departed = departedNodes(this.peers, peers, this.selfId);
    this.peers = peers;
    for (const node of departed) this.lose(node, `node ${node} left the farm (dead, or its jobs component stopped)`);
    return departed;
  }

  // ---- internals ------------------------------------------------------------------

  private settle(result: ReturnType<JobTable['apply']>, jobId: string, index: number): void {
    if (result === 'ignored') this.counters.reportsIgnored++;
    if (result === 'unknown' || result === 'wrong-node') {
      this.counters.reportsRefused++;
      // The node terminates its process when told the coordinator does not hold it.
      throw new JobsError(this.table.has(jobId) ? 'GALAXY_JOBS_UNKNOWN_PROCESS' : 'GALAXY_JOBS_UNKNOWN_JOB', `coordinator ${this.selfId} holds no process ${processKey(jobId, index)} run by that node`);
    }
  }

  private lose(node: string, reason: string): void {
    const lost = this.table.loseNode(node, reason, this.now());
    this.counters.lost += lost;
    if (lost > 0) this.options.log?.('warn', `${lost} processes lost: ${reason}`);
  }

  private enqueueStarts(job: Job, processes: readonly JobProcess[]): void {
    for (const process of processes) this.startQueue.push({ jobId: job.id, index: process.index });
    this.pumpStarts();
  }

  private pumpStarts(): void {
    while (!this.closed && this.startsInFlight.size < this.o.startConcurrencyMax && this.startQueue.length > 0) {
      const { jobId, index } = this.startQueue.shift()!;
      const process = this.table.has(jobId) ? this.table.get(jobId).processes[index] : undefined;
      if (process === undefined || process.status.state !== 'pending') continue;
      const key = processKey(jobId, index);
      this.startsInFlight.add(key);
      this.counters.startsSent++;
      this.call(process.node, kJobsServices.start, { jobId, index, spec: process.spec }, { timeoutMs: this.o.startTimeoutMs })
        .then(
          (answer) => this.started(jobId, process, answer),
          (error: unknown) => this.startFailed(jobId, process, error),
        )
        .finally(() => {
          this.startsInFlight.delete(key);
          this.pumpStarts();
        });
    }
  }

  private started(jobId: string, process: JobProcess, answer: unknown): void {
    const parsed = kStartAnswerSchema.safeParse(answer);
    if (!parsed.success) return this.startFailed(jobId, process, new JobsError('GALAXY_JOBS_INVALID', `node ${process.node} answered the start with no pid`));
    this.table.apply(jobId, process.index, process.node, { type: 'started', pid: parsed.data.pid, atMs: this.now() });
    const job = this.table.has(jobId) ? this.table.get(jobId) : null;
    if (job !== null && jobState(job) === 'stopping') void this.toNodes(job, [process], (keys) => ({ service: kJobsServices.terminate, body: { keys } }));
  }

  private startFailed(jobId: string, process: JobProcess, error: unknown): void {
    this.counters.startsFailed++;
    const code = errorCode(error);
    const atMs = this.now();
    // No answer: the process may or may not run there, and nobody can tell; it is lost, not failed.
    const event =
      code === 'GALAXY_RPC_TIMEOUT'
        ? { type: 'lost' as const, reason: `node ${process.node} did not answer the start within ${this.o.startTimeoutMs} ms`, atMs }
        : { type: 'start-failed' as const, reason: code === 'GALAXY_RPC_UNKNOWN_SERVICE' ? `node ${process.node} runs no jobs component` : `${code ?? 'error'}: ${errorMessage(error)}`, atMs };
    this.table.apply(jobId, process.index, process.node, event);
  }

  /** Sends one message per node for the given processes that run there (in slices of kKeysPerMessageMax). */
  private async toNodes(job: Job, processes: readonly JobProcess[], message: (keys: string[]) => { service: string; body: unknown }): Promise<void> {
    const byNode = new Map<string, string[]>();
    for (const process of processes) {
      if (process.status.state !== 'running' && process.status.state !== 'pending') continue;
      const keys = byNode.get(process.node) ?? [];
      keys.push(processKey(job.id, process.index));
      byNode.set(process.node, keys);
    }
    const calls: Array<Promise<unknown>> = [];
    for (const [node, keys] of byNode) {
      for (let at = 0; at < keys.length; at += kKeysPerMessageMax) {
        const { service, body } = message(keys.slice(at, at + kKeysPerMessageMax));
        calls.push(this.call(node, service, body, { timeoutMs: this.o.probeTimeoutMs }).catch((error: unknown) => this.options.log?.('warn', `${service} to ${node} failed: ${errorMessage(error)}`)));
      }
    }
    await Promise.all(calls);
  }

  /** One probe round: every node with running processes, one probe in flight per node at most. */
  private probeAll(): void {
    const live = this.table.liveByNode();
    this.probes.retain(new Set(live.keys()));
    for (const [node, entries] of live) {
      const keys = entries.filter((e) => e.process.status.state === 'running').map((e) => processKey(e.job.id, e.process.index));
      if (keys.length === 0 || this.probesInFlight.has(node)) continue;
      this.probesInFlight.add(node);
      void this.probe(node, keys.slice(0, kKeysPerMessageMax)).finally(() => this.probesInFlight.delete(node));
    }
  }

  private async probe(node: string, keys: string[]): Promise<void> {
    let answer: unknown;
    try {
      answer = await this.call(node, kJobsServices.probe, { keys }, { timeoutMs: this.o.probeTimeoutMs });
    } catch (error) {
      this.counters.probesFailed++;
      if (errorCode(error) === 'GALAXY_RPC_UNKNOWN_SERVICE') return this.lose(node, `node ${node} runs no jobs component any more`);
      if (this.probes.failed(node)) this.lose(node, `node ${node} did not answer ${this.options.probeFailuresMax ?? kProbeFailuresMax} probes in a row (unreachable, or its jobs component hangs)`);
      return;
    }
    this.probes.answered(node);
    const parsed = kProbeAnswerSchema.safeParse(answer);
    if (!parsed.success) return;
    for (const verdict of probeVerdicts(keys, parsed.data, node, this.now())) {
      const result = this.table.apply(verdict.jobId, verdict.index, node, verdict.event);
      if (result === 'applied' && verdict.event.type === 'lost') this.counters.lost++;
    }
  }

  /** Holds until `ready()` or timeoutMs; answered at once when too many wait already. */
  private hold(jobId: string, timeoutMs: number, ready: () => boolean): Promise<void> {
    if (ready() || timeoutMs <= 0 || this.closed) return Promise.resolve();
    if (this.waiterCount >= this.o.waitersMax) {
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

function unknownProcess(jobId: string, index: number): never {
  throw new JobsError('GALAXY_JOBS_UNKNOWN_PROCESS', `job ${jobId} has no process ${index}`);
}
