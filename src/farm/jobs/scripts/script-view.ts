import type { JobTarget } from '../job-spec.js';
import { lastFitting } from '../output-journal.js';
import { mergeOutputs, type MergedGroup, type NodeOutput } from './dshbak-merge.js';
import type { NodeResult, PhaseRecord, PhaseState, RunState, ScriptRun } from './script-run.js';
import { kScriptRecordJsonCharsMax } from './scripts-limits.js';

/**
 * What the script service answers about runs, and what it stores on the management
 * nodes: plain JSON records, times as ISO 8601. Every record is bounded in JSON
 * characters (kScriptRecordJsonCharsMax), since it crosses the component RPC: per-node
 * results are paged per phase, and merged texts are cut (their ends kept) when a record
 * would exceed the bound.
 */
export interface PhaseSummary {
  readonly number: number;
  readonly name: string;
  readonly state: PhaseState;
  readonly nodes: number;
  readonly required: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly batches: number;
  readonly batchesRun: number;
  readonly jobIds: readonly string[];
  readonly startedAt: string | null;
  readonly endedAt: string | null;
}

export interface ScriptSummary {
  readonly id: string;
  readonly name: string | null;
  readonly state: RunState;
  readonly reason: string | null;
  readonly createdBy: string;
  readonly createdAt: string;
  readonly finishedAt: string | null;
  readonly target: JobTarget;
  readonly nodes: number;
  readonly batch: string;
  readonly batchSize: number;
  readonly minSuccess: string;
  readonly phases: readonly PhaseSummary[];
  /** Where the run's log was stored (management nodes), and where storing failed. */
  readonly logs: { readonly stored: readonly string[]; readonly failed: readonly string[] };
}

export interface NodeResultView {
  readonly node: string;
  readonly state: NodeResult['state'];
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly reason: string | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly startedAt: string | null;
  readonly endedAt: string | null;
  readonly jobId: string | null;
}

export interface MergedPhase {
  readonly phase: number;
  readonly name: string;
  readonly groups: readonly MergedGroup[];
  /** Groups left out (smallest first) to keep the record within its bound. */
  readonly groupsOmitted: number;
}

/** scripts.show: the summary, and one phase's per-node results (paged) or every phase's merged view. */
export interface ScriptView extends ScriptSummary {
  readonly results?: { readonly phase: number; readonly offset: number; readonly total: number; readonly nodes: readonly NodeResultView[] };
  readonly merged?: readonly MergedPhase[];
  /** Whether output texts were cut to keep this answer within its bound. */
  readonly outputCut?: boolean;
}

/** The facts of a run the pure ScriptRun does not hold. */
export interface RunMeta {
  readonly id: string;
  readonly name: string | null;
  readonly createdBy: string;
  readonly createdAtMs: number;
  readonly target: JobTarget;
  readonly batch: string;
  readonly minSuccess: string;
  readonly logs: { readonly stored: readonly string[]; readonly failed: readonly string[] };
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

export function phaseSummary(phase: PhaseRecord, nodes: number): PhaseSummary {
  return {
    number: phase.number,
    name: phase.name,
    state: phase.state,
    nodes,
    required: phase.required,
    succeeded: phase.succeeded,
    failed: phase.failed,
    batches: phase.batches.length,
    batchesRun: phase.batchesRun,
    jobIds: [...phase.jobIds],
    startedAt: iso(phase.startedAtMs),
    endedAt: iso(phase.endedAtMs),
  };
}

export function scriptSummary(meta: RunMeta, run: ScriptRun): ScriptSummary {
  return {
    id: meta.id,
    name: meta.name,
    state: run.state,
    reason: run.reason,
    createdBy: meta.createdBy,
    createdAt: iso(meta.createdAtMs)!,
    finishedAt: iso(run.finishedAtMs),
    target: meta.target,
    nodes: run.nodes.length,
    batch: meta.batch,
    batchSize: run.batchSize,
    minSuccess: meta.minSuccess,
    phases: run.phaseRecords.map((p) => phaseSummary(p, run.nodes.length)),
    logs: { stored: [...meta.logs.stored], failed: [...meta.logs.failed] },
  };
}

export function nodeResultView(result: NodeResult): NodeResultView {
  return {
    node: result.node,
    state: result.state,
    exitCode: result.exitCode,
    signal: result.signal,
    reason: result.reason,
    stdout: result.stdout,
    stderr: result.stderr,
    startedAt: iso(result.startedAtMs),
    endedAt: iso(result.endedAtMs),
    jobId: result.jobId,
  };
}

/** "exit 0", "SIGKILL", "timed out", "lost", "skipped", ...: the status dshbak groups by. */
export function statusLabel(result: NodeResult): string {
  switch (result.state) {
    case 'exited':
      return `exit ${result.exitCode}`;
    case 'signalled':
      return result.signal ?? 'signalled';
    case 'timed-out':
      return 'timed out';
    default:
      return result.state;
  }
}

/** Every phase's results, merged dshbak-style. */
export function mergedPhases(run: ScriptRun): MergedPhase[] {
  return run.phaseRecords
    .filter((p) => p.results.size > 0)
    .map((p) => {
      const outputs: NodeOutput[] = [...p.results.values()].map((r) => ({ node: r.node, status: statusLabel(r), stdout: r.stdout, stderr: r.stderr }));
      return { phase: p.number, name: p.name, groups: mergeOutputs(outputs), groupsOmitted: 0 };
    });
}

/** Results of one phase, `limit` nodes from `offset`, in the run's node order. */
export function phaseResults(run: ScriptRun, phaseNumber: number, offset: number, limit: number): ScriptView['results'] {
  const phase = run.phaseRecords[phaseNumber - 1];
  if (phase === undefined) return { phase: phaseNumber, offset, total: 0, nodes: [] };
  const ordered = run.nodes.flatMap((node) => {
    const result = phase.results.get(node);
    return result === undefined ? [] : [result];
  });
  return { phase: phaseNumber, offset, total: ordered.length, nodes: ordered.slice(offset, offset + limit).map(nodeResultView) };
}

/**
 * The view cut to `charsMax` JSON characters: output texts are shortened to their ends,
 * shorter and shorter, until it fits; if even empty texts do not fit, merged groups are
 * dropped smallest first and result pages shortened.
 */
export function fitView(view: ScriptView, charsMax = kScriptRecordJsonCharsMax): ScriptView {
  if (JSON.stringify(view).length <= charsMax) return view;
  for (let textMax = 4096; textMax >= 0; textMax = textMax === 0 ? -1 : Math.floor(textMax / 4)) {
    const cut = cutTexts(view, textMax);
    if (JSON.stringify(cut).length <= charsMax) return cut;
  }
  let cut = cutTexts(view, 0);
  while (JSON.stringify(cut).length > charsMax) {
    const merged = cut.merged?.map((m) => ({ ...m }));
    const largest = merged?.reduce<MergedPhase | null>((best, m) => (m.groups.length > 1 && (best === null || m.groups.length > best.groups.length) ? m : best), null);
    if (merged !== undefined && largest !== null && largest !== undefined) {
      const at = merged.indexOf(largest);
      merged[at] = { ...largest, groups: largest.groups.slice(0, Math.ceil(largest.groups.length / 2)), groupsOmitted: largest.groupsOmitted + Math.floor(largest.groups.length / 2) };
      cut = { ...cut, merged };
      continue;
    }
    if (cut.results !== undefined && cut.results.nodes.length > 1) {
      cut = { ...cut, results: { ...cut.results, nodes: cut.results.nodes.slice(0, Math.ceil(cut.results.nodes.length / 2)) } };
      continue;
    }
    break;
  }
  return cut;
}

function cutTexts(view: ScriptView, textMax: number): ScriptView {
  const cut = (text: string) => (text.length <= textMax ? text : lastFitting(text, textMax));
  return {
    ...view,
    outputCut: true,
    ...(view.results === undefined ? {} : { results: { ...view.results, nodes: view.results.nodes.map((n) => ({ ...n, stdout: cut(n.stdout), stderr: cut(n.stderr) })) } }),
    ...(view.merged === undefined ? {} : { merged: view.merged.map((m) => ({ ...m, groups: m.groups.map((g) => ({ ...g, stdout: cut(g.stdout), stderr: cut(g.stderr) })) })) }),
  };
}
