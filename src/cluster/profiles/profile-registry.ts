import { createHash } from 'node:crypto';
import { compareSemver } from '../../farm/install/semver.js';
import { parseProfileDocument, type ProfileDocument } from './profile-document.js';
import { ProfileError } from './profile-error.js';
import type { ProfileSource } from './profile-source.js';
import type { ProfileKind } from './profile-schema.js';

/**
 * Profiles stored in the FMIDB, so every node of the farm holds every profile (the way
 * landscapes are stored: farm-data.ts). Layout:
 *
 *   subject `profile/NAME`, per version VERSION:
 *     key `VERSION#meta`  JSON {kind, bytes, parts, sha256}
 *     key `VERSION#N`     part N (0-based) of the YAML text, as written by `import`
 *
 * The text is kept as written (comments and all) so `export` gives back the file. It is
 * cut into parts because an FMIDB value is bounded (valueBytesMax, 16 KiB in the agent)
 * and a profile may be up to kProfileBytesMax. Parts and meta replicate independently,
 * so a reader only uses a version whose parts are all there and hash to the meta's
 * sha256; until then the version is `pending`.
 *
 * A version is immutable: importing the same name@version with other content is
 * refused (publish a new version); importing the same content again changes nothing.
 * `remove` deletes every key of the version (FMIDB tombstones), after which the
 * version may be imported anew.
 *
 * The registry holds no state of its own: it reads the replica's view each time, so it
 * is always what the view holds. Writes are asynchronous (the replica runs in the
 * agent's worker): a caller that checks then writes (ProfileLibrary) runs its imports
 * and removals one at a time, so no other write of its own comes between. The agent
 * wiring (API routes, `galaxy profile ls|show|import|export` over the API) is not part
 * of this module.
 */
export const kProfileSubjectPrefix = 'profile/';
const kMetaSuffix = '#meta';
/** Profile versions the registry holds at most (all names together). */
export const kRegistryVersionsMax = 1024;
/** Bytes of a value kept free for JSON quoting margins: parts are cut below valueBytesMax by this much. */
const kPartMarginBytes = 64;

/**
 * The part of the farm data the registry uses (a structural type: the agent passes its
 * FarmData; tests may pass an adapter over an FmidbReplica). Reads are the main
 * thread's read view of the replica; a write resolves once the replica took the batch
 * and its changes are in that view, and rejects with an FmidbError (then nothing of
 * that batch was written).
 */
export interface ProfileStore {
  readonly config: { readonly idBytesMax: number; readonly keyBytesMax: number; readonly valueBytesMax: number; readonly batchEntriesMax: number };
  readonly view: {
    entriesOf(subject: string): ReadonlyArray<{ readonly key: string; readonly value: string | number }>;
    subjects(): string[];
  };
  write(writes: ReadonlyArray<{ readonly subject: string; readonly key: string; readonly value: string | number | null }>): Promise<number>;
}

export interface RegistryEntry {
  readonly name: string;
  readonly version: string;
  readonly kind: ProfileKind | null;
  readonly bytes: number;
  /** All parts present and matching the digest. */
  readonly complete: boolean;
}

interface Meta {
  readonly kind: ProfileKind;
  readonly bytes: number;
  readonly parts: number;
  readonly sha256: string;
}

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** `text` cut into pieces of at most `bytesMax` UTF-8 bytes, never inside a character. */
function cut(text: string, bytesMax: number): string[] {
  const parts: string[] = [];
  let current = '';
  let bytes = 0;
  for (const character of text) {
    const size = Buffer.byteLength(character, 'utf8');
    if (bytes + size > bytesMax) {
      parts.push(current);
      current = '';
      bytes = 0;
    }
    current += character;
    bytes += size;
  }
  if (current !== '' || parts.length === 0) parts.push(current);
  return parts;
}

function parseMeta(value: string | number | undefined): Meta | null {
  if (typeof value !== 'string') return null;
  try {
    const meta = JSON.parse(value) as Partial<Meta>;
    if ((meta.kind !== 'ClusterProfile' && meta.kind !== 'ProfileMixin') || !Number.isSafeInteger(meta.parts) || meta.parts! < 1 || typeof meta.sha256 !== 'string' || !Number.isSafeInteger(meta.bytes)) return null;
    return meta as Meta;
  } catch {
    return null;
  }
}

export class ProfileRegistry implements ProfileSource {
  readonly where = 'the FMIDB';
  private readonly store: ProfileStore;

  constructor(store: ProfileStore) {
    this.store = store;
  }

  /** The file name registry documents carry in messages. */
  static fileOf(name: string, version: string): string {
    return `fmidb:${kProfileSubjectPrefix}${name}@${version}`;
  }

  /**
   * Stores a profile farm-wide after checking it on its own (YAML and fragment schema;
   * composition needs its parents, which may be imported after it: validate it with
   * the registry as source). Returns the document and whether anything was written.
   */
  async importProfile(file: string, text: string): Promise<{ document: ProfileDocument; written: boolean }> {
    const document = parseProfileDocument(file, text);
    const { name, version } = document;
    const subject = `${kProfileSubjectPrefix}${name}`;
    const refuse = (reason: string) => ProfileError.of('GALAXY_PROFILE_REGISTRY', file, '', reason);
    if (Buffer.byteLength(subject) > this.store.config.idBytesMax) throw refuse(`the FMIDB subject ${subject} is longer than ${this.store.config.idBytesMax} bytes: use a shorter name`);
    const metaKey = `${version}${kMetaSuffix}`;
    const partBytesMax = this.store.config.valueBytesMax - kPartMarginBytes;
    if (partBytesMax < 256) throw refuse(`FMIDB values of ${this.store.config.valueBytesMax} bytes are too small to hold profile parts`);
    const parts = cut(text, partBytesMax);
    if (Buffer.byteLength(`${version}#${parts.length - 1}`) > this.store.config.keyBytesMax || Buffer.byteLength(metaKey) > this.store.config.keyBytesMax) {
      throw refuse(`the FMIDB keys of version ${version} are longer than ${this.store.config.keyBytesMax} bytes`);
    }
    const digest = sha256(text);
    const existing = parseMeta(this.entries(subject).get(metaKey));
    if (existing !== null) {
      if (existing.sha256 === digest) return { document, written: false };
      throw refuse(`${name}@${version} is already in the FMIDB with other content; a profile version is immutable: publish a new version`);
    }
    if (this.list().length >= kRegistryVersionsMax) throw refuse(`the FMIDB holds ${kRegistryVersionsMax} profile versions already; remove old ones first`);
    const meta: Meta = { kind: document.kind, bytes: Buffer.byteLength(text), parts: parts.length, sha256: digest };
    // Parts first, meta last: a replica that has the meta from this node has the parts
    // written before it in the same batch order; others wait for the digest to match.
    // When a batch is refused (an FmidbError: e.g. the subject is full) the batches before
    // it stay written: parts without their meta, which no reader uses (no meta, so the
    // version is not listed) and which hold keys of the subject until a later import of
    // the same version overwrites them (the meta says how many parts count).
    const writes = [...parts.map((part, index) => ({ subject, key: `${version}#${index}`, value: part })), { subject, key: metaKey, value: JSON.stringify(meta) }];
    for (let at = 0; at < writes.length; at += this.store.config.batchEntriesMax) await this.store.write(writes.slice(at, at + this.store.config.batchEntriesMax));
    return { document, written: true };
  }

  /** The text as imported, or null when the version is not held (or not complete yet). */
  exportProfile(name: string, version: string): string | null {
    const entries = this.entries(`${kProfileSubjectPrefix}${name}`);
    const meta = parseMeta(entries.get(`${version}${kMetaSuffix}`));
    if (meta === null) return null;
    const parts: string[] = [];
    for (let index = 0; index < meta.parts; index++) {
      const part = entries.get(`${version}#${index}`);
      if (typeof part !== 'string') return null;
      parts.push(part);
    }
    const text = parts.join('');
    return sha256(text) === meta.sha256 ? text : null;
  }

  /** Deletes every key of name@version; false when it was not held. */
  async remove(name: string, version: string): Promise<boolean> {
    const subject = `${kProfileSubjectPrefix}${name}`;
    const entries = this.entries(subject);
    const keys = [...entries.keys()].filter((key) => key.startsWith(`${version}#`));
    if (keys.length === 0) return false;
    const writes = keys.map((key) => ({ subject, key, value: null }));
    for (let at = 0; at < writes.length; at += this.store.config.batchEntriesMax) await this.store.write(writes.slice(at, at + this.store.config.batchEntriesMax));
    return true;
  }

  /** Every version held, complete or pending, by name then version. */
  list(): RegistryEntry[] {
    const result: RegistryEntry[] = [];
    for (const subject of this.store.view.subjects()) {
      if (!subject.startsWith(kProfileSubjectPrefix)) continue;
      const name = subject.slice(kProfileSubjectPrefix.length);
      for (const [key, value] of this.entries(subject)) {
        if (!key.endsWith(kMetaSuffix)) continue;
        const version = key.slice(0, -kMetaSuffix.length);
        const meta = parseMeta(value);
        result.push({ name, version, kind: meta?.kind ?? null, bytes: meta?.bytes ?? 0, complete: meta !== null && this.exportProfile(name, version) !== null });
      }
    }
    return result.sort((a, b) => (a.name !== b.name ? (a.name < b.name ? -1 : 1) : compareSemver(a.version, b.version)));
  }

  /** ProfileSource: the complete versions of `name`, parsed. A held text that no longer parses is left out. */
  versionsOf(name: string): readonly ProfileDocument[] {
    return this.list()
      .filter((entry) => entry.name === name && entry.complete)
      .flatMap((entry) => {
        try {
          const document = parseProfileDocument(ProfileRegistry.fileOf(entry.name, entry.version), this.exportProfile(entry.name, entry.version)!);
          // Only a text stored where its own head says (as import writes it) counts.
          return document.name === entry.name && document.version === entry.version ? [document] : [];
        } catch (error) {
          if (error instanceof ProfileError) return [];
          throw error;
        }
      });
  }

  names(): readonly string[] {
    return [...new Set(this.list().filter((entry) => entry.complete).map((entry) => entry.name))];
  }

  private entries(subject: string): Map<string, string | number> {
    return new Map(this.store.view.entriesOf(subject).map((entry) => [entry.key, entry.value]));
  }
}
