/**
 * Running a compiled landscape statement: the rows become the member set. Every value
 * must be the id of a node in the mirror; anything else (NULL, a number, a string that
 * names no node, which a UNION or a join can produce) fails the whole evaluation with
 * GALAXY_LANDSCAPE_RESULT_NOT_NODE rather than being skipped, because a landscape
 * targets jobs and a statement that yields non-nodes is wrong, not partly right. The
 * same node in several rows counts once.
 *
 * Bounds: at most rowsMax rows (GALAXY_LANDSCAPE_RESULT_TOO_LARGE), and at most
 * durationMsMax, read from the injected clock every kRowsPerClockRead rows
 * (GALAXY_LANDSCAPE_TOO_SLOW). The time bound is checked between rows only: SQLite
 * cannot be interrupted here (see landscape-config.ts, evaluationMsMax).
 */
import type { CompiledStatement } from './landscape-statement.js';
import { LandscapeError } from './landscape-error.js';

export interface EvaluationLimits {
  readonly rowsMax: number;
  readonly durationMsMax: number;
}

/** A monotonic clock in milliseconds (performance.now in production, a counter in tests). */
export type MonotonicClock = () => number;

export interface Evaluation {
  readonly members: ReadonlySet<string>;
  readonly rows: number;
  readonly durationMs: number;
}

/** Rows between two clock reads: a read costs far more than a row of a simple scan. */
export const kRowsPerClockRead = 256;

/** Characters of an offending value quoted back in the message. */
const kValueQuoteLengthMax = 40;

export function evaluateStatement(compiled: CompiledStatement, nodeIds: ReadonlySet<string>, limits: EvaluationLimits, clock: MonotonicClock): Evaluation {
  const startMs = clock();
  const members = new Set<string>();
  let rows = 0;
  try {
    for (const value of compiled.statement.iterate() as IterableIterator<unknown>) {
      rows++;
      if (rows > limits.rowsMax) fail('GALAXY_LANDSCAPE_RESULT_TOO_LARGE', `the landscape statement returned more than ${limits.rowsMax} rows (options.evaluationRowsMax)`);
      if (typeof value !== 'string' || !nodeIds.has(value)) fail('GALAXY_LANDSCAPE_RESULT_NOT_NODE', `row ${rows} of the result is ${describe(value)}, which is not the id of a known node; a landscape statement must return node ids only`);
      members.add(value);
      if (rows % kRowsPerClockRead === 0) checkTime(clock() - startMs, limits.durationMsMax);
    }
  } catch (error) {
    if (error instanceof LandscapeError) throw error;
    fail('GALAXY_LANDSCAPE_EVALUATION_FAILED', `SQLite failed while evaluating the landscape statement: ${error instanceof Error ? error.message : String(error)}`);
  }
  const durationMs = clock() - startMs;
  checkTime(durationMs, limits.durationMsMax);
  return { members, rows, durationMs };
}

function checkTime(elapsedMs: number, durationMsMax: number): void {
  if (elapsedMs > durationMsMax) fail('GALAXY_LANDSCAPE_TOO_SLOW', `the landscape statement ran longer than ${durationMsMax} ms (options.evaluationMsMax)`);
}

function describe(value: unknown): string {
  if (value === null) return 'NULL';
  if (typeof value === 'string') return JSON.stringify(value.length <= kValueQuoteLengthMax ? value : `${value.slice(0, kValueQuoteLengthMax - 1)}…`);
  if (typeof value === 'number' || typeof value === 'bigint') return `the number ${value}`;
  return 'a blob';
}

function fail(code: 'GALAXY_LANDSCAPE_RESULT_NOT_NODE' | 'GALAXY_LANDSCAPE_RESULT_TOO_LARGE' | 'GALAXY_LANDSCAPE_TOO_SLOW' | 'GALAXY_LANDSCAPE_EVALUATION_FAILED', message: string): never {
  throw new LandscapeError(code, message);
}
