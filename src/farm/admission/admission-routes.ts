import type { AdmissionRecord, KeyView } from './admission-record.js';
import { by, ok, route, type ApiRoute } from '../../surface/api/api-route.js';
import { kApproveBodySchema, kEmptyBodySchema, kKeyBodySchema, kKeyRefBodySchema, kNodeIdParamsSchema, kNodesQuerySchema } from '../../surface/api/api-schemas.js';

/** What the admission routes ask of the agent: its admission records and decisions, and the farm keyring. */
export interface AdmissionBackend {
  /** Admission records known to this node (a controller knows them all; others return []). */
  admissions(): AdmissionRecord[];
  approve(id: string, roles: readonly string[] | undefined, by: string): Promise<AdmissionRecord>;
  reject(id: string, by: string): Promise<AdmissionRecord>;
  revoke(id: string, by: string): Promise<AdmissionRecord>;
  keys(): KeyView[];
  /** install | use | remove, applied across the live farm; resolves with the local keyring after. */
  keyOperation(op: 'install' | 'use' | 'remove', key: string, by: string): Promise<KeyView[]>;
}

/**
 * The admission routes: the nodes that asked to join and the administrator's decisions,
 * and the farm keyring.
 *
 *   GET  /v1/nodes              viewer  ?status=pending|approved|rejected|revoked -> records
 *   POST /v1/nodes/:id/approve  admin   { roles? } -> record
 *   POST /v1/nodes/:id/reject   admin   -> record
 *   POST /v1/nodes/:id/revoke   admin   -> record (the farm keyring is rotated)
 *   GET  /v1/keys               viewer  -> fingerprints, primary first
 *   POST /v1/keys/install|use|remove   admin   { key } -> the keyring after
 */
export function admissionRoutes(backend: AdmissionBackend): ApiRoute[] {
  return [
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
  ];
}
