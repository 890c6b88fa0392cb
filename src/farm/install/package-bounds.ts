import { kPackageBytesMax, kPackageFilesMax } from './package-limits.js';

/**
 * The size bounds a package store, an archive reader and a fetcher apply. The defaults
 * are the farm's limits (package-limits.ts); a node may set tighter ones (a small
 * device, a test), never looser: the manifest schema itself holds the farm's limits.
 */
export interface PackageBounds {
  /** All file bytes of one package together. */
  readonly bytesMax: number;
  /** Files in one package. */
  readonly filesMax: number;
}

export const kPackageBoundsDefault: PackageBounds = Object.freeze({ bytesMax: kPackageBytesMax, filesMax: kPackageFilesMax });

/** The bounds filled in and checked, with a message naming the option. */
export function packageBounds(options: Partial<PackageBounds> = {}): PackageBounds {
  const bounds = { ...kPackageBoundsDefault, ...options };
  if (!Number.isSafeInteger(bounds.bytesMax) || bounds.bytesMax < 1 || bounds.bytesMax > kPackageBytesMax) throw new RangeError(`bounds.bytesMax must be an integer from 1 to ${kPackageBytesMax}`);
  if (!Number.isSafeInteger(bounds.filesMax) || bounds.filesMax < 1 || bounds.filesMax > kPackageFilesMax) throw new RangeError(`bounds.filesMax must be an integer from 1 to ${kPackageFilesMax}`);
  return Object.freeze(bounds);
}

/** Why a manifest's files exceed the bounds, or null. */
export function boundsProblem(files: ReadonlyArray<{ readonly bytes: number }>, bounds: PackageBounds): string | null {
  if (files.length > bounds.filesMax) return `${files.length} files (at most ${bounds.filesMax})`;
  const total = files.reduce((sum, f) => sum + f.bytes, 0);
  if (total > bounds.bytesMax) return `${total} bytes of files (at most ${bounds.bytesMax})`;
  return null;
}
