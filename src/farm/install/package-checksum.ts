import { createHash } from 'node:crypto';

/**
 * The package checksum, defined precisely so any implementation can recompute it:
 *
 *   sha256 (lowercase hex) of the UTF-8 text
 *
 *     "galaxy-component-package 1\n"
 *     "manifest " + canonicalJson(M) + "\n"
 *     for each file, sorted by path (UTF-16 code unit order, which for the ASCII paths
 *     a package allows is byte order):
 *       sha256 + " " + bytes (decimal) + " " + path + "\n"
 *
 * where M is the manifest without its `files`, `checksum` and `format` fields (the
 * format is the number in the first line), and canonicalJson writes objects with their
 * keys sorted by code unit order, no whitespace, and otherwise as JSON.stringify does.
 * So the checksum covers every field of the manifest, not only the file list: a peer
 * cannot change the entry point, the configuration or the start order of a package
 * without changing its checksum.
 */
export const kChecksumFormatLine = 'galaxy-component-package 1';

export interface ChecksummedFile {
  readonly path: string;
  readonly sha256: string;
  readonly bytes: number;
}

/** JSON with object keys sorted at every level. Pure. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item === undefined ? null : item)).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const keys = Object.keys(value).filter((key) => (value as Record<string, unknown>)[key] !== undefined).sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The text the checksum is the sha256 of. Pure. */
export function checksumText(manifest: Readonly<Record<string, unknown>>, files: readonly ChecksummedFile[]): string {
  const { files: _files, checksum: _checksum, format: _format, ...rest } = manifest;
  const sorted = [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const lines = [kChecksumFormatLine, `manifest ${canonicalJson(rest)}`, ...sorted.map((f) => `${f.sha256} ${f.bytes} ${f.path}`)];
  return `${lines.join('\n')}\n`;
}

export function packageChecksum(manifest: Readonly<Record<string, unknown>>, files: readonly ChecksummedFile[]): string {
  return createHash('sha256').update(checksumText(manifest, files), 'utf8').digest('hex');
}
