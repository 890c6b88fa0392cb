import { z } from 'zod';
import { EventsError } from './events-error.js';
import { kIsoTimeSchema, type FarmEvent } from './farm-event.js';

/**
 * What a query of the event store asks for (events.query, GET /v1/events/query, galaxy
 * events): events with time in [since, until], of one node, of one type (or a type
 * prefix: "disk.*"), on the nodes of one landscape, at most `limit` of them: the newest
 * ones, returned oldest first. The answer also stays under the RPC body bound
 * (kEventsPageJsonLengthMax); `truncated` says when older matches were left out.
 */
export const kEventsQueryLimitMax = 10_000;
export const kEventsQueryLimitDefault = 1000;
/** JSON characters of one page of events: under the component RPC body bound (1 MiB), with room for the envelope. */
export const kEventsPageJsonLengthMax = 900 * 1024;

/** An exact type, or a prefix ending in '*'. */
export const kTypeFilterSchema = z.string().regex(/^[a-z][a-z0-9._-]{0,63}\*?$/, 'a type filter is an event type, or a prefix of one followed by *');
export const kLandscapeNameSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'a landscape name is 1 to 64 of A-Z a-z 0-9 _ . - starting with a letter or digit');
export const kNodeIdFilterSchema = z.string().regex(/^[0-9a-f]{16}$/, 'a node id is 16 lowercase hex digits');

export const kEventsFilterSchema = z
  .object({
    since: kIsoTimeSchema.optional(),
    until: kIsoTimeSchema.optional(),
    node: kNodeIdFilterSchema.optional(),
    type: kTypeFilterSchema.optional(),
    landscape: kLandscapeNameSchema.optional(),
    limit: z.number().int().min(1).max(kEventsQueryLimitMax).default(kEventsQueryLimitDefault),
  })
  .strict();

export type EventsFilter = z.input<typeof kEventsFilterSchema>;
export type CheckedEventsFilter = z.output<typeof kEventsFilterSchema>;

export interface EventsPage {
  /** Oldest first. */
  readonly events: FarmEvent[];
  /** Whether older matching events were left out (beyond `limit` or the page's size bound). */
  readonly truncated: boolean;
}

const kDurationPattern = /^(\d{1,9})(ms|s|m|h|d)$/;
const kUnitMs: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * A time argument as operators write it: an ISO 8601 instant, or a duration back from
 * `nowMs` ("10m", "2h", "7d", "30s", "500ms"). Returns the ISO instant.
 */
export function parseTimeArgument(text: string, nowMs: number, what = 'a time'): string {
  const duration = kDurationPattern.exec(text);
  if (duration !== null) return new Date(nowMs - Number(duration[1]) * kUnitMs[duration[2]!]!).toISOString();
  if (kIsoTimeSchema.safeParse(text).success) return new Date(Date.parse(text)).toISOString();
  throw new EventsError('GALAXY_EVENTS_BAD_REQUEST', `${what} is an ISO 8601 time (2025-01-01T00:00:00Z) or a duration back from now (10m, 2h, 7d), not "${text.slice(0, 64)}"`);
}

/** A filter checked, or a coded error naming each field that is wrong. */
export function checkEventsFilter(filter: unknown): CheckedEventsFilter {
  const parsed = kEventsFilterSchema.safeParse(filter);
  if (!parsed.success) throw new EventsError('GALAXY_EVENTS_BAD_REQUEST', `bad events query: ${issues(parsed.error)}`);
  const { since, until } = parsed.data;
  if (since !== undefined && until !== undefined && Date.parse(since) > Date.parse(until)) throw new EventsError('GALAXY_EVENTS_BAD_REQUEST', 'bad events query: since is after until');
  return parsed.data;
}

/** zod's issues as one line: `field: problem; ...`. */
export function issues(error: z.ZodError): string {
  const shown = error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
  return error.issues.length > shown.length ? `${shown.join('; ')}; and ${error.issues.length - shown.length} more` : shown.join('; ');
}
