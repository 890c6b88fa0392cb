import { isNode, LineCounter, parseAllDocuments, type Document } from 'yaml';
import type { ZodIssue } from 'zod';
import { formatPath, ProfileError, type ProfileErrorCode, type ProfileProblem } from './profile-error.js';
import { kNestingDepthMax, kProfileBytesMax } from './profile-limits.js';
import { kProfileFragmentSchema, type ProfileKind } from './profile-schema.js';

/**
 * One profile file, parsed and checked on its own (the fragment schema): the YAML
 * document is kept so that any later problem at a path inside it (a composition or
 * dependency error) can be given its line and column.
 */
export interface ProfileDocument {
  /** The file name as the user gave it (or `fmidb:profile/NAME@VERSION`). */
  readonly file: string;
  readonly name: string;
  readonly version: string;
  readonly kind: ProfileKind;
  /** The file's content as plain data, checked against the fragment schema. */
  readonly value: Readonly<Record<string, unknown>>;
  /** Where `path` is in the text: line and column, 1-based, of the deepest part of it that exists. */
  locate(path: ReadonlyArray<string | number>): { line: number; column: number } | undefined;
}

/** A problem at a path of this document, with its line and column. */
export function problemAt(document: Pick<ProfileDocument, 'file' | 'locate'>, code: ProfileErrorCode, path: ReadonlyArray<string | number>, reason: string): ProfileProblem {
  const at = document.locate(path);
  return { code, file: document.file, path: formatPath(path), reason, ...(at === undefined ? {} : { line: at.line, column: at.column }) };
}

/** Keys listed twice in one file's list are refused: composition would silently merge them. */
const kKeyedLists: ReadonlyArray<{ readonly list: (value: Record<string, unknown>) => Array<[Array<string | number>, unknown]>; readonly key: string }> = [
  { list: (value) => [[['channels'], value['channels']]], key: 'name' },
  {
    list: (value) =>
      Object.entries((value['roles'] ?? {}) as Record<string, unknown>).map(([role, body]) => [['roles', role, 'components'], (body as Record<string, unknown> | null)?.['components']]),
    key: 'package',
  },
];

function duplicateProblems(document: ProfileDocument): ProfileProblem[] {
  const problems: ProfileProblem[] = [];
  for (const { list, key } of kKeyedLists) {
    for (const [path, items] of list(document.value as Record<string, unknown>)) {
      if (!Array.isArray(items)) continue;
      const seen = new Map<unknown, number>();
      items.forEach((item: Record<string, unknown>, index) => {
        const first = seen.get(item[key]);
        if (first !== undefined) problems.push(problemAt(document, 'GALAXY_PROFILE_SCHEMA', [...path, index, key], `"${String(item[key])}" is listed twice (also at ${formatPath([...path, first])})`));
        else seen.set(item[key], index);
      });
    }
  }
  return problems;
}

/** The path of a value nested deeper than `levelsMax` levels, or null; stops at the first. */
function deepestPath(value: unknown, levelsMax: number, path: Array<string | number> = []): Array<string | number> | null {
  if (value === null || typeof value !== 'object') return null;
  if (path.length >= levelsMax) return path;
  for (const [key, inner] of Array.isArray(value) ? value.entries() : Object.entries(value)) {
    const found = deepestPath(inner, levelsMax, [...path, key]);
    if (found !== null) return found;
  }
  return null;
}

function issueReason(issue: ZodIssue): string {
  if (issue.code === 'invalid_type' && issue.received === 'undefined') return 'is required';
  if (issue.code === 'unrecognized_keys') return `unknown field${issue.keys.length === 1 ? '' : 's'} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  // zod's own wording ("Expected number, received string") is replaced; a schema's own message is kept.
  if (issue.code === 'invalid_type' && issue.message.startsWith('Expected ')) return `must be ${issue.expected === 'object' ? 'a map' : issue.expected === 'array' ? 'a list' : `a ${issue.expected}`}, not ${issue.received === 'object' ? 'a map' : issue.received === 'array' ? 'a list' : issue.received}`;
  return issue.message;
}

/**
 * Parses and checks one file. Throws a ProfileError listing every problem: YAML
 * syntax (with line and column), more than one document, and each schema issue at its
 * path.
 */
export function parseProfileDocument(file: string, text: string): ProfileDocument {
  if (Buffer.byteLength(text, 'utf8') > kProfileBytesMax) throw ProfileError.of('GALAXY_PROFILE_TOO_LARGE', file, '', `is larger than ${kProfileBytesMax} bytes`);
  const lineCounter = new LineCounter();
  const documents = parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const list: Document[] = Array.isArray(documents) ? documents : [];
  const problems: ProfileProblem[] = [];
  for (const parsed of list) {
    for (const error of parsed.errors) {
      const at = lineCounter.linePos(error.pos[0]);
      problems.push({ code: 'GALAXY_PROFILE_YAML', file, path: '', reason: error.message.split('\n')[0]!, line: at.line, column: at.col });
    }
  }
  if (problems.length > 0) throw new ProfileError(problems);
  if (list.length !== 1) throw ProfileError.of('GALAXY_PROFILE_YAML', file, '', list.length === 0 ? 'is empty: a profile is one YAML document' : `holds ${list.length} YAML documents; a profile is one`);
  const document = list[0]!;
  const locate = (path: ReadonlyArray<string | number>): { line: number; column: number } | undefined => {
    for (let length = path.length; length >= 0; length--) {
      const node = document.getIn(path.slice(0, length), true);
      if (isNode(node) && node.range) {
        const at = lineCounter.linePos(node.range[0]);
        return { line: at.line, column: at.col };
      }
    }
    return undefined;
  };
  let value: unknown;
  try {
    value = document.toJS({ maxAliasCount: 64 });
  } catch (error) {
    throw ProfileError.of('GALAXY_PROFILE_YAML', file, '', (error as Error).message);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw ProfileError.of('GALAXY_PROFILE_SCHEMA', file, '', 'must be a map (apiVersion, kind, name, version, ...)');
  const deep = deepestPath(value, kNestingDepthMax);
  if (deep !== null) throw new ProfileError([problemAt({ file, locate }, 'GALAXY_PROFILE_SCHEMA', deep, `is nested deeper than ${kNestingDepthMax} levels`)]);
  const checked = kProfileFragmentSchema.safeParse(value);
  if (!checked.success) {
    throw new ProfileError(checked.error.issues.map((issue) => problemAt({ file, locate }, 'GALAXY_PROFILE_SCHEMA', issue.path, issueReason(issue))));
  }
  const head = value as { name: string; version: string; kind: ProfileKind };
  const parsed: ProfileDocument = { file, name: head.name, version: head.version, kind: head.kind, value: value as Record<string, unknown>, locate };
  const duplicates = duplicateProblems(parsed);
  if (duplicates.length > 0) throw new ProfileError(duplicates);
  return parsed;
}

export { issueReason };
