// A farm of 50 membership engines in the deterministic simulator: one seed drives the
// network (latency, 5% loss) and every engine. They converge, one member crashes, and
// every other engine declares it dead; the same seed replays the same run. Run with
// `node examples/simulated-farm.mjs [SEED]`.
import { NetworkSimulator, SimulatedFarm, checkConvergence, membershipConfig } from 'galaxy-farm/sim';

const seed = Number(process.argv[2] ?? 20261207);
const sim = new NetworkSimulator({ seed, lossRate: 0.05 });
const farm = new SimulatedFarm(sim, membershipConfig({}, 'local'));
const first = farm.addMember();
const members = [first];
for (let i = 1; i < 50; i++) members.push(farm.addMember([first]));

// runUntil returns the simulated time the condition held at, or -1 at the timeout.
function runUntil(what, condition, timeoutMs = 60_000) {
  const startedMs = sim.nowMs();
  const at = sim.runUntil(condition, timeoutMs);
  if (at < 0) throw new Error(`seed ${seed}: not ${what} within ${timeoutMs} simulated ms`);
  return at - startedMs;
}

const convergedMs = runUntil('converged', () => checkConvergence(sim).converged);
console.log(`seed ${seed}: 50 members converged after ${convergedMs} simulated ms`);

const victim = members[17];
sim.crash(victim);
const survivors = members.filter((m) => m !== victim);
const deadMs = runUntil('dead everywhere', () => survivors.every((m) => farm.liveCount(m) === 49));
console.log(`${victim} crashed: every survivor holds 49 alive after ${deadMs} simulated ms`);
