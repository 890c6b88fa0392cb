import { randomBytes } from 'node:crypto';
import { z } from 'zod';

/**
 * A farm event: what the event service carries from the node where something happened
 * to the management nodes that store it. The schema is the contract of the store, the
 * API and the CLI, so it only grows (new optional body fields), never changes:
 *
 *   id        32 lowercase hex digits, unique farm-wide: 128 random bits drawn where the
 *             event is made, so every retry carries the same id and the store's
 *             UNIQUE constraint turns redelivery into a no-op
 *   node      the node it happened on (16 hex digits)
 *   source    what raised it: "threshold", "log", "component:<name>", "api:<token>",
 *             "correlation", "events" (the event service itself)
 *   type      dotted lower-case name, e.g. "disk.full", "component.crashed"
 *   severity  info | warning | error | critical
 *   time      ISO 8601 instant it happened (the origin's clock)
 *   body      a JSON object, at most kFarmEventBodyJsonLengthMax characters
 */
export const kFarmEventTypePattern = /^[a-z][a-z0-9._-]{0,63}$/;
export const kFarmEventSeverities = ['info', 'warning', 'error', 'critical'] as const;
export type FarmEventSeverity = (typeof kFarmEventSeverities)[number];
/** JSON characters of an event's body: room for a log line and its context, small enough that a batch of 100 fits an RPC. */
export const kFarmEventBodyJsonLengthMax = 8 * 1024;
/** Characters of an event's source. */
export const kFarmEventSourceLengthMax = 128;
/** An event's JSON text at most: the body plus the fixed fields. */
export const kFarmEventJsonLengthMax = kFarmEventBodyJsonLengthMax + 512;

const kEventIdPattern = /^[0-9a-f]{32}$/;
const kNodeIdPattern = /^[0-9a-f]{16}$/;
/** Printable ASCII without spaces: a source is an identifier, not prose. */
const kSourcePattern = /^[\x21-\x7e]{1,128}$/;

export const kFarmEventTypeSchema = z.string().regex(kFarmEventTypePattern, 'an event type is 1 to 64 of a-z 0-9 . _ - starting with a letter');
export const kFarmEventSeveritySchema = z.enum(kFarmEventSeverities);
/** An ISO 8601 instant with a zone (what Date#toISOString writes, or with an offset). */
export const kIsoTimeSchema = z.string().datetime({ offset: true, message: 'a time is ISO 8601 with a zone, e.g. 2025-01-01T00:00:00.000Z' });
export const kFarmEventBodySchema = z
  .record(z.unknown())
  .refine((body) => !Object.hasOwn(body, '__proto__'), 'an event body cannot hold __proto__')
  .refine((body) => JSON.stringify(body).length <= kFarmEventBodyJsonLengthMax, `an event body is at most ${kFarmEventBodyJsonLengthMax} characters of JSON`);

export const kFarmEventSchema = z
  .object({
    id: z.string().regex(kEventIdPattern, 'an event id is 32 lowercase hex digits'),
    node: z.string().regex(kNodeIdPattern, 'a node id is 16 lowercase hex digits'),
    source: z.string().regex(kSourcePattern, `a source is 1 to ${kFarmEventSourceLengthMax} printable characters without spaces`),
    type: kFarmEventTypeSchema,
    severity: kFarmEventSeveritySchema,
    time: kIsoTimeSchema,
    body: kFarmEventBodySchema,
  })
  .strict();

export type FarmEvent = z.infer<typeof kFarmEventSchema>;

/**
 * An event as a caller posts it ('events.post', the API): the event service fills in
 * the id and node, and the time and source when absent.
 */
export const kPostedEventSchema = z
  .object({
    type: kFarmEventTypeSchema,
    severity: kFarmEventSeveritySchema.default('info'),
    body: kFarmEventBodySchema.default({}),
    time: kIsoTimeSchema.optional(),
    source: z.string().regex(kSourcePattern, `a source is 1 to ${kFarmEventSourceLengthMax} printable characters without spaces`).optional(),
  })
  .strict();

export type PostedEvent = z.input<typeof kPostedEventSchema>;

/** A new random event id. */
export function newEventId(): string {
  return randomBytes(16).toString('hex');
}

/** Makes an event of what a rule or a caller raised on this node. */
export function makeEvent(fields: { node: string; source: string; type: string; severity: FarmEventSeverity; body: Readonly<Record<string, unknown>>; time?: string; id?: string }, nowMs: number): FarmEvent {
  return {
    id: fields.id ?? newEventId(),
    node: fields.node,
    source: fields.source,
    type: fields.type,
    severity: fields.severity,
    time: fields.time ?? new Date(nowMs).toISOString(),
    body: { ...fields.body },
  };
}

/** Milliseconds since the epoch of an event's time (validated by the schema, so it parses). */
export function eventTimeMs(event: Pick<FarmEvent, 'time'>): number {
  return Date.parse(event.time);
}
