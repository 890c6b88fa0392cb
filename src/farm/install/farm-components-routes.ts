import { z } from 'zod';
import { ok, route, type ApiRoute } from '../../surface/api/api-route.js';
import type { FarmDesiredComponents } from './farm-desired-components.js';

const kTargetParamsSchema = z.object({ target: z.string().regex(/^(all|[A-Za-z0-9][A-Za-z0-9_.-]{0,63})$/, 'a target is "all" or a landscape name') }).strict();
/** Entries are checked by the install module's schema (clear messages per entry); here only the shape. */
const kComponentsBodySchema = z.object({ components: z.array(z.unknown()).max(64, 'at most 64 components') }).strict();

/**
 * The farm configuration of components (which components and versions the nodes of a
 * landscape, or all nodes, must run), read and set through the FMIDB; the install
 * service on each node follows it.
 */
export function farmComponentsRoutes(desired: FarmDesiredComponents): ApiRoute[] {
  return [
    route({ method: 'GET', pattern: '/v1/farm/components', role: 'viewer', handle: () => ok({ assignments: desired.assignments(), thisNode: desired.current(), ready: desired.ready() }) }),
    route({
      method: 'PUT',
      pattern: '/v1/farm/components/:target',
      role: 'operator',
      params: kTargetParamsSchema,
      body: kComponentsBodySchema,
      handle: async ({ params, body }) => ok({ assignments: await desired.assign(params.target, body.components) }),
    }),
  ];
}
