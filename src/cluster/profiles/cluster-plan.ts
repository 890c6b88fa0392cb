import { compareSemver, parseSemverRange, satisfiesRange } from '../../farm/install/semver.js';
import { resolveVersion, type PackageCatalog } from './package-catalog.js';
import { placeProfile, type Placement, type PlacementInput } from './profile-placement.js';
import type { ProfileRole } from './profile-schema.js';
import { startOrder } from './start-order.js';

/**
 * The `--dry-run` plan (terraform plan style) of a create or an upgrade: from the
 * cluster's current state (members, their roles, the component versions installed on
 * them) to what a target profile says, the list of actions in the order to apply them.
 * Pure: the cluster service applies it (one member at a time, waiting on health).
 *
 * Order: roles in start order; in each role, each member's changes in component start
 * order (removals in reverse), a new member added before its installs; members leaving
 * the cluster last, their components removed in reverse start order before the member.
 * A component is upgraded only when its installed version is outside the new range
 * (to the highest known version in range); one with no known version in range is an
 * install of version null, and the plan is `blocked`.
 */
export interface InstalledComponent {
  readonly package: string;
  readonly version: string;
}

export interface CurrentMember {
  readonly node: string;
  readonly role: string;
  readonly components: readonly InstalledComponent[];
}

export type PlanAction =
  | { readonly kind: 'add-member'; readonly node: string; readonly role: string; readonly reason: string }
  | { readonly kind: 'change-role'; readonly node: string; readonly from: string; readonly role: string; readonly reason: string }
  | { readonly kind: 'install'; readonly node: string; readonly role: string; readonly package: string; readonly range: string; readonly version: string | null }
  | { readonly kind: 'upgrade' | 'downgrade'; readonly node: string; readonly role: string; readonly package: string; readonly range: string; readonly from: string; readonly version: string | null }
  | { readonly kind: 'remove-component'; readonly node: string; readonly package: string; readonly version: string }
  | { readonly kind: 'remove-member'; readonly node: string; readonly role: string; readonly reason: string };

export interface ClusterPlan {
  readonly profile: string;
  readonly placement: Placement;
  readonly actions: readonly PlanAction[];
  /** Why the plan cannot be applied: placement shortfalls and components with no known version. */
  readonly blocked: readonly string[];
}

export interface PlanInput extends Omit<PlacementInput, 'current'> {
  readonly current: readonly CurrentMember[];
  readonly catalog: PackageCatalog;
}

/** A role's packages in start order (stop in the reverse): what the cluster service starts on a member. */
export function componentStartOrder(role: ProfileRole): string[] {
  const order = startOrder(role.components.map((c) => ({ name: c.package, after: c.after ?? [] })));
  if (!order.ok) throw new Error(`component cycle in a checked profile: ${order.cycle.join(' → ')}`);
  return [...order.order];
}

export function planCluster(input: PlanInput): ClusterPlan {
  const { profile, catalog } = input;
  const placement = placeProfile({ ...input, current: input.current.map((m) => ({ node: m.node, role: m.role })) });
  const currentByNode = new Map(input.current.map((m) => [m.node, m]));
  const actions: PlanAction[] = [];
  const blocked: string[] = [...placement.problems];
  // One line per component and role, however many members need it.
  const missing = new Map<string, string[]>();
  const reasons = new Map(placement.decisions.filter((d) => d.outcome !== 'skipped').map((d) => [`${d.role}/${d.node}`, d.reason]));
  const placed = new Set<string>();
  for (const outcome of placement.roles) {
    const role = profile.roles[outcome.role]!;
    const order = componentStartOrder(role);
    for (const node of outcome.members) {
      placed.add(node);
      const before = currentByNode.get(node);
      const reason = reasons.get(`${outcome.role}/${node}`) ?? '';
      if (before === undefined) actions.push({ kind: 'add-member', node, role: outcome.role, reason });
      else if (before.role !== outcome.role) actions.push({ kind: 'change-role', node, from: before.role, role: outcome.role, reason });
      actions.push(...memberChanges(node, outcome.role, role, order, before?.components ?? [], catalog, missing));
    }
  }
  for (const member of input.current) {
    if (placed.has(member.node)) continue;
    const role = profile.roles[member.role];
    const order = role === undefined ? [] : componentStartOrder(role);
    const rank = (name: string) => (order.includes(name) ? order.indexOf(name) : -1);
    // Reverse start order; components the role does not list, in reverse of their install order.
    const leaving = [...member.components].reverse().sort((a, b) => rank(b.package) - rank(a.package));
    for (const component of leaving) actions.push({ kind: 'remove-component', node: member.node, package: component.package, version: component.version });
    actions.push({ kind: 'remove-member', node: member.node, role: member.role, reason: leaveReason(member, input, placement) });
  }
  for (const [what, nodes] of missing) blocked.push(`${what} on ${nodes.length} node${nodes.length === 1 ? '' : 's'}: no known version in range`);
  return { profile: `${profile.name}@${profile.version}`, placement, actions, blocked };
}

function leaveReason(member: CurrentMember, input: PlanInput, placement: Placement): string {
  if (input.profile.roles[member.role] === undefined) return `role ${member.role} is not in the profile`;
  const outcome = placement.roles.find((r) => r.role === member.role)!;
  const excluded = outcome.excluded.find((group) => group.nodes.includes(member.node));
  if (excluded !== undefined) return excluded.reason;
  const skipped = placement.decisions.find((d) => d.node === member.node && d.role === member.role && d.outcome === 'skipped');
  return skipped?.reason ?? 'not placed';
}

function memberChanges(node: string, roleName: string, role: ProfileRole, order: readonly string[], installed: readonly InstalledComponent[], catalog: PackageCatalog, missing: Map<string, string[]>): PlanAction[] {
  const actions: PlanAction[] = [];
  const wanted = new Set(order);
  const removals = installed.filter((c) => !wanted.has(c.package)).reverse();
  for (const component of removals) actions.push({ kind: 'remove-component', node, package: component.package, version: component.version });
  for (const name of order) {
    const component = role.components.find((c) => c.package === name)!;
    const have = installed.find((c) => c.package === name);
    const range = parseSemverRange(component.version)!;
    if (have !== undefined && satisfiesRange(have.version, range)) continue;
    const version = resolveVersion(catalog, name, component.version);
    if (version === null) {
      const what = `${name} ${component.version} (role ${roleName})`;
      missing.set(what, [...(missing.get(what) ?? []), node]);
    }
    if (have === undefined) actions.push({ kind: 'install', node, role: roleName, package: name, range: component.version, version });
    else actions.push({ kind: version !== null && compareSemver(version, have.version) < 0 ? 'downgrade' : 'upgrade', node, role: roleName, package: name, range: component.version, from: have.version, version });
  }
  return actions;
}

/** The plan as terraform-like lines, then a summary line. */
export function formatPlan(plan: ClusterPlan): string[] {
  const lines: string[] = [];
  const version = (v: string | null, range: string) => (v === null ? `${range} (no known version: missing)` : v);
  for (const action of plan.actions) {
    switch (action.kind) {
      case 'add-member':
        lines.push(`+ add member ${action.node} as ${action.role} (${action.reason})`);
        break;
      case 'change-role':
        lines.push(`~ move member ${action.node} from role ${action.from} to ${action.role} (${action.reason})`);
        break;
      case 'install':
        lines.push(`  + install ${action.package}@${version(action.version, action.range)} on ${action.node}`);
        break;
      case 'upgrade':
      case 'downgrade':
        lines.push(`  ~ ${action.kind} ${action.package} ${action.from} → ${version(action.version, action.range)} on ${action.node}`);
        break;
      case 'remove-component':
        lines.push(`  - remove ${action.package}@${action.version} from ${action.node}`);
        break;
      case 'remove-member':
        lines.push(`- remove member ${action.node} (was ${action.role}: ${action.reason})`);
        break;
    }
  }
  const count = (kind: PlanAction['kind']) => plan.actions.filter((a) => a.kind === kind).length;
  lines.push(
    `Plan for ${plan.profile}: ${count('add-member')} member(s) to add, ${count('change-role')} to move, ${count('remove-member')} to remove; ` +
      `${count('install')} install(s), ${count('upgrade') + count('downgrade')} version change(s), ${count('remove-component')} component removal(s).`,
  );
  for (const reason of plan.blocked) lines.push(`! blocked: ${reason}`);
  if (plan.actions.length === 0 && plan.blocked.length === 0) lines.push('No changes: the cluster matches the profile.');
  return lines;
}

