import { z } from 'zod';
import { kJobAddSchema, kJobCreateSchema, kJobSignalSchema, kNodeIdSchema } from '../jobs/job-spec.js';
import { kProcessesPerJobMax, kWaitTimeoutMsMax } from '../jobs/jobs-limits.js';
import { kJobIdSchema } from '../jobs/jobs-wire.js';
import { kPhasesMax } from './scripts/scripts-limits.js';
import { kScriptRunSchema } from './scripts/script-spec.js';
import { kResultsPageMax, kRunIdSchema } from './scripts/scripts-wire.js';

/**
 * What the job and script routes accept in their paths, queries and bodies. The bodies
 * are the services' own request schemas (src/jobs/job-spec.ts, src/scripts/script-spec.ts),
 * so the API refuses exactly what the component would, with the field named, before
 * anything is forwarded. Queries arrive as strings and are coerced here.
 */
const kFlagSchema = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');
const kWaitMsSchema = z.coerce.number().int().min(0).max(kWaitTimeoutMsMax);

export const kJobParamsSchema = z.object({ id: kJobIdSchema }).strict();
export const kScriptParamsSchema = z.object({ id: kRunIdSchema }).strict();

export const kJobCreateBodySchema = kJobCreateSchema;
export const kJobAddBodySchema = kJobAddSchema;
export const kJobSignalBodySchema = z.object({ signal: kJobSignalSchema, processes: z.array(z.number().int().min(0).max(kProcessesPerJobMax - 1)).max(kProcessesPerJobMax).optional() }).strict();
export const kJobShowQuerySchema = z.object({ output: kFlagSchema.optional(), process: z.coerce.number().int().min(0).max(kProcessesPerJobMax - 1).optional() }).strict();
export const kJobWaitQuerySchema = z.object({ timeoutMs: kWaitMsSchema.optional() }).strict();
export const kJobOutputQuerySchema = z.object({ after: z.coerce.number().int().min(0).optional(), timeoutMs: kWaitMsSchema.optional() }).strict();

export const kScriptRunBodySchema = kScriptRunSchema;
export const kScriptShowQuerySchema = z
  .object({
    merged: kFlagSchema.optional(),
    phase: z.coerce.number().int().min(1).max(kPhasesMax).optional(),
    offset: z.coerce.number().int().min(0).optional(),
    limit: z.coerce.number().int().min(1).max(kResultsPageMax).optional(),
  })
  .strict();
export const kScriptWaitQuerySchema = z.object({ version: z.coerce.number().int().min(0).optional(), timeoutMs: kWaitMsSchema.optional() }).strict();
export const kScriptLogsQuerySchema = z.object({ node: kNodeIdSchema.optional() }).strict();
