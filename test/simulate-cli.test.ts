// Proves `galaxy simulate` end to end through the built CLI (run `npx tsc -p
// tsconfig.json` first): a small study writes results.json and a self-contained HTML
// report holding the data, uPlot's script and its stylesheet; what the CLI reports is
// exactly what the in-process runner gives for the same spec (same simulator, same
// engine, so a user's study and these tests cannot disagree); YAML scenarios with
// several seeds run in parallel on the piscina pool and give the same results as
// sequential in-process runs; bad input exits with code 2 and a clear message; a
// surprising run (a suspicion multiplier broken on purpose under a partition) exits 1
// and prints a repro line that, run as printed, replays the same result; a run that
// throws in its thread is a failed outcome, not the end of the others. The progress
// display is checked on a fake terminal and a fake pipe. No browser is installed, so the
// report's chart script runs against a stub DOM and a stub uPlot that check its columns.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runStudy } from '../src/sim/study/run-study.js';
import { runRecords, summaryTable, type SimulateResults } from '../src/ops/cli/simulate/simulate-results.js';
import { planRuns, type SimulateFlags } from '../src/ops/cli/simulate/simulate-plan.js';
import { ProgressDisplay } from '../src/ops/cli/simulate/progress-display.js';

const cli = join(process.cwd(), 'dist', 'src', 'ops', 'cli', 'main.js');

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

function galaxy(args: readonly string[], cwd: string): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function readResults(dir: string): SimulateResults {
  return JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as SimulateResults;
}

/** A run's result as the in-process runner gives it, through the same JSON round trip. */
function inProcess(spec: SimulateResults['runs'][number]['spec']): unknown {
  return JSON.parse(JSON.stringify(runStudy(spec)));
}

describe('galaxy simulate', () => {
  it('runs a small study and writes results.json and a self-contained uPlot report', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'galaxy-simulate-'));
    const run = await galaxy(['simulate', '--nodes', '120', '--seconds', '8', '--crash', '2', '--loss', '2%', '--seed', '5', '--out', 'out'], dir);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^run\s+nodes\s+sim s\s+faults/m);
    expect(run.stdout).toMatch(/study#5\s+120\s+8\s+loss 2%, 2 crashes\s+yes/);
    expect(run.stderr).toContain('simulate: study#5 started');
    expect(run.stderr).toMatch(/simulate: study#5 ok \(\d+\.\d s\) \[1\/1\]/);
    const results = readResults(join(dir, 'out'));
    expect(results.runs).toHaveLength(1);
    const record = results.runs[0]!;
    expect(record.status).toBe('ok');
    expect(record.repro).toBe('galaxy simulate --nodes 120 --seconds 8 --crash 2 --loss 2% --seed 5');
    expect(record.result!.series.timeS).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(record.result).toEqual(inProcess(record.spec));
    const html = readFileSync(join(dir, 'out', 'report.html'), 'utf8');
    expect(html).toContain('var uPlot=function');
    expect(html).toContain('.uplot, .uplot *');
    expect(html).toContain(`"timeS":[1,2,3,4,5,6,7,8]`);
    expect(html).toContain(`"bytesPerNodePerSecond":[${record.result!.series.bytesPerNodePerSecond.join(',')}]`);
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href=/);
    for (const title of ['Convergence', 'Detection time', 'False suspicions and deaths', 'Bytes per node per second']) expect(html).toContain(title);
    // No browser here: at least every inline script must parse, and the data must read back whole.
    const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1]!);
    expect(scripts).toHaveLength(2);
    for (const script of scripts) expect(() => new Function(script)).not.toThrow();
    const data = /<script id="galaxy-simulate-data" type="application\/json">([\s\S]*?)<\/script>/.exec(html)![1]!;
    expect(JSON.parse(data)).toEqual(results);
    // Run the chart script against a stub DOM and a stub uPlot that records each chart:
    // four charts, each with as many points in every column as on its x axis.
    const charts: Array<{ title: string; columns: unknown[][] }> = [];
    const element = (): Record<string, unknown> => ({ appendChild: () => undefined, set textContent(text: string) { charts.push({ title: text, columns: [] }); } });
    const fakeDocument = {
      getElementById: () => ({ textContent: data }),
      querySelector: () => element(),
      createElement: () => element(),
    };
    function FakePlot(opts: { series: unknown[] }, columns: unknown[][]) {
      expect(columns).toHaveLength(opts.series.length);
      charts.at(-1)!.columns = columns;
    }
    FakePlot.paths = { stepped: () => () => null };
    new Function('document', 'uPlot', scripts[1]!)(fakeDocument, FakePlot);
    expect(charts.map((c) => c.title)).toEqual(['Convergence (sampled observers)', 'Detection time (crash to dead, per observer): CDF', 'False suspicions and deaths (cumulative)', 'Bytes per node per second']);
    for (const chart of charts) for (const column of chart.columns) expect(column).toHaveLength(chart.columns[0]!.length);
  }, 30_000);

  it('runs YAML scenarios and seeds in parallel, with the same results as sequential runs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'galaxy-simulate-'));
    writeFileSync(join(dir, 'study.yaml'), [
      'defaults: { nodes: 60, seconds: 6s }',
      'seeds: [1, 2]',
      'scenarios:',
      '  - name: crashes',
      '    crash: 2',
      '    icmp: false',
      '  - name: lossy',
      '    loss: 10%',
      '    seeds: [9]',
      '  - name: unused',
      '    stall: 10%',
    ].join('\n'));
    const run = await galaxy(['simulate', '--scenario', 'study.yaml', '--only', 'crashes,lossy', '--parallel', '2', '--out', 'par', '--json'], dir);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain('3 runs on 2 threads');
    const printed = JSON.parse(run.stdout) as SimulateResults;
    const results = readResults(join(dir, 'par'));
    expect(printed).toEqual(results);
    expect(results.runs.map((r) => r.label)).toEqual(['crashes#1', 'crashes#2', 'lossy#9']);
    expect(results.runs[0]!.repro).toBe('galaxy simulate --scenario study.yaml --only crashes --seed 1');
    expect(results.runs[0]!.spec).toMatchObject({ nodes: 60, simulatedMs: 6000, crashes: 2, icmp: false });
    for (const record of results.runs) expect(record.result).toEqual(inProcess(record.spec));
  }, 40_000);

  it('rejects bad flags and scenario files with a coded error naming the problem', () => {
    const dir = mkdtempSync(join(tmpdir(), 'galaxy-simulate-'));
    writeFileSync(join(dir, 'bad.yaml'), 'scenarios:\n  - name: a\n    nodez: 5\n');
    writeFileSync(join(dir, 'broken.yaml'), 'scenarios: [\n');
    writeFileSync(join(dir, 'twins.yaml'), 'scenarios:\n  - name: a\n  - name: a\n');
    const cases: Array<[SimulateFlags, RegExp]> = [
      [{ partition: '30s', seconds: '20' }, /must heal before the run ends/],
      [{ partitionSplit: '10%' }, /give --partition DURATION too/],
      [{ seeds: '1,x' }, /--seeds takes unsigned 32-bit integers, got "x"/],
      [{ seeds: '1,2', runs: '3' }, /do not combine it with --seed or --runs/],
      [{ membership: ['suspicionMult'] }, /--membership takes key=number/],
      [{ only: 'a' }, /--only selects scenarios of a --scenario file/],
      [{ scenario: join(dir, 'missing.yaml') }, /cannot read scenario file/],
      [{ scenario: join(dir, 'bad.yaml') }, /study "a": unknown field nodez/],
      [{ scenario: join(dir, 'broken.yaml') }, /broken.yaml: not valid YAML/],
      [{ scenario: join(dir, 'twins.yaml') }, /two scenarios are named "a"/],
      [{ scenario: join(dir, 'bad.yaml'), only: 'b' }, /--only names no scenario .*: b \(it has a\)/],
      [{ scenario: join(dir, 'bad.yaml'), nodes: '5' }, /--scenario takes every study setting from the file; drop --nodes/],
    ];
    for (const [flags, message] of cases) {
      expect(() => planRuns(flags, [], false), JSON.stringify(flags)).toThrow(message);
    }
  });

  it('exits with code 2 and a clear message on bad input', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'galaxy-simulate-'));
    const cases: Array<[string[], RegExp]> = [
      [['--loss', '150%'], /^galaxy simulate: error: study: loss must be from 0% to below 100%, got 150%$/m],
      [['--nodes', 'many', '--parallel', '2'], /nodes must be an integer/],
      [['--parallel', '0'], /--parallel must be an integer from 1/],
      [['--frobnicate'], /unknown option '--frobnicate'/],
    ];
    const runs = await Promise.all(cases.map(([args]) => galaxy(['simulate', '--out', 'never', ...args], dir)));
    runs.forEach((run, i) => {
      expect(run.code, `${cases[i]![0].join(' ')}: ${run.stderr}`).toBe(2);
      expect(run.stderr).toMatch(cases[i]![1]);
    });
  }, 30_000);

  it('prints a repro line for a surprising run, and the repro replays it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'galaxy-simulate-'));
    // Broken on purpose: suspicion times out long before the 3 s partition heals.
    const study = ['--nodes', '40', '--seconds', '10', '--partition', '3s', '--partition-at', '1s', '--membership', 'suspicionMult=0.5'];
    const run = await galaxy(['simulate', ...study, '--seeds', '3,4', '--out', 'surprise'], dir);
    expect(run.code, run.stderr).toBe(1);
    const repro = 'galaxy simulate --nodes 40 --seconds 10 --partition 3s --partition-at 1s --membership suspicionMult=0.5 --seed 3';
    expect(run.stderr).toMatch(/SURPRISING study#3: \d+ false deaths \(first: /);
    expect(run.stderr).toContain(`  repro: ${repro}\n`);
    expect(run.stderr).toContain(`--seed 4\n`);
    expect(run.stdout).toMatch(/study#3 .* surprising$/m);
    const first = readResults(join(dir, 'surprise')).runs[0]!;
    expect(first.status).toBe('surprising');
    const again = await galaxy([...repro.split(' ').slice(1), '--out', 'again'], dir);
    expect(again.code).toBe(1);
    const replayed = readResults(join(dir, 'again')).runs[0]!;
    expect(replayed.result).toEqual(first.result);
  }, 40_000);

  it('keeps a run that throws in its thread as a failed outcome beside the others', async () => {
    // The built pool (its worker file exists only under dist/); a spec that skipped
    // parseStudy with a broken membership setting makes runStudy throw in the worker.
    const { runOnPool } = (await import(join(process.cwd(), 'dist', 'src', 'ops', 'cli', 'simulate', 'run-on-pool.js'))) as typeof import('../src/ops/cli/simulate/run-on-pool.js');
    const good = planRuns({ nodes: '20', seconds: '2' }, ['--nodes', '20', '--seconds', '2'], false)[0]!;
    const broken = { ...good, label: 'broken#1', spec: { ...good.spec, membership: { probeTimeoutMs: 5000 } } };
    const done: number[] = [];
    const outcomes = await runOnPool([broken, good], 2, { onDone: (i) => done.push(i) });
    expect(done.sort()).toEqual([0, 1]);
    expect(outcomes[0]).toMatchObject({ ok: false, run: { label: 'broken#1' } });
    expect(outcomes[0]!.ok ? '' : outcomes[0]!.error).toMatch(/probeTimeoutMs \(5000\) must be less than options.probeIntervalMs/);
    expect(outcomes[1]!.ok).toBe(true);
    const records = runRecords(outcomes);
    expect(records.map((r) => r.status)).toEqual(['failed', 'ok']);
    expect(summaryTable(records)).toMatch(/^broken#1 .* failed$/m);
  }, 30_000);

  it('plans the shipped example scenario files without error', () => {
    for (const file of ['examples/simulate/detection.yaml', 'examples/simulate/partitions-and-stalls.yaml']) {
      const runs = planRuns({ scenario: file }, ['--scenario', file], false);
      expect(runs.length).toBeGreaterThan(3);
    }
  });
});

describe('progress display', () => {
  const sink = (isTTY: boolean) => {
    const chunks: string[] = [];
    return { chunks, stream: { isTTY, columns: 80, write: (text: string) => chunks.push(text) > 0 } };
  };

  it('redraws one bar in place on a terminal', () => {
    const { chunks, stream } = sink(true);
    let now = 0;
    const display = new ProgressDisplay(stream, ['a#1', 'b#1'], () => now);
    display.start(0);
    now += 500;
    display.progress(0, 5000, 10_000);
    expect(chunks.at(-1)).toBe(`\r\x1b[2K[${'#'.repeat(8)}${'-'.repeat(22)}] 25% 0/2 runs a#1 50%`);
    display.progress(0, 6000, 10_000); // within the redraw period: not drawn
    expect(chunks.at(-1)).toContain('a#1 50%');
    display.finish(0, 'ok');
    expect(chunks.join('')).toContain('  a#1: ok\n');
    expect(chunks.every((c) => !c.includes('\n') || c.startsWith('  '))).toBe(true);
  });

  it('prints plain lines at quarters when not a terminal', () => {
    const { chunks, stream } = sink(false);
    const display = new ProgressDisplay(stream, ['a#1']);
    display.start(0);
    for (let s = 1; s <= 10; s++) display.progress(0, s * 1000, 10_000);
    display.finish(0, 'ok');
    expect(chunks).toEqual([
      'simulate: a#1 started\n',
      'simulate: a#1 30% (3 of 10 simulated s)\n',
      'simulate: a#1 50% (5 of 10 simulated s)\n',
      'simulate: a#1 80% (8 of 10 simulated s)\n',
      'simulate: a#1 ok [1/1]\n',
    ]);
  });
});
