import { mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { kJobIdPattern } from '../job-id.js';
import { writeFileAtomic } from '../../../node/util/atomic-file.js';
import { ScriptsError } from './scripts-error.js';
import { kLogsKeptMax, kScriptRecordJsonCharsMax } from './scripts-limits.js';
import type { ScriptView } from './script-view.js';

/**
 * Script run logs as a management node keeps them: one JSON file per run under the
 * scripts component's state directory (`script-logs/<run id>.json`), written atomically
 * each time the run's coordinator sends a newer record (after each phase and at the end),
 * at most kLogsKeptMax files, the least recently written deleted first. A record is
 * bounded by kScriptRecordJsonCharsMax (fitView), so the directory holds at most about
 * kLogsKeptMax x 768 KiB.
 */
export interface StoredLog {
  readonly id: string;
  /** The node that coordinated the run and sent the record. */
  readonly from: string;
  readonly storedAt: string;
  readonly record: ScriptView;
}

export interface StoredLogEntry {
  readonly id: string;
  readonly storedAt: string;
  readonly bytes: number;
}

export class ScriptLogStore {
  private readonly directory: string;

  constructor(stateDir: string, private readonly keptMax = kLogsKeptMax) {
    this.directory = join(stateDir, 'script-logs');
    mkdirSync(this.directory, { recursive: true, mode: 0o700 });
  }

  /** Stores (or replaces) a run's record. */
  store(from: string, record: ScriptView, now: Date): void {
    checkId(record.id);
    const text = JSON.stringify({ id: record.id, from, storedAt: now.toISOString(), record } satisfies StoredLog);
    // One over the record bound for the envelope; the sender fits the record itself.
    if (text.length > kScriptRecordJsonCharsMax + 4096) throw new ScriptsError('GALAXY_SCRIPTS_INVALID', `a log record of ${text.length} JSON characters exceeds ${kScriptRecordJsonCharsMax}`);
    writeFileAtomic(join(this.directory, `${record.id}.json`), text);
    this.prune();
  }

  /** The stored logs, most recent first. */
  list(): StoredLogEntry[] {
    return this.entries()
      .sort((a, b) => b.mtimeMs - a.mtimeMs)
      .map((e) => ({ id: e.id, storedAt: new Date(e.mtimeMs).toISOString(), bytes: e.bytes }));
  }

  /** One stored log; GALAXY_SCRIPTS_UNKNOWN_LOG when absent. */
  read(id: string): StoredLog {
    checkId(id);
    try {
      return JSON.parse(readFileSync(join(this.directory, `${id}.json`), 'utf8')) as StoredLog;
    } catch {
      throw new ScriptsError('GALAXY_SCRIPTS_UNKNOWN_LOG', `no stored log of run ${id} on this node`);
    }
  }

  private entries(): Array<{ id: string; mtimeMs: number; bytes: number }> {
    const out: Array<{ id: string; mtimeMs: number; bytes: number }> = [];
    for (const name of readdirSync(this.directory)) {
      if (!name.endsWith('.json')) continue;
      const id = name.slice(0, -'.json'.length);
      if (!kJobIdPattern.test(id)) continue;
      try {
        const stat = statSync(join(this.directory, name));
        out.push({ id, mtimeMs: stat.mtimeMs, bytes: stat.size });
      } catch {
        // Deleted meanwhile.
      }
    }
    return out;
  }

  private prune(): void {
    const entries = this.entries();
    if (entries.length <= this.keptMax) return;
    entries.sort((a, b) => a.mtimeMs - b.mtimeMs);
    for (const entry of entries.slice(0, entries.length - this.keptMax)) rmSync(join(this.directory, `${entry.id}.json`), { force: true });
  }
}

/** Run ids name files: only the id pattern passes (no separators, no dots). */
function checkId(id: string): void {
  if (typeof id !== 'string' || !kJobIdPattern.test(id)) throw new ScriptsError('GALAXY_SCRIPTS_INVALID', `"${String(id).slice(0, 64)}" is not a script run id`);
}
