import type { EventsFilter, EventsPage } from './event-filter.js';
import type { FarmEventSeverity } from './farm-event.js';

export type { EventsFilter, EventsPage } from './event-filter.js';
export type { FarmEvent, FarmEventSeverity } from './farm-event.js';

/** An event as an operator posts it (`galaxy event post`): the event service fills in the rest. */
export interface OperatorEvent {
  readonly type: string;
  readonly severity?: FarmEventSeverity;
  readonly body?: Readonly<Record<string, unknown>>;
}

/**
 * What the events routes ask of the agent (src/components/events/events-api-backend.ts
 * implements it over the node's `events` component). Methods reject with an error
 * carrying a stable `code` (GALAXY_EVENTS_..., GALAXY_RPC_...); the routes turn it into
 * an HTTP status.
 */
export interface EventsBackend {
  /**
   * Raises events on this node on behalf of an API caller (`by`, the token's name: the
   * events' source is `api:<by>`). Resolves with their ids once they are kept for
   * delivery to the management nodes.
   */
  post(events: readonly OperatorEvent[], by: string): Promise<{ ids: string[] }>;
  /** The farm's events matching `filter` (since/until as ISO instants), answered by a management node. */
  query(filter: EventsFilter): Promise<EventsPage>;
}
