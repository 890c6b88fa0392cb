import { z } from 'zod';
import { kNodeIdSchema, kNoQuerySchema } from '../../surface/api/api-schemas.js';
import { ok, route, type ApiRoute } from '../../surface/api/api-route.js';
import type { FarmData } from './farm-data.js';
import { kLandscapeNamePattern } from './landscape/landscape-record.js';

/**
 * The API of the farm's data: attributes, read-only SQL over the local mirror, the
 * replica's status, and landscapes. Reads are viewer routes; writes need an operator.
 *
 *   GET    /v1/attributes[?node=ID]     every key of a node (or of all), with origin and time
 *   PUT    /v1/attributes/:node         {"values": {"rack": "r12", "old": null}}  (null deletes)
 *   POST   /v1/db/query                 {"sql": "SELECT ..."}  -> {columns, rows, truncated}
 *   GET    /v1/db/status                digest, origins, nodes, counters
 *   GET    /v1/landscapes               list
 *   GET    /v1/landscapes/:name         one, with members
 *   PUT    /v1/landscapes/:name         {"sql": "...", "mode": "on-change" | "every 10s"}
 *   DELETE /v1/landscapes/:name
 *   GET    /v1/farm/components          the farm configuration: components per target, and this node's list
 *   PUT    /v1/farm/components/:target  {"components": [{"name", "version", "checksum"?, "config"?}]}  ([] clears)
 */
const kKeySchema = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'an attribute key is 1 to 64 of [A-Za-z0-9_.-]');
const kAttributeValuesMax = 256;

const kAttributesQuerySchema = z.object({ node: kNodeIdSchema.optional() }).strict();
const kAttributeParamsSchema = z.object({ node: kNodeIdSchema }).strict();
const kAttributeBodySchema = z
  .object({
    values: z
      .record(kKeySchema, z.union([z.string(), z.number().finite(), z.null()]))
      .refine((values) => Object.keys(values).length >= 1, 'give at least one key')
      .refine((values) => Object.keys(values).length <= kAttributeValuesMax, `at most ${kAttributeValuesMax} keys at once`),
  })
  .strict();
const kQueryBodySchema = z.object({ sql: z.string().min(1, 'the query is empty') }).strict();
const kLandscapeParamsSchema = z.object({ name: z.string().regex(kLandscapeNamePattern, 'a landscape name is 1 to 64 of [A-Za-z0-9_.-] starting with a letter or digit') }).strict();
/** "on-change" or "every PERIOD"; the period itself is checked by the landscape engine (400 GALAXY_LANDSCAPE_BAD_MODE). */
const kModeSchema = z.string().regex(/^(on-change|every\s+\S+)$/, 'mode is "on-change" or "every PERIOD" (e.g. "every 10s")');
const kLandscapeBodySchema = z.object({ sql: z.string().min(1, 'the statement is empty'), mode: kModeSchema }).strict();

export function farmDataRoutes(data: FarmData): ApiRoute[] {
  return [
    route({ method: 'GET', pattern: '/v1/attributes', role: 'viewer', query: kAttributesQuerySchema, handle: ({ query }) => ok(data.attributes(query.node)) }),
    route({
      method: 'PUT',
      pattern: '/v1/attributes/:node',
      role: 'operator',
      params: kAttributeParamsSchema,
      body: kAttributeBodySchema,
      handle: async ({ params, body }) => ok(await data.setAttributes(params.node, body.values)),
    }),
    route({ method: 'POST', pattern: '/v1/db/query', role: 'viewer', body: kQueryBodySchema, handle: ({ body }) => ok(data.query(body.sql)) }),
    route({ method: 'GET', pattern: '/v1/db/status', role: 'viewer', query: kNoQuerySchema, handle: async () => ok(await data.status()) }),
    route({ method: 'GET', pattern: '/v1/landscapes', role: 'viewer', handle: () => ok(data.listLandscapes()) }),
    route({ method: 'GET', pattern: '/v1/landscapes/:name', role: 'viewer', params: kLandscapeParamsSchema, handle: ({ params }) => ok(data.showLandscape(params.name)) }),
    route({
      method: 'PUT',
      pattern: '/v1/landscapes/:name',
      role: 'operator',
      params: kLandscapeParamsSchema,
      body: kLandscapeBodySchema,
      handle: async ({ params, body }) => ok(await data.defineLandscape(params.name, body)),
    }),
    route({
      method: 'DELETE',
      pattern: '/v1/landscapes/:name',
      role: 'operator',
      params: kLandscapeParamsSchema,
      handle: async ({ params }) => {
        await data.deleteLandscape(params.name);
        return { status: 204 };
      },
    }),
  ];
}
