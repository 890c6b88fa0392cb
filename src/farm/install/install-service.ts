import { EventEmitter } from 'node:events';
import type { ComponentStatus } from '../components/component-status.js';
import type { ComponentHost, ComponentLifecycleEvent, ComponentLogger } from '../components/host/component-host.js';
import { kSilentComponentLogger } from '../components/host/component-host-options.js';
import { checkDesiredList, type DesiredComponent, type DesiredComponentsSource } from './desired-components.js';
import { errorSummary, InstallError, type ErrorSummary } from './install-error.js';
import type { InstallOutcome, InstallResult } from './install-outcome.js';
import { desiredKey, planInstall, startSequence, type InstalledRecord, type PlannedConfigure, type PlannedInstall } from './install-plan.js';
import type { InstallPhase, InstallProgress } from './install-progress.js';
import { readInstallState, writeInstallState } from './install-state-file.js';
import type { FetchProgress, FetchRequest, FetchResult } from './package-fetcher.js';
import { packageId, type PackageManifest } from './package-manifest.js';
import type { PackageStore } from './package-store.js';

/**
 * Makes this node run the components it should: the farm's desired list (a
 * DesiredComponentsSource) overlaid by explicit per-node installs, against what runs on
 * the ComponentHost. A reconcile
 *
 *   1. fetches every missing package from the farm and verifies it (nothing running is
 *      touched yet; a package that cannot be had fails alone),
 *   2. stops and forgets the components no longer desired (highest startOrder first),
 *   3. then, in start order (dependsOn, then startOrder, then name), replaces each
 *      changed component: stops the old version, starts the new one, and watches it
 *      for settleMs; if it does not reach 'running' or crashes within that window, it
 *      is removed and the previous version started again (or nothing, if there was
 *      none), and the failure is remembered so the same entry is not retried until the
 *      desired state changes.
 *
 * Reconciles run one at a time; changes arriving during one coalesce into the next.
 * The service manages only components it installed: a host component of the same name
 * it did not install (the built-in Measurement service) is never touched.
 *
 * Explicit installs (install()) override the farm's entry for that name until the farm
 * changes that entry: the latest decision wins. An explicit install that fails is
 * forgotten, so the node's desired state stays what actually runs.
 */
export interface InstallServiceOptions {
  readonly store: PackageStore;
  readonly host: ComponentHost;
  readonly fetcher: { fetch(request: FetchRequest, onProgress?: (progress: FetchProgress) => void): Promise<FetchResult> };
  /** Where the installed components and explicit installs are kept across restarts. */
  readonly stateFile: string;
  readonly source?: DesiredComponentsSource;
  /**
   * How long a started component must keep running before its install counts as done,
   * ms. A component that crashes just after its start (a bad configuration read late, a
   * port in use) is caught by this window and rolled back; the trade-off is that long
   * for each install in a reconcile.
   */
  readonly settleMs?: number;
  /**
   * How long a start may take before it counts as failed, ms. The host bounds init and
   * start itself (its startTimeoutMs); this bounds the whole call whatever the host does.
   */
  readonly startTimeoutMs?: number;
  readonly logger?: ComponentLogger;
  /** Progress events per install while fetching at most one per this many ms. */
  readonly progressIntervalMs?: number;
  readonly now?: () => number;
}

export const kInstallServiceDefaults = Object.freeze({
  settleMs: 3_000,
  startTimeoutMs: 60_000,
  progressIntervalMs: 250,
});

/** One installed component as operators see it. */
export interface InstalledComponentView {
  readonly name: string;
  readonly version: string;
  readonly checksum: string;
  readonly config: Readonly<Record<string, unknown>>;
  /** Whose decision it runs by: an explicit install, the farm's desired list, or kept while that list is not known yet. */
  readonly origin: 'local' | 'farm' | 'kept';
  /**
   * Who installed it when it was not there before: the cluster lifecycle's operation
   * (`cluster/NAME op ID`), else null (an operator or a rollout, or the farm's list). A
   * removal that asks for owned components only (the lifecycle's) keeps one with null.
   */
  readonly owner: string | null;
  readonly state: ComponentStatus['state'] | 'absent';
}

export interface InstallServiceEvents {
  progress: [InstallProgress];
}

interface Ready {
  readonly change: PlannedInstall;
  readonly manifest: PackageManifest;
}

export class InstallService extends EventEmitter<InstallServiceEvents> {
  /** Outcomes of every reconcile, by result. */
  readonly counters: Record<InstallResult, number> = { installed: 0, configured: 0, unchanged: 0, removed: 0, 'rolled-back': 0, failed: 0, skipped: 0 };
  private readonly options: InstallServiceOptions;
  private readonly settleMs: number;
  private readonly startTimeoutMs: number;
  private readonly progressIntervalMs: number;
  private readonly logger: ComponentLogger;
  private readonly now: () => number;
  private readonly records = new Map<string, InstalledRecord>();
  private readonly local = new Map<string, DesiredComponent>();
  /** Explicit installs made by an owner (the cluster lifecycle) onto nothing, by name: see install()'s `owner`. */
  private readonly owners = new Map<string, string>();
  /** The farm's entries last seen, canonical, by name: a change drops an explicit install of that name. */
  private readonly sourceSeen = new Map<string, string>();
  /** The last failed attempt by name: its desiredKey and why it failed. */
  private readonly failed = new Map<string, { readonly key: string; readonly error: ErrorSummary }>();
  private queue: Promise<unknown> = Promise.resolve();
  private next: Promise<InstallOutcome[]> | null = null;
  private unsubscribe: (() => void) | null = null;
  private closed = false;

  constructor(options: InstallServiceOptions) {
    super();
    this.options = options;
    this.settleMs = nonNegative(options.settleMs ?? kInstallServiceDefaults.settleMs, 'settleMs');
    this.startTimeoutMs = nonNegative(options.startTimeoutMs ?? kInstallServiceDefaults.startTimeoutMs, 'startTimeoutMs');
    this.progressIntervalMs = nonNegative(options.progressIntervalMs ?? kInstallServiceDefaults.progressIntervalMs, 'progressIntervalMs');
    this.logger = options.logger ?? kSilentComponentLogger;
    this.now = options.now ?? Date.now;
    const state = readInstallState(options.stateFile);
    for (const record of state.installed) this.records.set(record.name, record);
    for (const entry of state.local) this.local.set(entry.name, entry);
    for (const [name, owner] of Object.entries(state.owners)) if (this.local.has(name)) this.owners.set(name, owner);
  }

  /** Starts following the desired source and runs the first reconcile (which starts what was installed before a restart). */
  start(): Promise<InstallOutcome[]> {
    this.mustBeOpen();
    const source = this.options.source;
    if (source !== undefined && this.unsubscribe === null) {
      for (const entry of source.current()) this.sourceSeen.set(entry.name, desiredKey(entry));
      this.unsubscribe = source.onChange(() => this.sourceChanged());
    }
    return this.reconcile();
  }

  /** The desired list in force: the farm's, overlaid by explicit installs (and what is kept while the farm's is unknown). */
  desired(): DesiredComponent[] {
    const out = new Map<string, DesiredComponent>();
    if (!this.sourceReady()) for (const record of this.records.values()) out.set(record.name, { name: record.name, version: record.version, checksum: record.checksum, config: record.config });
    for (const entry of this.sourceList()) out.set(entry.name, entry);
    for (const entry of this.local.values()) out.set(entry.name, entry);
    return [...out.values()];
  }

  installed(): InstalledComponentView[] {
    const states = new Map(this.options.host.status().map((s) => [s.name, s.state]));
    const farm = new Set(this.sourceList().map((e) => e.name));
    return [...this.records.values()]
      .sort((a, b) => (a.name < b.name ? -1 : 1))
      .map((r) => ({ ...r, origin: this.local.has(r.name) ? 'local' : farm.has(r.name) ? 'farm' : 'kept', owner: this.local.has(r.name) ? (this.owners.get(r.name) ?? null) : null, state: states.get(r.name) ?? 'absent' }));
  }

  /**
   * Installs name@version on this node now (an explicit install); resolves with its
   * outcome. `extra.owner` (the cluster lifecycle: `cluster/NAME op ID`) records who
   * installed it when nothing of that name was installed or wanted here before; over
   * a component already here (by hand, a rollout, the farm's list, or an owner), it
   * keeps the ownership it had. An install without an owner (an operator's, a
   * rollout's) takes the component over: the latest decision wins.
   */
  async install(name: string, version: string, extra: { checksum?: string; config?: Readonly<Record<string, unknown>>; owner?: string } = {}): Promise<InstallOutcome> {
    this.mustBeOpen();
    const { owner, ...wanted } = extra;
    const [entry] = checkDesiredList([{ name, version, ...wanted }], 'install');
    const before = this.local.get(name);
    const ownerBefore = this.owners.get(name);
    const present = before !== undefined || this.records.has(name) || this.sourceList().some((e) => e.name === name);
    if (owner === undefined) this.owners.delete(name);
    else if (!present) this.owners.set(name, owner);
    this.local.set(name, entry!);
    this.failed.delete(name);
    this.persist();
    const outcome = this.outcomeOf(await this.reconcile(), name, entry!.version);
    if (outcome.result === 'failed' || outcome.result === 'rolled-back' || outcome.result === 'skipped') {
      // The node's desired state stays what runs: the failed decision is forgotten.
      if (before === undefined) this.local.delete(name);
      else this.local.set(name, before);
      if (ownerBefore === undefined) this.owners.delete(name);
      else this.owners.set(name, ownerBefore);
      this.persist();
    }
    return outcome;
  }

  /** Who installed a component (install()'s `owner`), null when no owner did or it is not installed here. */
  ownerOf(name: string): string | null {
    return this.local.has(name) ? (this.owners.get(name) ?? null) : null;
  }

  /**
   * Stops and forgets a component this service installed; refused for one the farm's
   * desired list names. With `ownedOnly` (the cluster lifecycle), refused too for one no
   * owner installed (GALAXY_INSTALL_NOT_OWNED: by hand, a rollout, or before this node
   * kept owners): a cluster's removal or undo never takes away what an operator put there.
   */
  async remove(name: string, options: { readonly ownedOnly?: boolean } = {}): Promise<InstallOutcome> {
    this.mustBeOpen();
    if (this.sourceList().some((e) => e.name === name)) throw new InstallError('GALAXY_INSTALL_WANTED_BY_FARM', `the farm's desired state lists ${name} for this node: change it there`);
    // Only an explicit install can be owned: one no longer wanted (its removal under way) or kept from before is no one's to keep.
    if (options.ownedOnly === true && this.local.has(name) && this.ownerOf(name) === null) {
      throw new InstallError('GALAXY_INSTALL_NOT_OWNED', `${name} on this node was not installed by the cluster lifecycle (by hand or by a rollout): kept`);
    }
    // Until the farm's list is known, what was installed is kept whatever anyone asks.
    if (!this.sourceReady() && this.records.has(name)) throw new InstallError('GALAXY_INSTALL_BUSY', `the farm's desired components are not known yet on this node; remove ${name} once they are`);
    if (!this.records.has(name) && !this.local.has(name)) {
      if (this.options.host.status().some((s) => s.name === name)) throw new InstallError('GALAXY_INSTALL_NOT_MANAGED', `${name} was not installed from a package; it is not this service's to remove`);
      throw new InstallError('GALAXY_INSTALL_NOT_INSTALLED', `${name} is not installed on this node`);
    }
    this.local.delete(name);
    this.owners.delete(name);
    this.failed.delete(name);
    this.persist();
    return this.outcomeOf(await this.reconcile(), name, null);
  }

  /** Runs a reconcile (the next one, if one is running: changes made meanwhile are in it). */
  reconcile(): Promise<InstallOutcome[]> {
    if (this.closed) return Promise.reject(new InstallError('GALAXY_INSTALL_CLOSED', 'the install service is closed'));
    if (this.next !== null) return this.next;
    const run = this.queue.then(() => {
      this.next = null;
      return this.runOnce();
    });
    this.next = run;
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Stops following the source and waits for the running reconcile; the components keep running (the host's close stops them). */
  async close(): Promise<void> {
    this.closed = true;
    this.unsubscribe?.();
    this.unsubscribe = null;
    await this.queue;
  }

  // ---- reconcile -------------------------------------------------------------------

  private async runOnce(): Promise<InstallOutcome[]> {
    const { host } = this.options;
    const failedKeys = new Map([...this.failed].map(([name, attempt]) => [name, attempt.key]));
    const plan = planInstall({ desired: this.desired(), installed: this.records, onHost: new Set(host.status().map((s) => s.name)), failed: failedKeys });
    const outcomes: InstallOutcome[] = [];
    const skipped = (name: string, error: ErrorSummary | null): InstallOutcome => {
      const entry = this.desired().find((d) => d.name === name);
      return { name, version: entry?.version ?? null, previousVersion: this.records.get(name)?.version ?? null, result: 'skipped', error };
    };
    for (const name of plan.unchanged) outcomes.push({ name, version: this.records.get(name)!.version, previousVersion: this.records.get(name)!.version, result: 'unchanged', error: null });
    for (const name of plan.skipped) {
      const before = this.failed.get(name)!.error;
      outcomes.push(skipped(name, { code: before.code, message: `not retried until the desired state changes; it failed before: ${before.message}` }));
    }
    for (const name of plan.notManaged) {
      const entry = this.desired().find((d) => d.name === name)!;
      outcomes.push(this.fail(entry.name, entry.version, null, new InstallError('GALAXY_INSTALL_NOT_MANAGED', `the host runs a component named ${name} that was not installed from a package`), entry));
    }

    const ready: Ready[] = [];
    for (const change of plan.installs) {
      const got = await this.obtain(change);
      if ('manifest' in got) ready.push({ change, manifest: got.manifest });
      else outcomes.push(got.outcome);
    }

    const removals = [...plan.removals].sort((a, b) => this.startOrderOf(b) - this.startOrderOf(a) || (a.name < b.name ? 1 : -1));
    for (const record of removals) outcomes.push(await this.removeNow(record));

    const configures = new Map(plan.configures.map((c) => [c.name, c]));
    const installs = new Map(ready.map((r) => [r.change.name, r]));
    const sequence = startSequence([
      ...ready.map((r) => ({ name: r.change.name, startOrder: r.manifest.startOrder ?? 0, dependsOn: r.manifest.dependsOn ?? [] })),
      ...plan.configures.map((c) => ({ name: c.name, startOrder: this.startOrderOf(c.previous), dependsOn: [] })),
    ]);
    for (const name of sequence.cyclic) {
      const item = installs.get(name);
      if (item !== undefined) outcomes.push(this.fail(name, item.change.version, item.change.previous?.version ?? null, new InstallError('GALAXY_INSTALL_DEPENDENCY_CYCLE', `${name} is on (or waits for) a dependsOn cycle`), this.entryOf(name)));
    }
    for (const name of sequence.order) {
      const configure = configures.get(name);
      outcomes.push(configure !== undefined ? await this.configureNow(configure) : await this.replace(installs.get(name)!));
    }
    for (const outcome of outcomes) this.counters[outcome.result]++;
    return outcomes;
  }

  /** Step 1 for one install: the package fetched (or found) and verified, or the failure. */
  private async obtain(change: PlannedInstall): Promise<{ manifest: PackageManifest } | { outcome: InstallOutcome }> {
    const previousVersion = change.previous?.version ?? null;
    const entry = this.entryOf(change.name);
    try {
      if (!this.options.store.has(change.name, change.version)) this.progress(change.name, change.version, previousVersion, 'fetching', {});
      let lastMs = -Infinity;
      const { sources } = await this.options.fetcher.fetch({ name: change.name, version: change.version, ...(change.checksum === undefined ? {} : { checksum: change.checksum }) }, (p) => {
        const nowMs = this.now();
        if (nowMs - lastMs < this.progressIntervalMs && p.bytesDone < p.bytesTotal) return;
        lastMs = nowMs;
        this.progress(change.name, change.version, previousVersion, 'fetching', { bytesDone: p.bytesDone, bytesTotal: p.bytesTotal, peer: p.peer });
      });
      if (sources.length > 0) this.logger.info({ package: packageId(change.name, change.version), from: sources }, 'package fetched from the farm');
      this.progress(change.name, change.version, previousVersion, 'verifying', {});
      return { manifest: await this.options.store.verify(change.name, change.version) };
    } catch (error) {
      return { outcome: this.fail(change.name, change.version, previousVersion, error, entry) };
    }
  }

  private async removeNow(record: InstalledRecord): Promise<InstallOutcome> {
    this.progress(record.name, null, record.version, 'removing', {});
    try {
      if (this.onHost(record.name)) await this.options.host.remove(record.name);
    } catch (error) {
      const summary = errorSummary(error);
      this.progress(record.name, null, record.version, 'failed', { code: summary.code, error: summary.message });
      return { name: record.name, version: null, previousVersion: record.version, result: 'failed', error: summary };
    }
    this.records.delete(record.name);
    this.persist();
    this.progress(record.name, null, record.version, 'removed', {});
    return { name: record.name, version: null, previousVersion: record.version, result: 'removed', error: null };
  }

  private async configureNow(change: PlannedConfigure): Promise<InstallOutcome> {
    const { name, previous } = change;
    const entry = this.entryOf(name);
    try {
      const manifest = this.options.store.manifest(name, previous.version);
      await this.options.host.configure(name, { ...(manifest.config ?? {}), ...change.config });
    } catch (error) {
      const rejected = new InstallError('GALAXY_INSTALL_CONFIG_REJECTED', `${name}: ${errorSummary(error).message}`);
      return { ...this.fail(name, previous.version, previous.version, rejected, entry), previousVersion: previous.version };
    }
    this.records.set(name, { ...previous, config: change.config });
    this.failed.delete(name);
    this.persist();
    this.progress(name, previous.version, previous.version, 'done', {});
    return { name, version: previous.version, previousVersion: previous.version, result: 'configured', error: null };
  }

  /** Step 3 for one install: the old version out, the new one in, rolled back on failure. */
  private async replace({ change, manifest }: Ready): Promise<InstallOutcome> {
    const { name, version, previous } = change;
    const previousVersion = previous?.version ?? null;
    const entry = this.entryOf(name);
    const missing = (manifest.dependsOn ?? []).filter((dep) => this.options.host.status().find((s) => s.name === dep)?.state !== 'running');
    if (missing.length > 0) {
      const error = new InstallError('GALAXY_INSTALL_DEPENDENCY', `${name} depends on ${missing.join(', ')}, which ${missing.length === 1 ? 'does' : 'do'} not run on this node`);
      const summary = errorSummary(error);
      this.progress(name, version, previousVersion, 'failed', { code: summary.code, error: summary.message });
      return { name, version, previousVersion, result: 'skipped', error: summary };
    }
    this.progress(name, version, previousVersion, 'installing', {});
    try {
      if (this.onHost(name)) await this.options.host.remove(name);
    } catch (error) {
      return this.fail(name, version, previousVersion, error, entry);
    }
    this.progress(name, version, previousVersion, 'starting', {});
    const problem = await this.startFrom(name, version, change.config);
    if (problem === null) {
      this.records.set(name, { name, version, checksum: manifest.checksum, config: change.config });
      this.failed.delete(name);
      this.persist();
      this.prune(name, previousVersion);
      this.progress(name, version, previousVersion, 'done', {});
      return { name, version, previousVersion, result: 'installed', error: null };
    }
    if (entry !== undefined) this.failed.set(name, { key: desiredKey(entry), error: problem });
    this.logger.warn({ component: name, version, error: problem.message }, 'component install failed; rolling back');
    if (previous === null) {
      this.records.delete(name);
      this.persist();
      this.progress(name, version, previousVersion, 'failed', { code: problem.code, error: problem.message });
      return { name, version, previousVersion, result: 'failed', error: problem };
    }
    const again = await this.startFrom(name, previous.version, previous.config, true);
    if (again === null) {
      this.records.set(name, previous);
      this.persist();
      this.progress(name, version, previousVersion, 'rolled-back', { code: problem.code, error: problem.message });
      return { name, version, previousVersion, result: 'rolled-back', error: problem };
    }
    // The previous version stays on the host, which keeps retrying it with backoff.
    const message = `${problem.message}; the previous version ${previous.version} did not start again either: ${again.message}`;
    this.progress(name, version, previousVersion, 'failed', { code: problem.code, error: message });
    return { name, version, previousVersion, result: 'failed', error: { code: problem.code, message } };
  }

  /**
   * Adds name@version to the host and starts it; null once it ran for settleMs, else why
   * not (and it is removed from the host again, unless `keepOnFailure`).
   */
  private async startFrom(name: string, version: string, config: Readonly<Record<string, unknown>>, keepOnFailure = false): Promise<ErrorSummary | null> {
    const { host, store } = this.options;
    let crashed: ComponentLifecycleEvent | null = null;
    let wake: () => void = () => {};
    const listener = (event: ComponentLifecycleEvent): void => {
      if (event.name !== name || (event.type !== 'crashed' && event.type !== 'failed')) return;
      crashed ??= event;
      wake();
    };
    host.on('component', listener);
    let problem: ErrorSummary | null = null;
    try {
      const manifest = await store.verify(name, version);
      if (this.onHost(name)) await host.remove(name);
      host.add({ name, kind: manifest.kind, module: store.modulePath(name, version), config: { ...(manifest.config ?? {}), ...config }, ...(manifest.memoryMb === undefined ? {} : { memoryMb: manifest.memoryMb }) });
      const status = await within(host.start(name), this.startTimeoutMs);
      if (status === null) problem = { code: 'GALAXY_INSTALL_START_FAILED', message: `${packageId(name, version)} did not start within ${this.startTimeoutMs} ms` };
      else if (status.state !== 'running') problem = { code: 'GALAXY_INSTALL_START_FAILED', message: `${packageId(name, version)} did not start: ${status.lastError ?? status.state}` };
      else {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.settleMs);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
          if (crashed !== null) wake();
        });
        const event = crashed as ComponentLifecycleEvent | null;
        if (event !== null) problem = { code: 'GALAXY_INSTALL_START_FAILED', message: `${packageId(name, version)} ${event.type} within ${this.settleMs} ms of its start: ${event.detail.error ?? 'no reason given'}` };
      }
    } catch (error) {
      problem = errorSummary(error, 'GALAXY_INSTALL_START_FAILED');
    } finally {
      host.off('component', listener);
    }
    if (problem !== null && !keepOnFailure && this.onHost(name)) await host.remove(name).catch(() => {});
    return problem;
  }

  // ---- helpers ---------------------------------------------------------------------

  private sourceChanged(): void {
    if (this.closed) return;
    let dropped = false;
    const seen = new Set<string>();
    for (const entry of this.sourceList()) {
      seen.add(entry.name);
      const key = desiredKey(entry);
      if (this.sourceSeen.get(entry.name) !== key) {
        this.sourceSeen.set(entry.name, key);
        dropped = this.local.delete(entry.name) || dropped;
      }
    }
    for (const name of [...this.sourceSeen.keys()]) {
      if (seen.has(name)) continue;
      this.sourceSeen.delete(name);
      dropped = this.local.delete(name) || dropped;
    }
    if (dropped) this.persist();
    this.reconcile().catch((error: unknown) => this.logger.error({ error: errorSummary(error).message }, 'reconcile failed'));
  }

  private sourceList(): readonly DesiredComponent[] {
    const source = this.options.source;
    if (source === undefined) return [];
    try {
      return checkDesiredList(source.current(), 'the desired components');
    } catch (error) {
      this.logger.error({ error: errorSummary(error).message }, 'the desired component list is invalid; it is ignored');
      return [];
    }
  }

  private sourceReady(): boolean {
    const source = this.options.source;
    return source === undefined || source.ready === undefined || source.ready();
  }

  private entryOf(name: string): DesiredComponent | undefined {
    return this.desired().find((d) => d.name === name);
  }

  private onHost(name: string): boolean {
    return this.options.host.status().some((s) => s.name === name);
  }

  private startOrderOf(record: InstalledRecord): number {
    try {
      return this.options.store.manifest(record.name, record.version).startOrder ?? 0;
    } catch {
      return 0;
    }
  }

  /** Keeps the store bounded: the installed version, the one to roll back to, and the newest others. */
  private prune(name: string, previousVersion: string | null): void {
    const keep = new Set([this.records.get(name)!.version, ...(previousVersion === null ? [] : [previousVersion])]);
    try {
      const removed = this.options.store.prune(name, keep);
      if (removed.length > 0) this.logger.info({ component: name, removed }, 'old package versions removed');
    } catch (error) {
      this.logger.warn({ component: name, error: errorSummary(error).message }, 'old package versions not removed');
    }
  }

  private fail(name: string, version: string, previousVersion: string | null, error: unknown, entry: DesiredComponent | undefined): InstallOutcome {
    const summary = errorSummary(error);
    if (entry !== undefined) this.failed.set(name, { key: desiredKey(entry), error: summary });
    this.logger.warn({ component: name, version, code: summary.code, error: summary.message }, 'component install failed');
    this.progress(name, version, previousVersion, 'failed', { code: summary.code, error: summary.message });
    return { name, version, previousVersion, result: 'failed', error: summary };
  }

  private outcomeOf(outcomes: readonly InstallOutcome[], name: string, version: string | null): InstallOutcome {
    const record = this.records.get(name);
    return outcomes.find((o) => o.name === name) ?? { name, version, previousVersion: record?.version ?? null, result: 'unchanged', error: null };
  }

  private progress(name: string, version: string | null, previousVersion: string | null, phase: InstallPhase, detail: InstallProgress['detail']): void {
    const event: InstallProgress = { name, version, previousVersion, phase, at: new Date(this.now()).toISOString(), detail };
    try {
      this.emit('progress', event);
    } catch (error) {
      this.logger.error({ error: errorSummary(error).message }, 'an install progress listener threw');
    }
  }

  private persist(): void {
    try {
      writeInstallState(this.options.stateFile, { installed: [...this.records.values()], local: [...this.local.values()], owners: Object.fromEntries([...this.owners].filter(([name]) => this.local.has(name))) });
    } catch (error) {
      this.logger.error({ file: this.options.stateFile, error: errorSummary(error).message }, 'install state not saved; a restart would forget the latest installs');
    }
  }

  private mustBeOpen(): void {
    if (this.closed) throw new InstallError('GALAXY_INSTALL_CLOSED', 'the install service is closed');
  }
}

function nonNegative(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`options.${name} must be a non-negative integer`);
  return value;
}

/** The promise's value, or null if it takes longer than `ms` (it runs on; its rejection is dropped). */
function within<T>(promise: Promise<T>, ms: number): Promise<T | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), ms)));
  promise.catch(() => {});
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

