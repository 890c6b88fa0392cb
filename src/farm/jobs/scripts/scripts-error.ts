import { CodedError } from '../../../core/util/coded-error.js';

/**
 * Stable codes for what the remote script service refuses or could not do; the API maps
 * each to a failure kind (jobs-routes.ts). ONLY APPEND, never rename.
 */
export const kScriptsErrorCodes = Object.freeze([
  /** A request, script, phase marker, batch or success rule is malformed or out of range. */
  'GALAXY_SCRIPTS_INVALID',
  /** No script run with that id on its coordinator (never started, or forgotten after it finished). */
  'GALAXY_SCRIPTS_UNKNOWN_RUN',
  /** A bound on runs or kept output would be exceeded; retry after some runs finish. */
  'GALAXY_SCRIPTS_BUSY',
  /** The run's coordinator could not be reached to forward the request. */
  'GALAXY_SCRIPTS_COORDINATOR_UNREACHABLE',
  /** The component is not initialised or is stopping. */
  'GALAXY_SCRIPTS_UNAVAILABLE',
  /** No stored log of that run on this node. */
  'GALAXY_SCRIPTS_UNKNOWN_LOG',
] as const);

export type ScriptsErrorCode = (typeof kScriptsErrorCodes)[number];

export class ScriptsError extends CodedError<ScriptsErrorCode> {}
