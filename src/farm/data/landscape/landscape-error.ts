/**
 * Stable codes for what the landscape engine refuses or could not do. A refused
 * statement, an unknown landscape and a failed evaluation all come back as a
 * LandscapeError, so the CLI and the API can map them without parsing messages. Logs,
 * metrics and API answers carry these strings: ONLY APPEND, never rename.
 */
export const kLandscapeErrorCodes = Object.freeze([
  /** Engine options out of range. */
  'GALAXY_LANDSCAPE_BAD_OPTIONS',
  /** A landscape name is empty, too long or has characters outside [A-Za-z0-9_.-]. */
  'GALAXY_LANDSCAPE_BAD_NAME',
  /** A mode is neither on-change nor every, or its period is out of range or unparsable. */
  'GALAXY_LANDSCAPE_BAD_MODE',
  /** The statement is longer than statementBytesMax. */
  'GALAXY_LANDSCAPE_SQL_TOO_LONG',
  /** The statement is empty, or only comments. */
  'GALAXY_LANDSCAPE_SQL_EMPTY',
  /** More than one statement, or anything but comments after the first one. */
  'GALAXY_LANDSCAPE_SQL_SEVERAL_STATEMENTS',
  /** SQLite could not compile the statement (syntax error, unknown column or table); its message is kept. */
  'GALAXY_LANDSCAPE_SQL_INVALID',
  /** The statement is not a SELECT (INSERT, UPDATE, DELETE, DROP, ATTACH, PRAGMA, EXPLAIN, ...). */
  'GALAXY_LANDSCAPE_SQL_NOT_SELECT',
  /** The statement would write (sqlite3_stmt_readonly is false). */
  'GALAXY_LANDSCAPE_SQL_WRITES',
  /** The statement has bound parameters (?, :name, @name, $name): nothing would bind them. */
  'GALAXY_LANDSCAPE_SQL_PARAMETERS',
  /** The statement is recursive (a recursive common table expression): it could run forever. */
  'GALAXY_LANDSCAPE_SQL_RECURSIVE',
  /** The statement returns more or fewer than one column. */
  'GALAXY_LANDSCAPE_SQL_COLUMNS',
  /** The one result column is not the `node` column of `nodes` or `attributes`. */
  'GALAXY_LANDSCAPE_SQL_NOT_NODES',
  /** An evaluation returned a value that is not the id of a node in the mirror. */
  'GALAXY_LANDSCAPE_RESULT_NOT_NODE',
  /** An evaluation returned more than evaluationRowsMax rows. */
  'GALAXY_LANDSCAPE_RESULT_TOO_LARGE',
  /** An evaluation ran longer than evaluationMsMax (checked between rows). */
  'GALAXY_LANDSCAPE_TOO_SLOW',
  /** SQLite failed while running the statement (for example malformed JSON in json_extract). */
  'GALAXY_LANDSCAPE_EVALUATION_FAILED',
  /** No landscape of that name is defined. */
  'GALAXY_LANDSCAPE_UNKNOWN',
  /** The landscape is defined but its statement does not compile or its last evaluation failed here. */
  'GALAXY_LANDSCAPE_UNAVAILABLE',
  /** landscapesMax landscapes are defined already. */
  'GALAXY_LANDSCAPE_TOO_MANY',
  /** A change from the FMIDB has a bad subject, key or value, or a batch is too large (a bug upstream). */
  'GALAXY_LANDSCAPE_BAD_CHANGE',
  /** The mirror holds nodesMax nodes already. */
  'GALAXY_LANDSCAPE_TOO_MANY_NODES',
  /** A replicated definition record is malformed. */
  'GALAXY_LANDSCAPE_BAD_RECORD',
  /** The engine was closed. */
  'GALAXY_LANDSCAPE_CLOSED',
] as const);

export type LandscapeErrorCode = (typeof kLandscapeErrorCodes)[number];

export class LandscapeError extends Error {
  readonly code: LandscapeErrorCode;

  constructor(code: LandscapeErrorCode, message: string) {
    super(message);
    this.name = 'LandscapeError';
    this.code = code;
  }
}
