/**
 * The lifecycle of one install, as progress events: the service emits one per phase
 * (and a few while fetching), the API forwards them to the event stream and to the
 * operation an operator follows.
 *
 *   fetching     getting the package from a peer (detail: bytesDone, bytesTotal, peer)
 *   verifying    hashing every file against the manifest
 *   installing   the package is held; the old version is being stopped
 *   starting     the new version is being started and watched for the settle window
 *   done         it runs
 *   failed       it could not be done (detail: code, error)
 *   rolled-back  the previous version runs again after a failure
 *   removing     an installed component is being stopped (no longer desired)
 *   removed      it is gone
 */
export type InstallPhase = 'fetching' | 'verifying' | 'installing' | 'starting' | 'done' | 'failed' | 'rolled-back' | 'removing' | 'removed';

export interface InstallProgress {
  readonly name: string;
  /** The version being installed; null for a removal. */
  readonly version: string | null;
  readonly previousVersion: string | null;
  readonly phase: InstallPhase;
  /** ISO 8601 time of the event. */
  readonly at: string;
  readonly detail: {
    readonly bytesDone?: number;
    readonly bytesTotal?: number;
    /** The node id a package is fetched from. */
    readonly peer?: string;
    readonly code?: string;
    readonly error?: string;
  };
}
