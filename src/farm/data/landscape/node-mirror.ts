/**
 * The SQLite mirror of the local FMIDB that landscape statements run against. It is
 * derived state: the FMIDB replica feeds it changes (applyChanges, removeNode) and it
 * can be rebuilt from the FMIDB at any time, so it lives in memory and never touches
 * the disk or the network.
 *
 * Schema (SQLite, better-sqlite3):
 *
 *   nodes         one row per node the FMIDB holds a value for
 *     node        TEXT PRIMARY KEY: the node id, 16 lower-case hex digits
 *     <column>    one per key seen, added (ALTER TABLE) when the key first appears:
 *                 the key with '.' and '-' made '_' (load.1min is load_1min). No
 *                 declared type, so values keep the type the FMIDB gave them and
 *                 numbers compare as numbers (load1 < 2), text as text (rack = 'r12').
 *                 NULL where the node has no value for the key.
 *   attributes    the keys that have no column of their own, one row per (node, key)
 *                 with a value: past columnsMax columns, the reserved names (node,
 *                 rowid, oid, _rowid_), and keys whose column name a smaller key
 *                 holds (see column-assignment.ts)
 *     node        TEXT, the node id
 *     key         TEXT, spelled as in the FMIDB
 *     value       no declared type, as above
 *                 PRIMARY KEY (node, key); index attributes_by_key on (key, value)
 *
 * Every value is in exactly one place, a column or `attributes`. Writing each value
 * twice (a complete key/value table beside the columns) would double the cost of
 * every load update for a table that statements rarely need for keys with columns.
 *
 * Writes run in one transaction per batch on the one connection; between batches the
 * connection is `PRAGMA query_only`, so even a statement that slipped past the
 * landscape checks could not change the mirror. (A second, read-only connection would
 * be the usual defence, but an in-memory database cannot be shared between connections
 * in this build of SQLite: no shared cache, no URI file names.)
 */
import { createRequire } from 'node:module';
import type Database from 'better-sqlite3';
import { ColumnAssignment, isValidKey } from './column-assignment.js';
import type { LandscapeConfig } from './landscape-config.js';
import { LandscapeError } from './landscape-error.js';
import { isNodeId } from './node-id.js';

/** One change from the FMIDB replica. */
export interface NodeChange {
  /** The node the value belongs to: its id, 16 lower-case hex digits. */
  readonly subject: string;
  /** [A-Za-z0-9_.-]{1,64}. */
  readonly key: string;
  /** The new value; null means the key was deleted. Numbers must be finite. */
  readonly value: string | number | null;
}

/** What a batch did to the mirror. */
export interface MirrorApplyResult {
  /** Changes that altered a value (a change to the value already held does nothing). */
  readonly changed: number;
  readonly nodesAdded: number;
  readonly columnsAdded: number;
}

/** What changed since the last takeChanges(), for deciding which landscapes to re-evaluate. */
export interface MirrorChanges {
  /** Columns of `nodes` whose values changed, lower case. */
  readonly columns: ReadonlySet<string>;
  /** Rows of `attributes` changed (keys without a column). */
  readonly attributes: boolean;
  /** Nodes were added or removed. */
  readonly nodes: boolean;
  /** Columns were added. */
  readonly schema: boolean;
}

/** Characters of a bad input quoted back in an error message. */
const kQuotedLengthMax = 80;

const kSchema = `
  CREATE TABLE nodes (node TEXT PRIMARY KEY NOT NULL) WITHOUT ROWID;
  CREATE TABLE attributes (
    node TEXT NOT NULL,
    key TEXT NOT NULL,
    value,
    PRIMARY KEY (node, key)
  ) WITHOUT ROWID;
  CREATE INDEX attributes_by_key ON attributes (key, value);
`;

type Config = Pick<LandscapeConfig, 'columnsMax' | 'nodesMax' | 'batchChangesMax' | 'valueLengthMax' | 'indexedKeys'>;

export class NodeMirror {
  /** The connection statements are prepared on. Query-only outside applyChanges and removeNode. */
  readonly database: Database.Database;
  private readonly config: Config;
  private readonly assignment: ColumnAssignment;
  private readonly known = new Set<string>();
  private readonly indexedKeys: ReadonlySet<string>;
  /** One UPDATE per column; at most columnsMax. */
  private readonly setColumnStatements = new Map<string, Database.Statement>();
  private readonly insertNode: Database.Statement;
  private readonly deleteNode: Database.Statement;
  private readonly upsertAttribute: Database.Statement;
  private readonly deleteAttribute: Database.Statement;
  private readonly deleteAttributesOf: Database.Statement;
  private readonly queryOnlyOn: Database.Statement;
  private readonly queryOnlyOff: Database.Statement;
  private changedColumns = new Set<string>();
  private attributesChanged = false;
  private nodesChanged = false;
  private schemaChanged = false;
  private closed = false;
  /** Why a batch failed half-way, after which the mirror refuses to work (see write). */
  private failure: string | null = null;

  constructor(config: Config) {
    this.config = config;
    this.assignment = new ColumnAssignment(config.columnsMax);
    this.indexedKeys = new Set(config.indexedKeys);
    // Loaded here, not at import: a node with no landscape never creates a mirror
    // (LandscapeEngine's fill) and so never loads SQLite (issue 14: an agent's RSS).
    const Sqlite = createRequire(import.meta.url)('better-sqlite3') as typeof Database;
    this.database = new Sqlite(':memory:');
    // Sorts and DISTINCT spill to temporary tables; keep those in memory as well.
    this.database.pragma('temp_store = MEMORY');
    this.database.exec(kSchema);
    this.insertNode = this.database.prepare('INSERT INTO nodes (node) VALUES (?)');
    this.deleteNode = this.database.prepare('DELETE FROM nodes WHERE node = ?');
    // As in setColumn, the WHERE makes an unchanged value a no-op with changes = 0.
    this.upsertAttribute = this.database.prepare(
      'INSERT INTO attributes (node, key, value) VALUES (?, ?, ?) ON CONFLICT (node, key) DO UPDATE SET value = excluded.value WHERE value IS NOT excluded.value',
    );
    this.deleteAttribute = this.database.prepare('DELETE FROM attributes WHERE node = ? AND key = ?');
    this.deleteAttributesOf = this.database.prepare('DELETE FROM attributes WHERE node = ?');
    this.queryOnlyOn = this.database.prepare('PRAGMA query_only = ON');
    this.queryOnlyOff = this.database.prepare('PRAGMA query_only = OFF');
    this.queryOnlyOn.run();
  }

  /** Ids of the nodes in the mirror. */
  get nodeIds(): ReadonlySet<string> {
    return this.known;
  }

  /** Keys that own a column of `nodes`, with the column, in the order the columns were added. */
  columns(): Array<{ key: string; column: string }> {
    return this.assignment.entries();
  }

  /**
   * Applies a batch of changes in one transaction. The whole batch is checked first and
   * refused (GALAXY_LANDSCAPE_BAD_CHANGE, GALAXY_LANDSCAPE_TOO_MANY_NODES) before
   * anything is written, so a bad change never leaves half a batch behind.
   */
  applyChanges(changes: ReadonlyArray<NodeChange>): MirrorApplyResult {
    this.assertOpen();
    this.checkBatch(changes);
    const result = { changed: 0, nodesAdded: 0, columnsAdded: 0 };
    this.write(() => {
      for (const change of changes) this.applyOne(change, result);
    });
    return result;
  }

  /**
   * Gives a key its column before any node holds a value for it, so a landscape can be
   * defined over an attribute the administrators have not set yet (rack = 'r12' before
   * the first rack is entered). False when the key needs no new column (it has one, or
   * its values would go to `attributes`).
   */
  declareKey(key: string): boolean {
    this.assertOpen();
    if (!isValidKey(key)) badChange(`key must match [A-Za-z0-9_.-]{1,64}, got ${quote(key)}`);
    const action = this.assignment.assign(key);
    if (action.kind !== 'add') return false;
    this.write(() => this.addColumn(action.column, key));
    return true;
  }

  /** Removes a node and all its values; false if the mirror did not hold it. */
  removeNode(subject: string): boolean {
    this.assertOpen();
    if (!isNodeId(subject)) badChange(`subject must be a node id (16 lower-case hex digits), got ${quote(subject)}`);
    if (!this.known.has(subject)) return false;
    this.write(() => {
      this.deleteNode.run(subject);
      if (this.deleteAttributesOf.run(subject).changes > 0) this.attributesChanged = true;
    });
    this.known.delete(subject);
    // Every statement returns node ids: a node leaving concerns every landscape, so the
    // columns it had need not be listed.
    this.nodesChanged = true;
    return true;
  }

  /** What changed since the previous call; resets the record. */
  takeChanges(): MirrorChanges {
    const changes = { columns: this.changedColumns, attributes: this.attributesChanged, nodes: this.nodesChanged, schema: this.schemaChanged };
    this.changedColumns = new Set();
    this.attributesChanged = false;
    this.nodesChanged = false;
    this.schemaChanged = false;
    return changes;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.database.close();
  }

  private applyOne(change: NodeChange, result: { changed: number; nodesAdded: number; columnsAdded: number }): void {
    const { subject, key, value } = change;
    if (!this.known.has(subject)) {
      // Deleting a key of a node the mirror never held changes nothing.
      if (value === null) return;
      this.insertNode.run(subject);
      this.known.add(subject);
      this.nodesChanged = true;
      result.nodesAdded++;
    }
    const action = this.assignment.assign(key);
    if (action.kind === 'none') {
      if (this.writeAttribute(subject, key, value)) result.changed++;
      return;
    }
    if (action.kind === 'add') {
      this.addColumn(action.column, key);
      result.columnsAdded++;
    }
    if (action.kind === 'take-over') this.moveColumnToAttributes(action.column, action.previousKey);
    if (this.setColumn(action.column, subject, value)) result.changed++;
  }

  /** Writes a value of a key without a column; false when it held that value already. */
  private writeAttribute(subject: string, key: string, value: string | number | null): boolean {
    const info = value === null ? this.deleteAttribute.run(subject, key) : this.upsertAttribute.run(subject, key, value);
    if (info.changes === 0) return false;
    this.attributesChanged = true;
    return true;
  }

  private addColumn(column: string, key: string): void {
    // `column` matches [A-Za-z0-9_]{1,64} (see column-assignment.ts), so quoting it is enough.
    this.database.exec(`ALTER TABLE nodes ADD COLUMN "${column}"`);
    if (this.indexedKeys.has(key)) this.database.exec(`CREATE INDEX "nodes_by_${column}" ON nodes ("${column}")`);
    this.schemaChanged = true;
  }

  /** Writes a value into a key's column; false when it held that value already. */
  private setColumn(column: string, subject: string, value: string | number | null): boolean {
    let statement = this.setColumnStatements.get(column);
    if (statement === undefined) {
      // The IS NOT makes an unchanged value a no-op with changes = 0, which is how a
      // batch learns which columns really changed.
      statement = this.database.prepare(`UPDATE nodes SET "${column}" = ? WHERE node = ? AND "${column}" IS NOT ?`);
      this.setColumnStatements.set(column, statement);
    }
    // better-sqlite3 does not bind ?1 twice from positional values, so the value goes in twice.
    if (statement.run(value, subject, value).changes === 0) return false;
    this.changedColumns.add(column.toLowerCase());
    return true;
  }

  /**
   * A smaller key takes the column over (it is new: a key is assigned when first
   * seen): the previous owner's values move to `attributes` and the column starts
   * empty. Rare, so the statements are not prepared ahead.
   */
  private moveColumnToAttributes(column: string, previousKey: string): void {
    const moved = this.database.prepare(`INSERT INTO attributes (node, key, value) SELECT node, ?, "${column}" FROM nodes WHERE "${column}" IS NOT NULL`).run(previousKey);
    if (moved.changes > 0) this.attributesChanged = true;
    this.database.prepare(`UPDATE nodes SET "${column}" = NULL WHERE "${column}" IS NOT NULL`).run();
    this.changedColumns.add(column.toLowerCase());
  }

  /**
   * Runs `writes` in one transaction with query_only lifted, and restores it whatever
   * happens. Batches are checked before they are written, so a failure here is SQLite
   * failing (out of memory): the transaction rolls back but the column assignment and
   * the node set in JavaScript may not, so the mirror shuts itself and must be rebuilt
   * from the FMIDB rather than answer from a state that disagrees with itself.
   */
  private write(writes: () => void): void {
    this.queryOnlyOff.run();
    try {
      this.database.transaction(writes)();
    } catch (error) {
      this.failure = error instanceof Error ? error.message : String(error);
      throw error;
    } finally {
      this.queryOnlyOn.run();
    }
  }

  private checkBatch(changes: ReadonlyArray<NodeChange>): void {
    if (!Array.isArray(changes)) badChange('changes must be an array');
    if (changes.length > this.config.batchChangesMax) badChange(`a batch holds at most ${this.config.batchChangesMax} changes (options.batchChangesMax), got ${changes.length}`);
    const added = new Set<string>();
    for (let i = 0; i < changes.length; i++) {
      const change = changes[i]!;
      this.checkChange(change, i);
      if (change.value !== null && !this.known.has(change.subject)) added.add(change.subject);
    }
    if (this.known.size + added.size > this.config.nodesMax) {
      throw new LandscapeError('GALAXY_LANDSCAPE_TOO_MANY_NODES', `the mirror holds at most ${this.config.nodesMax} nodes (options.nodesMax); it has ${this.known.size} and the batch adds ${added.size}`);
    }
  }

  private checkChange(change: NodeChange, index: number): void {
    if (typeof change !== 'object' || change === null) badChange(`changes[${index}] must be an object`);
    const { subject, key, value } = change;
    if (!isNodeId(subject)) badChange(`changes[${index}].subject must be a node id (16 lower-case hex digits), got ${quote(subject)}`);
    if (!isValidKey(key)) badChange(`changes[${index}].key must match [A-Za-z0-9_.-]{1,64}, got ${quote(key)}`);
    if (value === null) return;
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) badChange(`changes[${index}].value must be a finite number, got ${value}`);
      return;
    }
    if (typeof value !== 'string') badChange(`changes[${index}].value must be a string, a number or null, got ${typeof value}`);
    if (value.length > this.config.valueLengthMax) badChange(`changes[${index}].value is ${value.length} characters; the limit is ${this.config.valueLengthMax} (options.valueLengthMax)`);
  }

  /** Throws GALAXY_LANDSCAPE_CLOSED when the mirror is closed or failed. */
  assertOpen(): void {
    if (this.closed) throw new LandscapeError('GALAXY_LANDSCAPE_CLOSED', 'the landscape mirror is closed');
    if (this.failure !== null) throw new LandscapeError('GALAXY_LANDSCAPE_CLOSED', `the landscape mirror failed while writing a batch (${this.failure}); rebuild it from the FMIDB`);
  }
}

function badChange(message: string): never {
  throw new LandscapeError('GALAXY_LANDSCAPE_BAD_CHANGE', message);
}

function quote(value: unknown): string {
  const text = typeof value === 'string' ? JSON.stringify(value) : String(value);
  return text.length <= kQuotedLengthMax ? text : `${text.slice(0, kQuotedLengthMax - 1)}…`;
}
