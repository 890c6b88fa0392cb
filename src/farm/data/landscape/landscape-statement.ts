/**
 * Checking and compiling a landscape statement. A statement must be one read-only
 * SELECT returning one column of node ids; each way of failing that has its own code
 * and a message that says what was found:
 *
 *   GALAXY_LANDSCAPE_SQL_TOO_LONG           longer than statementLengthMax
 *   GALAXY_LANDSCAPE_SQL_EMPTY              nothing but space and comments
 *   GALAXY_LANDSCAPE_SQL_SEVERAL_STATEMENTS anything after the first ';' but comments and ';'
 *   GALAXY_LANDSCAPE_SQL_NOT_SELECT         does not start with SELECT or WITH, or returns no rows
 *   GALAXY_LANDSCAPE_SQL_PARAMETERS         has ?, :name, @name or $name
 *   GALAXY_LANDSCAPE_SQL_INVALID            SQLite refused it (its message is kept)
 *   GALAXY_LANDSCAPE_SQL_WRITES             SQLite says it writes (WITH ... DELETE)
 *   GALAXY_LANDSCAPE_SQL_COLUMNS            not exactly one result column
 *   GALAXY_LANDSCAPE_SQL_NOT_NODES          the result column is not nodes.node or attributes.node
 *   GALAXY_LANDSCAPE_SQL_RECURSIVE          uses a recursive common table expression
 *
 * The first keyword is checked because SQLite calls ATTACH, BEGIN and many PRAGMAs
 * read-only. The result column is checked through SQLite's column metadata: it must
 * come from the `node` column of `nodes` or `attributes`, directly or through
 * subqueries and views of them. A compound SELECT (UNION) is judged by its first part,
 * so evaluation checks every value again (landscape-evaluation.ts). Recursion is
 * refused because nothing could stop it: better-sqlite3 has no progress handler and no
 * interrupt. SQLite reports it in the query plan as a RECURSIVE STEP.
 */
import type Database from 'better-sqlite3';
import { LandscapeError, type LandscapeErrorCode } from './landscape-error.js';
import { tokenizeSql, type SqlToken } from './sql-tokens.js';
import { statementReads, type StatementReads } from './statement-reads.js';

export interface CompiledStatement {
  readonly sql: string;
  /** Prepared on the mirror's connection, in pluck mode (rows come back as their one value). */
  readonly statement: Database.Statement;
  readonly reads: StatementReads;
}

/** Characters of the statement quoted back in a message about it. */
const kExcerptLengthMax = 40;

export function compileStatement(database: Database.Database, sql: unknown, statementLengthMax: number): CompiledStatement {
  const { statement, tokens } = compileSelect(database, sql, statementLengthMax, kLandscapeStatement);
  checkResultColumn(statement);
  checkNotRecursive(database, sql as string, kLandscapeStatement);
  return { sql: sql as string, statement: statement.pluck(true), reads: statementReads(tokens) };
}

/**
 * `galaxy db query`: the same checks as a landscape statement (one read-only SELECT,
 * no parameters, no recursion) but any result columns. Returned in raw mode (rows as
 * arrays); the caller bounds the rows it reads.
 */
export function compileQuery(database: Database.Database, sql: unknown, statementLengthMax: number): Database.Statement {
  const { statement } = compileSelect(database, sql, statementLengthMax, kQuery);
  checkNotRecursive(database, sql as string, kQuery);
  return statement.raw(true);
}

/** How messages name what is checked: a landscape statement, or a `galaxy db query`. */
interface StatementKind {
  readonly what: string;
  readonly select: string;
}
const kLandscapeStatement: StatementKind = { what: 'the landscape statement', select: 'a SELECT returning node ids' };
const kQuery: StatementKind = { what: 'the query', select: 'a SELECT' };

function compileSelect(database: Database.Database, sql: unknown, statementLengthMax: number, kind: StatementKind): { statement: Database.Statement; tokens: SqlToken[] } {
  const { what } = kind;
  if (typeof sql !== 'string') refuse('GALAXY_LANDSCAPE_SQL_EMPTY', `${what} must be a string`);
  if (sql.length > statementLengthMax) refuse('GALAXY_LANDSCAPE_SQL_TOO_LONG', `${what} is ${sql.length} characters; the limit is ${statementLengthMax}`);
  const tokens = tokenizeSql(sql);
  checkShape(sql, tokens, what);
  const statement = prepare(database, sql, what);
  if (!statement.readonly) refuse('GALAXY_LANDSCAPE_SQL_WRITES', `${what} would write to the database; only a read-only SELECT is allowed`);
  if (!statement.reader) refuse('GALAXY_LANDSCAPE_SQL_NOT_SELECT', `${what} returns no rows; it must be ${kind.select}`);
  return { statement, tokens };
}

/** The checks made on tokens, before SQLite sees the statement. */
function checkShape(sql: string, tokens: readonly SqlToken[], what: string): void {
  const first = tokens.find((token) => token.kind !== 'semicolon');
  if (first === undefined) refuse('GALAXY_LANDSCAPE_SQL_EMPTY', `${what} is empty`);
  const end = tokens.findIndex((token) => token.kind === 'semicolon' && token.start > first.start);
  const extra = end < 0 ? undefined : tokens.slice(end + 1).find((token) => token.kind !== 'semicolon');
  if (extra !== undefined) {
    refuse('GALAXY_LANDSCAPE_SQL_SEVERAL_STATEMENTS', `${what} must be a single statement, but more follows the ';' at character ${tokens[end]!.start + 1}: ${excerpt(sql, extra.start)}`);
  }
  const keyword = first.kind === 'word' ? first.text.toUpperCase() : first.text;
  if (keyword !== 'SELECT' && keyword !== 'WITH') {
    refuse('GALAXY_LANDSCAPE_SQL_NOT_SELECT', `${what} must be a SELECT, but it starts with ${keyword}`);
  }
  const parameter = tokens.find((token) => token.kind === 'parameter');
  if (parameter !== undefined) {
    refuse('GALAXY_LANDSCAPE_SQL_PARAMETERS', `${what} has a parameter (${parameter.text} at character ${parameter.start + 1}) that nothing would bind; write the value into the statement`);
  }
}

function prepare(database: Database.Database, sql: string, what: string): Database.Statement {
  try {
    return database.prepare(sql);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    // better-sqlite3 refuses several statements itself; the token check above should have caught them first.
    if (error instanceof RangeError && /more than one statement/.test(message)) refuse('GALAXY_LANDSCAPE_SQL_SEVERAL_STATEMENTS', `${what} must be a single statement: ${message}`);
    if (error instanceof RangeError && /no statements/.test(message)) refuse('GALAXY_LANDSCAPE_SQL_EMPTY', `${what} is empty`);
    refuse('GALAXY_LANDSCAPE_SQL_INVALID', `SQLite refused ${what}: ${message}`);
  }
}

function checkResultColumn(statement: Database.Statement): void {
  const columns = statement.columns();
  if (columns.length !== 1) {
    const names = columns.map((column) => column.name).join(', ');
    refuse('GALAXY_LANDSCAPE_SQL_COLUMNS', `the landscape statement returns ${columns.length} columns (${names}); it must return exactly one, the node ids`);
  }
  const column = columns[0]!;
  const fromNodeColumn = column.column === 'node' && column.database === 'main' && (column.table === 'nodes' || column.table === 'attributes');
  if (!fromNodeColumn) {
    const origin = column.table === null ? 'an expression' : `${column.table}.${String(column.column)}`;
    refuse('GALAXY_LANDSCAPE_SQL_NOT_NODES', `the landscape statement's result column "${column.name}" is ${origin}; it must be the node column of nodes or attributes (SELECT node FROM nodes WHERE ...)`);
  }
}

function checkNotRecursive(database: Database.Database, sql: string, { what }: StatementKind): void {
  const plan = database.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as Array<{ detail: string }>;
  if (plan.some((step) => step.detail.startsWith('RECURSIVE STEP'))) {
    refuse('GALAXY_LANDSCAPE_SQL_RECURSIVE', `${what} uses a recursive common table expression, which could run without end; it is not allowed`);
  }
}

function excerpt(sql: string, at: number): string {
  const text = sql.slice(at).trim();
  return JSON.stringify(text.length <= kExcerptLengthMax ? text : `${text.slice(0, kExcerptLengthMax - 1)}…`);
}

function refuse(code: LandscapeErrorCode, message: string): never {
  throw new LandscapeError(code, message);
}
