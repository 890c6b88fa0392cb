import { DomainError, type FailureKind } from '../../core/util/domain-error.js';
import { z } from 'zod';
import { kEventsQueryLimitMax, kLandscapeNameSchema, kNodeIdFilterSchema, kTypeFilterSchema, parseTimeArgument } from './event-filter.js';
import { kFarmEventBodySchema, kFarmEventSeveritySchema, kFarmEventTypeSchema } from './farm-event.js';
import { by, ok, route, type ApiRoute } from '../../surface/api/api-route.js';
import type { EventsBackend } from './events-backend.js';

/**
 * The farm events routes:
 *
 *   GET  /v1/events/query   viewer    ?since=10m|ISO &until=.. &node=ID &type=T|prefix* &landscape=L &limit=N
 *                                     -> { events (oldest first), truncated }
 *   POST /v1/events         operator  { type, severity?, body? } -> 201 { id }
 *
 * since and until take an ISO 8601 instant or a duration back from the agent's clock
 * (10m, 2h, 7d). The live stream of stored events is the WebSocket at GET /v1/events
 * (the agent publishes what the management node's event service hands it).
 */
const kTimeArgumentSchema = z
  .string()
  .max(64)
  .refine((text) => isTimeArgument(text), 'a time is ISO 8601 (2025-01-01T00:00:00Z) or a duration back from now (10m, 2h, 7d)');

export const kEventsQueryParamsSchema = z
  .object({
    since: kTimeArgumentSchema.optional(),
    until: kTimeArgumentSchema.optional(),
    node: kNodeIdFilterSchema.optional(),
    type: kTypeFilterSchema.optional(),
    landscape: kLandscapeNameSchema.optional(),
    limit: z.coerce.number().int().min(1).max(kEventsQueryLimitMax).optional(),
  })
  .strict();

export const kPostEventBodySchema = z.object({ type: kFarmEventTypeSchema, severity: kFarmEventSeveritySchema.optional(), body: kFarmEventBodySchema.optional() }).strict();

/** Each code the event service or component RPC may answer with, as a failure kind; others are internal errors. */
const kKindOfCode: Readonly<Record<string, FailureKind>> = {
  GALAXY_EVENTS_BAD_REQUEST: 'invalid',
  GALAXY_EVENTS_RESOLVE_FAILED: 'invalid',
  GALAXY_RPC_BAD_REQUEST: 'invalid',
  GALAXY_RPC_TOO_LARGE: 'too-large',
  GALAXY_EVENTS_NO_MANAGEMENT: 'unavailable',
  GALAXY_EVENTS_NOT_MANAGEMENT: 'unavailable',
  GALAXY_EVENTS_CLOSED: 'unavailable',
  GALAXY_RPC_NOT_RUNNING: 'unavailable',
  GALAXY_RPC_UNKNOWN_SERVICE: 'unavailable',
  GALAXY_RPC_UNAVAILABLE: 'unavailable',
  GALAXY_RPC_BUSY: 'unavailable',
  GALAXY_COMPONENT_UNKNOWN: 'unavailable',
  GALAXY_RPC_TIMEOUT: 'timeout',
};

function isTimeArgument(text: string): boolean {
  try {
    parseTimeArgument(text, 0);
    return true;
  } catch {
    return false;
  }
}

/** The backend's coded errors as API errors; anything else stays an internal error. */
async function answering<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof DomainError) throw error;
    const code = (error as { code?: unknown }).code;
    const kind = typeof code === 'string' ? kKindOfCode[code] : undefined;
    if (kind === undefined || typeof code !== 'string') throw error;
    throw new DomainError(kind, code, (error as Error).message);
  }
}

export function eventsRoutes(backend: EventsBackend): ApiRoute[] {
  return [
    route({
      method: 'GET',
      pattern: '/v1/events/query',
      role: 'viewer',
      query: kEventsQueryParamsSchema,
      handle: async ({ query }) => {
        const nowMs = Date.now();
        const filter = {
          ...query,
          ...(query.since === undefined ? {} : { since: parseTimeArgument(query.since, nowMs) }),
          ...(query.until === undefined ? {} : { until: parseTimeArgument(query.until, nowMs) }),
        };
        return ok(await answering(() => backend.query(filter)));
      },
    }),
    route({
      method: 'POST',
      pattern: '/v1/events',
      role: 'operator',
      body: kPostEventBodySchema,
      handle: async ({ body, caller }) => {
        const { ids } = await answering(() => backend.post([body], by(caller)));
        return { status: 201, json: { id: ids[0] } };
      },
    }),
  ];
}
