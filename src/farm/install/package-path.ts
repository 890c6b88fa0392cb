import { kPackagePathDepthMax, kPackagePathLengthMax } from './package-limits.js';

/**
 * The rule for file paths inside a package, checked wherever a path arrives (a
 * manifest, a directory walk, an archive, a peer's chunk request) before it touches the
 * disk. A path is relative, POSIX, made of segments of [A-Za-z0-9._@+~-], none of them
 * "." or ".." and none empty: it cannot name anything outside the package directory,
 * whatever the platform. Pure.
 */
export const kManifestFileName = 'galaxy-component.json';

const kSegmentPattern = /^[A-Za-z0-9._@+~-]+$/;

/** Why `path` is not an acceptable package file path, or null. */
export function packagePathProblem(path: unknown): string | null {
  if (typeof path !== 'string' || path.length === 0) return 'a file path must be a non-empty string';
  if (path.length > kPackagePathLengthMax) return `file path "${path.slice(0, 32)}…" is longer than ${kPackagePathLengthMax} characters`;
  if (path.startsWith('/')) return `file path "${path}" is absolute`;
  const segments = path.split('/');
  if (segments.length > kPackagePathDepthMax) return `file path "${path}" is deeper than ${kPackagePathDepthMax} levels`;
  for (const segment of segments) {
    if (segment === '') return `file path "${path}" has an empty segment`;
    if (segment === '.' || segment === '..') return `file path "${path}" has a "${segment}" segment`;
    if (!kSegmentPattern.test(segment)) return `file path "${path}" has characters outside A-Z a-z 0-9 . _ @ + ~ -`;
  }
  if (path === kManifestFileName) return `a package cannot hold a file named ${kManifestFileName} besides its manifest`;
  return null;
}

/**
 * Why a set of paths cannot coexist, or null: two equal paths, or a path that is both a
 * file and a directory of another ("lib" and "lib/a.js").
 */
export function pathSetProblem(paths: readonly string[]): string | null {
  const set = new Set<string>();
  for (const path of paths) {
    if (set.has(path)) return `file path "${path}" is listed twice`;
    set.add(path);
  }
  for (const path of paths) {
    for (let at = path.indexOf('/'); at >= 0; at = path.indexOf('/', at + 1)) {
      if (set.has(path.slice(0, at))) return `"${path.slice(0, at)}" is both a file and the directory of "${path}"`;
    }
  }
  return null;
}
