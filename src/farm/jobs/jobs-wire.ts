import { z } from 'zod';
import { JobsError } from './jobs-error.js';
import { kJobIdPattern } from './job-id.js';
import { kJobAddSchema, kJobCreateSchema, kJobSignalSchema, kProcessSpecSchema } from './job-spec.js';
import { kOutputChunkBytesMax, kProcessesPerJobMax, kReasonLengthMax, kWaitTimeoutMsMax } from './jobs-limits.js';
import { describeZodError } from '../../surface/api/zod-issues.js';

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
 * Node services, between a coordinator and the nodes running its processes:
 *   jobs.start      coordinator -> node   {jobId, index, spec}            -> {pid}
 *   jobs.kill       coordinator -> node   {keys, signal}                  -> {signalled}
 *   jobs.terminate  coordinator -> node   {keys}                          -> {terminated}
 *   jobs.probe      coordinator -> node   {keys}                          -> ProbeAnswer
 *   jobs.output     node -> coordinator   {jobId, index, stdout, stderr}  -> {}
 *   jobs.ended      node -> coordinator   {jobId, index, end}             -> {}
 *
 * Every body is checked on arrival (strict schemas): it came from another process, and
 * possibly another node.
 */
export const kJobsServices = {
  create: 'jobs.create',
  add: 'jobs.add',
  list: 'jobs.list',
  show: 'jobs.show',
  signal: 'jobs.signal',
  stop: 'jobs.stop',
  wait: 'jobs.wait',
  watch: 'jobs.watch',
  start: 'jobs.start',
  kill: 'jobs.kill',
  terminate: 'jobs.terminate',
  probe: 'jobs.probe',
  output: 'jobs.output',
  ended: 'jobs.ended',
} as const;

/** Process keys in one kill, terminate or probe at most; a coordinator sends more in several. */
export const kKeysPerMessageMax = 1024;

export const kJobIdSchema = z.string().regex(kJobIdPattern, 'a job id is <node id>-<time>-<n>, e.g. 0a1b2c3d4e5f6071-lq9x2k1c-7');
const kIndexSchema = z.number().int().min(0).max(kProcessesPerJobMax - 1);
const kProcessKeySchema = z.string().max(80).regex(/^[0-9a-f]{16}-[0-9a-z]{1,11}-[1-9][0-9]{0,8}\/[0-9]{1,5}$/, 'a process key is <job id>/<index>');
const kKeysSchema = z.array(kProcessKeySchema).max(kKeysPerMessageMax);
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

export const kStartBodySchema = z.object({ jobId: kJobIdSchema, index: kIndexSchema, spec: kProcessSpecSchema }).strict();
export const kKillBodySchema = z.object({ keys: kKeysSchema, signal: kJobSignalSchema }).strict();
export const kTerminateBodySchema = z.object({ keys: kKeysSchema }).strict();
export const kProbeBodySchema = z.object({ keys: kKeysSchema }).strict();
export const kOutputBodySchema = z
  .object({
    jobId: kJobIdSchema,
    index: kIndexSchema,
    // UTF-16 length is at most the UTF-8 byte length the node cut the report at (both streams together).
    stdout: z.string().max(kOutputChunkBytesMax),
    stderr: z.string().max(kOutputChunkBytesMax),
  })
  .strict();
export const kProcessEndSchema = z
  .object({
    exitCode: z.number().int().min(0).max(255).nullable(),
    signal: z.string().max(16).nullable(),
    timedOut: z.boolean(),
    undeliveredBytes: z.number().int().min(0),
  })
  .strict();
export const kEndedBodySchema = z.object({ jobId: kJobIdSchema, index: kIndexSchema, end: kProcessEndSchema }).strict();
export const kProbeAnswerSchema = z
  .object({
    running: z.array(z.string()).max(kKeysPerMessageMax),
    ended: z.array(z.object({ key: z.string(), end: kProcessEndSchema }).strict()).max(kKeysPerMessageMax),
    unknown: z.array(z.string()).max(kKeysPerMessageMax),
  })
  .strict();
export const kStartAnswerSchema = z.object({ pid: z.number().int().positive() }).strict();

/** A reason from another node, bounded before it is stored. */
export const kReasonSchema = z.string().max(kReasonLengthMax);

/** The body, checked; GALAXY_JOBS_INVALID naming the field otherwise. */
export function parseBody<S extends z.ZodTypeAny>(service: string, schema: S, body: unknown): z.output<S> {
  const parsed = schema.safeParse(body ?? {});
  if (parsed.success) return parsed.data as z.output<S>;
  throw new JobsError('GALAXY_JOBS_INVALID', `${service}: ${describeZodError('body', parsed.error)}`);
}
