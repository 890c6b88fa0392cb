import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { InstallError } from './install-error.js';
import { boundsProblem, type PackageBounds } from './package-bounds.js';
import { sealPackageDirectory } from './package-directory.js';
import { kManifestBytesMax } from './package-limits.js';
import { checkPackageManifest, parseManifestText, type PackageManifest } from './package-manifest.js';

/**
 * The package archive (.gxpkg): one file carrying a sealed package. Its own format
 * rather than tar, because the manifest already is the index (paths, sizes, hashes):
 * the archive needs no per-file headers, so there is nothing in it that could name a
 * path, a link or a device the manifest does not, and its exact length is known before
 * a byte is extracted.
 *
 *   offset 0   8 bytes   magic "GALAXYPK"
 *   offset 8   u8        format version: 1
 *   offset 9   3 bytes   zero
 *   offset 12  u32 BE    manifest length in bytes (at most kManifestBytesMax)
 *   offset 16            the sealed manifest (JSON, UTF-8)
 *   then                 each file's bytes, in the manifest's `files` order
 *   end                  nothing after the last file
 *
 * Reading checks the magic, the manifest (schema, checksum, bounds) and that the length
 * is exactly header + manifest + the files' bytes, then extracts to a staging directory
 * the package store verifies file by file before taking it.
 */
export const kArchiveMagic = 'GALAXYPK';
export const kArchiveFormatVersion = 1;
export const kArchiveHeaderBytes = 16;
export const kArchiveSuffix = '.gxpkg';

/** Bytes copied per read. */
const kCopyBytes = 1024 * 1024;

export function archiveFileName(manifest: Pick<PackageManifest, 'name' | 'version'>): string {
  return `${manifest.name}-${manifest.version}${kArchiveSuffix}`;
}

/** Seals `dir` and writes its archive to `outPath` (through a temporary file and a rename). */
export async function writePackageArchive(dir: string, outPath: string, bounds: PackageBounds): Promise<PackageManifest> {
  const { manifest } = await sealPackageDirectory(dir, bounds);
  const manifestBytes = Buffer.from(JSON.stringify(manifest), 'utf8');
  if (manifestBytes.length > kManifestBytesMax) throw new InstallError('GALAXY_PACKAGE_TOO_LARGE', `${dir}: the sealed manifest is larger than ${kManifestBytesMax} bytes`);
  const header = Buffer.alloc(kArchiveHeaderBytes);
  header.write(kArchiveMagic, 0, 'latin1');
  header[8] = kArchiveFormatVersion;
  header.writeUInt32BE(manifestBytes.length, 12);
  const temporary = `${outPath}.${randomBytes(6).toString('hex')}.tmp`;
  const out = await open(temporary, 'wx', 0o644);
  try {
    await out.write(header);
    await out.write(manifestBytes);
    // Each file is hashed again as it is copied: a file changed since sealing must not
    // end up in an archive whose manifest says otherwise.
    for (const file of manifest.files) await copyVerified(join(dir, file.path), out, file);
    await out.sync();
    await out.close();
    await rename(temporary, outPath);
  } catch (error) {
    await out.close().catch(() => {});
    await rm(temporary, { force: true });
    throw error;
  }
  return manifest;
}

async function copyVerified(path: string, out: FileHandle, file: PackageManifest['files'][number]): Promise<void> {
  const input = await open(path, 'r');
  try {
    const hash = createHash('sha256');
    const buffer = Buffer.allocUnsafe(kCopyBytes);
    let copied = 0;
    for (;;) {
      const { bytesRead } = await input.read(buffer, 0, Math.min(kCopyBytes, file.bytes + 1 - copied), null);
      if (bytesRead === 0) break;
      copied += bytesRead;
      if (copied > file.bytes) break;
      hash.update(buffer.subarray(0, bytesRead));
      await out.write(buffer.subarray(0, bytesRead));
    }
    if (copied !== file.bytes || hash.digest('hex') !== file.sha256) throw new InstallError('GALAXY_PACKAGE_FILE_MISMATCH', `"${file.path}" changed while the archive was written`);
  } finally {
    await input.close();
  }
}

/**
 * Reads an archive's header and manifest and extracts its files into `stagingDir`
 * (which must exist and be empty). Returns the manifest; the caller verifies the
 * extracted files against it.
 */
export async function extractPackageArchive(path: string, stagingDir: string, bounds: PackageBounds): Promise<PackageManifest> {
  let input: FileHandle;
  try {
    input = await open(path, 'r');
  } catch (error) {
    throw new InstallError('GALAXY_PACKAGE_BAD_ARCHIVE', `${path}: cannot open it (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  try {
    const size = (await input.stat()).size;
    const header = await readExactly(input, kArchiveHeaderBytes, 0, path, 'the header');
    if (header.toString('latin1', 0, 8) !== kArchiveMagic) throw new InstallError('GALAXY_PACKAGE_BAD_ARCHIVE', `${path}: not a component package archive (no ${kArchiveMagic} magic)`);
    if (header[8] !== kArchiveFormatVersion || header[9] !== 0 || header[10] !== 0 || header[11] !== 0) throw new InstallError('GALAXY_PACKAGE_BAD_ARCHIVE', `${path}: archive format ${header[8]} is not supported (this node reads ${kArchiveFormatVersion})`);
    const manifestLength = header.readUInt32BE(12);
    if (manifestLength > kManifestBytesMax) throw new InstallError('GALAXY_PACKAGE_TOO_LARGE', `${path}: a manifest of ${manifestLength} bytes (at most ${kManifestBytesMax})`);
    const manifestText = (await readExactly(input, manifestLength, kArchiveHeaderBytes, path, 'the manifest')).toString('utf8');
    const manifest = checkPackageManifest(parseManifestText(manifestText, path), path);
    const problem = boundsProblem(manifest.files, bounds);
    if (problem !== null) throw new InstallError('GALAXY_PACKAGE_TOO_LARGE', `${path}: ${problem}`);
    const expected = kArchiveHeaderBytes + manifestLength + manifest.files.reduce((sum, f) => sum + f.bytes, 0);
    if (size !== expected) throw new InstallError('GALAXY_PACKAGE_BAD_ARCHIVE', `${path}: ${size} bytes where the manifest accounts for ${expected} (${size < expected ? 'truncated' : 'trailing bytes'})`);
    let offset = kArchiveHeaderBytes + manifestLength;
    for (const file of manifest.files) {
      await extractFile(input, offset, file.bytes, join(stagingDir, file.path), path);
      offset += file.bytes;
    }
    return manifest;
  } finally {
    await input.close();
  }
}

async function extractFile(input: FileHandle, offset: number, bytes: number, target: string, archive: string): Promise<void> {
  await mkdir(dirname(target), { recursive: true, mode: 0o755 });
  const out = await open(target, 'wx', 0o644);
  try {
    const buffer = Buffer.allocUnsafe(Math.min(kCopyBytes, Math.max(bytes, 1)));
    for (let done = 0; done < bytes; ) {
      const want = Math.min(buffer.length, bytes - done);
      const { bytesRead } = await input.read(buffer, 0, want, offset + done);
      if (bytesRead !== want) throw new InstallError('GALAXY_PACKAGE_BAD_ARCHIVE', `${archive}: truncated inside a file`);
      await out.write(buffer.subarray(0, bytesRead));
      done += bytesRead;
    }
  } finally {
    await out.close();
  }
}

async function readExactly(input: FileHandle, length: number, position: number, path: string, what: string): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  const { bytesRead } = await input.read(buffer, 0, length, position);
  if (bytesRead !== length) throw new InstallError('GALAXY_PACKAGE_BAD_ARCHIVE', `${path}: truncated in ${what}`);
  return buffer;
}
