import type Database from 'better-sqlite3';
import type { LogPosition } from './log-follower.js';

/**
 * Where each followed log file was read to, kept in the outbox's database and written in
 * the same transaction as the events its lines raised: after a restart a line is read
 * again only if its event was not kept, and never both lost and kept.
 */
export const kLogPositionsSchema = `
  CREATE TABLE IF NOT EXISTS log_positions (path TEXT PRIMARY KEY NOT NULL, ino TEXT NOT NULL, offset INTEGER NOT NULL) WITHOUT ROWID;
`;

export class LogPositions {
  private readonly statements;

  constructor(db: Database.Database) {
    this.statements = {
      get: db.prepare<[string]>('SELECT ino, offset FROM log_positions WHERE path = ?'),
      set: db.prepare<[string, string, number]>('INSERT INTO log_positions (path, ino, offset) VALUES (?, ?, ?) ON CONFLICT (path) DO UPDATE SET ino = excluded.ino, offset = excluded.offset'),
      forgetOthers: db.prepare<[string]>('DELETE FROM log_positions WHERE path NOT IN (SELECT value FROM json_each(?))'),
    };
  }

  get(path: string): LogPosition | null {
    const row = this.statements.get.get(path) as { ino: string; offset: number } | undefined;
    return row === undefined ? null : { ino: row.ino, offset: row.offset };
  }

  set(path: string, position: LogPosition): void {
    this.statements.set.run(path, position.ino, position.offset);
  }

  /** Forgets the files no longer followed, so a file followed again later starts at its end. */
  keepOnly(paths: readonly string[]): void {
    this.statements.forgetOthers.run(JSON.stringify(paths));
  }
}
