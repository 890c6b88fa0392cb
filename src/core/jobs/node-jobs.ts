import { JobCoordinatorCore, type JobCoordinatorCoreOptions, type JobEvent } from './job-coordinator-core.js';
import { isCoordinatorBound, type JobMessage, type ProcessEndDetail } from './job-message.js';
import { JobRunnerCore, type JobRunnerCoreOptions } from './job-runner-core.js';

/** What job coordination opened on a node needs: the cores' options but their names and clocks. */
export interface JobsOpenOptions {
  readonly coordinator?: Omit<JobCoordinatorCoreOptions, 'nowMs' | 'selfId'>;
  readonly runner?: Omit<JobRunnerCoreOptions, 'nowMs'>;
}

/** The operator's and the process host's inputs to one node's job coordination. */
export type NodeJobsCommand =
  /** Creates a job coordinated by this node, running `command` once on each of `nodes` (by their job names). */
  | { readonly type: 'create-job'; readonly jobId: string; readonly command: string; readonly nodes: readonly string[] }
  /** More processes for a job this node coordinates. */
  | { readonly type: 'add-job'; readonly jobId: string; readonly command: string; readonly nodes: readonly string[] }
  /** The operator's stop of a job this node coordinates. */
  | { readonly type: 'stop-job'; readonly jobId: string }
  /** The operator's signal to a job's running processes (all, or the given indexes). */
  | { readonly type: 'signal-job'; readonly jobId: string; readonly signal: string; readonly indexes?: readonly number[] }
  /** The host started a process this node was asked to run (runner.confirmLaunches): its pid. */
  | { readonly type: 'launched'; readonly jobId: string; readonly index: number; readonly pid: number }
  /** The host could not start it (runner.confirmLaunches): why. */
  | { readonly type: 'launch-failed'; readonly jobId: string; readonly index: number; readonly reason: string }
  /** A process this node ran (a 'run' event) has exited. */
  | ({ readonly type: 'exited'; readonly jobId: string; readonly index: number; readonly exitCode: number | null } & ProcessEndDetail)
  /**
   * The host restarted (the agent's jobs component): the processes it ran are gone
   * unseen (JobRunnerCore's 'host-restarted'), and so is its operator table of the jobs
   * this node coordinates, which nobody can wait for, stop or read any more: they are
   * stopped (their running processes terminated, the pending ones cancelled).
   */
  | { readonly type: 'host-restarted'; readonly reason: string };

/** What one node's job coordination tells its host. */
export type NodeJobsEvent =
  /** The coordinator's process and job events (for the operator's table). */
  | { readonly layer: 'jobs'; readonly event: JobEvent }
  /** The host must run this process, then send an 'exited' command (with runner.confirmLaunches, first 'launched' or 'launch-failed'). */
  | { readonly layer: 'run'; readonly jobId: string; readonly index: number; readonly command: string }
  /** The host must terminate a process it runs (a coordinator's stop, or its coordinator left the membership). */
  | { readonly layer: 'terminate'; readonly jobId: string; readonly index: number }
  /** The host must send this signal to a process it runs. */
  | { readonly layer: 'signal'; readonly jobId: string; readonly index: number; readonly signal: string };

/** Where one round of outputs goes: events to the host, messages to other nodes (never to self: those are fed back here). */
export interface NodeJobsSink {
  event(event: NodeJobsEvent): void;
  send(to: string, message: JobMessage): void;
}

/**
 * One node's job coordination, pure: the coordinator core (the jobs this node created)
 * and the runner core (the processes others asked it to run), composed as the node
 * stack composes them and nothing else: a coordinator-bound message goes to the
 * coordinator, any other to the runner; the live members go to both; a message to this
 * node itself never leaves it. NodeStack runs one inside the stack (its messages in
 * envelopes of the jobs-coordination channel); InProcessJobs (src/node/driver) runs one
 * in a thread of its own for nodes without a worker stack. No I/O, no clock but the
 * ticks it is given.
 */
export class NodeJobs {
  readonly coordinator: JobCoordinatorCore;
  readonly runner: JobRunnerCore;

  constructor(
    /** This node's name in job coordination (its address, or its sender id). */
    readonly selfName: string,
    options: JobsOpenOptions,
    nowMs: number,
    makeCoordinator?: (options: JobCoordinatorCoreOptions) => JobCoordinatorCore,
  ) {
    const coordinatorOptions = { ...options.coordinator, selfId: selfName, nowMs };
    this.coordinator = makeCoordinator?.(coordinatorOptions) ?? new JobCoordinatorCore(coordinatorOptions);
    this.runner = new JobRunnerCore({ ...options.runner, nowMs });
  }

  command(c: NodeJobsCommand): void {
    switch (c.type) {
      case 'create-job':
        this.coordinator.step({ type: 'create', jobId: c.jobId, command: c.command, nodes: c.nodes });
        return;
      case 'add-job':
        this.coordinator.step({ type: 'add', jobId: c.jobId, command: c.command, nodes: c.nodes });
        return;
      case 'stop-job':
        this.coordinator.step({ type: 'stop', jobId: c.jobId });
        return;
      case 'signal-job':
        this.coordinator.step({ type: 'signal', jobId: c.jobId, signal: c.signal, ...(c.indexes === undefined ? {} : { indexes: c.indexes }) });
        return;
      case 'launched':
        this.runner.step({ type: 'launched', jobId: c.jobId, index: c.index, pid: c.pid });
        return;
      case 'launch-failed':
        this.runner.step({ type: 'launch-failed', jobId: c.jobId, index: c.index, reason: c.reason });
        return;
      case 'exited': {
        const { type: _type, ...exited } = c;
        this.runner.step({ type: 'exited', ...exited });
        return;
      }
      case 'host-restarted':
        this.runner.step(c);
        for (const job of [...this.coordinator.jobs.values()]) if (!job.finished && !job.stopping) this.coordinator.step({ type: 'stop', jobId: job.jobId });
        return;
    }
  }

  /** A message from another node (by its job name): coordinator-bound ones to the coordinator, the rest to the runner. */
  receive(from: string, message: JobMessage): void {
    if (isCoordinatorBound(message)) this.coordinator.step({ type: 'message', from, message });
    else this.runner.step({ type: 'message', from, message });
  }

  /**
   * Membership's live nodes (alive or suspect; this node included), each time they
   * change. Both cores keep one copy (neither changes the set it is given): a node of a
   * 10,000-node farm holds one set of 10,000 names for its jobs, not two.
   */
  members(live: ReadonlySet<string>): void {
    const copy: ReadonlySet<string> = new Set(live);
    this.coordinator.step({ type: 'members', live: copy });
    this.runner.step({ type: 'members', live: copy });
  }

  tick(nowMs: number): void {
    this.coordinator.tick(nowMs);
    this.runner.tick(nowMs);
  }

  /** Whether a tick can do anything (a job running or starting, an end report unacknowledged). */
  get busy(): boolean {
    return this.coordinator.busy || this.runner.busy;
  }

  /**
   * One round: the coordinator's outputs, then the runner's, into the sink; a message to
   * this node is fed back at once (its outputs come in the next round). Returns whether
   * anything moved; call until it returns false to drain.
   */
  drainOnce(sink: NodeJobsSink): boolean {
    // Copies of the batches: feeding a message to self may queue more outputs on the same core.
    const c = this.coordinator.ready().slice();
    this.coordinator.advance();
    const r = this.runner.ready().slice();
    this.runner.advance();
    for (const o of c) {
      if (o.type === 'event') sink.event({ layer: 'jobs', event: o.event });
      else this.route(sink, o.to, o.message);
    }
    for (const o of r) {
      if (o.type === 'run') sink.event({ layer: 'run', jobId: o.jobId, index: o.index, command: o.command });
      else if (o.type === 'terminate') sink.event({ layer: 'terminate', jobId: o.jobId, index: o.index });
      else if (o.type === 'signal') sink.event({ layer: 'signal', jobId: o.jobId, index: o.index, signal: o.signal });
      else this.route(sink, o.to, o.message);
    }
    return c.length + r.length > 0;
  }

  /** Drains until quiet (bounded: the cores feeding each other forever is a wiring bug). */
  drain(sink: NodeJobsSink): void {
    for (let rounds = 0; this.drainOnce(sink); rounds++) {
      if (rounds > 64) throw new Error('NodeJobs.drain: the cores keep feeding each other (a wiring loop)');
    }
  }

  private route(sink: NodeJobsSink, to: string, message: JobMessage): void {
    if (to === this.selfName) this.receive(to, message);
    else sink.send(to, message);
  }
}
