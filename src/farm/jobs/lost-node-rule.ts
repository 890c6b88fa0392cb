import { parseProcessKeyOf } from '../../core/jobs/job-message.js';

/**
 * When the coordinator gives up on a node's processes: the rule that keeps a job from
 * hanging on a node that died. Two signals, either sufficient:
 *
 * 1. Membership. A node that was among the jobs component's peers and no longer is
 *    (declared dead by the failure detector, or left, or its jobs component stopped)
 *    loses every process it ran. Only a departure counts, never mere absence: a node
 *    whose jobs component has just started may run a process before the coordinator's
 *    membership lists it. Suspect nodes are still members, and keep their processes.
 * 2. Probes. The coordinator asks each node with running processes, every
 *    kProbeIntervalMs, which of them still run. kProbeFailuresMax probe rounds in a row
 *    left unanswered lose the node's processes (it is unreachable, or its component hangs, while
 *    gossip may still count it alive); a process the node no longer knows (its jobs
 *    component restarted and the process died with it) is lost at once.
 *
 * A lost process is final: if its node comes back and reports an end, the report is
 * ignored, since a waiter may have seen the job finish already.
 */

// The rule is applied by the job coordination core (core/jobs/job-coordinator-core.ts),
// in the agent (job-coordinator.ts drives it) as in the simulated farms; its pure
// bookkeeping lives in core/jobs too.
export { departedNodes } from '../../core/jobs/departed-nodes.js';
export { ProbeTracker } from '../../core/jobs/probe-tracker.js';

/** `<job id>/<index>`: how a node names a process it runs. */
export { processKeyOf as processKey } from '../../core/jobs/job-message.js';

export function parseProcessKey(key: string): { jobId: string; index: number } {
  const parsed = parseProcessKeyOf(key);
  if (parsed === null) throw new RangeError(`"${key}" is not a process key (<job id>/<index>)`);
  return parsed;
}
