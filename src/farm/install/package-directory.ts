import { lstat, readdir, readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { digestFile } from './file-digest.js';
import { InstallError } from './install-error.js';
import { packageChecksum } from './package-checksum.js';
import type { PackageBounds } from './package-bounds.js';
import { checkPackageManifest, checkSourceManifest, parseManifestText, type PackageFile, type PackageManifest } from './package-manifest.js';
import { kManifestFileName, packagePathProblem } from './package-path.js';

/**
 * Seals a package directory: walks it, hashes every file, and returns the complete
 * manifest (files and checksum). A directory whose manifest already lists files and a
 * checksum is verified instead: every listed file must be there with its size and
 * sha256, nothing else may be there, and the checksum must hold. Symbolic links and
 * other non-regular files are refused (a link could point anywhere on the host).
 */
export interface SealedDirectory {
  readonly root: string;
  readonly manifest: PackageManifest;
}

export async function sealPackageDirectory(root: string, bounds: PackageBounds): Promise<SealedDirectory> {
  const where = join(root, kManifestFileName);
  let text: string;
  try {
    text = await readFile(where, 'utf8');
  } catch (error) {
    throw new InstallError('GALAXY_PACKAGE_BAD_MANIFEST', `${where}: cannot read the manifest (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  const source = checkSourceManifest(parseManifestText(text, where), where);
  const paths = await walk(root, bounds);
  const files: PackageFile[] = [];
  let total = 0;
  for (const path of paths) {
    const digest = await digestFile(join(root, path), bounds.bytesMax - total);
    total += digest.bytes;
    if (total > bounds.bytesMax) throw new InstallError('GALAXY_PACKAGE_TOO_LARGE', `${root}: the files hold more than ${bounds.bytesMax} bytes`);
    files.push({ path, sha256: digest.sha256, bytes: digest.bytes });
  }
  if (source.files !== undefined) compareListed(root, source.files, files);
  const { files: _files, checksum: _checksum, ...fields } = source;
  const checksum = packageChecksum(fields, files);
  if (source.checksum !== undefined && source.checksum !== checksum) {
    throw new InstallError('GALAXY_PACKAGE_CHECKSUM_MISMATCH', `${where}: the checksum ${source.checksum} does not match the package (computed ${checksum})`);
  }
  return { root, manifest: checkPackageManifest({ ...fields, files, checksum }, where) };
}

/** Every regular file under root but the manifest, as package paths, sorted; bounded by count. */
async function walk(root: string, bounds: PackageBounds): Promise<string[]> {
  const out: string[] = [];
  const pending = [root];
  while (pending.length > 0) {
    const dir = pending.pop()!;
    const entries = await readdir(dir, { withFileTypes: true });
    for (const entry of entries) {
      const absolute = join(dir, entry.name);
      const path = relative(root, absolute).split(sep).join('/');
      if (path === kManifestFileName) continue;
      const problem = packagePathProblem(path);
      if (problem !== null) throw new InstallError('GALAXY_PACKAGE_BAD_PATH', `${root}: ${problem}`);
      const stat = await lstat(absolute);
      if (stat.isDirectory()) {
        pending.push(absolute);
        continue;
      }
      if (!stat.isFile()) throw new InstallError('GALAXY_PACKAGE_BAD_FILE', `${root}: "${path}" is not a regular file (links and devices are refused)`);
      out.push(path);
      if (out.length > bounds.filesMax) throw new InstallError('GALAXY_PACKAGE_TOO_LARGE', `${root}: more than ${bounds.filesMax} files`);
    }
  }
  return out.sort();
}

function compareListed(root: string, listed: readonly PackageFile[], found: readonly PackageFile[]): void {
  const byPath = new Map(found.map((f) => [f.path, f]));
  for (const file of listed) {
    const actual = byPath.get(file.path);
    if (actual === undefined) throw new InstallError('GALAXY_PACKAGE_FILE_MISMATCH', `${root}: "${file.path}" is listed in the manifest but missing`);
    if (actual.bytes !== file.bytes || actual.sha256 !== file.sha256) {
      throw new InstallError('GALAXY_PACKAGE_FILE_MISMATCH', `${root}: "${file.path}" does not match the manifest (${actual.bytes} bytes, sha256 ${actual.sha256}; listed ${file.bytes} bytes, sha256 ${file.sha256})`);
    }
    byPath.delete(file.path);
  }
  const extra = [...byPath.keys()];
  if (extra.length > 0) throw new InstallError('GALAXY_PACKAGE_FILE_MISMATCH', `${root}: "${extra[0]}" is in the directory but not in the manifest${extra.length > 1 ? ` (and ${extra.length - 1} more)` : ''}`);
}
