// The fault suite's figures: what each scenario measured, the bound it asserted, and
// whether it held, written to bench/results/faults.json at the end of every run (a
// failed scenario is written as failed, with its error).
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { packageRoot } from '../../../src/core/platform/package-root.js';

export const kFiguresPath = join(packageRoot(), 'bench', 'results', 'faults.json');

export type ScenarioRecord = Record<string, unknown>;

export class Figures {
  private readonly startedAtMs = Date.now();
  private readonly loadAtStart = loadavg()[0]!;
  private readonly farm: Record<string, unknown> = {};
  private readonly scenarios: Record<string, ScenarioRecord> = {};

  setFarm(facts: Record<string, unknown>): void {
    Object.assign(this.farm, facts);
  }

  /** The scenario's record, made on first use; fill it as figures come in. */
  scenario(name: string): ScenarioRecord {
    this.scenarios[name] ??= { held: false };
    return this.scenarios[name]!;
  }

  /** Marks the scenario as held: call after its last assertion. */
  held(name: string): void {
    this.scenario(name)['held'] = true;
  }

  failed(name: string, error: unknown): void {
    const record = this.scenario(name);
    record['held'] = false;
    record['error'] = String((error as Error)?.message ?? error).slice(0, 2000);
  }

  write(path = kFiguresPath): void {
    let commit = 'unknown';
    try {
      commit = execFileSync('git', ['-C', packageRoot(), 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    } catch {
      // not a git checkout
    }
    const out = {
      date: new Date(this.startedAtMs).toISOString(),
      commit,
      node: process.version,
      cpu: cpus()[0]?.model ?? 'unknown',
      cpuCount: cpus().length,
      loadAverageAtStart: round(this.loadAtStart),
      loadAverageAtEnd: round(loadavg()[0]!),
      durationS: round((Date.now() - this.startedAtMs) / 1000),
      farm: this.farm,
      scenarios: this.scenarios,
    };
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, `${JSON.stringify(out, null, 2)}\n`);
  }
}

export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Median, min and max of some durations, ms. */
export function spread(values: readonly number[]): { min: number; median: number; max: number } {
  if (values.length === 0) throw new Error('no values');
  const sorted = [...values].sort((a, b) => a - b);
  return { min: sorted[0]!, median: sorted[Math.floor((sorted.length - 1) / 2)]!, max: sorted[sorted.length - 1]! };
}
