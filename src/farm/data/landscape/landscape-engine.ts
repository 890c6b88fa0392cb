/**
 * The landscape engine of one node: the SQLite mirror of the local FMIDB, the
 * replicated landscape definitions, and each landscape's members as computed here.
 *
 * It is driven, like etcd's raft: no timers and no I/O inside. The caller
 *  - feeds FMIDB changes (applyChanges, removeNode), which only mark what changed;
 *  - calls tick(nowMs) periodically (a few times a second): on-change landscapes whose
 *    columns changed since the previous tick are re-evaluated once, however many
 *    batches arrived in between, and `every` landscapes whose period has passed;
 *  - drains membership events (drainEvents) onto the API stream;
 *  - carries definition records between nodes: define and delete return the record to
 *    send, importDefinition takes a peer's, exportDefinitions gives all for a full sync.
 * Reads (list, show, members, nodesOf) never touch the network.
 *
 * A definition made here is refused (thrown) unless its statement passes every check
 * and its first evaluation succeeds. A definition imported from a peer is kept even if
 * it fails here (so the farm converges on one set of definitions): it reports its error
 * in show() and through nodesOf, and is retried after failureRetryMs, or as soon as new
 * columns appear when its statement named a column this node had not seen yet.
 */
import { resolveLandscapeConfig, type LandscapeConfig, type LandscapeOptions } from './landscape-config.js';
import { LandscapeError, type LandscapeErrorCode } from './landscape-error.js';
import { evaluateStatement, kRowsPerClockRead, type Evaluation, type MonotonicClock } from './landscape-evaluation.js';
import { LandscapeEventQueue, type LandscapeEvent } from './landscape-event.js';
import { checkMode, type LandscapeMode } from './landscape-mode.js';
import { checkName, checkRecord, nextStamp, type LandscapeDefinition, type LandscapeRecord } from './landscape-record.js';
import { LandscapeRegistry, type MergeOutcome } from './landscape-registry.js';
import type { LandscapeResolver } from './landscape-resolver.js';
import { compileQuery, compileStatement, type CompiledStatement } from './landscape-statement.js';
import { NodeMirror, type MirrorApplyResult, type MirrorChanges, type NodeChange } from './node-mirror.js';
import { isNodeId } from './node-id.js';
import { readsAnyOf } from './statement-reads.js';

export interface LandscapeEngineParams {
  /** This node's id (16 lower-case hex digits): the origin of the records it writes. */
  readonly origin: string;
  readonly options?: LandscapeOptions;
  /** Measures evaluation time, ms; performance.now unless a test injects a fake. */
  readonly clock?: MonotonicClock;
  /**
   * When given, the SQLite mirror (and SQLite itself) is created only when first needed:
   * a landscape defined or imported, a statement resolved, a query, a read of its
   * columns. `fill` then hands it the node values the FMIDB holds at that moment, calling
   * `apply` once per batch (of at most batchChangesMax changes); until then applyChanges
   * and removeNode do nothing, since the fill will bring the mirror to the same values.
   * The mirror is derived state, rebuilt from the FMIDB at any time (node-mirror.ts), so
   * a node that never has a landscape never loads SQLite (issue 14: an agent's RSS).
   * Without it the mirror is created at once.
   */
  readonly fill?: (apply: (changes: ReadonlyArray<NodeChange>) => void) => void;
}

export interface LandscapeFailure {
  readonly code: LandscapeErrorCode;
  readonly message: string;
}

/** One line of `galaxy landscape list`. */
export interface LandscapeSummary {
  readonly name: string;
  readonly mode: LandscapeMode;
  readonly sql: string;
  readonly memberCount: number;
  readonly lastEvaluatedAtMs: number | null;
  readonly error: LandscapeFailure | null;
}

/** `galaxy landscape show NAME`. */
export interface LandscapeView extends LandscapeSummary {
  readonly updatedAtMs: number;
  readonly origin: string;
  /**
   * Members from the last successful evaluation, sorted. After a redefinition whose
   * statement has not run successfully yet, these are still the previous definition's
   * (error says why); nodesOf refuses to answer until it has.
   */
  readonly members: string[];
  /** How long the last evaluation took, ms. */
  readonly lastEvaluationMs: number | null;
  readonly evaluations: number;
  readonly failures: number;
  /** What re-evaluates an on-change landscape: these columns, the attributes table, or any change. */
  readonly reads: { readonly columns: string[]; readonly attributes: boolean; readonly everything: boolean } | null;
}

/** What `galaxy db query` shows. */
export interface QueryResult {
  readonly columns: string[];
  readonly rows: unknown[][];
  /** More rows matched than were returned. */
  readonly truncated: boolean;
}

export interface TickResult {
  readonly evaluated: number;
  readonly failed: number;
}

export interface LandscapeCounters {
  evaluations: number;
  evaluationFailures: number;
  batchesApplied: number;
  valuesChanged: number;
  recordsImported: number;
  recordsStale: number;
  /** Peer definitions refused because landscapesMax were live. */
  recordsRefusedFull: number;
}

/** Columns one local definition may declare before any node holds them. */
const kColumnsDeclaredMax = 16;

/** Failures that cost time or memory: retried only after failureRetryMs, never on the next change. */
const kCostlyFailures: ReadonlySet<LandscapeErrorCode> = new Set(['GALAXY_LANDSCAPE_TOO_SLOW', 'GALAXY_LANDSCAPE_RESULT_TOO_LARGE']);

interface LandscapeState {
  readonly record: LandscapeRecord;
  compiled: CompiledStatement | null;
  /** Replaced, never mutated: the event queue keeps old sets as "before". */
  members: ReadonlySet<string>;
  sortedMembers: string[] | null;
  /** An evaluation of this definition has succeeded. */
  evaluated: boolean;
  lastEvaluatedAtMs: number | null;
  lastEvaluationMs: number | null;
  evaluations: number;
  failures: number;
  error: LandscapeFailure | null;
  failedAtMs: number;
}

export class LandscapeEngine implements LandscapeResolver {
  readonly config: LandscapeConfig;
  readonly origin: string;
  readonly counters: LandscapeCounters = {
    evaluations: 0, evaluationFailures: 0, batchesApplied: 0, valuesChanged: 0, recordsImported: 0, recordsStale: 0, recordsRefusedFull: 0,
  };
  /** Null until first needed when params.fill is given (see there). */
  private mirrorOrNull: NodeMirror | null = null;
  private readonly fill: LandscapeEngineParams['fill'];
  private readonly registry: LandscapeRegistry;
  private readonly states = new Map<string, LandscapeState>();
  private readonly events = new LandscapeEventQueue();
  private readonly clock: MonotonicClock;
  private closed = false;

  constructor(params: LandscapeEngineParams) {
    if (!isNodeId(params.origin)) throw new LandscapeError('GALAXY_LANDSCAPE_BAD_OPTIONS', `origin must be this node's id (16 lower-case hex digits), got ${JSON.stringify(params.origin)}`);
    this.config = resolveLandscapeConfig(params.options);
    this.origin = params.origin;
    this.clock = params.clock ?? (() => performance.now());
    this.registry = new LandscapeRegistry(this.config.definitionRecordsMax, this.config.landscapesMax);
    this.fill = params.fill;
    if (this.fill === undefined) this.mirrorOrNull = new NodeMirror(this.config);
  }

  /** The mirror exists (always true without params.fill). */
  get mirrorCreated(): boolean {
    return this.mirrorOrNull !== null;
  }

  /** The mirror, created (and filled from the FMIDB) at its first use. */
  private get mirror(): NodeMirror {
    if (this.mirrorOrNull !== null) return this.mirrorOrNull;
    const mirror = new NodeMirror(this.config);
    this.mirrorOrNull = mirror;
    this.fill?.((changes) => this.applyChanges(changes));
    return mirror;
  }

  // ------------------------------------------------------------------ FMIDB input

  /** Applies a batch of FMIDB changes in one transaction; landscapes follow at the next tick. */
  applyChanges(changes: ReadonlyArray<NodeChange>): MirrorApplyResult {
    this.assertOpen();
    if (this.mirrorOrNull === null) return { changed: 0, nodesAdded: 0, columnsAdded: 0 };
    const result = this.mirror.applyChanges(changes);
    this.counters.batchesApplied++;
    this.counters.valuesChanged += result.changed;
    return result;
  }

  /** Forgets a node and its values (it left the farm); false if the mirror did not hold it. */
  removeNode(subject: string): boolean {
    this.assertOpen();
    if (this.mirrorOrNull === null) return false;
    return this.mirror.removeNode(subject);
  }

  /** Keys that own a column of `nodes`, with the column name (for `galaxy landscape columns` and docs). */
  columns(): Array<{ key: string; column: string }> {
    return this.mirror.columns();
  }

  // ------------------------------------------------------------------ definitions

  /**
   * Defines (or redefines) a landscape here and returns the record to replicate. Throws
   * a LandscapeError, changing nothing, if the name, mode or statement is refused or the
   * first evaluation fails.
   */
  define(definition: LandscapeDefinition, nowMs: number): LandscapeRecord {
    this.assertOpen();
    assertTime(nowMs);
    const name = checkName(definition?.name);
    const mode = checkMode(definition?.mode, this.config);
    if (!this.registry.hasRoomFor(name)) throw new LandscapeError('GALAXY_LANDSCAPE_TOO_MANY', `${this.config.landscapesMax} landscapes are defined already (options.landscapesMax); delete one first`);
    const compiled = this.compileDeclaring(definition.sql);
    const evaluation = this.evaluate(compiled);
    const record: LandscapeRecord = Object.freeze({ name, sql: compiled.sql, mode, updatedAtMs: nextStamp(this.registry.get(name), nowMs), origin: this.origin, deleted: false });
    const outcome = this.registry.merge(record);
    if (outcome !== 'applied') throw new Error(`a local definition lost to the record it replaced (${outcome}): nextStamp is broken`);
    const state = this.install(record);
    state.compiled = compiled;
    this.succeeded(state, evaluation, nowMs);
    return record;
  }

  /**
   * Compiles a statement made here; a column no node has a value for yet (an attribute
   * not set anywhere so far) is declared empty and the statement compiled again, so
   * "rack = 'r12'" can be defined before the first rack is. Only plain names SQLite
   * reports as missing are declared (not alias.column), a few at most.
   */
  private compileDeclaring(sql: string): CompiledStatement {
    for (let declared = 0; ; declared++) {
      try {
        return compileStatement(this.mirror.database, sql, this.config.statementLengthMax);
      } catch (error) {
        const missing = error instanceof LandscapeError && error.code === 'GALAXY_LANDSCAPE_SQL_INVALID' ? /no such column: ([A-Za-z0-9_]{1,64})$/.exec(error.message)?.[1] : undefined;
        if (missing === undefined || declared >= kColumnsDeclaredMax || !this.mirror.declareKey(missing)) throw error;
      }
    }
  }

  /** Deletes a landscape and returns the tombstone to replicate. */
  delete(name: string, nowMs: number): LandscapeRecord {
    this.assertOpen();
    assertTime(nowMs);
    this.stateOf(name);
    const record: LandscapeRecord = Object.freeze({ name, sql: '', mode: Object.freeze({ kind: 'on-change' }), updatedAtMs: nextStamp(this.registry.get(name), nowMs), origin: this.origin, deleted: true });
    if (this.registry.merge(record) !== 'applied') throw new Error('a local deletion lost to the record it replaced: nextStamp is broken');
    this.uninstall(name);
    return record;
  }

  /**
   * Takes a record from a peer. 'applied' when it won (the landscape is then defined,
   * redefined or deleted here), 'stale' when the record held here wins, 'full' when it
   * is a new definition and landscapesMax are live. A malformed record throws
   * GALAXY_LANDSCAPE_BAD_RECORD; a statement that fails here does not throw (see above).
   */
  importDefinition(record: unknown, nowMs: number): MergeOutcome {
    this.assertOpen();
    assertTime(nowMs);
    const checked = checkRecord(record, this.config);
    const outcome = this.registry.merge(checked);
    if (outcome === 'stale') this.counters.recordsStale++;
    if (outcome === 'full') this.counters.recordsRefusedFull++;
    if (outcome !== 'applied') return outcome;
    this.counters.recordsImported++;
    if (checked.deleted) {
      this.uninstall(checked.name);
      return outcome;
    }
    this.refresh(this.install(checked), nowMs);
    return outcome;
  }

  /** Every record held, tombstones included, in name order: what a peer needs to converge. */
  exportDefinitions(): LandscapeRecord[] {
    return this.registry.all();
  }

  // ------------------------------------------------------------------ reads

  list(): LandscapeSummary[] {
    return [...this.states.values()].map((state) => this.summary(state)).sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  show(name: string): LandscapeView {
    const state = this.stateOf(name);
    const reads = state.compiled?.reads;
    const known = new Set(this.mirror.columns().map((entry) => entry.column.toLowerCase()));
    return {
      ...this.summary(state),
      updatedAtMs: state.record.updatedAtMs,
      origin: state.record.origin,
      members: [...sortedMembers(state)],
      lastEvaluationMs: state.lastEvaluationMs,
      evaluations: state.evaluations,
      failures: state.failures,
      reads: reads === undefined ? null : { columns: [...reads.names].filter((n) => known.has(n)).sort(), attributes: reads.attributes, everything: reads.everything },
    };
  }

  /** The same as nodesOf. */
  members(name: string): string[] {
    return this.nodesOf(name);
  }

  nodesOf(landscape: string): string[] {
    const state = this.stateOf(landscape);
    if (state.error !== null) throw new LandscapeError('GALAXY_LANDSCAPE_UNAVAILABLE', `landscape "${landscape}" is unavailable on this node: ${state.error.message}`);
    if (!state.evaluated) throw new LandscapeError('GALAXY_LANDSCAPE_UNAVAILABLE', `landscape "${landscape}" has not been evaluated on this node yet`);
    return [...sortedMembers(state)];
  }

  /**
   * The node ids an ad-hoc statement selects now (a job's or a script's `--sql` target):
   * the checks and limits of a landscape statement, nothing stored.
   */
  resolveStatement(sql: string): string[] {
    this.assertOpen();
    const evaluation = this.evaluate(compileStatement(this.mirror.database, sql, this.config.statementLengthMax));
    return [...evaluation.members].sort();
  }

  /**
   * `galaxy db query`: one read-only SELECT over the mirror, any columns, at most
   * `rowsMax` rows (truncated says more were left) and evaluationMsMax of work.
   */
  query(sql: string, rowsMax: number): QueryResult {
    this.assertOpen();
    const statement = compileQuery(this.mirror.database, sql, this.config.statementLengthMax);
    const columns = statement.columns().map((column) => column.name);
    const rows: unknown[][] = [];
    const startMs = this.clock();
    let truncated = false;
    try {
      for (const row of statement.iterate() as IterableIterator<unknown[]>) {
        if (rows.length === rowsMax) {
          truncated = true;
          break;
        }
        rows.push(row.map((value) => (typeof value === 'bigint' ? Number(value) : value instanceof Uint8Array ? Buffer.from(value).toString('base64') : value)));
        if (rows.length % kRowsPerClockRead === 0 && this.clock() - startMs > this.config.evaluationMsMax) {
          throw new LandscapeError('GALAXY_LANDSCAPE_TOO_SLOW', `the query ran longer than ${this.config.evaluationMsMax} ms`);
        }
      }
    } catch (error) {
      if (error instanceof LandscapeError) throw error;
      throw new LandscapeError('GALAXY_LANDSCAPE_EVALUATION_FAILED', `SQLite failed while running the query: ${error instanceof Error ? error.message : String(error)}`);
    }
    return { columns, rows, truncated };
  }

  // ------------------------------------------------------------------ driving

  /** Re-evaluates what is due at `nowMs` (see the file comment). */
  tick(nowMs: number): TickResult {
    this.assertOpen();
    assertTime(nowMs);
    // No landscape, nothing to evaluate; a mirror not created yet stays so.
    if (this.states.size === 0) {
      this.mirrorOrNull?.takeChanges();
      return { evaluated: 0, failed: 0 };
    }
    const changes = this.mirror.takeChanges();
    let evaluated = 0;
    let failed = 0;
    for (const state of this.states.values()) {
      if (!this.isDue(state, changes, nowMs)) continue;
      if (this.refresh(state, nowMs)) evaluated++;
      else failed++;
    }
    return { evaluated, failed };
  }

  /** Landscapes defined (evaluated or not). */
  get landscapeCount(): number {
    return this.states.size;
  }

  /** Membership changes since the previous drain, one event per landscape that changed. */
  drainEvents(): LandscapeEvent[] {
    return this.events.drain({ membersOf: (name) => this.states.get(name)?.members });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.mirrorOrNull?.close();
  }

  // ------------------------------------------------------------------ internals

  private isDue(state: LandscapeState, changes: MirrorChanges, nowMs: number): boolean {
    if (state.error !== null) {
      if (nowMs >= state.failedAtMs + this.config.failureRetryMs) return true;
      if (state.compiled === null) return changes.schema;
      if (kCostlyFailures.has(state.error.code)) return false;
    }
    const mode = state.record.mode;
    if (mode.kind === 'every') return state.lastEvaluatedAtMs === null || nowMs >= state.lastEvaluatedAtMs + mode.periodMs;
    if (state.compiled === null) return false;
    const reads = state.compiled.reads;
    // Every statement returns node ids, so a node arriving or leaving concerns all of them.
    return changes.nodes || (changes.attributes && reads.attributes) || readsAnyOf(reads, changes.columns);
  }

  /** Compiles if needed and evaluates; records success or failure. False on failure. */
  private refresh(state: LandscapeState, nowMs: number): boolean {
    try {
      state.compiled ??= this.compileDeclaring(state.record.sql);
      this.succeeded(state, this.evaluate(state.compiled), nowMs);
      return true;
    } catch (error) {
      if (!(error instanceof LandscapeError)) throw error;
      state.error = { code: error.code, message: error.message };
      state.failedAtMs = nowMs;
      state.failures++;
      state.evaluations++;
      state.lastEvaluatedAtMs = nowMs;
      this.counters.evaluationFailures++;
      return false;
    }
  }

  private evaluate(compiled: CompiledStatement): Evaluation {
    this.counters.evaluations++;
    const limits = { rowsMax: this.config.evaluationRowsMax, durationMsMax: this.config.evaluationMsMax };
    return evaluateStatement(compiled, this.mirror.nodeIds, limits, this.clock);
  }

  private succeeded(state: LandscapeState, evaluation: Evaluation, nowMs: number): void {
    if (!sameMembers(state.members, evaluation.members)) {
      this.events.noteChange(state.record.name, state.members);
      state.members = evaluation.members;
      state.sortedMembers = null;
    }
    state.evaluated = true;
    state.error = null;
    state.evaluations++;
    state.lastEvaluatedAtMs = nowMs;
    state.lastEvaluationMs = evaluation.durationMs;
  }

  /**
   * A fresh state for a (re)definition. It starts from the previous definition's
   * members so the event of the first evaluation says what changed for consumers, but
   * it counts as not evaluated until its own statement has run.
   */
  private install(record: LandscapeRecord): LandscapeState {
    const previous = this.states.get(record.name);
    const state: LandscapeState = {
      record, compiled: null, members: previous?.members ?? new Set(), sortedMembers: previous?.sortedMembers ?? null,
      evaluated: false, lastEvaluatedAtMs: null, lastEvaluationMs: null, evaluations: 0, failures: 0, error: null, failedAtMs: 0,
    };
    this.states.set(record.name, state);
    return state;
  }

  private uninstall(name: string): void {
    const state = this.states.get(name);
    if (state === undefined) return;
    this.events.noteChange(name, state.members);
    this.states.delete(name);
  }

  private summary(state: LandscapeState): LandscapeSummary {
    const { name, mode, sql } = state.record;
    return { name, mode, sql, memberCount: state.members.size, lastEvaluatedAtMs: state.lastEvaluatedAtMs, error: state.error };
  }

  private stateOf(name: string): LandscapeState {
    this.assertOpen();
    const state = this.states.get(name);
    if (state === undefined) throw new LandscapeError('GALAXY_LANDSCAPE_UNKNOWN', `no landscape is named ${JSON.stringify(name)}`);
    return state;
  }

  private assertOpen(): void {
    if (this.closed) throw new LandscapeError('GALAXY_LANDSCAPE_CLOSED', 'the landscape engine is closed');
    this.mirrorOrNull?.assertOpen();
  }
}

/** The driver's clock is ms since the epoch; anything else is a bug in the driver, not an operating failure. */
function assertTime(nowMs: number): void {
  if (!Number.isFinite(nowMs) || nowMs < 0) throw new RangeError(`nowMs must be a non-negative finite number of ms, got ${nowMs}`);
}

function sortedMembers(state: LandscapeState): string[] {
  state.sortedMembers ??= [...state.members].sort();
  return state.sortedMembers;
}

function sameMembers(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a.size !== b.size) return false;
  for (const id of a) if (!b.has(id)) return false;
  return true;
}
