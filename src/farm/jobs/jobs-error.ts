import { CodedError } from '../../core/util/coded-error.js';

/**
 * Stable codes for what the jobs service refuses or could not do. They cross the farm
 * (a node's refusal to start a process reaches the coordinator as the RPC error's code)
 * and the API (jobs-routes.ts gives each a failure kind, which the API maps to an HTTP status), so callers match on them,
 * never on messages. ONLY APPEND, never rename.
 */
export const kJobsErrorCodes = Object.freeze([
  /** A request body, command, signal, bound or id is malformed or out of range. */
  'GALAXY_JOBS_INVALID',
  /** No job with that id on its coordinator (never created, or evicted after it finished). */
  'GALAXY_JOBS_UNKNOWN_JOB',
  /** No process with that id in the job, or on the node asked. */
  'GALAXY_JOBS_UNKNOWN_PROCESS',
  /** The job finished (or is stopping): it takes no more processes. */
  'GALAXY_JOBS_FINISHED',
  /** The target resolved to no node. */
  'GALAXY_JOBS_NO_TARGETS',
  /** A bound on jobs, processes or captured output would be exceeded; retry after some jobs finish. */
  'GALAXY_JOBS_BUSY',
  /** The agent is not root: it can run processes only as its own user. */
  'GALAXY_JOBS_USER_NOT_PERMITTED',
  /** The user to run as is not in this node's /etc/passwd. */
  'GALAXY_JOBS_USER_UNKNOWN',
  /** The process could not be started (command not found, not executable, bad cwd). */
  'GALAXY_JOBS_SPAWN_FAILED',
  /** The job's coordinator could not be reached to forward the request. */
  'GALAXY_JOBS_COORDINATOR_UNREACHABLE',
  /** The component is not initialised or is stopping. */
  'GALAXY_JOBS_UNAVAILABLE',
] as const);

export type JobsErrorCode = (typeof kJobsErrorCodes)[number];

export class JobsError extends CodedError<JobsErrorCode> {}

/** The code of anything thrown, when it has a string one (RPC errors carry the remote code). */
export function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** The message of anything thrown, cut to `lengthMax` characters (reasons travel in bounded records). */
export function errorMessage(error: unknown, lengthMax = 512): string {
  const text = error instanceof Error ? error.message || error.name : String(error);
  return text.length <= lengthMax ? text : `${text.slice(0, lengthMax - 1)}…`;
}
