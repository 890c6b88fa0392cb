/**
 * What the channel benchmarks share (issue 18): channels.ts (real agents), channels-real.ts
 * (worker threads over sockets), channels-sim.ts and cluster-channels-sim.ts (the
 * simulator, with channels-sim-run.ts), channels-cpu.ts and channels-core.ts (one thread):
 * Corosync CPG's figures they print beside theirs, the loads of a row, the sizes and
 * orderings a run covers, quantiles, the row's columns and the results file.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { kOrderings, type Ordering } from '../src/core/channels/channel-options.js';

/** Corosync CPG, agreed order, one synchronous sender (issue 18; corosync 3.1.7, network namespaces, medians of 3). */
export interface CorosyncFigures {
  readonly oneSender100: number;
  readonly allSending100: number;
  readonly oneSender1000: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}
export const kCorosync: Readonly<Record<3 | 5, CorosyncFigures>> = {
  3: { oneSender100: 12_000, allSending100: 15_400, oneSender1000: 12_200, p50Ms: 0.51, p99Ms: 1.56 },
  5: { oneSender100: 7_800, allSending100: 7_800, oneSender1000: 6_700, p50Ms: 0.68, p99Ms: 1.76 },
};
export const kCorosyncNote = 'Corosync CPG 3.1.7 agreed order, one synchronous sender, nodes in network namespaces, medians of 3 (issue 18); 8 members not measured';

/** Corosync's figures at `size` members, or null where they were not measured (8). */
export function corosyncOf(size: number): CorosyncFigures | null {
  return size === 3 || size === 5 ? kCorosync[size] : null;
}

/** One load of a row: members, ordering, message size, who sends, and how fast. */
export interface ChannelLoad {
  size: number;
  ordering: Ordering;
  payloadBytes: number;
  allSending: boolean;
  /** Flood (as fast as the windows allow) or a fixed mean gap per sender. */
  sendEveryMs: number | 'flood';
}

/** The loads of a row: flooding 100 B and 1,000 B, one sender and all sending; and one sender at 1,000 msg/s of 100 B (a mean gap of 1 ms). */
export type RowLoad = 'one100' | 'all100' | 'one1000' | 'all1000' | 'moderate';

export function loadOf(size: number, ordering: Ordering, row: RowLoad): ChannelLoad {
  const payloadBytes = row === 'one1000' || row === 'all1000' ? 1000 : 100;
  const allSending = row === 'all100' || row === 'all1000';
  return { size, ordering, payloadBytes, allSending, sendEveryMs: row === 'moderate' ? 1 : 'flood' };
}

/**
 * The cluster sizes and orderings a run covers: GALAXY_BENCH_SIZES and
 * GALAXY_BENCH_ORDERINGS (comma-separated; either makes the run a subset), else 3, 5
 * and 8 members and every ordering.
 */
export function benchGrid(): { sizes: number[]; orderings: Ordering[]; subset: boolean } {
  const sizes = (process.env['GALAXY_BENCH_SIZES'] ?? '3,5,8').split(',').map(Number);
  const orderings = (process.env['GALAXY_BENCH_ORDERINGS']?.split(',') ?? [...kOrderings]) as Ordering[];
  const subset = process.env['GALAXY_BENCH_SIZES'] !== undefined || process.env['GALAXY_BENCH_ORDERINGS'] !== undefined;
  return { sizes, orderings, subset };
}

/** The q-quantile of ascending samples, in hundredths (NaN when there are none; q = 1: the largest). */
export function quantileMs(sorted: readonly number[], q: number): number {
  return Math.round((sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN) * 100) / 100;
}

/** A count with thousands separators (12,000). */
export function thousands(x: number): string {
  return x.toLocaleString('en-US');
}

/** ' (1.2x)': ours over Corosync's, where Corosync was measured. */
function ratioTo(ours: number, theirs: number | undefined): string {
  return theirs === undefined ? '' : ` (${(ours / theirs).toFixed(1)}x)`;
}

/** A row's throughput columns (100 B one | 100 B all | 1000 B one | 1000 B all), each with its ratio to Corosync where measured. */
export function throughputColumns(one100: number, all100: number, one1000: number, all1000: number, c: CorosyncFigures | null): string {
  return `${thousands(one100)}${ratioTo(one100, c?.oneSender100)} | ${thousands(all100)}${ratioTo(all100, c?.allSending100)} | ${thousands(one1000)}${ratioTo(one1000, c?.oneSender1000)} | ${thousands(all1000)}`;
}

/** A row's Corosync columns (100 B one | 100 B all | 1000 B one | p50 / p99). */
export function corosyncColumns(c: CorosyncFigures | null): string {
  return c === null ? '(not measured)' : `${thousands(c.oneSender100)} | ${thousands(c.allSending100)} | ${thousands(c.oneSender1000)} | ${c.p50Ms} / ${c.p99Ms} ms`;
}

/** Writes bench/results/`file` (relative to the working directory, as npm runs the benchmarks): the data as indented JSON. */
export function writeResults(file: string, data: unknown): void {
  const out = join('bench', 'results');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, file), JSON.stringify(data, null, 2));
}
