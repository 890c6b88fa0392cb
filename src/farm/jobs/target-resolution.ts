import { JobsError } from './jobs-error.js';
import { kTargetNodesMax } from './jobs-limits.js';
import type { JobTarget } from './job-spec.js';

/**
 * The nodes a target names, from the farm's answer to `farm.resolve`. The answer comes
 * from another layer (the landscape engine, or SQL over the farm table), so it is
 * checked rather than trusted: each entry must be a node id; duplicates are dropped
 * (a process per node, not per mention) keeping the first order; an empty answer is a
 * refusal (GALAXY_JOBS_NO_TARGETS) that names the target, since "ran on nothing" would
 * otherwise look like success; more than kTargetNodesMax is refused, not cut, because
 * running on an arbitrary subset is worse than not running.
 */
export function resolvedNodes(target: JobTarget, answer: unknown, nodesMax = kTargetNodesMax): string[] {
  if (!Array.isArray(answer)) throw new JobsError('GALAXY_JOBS_INVALID', `farm.resolve answered ${typeof answer}, not a list of node ids`);
  const seen = new Set<string>();
  for (const entry of answer) {
    if (typeof entry !== 'string' || !/^[0-9a-f]{16}$/.test(entry)) throw new JobsError('GALAXY_JOBS_INVALID', `farm.resolve answered ${JSON.stringify(entry)?.slice(0, 40)}, not a node id`);
    seen.add(entry);
    if (seen.size > nodesMax) throw new JobsError('GALAXY_JOBS_BUSY', `${describeTarget(target)} selects more than ${nodesMax} nodes: narrow it`);
  }
  if (seen.size === 0) throw new JobsError('GALAXY_JOBS_NO_TARGETS', `${describeTarget(target)} selects no node`);
  return [...seen];
}

/** The body of the `farm.resolve` request for a target. */
export function resolveRequest(target: JobTarget): { nodes: string[] } | { landscape: string } | { sql: string } {
  if ('nodes' in target) return { nodes: [...target.nodes] };
  if ('landscape' in target) return { landscape: target.landscape };
  return { sql: target.sql };
}

/** e.g. `landscape "web"`, `3 named nodes`, `the SQL statement`; for messages. */
export function describeTarget(target: JobTarget): string {
  if ('nodes' in target) return target.nodes.length === 1 ? `node ${target.nodes[0]}` : `${target.nodes.length} named nodes`;
  if ('landscape' in target) return `landscape "${target.landscape}"`;
  return `the SQL statement "${target.sql.length <= 60 ? target.sql : `${target.sql.slice(0, 59)}…`}"`;
}
