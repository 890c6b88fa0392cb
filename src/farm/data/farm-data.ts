import { DomainError, type FailureKind } from '../../core/util/domain-error.js';
import { randomInt } from 'node:crypto';
import { renameSync } from 'node:fs';
import { z } from 'zod';
import type { AgentLogger } from '../../node/util/agent-logger.js';
import { type ApiEvent, type MemberView, type MetricFamily, type NodeValues } from '../../surface/api/api-backend.js';
import { resolveFmidbConfig, type FmidbOptions } from '../../core/fmidb/config.js';
import type { FmidbChange, FmidbWrite } from '../../core/fmidb/entry.js';
import { FmidbError } from '../../core/fmidb/fmidb-error.js';
import { FmidbReplica } from '../../core/fmidb/fmidb-replica.js';
import { createFmidbRuntime } from '../../core/kernels/fmidb-runtime.js';
import { isValidKey } from './landscape/column-assignment.js';
import { LandscapeEngine, type LandscapeSummary, type LandscapeView, type QueryResult } from './landscape/landscape-engine.js';
import { LandscapeError } from './landscape/landscape-error.js';
import { parsePeriod, type LandscapeMode } from './landscape/landscape-mode.js';
import { kLandscapeNamePattern, type LandscapeRecord } from './landscape/landscape-record.js';
import type { NodeChange } from './landscape/node-mirror.js';
import { isNodeId } from './landscape/node-id.js';
import { writeFileAtomic } from '../../node/util/atomic-file.js';
import { readJsonFile } from '../../node/util/json-file.js';
import { Prng } from '../../core/util/prng.js';

/**
 * The farm's data on one node: its replica of the Farm Management Information
 * Database and the landscapes computed over it. FmidbReplica and LandscapeEngine are
 * pure state machines; this class is their driver in the agent:
 *
 *  - FMIDB messages travel on the messenger's `fmidb` channel, sealed like all farm
 *    traffic and addressed by node id; the sender of what arrives is the messenger's
 *    authenticated sender id, so replies go back to it whatever connection it came by.
 *  - Membership drives the replica's peers (alive and suspect members) and departures
 *    (dead or left: the node's record becomes a tombstone, reaped later).
 *  - Every tickMs the replica runs its timers and its outbox is sent; its changes feed
 *    the SQLite mirror of the landscape engine; every landscapeTickMs the landscapes
 *    that are due are re-evaluated and their membership changes published as events.
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
  /** Sends an FMIDB message to a node by id (the messenger's fmidb channel); false when it was dropped. */
  readonly send: (to: string, bytes: Uint8Array, stream: boolean) => boolean;
  readonly publish: (event: ApiEvent) => void;
  readonly logger: AgentLogger;
  readonly fmidb?: FmidbOptions;
  /** Replica timer period, ms. */
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
  readonly replica: FmidbReplica;
  readonly landscapes: LandscapeEngine;
  readonly counters = { envelopesMalformed: 0, unknownSender: 0, mirrorSkipped: 0, definitionsMalformed: 0, sendFailures: 0 };
  private readonly options: FarmDataOptions;
  private readonly changeListeners = new Set<() => void>();
  /** Members membership told us of (any status): an FMIDB message from another id is not taken. */
  private readonly known = new Set<string>();
  private readonly departed = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private snapshotTimer: NodeJS.Timeout | null = null;
  private snapshotDigest = '';
  /** Node ids restored from the snapshot, until membership shows them alive or the grace ends. */
  private restored = new Set<string>();
  private restoredUntilMs = 0;
  private landscapeTimer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(options: FarmDataOptions) {
    this.options = options;
    const config = resolveFmidbConfig({ ...kAgentFmidbOptions, ...options.fmidb });
    this.replica = new FmidbReplica({
      selfId: options.selfId,
      config,
      runtime: createFmidbRuntime(config),
      random: new Prng(randomInt(0, 2 ** 32)),
      nowMs: () => performance.now(),
      wallClockMs: () => Date.now(),
    });
    this.landscapes = new LandscapeEngine({ origin: options.selfId });
    if (options.snapshotFile !== undefined) this.loadSnapshot(options.snapshotFile);
  }

  get selfId(): string {
    return this.options.selfId;
  }

  /**
   * Called after the farm configuration (subjects `farm/...`) changed or landscape
   * membership changed: what depends on both (the components this node must run) recomputes.
   */
  onChange(listener: () => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  /** Sends what the replica has to send now (after a write made from outside). */
  flush(): void {
    if (!this.closed) this.pump();
  }

  start(): void {
    if (this.closed || this.timer !== null) return;
    this.timer = setInterval(() => this.tick(), this.options.tickMs ?? 100);
    this.landscapeTimer = setInterval(() => this.tickLandscapes(), this.options.landscapeTickMs ?? 250);
    this.timer.unref();
    this.landscapeTimer.unref();
    if (this.options.snapshotFile !== undefined) {
      this.snapshotTimer = setInterval(() => this.saveSnapshot(), this.options.snapshotIntervalMs ?? 60_000);
      this.snapshotTimer.unref();
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== null) clearInterval(this.timer);
    if (this.landscapeTimer !== null) clearInterval(this.landscapeTimer);
    if (this.snapshotTimer !== null) clearInterval(this.snapshotTimer);
    this.saveSnapshot();
    this.landscapes.close();
  }

  // ---- membership and messages --------------------------------------------------

  /** The member list after membership changed: peers, addresses and departures. */
  membersChanged(members: readonly MemberView[]): void {
    if (this.closed) return;
    const alive: string[] = [];
    for (const member of members) {
      this.known.add(member.id);
      if (member.status === 'alive' || member.status === 'suspect') {
        alive.push(member.id);
        this.departed.delete(member.id);
        this.restored.delete(member.id);
      } else if (!member.self && !this.departed.has(member.id)) {
        this.departed.add(member.id);
        this.replica.nodeDeparted(member.id);
      }
    }
    this.replica.peersChanged(alive);
    this.pump();
  }

  /** An FMIDB message from the node with id `from` (authenticated by the messenger). */
  receive(from: string, bytes: Uint8Array, stream: boolean): void {
    if (this.closed) return;
    if (bytes.length === 0) {
      this.counters.envelopesMalformed++;
      return;
    }
    if (!this.known.has(from)) {
      // A node our member list (read once per turn) does not hold yet: its replica is not a peer of ours yet.
      this.counters.unknownSender++;
      return;
    }
    this.replica.receive(from, bytes, stream);
    this.pump();
  }

  // ---- writes --------------------------------------------------------------------

  /** This node's components posted values: one batch under one stamp. */
  postValues(values: Readonly<Record<string, number | string>>): void {
    if (this.closed) return;
    const writes: FmidbWrite[] = [];
    for (const [key, value] of Object.entries(values)) {
      if (isValidKey(key) && (typeof value === 'string' || Number.isFinite(value))) writes.push({ subject: this.options.selfId, key, value });
    }
    try {
      for (let i = 0; i < writes.length; i += this.replica.config.batchEntriesMax) this.replica.setMany(writes.slice(i, i + this.replica.config.batchEntriesMax));
    } catch (error) {
      this.options.logger.warn({ error: (error as Error).message }, 'component values not written to the FMIDB');
    }
    this.pump();
  }

  /** `galaxy attr set NODE KEY=VALUE…` (null deletes); returns the attributes after. */
  setAttributes(node: string, values: Readonly<Record<string, string | number | null>>): NodeAttributes {
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
      this.replica.setMany(writes);
    } catch (error) {
      if (error instanceof FmidbError) throw new DomainError('invalid', error.code, error.message);
      throw error;
    }
    this.pump();
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

  status(): DataStatus {
    const counters = { ...this.replica.counters, ...this.counters };
    return { digest: this.replica.digestHash(), origins: this.replica.originsHeld, nodes: this.nodeSubjects().length, landscapes: this.landscapes.list().length, counters };
  }

  // ---- landscapes ------------------------------------------------------------------

  listLandscapes(): LandscapeSummary[] {
    return this.landscapes.list();
  }

  showLandscape(name: string): LandscapeView {
    return this.landscapeCall(() => this.landscapes.show(name));
  }

  /** Defines (or redefines) a landscape here, and replicates it farm-wide. */
  defineLandscape(name: string, input: LandscapeInput): LandscapeView {
    return this.landscapeCall(() => {
      const record = this.landscapes.define({ name, sql: input.sql, mode: parseMode(input.mode) }, Date.now());
      this.writeDefinition(record);
      return this.landscapes.show(name);
    });
  }

  deleteLandscape(name: string): void {
    this.landscapeCall(() => this.writeDefinition(this.landscapes.delete(name, Date.now())));
  }

  metrics(): MetricFamily[] {
    const c = this.replica.counters;
    const l = this.landscapes.counters;
    return [
      { name: 'galaxy_fmidb_origins', help: 'Origins (writers) this FMIDB replica holds', type: 'gauge', samples: [{ value: this.replica.originsHeld }] },
      { name: 'galaxy_fmidb_messages_received_total', help: 'FMIDB messages received', type: 'counter', samples: [{ value: c.messagesReceived }] },
      { name: 'galaxy_fmidb_bytes_received_total', help: 'FMIDB bytes received', type: 'counter', samples: [{ value: c.bytesReceived }] },
      { name: 'galaxy_fmidb_malformed_total', help: 'FMIDB messages dropped as malformed', type: 'counter', samples: [{ value: c.malformed + this.counters.envelopesMalformed }] },
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
      for (const id of this.restored) if (!this.departed.has(id)) this.replica.nodeDeparted(id);
      this.options.logger.info({ nodes: this.restored.size }, 'nodes restored from the FMIDB snapshot did not come back; their records are departed');
      this.restored.clear();
    }
    this.replica.tick();
    this.pump();
  }

  // ---- the snapshot ------------------------------------------------------------------

  private loadSnapshot(file: string): void {
    let snapshot: z.infer<typeof kSnapshotSchema> | null;
    try {
      snapshot = readJsonFile(file, kSnapshotSchema, 'the FMIDB snapshot');
    } catch (error) {
      // Derived state: a damaged snapshot is set aside, and the peers provide the data.
      this.options.logger.warn({ file, error: (error as Error).message }, 'the FMIDB snapshot is unreadable; starting empty (peers resend the data)');
      renameSync(file, `${file}.bad`);
      return;
    }
    if (snapshot === null) return;
    let entries = 0;
    for (const origin of snapshot.origins) {
      try {
        this.replica.prepopulate(origin.origin, origin.version, origin.entries);
      } catch (error) {
        this.options.logger.warn({ origin: origin.origin, error: (error as Error).message }, 'an origin of the FMIDB snapshot was not loaded');
        continue;
      }
      entries += origin.entries.length;
      for (const e of origin.entries) if (isNodeId(e.subject) && e.subject !== this.options.selfId) this.restored.add(e.subject);
    }
    this.restoredUntilMs = performance.now() + (this.options.restoredGraceMs ?? kRestoredGraceMs);
    this.snapshotDigest = this.replica.digestHash();
    this.options.logger.info({ file, origins: snapshot.origins.length, entries, savedAt: new Date(snapshot.savedAt).toISOString() }, 'FMIDB replica loaded from its snapshot');
  }

  private saveSnapshot(): void {
    const file = this.options.snapshotFile;
    if (file === undefined) return;
    const digest = this.replica.digestHash();
    if (digest === this.snapshotDigest) return;
    try {
      writeFileAtomic(file, JSON.stringify({ format: kSnapshotFormat, savedAt: Date.now(), origins: this.replica.exportOrigins() }));
      this.snapshotDigest = digest;
    } catch (error) {
      this.options.logger.warn({ file, error: (error as Error).message }, 'the FMIDB snapshot was not saved');
    }
  }

  private tickLandscapes(): void {
    if (this.closed) return;
    const result = this.landscapes.tick(Date.now());
    const events = this.landscapes.drainEvents();
    for (const event of events) {
      this.options.publish({ kind: 'landscape', type: event.deleted ? 'deleted' : 'changed', time: new Date().toISOString(), body: { ...event } });
    }
    if (events.length > 0 || result.evaluated > 0) this.changed();
  }

  /** Sends the outbox and feeds the replica's changes to the landscape mirror. */
  private pump(): void {
    const outgoing = this.replica.drainOutbox();
    for (const message of outgoing) if (!this.options.send(message.to, message.bytes, message.stream)) this.counters.sendFailures++;
    const changes = this.replica.drainChanges();
    if (changes.length > 0) this.mirror(changes);
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

  private writeDefinition(record: LandscapeRecord): void {
    if (!kLandscapeNamePattern.test(record.name)) throw new LandscapeError('GALAXY_LANDSCAPE_BAD_NAME', `bad landscape name ${JSON.stringify(record.name)}`);
    this.replica.set(`${kLandscapeSubjectPrefix}${record.name}`, kLandscapeKey, JSON.stringify(record));
    this.pump();
  }

  private entriesOf(node: string): AttributeView[] {
    return this.replica.entriesOf(node).map((e) => ({ key: e.key, value: e.value, origin: e.origin, updatedAt: new Date(e.stamp).toISOString() }));
  }

  private nodeSubjects(): string[] {
    return this.replica.subjects().filter((subject) => isNodeId(subject)).sort();
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
