// Proves that the incremental failure-detector sweep (SweepSchedule: only the rows due
// are checked, the kernel sweeps the whole table only now and then) changes nothing a
// process can observe: the same seed run with it on and off gives the same event digest
// (every event, its endpoints and its time), the same membership reports at the same
// times and the same bytes, over joins, silent and ICMP-evidenced crashes, a pause, a
// leave, restarts (a row reused), a partition long enough for false deaths, reaped
// tombstones, 5% loss, reordering and duplicates; in both watch-ring modes (beats feed
// phi every 20 ms; links leave phi to the rare probe and the silence limit). The runs
// reach every kind of report (silence by phi and by the limit, suspicion expiry, reap),
// and most sweeps are incremental, checking a small part of the table.
//
// The comparison catches two broken schedules: one that ignores the rows the merge
// kernel changed (a heartbeat resuming after a silence is missed), and one that keeps
// its queue when the silence limit shrinks (deaths make N, and so the limit, smaller).
import { afterEach, describe, expect, it, vi } from 'vitest';
import { churnedFarm } from './support/churned-farm.js';
import { MemberState } from '../src/core/membership/member-state.js';
import { SweepSchedule } from '../src/core/membership/sweep-schedule.js';
import * as L from '../src/core/table/layout.js';
import { reproLine, withSeed } from '../src/sim/invariants.js';

const kFile = 'test/sweep-schedule.test.ts';

interface Run {
  digest: number;
  reports: string[];
  bytes: number;
  fullSweeps: number;
  incrementalSweeps: number;
  rowsChecked: number;
  rowsPerFullSweep: number;
}

function run(seed: number, incrementalSweep: boolean, watchLinks: boolean): Run {
  const { sim, farm, reports, nodes } = churnedFarm(seed, 24, { incrementalSweep, watchLinks });
  // Long enough for each side to declare the other dead (the silence limit shrinks).
  sim.partition(nodes.slice(0, 8), nodes.slice(8));
  sim.runFor(25_000);
  sim.heal();
  for (let i = 0; i < 4; i++) farm.addMember([nodes[17]!]);
  // Long enough for rows heard only by probes to pass the silence limit (5 s per live member).
  sim.runFor(150_000);
  // A third of the farm vanishes at once: the silence limit (2 probe intervals per live
  // member) drops from about 54 s to 32 s, so rows silent for 36-56 s are due at once.
  for (const a of sim.nodes().slice(0, 12)) if (a !== nodes[5]) sim.crashHost(a);
  sim.runFor(30_000);
  let fullSweeps = 0;
  let incrementalSweeps = 0;
  let rowsChecked = 0;
  for (const a of sim.nodes()) {
    const stats = farm.engineOf(a)?.stats;
    if (stats === undefined) continue;
    fullSweeps += stats.fullSweeps;
    incrementalSweeps += stats.incrementalSweeps;
    rowsChecked += stats.sweepRowsChecked;
  }
  const rows = farm.engineOf(nodes[17]!)!.table.rowCount;
  return { digest: sim.eventDigest(), reports, bytes: sim.stats().totals.datagramBytesSent, fullSweeps, incrementalSweeps, rowsChecked, rowsPerFullSweep: rows };
}

/** Counts the kinds the incremental check reports, while `body` runs. */
function countingKinds<T>(body: () => T): { result: T; kinds: Map<number, number> } {
  const kinds = new Map<number, number>();
  const proto = SweepSchedule.prototype as unknown as { check: (...args: unknown[]) => number };
  const check = proto.check;
  const spy = vi.spyOn(proto, 'check').mockImplementation(function (this: unknown, ...args: unknown[]) {
    const kind = check.apply(this, args);
    if (kind !== 0) kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
    return kind;
  });
  try {
    return { result: body(), kinds };
  } finally {
    spy.mockRestore();
  }
}

describe('SweepSchedule (incremental failure-detector sweep)', () => {
  afterEach(() => vi.restoreAllMocks());

  for (const watchLinks of [false, true]) {
    const name = `a farm runs the same with the incremental sweep on and off (watch ring by ${watchLinks ? 'links' : 'beats'})`;
    it(name, () => {
      const seed = withSeed(watchLinks ? 11 : 7);
      const repro = reproLine(seed, kFile, name);
      const { result: on, kinds } = countingKinds(() => run(seed, true, watchLinks));
      const off = run(seed, false, watchLinks);
      expect(off.incrementalSweeps, repro).toBe(0);
      // Most sweeps skip the kernel, and each checks a small part of the table.
      expect(on.incrementalSweeps, repro).toBeGreaterThan(5 * on.fullSweeps);
      expect(on.rowsChecked / on.incrementalSweeps, repro).toBeLessThan(on.rowsPerFullSweep / 4);
      // Every kind of report came from an incremental sweep at least once.
      expect(kinds.get(L.kSweepSilent) ?? 0, repro).toBeGreaterThan(0);
      expect(kinds.get(L.kSweepSuspicionExpired) ?? 0, repro).toBeGreaterThan(0);
      expect(kinds.get(L.kSweepReapable) ?? 0, repro).toBeGreaterThan(0);
      expect(on.reports.length, repro).toBeGreaterThan(100);
      expect(on.reports, repro).toEqual(off.reports);
      expect(on.bytes, repro).toBe(off.bytes);
      expect(on.digest, repro).toBe(off.digest);
    }, 300_000);
  }

  it('the comparison catches a schedule that ignores the rows a merge changed', () => {
    const seed = withSeed(7);
    const off = run(seed, false, false);
    vi.spyOn(MemberState.prototype, 'noteChanged').mockImplementation(() => {});
    const broken = run(seed, true, false);
    vi.restoreAllMocks();
    expect(broken.reports).not.toEqual(off.reports);
    expect(broken.digest).not.toBe(off.digest);
  }, 300_000);

  it('the comparison catches a schedule that keeps its queue when the silence limit shrinks', () => {
    const seed = withSeed(11);
    const off = run(seed, false, true);
    const proto = SweepSchedule.prototype;
    const fullSweepDue = proto.fullSweepDue;
    vi.spyOn(proto, 'fullSweepDue').mockImplementation(function (this: SweepSchedule, now: number) {
      return fullSweepDue.call(this, now, Infinity);
    });
    const broken = run(seed, true, true);
    vi.restoreAllMocks();
    expect(broken.digest).not.toBe(off.digest);
  }, 300_000);
});
