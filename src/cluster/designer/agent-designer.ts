import type { FarmData } from '../../farm/data/farm-data.js';
import type { ApiRoute } from '../../surface/api/api-route.js';
import type { ApiBackend, ApiEvent } from '../../surface/api/api-backend.js';
import { agentCatalog } from '../profiles/package-catalog.js';
import { ProfileLibrary } from '../profiles/profile-library.js';
import { profileRoutes } from '../profiles/profile-routes.js';
import { ClusterDesigner, type ClusterDesignerOptions } from './cluster-designer.js';
import { designerRoutes } from './designer-routes.js';

/**
 * The profile library and the Cluster Designer on an agent, as its API serves them:
 * what the agent (src/ops/agent/farm-node.ts) adds to its routes. The catalog of
 * packages is the farm components at the agent's version and what its package store
 * holds, read on every request (packages come and go). Imports and removals are
 * `profile` events on the agent's stream, with the API token's name as `by`.
 */
export function profileAndDesignerRoutes(
  backend: Pick<ApiBackend, 'node' | 'members'>,
  data: FarmData,
  packages: () => ReadonlyArray<{ readonly name: string; readonly version: string }>,
  publish: (event: ApiEvent) => void,
  currentOf?: ClusterDesignerOptions['currentOf'],
): ApiRoute[] {
  const catalog = () => agentCatalog(backend.node().version, packages());
  const library = new ProfileLibrary({ data, catalog, publish });
  const designer = new ClusterDesigner({ library, data, members: () => backend.members(), catalog, ...(currentOf === undefined ? {} : { currentOf }) });
  return [...profileRoutes(library), ...designerRoutes(designer)];
}
