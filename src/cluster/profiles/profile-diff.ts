import { isDeepStrictEqual } from 'node:util';

/**
 * `diff`: what changes from one composed profile to another (two versions, or two
 * profiles), structurally: maps key by key, the keyed lists (channels by name,
 * components by package) item by item with the key in the path
 * (`roles.primary.components[galaxy-lock-manager].version`), other lists and scalars
 * as a whole. Sorted by path so the same two profiles always give the same diff.
 */
export interface DiffEntry {
  readonly op: 'add' | 'remove' | 'change';
  readonly path: string;
  readonly before?: unknown;
  readonly after?: unknown;
}

const kSigns = { add: '+', remove: '-', change: '~' } as const;
/** Characters of one value shown in a diff line before it is cut. */
const kShownLengthMax = 160;

function keyOf(path: readonly string[]): string | null {
  if (path.length === 1 && path[0] === 'channels') return 'name';
  if (path.length === 3 && path[0] === 'roles' && path[2] === 'components') return 'package';
  return null;
}

function isMap(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function join(text: string, part: string): string {
  return /^[A-Za-z_$][A-Za-z0-9_$-]*$/.test(part) ? (text === '' ? part : `${text}.${part}`) : `${text}[${JSON.stringify(part)}]`;
}

export function diffProfiles(before: unknown, after: unknown): DiffEntry[] {
  const entries: DiffEntry[] = [];
  walk(before, after, [], '', entries);
  return entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

function walk(before: unknown, after: unknown, shape: readonly string[], path: string, out: DiffEntry[]): void {
  if (isDeepStrictEqual(before, after)) return;
  if (before === undefined) return void out.push({ op: 'add', path, after });
  if (after === undefined) return void out.push({ op: 'remove', path, before });
  const key = keyOf(shape);
  // Below `config` is the component's own data: maps still diff key by key, lists whole.
  if (key !== null && Array.isArray(before) && Array.isArray(after)) {
    const index = (list: unknown[]) => new Map(list.filter(isMap).map((item) => [String(item[key]), item] as const));
    const [a, b] = [index(before), index(after)];
    for (const name of new Set([...a.keys(), ...b.keys()])) walk(a.get(name), b.get(name), [...shape, '*'], `${path}[${name}]`, out);
    return;
  }
  if (isMap(before) && isMap(after)) {
    for (const name of new Set([...Object.keys(before), ...Object.keys(after)])) {
      walk(before[name], after[name], [...shape, shape.length === 1 && shape[0] === 'roles' ? '*' : name], join(path, name), out);
    }
    return;
  }
  out.push({ op: 'change', path, before, after });
}

function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? 'undefined';
  return text.length > kShownLengthMax ? `${text.slice(0, kShownLengthMax - 1)}…` : text;
}

/** One line per entry, terraform-like: `~ path: before → after`, `+ path: value`, `- path`. */
export function formatDiff(entries: readonly DiffEntry[]): string[] {
  return entries.map((entry) => {
    if (entry.op === 'change') return `${kSigns.change} ${entry.path}: ${shown(entry.before)} → ${shown(entry.after)}`;
    if (entry.op === 'add') return `${kSigns.add} ${entry.path}: ${shown(entry.after)}`;
    return `${kSigns.remove} ${entry.path}: ${shown(entry.before)}`;
  });
}
