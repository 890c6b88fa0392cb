import { DomainError } from '../../core/util/domain-error.js';
import type { ApiClient } from '../../surface/client/api-client.js';
import type { ClusterPlanDocument } from './cluster-designer.js';

/**
 * The hand-over from the Cluster Designer to the cluster service: a confirmed plan
 * becomes one create (or upgrade) request. The designer does not create clusters
 * itself: the CLI's `galaxy cluster design --yes` passes the cluster lifecycle's applier
 * (src/cluster/lifecycle/lifecycle-commands.ts, wired in src/ops/cli/main.ts), which
 * starts the create or upgrade on the agent and follows it live. Without one the plan is
 * only printed with its command.
 */
export interface ClusterApplyRequest {
  readonly operation: 'create' | 'upgrade';
  readonly name: string;
  /** name@version, exact: the version the plan was made with, not a range that may move. */
  readonly profile: string;
  readonly on: string | null;
  /** The members the plan placed (the service may re-place if the farm changed since). */
  readonly members: ClusterPlanDocument['members'];
}

/** Applies a request; `client` is the CLI's connection to the agent (the lifecycle's applier creates or upgrades through it). */
export type ClusterApplier = (request: ClusterApplyRequest, client: ApiClient) => Promise<unknown>;

export function applyRequestOf(plan: ClusterPlanDocument): ClusterApplyRequest {
  if (plan.name === null) throw new DomainError('invalid', 'GALAXY_DESIGNER_NO_NAME', 'the plan has no cluster name: plan again with a name');
  if (plan.blocked.length > 0) throw new DomainError('conflict', 'GALAXY_DESIGNER_BLOCKED', `the plan is blocked: ${plan.blocked.join('; ')}`);
  return { operation: plan.operation, name: plan.name, profile: plan.profile, on: plan.on, members: plan.members };
}

/** Applies a confirmed plan through `apply`; returns what it answered. */
export async function applyClusterPlan(plan: ClusterPlanDocument, apply: ClusterApplier, client: ApiClient): Promise<unknown> {
  return apply(applyRequestOf(plan), client);
}
