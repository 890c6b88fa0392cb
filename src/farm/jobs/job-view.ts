import type { JobTarget } from './job-spec.js';
import { jobOutcome, jobState, processCounts, type Job, type JobOutcome, type JobProcess, type JobState } from './job-table.js';
import { kViewOutputJsonCharsMax } from './jobs-limits.js';
import { jsonChars, lastFitting, type OutputChunk } from './output-journal.js';
import type { ProcessState } from './process-state.js';

/**
 * What the jobs service answers about jobs: plain JSON records, the same through the
 * component's services, the API and the CLI. Times are ISO 8601 strings; captured output
 * is text (UTF-8, invalid bytes as U+FFFD) with the byte counts that say whether and how
 * much of it was cut.
 */
export interface ProcessView {
  readonly index: number;
  readonly node: string;
  readonly command: readonly string[];
  readonly user: string | null;
  readonly state: ProcessState;
  readonly pid: number | null;
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly reason: string | null;
  readonly startedAt: string | null;
  readonly endedAt: string | null;
  readonly durationMs: number | null;
  /** Bytes written to each stream in all; the text holds the last outputBytesMax of them. */
  readonly stdoutBytes: number;
  readonly stderrBytes: number;
  /** Output the node could not deliver to the coordinator (dropped there), bytes. */
  readonly undeliveredBytes: number;
  /** Present when asked for (show), absent in summaries and once the answer's output bound was reached. */
  readonly stdout?: string;
  readonly stderr?: string;
  /**
   * With output: whether stdout and stderr are shown whole from the process's first
   * byte; false when the tail dropped their start or the answer's bound cut them.
   */
  readonly outputComplete?: boolean;
}

export interface JobSummary {
  readonly id: string;
  readonly state: JobState;
  readonly outcome: JobOutcome | null;
  readonly command: readonly string[];
  readonly target: JobTarget;
  readonly createdBy: string;
  readonly createdAt: string;
  readonly stopRequestedAt: string | null;
  readonly finishedAt: string | null;
  readonly counts: Readonly<Record<ProcessState | 'succeeded', number>>;
}

export interface JobView extends JobSummary {
  readonly processes: readonly ProcessView[];
  /** Processes whose output was asked for but left out to keep the answer within kViewOutputJsonCharsMax. */
  readonly outputOmitted?: number;
}

export interface JobViewOptions {
  /** Include captured output. */
  readonly output?: boolean;
  /** Only this process (with output, its text is kept whole). */
  readonly process?: number;
}

/** A wait's answer: the job, and whether it finished before the wait timed out. */
export interface JobWaitView {
  readonly finished: boolean;
  readonly job: JobView;
}

/** A watch's answer: output after the watcher's cursor, and the job's summary. */
export interface JobWatchView {
  readonly job: JobSummary;
  readonly chunks: readonly OutputChunk[];
  /** Pass as `after` to the next watch. */
  readonly next: number;
  /** Some output after `after` was dropped from the journal before it could be read. */
  readonly gap: boolean;
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

export function jobSummary(job: Job): JobSummary {
  return {
    id: job.id,
    state: jobState(job),
    outcome: jobOutcome(job),
    command: job.spec.command,
    target: job.target,
    createdBy: job.createdBy,
    createdAt: iso(job.createdAtMs)!,
    stopRequestedAt: iso(job.stopRequestedAtMs),
    finishedAt: iso(job.finishedAtMs),
    counts: processCounts(job),
  };
}

export function jobView(job: Job, options: JobViewOptions = {}): JobView {
  const chosen = options.process === undefined ? job.processes : job.processes.filter((p) => p.index === options.process);
  if (options.output !== true) return { ...jobSummary(job), processes: chosen.map((p) => processView(p)) };
  let budget = kViewOutputJsonCharsMax;
  let omitted = 0;
  const processes = chosen.map((p) => {
    const stdout = p.stdout.text();
    const stderr = p.stderr.text();
    const size = jsonChars(stdout) + jsonChars(stderr);
    if (size <= budget) {
      budget -= size;
      return { ...processView(p), stdout, stderr, outputComplete: p.stdout.droppedBytes === 0 && p.stderr.droppedBytes === 0 };
    }
    // One process asked for alone: the ends of its streams, half the bound each.
    if (chosen.length === 1) return { ...processView(p), stdout: lastFitting(stdout, budget / 2), stderr: lastFitting(stderr, budget / 2), outputComplete: false };
    omitted++;
    return processView(p);
  });
  return { ...jobSummary(job), processes, ...(omitted > 0 ? { outputOmitted: omitted } : {}) };
}

export function processView(process: JobProcess): ProcessView {
  const s = process.status;
  const view: ProcessView = {
    index: process.index,
    node: process.node,
    command: process.spec.command,
    user: process.spec.user ?? null,
    state: s.state,
    pid: s.pid,
    exitCode: s.exitCode,
    signal: s.signal,
    reason: s.reason,
    startedAt: iso(s.startedAtMs),
    endedAt: iso(s.endedAtMs),
    durationMs: s.startedAtMs !== null && s.endedAtMs !== null ? Math.max(0, s.endedAtMs - s.startedAtMs) : null,
    stdoutBytes: process.stdout.totalBytes,
    stderrBytes: process.stderr.totalBytes,
    undeliveredBytes: s.undeliveredBytes,
  };
  return view;
}
