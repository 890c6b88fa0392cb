import type { ComponentStatus } from './component-status.js';
import { by, ok, route, type ApiRoute } from '../../surface/api/api-route.js';
import { kComponentConfigBodySchema, kComponentParamsSchema, kEmptyBodySchema } from '../../surface/api/api-schemas.js';

/** What the component routes ask of the agent's component host. */
export interface ComponentsBackend {
  components(): ComponentStatus[];
  configureComponent(name: string, config: Readonly<Record<string, unknown>>, by: string): Promise<ComponentStatus>;
  restartComponent(name: string, by: string): Promise<ComponentStatus>;
}

/**
 * The component host's routes: the farm service components on this agent.
 *
 *   GET  /v1/components               viewer    -> state, pid, restarts, configuration
 *   PUT  /v1/components/:name/config  operator  { key: value, ... } -> status
 *   POST /v1/components/:name/restart operator  -> status
 */
export function componentsRoutes(backend: ComponentsBackend): ApiRoute[] {
  return [
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
  ];
}
