import { DomainError } from '../../core/util/domain-error.js';

/**
 * The one naming scheme of clusters, used by the CLI, the API and the events (issue 17,
 * item 3): `cluster/<name>`, `cluster/<name>/member/<node-id>` and
 * `cluster/<name>/member/<node-id>/component/<kind>`. A cluster name is 1 to 48 of
 * [A-Za-z0-9_.-] starting with a letter or digit: no slash, so every name parses back
 * to its parts, and short enough that the FMIDB subject of its definition
 * (`farm/cluster/<name>`, 13 + 48 bytes) fits the FMIDB's 64-byte ids.
 */
export const kClusterNamePattern = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,47}$/;
/** A farm node id: 16 hex digits. */
export const kNodeIdPattern = /^[0-9a-f]{16}$/;
/** A component kind: what the component host names kinds with. */
export const kComponentKindPattern = /^[a-z][a-z0-9-]{0,31}$/;

export interface ClusterNameParts {
  readonly cluster: string;
  /** Absent for the cluster's own name. */
  readonly member?: string;
  /** Only with a member. */
  readonly component?: string;
}

/** Throws DomainError invalid GALAXY_CLUSTER_BAD_NAME unless `name` is a cluster name. */
export function checkClusterName(name: string): string {
  if (!kClusterNamePattern.test(name)) throw new DomainError('invalid', 'GALAXY_CLUSTER_BAD_NAME', `a cluster name is 1 to 48 of [A-Za-z0-9_.-] starting with a letter or digit, got ${JSON.stringify(name)}`);
  return name;
}

/** `cluster/<name>[/member/<node-id>[/component/<kind>]]`; throws on a part that would not parse back. */
export function clusterName(parts: ClusterNameParts): string {
  checkClusterName(parts.cluster);
  if (parts.member === undefined) {
    if (parts.component !== undefined) throw new DomainError('invalid', 'GALAXY_CLUSTER_BAD_NAME', 'a component name needs a member');
    return `cluster/${parts.cluster}`;
  }
  if (!kNodeIdPattern.test(parts.member)) throw new DomainError('invalid', 'GALAXY_CLUSTER_BAD_NAME', `a member is a node id of 16 hex digits, got ${JSON.stringify(parts.member)}`);
  const member = `cluster/${parts.cluster}/member/${parts.member}`;
  if (parts.component === undefined) return member;
  if (!kComponentKindPattern.test(parts.component)) throw new DomainError('invalid', 'GALAXY_CLUSTER_BAD_NAME', `a component kind is 1 to 32 of [a-z0-9-] starting with a letter, got ${JSON.stringify(parts.component)}`);
  return `${member}/component/${parts.component}`;
}

/** The parts of a name clusterName built, or null when `text` is not one. */
export function parseClusterName(text: string): ClusterNameParts | null {
  const segments = text.split('/');
  if (segments[0] !== 'cluster' || segments.length < 2 || !kClusterNamePattern.test(segments[1]!)) return null;
  const cluster = segments[1]!;
  if (segments.length === 2) return { cluster };
  if (segments.length < 4 || segments[2] !== 'member' || !kNodeIdPattern.test(segments[3]!)) return null;
  const member = segments[3]!;
  if (segments.length === 4) return { cluster, member };
  if (segments.length !== 6 || segments[4] !== 'component' || !kComponentKindPattern.test(segments[5]!)) return null;
  return { cluster, member, component: segments[5]! };
}
