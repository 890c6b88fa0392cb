import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseProfileDocument, type ProfileDocument } from './profile-document.js';
import { ProfileError, type ProfileProblem } from './profile-error.js';
import { kProfileBytesMax, kProfileFilesMax } from './profile-limits.js';
import { ListProfileSource, parseDocuments } from './profile-source.js';

/**
 * Profiles as files, for the CLI: one file read and parsed, or a directory of them
 * (`*.yaml`, `*.yml`, not recursive) as the source parents and mixins are found in.
 */
export function readProfileFile(file: string): ProfileDocument {
  let text: string;
  try {
    if (statSync(file).size > kProfileBytesMax) throw ProfileError.of('GALAXY_PROFILE_TOO_LARGE', file, '', `is larger than ${kProfileBytesMax} bytes`);
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if (error instanceof ProfileError) throw error;
    throw ProfileError.of('GALAXY_PROFILE_UNREADABLE', file, '', (error as Error).message);
  }
  return parseProfileDocument(file, text);
}

export interface ProfileDirectory {
  readonly source: ListProfileSource;
  /** Files that did not parse: left out of the source; shown when a lookup then fails. */
  readonly skipped: readonly ProfileProblem[];
}

/**
 * Every profile in `dir`, plus `extra` documents (the file being validated, which may
 * live elsewhere). A document read twice (the file is also in the directory) counts
 * once.
 */
export function readProfileDirectory(dir: string, extra: readonly ProfileDocument[] = []): ProfileDirectory {
  let names: string[];
  try {
    names = readdirSync(dir).filter((name) => /\.ya?ml$/.test(name)).sort();
  } catch (error) {
    throw ProfileError.of('GALAXY_PROFILE_UNREADABLE', dir, '', (error as Error).message);
  }
  if (names.length > kProfileFilesMax) throw ProfileError.of('GALAXY_PROFILE_TOO_LARGE', dir, '', `holds ${names.length} profile files; at most ${kProfileFilesMax} are read`);
  const skipped: ProfileProblem[] = [];
  const extraPaths = new Set(extra.map((d) => resolve(d.file)));
  const files = names.map((name) => join(dir, name)).filter((file) => !extraPaths.has(resolve(file)));
  const documents = parseDocuments(
    files.flatMap((file) => {
      try {
        return [{ file, text: readFileSync(file, 'utf8') }];
      } catch (error) {
        skipped.push({ code: 'GALAXY_PROFILE_UNREADABLE', file, path: '', reason: (error as Error).message });
        return [];
      }
    }),
    skipped,
  );
  return { source: new ListProfileSource([...extra, ...documents], `directory ${dir}`), skipped };
}
