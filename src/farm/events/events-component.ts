import { defineComponent } from '../components/sdk.js';
import { parseEventsConfig } from './events-config.js';
import { EventsService } from './events-service.js';

/**
 * The event service as a farm service component: one on every node, named `events`.
 * Configuration: events-config.ts. Its farm RPC services:
 *
 *   events.post    { events: [{ type, severity?, body?, time?, source? }] } -> { ids }
 *                  Callers on this node only (the agent: component and process exits,
 *                  `galaxy event post` through the API). Kept in the outbox before the
 *                  answer: an answered post is not lost.
 *   events.values  { values: { key: number | string } } -> { fired }
 *                  Callers on this node only: the agent forwards each Measurement sample.
 *   events.store   { events: FarmEvent[] } -> { stored, duplicates, expired, refused }
 *                  Management nodes: a batch from a node's outbox (events of that node).
 *   events.query   { since?, until?, node?, type?, landscape?, limit? } -> { events, truncated }
 *                  Any node; one that is not a management node asks one that is.
 *
 * It calls, on this node: farm.members (where the management nodes are), farm.resolve
 * { landscape } (correlation rules and queries by landscape), and farm.publish
 * { events } (a management node hands each stored event to the agent's API stream).
 *
 * Its spec and module path: the -spec module beside it (kept apart for the agent).
 */
export { kEventsComponent, eventsComponentPath } from './events-component-spec.js';

let service: EventsService | null = null;

function running(): EventsService {
  if (service === null) throw new Error('the events component is not initialised');
  return service;
}

export default defineComponent({
  init(ctx) {
    const created = new EventsService(ctx, parseEventsConfig(ctx.config));
    created.open();
    service = created;
  },
  start() {
    running().start();
  },
  stop() {
    running().stop();
  },
  configure(config) {
    running().reconfigure(parseEventsConfig(config));
  },
  status() {
    return running().status();
  },
  services: {
    'events.post': (body, from) => running().post(body, from),
    'events.values': (body, from) => running().values(body, from),
    'events.store': (body, from) => running().storeBatch(body, from),
    'events.query': (body) => running().query(body),
  },
});
