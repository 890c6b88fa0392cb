// Proves the version ranges profiles use (src/install/semver.ts): caret, tilde,
// partial, wildcard, comparators and `||` sets desugar to the comparators npm users
// expect, pre-releases only match a set that names one of the same version, malformed
// ranges are refused (null), and maxSatisfying picks the highest version in range. Table
// driven: each row a range, a version and whether it satisfies.
import { describe, expect, it } from 'vitest';
import { maxSatisfying, parseSemverRange, satisfiesRange } from '../src/farm/install/semver.js';

const kRows: ReadonlyArray<readonly [string, string, boolean]> = [
  ['^1.2.3', '1.2.3', true],
  ['^1.2.3', '1.9.0', true],
  ['^1.2.3', '1.2.2', false],
  ['^1.2.3', '2.0.0', false],
  ['^0.2.3', '0.2.9', true],
  ['^0.2.3', '0.3.0', false],
  ['^0.0.3', '0.0.3', true],
  ['^0.0.3', '0.0.4', false],
  ['^1', '1.99.0', true],
  ['~1.2.3', '1.2.9', true],
  ['~1.2.3', '1.3.0', false],
  ['~1.2', '1.2.0', true],
  ['~1', '1.9.9', true],
  ['~1', '2.0.0', false],
  ['1.x', '1.5.0', true],
  ['1.x', '2.0.0', false],
  ['1.2', '1.2.7', true],
  ['1.2', '1.3.0', false],
  ['1.2.3', '1.2.3', true],
  ['=1.2.3', '1.2.4', false],
  ['>=1.0.0 <2', '1.99.0', true],
  ['>=1.0.0 <2', '2.0.0', false],
  ['>= 1.0.0', '3.0.0', true],
  ['>1.2', '1.3.0', true],
  ['>1.2', '1.2.9', false],
  ['<=1.2', '1.2.9', true],
  ['<=1.2', '1.3.0', false],
  ['<1.2.0', '1.1.9', true],
  ['1.2.3 || 2.x', '2.1.0', true],
  ['1.2.3 || 2.x', '1.2.4', false],
  ['*', '7.0.0', true],
  ['', '0.0.1', true],
  ['*', '1.0.0-rc.1', false],
  ['^1.2.3', '1.3.0-rc.1', false],
  ['^1.2.3-rc.1', '1.2.3-rc.2', true],
  ['^1.2.3-rc.1', '1.2.3', true],
  ['^1.2.3-rc.1', '1.2.4-rc.1', false],
  ['1.0.0+build.5', '1.0.0', true],
];

describe('semver ranges', () => {
  it.each(kRows)('%s on %s is %s', (range, version, expected) => {
    const parsed = parseSemverRange(range);
    expect(parsed).not.toBeNull();
    expect(satisfiesRange(version, parsed!)).toBe(expected);
  });

  it.each(['1.x.3', 'foo', '1.2.3 - 2.0.0', '^', '>=x.1', '01.2.3', '1.2.3.4', '>*', 'x'.repeat(300), '1.2-rc'])('refuses %j', (range) => {
    expect(parseSemverRange(range)).toBeNull();
  });

  it('maxSatisfying picks the highest version in range, null when none', () => {
    expect(maxSatisfying(['1.0.0', '1.5.0', '2.0.0', 'junk'], parseSemverRange('^1')!)).toBe('1.5.0');
    expect(maxSatisfying(['1.0.0', '1.10.0', '1.9.0'], parseSemverRange('~1.9 || ~1.10')!)).toBe('1.10.0');
    expect(maxSatisfying(['3.0.0'], parseSemverRange('^1')!)).toBeNull();
    expect(satisfiesRange('not-a-version', parseSemverRange('*')!)).toBe(false);
  });
});
