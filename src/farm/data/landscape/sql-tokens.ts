/**
 * A lexer for SQLite's SQL, just precise enough for the landscape checks that SQLite
 * does not make for us: where the first statement ends, what the first keyword is,
 * whether there are bound parameters, and which identifiers a statement names (see
 * statement-reads.ts). It never decides whether a statement is valid: SQLite does that
 * when it prepares it, and its message is what the user sees. Unterminated strings and
 * comments run to the end of the text here; SQLite then refuses them.
 *
 * Follows the tokenizer of SQLite (src/tokenize.c): '' inside strings, "" and `` inside
 * quoted identifiers, [brackets], x'blob' literals, -- and /* comments, and the
 * parameter forms ?, ?NNN, :name, @name and $name.
 */
export type SqlTokenKind =
  /** A keyword or a bare identifier, as written. */
  | 'word'
  /** A quoted identifier ("x", `x` or [x]); text is the name without quotes. */
  | 'quoted'
  /** A string literal; text is its value without quotes. */
  | 'string'
  | 'blob'
  | 'number'
  | 'parameter'
  | 'semicolon'
  /** Any other character: operators and punctuation, one character each. */
  | 'symbol';

export interface SqlToken {
  readonly kind: SqlTokenKind;
  readonly text: string;
  /** Offset of the token's first character in the statement. */
  readonly start: number;
}

export function tokenizeSql(sql: string): SqlToken[] {
  const tokens: SqlToken[] = [];
  let at = 0;
  while (at < sql.length) {
    const end = skipSpaceAndComments(sql, at);
    if (end !== at) {
      at = end;
      continue;
    }
    const token = readToken(sql, at);
    tokens.push(token.token);
    at = token.end;
  }
  return tokens;
}

function skipSpaceAndComments(sql: string, at: number): number {
  const c = sql[at]!;
  if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '\v') return at + 1;
  if (c === '-' && sql[at + 1] === '-') {
    const newline = sql.indexOf('\n', at + 2);
    return newline < 0 ? sql.length : newline + 1;
  }
  if (c === '/' && sql[at + 1] === '*') {
    const close = sql.indexOf('*/', at + 2);
    return close < 0 ? sql.length : close + 2;
  }
  return at;
}

function readToken(sql: string, at: number): { token: SqlToken; end: number } {
  const c = sql[at]!;
  if (c === "'") return quotedRun(sql, at, "'", 'string');
  if (c === '"' || c === '`') return quotedRun(sql, at, c, 'quoted');
  if (c === '[') {
    const close = sql.indexOf(']', at + 1);
    const end = close < 0 ? sql.length : close + 1;
    return { token: { kind: 'quoted', text: sql.slice(at + 1, close < 0 ? end : close), start: at }, end };
  }
  if ((c === 'x' || c === 'X') && sql[at + 1] === "'") {
    const run = quotedRun(sql, at + 1, "'", 'blob');
    return { token: { kind: 'blob', text: run.token.text, start: at }, end: run.end };
  }
  if (c === ';') return { token: { kind: 'semicolon', text: ';', start: at }, end: at + 1 };
  if (isDigit(c) || (c === '.' && isDigit(sql[at + 1]))) return run(sql, at, 'number', isNumberPart);
  if (c === '?') return run(sql, at, 'parameter', (ch) => isDigit(ch));
  if ((c === ':' || c === '@' || c === '$') && isWordPart(sql[at + 1])) return run(sql, at, 'parameter', isWordPart);
  if (isWordStart(c)) return run(sql, at, 'word', isWordPart);
  return { token: { kind: 'symbol', text: c, start: at }, end: at + 1 };
}

/** A token opened by `quote` and closed by it, where a doubled quote stands for one. */
function quotedRun(sql: string, at: number, quote: string, kind: SqlTokenKind): { token: SqlToken; end: number } {
  let text = '';
  let from = at + 1;
  for (;;) {
    const close = sql.indexOf(quote, from);
    if (close < 0) return { token: { kind, text: text + sql.slice(from), start: at }, end: sql.length };
    text += sql.slice(from, close);
    if (sql[close + 1] !== quote) return { token: { kind, text, start: at }, end: close + 1 };
    text += quote;
    from = close + 2;
  }
}

/** The first character, then every following one that `part` accepts. */
function run(sql: string, at: number, kind: SqlTokenKind, part: (c: string | undefined, previous: string) => boolean): { token: SqlToken; end: number } {
  let end = at + 1;
  while (end < sql.length && part(sql[end], sql[end - 1]!)) end++;
  return { token: { kind, text: sql.slice(at, end), start: at }, end };
}

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= '0' && c <= '9';
}

function isWordStart(c: string): boolean {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c === '_' || c.charCodeAt(0) >= 0x80;
}

function isWordPart(c: string | undefined): boolean {
  return c !== undefined && (isWordStart(c) || isDigit(c) || c === '$');
}

/** Digits, a point, hex digits and x of 0x..., an exponent and its sign. */
function isNumberPart(c: string | undefined, previous: string): boolean {
  if (c === undefined) return false;
  if ((c === '+' || c === '-') && (previous === 'e' || previous === 'E')) return true;
  return isDigit(c) || c === '.' || c === '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
