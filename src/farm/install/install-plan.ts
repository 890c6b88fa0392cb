import type { DesiredComponent } from './desired-components.js';
import { canonicalJson } from './package-checksum.js';

/**
 * The pure core of reconciliation: from what is desired, what this service installed
 * and what the component host holds, which components to remove, install (new, newer,
 * older, or back onto a host that lost them), reconfigure, or leave; and in which order
 * to start them. No I/O, no clock: the install service carries the plan out.
 */
export interface InstalledRecord {
  readonly name: string;
  readonly version: string;
  readonly checksum: string;
  /** The desired configuration it was installed with (laid over the package's defaults). */
  readonly config: Readonly<Record<string, unknown>>;
}

export interface PlanInput {
  readonly desired: readonly DesiredComponent[];
  readonly installed: ReadonlyMap<string, InstalledRecord>;
  /** Names of every component the host holds, installed by this service or not. */
  readonly onHost: ReadonlySet<string>;
  /** The desired entry (canonical JSON) whose last attempt failed, by name: not retried until it changes. */
  readonly failed: ReadonlyMap<string, string>;
}

export interface PlannedInstall {
  readonly name: string;
  readonly version: string;
  readonly checksum: string | undefined;
  readonly config: Readonly<Record<string, unknown>>;
  /** What to go back to if the new version fails; null: remove it instead. */
  readonly previous: InstalledRecord | null;
}

export interface PlannedConfigure {
  readonly name: string;
  readonly config: Readonly<Record<string, unknown>>;
  readonly previous: InstalledRecord;
}

export interface InstallPlan {
  readonly removals: readonly InstalledRecord[];
  readonly installs: readonly PlannedInstall[];
  readonly configures: readonly PlannedConfigure[];
  readonly unchanged: readonly string[];
  /** Failed before with this very entry. */
  readonly skipped: readonly string[];
  /** Desired, but the host runs a component of that name this service did not install. */
  readonly notManaged: readonly string[];
}

/** The canonical form of a desired entry, for comparing entries and remembering failures. */
export function desiredKey(entry: DesiredComponent): string {
  return canonicalJson({ name: entry.name, version: entry.version, checksum: entry.checksum, config: entry.config ?? {} });
}

export function planInstall(input: PlanInput): InstallPlan {
  const removals: InstalledRecord[] = [];
  const installs: PlannedInstall[] = [];
  const configures: PlannedConfigure[] = [];
  const unchanged: string[] = [];
  const skipped: string[] = [];
  const notManaged: string[] = [];
  const wanted = new Set(input.desired.map((d) => d.name));
  for (const record of input.installed.values()) if (!wanted.has(record.name)) removals.push(record);
  for (const entry of input.desired) {
    const record = input.installed.get(entry.name);
    const config = entry.config ?? {};
    if (record === undefined && input.onHost.has(entry.name)) {
      notManaged.push(entry.name);
      continue;
    }
    const sameVersion = record !== undefined && record.version === entry.version && (entry.checksum === undefined || entry.checksum === record.checksum);
    const onHost = input.onHost.has(entry.name);
    const sameConfig = record !== undefined && canonicalJson(record.config) === canonicalJson(config);
    if (sameVersion && onHost && sameConfig) {
      unchanged.push(entry.name);
      continue;
    }
    if (input.failed.get(entry.name) === desiredKey(entry)) {
      skipped.push(entry.name);
      continue;
    }
    if (sameVersion && onHost) {
      configures.push({ name: entry.name, config, previous: record! });
      continue;
    }
    // A record of the same version whose component the host lost (the agent restarted)
    // is started again; nothing to go back to if that fails.
    installs.push({ name: entry.name, version: entry.version, checksum: entry.checksum, config, previous: record === undefined || sameVersion ? null : record });
  }
  return { removals, installs, configures, unchanged, skipped, notManaged };
}

export interface SequenceItem {
  readonly name: string;
  readonly startOrder: number;
  readonly dependsOn: readonly string[];
}

export interface StartSequence {
  /** Names in the order to start them. */
  readonly order: readonly string[];
  /** Names on a dependency cycle among the items, or waiting on one: not in `order`. */
  readonly cyclic: readonly string[];
}

/**
 * The start order: a component starts after the items it depends on, and otherwise by
 * startOrder, then name (Kahn's algorithm, always taking the least ready item). A
 * dependency that is not among the items does not constrain the order (it runs
 * already, or the caller refuses the start).
 */
export function startSequence(items: readonly SequenceItem[]): StartSequence {
  const byName = new Map(items.map((item) => [item.name, item]));
  const waitingOn = new Map<string, number>();
  const dependents = new Map<string, string[]>();
  for (const item of items) {
    const deps = [...new Set(item.dependsOn)].filter((d) => byName.has(d) && d !== item.name);
    waitingOn.set(item.name, deps.length);
    for (const dep of deps) dependents.set(dep, [...(dependents.get(dep) ?? []), item.name]);
  }
  const ready = items.filter((item) => waitingOn.get(item.name) === 0);
  const order: string[] = [];
  while (ready.length > 0) {
    ready.sort(compareItems);
    const next = ready.shift()!;
    order.push(next.name);
    for (const dependent of dependents.get(next.name) ?? []) {
      const left = waitingOn.get(dependent)! - 1;
      waitingOn.set(dependent, left);
      if (left === 0) ready.push(byName.get(dependent)!);
    }
  }
  const placed = new Set(order);
  return { order, cyclic: items.filter((item) => !placed.has(item.name)).map((item) => item.name) };
}

function compareItems(a: SequenceItem, b: SequenceItem): number {
  return a.startOrder - b.startOrder || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}
