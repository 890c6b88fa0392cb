/**
 * The scale benchmark: simulated farms of 100, 1,000 and 10,000 nodes with LAN
 * defaults, each figure beside what memberlist's LAN defaults give for the same N.
 * Scenarios run in a piscina pool (one whole simulation per task, never per packet).
 *
 *   npm run bench:scale                          all sizes (hours: ten simulated minutes per loss scenario)
 *   GALAXY_SCALE_SIZES=100,1000 npm run bench:scale   a subset
 *   GALAXY_SCALE_WINDOW_MS=60000 …               shorten the false-positive windows
 *   GALAXY_SCALE_SWIM_STALLS=10000 …             the stall scenario with SWIM's rule
 *                                                (failedProbesToSuspect 1) up to this N
 *
 * Writes bench/results/scale.json and prints a table.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { Piscina } from 'piscina';
import { packageRoot } from '../src/core/platform/package-root.js';
import type { Scenario, ScenarioResult } from './scale-scenario.js';

const sizes = (process.env.GALAXY_SCALE_SIZES ?? '100,1000,10000').split(',').map(Number);
// Ten simulated minutes at every size: the loss scenarios must show zero false deaths over that long.
const windowMsFor = (_n: number): number => Number(process.env.GALAXY_SCALE_WINDOW_MS ?? 600_000);
// The stall scenario again with SWIM's rule, to show what re-probing saves (at 10,000 nodes it costs an hour).
const swimStallsUpTo = Number(process.env.GALAXY_SCALE_SWIM_STALLS ?? 1000);

/** memberlist LAN: first detection ≈ 1.58 probe intervals; suspicion 4·log10(N) s to 6x that. */
function memberlist(n: number): { firstDetectionS: number; suspicionMinS: number; suspicionMaxS: number; deadEverywhereS: number } {
  const suspicionMinS = 4 * Math.max(1, Math.log10(n));
  return { firstDetectionS: 1.58, suspicionMinS, suspicionMaxS: 6 * suspicionMinS, deadEverywhereS: 1.58 + suspicionMinS };
}

async function main(): Promise<void> {
  const pool = new Piscina({
    filename: join(packageRoot(), 'dist', 'bench', 'scale-scenario.js'),
    maxThreads: Math.max(1, Math.min(2, cpus().length)),
    resourceLimits: { maxOldGenerationSizeMb: 4096 },
  });
  const scenarios: Scenario[] = [];
  for (const n of sizes) {
    const seed = 1000 + n;
    const windowMs = windowMsFor(n);
    scenarios.push(
      { nodes: n, kind: 'join', seed },
      { nodes: n, kind: 'crash-icmp', seed },
      { nodes: n, kind: 'crash-silent', seed },
      { nodes: n, kind: 'false-positives', seed, lossRate: 0, windowMs },
      { nodes: n, kind: 'false-positives', seed, lossRate: 0.05, windowMs },
      { nodes: n, kind: 'false-positives', seed, lossRate: 0.2, windowMs },
      { nodes: n, kind: 'stalls', seed, lossRate: 0, windowMs },
    );
    if (n <= swimStallsUpTo) scenarios.push({ nodes: n, kind: 'stalls', seed, lossRate: 0, windowMs, failedProbesToSuspect: 1 });
  }
  console.log(`Galaxy scale benchmark: ${scenarios.length} simulations on ${pool.threads.length || 2} threads (sizes ${sizes.join(', ')})`);
  // Largest farms first, so the long runs overlap the short ones.
  const order = scenarios.map((s, i) => i).sort((a, b) => scenarios[b]!.nodes - scenarios[a]!.nodes);
  const results: ScenarioResult[] = new Array(scenarios.length);
  let done = 0;
  await Promise.all(order.map(async (i) => {
    const s = scenarios[i]!;
    const r = (await pool.run(s)) as ScenarioResult;
    results[i] = r;
    done++;
    console.log(`  [${done}/${scenarios.length}] ${s.nodes} nodes ${s.kind}${s.lossRate !== undefined ? ` loss ${s.lossRate * 100}%` : ''}${s.failedProbesToSuspect !== undefined ? ` failedProbesToSuspect ${s.failedProbesToSuspect}` : ''}: ${summary(r)} (wall ${(r.wallMs / 1000).toFixed(1)} s, CPU ${((r.cpuMs ?? 0) / 1000).toFixed(1)} s of the whole process)`);
  }));
  await pool.destroy();

  const table: Record<string, unknown>[] = [];
  for (const n of sizes) {
    const of = (kind: string, loss?: number) => results.find((r) => r.scenario.nodes === n && r.scenario.kind === kind && r.scenario.failedProbesToSuspect === undefined && (loss === undefined || r.scenario.lossRate === loss))!;
    const swimStalls = results.find((r) => r.scenario.nodes === n && r.scenario.kind === 'stalls' && r.scenario.failedProbesToSuspect === 1);
    const ml = memberlist(n);
    const join = of('join');
    const icmp = of('crash-icmp');
    const silent = of('crash-silent');
    const quiet = of('false-positives', 0);
    const row = {
      nodes: n,
      joinKnownEverywhereS: seconds(join.resultMs),
      deadEverywhereIcmpS: seconds(icmp.resultMs),
      deadEverywhereSwimS: seconds(silent.resultMs),
      memberlistDeadEverywhereS: round(ml.deadEverywhereS),
      memberlistSuspicionRangeS: [round(ml.suspicionMinS), round(ml.suspicionMaxS)],
      ratioSwimOverMemberlist: silent.resultMs !== undefined && silent.resultMs >= 0 ? round(silent.resultMs / 1000 / ml.deadEverywhereS) : null,
      ratioIcmpOverMemberlist: icmp.resultMs !== undefined && icmp.resultMs >= 0 ? round(icmp.resultMs / 1000 / ml.deadEverywhereS) : null,
      falsePositives: Object.fromEntries([0, 0.05, 0.2].map((loss) => {
        const r = of('false-positives', loss);
        return [`loss${loss * 100}%`, { windowS: (r.scenario.windowMs ?? 0) / 1000, suspicions: r.falseSuspicions, deaths: r.falseDeaths }];
      })),
      stalls: (() => {
        const r = of('stalls');
        return { windowS: (r.scenario.windowMs ?? 0) / 1000, falseSuspicions: r.falseSuspicions, falseDeaths: r.falseDeaths, deadWhilePaused: r.deadWhilePaused, bytesPerNodePerSecond: r.bytesPerNodePerSecond, trafficByType: r.trafficByType };
      })(),
      stallsSwimRule: swimStalls === undefined ? null : { falseSuspicions: swimStalls.falseSuspicions, falseDeaths: swimStalls.falseDeaths, bytesPerNodePerSecond: swimStalls.bytesPerNodePerSecond, trafficByType: swimStalls.trafficByType },
      bytesPerNodePerSecond: quiet.bytesPerNodePerSecond,
      wallSecondsPerSimulatedMinute: round((quiet.wallMs / 1000) * (60_000 / (quiet.scenario.windowMs ?? 60_000))),
      cpuSecondsPerSimulatedMinute: round(((quiet.cpuMs ?? 0) / 1000) * (60_000 / (quiet.scenario.windowMs ?? 60_000))),
      rssBytesPerNode: Math.max(...results.filter((r) => r.scenario.nodes === n).map((r) => r.rssBytesPerNode)),
    };
    table.push(row);
  }
  const base = table[0]?.bytesPerNodePerSecond as number | undefined;
  const stallBase = (table[0]?.stalls as { bytesPerNodePerSecond?: number } | undefined)?.bytesPerNodePerSecond;
  for (const row of table) {
    row.trafficRatioToSmallest = base ? round((row.bytesPerNodePerSecond as number) / base) : null;
    const stalled = (row.stalls as { bytesPerNodePerSecond?: number }).bytesPerNodePerSecond;
    row.stallTrafficRatioToSmallest = stallBase && stalled !== undefined ? round(stalled / stallBase) : null;
  }
  printTable(table);
  const dir = join(packageRoot(), 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'scale.json'), JSON.stringify({ date: new Date().toISOString(), node: process.version, cpu: cpus()[0]?.model, table, runs: results }, null, 2) + '\n');
  console.log('Results written to bench/results/scale.json');
}

function summary(r: ScenarioResult): string {
  if (r.scenario.kind === 'false-positives' || r.scenario.kind === 'stalls') return `false suspicions ${r.falseSuspicions}, false deaths ${r.falseDeaths}, dead while paused ${r.deadWhilePaused}, ${r.bytesPerNodePerSecond} B/node/s`;
  return `${seconds(r.resultMs)} s`;
}

function seconds(ms: number | undefined): number | null {
  return ms === undefined || ms < 0 ? null : round(ms / 1000);
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

function printTable(rows: Record<string, unknown>[]): void {
  console.log('| N | join known everywhere (s) | dead everywhere, ICMP (s) | dead everywhere, SWIM only (s) | memberlist formula (s) | SWIM / memberlist | false deaths 0/5/20% loss, stalls | B/node/s | traffic vs smallest N | B/node/s, 10% stalling | stall traffic vs smallest N | wall s per sim minute | CPU s per sim minute | RSS per node |');
  console.log('|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    const fp = r.falsePositives as Record<string, { deaths: number }>;
    const st = r.stalls as { falseDeaths: number; deadWhilePaused: number };
    console.log(`| ${r.nodes} | ${r.joinKnownEverywhereS} | ${r.deadEverywhereIcmpS} | ${r.deadEverywhereSwimS} | ${r.memberlistDeadEverywhereS} | ${r.ratioSwimOverMemberlist} | ${fp['loss0%']!.deaths}/${fp['loss5%']!.deaths}/${fp['loss20%']!.deaths}, ${st.falseDeaths} (+${st.deadWhilePaused} while paused) | ${r.bytesPerNodePerSecond} | ${r.trafficRatioToSmallest} | ${(r.stalls as { bytesPerNodePerSecond?: number }).bytesPerNodePerSecond} | ${r.stallTrafficRatioToSmallest} | ${r.wallSecondsPerSimulatedMinute} | ${r.cpuSecondsPerSimulatedMinute} | ${Math.round((r.rssBytesPerNode as number) / 1024)} KiB |`);
  }
}

await main();
