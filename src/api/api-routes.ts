import type { z, ZodTypeAny } from 'zod';
import type { ApiBackend, ApiRole } from './api-backend.js';
import { apiMetricFamilies, type ApiCounters } from './api-counters.js';
import { ApiHttpError } from './api-http-error.js';
import type { ApiReply } from './api-response.js';
import type { HttpMethod, RoutePattern } from './api-router.js';
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
} from './api-schemas.js';
import { formatPrometheus, kPrometheusContentType } from './prometheus.js';
import type { TokenStore } from './token-store.js';

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
export interface ApiCaller {
  /** The token's name: it goes into the backend's `by`, so audit records say who decided. */
  readonly name: string;
  readonly role: ApiRole;
}

export interface RouteInput<P = unknown, Q = unknown, B = unknown> {
  readonly params: P;
  readonly query: Q;
  readonly body: B;
  /** Null only on routes that need no token. */
  readonly caller: ApiCaller | null;
}

export interface ApiRoute extends RoutePattern {
  /** Least role that may call it; null: no token needed. */
  readonly role: ApiRole | null;
  readonly params: ZodTypeAny;
  readonly query: ZodTypeAny;
  /** Schema of the JSON body; null: the route reads no body. */
  readonly body: ZodTypeAny | null;
  /** Whether the body may be left out (it is then validated as `{}`). */
  readonly bodyOptional: boolean;
  /** Whether the route is served as a WebSocket upgrade (a plain GET gets 426). */
  readonly webSocket: boolean;
  handle(input: RouteInput): Promise<ApiReply>;
}

export interface ApiRouteDependencies {
  readonly backend: ApiBackend;
  readonly tokens: TokenStore;
  readonly counters: ApiCounters;
}

export interface RouteDefinition<P extends ZodTypeAny, Q extends ZodTypeAny, B extends ZodTypeAny> {
  readonly method: HttpMethod;
  readonly pattern: string;
  readonly role: ApiRole | null;
  readonly params?: P;
  readonly query?: Q;
  readonly body?: B;
  readonly bodyOptional?: boolean;
  readonly webSocket?: boolean;
  handle(input: RouteInput<z.output<P>, z.output<Q>, z.output<B>>): Promise<ApiReply> | ApiReply;
}

const kNoParamsSchema = kNoQuerySchema;

/** Ties a definition's schemas to its handler's argument types, then erases them for the table. */
export function route<P extends ZodTypeAny = typeof kNoParamsSchema, Q extends ZodTypeAny = typeof kNoQuerySchema, B extends ZodTypeAny = ZodTypeAny>(definition: RouteDefinition<P, Q, B>): ApiRoute {
  return {
    method: definition.method,
    pattern: definition.pattern,
    role: definition.role,
    params: definition.params ?? kNoParamsSchema,
    query: definition.query ?? kNoQuerySchema,
    body: definition.body ?? null,
    bodyOptional: definition.bodyOptional ?? false,
    webSocket: definition.webSocket ?? false,
    handle: async (input) => definition.handle(input as RouteInput<z.output<P>, z.output<Q>, z.output<B>>),
  };
}

/** The caller's name for the backend's `by`; a route that needs a token always has a caller. */
export function by(caller: ApiCaller | null): string {
  if (caller === null) throw new Error('an authenticated route ran without a caller');
  return caller.name;
}

export const ok = (json: unknown): ApiReply => ({ status: 200, json });

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
