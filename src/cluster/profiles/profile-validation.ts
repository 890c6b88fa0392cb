import { checkComposition } from './profile-check.js';
import { composeProfile, type Composition } from './profile-composer.js';
import type { ProfileDocument } from './profile-document.js';
import { missingComponents, type MissingComponent, type PackageCatalog } from './package-catalog.js';
import type { Profile } from './profile-schema.js';
import type { ProfileSource } from './profile-source.js';

/**
 * `validate`: schema, composition and semantics (these throw a ProfileError naming
 * file, path and reason), then the components against the packages known. A profile
 * whose components do not exist is valid but not deployable, and says so: `missing`
 * lists them and `deployable` is false.
 */
export interface ProfileValidation {
  readonly file: string;
  readonly ref: string;
  readonly composition: Composition;
  /** The composed profile; null for a mixin (it composes, it is not deployed). */
  readonly profile: Profile | null;
  readonly missing: readonly MissingComponent[];
  readonly deployable: boolean;
}

export function validateProfile(document: ProfileDocument, source: ProfileSource, catalog: PackageCatalog): ProfileValidation {
  const composition = composeProfile(document, source);
  const ref = `${document.name}@${document.version}`;
  if (document.kind === 'ProfileMixin') return { file: document.file, ref, composition, profile: null, missing: [], deployable: false };
  const profile = checkComposition(composition);
  const missing = missingComponents(profile, catalog);
  return { file: document.file, ref, composition, profile, missing, deployable: missing.length === 0 };
}
