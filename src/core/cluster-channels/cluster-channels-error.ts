import { CodedError } from '../util/coded-error.js';

/**
 * The operating failures of the cluster-channels composition:
 * - GALAXY_CLUSTER_CHANNELS_ENVELOPE_MALFORMED: a received message is not a valid
 *   envelope; it is dropped and counted.
 * - GALAXY_CLUSTER_CHANNELS_BACKLOG_FULL: an application send met a full multicast
 *   backlog (the cluster core's send window has been full for a while: a member is not
 *   acknowledging); it fails at once (`sendFailed`) and may be retried later.
 * - GALAXY_CLUSTER_CHANNELS_PACK_MALFORMED: a cluster delivery is not a valid pack of
 *   channel messages (cluster-channels-pack.ts); it is dropped and reported (`dropped`).
 */
export type ClusterChannelsErrorCode = 'GALAXY_CLUSTER_CHANNELS_ENVELOPE_MALFORMED' | 'GALAXY_CLUSTER_CHANNELS_BACKLOG_FULL' | 'GALAXY_CLUSTER_CHANNELS_PACK_MALFORMED';

export class ClusterChannelsError extends CodedError<ClusterChannelsErrorCode> {}
