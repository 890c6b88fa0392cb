/**
 * Which columns a landscape statement reads, worked out from its tokens so that an
 * on-change landscape is re-evaluated only when one of them changes. The answer is
 * conservative: it may name more than the statement reads (every identifier, alias
 * and string literal counts, since SQLite accepts 'name' as an identifier in some
 * places), never less. When the statement may read columns it does not name, it
 * "reads everything" and any change re-evaluates it:
 *  - a `*` that is not `count(*)` (SELECT *, t.*, and also multiplication: the lexer
 *    cannot tell them apart, so a multiplication costs extra evaluations, never misses);
 *  - NATURAL joins, which compare every column the two sides share;
 *  - the schema tables and table-valued pragmas (sqlite_schema, pragma_table_info),
 *    whose rows change when columns are added.
 * Keys that live only in the `attributes` table are covered by `attributes`: a
 * statement naming that table is re-evaluated on any key/value change.
 */
import type { SqlToken } from './sql-tokens.js';

export interface StatementReads {
  /** Every identifier and string the statement names, lower-cased (SQLite's identifiers ignore case). */
  readonly names: ReadonlySet<string>;
  /** The statement may read columns it does not name; see above. */
  readonly everything: boolean;
  /** The statement names the `attributes` table. */
  readonly attributes: boolean;
}

export function statementReads(tokens: readonly SqlToken[]): StatementReads {
  const names = new Set<string>();
  let everything = false;
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (token.kind === 'symbol' && token.text === '*') {
      const previous = tokens[i - 1];
      if (!(previous?.kind === 'symbol' && previous.text === '(')) everything = true;
      continue;
    }
    if (token.kind !== 'word' && token.kind !== 'quoted' && token.kind !== 'string') continue;
    const name = token.text.toLowerCase();
    names.add(name);
    if (token.kind === 'word' && name === 'natural') everything = true;
    if (name.startsWith('sqlite_') || name.startsWith('pragma_')) everything = true;
  }
  return { names, everything, attributes: names.has('attributes') };
}

/** Whether a statement with these reads must be re-evaluated after `changed` columns (lower-case names) changed. */
export function readsAnyOf(reads: StatementReads, changed: ReadonlySet<string>): boolean {
  if (reads.everything) return changed.size > 0;
  const [small, large] = changed.size < reads.names.size ? [changed, reads.names] : [reads.names, changed];
  for (const name of small) if (large.has(name)) return true;
  return false;
}
