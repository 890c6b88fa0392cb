import { z } from 'zod';
import { kJobIdPattern } from '../job-id.js';
import { kNodeIdSchema } from '../job-spec.js';
import { describeZodError } from '../../../node/util/zod-issues.js';
import { ScriptsError } from './scripts-error.js';
import { kPhasesMax, kScriptWaitMsMax } from './scripts-limits.js';
import { kScriptRunSchema } from './script-spec.js';

/**
 * The services of the scripts component and their bodies. Operator services (the API
 * backend forwards one to one, see src/api/jobs-backend.ts; any node forwards a request
 * about a run to its coordinator, named in the run id like a job's):
 *   scripts.run   {request, by}                               -> ScriptSummary
 *   scripts.list  {}                                          -> ScriptSummary[]  (runs coordinated here)
 *   scripts.show  {runId, merged?, phase?, offset?, limit?}   -> ScriptView
 *   scripts.stop  {runId}                                     -> ScriptSummary
 *   scripts.wait  {runId, version?, timeoutMs?}               -> ScriptProgress   (long-poll for the next change)
 *   scripts.logs  {node?, runId?}                             -> StoredLogEntry[] | StoredLog  (logs kept on a management node)
 * Between nodes:
 *   scripts.log   coordinator -> management node  {record}    -> {}
 */
export const kScriptsServices = {
  run: 'scripts.run',
  list: 'scripts.list',
  show: 'scripts.show',
  stop: 'scripts.stop',
  wait: 'scripts.wait',
  logs: 'scripts.logs',
  log: 'scripts.log',
} as const;

/** Per-node results returned by one show at most. */
export const kResultsPageMax = 500;

export const kRunIdSchema = z.string().regex(kJobIdPattern, 'a script run id is <node id>-<time>-<n>, e.g. 0a1b2c3d4e5f6071-lq9x2k1c-7');
const kByNameSchema = z.string().min(1).max(96);

export const kRunBodySchema = z.object({ request: kScriptRunSchema, by: kByNameSchema }).strict();
export const kListBodySchema = z.object({}).strict();
export const kShowBodySchema = z
  .object({
    runId: kRunIdSchema,
    merged: z.boolean().optional(),
    phase: z.number().int().min(1).max(kPhasesMax).optional(),
    offset: z.number().int().min(0).optional(),
    limit: z.number().int().min(1).max(kResultsPageMax).optional(),
  })
  .strict();
export const kStopBodySchema = z.object({ runId: kRunIdSchema }).strict();
export const kWaitBodySchema = z.object({ runId: kRunIdSchema, version: z.number().int().min(0).optional(), timeoutMs: z.number().int().min(0).max(kScriptWaitMsMax).optional() }).strict();
export const kLogsBodySchema = z.object({ node: kNodeIdSchema.optional(), runId: kRunIdSchema.optional() }).strict();
/** The record is checked for its id and size by the store; its shape is the sender's view (trusted farm member). */
export const kLogBodySchema = z.object({ record: z.object({ id: kRunIdSchema }).passthrough() }).strict();

export function parseBody<S extends z.ZodTypeAny>(service: string, schema: S, body: unknown): z.output<S> {
  const parsed = schema.safeParse(body ?? {});
  if (parsed.success) return parsed.data as z.output<S>;
  throw new ScriptsError('GALAXY_SCRIPTS_INVALID', `${service}: ${describeZodError('body', parsed.error)}`);
}
