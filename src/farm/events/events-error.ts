import { CodedError } from '../../core/util/coded-error.js';

/**
 * Stable codes of what the event service refuses. They cross farm RPC unchanged (a
 * service handler's error code reaches the caller), so the API maps them to statuses
 * and a delivering node tells "not a management node" from a transport failure.
 */
export const kEventsErrorCodes = [
  /** A request body, filter or posted event that is not what the service takes. */
  'GALAXY_EVENTS_BAD_REQUEST',
  /** events.store or a query reached a node that is not configured as a management node. */
  'GALAXY_EVENTS_NOT_MANAGEMENT',
  /** A query found no management node to answer it. */
  'GALAXY_EVENTS_NO_MANAGEMENT',
  /** A node-local service (events.post, events.values) was called from another node. */
  'GALAXY_EVENTS_LOCAL_ONLY',
  /** A landscape could not be resolved to nodes (farm.resolve failed). */
  'GALAXY_EVENTS_RESOLVE_FAILED',
  /** The service is stopping or not started. */
  'GALAXY_EVENTS_CLOSED',
] as const;

export type EventsErrorCode = (typeof kEventsErrorCodes)[number];

export class EventsError extends CodedError<EventsErrorCode> {}
