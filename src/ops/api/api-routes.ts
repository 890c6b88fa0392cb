import type { ApiBackend, ApiRole } from '../../surface/api/api-backend.js';
import { apiMetricFamilies, type ApiCounters } from './api-counters.js';
import { ApiHttpError } from './api-http-error.js';
import {
  kApproveBodySchema,
  kComponentConfigBodySchema,
  kComponentParamsSchema,
  kEmptyBodySchema,
  kEventsQuerySchema,
  kKeyBodySchema,
  kKeyRefBodySchema,
  kNodeIdParamsSchema,
  kNodesQuerySchema,
  kNoQuerySchema,
  kTokenCreateBodySchema,
  kTokenParamsSchema,
  kValuesQuerySchema,
} from '../../surface/api/api-schemas.js';
import { formatPrometheus, kPrometheusContentType } from './prometheus.js';
import type { TokenStore } from './token-store.js';

import { by, ok, route, type ApiRoute } from '../../surface/api/api-route.js';


/**
 * The route table: for each method and path, the least role it needs, the schemas of
 * its path parameters, query and body, and what it asks of the backend. The server
 * does authentication, validation and errors the same way for every route, so a route
 * here is only its contract and a call.
 *
 * Roles: a viewer reads everything but tokens; an operator also configures and
 * restarts components; an admin also decides admissions, changes the keyring and
 * manages tokens.
 */
export interface ApiRouteDependencies {
  readonly backend: ApiBackend;
  readonly tokens: TokenStore;
  readonly counters: ApiCounters;
}


export function apiRoutes({ backend, tokens, counters }: ApiRouteDependencies): ApiRoute[] {
  return [
    route({ method: 'GET', pattern: '/v1/health', role: null, handle: () => ok({ ok: true }) }),
    route({ method: 'GET', pattern: '/v1/node', role: 'viewer', handle: () => ok(backend.node()) }),
    route({ method: 'GET', pattern: '/v1/members', role: 'viewer', handle: () => ok(backend.members()) }),

    route({
      method: 'GET',
      pattern: '/v1/nodes',
      role: 'viewer',
      query: kNodesQuerySchema,
      handle: ({ query }) => ok(backend.admissions().filter((record) => query.status === undefined || record.status === query.status)),
    }),
    route({
      method: 'POST',
      pattern: '/v1/nodes/:id/approve',
      role: 'admin',
      params: kNodeIdParamsSchema,
      body: kApproveBodySchema,
      bodyOptional: true,
      handle: async ({ params, body, caller }) => ok(await backend.approve(params.id, body.roles, by(caller))),
    }),
    route({
      method: 'POST',
      pattern: '/v1/nodes/:id/reject',
      role: 'admin',
      params: kNodeIdParamsSchema,
      body: kEmptyBodySchema,
      bodyOptional: true,
      handle: async ({ params, caller }) => ok(await backend.reject(params.id, by(caller))),
    }),
    route({
      method: 'POST',
      pattern: '/v1/nodes/:id/revoke',
      role: 'admin',
      params: kNodeIdParamsSchema,
      body: kEmptyBodySchema,
      bodyOptional: true,
      handle: async ({ params, caller }) => ok(await backend.revoke(params.id, by(caller))),
    }),

    route({ method: 'GET', pattern: '/v1/keys', role: 'viewer', handle: () => ok(backend.keys()) }),
    ...(['install', 'use', 'remove'] as const).map((op) =>
      route({
        method: 'POST',
        pattern: `/v1/keys/${op}`,
        role: 'admin',
        body: op === 'install' ? kKeyBodySchema : kKeyRefBodySchema,
        handle: async ({ body, caller }) => ok(await backend.keyOperation(op, body.key, by(caller))),
      }),
    ),

    route({ method: 'GET', pattern: '/v1/components', role: 'viewer', handle: () => ok(backend.components()) }),
    route({
      method: 'PUT',
      pattern: '/v1/components/:name/config',
      role: 'operator',
      params: kComponentParamsSchema,
      body: kComponentConfigBodySchema,
      handle: async ({ params, body, caller }) => ok(await backend.configureComponent(params.name, body, by(caller))),
    }),
    route({
      method: 'POST',
      pattern: '/v1/components/:name/restart',
      role: 'operator',
      params: kComponentParamsSchema,
      body: kEmptyBodySchema,
      bodyOptional: true,
      handle: async ({ params, caller }) => ok(await backend.restartComponent(params.name, by(caller))),
    }),

    route({ method: 'GET', pattern: '/v1/values', role: 'viewer', query: kValuesQuerySchema, handle: ({ query }) => ok(backend.values(query.node)) }),

    route({ method: 'GET', pattern: '/v1/tokens', role: 'admin', handle: () => ok(tokens.list()) }),
    route({
      method: 'POST',
      pattern: '/v1/tokens',
      role: 'admin',
      body: kTokenCreateBodySchema,
      handle: ({ body }) => {
        const created = tokens.create(body.name, body.role);
        return { status: 201, json: { name: created.name, role: created.role, token: created.token } };
      },
    }),
    route({
      method: 'DELETE',
      pattern: '/v1/tokens/:name',
      role: 'admin',
      params: kTokenParamsSchema,
      handle: ({ params }) => {
        tokens.remove(params.name);
        return { status: 204 };
      },
    }),

    route({
      method: 'GET',
      pattern: '/metrics',
      role: 'viewer',
      handle: async () => ({ status: 200, contentType: kPrometheusContentType, text: formatPrometheus([...(await backend.metrics()), ...apiMetricFamilies(counters)]) }),
    }),

    route({
      method: 'GET',
      pattern: '/v1/events',
      role: 'viewer',
      query: kEventsQuerySchema,
      webSocket: true,
      handle: () => {
        throw new ApiHttpError(426, 'GALAXY_API_UPGRADE_REQUIRED', '/v1/events is a WebSocket stream: connect with a WebSocket client', { Upgrade: 'websocket', Connection: 'Upgrade' });
      },
    }),
  ];
}
