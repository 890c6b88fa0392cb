// Proves that the membership engine's BeatMemo (skipping the decode and merge of a
// heartbeat-only datagram that repeats one already merged from the same sender) and
// the watch ring's lazy recomputation change nothing a process can observe: the same
// seed run with the memo on and off gives the same event digest (every event, its
// endpoints and its time), the same membership reports at the same times and the same
// bytes, over joins, a silent crash, an ICMP-evidenced crash, a pause, a leave, restarts,
// a partition, reaped tombstones (the memo's guard), 5% loss, reordering and duplicates;
// and the memo did skip most beats. A unit check pins the memo's guard: the same
// bytes after a row removal are merged again.
import { describe, expect, it } from 'vitest';
import { churnedFarm } from './support/churned-farm.js';
import { BeatMemo } from '../src/core/membership/beat-memo.js';
import { reproLine, withSeed } from '../src/sim/invariants.js';

const kFile = 'test/beat-memo.test.ts';

interface Run {
  digest: number;
  reports: string[];
  bytes: number;
  skipped: number;
  beatsReceived: number;
}

function run(seed: number, beatMemo: boolean): Run {
  // The beats mode: BeatMemo matters only where the ring beats (the agent and the simulator hold links by default).
  const { sim, farm, reports, nodes } = churnedFarm(seed, 40, { beatMemo, watchLinks: false });
  sim.partition(nodes.slice(0, 12), nodes.slice(12));
  sim.runFor(3000);
  sim.heal();
  for (let i = 0; i < 4; i++) farm.addMember([nodes[30]!]);
  sim.runFor(12_000);
  let skipped = 0;
  let beatsReceived = 0;
  for (const a of sim.nodes()) {
    const stats = farm.engineOf(a)?.stats;
    if (stats === undefined) continue;
    skipped += stats.beatRepeatsSkipped;
    beatsReceived += stats.datagramsReceived;
  }
  return { digest: sim.eventDigest(), reports, bytes: sim.stats().totals.datagramBytesSent, skipped, beatsReceived };
}

describe('BeatMemo', () => {
  const name = 'a farm runs the same with the memo on and off, and the memo skips most datagrams';
  it(name, () => {
    const seed = withSeed(3);
    const on = run(seed, true);
    const off = run(seed, false);
    const repro = reproLine(seed, kFile, name);
    expect(off.skipped, repro).toBe(0);
    expect(on.skipped / on.beatsReceived, repro).toBeGreaterThan(0.5);
    expect(on.reports.length, repro).toBeGreaterThan(100);
    expect(on.reports, repro).toEqual(off.reports);
    expect(on.bytes, repro).toBe(off.bytes);
    expect(on.digest, repro).toBe(off.digest);
  }, 120_000);

  it('repeats only the same bytes from the same sender with no removal since', () => {
    const memo = new BeatMemo(4);
    const beat = Uint8Array.from([1, 2, 3, 4]);
    memo.remember('a', beat, 1, 0);
    expect(memo.repeatCount('a', Uint8Array.from([1, 2, 3, 4]), 0)).toBe(1);
    expect(memo.repeatCount('b', beat, 0)).toBe(-1);
    expect(memo.repeatCount('a', Uint8Array.from([1, 2, 3, 5]), 0)).toBe(-1);
    expect(memo.repeatCount('a', Uint8Array.from([1, 2, 3]), 0)).toBe(-1);
    // A reaped row may be the sender's: after a removal the same bytes must be merged again.
    expect(memo.repeatCount('a', beat, 1)).toBe(-1);
    // The memo keeps its own copy: the sender's buffer may be reused.
    beat[0] = 9;
    expect(memo.repeatCount('a', Uint8Array.from([1, 2, 3, 4]), 0)).toBe(1);
  });
});
