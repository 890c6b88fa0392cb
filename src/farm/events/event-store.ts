import type Database from 'better-sqlite3';
import type { CheckedEventsFilter, EventsPage } from './event-filter.js';
import { eventTimeMs, type FarmEvent } from './farm-event.js';

/**
 * The farm's events on a management node, in SQLite. The event id is UNIQUE: a batch
 * delivered again (its acknowledgement was lost, the sender retried) stores nothing
 * new, so every event is stored once however often it arrives. Each batch is one
 * transaction: a store killed mid-batch has stored all of it or none, and the sender,
 * never acknowledged, sends it again.
 *
 * Retention: events whose time is older than maxAgeMs are deleted, then the oldest
 * beyond maxRows. An event arriving already older than maxAgeMs is acknowledged but not
 * stored (it would be deleted at once, and, deleted, could be stored again by a late
 * retry). The same could happen to an event deleted by maxRows and then redelivered; a
 * store sized so events outlive the senders' retry horizon (minutes) never sees it.
 */
export const kStoreSchema = `
  CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    node TEXT NOT NULL,
    source TEXT NOT NULL,
    type TEXT NOT NULL,
    severity TEXT NOT NULL,
    time_ms INTEGER NOT NULL,
    time TEXT NOT NULL,
    body TEXT NOT NULL,
    received_ms INTEGER NOT NULL
  );
  CREATE INDEX IF NOT EXISTS events_by_time ON events (time_ms);
  CREATE INDEX IF NOT EXISTS events_by_type ON events (type, time_ms);
  CREATE INDEX IF NOT EXISTS events_by_node ON events (node, time_ms);
  CREATE TABLE IF NOT EXISTS correlation_state (rule TEXT PRIMARY KEY NOT NULL, raised_at_ms INTEGER NOT NULL) WITHOUT ROWID;
`;

export interface Retention {
  readonly maxAgeMs: number;
  readonly maxRows: number;
}

export interface InsertOutcome {
  /** The events new to the store, in the order given. */
  readonly stored: FarmEvent[];
  /** Events it held already (redeliveries). */
  readonly duplicates: number;
  /** Events older than the retention age, acknowledged and not stored. */
  readonly expired: number;
}

/** Rows deleted per retention statement, so one pass never holds the write lock for long. */
const kPruneRowsPerStatement = 10_000;

interface Row {
  id: string;
  node: string;
  source: string;
  type: string;
  severity: FarmEvent['severity'];
  time: string;
  body: string;
}

export class EventStore {
  private rows: number;
  private readonly statements;
  /** Query statements by SQL text: at most 2^5 shapes (which of five filters are given). */
  private readonly queries = new Map<string, Database.Statement>();

  constructor(
    private readonly db: Database.Database,
    private retention: Retention,
  ) {
    this.statements = {
      insert: db.prepare<[string, string, string, string, string, number, string, string, number]>(
        'INSERT OR IGNORE INTO events (id, node, source, type, severity, time_ms, time, body, received_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      count: db.prepare('SELECT COUNT(*) AS n FROM events'),
      pruneAge: db.prepare<[number, number]>('DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE time_ms < ? LIMIT ?)'),
      pruneRows: db.prepare<[number]>('DELETE FROM events WHERE seq IN (SELECT seq FROM events ORDER BY time_ms, seq LIMIT ?)'),
      countWindow: db.prepare<[string, number, number]>('SELECT COUNT(*) AS n FROM events WHERE type = ? AND time_ms > ? AND time_ms <= ?'),
      countWindowOn: db.prepare<[string, number, number, string]>('SELECT COUNT(*) AS n FROM events WHERE type = ? AND time_ms > ? AND time_ms <= ? AND node IN (SELECT value FROM json_each(?))'),
      nodesWindow: db.prepare<[string, number, number, number]>('SELECT DISTINCT node FROM events WHERE type = ? AND time_ms > ? AND time_ms <= ? LIMIT ?'),
      nodesWindowOn: db.prepare<[string, number, number, string, number]>('SELECT DISTINCT node FROM events WHERE type = ? AND time_ms > ? AND time_ms <= ? AND node IN (SELECT value FROM json_each(?)) LIMIT ?'),
      raisedAt: db.prepare<[string]>('SELECT raised_at_ms AS at FROM correlation_state WHERE rule = ?'),
      setRaisedAt: db.prepare<[string, number]>('INSERT INTO correlation_state (rule, raised_at_ms) VALUES (?, ?) ON CONFLICT (rule) DO UPDATE SET raised_at_ms = excluded.raised_at_ms'),
    };
    this.rows = (this.statements.count.get() as { n: number }).n;
  }

  get size(): number {
    return this.rows;
  }

  setRetention(retention: Retention): void {
    this.retention = retention;
  }

  /** Stores a batch in one transaction; `also` runs inside it (the correlation bookkeeping of raised events). */
  insert(events: readonly FarmEvent[], nowMs: number, also?: () => void): InsertOutcome {
    const oldestMs = nowMs - this.retention.maxAgeMs;
    return this.db.transaction(() => {
      const stored: FarmEvent[] = [];
      let duplicates = 0;
      let expired = 0;
      for (const event of events) {
        const timeMs = eventTimeMs(event);
        if (timeMs < oldestMs) {
          expired++;
          continue;
        }
        const { changes } = this.statements.insert.run(event.id, event.node, event.source, event.type, event.severity, timeMs, event.time, JSON.stringify(event.body), nowMs);
        if (changes === 1) stored.push(event);
        else duplicates++;
      }
      this.rows += stored.length;
      also?.();
      return { stored, duplicates, expired };
    })();
  }

  /** Applies the retention policy; returns how many events it deleted. */
  prune(nowMs: number): number {
    let deleted = 0;
    for (;;) {
      const changes = this.statements.pruneAge.run(nowMs - this.retention.maxAgeMs, kPruneRowsPerStatement).changes;
      deleted += changes;
      if (changes < kPruneRowsPerStatement) break;
    }
    this.rows = (this.statements.count.get() as { n: number }).n;
    while (this.rows > this.retention.maxRows) {
      const changes = this.statements.pruneRows.run(Math.min(kPruneRowsPerStatement, this.rows - this.retention.maxRows)).changes;
      deleted += changes;
      this.rows -= changes;
      if (changes === 0) break;
    }
    return deleted;
  }

  /**
   * The newest events matching `filter` (on `nodes` when given: a landscape resolved),
   * oldest first, within jsonLengthMax characters of JSON.
   */
  query(filter: CheckedEventsFilter, nodes: readonly string[] | null, jsonLengthMax: number): EventsPage {
    const where: string[] = [];
    const parameters: Array<string | number> = [];
    if (filter.since !== undefined) {
      where.push('time_ms >= ?');
      parameters.push(Date.parse(filter.since));
    }
    if (filter.until !== undefined) {
      where.push('time_ms <= ?');
      parameters.push(Date.parse(filter.until));
    }
    if (filter.node !== undefined) {
      where.push('node = ?');
      parameters.push(filter.node);
    }
    if (filter.type !== undefined) {
      // A type holds no GLOB metacharacter but the trailing * of a prefix filter.
      where.push(filter.type.endsWith('*') ? 'type GLOB ?' : 'type = ?');
      parameters.push(filter.type);
    }
    if (nodes !== null) {
      where.push('node IN (SELECT value FROM json_each(?))');
      parameters.push(JSON.stringify(nodes));
    }
    const sql = `SELECT id, node, source, type, severity, time, body FROM events ${where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`} ORDER BY time_ms DESC, seq DESC LIMIT ?`;
    let statement = this.queries.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      this.queries.set(sql, statement);
    }
    const rows = statement.all(...parameters, filter.limit + 1) as Row[];
    const events: FarmEvent[] = [];
    let length = 0;
    let truncated = rows.length > filter.limit;
    for (const row of rows.slice(0, filter.limit)) {
      const event: FarmEvent = { id: row.id, node: row.node, source: row.source, type: row.type, severity: row.severity, time: row.time, body: JSON.parse(row.body) as Record<string, unknown> };
      const eventLength = row.body.length + 256;
      if (length + eventLength > jsonLengthMax) {
        truncated = true;
        break;
      }
      length += eventLength;
      events.push(event);
    }
    return { events: events.reverse(), truncated };
  }

  /** Events of `type` with time in (fromMs, toMs], on `nodes` if given. */
  countInWindow(type: string, nodes: readonly string[] | null, fromMs: number, toMs: number): number {
    const row = nodes === null ? this.statements.countWindow.get(type, fromMs, toMs) : this.statements.countWindowOn.get(type, fromMs, toMs, JSON.stringify(nodes));
    return (row as { n: number }).n;
  }

  /** The distinct nodes of those events, at most `max`. */
  nodesInWindow(type: string, nodes: readonly string[] | null, fromMs: number, toMs: number, max: number): string[] {
    const rows = nodes === null ? this.statements.nodesWindow.all(type, fromMs, toMs, max) : this.statements.nodesWindowOn.all(type, fromMs, toMs, JSON.stringify(nodes), max);
    return (rows as Array<{ node: string }>).map((row) => row.node);
  }

  /** When the correlation rule `rule` last raised (the time of the event that triggered it), or null. */
  raisedAt(rule: string): number | null {
    return (this.statements.raisedAt.get(rule) as { at: number } | undefined)?.at ?? null;
  }

  /** Records a raise; call inside insert's `also`, so the raised event and this are kept together. */
  setRaisedAt(rule: string, atMs: number): void {
    this.statements.setRaisedAt.run(rule, atMs);
  }
}
