import type { JobCoordinator } from './job-coordinator.js';
import { jobMessageOf, type JobMessage } from '../../core/jobs/job-message.js';
import { JobsError } from './jobs-error.js';
import {
  kAddBodySchema,
  kCreateBodySchema,
  kJobsServices,
  kListBodySchema,
  kMessageBodySchema,
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
 * (jobs-wire.ts) and calls the coordinator; jobs.message hands a coordination message
 * to `receive` (the node's InProcessJobs: coordination whose messages travel over the
 * farm RPC). The jobs component serves these over the farm RPC; tests serve them over an
 * in-memory router, so both run the same code from the body on.
 */
export type JobsServiceHandler = (body: unknown, from: { readonly node: string }) => unknown;
export type JobsServiceName = (typeof kJobsServices)[keyof typeof kJobsServices];

export function jobsServices(coordinator: JobCoordinator, receive: (from: string, message: JobMessage) => void): Record<JobsServiceName, JobsServiceHandler> {
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
    [s.message]: (body, from) => {
      const message = jobMessageOf(parseBody(s.message, kMessageBodySchema, body).message);
      if (message === null) throw new JobsError('GALAXY_JOBS_INVALID', `${s.message}: the body carries no job coordination message`);
      // The coordination routes it: the coordinator the answers, the runner the rest.
      receive(from.node, message);
      return {};
    },
    [s.output]: (body, from) => {
      const b = parseBody(s.output, kOutputBodySchema, body);
      coordinator.output(from.node, b.jobId, b.index, b.stdout, b.stderr);
      return {};
    },
  };
}
