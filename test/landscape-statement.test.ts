// Proves that a landscape statement must be one read-only SELECT returning node ids:
// every other kind of statement (writes, DDL, ATTACH, PRAGMA, EXPLAIN, several
// statements, parameters, recursion, two columns, non-node columns and values, syntax
// errors) is refused by define() with its own code and a message that says what was
// wrong, and leaves nothing behind. Also checks the lexer and the column-read analysis
// those checks rest on, and that the mirror connection refuses writes outside a batch.
import { describe, expect, it } from 'vitest';
import { LandscapeEngine } from '../src/farm/data/landscape/landscape-engine.js';
import { LandscapeError, type LandscapeErrorCode } from '../src/farm/data/landscape/landscape-error.js';
import { tokenizeSql } from '../src/farm/data/landscape/sql-tokens.js';
import { readsAnyOf, statementReads } from '../src/farm/data/landscape/statement-reads.js';

const kOrigin = '00000000000000aa';
const id = (i: number): string => i.toString(16).padStart(16, '0');

function engineWithNodes(): LandscapeEngine {
  // Two columns at most, so gpu.model lives in the attributes table.
  const engine = new LandscapeEngine({ origin: kOrigin, options: { columnsMax: 2 } });
  engine.applyChanges([
    { subject: id(1), key: 'rack', value: 'r12' },
    { subject: id(1), key: 'load1', value: 0.5 },
    { subject: id(1), key: 'gpu.model', value: 'a100' },
    { subject: id(2), key: 'rack', value: 'r13' },
    { subject: id(2), key: 'load1', value: 3 },
    { subject: id(2), key: 'gpu.model', value: 'h100' },
  ]);
  return engine;
}

function refusal(engine: LandscapeEngine, sql: string): LandscapeError {
  try {
    engine.define({ name: 'probe', sql, mode: { kind: 'on-change' } }, 1000);
  } catch (error) {
    expect(error).toBeInstanceOf(LandscapeError);
    return error as LandscapeError;
  }
  throw new Error(`statement was accepted: ${sql}`);
}

describe('landscape statements: refusals', () => {
  const cases: Array<[string, LandscapeErrorCode, RegExp]> = [
    ["INSERT INTO nodes (node) VALUES ('0000000000000099')", 'GALAXY_LANDSCAPE_SQL_NOT_SELECT', /must be a SELECT, but it starts with INSERT/],
    ["UPDATE nodes SET rack = 'x'", 'GALAXY_LANDSCAPE_SQL_NOT_SELECT', /starts with UPDATE/],
    ['DELETE FROM nodes', 'GALAXY_LANDSCAPE_SQL_NOT_SELECT', /starts with DELETE/],
    ['DROP TABLE nodes', 'GALAXY_LANDSCAPE_SQL_NOT_SELECT', /starts with DROP/],
    ["ATTACH DATABASE ':memory:' AS other", 'GALAXY_LANDSCAPE_SQL_NOT_SELECT', /starts with ATTACH/],
    ['PRAGMA query_only = OFF', 'GALAXY_LANDSCAPE_SQL_NOT_SELECT', /starts with PRAGMA/],
    ['PRAGMA table_info(nodes)', 'GALAXY_LANDSCAPE_SQL_NOT_SELECT', /starts with PRAGMA/],
    ['EXPLAIN SELECT node FROM nodes', 'GALAXY_LANDSCAPE_SQL_NOT_SELECT', /starts with EXPLAIN/],
    ['BEGIN', 'GALAXY_LANDSCAPE_SQL_NOT_SELECT', /starts with BEGIN/],
    ['WITH doomed AS (SELECT node FROM nodes) DELETE FROM nodes WHERE node IN doomed', 'GALAXY_LANDSCAPE_SQL_WRITES', /would write/],
    ["WITH x AS (SELECT 1) INSERT INTO attributes VALUES ('a', 'b', 1)", 'GALAXY_LANDSCAPE_SQL_WRITES', /would write/],
    ['SELECT node FROM nodes; DELETE FROM nodes', 'GALAXY_LANDSCAPE_SQL_SEVERAL_STATEMENTS', /single statement, but more follows the ';' at character 23: "DELETE FROM nodes"/],
    ['SELECT node FROM nodes; SELECT node FROM nodes', 'GALAXY_LANDSCAPE_SQL_SEVERAL_STATEMENTS', /more follows the ';'/],
    ['SELECT node FROM nodes; garbage', 'GALAXY_LANDSCAPE_SQL_SEVERAL_STATEMENTS', /"garbage"/],
    ['SELECT node, rack FROM nodes', 'GALAXY_LANDSCAPE_SQL_COLUMNS', /returns 2 columns \(node, rack\); it must return exactly one/],
    ['SELECT * FROM nodes', 'GALAXY_LANDSCAPE_SQL_COLUMNS', /returns 3 columns \(node, rack, load1\)/],
    ['SELECT rack FROM nodes', 'GALAXY_LANDSCAPE_SQL_NOT_NODES', /result column "rack" is nodes\.rack; it must be the node column of nodes or attributes/],
    ['SELECT upper(node) FROM nodes', 'GALAXY_LANDSCAPE_SQL_NOT_NODES', /result column "upper\(node\)" is an expression/],
    ["SELECT '0000000000000001'", 'GALAXY_LANDSCAPE_SQL_NOT_NODES', /is an expression/],
    ['SELECT key FROM attributes', 'GALAXY_LANDSCAPE_SQL_NOT_NODES', /attributes\.key/],
    ['SELEC node FROM nodes', 'GALAXY_LANDSCAPE_SQL_NOT_SELECT', /starts with SELEC/],
    ['SELECT node FROM nodes WHERE', 'GALAXY_LANDSCAPE_SQL_INVALID', /SQLite refused the landscape statement: incomplete input/],
    ['SELECT node FROM nodes WHERE rack = = 1', 'GALAXY_LANDSCAPE_SQL_INVALID', /SQLite refused the landscape statement: near "=": syntax error/],
    ['SELECT node FROM nodes WHERE gpus > 1', 'GALAXY_LANDSCAPE_SQL_INVALID', /no such column: gpus/],
    ['SELECT node FROM racks', 'GALAXY_LANDSCAPE_SQL_INVALID', /no such table: racks/],
    ['SELECT node FROM nodes WHERE rack = "r12"', 'GALAXY_LANDSCAPE_SQL_INVALID', /no such column: "r12" - should this be a string literal in single-quotes\?/],
    ["SELECT node FROM nodes WHERE rack = 'r12", 'GALAXY_LANDSCAPE_SQL_INVALID', /unrecognized token/],
    ['SELECT node FROM nodes WHERE rack = ?', 'GALAXY_LANDSCAPE_SQL_PARAMETERS', /parameter \(\? at character 37\) that nothing would bind/],
    ['SELECT node FROM nodes WHERE rack = :rack', 'GALAXY_LANDSCAPE_SQL_PARAMETERS', /\(:rack at character 37\)/],
    ['', 'GALAXY_LANDSCAPE_SQL_EMPTY', /is empty/],
    ['  -- nothing but a comment\n ; ', 'GALAXY_LANDSCAPE_SQL_EMPTY', /is empty/],
    [
      'WITH RECURSIVE counter(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM counter) SELECT node FROM nodes WHERE load1 IN (SELECT x FROM counter)',
      'GALAXY_LANDSCAPE_SQL_RECURSIVE',
      /recursive common table expression, which could run without end/,
    ],
    // Recursive without the keyword: SQLite still recurses, and the query plan says so.
    [
      'WITH counter(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM counter) SELECT node FROM nodes WHERE load1 IN (SELECT x FROM counter)',
      'GALAXY_LANDSCAPE_SQL_RECURSIVE',
      /recursive/,
    ],
    ["SELECT node FROM nodes UNION ALL SELECT 'not-a-node'", 'GALAXY_LANDSCAPE_RESULT_NOT_NODE', /row \d of the result is "not-a-node", which is not the id of a known node/],
    ['SELECT a.node FROM nodes n LEFT JOIN attributes a ON a.node = n.node AND a.key = \'missing\'', 'GALAXY_LANDSCAPE_RESULT_NOT_NODE', /row 1 of the result is NULL/],
    ['SELECT node FROM nodes WHERE json_extract(rack, \'$.x\') = 1', 'GALAXY_LANDSCAPE_EVALUATION_FAILED', /SQLite failed while evaluating the landscape statement: malformed JSON/],
  ];
  for (const [sql, code, message] of cases) {
    it(`refuses ${JSON.stringify(sql)} with ${code}`, () => {
      const engine = engineWithNodes();
      const error = refusal(engine, sql);
      expect(error.code).toBe(code);
      expect(error.message).toMatch(message);
      // Nothing was defined, and the mirror is intact.
      expect(engine.list()).toEqual([]);
      expect(engine.exportDefinitions()).toEqual([]);
      engine.define({ name: 'all', sql: 'SELECT node FROM nodes', mode: { kind: 'on-change' } }, 2000);
      expect(engine.members('all')).toEqual([id(1), id(2)]);
      engine.close();
    });
  }

  it('refuses a statement over the length bound, bad names and bad modes', () => {
    const engine = new LandscapeEngine({ origin: kOrigin, options: { statementLengthMax: 64 } });
    const long = `SELECT node FROM nodes WHERE node <> '${'x'.repeat(64)}'`;
    expect(() => engine.define({ name: 'l', sql: long, mode: { kind: 'on-change' } }, 0)).toThrow(expect.objectContaining({ code: 'GALAXY_LANDSCAPE_SQL_TOO_LONG' }));
    expect(() => engine.define({ name: 'has space', sql: 'SELECT node FROM nodes', mode: { kind: 'on-change' } }, 0)).toThrow(expect.objectContaining({ code: 'GALAXY_LANDSCAPE_BAD_NAME' }));
    expect(() => engine.define({ name: '-x', sql: 'SELECT node FROM nodes', mode: { kind: 'on-change' } }, 0)).toThrow(/starting with a letter or digit/);
    expect(() => engine.define({ name: 'x', sql: 'SELECT node FROM nodes', mode: { kind: 'every', periodMs: 10 } }, 0)).toThrow(
      expect.objectContaining({ code: 'GALAXY_LANDSCAPE_BAD_MODE', message: expect.stringMatching(/from 1000 to 86400000, got 10/) }),
    );
    expect(() => engine.define({ name: 'x', sql: 'SELECT node FROM nodes', mode: { kind: 'sometimes' } as never }, 0)).toThrow(/"on-change" or "every"/);
    engine.close();
  });

  it('accepts the forms a SELECT may take: trailing semicolons and comments, joins, subqueries, CTEs, the attributes table', () => {
    const engine = engineWithNodes();
    const accepted: Array<[string, string[]]> = [
      ["SELECT node FROM nodes WHERE rack = 'r12' AND load1 < 2;", [id(1)]],
      ['select node from nodes where load1 >= 2; ; -- trailing comment', [id(2)]],
      ['SELECT node FROM nodes /* unterminated comments run to the end', [id(1), id(2)]],
      ["SELECT n.node FROM nodes AS n JOIN attributes AS a ON a.node = n.node WHERE a.key = 'gpu.model' AND a.value = 'h100' AND n.rack = 'r13'", [id(2)]],
      ["SELECT node FROM attributes WHERE key = 'gpu.model' AND value < 'b'", [id(1)]],
      ["WITH busy AS (SELECT node FROM nodes WHERE load1 > 1) SELECT node FROM busy", [id(2)]],
      ["SELECT node FROM (SELECT * FROM nodes WHERE rack LIKE 'r1%') ORDER BY node DESC LIMIT 1", [id(2)]],
      ["SELECT node FROM nodes WHERE 'a;b' = 'a;b' AND \"load1\" < 1", [id(1)]],
      ['SELECT node FROM nodes UNION SELECT node FROM attributes', [id(1), id(2)]],
    ];
    accepted.forEach(([sql, members], i) => {
      engine.define({ name: `ok${i}`, sql, mode: { kind: 'on-change' } }, 1000);
      expect(engine.members(`ok${i}`), sql).toEqual(members);
    });
    engine.close();
  });

  it('keeps the mirror connection query-only outside a batch (defence in depth)', () => {
    const engine = engineWithNodes();
    const database = (engine as unknown as { mirror: { database: import('better-sqlite3').Database } }).mirror.database;
    expect(() => database.prepare("INSERT INTO nodes (node) VALUES ('00000000000000ff')").run()).toThrow(/attempt to write a readonly database/);
    expect(() => database.prepare('DELETE FROM attributes').run()).toThrow(/readonly/);
    engine.close();
  });
});

describe('landscape statements: lexer and column reads', () => {
  it('splits strings, quoted identifiers, comments, parameters and numbers the way SQLite does', () => {
    const tokens = tokenizeSql(`SELECT "a""b", [c d], \`e\`, 'it''s', x'0a', 1.5e-3, ?7, :p, @q, $r -- gone\n /* gone */ ;`);
    expect(tokens.map((t) => `${t.kind}:${t.text}`)).toEqual([
      'word:SELECT', 'quoted:a"b', 'symbol:,', 'quoted:c d', 'symbol:,', 'quoted:e', 'symbol:,', "string:it's", 'symbol:,', 'blob:0a', 'symbol:,',
      'number:1.5e-3', 'symbol:,', 'parameter:?7', 'symbol:,', 'parameter::p', 'symbol:,', 'parameter:@q', 'symbol:,', 'parameter:$r', 'semicolon:;',
    ]);
  });

  it('names the columns a statement reads, conservatively', () => {
    const reads = statementReads(tokenizeSql(`SELECT n.node FROM nodes n WHERE n."Load1" < 2 AND rack = 'r12' AND count(*) > 0`));
    expect(reads.everything).toBe(false);
    expect(reads.attributes).toBe(false);
    expect(readsAnyOf(reads, new Set(['load1']))).toBe(true);
    expect(readsAnyOf(reads, new Set(['rack']))).toBe(true);
    expect(readsAnyOf(reads, new Set(['mem_free', 'disk_free']))).toBe(false);
    expect(statementReads(tokenizeSql('SELECT node FROM (SELECT * FROM nodes)')).everything).toBe(true);
    expect(statementReads(tokenizeSql('SELECT a.node FROM nodes a NATURAL JOIN nodes b')).everything).toBe(true);
    expect(statementReads(tokenizeSql('SELECT node FROM nodes WHERE load1 * 2 < 3')).everything).toBe(true);
    expect(statementReads(tokenizeSql("SELECT node FROM attributes WHERE key = 'x'")).attributes).toBe(true);
  });
});
