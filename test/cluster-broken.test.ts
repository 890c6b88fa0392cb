// Proves that each checker of src/sim/cluster/cluster-checkers.ts (and the liveness
// check) can fail: for every deliberately broken variant of the protocol (a config
// switch under options.broken, used only here) a scenario is run over seeds until the
// matching checker reports a violation, which must happen within the seed budget; then
// the same seed with the switch off must pass that checker, so the violation comes from
// the broken variant and not from the scenario. ignoreAcceptedValue needs one exact
// interleaving (a coordinator decides and dies before its install reaches anyone), rare
// under random faults, so test/cluster-member.test.ts scripts it and shows the agreement
// checker catching it; skipFlush is caught there too, by a script. The two variants of
// issue 17 (leaverStopsVoting, keepDeadEvidence) are caught by liveness and by
// checkViewsSettle; test/cluster-leave-evidence.test.ts catches them by scripts too.
import { describe, expect, it } from 'vitest';
import type { BrokenVariants } from '../src/core/cluster/cluster-config.js';
import * as C from '../src/sim/cluster/cluster-checkers.js';
import { ClusterSimulation } from '../src/sim/cluster/cluster-simulation.js';
import type { NetworkSimulatorOptions } from '../src/sim/sim-options.js';

const kAll5 = [0, 1, 2, 3, 4];

type Checker = (s: ClusterSimulation) => C.CheckResult;
type Scenario = (s: ClusterSimulation, seed: number) => void;

function build(seed: number, broken: BrokenVariants, sim: NetworkSimulatorOptions): ClusterSimulation {
  return new ClusterSimulation({ seed, nodeCount: 5, clusters: [{ name: 'web', nodes: kAll5, options: { broken } }], multicastEveryMs: 10, sim: { tickMs: 5, ...sim } });
}

/** Runs seeds until the broken variant trips the checker; returns that seed and the first violation. */
function catchBroken(broken: BrokenVariants, sim: NetworkSimulatorOptions, scenario: Scenario, checker: Checker, seedsMax: number): { seed: number; violation: string } {
  for (let seed = 1; seed <= seedsMax; seed++) {
    const s = build(seed, broken, sim);
    scenario(s, seed);
    const result = checker(s);
    if (result.violations.length > 0) return { seed, violation: result.violations[0]! };
  }
  return { seed: -1, violation: '' };
}

function holdsWhenFixed(seed: number, sim: NetworkSimulatorOptions, scenario: Scenario, checker: Checker): readonly string[] {
  const s = build(seed, {}, sim);
  scenario(s, seed);
  return checker(s).violations;
}

function variant(name: string, broken: BrokenVariants, sim: NetworkSimulatorOptions, scenario: Scenario, checker: Checker, seedsMax = 40): void {
  it(name, () => {
    const caught = catchBroken(broken, sim, scenario, checker, seedsMax);
    expect(caught.seed, `${JSON.stringify(broken)} was not caught in ${seedsMax} seeds`).toBeGreaterThan(0);
    expect(caught.violation).not.toBe('');
    expect(holdsWhenFixed(caught.seed, sim, scenario, checker)).toEqual([]);
  });
}

const crashUnderTraffic: Scenario = (s, seed) => {
  s.awaitCommonView('web', kAll5, 3000);
  s.sim.runFor(100 + (seed % 5) * 7);
  s.sim.crash(s.addresses[seed % 5]!);
  s.sim.runFor(1000);
};

/** Every run forms its first view well within this, so the partition starts at the same time in every seed. */
const kPartitionAtMs = 1000;

const partition3to2: Scenario = (s) => {
  s.awaitCommonView('web', kAll5, 3000);
  s.sim.runFor(kPartitionAtMs - s.sim.nowMs());
  s.sim.partition([s.addresses[0]!, s.addresses[1]!], [s.addresses[2]!, s.addresses[3]!, s.addresses[4]!]);
  s.sim.runFor(1500);
  // The checkers judge the partition only: the heal comes after the last event they read.
};

const churn: Scenario = (s, seed) => {
  s.awaitCommonView('web', kAll5, 3000);
  for (let k = 0; k < 3; k++) {
    const victim = (seed + k) % 5;
    s.sim.crash(s.addresses[victim]!);
    s.sim.runFor(60);
    s.sim.restart(s.addresses[victim]!);
    s.sim.runFor(60);
  }
  s.sim.runFor(1500);
};

const pauseAndResume: Scenario = (s, seed) => {
  s.awaitCommonView('web', kAll5, 3000);
  s.sim.runFor(100);
  s.sim.pause(s.addresses[seed % 5]!, 800);
  s.sim.runFor(2000);
};

const silentCrash: Scenario = (s, seed) => {
  s.awaitCommonView('web', kAll5, 3000);
  s.sim.runFor(100);
  s.sim.crashHost(s.addresses[seed % 5]!);
};

/** Four of five leave one after another: the last view change is a 2-member view losing one. */
const leavesDownToOne: Scenario = (s, seed) => {
  s.awaitCommonView('web', kAll5, 3000);
  for (let k = 1; k <= 4; k++) {
    s.sim.runFor(300);
    s.host((seed + k) % 5)!.command('web', { kind: 'leave' });
  }
};

/** A 3|2 partition; the farm declares the minority dead on the majority's side; the heal. */
const partitionWithFarmEvidence: Scenario = (s) => {
  s.awaitCommonView('web', kAll5, 3000);
  s.sim.runFor(kPartitionAtMs - s.sim.nowMs());
  s.sim.partition([s.addresses[0]!, s.addresses[1]!], [s.addresses[2]!, s.addresses[3]!, s.addresses[4]!]);
  s.sim.runFor(100);
  for (const i of [2, 3, 4]) for (const dead of [0, 1]) s.host(i)!.command('web', { kind: 'suspect', nodeId: s.nodeIds[dead]! });
  s.sim.runFor(1000);
  s.sim.heal();
};

/** After the heal all five merge within the bound, and no view follows for two seconds. */
const mergesAndSettles: Checker = (s) => {
  const merged = s.checkLiveness('web', kAll5, 3000);
  const atMs = s.sim.nowMs();
  s.sim.runFor(2000);
  const settle = C.checkViewsSettle(s.history, 'web', atMs, 0);
  return { property: 'merge and settle', violations: [...merged.violations, ...settle.violations] };
};

const on = (check: (h: C.ClusterHistoryLike, cluster: string) => C.CheckResult): Checker => (s) => check(s.history, 'web');

describe('every checker catches a deliberately broken protocol', () => {
  variant('skipping the flush breaks virtual synchrony', { skipFlush: true }, { lossRate: 0.2 }, crashUnderTraffic, on(C.checkVirtualSynchrony));
  variant('deciding without a majority breaks view agreement (two primaries)', { acceptWithoutMajority: true }, { lossRate: 0.02 }, partition3to2, on(C.checkViewAgreement), 10);
  variant('deciding without a majority lets the minority go on', { acceptWithoutMajority: true }, { lossRate: 0.02 }, partition3to2, (s) => C.checkMinorityStops(s.history, 'web', [s.nodeIds[0]!, s.nodeIds[1]!], kPartitionAtMs), 10);
  variant('delivering out of order breaks FIFO', { deliverOutOfOrder: true }, { lossRate: 0.1, reorderRate: 0.3 }, crashUnderTraffic, on(C.checkFifo), 10);
  variant('delivering duplicates is caught', { deliverDuplicates: true }, { duplicateRate: 0.2 }, crashUnderTraffic, on(C.checkNoDuplicates), 10);
  variant('delivering an older view’s data breaks delivered-in-sent-view', { deliverStaleView: true }, { lossRate: 0.05 }, pauseAndResume, on(C.checkDeliveredInSentView), 20);
  variant('installing an older view breaks monotonic views', { installOlderViews: true }, { lossRate: 0.1, duplicateRate: 0.3, reorderRate: 0.5, reorderMsMax: 80 }, churn, on(C.checkMonotonicViews), 80);
  variant('a leaver that stops voting at once strands the last member (liveness)', { leaverStopsVoting: true }, { lossRate: 0.05 }, leavesDownToOne, (s) => s.checkLiveness('web', [s.sim.settings.seed % 5], 3000), 3);
  variant('evidence kept across re-admissions makes a join and evict loop (views never settle)', { keepDeadEvidence: true }, { lossRate: 0.02 }, partitionWithFarmEvidence, mergesAndSettles, 3);
  variant('never suspecting a silent member breaks liveness', { neverSuspect: true }, { lossRate: 0.05 }, silentCrash, (s) => s.checkLiveness('web', kAll5.filter((i) => i !== s.sim.settings.seed % 5), 3000), 3);
});
