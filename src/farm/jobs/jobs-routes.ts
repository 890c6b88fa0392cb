import { DomainError, type FailureKind } from '../../core/util/domain-error.js';
import { kJobsErrorCodes, type JobsErrorCode } from './jobs-error.js';
import { kScriptsErrorCodes, type ScriptsErrorCode } from './scripts/scripts-error.js';
import { by, ok, route, type ApiRoute } from '../../surface/api/api-route.js';
import { kEmptyBodySchema } from '../../surface/api/api-schemas.js';
import type { JobsBackend } from './jobs-backend.js';
import {
  kJobAddBodySchema,
  kJobCreateBodySchema,
  kJobOutputQuerySchema,
  kJobParamsSchema,
  kJobShowQuerySchema,
  kJobSignalBodySchema,
  kJobWaitQuerySchema,
  kScriptLogsQuerySchema,
  kScriptParamsSchema,
  kScriptRunBodySchema,
  kScriptShowQuerySchema,
  kScriptWaitQuerySchema,
} from './jobs-schemas.js';

/**
 * The job and script routes (issue 7). An operator runs and controls jobs and scripts;
 * a viewer only reads them (lists, shows, waits, output and logs).
 *
 *   POST /v1/jobs                      operator  {target, command, timeoutMs?, memoryMb?, user?, env?, cwd?, outputBytesMax?} -> 201 job
 *   GET  /v1/jobs                      viewer    jobs coordinated by this node, newest first
 *   GET  /v1/jobs/:id                  viewer    ?output=true&process=N: the job (any node's: forwarded)
 *   POST /v1/jobs/:id/processes        operator  {target, command?, ...}: more processes in a running job
 *   POST /v1/jobs/:id/signal           operator  {signal, processes?}
 *   POST /v1/jobs/:id/stop             operator  SIGTERM, SIGKILL after the grace; the job ends `stopped`
 *   GET  /v1/jobs/:id/wait             viewer    ?timeoutMs (<= 25 s): {finished, job}
 *   GET  /v1/jobs/:id/output           viewer    ?after=SEQ&timeoutMs: {job, chunks, next, gap} (long-poll)
 *   POST /v1/scripts                   operator  {target, script, phases?, batch?, minSuccess?, args?, ...} -> 201 run
 *   GET  /v1/scripts                   viewer    runs coordinated by this node
 *   GET  /v1/scripts/:id               viewer    ?merged=true | ?phase=N&offset&limit
 *   POST /v1/scripts/:id/stop          operator
 *   GET  /v1/scripts/:id/wait          viewer    ?version&timeoutMs: {version, finished, run} (long-poll for progress)
 *   GET  /v1/script-logs               viewer    ?node=ID: logs kept on a management node
 *   GET  /v1/script-logs/:id           viewer    ?node=ID: one kept log
 *
 * Long-polls hold at most 25 s, under the API client's 30 s request timeout.
 */

/** Each jobs error code as a failure kind (the API layer turns kinds into HTTP statuses); exhaustive, so a new code needs a decision here. */
const kJobsKind: Readonly<Record<JobsErrorCode, FailureKind>> = {
  GALAXY_JOBS_INVALID: 'invalid',
  GALAXY_JOBS_UNKNOWN_JOB: 'not-found',
  GALAXY_JOBS_UNKNOWN_PROCESS: 'not-found',
  GALAXY_JOBS_FINISHED: 'conflict',
  GALAXY_JOBS_NO_TARGETS: 'invalid',
  GALAXY_JOBS_BUSY: 'unavailable',
  GALAXY_JOBS_USER_NOT_PERMITTED: 'forbidden',
  GALAXY_JOBS_USER_UNKNOWN: 'invalid',
  GALAXY_JOBS_SPAWN_FAILED: 'invalid',
  GALAXY_JOBS_COORDINATOR_UNREACHABLE: 'upstream-failed',
  GALAXY_JOBS_UNAVAILABLE: 'unavailable',
};

const kScriptsKind: Readonly<Record<ScriptsErrorCode, FailureKind>> = {
  GALAXY_SCRIPTS_INVALID: 'invalid',
  GALAXY_SCRIPTS_UNKNOWN_RUN: 'not-found',
  GALAXY_SCRIPTS_BUSY: 'unavailable',
  GALAXY_SCRIPTS_COORDINATOR_UNREACHABLE: 'upstream-failed',
  GALAXY_SCRIPTS_UNAVAILABLE: 'unavailable',
  GALAXY_SCRIPTS_UNKNOWN_LOG: 'not-found',
};

/** Codes from the layers under the services: the component link, and target resolution. */
const kOtherKind: Readonly<Record<string, FailureKind>> = {
  GALAXY_RPC_TIMEOUT: 'timeout',
  GALAXY_RPC_BUSY: 'unavailable',
  GALAXY_RPC_NOT_RUNNING: 'unavailable',
  GALAXY_RPC_UNKNOWN_SERVICE: 'unavailable',
  GALAXY_RPC_UNAVAILABLE: 'unavailable',
  GALAXY_RPC_TOO_LARGE: 'too-large',
  GALAXY_RPC_BAD_REQUEST: 'invalid',
  GALAXY_COMPONENT_UNKNOWN: 'unavailable',
  // The farm's answer to farm.resolve: a named node that is not a live member, a request it could not read.
  GALAXY_FARM_UNKNOWN_NODE: 'invalid',
  GALAXY_FARM_BAD_REQUEST: 'invalid',
  // A node without a landscape engine cannot resolve landscapes or statements at all.
  GALAXY_LANDSCAPE_UNAVAILABLE: 'unavailable',
};

const kJobsCodes: ReadonlySet<string> = new Set(kJobsErrorCodes);
const kScriptsCodes: ReadonlySet<string> = new Set(kScriptsErrorCodes);

/** The failure kind of a coded error from the services, or null (an internal error with a generic message). */
export function kindOfCode(code: string): FailureKind | null {
  if (kJobsCodes.has(code)) return kJobsKind[code as JobsErrorCode];
  if (kScriptsCodes.has(code)) return kScriptsKind[code as ScriptsErrorCode];
  if (code in kOtherKind) return kOtherKind[code]!;
  // farm.resolve refusing a target: an unknown landscape is a 404, a bad statement a 400.
  if (code.startsWith('GALAXY_LANDSCAPE_')) return /UNKNOWN|NOT_FOUND/.test(code) ? 'not-found' : 'invalid';
  return null;
}

/** Runs a backend call; a coded error becomes a DomainError with its code, its message and the kind above. */
async function mapped<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    const kind = typeof code === 'string' ? kindOfCode(code) : null;
    if (kind !== null && !(error instanceof DomainError)) throw new DomainError(kind, code as string, (error as Error).message);
    throw error;
  }
}

export function jobsRoutes(backend: JobsBackend): ApiRoute[] {
  return [
    route({
      method: 'POST',
      pattern: '/v1/jobs',
      role: 'operator',
      body: kJobCreateBodySchema,
      handle: async ({ body, caller }) => ({ status: 201, json: await mapped(() => backend.createJob(body, by(caller))) }),
    }),
    route({ method: 'GET', pattern: '/v1/jobs', role: 'viewer', handle: async () => ok(await mapped(() => backend.listJobs())) }),
    route({
      method: 'GET',
      pattern: '/v1/jobs/:id',
      role: 'viewer',
      params: kJobParamsSchema,
      query: kJobShowQuerySchema,
      handle: async ({ params, query }) => ok(await mapped(() => backend.showJob(params.id, { ...(query.output === undefined ? {} : { output: query.output }), ...(query.process === undefined ? {} : { process: query.process }) }))),
    }),
    route({
      method: 'POST',
      pattern: '/v1/jobs/:id/processes',
      role: 'operator',
      params: kJobParamsSchema,
      body: kJobAddBodySchema,
      handle: async ({ params, body }) => ok(await mapped(() => backend.addProcesses(params.id, body))),
    }),
    route({
      method: 'POST',
      pattern: '/v1/jobs/:id/signal',
      role: 'operator',
      params: kJobParamsSchema,
      body: kJobSignalBodySchema,
      handle: async ({ params, body }) => ok(await mapped(() => backend.signalJob(params.id, body.signal, body.processes))),
    }),
    route({
      method: 'POST',
      pattern: '/v1/jobs/:id/stop',
      role: 'operator',
      params: kJobParamsSchema,
      body: kEmptyBodySchema,
      bodyOptional: true,
      handle: async ({ params }) => ok(await mapped(() => backend.stopJob(params.id))),
    }),
    route({
      method: 'GET',
      pattern: '/v1/jobs/:id/wait',
      role: 'viewer',
      params: kJobParamsSchema,
      query: kJobWaitQuerySchema,
      handle: async ({ params, query }) => ok(await mapped(() => backend.waitJob(params.id, query.timeoutMs))),
    }),
    route({
      method: 'GET',
      pattern: '/v1/jobs/:id/output',
      role: 'viewer',
      params: kJobParamsSchema,
      query: kJobOutputQuerySchema,
      handle: async ({ params, query }) => ok(await mapped(() => backend.watchJob(params.id, query.after, query.timeoutMs))),
    }),

    route({
      method: 'POST',
      pattern: '/v1/scripts',
      role: 'operator',
      body: kScriptRunBodySchema,
      handle: async ({ body, caller }) => ({ status: 201, json: await mapped(() => backend.runScript(body, by(caller))) }),
    }),
    route({ method: 'GET', pattern: '/v1/scripts', role: 'viewer', handle: async () => ok(await mapped(() => backend.listScripts())) }),
    route({
      method: 'GET',
      pattern: '/v1/scripts/:id',
      role: 'viewer',
      params: kScriptParamsSchema,
      query: kScriptShowQuerySchema,
      handle: async ({ params, query }) => ok(await mapped(() => backend.showScript(params.id, definedOnly(query)))),
    }),
    route({
      method: 'POST',
      pattern: '/v1/scripts/:id/stop',
      role: 'operator',
      params: kScriptParamsSchema,
      body: kEmptyBodySchema,
      bodyOptional: true,
      handle: async ({ params }) => ok(await mapped(() => backend.stopScript(params.id))),
    }),
    route({
      method: 'GET',
      pattern: '/v1/scripts/:id/wait',
      role: 'viewer',
      params: kScriptParamsSchema,
      query: kScriptWaitQuerySchema,
      handle: async ({ params, query }) => ok(await mapped(() => backend.waitScript(params.id, query.version, query.timeoutMs))),
    }),
    route({ method: 'GET', pattern: '/v1/script-logs', role: 'viewer', query: kScriptLogsQuerySchema, handle: async ({ query }) => ok(await mapped(() => backend.scriptLogs(query.node))) }),
    route({
      method: 'GET',
      pattern: '/v1/script-logs/:id',
      role: 'viewer',
      params: kScriptParamsSchema,
      query: kScriptLogsQuerySchema,
      handle: async ({ params, query }) => ok(await mapped(() => backend.scriptLogs(query.node, params.id))),
    }),
  ];
}

function definedOnly<T extends Record<string, unknown>>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
