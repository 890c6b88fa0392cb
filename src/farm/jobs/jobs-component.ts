import { join } from 'node:path';
import { z } from 'zod';
import { JobCoordinator, jobsOpenOptions } from './job-coordinator.js';
import { JobWorker } from './job-worker.js';
import { JobsError } from './jobs-error.js';
import { kCoordinationMessagesInFlightMax, kKillGraceMs, kProbeFailuresMax, kProbeIntervalMs, kProbeTimeoutMs } from './jobs-limits.js';
import { jobsServices, type JobsServiceHandler, type JobsServiceName } from './jobs-services.js';
import { kJobsServices } from './jobs-wire.js';
import { localNodeFacts } from './node-facts.js';
import { OrphanGroups } from './orphan-groups.js';
import { compiledModulePath } from '../../core/platform/package-root.js';
import type { JobMessage } from '../../core/jobs/job-message.js';
import { InProcessJobs } from '../../node/driver/in-process-jobs.js';
import type { ComponentSpec } from '../components/host/component-spec.js';
import { defineComponent, type ComponentContext } from '../components/sdk.js';

/**
 * The jobs service (issue 7, process and job control) as a farm service component, one
 * on every node. On each node it is both:
 *
 * - a coordinator, for the jobs created there (through the API or another component):
 *   it holds their table, starts their processes on the target nodes, takes their output
 *   and ends, answers waits and watches, and gives up on the processes of dead nodes;
 * - a worker, running the processes that coordinators anywhere ask it to start.
 *
 * Its services are listed in src/jobs/jobs-wire.ts; the API backend forwards one to one
 * to the operator ones (src/api/jobs-backend.ts).
 *
 * Job processes lead process groups of their own, outside the component's, so the
 * component host's kill of the component does not reach them: this component kills
 * them itself when it exits (its 'exit' handler, which also runs when the agent dies and
 * the IPC channel closes), and reaps those a SIGKILLed predecessor left at its init
 * (orphan-groups.ts).
 *
 * Configuration (all optional; the defaults are in jobs-limits.ts):
 *   probeIntervalMs   how often a coordinator probes nodes with running processes (200 ms to 60 s)
 *   probeTimeoutMs    timeout of the RPC carrying one coordination message (100 ms to 60 s)
 *   probeFailuresMax  unanswered probes in a row that lose a node's processes (1 to 100)
 *   killGraceMs       SIGTERM to SIGKILL on timeout and stop (0 to 60 s)
 * Shorter probes find a hung or partitioned node sooner at the cost of one RPC per node
 * with running processes per interval; a dead node is found by the membership anyway.
 */
export const kJobsConfigSchema = z
  .object({
    probeIntervalMs: z.number().int().min(200).max(60_000).default(kProbeIntervalMs),
    probeTimeoutMs: z.number().int().min(100).max(60_000).default(kProbeTimeoutMs),
    probeFailuresMax: z.number().int().min(1).max(100).default(kProbeFailuresMax),
    killGraceMs: z.number().int().min(0).max(60_000).default(kKillGraceMs),
  })
  .strict();

export type JobsConfig = z.infer<typeof kJobsConfigSchema>;

/** How long a stopping component waits for its processes' ends to reach their coordinators, ms. */
const kStopReportWaitMs = 2000;

export function parseJobsConfig(config: unknown): JobsConfig {
  const parsed = kJobsConfigSchema.safeParse(config);
  if (parsed.success) return parsed.data;
  throw new Error(`invalid jobs configuration: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
}

/** The compiled module the component host forks. */
export function jobsComponentPath(): string {
  return compiledModulePath(import.meta.url);
}

/** The spec to add the jobs service to a ComponentHost (kind "jobs"). */
export const kJobsComponent: ComponentSpec = Object.freeze({ name: 'jobs', kind: 'jobs', module: jobsComponentPath() });

interface Running {
  readonly link: InProcessJobs;
  readonly coordinator: JobCoordinator;
  readonly worker: JobWorker;
  readonly messages: { inFlight: number; failed: number };
  readonly services: Record<JobsServiceName, JobsServiceHandler>;
}

let running: Running | null = null;

function current(): Running {
  if (running === null) throw new JobsError('GALAXY_JOBS_UNAVAILABLE', 'the jobs component is not initialised');
  return running;
}

function create(ctx: ComponentContext, config: JobsConfig): Running {
  const orphans = new OrphanGroups(ctx.stateDir);
  const reaped = orphans.reap();
  if (reaped > 0) ctx.log.warn(`killed ${reaped} job process groups a previous run of this component left behind`);
  const call = (node: string, service: string, body: unknown, options?: { timeoutMs?: number }) => ctx.call(node, service, body, options);
  const log = (level: 'info' | 'warn', message: string) => ctx.log[level](message);
  // The coordination (the NodeJobs composition the worker stack runs) in this process, its messages over the farm RPC.
  const messages = { inFlight: 0, failed: 0 };
  const send = (to: string, message: JobMessage) => {
    if (messages.inFlight >= kCoordinationMessagesInFlightMax) {
      messages.failed++;
      return;
    }
    messages.inFlight++;
    call(to, kJobsServices.message, { message }, { timeoutMs: config.probeTimeoutMs })
      .catch(() => messages.failed++)
      .finally(() => messages.inFlight--);
  };
  const link = new InProcessJobs({ selfId: ctx.nodeId, send });
  const worker = new JobWorker({ facts: localNodeFacts(ctx.nodeId), link, call, runner: { killGraceMs: config.killGraceMs }, groupsChanged: (pids) => orphans.record(pids), log });
  const coordinator = new JobCoordinator({ selfId: ctx.nodeId, link, call, log });
  link.openJobs(jobsOpenOptions({ probeIntervalMs: config.probeIntervalMs, probeFailuresMax: config.probeFailuresMax }));
  // Runs on every exit, process.exit included (the runner's exit when its channel closes).
  process.on('exit', () => worker.killAll());
  return { link, coordinator, worker, messages, services: jobsServices(coordinator, (from, message) => link.receive(from, message)) };
}

const services = Object.fromEntries(
  Object.values(kJobsServices).map((name) => [name, (body: unknown, from: { readonly node: string }) => current().services[name](body, from)]),
) as Record<JobsServiceName, (body: unknown, from: { readonly node: string }) => unknown>;

export default defineComponent({
  init(ctx) {
    running = create(ctx, parseJobsConfig(ctx.config));
  },
  start() {},
  async stop() {
    const { link, coordinator, worker } = current();
    coordinator.close();
    const runner = link.nodeJobs?.runner;
    await worker.stop(kStopReportWaitMs, () => runner === undefined || ![...runner.processes.values()].some((p) => p.ended && !p.endAcked));
    link.close();
  },
  configure(config) {
    // Checked so a bad one is refused; applied at the next start (the timers are fixed per process).
    parseJobsConfig(config);
  },
  membership(peers) {
    current().link.members(new Set(peers.map((p) => p.id)));
  },
  status() {
    const { link, coordinator, worker, messages } = current();
    const cores = link.nodeJobs;
    return {
      jobs: coordinator.table.size,
      processesRunning: worker.running,
      outputReservedBytes: coordinator.table.reserved,
      coordinator: { ...coordinator.counters, ...(cores === null ? {} : { core: { ...cores.coordinator.counters } }) },
      worker: { ...worker.counters, ...(cores === null ? {} : { core: { ...cores.runner.counters } }) },
      messagesFailed: messages.failed,
    };
  },
  services,
});
