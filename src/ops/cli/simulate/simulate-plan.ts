import { DomainError } from '../../../core/util/domain-error.js';
import { parseStudy, type StudyInput, type StudySpec } from '../../../sim/study/study-spec.js';
import { readScenarioFile } from './scenario-file.js';

/** One whole simulation to run: a checked spec and the command that replays it alone. */
export interface PlannedRun {
  readonly label: string;
  readonly spec: StudySpec;
  readonly repro: string;
}

/** The flags of `galaxy simulate`, as commander hands them over (all text, all optional). */
export interface SimulateFlags {
  scenario?: string;
  only?: string;
  name?: string;
  nodes?: string;
  preset?: string;
  seconds?: string;
  loss?: string;
  crash?: string;
  icmp?: boolean;
  partition?: string;
  partitionAt?: string;
  partitionSplit?: string;
  oneWay?: boolean;
  stall?: string;
  stallDuration?: string;
  stallEvery?: string;
  faultsUntil?: string;
  sampleEvery?: string;
  observers?: string;
  membership?: string[];
  seed?: string;
  seeds?: string;
  runs?: string;
  parallel?: string;
  out?: string;
  json?: boolean;
}

/** The most runs one invocation may plan. */
export const kPlannedRunsMax = 1000;

const kStudyFlags: ReadonlyArray<keyof SimulateFlags> = ['name', 'nodes', 'preset', 'seconds', 'loss', 'crash', 'partition', 'partitionAt', 'partitionSplit', 'oneWay', 'stall', 'stallDuration', 'stallEvery', 'faultsUntil', 'sampleEvery', 'observers', 'membership'];

/**
 * Turns the flags (or a scenario file) into the runs to make, every spec checked before
 * any run starts, so bad input fails at once with every problem named. `argv` is the
 * command line after `simulate`, from which each run's repro line is made.
 */
export function planRuns(flags: SimulateFlags, argv: readonly string[], icmpGiven: boolean): PlannedRun[] {
  const seeds = seedsOf(flags);
  const runs: PlannedRun[] = [];
  if (flags.scenario !== undefined) {
    const given = kStudyFlags.filter((f) => flags[f] !== undefined).concat(icmpGiven ? ['icmp' as const] : []);
    if (given.length > 0) throw invalid(`--scenario takes every study setting from the file; drop ${given.map(flagName).join(', ')}`);
    let entries = readScenarioFile(flags.scenario);
    if (flags.only !== undefined) {
      const wanted = new Set(flags.only.split(','));
      const unknown = [...wanted].filter((name) => !entries.some((e) => e.input.name === name));
      if (unknown.length > 0) throw invalid(`--only names no scenario in ${flags.scenario}: ${unknown.join(', ')} (it has ${entries.map((e) => e.input.name).join(', ')})`);
      entries = entries.filter((e) => wanted.has(e.input.name));
    }
    for (const entry of entries) {
      for (const seed of seeds ?? entry.seeds ?? [seedOf(entry.input)]) {
        const spec = parseStudy({ ...entry.input, seed });
        runs.push({ label: `${spec.name}#${seed}`, spec, repro: reproLine(argv, seed, spec.name) });
      }
    }
  } else {
    if (flags.only !== undefined) throw invalid('--only selects scenarios of a --scenario file');
    const input = inputFromFlags(flags);
    for (const seed of seeds ?? [1]) {
      const spec = parseStudy({ ...input, seed });
      runs.push({ label: `${spec.name}#${seed}`, spec, repro: reproLine(argv, seed, null) });
    }
  }
  if (runs.length > kPlannedRunsMax) throw invalid(`at most ${kPlannedRunsMax} runs at once, got ${runs.length}`);
  return runs;
}

function seedOf(input: StudyInput): number {
  return typeof input.seed === 'number' ? input.seed : 1;
}

/** --seed N, --seeds 1,2,3, or --runs N (seeds from --seed, default 1, upward); null when none is given. */
function seedsOf(flags: SimulateFlags): number[] | null {
  const given = [flags.seed, flags.seeds, flags.runs].filter((f) => f !== undefined).length;
  if (flags.seeds !== undefined && given > 1) throw invalid('--seeds lists every seed; do not combine it with --seed or --runs');
  if (flags.seeds !== undefined) return flags.seeds.split(',').map((s) => seedValue(s, '--seeds'));
  const first = flags.seed === undefined ? null : seedValue(flags.seed, '--seed');
  if (flags.runs === undefined) return first === null ? null : [first];
  const runs = Number(flags.runs);
  if (!Number.isInteger(runs) || runs < 1 || runs > kPlannedRunsMax) throw invalid(`--runs must be an integer from 1 to ${kPlannedRunsMax}, got "${flags.runs}"`);
  const base = first ?? 1;
  if (base + runs - 1 > 0xffffffff) throw invalid('--seed plus --runs passes the largest seed (2^32 - 1)');
  return Array.from({ length: runs }, (_, i) => base + i);
}

function seedValue(text: string, flag: string): number {
  const seed = Number(text.trim());
  if (!/^\s*\d+\s*$/.test(text) || seed > 0xffffffff) throw invalid(`${flag} takes unsigned 32-bit integers, got "${text}"`);
  return seed;
}

function inputFromFlags(flags: SimulateFlags): StudyInput {
  const input: Record<string, unknown> = {};
  if (flags.name !== undefined) input.name = flags.name;
  if (flags.nodes !== undefined) input.nodes = flags.nodes;
  if (flags.preset !== undefined) input.preset = flags.preset;
  if (flags.seconds !== undefined) input.seconds = flags.seconds;
  if (flags.loss !== undefined) input.loss = flags.loss;
  if (flags.crash !== undefined) input.crash = flags.crash;
  if (flags.icmp === false) input.icmp = false;
  if (flags.partition !== undefined) {
    input.partition = { duration: flags.partition, at: flags.partitionAt, split: flags.partitionSplit, oneWay: flags.oneWay };
  } else if (flags.partitionAt !== undefined || flags.partitionSplit !== undefined || flags.oneWay !== undefined) {
    throw invalid('--partition-at, --partition-split and --one-way shape a --partition; give --partition DURATION too');
  }
  if (flags.stall !== undefined) input.stall = { fraction: flags.stall, duration: flags.stallDuration, every: flags.stallEvery };
  else if (flags.stallDuration !== undefined || flags.stallEvery !== undefined) throw invalid('--stall-duration and --stall-every shape a --stall; give --stall FRACTION too');
  if (flags.faultsUntil !== undefined) input.faultsUntil = flags.faultsUntil;
  if (flags.sampleEvery !== undefined) input.sampleEvery = flags.sampleEvery;
  if (flags.observers !== undefined) input.observers = flags.observers;
  if (flags.membership !== undefined && flags.membership.length > 0) {
    const membership: Record<string, number> = {};
    for (const pair of flags.membership) {
      const match = /^(\w+)=(-?\d+(?:\.\d+)?)$/.exec(pair);
      if (match === null) throw invalid(`--membership takes key=number, got "${pair}"`);
      membership[match[1]!] = Number(match[2]);
    }
    input.membership = membership;
  }
  // Drop the shape fields nobody gave, so the spec's defaults apply.
  for (const key of ['partition', 'stall'] as const) {
    const value = input[key] as Record<string, unknown> | undefined;
    if (value !== undefined) for (const k of Object.keys(value)) if (value[k] === undefined) delete value[k];
  }
  return input as StudyInput;
}

/** The flags that choose seeds, threads or outputs: a repro line replaces or drops them. */
const kRunFlags = new Set(['--seed', '--seeds', '--runs', '--parallel', '--out', '--only']);
const kRunSwitches = new Set(['--json']);

/** `galaxy simulate <the same study flags> [--only NAME] --seed N`: replays one run alone. */
export function reproLine(argv: readonly string[], seed: number, scenarioName: string | null): string {
  const kept: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const flag = arg.split('=')[0]!;
    if (kRunSwitches.has(flag)) continue;
    if (kRunFlags.has(flag)) {
      if (!arg.includes('=')) i++;
      continue;
    }
    kept.push(arg);
  }
  if (scenarioName !== null) kept.push('--only', scenarioName);
  kept.push('--seed', String(seed));
  return ['galaxy', 'simulate', ...kept.map(shellWord)].join(' ');
}

function shellWord(text: string): string {
  return /^[\w./%:=,@+-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

function flagName(key: string): string {
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

function invalid(message: string): DomainError {
  return new DomainError('invalid', 'simulate.bad-flags', message);
}
