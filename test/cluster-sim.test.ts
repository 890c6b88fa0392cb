// Proves the cluster-membership core (src/core/cluster) in the deterministic simulator:
// for each scenario (loss, duplication and reordering; crashes with and without ICMP
// evidence; a crash of the coordinator during a view change; cascading crashes; a
// pause; two-way and one-way partitions and their heals; a restart with the same node
// id; a late join, a graceful leave and a definition change; two overlapping clusters;
// random chaos of all of these)
// it runs many seeds with steady multicast traffic, then runs every safety checker of
// src/sim/cluster/cluster-checkers.ts over the recorded histories and the liveness check
// (every live connected member of the majority installs one common view within a bound).
// A failing seed prints a one-line repro (GALAXY_SIM_SEED=… npx vitest run … -t …);
// GALAXY_SIM_SEED_COUNT=N runs N seeds per scenario (npm run test:sim).
import { describe, expect, it } from 'vitest';
import { checkMinorityStops, describeViolations, type CheckResult } from '../src/sim/cluster/cluster-checkers.js';
import { ClusterSimulation, type ClusterSimulationOptions } from '../src/sim/cluster/cluster-simulation.js';
import { reproLine, withSeed } from '../src/sim/invariants.js';

const kFile = 'test/cluster-sim.test.ts';
const kLivenessBoundMs = 3000;
const kAll5 = [0, 1, 2, 3, 4];

function seedsFor(base: number, count: number): number[] {
  if (process.env.GALAXY_SIM_SEED) return [withSeed(base)];
  const soak = Number(process.env.GALAXY_SIM_SEED_COUNT ?? 0);
  return Array.from({ length: soak > 0 ? soak : count }, (_, i) => base + i);
}

function build(seed: number, overrides: Partial<ClusterSimulationOptions> = {}): ClusterSimulation {
  return new ClusterSimulation({
    seed,
    nodeCount: 5,
    clusters: [{ name: 'web', nodes: kAll5 }],
    multicastEveryMs: 25,
    ...overrides,
    sim: { tickMs: 5, ...overrides.sim },
  });
}

/** Runs the scenario for each seed; collects every failing seed's violations with its repro line, and fails with all of them. */
function scenario(name: string, base: number, count: number, run: (seed: number) => CheckResult[]): void {
  // A soak runs thousands of seeds per scenario: about 0.1 s each on a busy 2-core machine, with room to spare.
  const timeoutMs = Math.max(60_000, seedsFor(base, count).length * 500);
  it(name, { timeout: timeoutMs }, () => {
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
      if (process.env.GALAXY_SIM_SEED_COUNT && failures.length > 0) console.error(failures[failures.length - 1]);
    }
    expect(failures.join('\n')).toBe('');
  });
}

/** The checks that end every scenario: liveness for `live`, then every safety checker. */
function finish(s: ClusterSimulation, live: readonly number[], cluster = 'web'): CheckResult[] {
  const liveness = s.checkLiveness(cluster, live, kLivenessBoundMs);
  s.sim.runFor(200);
  return [liveness, ...s.checkAll()];
}

function formed(s: ClusterSimulation, nodes: readonly number[] = kAll5, cluster = 'web'): CheckResult {
  const tookMs = s.awaitCommonView(cluster, nodes, kLivenessBoundMs);
  return { property: 'formation', violations: tookMs < 0 ? [`no first view: ${s.describe(cluster, nodes)}`] : [] };
}

describe('cluster views in the simulator', () => {
  scenario('loss, duplication and reordering with a crash reported by ICMP', 1000, 30, (seed) => {
    const s = build(seed, { sim: { lossRate: 0.15, duplicateRate: 0.1, reorderRate: 0.2, reorderMsMax: 20 } });
    const first = formed(s);
    s.sim.runFor(300 + (seed % 7) * 37);
    s.sim.crash(s.addresses[seed % 5]!);
    s.sim.runFor(300);
    return [first, ...finish(s, kAll5.filter((i) => i !== seed % 5))];
  });

  scenario('a silent crash (host gone, no evidence) under 10% loss', 2000, 25, (seed) => {
    const s = build(seed, { sim: { lossRate: 0.1 } });
    const first = formed(s);
    s.sim.runFor(200);
    s.sim.crashHost(s.addresses[(seed + 2) % 5]!);
    return [first, ...finish(s, kAll5.filter((i) => i !== (seed + 2) % 5))];
  });

  scenario('the coordinator crashes during a view change, then another member', 3000, 30, (seed) => {
    const s = build(seed, { sim: { lossRate: 0.05, reorderRate: 0.1 } });
    const first = formed(s);
    s.sim.runFor(200);
    s.sim.crash(s.addresses[4]!); // starts a view change led by node 0
    s.sim.runFor((seed % 12) * 1.5); // somewhere inside the change
    s.sim.crash(s.addresses[0]!);
    s.sim.runFor((seed % 5) * 3);
    if (seed % 2 === 0) s.sim.crashHost(s.addresses[1]!); // node 1 would lead next: a cascade
    const live = seed % 2 === 0 ? [2, 3] : [1, 2, 3];
    // With two of five left no majority of the last view may remain: liveness only for three.
    if (live.length < 3) {
      s.sim.runFor(2000);
      return [first, ...s.checkAll()];
    }
    return [first, ...finish(s, live)];
  });

  scenario('cascading crashes in a cluster of seven', 4000, 20, (seed) => {
    const nodes = [0, 1, 2, 3, 4, 5, 6];
    const s = build(seed, { nodeCount: 7, clusters: [{ name: 'web', nodes }], sim: { lossRate: 0.05 } });
    const first = formed(s, nodes);
    s.sim.runFor(150);
    const victims = [seed % 7, (seed + 3) % 7, (seed + 5) % 7];
    for (const v of victims) {
      if (v % 2 === 0) s.sim.crash(s.addresses[v]!);
      else s.sim.crashHost(s.addresses[v]!);
      s.sim.runFor(5 + (seed % 40));
    }
    return [first, ...finish(s, nodes.filter((i) => !victims.includes(i)))];
  });

  scenario('a paused member is left out, then comes back in a later view', 5000, 25, (seed) => {
    const s = build(seed, { sim: { lossRate: 0.05 } });
    const first = formed(s);
    s.sim.runFor(100);
    const victim = seed % 5;
    s.sim.pause(s.addresses[victim]!, 1000);
    const out = s.checkLiveness('web', kAll5.filter((i) => i !== victim), kLivenessBoundMs);
    s.sim.runFor(1000);
    return [first, out, ...finish(s, kAll5)];
  });

  scenario('a 3|2 partition: the minority stops and says so, the majority goes on, the heal merges', 6000, 30, (seed) => {
    const s = build(seed, { sim: { lossRate: 0.05, duplicateRate: 0.05 } });
    const first = formed(s);
    s.sim.runFor(100 + (seed % 10) * 13);
    const order = [0, 1, 2, 3, 4].sort((a, b) => ((a * 7 + seed) % 5) - ((b * 7 + seed) % 5));
    const minority = order.slice(0, 2);
    const majority = order.slice(2);
    const cutAtMs = s.sim.nowMs();
    s.sim.partition(minority.map((i) => s.addresses[i]!), majority.map((i) => s.addresses[i]!));
    const goesOn = s.checkLiveness('web', majority, kLivenessBoundMs);
    s.sim.runFor(800);
    const says: string[] = [];
    for (const i of minority) {
      const status = s.host(i)!.coreOf('web')!.status();
      if (status !== 'minority') says.push(`node ${i} is ${status} in the minority`);
    }
    const stops = checkMinorityStops(s.history, 'web', minority.map((i) => s.nodeIds[i]!), cutAtMs);
    s.sim.heal();
    return [first, goesOn, stops, { property: 'the minority says so', violations: says }, ...finish(s, kAll5)];
  });

  scenario('a one-way partition, then its heal', 7000, 25, (seed) => {
    const s = build(seed, { sim: { lossRate: 0.05 } });
    const first = formed(s);
    s.sim.runFor(150);
    const a = [seed % 5];
    const b = kAll5.filter((i) => !a.includes(i));
    s.sim.partition(a.map((i) => s.addresses[i]!), b.map((i) => s.addresses[i]!), { oneWay: true });
    s.sim.runFor(1500);
    s.sim.heal();
    return [first, ...finish(s, kAll5)];
  });

  scenario('a member restarts with the same node id and returns as a new incarnation', 8000, 25, (seed) => {
    const s = build(seed, { sim: { lossRate: 0.05 } });
    const first = formed(s);
    s.sim.runFor(100);
    const victim = seed % 5;
    s.sim.crash(s.addresses[victim]!);
    s.sim.runFor(seed % 3 === 0 ? 2 : 400); // sometimes back before anyone noticed
    s.sim.restart(s.addresses[victim]!);
    const results = finish(s, kAll5);
    const view = s.host((victim + 1) % 5)!.coreOf('web')!.currentView();
    const back = view?.members.find((m) => m.nodeId === s.nodeIds[victim]);
    const incarnation = { property: 'new incarnation', violations: back?.incarnation === 1 ? [] : [`node ${victim} is in the view as ${JSON.stringify(back)}`] };
    return [first, incarnation, ...results];
  });

  scenario('a late join, a graceful leave and a node dropped from the definition', 9000, 25, (seed) => {
    const s = build(seed, { sim: { lossRate: 0.05 } });
    const late = seed % 5;
    s.sim.pause(s.addresses[late]!, 600); // starts after the others formed the first view
    const rest = kAll5.filter((i) => i !== late);
    const first = formed(s, rest);
    const joined = s.checkLiveness('web', kAll5, kLivenessBoundMs);
    s.sim.runFor(100);
    const leaver = (late + 1) % 5;
    s.sim.stop(s.addresses[leaver]!);
    const stayed = kAll5.filter((i) => i !== leaver);
    const left = s.checkLiveness('web', stayed, 200); // a leave needs no timeout
    const dropped = (late + 2) % 5;
    const definition = kAll5.filter((i) => i !== dropped).map((i) => s.nodeIds[i]!);
    for (const i of stayed) s.host(i)!.command('web', { kind: 'definitionChanged', members: definition });
    return [first, joined, left, ...finish(s, stayed.filter((i) => i !== dropped))];
  });

  scenario('chaos: random crashes, restarts, pauses and partitions, then everything heals', 11_000, 30, (seed) => {
    const s = build(seed, { sim: { lossRate: 0.1, duplicateRate: 0.05, reorderRate: 0.1 } });
    const first = formed(s);
    const random = s.sim.settings.seed * 2654435761;
    let state = random >>> 0;
    const next = (bound: number): number => {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      return state % bound;
    };
    for (let k = 0; k < 12; k++) {
      s.sim.runFor(50 + next(300));
      const node = next(5);
      const address = s.addresses[node]!;
      switch (next(10)) {
        case 0:
          if (s.sim.isProcessAlive(address)) s.sim.crash(address);
          break;
        case 1:
          if (s.sim.isProcessAlive(address) && s.sim.isHostUp(address)) s.sim.crashHost(address);
          break;
        case 2:
        case 3: {
          const dead = kAll5.find((i) => !s.sim.isProcessAlive(s.addresses[i]!));
          if (dead !== undefined) s.sim.restart(s.addresses[dead]!);
          break;
        }
        case 4:
        case 5:
        case 6:
          if (s.sim.isProcessAlive(address)) s.sim.pause(address, 50 + next(600));
          break;
        default: {
          const side = kAll5.filter(() => next(2) === 0);
          s.sim.heal();
          s.sim.partition(side.map((i) => s.addresses[i]!), kAll5.filter((i) => !side.includes(i)).map((i) => s.addresses[i]!), { oneWay: next(2) === 0 });
          break;
        }
      }
    }
    s.sim.heal();
    s.sim.runFor(700); // pauses end
    for (const i of kAll5) if (!s.sim.isProcessAlive(s.addresses[i]!)) s.sim.restart(s.addresses[i]!);
    // Without persistence a cluster whose last view lost a majority of its members (as
    // incarnations: a restart is a new member) cannot go on; liveness is owed only when a
    // majority of the newest view anyone installed is still running.
    let newest: { viewId: number; members: readonly { nodeId: string; incarnation: number }[] } = { viewId: 0, members: [] };
    for (const m of s.history.ofCluster('web')) for (const e of m.events) if (e.kind === 'install' && e.viewId > newest.viewId) newest = e;
    const running = newest.members.filter((m) => {
      const i = s.nodeIds.indexOf(m.nodeId);
      return s.sim.isProcessAlive(s.addresses[i]!) && s.sim.restartsOf(s.addresses[i]!) === m.incarnation;
    }).length;
    const owed = running > newest.members.length / 2;
    const liveness = owed ? s.checkLiveness('web', kAll5, kLivenessBoundMs) : { property: 'liveness', violations: [] };
    if (!owed && process.env.GALAXY_SIM_PRINT_STUCK) console.log(`seed ${seed}: view ${newest.viewId} lost its majority, liveness not owed`);
    s.sim.runFor(200);
    return [first, liveness, ...s.checkAll()];
  });

  scenario('two overlapping clusters change views independently', 10_000, 20, (seed) => {
    const a = [0, 1, 2, 3];
    const b = [2, 3, 4, 5];
    const s = build(seed, {
      nodeCount: 6,
      clusters: [
        { name: 'a', nodes: a },
        { name: 'b', nodes: b },
      ],
      sim: { lossRate: 0.05 },
    });
    const first = [formed(s, a, 'a'), formed(s, b, 'b')];
    s.sim.runFor(150);
    const victim = seed % 2 === 0 ? 3 : 0; // in both clusters, or only in a
    s.sim.crash(s.addresses[victim]!);
    const liveA = s.checkLiveness('a', a.filter((i) => i !== victim), kLivenessBoundMs);
    const liveB = s.checkLiveness('b', b.filter((i) => i !== victim), kLivenessBoundMs);
    s.sim.runFor(200);
    const viewsB = s.host(4)!.coreOf('b')!.currentView()!.id;
    const independent = { property: 'independence', violations: victim === 0 && viewsB !== 1 ? [`cluster b changed view (${viewsB}) for a crash outside it`] : [] };
    return [...first, liveA, liveB, independent, ...s.checkAll()];
  });
});
