import { JobCoordinator } from './job-coordinator.js';
import { JobWorker } from './job-worker.js';
import {
  kAddBodySchema,
  kCreateBodySchema,
  kEndedBodySchema,
  kJobsServices,
  kKillBodySchema,
  kListBodySchema,
  kOutputBodySchema,
  kProbeBodySchema,
  kShowBodySchema,
  kSignalBodySchema,
  kStartBodySchema,
  kStopBodySchema,
  kTerminateBodySchema,
  kWaitBodySchema,
  kWatchBodySchema,
  parseBody,
} from './jobs-wire.js';

/**
 * The jobs services of one node as handlers: each checks its body against its schema
 * (jobs-wire.ts) and calls the coordinator or the worker. The jobs component serves
 * these over the farm RPC; tests serve them over an in-memory router, so both run the
 * same code from the body on.
 */
export type JobsServiceHandler = (body: unknown, from: { readonly node: string }) => unknown;
export type JobsServiceName = (typeof kJobsServices)[keyof typeof kJobsServices];

export function jobsServices(coordinator: JobCoordinator, worker: JobWorker): Record<JobsServiceName, JobsServiceHandler> {
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
    [s.start]: (body, from) => {
      const b = parseBody(s.start, kStartBodySchema, body);
      return worker.start(from.node, b.jobId, b.index, b.spec);
    },
    [s.kill]: (body, from) => {
      const b = parseBody(s.kill, kKillBodySchema, body);
      return worker.kill(from.node, b.keys, b.signal);
    },
    [s.terminate]: (body, from) => worker.terminate(from.node, parseBody(s.terminate, kTerminateBodySchema, body).keys),
    [s.probe]: (body, from) => worker.probe(from.node, parseBody(s.probe, kProbeBodySchema, body).keys),
    [s.output]: (body, from) => {
      const b = parseBody(s.output, kOutputBodySchema, body);
      coordinator.output(from.node, b.jobId, b.index, b.stdout, b.stderr);
      return {};
    },
    [s.ended]: (body, from) => {
      const b = parseBody(s.ended, kEndedBodySchema, body);
      coordinator.ended(from.node, b.jobId, b.index, b.end);
      return {};
    },
  };
}
