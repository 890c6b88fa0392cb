import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { PreparedAgent } from '../../ops/agent/agent-command.js';
import { silentAgentLogger, type AgentLogger } from '../../node/util/agent-logger.js';
import { ApiError } from '../api/api-error.js';
import type { MemberView } from '../../core/membership/member-view.js';
import type { ApiEvent } from '../../core/util/api-event.js';
import type { MetricFamily } from '../../core/util/metric-family.js';
import type { AdmissionRecord, KeyView } from '../../farm/admission/admission-record.js';
import type { ComponentStatus } from '../../farm/components/component-status.js';
import type { NodeValues } from '../../farm/data/node-values.js';
import type { NodeSummary } from '../../farm/service/node-summary.js';
import type { ApiBackend } from '../api/api-backend.js';
import type { AgentStats } from '../../node/driver/agent-worker-protocol.js';
// The API's modules (its server, ws, token store, routes and schemas) are loaded only when
// the API is on (startApi): an agent with --api off boots faster and smaller (issue 14).
import type { ApiServer } from '../../ops/api/api-server.js';
import { kAdminTokenFileName, kApiFileName } from '../../surface/cli/agent-files.js';
import { ComponentHost } from '../../farm/components/host/component-host.js';
import type { MembershipEvent } from '../../core/membership/membership-event.js';
import { ComponentPeers, statusAfter } from './component-peers.js';
import { measurementComponentPath } from '../../farm/measurement/measurement-component.js';
import { writeFileAtomic } from '../../node/util/atomic-file.js';
import { FarmData, kFmidbSnapshotFileName } from '../../farm/data/farm-data.js';
import { FarmDesiredComponents } from '../../farm/install/farm-desired-components.js';
import { FarmComponents, kFarmComponentKinds, loadFarmComponentRoutes } from './farm-components.js';
import { farmMetrics } from '../../farm/service/farm-metrics.js';
import { FarmService } from '../../farm/service/farm-service.js';
import { loadApiTls } from './config/api-tls-files.js';
import { parseBindAddress } from '../../node/transport/socket-address.js';
import { kBytesCodec } from '../../core/messenger/channel-codec.js';
import { ClusterService } from '../../cluster/service/cluster-service.js';
import { kClusterStateFileName } from '../../cluster/service/cluster-incarnations.js';
import type { ClusterLifecycle } from '../../cluster/lifecycle/cluster-lifecycle.js';
import type { agentLifecycle } from '../../cluster/lifecycle/agent-lifecycle.js';
import type { ApiRoute } from '../../surface/api/api-route.js';

/**
 * One farm node as `galaxy agent` runs it: the farm service (membership, admission,
 * keyring), the component host with the Measurement service, the per-node values table
 * the components post into, and the HTTP API over all of it. This class is the API's
 * backend; the API server only handles HTTP, tokens and validation.
 */
export interface FarmNodeOptions {
  readonly prepared: PreparedAgent;
  readonly logger?: AgentLogger;
  readonly version?: string;
  /**
   * The component kinds to run (measurement, events, jobs, scripts); default: the
   * invocation's (GALAXY_COMPONENTS), else all.
   */
  readonly components?: readonly string[];
  /** Measurement interval at start, ms. */
  readonly measurementIntervalMs?: number;
}

/** The component kinds the agent runs: announced in its `components` tag, and told where their peers are. */
const kAllComponentKinds: readonly string[] = ['measurement', ...kFarmComponentKinds];

/** The API's modules, loaded only when the API is on (issue 14: an agent with --api off boots faster and smaller). */
async function loadApiModules() {
  const [{ ApiServer }, { TokenStore }, { farmDataRoutes }, { farmComponentsRoutes }, { agentLifecycle }, { clusterRoutes }, { channelRoutes }, componentRoutes] = await Promise.all([
    import('../../ops/api/api-server.js'),
    import('../../ops/api/token-store.js'),
    import('../../farm/data/farm-data-routes.js'),
    import('../../farm/install/farm-components-routes.js'),
    import('../../cluster/lifecycle/agent-lifecycle.js'),
    import('../../cluster/service/cluster-routes.js'),
    import('../../cluster/service/channel-routes.js'),
    loadFarmComponentRoutes(),
  ]);
  return { ApiServer, TokenStore, farmDataRoutes, farmComponentsRoutes, agentLifecycle, clusterRoutes, channelRoutes, componentRoutes };
}

export class FarmNode implements ApiBackend {
  readonly service: FarmService;
  readonly componentHost: ComponentHost;
  /** The FMIDB replica and the landscapes computed over it. */
  readonly data: FarmData;
  /** The farm configuration's components for this node (the install service follows it). */
  readonly desiredComponents: FarmDesiredComponents;
  /** The clusters this node is a member of (src/cluster/service). */
  readonly clusters: ClusterService;
  /**
   * Clusters made from profiles (src/cluster/lifecycle): created, repaired, upgraded,
   * deleted from here. Runs with the API on, and on every controller or management node
   * (API on or off: any of them may be the steward); null otherwise.
   */
  lifecycle: ClusterLifecycle | null = null;
  private apiServer: ApiServer | null;
  /** Events, jobs, scripts and installation (farm-components.ts). */
  private farmComponents: FarmComponents | null = null;
  private readonly logger: AgentLogger;
  private componentsStarted = false;
  private peersPending = false;
  /** Members changed by membership events since the last turn, by id (the last event wins). */
  private readonly changedMembers = new Map<string, MemberView>();
  /** Every kind's component peers, kept from the events. */
  private readonly peers = new ComponentPeers();
  /** The node's components changed since the last turn: every kind it runs is told its peers. */
  private kindsChanged = true;
  private closing = false;
  /** The kinds announced in this node's `components` tag: the built-in ones, then installed ones as they come and go. */
  private announcedKinds: readonly string[];
  private readonly listeners = new Set<(event: ApiEvent) => void>();

  private constructor(service: FarmService, componentHost: ComponentHost, logger: AgentLogger, dataDir: string, private readonly kinds: readonly string[]) {
    this.service = service;
    this.componentHost = componentHost;
    // The FMIDB replica runs in the agent worker's NodeStack, which carries its channel itself.
    this.data = new FarmData({ selfId: service.host.id, link: service.host, publish: (event) => this.publish(event), logger, snapshotFile: join(dataDir, kFmidbSnapshotFileName) });
    this.desiredComponents = new FarmDesiredComponents(this.data, logger);
    this.clusters = new ClusterService({
      selfId: service.host.id,
      data: this.data,
      channel: service.messenger.channel('cluster', kBytesCodec),
      members: () => service.members(),
      publish: (event) => this.publish(event),
      postFarmEvent: (event) => this.farmComponents?.postEvent(event),
      logger,
      stateFile: join(dataDir, kClusterStateFileName),
      kernels: service.host.settings.backend,
      // Issue 19: cluster traffic to each member's selected network, from this node's own address there.
      addressing: {
        networks: new Map(service.host.settings.networks.map((n) => [n.host, n.name])),
        farmAddress: (id) => service.messenger.directory.lookup(id)?.address ?? service.host.members().find((m) => m.id === id && !m.self)?.address,
        setAliases: (id, hosts) => void service.messenger.directory.setAliases(id, hosts),
      },
    });
    this.apiServer = null;
    this.logger = logger;
    this.announcedKinds = kinds;
  }

  /** The API server, when the API is on. */
  get api(): ApiServer | null {
    return this.apiServer;
  }

  static async start(options: FarmNodeOptions): Promise<FarmNode> {
    const { prepared } = options;
    const logger = options.logger ?? silentAgentLogger();
    const kinds = options.components ?? prepared.farm.components ?? kAllComponentKinds;
    const unknown = kinds.filter((kind) => !kAllComponentKinds.includes(kind));
    if (unknown.length > 0) throw new Error(`unknown component kind(s) ${unknown.join(', ')}: the agent runs ${kAllComponentKinds.join(', ')}`);
    // The API's modules are loaded before the node starts, never between its start and the
    // return: the caller (runFarmAgent) subscribes to the node's events only once start()
    // resolves, so whatever the node sees meanwhile (joins, its admission) reaches nobody.
    // Importing them there (ws, routes, schemas: hundreds of ms on a loaded host) lost the
    // joins the demo counts, and it never converged.
    const apiModules = prepared.farm.api === null ? null : await loadApiModules();
    // The steward (the lowest-id live controller or management node) need not serve the API.
    const manages = prepared.farm.roles.some((role) => role === 'controller' || role === 'management');
    const lifecycleModule = apiModules !== null ? { agentLifecycle: apiModules.agentLifecycle } : manages ? await import('../../cluster/lifecycle/agent-lifecycle.js') : null;
    const life = randomBytes(8).toString('hex');
    const service = await FarmService.start({
      // `lifecycle`: this node runs the cluster lifecycle (this run of it: journals name it), so a controller or management node may be the steward.
      agent: { ...prepared.options, meta: { ...(prepared.options.meta ?? {}), components: kinds.join(','), ...(lifecycleModule === null ? {} : { lifecycle: life }) } },
      dataDir: prepared.dataDir,
      mode: prepared.farm.mode,
      roles: prepared.farm.roles,
      bootstrap: prepared.farm.bootstrap,
      autoApprove: prepared.farm.autoApprove,
      farmCaFingerprint: prepared.farm.farmCa,
      logger,
      ...(options.version === undefined ? {} : { version: options.version }),
    });
    const node = new FarmNode(service, new ComponentHost({ nodeId: service.host.id, stateRoot: join(prepared.dataDir, 'components'), logger }), logger, prepared.dataDir, kinds);
    try {
      // Jobs, scripts and installation turn landscapes and statements into nodes through the
      // FMIDB's landscapes; installation follows the farm configuration's components.
      node.farmComponents = new FarmComponents({ service, host: node.componentHost, dataDir: prepared.dataDir, logger, publish: (event) => node.publish(event), values: (id) => node.values(id), resolve: (target) => node.data.resolve(target), desired: node.desiredComponents, kinds, attribute: (id, key) => {
          const value = node.data.attributes(id)[0]?.attributes.find((a) => a.key === key)?.value;
          return typeof value === 'string' ? value : undefined;
        } });
      if (prepared.farm.api !== null && apiModules !== null) {
        const { ApiServer, TokenStore, farmDataRoutes, farmComponentsRoutes, agentLifecycle, clusterRoutes, channelRoutes, componentRoutes } = apiModules;
        const tokens = TokenStore.open(join(prepared.dataDir, 'tokens.json'));
        if (tokens.bootstrap(join(prepared.dataDir, kAdminTokenFileName))) logger.info({ file: join(prepared.dataDir, kAdminTokenFileName) }, 'created the admin API token');
        const tls = prepared.farm.apiTls === null ? undefined : loadApiTls(prepared.farm.apiTls, prepared.dataDir, parseBindAddress(prepared.farm.api).host);
        if (tls?.created === true) logger.info({ file: tls.certFile }, 'created a self-signed API certificate');
        node.apiServer = await ApiServer.start({ backend: node, tokens, bind: prepared.farm.api, tls, allowRemote: prepared.farm.apiInsecure, logger, routes: [...farmDataRoutes(node.data), ...clusterRoutes(node.clusters), ...channelRoutes(node.clusters), ...farmComponentsRoutes(node.desiredComponents), ...node.farmComponents.routes(componentRoutes), ...node.lifecycleRoutes(agentLifecycle, life)] });
        writeFileAtomic(join(prepared.dataDir, kApiFileName), `${JSON.stringify({ url: node.apiServer.url, ...(node.apiServer.fingerprint === null ? {} : { fingerprint: node.apiServer.fingerprint }) })}\n`);
      }
      // Without the API, a controller or management node still runs the lifecycle (the steward's repairs and recoveries); it serves no routes.
      if (node.lifecycle === null && lifecycleModule !== null) node.lifecycleRoutes(lifecycleModule.agentLifecycle, life);
      node.wire(options.measurementIntervalMs ?? 5000);
      return node;
    } catch (error) {
      await node.close();
      throw error;
    }
  }

  /**
   * Publishes this node's `address` attribute in the FMIDB (the host of its gossip
   * address) and `net.<name>` for each extra network (--network NAME=HOST): the network
   * attributes profiles select traffic by (`networks:` in a profile, the shipped base
   * uses `address`, mixin dual-network `net.data`); not for a wildcard bind. Written once the replica takes writes
   * (retried each second for a minute: a node awaiting admission cannot write yet), and
   * only when the FMIDB does not hold that value already.
   */
  private async publishAddress(): Promise<void> {
    const host = parseBindAddress(this.service.host.address).host;
    // A wildcard bind names no network a peer could use: the operator sets the attribute.
    if (host === '0.0.0.0' || host === '::') return;
    // Issue 19: each extra network (--network NAME=HOST) as `net.<NAME>`, which a profile's `networks:` selects.
    const wanted: Record<string, string> = { address: host };
    for (const network of this.service.host.settings.networks) wanted[`net.${network.name}`] = network.host;
    for (let attempt = 0; attempt < 60 && !this.closing; attempt++) {
      try {
        const now = this.data.attributes(this.data.selfId)[0]?.attributes ?? [];
        const changed = Object.fromEntries(Object.entries(wanted).filter(([key, value]) => now.find((a) => a.key === key)?.value !== value));
        if (Object.keys(changed).length > 0) await this.data.setAttributes(this.data.selfId, changed);
        return;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 1000).unref());
      }
    }
    this.logger.warn({ address: host }, 'the address attribute could not be published');
  }

  /** Builds the profile library, the designer and the cluster lifecycle; their routes. */
  private lifecycleRoutes(build: typeof agentLifecycle, life: string): ApiRoute[] {
    const built = build({
      life,
      backend: this,
      data: this.data,
      clusters: this.clusters,
      packages: () => this.farmComponents?.packages() ?? [],
      installer: () => this.farmComponents?.installer() ?? null,
      publish: (event) => this.publish(event),
      postFarmEvent: (event) => this.farmComponents?.postEvent(event),
      logger: this.logger,
      rpc: this.service.rpc,
    });
    this.lifecycle = built.lifecycle;
    return built.routes;
  }

  private wire(measurementIntervalMs: number): void {
    const service = this.service;
    service.on('api', (event) => this.publish(event));
    service.on('component', (kind, from, payload) => this.componentHost.deliverPeer(kind, from, payload));
    // Membership events are applied one member at a time (issue 14: no main-thread work
    // that grows with the farm per event); the FMIDB and the components hear of them once
    // per turn of the event loop, a join storm's thousands of events together.
    service.host.on('event', (event) => this.memberChanged(event));
    this.componentHost.on('component', (event) => {
      // An installed package's component has a kind of its own: announced, and told of its
      // peers, like the built-in kinds, from the moment it runs here.
      if (!this.announcedKinds.includes(event.kind) || event.type === 'stopped') {
        this.kindsChanged = true;
        this.peersChanged();
      }
      const level = event.type === 'crashed' || event.type === 'failed' ? 'warn' : 'info';
      this.logger[level]({ component: event.name, type: event.type, ...event.detail }, `component ${event.type}`);
      this.publish({ kind: 'component', type: event.type, time: new Date().toISOString(), body: { name: event.name, kind: event.kind, ...event.detail } });
    });
    this.componentHost.on('values', (_name, values) => this.data.postValues(values));
    this.componentHost.on('event', (name, event) => this.publish({ kind: 'farm-event', type: event.eventType, time: new Date().toISOString(), body: { component: name, severity: event.severity, ...event.body } }));
    this.componentHost.on('peer-send', (kind, payload) => {
      try {
        service.broadcastComponent(kind, payload);
      } catch (error) {
        this.logger.warn({ kind, error: (error as Error).message }, 'component peer message not sent');
      }
    });
    const members = service.members();
    this.data.membersChanged(members);
    this.peers.reset(members);
    this.data.start();
    void this.publishAddress();
    service.host.on('event', (event) => this.clusters.membershipEvent(event));
    service.host.on('event', () => this.lifecycle?.membershipChanged());
    this.clusters.start();
    if (this.kinds.includes('measurement')) this.componentHost.add({ name: 'measurement', kind: 'measurement', module: measurementComponentPath(), config: { intervalMs: measurementIntervalMs } });
    // Components start once the node belongs to the farm: at once when it holds
    // credentials (or runs without admission), else when the grant arrives.
    const state = service.admissionState;
    if (state === 'approved' || state === 'bootstrap') this.startComponents();
    else service.on('api', (event) => event.kind === 'admission' && event.type === 'admitted' && this.startComponents());
  }

  private startComponents(): void {
    if (this.componentsStarted) return;
    this.componentsStarted = true;
    if (this.kinds.includes('measurement')) void this.componentHost.start('measurement').catch((error: Error) => this.logger.warn({ error: error.message }, 'measurement component did not start; the host retries with backoff'));
    this.farmComponents?.start();
  }

  /**
   * One membership event, applied to this thread's view of that member at once (O(its
   * kinds)): its status follows from the event (an `update` keeps the one it had), its
   * tags are the ones AgentHost decoded from the event.
   */
  private memberChanged(event: MembershipEvent): void {
    const host = this.service.host;
    if (event.id === host.id) return;
    const status = statusAfter(event.type, this.peers.statusOf(event.id));
    const tags = host.tagsOf(event.id);
    this.peers.set(event.id, event.address, status, tags);
    // A reaped member is forgotten: the FMIDB needs no word of it.
    if (status === null) this.changedMembers.delete(event.id);
    else this.changedMembers.set(event.id, { id: event.id, address: event.address, status, incarnation: event.incarnation, self: false, tags });
    this.peersChanged();
  }

  /**
   * Once per turn of the event loop (a join storm brings thousands of events in a few
   * ticks): announces the kinds this node runs if they changed, tells the FMIDB which
   * members changed, and tells each kind this node runs its peers if they changed. The
   * work is O(the members that changed) plus O(the peers of a kind whose list changed):
   * nothing rescans the whole table.
   */
  private peersChanged(): void {
    if (this.peersPending) return;
    this.peersPending = true;
    setImmediate(() => {
      this.peersPending = false;
      // Components stopping with the node are not news to the farm: it is leaving.
      if (this.closing) return;
      this.announceKinds();
      if (this.changedMembers.size > 0) this.data.membersChanged([...this.changedMembers.values()]);
      this.changedMembers.clear();
      this.notifyPeers();
    });
  }

  /**
   * The kinds in this node's `components` tag: the built-in kinds it runs and the kinds of
   * the components on its host (installed packages), so that other nodes count it among
   * their peers. A tag over the farm's metaBytesMax is not announced (logged): the kinds
   * already announced stay.
   */
  private announceKinds(): void {
    const kinds = this.hostKinds();
    if (kinds.length === this.announcedKinds.length && kinds.every((kind, i) => kind === this.announcedKinds[i])) return;
    const host = this.service.host;
    try {
      host.setMeta({ ...host.tagsOf(host.id), components: kinds.join(',') });
      this.announcedKinds = kinds;
    } catch (error) {
      this.logger.warn({ kinds, error: (error as Error).message }, 'component kinds not announced');
    }
  }

  /**
   * Tells each component kind this node runs where its peers are active (alive members
   * announcing it in their tags): every kind when the node's components changed, else the
   * kinds whose peers changed.
   */
  private notifyPeers(): void {
    const changed = new Set(this.peers.takeChanged());
    const all = this.kindsChanged;
    this.kindsChanged = false;
    for (const kind of this.hostKinds()) if (all || changed.has(kind)) this.componentHost.membership(kind, this.peers.peersOf(kind));
  }

  /** The built-in kinds this node runs, then the kinds of the other components on its host. */
  private hostKinds(): string[] {
    return [...new Set([...this.kinds, ...this.componentHost.status().map((c) => c.kind)])];
  }

  private publish(event: ApiEvent): void {
    for (const listener of this.listeners) listener(event);
  }

  // ---- ApiBackend ----------------------------------------------------------------

  node(): NodeSummary {
    return this.service.node();
  }

  members(): MemberView[] {
    return this.service.members();
  }

  admissions(): AdmissionRecord[] {
    return this.service.admissions();
  }

  approve(id: string, roles: readonly string[] | undefined, by: string): Promise<AdmissionRecord> {
    return this.service.approve(id, roles, by);
  }

  reject(id: string, by: string): Promise<AdmissionRecord> {
    return this.service.reject(id, by);
  }

  revoke(id: string, by: string): Promise<AdmissionRecord> {
    return this.service.revoke(id, by);
  }

  keys(): KeyView[] {
    return this.service.keyViews();
  }

  keyOperation(op: 'install' | 'use' | 'remove', key: string, by: string): Promise<KeyView[]> {
    return this.service.keyOperation(op, key, by);
  }

  components(): ComponentStatus[] {
    return this.componentHost.status();
  }

  async configureComponent(name: string, config: Readonly<Record<string, unknown>>, by: string): Promise<ComponentStatus> {
    this.mustHaveComponent(name);
    try {
      await this.componentHost.configure(name, this.farmComponents?.configuration(name, config) ?? config);
    } catch (error) {
      throw new ApiError(400, 'GALAXY_COMPONENT_CONFIG', (error as Error).message);
    }
    this.logger.info({ component: name, config, by }, 'component configured');
    return this.componentHost.status().find((c) => c.name === name)!;
  }

  async restartComponent(name: string, by: string): Promise<ComponentStatus> {
    this.mustHaveComponent(name);
    await this.componentHost.restart(name);
    this.logger.info({ component: name, by }, 'component restarted by an operator');
    return this.componentHost.status().find((c) => c.name === name)!;
  }

  values(node: string | undefined): NodeValues[] {
    return this.data.values(node);
  }

  async metrics(): Promise<MetricFamily[]> {
    const stats = await this.service.host.stats();
    const families = farmMetrics({
      stats,
      members: this.service.members(),
      farm: this.service.counters,
      authority: this.service.authorityCounters(),
      keyringKeys: this.service.keyViews().length,
      keyEpoch: this.service.keyEpoch,
      components: this.componentHost.status(),
      messenger: this.service.messenger.snapshot(),
    });
    return [...families, ...networkMetrics(stats.networks), ...jobsCoreMetrics(stats.jobs), ...this.data.metrics(), ...this.clusters.metrics(), ...(this.farmComponents?.metrics() ?? [])];
  }

  subscribe(listener: (event: ApiEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.apiServer?.close();
    this.lifecycle?.close();
    this.clusters.close();
    await this.farmComponents?.close();
    await this.componentHost.close();
    // The snapshot is saved while the worker, and the replica in it, still runs.
    await this.data.close();
    await this.service.close();
  }

  private mustHaveComponent(name: string): void {
    if (!this.componentHost.status().some((c) => c.name === name)) throw new ApiError(404, 'GALAXY_COMPONENT_UNKNOWN', `no component "${name}" on this node`);
  }
}

/** The job coordination's counters in the worker's stack (issue 13: the cores left the jobs component), by core and counter. */
function jobsCoreMetrics(jobs: AgentStats['jobs']): MetricFamily[] {
  if (jobs === null) return [];
  const samples = (core: 'coordinator' | 'runner') => Object.entries(jobs[core]).map(([event, value]) => ({ labels: { core, event: event.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`) }, value }));
  return [{ name: 'galaxy_jobs_core_events_total', help: 'Job coordination in the agent\'s worker: what the coordinator (starts sent and failed, probes failed, reports refused, ...) and the runner (started, refused, orphans terminated, ...) counted', type: 'counter', samples: [...samples('coordinator'), ...samples('runner')] }];
}

/** The extra networks' traffic (--network; issue 19): what the cluster service sent and received on each, and what was refused there. */
function networkMetrics(networks: AgentStats['networks']): MetricFamily[] {
  if (networks.length === 0) return [];
  return [
    {
      name: 'galaxy_network_messages_total',
      help: 'Messenger envelopes on an extra network (--network), by direction; refused: opened there but no envelope for the messenger (membership, FMIDB)',
      type: 'counter',
      samples: networks.flatMap((n) => [
        { labels: { network: n.name, direction: 'sent' }, value: n.appSent },
        { labels: { network: n.name, direction: 'received' }, value: n.appReceived },
        { labels: { network: n.name, direction: 'refused' }, value: n.refused },
      ]),
    },
  ];
}
