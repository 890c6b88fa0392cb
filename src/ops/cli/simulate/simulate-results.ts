import type { StudyResult } from '../../../sim/study/study-result.js';
import type { StudySpec } from '../../../sim/study/study-spec.js';
import type { RunOutcome } from './run-on-pool.js';

/** results.json: what `galaxy simulate` found, one entry per run, in plan order. */
export interface SimulateResults {
  readonly tool: 'galaxy simulate';
  readonly version: string;
  readonly command: string;
  readonly runs: readonly RunRecord[];
}

export interface RunRecord {
  readonly label: string;
  readonly spec: StudySpec;
  /** ok: nothing surprising; surprising: see result.verdict; failed: the run threw (see error). */
  readonly status: 'ok' | 'surprising' | 'failed';
  readonly repro: string;
  /** Wall time of the run in its thread; the only field that differs between identical runs. */
  readonly wallMs: number | null;
  readonly result: StudyResult | null;
  readonly error: string | null;
}

export function runRecords(outcomes: readonly RunOutcome[]): RunRecord[] {
  return outcomes.map((o) => {
    if (!o.ok) return { label: o.run.label, spec: o.run.spec, status: 'failed', repro: o.run.repro, wallMs: null, result: null, error: o.error };
    const result = o.value.result;
    return { label: o.run.label, spec: o.run.spec, status: result.verdict.surprising ? 'surprising' : 'ok', repro: o.run.repro, wallMs: o.value.wallMs, result, error: null };
  });
}

/** One line describing a spec's faults, for tables and titles. */
export function faultsText(spec: StudySpec): string {
  const parts: string[] = [];
  if (spec.lossRate > 0) parts.push(`loss ${+(spec.lossRate * 100).toFixed(2)}%`);
  if (spec.crashes > 0) parts.push(`${spec.crashes} crash${spec.crashes === 1 ? '' : 'es'}${spec.icmp ? '' : ' (no ICMP)'}`);
  if (spec.partition !== null) parts.push(`partition ${spec.partition.durationMs / 1000}s at ${spec.partition.startMs / 1000}s${spec.partition.oneWay ? ' one-way' : ''}`);
  if (spec.stall !== null) parts.push(`stall ${+(spec.stall.fraction * 100).toFixed(2)}%`);
  if (Object.keys(spec.membership).length > 0) parts.push(Object.entries(spec.membership).map(([k, v]) => `${k}=${v}`).join(' '));
  return parts.length > 0 ? parts.join(', ') : 'none';
}

/** The summary table printed after the runs, as plain aligned text. */
export function summaryTable(records: readonly RunRecord[]): string {
  const header = ['run', 'nodes', 'sim s', 'faults', 'converged', 'detect median/last s', 'false susp.', 'false deaths', 'B/node/s', 'wall s', 'verdict'];
  const rows = records.map((r) => {
    const res = r.result;
    const crashes = res?.crashes ?? [];
    const median = median0(crashes.map((c) => c.medianMs).filter((v): v is number => v !== null));
    const last = crashes.reduce<number | null>((m, c) => (c.lastMs === null ? m : Math.max(m ?? 0, c.lastMs)), null);
    return [
      r.label,
      String(r.spec.nodes),
      String(r.spec.simulatedMs / 1000),
      faultsText(r.spec),
      res === null ? '-' : res.finalConvergence.converged ? 'yes' : 'no',
      crashes.length === 0 ? '-' : `${seconds(median)}/${seconds(last)}`,
      res === null ? '-' : String(res.totals.falseSuspicions),
      res === null ? '-' : String(res.totals.falseDeaths),
      res === null ? '-' : String(res.totals.bytesPerNodePerSecond),
      r.wallMs === null ? '-' : (r.wallMs / 1000).toFixed(1),
      r.status,
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === 0 || i === 3 || i === 10 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function median0(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = values.slice().sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

function seconds(ms: number | null): string {
  return ms === null ? '-' : (ms / 1000).toFixed(2);
}
