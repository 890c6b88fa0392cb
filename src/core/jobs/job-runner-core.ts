import { OutputQueue, type SansIoCore } from '../contract.js';
import { parseProcessKeyOf, processKeyOf, type JobMessage } from './job-message.js';

export type JobRunnerInput =
  | { readonly type: 'message'; readonly from: string; readonly message: JobMessage }
  /** The host says a process it ran has exited. */
  | { readonly type: 'exited'; readonly jobId: string; readonly index: number; readonly exitCode: number };

export type JobRunnerOutput =
  | { readonly type: 'send'; readonly to: string; readonly message: JobMessage }
  /** The host must run this process and report its exit with an 'exited' input. */
  | { readonly type: 'run'; readonly jobId: string; readonly index: number; readonly command: string };

export interface JobRunnerCoreOptions {
  readonly nowMs: number;
  /** Processes remembered at most (ended ones whose end was acknowledged are dropped first). */
  readonly processesMax?: number;
  /** An end report unacknowledged this long is sent again. */
  readonly endRetryMs?: number;
  readonly outputsMax?: number;
}

interface RunnerProcess {
  readonly coordinator: string;
  exitCode: number | null;
  endAcked: boolean;
  endSentAtMs: number;
}

/**
 * The node side of job coordination, pure (contract.ts): takes starts from
 * coordinators (idempotently: a repeated start is answered, never run twice), asks the
 * host to run the process, reports its end until the coordinator acknowledges it, and
 * answers probes with what it runs, what ended and what it does not know. A restarted
 * node starts empty, so its coordinators learn from the next probe that its processes
 * are gone.
 */
export class JobRunnerCore implements SansIoCore<JobRunnerInput, JobRunnerOutput> {
  readonly processes = new Map<string, RunnerProcess>();
  readonly counters = { started: 0, refused: 0 };
  private readonly out: OutputQueue<JobRunnerOutput>;
  private readonly processesMax: number;
  private readonly endRetryMs: number;
  private clockMs: number;

  constructor(options: JobRunnerCoreOptions) {
    this.clockMs = options.nowMs;
    this.processesMax = options.processesMax ?? 4096;
    this.endRetryMs = options.endRetryMs ?? 1000;
    this.out = new OutputQueue(options.outputsMax ?? 65_536);
  }

  step(input: JobRunnerInput): void {
    if (input.type === 'exited') return this.exited(input.jobId, input.index, input.exitCode);
    const { from, message: m } = input;
    switch (m.t) {
      case 'start': {
        const key = processKeyOf(m.jobId, m.index);
        if (!this.processes.has(key)) {
          if (!this.makeRoom()) {
            this.counters.refused++;
            return;
          }
          this.processes.set(key, { coordinator: from, exitCode: null, endAcked: false, endSentAtMs: 0 });
          this.counters.started++;
          this.out.push({ type: 'run', jobId: m.jobId, index: m.index, command: m.command });
        }
        this.out.push({ type: 'send', to: from, message: { t: 'started', jobId: m.jobId, index: m.index } });
        return;
      }
      case 'end-ack': {
        const p = this.processes.get(processKeyOf(m.jobId, m.index));
        if (p !== undefined && p.coordinator === from) p.endAcked = true;
        return;
      }
      case 'probe': {
        const running: string[] = [];
        const ended: Array<{ key: string; exitCode: number }> = [];
        const unknown: string[] = [];
        for (const key of m.keys) {
          const p = this.processes.get(key);
          if (p === undefined || p.coordinator !== from || parseProcessKeyOf(key) === null) unknown.push(key);
          else if (p.exitCode === null) running.push(key);
          else ended.push({ key, exitCode: p.exitCode });
        }
        this.out.push({ type: 'send', to: from, message: { t: 'probe-answer', round: m.round, running, ended, unknown } });
        return;
      }
      default:
        return;
    }
  }

  tick(nowMs: number): void {
    if (nowMs > this.clockMs) this.clockMs = nowMs;
    for (const [key, p] of this.processes) {
      if (p.exitCode === null || p.endAcked || this.clockMs - p.endSentAtMs < this.endRetryMs) continue;
      const { jobId, index } = parseProcessKeyOf(key)!;
      this.sendEnd(jobId, index, p);
    }
  }

  ready(): readonly JobRunnerOutput[] {
    return this.out.ready();
  }

  advance(): void {
    this.out.advance();
  }

  private exited(jobId: string, index: number, exitCode: number): void {
    const p = this.processes.get(processKeyOf(jobId, index));
    if (p === undefined || p.exitCode !== null) return;
    p.exitCode = exitCode;
    this.sendEnd(jobId, index, p);
  }

  private sendEnd(jobId: string, index: number, p: RunnerProcess): void {
    p.endSentAtMs = this.clockMs;
    this.out.push({ type: 'send', to: p.coordinator, message: { t: 'end', jobId, index, exitCode: p.exitCode! } });
  }

  /** Drops the oldest acknowledged end when full; false when every process is still live. */
  private makeRoom(): boolean {
    if (this.processes.size < this.processesMax) return true;
    for (const [key, p] of this.processes) {
      if (p.endAcked) {
        this.processes.delete(key);
        return true;
      }
    }
    return false;
  }
}
