import { performance } from 'node:perf_hooks';
import type { JobCoordinatorCore, JobCoordinatorCoreOptions } from '../../core/jobs/job-coordinator-core.js';
import type { JobMessage } from '../../core/jobs/job-message.js';
import { NodeJobs, type JobsOpenOptions, type NodeJobsEvent } from '../../core/jobs/node-jobs.js';
import { DomainError } from '../../core/util/domain-error.js';
import type { JobsCommand, JobsStackEvent } from './agent-worker-protocol.js';
import type { JobsLink } from './jobs-link.js';

export interface InProcessJobsOptions {
  /** This node's name in job coordination (its node id). */
  readonly selfId: string;
  /** Sends a coordination message to another node by name; the cores resend what they need answered, so a lost one is only lost. */
  readonly send: (to: string, message: JobMessage) => void;
  /** Timer period, ms (the worker's NodeDriver ticks job coordination every 100 ms). */
  readonly tickMs?: number;
  /** Makes the coordinator core; tests pass a deliberately broken one. */
  readonly makeCoordinator?: (options: JobCoordinatorCoreOptions) => JobCoordinatorCore;
}

/**
 * Job coordination driven in this thread, behind the same JobsLink the agent's worker
 * offers (AgentHost over the worker protocol): the same NodeJobs composition the
 * worker's NodeStack runs (coordinator and runner cores, messages to self kept inside),
 * ticked by a timer with the monotonic clock. Its messages to other nodes go out through
 * `send`, theirs come in through receive(), and the live members through members(): for
 * nodes without a worker stack (the in-memory router tests). A command's events are
 * delivered (on a microtask, in order, as the worker's reports arrive on a later turn)
 * before its promise resolves; a command the cores refuse rejects with their
 * DomainError, as over the worker protocol.
 */
export class InProcessJobs implements JobsLink {
  private jobs: NodeJobs | null = null;
  private readonly listeners = new Set<(events: readonly JobsStackEvent[]) => void>();
  private timer: NodeJS.Timeout | null = null;
  private pending: NodeJobsEvent[] = [];
  private flushQueued = false;
  private live: ReadonlySet<string> | null = null;
  private closed = false;

  constructor(private readonly options: InProcessJobsOptions) {}

  /** The composition, once open (tests read its cores' counters). */
  get nodeJobs(): NodeJobs | null {
    return this.jobs;
  }

  openJobs(options: JobsOpenOptions): void {
    if (this.jobs !== null || this.closed) return;
    this.jobs = new NodeJobs(this.options.selfId, options, performance.now(), this.options.makeCoordinator);
    if (this.live !== null) this.jobs.members(this.live);
    this.timer = setInterval(() => {
      this.jobs!.tick(performance.now());
      this.drain();
    }, this.options.tickMs ?? 100);
    this.timer.unref();
    this.drain();
  }

  commandJobs(command: JobsCommand): Promise<void> {
    const jobs = this.jobs;
    if (jobs === null || this.closed) return Promise.reject(new DomainError('unavailable', 'GALAXY_JOBS_NOT_OPEN', 'job coordination is not open on this node'));
    try {
      jobs.command(command);
    } catch (error) {
      this.drain();
      return this.flushed().then(() => {
        throw error;
      });
    }
    this.drain();
    return this.flushed();
  }

  onJobs(listener: (events: readonly JobsStackEvent[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** A coordination message from another node (by its name). */
  receive(from: string, message: JobMessage): void {
    if (this.jobs === null || this.closed) return;
    this.jobs.receive(from, message);
    this.drain();
  }

  /** The live members (alive or suspect; this node is added), each time they change. */
  members(live: ReadonlySet<string>): void {
    this.live = new Set([...live, this.options.selfId]);
    if (this.jobs === null || this.closed) return;
    this.jobs.members(this.live);
    this.drain();
  }

  /** Stops the timer; nothing more goes out or comes in. */
  close(): void {
    this.closed = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  private drain(): void {
    this.jobs!.drain({
      event: (event) => {
        this.pending.push(event);
        this.queueFlush();
      },
      send: (to, message) => {
        if (!this.closed) this.options.send(to, message);
      },
    });
  }

  private queueFlush(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    queueMicrotask(() => this.flush());
  }

  private flush(): void {
    this.flushQueued = false;
    const events = this.pending;
    if (events.length === 0) return;
    this.pending = [];
    for (const listener of [...this.listeners]) listener(events);
  }

  /** Resolves once the events queued so far were delivered. */
  private flushed(): Promise<void> {
    return new Promise((resolve) => queueMicrotask(() => {
      this.flush();
      resolve();
    }));
  }
}
