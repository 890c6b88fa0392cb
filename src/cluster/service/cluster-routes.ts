import { z } from 'zod';
import { kLandscapeNamePattern } from '../../farm/data/landscape/landscape-record.js';
import { kEmptyBodySchema, kNodeIdSchema } from '../../surface/api/api-schemas.js';
import { ok, route, type ApiRoute } from '../../surface/api/api-route.js';
import { kClusterNodesMax, kClusterTuningSchema } from './cluster-definition.js';
import { kClusterNamePattern } from './cluster-name.js';
import type { ClusterService } from './cluster-service.js';

/**
 * The cluster routes (issue 17, item 4). Reads are viewer routes; definitions and leaves
 * need an operator. Definitions are farm-wide (an FMIDB write on this node, replicated);
 * `here`, `views` and `leave` are about the node answering.
 *
 *   GET    /v1/clusters                  viewer    every cluster, with its members as this node resolves them and this node's part
 *   POST   /v1/clusters                  operator  {name, nodes: [id...] | landscape, size?, profile?, tuning?} -> 201 the cluster
 *   GET    /v1/clusters/:name            viewer    one cluster
 *   PUT    /v1/clusters/:name            operator  {nodes | landscape, size?}: a new member selection (joins and leaves by view changes)
 *   DELETE /v1/clusters/:name            operator  a tombstone: every member leaves and stops its core
 *   GET    /v1/clusters/:name/members    viewer    defined members and this node's current view, with farm status
 *   GET    /v1/clusters/:name/views      viewer    the views this node installed (id, members with incarnations, time) and its status changes
 *   POST   /v1/clusters/:name/leave      operator  this node leaves the cluster
 *
 * View changes and status changes are events of kind `cluster` on /v1/events.
 */
const kNameSchema = z.string().regex(kClusterNamePattern, 'a cluster name is 1 to 48 of [A-Za-z0-9_.-] starting with a letter or digit');
const kParamsSchema = z.object({ name: kNameSchema }).strict();
const kSelectionFields = {
  nodes: z.array(kNodeIdSchema).max(kClusterNodesMax).optional(),
  landscape: z.string().regex(kLandscapeNamePattern, 'a landscape name is 1 to 64 of [A-Za-z0-9_.-] starting with a letter or digit').optional(),
  size: z.number().int().positive().max(kClusterNodesMax).optional(),
};
const kCreateBodySchema = z
  .object({ name: kNameSchema, ...kSelectionFields, profile: z.string().min(1).max(128).optional(), tuning: kClusterTuningSchema.optional() })
  .strict();
const kRedefineBodySchema = z.object(kSelectionFields).strict();

export function clusterRoutes(service: ClusterService): ApiRoute[] {
  return [
    route({ method: 'GET', pattern: '/v1/clusters', role: 'viewer', handle: () => ok(service.list()) }),
    route({
      method: 'POST',
      pattern: '/v1/clusters',
      role: 'operator',
      body: kCreateBodySchema,
      handle: async ({ body }) => {
        const { name, ...input } = body;
        return { status: 201, json: await service.create(name, input) };
      },
    }),
    route({ method: 'GET', pattern: '/v1/clusters/:name', role: 'viewer', params: kParamsSchema, handle: ({ params }) => ok(service.show(params.name)) }),
    route({ method: 'PUT', pattern: '/v1/clusters/:name', role: 'operator', params: kParamsSchema, body: kRedefineBodySchema, handle: async ({ params, body }) => ok(await service.redefine(params.name, body)) }),
    route({
      method: 'DELETE',
      pattern: '/v1/clusters/:name',
      role: 'operator',
      params: kParamsSchema,
      handle: async ({ params }) => {
        await service.remove(params.name);
        return { status: 204 };
      },
    }),
    route({ method: 'GET', pattern: '/v1/clusters/:name/members', role: 'viewer', params: kParamsSchema, handle: ({ params }) => ok(service.members(params.name)) }),
    route({ method: 'GET', pattern: '/v1/clusters/:name/views', role: 'viewer', params: kParamsSchema, handle: ({ params }) => ok(service.views(params.name)) }),
    route({ method: 'POST', pattern: '/v1/clusters/:name/leave', role: 'operator', params: kParamsSchema, body: kEmptyBodySchema, handle: ({ params }) => ok(service.leave(params.name)) }),
  ];
}
