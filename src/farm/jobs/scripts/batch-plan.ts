import { ScriptsError } from './scripts-error.js';

/**
 * The concurrency limit of a script run: its nodes run in batches of at most N nodes,
 * given as a count ("10") or a share of the run's nodes ("10%", rounded up, at least
 * one node). Batches run one after another within a phase, so at most N nodes run the
 * script at once, and the success rule is checked between batches: a rollout failing on
 * its first batch stops there instead of breaking every node.
 */
export type BatchLimit = { readonly kind: 'count'; readonly count: number } | { readonly kind: 'percent'; readonly percent: number };

/** Every node at once. */
export const kNoBatchLimit: BatchLimit = Object.freeze({ kind: 'percent', percent: 100 });

/** "10" or "10%" (also "2.5%"); GALAXY_SCRIPTS_INVALID otherwise. */
export function parseBatchLimit(text: string): BatchLimit {
  const trimmed = text.trim();
  const percent = /^(\d+(?:\.\d+)?)%$/.exec(trimmed);
  if (percent !== null) {
    const value = Number(percent[1]);
    if (value <= 0 || value > 100) throw new ScriptsError('GALAXY_SCRIPTS_INVALID', `a batch share must be above 0% and at most 100%, got "${text}"`);
    return { kind: 'percent', percent: value };
  }
  if (/^\d+$/.test(trimmed) && Number(trimmed) >= 1 && Number.isSafeInteger(Number(trimmed))) return { kind: 'count', count: Number(trimmed) };
  throw new ScriptsError('GALAXY_SCRIPTS_INVALID', `a batch is a node count ("10") or a share of the nodes ("10%"), got "${text}"`);
}

/** Nodes per batch for a run of `nodes` nodes: at least 1, at most `nodes`. */
export function batchSize(limit: BatchLimit, nodes: number): number {
  if (nodes <= 0) return 1;
  const size = limit.kind === 'count' ? limit.count : Math.ceil(((limit.percent * nodes) / 100) - 1e-9);
  return Math.min(nodes, Math.max(1, size));
}

/** The nodes in batches of `size`, in order. */
export function planBatches<T>(nodes: readonly T[], size: number): T[][] {
  if (!Number.isSafeInteger(size) || size < 1) throw new RangeError(`a batch size is a positive integer, got ${size}`);
  const batches: T[][] = [];
  for (let at = 0; at < nodes.length; at += size) batches.push(nodes.slice(at, at + size));
  return batches;
}

export function describeBatchLimit(limit: BatchLimit): string {
  return limit.kind === 'count' ? String(limit.count) : `${limit.percent}%`;
}
