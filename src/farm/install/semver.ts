import { kVersionLengthMax } from './package-limits.js';

/**
 * Semantic versions (semver.org 2.0.0): the grammar, and precedence for sorting. A
 * version string is also a directory name in the package store, which the grammar
 * keeps safe (0-9 A-Z a-z . + -). Pure.
 */
export interface Semver {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  /** Pre-release identifiers ("rc", "1"); empty for a release. */
  readonly prerelease: readonly string[];
}

/** The grammar from semver.org, anchored. */
const kSemverPattern =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

/** The parsed version, or null when `text` is not a semantic version (or is longer than kVersionLengthMax). */
export function parseSemver(text: string): Semver | null {
  if (text.length > kVersionLengthMax) return null;
  const match = kSemverPattern.exec(text);
  if (match === null) return null;
  const [major, minor, patch] = [Number(match[1]), Number(match[2]), Number(match[3])];
  // The grammar allows any length of digits; beyond 2^53 comparisons would be wrong.
  if (!Number.isSafeInteger(major) || !Number.isSafeInteger(minor) || !Number.isSafeInteger(patch)) return null;
  return { major, minor, patch, prerelease: match[4] === undefined ? [] : match[4].split('.') };
}

export function isSemver(text: string): boolean {
  return parseSemver(text) !== null;
}

/**
 * Precedence: negative when a < b. Build metadata does not count (semver 2.0.0 item
 * 10), so 1.0.0+a and 1.0.0+b compare equal; ties are then broken by the strings so a
 * sort is total and stable across nodes.
 */
export function compareSemver(a: string, b: string): number {
  const x = parseSemver(a);
  const y = parseSemver(b);
  if (x === null || y === null) throw new RangeError(`not a semantic version: "${x === null ? a : b}"`);
  const core = x.major - y.major || x.minor - y.minor || x.patch - y.patch;
  if (core !== 0) return Math.sign(core);
  const pre = comparePrerelease(x.prerelease, y.prerelease);
  if (pre !== 0) return pre;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A release outranks its pre-releases; identifiers compare numerically when both are numbers, numbers rank lower. */
function comparePrerelease(a: readonly string[], b: readonly string[]): number {
  if (a.length === 0 || b.length === 0) return b.length - a.length === 0 ? 0 : a.length === 0 ? 1 : -1;
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const p = a[i]!;
    const q = b[i]!;
    if (p === q) continue;
    const pNumeric = /^\d+$/.test(p);
    const qNumeric = /^\d+$/.test(q);
    if (pNumeric && qNumeric) return Math.sign(Number(p) - Number(q));
    if (pNumeric !== qNumeric) return pNumeric ? -1 : 1;
    return p < q ? -1 : 1;
  }
  return Math.sign(a.length - b.length);
}

/**
 * One comparison of a range: `>=1.2.0`. Ranges are desugared into these so that one
 * small function decides what satisfies them.
 */
export interface SemverComparator {
  readonly operator: '<' | '<=' | '>' | '>=' | '=';
  readonly version: string;
}

/**
 * A version range in the npm style most people know: sets of comparators joined by
 * `||`, each set a space-separated AND of `=`, `<`, `<=`, `>`, `>=`, caret (`^1.2.3`),
 * tilde (`~1.2.3`), partial (`1`, `1.2`, `1.x`) and any (`*`, `x`, empty). Hyphen
 * ranges are not supported (a refusal, not a guess). An empty set matches every release.
 */
export type SemverRange = ReadonlyArray<ReadonlyArray<SemverComparator>>;

/** Characters of a range text at most: a range is written by a person in a profile. */
export const kRangeLengthMax = 256;

const kPartialPattern = /^(=|<=|<|>=|>|\^|~)?v?(\*|x|X|0|[1-9]\d{0,15})(?:\.(\*|x|X|0|[1-9]\d{0,15}))?(?:\.(\*|x|X|0|[1-9]\d{0,15})(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?)?$/;

/** The parsed range, or null when `text` is not one (the grammar above). */
export function parseSemverRange(text: string): SemverRange | null {
  if (text.length > kRangeLengthMax) return null;
  const sets: SemverComparator[][] = [];
  for (const alternative of text.split('||')) {
    const set: SemverComparator[] = [];
    // `>= 1.2.0` is written with a space by some: join an operator to what follows it.
    const words = alternative.trim().replace(/(<=|>=|<|>|=|\^|~)\s+/g, '$1').split(/\s+/).filter((w) => w !== '');
    for (const word of words) {
      const comparators = desugar(word);
      if (comparators === null) return null;
      set.push(...comparators);
    }
    sets.push(set);
  }
  return sets;
}

function isWildcard(part: string | undefined): boolean {
  return part === undefined || part === '*' || part === 'x' || part === 'X';
}

/** One word of a range as comparators: `^1.2.3` is `>=1.2.3 <2.0.0`. */
function desugar(word: string): SemverComparator[] | null {
  const match = kPartialPattern.exec(word);
  if (match === null) return null;
  const operator = match[1] ?? '';
  const [majorText, minorText, patchText] = [match[2]!, match[3], match[4]];
  const suffix = (match[5] ?? '') + (match[6] ?? '');
  // A wildcard may only be followed by wildcards: x.1 and 1.x.3 are refused.
  if (isWildcard(majorText) && !isWildcard(minorText)) return null;
  if (isWildcard(majorText)) return operator === '' || operator === '=' || operator === '>=' || operator === '<=' ? [] : null;
  if (isWildcard(minorText) && !isWildcard(patchText)) return null;
  if (suffix !== '' && isWildcard(patchText)) return null;
  const major = Number(majorText);
  const minor = isWildcard(minorText) ? null : Number(minorText);
  const patch = isWildcard(patchText) ? null : Number(patchText);
  const floor = `${major}.${minor ?? 0}.${patch ?? 0}${suffix}`;
  if (parseSemver(floor) === null) return null;
  // The first version past the partial: 1 -> 2.0.0, 1.2 -> 1.3.0, 1.2.3 -> itself.
  const next = minor === null ? `${major + 1}.0.0` : patch === null ? `${major}.${minor + 1}.0` : null;
  switch (operator) {
    case '':
    case '=':
      return next === null ? [{ operator: '=', version: floor }] : [{ operator: '>=', version: floor }, { operator: '<', version: next }];
    case '>=':
      return [{ operator: '>=', version: floor }];
    case '<':
      return [{ operator: '<', version: floor }];
    case '>':
      return next === null ? [{ operator: '>', version: floor }] : [{ operator: '>=', version: next }];
    case '<=':
      return next === null ? [{ operator: '<=', version: floor }] : [{ operator: '<', version: next }];
    case '~':
      return [{ operator: '>=', version: floor }, { operator: '<', version: minor === null ? `${major + 1}.0.0` : `${major}.${minor + 1}.0` }];
    case '^': {
      // The left-most non-zero part may not change: ^1.2.3 <2.0.0, ^0.2.3 <0.3.0, ^0.0.3 <0.0.4.
      const ceiling =
        major > 0 || minor === null ? `${major + 1}.0.0` : minor > 0 || patch === null ? `${major}.${minor + 1}.0` : `${major}.${minor}.${patch + 1}`;
      return [{ operator: '>=', version: floor }, { operator: '<', version: ceiling }];
    }
    default:
      return null;
  }
}

function holds(version: string, comparator: SemverComparator): boolean {
  const order = compareSemverPrecedence(version, comparator.version);
  switch (comparator.operator) {
    case '<':
      return order < 0;
    case '<=':
      return order <= 0;
    case '>':
      return order > 0;
    case '>=':
      return order >= 0;
    case '=':
      return order === 0;
  }
}

/** Precedence only (build metadata ignored, no tie-break by text). */
function compareSemverPrecedence(a: string, b: string): number {
  const x = parseSemver(a)!;
  const y = parseSemver(b)!;
  const core = x.major - y.major || x.minor - y.minor || x.patch - y.patch;
  return core !== 0 ? Math.sign(core) : comparePrerelease(x.prerelease, y.prerelease);
}

/**
 * Whether `version` is in the range. As npm does, a pre-release (1.3.0-rc.1) only
 * satisfies a set that names a pre-release of the same major.minor.patch, so `^1.2.0`
 * never picks up a release candidate by accident.
 */
export function satisfiesRange(version: string, range: SemverRange): boolean {
  const parsed = parseSemver(version);
  if (parsed === null) return false;
  return range.some((set) => {
    if (!set.every((comparator) => holds(version, comparator))) return false;
    if (parsed.prerelease.length === 0) return true;
    return set.some((comparator) => {
      const c = parseSemver(comparator.version)!;
      return c.prerelease.length > 0 && c.major === parsed.major && c.minor === parsed.minor && c.patch === parsed.patch;
    });
  });
}

/** The highest of `versions` in the range, or null. Texts that are not versions are skipped. */
export function maxSatisfying(versions: Iterable<string>, range: SemverRange): string | null {
  let best: string | null = null;
  for (const version of versions) {
    if (!satisfiesRange(version, range)) continue;
    if (best === null || compareSemver(version, best) > 0) best = version;
  }
  return best;
}
