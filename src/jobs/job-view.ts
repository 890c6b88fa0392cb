import type { JobTarget } from './job-spec.js';
import { jobOutcome, jobState, processCounts, type Job, type JobOutcome, type JobProcess, type JobState } from './job-table.js';
import type { OutputChunk } from './output-journal.js';
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
}

/**
 * Characters of captured output one answer carries at most, all processes together: an
 * answer crosses the farm RPC (4 MiB bodies) and the API, and a job of thousands of
 * processes holds far more. Processes beyond it come without their text
 * (outputOmitted), and can be shown one at a time.
 */
export const kViewOutputCharsMax = 1024 * 1024;

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
  /** Processes whose output was asked for but left out to keep the answer within kViewOutputCharsMax. */
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
  if (options.output !== true) return { ...jobSummary(job), processes: chosen.map((p) => processView(p, false)) };
  let budget = kViewOutputCharsMax;
  let omitted = 0;
  const processes = chosen.map((p) => {
    const view = processView(p, true);
    const size = view.stdout!.length + view.stderr!.length;
    if (size <= budget || chosen.length === 1) {
      budget -= size;
      return view;
    }
    omitted++;
    return processView(p, false);
  });
  return { ...jobSummary(job), processes, ...(omitted > 0 ? { outputOmitted: omitted } : {}) };
}

export function processView(process: JobProcess, withOutput: boolean): ProcessView {
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
  return withOutput ? { ...view, stdout: process.stdout.text(), stderr: process.stderr.text() } : view;
}
