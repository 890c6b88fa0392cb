// Proves that the simulator's skipIdleTicks changes nothing a process can observe, only
// the number of empty ticks: the same seed run with and without it gives the same
// membership reports at the same times and the same bytes sent, over joins, a silent
// crash, an ICMP-evidenced crash, a restart, 5% loss and reordering, with a fraction of
// the ticks. The check compares the two runs report by report; a deliberately broken
// process (whose nextTickAtMs claims its timer is later than it is) must be caught by
// the same comparison, and a correct one of the same kind must pass it.
import { describe, expect, it } from 'vitest';
import { membershipConfig } from '../src/core/membership/config.js';
import { SimulatedFarm } from '../src/sim/simulated-farm.js';
import { reproLine, withSeed } from '../src/sim/invariants.js';
import { NetworkSimulator } from '../src/sim/network-simulator.js';
import type { SimContext, SimMemberStatus, SimProcess } from '../src/sim/sim-process.js';
import type { NetworkSimulatorOptions } from '../src/sim/sim-options.js';

const kFile = 'test/sim-skip-idle-ticks.test.ts';

interface Trace {
  reports: string[];
  ticks: number;
  datagramBytes: number;
}

function traceOf(sim: NetworkSimulator, run: () => void): Trace {
  const reports: string[] = [];
  sim.addReportListener({ onReport: (observer, event, at) => reports.push(`${at.toFixed(6)} ${observer} ${event.kind} ${event.subject}`) });
  run();
  const totals = sim.stats().totals;
  return { reports, ticks: totals.ticks, datagramBytes: totals.datagramBytesSent };
}

/** The first difference between two traces, or null when a process could not tell them apart. */
function difference(a: Trace, b: Trace): string | null {
  const n = Math.max(a.reports.length, b.reports.length);
  for (let i = 0; i < n; i++) if (a.reports[i] !== b.reports[i]) return `report ${i}: ${a.reports[i] ?? '(none)'} vs ${b.reports[i] ?? '(none)'}`;
  if (a.datagramBytes !== b.datagramBytes) return `bytes sent ${a.datagramBytes} vs ${b.datagramBytes}`;
  return null;
}

function membershipRun(seed: number, skipIdleTicks: boolean): Trace {
  const options: NetworkSimulatorOptions = { seed, nodesMax: 64, lossRate: 0.05, reorderRate: 0.05, duplicateRate: 0.01, skipIdleTicks };
  const sim = new NetworkSimulator(options);
  // The watch ring off: this counts ticks against SWIM's timers (a beat every 20 ms would be a tick every 20 ms).
  const farm = new SimulatedFarm(sim, membershipConfig({ membersMax: 64, watchIntervalMs: 0 }, 'lan'), { runtimeBytes: 64 << 20 });
  return traceOf(sim, () => {
    const first = farm.addMember();
    for (let i = 1; i < 40; i++) farm.addMember([first]);
    sim.runFor(8000);
    const nodes = sim.nodes();
    sim.crashHost(nodes[5]!);
    sim.crash(nodes[9]!);
    sim.runFor(25_000);
    sim.restart(nodes[9]!);
    sim.runFor(10_000);
  });
}

/** A process with one timer every 37 ms of local time; `lie` makes nextTickAtMs claim it 30 ms later. */
class Metronome implements SimProcess {
  private context: SimContext | null = null;
  private dueMs = 0;
  constructor(private readonly lie: boolean) {}
  start(context: SimContext): void {
    this.context = context;
    this.dueMs = context.nowMs() + 37;
  }
  tick(): void {
    const now = this.context!.nowMs();
    if (now < this.dueMs) return;
    this.dueMs = now + 37;
    this.context!.report({ kind: 'alive', subject: this.context!.address });
  }
  receiveDatagram(): void {}
  receiveFrame(): void {}
  unreachable(): void {}
  streamFailed(): void {}
  stop(): void {}
  membersView(): ReadonlyMap<string, SimMemberStatus> {
    return new Map();
  }
  nextTickAtMs(): number {
    return this.dueMs + (this.lie ? 30 : 0);
  }
}

function metronomeRun(seed: number, skipIdleTicks: boolean, lie: boolean): Trace {
  const sim = new NetworkSimulator({ seed, nodesMax: 8, skipIdleTicks });
  return traceOf(sim, () => {
    for (let i = 0; i < 5; i++) sim.addNode(() => new Metronome(lie));
    sim.runFor(2000);
  });
}

describe('skipIdleTicks', () => {
  const name = 'a 40-node farm with loss, crashes and a restart reports the same things at the same times, with fewer ticks';
  it(name, () => {
    const seed = withSeed(31);
    const every = membershipRun(seed, false);
    const skipping = membershipRun(seed, true);
    expect(difference(every, skipping), reproLine(seed, kFile, name)).toBeNull();
    expect(every.reports.length).toBeGreaterThan(40);
    // The engine's timers come every 200 ms or so; ticks every 10 ms are mostly empty.
    expect(skipping.ticks * 4).toBeLessThan(every.ticks);
  });

  it('the comparison passes a process whose nextTickAtMs is right and catches one whose nextTickAtMs is late', () => {
    const seed = withSeed(32);
    expect(difference(metronomeRun(seed, false, false), metronomeRun(seed, true, false))).toBeNull();
    expect(difference(metronomeRun(seed, false, true), metronomeRun(seed, true, true))).not.toBeNull();
  });
});
