import { join } from 'node:path';
import { z } from 'zod';
import type { AgentLogger } from '../../node/util/agent-logger.js';
import type { MemberView } from '../../core/membership/member-view.js';
import type { ApiEvent } from '../../core/util/api-event.js';
import type { MetricFamily } from '../../core/util/metric-family.js';
import type { NodeValues } from '../../farm/data/node-values.js';
import type { InstallBackend } from '../../farm/install/install-backend.js';
import type { ApiRoute } from '../../surface/api/api-route.js';
import { kEventsComponent } from '../../farm/events/events-component-spec.js';
import type { ComponentHost, ComponentLifecycleEvent } from '../../farm/components/host/component-host.js';
import { connectComponentRpc, type ComponentRpcBridge, type ComponentRpcFarm } from '../../farm/components/host/component-rpc-bridge.js';
import { kJobsComponent } from '../../farm/jobs/jobs-component-spec.js';
import { JobsComponentPort } from '../../farm/jobs/jobs-component-link.js';
import { kJobsEventsService } from '../../farm/jobs/jobs-wire.js';
import { kScriptsComponent } from '../../farm/jobs/scripts/scripts-component-spec.js';
import { kBytesCodec } from '../../core/messenger/channel-codec.js';
import type { MessengerChannel } from '../../node/messenger/messenger-channel.js';
import type { DesiredComponentsSource } from '../../farm/install/desired-components.js';
import { FarmInstall } from '../../farm/install/farm-install.js';
import { installAuthorizer } from '../../farm/install/install-authorization.js';
import { networkRoute } from '../../farm/install/network-route.js';
import { InstallError } from '../../farm/install/install-error.js';
import { writeFileAtomic } from '../../node/util/atomic-file.js';
import { CodedError } from '../../core/util/coded-error.js';
import { readJsonFile } from '../../node/util/json-file.js';
import { EventForwarder } from '../../farm/events/event-forwarder.js';
import type { PostedEvent } from '../../farm/events/farm-event.js';
import type { FarmService } from '../../farm/service/farm-service.js';

/**
 * The farm service components of issue 7 as `galaxy agent` runs them, and everything
 * that joins them to the farm node: the event service (`events`), process and job
 * control (`jobs`) and remote scripts (`scripts`), each a component on the node's
 * ComponentHost, and component installation (FarmInstall) beside them. What the farm
 * node does with it: construct it once the FarmService and the ComponentHost exist and
 * before the API starts; pass routes() to the ApiServer; announce kFarmComponentKinds in
 * its `components` tag and tell those kinds where their peers are; call start() once the
 * node is admitted; pass an operator's configuration through configuration(); append
 * metrics() to its own; close() before closing the host.
 *
 * What it wires:
 * - Farm RPC for components (connectComponentRpc): calls to other nodes go over FarmRpc
 *   to the member's address; services components declare are registered with FarmRpc;
 *   this node's own farm.* services are answered here: farm.members, farm.resolve
 *   ({nodes} checked against the live members, {landscape} and {sql} through the
 *   node's resolver), farm.values and farm.publish (stored events onto the API stream).
 * - The event service's inputs: component lifecycle failures (crashed, failed) and the
 *   events components raise go to events.post; every values sample to events.values
 *   (event-forwarder.ts).
 * - Installation: FarmInstall once the node is admitted, taking install.apply and
 *   install.remove only from controller or management members (install-authorization.ts),
 *   its package chunks on the messenger's install-chunks channel.
 *
 * Configuration: `<dataDir>/farm-components.json`, `{ "events": {...}, "jobs": {...},
 * "scripts": {} }`, each part optional, read at start; a configuration an operator
 * changes at runtime (`galaxy components config events ...`) is written back to it, so
 * it survives a restart. The events component's `management` setting is not taken from
 * the file: it is whether the node has the `management` role (it then keeps the farm's
 * event store).
 */
export interface FarmComponentsOptions {
  readonly service: FarmService;
  readonly host: ComponentHost;
  readonly dataDir: string;
  readonly logger: AgentLogger;
  /** Puts an event on the node's API stream (the WebSocket at /v1/events). */
  readonly publish: (event: ApiEvent) => void;
  /** Values rows this node knows, of one node or all (farm.values). */
  readonly values: (node?: string) => NodeValues[];
  /**
   * Node ids of a landscape, or of a landscape statement (farm.resolve, install targets).
   * Throws (or rejects with) an Error carrying `code` when it cannot: an unknown
   * landscape (GALAXY_LANDSCAPE_UNKNOWN), a bad statement, no landscapes on this node.
   */
  readonly resolve: (target: LandscapeTarget) => readonly string[] | Promise<readonly string[]>;
  /** The component kinds to run, of kFarmComponentKinds (default all; GALAXY_COMPONENTS chooses). */
  readonly kinds?: readonly string[];
  /** The farm's desired components for this node (the FMIDB's); absent: only explicit installs. */
  readonly desired?: DesiredComponentsSource;
  /** Install service timings (tests shorten the settle window). */
  readonly install?: { readonly settleMs?: number };
  /** One FMIDB attribute of a node (`net.NAME`: its address on an extra network, for installs routed there). */
  readonly attribute?: (node: string, key: string) => string | undefined;
}

export type LandscapeTarget = { readonly landscape: string } | { readonly sql: string };

/**
 * The modules of the components' API routes and their backends, loaded only when the API
 * is on (their schemas are hundreds of zod objects: issue 14, an agent's RSS).
 */
export async function loadFarmComponentRoutes() {
  const [{ eventsRoutes }, { componentEventsBackend }, { jobsRoutes }, { componentJobsBackend }, { installRoutes }] = await Promise.all([
    import('../../farm/events/events-routes.js'),
    import('../../farm/events/events-api-backend.js'),
    import('../../farm/jobs/jobs-routes.js'),
    import('../../farm/jobs/jobs-backend.js'),
    import('../../farm/install/install-routes.js'),
  ]);
  return { eventsRoutes, componentEventsBackend, jobsRoutes, componentJobsBackend, installRoutes };
}

export type FarmComponentRouteModules = Awaited<ReturnType<typeof loadFarmComponentRoutes>>;

/** The component kinds this adds; the agent announces them in its `components` tag. */
export const kFarmComponentKinds: readonly string[] = Object.freeze([kEventsComponent.kind, kJobsComponent.kind, kScriptsComponent.kind]);
/** The role whose nodes keep the farm's event store and the script run logs. */
export const kManagementRole = 'management';
export const kFarmComponentsConfigFileName = 'farm-components.json';

export class FarmComponentsError extends CodedError<'GALAXY_FARM_UNKNOWN_NODE' | 'GALAXY_FARM_BAD_REQUEST' | 'GALAXY_LANDSCAPE_UNAVAILABLE'> {}


const kComponentConfigSchema = z.record(z.unknown());
const kConfigFileSchema = z.object({ events: kComponentConfigSchema.optional(), jobs: kComponentConfigSchema.optional(), scripts: kComponentConfigSchema.optional() }).strict();
type ConfigFile = z.infer<typeof kConfigFileSchema>;
type FarmComponentName = keyof ConfigFile;
const kSpecs = [kEventsComponent, kJobsComponent, kScriptsComponent] as const;

/** How long the jobs component may take to accept a batch of job events, ms. */
const kJobsDeliverTimeoutMs = 10_000;
/** Stored events handed to the API stream per farm.publish at most (the publisher sends 100). */
const kPublishEventsMax = 1000;
const kResolveBodySchema = z.union([
  z.object({ nodes: z.array(z.string()).max(65_536) }).strict(),
  z.object({ landscape: z.string() }).strict(),
  z.object({ sql: z.string() }).strict(),
]);
const kValuesBodySchema = z.object({ node: z.string().optional() }).strict();
const kPublishBodySchema = z.object({ events: z.array(z.object({ type: z.string(), time: z.string() }).passthrough()).max(kPublishEventsMax) }).strict();

export class FarmComponents {
  private readonly service: FarmService;
  private readonly host: ComponentHost;
  private readonly logger: AgentLogger;
  private readonly configFile: string;
  private readonly fileConfig: ConfigFile;
  private readonly bridge: ComponentRpcBridge;
  private readonly forwarder: EventForwarder;
  private readonly installBackend: InstallBackend;
  private install: FarmInstall | null = null;
  /** The messenger's install-chunks channel: frames reach the install service once it runs. */
  private readonly chunks: MessengerChannel<Uint8Array>;
  /** Why the install service could not be created, when it could not. */
  private installProblem: string | null = null;
  private started = false;
  private closing: Promise<void> | null = null;
  private readonly counters = { appChunksUnclaimed: 0, configWriteFailures: 0 };

  private readonly specs: ReadonlyArray<(typeof kSpecs)[number]>;
  /** The jobs component's way to the job coordination in the agent's worker stack; null without the jobs component. */
  private readonly jobsPort: JobsComponentPort | null;

  /** Adds the components (stopped) and connects them; throws when the configuration file is unreadable. */
  constructor(private readonly options: FarmComponentsOptions) {
    this.service = options.service;
    this.host = options.host;
    this.logger = options.logger;
    this.configFile = join(options.dataDir, kFarmComponentsConfigFileName);
    this.fileConfig = readJsonFile(this.configFile, kConfigFileSchema, 'the farm components configuration') ?? {};
    const management = this.service.roles.includes(kManagementRole);
    if (this.fileConfig.events?.['management'] !== undefined && this.fileConfig.events['management'] !== management) {
      this.logger.warn({ file: this.configFile, management }, 'events.management in the configuration file is ignored: the management role decides it');
    }
    this.specs = kSpecs.filter((spec) => options.kinds === undefined || options.kinds.includes(spec.kind));
    for (const spec of this.specs) {
      const config = { ...(this.fileConfig[spec.name as FarmComponentName] ?? {}), ...(spec === kEventsComponent ? { management } : {}) };
      this.host.add({ ...spec, config });
    }
    this.jobsPort = this.specs.includes(kJobsComponent)
      ? new JobsComponentPort({
          link: this.service.host,
          component: kJobsComponent.name,
          deliver: (body) => this.host.request(kJobsComponent.name, kJobsEventsService, this.selfId, body, kJobsDeliverTimeoutMs),
          log: (level, message) => this.logger[level]({ component: kJobsComponent.name }, message),
        })
      : null;
    // jobs.events carries the agent's job coordination to the jobs component: no component may call it.
    this.bridge = connectComponentRpc(this.host, this.farmPort(), { agentOnlyServices: [kJobsEventsService] });
    this.forwarder = new EventForwarder((service, body, timeoutMs) => this.host.request(kEventsComponent.name, service, this.selfId, body, timeoutMs), this.logger);
    this.host.on('component', (event) => this.onLifecycle(event));
    this.host.on('values', (_name, values) => this.forwarder.values(values));
    this.host.on('event', (name, event) => this.forwarder.post({ type: event.eventType, severity: event.severity, body: { ...event.body }, source: `component:${name}` }));
    this.chunks = this.service.messenger.channel('install-chunks', kBytesCodec);
    this.chunks.onMessage((message) => {
      if (this.install !== null) this.install.receive(message.from, message.value, message.via === undefined ? undefined : { address: message.peer, via: message.via });
      // Package chunks before this node runs its install service: not ours to answer yet.
      else this.counters.appChunksUnclaimed++;
    });
    this.installBackend = this.delegatingInstallBackend();
  }

  private get selfId(): string {
    return this.service.host.id;
  }

  /** Hands an event raised in the agent (a cluster view change, ...) to this node's event service, which delivers it to the management nodes. */
  postEvent(event: PostedEvent): void {
    this.forwarder.post(event);
  }

  /** The API routes of the events, jobs, scripts and install services (their modules: loadFarmComponentRoutes). */
  routes(modules: FarmComponentRouteModules): ApiRoute[] {
    const { eventsRoutes, componentEventsBackend, jobsRoutes, componentJobsBackend, installRoutes } = modules;
    const call = (component: string, service: string, body: unknown, timeoutMs: number) => this.host.request(component, service, this.selfId, body, timeoutMs);
    return [...eventsRoutes(componentEventsBackend(this.host, { nodeId: this.selfId })), ...jobsRoutes(componentJobsBackend(call)), ...installRoutes(this.installBackend)];
  }

  /** The packages this node's store holds; none before the install service runs (not admitted yet). */
  packages(): Array<{ readonly name: string; readonly version: string }> {
    return this.install === null ? [] : this.install.packages();
  }

  /** Installs and removals on one node, for the cluster lifecycle; null until installation runs here. */
  installer(): { apply: FarmInstall['applyOn']; remove: FarmInstall['removeOn'] } | null {
    const install = this.install;
    if (install === null) return null;
    return { apply: (node, request) => install.applyOn(node, request), remove: (node, name, network, ownedOnly) => install.removeOn(node, name, network, ownedOnly) };
  }

  /**
   * The configuration to give a component an operator configures: for `events`, with
   * `management` set from the node's role (a configuration replaces the whole previous
   * one, and the role, not the operator's memory, decides whether the node keeps the
   * event store); others unchanged. Throws when the operator sets `management` against
   * the role.
   */
  configuration(name: string, config: Readonly<Record<string, unknown>>): Readonly<Record<string, unknown>> {
    if (name !== kEventsComponent.name) return config;
    const management = this.service.roles.includes(kManagementRole);
    if (config['management'] !== undefined && config['management'] !== management) {
      throw new FarmComponentsError('GALAXY_FARM_BAD_REQUEST', `events.management follows the node's ${kManagementRole} role, which this node ${management ? 'has' : 'does not have'}: leave it out`);
    }
    return { ...config, management };
  }

  /** Starts the components and the install service; call once the node belongs to the farm. Idempotent. */
  start(): void {
    if (this.started || this.closing !== null) return;
    this.started = true;
    for (const spec of this.specs) void this.host.start(spec.name).catch((error: Error) => this.logger.warn({ component: spec.name, error: error.message }, 'component did not start; the host retries with backoff'));
    try {
      this.install = this.createInstall();
    } catch (error) {
      this.installProblem = (error as Error).message;
      this.logger.error({ error: this.installProblem }, 'the install service cannot run on this node');
      return;
    }
    this.install.start().catch((error: Error) => this.logger.error({ error: error.message }, 'the install service did not start'));
  }

  private createInstall(): FarmInstall {
    return new FarmInstall({
      dataDir: this.options.dataDir,
      selfId: this.selfId,
      rpc: this.service.rpc,
      sendChunk: (to, frame, route) => this.chunks.send(to, frame, 'stream', route),
      host: this.host,
      peers: () => this.liveMembers().filter((m) => !m.self).map((m) => ({ id: m.id, address: m.address })),
      route: networkRoute({
        ownNetworks: () => new Set(this.service.host.settings.networks.map((n) => n.name)),
        attribute: (node, key) => this.options.attribute?.(node, key),
        farmAddress: (node) => this.liveMembers().find((m) => m.id === node && !m.self)?.address,
      }),
      resolveTarget: async (target) => [...(await this.options.resolve(target))],
      authorize: installAuthorizer(() => this.service.members()),
      publish: this.options.publish,
      logger: this.logger,
      ...(this.options.desired === undefined ? {} : { source: this.options.desired }),
      ...(this.options.install?.settleMs === undefined ? {} : { service: { settleMs: this.options.install.settleMs } }),
    });
  }

  /** Metric families of farm RPC, the bridge, the event forwarding and the install service. */
  metrics(): MetricFamily[] {
    const rpc = this.service.rpc.counters;
    const f = this.forwarder.counters;
    const families: MetricFamily[] = [
      {
        name: 'galaxy_farm_rpc_total',
        help: 'Farm RPC between nodes, by what happened: requests sent and retried, timeouts, requests handled here, duplicates answered from memory, malformed frames, requests for unknown services, requests refused on an extra network (network-refused), frames sent on a route over an extra network (routed: the admin network\'s install round trips).',
        type: 'counter',
        samples: [...Object.entries(rpc).map(([event, value]) => ({ labels: { event }, value })), { labels: { event: 'malformed' }, value: this.service.messenger.snapshot()['rpc']?.dropped['decode'] ?? 0 }],
      },
      { name: 'galaxy_component_services_refused_total', help: 'Services components declared that were never registered (reserved namespaces, names the farm serves).', type: 'counter', samples: [{ value: this.bridge.counters.servicesRefused }] },
      { name: 'galaxy_component_calls_forbidden_total', help: 'Calls by components to services only the agent may call (jobs.events), refused.', type: 'counter', samples: [{ value: this.bridge.counters.callsForbidden }] },
      {
        name: 'galaxy_events_forwarded_total',
        help: 'What the agent handed to its event service: events posted and dropped, values samples forwarded and dropped.',
        type: 'counter',
        samples: [
          { labels: { what: 'events-posted' }, value: f.posted },
          { labels: { what: 'events-dropped' }, value: f.dropped },
          { labels: { what: 'values-forwarded' }, value: f.valuesForwarded },
          { labels: { what: 'values-dropped' }, value: f.valuesDropped },
        ],
      },
      { name: 'galaxy_events_forward_pending', help: 'Events waiting for the event service to take them.', type: 'gauge', samples: [{ value: this.forwarder.pendingEvents }] },
    ];
    return [...families, ...(this.install?.metrics() ?? [])];
  }

  /**
   * Closes in the order that loses nothing: the install service (no new installs), then
   * the components (the jobs component reports its processes' ends through the bridge
   * while it stops), then the bridge. The farm node closes the host after this.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.install?.close().catch((error: Error) => this.logger.warn({ error: error.message }, 'install service close failed'));
      await Promise.all(this.specs.map((spec) => this.host.stop(spec.name).catch(() => undefined)));
      this.forwarder.close();
      this.jobsPort?.close();
      this.bridge();
    })();
    return this.closing;
  }

  // ---- the farm as the components see it ----------------------------------------

  private farmPort(): ComponentRpcFarm {
    const rpc = this.service.rpc;
    return {
      selfId: this.selfId,
      call: (node, service, body, timeoutMs, caller) => (node === this.selfId ? this.serveLocal(service, body, caller) : this.callMember(node, service, body, timeoutMs)),
      handle: (service, handler) => rpc.handle(service, (from, body) => handler(from, body)),
      unhandle: (service) => rpc.unhandle(service),
    };
  }

  private async callMember(node: string, service: string, body: unknown, timeoutMs: number): Promise<unknown> {
    const member = this.service.members().find((m) => m.id === node);
    if (member === undefined) throw new FarmComponentsError('GALAXY_FARM_UNKNOWN_NODE', `node ${node} is not a member of the farm`);
    return this.service.rpc.call(member.id, service, body, timeoutMs);
  }

  /** This node's farm.* services; any other service here has no local component serving it. */
  private async serveLocal(service: string, body: unknown, caller?: string): Promise<unknown> {
    if (this.jobsPort?.serves(service)) return this.jobsPort.serve(service, body, caller);
    switch (service) {
      case 'farm.members':
        return this.service.members();
      case 'farm.resolve':
        return this.resolve(parseBody(kResolveBodySchema, body, service));
      case 'farm.values': {
        const { node } = parseBody(kValuesBodySchema, body, service);
        return this.options.values(node);
      }
      case 'farm.publish': {
        const { events } = parseBody(kPublishBodySchema, body, service);
        for (const event of events) this.options.publish({ kind: 'event', type: event.type, time: event.time, body: event });
        return { published: events.length };
      }
      default:
        throw Object.assign(new Error(`no component on this node serves "${service}"`), { code: 'GALAXY_RPC_UNKNOWN_SERVICE' });
    }
  }

  /** farm.resolve: named nodes must be this node or live members; landscapes go to the node's resolver. */
  private async resolve(target: z.infer<typeof kResolveBodySchema>): Promise<string[]> {
    if (!('nodes' in target)) return [...(await this.options.resolve(target))];
    const live = new Set(this.liveMembers().map((m) => m.id));
    const missing = target.nodes.filter((id) => !live.has(id));
    if (missing.length === 1) throw new FarmComponentsError('GALAXY_FARM_UNKNOWN_NODE', `node ${missing[0]} is not an alive member of the farm`);
    if (missing.length > 1) throw new FarmComponentsError('GALAXY_FARM_UNKNOWN_NODE', `nodes ${missing.slice(0, 8).join(', ')}${missing.length > 8 ? ` and ${missing.length - 8} more` : ''} are not alive members of the farm`);
    return target.nodes;
  }

  private liveMembers(): MemberView[] {
    return this.service.members().filter((m) => m.self || m.status === 'alive' || m.status === 'suspect');
  }

  // ---- lifecycle -----------------------------------------------------------------

  private onLifecycle(event: ComponentLifecycleEvent): void {
    if (event.name === kEventsComponent.name && event.type === 'started') this.forwarder.resume();
    if (event.name === kJobsComponent.name && (event.type === 'crashed' || event.type === 'failed' || event.type === 'stopped')) this.jobsPort?.componentGone();
    if (event.type === 'crashed' || event.type === 'failed') {
      this.forwarder.post({
        type: `component.${event.type}`,
        severity: event.type === 'failed' ? 'error' : 'warning',
        time: event.at,
        source: 'agent',
        body: { name: event.name, kind: event.kind, exitCode: event.detail.exitCode, signal: event.detail.signal, error: event.detail.error, restarts: event.detail.restarts },
      });
    }
    if (event.type === 'configured' && this.specs.some((spec) => spec.name === event.name)) this.saveConfig(event.name as FarmComponentName);
  }

  /** Writes a component's accepted configuration back to the file (without `management`, which the role decides). */
  private saveConfig(name: FarmComponentName): void {
    const status = this.host.status().find((s) => s.name === name);
    if (status === undefined) return;
    const { management: _management, ...config } = status.config;
    const next: ConfigFile = { ...this.fileConfig, [name]: name === 'events' ? config : status.config };
    try {
      writeFileAtomic(this.configFile, `${JSON.stringify(next, null, 2)}\n`);
      Object.assign(this.fileConfig, next);
    } catch (error) {
      this.counters.configWriteFailures++;
      this.logger.error({ file: this.configFile, component: name, error: (error as Error).message }, 'component configuration not saved: a restart would go back to the previous one');
    }
  }

  // ---- installation before admission ---------------------------------------------

  /** The install API: FarmInstall once it exists, a clear 503 before (and after close). */
  private delegatingInstallBackend(): InstallBackend {
    const install = (): FarmInstall => {
      if (this.closing !== null) throw new InstallError('GALAXY_INSTALL_CLOSED', 'the agent is stopping');
      if (this.installProblem !== null) throw new InstallError('GALAXY_INSTALL_CLOSED', `the install service cannot run on this node: ${this.installProblem}`);
      if (this.install === null) throw new InstallError('GALAXY_INSTALL_BUSY', 'this node is not admitted to the farm yet: component installation starts once it is');
      return this.install;
    };
    return {
      packages: () => install().packages(),
      addPackage: (path, by) => install().addPackage(path, by),
      installComponent: (request, by) => install().installComponent(request, by),
      removeComponent: (name, by) => install().removeComponent(name, by),
      installOperation: (id, after) => install().installOperation(id, after),
      installOperations: () => install().installOperations(),
      installedComponents: () => install().installedComponents(),
    };
  }
}

function parseBody<S extends z.ZodTypeAny>(schema: S, body: unknown, service: string): z.output<S> {
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw new FarmComponentsError('GALAXY_FARM_BAD_REQUEST', `bad ${service}: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ')}`);
  return parsed.data as z.output<S>;
}
