/**
 * Configuration of the landscape engine. Every field has a bound and a reason; callers
 * pass `LandscapeOptions` (all optional) and get back the filled, validated, frozen
 * `LandscapeConfig`.
 */
import { isValidKey } from './column-assignment.js';
import { LandscapeError } from './landscape-error.js';

export interface LandscapeConfig {
  /**
   * Columns of the `nodes` table besides `node`. Each key seen gets a column until this
   * many exist; later keys live only in the `attributes` table. SQLite allows 2,000
   * columns per table, and every column widens each row that an update rewrites, so the
   * bound keeps a load update cheap.
   */
  columnsMax: number;
  /** Nodes the mirror holds at most: the farm's size bound (membership tables hold up to 2^20). */
  nodesMax: number;
  /**
   * Changes one applyChanges call accepts. A batch is one SQLite transaction held in
   * memory until it commits; bigger batches must be split by the caller.
   */
  batchChangesMax: number;
  /** Characters of one string value; longer values are refused as a bug upstream (the FMIDB bounds its values). */
  valueLengthMax: number;
  /** Live (not deleted) landscapes at most. Every tick may evaluate each of them. */
  landscapesMax: number;
  /**
   * Definition records kept, live and deleted together. Deleted ones stay as tombstones
   * so an older definition arriving late cannot bring a landscape back; when the store
   * is full the oldest tombstone goes first.
   */
  definitionRecordsMax: number;
  /** Bytes (UTF-16 code units) of one statement. */
  statementLengthMax: number;
  /**
   * Rows one evaluation reads at most; beyond it the evaluation fails with
   * GALAXY_LANDSCAPE_RESULT_TOO_LARGE. A landscape has at most nodesMax members, so
   * more rows only come from joins that repeat nodes.
   */
  evaluationRowsMax: number;
  /**
   * Time one evaluation may take, ms. better-sqlite3 is built with
   * SQLITE_OMIT_PROGRESS_CALLBACK and has no interrupt, so the engine can only check
   * between result rows: a statement that works a long time before its first row is not
   * stopped. That is why recursive statements are refused and why a definition whose
   * first evaluation exceeds this bound is refused too.
   */
  evaluationMsMax: number;
  /**
   * A landscape whose statement fails to compile or to evaluate here is retried after
   * this long, ms (or sooner, when new columns appear). Bounds the cost of a statement
   * that fails on every change.
   */
  failureRetryMs: number;
  /** Shortest `--every` period, ms: below it a landscape would be re-evaluated on nearly every tick. */
  periodMsMin: number;
  /** Longest `--every` period, ms (one day). */
  periodMsMax: number;
  /**
   * Keys whose columns get an index when they appear, for statements that select on them
   * (`rack = 'r12'`). An index costs on every write of its column, so it suits static
   * attributes (rack, role), not loads. At most indexedKeysMax of them.
   */
  indexedKeys: readonly string[];
}

export type LandscapeOptions = Partial<LandscapeConfig>;

/** Indexed keys at most: each index is written on every change of its column. */
export const kIndexedKeysMax = 32;

export const kLandscapeDefaults: LandscapeConfig = Object.freeze({
  columnsMax: 512,
  nodesMax: 1 << 20,
  batchChangesMax: 1_000_000,
  valueLengthMax: 4096,
  landscapesMax: 1024,
  definitionRecordsMax: 4096,
  statementLengthMax: 4096,
  evaluationRowsMax: 1_000_000,
  evaluationMsMax: 1000,
  failureRetryMs: 30_000,
  periodMsMin: 1000,
  periodMsMax: 86_400_000,
  indexedKeys: Object.freeze([]) as readonly string[],
});

const kIntegerFields = [
  'columnsMax', 'nodesMax', 'batchChangesMax', 'valueLengthMax', 'landscapesMax', 'definitionRecordsMax',
  'statementLengthMax', 'evaluationRowsMax', 'evaluationMsMax', 'failureRetryMs', 'periodMsMin', 'periodMsMax',
] as const;

/** SQLite's own limit on columns per table (SQLITE_MAX_COLUMN), less the `node` column. */
const kSqliteColumnsMax = 1999;

export function resolveLandscapeConfig(options: LandscapeOptions = {}): LandscapeConfig {
  const config: LandscapeConfig = { ...kLandscapeDefaults, ...options };
  for (const key of kIntegerFields) {
    const value = config[key];
    if (!Number.isSafeInteger(value) || value <= 0) bad(`options.${key} must be a positive integer, got ${String(value)}`);
  }
  if (config.columnsMax > kSqliteColumnsMax) bad(`options.columnsMax must be at most ${kSqliteColumnsMax} (SQLite's column limit), got ${config.columnsMax}`);
  if (config.periodMsMin > config.periodMsMax) bad(`options.periodMsMin (${config.periodMsMin}) must not exceed options.periodMsMax (${config.periodMsMax})`);
  if (config.definitionRecordsMax < config.landscapesMax) bad(`options.definitionRecordsMax (${config.definitionRecordsMax}) must be at least options.landscapesMax (${config.landscapesMax})`);
  if (!Array.isArray(config.indexedKeys) || config.indexedKeys.length > kIndexedKeysMax) bad(`options.indexedKeys must be an array of at most ${kIndexedKeysMax} keys`);
  const badKey = config.indexedKeys.find((key) => !isValidKey(key));
  if (badKey !== undefined) bad(`options.indexedKeys holds ${JSON.stringify(badKey)}, which is not a key ([A-Za-z0-9_.-]{1,64})`);
  return Object.freeze({ ...config, indexedKeys: Object.freeze([...config.indexedKeys]) });
}

function bad(message: string): never {
  throw new LandscapeError('GALAXY_LANDSCAPE_BAD_OPTIONS', message);
}
