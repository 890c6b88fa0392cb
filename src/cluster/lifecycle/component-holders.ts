import { doneAndUnderWay, type OperationJournal } from './lifecycle-journal.js';
import { roleComponents, type LifecycleComponent, type LifecycleRecord } from './lifecycle-record.js';

/**
 * Which clusters hold an installed component on a node (issue 19: components shared
 * between clusters). A node runs one copy of a package (the install service keeps one
 * version per name), so two clusters placing the same component on one node share it.
 * Ownership is read from the FMIDB, never kept beside it:
 *
 * - a cluster's lifecycle record (`farm/lifecycle/<name>`, key `record`) holds, on each
 *   member, the components of its role (farm components excluded: every agent runs them);
 * - a running operation's journal (same subject, key `op/<id>`) holds what it installed
 *   or is installing and its record does not name yet (an upgrade adding a component, a
 *   repair's joining member), so a concurrent delete of another cluster keeps them.
 *
 * A removal (delete, shrink, leftovers, rollback) removes a component only when no other
 * cluster holds it; a placement that would put another version or configuration of a
 * held component on a node is refused (conflicts()).
 */
export interface Holder {
  readonly cluster: string;
  readonly component: LifecycleComponent;
}

export function holders(records: readonly LifecycleRecord[], journals: readonly OperationJournal[], node: string, name: string, except: string | null): Holder[] {
  const out: Holder[] = [];
  for (const record of records) {
    if (record.deleted || record.name === except) continue;
    for (const member of record.members) {
      if (member.node !== node) continue;
      const component = roleComponents(record, member.role).find((c) => c.name === name && !c.farm);
      if (component !== undefined) out.push({ cluster: record.name, component });
    }
  }
  for (const journal of journals) {
    if (journal.state !== 'running' || journal.cluster === except || out.some((h) => h.cluster === journal.cluster)) continue;
    const steps = doneAndUnderWay(journal);
    const step = steps.filter((s) => s.kind === 'install' && s.node === node && s.component.name === name && !s.component.farm).at(-1);
    if (step !== undefined) out.push({ cluster: journal.cluster, component: step.component });
  }
  return out;
}

/** Whether two clusters can share one installed copy: the same version and the same configuration. */
export function sameCopy(a: LifecycleComponent, b: LifecycleComponent): boolean {
  return a.version === b.version && canonical(a.config ?? {}) === canonical(b.config ?? {});
}

/** The holders of (node, component.name) whose copy differs from `component`: a placement there is refused. */
export function conflicts(records: readonly LifecycleRecord[], journals: readonly OperationJournal[], node: string, component: LifecycleComponent, except: string | null): Holder[] {
  if (component.farm) return [];
  return holders(records, journals, node, component.name, except).filter((h) => !sameCopy(h.component, component));
}

export function describeConflict(node: string, role: string, component: LifecycleComponent, held: readonly Holder[]): string {
  const others = held.map((h) => `cluster ${h.cluster} runs ${h.component.name}@${h.component.version}${h.component.version === component.version ? ' with another configuration' : ''}`).join(', ');
  return `${component.name}@${component.version} (role ${role}) on ${node}: ${others} there, and a node runs one copy of a component`;
}

/** Every (node, component) some cluster holds, with its holders: `GET /v1/lifecycle/holders`. */
export function holdings(records: readonly LifecycleRecord[], journals: readonly OperationJournal[]): Array<{ node: string; component: string; version: string; clusters: string[] }> {
  const keys = new Map<string, { node: string; component: string; version: string; clusters: string[] }>();
  const add = (node: string, component: LifecycleComponent, cluster: string) => {
    if (component.farm) return;
    const key = `${node}/${component.name}`;
    const entry = keys.get(key) ?? { node, component: component.name, version: component.version, clusters: [] };
    if (!entry.clusters.includes(cluster)) entry.clusters.push(cluster);
    keys.set(key, entry);
  };
  for (const record of records) {
    if (record.deleted) continue;
    for (const member of record.members) for (const component of roleComponents(record, member.role)) add(member.node, component, record.name);
  }
  for (const journal of journals) {
    if (journal.state !== 'running') continue;
    for (const step of doneAndUnderWay(journal)) if (step.kind === 'install') add(step.node, step.component, journal.cluster);
  }
  return [...keys.values()].map((e) => ({ ...e, clusters: e.clusters.sort() })).sort((a, b) => (a.node === b.node ? (a.component < b.component ? -1 : 1) : a.node < b.node ? -1 : 1));
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
