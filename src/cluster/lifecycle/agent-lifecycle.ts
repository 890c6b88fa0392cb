import type { FarmData } from '../../farm/data/farm-data.js';
import type { PostedEvent } from '../../farm/events/farm-event.js';
import type { RpcEndpoint } from '../../farm/install/farm-peer.js';
import type { AgentLogger } from '../../node/util/agent-logger.js';
import type { ApiRoute } from '../../surface/api/api-route.js';
import type { ApiEvent } from '../../core/util/api-event.js';
import type { MemberView } from '../../core/membership/member-view.js';
import type { NodeSummary } from '../../farm/service/node-summary.js';
import { ClusterDesigner } from '../designer/cluster-designer.js';
import { designerRoutes } from '../designer/designer-routes.js';
import { agentCatalog } from '../profiles/package-catalog.js';
import { ProfileLibrary } from '../profiles/profile-library.js';
import { profileRoutes } from '../profiles/profile-routes.js';
import type { ClusterService } from '../service/cluster-service.js';
import { adminNetwork } from '../service/cluster-networks.js';
import { ClusterLifecycle, type LifecycleInstaller } from './cluster-lifecycle.js';
import { describeConflict, holders } from './component-holders.js';
import { journalsAnswer, kServiceJournals } from './lifecycle-journal.js';
import { lifecycleRoutes } from './lifecycle-routes.js';
import { roleComponents } from './lifecycle-record.js';

/**
 * The profile library, the Cluster Designer and the cluster lifecycle on an agent, as its
 * API serves them (src/ops/agent/farm-node.ts adds the routes and feeds membership
 * changes to the lifecycle). The designer's plans of a cluster made from a profile start
 * from its lifecycle record (so a plan for an existing name is an upgrade), and its
 * hand-over (applyClusterPlan) is the lifecycle's create or upgrade.
 */
export interface AgentLifecycleOptions {
  readonly backend: { node(): NodeSummary; members(): MemberView[] };
  readonly data: FarmData;
  readonly clusters: ClusterService;
  readonly packages: () => ReadonlyArray<{ readonly name: string; readonly version: string }>;
  readonly installer: () => LifecycleInstaller | null;
  readonly publish: (event: ApiEvent) => void;
  readonly postFarmEvent?: (event: PostedEvent) => void;
  readonly logger: AgentLogger;
  /** This run of the lifecycle, as the agent's `lifecycle` tag announces it. */
  readonly life?: string;
  /**
   * The farm RPC: the lifecycle answers lifecycle.journals on it (the operation journals
   * its replica holds) and, as the steward, asks the others (cluster-lifecycle.ts,
   * gatherJournals). Without it the steward knows only its own replica.
   */
  readonly rpc?: RpcEndpoint;
}

/** How long the steward waits for one lifecycle's answer to lifecycle.journals, ms. */
const kAskJournalsTimeoutMs = 3_000;

export function agentLifecycle(options: AgentLifecycleOptions): { readonly lifecycle: ClusterLifecycle; readonly routes: ApiRoute[] } {
  const { backend, data, clusters } = options;
  const catalog = () => agentCatalog(backend.node().version, options.packages());
  const library = new ProfileLibrary({ data, catalog, publish: options.publish });
  let lifecycle: ClusterLifecycle | null = null;
  const currentOf = (name: string) => {
    const record = lifecycle?.record(name) ?? null;
    if (record === null || record.deleted) return null;
    return record.members.map((m) => ({ node: m.node, role: m.role, components: roleComponents(record, m.role).map((c) => ({ package: c.name, version: c.version })) }));
  };
  // A plan placing another version of a component other clusters hold on a node is blocked (a node runs one copy).
  const conflictsOf = (cluster: string | null, node: string, role: string, name: string, version: string): string[] => {
    if (lifecycle === null) return [];
    const held = holders(lifecycle.records(), lifecycle.journals(), node, name, cluster).filter((h) => h.component.version !== version);
    return held.length === 0 ? [] : [describeConflict(node, role, { name, version, farm: false }, held)];
  };
  const designer = new ClusterDesigner({ library, data, members: () => backend.members(), catalog, currentOf, conflictsOf });
  lifecycle = new ClusterLifecycle({
    selfId: data.selfId,
    data,
    clusters: {
      create: (name, input) => clusters.create(name, input),
      redefine: (name, input) => clusters.redefine(name, input),
      remove: (name) => clusters.remove(name),
      exists: (name) => clusters.list().some((c) => c.name === name),
    },
    designer,
    library,
    catalog,
    members: () => backend.members(),
    installer: options.installer,
    // Issue 19: a member whose profile selects an admin network gets its installs over it.
    adminNetwork: (cluster, node) => {
      const networks = clusters.list().find((c) => c.name === cluster)?.networks;
      if (networks === undefined || networks === null || networks[node] === undefined) return undefined;
      const farmAddress = backend.members().find((m) => m.id === node)?.address;
      return adminNetwork(networks, node, farmAddress, data.attributes(node)[0]?.attributes ?? []);
    },
    publish: options.publish,
    ...(options.postFarmEvent === undefined ? {} : { postFarmEvent: options.postFarmEvent }),
    logger: options.logger,
    ...(options.life === undefined ? {} : { life: options.life }),
    ...(options.rpc === undefined ? {} : { askJournals: (node: string, body?: { readonly id: string }) => options.rpc!.call(node, kServiceJournals, body ?? {}, kAskJournalsTimeoutMs) }),
    journalBytesMax: data.config.valueBytesMax,
  });
  // Read-only, and farm data every replica holds anyway: any member may ask (all journals, or one by id).
  options.rpc?.handle(kServiceJournals, (_from, body) => journalsAnswer(lifecycle!.journals(), body));
  return { lifecycle, routes: [...profileRoutes(library), ...designerRoutes(designer), ...lifecycleRoutes(lifecycle)] };
}
