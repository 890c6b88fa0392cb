import { DomainError, type FailureKind } from '../../core/util/domain-error.js';
import { z } from 'zod';
import { InstallError, type InstallErrorCode } from './install-error.js';
import { kDesiredComponentSchema } from './desired-components.js';
import { kRolloutTargetsMax } from './rollout.js';
import { by, ok, route, type ApiRoute } from '../../surface/api/api-route.js';
import { kComponentParamsSchema, kEmptyBodySchema, kNodeIdSchema } from '../../surface/api/api-schemas.js';
import type { InstallBackend } from './install-backend.js';

/**
 * The install routes: packages held by this node, installing a component here or rolling
 * it out to nodes, removing one, and following the operations that do it.
 *
 *   GET  /v1/packages                    viewer   packages held (and whether installed)
 *   POST /v1/packages                    admin    {path}: import a package directory or
 *                                                 .gxpkg archive from the agent's host
 *   GET  /v1/components/installed        viewer   components installed from packages
 *   POST /v1/components/install          admin    {name, version, checksum?, config?,
 *                                                 target?: {nodes}|{landscape}|{sql}, batch?}
 *                                                 -> 202 and the operation to follow
 *   POST /v1/components/:name/remove     admin    -> the outcome
 *   GET  /v1/installs                    viewer   operations kept, newest first
 *   GET  /v1/installs/:id?after=N        viewer   one operation, its events after seq N
 *
 * A package is added by path rather than uploaded in the body: packages reach 64 MiB,
 * far beyond the API's body bound, and the API listens on loopback by default, so the
 * operator's CLI and the agent share a file system. Installing runs in the background
 * (a rollout outlasts any HTTP request); the CLI polls the operation.
 */

/** Characters of a path on the agent's host. */
const kPathLengthMax = 4096;
/** Characters of a landscape name or statement. */
const kLandscapeLengthMax = 4096;
/** Nodes asked at once in a rollout at most. */
export const kRolloutBatchMax = 1024;

export const kAddPackageBodySchema = z.object({ path: z.string().min(1).max(kPathLengthMax) }).strict();

const kTargetSchema = z.union([
  z.object({ nodes: z.array(kNodeIdSchema).min(1).max(kRolloutTargetsMax) }).strict(),
  z.object({ landscape: z.string().min(1).max(kLandscapeLengthMax) }).strict(),
  z.object({ sql: z.string().min(1).max(kLandscapeLengthMax) }).strict(),
]);

export const kInstallBodySchema = kDesiredComponentSchema.extend({ target: kTargetSchema.optional(), batch: z.number().int().min(1).max(kRolloutBatchMax).optional() }).strict();

const kOperationParamsSchema = z.object({ id: z.string().regex(/^[0-9a-f]{16}$/, 'an operation id is 16 hex digits') }).strict();
const kOperationQuerySchema = z.object({ after: z.coerce.number().int().min(0).optional() }).strict();

/** Each install error code as a failure kind (the API layer turns kinds into HTTP statuses); exhaustive, so a new code needs a decision here. */
const kKindOfCode: Readonly<Record<InstallErrorCode, FailureKind>> = {
  GALAXY_PACKAGE_BAD_MANIFEST: 'invalid',
  GALAXY_PACKAGE_BAD_PATH: 'invalid',
  GALAXY_PACKAGE_BAD_FILE: 'invalid',
  GALAXY_PACKAGE_FILE_MISMATCH: 'invalid',
  GALAXY_PACKAGE_CHECKSUM_MISMATCH: 'invalid',
  GALAXY_PACKAGE_TOO_LARGE: 'too-large',
  GALAXY_PACKAGE_BAD_ARCHIVE: 'invalid',
  GALAXY_PACKAGE_UNKNOWN: 'not-found',
  GALAXY_PACKAGE_CONFLICT: 'conflict',
  GALAXY_PACKAGE_IN_USE: 'conflict',
  GALAXY_INSTALL_BAD_REQUEST: 'invalid',
  GALAXY_INSTALL_NOT_FOUND: 'not-found',
  GALAXY_INSTALL_AMBIGUOUS: 'conflict',
  GALAXY_INSTALL_FETCH_FAILED: 'upstream-failed',
  GALAXY_INSTALL_START_FAILED: 'failed',
  GALAXY_INSTALL_DEPENDENCY: 'conflict',
  GALAXY_INSTALL_DEPENDENCY_CYCLE: 'conflict',
  GALAXY_INSTALL_NOT_MANAGED: 'conflict',
  GALAXY_INSTALL_WANTED_BY_FARM: 'conflict',
  GALAXY_INSTALL_BUSY: 'unavailable',
  GALAXY_INSTALL_CLOSED: 'unavailable',
  GALAXY_INSTALL_BAD_TARGET: 'invalid',
  GALAXY_INSTALL_UNKNOWN_OPERATION: 'not-found',
  GALAXY_INSTALL_CONFIG_REJECTED: 'invalid',
  GALAXY_INSTALL_FORBIDDEN: 'forbidden',
  GALAXY_INSTALL_NOT_INSTALLED: 'not-found',
  GALAXY_INSTALL_NOT_OWNED: 'conflict',
  GALAXY_INSTALL_TIMEOUT: 'timeout',
  GALAXY_INSTALL_NO_ROUTE: 'unavailable',
};

/** Runs a backend call; an InstallError becomes a DomainError with its code and kind. */
async function mapped<T>(call: () => T | Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof InstallError) throw new DomainError(kKindOfCode[error.code], error.code, error.message);
    throw error;
  }
}

export function installRoutes(backend: InstallBackend): ApiRoute[] {
  return [
    route({ method: 'GET', pattern: '/v1/packages', role: 'viewer', handle: async () => ok(await mapped(() => backend.packages())) }),
    route({
      method: 'POST',
      pattern: '/v1/packages',
      role: 'admin',
      body: kAddPackageBodySchema,
      handle: async ({ body, caller }) => ({ status: 201, json: await mapped(() => backend.addPackage(body.path, by(caller))) }),
    }),
    route({ method: 'GET', pattern: '/v1/components/installed', role: 'viewer', handle: async () => ok(await mapped(() => backend.installedComponents())) }),
    route({
      method: 'POST',
      pattern: '/v1/components/install',
      role: 'admin',
      body: kInstallBodySchema,
      handle: async ({ body, caller }) => ({ status: 202, json: await mapped(() => backend.installComponent(body, by(caller))) }),
    }),
    route({
      method: 'POST',
      pattern: '/v1/components/:name/remove',
      role: 'admin',
      params: kComponentParamsSchema,
      body: kEmptyBodySchema,
      bodyOptional: true,
      handle: async ({ params, caller }) => ok(await mapped(() => backend.removeComponent(params.name, by(caller)))),
    }),
    route({ method: 'GET', pattern: '/v1/installs', role: 'viewer', handle: async () => ok(await mapped(() => backend.installOperations())) }),
    route({
      method: 'GET',
      pattern: '/v1/installs/:id',
      role: 'viewer',
      params: kOperationParamsSchema,
      query: kOperationQuerySchema,
      handle: async ({ params, query }) => ok(await mapped(() => backend.installOperation(params.id, query.after ?? 0))),
    }),
  ];
}
