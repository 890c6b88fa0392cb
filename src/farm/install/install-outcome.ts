import type { ErrorSummary } from './install-error.js';

/**
 * What became of one component in one reconcile (or one explicit install or remove),
 * as the service returns it, the API shows it and install.apply carries it across the
 * farm:
 *
 *   installed    the version runs (newly, or replacing `previousVersion`)
 *   configured   the same version took a new configuration
 *   unchanged    it already ran as asked
 *   removed      it was stopped and forgotten
 *   rolled-back  the new version failed; `previousVersion` runs again
 *   failed       it could not be done; what ran before (if anything) still runs, or
 *                nothing runs when there was nothing to go back to
 *   skipped      not attempted: a dependency failed, or this version failed before
 *                and the desired state did not change since
 */
export type InstallResult = 'installed' | 'configured' | 'unchanged' | 'removed' | 'rolled-back' | 'failed' | 'skipped';

export interface InstallOutcome {
  readonly name: string;
  /** The version asked for (null for a removal). */
  readonly version: string | null;
  /** The version that ran before, if any. */
  readonly previousVersion: string | null;
  readonly result: InstallResult;
  readonly error: ErrorSummary | null;
}

/** Whether an outcome means the node is as it was asked to be. */
export function succeeded(outcome: Pick<InstallOutcome, 'result'>): boolean {
  return outcome.result === 'installed' || outcome.result === 'configured' || outcome.result === 'unchanged' || outcome.result === 'removed';
}
