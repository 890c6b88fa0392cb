import { OutputQueue, type SansIoCore } from '../contract.js';
import { DomainError } from '../util/domain-error.js';
import { departedNodes } from './departed-nodes.js';
import { parseProcessKeyOf, processKeyOf, type JobMessage } from './job-message.js';
import { ProbeTracker } from './probe-tracker.js';

/** A process's state at its coordinator. 'ended' and 'lost' are final. */
export type CoordinatedState = 'pending' | 'starting' | 'running' | 'ended' | 'lost';

export interface CoordinatedProcess {
  readonly node: string;
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
  finished: boolean;
}

export type JobCoordinatorInput =
  /** Creates a job running `command` once on each of `nodes` (resolved by the caller). */
  | { readonly type: 'create'; readonly jobId: string; readonly command: string; readonly nodes: readonly string[] }
  | { readonly type: 'message'; readonly from: string; readonly message: JobMessage }
  /** Membership's live nodes (alive or suspect), each time they change. */
  | { readonly type: 'members'; readonly live: ReadonlySet<string> };

export type JobEvent =
  | { readonly type: 'process-running'; readonly jobId: string; readonly index: number; readonly node: string }
  | { readonly type: 'process-ended'; readonly jobId: string; readonly index: number; readonly node: string; readonly exitCode: number }
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
 * Time comes in by tick(nowMs) only. The farm's JobCoordinator (src/farm/jobs) is the
 * I/O-rich operator-facing service (RPC, waiters, output); this core is the part a
 * simulated farm runs on every node (src/core/stack/node-stack.ts).
 */
export class JobCoordinatorCore implements SansIoCore<JobCoordinatorInput, JobCoordinatorOutput> {
  readonly jobs = new Map<string, CoordinatedJob>();
  readonly counters = { created: 0, startsSent: 0, lost: 0, reportsRefused: 0, reportsIgnored: 0, probesFailed: 0 };
  private readonly selfId: string;
  private readonly o: Required<Omit<JobCoordinatorCoreOptions, 'selfId' | 'nowMs'>>;
  private readonly out: OutputQueue<JobCoordinatorOutput>;
  private readonly probes: ProbeTracker;
  private clockMs: number;
  private live: ReadonlySet<string> | null = null;
  private nextProbeAtMs: number;
  private probeRound = 0;
  /** Nodes probed in the current round and not yet answered. */
  private readonly awaitingProbe = new Set<string>();
  private startsInFlight = 0;

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
      case 'message':
        this.receive(input.from, input.message);
        break;
      case 'members':
        this.membersChanged(input.live);
        break;
    }
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
    const processes = nodes.map((node): CoordinatedProcess => ({ node, state: 'pending', exitCode: null, reason: null, startAttempts: 0, startSentAtMs: 0 }));
    this.jobs.set(jobId, { jobId, command, createdAtMs: this.clockMs, processes, finished: false });
    this.counters.created++;
    // A node that already departed loses its process at once.
    if (this.live !== null) for (const p of processes) if (p.node !== this.selfId && !this.live.has(p.node)) this.lose(jobId, processes.indexOf(p), 'not a live member at creation');
    this.pumpStarts();
  }

  /** Sends pending starts while fewer than startConcurrencyMax are in flight; resends overdue ones. */
  private pumpStarts(): void {
    const now = this.clockMs;
    for (const job of this.jobs.values()) {
      if (job.finished) continue;
      for (let i = 0; i < job.processes.length; i++) {
        const p = job.processes[i]!;
        if (p.state === 'starting' && now - p.startSentAtMs >= this.o.startRetryMs) {
          if (p.startAttempts >= this.o.startAttemptsMax) {
            this.lose(job.jobId, i, `no answer to ${p.startAttempts} starts`);
            continue;
          }
          this.sendStart(job, i);
        } else if (p.state === 'pending' && this.startsInFlight < this.o.startConcurrencyMax) {
          p.state = 'starting';
          this.startsInFlight++;
          this.sendStart(job, i);
        }
      }
    }
  }

  private sendStart(job: CoordinatedJob, index: number): void {
    const p = job.processes[index]!;
    p.startAttempts++;
    p.startSentAtMs = this.clockMs;
    this.counters.startsSent++;
    this.out.push({ type: 'send', to: p.node, message: { t: 'start', jobId: job.jobId, index, command: job.command } });
  }

  private receive(from: string, m: JobMessage): void {
    if (m.t === 'probe-answer') return this.probeAnswered(from, m);
    if (m.t !== 'started' && m.t !== 'end') return;
    const p = this.jobs.get(m.jobId)?.processes[m.index];
    if (p === undefined || p.node !== from) {
      this.counters.reportsRefused++;
      // An end about a job this coordinator forgot is acknowledged, so the node stops resending.
      if (m.t === 'end') this.out.push({ type: 'send', to: from, message: { t: 'end-ack', jobId: m.jobId, index: m.index } });
      return;
    }
    if (m.t === 'started') {
      if (p.state !== 'starting') return;
      this.startsInFlight--;
      p.state = 'running';
      this.out.push({ type: 'event', event: { type: 'process-running', jobId: m.jobId, index: m.index, node: from } });
      this.pumpStarts();
      return;
    }
    this.out.push({ type: 'send', to: from, message: { t: 'end-ack', jobId: m.jobId, index: m.index } });
    this.settle(m.jobId, m.index, m.exitCode);
  }

  private settle(jobId: string, index: number, exitCode: number): void {
    const job = this.jobs.get(jobId)!;
    const p = job.processes[index]!;
    if (p.state === 'ended' || p.state === 'lost') {
      this.counters.reportsIgnored++;
      return;
    }
    if (p.state === 'starting') this.startsInFlight--;
    p.state = 'ended';
    p.exitCode = exitCode;
    this.out.push({ type: 'event', event: { type: 'process-ended', jobId, index, node: p.node, exitCode } });
    this.finishIfDone(job);
  }

  /** Gives up on a process (final). Protected so a test can break the lost-node rule on purpose. */
  protected lose(jobId: string, index: number, reason: string): void {
    const job = this.jobs.get(jobId)!;
    const p = job.processes[index]!;
    if (p.state === 'ended' || p.state === 'lost') return;
    if (p.state === 'starting') this.startsInFlight--;
    p.state = 'lost';
    p.reason = reason;
    this.counters.lost++;
    this.out.push({ type: 'event', event: { type: 'process-lost', jobId, index, node: p.node, reason } });
    this.finishIfDone(job);
  }

  private finishIfDone(job: CoordinatedJob): void {
    if (job.finished || job.processes.some((p) => p.state !== 'ended' && p.state !== 'lost')) return;
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
    for (const node of departedNodes(this.live, live, this.selfId)) this.loseNode(node, `node ${node} left the membership`);
    this.live = live;
  }

  /** Unanswered probes of the last round count as failures; then every node with running processes is probed. */
  private probeAll(): void {
    for (const node of this.awaitingProbe) {
      this.counters.probesFailed++;
      if (this.probes.failed(node)) this.loseNode(node, `node ${node} left ${this.o.probeFailuresMax} probes unanswered`);
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
    if (m.round !== this.probeRound || !this.awaitingProbe.delete(from)) return;
    this.probes.answered(from);
    for (const { key, exitCode } of m.ended) {
      const k = parseProcessKeyOf(key);
      if (k !== null && this.jobs.get(k.jobId)?.processes[k.index]?.node === from) this.settle(k.jobId, k.index, exitCode);
    }
    for (const key of m.unknown) {
      const k = parseProcessKeyOf(key);
      if (k !== null && this.jobs.get(k.jobId)?.processes[k.index]?.node === from) this.lose(k.jobId, k.index, `node ${from} no longer knows the process (it restarted)`);
    }
  }
}
