import { ScriptsError } from './scripts-error.js';

/**
 * A phase's success rule: how many of its nodes must succeed (exit 0) for the run to go
 * on to the next phase, as a share ("90%": at least 90% of the nodes, rounded up) or a
 * count ("45"). The default is every node. Checked after each batch too: as soon as the
 * failures so far make the rule impossible to meet, the phase stops starting batches and
 * the run fails, so a bad rollout stops early. A node that fails, times out, is killed
 * or is lost counts as failed.
 */
export type SuccessRule = { readonly kind: 'percent'; readonly percent: number } | { readonly kind: 'count'; readonly count: number };

export const kEveryNodeMustSucceed: SuccessRule = Object.freeze({ kind: 'percent', percent: 100 });

export function parseSuccessRule(text: string): SuccessRule {
  const trimmed = text.trim();
  const percent = /^(\d+(?:\.\d+)?)%$/.exec(trimmed);
  if (percent !== null) {
    const value = Number(percent[1]);
    if (value < 0 || value > 100) throw new ScriptsError('GALAXY_SCRIPTS_INVALID', `a success share is from 0% to 100%, got "${text}"`);
    return { kind: 'percent', percent: value };
  }
  if (/^\d+$/.test(trimmed) && Number.isSafeInteger(Number(trimmed))) return { kind: 'count', count: Number(trimmed) };
  throw new ScriptsError('GALAXY_SCRIPTS_INVALID', `a success rule is a share ("90%") or a node count ("45"), got "${text}"`);
}

/** Successes a phase of `total` nodes needs (a count above the total needs every node). */
export function requiredSuccesses(rule: SuccessRule, total: number): number {
  if (rule.kind === 'count') return Math.min(rule.count, total);
  // The epsilon keeps 90% of 10 at 9, not 10 from 9.000000000000002.
  return Math.min(total, Math.max(0, Math.ceil((rule.percent * total) / 100 - 1e-9)));
}

export type PhaseVerdict = 'undecided' | 'met' | 'cannot-meet';

/**
 * Where a phase stands after some of its nodes finished: `met` once enough succeeded
 * and every node has run, `cannot-meet` as soon as more failed than the rule allows
 * (the rest need not run), else `undecided`.
 */
export function phaseVerdict(required: number, total: number, succeeded: number, failed: number): PhaseVerdict {
  if (failed > total - required) return 'cannot-meet';
  if (succeeded + failed >= total) return succeeded >= required ? 'met' : 'cannot-meet';
  return 'undecided';
}

export function describeSuccessRule(rule: SuccessRule): string {
  return rule.kind === 'count' ? `${rule.count} nodes` : `${rule.percent}%`;
}
