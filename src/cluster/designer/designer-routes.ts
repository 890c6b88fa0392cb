import { z } from 'zod';
import { ok, route, type ApiRoute } from '../../surface/api/api-route.js';
import { kProfileInputSchema } from '../profiles/profile-routes.js';
import { isSemver } from '../../farm/install/semver.js';
import { kNodeIdSchema } from '../../surface/api/api-schemas.js';
import { kLandscapeNamePattern } from '../../farm/data/landscape/landscape-record.js';
import { kClusterMembersMax } from '../profiles/profile-limits.js';
import { kClusterNamePattern, type ClusterDesigner } from './cluster-designer.js';

/**
 * The Cluster Designer's API (the CLI's `galaxy cluster design` and, later, the browser
 * console use it). Both are reads: nothing is created. Viewer routes.
 *
 *   POST /v1/designer/preview  {"profile": {"ref": "pb@1"} | {"file", "text"}, "on"?: "LANDSCAPE"}
 *        -> {profile, on, nodes, placement: {members, roles, decisions, problems}, placeable}
 *   POST /v1/designer/plan     {"profile", "on"?, "name"?, "current"?: [{node, role, components: [{package, version}]}]}
 *        -> the ClusterPlan document: operation, actions, blocked, lines (terraform-plan text), command
 *
 * Bad bodies are 400s naming the field; a bad profile text is a 400 naming file, path
 * and reason; an unknown stored profile or landscape is a 404 listing what exists.
 */
const kOnSchema = z.string().regex(kLandscapeNamePattern, 'a landscape name is 1 to 64 of [A-Za-z0-9_.-] starting with a letter or digit').nullable().optional();
const kCurrentSchema = z
  .array(
    z
      .object({
        node: kNodeIdSchema,
        role: z.string().regex(/^[a-z][a-z0-9-]{0,62}$/, 'a role name is a-z 0-9 -, starting with a letter'),
        components: z.array(z.object({ package: z.string().min(1).max(214), version: z.string().refine(isSemver, 'must be a semantic version') }).strict()).max(256).default([]),
      })
      .strict(),
  )
  .max(kClusterMembersMax * 4);
const kPreviewBodySchema = z.object({ profile: kProfileInputSchema, on: kOnSchema }).strict();
const kPlanBodySchema = z
  .object({ profile: kProfileInputSchema, on: kOnSchema, name: z.string().regex(kClusterNamePattern, 'a cluster name is 1 to 63 of a-z 0-9 - starting with a letter').optional(), current: kCurrentSchema.optional() })
  .strict();

export function designerRoutes(designer: ClusterDesigner): ApiRoute[] {
  return [
    route({ method: 'POST', pattern: '/v1/designer/preview', role: 'viewer', body: kPreviewBodySchema, handle: ({ body }) => ok(designer.preview({ profile: body.profile, on: body.on ?? null })) }),
    route({
      method: 'POST',
      pattern: '/v1/designer/plan',
      role: 'viewer',
      body: kPlanBodySchema,
      handle: ({ body }) => ok(designer.plan({ profile: body.profile, on: body.on ?? null, ...(body.name === undefined ? {} : { name: body.name }), ...(body.current === undefined ? {} : { current: body.current }) })),
    }),
  ];
}
