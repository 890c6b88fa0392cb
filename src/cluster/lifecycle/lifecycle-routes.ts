import { z } from 'zod';
import { DomainError } from '../../core/util/domain-error.js';
import { kLandscapeNamePattern } from '../../farm/data/landscape/landscape-record.js';
import { kEmptyBodySchema } from '../../surface/api/api-schemas.js';
import { by, ok, route, type ApiRoute } from '../../surface/api/api-route.js';
import { kClusterNamePattern } from '../service/cluster-name.js';
import type { ClusterLifecycle } from './cluster-lifecycle.js';

/**
 * The cluster lifecycle from profiles (cluster-lifecycle.ts) over the API. Writes need an
 * operator and answer 202 with the operation at once; the CLI follows it with
 * GET /v1/lifecycle/operations/:id?after=SEQ until its state is final.
 *
 *   GET    /v1/lifecycle/clusters               viewer    every record (roles, pinned versions, members)
 *   POST   /v1/lifecycle/clusters               operator  {name, profile, on?} -> 202 the create operation
 *   GET    /v1/lifecycle/clusters/:name         viewer    one record
 *   POST   /v1/lifecycle/clusters/:name/upgrade operator  {profile} -> 202 the upgrade operation
 *   DELETE /v1/lifecycle/clusters/:name         operator  -> 202 the delete operation
 *   GET    /v1/lifecycle/operations             viewer    operations this node ran, then those the FMIDB's journals hold (run elsewhere, or before a restart), newest first
 *   GET    /v1/lifecycle/holders                viewer    which clusters hold which component on which node
 *   GET    /v1/lifecycle/operations/:id         viewer    one, with its events after `after`
 */
const kNameSchema = z.string().regex(kClusterNamePattern, 'a cluster name is 1 to 48 of [A-Za-z0-9_.-] starting with a letter or digit');
const kProfileRefSchema = z.string().min(1).max(128).regex(/^[a-z][a-z0-9-]*(@\S+)?$/, 'a profile is NAME, NAME@VERSION or NAME@RANGE');
const kParamsSchema = z.object({ name: kNameSchema }).strict();
const kCreateSchema = z.object({ name: kNameSchema, profile: kProfileRefSchema, on: z.string().regex(kLandscapeNamePattern).nullable().optional() }).strict();
const kUpgradeSchema = z.object({ profile: kProfileRefSchema }).strict();
const kOperationParamsSchema = z.object({ id: z.string().regex(/^[0-9a-f]{16}$/, 'an operation id is 16 hex digits') }).strict();
const kOperationQuerySchema = z.object({ after: z.coerce.number().int().min(0).optional() }).strict();

export function lifecycleRoutes(lifecycle: ClusterLifecycle): ApiRoute[] {
  return [
    route({ method: 'GET', pattern: '/v1/lifecycle/clusters', role: 'viewer', handle: () => ok(lifecycle.records()) }),
    route({ method: 'POST', pattern: '/v1/lifecycle/clusters', role: 'operator', body: kCreateSchema, handle: ({ body, caller }) => ({ status: 202, json: lifecycle.create({ name: body.name, profile: body.profile, on: body.on ?? null }, by(caller)) }) }),
    route({
      method: 'GET',
      pattern: '/v1/lifecycle/clusters/:name',
      role: 'viewer',
      params: kParamsSchema,
      handle: ({ params }) => {
        const record = lifecycle.record(params.name);
        if (record === null) throw new DomainError('not-found', 'GALAXY_LIFECYCLE_UNKNOWN', `no cluster "${params.name}" made from a profile`);
        return ok(record);
      },
    }),
    route({ method: 'POST', pattern: '/v1/lifecycle/clusters/:name/upgrade', role: 'operator', params: kParamsSchema, body: kUpgradeSchema, handle: ({ params, body, caller }) => ({ status: 202, json: lifecycle.upgrade(params.name, body.profile, by(caller)) }) }),
    route({ method: 'DELETE', pattern: '/v1/lifecycle/clusters/:name', role: 'operator', params: kParamsSchema, body: kEmptyBodySchema, bodyOptional: true, handle: ({ params, caller }) => ({ status: 202, json: lifecycle.delete(params.name, by(caller)) }) }),
    route({ method: 'GET', pattern: '/v1/lifecycle/operations', role: 'viewer', handle: () => ok(lifecycle.operationList()) }),
    route({ method: 'GET', pattern: '/v1/lifecycle/holders', role: 'viewer', handle: () => ok(lifecycle.holdings()) }),
    route({ method: 'GET', pattern: '/v1/lifecycle/operations/:id', role: 'viewer', params: kOperationParamsSchema, query: kOperationQuerySchema, handle: ({ params, query }) => ok(lifecycle.operation(params.id, query.after ?? 0)) }),
  ];
}
