import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { type Command, CommanderError } from 'commander';
import { kPresets } from '../../../core/membership/config.js';
import { DomainError } from '../../../core/util/domain-error.js';
import { htmlReport } from './html-report.js';
import { ProgressDisplay } from './progress-display.js';
import { runOnPool } from './run-on-pool.js';
import { planRuns, type SimulateFlags } from './simulate-plan.js';
import { runRecords, summaryTable, type SimulateResults } from './simulate-results.js';

/** Exit codes: 0 nothing surprising, 1 a run was surprising or failed, 2 bad input. */
export const kExitSurprising = 1;
export const kExitBadInput = 2;
/** The most threads one invocation may ask for. */
const kParallelMax = 64;

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/**
 * `galaxy simulate`: the paper's scalability-evaluation framework (section 12.1) as a
 * user tool. It runs the same simulator and membership engine as the tests, so a
 * user's study and the tests cannot disagree about what the code does.
 */
export function registerSimulateCommand(program: Command, version: string): void {
  program
    .command('simulate')
    .description('simulate a farm from one seed (loss, crashes, a partition, stalls) and report convergence, detection times, false suspicions and traffic; several seeds or scenarios run in parallel')
    .option('--nodes <n>', 'simulated nodes (default 200)')
    .option('--preset <name>', `membership preset: ${Object.keys(kPresets).join(', ')} (default lan)`)
    .option('--seconds <duration>', 'simulated time, e.g. 120 or 2m (default 60s)')
    .option('--loss <fraction>', 'datagram loss during the fault window, e.g. 5% (default 0)')
    .option('--crash <n>', 'processes that crash at random moments in the fault window (default 0)')
    .option('--no-icmp', 'crashed hosts vanish (no ICMP port unreachable): detection by SWIM alone')
    .option('--partition <duration>', 'cut the farm in two for this long, e.g. 30s')
    .option('--partition-at <time>', 'when the partition starts (default a tenth into the run)')
    .option('--partition-split <fraction>', 'share of the nodes on the smaller side (default 50%)')
    .option('--one-way', 'cut only the smaller side\'s datagrams to the larger side')
    .option('--stall <fraction>', 'share of the nodes that stall their event loop, e.g. 10%')
    .option('--stall-duration <duration>', 'how long each stall lasts (default 2s)')
    .option('--stall-every <duration>', 'each stalling node stalls once per this period (default 60s)')
    .option('--faults-until <time>', 'end of the fault window; the network is clean after it (default two thirds of the run)')
    .option('--sample-every <duration>', 'sampling period of the time series (default 1s)')
    .option('--observers <n>', 'observers whose views the convergence series checks (default 50)')
    .option('--membership <key=value>', 'override a membership setting, e.g. suspicionMult=1; repeatable', collect)
    .option('--name <name>', 'name of the study in reports (default study)')
    .option('--scenario <file.yaml>', 'run the named scenarios of a YAML file instead of the flags above')
    .option('--only <names>', 'with --scenario: run only these scenarios (comma-separated)')
    .option('--seed <n>', 'the seed (default 1, or the scenario\'s)')
    .option('--seeds <list>', 'run once per seed, e.g. 1,2,3')
    .option('--runs <n>', 'run N seeds: --seed, --seed + 1, ...')
    .option('--parallel <n>', 'simulations at once, one per thread (default: up to 2, one per core)')
    .option('--out <dir>', 'where results.json and report.html go (default simulate-results)')
    .option('--json', 'print the results JSON on stdout instead of the table')
    .exitOverride((error: CommanderError) => {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') process.exit(0);
      process.exit(kExitBadInput);
    })
    .action(async (flags: SimulateFlags, cmd: Command) => {
      const argv = process.argv.slice(process.argv.indexOf('simulate') + 1);
      try {
        process.exitCode = await simulate(flags, argv, cmd.getOptionValueSource('icmp') === 'cli', version);
      } catch (error) {
        if (error instanceof DomainError && (error.kind === 'invalid' || error.kind === 'not-found')) {
          process.stderr.write(`galaxy simulate: error: ${error.message}\n`);
          process.exitCode = kExitBadInput;
          return;
        }
        throw error;
      }
    });
}

async function simulate(flags: SimulateFlags, argv: readonly string[], icmpGiven: boolean, version: string): Promise<number> {
  const runs = planRuns(flags, argv, icmpGiven);
  const parallelWanted = flags.parallel === undefined ? Math.min(2, cpus().length) : Number(flags.parallel);
  if (!Number.isInteger(parallelWanted) || parallelWanted < 1 || parallelWanted > kParallelMax) {
    throw new DomainError('invalid', 'simulate.bad-flags', `--parallel must be an integer from 1 to ${kParallelMax}, got "${flags.parallel}"`);
  }
  const parallel = Math.min(parallelWanted, runs.length);
  const outDir = resolve(flags.out ?? 'simulate-results');
  mkdirSync(outDir, { recursive: true });
  const display = new ProgressDisplay(process.stderr, runs.map((r) => r.label));
  process.stderr.write(`galaxy simulate: ${runs.length} run${runs.length === 1 ? '' : 's'} on ${parallel} thread${parallel === 1 ? '' : 's'}\n`);
  const outcomes = await runOnPool(runs, parallel, {
    onStart: (i) => display.start(i),
    onProgress: (i, p) => display.progress(i, p.simulatedMs, p.totalMs),
    onDone: (i, o) => display.finish(i, o.ok ? (o.value.result.verdict.surprising ? 'SURPRISING' : 'ok') + ` (${(o.value.wallMs / 1000).toFixed(1)} s)` : `FAILED: ${o.error}`),
  });
  display.close();
  const records = runRecords(outcomes);
  const results: SimulateResults = { tool: 'galaxy simulate', version, command: ['galaxy', 'simulate', ...argv].join(' '), runs: records };
  const jsonPath = join(outDir, 'results.json');
  const htmlPath = join(outDir, 'report.html');
  writeFileSync(jsonPath, JSON.stringify(results, null, 1) + '\n');
  writeFileSync(htmlPath, htmlReport(results));
  if (flags.json) process.stdout.write(JSON.stringify(results) + '\n');
  else process.stdout.write(`${summaryTable(records)}\n\nresults: ${jsonPath}\nreport:  ${htmlPath}\n`);
  const bad = records.filter((r) => r.status !== 'ok');
  for (const r of bad) {
    const why = r.status === 'failed' ? r.error! : r.result!.verdict.reasons.join('; ');
    process.stderr.write(`${r.status === 'failed' ? 'FAILED' : 'SURPRISING'} ${r.label}: ${why}\n  repro: ${r.repro}\n`);
  }
  return bad.length > 0 ? kExitSurprising : 0;
}
