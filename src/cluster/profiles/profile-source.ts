import { compareSemver, maxSatisfying, parseSemverRange } from '../../farm/install/semver.js';
import { parseProfileDocument, type ProfileDocument } from './profile-document.js';
import { ProfileError, type ProfileProblem } from './profile-error.js';

/**
 * Where parents and mixins are looked up by name and version range: a directory of
 * files (the CLI), the FMIDB registry (profile-registry.ts), or a list in a test. A
 * source is a set of documents; the highest version in range wins.
 */
export interface ProfileSource {
  /** The documents named `name`, every version; empty when there are none. */
  versionsOf(name: string): readonly ProfileDocument[];
  /** Every name known, sorted (for "not found; known: ..." messages). */
  names(): readonly string[];
  /** Where the source is, for messages: "directory profiles/", "the FMIDB". */
  readonly where: string;
}

/** A source over documents already parsed; refuses two documents with the same name@version. */
export class ListProfileSource implements ProfileSource {
  private readonly byName = new Map<string, ProfileDocument[]>();
  readonly where: string;

  constructor(documents: readonly ProfileDocument[], where: string) {
    this.where = where;
    const problems: ProfileProblem[] = [];
    for (const document of documents) {
      const list = this.byName.get(document.name) ?? [];
      const twin = list.find((other) => other.version === document.version);
      if (twin !== undefined) {
        problems.push({ code: 'GALAXY_PROFILE_DUPLICATE', file: document.file, path: 'version', reason: `${document.name}@${document.version} is also defined by ${twin.file}` });
        continue;
      }
      list.push(document);
      this.byName.set(document.name, list);
    }
    if (problems.length > 0) throw new ProfileError(problems);
  }

  versionsOf(name: string): readonly ProfileDocument[] {
    return this.byName.get(name) ?? [];
  }

  names(): readonly string[] {
    return [...this.byName.keys()].sort();
  }
}

/** Parses each (file, text) pair; a file that does not parse is left out of the index and reported through `skipped`. */
export function parseDocuments(files: ReadonlyArray<{ readonly file: string; readonly text: string }>, skipped: ProfileProblem[] = []): ProfileDocument[] {
  const documents: ProfileDocument[] = [];
  for (const { file, text } of files) {
    try {
      documents.push(parseProfileDocument(file, text));
    } catch (error) {
      if (!(error instanceof ProfileError)) throw error;
      skipped.push(...error.problems);
    }
  }
  return documents;
}

/**
 * The document `name@range` names in the source (the highest version in range), or
 * null. `range` null means any version, releases before pre-releases.
 */
export function findProfile(source: ProfileSource, name: string, range: string | null): ProfileDocument | null {
  const versions = source.versionsOf(name);
  if (versions.length === 0) return null;
  const parsed = parseSemverRange(range ?? '*');
  if (parsed === null) return null;
  let chosen = maxSatisfying(versions.map((d) => d.version), parsed);
  // `name` alone still finds a profile that only has pre-releases.
  if (chosen === null && range === null) chosen = versions.map((d) => d.version).sort(compareSemver).at(-1) ?? null;
  return versions.find((d) => d.version === chosen) ?? null;
}
