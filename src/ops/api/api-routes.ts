import type { ApiBackend } from './api-backend.js';
import type { ApiRole } from '../../surface/api/api-roles.js';
import { apiMetricFamilies, type ApiCounters } from './api-counters.js';
import { ApiHttpError } from './api-http-error.js';
import { kEventsQuerySchema, kTokenCreateBodySchema, kTokenParamsSchema } from '../../surface/api/api-schemas.js';
import { admissionRoutes } from '../../farm/admission/admission-routes.js';
import { componentsRoutes } from '../../farm/components/components-routes.js';
import { measurementRoutes } from '../../farm/measurement/measurement-routes.js';
import { formatPrometheus, kPrometheusContentType } from './prometheus.js';
import type { TokenStore } from './token-store.js';

import { ok, route, type ApiRoute } from '../../surface/api/api-route.js';


/**
 * The route table: the agent's own routes (health, this node, members, API tokens,
 * metrics, the event stream) and, in their place, those of the farm features the agent
 * always runs (admission and keys, the component host, measurement values), which each
 * feature owns (src/farm/<feature>/*-routes.ts). For each method and path, the least
 * role it needs, the schemas of its path parameters, query and body, and what it asks
 * of the backend. The server does authentication, validation and errors the same way
 * for every route, so a route here is only its contract and a call.
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

    // The farm features' own routes, in the order the API has always listed them.
    ...admissionRoutes(backend),
    ...componentsRoutes(backend),
    ...measurementRoutes(backend),

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
