import { createRequire } from 'node:module';
import type Database from 'better-sqlite3';

/**
 * Opens one of the event service's SQLite files with the settings both use: WAL, so a
 * reader (a query) never blocks the writer (a delivery); synchronous=FULL, so a batch
 * acknowledged to its sender is on disk even if the machine loses power right after
 * (the acknowledgement is what lets the sender forget it); and the schema created if
 * absent. Each batch is one transaction, so the fsync is paid per batch, not per event.
 */
export function openEventsDatabase(path: string, schema: string): Database.Database {
  // Loaded at the first open, not at import: the agent imports the events component's
  // definition whether or not it runs it (issue 14: an agent's RSS).
  const Sqlite = createRequire(import.meta.url)('better-sqlite3') as typeof Database;
  const db = new Sqlite(path);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('busy_timeout = 5000');
    db.exec(schema);
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
}
