import type Database from 'better-sqlite3';
import type { FarmEvent } from './farm-event.js';

/**
 * The events of this node not yet acknowledged by every management node, in SQLite (in
 * the component's state directory), so nothing is lost when this node, its component
 * or a management node restarts.
 *
 * Events are kept once, in order (seq); each management node has a cursor: the last
 * seq it acknowledged. A batch for a node is what follows its cursor; an acknowledgement
 * moves the cursor; events every cursor has passed are deleted. A management node that
 * appears starts at the oldest event still kept; one the farm no longer lists loses its
 * cursor (and stops holding events back). With no management node at all, events stay.
 *
 * Bounded: beyond eventsMax the oldest events are deleted and counted (`dropped`, kept
 * across restarts), whoever has not received them. A node cut off from management for
 * long loses its oldest events rather than its disk.
 */
export const kOutboxSchema = `
  CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, json TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS outbox_cursors (node TEXT PRIMARY KEY NOT NULL, acked INTEGER NOT NULL) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS outbox_meta (key TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL) WITHOUT ROWID;
`;

export interface OutboxBatch {
  readonly events: FarmEvent[];
  /** The seq of the last event in the batch: what an acknowledgement moves the cursor to. */
  readonly lastSeq: number;
}

export class EventOutbox {
  private count: number;
  private droppedTotal: number;
  private readonly statements;

  constructor(
    private readonly db: Database.Database,
    private eventsMax: number,
  ) {
    this.statements = {
      insert: db.prepare<[string, string]>('INSERT OR IGNORE INTO outbox (id, json) VALUES (?, ?)'),
      count: db.prepare('SELECT COUNT(*) AS n FROM outbox'),
      dropOldest: db.prepare<[number]>('DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox ORDER BY seq LIMIT ?)'),
      after: db.prepare<[number, number]>('SELECT seq, json FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?'),
      cursors: db.prepare('SELECT node, acked FROM outbox_cursors'),
      addCursor: db.prepare<[string]>('INSERT OR IGNORE INTO outbox_cursors (node, acked) VALUES (?, 0)'),
      removeCursor: db.prepare<[string]>('DELETE FROM outbox_cursors WHERE node = ?'),
      cursor: db.prepare<[string]>('SELECT acked FROM outbox_cursors WHERE node = ?'),
      ack: db.prepare<[number, string, number]>('UPDATE outbox_cursors SET acked = ? WHERE node = ? AND acked < ?'),
      pruneAcked: db.prepare<[]>('DELETE FROM outbox WHERE seq <= (SELECT MIN(acked) FROM outbox_cursors)'),
      pendingFor: db.prepare<[number]>('SELECT COUNT(*) AS n FROM outbox WHERE seq > ?'),
      meta: db.prepare<[string]>('SELECT value FROM outbox_meta WHERE key = ?'),
      setMeta: db.prepare<[string, number]>('INSERT INTO outbox_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
    };
    this.count = (this.statements.count.get() as { n: number }).n;
    this.droppedTotal = (this.statements.meta.get('dropped') as { value: number } | undefined)?.value ?? 0;
  }

  /** Events waiting in total. */
  get size(): number {
    return this.count;
  }

  /** Events dropped because the outbox was full, ever. */
  get dropped(): number {
    return this.droppedTotal;
  }

  /** Changes the bound; takes effect at the next add. */
  setEventsMax(eventsMax: number): void {
    this.eventsMax = eventsMax;
  }

  /** Keeps events for delivery (an id kept already is ignored); returns how many old ones were dropped to make room. */
  add(events: readonly FarmEvent[]): number {
    return this.db.transaction(() => {
      for (const event of events) this.count += this.statements.insert.run(event.id, JSON.stringify(event)).changes;
      const excess = this.count - this.eventsMax;
      if (excess <= 0) return 0;
      const dropped = this.statements.dropOldest.run(excess).changes;
      this.count -= dropped;
      this.droppedTotal += dropped;
      this.statements.setMeta.run('dropped', this.droppedTotal);
      return dropped;
    })();
  }

  /** Makes `nodes` the management nodes events go to: new ones start at the oldest event kept, others are forgotten. */
  setDestinations(nodes: readonly string[]): void {
    const wanted = new Set(nodes);
    this.db.transaction(() => {
      for (const { node } of this.statements.cursors.all() as Array<{ node: string }>) if (!wanted.has(node)) this.statements.removeCursor.run(node);
      for (const node of wanted) this.statements.addCursor.run(node);
      this.prune();
    })();
  }

  destinations(): string[] {
    return (this.statements.cursors.all() as Array<{ node: string }>).map((row) => row.node);
  }

  /**
   * The next batch for `node`: at most eventsMax events and jsonLengthMax characters of
   * their JSON (at least one event, whatever its size), or null when it has them all.
   */
  batch(node: string, eventsMax: number, jsonLengthMax: number): OutboxBatch | null {
    const acked = this.cursorOf(node);
    if (acked === null) return null;
    const rows = this.statements.after.all(acked, eventsMax) as Array<{ seq: number; json: string }>;
    const events: FarmEvent[] = [];
    let length = 0;
    let lastSeq = acked;
    for (const row of rows) {
      if (events.length > 0 && length + row.json.length + 1 > jsonLengthMax) break;
      events.push(JSON.parse(row.json) as FarmEvent);
      length += row.json.length + 1;
      lastSeq = row.seq;
    }
    return events.length === 0 ? null : { events, lastSeq };
  }

  /** `node` has every event up to `lastSeq`: move its cursor and delete what every node has. */
  ack(node: string, lastSeq: number): void {
    this.db.transaction(() => {
      this.statements.ack.run(lastSeq, node, lastSeq);
      this.prune();
    })();
  }

  /** Events `node` has not acknowledged yet (0 for a node that is not a destination). */
  pendingFor(node: string): number {
    const acked = this.cursorOf(node);
    return acked === null ? 0 : (this.statements.pendingFor.get(acked) as { n: number }).n;
  }

  private cursorOf(node: string): number | null {
    return (this.statements.cursor.get(node) as { acked: number } | undefined)?.acked ?? null;
  }

  private prune(): void {
    this.count -= this.statements.pruneAcked.run().changes;
  }
}
