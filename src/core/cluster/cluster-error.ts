import { CodedError } from '../util/coded-error.js';

/**
 * The operating failures of the cluster-membership core. Callers match on the code:
 * - GALAXY_CLUSTER_WIRE_MALFORMED: a received message could not be decoded (truncated,
 *   unknown version or type, a count over its bound); it is dropped and counted.
 * - GALAXY_CLUSTER_BLOCKED: multicast while no view is installed or a view change runs;
 *   retry after the next viewInstalled.
 * - GALAXY_CLUSTER_WINDOW_FULL: multicast while the member's own unstable messages fill
 *   sendWindowMax; retry after deliveries become stable (the next heartbeat round).
 * - GALAXY_CLUSTER_PAYLOAD_TOO_LARGE: a payload over payloadBytesMax.
 * - GALAXY_CLUSTER_LEFT: a command after leave().
 */
export type ClusterErrorCode =
  | 'GALAXY_CLUSTER_WIRE_MALFORMED'
  | 'GALAXY_CLUSTER_BLOCKED'
  | 'GALAXY_CLUSTER_WINDOW_FULL'
  | 'GALAXY_CLUSTER_PAYLOAD_TOO_LARGE'
  | 'GALAXY_CLUSTER_LEFT';

export class ClusterError extends CodedError<ClusterErrorCode> {}
