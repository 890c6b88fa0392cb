import { JobRunnerCore } from '../../core/jobs/job-runner-core.js';
import { isCoordinatorBound, processKeyOf, type JobMessage } from '../../core/jobs/job-message.js';
import { errorCode, errorMessage, JobsError } from './jobs-error.js';
import { jobCoordinator } from './job-id.js';
import { kCoordinationMessagesInFlightMax, kEndedRememberedMax, kEndRetryMs, kLocalProcessesMax, kOutputFlushIntervalMs, kProbeTimeoutMs, kReportTimeoutMs } from './jobs-limits.js';
import { kJobSignalSchema, kProcessSpecSchema, type ProcessSpec } from './job-spec.js';
import { kJobsServices } from './jobs-wire.js';
import { launchPlan, type NodeFacts } from './launch-plan.js';
import { OutputBatcher } from './output-batcher.js';
import type { OutputStream } from './output-journal.js';
import { ProcessRunner, type LocalProcessEnd, type ProcessRunnerOptions } from './process-runner.js';
import { describeZodError } from '../../surface/api/zod-issues.js';

/**
 * The node side of the jobs service, as a driver of the pure JobRunnerCore
 * (src/core/jobs): the core decides what the node answers its coordinators — a start is
 * run once however often it comes, its end is reported until acknowledged, probes are
 * answered from what it runs and what ended, a coordinator's terminate and signal reach
 * only that coordinator's processes, and the processes of a coordinator that left the
 * membership are terminated — exactly as in the simulated farms. This driver runs what
 * the core asks: it checks the process spec a start carries, launches it through the
 * ProcessRunner (own process group, limits, timeout) and tells the core the pid or why it
 * could not; it terminates and signals; it sends the core's messages (jobs.message).
 *
 * Output is data, not coordination: it goes to the coordinator in jobs.output reports,
 * one in flight per process, and the core hears of a process's exit only once all its
 * output was delivered or given up, so the coordinator sees the output before the end.
 * A report the coordinator refuses because it does not hold the job (it restarted) makes
 * the process an orphan nobody can wait for, stop or read: it is terminated.
 */
export type FarmCall = (node: string, service: string, body: unknown, options?: { timeoutMs?: number }) => Promise<unknown>;

export interface JobWorkerOptions {
  readonly facts: NodeFacts;
  readonly call: FarmCall;
  readonly runner?: ProcessRunnerOptions;
  readonly flushIntervalMs?: number;
  readonly reportTimeoutMs?: number;
  /** Timeout of the RPC carrying one coordination message. */
  readonly messageTimeoutMs?: number;
  readonly endRetryMs?: number;
  /** The clock, ms; injected so tests can step it. */
  readonly now?: () => number;
  /** Called after each start and end with the running process groups (for the orphan record). */
  readonly groupsChanged?: (pids: readonly number[]) => void;
  readonly log?: (level: 'info' | 'warn', message: string) => void;
}

/** A process launched here whose exit the core has not heard of yet. */
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
  orphansTerminated: number;
  /** Starts refused because the job id names another coordinator than the sender. */
  startsRefused: number;
  messagesFailed: number;
}

/** How often the core's clock is advanced (its end resends), ms. */
const kTickIntervalMs = 100;

export class JobWorker {
  readonly core: JobRunnerCore;
  private readonly local = { started: 0, startFailed: 0, ended: 0, reportsFailed: 0, orphansTerminated: 0, startsRefused: 0, messagesFailed: 0 };
  private readonly runner: ProcessRunner;
  private readonly processes = new Map<string, LocalProcess>();
  private readonly flushIntervalMs: number;
  private readonly reportTimeoutMs: number;
  private readonly messageTimeoutMs: number;
  private readonly now: () => number;
  private readonly selfId: string;
  private messagesInFlight = 0;
  private tickTimer: NodeJS.Timeout | null;
  private closed = false;

  constructor(private readonly options: JobWorkerOptions) {
    this.flushIntervalMs = options.flushIntervalMs ?? kOutputFlushIntervalMs;
    this.reportTimeoutMs = options.reportTimeoutMs ?? kReportTimeoutMs;
    this.messageTimeoutMs = options.messageTimeoutMs ?? kProbeTimeoutMs;
    this.now = options.now ?? Date.now;
    this.selfId = options.facts.nodeId;
    const processesMax = options.runner?.processesMax ?? kLocalProcessesMax;
    this.core = new JobRunnerCore({ nowMs: this.now(), confirmLaunches: true, processesMax: processesMax + kEndedRememberedMax, endRetryMs: options.endRetryMs ?? kEndRetryMs });
    this.runner = new ProcessRunner({ output: (key, stream, bytes) => this.output(key, stream, bytes), ended: (key, end) => this.ended(key, end) }, options.runner);
    this.tickTimer = setInterval(() => {
      this.core.tick(this.now());
      this.act();
    }, kTickIntervalMs);
    // It only resends end reports: never a reason to keep the process alive.
    this.tickTimer.unref();
  }

  get running(): number {
    return this.runner.size;
  }

  get counters(): JobWorkerCounters {
    return { ...this.local, orphansTerminated: this.local.orphansTerminated + this.core.counters.orphansTerminated };
  }

  /** jobs.message for this node's runner: start, end-ack, probe, terminate, signal. */
  receive(from: string, message: JobMessage): void {
    if (isCoordinatorBound(message)) throw new Error(`a ${message.t} message is not for the runner`);
    // Only the node a job id names may start its processes: no node runs work for a coordinator that is not the job's.
    if (message.t === 'start' && coordinatorOf(message.jobId) !== from) {
      this.local.startsRefused++;
      return;
    }
    this.core.tick(this.now());
    this.core.step({ type: 'message', from, message });
    this.act();
  }

  /** Where the jobs component runs on other nodes now: the core terminates the processes of coordinators that left. */
  membership(peers: ReadonlySet<string>): void {
    this.core.step({ type: 'members', live: new Set([...peers, this.selfId]) });
    this.act();
  }

  /** Kills every running process group at once, synchronously (the component's exit). */
  killAll(): void {
    this.closed = true;
    if (this.tickTimer !== null) clearInterval(this.tickTimer);
    this.tickTimer = null;
    this.runner.killAll();
  }

  /** Stop: terminates every process and waits (bounded by the caller) for their ends to reach their coordinators. */
  async stop(waitMs: number): Promise<void> {
    this.closed = true;
    for (const local of this.processes.values()) if (local.end === null) this.runner.terminate(local.key);
    const deadline = Date.now() + waitMs;
    const unsettled = () => this.processes.size > 0 || [...this.core.processes.values()].some((p) => p.ended && !p.endAcked);
    while (Date.now() < deadline && unsettled()) await new Promise((resolve) => setTimeout(resolve, 20));
    this.killAll();
  }

  // ---- acting on the core ---------------------------------------------------------

  private act(): void {
    const batch = this.core.ready().slice();
    this.core.advance();
    for (const o of batch) {
      switch (o.type) {
        case 'send':
          this.send(o.to, o.message);
          break;
        case 'run':
          void this.launch(o.jobId, o.index, o.command);
          break;
        case 'terminate':
          this.runner.terminate(processKeyOf(o.jobId, o.index));
          break;
        case 'signal': {
          const signal = kJobSignalSchema.safeParse(o.signal);
          if (signal.success) this.runner.signal(processKeyOf(o.jobId, o.index), signal.data);
          break;
        }
      }
    }
  }

  /** Runs what a start carried, once its spec checks out; tells the core the pid or why not. */
  private async launch(jobId: string, index: number, command: string): Promise<void> {
    const key = processKeyOf(jobId, index);
    const coordinator = coordinatorOf(jobId)!;
    let pid: number;
    try {
      if (this.closed) throw new JobsError('GALAXY_JOBS_UNAVAILABLE', 'the jobs component is stopping');
      const spec = parseSpec(command);
      const plan = launchPlan(spec, this.options.facts, { jobId, index });
      pid = await this.runner.start(key, plan, spec.timeoutMs, () => {
        this.processes.set(key, { key, jobId, index, coordinator, batcher: new OutputBatcher(), end: null, inFlight: false, flushTimer: null });
      });
    } catch (error) {
      this.local.startFailed++;
      this.core.step({ type: 'launch-failed', jobId, index, reason: `${errorCode(error) ?? 'error'}: ${errorMessage(error)}` });
      this.act();
      return;
    }
    this.local.started++;
    this.options.groupsChanged?.(this.runner.groups());
    this.core.step({ type: 'launched', jobId, index, pid });
    this.act();
  }

  /** One coordination message over the farm RPC; a failure is only counted, since the cores resend what they need answered. */
  private send(to: string, message: JobMessage): void {
    if (this.messagesInFlight >= kCoordinationMessagesInFlightMax) {
      this.local.messagesFailed++;
      return;
    }
    this.messagesInFlight++;
    this.options
      .call(to, kJobsServices.message, { message }, { timeoutMs: this.messageTimeoutMs })
      .catch(() => this.local.messagesFailed++)
      .finally(() => this.messagesInFlight--);
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
    this.core.step({
      type: 'exited',
      jobId: local.jobId,
      index: local.index,
      exitCode: end.exitCode,
      ...(end.signal === null ? {} : { signal: end.signal }),
      timedOut: end.timedOut,
      undeliveredBytes: local.batcher.undeliveredBytes,
    });
    this.act();
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
