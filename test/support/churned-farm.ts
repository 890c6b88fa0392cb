// The simulated farm and fault script two equivalence tests share (beat-memo: BeatMemo on
// and off; sweep-schedule: the incremental sweep on and off): 96-node capacity, 5% loss
// and reordering, 1% duplicates, every report recorded; `members` nodes join, then a host
// vanishes, a process crashes, one pauses 3 s and one stops, and 12 s later the crashed and
// stopped ones restart. Each test goes on from there with its own faults.
import { membershipConfig } from '../../src/core/membership/config.js';
import { NetworkSimulator } from '../../src/sim/network-simulator.js';
import { SimulatedFarm, type SimulatedFarmOptions } from '../../src/sim/simulated-farm.js';

export interface ChurnedFarm {
  readonly sim: NetworkSimulator;
  readonly farm: SimulatedFarm;
  /** Every report, in order: `time observer kind subject`. */
  readonly reports: string[];
  /** The first `members` nodes, in join order. */
  readonly nodes: readonly string[];
}

export function churnedFarm(seed: number, members: number, options: SimulatedFarmOptions): ChurnedFarm {
  const sim = new NetworkSimulator({ seed, nodesMax: 96, lossRate: 0.05, reorderRate: 0.05, duplicateRate: 0.01, skipIdleTicks: true });
  const farm = new SimulatedFarm(sim, membershipConfig({ membersMax: 96, tombstoneReapMs: 4000 }, 'lan'), { runtimeBytes: 96 << 20, ...options });
  const reports: string[] = [];
  sim.addReportListener({ onReport: (observer, event, at) => reports.push(`${at.toFixed(6)} ${observer} ${event.kind} ${event.subject}`) });
  const first = farm.addMember();
  for (let i = 1; i < members; i++) farm.addMember([first]);
  sim.runFor(6000);
  const nodes = sim.nodes();
  sim.crashHost(nodes[5]!);
  sim.crash(nodes[9]!);
  sim.pause(nodes[13]!, 3000);
  sim.stop(nodes[20]!);
  sim.runFor(12_000);
  sim.restart(nodes[9]!);
  sim.restart(nodes[20]!);
  return { sim, farm, reports, nodes };
}
