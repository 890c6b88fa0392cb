/**
 * How FMIDB keys become columns of the `nodes` table. A key is [A-Za-z0-9_.-]{1,64};
 * its column name is the key with every '.' and '-' replaced by '_' (so `disk.root-free`
 * is `disk_root_free`), because those characters would force users to quote the name.
 * SQLite compares column names without regard to case.
 *
 * Two keys can map to the same column (`disk.free` and `disk_free`, or `Load1` and
 * `load1`). The column then belongs to the smallest of them (JavaScript string order),
 * whatever order they were seen in, so every node of the farm assigns it the same way
 * and a statement gives the same answer everywhere; the others live only in the
 * `attributes` table. When a smaller key appears later it takes the column over: the
 * mirror moves the previous owner's values to `attributes`, and the column starts empty
 * (the new key, just seen, has no other values yet).
 *
 * `node`, `rowid`, `oid` and `_rowid_` are never columns (the first is the node id, the
 * others are SQLite's row id aliases). Past columnsMax, new keys get no column: which
 * keys those are depends on the order this node saw them, so statements about farms
 * with that many keys should use `attributes`.
 */
export const kKeyPattern = /^[A-Za-z0-9_.-]{1,64}$/;

const kReservedColumns: ReadonlySet<string> = new Set(['node', 'rowid', 'oid', '_rowid_']);

export function isValidKey(key: unknown): key is string {
  return typeof key === 'string' && kKeyPattern.test(key);
}

/** The column name for a valid key, or null for one that can never be a column. */
export function columnNameOf(key: string): string | null {
  const name = key.replace(/[.-]/g, '_');
  return kReservedColumns.has(name.toLowerCase()) ? null : name;
}

/** What the mirror must do so that a key's values land in the right column. */
export type ColumnAction =
  /** The key has no column: reserved, taken by a smaller key, or columnsMax reached. */
  | { readonly kind: 'none' }
  /** The key owns this column already. */
  | { readonly kind: 'existing'; readonly column: string }
  /** Add the column (ALTER TABLE) and give it to the key. */
  | { readonly kind: 'add'; readonly column: string }
  /** The key takes the column over from `previousKey`, whose values move to `attributes`. */
  | { readonly kind: 'take-over'; readonly column: string; readonly previousKey: string };

const kNone: ColumnAction = Object.freeze({ kind: 'none' });

export class ColumnAssignment {
  /** Column name (lower case) to the key that owns it; at most columnsMax entries. */
  private readonly owners = new Map<string, string>();
  /** Key to the column it owns (as created); at most columnsMax entries. */
  private readonly owned = new Map<string, string>();
  /** Column as created, by lower-case name; at most columnsMax entries. */
  private readonly created = new Map<string, string>();
  private readonly columnsMax: number;

  constructor(columnsMax: number) {
    this.columnsMax = columnsMax;
  }

  get columnCount(): number {
    return this.created.size;
  }

  /** The column a key's values are in now, or null. */
  columnOf(key: string): string | null {
    return this.owned.get(key) ?? null;
  }

  /**
   * Decides and records where a (valid) key's values go; the mirror must carry the
   * action out. Keys without a column are not remembered (that would need a bound of
   * its own): deciding again costs a replace and two map lookups.
   */
  assign(key: string): ColumnAction {
    const column = this.owned.get(key);
    if (column !== undefined) return { kind: 'existing', column };
    const name = columnNameOf(key);
    if (name === null) return kNone;
    const lower = name.toLowerCase();
    const owner = this.owners.get(lower);
    if (owner !== undefined) return owner < key ? kNone : this.takeOver(key, lower, owner);
    if (this.created.size >= this.columnsMax) return kNone;
    this.created.set(lower, name);
    this.owners.set(lower, key);
    this.owned.set(key, name);
    return { kind: 'add', column: name };
  }

  /** Keys that own a column, with the column, in creation order. */
  entries(): Array<{ key: string; column: string }> {
    const out: Array<{ key: string; column: string }> = [];
    for (const [lower, column] of this.created) out.push({ key: this.owners.get(lower)!, column });
    return out;
  }

  private takeOver(key: string, lower: string, previousKey: string): ColumnAction {
    const column = this.created.get(lower)!;
    this.owned.delete(previousKey);
    this.owned.set(key, column);
    this.owners.set(lower, key);
    return { kind: 'take-over', column, previousKey };
  }
}
