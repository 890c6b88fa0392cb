import { formatPath, ProfileError } from './profile-error.js';
import { kPlacementNodesMax } from './profile-limits.js';
import { countBounds, kTrafficKinds, type Profile, type ProfileRole, type TrafficKind } from './profile-schema.js';
import { startOrder } from './start-order.js';

/**
 * Placement preview (the Cluster Designer's "which node gets what, and why"): given a
 * composed profile, the farm's nodes with their FMIDB attributes, and the landscape
 * memberships and placement-SQL results (evaluated elsewhere and passed in as data),
 * which node gets which role, with the reason for every decision. Pure and
 * deterministic: roles are placed in start order, candidates in node id order.
 *
 * Rules, per role:
 *  - a node holds at most one role of a cluster;
 *  - a node qualifies when it is alive, in the cluster's own node set (`within`, from
 *    `--on LANDSCAPE`), in the role's landscape or SQL result, has a value for each
 *    network attribute of the profile, and (hard anti-affinity) for the attribute;
 *  - current members (`current`) that still qualify keep their role first, so a plan
 *    moves as little as possible; then qualifying nodes by id, up to the role's max;
 *  - anti-affinity: a node whose attribute value a chosen member of the role has (or,
 *    with scope cluster, any member placed before) is skipped (hard), or only taken
 *    once every distinct value is used (soft);
 *  - fewer than min: a problem naming the role, the shortfall and why nodes were left out.
 */
/** As the FMIDB holds them: text or a finite number; null or absent when the node has none. */
export type AttributeValue = string | number | null;

export interface FarmNode {
  /** Node id: 16 lower-case hex digits. */
  readonly id: string;
  readonly attributes: Readonly<Record<string, AttributeValue>>;
  /** False for a node the farm knows dead or gone; default true. */
  readonly alive?: boolean;
}

export interface PlacementInput {
  readonly profile: Profile;
  readonly nodes: readonly FarmNode[];
  /** Members of each landscape, as the landscape engine computes them. */
  readonly landscapes: Readonly<Record<string, readonly string[]>>;
  /** The nodes each role's placement SQL returned, keyed by the statement text. */
  readonly queries?: Readonly<Record<string, readonly string[]>>;
  /** The cluster's own node set (`galaxy cluster create --on LANDSCAPE`); all nodes when absent. */
  readonly within?: readonly string[];
  /** The cluster's members now: kept in their role while they still qualify. */
  readonly current?: ReadonlyArray<{ readonly node: string; readonly role: string }>;
}

export interface PlacementDecision {
  readonly role: string;
  readonly node: string;
  readonly outcome: 'chosen' | 'kept' | 'skipped';
  readonly reason: string;
}

export interface PlacedMember {
  readonly node: string;
  readonly role: string;
  /** The value of the profile's network attribute for each kind of traffic: the host address the cluster service sends that traffic to (a cluster definition refuses anything else, such as an interface name). */
  readonly networks: Readonly<Record<TrafficKind, string>>;
}

export interface RoleOutcome {
  readonly role: string;
  readonly min: number;
  readonly max: number;
  readonly members: readonly string[];
  /** Nodes that did not qualify, grouped by why. */
  readonly excluded: ReadonlyArray<{ readonly reason: string; readonly nodes: readonly string[] }>;
  /** Qualifying nodes skipped by anti-affinity (the reasons per node are in the decisions). */
  readonly skippedByAntiAffinity: readonly string[];
}

export interface Placement {
  readonly members: readonly PlacedMember[];
  readonly roles: readonly RoleOutcome[];
  /** One per qualifying node and role, in the order decided. */
  readonly decisions: readonly PlacementDecision[];
  /** Roles that could not get their minimum; empty when the placement can be applied. */
  readonly problems: readonly string[];
}

function text(value: AttributeValue | undefined): string | null {
  return value === undefined || value === null || value === '' ? null : String(value);
}

export function placeProfile(input: PlacementInput): Placement {
  const { profile } = input;
  if (input.nodes.length > kPlacementNodesMax) throw ProfileError.of('GALAXY_PROFILE_BAD_INPUT', 'nodes', '', `${input.nodes.length} nodes; placement takes at most ${kPlacementNodesMax}`);
  const nodes = [...input.nodes].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const twin = nodes.find((node, index) => index > 0 && nodes[index - 1]!.id === node.id);
  if (twin !== undefined) throw ProfileError.of('GALAXY_PROFILE_BAD_INPUT', 'nodes', '', `node ${twin.id} is given twice`);
  const seen = new Set<string>();
  for (const member of input.current ?? []) {
    if (seen.has(member.node)) throw ProfileError.of('GALAXY_PROFILE_BAD_INPUT', 'current', '', `node ${member.node} is a member twice`);
    seen.add(member.node);
  }
  const roleNames = Object.keys(profile.roles);
  const order = startOrder(roleNames.map((name) => ({ name, after: profile.roles[name]!.after ?? [] })));
  // checkComposition refuses role cycles, so a Profile always has an order.
  if (!order.ok) throw new Error(`role cycle in a checked profile: ${order.cycle.join(' → ')}`);
  const takenBy = new Map<string, string>();
  const members: PlacedMember[] = [];
  const roles: RoleOutcome[] = [];
  const decisions: PlacementDecision[] = [];
  const problems: string[] = [];
  for (const roleName of order.order) {
    const outcome = placeRole(input, nodes, roleName, profile.roles[roleName]!, takenBy, decisions, members);
    roles.push(outcome);
    for (const node of outcome.members) {
      takenBy.set(node, roleName);
      const attributes = nodes.find((n) => n.id === node)!.attributes;
      const networks = Object.fromEntries(kTrafficKinds.map((kind) => [kind, text(attributes[profile.networks[kind].attribute])!])) as Record<TrafficKind, string>;
      members.push({ node, role: roleName, networks });
    }
    if (outcome.members.length < outcome.min) problems.push(shortfall(outcome));
  }
  return { members, roles, decisions, problems };
}

function shortfall(outcome: RoleOutcome): string {
  const groups = outcome.excluded.map((group) => `${group.nodes.length} ${group.reason}`);
  if (outcome.skippedByAntiAffinity.length > 0) groups.push(`${outcome.skippedByAntiAffinity.length} skipped by anti-affinity`);
  const why = groups.join('; ');
  return `role ${outcome.role} needs ${outcome.min} node${outcome.min === 1 ? '' : 's'}, found ${outcome.members.length}${why === '' ? '' : ` (left out: ${why})`}`;
}

/** Why `node` cannot hold `role`, or null when it qualifies. */
function disqualification(input: PlacementInput, node: FarmNode, role: ProfileRole, takenBy: ReadonlyMap<string, string>, within: ReadonlySet<string> | null, selected: ReadonlySet<string> | undefined): string | null {
  const other = takenBy.get(node.id);
  if (other !== undefined) return `already member of role ${other}`;
  if (node.alive === false) return 'not alive';
  if (within !== null && !within.has(node.id)) return "not in the cluster's landscape";
  const placement = role.placement;
  if (placement?.landscape !== undefined) {
    if (selected === undefined) return `landscape ${placement.landscape} is not defined`;
    if (!selected.has(node.id)) return `not in landscape ${placement.landscape}`;
  }
  if (placement?.sql !== undefined) {
    if (selected === undefined) return 'placement SQL not evaluated';
    if (!selected.has(node.id)) return 'not returned by the placement SQL';
  }
  for (const kind of kTrafficKinds) {
    const attribute = input.profile.networks[kind].attribute;
    if (text(node.attributes[attribute]) === null) return `no ${attribute} attribute (network for ${kind} traffic)`;
  }
  const anti = placement?.antiAffinity;
  if (anti !== undefined && anti.hard !== false && text(node.attributes[anti.attribute]) === null) return `no ${anti.attribute} attribute (hard anti-affinity by ${anti.attribute})`;
  return null;
}

function qualifyingReason(input: PlacementInput, role: ProfileRole): string {
  const placement = role.placement;
  if (placement?.landscape !== undefined) return `in landscape ${placement.landscape}`;
  if (placement?.sql !== undefined) return 'returned by the placement SQL';
  return input.within === undefined ? 'any farm node' : "in the cluster's landscape";
}

function placeRole(input: PlacementInput, nodes: readonly FarmNode[], roleName: string, role: ProfileRole, takenBy: ReadonlyMap<string, string>, decisions: PlacementDecision[], placed: readonly PlacedMember[]): RoleOutcome {
  const { min, max } = countBounds(role.count);
  const within = input.within === undefined ? null : new Set(input.within);
  const current = new Set((input.current ?? []).filter((m) => m.role === roleName).map((m) => m.node));
  const excluded = new Map<string, string[]>();
  const candidates: FarmNode[] = [];
  // The role's landscape or SQL result as a set: membership is asked once per node.
  const placement = role.placement;
  const list = placement?.landscape !== undefined ? input.landscapes[placement.landscape] : placement?.sql !== undefined ? input.queries?.[placement.sql] : undefined;
  const selected = list === undefined ? undefined : new Set(list);
  for (const node of nodes) {
    const why = disqualification(input, node, role, takenBy, within, selected);
    if (why === null) candidates.push(node);
    else {
      const group = excluded.get(why);
      if (group === undefined) excluded.set(why, [node.id]);
      else group.push(node.id);
    }
  }
  // Current members first (stable), then the rest by id.
  candidates.sort((a, b) => Number(current.has(b.id)) - Number(current.has(a.id)));
  const anti = role.placement?.antiAffinity;
  const chosen: string[] = [];
  const usedBy = new Map<string, string>();
  const deferred: FarmNode[] = [];
  const skippedByAntiAffinity: string[] = [];
  if (anti?.scope === 'cluster') {
    for (const member of placed) {
      const value = text(nodes.find((n) => n.id === member.node)!.attributes[anti.attribute]);
      if (value !== null && !usedBy.has(value)) usedBy.set(value, member.node);
    }
  }
  const because = qualifyingReason(input, role);
  const take = (node: FarmNode, reason: string): void => {
    chosen.push(node.id);
    const value = anti === undefined ? null : text(node.attributes[anti.attribute]);
    if (value !== null && !usedBy.has(value)) usedBy.set(value, node.id);
    decisions.push({ role: roleName, node: node.id, outcome: current.has(node.id) ? 'kept' : 'chosen', reason });
  };
  for (const node of candidates) {
    const kept = current.has(node.id) ? `already member of role ${roleName}; ` : '';
    if (chosen.length >= max) {
      decisions.push({ role: roleName, node: node.id, outcome: 'skipped', reason: `count reached (${max} of max ${max})` });
      continue;
    }
    if (anti === undefined) {
      take(node, `${kept}${because}`);
      continue;
    }
    const value = text(node.attributes[anti.attribute]);
    const holder = value === null ? undefined : usedBy.get(value);
    if (holder === undefined) {
      take(node, `${kept}${because}; ${value === null ? `no ${anti.attribute}` : `${anti.attribute} ${value}`} not yet used by the ${anti.scope === 'cluster' ? 'cluster' : 'role'}`);
    } else if (anti.hard === false) {
      deferred.push(node);
    } else {
      skippedByAntiAffinity.push(node.id);
      decisions.push({ role: roleName, node: node.id, outcome: 'skipped', reason: `${anti.attribute} ${value} already holds ${holder} (anti-affinity by ${anti.attribute})` });
    }
  }
  for (const node of deferred) {
    const value = text(node.attributes[anti!.attribute])!;
    if (chosen.length >= max) decisions.push({ role: roleName, node: node.id, outcome: 'skipped', reason: `count reached (${max} of max ${max}); ${anti!.attribute} ${value} already holds ${usedBy.get(value)}` });
    else take(node, `${because}; shares ${anti!.attribute} ${value} with ${usedBy.get(value)}: no other ${anti!.attribute} left (soft anti-affinity)`);
  }
  return { role: roleName, min, max, members: chosen, excluded: [...excluded].map(([reason, ids]) => ({ reason, nodes: ids })), skippedByAntiAffinity };
}

/** Throws a GALAXY_PROFILE_PLACEMENT error when a role is short of its minimum. */
export function assertPlaced(placement: Placement, profile: Profile): void {
  const short = placement.roles.filter((role) => role.members.length < role.min);
  if (short.length === 0) return;
  throw new ProfileError(
    short.map((role) => ({ code: 'GALAXY_PROFILE_PLACEMENT' as const, file: `${profile.name}@${profile.version}`, path: formatPath(['roles', role.role, 'count']), reason: `not enough nodes: ${shortfall(role)}` })),
  );
}
