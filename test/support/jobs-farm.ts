// An in-memory farm for the jobs service: several "nodes", each its job coordination
// in process (InProcessJobs: the NodeJobs composition the agent's worker stack runs)
// with a JobCoordinator and a JobWorker driving it and running real child processes,
// joined by a router that plays the farm RPC (bodies pass through JSON as on the wire;
// the coordination's messages travel as kCoordinationService, standing in for the
// messenger's jobs-coordination channel; a node marked dead never answers, so calls to
// it time out with GALAXY_RPC_TIMEOUT) and serves farm.resolve.
import type { JobCoordinatorCore, JobCoordinatorCoreOptions } from '../../src/core/jobs/job-coordinator-core.js';
import { JobCoordinator, jobsOpenOptions, type JobCoordinatorOptions, type JobsCoordinationSettings } from '../../src/farm/jobs/job-coordinator.js';
import { jobMessageOf } from '../../src/core/jobs/job-message.js';
import { InProcessJobs } from '../../src/node/driver/in-process-jobs.js';
import { JobWorker, type JobWorkerOptions } from '../../src/farm/jobs/job-worker.js';
import { jobsServices, type JobsServiceHandler } from '../../src/farm/jobs/jobs-services.js';
import { localNodeFacts } from '../../src/farm/jobs/node-facts.js';
import { ScriptCoordinator } from '../../src/farm/jobs/scripts/script-coordinator.js';
import { ScriptLogStore } from '../../src/farm/jobs/scripts/script-log-store.js';
import { scriptsServices } from '../../src/farm/jobs/scripts/scripts-services.js';

/** The router's stand-in for the messenger's jobs-coordination channel. */
export const kCoordinationService = 'test.jobs-coordination';

export interface TestNode {
  readonly id: string;
  readonly link: InProcessJobs;
  readonly coordinator: JobCoordinator;
  readonly worker: JobWorker;
  readonly services: Record<string, JobsServiceHandler>;
}

class CodedTestError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export class InMemoryFarm {
  readonly nodes = new Map<string, TestNode>();
  readonly dead = new Set<string>();
  /** Services served beside the jobs ones (e.g. scripts.*), per node. */
  readonly extra = new Map<string, Record<string, JobsServiceHandler>>();
  /** Landscapes farm.resolve knows: name -> node ids. */
  readonly landscapes = new Map<string, string[]>();
  /** Roles farm.members reports in each node's `roles` tag. */
  readonly roles = new Map<string, string[]>();
  calls = 0;

  add(
    id: string,
    options: {
      coordinator?: Partial<JobCoordinatorOptions>;
      worker?: Partial<JobWorkerOptions>;
      settings?: JobsCoordinationSettings;
      makeCoordinator?: (options: JobCoordinatorCoreOptions) => JobCoordinatorCore;
    } = {},
  ): TestNode {
    const call = (to: string, service: string, body: unknown, o?: { timeoutMs?: number }) => this.call(id, to, service, body, o?.timeoutMs ?? 10_000);
    const send = (to: string, message: unknown) => void this.call(id, to, kCoordinationService, { message }, 300).catch(() => undefined);
    const link = new InProcessJobs({ selfId: id, send, ...(options.makeCoordinator === undefined ? {} : { makeCoordinator: options.makeCoordinator }) });
    const coordinator = new JobCoordinator({ selfId: id, link, call, ...options.coordinator });
    const worker = new JobWorker({ facts: localNodeFacts(id), link, call, flushIntervalMs: 20, runner: { killGraceMs: 300, drainMs: 300 }, ...options.worker });
    link.openJobs(jobsOpenOptions({ probeIntervalMs: 200, startRetryMs: 200, startAttemptsMax: 5, endRetryMs: 200, ...options.settings }));
    const noEvents = () => {
      throw new CodedTestError('GALAXY_JOBS_INVALID', 'this node\'s coordination is in process: it takes no jobs.events');
    };
    const services: Record<string, JobsServiceHandler> = {
      ...jobsServices(coordinator, noEvents),
      [kCoordinationService]: (body, from) => {
        const message = jobMessageOf((body as { message?: unknown }).message);
        if (message === null) throw new CodedTestError('GALAXY_JOBS_INVALID', 'no coordination message');
        link.receive(from.node, message);
        return {};
      },
    };
    const node: TestNode = { id, link, coordinator, worker, services };
    this.nodes.set(id, node);
    return node;
  }

  /** Adds the scripts services to a node (its log store under `stateDir`); returns its coordinator and store. */
  addScripts(id: string, stateDir: string, events: Array<{ node: string; type: string; body: Record<string, unknown> }> = []): { coordinator: ScriptCoordinator; store: ScriptLogStore } {
    const call = (to: string, service: string, body: unknown, o?: { timeoutMs?: number }) => this.call(id, to, service, body, o?.timeoutMs ?? 10_000);
    const coordinator = new ScriptCoordinator({ selfId: id, call, raise: (type, _severity, body) => events.push({ node: id, type, body }), batchWaitMs: 2000 });
    const store = new ScriptLogStore(stateDir);
    this.extra.set(id, scriptsServices({ selfId: id, coordinator, store, call }));
    this.scriptCoordinators.push(coordinator);
    return { coordinator, store };
  }

  private readonly scriptCoordinators: ScriptCoordinator[] = [];

  /** Tells every live coordinator and worker the membership: the live nodes other than itself. */
  announce(): void {
    for (const node of this.nodes.values()) {
      if (this.dead.has(node.id)) continue;
      const peers = new Set([...this.nodes.keys()].filter((id) => id !== node.id && !this.dead.has(id)));
      node.link.members(peers);
    }
  }

  async call(from: string, to: string, service: string, body: unknown, timeoutMs: number): Promise<unknown> {
    this.calls++;
    const wire = JSON.parse(JSON.stringify(body ?? null)) as unknown;
    if (this.dead.has(to) || this.dead.has(from)) {
      await new Promise((resolve) => setTimeout(resolve, timeoutMs));
      throw new CodedTestError('GALAXY_RPC_TIMEOUT', `no answer from ${to}`);
    }
    if (service === 'farm.resolve') return this.resolve(wire as Record<string, unknown>);
    if (service === 'farm.members') {
      return [...this.nodes.keys()].map((id) => ({ id, address: '127.0.0.1:0', status: this.dead.has(id) ? 'dead' : 'alive', tags: { roles: (this.roles.get(id) ?? []).join(',') } }));
    }
    const handler = this.nodes.get(to)?.services[service] ?? this.extra.get(to)?.[service];
    if (handler === undefined) throw new CodedTestError('GALAXY_RPC_UNKNOWN_SERVICE', `no service "${service}" on ${to}`);
    try {
      return JSON.parse(JSON.stringify((await handler(wire, { node: from })) ?? null)) as unknown;
    } catch (error) {
      const coded = error as { code?: string; message?: string };
      throw new CodedTestError(coded.code ?? 'GALAXY_RPC_HANDLER', coded.message ?? String(error));
    }
  }

  async close(): Promise<void> {
    for (const coordinator of this.scriptCoordinators.splice(0)) coordinator.close();
    for (const node of this.nodes.values()) {
      node.coordinator.close();
      node.worker.killAll();
      node.link.close();
    }
    this.nodes.clear();
  }

  private resolve(body: Record<string, unknown>): string[] {
    if (Array.isArray(body['nodes'])) return (body['nodes'] as string[]).filter((id) => this.nodes.has(id));
    if (typeof body['landscape'] === 'string') {
      const nodes = this.landscapes.get(body['landscape']);
      if (nodes === undefined) throw new CodedTestError('GALAXY_LANDSCAPE_UNKNOWN', `no landscape "${body['landscape']}"`);
      return nodes;
    }
    throw new CodedTestError('GALAXY_LANDSCAPE_SQL_INVALID', 'SQL targets are not served by the in-memory farm');
  }
}
