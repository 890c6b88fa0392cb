/**
 * The composition rules (README.md, "Composition"), on values that remember which file
 * set them, so an error in the composed profile can name the file to fix:
 *
 *  - maps merge deeply, key by key (roles merge by role name, since roles is a map);
 *  - the keyed lists, `channels` (by `name`) and each role's `components` (by
 *    `package`), merge item by item: an item with a key already present merges deeply
 *    into it in place, a new key is appended, an item with `$remove: true` deletes it;
 *  - any other list (`after`, a component's `channels`, values inside `config`) and
 *    every scalar is replaced by the later one, as is a value of another shape;
 *  - `null` deletes the key from the result.
 *
 * Pure: no I/O.
 */
export type Tracked =
  | { readonly kind: 'scalar'; readonly value: unknown; readonly file: string }
  | { readonly kind: 'map'; readonly entries: Map<string, Tracked>; readonly file: string }
  | { readonly kind: 'list'; readonly items: Tracked[]; readonly file: string; readonly key: string | null };

/** Which lists merge by key, by their place in the profile ('*' any role or index). */
function listKey(path: readonly string[]): string | null {
  if (path.length === 1 && path[0] === 'channels') return 'name';
  if (path.length === 3 && path[0] === 'roles' && path[2] === 'components') return 'package';
  return null;
}

/** `value` (plain data from one file) as a tracked tree. */
export function track(value: unknown, file: string, path: readonly string[] = []): Tracked {
  // Below `config` everything is the component's own data: plain maps and lists.
  const inConfig = path.includes('config');
  if (Array.isArray(value)) {
    const key = inConfig ? null : listKey(path);
    return { kind: 'list', items: value.map((item) => track(item, file, [...path, '*'])), file, key };
  }
  if (value !== null && typeof value === 'object') {
    const entries = new Map<string, Tracked>();
    for (const [name, inner] of Object.entries(value)) entries.set(name, track(inner, file, [...path, path.length === 1 && path[0] === 'roles' ? '*' : name]));
    return { kind: 'map', entries, file };
  }
  return { kind: 'scalar', value, file };
}

function isDeletion(node: Tracked): boolean {
  return node.kind === 'scalar' && node.value === null;
}

function itemKey(item: Tracked, key: string): unknown {
  return item.kind === 'map' ? (item.entries.get(key) as { value?: unknown } | undefined)?.value : undefined;
}

function isRemoval(item: Tracked): boolean {
  return item.kind === 'map' && itemKey(item, '$remove') === true;
}

/** A value with no base: its deletions have nothing to delete, so they vanish. */
function settle(node: Tracked): Tracked | undefined {
  if (isDeletion(node)) return undefined;
  if (node.kind === 'map') {
    const entries = new Map<string, Tracked>();
    for (const [name, inner] of node.entries) {
      const settled = settle(inner);
      if (settled !== undefined) entries.set(name, settled);
    }
    return { kind: 'map', entries, file: node.file };
  }
  if (node.kind === 'list') {
    const items = node.key === null ? node.items : node.items.filter((item) => !isRemoval(item));
    return { ...node, items: items.map((item) => settle(item) ?? item) };
  }
  return node;
}

/** `over` applied on `base`; undefined when `over` deletes it. */
export function mergeTracked(base: Tracked | undefined, over: Tracked): Tracked | undefined {
  if (isDeletion(over)) return undefined;
  if (base === undefined) return settle(over);
  if (base.kind === 'map' && over.kind === 'map') {
    const entries = new Map(base.entries);
    for (const [name, inner] of over.entries) {
      const merged = mergeTracked(entries.get(name), inner);
      if (merged === undefined) entries.delete(name);
      else entries.set(name, merged);
    }
    return { kind: 'map', entries, file: over.file };
  }
  if (base.kind === 'list' && over.kind === 'list' && base.key !== null && base.key === over.key) {
    const key = base.key;
    const items = [...base.items];
    for (const item of over.items) {
      const at = items.findIndex((existing) => itemKey(existing, key) === itemKey(item, key));
      if (isRemoval(item)) {
        if (at >= 0) items.splice(at, 1);
        continue;
      }
      const merged = mergeTracked(at >= 0 ? items[at] : undefined, item);
      if (merged === undefined) continue;
      if (at >= 0) items[at] = merged;
      else items.push(merged);
    }
    return { kind: 'list', items, file: over.file, key };
  }
  return settle(over);
}

/** The plain value of a tracked tree. */
export function untrack(node: Tracked): unknown {
  if (node.kind === 'scalar') return node.value;
  if (node.kind === 'list') return node.items.map(untrack);
  const value: Record<string, unknown> = {};
  for (const [name, inner] of node.entries) value[name] = untrack(inner);
  return value;
}

/** The file that last set the deepest existing part of `path`. */
export function originOf(node: Tracked, path: ReadonlyArray<string | number>): string {
  let at: Tracked = node;
  for (const part of path) {
    const next: Tracked | undefined = at.kind === 'map' ? at.entries.get(String(part)) : at.kind === 'list' && typeof part === 'number' ? at.items[part] : undefined;
    if (next === undefined) break;
    at = next;
  }
  return at.file;
}
