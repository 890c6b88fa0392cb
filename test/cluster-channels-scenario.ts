// Not a test file: the scenarios the cluster-channels simulation tests share. Five nodes
// run ClusterChannels cores (the real cluster core under the channel layer) with a random
// workload of small and fragmented messages and replies on one channel, face one fault,
// end with a graceful leave (so the last busy view is flushed and judged), and the run
// returns the recorded ChannelHistory for the channel checkers.
import type { ChannelFaults } from '../src/core/channels/channel-layer-options.js';
import type { ChannelOptions } from '../src/core/channels/channel-options.js';
import { checkCausal, checkFifo, checkIntegrity, checkSafe, checkTotal, checkVirtualSynchrony, type CheckResult } from '../src/sim/channels/channel-checkers.js';
import type { ChannelHistory } from '../src/sim/channels/channel-history.js';
import { ClusterChannelsSimulation } from '../src/sim/cluster-channels/cluster-channels-simulation.js';
import { withSeed } from '../src/sim/invariants.js';
import { Prng } from '../src/core/util/prng.js';

export const kChannel = 'work';
const kAll = [0, 1, 2, 3, 4];
const kBoundMs = 4000;

export function seedsFor(base: number, count: number): number[] {
  if (process.env.GALAXY_SIM_SEED) return [withSeed(base)];
  const soak = Number(process.env.GALAXY_SIM_SEED_COUNT ?? 0);
  return Array.from({ length: soak > 0 ? soak : count }, (_, i) => base + i);
}

export type ScenarioName = 'lossy+icmp crash' | 'silent crash' | 'sequencer crash' | 'sequencer and member crash' | '3|2 partition and heal' | 'restart' | 'loaded: pauses, kill and partition';
export const kScenarios: ScenarioName[] = ['lossy+icmp crash', 'silent crash', 'sequencer crash', 'sequencer and member crash', '3|2 partition and heal', 'restart', 'loaded: pauses, kill and partition'];
/** The loaded scenario's workload runs this long: its pauses (up to 2 s) fall inside it. */
const kLoadedSendUntilMs = 6000;

export interface Run {
  history: ChannelHistory;
  problems: string[];
  delivered: number;
  /** Channel layers restarted because their member was cut out and rejoined (minority sides). */
  resets: number;
  /** Payloads the backlog held at most, over the members. */
  backlogMax: number;
}

/** Runs one scenario from one seed; returns the history and any liveness problem. */
/** Knobs a test may turn: loss in any scenario, a heavier workload. */
export interface ScenarioOverrides {
  lossy?: boolean;
  sendEveryMs?: number;
}

export function runScenario(seed: number, scenario: ScenarioName, options: ChannelOptions, faults: ChannelFaults = {}, overrides: ScenarioOverrides = {}): Run {
  const loaded = scenario === 'loaded: pauses, kill and partition';
  const lossy = overrides.lossy ?? (scenario === 'lossy+icmp crash' || loaded);
  const sendUntilMs = loaded ? kLoadedSendUntilMs : 800;
  const s = new ClusterChannelsSimulation({
    seed,
    nodeCount: 5,
    workload: { channel: kChannel, options, sendEveryMs: overrides.sendEveryMs ?? 8, sendUntilMs, bigRate: 0.1, replyRate: 0.2 },
    membership: { payloadBytesMax: 4096 },
    layer: { fragmentBytes: 1024, messageBytesMax: 64 * 1024, orderEntriesMax: 256, faults },
    // Loaded: a machine at load ~160 (the fault suite's failing run): big and spread
    // delays, much reordering, some loss and duplication, on top of the pauses below.
    sim: {
      tickMs: 2,
      ...(lossy ? { lossRate: 0.1, duplicateRate: 0.1, reorderRate: 0.2, reorderMsMax: 10 } : {}),
      ...(loaded ? { lossRate: 0.05, duplicateRate: 0.05, reorderRate: 0.3, reorderMsMax: 80, latencyMsMin: 0.2, latencyMsMean: 8 } : {}),
    },
  });
  const problems: string[] = [];
  const first = s.sim.runUntil(() => s.hasCommonView(kAll) || (s.host(0)?.core.currentView() ?? null) !== null, kBoundMs, 5);
  if (first < 0) problems.push(`no first view: ${s.describe(kAll)}`);
  s.host(0)!.open();
  if (s.awaitCommonView(kAll, kBoundMs) < 0) problems.push(`the channel never reached all: ${s.describe(kAll)}`);
  s.sim.runFor(200 + (seed % 7) * 23);
  let live = kAll;
  const victim = 1 + (seed % 4);
  switch (scenario) {
    case 'lossy+icmp crash':
      s.sim.crash(s.addresses[victim]!);
      live = kAll.filter((i) => i !== victim);
      break;
    case 'silent crash':
      s.sim.crashHost(s.addresses[victim]!);
      live = kAll.filter((i) => i !== victim);
      break;
    case 'sequencer crash': {
      const sequencer = s.sequencerIndexAt(victim);
      s.sim.setIcmp(s.addresses[sequencer]!, seed % 2 === 0);
      s.sim.crash(s.addresses[sequencer]!);
      live = kAll.filter((i) => i !== sequencer);
      break;
    }
    case 'sequencer and member crash': {
      // Cascading: the sequencer and one other member at the same moment (3 of 5 remain, a majority).
      const sequencer = s.sequencerIndexAt(victim);
      const other = sequencer === victim ? (victim % 4) + 1 : victim;
      s.sim.crash(s.addresses[sequencer]!);
      s.sim.crash(s.addresses[other]!);
      live = kAll.filter((i) => i !== sequencer && i !== other);
      break;
    }
    case '3|2 partition and heal': {
      const minority = [victim, (victim % 4) + 1];
      const majority = kAll.filter((i) => !minority.includes(i));
      s.sim.partition(majority.map((i) => s.addresses[i]!), minority.map((i) => s.addresses[i]!));
      if (s.awaitCommonView(majority, kBoundMs) < 0) problems.push(`the majority made no view: ${s.describe(kAll)}`);
      s.sim.runFor(150);
      s.sim.heal();
      break;
    }
    case 'restart':
      s.sim.crash(s.addresses[victim]!);
      s.sim.runFor(30 + (seed % 5) * 20);
      s.sim.restart(s.addresses[victim]!);
      break;
    case 'loaded: pauses, kill and partition':
      loadedFaults(s, seed, victim, problems);
      break;
  }
  if (s.awaitCommonView(live, loaded ? 4 * kBoundMs : kBoundMs) < 0) problems.push(`no common view of ${live.join(',')} after the fault: ${s.describe(kAll)}`);
  // Let the workload end and the traffic drain, then one more view change (a graceful
  // leave of a non-sequencer) so the last busy view is flushed and judged.
  s.sim.runUntil(() => s.sim.nowMs() > sendUntilMs + 50, 5000 + sendUntilMs, 10);
  s.sim.runFor(300);
  const leaver = live[live.length - 1]!;
  s.host(leaver)!.command({ kind: 'leave' });
  const rest = live.filter((i) => i !== leaver);
  if (s.awaitCommonView(rest, kBoundMs) < 0) problems.push(`no final view of ${rest.join(',')}: ${s.describe(kAll)}`);
  s.sim.runFor(50);
  let delivered = 0;
  for (const log of Object.values(s.recorder.history.logs)) delivered += log.filter((e) => e.kind === 'deliver').length;
  let resets = 0;
  let backlogMax = 0;
  for (let i = 0; i < 5; i++) {
    const host = s.host(i);
    if (host === undefined) continue;
    resets += host.core.counters.layerResets;
    backlogMax = Math.max(backlogMax, host.core.counters.backlogLengthMax);
  }
  return { history: s.recorder.history, problems, delivered, resets, backlogMax };
}

/**
 * The fault test's mix on a loaded machine, while every member sends: processes paused
 * for 100 ms to 2 s at random (an agent starved of CPU; past the 400 ms suspicion timeout
 * it is cut out and comes back with a fresh channel layer), a SIGKILL with ICMP evidence
 * and its restart (a new incarnation), and a 3|2 partition of 600 ms to 1.6 s with pauses
 * on both sides, then the heal. The faults are drawn from a generator seeded from the
 * run's seed, so a seed replays exactly.
 */
function loadedFaults(s: ClusterChannelsSimulation, seed: number, victim: number, problems: string[]): void {
  const random = new Prng(seed ^ 0x5eed10ad);
  const pauseSome = (count: number, among: readonly number[]): void => {
    for (let k = 0; k < count; k++) {
      const i = among[random.nextInt(among.length)]!;
      if (s.host(i) === undefined) continue;
      s.sim.pause(s.addresses[i]!, 100 + random.nextInt(1900));
      s.sim.runFor(random.nextInt(150));
    }
  };
  pauseSome(2 + random.nextInt(3), kAll);
  // A kill during sends, while others may still be paused.
  s.sim.crash(s.addresses[victim]!);
  pauseSome(1 + random.nextInt(2), kAll.filter((i) => i !== victim));
  s.sim.runFor(100 + random.nextInt(400));
  s.sim.restart(s.addresses[victim]!);
  s.sim.runFor(random.nextInt(600));
  const minority = [(victim % 4) + 1, ((victim + 1) % 4) + 1];
  const majority = kAll.filter((i) => !minority.includes(i));
  s.sim.partition(majority.map((i) => s.addresses[i]!), minority.map((i) => s.addresses[i]!));
  pauseSome(1 + random.nextInt(3), kAll);
  s.sim.runFor(600 + random.nextInt(1000));
  s.sim.heal();
  pauseSome(random.nextInt(3), kAll);
  if (s.sim.nowMs() > kLoadedSendUntilMs) problems.push(`the loaded faults ran past the workload's end (${s.sim.nowMs()} ms)`);
}

export function checksFor(history: ChannelHistory, options: ChannelOptions): Record<string, CheckResult> {
  const reliable = options.reliability === 'reliable';
  const results: Record<string, CheckResult> = {
    integrity: checkIntegrity(history, kChannel),
    virtualSynchrony: checkVirtualSynchrony(history, kChannel),
  };
  if (options.ordering !== 'none') results.fifo = checkFifo(history, kChannel, { gapsAllowed: !reliable });
  if (options.ordering === 'causal') results.causal = checkCausal(history, kChannel);
  if (options.ordering === 'total') results.total = checkTotal(history, kChannel, { sequencerCrashExempt: true });
  if (options.ordering === 'safe') {
    results.total = checkTotal(history, kChannel);
    results.safe = checkSafe(history, kChannel);
  }
  return results;
}

export function failures(results: Record<string, CheckResult>): string {
  return Object.entries(results).filter(([, r]) => !r.ok).map(([name, r]) => `${name}: ${r.violationCount} violations, e.g. ${r.violations.slice(0, 3).join('; ')}`).join('\n');
}

