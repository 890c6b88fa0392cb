import { FmidbError } from '../../core/fmidb/fmidb-error.js';
import type { FarmData } from '../../farm/data/farm-data.js';
import type { ApiEvent } from '../../core/util/api-event.js';
import { checkComposition } from './profile-check.js';
import { composeProfile, type Composition } from './profile-composer.js';
import { diffProfiles, formatDiff, type DiffEntry } from './profile-diff.js';
import { parseProfileDocument, type ProfileDocument } from './profile-document.js';
import { ProfileError, type ProfileProblem } from './profile-error.js';
import { missingComponents, type MissingComponent, type PackageCatalog } from './package-catalog.js';
import { ProfileRegistry, kProfileSubjectPrefix, kRegistryVersionsMax, type RegistryEntry } from './profile-registry.js';
import { renderProfile } from './profile-render.js';
import { kProfileRefPattern, type Profile, type ProfileKind } from './profile-schema.js';
import { findProfile, ListProfileSource, type ProfileSource } from './profile-source.js';

/**
 * The profiles stored in the FMIDB as the agent serves them (`galaxy profile
 * import|ls|show|export|rm|render|diff` and the Cluster Designer): ProfileRegistry keeps
 * the texts (subject `profile/NAME`, keys `VERSION#N` and `VERSION#meta`); this class
 * checks what goes in and composes what comes out.
 *
 * An import is all or nothing: every file is parsed, composed against the profiles
 * already stored plus the other files of the same import (so a parent and its child can
 * be imported together, in any order), and a ClusterProfile is checked whole; only when
 * every file passes is anything written. So the FMIDB never holds a profile whose
 * parents it does not hold. A file's parent that exists only on disk is refused with the
 * names the FMIDB knows: import the parent too.
 *
 * The writes are asynchronous (the replica runs in the agent's worker), so imports and
 * removals of this library run one at a time: each checks against what the view holds
 * once the one before it has been written. The files are written one after the other,
 * in the order given; the FMIDB may still refuse a write after the checks (a full
 * subject, say). Then what remains is: the files before the refused one, stored whole
 * (a child given before a parent whose write was refused is stored without its parent
 * and does not compose until the parent is imported), the refused file's parts written
 * in batches before the refusal as keys without a meta (not listed, overwritten by a
 * later import of that version), and nothing of the files after it.
 *
 * Errors are ProfileErrors (file, path, reason), DomainErrors to the API.
 */
export interface ProfileLibraryOptions {
  readonly data: Pick<FarmData, 'view' | 'config' | 'write'>;
  /** The packages known on this node (farm components and the package store): for "missing components". */
  readonly catalog: () => PackageCatalog;
  /** Where `profile` events go (imported, removed): the agent's event stream. */
  readonly publish?: (event: ApiEvent) => void;
}

/**
 * A stored text is at most this long: the registry writes a version's parts in one
 * FMIDB batch, which must fit one replication frame (streamFrameBytesMax, 256 KiB), and
 * the text travels in an API body (256 KiB) as a JSON string.
 */
export const kStoredProfileBytesMax = 192 * 1024;
/** Files in one import request. */
export const kImportFilesMax = 64;

/** A profile given to render, diff or the designer: a stored `name[@range]`, or a file's text. */
export type ProfileInput = { readonly ref: string } | { readonly file: string; readonly text: string };

export interface StoredVersion {
  readonly name: string;
  readonly version: string;
  readonly kind: ProfileKind | null;
  readonly bytes: number;
  /** All parts replicated here and matching the digest; a pending version is not used yet. */
  readonly complete: boolean;
  readonly extends: string | null;
  readonly mixins: readonly string[];
  /** Composes and checks against the stored profiles now. */
  readonly valid: boolean;
  /** Why not, when it is not valid (first problem). */
  readonly problem: string | null;
  /** Components no package known here provides (a ClusterProfile only). */
  readonly missing: readonly MissingComponent[];
}

export interface ImportedProfile {
  readonly file: string;
  readonly ref: string;
  readonly kind: ProfileKind;
  /** False when the same text was stored already. */
  readonly written: boolean;
  readonly missing: readonly MissingComponent[];
}

export interface ShownProfile extends StoredVersion {
  readonly ref: string;
  /** The text as imported. */
  readonly text: string;
  /** The composed profile as YAML (null when it does not compose). */
  readonly rendered: string | null;
  readonly lineage: readonly string[];
}

/** A source over two sources: the first one's versions first (the files being imported over those stored). */
class StackedSource implements ProfileSource {
  readonly where: string;
  constructor(
    private readonly top: ProfileSource,
    private readonly bottom: ProfileSource,
  ) {
    this.where = `${top.where} and ${bottom.where}`;
  }

  versionsOf(name: string): readonly ProfileDocument[] {
    const top = this.top.versionsOf(name);
    const versions = new Set(top.map((d) => d.version));
    return [...top, ...this.bottom.versionsOf(name).filter((d) => !versions.has(d.version))];
  }

  names(): readonly string[] {
    return [...new Set([...this.top.names(), ...this.bottom.names()])].sort();
  }
}

function directives(document: ProfileDocument): { extends: string | null; mixins: string[] } {
  const parent = document.value['extends'];
  const mixins = document.value['mixins'];
  return { extends: typeof parent === 'string' ? parent : null, mixins: Array.isArray(mixins) ? mixins.filter((m): m is string => typeof m === 'string') : [] };
}

export class ProfileLibrary {
  readonly registry: ProfileRegistry;
  private readonly options: ProfileLibraryOptions;
  /** Stored texts parsed before, by name@version (a YAML parse costs far more than the FMIDB read); at most kRegistryVersionsMax. */
  private readonly parsed = new Map<string, { readonly text: string; readonly document: ProfileDocument | null }>();
  /** The import or removal running now (they run one at a time: each checks, then writes). */
  private writing: Promise<unknown> = Promise.resolve();

  constructor(options: ProfileLibraryOptions) {
    this.options = options;
    this.registry = new ProfileRegistry(options.data);
  }

  /** Checks every file, then stores them all (or none: see the class comment for a write the FMIDB refuses midway). */
  importProfiles(files: ReadonlyArray<{ readonly file: string; readonly text: string }>, by = 'local'): Promise<ImportedProfile[]> {
    return this.oneAtATime(() => this.importNow(files, by));
  }

  private async importNow(files: ReadonlyArray<{ readonly file: string; readonly text: string }>, by: string): Promise<ImportedProfile[]> {
    if (files.length === 0) throw ProfileError.of('GALAXY_PROFILE_BAD_INPUT', '(import)', '', 'give at least one profile file');
    if (files.length > kImportFilesMax) throw ProfileError.of('GALAXY_PROFILE_TOO_LARGE', '(import)', '', `${files.length} files in one import; at most ${kImportFilesMax}`);
    const problems: ProfileProblem[] = [];
    const documents: Array<{ document: ProfileDocument; text: string }> = [];
    for (const { file, text } of files) {
      const bytes = Buffer.byteLength(text, 'utf8');
      if (bytes > kStoredProfileBytesMax) {
        problems.push({ code: 'GALAXY_PROFILE_TOO_LARGE', file, path: '', reason: `is ${bytes} bytes; the FMIDB stores profiles of at most ${kStoredProfileBytesMax} bytes (one replication frame): split it with extends or mixins` });
        continue;
      }
      try {
        documents.push({ document: parseProfileDocument(file, text), text });
      } catch (error) {
        if (!(error instanceof ProfileError)) throw error;
        problems.push(...error.problems);
      }
    }
    if (problems.length > 0) throw new ProfileError(problems);
    // Two files of the import with the same name@version are refused here (ListProfileSource).
    const batch = new ListProfileSource(documents.map((d) => d.document), 'the files imported');
    const source = new StackedSource(batch, this.snapshot().source);
    const catalog = this.options.catalog();
    const results: ImportedProfile[] = [];
    for (const { document, text } of documents) {
      const ref = `${document.name}@${document.version}`;
      const stored = this.registry.exportProfile(document.name, document.version);
      if (stored !== null && stored !== text) {
        problems.push({ code: 'GALAXY_PROFILE_REGISTRY', file: document.file, path: 'version', reason: `${ref} is already in the FMIDB with other content; a profile version is immutable: publish a new version` });
        continue;
      }
      try {
        const composition = composeProfile(document, source);
        const missing = document.kind === 'ClusterProfile' ? missingComponents(checkComposition(composition), catalog) : [];
        results.push({ file: document.file, ref, kind: document.kind, written: stored === null, missing });
      } catch (error) {
        if (!(error instanceof ProfileError)) throw error;
        problems.push(...error.problems);
      }
    }
    if (problems.length > 0) throw new ProfileError(problems);
    for (const { document, text } of documents) {
      try {
        await this.registry.importProfile(document.file, text);
      } catch (error) {
        if (error instanceof FmidbError) {
          const reason =
            error.code === 'FMIDB_KEYS_PER_NODE_EXCEEDED'
              ? `the FMIDB subject ${kProfileSubjectPrefix}${document.name} is full (${this.options.data.config.keysPerNodeMax} keys: every version takes its parts and a meta key): remove old versions with galaxy profile rm; their keys are free again once the FMIDB reaps the deletions (after ${Math.round(this.options.data.config.tombstoneReapMs / 1000)} s)`
              : `the FMIDB refused it: ${error.code}: ${error.message}`;
          throw ProfileError.of('GALAXY_PROFILE_REGISTRY', document.file, '', reason);
        }
        throw error;
      }
    }
    const written = results.filter((r) => r.written).map((r) => r.ref);
    if (written.length > 0) this.options.publish?.({ kind: 'profile', type: 'imported', time: new Date().toISOString(), body: { profiles: written, by } });
    return results;
  }

  /** Every stored version, with what it extends and what is missing to deploy it. */
  list(): StoredVersion[] {
    const catalog = this.options.catalog();
    const { entries, source } = this.snapshot();
    return entries.map((entry) => this.describe(source, entry, catalog).summary);
  }

  /** One stored profile: `name` (the highest version) or `name@range`. */
  show(ref: string): ShownProfile {
    const { entries, source } = this.snapshot();
    const document = this.find(ref, source);
    const entry = entries.find((e) => e.name === document.name && e.version === document.version)!;
    const { summary, composition } = this.describe(source, entry, this.options.catalog());
    return {
      ...summary,
      ref: `${document.name}@${document.version}`,
      text: this.registry.exportProfile(document.name, document.version)!,
      rendered: composition === null || !summary.valid ? null : renderProfile(composition),
      lineage: composition?.lineage ?? [],
    };
  }

  /** The text as imported, byte for byte. */
  exportText(ref: string): { ref: string; text: string } {
    const document = this.find(ref);
    return { ref: `${document.name}@${document.version}`, text: this.registry.exportProfile(document.name, document.version)! };
  }

  /** Deletes name@version farm-wide (refused while another stored profile composes from it). */
  remove(name: string, version: string, by = 'local'): Promise<void> {
    return this.oneAtATime(() => this.removeNow(name, version, by));
  }

  private async removeNow(name: string, version: string, by: string): Promise<void> {
    const ref = `${name}@${version}`;
    const { entries, source } = this.snapshot();
    if (!entries.some((e) => e.name === name && e.version === version)) {
      throw ProfileError.of('GALAXY_PROFILE_UNKNOWN', ProfileRegistry.fileOf(name, version), '', `${ref} is not stored (stored: ${this.storedRefs()})`);
    }
    const composesFrom = (document: ProfileDocument): boolean => {
      try {
        return composeProfile(document, source).lineage.includes(ref);
      } catch (error) {
        if (error instanceof ProfileError) return false;
        throw error;
      }
    };
    const dependents: string[] = [];
    for (const other of source.names()) {
      for (const document of source.versionsOf(other)) {
        if (document.name === name && document.version === version) continue;
        // Another version in range would not do: a stored profile's composition must not change under it.
        if (composesFrom(document)) dependents.push(`${document.name}@${document.version}`);
      }
    }
    if (dependents.length > 0) throw ProfileError.of('GALAXY_PROFILE_REGISTRY', ProfileRegistry.fileOf(name, version), '', `${ref} is composed into ${dependents.join(', ')}: remove those first`);
    await this.registry.remove(name, version);
    this.options.publish?.({ kind: 'profile', type: 'removed', time: new Date().toISOString(), body: { profile: ref, by } });
  }

  /** Runs `fn` after the import or removal before it has settled (whether it succeeded or not). */
  private oneAtATime<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.writing.then(fn, fn);
    this.writing = run.catch(() => undefined);
    return run;
  }

  /** A stored profile or a file's text, composed against the stored profiles. */
  compose(input: ProfileInput): Composition {
    const stored = this.snapshot().source;
    const document = 'ref' in input ? this.find(input.ref, stored) : parseProfileDocument(input.file, input.text);
    const source = 'ref' in input ? stored : new StackedSource(new ListProfileSource([document], 'the file given'), stored);
    const composition = composeProfile(document, source);
    if (document.kind === 'ClusterProfile') checkComposition(composition);
    return composition;
  }

  /** The composed, checked ClusterProfile (what placement and plans take). */
  profile(input: ProfileInput): { ref: string; profile: Profile } {
    const composition = this.compose(input);
    const { document } = composition;
    if (document.kind !== 'ClusterProfile') throw ProfileError.of('GALAXY_PROFILE_KIND', document.file, 'kind', `${document.name}@${document.version} is a ProfileMixin: it composes into profiles and cannot be placed`);
    return { ref: `${document.name}@${document.version}`, profile: checkComposition(composition) };
  }

  render(input: ProfileInput): { ref: string; yaml: string } {
    const composition = this.compose(input);
    return { ref: composition.lineage.at(-1)!, yaml: renderProfile(composition) };
  }

  diff(a: ProfileInput, b: ProfileInput): { a: string; b: string; entries: DiffEntry[]; lines: string[] } {
    const before = this.profile(a);
    const after = this.profile(b);
    const entries = diffProfiles(before.profile, after.profile);
    return { a: before.ref, b: after.ref, entries, lines: formatDiff(entries) };
  }

  /** The stored document `name[@range]` names, or a GALAXY_PROFILE_UNKNOWN naming what is stored. */
  find(ref: string, source: ProfileSource = this.snapshot().source): ProfileDocument {
    const match = kProfileRefPattern.exec(ref);
    if (match === null) throw ProfileError.of('GALAXY_PROFILE_BAD_INPUT', ref, '', 'a profile is named NAME or NAME@VERSION-RANGE (a-z 0-9 -, starting with a letter)');
    const found = findProfile(source, match[1]!, match[2] ?? null);
    if (found !== null) return found;
    const versions = source.versionsOf(match[1]!).map((d) => d.version);
    const reason = versions.length === 0 ? `no profile ${match[1]} in the FMIDB (stored: ${this.storedRefs()})` : `no version of ${match[1]} in range ${match[2]} (stored: ${versions.join(', ')})`;
    throw ProfileError.of('GALAXY_PROFILE_UNKNOWN', `${kProfileSubjectPrefix}${match[1]}`, '', reason);
  }

  /**
   * The stored profiles as one source, read once: composing many profiles against the
   * registry itself would re-read and re-hash every stored text per lookup.
   */
  private snapshot(): { entries: RegistryEntry[]; source: ListProfileSource } {
    const entries = this.registry.list();
    const documents: ProfileDocument[] = [];
    for (const entry of entries) {
      if (!entry.complete) continue;
      const text = this.registry.exportProfile(entry.name, entry.version);
      if (text === null) continue;
      const ref = `${entry.name}@${entry.version}`;
      const cached = this.parsed.get(ref);
      if (cached !== undefined && cached.text === text) {
        if (cached.document !== null) documents.push(cached.document);
        continue;
      }
      let document: ProfileDocument | null = null;
      try {
        document = parseProfileDocument(ProfileRegistry.fileOf(entry.name, entry.version), text);
        // Only a text stored where its own head says (as import writes it) counts.
        if (document.name !== entry.name || document.version !== entry.version) document = null;
      } catch (error) {
        if (!(error instanceof ProfileError)) throw error;
      }
      if (this.parsed.size >= kRegistryVersionsMax) this.parsed.clear();
      this.parsed.set(ref, { text, document });
      if (document !== null) documents.push(document);
    }
    return { entries, source: new ListProfileSource(documents, this.registry.where) };
  }

  private storedRefs(): string {
    const refs = this.registry.list().filter((e) => e.complete).map((e) => `${e.name}@${e.version}`);
    return refs.length === 0 ? 'none' : refs.join(', ');
  }

  private describe(source: ProfileSource, entry: RegistryEntry, catalog: PackageCatalog): { summary: StoredVersion; composition: Composition | null } {
    const { name, version, kind, bytes, complete } = entry;
    const base = { name, version, kind, bytes, complete };
    const document = complete ? source.versionsOf(name).find((d) => d.version === version) : undefined;
    if (document === undefined) return { summary: { ...base, extends: null, mixins: [], valid: false, problem: complete ? 'the stored text does not parse' : 'pending: not every part has replicated here yet', missing: [] }, composition: null };
    const head = directives(document);
    try {
      const composition = composeProfile(document, source);
      const missing = document.kind === 'ClusterProfile' ? missingComponents(checkComposition(composition), catalog) : [];
      return { summary: { ...base, ...head, valid: true, problem: null, missing }, composition };
    } catch (error) {
      if (!(error instanceof ProfileError)) throw error;
      return { summary: { ...base, ...head, valid: false, problem: error.message.split('\n')[0]!, missing: [] }, composition: null };
    }
  }
}
