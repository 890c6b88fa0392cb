import { DomainError, type FailureKind } from '../../core/util/domain-error.js';
import { renameSync } from 'node:fs';
import { z } from 'zod';
import type { AgentLogger } from '../../node/util/agent-logger.js';
import type { MemberView } from '../../core/membership/member-view.js';
import type { ApiEvent } from '../../core/util/api-event.js';
import type { MetricFamily } from '../../core/util/metric-family.js';
import type { NodeValues } from './node-values.js';
import { resolveFmidbConfig, type FmidbOptions } from '../../core/fmidb/config.js';
import type { FmidbChange, FmidbWrite } from '../../core/fmidb/entry.js';
import { FmidbError } from '../../core/fmidb/fmidb-error.js';
import type { SnapshotOrigin } from '../../core/stack/node-stack.js';
import type { FmidbCountersReport } from '../../node/driver/agent-worker-protocol.js';
import type { FmidbLink, FmidbUpdate } from '../../node/driver/fmidb-link.js';
import { FmidbView, type ViewEntry } from './fmidb-view.js';
import { isValidKey } from './landscape/column-assignment.js';
import { LandscapeEngine, type LandscapeSummary, type LandscapeView, type QueryResult } from './landscape/landscape-engine.js';
import { LandscapeError } from './landscape/landscape-error.js';
import { parsePeriod, type LandscapeMode } from './landscape/landscape-mode.js';
import { kLandscapeNamePattern, type LandscapeRecord } from './landscape/landscape-record.js';
import type { NodeChange } from './landscape/node-mirror.js';
import { isNodeId } from './landscape/node-id.js';
import { writeFileAtomic } from '../../node/util/atomic-file.js';
import { readJsonFile } from '../../node/util/json-file.js';

/**
 * The farm's data on one node: its replica of the Farm Management Information
 * Database and the landscapes computed over it. The replica (FmidbCore) runs inside the
 * agent worker's NodeStack, the same composition the simulator runs; this class is its
 * operator on the main thread, through an FmidbLink (AgentHost; InProcessFmidb without
 * a worker):
 *
 *  - The stack carries the FMIDB's messages on the messenger's `fmidb` channel, sealed
 *    like all farm traffic, checks their sender id against membership, and feeds
 *    membership's view into the replica (peers, departures) itself.
 *  - At start this class loads the snapshot file and opens the replica with it; writes
 *    (attributes, component values, landscape definitions, farm configuration) go in as
 *    commands and resolve once the replica took them; the replica's changes come out in
 *    batches and keep a read view (FmidbView, for the API's reads) and the SQLite mirror
 *    of the landscape engine; every landscapeTickMs the landscapes that are due are
 *    re-evaluated and their membership changes published as events.
 *  - Landscape definitions are FMIDB entries too: subject `landscape/NAME`, key
 *    `definition`, the record as JSON. They replicate with everything else and are
 *    never departed; a deletion is a tombstone record, kept so an older copy cannot
 *    bring the landscape back.
 *
 * Reads (attributes, values, query, landscapes) are local and never touch the network.
 */
/** FMIDB subject prefix of landscape definitions. */
export const kLandscapeSubjectPrefix = 'landscape/';
const kLandscapeKey = 'definition';
/** FMIDB subjects of farm-wide configuration (farm/components, ...). */
export const kFarmSubjectPrefix = 'farm/';
/** The replica's snapshot in the agent's data directory. */
export const kFmidbSnapshotFileName = 'fmidb.json';
/** Rows `galaxy db query` returns at most. */
export const kQueryRowsMax = 10_000;

export interface FarmDataOptions {
  readonly selfId: string;
  /** Where the replica runs (the agent's worker: AgentHost). */
  readonly link: FmidbLink;
  readonly publish: (event: ApiEvent) => void;
  readonly logger: AgentLogger;
  readonly fmidb?: FmidbOptions;
  /** Period of the restored-node check, ms. */
  readonly tickMs?: number;
  /** Landscape re-evaluation period, ms. */
  readonly landscapeTickMs?: number;
  /**
   * Where the replica is saved (every snapshotIntervalMs when it changed, and at close)
   * and loaded from at start, so that a restart of the whole farm loses nothing; absent:
   * memory only (a restarted node then gets everything back from its peers).
   */
  readonly snapshotFile?: string;
  readonly snapshotIntervalMs?: number;
  /** How long after a start from a snapshot a restored node may take to be back in membership, ms. */
  readonly restoredGraceMs?: number;
}

/** Period of the landscapes' evaluation tick, ms, while any is defined (options.landscapeTickMs overrides it). */
const kLandscapeTickMs = 250;
/** Period of the landscapes' tick while none is defined, ms. */
const kLandscapeIdleTickMs = 1000;
/** How long after a start from a snapshot a node must be back in membership before its restored record is departed. */
const kRestoredGraceMs = 60_000;
const kSnapshotFormat = 1;

/** One key of a node as `galaxy attr get` shows it. */
export interface AttributeView {
  readonly key: string;
  readonly value: string | number;
  /** The node that wrote it: the node itself for its components' values, an administrator's node for attributes. */
  readonly origin: string;
  readonly updatedAt: string;
}

export interface NodeAttributes {
  readonly node: string;
  readonly attributes: AttributeView[];
}

export interface DataStatus {
  readonly digest: string;
  readonly origins: number;
  readonly nodes: number;
  readonly landscapes: number;
  readonly counters: Readonly<Record<string, number>>;
}

/** What a landscape definition looks like in the API. */
export interface LandscapeInput {
  readonly sql: string;
  /** "on-change" or "every PERIOD" (every 10s, every 5m). */
  readonly mode: string;
}

/** Parses the mode as the API and the CLI spell it. */
export function parseMode(text: string): LandscapeMode {
  if (text === 'on-change') return { kind: 'on-change' };
  const every = /^every\s+(\S+)$/.exec(text);
  if (every === null) throw new LandscapeError('GALAXY_LANDSCAPE_BAD_MODE', `a landscape mode is "on-change" or "every PERIOD" (every 10s), got ${JSON.stringify(text)}`);
  return { kind: 'every', periodMs: parsePeriod(every[1]!) };
}

/**
 * The agent's FMIDB limits: those of kFmidbDefaults but string values up to 16 KiB, so
 * a landscape record (a statement of up to 4,096 characters, as JSON) fits in one entry.
 * Every node of a farm runs the same agent and so the same limits.
 */
const kAgentFmidbOptions: FmidbOptions = { valueBytesMax: 16384 };

export class FarmData {
  /** The replica's read view (kept from its changes). */
  readonly view = new FmidbView();
  readonly landscapes: LandscapeEngine;
  readonly counters = { mirrorSkipped: 0, definitionsMalformed: 0, writeFailures: 0 };
  /** The replica's limits (the worker's replica resolves the same options). */
  readonly config: ReturnType<typeof resolveFmidbConfig>;
  private readonly options: FarmDataOptions;
  private readonly link: FmidbLink;
  private readonly changeListeners = new Set<() => void>();
  /** The replica's counters as last reported by its thread. */
  private replicaCounters: FmidbCountersReport = {};
  private readonly unsubscribe: () => void;
  private timer: NodeJS.Timeout | null = null;
  private snapshotTimer: NodeJS.Timeout | null = null;
  private snapshotDigest = '';
  /** Node ids restored from the snapshot, until membership shows them alive or the grace ends. */
  private restored = new Set<string>();
  private restoredUntilMs = 0;
  private landscapeTimer: NodeJS.Timeout | null = null;
  private landscapePeriodMs = 0;
  private closed = false;

  constructor(options: FarmDataOptions) {
    this.options = options;
    this.link = options.link;
    const fmidbOptions = { ...kAgentFmidbOptions, ...options.fmidb };
    this.config = resolveFmidbConfig(fmidbOptions);
    // SQLite and the mirror only once a landscape exists or a statement is run (issue 14):
    // the mirror is then filled from the view, which holds what the changes gave it.
    this.landscapes = new LandscapeEngine({ origin: options.selfId, fill: (apply) => this.fillMirror(apply) });
    this.unsubscribe = this.link.onFmidb((update) => this.update(update));
    const snapshot = options.snapshotFile === undefined ? [] : this.loadSnapshot(options.snapshotFile);
    this.link.openFmidb(fmidbOptions, snapshot);
  }

  get selfId(): string {
    return this.options.selfId;
  }

  /** The replica's counters as its thread last reported them (messagesReceived, ...). */
  get fmidbCounters(): FmidbCountersReport {
    return this.replicaCounters;
  }

  /**
   * Called after the farm configuration (subjects `farm/...`) changed or landscape
   * membership changed: what depends on both (the components this node must run) recomputes.
   */
  onChange(listener: () => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  /**
   * Writes one batch under one stamp into the replica; resolves with the stamp once the
   * replica took it and its changes are in the view, rejects with the FmidbError of a
   * broken limit (then nothing was written).
   */
  write(writes: readonly FmidbWrite[]): Promise<number> {
    if (this.closed) return Promise.reject(new FmidbError('FMIDB_NOT_OPEN', 'the farm data is closed'));
    return this.link.writeFmidb(writes);
  }

  start(): void {
    if (this.closed || this.timer !== null) return;
    this.timer = setInterval(() => this.tick(), this.options.tickMs ?? 1000);
    this.armLandscapeTimer(this.options.landscapeTickMs ?? kLandscapeTickMs);
    this.timer.unref();
    if (this.options.snapshotFile !== undefined) {
      this.snapshotTimer = setInterval(() => void this.saveSnapshot(), this.options.snapshotIntervalMs ?? 60_000);
      this.snapshotTimer.unref();
    }
  }

  /** Saves the snapshot (when the replica changed since the last save) while the replica still runs, then stops. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== null) clearInterval(this.timer);
    if (this.landscapeTimer !== null) clearInterval(this.landscapeTimer);
    if (this.snapshotTimer !== null) clearInterval(this.snapshotTimer);
    await this.saveSnapshot();
    this.unsubscribe();
    this.landscapes.close();
  }

  // ---- membership -------------------------------------------------------------------

  /**
   * The member list after membership changed. The replica's peers and departures are
   * fed by the stack it runs in; here only the nodes restored from the snapshot are
   * crossed off when membership shows them back.
   */
  membersChanged(members: readonly MemberView[]): void {
    if (this.closed || this.restored.size === 0) return;
    for (const member of members) if (member.status === 'alive' || member.status === 'suspect') this.restored.delete(member.id);
  }

  // ---- writes --------------------------------------------------------------------

  /** This node's components posted values: one batch under one stamp (a chunk per batchEntriesMax). */
  postValues(values: Readonly<Record<string, number | string>>): void {
    if (this.closed) return;
    const writes: FmidbWrite[] = [];
    for (const [key, value] of Object.entries(values)) {
      if (isValidKey(key) && (typeof value === 'string' || Number.isFinite(value))) writes.push({ subject: this.options.selfId, key, value });
    }
    const max = this.config.batchEntriesMax;
    for (let i = 0; i < writes.length; i += max) {
      this.write(writes.slice(i, i + max)).catch((error: Error) => {
        this.counters.writeFailures++;
        this.options.logger.warn({ error: error.message }, 'component values not written to the FMIDB');
      });
    }
  }

  /** `galaxy attr set NODE KEY=VALUE…` (null deletes); resolves with the attributes after. */
  async setAttributes(node: string, values: Readonly<Record<string, string | number | null>>): Promise<NodeAttributes> {
    if (!isNodeId(node)) throw new DomainError('invalid', 'GALAXY_ATTR_BAD_NODE', `a node id is 16 lower-case hex digits, got ${JSON.stringify(node)}`);
    const writes: FmidbWrite[] = [];
    for (const [key, value] of Object.entries(values)) {
      if (!isValidKey(key)) throw new DomainError('invalid', 'GALAXY_ATTR_BAD_KEY', `an attribute key is 1 to 64 of [A-Za-z0-9_.-], got ${JSON.stringify(key)}`);
      if (typeof value === 'string' && value.length > this.landscapes.config.valueLengthMax) {
        throw new DomainError('invalid', 'GALAXY_ATTR_VALUE_TOO_LONG', `the value of ${key} is ${value.length} characters; the limit is ${this.landscapes.config.valueLengthMax}`);
      }
      if (typeof value === 'number' && !Number.isFinite(value)) throw new DomainError('invalid', 'GALAXY_ATTR_BAD_VALUE', `the value of ${key} must be a finite number or a string`);
      writes.push({ subject: node, key, value });
    }
    if (writes.length === 0) throw new DomainError('invalid', 'GALAXY_ATTR_NOTHING', 'give at least one KEY=VALUE');
    try {
      await this.write(writes);
    } catch (error) {
      if (error instanceof FmidbError) throw new DomainError(error.code === 'FMIDB_NOT_OPEN' || error.code === 'FMIDB_BUSY' ? 'unavailable' : 'invalid', error.code, error.message);
      throw error;
    }
    return { node, attributes: this.entriesOf(node) };
  }

  // ---- reads ---------------------------------------------------------------------

  /** Every key of one node, or of every node this replica holds. */
  attributes(node: string | undefined): NodeAttributes[] {
    if (node !== undefined) {
      if (!isNodeId(node)) throw new DomainError('invalid', 'GALAXY_ATTR_BAD_NODE', `a node id is 16 lower-case hex digits, got ${JSON.stringify(node)}`);
      return [{ node, attributes: this.entriesOf(node) }];
    }
    return this.nodeSubjects().map((id) => ({ node: id, attributes: this.entriesOf(id) }));
  }

  /** The values table of the API: each node's keys, and when the newest was written. */
  values(node: string | undefined): NodeValues[] {
    return this.attributes(node)
      .filter((row) => row.attributes.length > 0)
      .map((row) => {
        const values: Record<string, number | string> = {};
        let newest = '';
        for (const a of row.attributes) {
          values[a.key] = a.value;
          if (a.updatedAt > newest) newest = a.updatedAt;
        }
        return { node: row.node, values, updatedAt: newest === '' ? null : newest };
      });
  }

  query(sql: string): QueryResult {
    return this.landscapeCall(() => this.landscapes.query(sql, kQueryRowsMax));
  }

  /** "The nodes of landscape X", or of an ad-hoc statement: the one resolver every later layer uses. */
  resolve(target: { readonly landscape: string } | { readonly sql: string }): string[] {
    if ('landscape' in target) return this.landscapes.nodesOf(target.landscape);
    return this.landscapes.resolveStatement(target.sql);
  }

  /** The replica's digest and counters (asked of its thread), and this side's. */
  async status(): Promise<DataStatus> {
    const readout = await this.link.readFmidb(false);
    const counters = { ...readout.counters, ...this.counters };
    return { digest: readout.digest, origins: readout.originsHeld, nodes: this.nodeSubjects().length, landscapes: this.landscapes.list().length, counters };
  }

  // ---- landscapes ------------------------------------------------------------------

  listLandscapes(): LandscapeSummary[] {
    return this.landscapes.list();
  }

  showLandscape(name: string): LandscapeView {
    return this.landscapeCall(() => this.landscapes.show(name));
  }

  /** Defines (or redefines) a landscape here, and replicates it farm-wide. */
  async defineLandscape(name: string, input: LandscapeInput): Promise<LandscapeView> {
    const record = this.landscapeCall(() => this.landscapes.define({ name, sql: input.sql, mode: parseMode(input.mode) }, Date.now()));
    await this.writeDefinition(record);
    return this.landscapeCall(() => this.landscapes.show(name));
  }

  async deleteLandscape(name: string): Promise<void> {
    await this.writeDefinition(this.landscapeCall(() => this.landscapes.delete(name, Date.now())));
  }

  /** Metrics of the replica (as its thread last reported its counters) and of the landscapes. */
  metrics(): MetricFamily[] {
    const c = this.replicaCounters;
    const l = this.landscapes.counters;
    return [
      { name: 'galaxy_fmidb_origins', help: 'Origins (writers) this FMIDB replica holds', type: 'gauge', samples: [{ value: c['originsHeld'] ?? 0 }] },
      { name: 'galaxy_fmidb_messages_received_total', help: 'FMIDB messages received', type: 'counter', samples: [{ value: c['messagesReceived'] ?? 0 }] },
      { name: 'galaxy_fmidb_bytes_received_total', help: 'FMIDB bytes received', type: 'counter', samples: [{ value: c['bytesReceived'] ?? 0 }] },
      { name: 'galaxy_fmidb_malformed_total', help: 'FMIDB messages dropped as malformed', type: 'counter', samples: [{ value: c['malformed'] ?? 0 }] },
      { name: 'galaxy_landscapes', help: 'Landscapes defined', type: 'gauge', samples: [{ value: this.landscapes.list().length }] },
      { name: 'galaxy_landscape_evaluations_total', help: 'Landscape evaluations', type: 'counter', samples: [{ value: l.evaluations }] },
      { name: 'galaxy_landscape_evaluation_failures_total', help: 'Landscape evaluations that failed', type: 'counter', samples: [{ value: l.evaluationFailures }] },
    ];
  }

  // ---- driving ---------------------------------------------------------------------

  private tick(): void {
    if (this.closed) return;
    if (this.restored.size > 0 && performance.now() >= this.restoredUntilMs) {
      // Restored from the snapshot but not back in the farm: departed, like any node that left.
      this.link.departFmidb([...this.restored]);
      this.options.logger.info({ nodes: this.restored.size }, 'nodes restored from the FMIDB snapshot did not come back; their records are departed');
      this.restored.clear();
    }
  }

  /** What the replica's thread reports: changes feed the view and the landscapes' mirror. */
  private update(update: FmidbUpdate): void {
    if (this.closed) return;
    if (update.type === 'opened') {
      for (const r of update.refused) this.options.logger.warn({ origin: r.origin, error: r.reason }, 'an origin of the FMIDB snapshot was not loaded');
      if (this.options.snapshotFile !== undefined && update.origins > 0) {
        // What was loaded needs no saving until it changes.
        void this.link.readFmidb(false).then(
          (readout) => {
            if (this.snapshotDigest === '') this.snapshotDigest = readout.digest;
          },
          () => undefined,
        );
      }
      return;
    }
    this.replicaCounters = update.counters;
    if (update.changes.length === 0) return;
    for (const change of update.changes) this.view.apply(change);
    this.mirror(update.changes);
  }

  // ---- the snapshot ------------------------------------------------------------------

  /** Reads the snapshot file: the origins to open the replica with (none when absent or damaged). */
  private loadSnapshot(file: string): SnapshotOrigin[] {
    let snapshot: z.infer<typeof kSnapshotSchema> | null;
    try {
      snapshot = readJsonFile(file, kSnapshotSchema, 'the FMIDB snapshot');
    } catch (error) {
      // Derived state: a damaged snapshot is set aside, and the peers provide the data.
      this.options.logger.warn({ file, error: (error as Error).message }, 'the FMIDB snapshot is unreadable; starting empty (peers resend the data)');
      renameSync(file, `${file}.bad`);
      return [];
    }
    if (snapshot === null) return [];
    let entries = 0;
    for (const origin of snapshot.origins) {
      entries += origin.entries.length;
      for (const e of origin.entries) if (isNodeId(e.subject) && e.subject !== this.options.selfId) this.restored.add(e.subject);
    }
    this.restoredUntilMs = performance.now() + (this.options.restoredGraceMs ?? kRestoredGraceMs);
    this.options.logger.info({ file, origins: snapshot.origins.length, entries, savedAt: new Date(snapshot.savedAt).toISOString() }, 'FMIDB replica loaded from its snapshot');
    return snapshot.origins;
  }

  private saving: Promise<void> | null = null;

  /** Saves the replica's export when its digest moved since the last save; one save at a time. */
  private saveSnapshot(): Promise<void> {
    this.saving ??= this.saveNow().finally(() => (this.saving = null));
    return this.saving;
  }

  private async saveNow(): Promise<void> {
    const file = this.options.snapshotFile;
    if (file === undefined) return;
    try {
      const { digest } = await this.link.readFmidb(false);
      if (digest === this.snapshotDigest || digest === '') return;
      const readout = await this.link.readFmidb(true);
      writeFileAtomic(file, JSON.stringify({ format: kSnapshotFormat, savedAt: Date.now(), origins: readout.origins ?? [] }));
      this.snapshotDigest = readout.digest;
    } catch (error) {
      this.options.logger.warn({ file, error: (error as Error).message }, 'the FMIDB snapshot was not saved');
    }
  }

  private armLandscapeTimer(periodMs: number): void {
    if (this.landscapeTimer !== null) clearInterval(this.landscapeTimer);
    this.landscapePeriodMs = periodMs;
    this.landscapeTimer = setInterval(() => this.tickLandscapes(), periodMs);
    this.landscapeTimer.unref();
  }

  private tickLandscapes(): void {
    if (this.closed) return;
    // With no landscape defined the tick has nothing to evaluate: it runs once a second
    // instead of four times, so an idle agent's main thread sleeps (issue 14 item 7). A
    // landscape defined meanwhile is evaluated at the next tick, within kLandscapeIdleTickMs.
    if (this.options.landscapeTickMs === undefined) {
      const periodMs = this.landscapes.landscapeCount === 0 ? kLandscapeIdleTickMs : kLandscapeTickMs;
      if (periodMs !== this.landscapePeriodMs) this.armLandscapeTimer(periodMs);
    }
    const result = this.landscapes.tick(Date.now());
    const events = this.landscapes.drainEvents();
    for (const event of events) {
      this.options.publish({ kind: 'landscape', type: event.deleted ? 'deleted' : 'changed', time: new Date().toISOString(), body: { ...event } });
    }
    if (events.length > 0 || result.evaluated > 0) this.changed();
  }

  private mirror(changes: readonly FmidbChange[]): void {
    const rows: NodeChange[] = [];
    const removed = new Set<string>();
    const now = Date.now();
    const valueLengthMax = this.landscapes.config.valueLengthMax;
    let farmChanged = false;
    for (const change of changes) {
      if (change.subject.startsWith(kFarmSubjectPrefix)) {
        farmChanged = true;
        continue;
      }
      if (change.subject.startsWith(kLandscapeSubjectPrefix)) {
        if (change.key === kLandscapeKey && typeof change.value === 'string') this.importDefinition(change.value, now);
        continue;
      }
      if (!isNodeId(change.subject)) continue;
      if (change.cause === 'departed') {
        removed.add(change.subject);
        continue;
      }
      if (!isValidKey(change.key) || (typeof change.value === 'string' && change.value.length > valueLengthMax)) {
        this.counters.mirrorSkipped++;
        continue;
      }
      rows.push({ subject: change.subject, key: change.key, value: change.value });
    }
    if (farmChanged) this.changed();
    for (const subject of removed) this.landscapes.removeNode(subject);
    if (rows.length > 0) {
      try {
        this.landscapes.applyChanges(rows);
      } catch (error) {
        this.counters.mirrorSkipped += rows.length;
        this.options.logger.warn({ error: (error as Error).message }, 'FMIDB changes not mirrored for landscapes');
      }
    }
  }

  /** The view's node values, as mirror() would have passed them, for a mirror created now. */
  private fillMirror(apply: (changes: readonly NodeChange[]) => void): void {
    const valueLengthMax = this.landscapes.config.valueLengthMax;
    const max = this.landscapes.config.batchChangesMax;
    let rows: NodeChange[] = [];
    const flush = (): void => {
      if (rows.length === 0) return;
      try {
        apply(rows);
      } catch (error) {
        this.counters.mirrorSkipped += rows.length;
        this.options.logger.warn({ error: (error as Error).message }, 'FMIDB values not mirrored for landscapes');
      }
      rows = [];
    };
    for (const subject of this.view.subjects()) {
      if (!isNodeId(subject)) continue;
      for (const entry of this.view.entriesOf(subject)) {
        // Counted in mirrorSkipped when they arrived (mirror()).
        if (!isValidKey(entry.key) || (typeof entry.value === 'string' && entry.value.length > valueLengthMax)) continue;
        rows.push({ subject, key: entry.key, value: entry.value });
        if (rows.length === max) flush();
      }
    }
    flush();
  }

  private changed(): void {
    for (const listener of [...this.changeListeners]) {
      try {
        listener();
      } catch (error) {
        this.options.logger.warn({ error: (error as Error).message }, 'a farm data listener failed');
      }
    }
  }

  private importDefinition(json: string, now: number): void {
    let record: unknown;
    try {
      record = JSON.parse(json);
    } catch {
      this.counters.definitionsMalformed++;
      return;
    }
    try {
      this.landscapes.importDefinition(record, now);
    } catch (error) {
      this.counters.definitionsMalformed++;
      this.options.logger.warn({ error: (error as Error).message }, 'a replicated landscape definition was refused');
    }
  }

  private async writeDefinition(record: LandscapeRecord): Promise<void> {
    if (!kLandscapeNamePattern.test(record.name)) throw new LandscapeError('GALAXY_LANDSCAPE_BAD_NAME', `bad landscape name ${JSON.stringify(record.name)}`);
    await this.write([{ subject: `${kLandscapeSubjectPrefix}${record.name}`, key: kLandscapeKey, value: JSON.stringify(record) }]);
  }

  private entriesOf(node: string): AttributeView[] {
    return this.view.entriesOf(node).map((e: ViewEntry) => ({ key: e.key, value: e.value, origin: e.origin, updatedAt: new Date(e.stamp).toISOString() }));
  }

  private nodeSubjects(): string[] {
    return this.view.subjects().filter((subject) => isNodeId(subject)).sort();
  }

  /** Landscape errors become 400s (404 for an unknown name) with their codes. */
  private landscapeCall<T>(fn: () => T): T {
    try {
      return fn();
    } catch (error) {
      if (error instanceof LandscapeError) throw new DomainError(error.code === 'GALAXY_LANDSCAPE_UNKNOWN' ? 'not-found' : 'invalid', error.code, error.message);
      throw error;
    }
  }
}

const kSnapshotSchema = z.object({
  format: z.literal(kSnapshotFormat),
  savedAt: z.number(),
  origins: z.array(
    z.object({
      origin: z.string().min(1).max(255),
      version: z.number().nonnegative(),
      entries: z.array(z.object({ subject: z.string().min(1), key: z.string().min(1), value: z.union([z.string(), z.number(), z.null()]), version: z.number().nonnegative() })),
    }),
  ),
});
