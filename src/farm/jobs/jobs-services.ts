import type { JobCoordinator } from './job-coordinator.js';
import {
  kAddBodySchema,
  kCreateBodySchema,
  kJobsServices,
  kListBodySchema,
  kOutputBodySchema,
  kShowBodySchema,
  kSignalBodySchema,
  kStopBodySchema,
  kWaitBodySchema,
  kWatchBodySchema,
  parseBody,
} from './jobs-wire.js';

/**
 * The jobs services of one node as handlers: each checks its body against its schema
 * (jobs-wire.ts) and calls the coordinator; jobs.events hands the agent's events to
 * `events` (the component's JobsComponentLink). The jobs component serves these over the
 * farm RPC; tests serve them over an in-memory router, so both run the same code from
 * the body on.
 */
export type JobsServiceHandler = (body: unknown, from: { readonly node: string }) => unknown;
export type JobsServiceName = (typeof kJobsServices)[keyof typeof kJobsServices];

export function jobsServices(coordinator: JobCoordinator, events: (body: unknown, from: string) => void): Record<JobsServiceName, JobsServiceHandler> {
  const s = kJobsServices;
  return {
    [s.create]: (body) => {
      const b = parseBody(s.create, kCreateBodySchema, body);
      return coordinator.create(b.request, b.by);
    },
    [s.add]: (body) => {
      const b = parseBody(s.add, kAddBodySchema, body);
      return coordinator.add(b.jobId, b.request);
    },
    [s.list]: (body) => {
      parseBody(s.list, kListBodySchema, body);
      return coordinator.list();
    },
    [s.show]: (body) => {
      const b = parseBody(s.show, kShowBodySchema, body);
      return coordinator.show(b.jobId, b.output ?? false, b.process);
    },
    [s.signal]: (body) => {
      const b = parseBody(s.signal, kSignalBodySchema, body);
      return coordinator.signal(b.jobId, b.signal, b.processes);
    },
    [s.stop]: (body) => coordinator.stop(parseBody(s.stop, kStopBodySchema, body).jobId),
    [s.wait]: (body) => {
      const b = parseBody(s.wait, kWaitBodySchema, body);
      return coordinator.wait(b.jobId, b.timeoutMs);
    },
    [s.watch]: (body) => {
      const b = parseBody(s.watch, kWatchBodySchema, body);
      return coordinator.watch(b.jobId, b.after, b.timeoutMs);
    },
    [s.events]: (body, from) => {
      events(body, from.node);
      return {};
    },
    [s.output]: (body, from) => {
      const b = parseBody(s.output, kOutputBodySchema, body);
      coordinator.output(from.node, b.jobId, b.index, b.stdout, b.stderr);
      return {};
    },
  };
}
