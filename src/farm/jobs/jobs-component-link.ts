import { z } from 'zod';
import type { JobsOpenOptions } from '../../core/jobs/node-jobs.js';
import type { JobsCommand, JobsStackEvent } from '../../node/driver/agent-worker-protocol.js';
import type { JobsLink } from '../../node/driver/jobs-link.js';
import { errorMessage, JobsError } from './jobs-error.js';
import { kJobsEventsService } from './jobs-wire.js';

/**
 * The link between the agent's job coordination (a JobsLink: the worker's NodeStack
 * behind AgentHost) and the jobs component, which runs in a child process of its own.
 * It rides the component's farm RPC bridge, with no traffic off the node:
 *
 *   component -> agent   farm.jobs.open     {options}   opens the coordination (once per
 *                                                       agent run; a later open, from a
 *                                                       restarted component, tells the
 *                                                       coordination its processes are gone)
 *                        farm.jobs.command  {command}   one job command; answered after
 *                                                       its events were delivered
 *   agent -> component   jobs.events        {events}    the coordination's events, in order
 *
 * The farm.* names are the agent's own (no component can serve them, no other node can
 * call them: the bridge answers this node's farm.* calls locally), and only the component
 * named `component` may use them. jobs.events is taken only from this node.
 *
 * JobsComponentPort is the agent's side, JobsComponentLink the component's.
 */
export const kJobsLinkServices = { open: 'farm.jobs.open', command: 'farm.jobs.command' } as const;

/** JSON characters of one jobs.events body at most (below the bridge's 1 MiB body limit; a start's spec is at most 256 KiB). */
const kEventsJsonCharsMax = 768 * 1024;

const kOpenBodySchema = z.object({ options: z.object({ coordinator: z.record(z.unknown()).optional(), runner: z.record(z.unknown()).optional() }).strict() }).strict();
const kCommandTypes = ['create-job', 'add-job', 'stop-job', 'signal-job', 'launched', 'launch-failed', 'exited'] as const;
const kCommandBodySchema = z.object({ command: z.object({ type: z.enum(kCommandTypes) }).passthrough() }).strict();

export interface JobsComponentPortOptions {
  /** The agent's job coordination (AgentHost). */
  readonly link: JobsLink;
  /** The component allowed to drive it (kJobsComponent.name). */
  readonly component: string;
  /** Calls the component's jobs.events service (ComponentHost.request); rejects when it does not run. */
  readonly deliver: (body: { readonly events: readonly JobsStackEvent[] }) => Promise<unknown>;
  readonly log?: (level: 'info' | 'warn', message: string) => void;
}

export interface JobsComponentPortCounters {
  opens: number;
  commands: number;
  /** Event batches the component did not take (not running): its 'run' events were failed at once. */
  deliveriesFailed: number;
  /** Calls refused: from another component, or a malformed body. */
  refused: number;
}

/**
 * The agent's side: serves farm.jobs.open and farm.jobs.command to the jobs component
 * and delivers the coordination's events to it. A process the coordination asks this
 * node to run while the component does not run (stopped, restarting, not installed
 * here) fails at once (launch-failed, GALAXY_JOBS_UNAVAILABLE) instead of waiting for
 * its coordinator's start attempts to run out.
 */
export class JobsComponentPort {
  readonly counters: JobsComponentPortCounters = { opens: 0, commands: 0, deliveriesFailed: 0, refused: 0 };
  private opened = false;
  private readonly unsubscribe: () => void;

  constructor(private readonly options: JobsComponentPortOptions) {
    this.unsubscribe = options.link.onJobs((events) => this.deliver(events));
  }

  /** Whether `service` is one of this port's (farm.jobs.*). */
  serves(service: string): boolean {
    return service === kJobsLinkServices.open || service === kJobsLinkServices.command;
  }

  /** One call of the component named `caller`. */
  async serve(service: string, body: unknown, caller: string | undefined): Promise<unknown> {
    if (caller !== this.options.component) {
      this.counters.refused++;
      throw new JobsError('GALAXY_JOBS_INVALID', `${service} is the ${this.options.component} component's alone`);
    }
    if (service === kJobsLinkServices.open) {
      const parsed = kOpenBodySchema.safeParse(body);
      if (!parsed.success) return this.refuse(service);
      this.counters.opens++;
      if (!this.opened) {
        this.opened = true;
        this.options.link.openJobs(parsed.data.options as JobsOpenOptions);
        return {};
      }
      // A restarted component: what its predecessor ran was killed (or reaped at its init) unseen.
      await this.hostRestarted();
      return {};
    }
    const parsed = kCommandBodySchema.safeParse(body);
    if (!parsed.success) return this.refuse(service);
    this.counters.commands++;
    await this.options.link.commandJobs(parsed.data.command as unknown as JobsCommand);
    return {};
  }

  /**
   * The component stopped, crashed or failed: the processes it ran are gone (killed by
   * its exit handler, or reaped by its successor), so the coordination forgets them and
   * their coordinators lose them at their next probe.
   */
  componentGone(): void {
    if (this.opened) void this.hostRestarted().catch(() => undefined);
  }

  close(): void {
    this.unsubscribe();
  }

  private hostRestarted(): Promise<void> {
    return this.options.link.commandJobs({ type: 'host-restarted', reason: 'GALAXY_JOBS_UNAVAILABLE: the jobs component restarted before the process started' });
  }

  private refuse(service: string): never {
    this.counters.refused++;
    throw new JobsError('GALAXY_JOBS_INVALID', `${service}: malformed body`);
  }

  /** The events in bodies under kEventsJsonCharsMax, in order (IPC keeps it). */
  private deliver(events: readonly JobsStackEvent[]): void {
    let batch: JobsStackEvent[] = [];
    let chars = 0;
    for (const event of events) {
      const size = event.layer === 'run' ? event.command.length + 256 : 512;
      if (batch.length > 0 && chars + size > kEventsJsonCharsMax) {
        this.send(batch);
        batch = [];
        chars = 0;
      }
      batch.push(event);
      chars += size;
    }
    if (batch.length > 0) this.send(batch);
  }

  private send(events: readonly JobsStackEvent[]): void {
    this.options.deliver({ events }).catch((error: unknown) => {
      this.counters.deliveriesFailed++;
      const runs = events.filter((e): e is Extract<JobsStackEvent, { layer: 'run' }> => e.layer === 'run');
      if (runs.length > 0) this.options.log?.('warn', `the jobs component did not take ${runs.length} process starts (${errorMessage(error)}): failed`);
      for (const run of runs) {
        this.options.link
          .commandJobs({ type: 'launch-failed', jobId: run.jobId, index: run.index, reason: `GALAXY_JOBS_UNAVAILABLE: the jobs component does not run on this node (${errorMessage(error)})` })
          .catch(() => undefined);
      }
    });
  }
}

/** What the component's link needs of its context (ComponentContext.call and nodeId). */
export interface JobsComponentLinkContext {
  readonly nodeId: string;
  call(node: string, service: string, body: unknown, options?: { timeoutMs?: number }): Promise<unknown>;
}

/** Answer timeout of one farm.jobs.* call, ms (the agent answers at once; the worker within a tick). */
const kLinkCallTimeoutMs = 30_000;

/**
 * The component's side: a JobsLink over farm.jobs.* calls to its own node, with the
 * events its jobs.events service receives (the component serves kJobsEventsService and
 * hands each body to events()).
 */
export class JobsComponentLink implements JobsLink {
  private readonly listeners = new Set<(events: readonly JobsStackEvent[]) => void>();

  constructor(private readonly ctx: JobsComponentLinkContext) {}

  /** Opens the agent's coordination; rejects when the agent runs none for this component (GALAXY_RPC_UNKNOWN_SERVICE, refused). */
  async open(options: JobsOpenOptions): Promise<void> {
    await this.ctx.call(this.ctx.nodeId, kJobsLinkServices.open, { options }, { timeoutMs: kLinkCallTimeoutMs });
  }

  openJobs(options: JobsOpenOptions): void {
    void this.open(options).catch(() => undefined);
  }

  async commandJobs(command: JobsCommand): Promise<void> {
    await this.ctx.call(this.ctx.nodeId, kJobsLinkServices.command, { command }, { timeoutMs: kLinkCallTimeoutMs });
  }

  onJobs(listener: (events: readonly JobsStackEvent[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** A jobs.events body from `from`; only this node's agent may send them. */
  events(body: unknown, from: string): void {
    if (from !== this.ctx.nodeId) throw new JobsError('GALAXY_JOBS_INVALID', `${kJobsEventsService} is taken only from this node`);
    const events = (body as { events?: unknown } | null)?.events;
    if (!Array.isArray(events)) throw new JobsError('GALAXY_JOBS_INVALID', `${kJobsEventsService}: the body carries no events`);
    for (const listener of [...this.listeners]) listener(events as JobsStackEvent[]);
  }
}
