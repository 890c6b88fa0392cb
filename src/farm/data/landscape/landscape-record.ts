/**
 * A landscape definition as replicated farm-wide. The caller carries records between
 * nodes (exportDefinitions, importDefinition); every node keeps, per name, the record
 * that is greatest in one total order, so all nodes that have seen the same records
 * hold the same definitions whatever the order of arrival (last writer wins):
 *
 *   1. updatedAtMs, the writer's clock when it wrote, pushed past the stamp of the record
 *      it replaced (nextStamp), so a write always beats what its writer had seen even if
 *      its clock is behind;
 *   2. origin, the writer's node id, so two writes in the same millisecond on two nodes
 *      still have one winner;
 *   3. a deletion before a definition, then the statement and the mode, so even two
 *      records equal in 1 and 2 (which an honest writer never produces) cannot leave
 *      nodes disagreeing.
 *
 * A deletion is a record too (deleted: true, empty statement), kept as a tombstone so a
 * late copy of the older definition cannot bring the landscape back.
 */
import { checkMode, formatMode, type LandscapeMode, type PeriodBounds } from './landscape-mode.js';
import { LandscapeError } from './landscape-error.js';
import { isNodeId } from './node-id.js';

/** What a user defines. */
export interface LandscapeDefinition {
  /** [A-Za-z0-9][A-Za-z0-9_.-]{0,63}: usable unquoted in the CLI and in API paths. */
  readonly name: string;
  readonly sql: string;
  readonly mode: LandscapeMode;
}

export interface LandscapeRecord extends LandscapeDefinition {
  /** The writer's clock (ms since the epoch) when it wrote, at least one past the stamp it replaced. */
  readonly updatedAtMs: number;
  /** The writer's node id. */
  readonly origin: string;
  /** A tombstone: the landscape was deleted; sql is empty. */
  readonly deleted: boolean;
}

export const kLandscapeNamePattern = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export type RecordBounds = PeriodBounds & { readonly statementLengthMax: number };

export function checkName(name: unknown): string {
  if (typeof name !== 'string' || !kLandscapeNamePattern.test(name)) {
    throw new LandscapeError('GALAXY_LANDSCAPE_BAD_NAME', `a landscape name is 1 to 64 characters of [A-Za-z0-9_.-] starting with a letter or digit, got ${JSON.stringify(name)}`);
  }
  return name;
}

/** Checks a record from a peer (GALAXY_LANDSCAPE_BAD_RECORD) and returns a frozen copy without extra fields. */
export function checkRecord(record: unknown, bounds: RecordBounds): LandscapeRecord {
  if (typeof record !== 'object' || record === null) badRecord('a landscape record must be an object');
  const { name, sql, mode, updatedAtMs, origin, deleted } = record as Record<string, unknown>;
  if (typeof deleted !== 'boolean') badRecord('record.deleted must be a boolean');
  if (typeof updatedAtMs !== 'number' || !Number.isSafeInteger(updatedAtMs) || updatedAtMs < 0) badRecord(`record.updatedAtMs must be a non-negative integer, got ${String(updatedAtMs)}`);
  if (!isNodeId(origin)) badRecord(`record.origin must be a node id (16 lower-case hex digits), got ${JSON.stringify(origin)}`);
  if (typeof sql !== 'string' || sql.length > bounds.statementLengthMax) badRecord(`record.sql must be a string of at most ${bounds.statementLengthMax} characters`);
  if (deleted && sql !== '') badRecord('a deletion record carries no statement');
  try {
    return Object.freeze({ name: checkName(name), sql, mode: checkMode(mode, bounds), updatedAtMs, origin, deleted });
  } catch (error) {
    if (error instanceof LandscapeError) badRecord(`landscape record: ${error.message}`);
    throw error;
  }
}

/** The order of the comment above: positive when `a` wins over `b`, 0 only for identical records. */
export function compareRecords(a: LandscapeRecord, b: LandscapeRecord): number {
  if (a.updatedAtMs !== b.updatedAtMs) return a.updatedAtMs - b.updatedAtMs;
  if (a.origin !== b.origin) return a.origin < b.origin ? -1 : 1;
  if (a.deleted !== b.deleted) return a.deleted ? 1 : -1;
  if (a.sql !== b.sql) return a.sql < b.sql ? -1 : 1;
  const modeA = formatMode(a.mode);
  const modeB = formatMode(b.mode);
  return modeA === modeB ? 0 : modeA < modeB ? -1 : 1;
}

/** The stamp of a write at `nowMs` that replaces `previous`: never behind it, whatever this node's clock says. */
export function nextStamp(previous: LandscapeRecord | undefined, nowMs: number): number {
  const floor = previous === undefined ? 0 : previous.updatedAtMs + 1;
  return Math.max(Math.floor(nowMs), floor);
}

function badRecord(message: string): never {
  throw new LandscapeError('GALAXY_LANDSCAPE_BAD_RECORD', message);
}
