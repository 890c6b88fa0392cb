import { JobsError } from './jobs-error.js';
import { kJobsMax, kOutputBudgetBytes, kProcessesPerJobMax, kStreamTailBytesDefault, kWatchJournalCharsMax } from './jobs-limits.js';
import type { JobTarget, ProcessSpec } from './job-spec.js';
import { OutputJournal, type OutputStream } from './output-journal.js';
import { OutputTail } from './output-tail.js';
import { applyProcessEvent, isFinal, kPendingProcess, succeeded, type ProcessEvent, type ProcessState, type ProcessStatus } from './process-state.js';

/**
 * The coordinator's table of the jobs created on its node: every job's processes, their
 * states, their captured output. Pure: no clock, no I/O, no timers. The jobs component
 * feeds it what arrives (start answers, end reports, output, probe and membership
 * verdicts, each stamped with the time it read) and reads views of it for the API.
 *
 * A job is `running` while any process is not final, `stopping` once a stop was asked
 * until then, and `finished` when every process is final; a finished job takes no more
 * processes. Its outcome is `stopped` if a stop was asked, `succeeded` if every process
 * exited with 0, else `failed`.
 *
 * Bounds: kJobsMax jobs and kProcessesPerJobMax processes per job; each process reserves
 * its two output tails against kOutputBudgetBytes at admission. When a bound would be
 * exceeded the oldest finished jobs are forgotten first; if that is not enough the
 * request is refused (GALAXY_JOBS_BUSY), never half done.
 */
export interface JobProcess {
  readonly index: number;
  readonly node: string;
  readonly spec: ProcessSpec;
  status: ProcessStatus;
  readonly stdout: OutputTail;
  readonly stderr: OutputTail;
}

export type JobState = 'running' | 'stopping' | 'finished';
export type JobOutcome = 'succeeded' | 'failed' | 'stopped';

export interface Job {
  readonly id: string;
  readonly createdBy: string;
  readonly createdAtMs: number;
  readonly target: JobTarget;
  /** The creation request's process spec; additions default to it. */
  readonly spec: ProcessSpec;
  readonly processes: JobProcess[];
  readonly journal: OutputJournal;
  stopRequestedAtMs: number | null;
  finishedAtMs: number | null;
  /** Bytes of output tails this job reserved. */
  reservedBytes: number;
  /** Bumped on every change: a waiter compares it with the one it saw. */
  version: number;
}

/** How a message about a process was taken, so the caller can count the others. */
export type ApplyResult = 'applied' | 'ignored' | 'unknown' | 'wrong-node';

export interface JobTableOptions {
  readonly jobsMax?: number;
  readonly processesPerJobMax?: number;
  readonly outputBudgetBytes?: number;
  readonly journalCharsMax?: number;
  /** Called after every change of a job (the component wakes its waiters). */
  readonly changed?: (jobId: string) => void;
}

export class JobTable {
  private readonly jobs = new Map<string, Job>();
  private reservedBytes = 0;
  private readonly jobsMax: number;
  private readonly processesPerJobMax: number;
  private readonly outputBudgetBytes: number;
  private readonly journalCharsMax: number;
  private readonly changed: (jobId: string) => void;

  constructor(options: JobTableOptions = {}) {
    this.jobsMax = options.jobsMax ?? kJobsMax;
    this.processesPerJobMax = options.processesPerJobMax ?? kProcessesPerJobMax;
    this.outputBudgetBytes = options.outputBudgetBytes ?? kOutputBudgetBytes;
    this.journalCharsMax = options.journalCharsMax ?? kWatchJournalCharsMax;
    this.changed = options.changed ?? (() => {});
  }

  get size(): number {
    return this.jobs.size;
  }

  /** Bytes of output tails reserved by the jobs held. */
  get reserved(): number {
    return this.reservedBytes;
  }

  /** A new job with one pending process per node. */
  create(id: string, createdBy: string, target: JobTarget, spec: ProcessSpec, nodes: readonly string[], nowMs: number): Job {
    if (this.jobs.has(id)) throw new Error(`job ${id} exists already`);
    if (nodes.length === 0) throw new JobsError('GALAXY_JOBS_NO_TARGETS', 'the target selects no node');
    this.checkProcessCount(0, nodes.length);
    const bytes = reservation(spec, nodes.length);
    this.makeRoom(1, bytes);
    const job: Job = {
      id,
      createdBy,
      createdAtMs: nowMs,
      target,
      spec,
      processes: [],
      journal: new OutputJournal(this.journalCharsMax),
      stopRequestedAtMs: null,
      finishedAtMs: null,
      reservedBytes: 0,
      version: 0,
    };
    this.jobs.set(id, job);
    this.addProcesses(job, spec, nodes, bytes);
    return job;
  }

  /** Adds one pending process per node to a running job; returns them. */
  add(id: string, spec: ProcessSpec, nodes: readonly string[]): JobProcess[] {
    const job = this.get(id);
    if (job.finishedAtMs !== null) throw new JobsError('GALAXY_JOBS_FINISHED', `job ${id} has finished: create a new job`);
    if (job.stopRequestedAtMs !== null) throw new JobsError('GALAXY_JOBS_FINISHED', `job ${id} is stopping: it takes no more processes`);
    if (nodes.length === 0) throw new JobsError('GALAXY_JOBS_NO_TARGETS', 'the target selects no node');
    this.checkProcessCount(job.processes.length, nodes.length);
    const bytes = reservation(spec, nodes.length);
    this.makeRoom(0, bytes, job.id);
    return this.addProcesses(job, spec, nodes, bytes);
  }

  /** The job; throws GALAXY_JOBS_UNKNOWN_JOB. */
  get(id: string): Job {
    const job = this.jobs.get(id);
    if (job === undefined) throw new JobsError('GALAXY_JOBS_UNKNOWN_JOB', `no job ${id} on its coordinator (never created, or forgotten after it finished)`);
    return job;
  }

  has(id: string): boolean {
    return this.jobs.has(id);
  }

  /** Jobs, newest first. */
  list(): Job[] {
    return [...this.jobs.values()].reverse();
  }

  /** Moves a process by an event; `from` is the node the message came from, which must be the process's own. */
  apply(jobId: string, index: number, from: string, event: ProcessEvent): ApplyResult {
    const process = this.jobs.get(jobId)?.processes[index];
    if (process === undefined) return 'unknown';
    if (process.node !== from) return 'wrong-node';
    const next = applyProcessEvent(process.status, event);
    if (next === null) return 'ignored';
    process.status = next;
    this.touch(this.jobs.get(jobId)!, event.atMs);
    return 'applied';
  }

  /**
   * Output of a process, from its node. Taken in whatever state the process is: the
   * node sends its last output before its end report, but a probe may have settled the
   * end first, and the output is still the process's.
   */
  appendOutput(jobId: string, index: number, from: string, stream: OutputStream, text: string): ApplyResult {
    const job = this.jobs.get(jobId);
    const process = job?.processes[index];
    if (job === undefined || process === undefined) return 'unknown';
    if (process.node !== from) return 'wrong-node';
    if (text.length === 0) return 'ignored';
    (stream === 'stdout' ? process.stdout : process.stderr).append(new TextEncoder().encode(text));
    job.journal.append(index, from, stream, text);
    job.version++;
    this.changed(job.id);
    return 'applied';
  }

  /** Marks a stop; the caller signals the running processes and cancels those not yet sent. */
  requestStop(jobId: string, nowMs: number): Job {
    const job = this.get(jobId);
    if (job.finishedAtMs !== null || job.stopRequestedAtMs !== null) return job;
    job.stopRequestedAtMs = nowMs;
    job.version++;
    this.changed(job.id);
    return job;
  }

  /** Every process not final on `node`, across all jobs. */
  liveOn(node: string): Array<{ job: Job; process: JobProcess }> {
    const live: Array<{ job: Job; process: JobProcess }> = [];
    for (const job of this.jobs.values()) {
      if (job.finishedAtMs !== null) continue;
      for (const process of job.processes) if (process.node === node && !isFinal(process.status.state)) live.push({ job, process });
    }
    return live;
  }

  /** The nodes that have processes not final, each with them. */
  liveByNode(): Map<string, Array<{ job: Job; process: JobProcess }>> {
    const byNode = new Map<string, Array<{ job: Job; process: JobProcess }>>();
    for (const job of this.jobs.values()) {
      if (job.finishedAtMs !== null) continue;
      for (const process of job.processes) {
        if (isFinal(process.status.state)) continue;
        const list = byNode.get(process.node) ?? [];
        list.push({ job, process });
        byNode.set(process.node, list);
      }
    }
    return byNode;
  }

  /** Marks every process not final on `node` lost; returns how many. */
  loseNode(node: string, reason: string, nowMs: number): number {
    let lost = 0;
    for (const { job, process } of this.liveOn(node)) if (this.apply(job.id, process.index, node, { type: 'lost', reason, atMs: nowMs }) === 'applied') lost++;
    return lost;
  }

  /** Forgets a finished job; a live one is kept (false). */
  forget(jobId: string): boolean {
    const job = this.jobs.get(jobId);
    if (job === undefined || job.finishedAtMs === null) return false;
    this.jobs.delete(jobId);
    this.reservedBytes -= job.reservedBytes;
    return true;
  }

  private addProcesses(job: Job, spec: ProcessSpec, nodes: readonly string[], bytes: number): JobProcess[] {
    const tailBytes = spec.outputBytesMax ?? kStreamTailBytesDefault;
    const added = nodes.map((node, i) => ({
      index: job.processes.length + i,
      node,
      spec,
      status: kPendingProcess,
      stdout: new OutputTail(tailBytes),
      stderr: new OutputTail(tailBytes),
    }));
    job.processes.push(...added);
    job.reservedBytes += bytes;
    this.reservedBytes += bytes;
    job.version++;
    this.changed(job.id);
    return added;
  }

  private checkProcessCount(existing: number, adding: number): void {
    if (existing + adding > this.processesPerJobMax) throw new JobsError('GALAXY_JOBS_BUSY', `a job holds at most ${this.processesPerJobMax} processes (it has ${existing}, ${adding} asked)`);
  }

  /** Forgets the oldest finished jobs until `jobs` more jobs and `bytes` more reserved bytes fit, or refuses. */
  private makeRoom(jobs: number, bytes: number, keep?: string): void {
    if (bytes > this.outputBudgetBytes) throw new JobsError('GALAXY_JOBS_BUSY', `the output tails asked for (${bytes} bytes) exceed the coordinator's whole budget of ${this.outputBudgetBytes}: lower outputBytesMax or use fewer nodes`);
    const fits = () => this.jobs.size + jobs <= this.jobsMax && this.reservedBytes + bytes <= this.outputBudgetBytes;
    for (const job of [...this.jobs.values()]) {
      if (fits()) return;
      if (job.id !== keep) this.forget(job.id);
    }
    if (!fits()) throw new JobsError('GALAXY_JOBS_BUSY', `the coordinator holds ${this.jobs.size} jobs reserving ${this.reservedBytes} bytes of output, none finished to make room: retry when some finish`);
  }

  /** Notes a change: bumps the version, marks the job finished once every process is final. */
  private touch(job: Job, atMs: number): void {
    job.version++;
    if (job.finishedAtMs === null && job.processes.every((p) => isFinal(p.status.state))) job.finishedAtMs = atMs;
    this.changed(job.id);
  }
}

/** Output bytes `count` processes of `spec` may hold: two tails each. */
export function reservation(spec: ProcessSpec, count: number): number {
  return 2 * (spec.outputBytesMax ?? kStreamTailBytesDefault) * count;
}

export function jobState(job: Job): JobState {
  if (job.finishedAtMs !== null) return 'finished';
  return job.stopRequestedAtMs === null ? 'running' : 'stopping';
}

export function jobOutcome(job: Job): JobOutcome | null {
  if (job.finishedAtMs === null) return null;
  if (job.stopRequestedAtMs !== null) return 'stopped';
  return job.processes.every((p) => succeeded(p.status)) ? 'succeeded' : 'failed';
}

/** Processes per state, plus how many succeeded (exited with 0). */
export function processCounts(job: Job): Record<ProcessState, number> & { succeeded: number } {
  const counts = { pending: 0, running: 0, exited: 0, signalled: 0, 'timed-out': 0, failed: 0, lost: 0, cancelled: 0, succeeded: 0 };
  for (const p of job.processes) {
    counts[p.status.state]++;
    if (succeeded(p.status)) counts.succeeded++;
  }
  return counts;
}
