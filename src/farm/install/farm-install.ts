import { stat } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { z } from 'zod';
import type { ApiEvent } from '../../core/util/api-event.js';
import type { MetricFamily } from '../../core/util/metric-family.js';
import type { InstallBackend, InstallRequest, InstallTarget, PackageView } from './install-backend.js';
import type { ComponentHost, ComponentLogger } from '../components/host/component-host.js';
import { kSilentComponentLogger } from '../components/host/component-host-options.js';
import { ChunkChannel } from './chunk-channel.js';
import type { DesiredComponentsSource } from './desired-components.js';
import type { Route } from '../../node/messenger/messenger-channel.js';
import type { FarmPeer, NetworkRoute, RpcCaller, RpcEndpoint } from './farm-peer.js';
import { errorSummary, InstallError } from './install-error.js';
import { installMetrics } from './install-metrics.js';
import { InstallOperations, type InstallOperationView } from './install-operations.js';
import { succeeded, type InstallOutcome } from './install-outcome.js';
import type { InstallProgress } from './install-progress.js';
import { kServiceApply, kServiceRemove, serveInstallRpc, type ApplyRequest, type InstallRpcCounters } from './install-rpc.js';
import { InstallService, type InstallServiceOptions, type InstalledComponentView } from './install-service.js';
import type { PackageBounds } from './package-bounds.js';
import { PackageFetcher, type PackageFetcherOptions } from './package-fetcher.js';
import { packageId } from './package-manifest.js';
import { PackageStore, summary } from './package-store.js';
import { rollout, type RolloutReport, type RolloutTarget } from './rollout.js';

/**
 * The component installation service of one farm node, assembled: the package store
 * (`<dataDir>/packages`), the fetcher, the install services over FarmRpc and the chunk
 * channel beside it, the InstallService on the node's ComponentHost, the rollout
 * coordinator, and the operations the API follows. It is the API's InstallBackend; the
 * farm node creates it once the RPC and the component host exist, and closes it before
 * them.
 */
export interface FarmInstallOptions {
  readonly dataDir: string;
  /** This node's id (a rollout applies to it directly, not over RPC). */
  readonly selfId: string;
  readonly rpc: RpcEndpoint;
  /** Sends a chunk-channel frame to a node by id (the messenger's install-chunks channel). Inbound frames come through receive(). */
  readonly sendChunk: (to: string, frame: Uint8Array, route?: Route) => boolean | void;
  readonly host: ComponentHost;
  /** The other members a package may be fetched from and a rollout may address: alive ones, not this node. */
  readonly peers: () => readonly FarmPeer[];
  /**
   * Members' addresses on this node's extra networks (their `net.<name>` attributes):
   * where applyOn/removeOn with a network send, and where a fetch over a network asks.
   * Without it, installs over a network are refused (GALAXY_INSTALL_NO_ROUTE).
   */
  readonly route?: NetworkRoute;
  /**
   * Resolves a landscape, or a landscape statement, to node ids (the landscape service
   * does; without it such targets are refused).
   */
  readonly resolveTarget?: (target: Exclude<InstallTarget, { nodes: readonly string[] }>) => Promise<readonly string[]>;
  /** The farm's desired components for this node (the FMIDB-backed source). */
  readonly source?: DesiredComponentsSource;
  /** Whether a member may ask this node to install or remove (install.apply / install.remove); all members by default. */
  readonly authorize?: (from: RpcCaller, service: string) => boolean;
  /** Progress events go here for the API's event stream (kind 'install'). */
  readonly publish?: (event: ApiEvent) => void;
  readonly logger?: ComponentLogger;
  readonly bounds?: Partial<PackageBounds>;
  readonly service?: Pick<InstallServiceOptions, 'settleMs' | 'startTimeoutMs' | 'progressIntervalMs'>;
  readonly fetcher?: Pick<PackageFetcherOptions, 'haveTimeoutMs' | 'chunkTimeoutMs' | 'peersAskedMax' | 'chunkBytes' | 'chunkAttemptsMax'>;
  /** How long a rollout waits for one node's install.apply, ms: fetch, verify, start and the settle window. */
  readonly applyTimeoutMs?: number;
}

export const kApplyTimeoutMsDefault = 10 * 60_000;
export const kPackagesDirName = 'packages';
export const kInstallStateFileName = 'install-state.json';

/** An install.apply answer as the coordinator accepts it: a remote node's bug must not become a success here. */
const kOutcomeSchema = z.object({
  name: z.string(),
  version: z.string().nullable(),
  previousVersion: z.string().nullable(),
  result: z.enum(['installed', 'configured', 'unchanged', 'removed', 'rolled-back', 'failed', 'skipped']),
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
});

export class FarmInstall implements InstallBackend {
  readonly store: PackageStore;
  readonly chunks: ChunkChannel;
  readonly fetcher: PackageFetcher;
  readonly service: InstallService;
  readonly rpcCounters: InstallRpcCounters;
  private readonly operations = new InstallOperations();
  private readonly logger: ComponentLogger;

  constructor(private readonly options: FarmInstallOptions) {
    this.logger = options.logger ?? kSilentComponentLogger;
    this.store = new PackageStore(join(options.dataDir, kPackagesDirName), options.bounds);
    this.chunks = new ChunkChannel({ send: options.sendChunk, store: this.store });
    this.fetcher = new PackageFetcher({ rpc: options.rpc, chunks: this.chunks, store: this.store, peers: options.peers, ...(options.route === undefined ? {} : { route: options.route }), ...options.fetcher });
    this.service = new InstallService({
      store: this.store,
      host: options.host,
      fetcher: this.fetcher,
      stateFile: join(options.dataDir, kInstallStateFileName),
      logger: this.logger,
      ...(options.source === undefined ? {} : { source: options.source }),
      ...options.service,
    });
    this.rpcCounters = serveInstallRpc(options.rpc, {
      store: this.store,
      apply: (request, from) => this.applyFromPeer(request, from),
      remove: (name, from, removal) => {
        this.logger.info({ component: name, by: from.id, ...removal }, 'component removal asked by a farm node');
        return this.service.remove(name, removal);
      },
      ...(options.authorize === undefined ? {} : { authorize: options.authorize }),
    });
    this.service.on('progress', (progress) => options.publish?.({ kind: 'install', type: progress.phase, time: progress.at, body: { ...progress } }));
  }

  /** Runs the first reconcile: starts the components installed before a restart, and what the farm wants. */
  async start(): Promise<void> {
    const outcomes = await this.service.start();
    for (const outcome of outcomes) if (outcome.result !== 'unchanged') this.logger.info({ component: outcome.name, version: outcome.version, result: outcome.result, error: outcome.error?.message ?? null }, 'component reconciled');
  }

  /** Takes a frame of the install-chunks channel from the node with id `from` (authenticated by the messenger). */
  receive(from: string, frame: Uint8Array, back?: Route): void {
    this.chunks.receive(from, frame, back);
  }

  async close(): Promise<void> {
    await this.service.close();
    this.chunks.close();
  }

  /** Metric families for the node's /metrics. */
  metrics(): MetricFamily[] {
    const packages = this.store.list();
    return installMetrics({ outcomes: this.service.counters, packages: packages.length, packageBytes: packages.reduce((sum, p) => sum + p.bytes, 0), rpc: this.rpcCounters, chunks: this.chunks.counters });
  }

  // ---- InstallBackend -------------------------------------------------------------

  packages(): PackageView[] {
    const installed = new Map(this.service.installed().map((c) => [c.name, c.version]));
    return this.store.list().map((p) => ({ ...p, installed: installed.get(p.name) === p.version }));
  }

  async addPackage(path: string, by: string): Promise<PackageView> {
    if (!isAbsolute(path)) throw new InstallError('GALAXY_INSTALL_BAD_REQUEST', `the package path must be absolute on the agent's host, got "${path}"`);
    let isDirectory: boolean;
    try {
      isDirectory = (await stat(path)).isDirectory();
    } catch (error) {
      throw new InstallError('GALAXY_INSTALL_BAD_REQUEST', `${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
    const manifest = isDirectory ? await this.store.importDirectory(path) : await this.store.importArchive(path);
    this.logger.info({ package: packageId(manifest.name, manifest.version), checksum: manifest.checksum, from: path, by }, 'package added');
    const installed = this.service.installed().some((c) => c.name === manifest.name && c.version === manifest.version);
    return { ...summary(manifest), installed };
  }

  installComponent(request: InstallRequest, by: string): InstallOperationView {
    const kind = request.target === undefined ? 'install' : 'rollout';
    // Named nodes are checked now, so a typo is a 400 rather than a failed operation.
    if (request.target !== undefined && 'nodes' in request.target) this.resolveNodes(request.target.nodes);
    const handle = this.operations.begin(kind, request.name, request.version, by);
    const listener = (progress: InstallProgress): void => {
      if (progress.name === request.name) handle.event({ type: 'progress', progress });
    };
    this.service.on('progress', listener);
    const work = kind === 'install' ? this.installHere(request, by).then((outcome) => ({ ok: succeeded(outcome), outcome })) : this.rolloutTo(request, by, (event) => handle.event({ type: 'rollout', at: new Date().toISOString(), rollout: event })).then((report) => ({ ok: report.ok, rollout: report }));
    work
      .then((result) => handle.finish(result))
      .catch((error: unknown) => handle.finish({ ok: false, error: errorSummary(error) }))
      .finally(() => this.service.off('progress', listener));
    return this.operations.get(handle.id);
  }

  removeComponent(name: string, by: string): Promise<InstallOutcome> {
    this.logger.info({ component: name, by }, 'component removal asked through the API');
    return this.service.remove(name);
  }

  installOperation(id: string, after: number): InstallOperationView {
    return this.operations.get(id, after);
  }

  installOperations(): InstallOperationView[] {
    return this.operations.list();
  }

  installedComponents(): InstalledComponentView[] {
    return this.service.installed();
  }

  /**
   * install.apply on one node (this one directly), as the cluster lifecycle asks it: the
   * node must be this one or an alive member. With `request.network` (issue 19: the
   * member's admin network), the whole round trip stays on that network: the request goes
   * to the member's address there and its answer comes back on that connection, and the
   * member fetches the package over the same network (install-rpc.ts); a member with no
   * address there is refused (GALAXY_INSTALL_NO_ROUTE), never reached over the farm address.
   */
  applyOn(node: string, request: ApplyRequest): Promise<InstallOutcome> {
    const [target] = this.resolveNodes([node]);
    const checksum = request.checksum ?? (this.store.has(request.name, request.version) ? this.store.manifest(request.name, request.version).checksum : undefined);
    return this.applyTo(target!, { ...request, ...(checksum === undefined ? {} : { checksum }) });
  }

  /**
   * install.remove on one node (this one directly); with `network`, over the member's
   * address there, as applyOn; with `ownedOnly` (the cluster lifecycle), a component no
   * owner installed there is kept (GALAXY_INSTALL_NOT_OWNED).
   */
  async removeOn(node: string, name: string, network?: string, ownedOnly?: boolean): Promise<InstallOutcome> {
    const [target] = this.resolveNodes([node]);
    const removal = ownedOnly === undefined ? {} : { ownedOnly };
    if (target!.id === this.options.selfId) return this.service.remove(name, removal);
    const answer = await this.options.rpc.call(target!.id, kServiceRemove, { name, ...removal }, this.options.applyTimeoutMs ?? kApplyTimeoutMsDefault, this.routeTo(target!.id, network));
    const parsed = kOutcomeSchema.safeParse(answer);
    if (!parsed.success) throw new InstallError('GALAXY_INSTALL_BAD_REQUEST', `node ${target!.id} answered install.remove with something that is not an outcome`);
    return parsed.data;
  }

  // ---- rollout ------------------------------------------------------------------------

  /** Rolls name@version out to the request's target in batches; stops at the first failure. */
  async rolloutTo(request: InstallRequest, by: string, onEvent: Parameters<typeof rollout>[0]['onProgress'] = () => {}): Promise<RolloutReport> {
    const targets = await this.resolve(request.target ?? { nodes: [this.options.selfId] });
    const checksum = request.checksum ?? (this.store.has(request.name, request.version) ? this.store.manifest(request.name, request.version).checksum : undefined);
    this.logger.info({ package: packageId(request.name, request.version), nodes: targets.length, batch: request.batch ?? 1, by }, 'rollout started');
    const report = await rollout({
      name: request.name,
      version: request.version,
      ...(checksum === undefined ? {} : { checksum }),
      ...(request.config === undefined ? {} : { config: request.config }),
      targetNodes: targets,
      batch: request.batch ?? 1,
      apply: (target, body) => this.applyTo(target, body),
      ...(onEvent === undefined ? {} : { onProgress: onEvent }),
    });
    this.logger.info({ package: packageId(request.name, request.version), ok: report.ok, stoppedInBatch: report.stoppedInBatch }, 'rollout finished');
    return report;
  }

  /** Where a call to `node` over `network` goes; undefined: its farm address (no network asked). */
  private routeTo(node: string, network: string | undefined): Route | undefined {
    if (network === undefined) return undefined;
    const route = this.options.route?.(node, network) ?? null;
    if (route === null) throw new InstallError('GALAXY_INSTALL_NO_ROUTE', `node ${node} publishes no address on network ${network} (net.${network})`);
    return route;
  }

  private async applyTo(target: RolloutTarget, body: ApplyRequest): Promise<InstallOutcome> {
    if (target.id === this.options.selfId) {
      if (body.network !== undefined) await this.fetchOver(body.network, body);
      return this.service.install(body.name, body.version, extras(body));
    }
    const answer = await this.options.rpc.call(target.id, kServiceApply, body, this.options.applyTimeoutMs ?? kApplyTimeoutMsDefault, this.routeTo(target.id, body.network));
    const parsed = kOutcomeSchema.safeParse(answer);
    if (!parsed.success) throw new InstallError('GALAXY_INSTALL_BAD_REQUEST', `node ${target.id} answered install.apply with something that is not an outcome`);
    return parsed.data;
  }

  private async applyFromPeer(request: ApplyRequest, from: RpcCaller): Promise<InstallOutcome> {
    this.logger.info({ package: packageId(request.name, request.version), by: from.id, ...(request.network === undefined ? {} : { network: request.network }) }, 'component install asked by a farm node');
    if (request.network !== undefined) await this.fetchOver(request.network, request);
    return this.service.install(request.name, request.version, extras(request));
  }

  /**
   * An install over an extra network: the package is fetched there first (from members
   * publishing an address on it), so the install service finds it in the store and
   * fetches nothing over the farm address. A failure is the install's failure.
   */
  private async fetchOver(network: string, request: ApplyRequest): Promise<void> {
    if (this.store.has(request.name, request.version)) return;
    await this.fetcher.fetch({ name: request.name, version: request.version, ...(request.checksum === undefined ? {} : { checksum: request.checksum }), network });
  }

  private installHere(request: InstallRequest, by: string): Promise<InstallOutcome> {
    this.logger.info({ package: packageId(request.name, request.version), by }, 'component install asked through the API');
    return this.service.install(request.name, request.version, extras(request));
  }

  private async resolve(target: InstallTarget): Promise<RolloutTarget[]> {
    if ('nodes' in target) return this.resolveNodes(target.nodes);
    if (this.options.resolveTarget === undefined) throw new InstallError('GALAXY_INSTALL_BAD_TARGET', 'this node cannot resolve landscapes; name the target nodes');
    return this.resolveNodes(await this.options.resolveTarget(target));
  }

  /** Node ids as rollout targets: this node, or alive members; GALAXY_INSTALL_BAD_TARGET for any other. */
  private resolveNodes(ids: readonly string[]): RolloutTarget[] {
    const addresses = new Map(this.options.peers().map((p) => [p.id, p.address]));
    return [...new Set(ids)].map((id) => {
      if (id === this.options.selfId) return { id, address: '' };
      const address = addresses.get(id);
      if (address === undefined) throw new InstallError('GALAXY_INSTALL_BAD_TARGET', `node ${id} is not an alive member of the farm`);
      return { id, address };
    });
  }
}

function extras(request: { checksum?: string | undefined; config?: Readonly<Record<string, unknown>> | undefined; owner?: string | undefined }): { checksum?: string; config?: Readonly<Record<string, unknown>>; owner?: string } {
  return { ...(request.checksum === undefined ? {} : { checksum: request.checksum }), ...(request.config === undefined ? {} : { config: request.config }), ...(request.owner === undefined ? {} : { owner: request.owner }) };
}
