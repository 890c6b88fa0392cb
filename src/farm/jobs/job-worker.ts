import { processKeyOf } from '../../core/jobs/job-message.js';
import type { JobsCommand, JobsStackEvent } from '../../node/driver/agent-worker-protocol.js';
import type { JobsLink } from '../../node/driver/jobs-link.js';
import { errorCode, errorMessage, JobsError } from './jobs-error.js';
import { jobCoordinator } from './job-id.js';
import { kOutputFlushIntervalMs, kReportTimeoutMs } from './jobs-limits.js';
import { kJobSignalSchema, kProcessSpecSchema, type ProcessSpec } from './job-spec.js';
import { kJobsServices } from './jobs-wire.js';
import { launchPlan, type NodeFacts } from './launch-plan.js';
import { OutputBatcher } from './output-batcher.js';
import type { OutputStream } from './output-journal.js';
import { ProcessRunner, type LocalProcessEnd, type ProcessRunnerOptions } from './process-runner.js';
import { describeZodError } from '../../node/util/zod-issues.js';

/**
 * The node side of the jobs service, as the process host of a JobsLink: the job
 * coordination behind the link (JobRunnerCore, src/core/jobs, in NodeJobs) decides what
 * the node answers its coordinators — a start is run once however often it comes (and
 * only when it came from the node the job id names), its end is reported until
 * acknowledged, probes are answered from what it runs and what ended, a coordinator's
 * terminate and signal reach only that coordinator's processes, and the processes of a
 * coordinator that left the membership are terminated — exactly as in the simulated
 * farms. This host runs what it asks (the link's run, terminate and signal events): it
 * checks the process spec a start carries, launches it through the ProcessRunner (own
 * process group, limits, timeout) and tells the coordination the pid or why it could
 * not (launched, launch-failed), and that it exited.
 *
 * Output is data, not coordination: it goes to the coordinator in jobs.output reports
 * over the farm RPC, one in flight per process, and the coordination hears of a process's
 * exit only once all its output was delivered or given up, so the coordinator sees the
 * output before the end. A report the coordinator refuses because it does not hold the
 * job (it restarted) makes the process an orphan nobody can wait for, stop or read: it
 * is terminated.
 */
export type FarmCall = (node: string, service: string, body: unknown, options?: { timeoutMs?: number }) => Promise<unknown>;

export interface JobWorkerOptions {
  readonly facts: NodeFacts;
  /** The job coordination whose processes this runs (opened by whoever made it). */
  readonly link: JobsLink;
  /** Farm RPC: the output reports (jobs.output). */
  readonly call: FarmCall;
  readonly runner?: ProcessRunnerOptions;
  readonly flushIntervalMs?: number;
  readonly reportTimeoutMs?: number;
  /** Called after each start and end with the running process groups (for the orphan record). */
  readonly groupsChanged?: (pids: readonly number[]) => void;
  readonly log?: (level: 'info' | 'warn', message: string) => void;
}

/** A process launched here whose exit the coordination has not heard of yet. */
interface LocalProcess {
  readonly key: string;
  readonly jobId: string;
  readonly index: number;
  readonly coordinator: string;
  readonly batcher: OutputBatcher;
  end: LocalProcessEnd | null;
  inFlight: boolean;
  flushTimer: NodeJS.Timeout | null;
}

export interface JobWorkerCounters {
  started: number;
  startFailed: number;
  ended: number;
  reportsFailed: number;
  /** Processes terminated because their coordinator refused their output (it does not hold the job). */
  orphansTerminated: number;
  /** Host answers (launched, launch-failed, exited) the coordination could not take. */
  commandsFailed: number;
}

export class JobWorker {
  private readonly local: JobWorkerCounters = { started: 0, startFailed: 0, ended: 0, reportsFailed: 0, orphansTerminated: 0, commandsFailed: 0 };
  private readonly runner: ProcessRunner;
  private readonly processes = new Map<string, LocalProcess>();
  private readonly flushIntervalMs: number;
  private readonly reportTimeoutMs: number;
  private readonly link: JobsLink;
  /** Host answers sent and not yet taken. */
  private answersInFlight = 0;
  private unsubscribe: (() => void) | null;
  private closed = false;

  constructor(private readonly options: JobWorkerOptions) {
    this.flushIntervalMs = options.flushIntervalMs ?? kOutputFlushIntervalMs;
    this.reportTimeoutMs = options.reportTimeoutMs ?? kReportTimeoutMs;
    this.link = options.link;
    this.runner = new ProcessRunner({ output: (key, stream, bytes) => this.output(key, stream, bytes), ended: (key, end) => this.ended(key, end) }, options.runner);
    this.unsubscribe = options.link.onJobs((events) => this.events(events));
  }

  get running(): number {
    return this.runner.size;
  }

  get counters(): JobWorkerCounters {
    return { ...this.local };
  }

  /** Kills every running process group at once, synchronously (the component's exit). */
  killAll(): void {
    this.closed = true;
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.runner.killAll();
  }

  /**
   * Stop: terminates every process and waits (bounded by the caller) until their ends
   * were handed to the coordination and `settled` (the coordination's own: every end
   * acknowledged by its coordinator) holds; then kills what is left.
   */
  async stop(waitMs: number, settled: () => boolean = () => true): Promise<void> {
    this.closed = true;
    for (const local of this.processes.values()) if (local.end === null) this.runner.terminate(local.key);
    const deadline = Date.now() + waitMs;
    const unsettled = () => this.processes.size > 0 || this.answersInFlight > 0 || !settled();
    while (Date.now() < deadline && unsettled()) await new Promise((resolve) => setTimeout(resolve, 20));
    this.killAll();
  }

  // ---- acting on the coordination -------------------------------------------------

  private events(events: readonly JobsStackEvent[]): void {
    for (const e of events) {
      switch (e.layer) {
        case 'run':
          void this.launch(e.jobId, e.index, e.command);
          break;
        case 'terminate':
          this.runner.terminate(processKeyOf(e.jobId, e.index));
          break;
        case 'signal': {
          const signal = kJobSignalSchema.safeParse(e.signal);
          if (signal.success) this.runner.signal(processKeyOf(e.jobId, e.index), signal.data);
          break;
        }
        case 'jobs':
          break;
      }
    }
  }

  /** A host answer to the coordination; one it cannot take is counted (its coordinator's probes then find the process). */
  private answer(command: Extract<JobsCommand, { readonly type: 'launched' | 'launch-failed' | 'exited' }>): void {
    this.answersInFlight++;
    this.link
      .commandJobs(command)
      .catch((error: unknown) => {
        this.local.commandsFailed++;
        this.options.log?.('warn', `job coordination refused ${command.type} of ${command.jobId}/${command.index}: ${errorMessage(error)}`);
      })
      .finally(() => this.answersInFlight--);
  }

  /** Runs what a start carried, once its spec checks out; tells the coordination the pid or why not. */
  private async launch(jobId: string, index: number, command: string): Promise<void> {
    const key = processKeyOf(jobId, index);
    const coordinator = coordinatorOf(jobId);
    let pid: number;
    try {
      if (this.closed) throw new JobsError('GALAXY_JOBS_UNAVAILABLE', 'the jobs service is stopping');
      if (coordinator === null) throw new JobsError('GALAXY_JOBS_INVALID', `${jobId} is not a job id`);
      const spec = parseSpec(command);
      const plan = launchPlan(spec, this.options.facts, { jobId, index });
      pid = await this.runner.start(key, plan, spec.timeoutMs, () => {
        this.processes.set(key, { key, jobId, index, coordinator, batcher: new OutputBatcher(), end: null, inFlight: false, flushTimer: null });
      });
    } catch (error) {
      this.local.startFailed++;
      this.answer({ type: 'launch-failed', jobId, index, reason: `${errorCode(error) ?? 'error'}: ${errorMessage(error)}` });
      return;
    }
    this.local.started++;
    this.options.groupsChanged?.(this.runner.groups());
    this.answer({ type: 'launched', jobId, index, pid });
  }

  // ---- output ---------------------------------------------------------------------

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
    this.local.ended++;
    this.options.groupsChanged?.(this.runner.groups());
    const local = this.processes.get(key);
    if (local === undefined) return;
    if (local.flushTimer !== null) clearTimeout(local.flushTimer);
    local.flushTimer = null;
    local.end = end;
    this.pump(local);
  }

  /** Sends the process's next output report, if none is in flight; once all is out and it has ended, tells the core. */
  private pump(local: LocalProcess): void {
    if (local.inFlight) return;
    const report = local.batcher.take(local.end !== null);
    if (report === null) {
      if (local.end !== null) this.exited(local, local.end);
      return;
    }
    local.inFlight = true;
    this.options
      .call(local.coordinator, kJobsServices.output, { jobId: local.jobId, index: local.index, ...report }, { timeoutMs: this.reportTimeoutMs })
      .catch((error: unknown) => {
        this.local.reportsFailed++;
        local.batcher.lost(report);
        const code = errorCode(error);
        if (code === 'GALAXY_JOBS_UNKNOWN_JOB' || code === 'GALAXY_JOBS_UNKNOWN_PROCESS') this.orphaned(local);
      })
      .finally(() => {
        local.inFlight = false;
        this.pump(local);
      });
  }

  private exited(local: LocalProcess, end: LocalProcessEnd): void {
    this.processes.delete(local.key);
    this.answer({
      type: 'exited',
      jobId: local.jobId,
      index: local.index,
      exitCode: end.exitCode,
      ...(end.signal === null ? {} : { signal: end.signal }),
      timedOut: end.timedOut,
      undeliveredBytes: local.batcher.undeliveredBytes,
    });
  }

  private orphaned(local: LocalProcess): void {
    if (local.end !== null) return;
    if (this.runner.terminate(local.key)) {
      this.local.orphansTerminated++;
      this.options.log?.('warn', `coordinator ${local.coordinator} does not know job ${local.jobId}: terminated process ${local.key}`);
    }
  }
}

/** The coordinator a job id names, or null for an id that is not one. */
function coordinatorOf(jobId: string): string | null {
  try {
    return jobCoordinator(jobId);
  } catch {
    return null;
  }
}

/** The process spec a start carries (as JSON), checked as strictly as the API checks it. */
function parseSpec(command: string): ProcessSpec {
  let value: unknown;
  try {
    value = JSON.parse(command);
  } catch {
    throw new JobsError('GALAXY_JOBS_INVALID', 'the start carries no process spec');
  }
  const parsed = kProcessSpecSchema.safeParse(value);
  if (!parsed.success) throw new JobsError('GALAXY_JOBS_INVALID', describeZodError('spec', parsed.error));
  return parsed.data;
}
