import { membershipConfig } from '../../core/membership/config.js';
import { tableLayout } from '../../core/table/table-layout.js';
import { Prng } from '../../core/util/prng.js';
import { checkConvergence, FalsePositiveCounter, type FalseReport } from '../invariants.js';
import { NetworkSimulator } from '../network-simulator.js';
import { nodeAddress } from '../node-address.js';
import { SimulatedFarm } from '../simulated-farm.js';
import type { CrashRecord, DetectionDistribution, StudyProgress, StudyResult, StudySeries } from './study-result.js';
import type { StudySpec } from './study-spec.js';
import { swimDetectionBoundMs } from './swim-bound.js';
import { studyVerdict } from './study-verdict.js';

/** Simulated ms the farm runs before the study's clock starts, so the first samples see a settled farm. */
const kWarmupMs = 3000;
/** Points of the detection-time distribution kept in a result (quantiles 0, 1%, ..., 100%). */
const kDetectionPointsMax = 101;
/** False reports kept as examples. */
const kFalseExamplesMax = 10;
/** Bytes of each shared memory the tables are carved from: at most 1 GiB (Wasm32), less for small farms. */
const kRuntimeBytesMax = 1024 * 1024 * 1024;

interface Action {
  atMs: number;
  /** Actions at one instant run in this order; samples come last. */
  order: number;
  run: () => void;
}

/**
 * Runs one study from its seed on the same simulator and membership engine as the
 * tests: a prepopulated farm of spec.nodes members, the spec's faults at seeded
 * moments inside the fault window, a sample of the time series every sampleEveryMs.
 * Pure of wall time and of I/O: the same spec gives the same result.
 */
export function runStudy(spec: StudySpec, onProgress?: (progress: StudyProgress) => void): StudyResult {
  const n = spec.nodes;
  const config = membershipConfig({ ...spec.membership, membersMax: n + 16 }, spec.preset);
  const sim = new NetworkSimulator({ seed: spec.seed, nodesMax: n + 8, tickMs: n >= 5000 ? 25 : 10, eventsQueuedMax: 1 << 24 });
  const addresses = Array.from({ length: n }, (_, i) => nodeAddress(i));
  const tableBytes = tableLayout(config.membersMax).totalBytes;
  const runtimeBytes = Math.min(kRuntimeBytesMax, Math.ceil(((tableBytes + 64) * (n + 8) + 32 * 1024 * 1024) / 65536) * 65536);
  const farm = new SimulatedFarm(sim, config, { prepopulate: addresses, runtimeBytes });
  const seeds = addresses.slice(0, 3);
  for (let i = 0; i < n; i++) farm.addMember(seeds);
  const counter = new FalsePositiveCounter(sim, { examplesMax: kFalseExamplesMax });
  // The counter's examples fill with suspicions first; the verdict wants the first deaths.
  const falseDeathExamples: FalseReport[] = [];
  sim.addReportListener({
    onReport: (observer, event, simTimeMs) => {
      if (event.kind !== 'dead' || falseDeathExamples.length >= kFalseExamplesMax || !sim.hasNode(event.subject)) return;
      if (sim.isProcessAlive(event.subject) && !sim.isPaused(event.subject)) falseDeathExamples.push({ observer, subject: event.subject, kind: 'dead', simTimeMs });
    },
  });
  // The study's own choices (victims, moments, sides, observers) come from a generator
  // of their own, so they do not shift when the engines draw more or fewer numbers.
  const prng = new Prng((spec.seed ^ 0x57ad1e5) >>> 0);
  const observers = prng.shuffle(addresses.slice()).slice(0, spec.observers);
  sim.runFor(kWarmupMs);
  const t0 = sim.nowMs();

  const actions: Action[] = [];
  const at = (atMs: number, order: number, run: () => void): void => {
    actions.push({ atMs, order, run });
  };
  if (spec.lossRate > 0) {
    at(0, 0, () => sim.setLossRate(spec.lossRate));
    at(spec.faultsEndMs, 0, () => sim.setLossRate(0));
  }
  const crashes: Array<{ victim: string; atMs: number }> = [];
  const victims = prng.shuffle(addresses.slice()).slice(0, spec.crashes);
  for (const victim of victims) {
    const crash = { victim, atMs: prng.nextInt(Math.max(1, spec.faultsEndMs)) };
    crashes.push(crash);
    at(crash.atMs, 1, () => {
      if (spec.icmp) sim.crash(victim);
      else sim.crashHost(victim);
    });
  }
  crashes.sort((a, b) => a.atMs - b.atMs || (a.victim < b.victim ? -1 : 1));
  const partition = spec.partition;
  if (partition !== null) {
    const shuffled = prng.shuffle(addresses.slice());
    const small = shuffled.slice(0, Math.max(1, Math.round(n * partition.split)));
    const large = shuffled.slice(small.length);
    at(partition.startMs, 2, () => sim.partition(small, large, { oneWay: partition.oneWay }));
    at(partition.startMs + partition.durationMs, 0, () => sim.heal());
  }
  const stall = spec.stall;
  if (stall !== null) {
    const stalling = prng.shuffle(addresses.slice()).slice(0, Math.max(1, Math.round(n * stall.fraction)));
    for (let periodStartMs = 0; periodStartMs < spec.faultsEndMs; periodStartMs += stall.periodMs) {
      for (const address of stalling) {
        const startMs = periodStartMs + prng.nextInt(stall.periodMs - stall.durationMs);
        if (startMs + stall.durationMs > spec.faultsEndMs) continue;
        at(startMs, 3, () => {
          if (sim.isProcessAlive(address)) sim.pause(address, stall.durationMs);
        });
      }
    }
  }

  const series: StudySeries = { timeS: [], convergedObservers: [], viewAgreement: [], falseSuspicions: [], falseDeaths: [], deadWhilePaused: [], bytesPerNodePerSecond: [], runningNodes: [] };
  let bytesBefore = bytesSent(sim);
  let bytesTotal = 0;
  let lastSampleMs = 0;
  const sample = (): void => {
    const nowMs = sim.nowMs() - t0;
    let judged = 0;
    let converged = 0;
    let disagreements = 0;
    for (const observer of observers) {
      const check = checkConvergence(sim, { observers: [observer], disagreementsMax: 0 });
      if (check.observersChecked === 0) continue;
      judged++;
      if (check.converged) converged++;
      disagreements += check.disagreementCount;
    }
    const stats = sim.stats();
    const bytes = stats.totals.datagramBytesSent + stats.totals.frameBytesSent;
    const intervalS = (nowMs - lastSampleMs) / 1000;
    series.timeS.push(round(nowMs / 1000, 3));
    series.convergedObservers.push(judged === 0 ? null : round(converged / judged, 4));
    series.viewAgreement.push(judged === 0 ? null : round(1 - disagreements / (judged * (n - 1)), 6));
    series.falseSuspicions.push(counter.falseSuspicions);
    series.falseDeaths.push(counter.falseDeaths);
    series.deadWhilePaused.push(counter.deadWhilePaused);
    series.bytesPerNodePerSecond.push(intervalS > 0 ? Math.round((bytes - bytesBefore) / Math.max(1, stats.processesAlive) / intervalS) : 0);
    series.runningNodes.push(stats.processesAlive);
    bytesTotal += bytes - bytesBefore;
    bytesBefore = bytes;
    lastSampleMs = nowMs;
    onProgress?.({ simulatedMs: nowMs, totalMs: spec.simulatedMs });
  };
  for (let sampleMs = spec.sampleEveryMs; sampleMs <= spec.simulatedMs; sampleMs += spec.sampleEveryMs) at(sampleMs, 9, sample);
  if (spec.simulatedMs % spec.sampleEveryMs !== 0) at(spec.simulatedMs, 9, sample);
  // A stable sort keeps actions of one instant and order in the order they were made.
  actions.sort((a, b) => a.atMs - b.atMs || a.order - b.order);

  for (const action of actions) {
    const waitMs = t0 + action.atMs - sim.nowMs();
    if (waitMs > 0) sim.runFor(waitMs);
    action.run();
  }

  const detectionBoundMs = swimDetectionBoundMs(config, n);
  const endMs = sim.nowMs() - t0;
  const victimSet = new Set(victims);
  const liveObservers = addresses.filter((a) => !victimSet.has(a) && sim.isProcessAlive(a));
  const allLatencies: number[] = [];
  let undetected = 0;
  const crashRecords: CrashRecord[] = crashes.map(({ victim, atMs }) => {
    const latencies: number[] = [];
    for (const observer of liveObservers) {
      const firstMs = counter.firstDeadMs(observer, victim);
      if (firstMs === undefined) continue;
      latencies.push(Math.max(0, Math.round(firstMs - t0 - atMs)));
    }
    latencies.sort((a, b) => a - b);
    for (const l of latencies) allLatencies.push(l);
    const missing = liveObservers.length - latencies.length;
    undetected += missing;
    const lastMs = latencies.length > 0 ? latencies[latencies.length - 1]! : null;
    let withinBound: boolean | null;
    if (missing === 0) withinBound = lastMs! <= detectionBoundMs;
    else withinBound = endMs - atMs >= detectionBoundMs ? false : null;
    return {
      victim,
      atMs,
      observers: liveObservers.length,
      detected: latencies.length,
      firstMs: latencies[0] ?? null,
      medianMs: latencies.length > 0 ? latencies[Math.floor((latencies.length - 1) / 2)]! : null,
      lastMs,
      withinBound,
    };
  });
  const detection = distribution(allLatencies, undetected);
  const final = checkConvergence(sim, { observers, disagreementsMax: 3 });
  const totals = {
    suspicions: counter.suspicions,
    falseSuspicions: counter.falseSuspicions,
    falseDeaths: counter.falseDeaths,
    deadWhilePaused: counter.deadWhilePaused,
    bytesPerNodePerSecond: endMs > 0 ? Math.round(bytesTotal / n / (endMs / 1000)) : 0,
    events: sim.stats().eventsProcessed,
    eventDigest: sim.eventDigest(),
  };
  const falseExamples = [...counter.examples.filter((e) => e.kind !== 'dead'), ...falseDeathExamples].map((e) => ({ ...e, simTimeMs: Math.round(e.simTimeMs - t0) }));
  const partial = { spec, detectionBoundMs, series, crashes: crashRecords, detection, totals, falseExamples, finalConvergence: { converged: final.converged, summary: final.summary } };
  return { ...partial, verdict: studyVerdict(partial, lastFaultMs(spec, crashes)) };
}

/** The simulated moment the last fault ended: the farm owes convergence one bound after it. */
function lastFaultMs(spec: StudySpec, crashes: ReadonlyArray<{ atMs: number }>): number {
  let last = spec.lossRate > 0 || spec.stall !== null ? spec.faultsEndMs : 0;
  for (const c of crashes) last = Math.max(last, c.atMs);
  if (spec.partition !== null) last = Math.max(last, spec.partition.startMs + spec.partition.durationMs);
  return last;
}

function distribution(sortedOrNot: number[], undetected: number): DetectionDistribution {
  const values = sortedOrNot.slice().sort((a, b) => a - b);
  const pairs = values.length + undetected;
  const ms: number[] = [];
  const fraction: number[] = [];
  if (values.length > 0) {
    const points = Math.min(kDetectionPointsMax, values.length);
    for (let i = 0; i < points; i++) {
      const index = points === 1 ? values.length - 1 : Math.round((i * (values.length - 1)) / (points - 1));
      const value = values[index]!;
      // uPlot wants x ascending and unique: equal quantiles collapse to their highest fraction.
      const f = round((index + 1) / pairs, 6);
      if (ms.length > 0 && ms[ms.length - 1] === value) fraction[fraction.length - 1] = f;
      else {
        ms.push(value);
        fraction.push(f);
      }
    }
  }
  return { pairs, undetected, ms, fraction };
}

function bytesSent(sim: NetworkSimulator): number {
  const totals = sim.stats().totals;
  return totals.datagramBytesSent + totals.frameBytesSent;
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
