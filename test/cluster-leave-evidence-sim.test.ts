// Proves the two cluster-core fixes of issue 17 in the deterministic simulator, over many
// seeds with loss, steady multicast traffic and the safety checkers of
// src/sim/cluster/cluster-checkers.ts judging every run:
// 1. a leaver votes for the view that removes it: a 2-member cluster's survivor goes on
//    alone; 3 -> 2 -> 1 by leaves; a leave during the view change a crash started; a
//    leave racing a crash (with or without evidence) in a cluster of three. Liveness:
//    the survivors install one common view within the bound.
// 2. a 3|2 partition in which the farm declares the minority dead on the majority's side
//    (farm-style `suspect` evidence; the minority never crashed), then the heal: all five
//    install one common view, and the views then settle (checkViewsSettle: no join and
//    evict loop).
// The broken variants (leaverStopsVoting, keepDeadEvidence) are caught by the same
// checks in test/cluster-broken.test.ts. A failing seed prints a one-line repro
// (GALAXY_SIM_SEED=… npx vitest run … -t …); GALAXY_SIM_SEED_COUNT=N runs N seeds.
import { describe, expect, it } from 'vitest';
import { checkViewsSettle, describeViolations, type CheckResult } from '../src/sim/cluster/cluster-checkers.js';
import { ClusterSimulation } from '../src/sim/cluster/cluster-simulation.js';
import { reproLine, withSeed } from '../src/sim/invariants.js';

const kFile = 'test/cluster-leave-evidence-sim.test.ts';
const kLivenessBoundMs = 3000;

function seedsFor(base: number, count: number): number[] {
  if (process.env.GALAXY_SIM_SEED) return [withSeed(base)];
  const soak = Number(process.env.GALAXY_SIM_SEED_COUNT ?? 0);
  return Array.from({ length: soak > 0 ? soak : count }, (_, i) => base + i);
}

function build(seed: number, nodeCount: number, lossRate = 0.05): ClusterSimulation {
  const nodes = Array.from({ length: nodeCount }, (_, i) => i);
  return new ClusterSimulation({ seed, nodeCount, clusters: [{ name: 'web', nodes }], multicastEveryMs: 25, sim: { tickMs: 5, lossRate } });
}

function scenario(name: string, base: number, count: number, run: (seed: number) => CheckResult[]): void {
  it(name, { timeout: Math.max(60_000, seedsFor(base, count).length * 500) }, () => {
    const failures: string[] = [];
    for (const seed of seedsFor(base, count)) {
      let text: string;
      try {
        text = describeViolations(run(seed));
      } catch (error) {
        text = `threw: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`;
      }
      if (text !== '') failures.push(`seed ${seed}: ${text}\n  repro: ${reproLine(seed, kFile, name)}`);
      if (failures.length >= 3) break;
    }
    expect(failures.join('\n')).toBe('');
  });
}

function formed(s: ClusterSimulation, nodes: readonly number[]): CheckResult {
  const tookMs = s.awaitCommonView('web', nodes, kLivenessBoundMs);
  return { property: 'formation', violations: tookMs < 0 ? [`no first view: ${s.describe('web', nodes)}`] : [] };
}

function finish(s: ClusterSimulation, live: readonly number[]): CheckResult[] {
  const liveness = s.checkLiveness('web', live, kLivenessBoundMs);
  s.sim.runFor(200);
  return [liveness, ...s.checkAll()];
}

function leave(s: ClusterSimulation, i: number): void {
  s.host(i)!.command('web', { kind: 'leave' });
}

describe('graceful leaves and farm evidence in the simulator (issue 17)', () => {
  scenario('a 2-member cluster: one leaves, the survivor goes on alone', 21_000, 15, (seed) => {
    const s = build(seed, 2);
    const first = formed(s, [0, 1]);
    s.sim.runFor(100 + (seed % 7) * 13);
    const leaver = seed % 2;
    leave(s, leaver);
    return [first, ...finish(s, [1 - leaver])];
  });

  scenario('3 -> 2 -> 1 by leaves', 22_000, 15, (seed) => {
    const s = build(seed, 3);
    const first = formed(s, [0, 1, 2]);
    const order = [seed % 3, (seed + 1 + (seed % 2)) % 3];
    s.sim.runFor(100);
    leave(s, order[0]!);
    const two = s.checkLiveness('web', [0, 1, 2].filter((i) => i !== order[0]), kLivenessBoundMs);
    s.sim.runFor((seed % 5) * 20);
    leave(s, order[1]!);
    return [first, two, ...finish(s, [0, 1, 2].filter((i) => !order.includes(i)))];
  });

  scenario('a leave during the view change a crash started', 23_000, 15, (seed) => {
    const s = build(seed, 5);
    const all = [0, 1, 2, 3, 4];
    const first = formed(s, all);
    s.sim.runFor(150);
    const victim = seed % 5;
    const leaver = (seed + 1 + (seed % 3)) % 5;
    s.sim.crash(s.addresses[victim]!); // ICMP evidence at the next send to it
    s.sim.runFor((seed % 12) * 1.5);
    leave(s, leaver);
    return [first, ...finish(s, all.filter((i) => i !== victim && i !== leaver))];
  });

  scenario('a leave racing a crash in a cluster of three: the last one goes on with the leaver’s vote', 24_000, 15, (seed) => {
    const s = build(seed, 3);
    const first = formed(s, [0, 1, 2]);
    s.sim.runFor(100);
    const victim = seed % 3;
    const leaver = (seed + 1 + (seed % 2)) % 3;
    if (seed % 2 === 0) s.sim.crash(s.addresses[victim]!);
    else s.sim.crashHost(s.addresses[victim]!); // no evidence: silence only
    s.sim.runFor(seed % 10);
    leave(s, leaver);
    return [first, ...finish(s, [0, 1, 2].filter((i) => i !== victim && i !== leaver))];
  });

  scenario('a 3|2 partition with farm dead evidence for the minority, then the heal: one merge, no join and evict loop', 25_000, 15, (seed) => {
    const s = build(seed, 5);
    const all = [0, 1, 2, 3, 4];
    const first = formed(s, all);
    s.sim.runFor(100 + (seed % 10) * 13);
    const order = all.slice().sort((a, b) => ((a * 7 + seed) % 5) - ((b * 7 + seed) % 5));
    const minority = order.slice(0, 2);
    const majority = order.slice(2);
    s.sim.partition(minority.map((i) => s.addresses[i]!), majority.map((i) => s.addresses[i]!));
    // The farm's gossip declares the minority dead on the majority's side, some time into the partition.
    s.sim.runFor((seed % 5) * 100);
    for (const i of majority) for (const dead of minority) s.host(i)!.command('web', { kind: 'suspect', nodeId: s.nodeIds[dead]! });
    s.sim.runFor(1000);
    s.sim.heal();
    const merged = s.checkLiveness('web', all, kLivenessBoundMs);
    const mergedAtMs = s.sim.nowMs();
    s.sim.runFor(2000);
    return [first, merged, checkViewsSettle(s.history, 'web', mergedAtMs, 0), ...s.checkAll()];
  });
});
