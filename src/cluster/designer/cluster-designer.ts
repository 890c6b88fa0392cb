import { DomainError } from '../../core/util/domain-error.js';
import type { FarmData } from '../../farm/data/farm-data.js';
import { LandscapeError } from '../../farm/data/landscape/landscape-error.js';
import type { MemberView } from '../../core/membership/member-view.js';
import { formatPlan, planCluster, type CurrentMember, type PlanAction } from '../profiles/cluster-plan.js';
import type { PackageCatalog } from '../profiles/package-catalog.js';
import { ProfileError } from '../profiles/profile-error.js';
import type { ProfileInput, ProfileLibrary } from '../profiles/profile-library.js';
import { placeProfile, type FarmNode, type Placement, type PlacedMember } from '../profiles/profile-placement.js';
import type { Profile } from '../profiles/profile-schema.js';

/**
 * The Cluster Designer over live data (paper, section 7): a stored profile (or a
 * profile text being edited), the FMIDB's nodes with their attributes, membership's
 * view of who is alive, the landscapes as this node computes them, and each role's
 * placement SQL run on this node's FMIDB mirror. It previews placement (which node gets
 * which role, and why) and plans a create or an upgrade in the style of `terraform
 * plan`. It changes nothing: the plan it returns is what `galaxy cluster create` (the
 * cluster service) applies; applyClusterPlan (cluster-plan-apply.ts) is the hand-over.
 *
 * Every read is local to this node's replica, so a preview costs no network traffic.
 */
export interface ClusterDesignerOptions {
  readonly library: ProfileLibrary;
  readonly data: Pick<FarmData, 'attributes' | 'listLandscapes' | 'resolve'>;
  /** Membership: a node not alive or suspect here is not placed. Absent: every FMIDB node counts as alive. */
  readonly members?: () => readonly MemberView[];
  readonly catalog: () => PackageCatalog;
  /**
   * A cluster's current members and installed versions, by cluster name, from the
   * cluster service; null when there is no such cluster (the plan is then a create).
   * Absent until the cluster service is wired in: plans are creates unless the request
   * gives `current` itself.
   */
  readonly currentOf?: (cluster: string) => readonly CurrentMember[] | null;
  /**
   * Why name@version cannot go on a node because other clusters hold another version of
   * that component there (a node runs one copy: src/cluster/lifecycle/component-holders.ts);
   * empty when it can. Its reasons block the plan. Absent: not checked.
   */
  readonly conflictsOf?: (cluster: string | null, node: string, role: string, name: string, version: string) => readonly string[];
}

export interface PreviewRequest {
  readonly profile: ProfileInput;
  /** The cluster's node set (`galaxy cluster create --on LANDSCAPE`); null or absent: the whole farm. */
  readonly on?: string | null;
}

export interface PlanRequest extends PreviewRequest {
  /** The cluster's name; an existing cluster of that name (currentOf) makes the plan an upgrade. */
  readonly name?: string;
  /** The current members, given explicitly (an upgrade plan for a cluster the service does not know yet). */
  readonly current?: readonly CurrentMember[];
}

export interface DesignPreview {
  readonly profile: string;
  readonly on: string | null;
  /** Nodes of the farm considered (the FMIDB's nodes). */
  readonly nodes: number;
  readonly placement: Placement;
  /** Every role got its minimum. */
  readonly placeable: boolean;
}

/** What the designer hands to cluster creation: the exact command, and the plan it was shown. */
export interface ClusterPlanDocument {
  readonly apiVersion: 'galaxy/v1';
  readonly kind: 'ClusterPlan';
  readonly operation: 'create' | 'upgrade';
  readonly name: string | null;
  readonly profile: string;
  readonly on: string | null;
  readonly plannedAt: string;
  readonly members: readonly PlacedMember[];
  readonly actions: readonly PlanAction[];
  readonly blocked: readonly string[];
  /** The plan as `terraform plan` prints it. */
  readonly lines: readonly string[];
  /** `galaxy cluster create NAME --profile P --on L` (or `upgrade`); null without a name. */
  readonly command: string | null;
  readonly placement: Placement;
}

/** As the cluster name scheme uses it: cluster/<name>/member/<node>/... */
export const kClusterNamePattern = /^[a-z][a-z0-9-]{0,62}$/;

export class ClusterDesigner {
  private readonly options: ClusterDesignerOptions;

  constructor(options: ClusterDesignerOptions) {
    this.options = options;
  }

  preview(request: PreviewRequest): DesignPreview {
    const { ref, profile } = this.options.library.profile(request.profile);
    const on = request.on ?? null;
    const input = this.placementInput(profile, on);
    const placement = placeProfile(input);
    return { profile: ref, on, nodes: input.nodes.length, placement, placeable: placement.problems.length === 0 };
  }

  plan(request: PlanRequest): ClusterPlanDocument {
    const name = request.name ?? null;
    if (name !== null && !kClusterNamePattern.test(name)) throw new DomainError('invalid', 'GALAXY_DESIGNER_BAD_NAME', `a cluster name is 1 to 63 of a-z 0-9 - starting with a letter, got ${JSON.stringify(name)}`);
    const { ref, profile } = this.options.library.profile(request.profile);
    const on = request.on ?? null;
    const current = request.current ?? (name === null ? null : (this.options.currentOf?.(name) ?? null)) ?? [];
    const operation = current.length > 0 ? 'upgrade' : 'create';
    const planned = planCluster({ ...this.placementInput(profile, on), current, catalog: this.options.catalog() });
    const plan = { ...planned, blocked: [...planned.blocked, ...this.conflicts(name, planned.actions)] };
    const command = name === null ? null : operation === 'create' ? `galaxy cluster create ${name} --profile ${ref}${on === null ? '' : ` --on ${on}`}` : `galaxy cluster upgrade ${name} --profile ${ref}`;
    return {
      apiVersion: 'galaxy/v1',
      kind: 'ClusterPlan',
      operation,
      name,
      profile: ref,
      on,
      plannedAt: new Date().toISOString(),
      members: plan.placement.members,
      actions: plan.actions,
      blocked: plan.blocked,
      lines: formatPlan(plan),
      command,
      placement: plan.placement,
    };
  }

  /** The plan's installs and version changes that would clash with a copy other clusters hold on the node. */
  private conflicts(name: string | null, actions: readonly PlanAction[]): string[] {
    const check = this.options.conflictsOf;
    if (check === undefined) return [];
    const out: string[] = [];
    for (const action of actions) {
      if (action.kind !== 'install' && action.kind !== 'upgrade' && action.kind !== 'downgrade') continue;
      if (action.version !== null) out.push(...check(name, action.node, action.role, action.package, action.version));
    }
    return out;
  }

  /** Nodes, liveness, landscapes and placement-SQL results, read from this node's replica. */
  private placementInput(profile: Profile, on: string | null) {
    const { data } = this.options;
    const landscapes: Record<string, string[]> = {};
    for (const landscape of data.listLandscapes()) landscapes[landscape.name] = data.resolve({ landscape: landscape.name });
    if (on !== null && landscapes[on] === undefined) {
      throw new DomainError('not-found', 'GALAXY_DESIGNER_UNKNOWN_LANDSCAPE', `no landscape ${JSON.stringify(on)} (landscapes: ${Object.keys(landscapes).join(', ') || 'none'})`);
    }
    const status = this.options.members === undefined ? null : new Map(this.options.members().map((m) => [m.id, m.status]));
    const nodes: FarmNode[] = data.attributes(undefined).map((row) => {
      const state = status?.get(row.node);
      return { id: row.node, attributes: Object.fromEntries(row.attributes.map((a) => [a.key, a.value])), alive: status === null || state === 'alive' || state === 'suspect' };
    });
    const queries: Record<string, string[]> = {};
    for (const [role, body] of Object.entries(profile.roles)) {
      const sql = body.placement?.sql;
      if (sql === undefined || queries[sql] !== undefined) continue;
      try {
        queries[sql] = data.resolve({ sql });
      } catch (error) {
        if (!(error instanceof LandscapeError)) throw error;
        throw ProfileError.of('GALAXY_PROFILE_SEMANTICS', `${profile.name}@${profile.version}`, `roles.${role}.placement.sql`, `${error.code}: ${error.message}`);
      }
    }
    return { profile, nodes, landscapes, queries, ...(on === null ? {} : { within: landscapes[on]! }) };
  }
}
