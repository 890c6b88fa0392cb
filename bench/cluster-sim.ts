/**
 * The cluster service in the simulator (issue 17, the simulated part of item 6): view
 * change time at every survivor after a member's crash, with ICMP-style evidence and
 * without it (the host vanished), in clusters of 3, 5, 16 and 64; a graceful leave; a
 * join; a 3|2 partition's heal; and 100 clusters of 5 on a 500-node simulated farm:
 * traffic per node, and view-change time under churn. Simulated time, one seed per
 * run, so the figures are the protocol's, not this machine's. Corosync CPG's figures, as
 * measured on these machines for issue 17, are printed beside ours.
 *
 *   npm run bench:cluster-sim                 (writes bench/results/cluster-sim.json)
 *   GALAXY_BENCH_QUICK=1 npm run bench:cluster-sim
 *   GALAXY_CLUSTER_SIM_ONLY=form npm run bench:cluster-sim   (formation alone: bench/results/cluster-sim-form.json)
 *   GALAXY_CLUSTER_SIM_ONLY=loaded npm run bench:cluster-sim (a SIGKILL on a loaded machine, before/after: bench/results/cluster-sim-loaded.json)
 *   GALAXY_CLUSTER_SIM_ONLY=adaptive npm run bench:cluster-sim (the adaptive suspect timeout, before/after: bench/results/cluster-sim-adaptive.json)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ClusterSimulation } from '../src/sim/cluster/cluster-simulation.js';
import { Prng } from '../src/core/util/prng.js';
import { loadedCrash, kLoadedCrashDefaults, type LoadedCrashOptions } from '../src/sim/cluster/loaded-crash.js';
import { loadedLoss, kLoadedLossDefaults } from '../src/sim/cluster/loaded-loss.js';
import { checkSafety, describeViolations } from '../src/sim/cluster/cluster-checkers.js';
import type { ClusterMemberOptions } from '../src/core/cluster/cluster-config.js';

const quick = process.env.GALAXY_BENCH_QUICK === '1';
const runs = quick ? 5 : 20;
const kTimeoutMs = 10_000;

interface Figures {
  medianMs: number;
  worstMs: number;
  runs: number;
  failed: number;
}

function figures(samples: number[], failed: number): Figures {
  const sorted = samples.slice().sort((a, b) => a - b);
  return { medianMs: round(sorted[Math.floor(sorted.length / 2)] ?? NaN), worstMs: round(sorted[sorted.length - 1] ?? NaN), runs: samples.length + failed, failed };
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

function formedCluster(seed: number, size: number, icmp: boolean): ClusterSimulation {
  const s = new ClusterSimulation({ seed, nodeCount: size, clusters: [{ name: 'c', nodes: range(size) }], multicastEveryMs: 50, sim: { tickMs: 5, icmp } });
  if (s.awaitCommonView('c', range(size), kTimeoutMs) < 0) throw new Error(`seed ${seed}: ${size} nodes formed no view`);
  s.sim.runFor(200);
  return s;
}

/** Crash of one member (not the coordinator, not always the same): time until every survivor installed the view without it. */
function crashTimes(size: number, evidence: boolean): Figures {
  const samples: number[] = [];
  let failed = 0;
  for (let seed = 1; seed <= runs; seed++) {
    const s = formedCluster(seed, size, evidence);
    const victim = 1 + (seed % (size - 1));
    if (evidence) s.sim.crash(s.addresses[victim]!);
    else s.sim.crashHost(s.addresses[victim]!);
    const tookMs = s.awaitCommonView('c', range(size).filter((i) => i !== victim), kTimeoutMs, 1);
    if (tookMs < 0) failed++;
    else samples.push(tookMs);
  }
  return figures(samples, failed);
}

function leaveTimes(size: number): Figures {
  const samples: number[] = [];
  for (let seed = 1; seed <= runs; seed++) {
    const s = formedCluster(seed, size, true);
    const leaver = 1 + (seed % (size - 1));
    s.sim.stop(s.addresses[leaver]!);
    samples.push(s.awaitCommonView('c', range(size).filter((i) => i !== leaver), kTimeoutMs, 1));
  }
  return figures(samples.filter((x) => x >= 0), samples.filter((x) => x < 0).length);
}

/** A member restarts (same node id): time from its new process's start to one view with it, everywhere. */
function joinTimes(size: number): Figures {
  const samples: number[] = [];
  for (let seed = 1; seed <= runs; seed++) {
    const s = formedCluster(seed, size, true);
    const victim = 1 + (seed % (size - 1));
    s.sim.crash(s.addresses[victim]!);
    s.awaitCommonView('c', range(size).filter((i) => i !== victim), kTimeoutMs, 1);
    s.sim.runFor(100);
    s.sim.restart(s.addresses[victim]!);
    samples.push(s.awaitCommonView('c', range(size), kTimeoutMs, 1));
  }
  return figures(samples.filter((x) => x >= 0), samples.filter((x) => x < 0).length);
}

/** A 3|2 partition held 2 s, then healed: time from the heal to one merged view at all five. */
function healTimes(): Figures {
  const samples: number[] = [];
  for (let seed = 1; seed <= runs; seed++) {
    const s = formedCluster(seed, 5, true);
    s.sim.partition([s.addresses[0]!, s.addresses[1]!], [s.addresses[2]!, s.addresses[3]!, s.addresses[4]!]);
    s.sim.runFor(2000);
    s.sim.heal();
    samples.push(s.awaitCommonView('c', range(5), kTimeoutMs, 1));
  }
  return figures(samples.filter((x) => x >= 0), samples.filter((x) => x < 0).length);
}

/** False view changes: a 5-node cluster under 10% loss for simulated minutes, no faults. */
function falseChanges(): { simulatedS: number; viewChanges: number } {
  const s = new ClusterSimulation({ seed: 99, nodeCount: 5, clusters: [{ name: 'c', nodes: range(5) }], multicastEveryMs: 50, sim: { tickMs: 5, lossRate: 0.1 } });
  s.awaitCommonView('c', range(5), kTimeoutMs);
  const before = s.host(0)!.coreOf('c')!.currentView()!.id;
  const simulatedS = quick ? 30 : 300;
  s.sim.runFor(simulatedS * 1000);
  return { simulatedS, viewChanges: s.host(0)!.coreOf('c')!.currentView()!.id - before };
}

/** 100 clusters of 5 placed at random on 500 nodes: heartbeat traffic per node, then churn. */
function farm(): object {
  const random = new Prng(500);
  const clusters = range(100).map((c) => ({ name: `c${c}`, nodes: random.shuffle(range(500)).slice(0, 5).sort((a, b) => a - b) }));
  const s = new ClusterSimulation({ seed: 500, nodeCount: 500, clusters, multicastEveryMs: 0, sim: { tickMs: 10 } });
  for (const c of clusters) if (s.awaitCommonView(c.name, c.nodes, kTimeoutMs) < 0) throw new Error(`${c.name} formed no view`);
  const quietS = quick ? 5 : 20;
  const before = s.sim.stats().totals;
  s.sim.runFor(quietS * 1000);
  const after = s.sim.stats().totals;
  const perNodeDatagramsPerS = (after.datagramsSent - before.datagramsSent) / 500 / quietS;
  const perNodeBytesPerS = (after.datagramBytesSent - before.datagramBytesSent) / 500 / quietS;
  const samples: number[][] = [[], []];
  const failed = [0, 0];
  const events = quick ? 10 : 40;
  for (let k = 0; k < events; k++) {
    const victim = random.nextInt(500);
    const affected = clusters.filter((c) => c.nodes.includes(victim));
    if (affected.length === 0) continue;
    const silent = k % 2 === 1;
    if (silent) s.sim.crashHost(s.addresses[victim]!);
    else s.sim.crash(s.addresses[victim]!);
    const start = s.sim.nowMs();
    const done = s.sim.runUntil(() => affected.every((c) => s.hasCommonView(c.name, c.nodes.filter((i) => i !== victim))), kTimeoutMs, 5);
    if (done < 0) failed[silent ? 1 : 0]!++;
    else samples[silent ? 1 : 0]!.push(done - start);
    s.sim.restart(s.addresses[victim]!);
    s.sim.runUntil(() => affected.every((c) => s.hasCommonView(c.name, c.nodes)), kTimeoutMs, 5);
  }
  return {
    nodes: 500,
    clusters: 100,
    clusterSize: 5,
    heartbeatTraffic: { datagramsPerNodePerS: round(perNodeDatagramsPerS), bytesPerNodePerS: Math.round(perNodeBytesPerS) },
    churnViewChange: {
      withEvidence: figures(samples[0]!, failed[0]!),
      silent: figures(samples[1]!, failed[1]!),
      note: 'a random node crashes (alternately with ICMP evidence and silently), every cluster it is in installs a view without it, then it restarts and rejoins',
    },
  };
}

/**
 * Formation as real agents see it (issue 17: 64 agents never formed observably on the
 * shared machine): every member's core starts at its own time, when the cluster's
 * definition reaches it through the FMIDB (here uniform over `staggerMs`), at
 * incarnation 0; then one SIGKILL-like crash with evidence. Per size and one-way latency
 * (the simulated LAN, then 20 and 50 ms means: message hops between agents on a loaded
 * machine), the time from the first core's start to one view of all at every member,
 * the views installed on the way (each arrival is a join, batched into the next change),
 * the crash's view change, and the largest message of a view change (over
 * kClusterDatagramBytesMax the agent sends it over the messenger's stream).
 */
function formation(): object {
  const out: Record<string, unknown> = {};
  const staggerMs = 5_000;
  const seeds = quick ? 3 : 10;
  const latencies: Array<{ name: string; sim: { latencyMsMin?: number; latencyMsMean?: number } }> = [
    { name: 'lan', sim: {} },
    { name: '20ms', sim: { latencyMsMin: 5, latencyMsMean: 20 } },
    { name: '50ms', sim: { latencyMsMin: 12.5, latencyMsMean: 50 } },
  ];
  for (const size of quick ? [16, 64] : [16, 32, 64]) {
    for (const latency of latencies) {
      const formed: number[] = [];
      const kills: number[] = [];
      const viewIds: number[] = [];
      let failed = 0;
      const largest = new Map<number, number>();
      for (let seed = 1; seed <= seeds; seed++) {
        const random = new Prng(seed * 7919 + size);
        const starts = range(size).map((i) => (i === 0 ? 0 : random.nextFloat() * staggerMs));
        const s = new ClusterSimulation({ seed, nodeCount: size, clusters: [{ name: 'c', nodes: range(size) }], multicastEveryMs: 0, firstStartAtMs: (i) => starts[i]!, sim: { tickMs: 5, icmp: true, ...latency.sim } });
        const took = s.awaitCommonView('c', range(size), staggerMs + 60_000, 5);
        if (took < 0) {
          failed++;
          continue;
        }
        formed.push(took);
        viewIds.push(s.host(0)!.coreOf('c')!.currentView()!.id);
        s.sim.runFor(500);
        const victim = 1 + (seed % (size - 1));
        s.sim.crash(s.addresses[victim]!);
        const k = s.awaitCommonView('c', range(size).filter((i) => i !== victim), kTimeoutMs, 1);
        if (k < 0) failed++;
        else kills.push(k);
        for (const [type, bytes] of s.sentBytesMaxByType) largest.set(type, Math.max(largest.get(type) ?? 0, bytes));
      }
      const row = {
        staggerMs,
        formedFromFirstStart: figures(formed, failed),
        viewsWhileForming: { median: viewIds.slice().sort((a, b) => a - b)[Math.floor(viewIds.length / 2)] ?? null, max: Math.max(...viewIds) },
        crashWithEvidence: figures(kills, 0),
        largestBytes: { promise: largest.get(7) ?? 0, accept: largest.get(8) ?? 0, install: largest.get(11) ?? 0, heartbeat: largest.get(1) ?? 0 },
      };
      out[`${size}/${latency.name}`] = row;
      console.log(`formation, ${size} members, starts over ${staggerMs} ms, latency ${latency.name}: formed ${row.formedFromFirstStart.medianMs} / ${row.formedFromFirstStart.worstMs} ms from the first start (${row.viewsWhileForming.median} views on the way, failed ${failed}); then a crash: ${row.crashWithEvidence.medianMs} / ${row.crashWithEvidence.worstMs} ms; largest accept ${row.largestBytes.accept} B, install ${row.largestBytes.install} B, heartbeat ${row.largestBytes.heartbeat} B`);
    }
  }
  return out;
}

/**
 * A member's SIGKILL on a machine loaded many times over its CPUs, as issue 17's real
 * 16- and 32-member runs saw it (src/sim/cluster/loaded-crash.ts: hops of tens of ms,
 * every process stalling now and then, the victim any member, each survivor's evidence
 * at its own time or never), from kill to one view without the victim at every
 * survivor. Each seed runs twice in the same process: the core as it was before
 * session 8 (relayEvidence off, and the old rules kept as the broken switches
 * suspectAcrossOwnStall and leaveOutStalledPromisers) and as it is, so the ratio
 * compares the same kills. Every
 * run's histories pass the safety checkers or the bench fails.
 */
function loaded(): object {
  const seeds = quick ? 8 : 30;
  const before: ClusterMemberOptions = { relayEvidence: false, broken: { suspectAcrossOwnStall: true, leaveOutStalledPromisers: true } };
  const big: ClusterMemberOptions = { heartbeatIntervalMs: 250, suspectTimeoutMs: 2000, roundTimeoutMs: 300, learnFromAcceptors: false };
  const loads: Array<{ name: string; size: number; extra: Partial<LoadedCrashOptions>; options: ClusterMemberOptions }> = [
    { name: '16 members, no stalls, no loss, 25 ms hops (control)', size: 16, extra: { stallMsMean: 0, lossRate: 0 }, options: {} },
    { name: '16 members, stalls of 60 ms mean every 300 ms', size: 16, extra: {}, options: {} },
    { name: '16 members, stalls of 120 ms mean every 300 ms, 40 ms hops', size: 16, extra: { stallMsMean: 120, latencyMsMean: 40 }, options: {} },
    { name: '32 members (bench:cluster big tuning), stalls of 120 ms mean, 40 ms hops', size: 32, extra: { stallMsMean: 120, latencyMsMean: 40 }, options: big },
  ];
  const out: Record<string, unknown> = { model: kLoadedCrashDefaults, seeds };
  for (const l of loads) {
    const row: Record<string, unknown> = { size: l.size, model: l.extra, tuning: l.options };
    const samples: Record<string, number[]> = { before: [], after: [] };
    const failed: Record<string, number> = { before: 0, after: 0 };
    for (let seed = 1; seed <= seeds; seed++) {
      for (const [which, options] of [['before', { ...l.options, ...before }], ['after', l.options]] as const) {
        const r = loadedCrash({ size: l.size, seed, ...l.extra, options });
        const violations = describeViolations(checkSafety(r.sim.history, 'c'));
        if (violations !== '') throw new Error(`loaded crash, ${l.name}, seed ${seed} (${which}): ${violations}`);
        if (r.tookMs < 0) failed[which]!++;
        else samples[which]!.push(r.tookMs);
      }
    }
    const b = figures(samples.before!, failed.before!);
    const a = figures(samples.after!, failed.after!);
    row.before = b;
    row.after = a;
    row.ratioMedian = Math.round((a.medianMs / b.medianMs) * 100) / 100;
    row.ratioWorst = Math.round((a.worstMs / b.worstMs) * 100) / 100;
    out[l.name] = row;
    console.log(`loaded kill, ${l.name}: before ${b.medianMs} / ${b.worstMs} ms (failed ${b.failed}), after ${a.medianMs} / ${a.worstMs} ms (failed ${a.failed}) over ${seeds} seeds: ratio ${row.ratioMedian} median, ${row.ratioWorst} worst`);
  }
  return out;
}

/**
 * Session 9's adaptive suspect timeout (suspectTimeoutMaxMs), before (a fixed timeout:
 * suspectTimeoutMaxMs = suspectTimeoutMs) and after, on the same seeds in one run:
 * false view changes in the fault suite's 10% loss scenario under the loaded-machine
 * model (src/sim/cluster/loaded-loss.ts), and what it costs crash detection: a crash
 * without evidence (the host gone) on a quiet network and at 10% loss, a crash with
 * ICMP evidence, and the loaded SIGKILL of loaded-crash.ts. Every run's histories pass
 * the safety checkers or the bench fails.
 */
function adaptive(): object {
  const before: ClusterMemberOptions = { suspectTimeoutMaxMs: 400 };
  const out: Record<string, unknown> = { lossModel: kLoadedLossDefaults, before };
  const lossSeeds = quick ? 4 : 20;
  for (const [size, seeds] of [[5, lossSeeds], [16, quick ? 2 : 6]] as const) {
    const changes: Record<string, number[]> = { before: [], after: [] };
    for (let seed = 1; seed <= seeds; seed++) {
      for (const [which, options] of [['before', before], ['after', {}]] as const) {
        const r = loadedLoss({ size, seed, options });
        const violations = describeViolations(checkSafety(r.sim.history, 'c'));
        if (violations !== '' || !r.wholeAfter) throw new Error(`loaded loss, ${size} members, seed ${seed} (${which}): ${violations} ${r.wholeAfter ? '' : `not whole after: ${r.describe}`}`);
        changes[which]!.push(r.viewChanges);
      }
    }
    const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
    const row = { seeds, simulatedSPerSeed: kLoadedLossDefaults.durationMs / 1000, before: { viewChanges: sum(changes.before!), seedsWithAny: changes.before!.filter((x) => x > 0).length }, after: { viewChanges: sum(changes.after!), seedsWithAny: changes.after!.filter((x) => x > 0).length } };
    out[`falseViewChanges${size}`] = row;
    console.log(`false view changes, ${size} members, 10% loss and stalls (60 ms mean every 300 ms), ${seeds} seeds of 35 s: before ${row.before.viewChanges} (in ${row.before.seedsWithAny} seeds), after ${row.after.viewChanges} (in ${row.after.seedsWithAny} seeds)`);
  }
  const crashRows: Array<{ name: string; run: (seed: number, options: ClusterMemberOptions) => number }> = [
    { name: 'crash without evidence (host gone), 5 members, no loss', run: (seed, options) => silentCrash(seed, 5, 0, options) },
    { name: 'crash without evidence (host gone), 16 members, no loss', run: (seed, options) => silentCrash(seed, 16, 0, options) },
    { name: 'crash without evidence (host gone), 5 members, 10% loss', run: (seed, options) => silentCrash(seed, 5, 0.1, options) },
    { name: 'crash with ICMP evidence, 5 members, no loss', run: (seed, options) => evidenceCrash(seed, 5, options) },
    {
      name: 'loaded SIGKILL, 16 members, stalls of 120 ms mean, 40 ms hops (loaded-crash.ts)',
      run: (seed, options) => {
        const r = loadedCrash({ size: 16, seed, stallMsMean: 120, latencyMsMean: 40, options });
        const violations = describeViolations(checkSafety(r.sim.history, 'c'));
        if (violations !== '') throw new Error(`loaded crash, seed ${seed}: ${violations}`);
        return r.tookMs;
      },
    },
  ];
  for (const c of crashRows) {
    const samples: Record<string, number[]> = { before: [], after: [] };
    const failed: Record<string, number> = { before: 0, after: 0 };
    const seeds = c.name.startsWith('loaded') ? (quick ? 4 : 15) : runs;
    for (let seed = 1; seed <= seeds; seed++) {
      for (const [which, options] of [['before', before], ['after', {}]] as const) {
        const took = c.run(seed, options);
        if (took < 0) failed[which]!++;
        else samples[which]!.push(took);
      }
    }
    const b = figures(samples.before!, failed.before!);
    const a = figures(samples.after!, failed.after!);
    const row = { before: b, after: a, ratioMedian: Math.round((a.medianMs / b.medianMs) * 100) / 100, ratioWorst: Math.round((a.worstMs / b.worstMs) * 100) / 100 };
    out[c.name] = row;
    console.log(`${c.name}: before ${b.medianMs} / ${b.worstMs} ms (failed ${b.failed}), after ${a.medianMs} / ${a.worstMs} ms (failed ${a.failed}) over ${seeds} seeds: ratio ${row.ratioMedian} median, ${row.ratioWorst} worst`);
  }
  return out;
}

/** A member's host vanishes (no evidence) after the cluster ran a while under `lossRate`: ms until every survivor installed the view without it. */
function silentCrash(seed: number, size: number, lossRate: number, options: ClusterMemberOptions): number {
  const s = new ClusterSimulation({ seed, nodeCount: size, clusters: [{ name: 'c', nodes: range(size), options }], multicastEveryMs: 50, sim: { tickMs: 5, icmp: false, lossRate } });
  if (s.awaitCommonView('c', range(size), kTimeoutMs) < 0) throw new Error(`seed ${seed}: ${size} nodes formed no view`);
  // Long enough for the gaps of the loss to be heard (the adaptive timeout's input).
  s.sim.runFor(5000);
  const victim = 1 + (seed % (size - 1));
  s.sim.crashHost(s.addresses[victim]!);
  const took = s.awaitCommonView('c', range(size).filter((i) => i !== victim), kTimeoutMs, 1);
  const violations = describeViolations(checkSafety(s.history, 'c'));
  if (violations !== '') throw new Error(`silent crash, seed ${seed}: ${violations}`);
  return took;
}

function evidenceCrash(seed: number, size: number, options: ClusterMemberOptions): number {
  const s = new ClusterSimulation({ seed, nodeCount: size, clusters: [{ name: 'c', nodes: range(size), options }], multicastEveryMs: 50, sim: { tickMs: 5, icmp: true } });
  if (s.awaitCommonView('c', range(size), kTimeoutMs) < 0) throw new Error(`seed ${seed}: ${size} nodes formed no view`);
  s.sim.runFor(200);
  const victim = 1 + (seed % (size - 1));
  s.sim.crash(s.addresses[victim]!);
  return s.awaitCommonView('c', range(size).filter((i) => i !== victim), kTimeoutMs, 1);
}

if (process.env['GALAXY_CLUSTER_SIM_ONLY'] === 'adaptive') {
  const result = { simulated: true, adaptive: adaptive() };
  const dir = join(process.cwd(), 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'cluster-sim-adaptive.json'), `${JSON.stringify(result, null, 2)}\n`);
  process.exit(0);
}

if (process.env['GALAXY_CLUSTER_SIM_ONLY'] === 'loaded') {
  const result = { simulated: true, loaded: loaded() };
  const dir = join(process.cwd(), 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'cluster-sim-loaded.json'), `${JSON.stringify(result, null, 2)}\n`);
  process.exit(0);
}

if (process.env['GALAXY_CLUSTER_SIM_ONLY'] === 'form') {
  const result = { simulated: true, formation: formation() };
  const dir = join(process.cwd(), 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'cluster-sim-form.json'), `${JSON.stringify(result, null, 2)}\n`);
  process.exit(0);
}

const cpg = { defaults3: 7400, defaults5: 10_700, token1000_3: 3400, token1000_5: 6100, tightest5: 2200, heal: '2400-3400', joinLeave: 2 };
const results: Record<string, unknown> = { simulated: true, runsPerFigure: runs, corosyncCpg: cpg, crash: {} as Record<string, unknown> };
const crash = results.crash as Record<string, unknown>;
for (const size of quick ? [3, 5, 16] : [3, 5, 16, 64]) {
  const withEvidence = crashTimes(size, true);
  const silent = crashTimes(size, false);
  crash[size] = { withEvidence, silent };
  const cpgFigure = size === 3 ? '7.4 s (defaults), 3.4 s (token 1000)' : size === 5 ? '10.7 s (defaults), 6.1 s (token 1000), 2.2 s (tightest)' : 'n/a (CPG caps near 32)';
  console.log(`crash, ${size} nodes: with evidence median ${withEvidence.medianMs} ms worst ${withEvidence.worstMs} ms; silent median ${silent.medianMs} ms worst ${silent.worstMs} ms (failed ${withEvidence.failed + silent.failed}) | CPG: ${cpgFigure}`);
}
results.leave5 = leaveTimes(5);
console.log(`graceful leave, 5 nodes: ${JSON.stringify(results.leave5)} | CPG: about 2 ms`);
results.join5 = joinTimes(5);
console.log(`join (restart with the same id), 5 nodes: ${JSON.stringify(results.join5)} | CPG: about 2 ms`);
results.heal5 = healTimes();
console.log(`3|2 heal, 5 nodes: ${JSON.stringify(results.heal5)} | CPG: 2.4-3.4 s`);
results.falseViewChangesAt10PercentLoss = falseChanges();
console.log(`false view changes at 10% loss: ${JSON.stringify(results.falseViewChangesAt10PercentLoss)}`);
results.formation = formation();
results.farm = farm();
console.log(`100 clusters of 5 on 500 nodes: ${JSON.stringify(results.farm)}`);
const dir = join(process.cwd(), 'bench', 'results');
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, 'cluster-sim.json'), `${JSON.stringify(results, null, 2)}\n`);
