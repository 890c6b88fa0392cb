import { maxSatisfying, parseSemverRange } from '../../farm/install/semver.js';
import type { Profile } from './profile-schema.js';

/**
 * The installable packages known (name → versions): what `validate` checks a profile's
 * components against and what a plan picks versions from. The agent fills it from its
 * package store and the farm's components; the CLI from kFarmComponentPackages at the
 * agent's own version, a package store directory and --packages.
 */
export type PackageCatalog = ReadonlyMap<string, readonly string[]>;

/**
 * The farm service components every agent runs (src/components): they exist at the
 * agent's version without being installed from a package.
 */
export const kFarmComponentPackages = Object.freeze(['measurement', 'events', 'jobs', 'scripts'] as const);

export interface MissingComponent {
  readonly role: string;
  readonly package: string;
  readonly range: string;
  /** Why: no package of that name, or none of its versions in range. */
  readonly reason: string;
}

/** The version a component would be installed at: the highest known in its range, or null. */
export function resolveVersion(catalog: PackageCatalog, packageName: string, range: string): string | null {
  const parsed = parseSemverRange(range);
  const versions = catalog.get(packageName);
  if (parsed === null || versions === undefined) return null;
  return maxSatisfying(versions, parsed);
}

/** Every component of every role that cannot be installed from the catalog, in role then list order. */
export function missingComponents(profile: Profile, catalog: PackageCatalog): MissingComponent[] {
  const missing: MissingComponent[] = [];
  for (const [role, body] of Object.entries(profile.roles)) {
    for (const component of body.components) {
      if (resolveVersion(catalog, component.package, component.version) !== null) continue;
      const versions = catalog.get(component.package);
      const reason = versions === undefined || versions.length === 0 ? 'no such package' : `no version in range (known: ${versions.join(', ')})`;
      missing.push({ role, package: component.package, range: component.version, reason });
    }
  }
  return missing;
}

/** A catalog from `name@version` texts (merged with `base`). */
export function catalogOf(specs: Iterable<string>, base: PackageCatalog = new Map()): Map<string, string[]> {
  const catalog = new Map<string, string[]>([...base].map(([name, versions]) => [name, [...versions]]));
  for (const spec of specs) {
    const at = spec.lastIndexOf('@');
    if (at <= 0) continue;
    const list = catalog.get(spec.slice(0, at)) ?? [];
    if (!list.includes(spec.slice(at + 1))) list.push(spec.slice(at + 1));
    catalog.set(spec.slice(0, at), list);
  }
  return catalog;
}

/** What an agent knows: the farm components at its own version, and the packages its store holds. */
export function agentCatalog(agentVersion: string, packages: ReadonlyArray<{ readonly name: string; readonly version: string }>): Map<string, string[]> {
  return catalogOf([...kFarmComponentPackages.map((name) => `${name}@${agentVersion}`), ...packages.map((p) => `${p.name}@${p.version}`)]);
}
