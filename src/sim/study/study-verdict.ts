import type { StudyResult, StudyVerdict } from './study-result.js';

/**
 * Judges a run against what the protocol promises: no running, unpaused node is ever
 * declared dead; every crash is dead at every live node within the SWIM bound; and the
 * farm converges once the last fault is a bound behind it. Anything else is a finding
 * (surprising), and the CLI prints the run's repro line for it. A false death across a
 * partition counts too: the suspicion timeout is what should outlast partitions the
 * farm is expected to ride out, and a study that cuts longer asks exactly that question.
 */
export function studyVerdict(result: Omit<StudyResult, 'verdict'>, lastFaultMs: number): StudyVerdict {
  const reasons: string[] = [];
  const notes: string[] = [];
  const { totals, crashes, detectionBoundMs, spec } = result;
  if (totals.falseDeaths > 0) {
    const first = result.falseExamples.find((e) => e.kind === 'dead');
    const example = first === undefined ? '' : ` (first: ${first.observer} declared ${first.subject} dead at ${(first.simTimeMs / 1000).toFixed(1)}s)`;
    reasons.push(`${totals.falseDeaths} false death${totals.falseDeaths === 1 ? '' : 's'}${example}`);
  }
  const late = crashes.filter((c) => c.withinBound === false);
  if (late.length > 0) {
    const c = late[0]!;
    reasons.push(`${late.length} crash${late.length === 1 ? '' : 'es'} not dead everywhere within the SWIM bound of ${(detectionBoundMs / 1000).toFixed(1)}s (first: ${c.victim}, crashed at ${(c.atMs / 1000).toFixed(1)}s, dead at ${c.detected} of ${c.observers} observers)`);
  }
  const open = crashes.filter((c) => c.withinBound === null);
  if (open.length > 0) notes.push(`${open.length} crash${open.length === 1 ? '' : 'es'} too close to the end to judge (not yet dead everywhere, and the run ended inside the bound)`);
  const endMs = spec.simulatedMs;
  if (!result.finalConvergence.converged) {
    if (endMs - lastFaultMs >= detectionBoundMs) reasons.push(`not converged at the end, ${((endMs - lastFaultMs) / 1000).toFixed(1)}s after the last fault: ${result.finalConvergence.summary}`);
    else notes.push(`not converged at the end, but the last fault was only ${((endMs - lastFaultMs) / 1000).toFixed(1)}s before it (the bound is ${(detectionBoundMs / 1000).toFixed(1)}s)`);
  }
  if (totals.deadWhilePaused > 0) notes.push(`${totals.deadWhilePaused} deaths of stalled nodes (Lifeguard may rightly declare a long-stalled node dead)`);
  return { surprising: reasons.length > 0, reasons, notes };
}
