/**
 * One scenario of the scale benchmark, run in one thread (a piscina worker in
 * bench/scale.ts): a simulated farm of N nodes with LAN defaults, started in its
 * steady state, then one measurement. Returns plain figures.
 */
import { membershipConfig } from '../src/core/membership/config.js';
import { nodeIdOf } from '../src/core/wire/node-id-of.js';
import { SimulatedFarm } from '../src/sim/simulated-farm.js';
import { FalsePositiveCounter } from '../src/sim/invariants.js';
import { NetworkSimulator } from '../src/sim/network-simulator.js';
import { nodeAddress } from '../src/sim/node-address.js';
import { Prng } from '../src/core/util/prng.js';
import * as F from '../src/core/wire/format.js';
import { TrafficByType, type TrafficRow } from '../src/sim/traffic-by-type.js';

export type ScenarioKind = 'join' | 'crash-icmp' | 'crash-silent' | 'false-positives' | 'stalls';

export interface Scenario {
  nodes: number;
  kind: ScenarioKind;
  seed: number;
  /** For false-positives and stalls: the loss rate and the window, simulated ms. */
  lossRate?: number;
  windowMs?: number;
  /** The engine's failedProbesToSuspect; the LAN preset's when absent. */
  failedProbesToSuspect?: number;
}

export interface ScenarioResult {
  scenario: Scenario;
  /** Simulated ms until the measured thing held everywhere; -1 when it never did. */
  resultMs?: number;
  suspicions?: number;
  falseSuspicions?: number;
  falseDeaths?: number;
  deadWhilePaused?: number;
  bytesPerNodePerSecond?: number;
  simulatedMs: number;
  wallMs: number;
  rssBytesPerNode: number;
  /** The process's peak resident set, bytes (the scenario's own when it runs alone, as with scale-one). */
  maxRssBytes?: number;
  heapAndBuffersBytes: number;
  events: number;
  /** For false-positives and stalls: the window's traffic by message type, per node per second. */
  trafficByType?: TrafficRow[];
  /** CPU time of the whole process while the scenario ran (user + system), ms. */
  cpuMs?: number;
  /** Ticks that ran, all nodes. */
  ticks?: number;
  /** CPU and wall time of the measured part alone (after setup and the 3-s warm-up), ms. */
  measuredCpuMs?: number;
  measuredWallMs?: number;
  /** Simulated ms of the measured part. */
  measuredSimulatedMs?: number;
}

const kWarmupMs = 3000;
/** The benchmark's failedProbesToSuspect unless a scenario says otherwise. */
export const kFailedProbesToSuspect = 2;

export function runScenario(scenario: Scenario): ScenarioResult {
  const started = performance.now();
  const cpuStarted = process.cpuUsage();
  const n = scenario.nodes;
  // Ticks every 10 ms of local time at every size; with skipIdleTicks only the ones where
  // an engine timer is due run (about 8 a second per node instead of 100).
  const sim = new NetworkSimulator({ seed: scenario.seed, nodesMax: n + 8, tickMs: 10, eventsQueuedMax: 1 << 24, skipIdleTicks: true });
  // LAN preset, but a failed probe is re-probed once before a farm-wide suspicion
  // (failedProbesToSuspect 2): with SWIM's 1, stalls multiply traffic with N (see README).
  const config = membershipConfig({ membersMax: n + 16, failedProbesToSuspect: scenario.failedProbesToSuspect ?? kFailedProbesToSuspect }, 'lan');
  const addresses = Array.from({ length: n }, (_, i) => nodeAddress(i));
  const traffic = new TrafficByType();
  const farm = new SimulatedFarm(sim, config, { prepopulate: addresses, runtimeBytes: 1024 * 1024 * 1024, traffic });
  const seeds = addresses.slice(0, 3);
  for (let i = 0; i < n; i++) farm.addMember(seeds);
  const counter = new FalsePositiveCounter(sim, { examplesMax: 5 });
  const prng = new Prng(scenario.seed ^ 0x5ca1e);
  sim.runFor(kWarmupMs);
  const result: ScenarioResult = { scenario, simulatedMs: 0, wallMs: 0, rssBytesPerNode: 0, heapAndBuffersBytes: 0, events: 0 };
  const t0 = sim.nowMs();
  const measuredCpu = process.cpuUsage();
  const measuredStarted = performance.now();
  const checkMs = n >= 5000 ? 100 : 20;
  switch (scenario.kind) {
    case 'join': {
      const joiner = farm.addMember([addresses[prng.nextInt(n)]!]);
      const id = nodeIdOf(joiner);
      const engines = addresses.map((a) => farm.engineOf(a)!);
      const reached = sim.runUntil(() => engines.every((e) => {
        const row = e.table.find(id);
        return row >= 0 && e.table.status[row] === F.kStatusAlive;
      }), 120_000, checkMs);
      result.resultMs = reached < 0 ? -1 : reached - t0;
      break;
    }
    case 'crash-icmp':
    case 'crash-silent': {
      const victim = addresses[1 + prng.nextInt(n - 1)]!;
      if (scenario.kind === 'crash-icmp') sim.crash(victim);
      else sim.crashHost(victim);
      const reached = sim.runUntil(() => counter.detectionLatencyMs(victim, t0) >= 0, 300_000, checkMs);
      result.resultMs = reached < 0 ? -1 : counter.detectionLatencyMs(victim, t0);
      break;
    }
    case 'false-positives':
    case 'stalls': {
      const windowMs = scenario.windowMs ?? 600_000;
      sim.setLossRate(scenario.lossRate ?? 0);
      const sentBefore = totalBytesSent(farm, addresses);
      traffic.reset();
      if (scenario.kind === 'stalls') {
        // 10% of the nodes each stall their event loop for 2 s, once a minute, at a random moment.
        const stalling = prng.shuffle(addresses.slice()).slice(0, Math.max(1, Math.floor(n / 10)));
        for (let minute = 0; minute * 60_000 < windowMs; minute++) {
          const offsets = stalling.map((a) => [a, prng.nextInt(58_000)] as const).sort((x, y) => x[1] - y[1]);
          let at = 0;
          for (const [address, offset] of offsets) {
            sim.runFor(offset - at);
            at = offset;
            if (!sim.isPaused(address)) sim.pause(address, 2000);
          }
          sim.runFor(Math.min(60_000, windowMs - minute * 60_000) - at);
        }
      } else {
        // In slices of a simulated minute (the same run as one runFor), so that a long
        // window can print its progress (GALAXY_SCALE_PROGRESS=1, on stderr).
        for (let at = 0; at < windowMs; at += 60_000) {
          sim.runFor(Math.min(60_000, windowMs - at));
          if (process.env.GALAXY_SCALE_PROGRESS === '1') {
            const cpu = process.cpuUsage(cpuStarted);
            console.error(`${n} nodes loss ${scenario.lossRate ?? 0}: ${Math.min(windowMs, at + 60_000) / 1000} s of ${windowMs / 1000}, false suspicions ${counter.falseSuspicions}, false deaths ${counter.falseDeaths}, CPU ${Math.round((cpu.user + cpu.system) / 1e6)} s, max RSS ${Math.round(process.resourceUsage().maxRSS / 1024)} MiB`);
          }
        }
      }
      result.bytesPerNodePerSecond = Math.round((totalBytesSent(farm, addresses) - sentBefore) / n / (windowMs / 1000));
      const perNodeSecond = n * (windowMs / 1000);
      result.trafficByType = traffic.rows().map((r) => ({ type: r.type, messages: round2(r.messages / perNodeSecond), bytes: round2(r.bytes / perNodeSecond) }));
      break;
    }
  }
  result.suspicions = counter.suspicions;
  result.falseSuspicions = counter.falseSuspicions;
  result.falseDeaths = counter.falseDeaths;
  result.deadWhilePaused = counter.deadWhilePaused;
  result.simulatedMs = Math.round(sim.nowMs());
  result.wallMs = Math.round(performance.now() - started);
  const cpu = process.cpuUsage(cpuStarted);
  result.cpuMs = Math.round((cpu.user + cpu.system) / 1000);
  const measured = process.cpuUsage(measuredCpu);
  result.measuredCpuMs = Math.round((measured.user + measured.system) / 1000);
  result.measuredWallMs = Math.round(performance.now() - measuredStarted);
  result.measuredSimulatedMs = Math.round(sim.nowMs() - t0);
  const memory = process.memoryUsage();
  result.rssBytesPerNode = Math.round(memory.rss / n);
  result.maxRssBytes = process.resourceUsage().maxRSS * 1024;
  result.heapAndBuffersBytes = memory.heapUsed + memory.arrayBuffers;
  result.events = sim.stats().eventsProcessed;
  result.ticks = sim.stats().totals.ticks;
  return result;
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

function totalBytesSent(farm: SimulatedFarm, addresses: readonly string[]): number {
  let total = 0;
  for (const a of addresses) {
    const stats = farm.engineOf(a)?.stats;
    if (stats) total += stats.bytesSent + stats.frameBytesSent;
  }
  return total;
}

/** The piscina entry point. */
export default function task(scenario: Scenario): ScenarioResult {
  return runScenario(scenario);
}
