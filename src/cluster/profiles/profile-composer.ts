import { problemAt, type ProfileDocument } from './profile-document.js';
import { ProfileError } from './profile-error.js';
import { kCompositionDepthMax } from './profile-limits.js';
import { mergeTracked, track, untrack, type Tracked } from './profile-merge.js';
import { kProfileRefPattern } from './profile-schema.js';
import { findProfile, type ProfileSource } from './profile-source.js';

/**
 * Composition: a document's parent (`extends`) is composed first, then each mixin in
 * the order listed, then the document's own fields, each merged onto the result by
 * the rules of profile-merge.ts. The head (apiVersion, kind, name, version,
 * description) is the document's own and is never inherited; `extends` and `mixins`
 * are directives and do not appear in the result.
 *
 * Refused: a parent or mixin not in the source (named, with the names known), a chain
 * that comes back to a document being composed (the chain in the message), a chain
 * deeper than kCompositionDepthMax, a profile extending a mixin or the other way round,
 * and a mixin that is a whole profile.
 */
export interface Composition {
  /** The document composed. */
  readonly document: ProfileDocument;
  /** The composed value, each part remembering the file that set it. */
  readonly tracked: Tracked;
  /** The composed value as plain data (not yet checked against the complete schema). */
  readonly value: Record<string, unknown>;
  /** name@version of every document merged, in the order merged, the document itself last. */
  readonly lineage: readonly string[];
}

const kHeadFields = ['apiVersion', 'kind', 'name', 'version', 'description'] as const;
const kDirectiveFields = ['extends', 'mixins'] as const;

function refOf(document: ProfileDocument): string {
  return `${document.name}@${document.version}`;
}

export function composeProfile(document: ProfileDocument, source: ProfileSource): Composition {
  const lineage: string[] = [];
  const body = composeBody(document, source, [], lineage);
  const head = new Map<string, Tracked>();
  for (const field of kHeadFields) {
    const value = document.value[field];
    if (value !== undefined && value !== null) head.set(field, track(value, document.file, [field]));
  }
  const entries = new Map(body.kind === 'map' ? body.entries : []);
  for (const field of kHeadFields) entries.delete(field);
  const tracked: Tracked = { kind: 'map', entries: new Map([...head, ...entries]), file: document.file };
  return { document, tracked, value: untrack(tracked) as Record<string, unknown>, lineage };
}

function composeBody(document: ProfileDocument, source: ProfileSource, chain: readonly ProfileDocument[], lineage: string[]): Tracked {
  const path = [...chain, document];
  if (path.length > kCompositionDepthMax) {
    throw new ProfileError([problemAt(document, 'GALAXY_PROFILE_CYCLE', [], `composition is deeper than ${kCompositionDepthMax} profiles: ${path.map(refOf).join(' → ')}`)]);
  }
  let result: Tracked = { kind: 'map', entries: new Map(), file: document.file };
  const parentRef = document.value['extends'];
  if (typeof parentRef === 'string') {
    const parent = resolve(document, source, ['extends'], parentRef, path);
    if (parent.kind !== document.kind) {
      throw new ProfileError([problemAt(document, 'GALAXY_PROFILE_KIND', ['extends'], `a ${document.kind} cannot extend ${refOf(parent)}, a ${parent.kind}`)]);
    }
    result = composeBody(parent, source, path, lineage);
  }
  const mixins = (document.value['mixins'] ?? []) as string[];
  mixins.forEach((ref, index) => {
    const mixin = resolve(document, source, ['mixins', index], ref, path);
    if (mixin.kind !== 'ProfileMixin') {
      throw new ProfileError([problemAt(document, 'GALAXY_PROFILE_KIND', ['mixins', index], `${refOf(mixin)} is a ${mixin.kind}, not a ProfileMixin; a whole profile is used with extends`)]);
    }
    result = mergeTracked(result, composeBody(mixin, source, path, lineage)) ?? result;
  });
  const own: Record<string, unknown> = { ...document.value };
  for (const field of [...kDirectiveFields, ...kHeadFields]) delete own[field];
  lineage.push(refOf(document));
  return mergeTracked(result, track(own, document.file)) ?? result;
}

function resolve(document: ProfileDocument, source: ProfileSource, at: Array<string | number>, ref: string, chain: readonly ProfileDocument[]): ProfileDocument {
  const match = kProfileRefPattern.exec(ref)!;
  const found = findProfile(source, match[1]!, match[2] ?? null);
  if (found === null) {
    const versions = source.versionsOf(match[1]!).map((d) => d.version);
    const reason =
      versions.length > 0
        ? `no version of ${match[1]} in range ${match[2]} in ${source.where} (versions: ${versions.join(', ')})`
        : `${match[1]} not found in ${source.where} (known: ${source.names().join(', ') || 'none'})`;
    throw new ProfileError([problemAt(document, 'GALAXY_PROFILE_NOT_FOUND', at, reason)]);
  }
  const loop = chain.findIndex((d) => d.name === found.name && d.version === found.version);
  if (loop >= 0) {
    throw new ProfileError([problemAt(document, 'GALAXY_PROFILE_CYCLE', at, `composition cycle: ${[...chain.slice(loop), found].map(refOf).join(' → ')}`)]);
  }
  return found;
}
