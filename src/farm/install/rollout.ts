import { errorSummary, InstallError, type ErrorSummary } from './install-error.js';
import { succeeded, type InstallOutcome } from './install-outcome.js';

/**
 * Rolls a component version out to a set of nodes in batches: every node of a batch is
 * asked at once (install.apply), and the next batch starts only when the whole batch
 * succeeded. The first failure (an outcome that is not a success, no answer, a refusal) stops
 * the rollout: the nodes not yet asked keep what they run, so a bad version reaches at
 * most one batch. Nodes that had already succeeded keep the new version; going back is
 * another rollout of the old one.
 *
 * The caller resolves a landscape (or a node list) to the target nodes and supplies
 * `apply`, which asks one node (over FarmRpc, or directly for this node).
 */
export interface RolloutTarget {
  readonly id: string;
  readonly address: string;
}

export interface RolloutRequest {
  readonly name: string;
  readonly version: string;
  readonly checksum?: string;
  readonly config?: Readonly<Record<string, unknown>>;
}

export interface RolloutOptions extends RolloutRequest {
  readonly targetNodes: readonly RolloutTarget[];
  /** Nodes asked at once (at least 1). */
  readonly batch: number;
  readonly apply: (target: RolloutTarget, request: RolloutRequest) => Promise<InstallOutcome>;
  readonly onProgress?: (event: RolloutEvent) => void;
}

/** A node's install result; 'error' when it could not be asked or refused the request; 'not-attempted' after a stop. */
export type RolloutNodeResult = InstallOutcome['result'] | 'error' | 'not-attempted';

export interface RolloutNodeReport {
  readonly id: string;
  readonly result: RolloutNodeResult;
  readonly previousVersion: string | null;
  readonly error: ErrorSummary | null;
}

export interface RolloutReport {
  readonly name: string;
  readonly version: string;
  readonly ok: boolean;
  readonly batches: number;
  /** The batch (0-based) in which the rollout stopped, or null when it completed. */
  readonly stoppedInBatch: number | null;
  readonly nodes: readonly RolloutNodeReport[];
}

export type RolloutEvent =
  | { readonly type: 'batch'; readonly batch: number; readonly nodes: readonly string[] }
  | { readonly type: 'node'; readonly batch: number; readonly node: RolloutNodeReport }
  | { readonly type: 'stopped'; readonly batch: number; readonly failed: readonly string[] }
  | { readonly type: 'done'; readonly ok: boolean };

/** Target nodes in one rollout at most: a farm is large, but a rollout's report must stay bounded. */
export const kRolloutTargetsMax = 100_000;

export async function rollout(options: RolloutOptions): Promise<RolloutReport> {
  const { targetNodes, batch } = options;
  if (!Number.isSafeInteger(batch) || batch < 1) throw new InstallError('GALAXY_INSTALL_BAD_REQUEST', `batch must be a positive integer, got ${String(batch)}`);
  if (targetNodes.length === 0) throw new InstallError('GALAXY_INSTALL_BAD_TARGET', 'the rollout has no target nodes');
  if (targetNodes.length > kRolloutTargetsMax) throw new InstallError('GALAXY_INSTALL_BAD_TARGET', `${targetNodes.length} target nodes (at most ${kRolloutTargetsMax})`);
  if (new Set(targetNodes.map((t) => t.id)).size !== targetNodes.length) throw new InstallError('GALAXY_INSTALL_BAD_TARGET', 'a target node is listed twice');
  const request: RolloutRequest = { name: options.name, version: options.version, ...(options.checksum === undefined ? {} : { checksum: options.checksum }), ...(options.config === undefined ? {} : { config: options.config }) };
  const emit = options.onProgress ?? (() => {});
  const reports = new Map<string, RolloutNodeReport>();
  const batches = Math.ceil(targetNodes.length / batch);
  let stoppedInBatch: number | null = null;
  for (let index = 0; index < batches && stoppedInBatch === null; index++) {
    const members = targetNodes.slice(index * batch, (index + 1) * batch);
    emit({ type: 'batch', batch: index, nodes: members.map((m) => m.id) });
    const results = await Promise.all(members.map((target) => applyOne(options, target, request)));
    for (const report of results) {
      reports.set(report.id, report);
      emit({ type: 'node', batch: index, node: report });
    }
    const failed = results.filter((r) => r.result === 'error' || r.result === 'not-attempted' || !succeeded({ result: r.result }));
    if (failed.length > 0) {
      stoppedInBatch = index;
      emit({ type: 'stopped', batch: index, failed: failed.map((f) => f.id) });
    }
  }
  const nodes = targetNodes.map((t) => reports.get(t.id) ?? { id: t.id, result: 'not-attempted' as const, previousVersion: null, error: null });
  const ok = stoppedInBatch === null;
  emit({ type: 'done', ok });
  return { name: options.name, version: options.version, ok, batches, stoppedInBatch, nodes };
}

async function applyOne(options: RolloutOptions, target: RolloutTarget, request: RolloutRequest): Promise<RolloutNodeReport> {
  try {
    const outcome = await options.apply(target, request);
    return { id: target.id, result: outcome.result, previousVersion: outcome.previousVersion, error: outcome.error };
  } catch (error) {
    return { id: target.id, result: 'error', previousVersion: null, error: errorSummary(error, 'GALAXY_RPC_REMOTE') };
  }
}
