// Proves that short event-loop stalls do not multiply membership traffic, and says why
// they used to. With SWIM's rule (one failed probe raises a suspicion), every 2-second
// stall of one node became two farm-wide broadcasts (the suspicion, then the stalled
// node's refutation), each sent retransmitMult * log10(N) times by every member; the
// scenario stalls 10% of the nodes, so the farm-wide rate of stalls, and with it each
// node's traffic, grew with N (bench/scale.ts: 261 -> 1,275 -> 8,115 B/node/s). The
// fix, failedProbesToSuspect = 2 (the scale benchmark's setting; the presets keep
// SWIM's 1), re-probes before suspecting. The
// check measures a 200-node farm's traffic by message type (TrafficByType, which reads
// the wire) with and without stalls; the broken variant (failedProbesToSuspect = 1,
// SWIM's rule) must be caught by the same check. TrafficByType's split of a compound
// datagram is checked against the codec byte for byte.
import { describe, expect, it } from 'vitest';
import { membershipConfig } from '../src/core/membership/config.js';
import { Prng } from '../src/core/util/prng.js';
import { SimulatedFarm } from '../src/sim/simulated-farm.js';
import { FalsePositiveCounter, reproLine, withSeed } from '../src/sim/invariants.js';
import { NetworkSimulator } from '../src/sim/network-simulator.js';
import { nodeAddress } from '../src/sim/node-address.js';
import { TrafficByType } from '../src/sim/traffic-by-type.js';
import * as F from '../src/core/wire/format.js';

const kFile = 'test/sim-stall-traffic.test.ts';
const kNodes = 200;
const kWindowMs = 30_000;
const kStallMs = 2000;

interface StallRun {
  bytesPerNodePerSecond: number;
  /** Bytes of suspicions and refutations (alive) per node per second. */
  accusationBytesPerNodePerSecond: number;
  falseSuspicions: number;
  falseDeaths: number;
}

/** A steady farm of kNodes; with `stalls`, 10% of the nodes each stall 2 s at a random moment of the window. */
function run(seed: number, stalls: boolean, failedProbesToSuspect: number): StallRun {
  const sim = new NetworkSimulator({ seed, nodesMax: kNodes + 8 });
  const addresses = Array.from({ length: kNodes }, (_, i) => nodeAddress(i));
  const traffic = new TrafficByType();
  // The watch ring off: this measures SWIM's suspicion traffic under stalls, not the beats.
  const farm = new SimulatedFarm(sim, membershipConfig({ membersMax: kNodes + 16, failedProbesToSuspect, watchIntervalMs: 0 }, 'lan'), { prepopulate: addresses, runtimeBytes: 256 << 20, traffic });
  for (let i = 0; i < kNodes; i++) farm.addMember(addresses.slice(0, 3));
  const counter = new FalsePositiveCounter(sim);
  sim.runFor(3000);
  traffic.reset();
  const prng = new Prng(seed ^ 0x57a11);
  if (stalls) {
    const offsets = prng.shuffle(addresses.slice()).slice(0, kNodes / 10).map((a) => [a, prng.nextInt(kWindowMs - kStallMs)] as const).sort((x, y) => x[1] - y[1]);
    let at = 0;
    for (const [address, offset] of offsets) {
      sim.runFor(offset - at);
      at = offset;
      if (!sim.isPaused(address)) sim.pause(address, kStallMs);
    }
    sim.runFor(kWindowMs - at);
  } else {
    sim.runFor(kWindowMs);
  }
  const perNodeSecond = kNodes * (kWindowMs / 1000);
  let accusation = 0;
  for (const row of traffic.rows()) if (row.type === 'suspect' || row.type === 'alive') accusation += row.bytes;
  return {
    bytesPerNodePerSecond: traffic.totalBytes() / perNodeSecond,
    accusationBytesPerNodePerSecond: accusation / perNodeSecond,
    falseSuspicions: counter.falseSuspicions,
    falseDeaths: counter.falseDeaths,
  };
}

/** The checker: stalls may cost at most 1.5x the quiet farm's traffic, and no false death. */
function checkFlat(seed: number, failedProbesToSuspect: number, name: string): string | null {
  const quiet = run(seed, false, failedProbesToSuspect);
  const stalled = run(seed, true, failedProbesToSuspect);
  const ratio = stalled.bytesPerNodePerSecond / quiet.bytesPerNodePerSecond;
  if (ratio > 1.5 || stalled.falseDeaths > 0) {
    return `stalls multiplied traffic ${ratio.toFixed(2)}x (${quiet.bytesPerNodePerSecond.toFixed(0)} -> ${stalled.bytesPerNodePerSecond.toFixed(0)} B/node/s, ` +
      `${stalled.accusationBytesPerNodePerSecond.toFixed(0)} of it suspicions and refutations; ${stalled.falseSuspicions} false suspicions, ${stalled.falseDeaths} false deaths)\nrepro: ${reproLine(seed, kFile, name)}`;
  }
  return null;
}

describe('traffic under event-loop stalls', () => {
  const name = 'ten percent of 200 nodes stalling 2 s cost at most 1.5x the quiet traffic';
  it(name, () => {
    const seed = withSeed(4242);
    const failure = checkFlat(seed, 2, name);
    expect(failure).toBeNull();
  });

  it('the broken variant (SWIM: the first failed probe suspects) is caught, by its suspicions and refutations', () => {
    const seed = withSeed(4242);
    const failure = checkFlat(seed, 1, 'broken variant');
    expect(failure).not.toBeNull();
    expect(failure).toMatch(/suspicions and refutations/);
    const stalled = run(seed, true, 1);
    expect(stalled.falseSuspicions).toBeGreaterThan(0);
    // A quarter: since a queued part is no longer sent twice in a row to one member, the
    // broken variant's accusations take 29% of the bytes at this seed (they took over 30%).
    expect(stalled.accusationBytesPerNodePerSecond).toBeGreaterThan(0.25 * stalled.bytesPerNodePerSecond);
  });

  it('a member that stays silent is still suspected after failedProbesToSuspect probes, and declared dead', () => {
    const seed = withSeed(77);
    const sim = new NetworkSimulator({ seed, nodesMax: 40 });
    const addresses = Array.from({ length: 30 }, (_, i) => nodeAddress(i));
    // The watch ring off, as above: SWIM's own probes are what this checks.
    const farm = new SimulatedFarm(sim, membershipConfig({ membersMax: 64, failedProbesToSuspect: 2, watchIntervalMs: 0 }, 'lan'), { prepopulate: addresses, runtimeBytes: 64 << 20 });
    for (let i = 0; i < 30; i++) farm.addMember(addresses.slice(0, 3));
    const counter = new FalsePositiveCounter(sim);
    sim.runFor(2000);
    const t0 = sim.nowMs();
    sim.crashHost(addresses[7]!);
    const reached = sim.runUntil(() => counter.detectionLatencyMs(addresses[7]!, t0) >= 0, 60_000, 50);
    expect(reached, reproLine(seed, kFile, 'silent member')).toBeGreaterThan(0);
  });
});

describe('TrafficByType', () => {
  it('charges each part of a compound datagram to its own type and the framing to overhead', () => {
    // G X v1 compound, 2 parts: a 5-byte ping part and a 3-byte suspect part, then a checksum.
    const ping = [F.kTypePing, 1, 2, 3, 4];
    const suspect = [F.kTypeSuspect, 9, 9];
    const bytes = new Uint8Array([F.kMagic0, F.kMagic1, F.kProtocolVersion, F.kTypeCompound, 2, ping.length, 0, ...ping, suspect.length, 0, ...suspect, 0, 0, 0, 0]);
    const t = new TrafficByType();
    t.recordDatagram(bytes);
    t.recordFrame(new Uint8Array([F.kMagic0, F.kMagic1, F.kProtocolVersion, F.kTypePushPullState, 1, 2, 3, 0, 0, 0, 0]));
    const rows = Object.fromEntries(t.rows().map((r) => [r.type, r]));
    expect(rows.ping).toEqual({ type: 'ping', messages: 1, bytes: 5 });
    expect(rows.suspect).toEqual({ type: 'suspect', messages: 1, bytes: 3 });
    expect(rows.overhead!.bytes).toBe(bytes.length - 8);
    expect(rows['frame:push-pull-state']).toEqual({ type: 'frame:push-pull-state', messages: 1, bytes: 3 });
    expect(t.totalBytes()).toBe(bytes.length + 11);
  });
});
