import { JobsError } from './jobs-error.js';

/**
 * A job's id names its coordinator: `<coordinator node id>-<creation ms, base 36>-<n>`,
 * e.g. `0a1b2c3d4e5f6071-lq9x2k1c-7`. Any node can then forward a request about the job
 * to the one node that holds it, without a farm-wide directory. The creation time makes
 * ids from a restarted coordinator (whose counter starts again at 1) differ from those
 * of its previous life, so a late report for an old job never lands in a new one.
 */
export const kJobIdPattern = /^([0-9a-f]{16})-([0-9a-z]{1,11})-([1-9][0-9]{0,8})$/;

export function makeJobId(coordinator: string, createdAtMs: number, sequence: number): string {
  if (!/^[0-9a-f]{16}$/.test(coordinator)) throw new RangeError(`a coordinator node id is 16 lowercase hex digits, got "${coordinator}"`);
  if (!Number.isSafeInteger(createdAtMs) || createdAtMs < 0) throw new RangeError(`createdAtMs must be a non-negative integer, got ${createdAtMs}`);
  if (!Number.isSafeInteger(sequence) || sequence < 1 || sequence > 999_999_999) throw new RangeError(`a job sequence number is 1 to 999999999, got ${sequence}`);
  return `${coordinator}-${createdAtMs.toString(36)}-${sequence}`;
}

/** The node that coordinates the job; throws GALAXY_JOBS_INVALID for a malformed id. */
export function jobCoordinator(jobId: string): string {
  const match = kJobIdPattern.exec(jobId);
  if (match === null) throw new JobsError('GALAXY_JOBS_INVALID', `"${jobId.slice(0, 64)}" is not a job id (<node id>-<time>-<n>, e.g. 0a1b2c3d4e5f6071-lq9x2k1c-7)`);
  return match[1]!;
}
