import type { Command } from 'commander';
import type { NodeAttributes, DataStatus } from './farm-data.js';
import type { LandscapeSummary, LandscapeView, QueryResult } from './landscape/landscape-engine.js';
import { formatMode } from './landscape/landscape-mode.js';
import { CliError, connect, run, table, withConnection, type ConnectionFlags, type Print } from '../../surface/cli/cli-kit.js';

/**
 * The farm's data from the command line: `galaxy attr set|get`, `galaxy db query|status`
 * and `galaxy landscape create|list|show|delete`, each over the local agent's API. Reads
 * are answered from that agent's own replica (no network).
 */

/** `KEY=VALUE`: a number when the text is a finite number, else the text; `KEY=` deletes the key. */
export function parseAttributePairs(pairs: readonly string[]): Record<string, string | number | null> {
  if (pairs.length === 0) throw new CliError('give at least one KEY=VALUE (KEY= deletes a key)');
  const values: Record<string, string | number | null> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new CliError(`expected KEY=VALUE, got "${pair}"`);
    const text = pair.slice(at + 1);
    const number = Number(text);
    values[pair.slice(0, at)] = text === '' ? null : /^-?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(text) && Number.isFinite(number) ? number : text;
  }
  return values;
}

function cell(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function printAttributes(print: Print, rows: readonly NodeAttributes[]): void {
  const lines = rows.flatMap((row) => row.attributes.map((a) => [row.node, a.key, cell(a.value), a.origin === row.node ? 'self' : a.origin, a.updatedAt]));
  if (lines.length === 0) return print('(no attributes)');
  table(print, [['NODE', 'KEY', 'VALUE', 'WRITTEN BY', 'UPDATED'], ...lines]);
}

function printLandscape(print: Print, view: LandscapeView): void {
  print(`name        ${view.name}`);
  print(`mode        ${formatMode(view.mode)}`);
  print(`sql         ${view.sql}`);
  print(`members     ${view.memberCount}${view.members.length > 0 ? `: ${view.members.join(' ')}` : ''}`);
  print(`evaluated   ${view.lastEvaluatedAtMs === null ? 'never' : `${new Date(view.lastEvaluatedAtMs).toISOString()} in ${view.lastEvaluationMs?.toFixed(2) ?? '?'} ms (${view.evaluations} evaluations, ${view.failures} failed)`}`);
  if (view.error !== null) print(`error       ${view.error.code}: ${view.error.message}`);
  print(`defined by  ${view.origin} at ${new Date(view.updatedAtMs).toISOString()}`);
}

export function registerDataCommands(program: Command, print: Print = (line) => console.log(line)): void {
  const attr = program.command('attr').description('node attributes in the FMIDB: static ones set by administrators beside the values components post');
  withConnection(attr.command('set').description('set attributes of a node, e.g. galaxy attr set 1a2b3c4d5e6f7a8b rack=r12 room=b (KEY= deletes)').argument('<node>', 'node id (16 hex digits)').argument('<pairs...>', 'KEY=VALUE pairs'))
    .action((node: string, pairs: string[], flags: ConnectionFlags) =>
      run(print, async () => {
        const values = parseAttributePairs(pairs);
        const result = (await connect(flags).put(`/v1/attributes/${encodeURIComponent(node)}`, { values })) as NodeAttributes;
        if (flags.json) return print(JSON.stringify(result, null, 2));
        print(`set ${Object.keys(values).length} key(s) on ${node}; it replicates to every node in about a second`);
        printAttributes(print, [result]);
      }),
    );
  withConnection(attr.command('get').description('attributes and values of one node, or of every node').argument('[node]', 'node id (16 hex digits)')).action((node: string | undefined, flags: ConnectionFlags) =>
    run(print, async () => {
      const rows = (await connect(flags).get(`/v1/attributes${node === undefined ? '' : `?node=${encodeURIComponent(node)}`}`)) as NodeAttributes[];
      if (flags.json) return print(JSON.stringify(rows, null, 2));
      printAttributes(print, rows);
    }),
  );

  const db = program.command('db').description('the local replica of the Farm Management Information Database');
  withConnection(db.command('query').description('run one read-only SELECT over the local SQLite mirror (tables nodes and attributes; see the README)').argument('<sql>', 'the statement')).action((sql: string, flags: ConnectionFlags) =>
    run(print, async () => {
      const result = (await connect(flags).post('/v1/db/query', { sql })) as QueryResult;
      if (flags.json) return print(JSON.stringify(result, null, 2));
      if (result.rows.length === 0) print('(no rows)');
      else table(print, [result.columns, ...result.rows.map((row) => row.map(cell))]);
      if (result.truncated) print(`(only the first ${result.rows.length} rows are shown)`);
    }),
  );
  withConnection(db.command('status').description('the replica: digest (equal on converged nodes), origins, nodes, counters')).action((flags: ConnectionFlags) =>
    run(print, async () => {
      const status = (await connect(flags).get('/v1/db/status')) as DataStatus;
      if (flags.json) return print(JSON.stringify(status, null, 2));
      print(`digest      ${status.digest}`);
      print(`origins     ${status.origins}`);
      print(`nodes       ${status.nodes}`);
      print(`landscapes  ${status.landscapes}`);
    }),
  );

  const landscape = program.command('landscape').description('landscapes: groups of nodes defined by SQL over the FMIDB, computed on every node');
  withConnection(
    landscape
      .command('create')
      .description('define (or redefine) a landscape farm-wide, e.g. --sql "SELECT node FROM nodes WHERE rack = \'r12\' AND load1 < 2" --on-change')
      .argument('<name>', 'landscape name: 1 to 64 of [A-Za-z0-9_.-]')
      .requiredOption('--sql <statement>', 'one read-only SELECT returning node ids')
      .option('--on-change', 're-evaluate when a column the statement reads changes (the default)')
      .option('--every <period>', 're-evaluate on a period: 10s, 5m, 1h'),
  ).action((name: string, flags: ConnectionFlags & { sql: string; onChange?: boolean; every?: string }) =>
    run(print, async () => {
      if (flags.onChange === true && flags.every !== undefined) throw new CliError('give --on-change or --every, not both');
      const mode = flags.every === undefined ? 'on-change' : `every ${flags.every}`;
      const view = (await connect(flags).put(`/v1/landscapes/${encodeURIComponent(name)}`, { sql: flags.sql, mode })) as LandscapeView;
      if (flags.json) return print(JSON.stringify(view, null, 2));
      printLandscape(print, view);
    }),
  );
  withConnection(landscape.command('list').description('landscapes with their mode and member count')).action((flags: ConnectionFlags) =>
    run(print, async () => {
      const list = (await connect(flags).get('/v1/landscapes')) as LandscapeSummary[];
      if (flags.json) return print(JSON.stringify(list, null, 2));
      if (list.length === 0) return print('(no landscapes)');
      table(print, [['NAME', 'MODE', 'MEMBERS', 'STATUS', 'SQL'], ...list.map((l) => [l.name, formatMode(l.mode), String(l.memberCount), l.error === null ? 'ok' : l.error.code, l.sql])]);
    }),
  );
  withConnection(landscape.command('show').description('one landscape and its members as this node computes them').argument('<name>')).action((name: string, flags: ConnectionFlags) =>
    run(print, async () => {
      const view = (await connect(flags).get(`/v1/landscapes/${encodeURIComponent(name)}`)) as LandscapeView;
      if (flags.json) return print(JSON.stringify(view, null, 2));
      printLandscape(print, view);
    }),
  );
  withConnection(landscape.command('delete').description('delete a landscape farm-wide').argument('<name>')).action((name: string, flags: ConnectionFlags) =>
    run(print, async () => {
      await connect(flags).delete(`/v1/landscapes/${encodeURIComponent(name)}`);
      print(`deleted landscape ${name}`);
    }),
  );
}
