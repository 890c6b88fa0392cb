import { kProbeFailuresMax } from './jobs-limits.js';
import { ProbeTracker as CoreProbeTracker } from '../../core/jobs/probe-tracker.js';
import type { ProcessEnd, ProcessEvent } from './process-state.js';

/**
 * When the coordinator gives up on a node's processes: the rule that keeps a job from
 * hanging on a node that died. Two signals, either sufficient:
 *
 * 1. Membership. A node that was among the jobs component's peers and no longer is
 *    (declared dead by the failure detector, or left, or its jobs component stopped)
 *    loses every process it ran. Only a departure counts, never mere absence: a node
 *    whose jobs component has just started may run a process before the coordinator's
 *    membership lists it. Suspect nodes are still members, and keep their processes.
 * 2. Probes. The coordinator asks each node with live processes, every
 *    kProbeIntervalMs, which of them still run. kProbeFailuresMax unanswered probes in a
 *    row lose the node's processes (it is unreachable, or its component hangs, while
 *    gossip may still count it alive); a process the node no longer knows (its jobs
 *    component restarted and the process died with it) is lost at once.
 *
 * A lost process is final: if its node comes back and reports an end, the report is
 * ignored, since a waiter may have seen the job finish already.
 */

// Both halves of the rule's bookkeeping are pure and live in core/jobs, where the
// stack's job coordination core uses them too.
export { departedNodes } from '../../core/jobs/departed-nodes.js';

/** Consecutive unanswered probes per node (core/jobs/probe-tracker.ts), kProbeFailuresMax by default. */
export class ProbeTracker extends CoreProbeTracker {
  constructor(failuresMax = kProbeFailuresMax) {
    super(failuresMax);
  }
}

/** What a node answers a probe, per process key (`<job id>/<index>`). */
export interface ProbeAnswer {
  /** Still running, or ended with its end report still on the way. */
  readonly running: readonly string[];
  /** Ended, and its end report either delivered or given up: the end, to settle it if the report never came. */
  readonly ended: ReadonlyArray<{ readonly key: string; readonly end: ProcessEnd }>;
  /** Unknown to the node. */
  readonly unknown: readonly string[];
}

export interface ProbeVerdict {
  readonly jobId: string;
  readonly index: number;
  readonly event: ProcessEvent;
}

/**
 * Events from a probe's answer for the processes probed (only those running at the
 * coordinator were probed; a pending one may not have reached its node yet). A key
 * the node answered nothing about is treated as unknown.
 */
export function probeVerdicts(probed: readonly string[], answer: ProbeAnswer, node: string, nowMs: number): ProbeVerdict[] {
  const running = new Set(answer.running);
  const ended = new Map(answer.ended.map((e) => [e.key, e.end]));
  const verdicts: ProbeVerdict[] = [];
  for (const key of probed) {
    const { jobId, index } = parseProcessKey(key);
    const end = ended.get(key);
    if (end !== undefined) verdicts.push({ jobId, index, event: { type: 'ended', end, atMs: nowMs } });
    else if (!running.has(key)) verdicts.push({ jobId, index, event: { type: 'lost', reason: `node ${node} no longer knows the process (its jobs component restarted)`, atMs: nowMs } });
  }
  return verdicts;
}

/** `<job id>/<index>`: how a node names a process it runs. */
export function processKey(jobId: string, index: number): string {
  return `${jobId}/${index}`;
}

export function parseProcessKey(key: string): { jobId: string; index: number } {
  const at = key.lastIndexOf('/');
  const index = Number(key.slice(at + 1));
  if (at <= 0 || !Number.isSafeInteger(index) || index < 0) throw new RangeError(`"${key}" is not a process key (<job id>/<index>)`);
  return { jobId: key.slice(0, at), index };
}
