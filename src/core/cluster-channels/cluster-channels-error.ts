import { CodedError } from '../util/coded-error.js';

/**
 * The operating failures of the cluster-channels composition:
 * - GALAXY_CLUSTER_CHANNELS_ENVELOPE_MALFORMED: a received message is not a valid
 *   envelope; it is dropped and counted.
 * - GALAXY_CLUSTER_CHANNELS_BACKLOG_FULL: an application send met a full multicast
 *   backlog (the cluster core's send window has been full for a while: a member is not
 *   acknowledging); it fails at once (`sendFailed`) and may be retried later.
 */
export type ClusterChannelsErrorCode = 'GALAXY_CLUSTER_CHANNELS_ENVELOPE_MALFORMED' | 'GALAXY_CLUSTER_CHANNELS_BACKLOG_FULL';

export class ClusterChannelsError extends CodedError<ClusterChannelsErrorCode> {}
