import { z } from 'zod';
import { JobsError } from './jobs-error.js';
import { kJobIdPattern } from './job-id.js';
import { kJobMessageKeysMax } from '../../core/jobs/job-message.js';
import { kJobAddSchema, kJobCreateSchema, kJobSignalSchema } from './job-spec.js';
import { kOutputChunkBytesMax, kProcessesPerJobMax, kWaitTimeoutMsMax } from './jobs-limits.js';
import { describeZodError } from '../../node/util/zod-issues.js';

/**
 * The services of the jobs component and the bodies they take. Two groups:
 *
 * Operator services, which the API backend forwards one to one (see
 * src/api/jobs-backend.ts) and which any node forwards to a job's coordinator:
 *   jobs.create  {request, by}                 -> JobView
 *   jobs.add     {jobId, request}              -> JobView
 *   jobs.list    {}                            -> JobSummary[]   (jobs coordinated by this node)
 *   jobs.show    {jobId, output?, process?}    -> JobView
 *   jobs.signal  {jobId, signal, processes?}   -> JobView
 *   jobs.stop    {jobId}                       -> JobView
 *   jobs.wait    {jobId, timeoutMs?}           -> JobWaitView    (long-poll until finished)
 *   jobs.watch   {jobId, after?, timeoutMs?}   -> JobWatchView   (long-poll for new output)
 *
 * Node service, from the nodes running a coordinator's processes:
 *   jobs.output     node -> coordinator   {jobId, index, stdout, stderr}  -> {}
 *     output is data, not coordination: the coordination's own messages (start, end,
 *     probe, ...) travel in the agent's worker stack, on the messenger's
 *     jobs-coordination channel (a start too big for a datagram as a stream frame).
 *
 * Agent service, from this node's agent only (jobs-component-link.ts):
 *   jobs.events     {events}   -> {}   the job coordination's events, in order
 *
 * Every body is checked on arrival (strict schemas): it came from another process, and
 * possibly another node.
 */
/** The service the agent delivers the job coordination's events to (jobs-component-link.ts). */
export const kJobsEventsService = 'jobs.events';

export const kJobsServices = {
  create: 'jobs.create',
  add: 'jobs.add',
  list: 'jobs.list',
  show: 'jobs.show',
  signal: 'jobs.signal',
  stop: 'jobs.stop',
  wait: 'jobs.wait',
  watch: 'jobs.watch',
  events: 'jobs.events',
  output: 'jobs.output',
} as const;

/** Process keys in one terminate, signal or probe at most; a coordinator sends more in several. */
export const kKeysPerMessageMax = kJobMessageKeysMax;

export const kJobIdSchema = z.string().regex(kJobIdPattern, 'a job id is <node id>-<time>-<n>, e.g. 0a1b2c3d4e5f6071-lq9x2k1c-7');
const kIndexSchema = z.number().int().min(0).max(kProcessesPerJobMax - 1);
const kWaitTimeoutSchema = z.number().int().min(0).max(kWaitTimeoutMsMax);
/** The API caller's name, recorded as the job's creator. */
const kByNameSchema = z.string().min(1).max(128);

export const kCreateBodySchema = z.object({ request: kJobCreateSchema, by: kByNameSchema }).strict();
export const kAddBodySchema = z.object({ jobId: kJobIdSchema, request: kJobAddSchema }).strict();
export const kListBodySchema = z.object({}).strict();
export const kShowBodySchema = z.object({ jobId: kJobIdSchema, output: z.boolean().optional(), process: kIndexSchema.optional() }).strict();
export const kSignalBodySchema = z.object({ jobId: kJobIdSchema, signal: kJobSignalSchema, processes: z.array(kIndexSchema).max(kProcessesPerJobMax).optional() }).strict();
export const kStopBodySchema = z.object({ jobId: kJobIdSchema }).strict();
export const kWaitBodySchema = z.object({ jobId: kJobIdSchema, timeoutMs: kWaitTimeoutSchema.optional() }).strict();
export const kWatchBodySchema = z.object({ jobId: kJobIdSchema, after: z.number().int().min(0).optional(), timeoutMs: kWaitTimeoutSchema.optional() }).strict();

export const kOutputBodySchema = z
  .object({
    jobId: kJobIdSchema,
    index: kIndexSchema,
    // UTF-16 length is at most the UTF-8 byte length the node cut the report at (both streams together).
    stdout: z.string().max(kOutputChunkBytesMax),
    stderr: z.string().max(kOutputChunkBytesMax),
  })
  .strict();

/** The body, checked; GALAXY_JOBS_INVALID naming the field otherwise. */
export function parseBody<S extends z.ZodTypeAny>(service: string, schema: S, body: unknown): z.output<S> {
  const parsed = schema.safeParse(body ?? {});
  if (parsed.success) return parsed.data as z.output<S>;
  throw new JobsError('GALAXY_JOBS_INVALID', `${service}: ${describeZodError('body', parsed.error)}`);
}
