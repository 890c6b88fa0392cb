import { z } from 'zod';
import { InstallError } from './install-error.js';
import { kPackageConfigJsonLengthMax } from './package-limits.js';
import { kComponentNamePattern } from './package-manifest.js';
import { isSemver } from './semver.js';

/**
 * Which components, in which versions, this node must run. The farm configuration and
 * the cluster profiles assigned to the node decide it (the FMIDB replicates them, a
 * landscape says which nodes); the install service only reads it through this
 * interface and makes the node match.
 */
export interface DesiredComponent {
  readonly name: string;
  readonly version: string;
  /** Pins the package content: a package with another checksum is refused. */
  readonly checksum?: string;
  /** Laid over the package's default configuration (top-level keys). */
  readonly config?: Readonly<Record<string, unknown>>;
}

export interface DesiredComponentsSource {
  /** The current desired list for this node. */
  current(): readonly DesiredComponent[];
  /** Calls `listener` after every change of the list; returns the function that unsubscribes. */
  onChange(listener: () => void): () => void;
  /**
   * Whether the list is known yet (a node that just started may not have the farm's
   * configuration replicated). While not ready, the service removes nothing it installed
   * before: an empty list at boot must not uninstall the farm's components. Absent: ready.
   */
  ready?(): boolean;
}

/** Components one desired list names at most: as many as a component host holds by default. */
export const kDesiredComponentsMax = 64;

export const kDesiredComponentSchema = z
  .object({
    name: z.string().regex(kComponentNamePattern, 'a component name is 1 to 63 of a-z 0-9 - starting with a letter'),
    version: z.string().refine(isSemver, 'a version is a semantic version such as 1.2.3'),
    checksum: z
      .string()
      .regex(/^[0-9a-f]{64}$/, 'a checksum is 64 lowercase hex digits')
      .optional(),
    config: z
      .record(z.unknown())
      .refine((config) => JSON.stringify(config).length <= kPackageConfigJsonLengthMax, `a configuration is at most ${kPackageConfigJsonLengthMax} characters of JSON`)
      .optional(),
  })
  .strict();

/** A desired list checked: valid entries, each name once, bounded. Throws GALAXY_INSTALL_BAD_REQUEST. */
export function checkDesiredList(list: readonly unknown[], where: string): DesiredComponent[] {
  if (list.length > kDesiredComponentsMax) throw new InstallError('GALAXY_INSTALL_BAD_REQUEST', `${where}: ${list.length} components (at most ${kDesiredComponentsMax})`);
  const names = new Set<string>();
  return list.map((entry, i) => {
    const parsed = kDesiredComponentSchema.safeParse(entry);
    if (!parsed.success) throw new InstallError('GALAXY_INSTALL_BAD_REQUEST', `${where}[${i}]: ${parsed.error.issues.map((issue) => `${issue.path.join('.') || 'entry'}: ${issue.message}`).join('; ')}`);
    if (names.has(parsed.data.name)) throw new InstallError('GALAXY_INSTALL_BAD_REQUEST', `${where}: "${parsed.data.name}" is listed twice`);
    names.add(parsed.data.name);
    return parsed.data;
  });
}

/**
 * A desired list held in memory and set by its owner: what a node uses when its desired
 * state comes from a file or a test rather than the FMIDB, and the shape the lead's
 * FMIDB-backed source follows.
 */
export class StaticDesiredComponents implements DesiredComponentsSource {
  private list: readonly DesiredComponent[];
  private readonly listeners = new Set<() => void>();

  constructor(list: readonly DesiredComponent[] = []) {
    this.list = Object.freeze(checkDesiredList(list, 'desired components'));
  }

  current(): readonly DesiredComponent[] {
    return this.list;
  }

  set(list: readonly DesiredComponent[]): void {
    this.list = Object.freeze(checkDesiredList(list, 'desired components'));
    for (const listener of [...this.listeners]) listener();
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
