import { OutputQueue, type SansIoCore } from '../contract.js';
import { DomainError } from '../util/domain-error.js';
import { departedNodes } from './departed-nodes.js';
import { parseProcessKeyOf, processKeyOf, type JobMessage, type ProcessEndDetail } from './job-message.js';
import { ProbeTracker } from './probe-tracker.js';

/**
 * A process's state at its coordinator. 'ended', 'failed' (its node could not start
 * it), 'cancelled' (its job was stopped before its start was sent) and 'lost' are final.
 */
export type CoordinatedState = 'pending' | 'starting' | 'running' | 'ended' | 'failed' | 'cancelled' | 'lost';

export function isFinalState(state: CoordinatedState): boolean {
  return state === 'ended' || state === 'failed' || state === 'cancelled' || state === 'lost';
}

export interface CoordinatedProcess {
  readonly node: string;
  /** What the node runs (opaque here): the job's command, or the one its addition gave. */
  readonly command: string;
  state: CoordinatedState;
  exitCode: number | null;
  reason: string | null;
  startAttempts: number;
  startSentAtMs: number;
}

export interface CoordinatedJob {
  readonly jobId: string;
  readonly command: string;
  readonly createdAtMs: number;
  readonly processes: CoordinatedProcess[];
  /** A stop was asked: no more starts or additions; running processes were told to terminate. */
  stopping: boolean;
  /** Processes not final yet: the job finishes when it reaches 0 (kept so an end does not rescan the job). */
  unsettled: number;
  finished: boolean;
}

export type JobCoordinatorInput =
  /** Creates a job running `command` once on each of `nodes` (resolved by the caller). */
  | { readonly type: 'create'; readonly jobId: string; readonly command: string; readonly nodes: readonly string[] }
  /** Adds one process per node to a job not finished or stopping, running `command`. */
  | { readonly type: 'add'; readonly jobId: string; readonly command: string; readonly nodes: readonly string[] }
  /** Stops a job: pending processes are cancelled, those started or starting terminated. */
  | { readonly type: 'stop'; readonly jobId: string }
  /** Passes a signal to the job's processes that are starting or running (all, or the given indexes). */
  | { readonly type: 'signal'; readonly jobId: string; readonly signal: string; readonly indexes?: readonly number[] }
  | { readonly type: 'message'; readonly from: string; readonly message: JobMessage }
  /** Membership's live nodes (alive or suspect), each time they change. */
  | { readonly type: 'members'; readonly live: ReadonlySet<string> };

export type JobEvent =
  | { readonly type: 'process-running'; readonly jobId: string; readonly index: number; readonly node: string; readonly pid?: number }
  | { readonly type: 'process-ended'; readonly jobId: string; readonly index: number; readonly node: string; readonly exitCode: number | null; readonly detail: ProcessEndDetail }
  | { readonly type: 'process-failed'; readonly jobId: string; readonly index: number; readonly node: string; readonly reason: string }
  | { readonly type: 'process-cancelled'; readonly jobId: string; readonly index: number; readonly node: string }
  | { readonly type: 'process-lost'; readonly jobId: string; readonly index: number; readonly node: string; readonly reason: string }
  | { readonly type: 'job-finished'; readonly jobId: string; readonly atMs: number };

export type JobCoordinatorOutput = { readonly type: 'send'; readonly to: string; readonly message: JobMessage } | { readonly type: 'event'; readonly event: JobEvent };

export interface JobCoordinatorCoreOptions {
  readonly selfId: string;
  readonly nowMs: number;
  /** Jobs held at most (finished ones are dropped oldest first to make room). */
  readonly jobsMax?: number;
  readonly processesPerJobMax?: number;
  /** Starts in flight at most: a large job starts in waves. */
  readonly startConcurrencyMax?: number;
  /** A start unanswered this long is sent again. */
  readonly startRetryMs?: number;
  /** Starts sent before the process is given up as lost. */
  readonly startAttemptsMax?: number;
  readonly probeIntervalMs?: number;
  /** Probe rounds in a row a node leaves unanswered before its processes are lost. */
  readonly probeFailuresMax?: number;
  /** Process keys one probe names at most (the rest wait for the next round). */
  readonly probeKeysMax?: number;
  readonly outputsMax?: number;
}

/** Consumed entries at the head of the start queue before it is compacted (amortised O(1) per start). */
const kStartQueueCompactAt = 1024;

const kDefaults = {
  jobsMax: 1024,
  processesPerJobMax: 10_000,
  startConcurrencyMax: 64,
  startRetryMs: 1000,
  startAttemptsMax: 5,
  probeIntervalMs: 2000,
  probeFailuresMax: 3,
  probeKeysMax: 128,
  outputsMax: 65_536,
} as const;

/**
 * The coordination state machine of the jobs service, pure (contract.ts): the node where
 * a job is created holds it, starts one process per target node (at most
 * startConcurrencyMax starts in flight, each resent until answered), records their ends,
 * and gives up on the processes of nodes that die, by the lost-node rule
 * (src/farm/jobs/lost-node-rule.ts): a departure from membership, or probeFailuresMax
 * probe rounds unanswered, or a node that no longer knows the process. So every job
 * finishes: each process ends or is lost, and a lost process is final.
 *
 * Beyond that it takes the operator's additions, stops (pending processes are
 * cancelled, running ones terminated) and signals, and a node's refusal to start a
 * process (failed, final).
 *
 * Time comes in by tick(nowMs) only. The same core runs in a simulated farm on every
 * node (src/core/stack/node-stack.ts) and in the agent's jobs component, where
 * src/farm/jobs/job-coordinator.ts drives it with real timers and the farm RPC and keeps
 * the operator's view (specs, pids, output, waiters) beside it.
 */
export class JobCoordinatorCore implements SansIoCore<JobCoordinatorInput, JobCoordinatorOutput> {
  readonly jobs = new Map<string, CoordinatedJob>();
  readonly counters = { created: 0, startsSent: 0, startsFailed: 0, lost: 0, cancelled: 0, reportsRefused: 0, reportsIgnored: 0, probesFailed: 0 };
  /** This node's id as the coordinator names it (the stack's sender id, or the caller's). */
  readonly selfId: string;
  private readonly o: Required<Omit<JobCoordinatorCoreOptions, 'selfId' | 'nowMs'>>;
  private readonly out: OutputQueue<JobCoordinatorOutput>;
  private readonly probes: ProbeTracker;
  private clockMs: number;
  private live: ReadonlySet<string> | null = null;
  private nextProbeAtMs: number;
  private probeRound = 0;
  /** Nodes probed in the current round and not yet answered. */
  private readonly awaitingProbe = new Set<string>();
  /** Processes waiting for a start slot, oldest first (consumed from startQueueHead, compacted as it advances). */
  private readonly startQueue: Array<{ readonly job: CoordinatedJob; readonly index: number }> = [];
  private startQueueHead = 0;
  /** Processes whose start is in flight, by process key: at most startConcurrencyMax. */
  private readonly starting = new Map<string, { readonly job: CoordinatedJob; readonly index: number }>();

  constructor(options: JobCoordinatorCoreOptions) {
    this.selfId = options.selfId;
    this.clockMs = options.nowMs;
    const { selfId: _s, nowMs: _n, ...rest } = options;
    this.o = { ...kDefaults, ...Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)) } as Required<Omit<JobCoordinatorCoreOptions, 'selfId' | 'nowMs'>>;
    this.out = new OutputQueue(this.o.outputsMax);
    this.probes = new ProbeTracker(this.o.probeFailuresMax);
    this.nextProbeAtMs = this.clockMs + this.o.probeIntervalMs;
  }

  step(input: JobCoordinatorInput): void {
    switch (input.type) {
      case 'create':
        this.create(input.jobId, input.command, input.nodes);
        break;
      case 'add':
        this.add(input.jobId, input.command, input.nodes);
        break;
      case 'stop':
        this.stop(input.jobId);
        break;
      case 'signal':
        this.signal(input.jobId, input.signal, input.indexes);
        break;
      case 'message':
        this.receive(input.from, input.message);
        break;
      case 'members':
        this.membersChanged(input.live);
        break;
    }
  }

  /**
   * Whether a tick can do anything: a start waiting or unanswered, or a job not finished
   * (its processes are probed). An idle coordinator's driver may tick it rarely.
   */
  get busy(): boolean {
    if (this.starting.size > 0 || this.startQueueHead < this.startQueue.length) return true;
    for (const job of this.jobs.values()) if (!job.finished) return true;
    return false;
  }

  tick(nowMs: number): void {
    if (nowMs > this.clockMs) this.clockMs = nowMs;
    this.pumpStarts();
    if (this.clockMs >= this.nextProbeAtMs) {
      this.nextProbeAtMs = this.clockMs + this.o.probeIntervalMs;
      this.probeAll();
    }
  }

  ready(): readonly JobCoordinatorOutput[] {
    return this.out.ready();
  }

  advance(): void {
    this.out.advance();
  }

  private create(jobId: string, command: string, nodes: readonly string[]): void {
    if (this.jobs.has(jobId)) throw new DomainError('conflict', 'GALAXY_JOBS_EXISTS', `job ${jobId} exists`);
    if (nodes.length === 0) throw new DomainError('invalid', 'GALAXY_JOBS_NO_TARGET', 'a job needs at least one node');
    if (nodes.length > this.o.processesPerJobMax) throw new DomainError('too-large', 'GALAXY_JOBS_TOO_MANY_PROCESSES', `${nodes.length} processes exceed ${this.o.processesPerJobMax}`);
    if (this.jobs.size >= this.o.jobsMax) {
      const oldest = [...this.jobs.values()].find((j) => j.finished);
      if (oldest === undefined) throw new DomainError('unavailable', 'GALAXY_JOBS_FULL', `${this.o.jobsMax} jobs are running`);
      this.jobs.delete(oldest.jobId);
    }
    this.jobs.set(jobId, { jobId, command, createdAtMs: this.clockMs, processes: [], stopping: false, unsettled: 0, finished: false });
    this.counters.created++;
    this.appendProcesses(jobId, command, nodes);
  }

  private add(jobId: string, command: string, nodes: readonly string[]): void {
    const job = this.jobs.get(jobId);
    if (job === undefined) throw new DomainError('not-found', 'GALAXY_JOBS_UNKNOWN_JOB', `no job ${jobId}`);
    if (job.finished || job.stopping) throw new DomainError('conflict', 'GALAXY_JOBS_FINISHED', `job ${jobId} has ${job.finished ? 'finished' : 'been stopped'}: it takes no more processes`);
    if (nodes.length === 0) throw new DomainError('invalid', 'GALAXY_JOBS_NO_TARGET', 'an addition needs at least one node');
    if (job.processes.length + nodes.length > this.o.processesPerJobMax) throw new DomainError('too-large', 'GALAXY_JOBS_TOO_MANY_PROCESSES', `${job.processes.length + nodes.length} processes exceed ${this.o.processesPerJobMax}`);
    this.appendProcesses(jobId, command, nodes);
  }

  private appendProcesses(jobId: string, command: string, nodes: readonly string[]): void {
    const job = this.jobs.get(jobId)!;
    const first = job.processes.length;
    for (const node of nodes) {
      this.startQueue.push({ job, index: job.processes.length });
      job.processes.push({ node, command, state: 'pending', exitCode: null, reason: null, startAttempts: 0, startSentAtMs: 0 });
      job.unsettled++;
    }
    // A node that already departed loses its process at once.
    if (this.live !== null) {
      for (let i = first; i < job.processes.length; i++) {
        const node = job.processes[i]!.node;
        if (node !== this.selfId && !this.live.has(node)) this.lose(jobId, i, `node ${node} is not a live member of the farm`);
      }
    }
    this.pumpStarts();
  }

  private stop(jobId: string): void {
    const job = this.jobs.get(jobId);
    if (job === undefined) throw new DomainError('not-found', 'GALAXY_JOBS_UNKNOWN_JOB', `no job ${jobId}`);
    if (job.finished || job.stopping) return;
    job.stopping = true;
    for (let i = 0; i < job.processes.length; i++) {
      const p = job.processes[i]!;
      if (p.state !== 'pending') continue;
      p.state = 'cancelled';
      job.unsettled--;
      p.reason = 'the job was stopped before the process started';
      this.counters.cancelled++;
      this.out.push({ type: 'event', event: { type: 'process-cancelled', jobId, index: i, node: p.node } });
    }
    // A process whose start is in flight is terminated once its node answers (receive).
    this.toNodes(job, (p) => p.state === 'running', (keys) => ({ t: 'terminate', keys }));
    this.finishIfDone(job);
  }

  private signal(jobId: string, signal: string, indexes: readonly number[] | undefined): void {
    const job = this.jobs.get(jobId);
    if (job === undefined) throw new DomainError('not-found', 'GALAXY_JOBS_UNKNOWN_JOB', `no job ${jobId}`);
    const chosen = indexes === undefined ? null : new Set(indexes);
    this.toNodes(job, (p, i) => p.state === 'running' && (chosen === null || chosen.has(i)), (keys) => ({ t: 'signal', keys, signal }));
  }

  /** One message per node naming the job's processes there that `pick` chooses, in slices of probeKeysMax keys. */
  private toNodes(job: CoordinatedJob, pick: (p: CoordinatedProcess, index: number) => boolean, message: (keys: string[]) => JobMessage): void {
    const byNode = new Map<string, string[]>();
    job.processes.forEach((p, i) => {
      if (!pick(p, i)) return;
      let keys = byNode.get(p.node);
      if (keys === undefined) byNode.set(p.node, (keys = []));
      keys.push(processKeyOf(job.jobId, i));
    });
    for (const [node, keys] of byNode) {
      for (let at = 0; at < keys.length; at += this.o.probeKeysMax) this.out.push({ type: 'send', to: node, message: message(keys.slice(at, at + this.o.probeKeysMax)) });
    }
  }

  /**
   * Resends overdue starts (losing those out of attempts), then sends pending ones while
   * fewer than startConcurrencyMax are in flight. It looks only at the starts in flight
   * and the head of the queue, never at every process, since it runs on every tick and
   * after every answer.
   */
  private pumpStarts(): void {
    const now = this.clockMs;
    for (const { job, index } of this.starting.values()) {
      const p = job.processes[index]!;
      if (now - p.startSentAtMs < this.o.startRetryMs) continue;
      if (p.startAttempts >= this.o.startAttemptsMax) this.lose(job.jobId, index, `node ${p.node} did not answer ${p.startAttempts} starts`);
      else this.sendStart(job, index);
    }
    while (this.starting.size < this.o.startConcurrencyMax && this.startQueueHead < this.startQueue.length) {
      const { job, index } = this.startQueue[this.startQueueHead++]!;
      const p = job.processes[index]!;
      // Lost, cancelled or evicted while it waited.
      if (p.state !== 'pending' || this.jobs.get(job.jobId) !== job) continue;
      p.state = 'starting';
      this.starting.set(processKeyOf(job.jobId, index), { job, index });
      this.sendStart(job, index);
    }
    if (this.startQueueHead === this.startQueue.length) {
      this.startQueue.length = 0;
      this.startQueueHead = 0;
    } else if (this.startQueueHead > kStartQueueCompactAt && this.startQueueHead * 2 > this.startQueue.length) {
      this.startQueue.splice(0, this.startQueueHead);
      this.startQueueHead = 0;
    }
  }

  private sendStart(job: CoordinatedJob, index: number): void {
    const p = job.processes[index]!;
    p.startAttempts++;
    p.startSentAtMs = this.clockMs;
    this.counters.startsSent++;
    this.out.push({ type: 'send', to: p.node, message: { t: 'start', jobId: job.jobId, index, command: p.command } });
  }

  private receive(from: string, m: JobMessage): void {
    if (m.t === 'probe-answer') return this.probeAnswered(from, m);
    if (m.t !== 'started' && m.t !== 'end' && m.t !== 'start-failed') return;
    const p = this.jobs.get(m.jobId)?.processes[m.index];
    if (p === undefined || p.node !== from) {
      this.counters.reportsRefused++;
      // An end about a job this coordinator forgot is acknowledged, so the node stops resending.
      if (m.t === 'end') this.out.push({ type: 'send', to: from, message: { t: 'end-ack', jobId: m.jobId, index: m.index } });
      return;
    }
    if (m.t === 'started') {
      if (p.state !== 'starting') return;
      this.starting.delete(processKeyOf(m.jobId, m.index));
      p.state = 'running';
      this.out.push({ type: 'event', event: { type: 'process-running', jobId: m.jobId, index: m.index, node: from, ...(m.pid === undefined ? {} : { pid: m.pid }) } });
      // Its job was stopped while the start was in flight: it is terminated now that it runs.
      if (this.jobs.get(m.jobId)!.stopping) this.out.push({ type: 'send', to: from, message: { t: 'terminate', keys: [processKeyOf(m.jobId, m.index)] } });
      this.pumpStarts();
      return;
    }
    if (m.t === 'start-failed') {
      if (p.state !== 'starting') return;
      this.starting.delete(processKeyOf(m.jobId, m.index));
      p.state = 'failed';
      this.jobs.get(m.jobId)!.unsettled--;
      p.reason = m.reason;
      this.counters.startsFailed++;
      this.out.push({ type: 'event', event: { type: 'process-failed', jobId: m.jobId, index: m.index, node: from, reason: m.reason } });
      this.finishIfDone(this.jobs.get(m.jobId)!);
      this.pumpStarts();
      return;
    }
    this.out.push({ type: 'send', to: from, message: { t: 'end-ack', jobId: m.jobId, index: m.index } });
    this.settle(m.jobId, m.index, m.exitCode, detailOf(m));
  }

  private settle(jobId: string, index: number, exitCode: number | null, detail: ProcessEndDetail): void {
    const job = this.jobs.get(jobId)!;
    const p = job.processes[index]!;
    if (isFinalState(p.state)) {
      this.counters.reportsIgnored++;
      return;
    }
    if (p.state === 'starting') this.starting.delete(processKeyOf(jobId, index));
    p.state = 'ended';
    job.unsettled--;
    p.exitCode = exitCode;
    this.out.push({ type: 'event', event: { type: 'process-ended', jobId, index, node: p.node, exitCode, detail } });
    this.finishIfDone(job);
    this.pumpStarts();
  }

  /** Gives up on a process (final). Protected so a test can break the lost-node rule on purpose. */
  protected lose(jobId: string, index: number, reason: string): void {
    const job = this.jobs.get(jobId)!;
    const p = job.processes[index]!;
    if (isFinalState(p.state)) return;
    if (p.state === 'starting') this.starting.delete(processKeyOf(jobId, index));
    p.state = 'lost';
    job.unsettled--;
    p.reason = reason;
    this.counters.lost++;
    this.out.push({ type: 'event', event: { type: 'process-lost', jobId, index, node: p.node, reason } });
    this.finishIfDone(job);
  }

  private finishIfDone(job: CoordinatedJob): void {
    if (job.finished || job.unsettled > 0) return;
    job.finished = true;
    this.out.push({ type: 'event', event: { type: 'job-finished', jobId: job.jobId, atMs: this.clockMs } });
  }

  private loseNode(node: string, reason: string): void {
    for (const job of this.jobs.values()) {
      if (job.finished) continue;
      for (let i = 0; i < job.processes.length; i++) if (job.processes[i]!.node === node) this.lose(job.jobId, i, reason);
    }
  }

  private membersChanged(live: ReadonlySet<string>): void {
    for (const node of departedNodes(this.live, live, this.selfId)) this.loseNode(node, `node ${node} left the farm (dead, or its jobs component stopped)`);
    this.live = live;
  }

  /** Unanswered probes of the last round count as failures; then every node with running processes is probed. */
  private probeAll(): void {
    for (const node of this.awaitingProbe) {
      this.counters.probesFailed++;
      if (this.probes.failed(node)) this.loseNode(node, `node ${node} did not answer ${this.o.probeFailuresMax} probes in a row (unreachable, or its jobs component hangs)`);
    }
    this.awaitingProbe.clear();
    const byNode = new Map<string, string[]>();
    for (const job of this.jobs.values()) {
      if (job.finished) continue;
      job.processes.forEach((p, i) => {
        if (p.state !== 'running') return;
        let keys = byNode.get(p.node);
        if (keys === undefined) byNode.set(p.node, (keys = []));
        if (keys.length < this.o.probeKeysMax) keys.push(processKeyOf(job.jobId, i));
      });
    }
    this.probes.retain(new Set(byNode.keys()));
    this.probeRound++;
    for (const [node, keys] of byNode) {
      this.awaitingProbe.add(node);
      this.out.push({ type: 'send', to: node, message: { t: 'probe', round: this.probeRound, keys } });
    }
  }

  private probeAnswered(from: string, m: Extract<JobMessage, { t: 'probe-answer' }>): void {
    if (m.round < this.probeRound && m.round > 0) {
      // A late answer (its round already counted it unanswered) still shows the node
      // alive and answering: its run of failures starts again. Only rounds that get no
      // answer at all, late or not, lose a node, so a slow network (RPC resends, TCP
      // retransmissions) is not taken for a dead one.
      this.probes.answered(from);
      return;
    }
    if (m.round !== this.probeRound || !this.awaitingProbe.delete(from)) return;
    this.probes.answered(from);
    for (const e of m.ended) {
      const k = parseProcessKeyOf(e.key);
      if (k !== null && this.jobs.get(k.jobId)?.processes[k.index]?.node === from) this.settle(k.jobId, k.index, e.exitCode, detailOf(e));
    }
    for (const key of m.unknown) {
      const k = parseProcessKeyOf(key);
      if (k !== null && this.jobs.get(k.jobId)?.processes[k.index]?.node === from) this.lose(k.jobId, k.index, `node ${from} no longer knows the process (its jobs component restarted)`);
    }
  }
}

/** The detail fields of an end report, without the rest of the message. */
function detailOf(e: ProcessEndDetail): ProcessEndDetail {
  return {
    ...(e.signal === undefined ? {} : { signal: e.signal }),
    ...(e.timedOut === undefined ? {} : { timedOut: e.timedOut }),
    ...(e.undeliveredBytes === undefined ? {} : { undeliveredBytes: e.undeliveredBytes }),
  };
}
