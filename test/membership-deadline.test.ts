// Proves that a driver may sleep until MembershipEngine.nextDeadlineMs() instead of
// ticking on a fixed interval (what the agent worker now does, issue 14 item 7): in the
// simulator every engine's tick is wrapped so the real tick runs only once the engine's
// clock has reached the deadline it announced (asked again after every receive, as the
// worker re-arms), and the farm still joins, finds a kill through the watch ring and
// a silent crash through SWIM, with no false deaths, while most ticks are skipped. The
// broken variant (a deadline that forgets the watch beats, so they go out only when
// something else wakes the engine) is caught missing the 250 ms bound on a kill.
import { describe, expect, it } from 'vitest';
import { membershipConfig, type MembershipOptions } from '../src/core/membership/config.js';
import type { MembershipEngine } from '../src/core/membership/membership-engine.js';
import { SimulatedFarm } from '../src/sim/simulated-farm.js';
import { checkConvergence, FalsePositiveCounter, reproLine, withSeed } from '../src/sim/invariants.js';
import { NetworkSimulator } from '../src/sim/network-simulator.js';

const kFile = 'test/membership-deadline.test.ts';
const seedsFor = (base: number, count: number): number[] => (process.env.GALAXY_SIM_SEED ? [withSeed(base)] : Array.from({ length: count }, (_, i) => base + i));

interface Internals {
  ctx: { env: { nowMs(): number } };
  watcher: { nextDeadlineMs(): number };
}

interface DeadlineFarm {
  sim: NetworkSimulator;
  farm: SimulatedFarm;
  counter: FalsePositiveCounter;
  nodes: string[];
  ticks: { offered: number; run: number };
}

/** The ring by beats: the deadline must include the next beat (with links no beat is on a timer). */
function deadlineFarm(seed: number, size: number, options: MembershipOptions, breakWatcher: boolean): DeadlineFarm {
  const sim = new NetworkSimulator({ seed, nodesMax: size + 8 });
  const farm = new SimulatedFarm(sim, membershipConfig({ membersMax: 64, ...options }), { runtimeBytes: 256 << 20, watchLinks: false });
  const counter = new FalsePositiveCounter(sim);
  const ticks = { offered: 0, run: 0 };
  const wrap = (engine: MembershipEngine): void => {
    const internals = engine as unknown as Internals;
    if (breakWatcher) internals.watcher.nextDeadlineMs = () => Infinity;
    const tick = engine.tick.bind(engine);
    engine.tick = () => {
      ticks.offered++;
      if (internals.ctx.env.nowMs() < engine.nextDeadlineMs()) return;
      ticks.run++;
      tick();
    };
  };
  const first = farm.addMember();
  wrap(farm.engineOf(first)!);
  for (let i = 1; i < size; i++) wrap(farm.engineOf(farm.addMember([first]))!);
  return { sim, farm, counter, nodes: sim.nodes().slice(), ticks };
}

describe('a driver that sleeps until the next deadline', () => {
  it('joins, finds a kill within 250 ms and a silent crash, no false deaths, running a minority of the ticks', () => {
    const name = 'joins, finds a kill within 250 ms and a silent crash';
    for (const seed of seedsFor(2000, 3)) {
      const f = deadlineFarm(seed, 20, { watchIntervalMs: 20 }, false);
      const repro = `\nrepro: ${reproLine(seed, kFile, name)}`;
      if (f.sim.runUntil(() => checkConvergence(f.sim).converged, 60_000, 100) < 0) throw new Error(`join did not converge${repro}`);
      f.sim.runFor(3000);
      const killed = f.nodes[3]!;
      let at = f.sim.nowMs();
      f.sim.crash(killed);
      f.sim.runUntil(() => f.counter.detectionLatencyMs(killed, at) >= 0, 10_000, 5);
      const killMs = f.counter.detectionLatencyMs(killed, at);
      if (killMs < 0 || killMs > 250) throw new Error(`kill known everywhere after ${killMs} ms${repro}`);
      const silent = f.nodes[9]!;
      at = f.sim.nowMs();
      f.sim.crashHost(silent);
      if (f.sim.runUntil(() => f.counter.detectionLatencyMs(silent, at) >= 0, 120_000, 50) < 0) throw new Error(`silent crash not found${repro}`);
      if (f.counter.falseDeaths > 0) throw new Error(`${f.counter.falseDeaths} false deaths${repro}`);
      // The watch beats (every 20 ms) set the pace with the LAN defaults; the simulator offers a tick every 10 ms.
      expect(f.ticks.run / f.ticks.offered).toBeLessThan(0.7);
    }
  });

  it('without the watch beats an idle engine runs under a tenth of the 10 ms ticks', () => {
    const f = deadlineFarm(2100, 10, { watchIntervalMs: 0 }, false);
    expect(f.sim.runUntil(() => checkConvergence(f.sim).converged, 60_000, 100)).toBeGreaterThanOrEqual(0);
    f.sim.runFor(5000);
    const before = { ...f.ticks };
    f.sim.runFor(30_000);
    const offered = f.ticks.offered - before.offered;
    expect(offered).toBeGreaterThan(10 * 2900); // ten engines, a tick offered every 10 ms
    expect((f.ticks.run - before.run) / offered).toBeLessThan(0.1);
  });

  it('broken variant: a deadline that forgets the watch beats misses the 250 ms bound on a kill', () => {
    const slowest: number[] = [];
    for (const seed of [2200, 2201, 2202, 2203]) {
      const f = deadlineFarm(seed, 20, { watchIntervalMs: 20 }, true);
      expect(f.sim.runUntil(() => checkConvergence(f.sim).converged, 60_000, 100)).toBeGreaterThanOrEqual(0);
      f.sim.runFor(3000 + seed % 7 * 131);
      const killed = f.nodes[5]!;
      const at = f.sim.nowMs();
      f.sim.crash(killed);
      f.sim.runUntil(() => f.counter.detectionLatencyMs(killed, at) >= 0, 30_000, 5);
      slowest.push(f.counter.detectionLatencyMs(killed, at));
    }
    expect(Math.max(...slowest)).toBeGreaterThan(250);
  });
});
