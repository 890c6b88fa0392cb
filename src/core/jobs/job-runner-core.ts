import { OutputQueue, type SansIoCore } from '../contract.js';
import { departedNodes } from './departed-nodes.js';
import { parseProcessKeyOf, processKeyOf, type JobMessage, type ProcessEndDetail } from './job-message.js';

export type JobRunnerInput =
  | { readonly type: 'message'; readonly from: string; readonly message: JobMessage }
  /** The host says a process it ran has exited (and, in the agent, that its output went out first). */
  | ({ readonly type: 'exited'; readonly jobId: string; readonly index: number; readonly exitCode: number | null } & ProcessEndDetail)
  /** With confirmLaunches: the host started the process (its pid). */
  | { readonly type: 'launched'; readonly jobId: string; readonly index: number; readonly pid: number }
  /** With confirmLaunches: the host could not start it. */
  | { readonly type: 'launch-failed'; readonly jobId: string; readonly index: number; readonly reason: string }
  /** Membership's live nodes (alive or suspect), each time they change. */
  | { readonly type: 'members'; readonly live: ReadonlySet<string> }
  /**
   * The host lost every process it ran without seeing them end (the agent's jobs
   * component restarted and killed what its predecessor left): launches under way fail
   * with `reason`; running processes are forgotten, so their coordinators' next probe
   * finds them unknown and loses them, as after a node restart. Ends already reported
   * are kept until acknowledged.
   */
  | { readonly type: 'host-restarted'; readonly reason: string };

export type JobRunnerOutput =
  | { readonly type: 'send'; readonly to: string; readonly message: JobMessage }
  /** The host must run this process and report its exit with an 'exited' input (with confirmLaunches, first 'launched' or 'launch-failed'). */
  | { readonly type: 'run'; readonly jobId: string; readonly index: number; readonly command: string }
  /** The host must terminate the process (SIGTERM, SIGKILL after its grace). */
  | { readonly type: 'terminate'; readonly jobId: string; readonly index: number }
  /** The host must send the signal to the process. */
  | { readonly type: 'signal'; readonly jobId: string; readonly index: number; readonly signal: string };

export interface JobRunnerCoreOptions {
  readonly nowMs: number;
  /** Processes remembered at most (ended ones whose end was acknowledged are dropped first). */
  readonly processesMax?: number;
  /** An end report unacknowledged this long is sent again. */
  readonly endRetryMs?: number;
  /**
   * Answer a start only once the host confirms the launch ('launched' with the pid, or
   * 'launch-failed'). Off, a start is answered at once (the simulator's hosts cannot
   * fail); the agent turns it on, so its coordinator learns pids and refusals.
   */
  readonly confirmLaunches?: boolean;
  /**
   * Take a start only from the node its job id begins with ("<node>-..."): no node runs
   * work for a coordinator that is not the job's. The agent's job ids name their
   * coordinator's node id; the simulator's do not, and leave this off.
   */
  readonly startsFromJobIdNode?: boolean;
  readonly outputsMax?: number;
}

/** 'launching' until the host confirms (confirmLaunches), then 'running' (also once ended) or 'failed'. */
type LaunchState = 'launching' | 'running' | 'failed';

interface RunnerProcess {
  readonly coordinator: string;
  launch: LaunchState;
  pid: number | null;
  failure: string | null;
  exitCode: number | null;
  detail: ProcessEndDetail;
  ended: boolean;
  endAcked: boolean;
  endSentAtMs: number;
}

/**
 * The node side of job coordination, pure (contract.ts): takes starts from
 * coordinators (idempotently: a repeated start is answered, never run twice), asks the
 * host to run the process, reports its end until the coordinator acknowledges it, and
 * answers probes with what it runs, what ended and what it does not know. It passes a
 * coordinator's terminate and signal on to the host for that coordinator's processes
 * only, and terminates the processes of a coordinator that left the membership (orphans
 * nobody could wait for, stop or read). A restarted node starts empty, so its
 * coordinators learn from the next probe that its processes are gone.
 */
export class JobRunnerCore implements SansIoCore<JobRunnerInput, JobRunnerOutput> {
  readonly processes = new Map<string, RunnerProcess>();
  /** refused: no room; startsRefused: from another node than the one the job id names (startsFromJobIdNode). */
  readonly counters = { started: 0, refused: 0, startsRefused: 0, launchFailed: 0, orphansTerminated: 0, forgotten: 0 };
  private readonly out: OutputQueue<JobRunnerOutput>;
  private readonly processesMax: number;
  private readonly endRetryMs: number;
  private readonly confirmLaunches: boolean;
  private readonly startsFromJobIdNode: boolean;
  private clockMs: number;
  private live: ReadonlySet<string> | null = null;

  constructor(options: JobRunnerCoreOptions) {
    this.clockMs = options.nowMs;
    this.processesMax = options.processesMax ?? 4096;
    this.endRetryMs = options.endRetryMs ?? 1000;
    this.confirmLaunches = options.confirmLaunches ?? false;
    this.startsFromJobIdNode = options.startsFromJobIdNode ?? false;
    this.out = new OutputQueue(options.outputsMax ?? 65_536);
  }

  step(input: JobRunnerInput): void {
    switch (input.type) {
      case 'exited':
        return this.exited(input.jobId, input.index, input.exitCode, input);
      case 'launched':
        return this.launched(input.jobId, input.index, input.pid, null);
      case 'launch-failed':
        return this.launched(input.jobId, input.index, null, input.reason);
      case 'members':
        return this.membersChanged(input.live);
      case 'host-restarted':
        return this.hostRestarted(input.reason);
      case 'message':
        return this.receive(input.from, input.message);
    }
  }

  /** Whether a tick can do anything: an end report not yet acknowledged (resent every endRetryMs). */
  get busy(): boolean {
    for (const p of this.processes.values()) if (p.ended && !p.endAcked) return true;
    return false;
  }

  tick(nowMs: number): void {
    if (nowMs > this.clockMs) this.clockMs = nowMs;
    for (const [key, p] of this.processes) {
      if (!p.ended || p.endAcked || this.clockMs - p.endSentAtMs < this.endRetryMs) continue;
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

  private receive(from: string, m: JobMessage): void {
    switch (m.t) {
      case 'start': {
        if (this.startsFromJobIdNode && !m.jobId.startsWith(`${from}-`)) {
          this.counters.startsRefused++;
          return;
        }
        const key = processKeyOf(m.jobId, m.index);
        const known = this.processes.get(key);
        if (known === undefined) {
          if (!this.makeRoom()) {
            this.counters.refused++;
            return;
          }
          const launch: LaunchState = this.confirmLaunches ? 'launching' : 'running';
          this.processes.set(key, { coordinator: from, launch, pid: null, failure: null, exitCode: null, detail: {}, ended: false, endAcked: false, endSentAtMs: 0 });
          this.counters.started++;
          this.out.push({ type: 'run', jobId: m.jobId, index: m.index, command: m.command });
          if (launch === 'running') this.answerStart(from, m.jobId, m.index);
          return;
        }
        // A repeated start: answered from what is known, never run twice (a launch under way answers when it is done).
        if (known.coordinator === from && known.launch !== 'launching') this.answerStart(from, m.jobId, m.index);
        return;
      }
      case 'end-ack': {
        const p = this.processes.get(processKeyOf(m.jobId, m.index));
        if (p !== undefined && p.coordinator === from) p.endAcked = true;
        return;
      }
      case 'probe': {
        const running: string[] = [];
        const ended: Array<{ key: string; exitCode: number | null } & ProcessEndDetail> = [];
        const unknown: string[] = [];
        for (const key of m.keys) {
          const p = this.processes.get(key);
          if (p === undefined || p.coordinator !== from || p.launch === 'failed' || parseProcessKeyOf(key) === null) unknown.push(key);
          else if (!p.ended) running.push(key);
          else ended.push({ key, exitCode: p.exitCode, ...p.detail });
        }
        this.out.push({ type: 'send', to: from, message: { t: 'probe-answer', round: m.round, running, ended, unknown } });
        return;
      }
      case 'terminate':
        for (const key of m.keys) this.pass(from, key, (jobId, index) => ({ type: 'terminate', jobId, index }));
        return;
      case 'signal':
        for (const key of m.keys) this.pass(from, key, (jobId, index) => ({ type: 'signal', jobId, index, signal: m.signal }));
        return;
      default:
        return;
    }
  }

  /** Hands a coordinator's terminate or signal to the host, for a process of that coordinator that runs. */
  private pass(from: string, key: string, output: (jobId: string, index: number) => JobRunnerOutput): void {
    const p = this.processes.get(key);
    const k = parseProcessKeyOf(key);
    if (p === undefined || k === null || p.coordinator !== from || p.launch !== 'running' || p.ended) return;
    this.out.push(output(k.jobId, k.index));
  }

  private answerStart(to: string, jobId: string, index: number): void {
    const p = this.processes.get(processKeyOf(jobId, index))!;
    if (p.launch === 'failed') this.out.push({ type: 'send', to, message: { t: 'start-failed', jobId, index, reason: p.failure! } });
    else this.out.push({ type: 'send', to, message: { t: 'started', jobId, index, ...(p.pid === null ? {} : { pid: p.pid }) } });
  }

  private hostRestarted(reason: string): void {
    for (const [key, p] of [...this.processes]) {
      if (p.launch === 'launching') {
        const { jobId, index } = parseProcessKeyOf(key)!;
        this.launched(jobId, index, null, reason);
      } else if (p.launch === 'running' && !p.ended) {
        this.processes.delete(key);
        this.counters.forgotten++;
      }
    }
  }

  private launched(jobId: string, index: number, pid: number | null, failure: string | null): void {
    const p = this.processes.get(processKeyOf(jobId, index));
    if (p === undefined || p.launch !== 'launching') return;
    p.launch = failure === null ? 'running' : 'failed';
    p.pid = pid;
    p.failure = failure;
    if (failure !== null) {
      this.counters.launchFailed++;
      // Nothing ran, so nothing is left to report: the entry may be dropped to make room.
      p.endAcked = true;
    }
    this.answerStart(p.coordinator, jobId, index);
  }

  private exited(jobId: string, index: number, exitCode: number | null, detail: ProcessEndDetail): void {
    const p = this.processes.get(processKeyOf(jobId, index));
    if (p === undefined || p.ended || p.launch === 'failed') return;
    p.ended = true;
    p.exitCode = exitCode;
    p.detail = {
      ...(detail.signal === undefined ? {} : { signal: detail.signal }),
      ...(detail.timedOut === undefined ? {} : { timedOut: detail.timedOut }),
      ...(detail.undeliveredBytes === undefined ? {} : { undeliveredBytes: detail.undeliveredBytes }),
    };
    this.sendEnd(jobId, index, p);
  }

  private sendEnd(jobId: string, index: number, p: RunnerProcess): void {
    p.endSentAtMs = this.clockMs;
    this.out.push({ type: 'send', to: p.coordinator, message: { t: 'end', jobId, index, exitCode: p.exitCode, ...p.detail } });
  }

  /** Terminates the running processes of coordinators that left the membership. */
  private membersChanged(live: ReadonlySet<string>): void {
    const gone = new Set(departedNodes(this.live, live, ''));
    this.live = live;
    if (gone.size === 0) return;
    for (const [key, p] of this.processes) {
      if (!gone.has(p.coordinator) || p.launch !== 'running' || p.ended) continue;
      const k = parseProcessKeyOf(key)!;
      this.counters.orphansTerminated++;
      this.out.push({ type: 'terminate', jobId: k.jobId, index: k.index });
    }
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
