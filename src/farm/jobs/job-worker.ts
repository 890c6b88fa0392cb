import { errorCode, errorMessage, JobsError } from './jobs-error.js';
import { jobCoordinator } from './job-id.js';
import { kEndedRememberedMax, kOutputFlushIntervalMs, kReportTimeoutMs } from './jobs-limits.js';
import type { JobSignal, ProcessSpec } from './job-spec.js';
import { kJobsServices } from './jobs-wire.js';
import { launchPlan, type NodeFacts } from './launch-plan.js';
import { processKey, type ProbeAnswer } from './lost-node-rule.js';
import { OutputBatcher } from './output-batcher.js';
import type { OutputStream } from './output-journal.js';
import type { ProcessEnd } from './process-state.js';
import { ProcessRunner, type LocalProcessEnd, type ProcessRunnerOptions } from './process-runner.js';

/**
 * The node side of the jobs service: starts the processes coordinators ask for, sends
 * their output and their end back to the coordinator, answers probes, and passes on
 * signals. Each process has one report in flight at a time, output before end, so the
 * coordinator sees output in order and the end last. A report that cannot be delivered
 * is given up after its RPC timeout (the RPC layer resends until then): output lost so
 * is counted in the end report, and an end report lost so is still settled by the
 * coordinator's next probe, which this node answers from its remembered ends.
 *
 * A process whose coordinator has forgotten its job (the coordinator restarted) or has
 * left the farm is an orphan nobody can wait for, stop or read: it is terminated.
 */
export type FarmCall = (node: string, service: string, body: unknown, options?: { timeoutMs?: number }) => Promise<unknown>;

export interface JobWorkerOptions {
  readonly facts: NodeFacts;
  readonly call: FarmCall;
  readonly runner?: ProcessRunnerOptions;
  readonly flushIntervalMs?: number;
  readonly reportTimeoutMs?: number;
  /** Called after each start and end with the running process groups (for the orphan record). */
  readonly groupsChanged?: (pids: readonly number[]) => void;
  readonly log?: (level: 'info' | 'warn', message: string) => void;
}

type ReportState = 'running' | 'reporting' | 'reported' | 'abandoned';

interface LocalProcess {
  readonly key: string;
  readonly jobId: string;
  readonly index: number;
  readonly coordinator: string;
  readonly pid: number;
  readonly batcher: OutputBatcher;
  state: ReportState;
  end: ProcessEnd | null;
  inFlight: boolean;
  flushTimer: NodeJS.Timeout | null;
}

export interface JobWorkerCounters {
  started: number;
  startFailed: number;
  ended: number;
  reportsFailed: number;
  orphansTerminated: number;
}

export class JobWorker {
  readonly counters: JobWorkerCounters = { started: 0, startFailed: 0, ended: 0, reportsFailed: 0, orphansTerminated: 0 };
  private readonly runner: ProcessRunner;
  private readonly processes = new Map<string, LocalProcess>();
  /** Starts under way, so a duplicate start waits for the first rather than running twice. */
  private readonly starting = new Map<string, Promise<number>>();
  private readonly flushIntervalMs: number;
  private readonly reportTimeoutMs: number;
  private closed = false;

  constructor(private readonly options: JobWorkerOptions) {
    this.flushIntervalMs = options.flushIntervalMs ?? kOutputFlushIntervalMs;
    this.reportTimeoutMs = options.reportTimeoutMs ?? kReportTimeoutMs;
    this.runner = new ProcessRunner({ output: (key, stream, bytes) => this.output(key, stream, bytes), ended: (key, end) => this.ended(key, end) }, options.runner);
  }

  get running(): number {
    return this.runner.size;
  }

  /** jobs.start: runs a process for its coordinator (`from`, which the job id must name). */
  async start(from: string, jobId: string, index: number, spec: ProcessSpec): Promise<{ pid: number }> {
    if (this.closed) throw new JobsError('GALAXY_JOBS_UNAVAILABLE', 'the jobs component is stopping');
    const coordinator = jobCoordinator(jobId);
    if (coordinator !== from) throw new JobsError('GALAXY_JOBS_INVALID', `job ${jobId} is coordinated by ${coordinator}, not by ${from} which asked to start it`);
    const key = processKey(jobId, index);
    const known = this.processes.get(key);
    if (known !== undefined) return { pid: known.pid };
    const starting = this.starting.get(key) ?? this.launch(key, coordinator, jobId, index, spec);
    this.starting.set(key, starting);
    try {
      return { pid: await starting };
    } finally {
      this.starting.delete(key);
    }
  }

  /** jobs.kill: a signal to the groups of the named processes of `from`'s jobs. */
  kill(from: string, keys: readonly string[], signal: JobSignal): { signalled: number } {
    let signalled = 0;
    for (const key of keys) if (this.own(from, key) && this.runner.signal(key, signal)) signalled++;
    return { signalled };
  }

  /** jobs.terminate: SIGTERM, then SIGKILL after the grace, to the named processes of `from`'s jobs. */
  terminate(from: string, keys: readonly string[]): { terminated: number } {
    let terminated = 0;
    for (const key of keys) if (this.own(from, key) && this.runner.terminate(key)) terminated++;
    return { terminated };
  }

  /** jobs.probe: which of the named processes of `from`'s jobs run, ended, or are unknown here. */
  probe(from: string, keys: readonly string[]): ProbeAnswer {
    const answer: { running: string[]; ended: Array<{ key: string; end: ProcessEnd }>; unknown: string[] } = { running: [], ended: [], unknown: [] };
    for (const key of keys) {
      const local = this.processes.get(key);
      if (local === undefined || local.coordinator !== from) {
        if (this.starting.has(key)) answer.running.push(key);
        else answer.unknown.push(key);
      } else if (local.end !== null && (local.state === 'reported' || local.state === 'abandoned')) answer.ended.push({ key, end: local.end });
      else answer.running.push(key);
    }
    return answer;
  }

  /** The coordinator left the farm: its processes are orphans, ended. */
  coordinatorGone(coordinator: string): number {
    let terminated = 0;
    for (const local of this.processes.values()) {
      if (local.coordinator === coordinator && local.end === null && this.runner.terminate(local.key)) terminated++;
    }
    this.counters.orphansTerminated += terminated;
    if (terminated > 0) this.options.log?.('warn', `coordinator ${coordinator} left the farm: terminated its ${terminated} processes`);
    return terminated;
  }

  /** Kills every running process group at once, synchronously (the component's exit). */
  killAll(): void {
    this.closed = true;
    this.runner.killAll();
  }

  /** Stop: terminates every process and waits (bounded by the caller) for their ends to be reported. */
  async stop(waitMs: number): Promise<void> {
    this.closed = true;
    for (const local of this.processes.values()) if (local.end === null) this.runner.terminate(local.key);
    const deadline = Date.now() + waitMs;
    while (Date.now() < deadline && [...this.processes.values()].some((p) => p.state === 'running' || p.state === 'reporting')) await new Promise((resolve) => setTimeout(resolve, 20));
    this.runner.killAll();
  }

  private async launch(key: string, coordinator: string, jobId: string, index: number, spec: ProcessSpec): Promise<number> {
    let pid: number;
    try {
      const plan = launchPlan(spec, this.options.facts, { jobId, index });
      pid = await this.runner.start(key, plan, spec.timeoutMs, (started) => {
        this.processes.set(key, { key, jobId, index, coordinator, pid: started, batcher: new OutputBatcher(), state: 'running', end: null, inFlight: false, flushTimer: null });
      });
    } catch (error) {
      this.counters.startFailed++;
      throw error;
    }
    this.counters.started++;
    this.options.groupsChanged?.(this.runner.groups());
    return pid;
  }

  private own(from: string, key: string): boolean {
    return this.processes.get(key)?.coordinator === from;
  }

  private output(key: string, stream: OutputStream, bytes: Uint8Array): void {
    const local = this.processes.get(key);
    if (local === undefined) return;
    local.batcher.push(stream, bytes);
    if (local.flushTimer === null && !local.inFlight) {
      local.flushTimer = setTimeout(() => {
        local.flushTimer = null;
        this.pump(local);
      }, this.flushIntervalMs);
    }
  }

  private ended(key: string, end: LocalProcessEnd): void {
    this.counters.ended++;
    this.options.groupsChanged?.(this.runner.groups());
    const local = this.processes.get(key);
    if (local === undefined) return;
    if (local.flushTimer !== null) clearTimeout(local.flushTimer);
    local.flushTimer = null;
    local.end = { ...end, undeliveredBytes: 0 };
    local.state = 'reporting';
    this.pump(local);
  }

  /** Sends the process's next report, if none is in flight: output first, the end after all of it. */
  private pump(local: LocalProcess): void {
    if (local.inFlight) return;
    const report = local.batcher.take(local.end !== null);
    if (report !== null) {
      this.send(local, kJobsServices.output, { jobId: local.jobId, index: local.index, ...report }, (error) => {
        local.batcher.lost(report);
        if (errorCode(error) === 'GALAXY_JOBS_UNKNOWN_JOB' || errorCode(error) === 'GALAXY_JOBS_UNKNOWN_PROCESS') this.orphaned(local);
      });
      return;
    }
    if (local.state !== 'reporting' || local.end === null) return;
    local.end = { ...local.end, undeliveredBytes: local.batcher.undeliveredBytes };
    this.send(
      local,
      kJobsServices.ended,
      { jobId: local.jobId, index: local.index, end: local.end },
      () => (local.state = 'abandoned'),
      () => {
        if (local.state === 'reporting') local.state = 'reported';
      },
    );
  }

  private send(local: LocalProcess, service: string, body: unknown, failed: (error: unknown) => void, delivered: () => void = () => {}): void {
    local.inFlight = true;
    this.options
      .call(local.coordinator, service, body, { timeoutMs: this.reportTimeoutMs })
      .then(delivered, (error: unknown) => {
        this.counters.reportsFailed++;
        failed(error);
      })
      .finally(() => {
        local.inFlight = false;
        if (local.state === 'reported' || local.state === 'abandoned') this.remember(local);
        else this.pump(local);
      });
  }

  private orphaned(local: LocalProcess): void {
    if (local.end !== null) return;
    if (this.runner.terminate(local.key)) {
      this.counters.orphansTerminated++;
      this.options.log?.('warn', `coordinator ${local.coordinator} does not know job ${local.jobId}: terminated process ${local.key}`);
    }
  }

  /** Keeps an ended process for probes, forgetting the oldest ended beyond kEndedRememberedMax. */
  private remember(local: LocalProcess): void {
    // Re-insert so the map's order is the order of ends.
    this.processes.delete(local.key);
    this.processes.set(local.key, local);
    let ended = 0;
    for (const p of this.processes.values()) if (p.end !== null && p.state !== 'reporting') ended++;
    for (const p of this.processes.values()) {
      if (ended <= kEndedRememberedMax) break;
      if (p.end !== null && p.state !== 'reporting' && !p.inFlight) {
        this.processes.delete(p.key);
        ended--;
      }
    }
  }
}
