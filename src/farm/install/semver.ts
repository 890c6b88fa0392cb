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
