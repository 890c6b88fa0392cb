import { join } from 'node:path';
import { z } from 'zod';
import { JobCoordinator, jobsOpenOptions } from './job-coordinator.js';
import { JobWorker } from './job-worker.js';
import { JobsError } from './jobs-error.js';
import { kKillGraceMs, kProbeFailuresMax, kProbeIntervalMs, kProbeTimeoutMs } from './jobs-limits.js';
import { jobsServices, type JobsServiceHandler, type JobsServiceName } from './jobs-services.js';
import { kJobsServices } from './jobs-wire.js';
import { localNodeFacts } from './node-facts.js';
import { OrphanGroups } from './orphan-groups.js';
import { JobsComponentLink } from './jobs-component-link.js';
import { defineComponent, type ComponentContext } from '../components/sdk.js';

/**
 * The jobs service (issue 7, process and job control) as a farm service component, one
 * on every node. The job coordination itself (the JobCoordinatorCore and JobRunnerCore
 * the simulator runs) runs in the agent's worker stack, its messages on the messenger's
 * jobs-coordination channel between the nodes; this component drives it through the
 * agent (jobs-component-link.ts: farm.jobs.open, farm.jobs.command, jobs.events) and is,
 * on each node:
 *
 * - a coordinator's operator side, for the jobs created there (through the API or
 *   another component): it holds their table (specs, states, output), sends the
 *   commands, takes their output, answers waits and watches;
 * - a worker, running the processes that coordinators anywhere ask this node to run.
 *
 * The coordination's live set is every farm member alive or suspect: a process started
 * on a node whose jobs component does not run fails at once (GALAXY_JOBS_UNAVAILABLE,
 * the agent answers for it). A restarted component tells the coordination its
 * predecessor's processes are gone (host-restarted): their coordinators lose them at
 * their next probe, and the jobs its predecessor coordinated (their table is gone) are
 * stopped.
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
 *   probeTimeoutMs    accepted and no longer used (it timed the RPC that carried coordination messages)
 *   probeFailuresMax  unanswered probes in a row that lose a node's processes (1 to 100)
 *   killGraceMs       SIGTERM to SIGKILL on timeout and stop (0 to 60 s)
 * probeIntervalMs and probeFailuresMax are taken by the agent's coordination once per
 * agent run (the first start of the component): a change applies at the agent's next
 * start. Shorter probes find a hung or partitioned node sooner at the cost of one
 * datagram per node with running processes per interval; a dead node is found by the
 * membership anyway.
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

/** The compiled module the component host forks, and its spec (in a module of their own). */
export { kJobsComponent, jobsComponentPath } from './jobs-component-spec.js';

interface Running {
  readonly link: JobsComponentLink;
  readonly coordinator: JobCoordinator;
  readonly worker: JobWorker;
  readonly services: Record<JobsServiceName, JobsServiceHandler>;
}

let running: Running | null = null;
let config: JobsConfig | null = null;

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
  // The coordination runs in the agent's worker stack; this process drives it and runs the processes.
  const link = new JobsComponentLink(ctx);
  const worker = new JobWorker({ facts: localNodeFacts(ctx.nodeId), link, call, runner: { killGraceMs: config.killGraceMs }, groupsChanged: (pids) => orphans.record(pids), log });
  const coordinator = new JobCoordinator({ selfId: ctx.nodeId, link, call, log });
  // Runs on every exit, process.exit included (the runner's exit when its channel closes).
  process.on('exit', () => worker.killAll());
  return { link, coordinator, worker, services: jobsServices(coordinator, (body, from) => link.events(body, from)) };
}

const services = Object.fromEntries(
  Object.values(kJobsServices).map((name) => [name, (body: unknown, from: { readonly node: string }) => current().services[name](body, from)]),
) as Record<JobsServiceName, (body: unknown, from: { readonly node: string }) => unknown>;

export default defineComponent({
  init(ctx) {
    config = parseJobsConfig(ctx.config);
    running = create(ctx, config);
  },
  async start() {
    // The agent's coordination takes these once per agent run; a restarted component's open tells it the processes it ran are gone.
    await current().link.open(jobsOpenOptions({ probeIntervalMs: config!.probeIntervalMs, probeFailuresMax: config!.probeFailuresMax }));
  },
  async stop() {
    const { coordinator, worker } = current();
    coordinator.close();
    await worker.stop(kStopReportWaitMs);
  },
  configure(config) {
    // Checked so a bad one is refused; applied at the next start (the timers are fixed per process).
    parseJobsConfig(config);
  },
  status() {
    const { coordinator, worker } = current();
    return { jobs: coordinator.table.size, processesRunning: worker.running, outputReservedBytes: coordinator.table.reserved, coordinator: { ...coordinator.counters }, worker: { ...worker.counters } };
  },
  services,
});
