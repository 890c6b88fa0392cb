import type { EventsBackend, EventsFilter, EventsPage, OperatorEvent } from './events-backend.js';
import type { ComponentHost } from '../components/host/component-host.js';

export interface ComponentEventsBackendOptions {
  /** This node's id: the calls come from this node (events.post takes local callers only). */
  readonly nodeId: string;
  /** The event service component's name on the host (default "events"). */
  readonly component?: string;
  /** How long a post or a query may take, ms. A query may be forwarded to a management node. */
  readonly timeoutMs?: number;
}

export const kEventsBackendTimeoutMsDefault = 15_000;

/**
 * The events API over this node's event service component: a post is events.post on the
 * local component (source `api:<token name>`), a query is events.query on it (which a
 * node without the store forwards to a management node). Errors keep their codes.
 */
export function componentEventsBackend(host: ComponentHost, options: ComponentEventsBackendOptions): EventsBackend {
  const component = options.component ?? 'events';
  const timeoutMs = options.timeoutMs ?? kEventsBackendTimeoutMsDefault;
  return {
    async post(events: readonly OperatorEvent[], by: string): Promise<{ ids: string[] }> {
      const body = { events: events.map((event) => ({ ...event, source: `api:${by}` })) };
      return (await host.request(component, 'events.post', options.nodeId, body, timeoutMs)) as { ids: string[] };
    },
    async query(filter: EventsFilter): Promise<EventsPage> {
      return (await host.request(component, 'events.query', options.nodeId, filter, timeoutMs)) as EventsPage;
    },
  };
}
