import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { copyFile, lstat, mkdir, open, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { digestFile } from './file-digest.js';
import { InstallError } from './install-error.js';
import { extractPackageArchive } from './package-archive.js';
import { boundsProblem, packageBounds, type PackageBounds } from './package-bounds.js';
import { sealPackageDirectory } from './package-directory.js';
import { kChunkBytesMax, kVersionsKeptPerName } from './package-limits.js';
import { checkPackageManifest, kComponentNamePattern, packageBytes, packageId, parseManifestText, type PackageFile, type PackageManifest } from './package-manifest.js';
import { kManifestFileName, packagePathProblem } from './package-path.js';
import { compareSemver, isSemver } from './semver.js';

/**
 * The packages one node holds: `<root>/<name>/<version>/` with the manifest and the
 * files, each version immutable once there. Everything enters through a staging
 * directory (`<root>/.staging/<random>/`) and is verified file by file (size and
 * sha256) and as a whole (checksum) before one rename makes it visible, so a crash or a
 * bad byte never leaves a half package where a reader could find it.
 *
 * Content is verified again when read: `verify` hashes every file (before a component
 * is started from it), and `readChunk` hashes a file the first time it serves it and
 * again whenever its size, mtime or inode changed, so a node never passes on bytes that
 * rotted on its disk.
 */
export interface PackageSummary {
  readonly name: string;
  readonly version: string;
  readonly kind: string;
  readonly checksum: string;
  readonly entry: string;
  readonly bytes: number;
  readonly files: number;
  readonly startOrder: number;
  readonly dependsOn: readonly string[];
}

/** A directory files are gathered in before the store takes them as a package. */
export interface Staging {
  readonly dir: string;
  /** Absolute path of a package file inside the staging directory (its parent created). */
  file(path: string): Promise<string>;
  discard(): Promise<void>;
}

/** Verified files remembered at most, by path and stat signature; past it the memory starts over. */
const kVerifiedFilesRememberedMax = 4096;
const kStagingDirName = '.staging';

export class PackageStore {
  readonly root: string;
  readonly bounds: PackageBounds;
  /** Manifests parsed and checked, by package id, with the manifest file's stat signature. */
  private readonly manifests = new Map<string, { signature: string; manifest: PackageManifest }>();
  /** Files whose content matched their manifest, by absolute path: the stat signature then. */
  private readonly verifiedFiles = new Map<string, string>();

  constructor(root: string, bounds: Partial<PackageBounds> = {}) {
    this.root = root;
    this.bounds = packageBounds(bounds);
    mkdirSync(root, { recursive: true, mode: 0o755 });
    // A staging directory left by a crash holds nothing anyone refers to.
    rmSync(join(root, kStagingDirName), { recursive: true, force: true });
  }

  /** Every package held, sorted by name then version precedence. A version whose manifest is unreadable is left out. */
  list(): PackageSummary[] {
    const out: PackageSummary[] = [];
    for (const name of this.names()) {
      for (const version of this.versions(name)) {
        try {
          out.push(summary(this.manifest(name, version)));
        } catch {
          // A damaged package is not offered; verify() and readChunk() name the damage.
        }
      }
    }
    return out;
  }

  /** Versions of `name` held, lowest precedence first. */
  versions(name: string): string[] {
    if (!kComponentNamePattern.test(name)) return [];
    let entries: string[];
    try {
      entries = readdirSync(join(this.root, name));
    } catch {
      return [];
    }
    return entries.filter((version) => isSemver(version)).sort(compareSemver);
  }

  has(name: string, version: string): boolean {
    if (!validId(name, version)) return false;
    try {
      return statSync(join(this.dir(name, version), kManifestFileName)).isFile();
    } catch {
      return false;
    }
  }

  /** The package's manifest (schema and checksum checked); throws GALAXY_PACKAGE_UNKNOWN. */
  manifest(name: string, version: string): PackageManifest {
    const id = packageId(name, version);
    if (!validId(name, version)) throw new InstallError('GALAXY_PACKAGE_UNKNOWN', `no package ${id}`);
    const path = join(this.dir(name, version), kManifestFileName);
    let signature: string;
    try {
      signature = statSignature(statSync(path));
    } catch {
      throw new InstallError('GALAXY_PACKAGE_UNKNOWN', `no package ${id} on this node`);
    }
    const cached = this.manifests.get(id);
    if (cached !== undefined && cached.signature === signature) return cached.manifest;
    const manifest = checkPackageManifest(parseManifestText(readFileSync(path, 'utf8'), path), path);
    if (manifest.name !== name || manifest.version !== version) throw new InstallError('GALAXY_PACKAGE_BAD_MANIFEST', `${path}: the manifest names ${packageId(manifest.name, manifest.version)}`);
    this.manifests.set(id, { signature, manifest });
    return manifest;
  }

  /** Absolute path of the package's entry module, for the component host. */
  modulePath(name: string, version: string): string {
    return join(this.dir(name, version), this.manifest(name, version).entry);
  }

  /** Hashes every file of the package against its manifest; throws GALAXY_PACKAGE_FILE_MISMATCH naming the first bad file. */
  async verify(name: string, version: string): Promise<PackageManifest> {
    const manifest = this.manifest(name, version);
    const dir = this.dir(name, version);
    for (const file of manifest.files) await this.verifyFile(join(dir, file.path), file, packageId(name, version), true);
    return manifest;
  }

  /** Imports a package directory (sealed or a source directory, which is sealed on the way). */
  async importDirectory(dir: string): Promise<PackageManifest> {
    const { manifest } = await sealPackageDirectory(dir, this.bounds);
    const staging = await this.createStaging();
    try {
      for (const file of manifest.files) await copyFile(join(dir, file.path), await staging.file(file.path));
      return await this.commit(staging, manifest);
    } catch (error) {
      await staging.discard();
      throw error;
    }
  }

  /** Imports a package archive (.gxpkg). */
  async importArchive(path: string): Promise<PackageManifest> {
    const staging = await this.createStaging();
    try {
      const manifest = await extractPackageArchive(path, staging.dir, this.bounds);
      return await this.commit(staging, manifest);
    } catch (error) {
      await staging.discard();
      throw error;
    }
  }

  /** A fresh staging directory; the caller commits or discards it. */
  async createStaging(): Promise<Staging> {
    const dir = join(this.root, kStagingDirName, randomBytes(8).toString('hex'));
    await mkdir(dir, { recursive: true, mode: 0o755 });
    return {
      dir,
      file: async (path) => {
        const problem = packagePathProblem(path);
        if (problem !== null) throw new InstallError('GALAXY_PACKAGE_BAD_PATH', problem);
        const target = join(dir, path);
        await mkdir(dirname(target), { recursive: true, mode: 0o755 });
        return target;
      },
      discard: () => rm(dir, { recursive: true, force: true }),
    };
  }

  /**
   * Takes a staging directory as the package `manifest` describes: checks the bounds,
   * verifies every file, writes the manifest and renames the directory into place.
   * Idempotent for the same content; GALAXY_PACKAGE_CONFLICT for other content under
   * the same name and version. The staging directory is gone afterwards either way.
   */
  async commit(staging: Staging, manifest: PackageManifest): Promise<PackageManifest> {
    const id = packageId(manifest.name, manifest.version);
    try {
      const checked = checkPackageManifest(manifest, id);
      const problem = boundsProblem(checked.files, this.bounds);
      if (problem !== null) throw new InstallError('GALAXY_PACKAGE_TOO_LARGE', `${id}: ${problem}`);
      for (const file of checked.files) await this.verifyFile(join(staging.dir, file.path), file, id, false);
      await writeFile(join(staging.dir, kManifestFileName), `${JSON.stringify(checked, null, 2)}\n`, { mode: 0o644, flag: 'wx' });
      await mkdir(join(this.root, checked.name), { recursive: true, mode: 0o755 });
      const existing = this.existingChecksum(checked.name, checked.version);
      if (existing === null) {
        try {
          await rename(staging.dir, this.dir(checked.name, checked.version));
          return checked;
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code;
          if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw error;
        }
      }
      // Held already (or committed concurrently): the same content is no change.
      const held = this.manifest(checked.name, checked.version);
      if (held.checksum !== checked.checksum) throw new InstallError('GALAXY_PACKAGE_CONFLICT', `${id} is held already with checksum ${held.checksum}, not ${checked.checksum}: a version cannot change; publish a new one`);
      return held;
    } finally {
      await staging.discard();
    }
  }

  /** Removes a version (the caller checks it is not installed). */
  remove(name: string, version: string): void {
    if (!this.has(name, version)) throw new InstallError('GALAXY_PACKAGE_UNKNOWN', `no package ${packageId(name, version)} on this node`);
    // Renamed away first, so a reader sees the whole package or none of it.
    const trash = join(this.root, kStagingDirName, `removed-${randomBytes(8).toString('hex')}`);
    mkdirSync(dirname(trash), { recursive: true, mode: 0o755 });
    renameSync(this.dir(name, version), trash);
    rmSync(trash, { recursive: true, force: true });
    this.manifests.delete(packageId(name, version));
  }

  /**
   * Removes old versions of `name`: those below the newest version in `keep`, beyond the
   * `keptMax - keep.size` highest of them, and never one in `keep`. Newer versions stay
   * whatever their number: an operator adds them ahead of a rollout. So the disk holds a
   * bounded history behind what runs (enough to roll back). Returns the versions removed.
   */
  prune(name: string, keep: ReadonlySet<string>, keptMax = kVersionsKeptPerName): string[] {
    const newestKept = [...keep].filter(isSemver).sort(compareSemver).at(-1);
    if (newestKept === undefined) return [];
    const older = this.versions(name).filter((v) => !keep.has(v) && compareSemver(v, newestKept) < 0);
    const room = Math.max(0, keptMax - keep.size);
    const doomed = older.slice(0, Math.max(0, older.length - room));
    for (const version of doomed) this.remove(name, version);
    return doomed;
  }

  /**
   * Bytes of one file of a package, for a peer fetching it: at most kChunkBytesMax, inside
   * the file, from a file whose content matches the manifest.
   */
  async readChunk(name: string, version: string, path: string, offset: number, length: number): Promise<Buffer> {
    const id = packageId(name, version);
    const manifest = this.manifest(name, version);
    const file = manifest.files.find((f) => f.path === path);
    if (file === undefined) throw new InstallError('GALAXY_INSTALL_BAD_REQUEST', `${id} has no file "${path}"`);
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || length > kChunkBytesMax || offset + length > file.bytes) {
      throw new InstallError('GALAXY_INSTALL_BAD_REQUEST', `${id} "${path}": bytes ${offset}+${length} are not within its ${file.bytes} bytes in chunks of at most ${kChunkBytesMax}`);
    }
    const absolute = join(this.dir(name, version), path);
    await this.verifyFile(absolute, file, id, true);
    const handle = await open(absolute, 'r');
    try {
      const buffer = Buffer.alloc(length);
      const { bytesRead } = await handle.read(buffer, 0, length, offset);
      if (bytesRead !== length) throw new InstallError('GALAXY_PACKAGE_FILE_MISMATCH', `${id} "${path}" is shorter than its manifest says`);
      return buffer;
    } finally {
      await handle.close();
    }
  }

  /** Bytes of all files of a package, from its manifest. */
  bytes(name: string, version: string): number {
    return packageBytes(this.manifest(name, version));
  }

  private dir(name: string, version: string): string {
    return join(this.root, name, version);
  }

  private names(): string[] {
    try {
      return readdirSync(this.root)
        .filter((name) => kComponentNamePattern.test(name))
        .sort();
    } catch {
      return [];
    }
  }

  private existingChecksum(name: string, version: string): string | null {
    return this.has(name, version) ? this.manifest(name, version).checksum : null;
  }

  /** Checks size and sha256 of one file; `remember` caches the result by stat signature (files in the store, not staging). */
  private async verifyFile(absolute: string, file: PackageFile, id: string, remember: boolean): Promise<void> {
    let stat;
    try {
      stat = await lstat(absolute);
    } catch {
      throw new InstallError('GALAXY_PACKAGE_FILE_MISMATCH', `${id}: "${file.path}" is missing`);
    }
    if (!stat.isFile()) throw new InstallError('GALAXY_PACKAGE_BAD_FILE', `${id}: "${file.path}" is not a regular file`);
    const signature = statSignature(stat);
    if (remember && this.verifiedFiles.get(absolute) === signature) return;
    if (stat.size !== file.bytes) throw new InstallError('GALAXY_PACKAGE_FILE_MISMATCH', `${id}: "${file.path}" has ${stat.size} bytes, the manifest says ${file.bytes}`);
    const digest = await digestFile(absolute, file.bytes);
    if (digest.bytes !== file.bytes || digest.sha256 !== file.sha256) throw new InstallError('GALAXY_PACKAGE_FILE_MISMATCH', `${id}: "${file.path}" does not match its sha256 in the manifest (a changed or damaged byte)`);
    if (!remember) return;
    if (this.verifiedFiles.size >= kVerifiedFilesRememberedMax) this.verifiedFiles.clear();
    this.verifiedFiles.set(absolute, signature);
  }
}

function validId(name: string, version: string): boolean {
  return kComponentNamePattern.test(name) && isSemver(version);
}

function statSignature(stat: { size: number; mtimeMs: number; ino: number; ctimeMs: number }): string {
  return `${stat.size}:${stat.mtimeMs}:${stat.ctimeMs}:${stat.ino}`;
}

export function summary(manifest: PackageManifest): PackageSummary {
  return {
    name: manifest.name,
    version: manifest.version,
    kind: manifest.kind,
    checksum: manifest.checksum,
    entry: manifest.entry,
    bytes: packageBytes(manifest),
    files: manifest.files.length,
    startOrder: manifest.startOrder ?? 0,
    dependsOn: manifest.dependsOn ?? [],
  };
}
