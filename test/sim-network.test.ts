// Proves the network simulator's promises to the membership engine, using two tiny
// protocols written here: a scripted process the test drives by hand (it records every
// callback with the global time), and a heartbeat protocol (every node sends a
// heartbeat datagram to every peer; silence makes it suspect, then dead; frames are
// echoed). It shows: a seed replays a run exactly (stats and event-order digests) and
// another seed does not; loss is near its setting; duplication and reordering happen;
// one-way partitions cut one direction; a pause parks deliveries and hands them over
// (or drops them past the buffer bound); a crashed process is reported by ICMP within
// two latencies; a crashed host is silent and frames time out; restarts count up;
// clocks drift at their set rate; and the invariant checkers tell converged from not.
// GALAXY_SIM_SEED=<n> replays a run with another seed; failures print the repro line.
import { describe, expect, it } from 'vitest';
import { checkConvergence, FalsePositiveCounter, reproLine, withSeed } from '../src/sim/invariants.js';
import { NetworkSimulator } from '../src/sim/network-simulator.js';
import { nodeAddress } from '../src/sim/node-address.js';
import type { NetworkSimulatorOptions } from '../src/sim/sim-options.js';
import type { SimContext, SimMemberStatus, SimProcess } from '../src/sim/sim-process.js';

const testFile = 'test/sim-network.test.ts';
const seed = withSeed(20240611);

// ---- A process the test drives by hand ------------------------------------------

interface Received {
  from: string;
  bytes: Uint8Array;
  atMs: number;
}

class ScriptedProcess implements SimProcess {
  context!: SimContext;
  ticks = 0;
  stopped = false;
  readonly datagrams: Received[] = [];
  readonly frames: Received[] = [];
  readonly unreachables: { to: string; atMs: number }[] = [];
  readonly streamFailures: { to: string; atMs: number }[] = [];
  readonly linksLost: { to: string; atMs: number }[] = [];
  readonly tickTimesMs: number[] = [];

  constructor(
    readonly incarnationHint: number,
    private readonly clock: () => number,
    private readonly onStop: (process: ScriptedProcess) => void = () => {},
  ) {}

  start(context: SimContext): void {
    this.context = context;
  }
  tick(): void {
    this.ticks++;
    this.tickTimesMs.push(this.clock());
  }
  receiveDatagram(from: string, bytes: Uint8Array): void {
    this.datagrams.push({ from, bytes, atMs: this.clock() });
  }
  receiveFrame(from: string, bytes: Uint8Array): void {
    this.frames.push({ from, bytes, atMs: this.clock() });
  }
  unreachable(to: string): void {
    this.unreachables.push({ to, atMs: this.clock() });
  }
  streamFailed(to: string): void {
    this.streamFailures.push({ to, atMs: this.clock() });
  }
  linkLost(to: string): void {
    this.linksLost.push({ to, atMs: this.clock() });
  }
  stop(): void {
    this.stopped = true;
    this.onStop(this);
  }
  membersView(): ReadonlyMap<string, SimMemberStatus> {
    return new Map();
  }
}

/** A simulator with `count` scripted nodes; fixed 1 ms latency unless options say otherwise. */
function scripted(count: number, options: NetworkSimulatorOptions = {}) {
  const sim = new NetworkSimulator({ seed, latencyMsMin: 1, latencyMsMean: 1, clockDriftMax: 0, ...options });
  const incarnations = new Map<string, ScriptedProcess[]>();
  for (let i = 0; i < count; i++) {
    sim.addNode((address, hint) => {
      const process = new ScriptedProcess(hint, () => sim.nowMs());
      incarnations.set(address, [...(incarnations.get(address) ?? []), process]);
      return process;
    });
  }
  const current = (address: string) => incarnations.get(address)!.at(-1)!;
  return { sim, addresses: sim.nodes(), current, incarnations };
}

const u32 = (bytes: Uint8Array) => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0);
const numbered = (n: number) => {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, n);
  return bytes;
};

// ---- A heartbeat protocol ---------------------------------------------------------

const kHeartbeat = 1;
const kLeave = 2;
const kEchoRequest = 3;
const kEchoReply = 4;

interface HeartbeatConfig {
  heartbeatMs: number;
  suspectAfterMs: number;
  deadAfterMs: number;
}

const kHeartbeatConfig: HeartbeatConfig = Object.freeze({ heartbeatMs: 100, suspectAfterMs: 350, deadAfterMs: 1000 });

/** Heartbeats every peer; silence for suspectAfterMs makes a peer suspect, deadAfterMs dead. */
class HeartbeatProcess implements SimProcess {
  private context!: SimContext;
  private readonly view = new Map<string, SimMemberStatus>();
  private readonly lastHeardMs = new Map<string, number>();
  private nextBeatMs = 0;
  // One buffer, overwritten after every send: the simulator must have copied it.
  private readonly beat = new Uint8Array(5);
  private sequence = 0;
  readonly echoes: number[] = [];

  constructor(
    private readonly peers: readonly string[],
    private readonly trace: (line: string) => void,
    private readonly config: HeartbeatConfig = kHeartbeatConfig,
  ) {}

  start(context: SimContext): void {
    this.context = context;
    const nowMs = context.nowMs();
    this.nextBeatMs = nowMs + context.random.nextFloat() * this.config.heartbeatMs;
    for (const peer of this.peers) {
      this.view.set(peer, 'alive');
      this.lastHeardMs.set(peer, nowMs);
    }
  }

  tick(): void {
    const nowMs = this.context.nowMs();
    if (nowMs >= this.nextBeatMs) {
      this.nextBeatMs = nowMs + this.config.heartbeatMs;
      this.beat[0] = kHeartbeat;
      new DataView(this.beat.buffer).setUint32(1, this.sequence++);
      for (const peer of this.peers) if (peer !== this.context.address) this.context.sendDatagram(peer, this.beat);
      this.beat.fill(0xee);
    }
    for (const peer of this.peers) {
      if (peer === this.context.address) continue;
      const status = this.view.get(peer)!;
      const silentMs = nowMs - this.lastHeardMs.get(peer)!;
      if (status === 'alive' && silentMs > this.config.suspectAfterMs) this.conclude(peer, 'suspect');
      else if (status === 'suspect' && silentMs > this.config.deadAfterMs) this.conclude(peer, 'dead');
    }
  }

  receiveDatagram(from: string, bytes: Uint8Array): void {
    this.trace(`d ${this.context.address}<${from} ${bytes.join('.')}`);
    if (bytes[0] === kLeave) return this.conclude(from, 'left');
    if (bytes[0] !== kHeartbeat) throw new Error(`unexpected datagram ${bytes.join('.')}: the sender's buffer was not copied`);
    this.lastHeardMs.set(from, this.context.nowMs());
    if (this.view.get(from) !== 'alive') this.conclude(from, 'alive');
  }

  receiveFrame(from: string, bytes: Uint8Array): void {
    this.trace(`f ${this.context.address}<${from} ${bytes.join('.')}`);
    if (bytes[0] === kEchoRequest) this.context.sendFrame(from, Uint8Array.of(kEchoReply, bytes[1]!));
    if (bytes[0] === kEchoReply) this.echoes.push(bytes[1]!);
  }

  unreachable(to: string): void {
    this.trace(`u ${this.context.address}>${to}`);
  }

  streamFailed(to: string): void {
    this.trace(`s ${this.context.address}>${to}`);
  }

  stop(): void {
    for (const peer of this.peers) if (peer !== this.context.address) this.context.sendDatagram(peer, Uint8Array.of(kLeave));
  }

  membersView(): ReadonlyMap<string, SimMemberStatus> {
    return this.view;
  }

  echo(to: string, n: number): void {
    this.context.sendFrame(to, Uint8Array.of(kEchoRequest, n));
  }

  private conclude(peer: string, status: SimMemberStatus): void {
    this.view.set(peer, status);
    this.context.report({ kind: status, subject: peer });
  }
}

/** A heartbeat cluster of `count` nodes whose processes all know each other's addresses. */
function heartbeatCluster(count: number, options: NetworkSimulatorOptions = {}, config: HeartbeatConfig = kHeartbeatConfig) {
  const sim = new NetworkSimulator({ seed, ...options });
  const peers = Array.from({ length: count }, (_, i) => nodeAddress(i));
  let digest = 0x811c9dc5;
  const trace = (line: string) => {
    for (let i = 0; i < line.length; i++) digest = Math.imul(digest ^ line.charCodeAt(i), 16777619);
    digest = Math.imul(digest ^ Math.round(sim.nowMs() * 1000), 16777619);
  };
  for (let i = 0; i < count; i++) sim.addNode(() => new HeartbeatProcess(peers, trace, config));
  const counter = new FalsePositiveCounter(sim);
  const process = (address: string) => sim.processOf(address) as HeartbeatProcess;
  return { sim, peers, counter, process, traceDigest: () => digest >>> 0 };
}

/** A stormy run: loss, duplicates, reordering, drift, a pause, a crash, a restart, a partition, frames. */
function stormyRun(runSeed: number) {
  const options = { seed: runSeed, lossRate: 0.05, duplicateRate: 0.02, reorderRate: 0.05, clockDriftMax: 0.0005 };
  const { sim, peers, counter, process, traceDigest } = heartbeatCluster(12, options);
  sim.runFor(1000);
  for (let n = 0; n < 20; n++) process(peers[0]!).echo(peers[n % 12]!, n);
  sim.pause(peers[1]!, 700);
  sim.crash(peers[2]!);
  sim.runFor(1500);
  sim.restart(peers[2]!);
  sim.partition(peers.slice(0, 4), peers.slice(4, 8), { oneWay: true });
  sim.runFor(1500);
  sim.heal();
  sim.stop(peers[3]!);
  sim.runFor(2000);
  const { suspicions, falseSuspicions, suspicionsWhilePaused, deaths, falseDeaths, deadWhilePaused, examples } = counter;
  const counts = { suspicions, falseSuspicions, suspicionsWhilePaused, deaths, falseDeaths, deadWhilePaused, examples };
  return { stats: sim.stats(), eventDigest: sim.eventDigest(), traceDigest: traceDigest(), counts };
}

// ---- Tests ------------------------------------------------------------------------

describe('determinism', () => {
  it('the same seed gives identical stats and event order; another seed does not', () => {
    const first = stormyRun(seed);
    const again = stormyRun(seed);
    const other = stormyRun(seed + 1);
    const repro = reproLine(seed, testFile, 'the same seed gives identical stats and event order');
    expect(again.stats, repro).toEqual(first.stats);
    expect(again.eventDigest, repro).toBe(first.eventDigest);
    expect(again.traceDigest, repro).toBe(first.traceDigest);
    expect(JSON.stringify(again.counts), repro).toBe(JSON.stringify(first.counts));
    expect(other.eventDigest, repro).not.toBe(first.eventDigest);
    expect(other.traceDigest, repro).not.toBe(first.traceDigest);
    expect(other.stats.totals, repro).not.toEqual(first.stats.totals);
    expect(first.stats.totals.dropsLoss).toBeGreaterThan(0);
    expect(first.stats.totals.datagramsDuplicated).toBeGreaterThan(0);
  });
});

describe('datagram faults', () => {
  it('loses datagrams at the set rate, within four standard deviations', () => {
    const lossRate = 0.1;
    const sent = 40_000;
    const { sim, addresses, current } = scripted(2, { lossRate });
    const [a, b] = addresses as [string, string];
    const buffer = new Uint8Array(32);
    for (let i = 0; i < sent; i++) current(a).context.sendDatagram(b, buffer);
    sim.runFor(10);
    const stats = sim.nodeStats(a);
    const measured = stats.dropsLoss / sent;
    const sigma = Math.sqrt((lossRate * (1 - lossRate)) / sent);
    expect(Math.abs(measured - lossRate), reproLine(seed, testFile, 'loses datagrams')).toBeLessThan(4 * sigma);
    expect(current(b).datagrams.length).toBe(sent - stats.dropsLoss);
    expect(sim.nodeStats(b).datagramBytesReceived).toBe(32 * (sent - stats.dropsLoss));
    expect(stats.datagramBytesSent).toBe(32 * sent);
  });

  it('duplicates datagrams at the set rate, and every copy is accounted for', () => {
    const duplicateRate = 0.1;
    const sent = 20_000;
    const { sim, addresses, current } = scripted(2, { duplicateRate, lossRate: 0.05 });
    const [a, b] = addresses as [string, string];
    for (let i = 0; i < sent; i++) current(a).context.sendDatagram(b, numbered(i));
    sim.runFor(10);
    const stats = sim.nodeStats(a);
    const copies = new Map<number, number>();
    for (const d of current(b).datagrams) copies.set(u32(d.bytes), (copies.get(u32(d.bytes)) ?? 0) + 1);
    const twice = [...copies.values()].filter((n) => n === 2).length;
    expect(Math.max(...copies.values())).toBe(2);
    expect(twice).toBe(stats.datagramsDuplicated);
    const sigma = Math.sqrt((duplicateRate * (1 - duplicateRate)) / (sent * 0.95));
    expect(Math.abs(twice / (sent - stats.dropsLoss) - duplicateRate)).toBeLessThan(4 * sigma);
    // Conservation: every copy is received or dropped with exactly one cause.
    expect(stats.datagramsSent + stats.datagramsDuplicated).toBe(current(b).datagrams.length + stats.dropsLoss);
  });

  it('reorders datagrams only when reordering is on (fixed latency otherwise keeps order)', () => {
    const inversions = (reorderRate: number) => {
      const { sim, addresses, current } = scripted(2, { reorderRate, reorderMsMax: 5 });
      const [a, b] = addresses as [string, string];
      for (let i = 0; i < 2000; i++) {
        current(a).context.sendDatagram(b, numbered(i));
        sim.runFor(0.5);
      }
      sim.runFor(10);
      const order = current(b).datagrams.map((d) => u32(d.bytes));
      expect(order.length).toBe(2000);
      let count = 0;
      for (let i = 1; i < order.length; i++) if (order[i]! < order[i - 1]!) count++;
      return { count, reordered: sim.nodeStats(a).datagramsReordered };
    };
    expect(inversions(0)).toEqual({ count: 0, reordered: 0 });
    const on = inversions(0.2);
    expect(on.count).toBeGreaterThan(100);
    expect(on.reordered).toBeGreaterThan(300);
  });

  it('copies the bytes on send: the sender may reuse its buffer at once', () => {
    const { sim, addresses, current } = scripted(2);
    const [a, b] = addresses as [string, string];
    const buffer = Uint8Array.of(1, 2, 3);
    current(a).context.sendDatagram(b, buffer);
    current(a).context.sendFrame(b, buffer);
    buffer.fill(9);
    sim.runFor(5);
    expect([...current(b).datagrams[0]!.bytes]).toEqual([1, 2, 3]);
    expect([...current(b).frames[0]!.bytes]).toEqual([1, 2, 3]);
  });
});

describe('frames', () => {
  it('are reliable and ordered per pair despite loss and random latency', () => {
    const { sim, peers, process } = heartbeatCluster(3, { lossRate: 0.5, latencyMsMin: 0.1, latencyMsMean: 3 });
    sim.runFor(50);
    for (let n = 0; n < 200; n++) {
      process(peers[0]!).echo(peers[1]!, n);
      if (n % 3 === 0) sim.runFor(0.7);
    }
    sim.runFor(100);
    expect(process(peers[0]!).echoes).toEqual(Array.from({ length: 200 }, (_, n) => n));
    expect(sim.nodeStats(peers[1]!).framesReceived).toBe(200);
    expect(sim.nodeStats(peers[0]!).framesFailed).toBe(0);
  });
});

describe('partitions', () => {
  it('one-way: A→B datagrams are dropped, B→A pass; frames need both ways; heal restores', () => {
    const { sim, addresses, current } = scripted(3);
    const [a, b, c] = addresses as [string, string, string];
    sim.partition([a], [b], { oneWay: true });
    expect(sim.canReach(a, b)).toBe(false);
    expect(sim.canReach(b, a)).toBe(true);
    expect(sim.canReach(a, c)).toBe(true);
    current(a).context.sendDatagram(b, numbered(1));
    current(b).context.sendDatagram(a, numbered(2));
    current(a).context.sendDatagram(c, numbered(3));
    current(a).context.sendFrame(b, numbered(4));
    current(b).context.sendFrame(a, numbered(5));
    const sentAtMs = sim.nowMs();
    sim.runFor(2000);
    expect(current(b).datagrams).toHaveLength(0);
    expect(current(a).datagrams.map((d) => u32(d.bytes))).toEqual([2]);
    expect(current(c).datagrams.map((d) => u32(d.bytes))).toEqual([3]);
    expect(sim.nodeStats(a).dropsPartition).toBe(1);
    // TCP needs the reverse path for its handshake, so a one-way cut fails frames both ways, by timeout.
    expect(current(a).streamFailures).toEqual([{ to: b, atMs: sentAtMs + 1000 }]);
    expect(current(b).streamFailures).toEqual([{ to: a, atMs: sentAtMs + 1000 }]);
    sim.heal();
    expect(sim.canReach(a, b)).toBe(true);
    current(a).context.sendDatagram(b, numbered(6));
    sim.runFor(5);
    expect(current(b).datagrams.map((d) => u32(d.bytes))).toEqual([6]);
  });

  it('two-way partitions cut both directions and rejects a node on both sides', () => {
    const { sim, addresses, current } = scripted(2);
    const [a, b] = addresses as [string, string];
    sim.partition([a], [b]);
    expect(sim.canReach(a, b)).toBe(false);
    expect(sim.canReach(b, a)).toBe(false);
    current(b).context.sendDatagram(a, numbered(1));
    sim.runFor(5);
    expect(current(a).datagrams).toHaveLength(0);
    expect(() => sim.partition([a], [a, b])).toThrow(/in both groups/);
  });
});

describe('pause', () => {
  it('parks deliveries and ticks while paused, then ticks once and delivers them in order', () => {
    const { sim, addresses, current } = scripted(2);
    const [a, b] = addresses as [string, string];
    sim.runFor(100);
    const pausedAtMs = sim.nowMs();
    sim.pause(b, 500);
    const ticksBefore = current(b).ticks;
    sim.runFor(100);
    for (let i = 0; i < 100; i++) current(a).context.sendDatagram(b, numbered(i));
    current(a).context.sendFrame(b, numbered(1000));
    sim.runFor(350);
    expect(sim.isPaused(b)).toBe(true);
    expect(current(b).ticks).toBe(ticksBefore);
    expect(current(b).datagrams).toHaveLength(0);
    sim.runFor(100);
    expect(sim.isPaused(b)).toBe(false);
    const resumedAtMs = pausedAtMs + 500;
    expect(current(b).tickTimesMs.find((t) => t >= pausedAtMs)).toBe(resumedAtMs);
    expect(current(b).datagrams.map((d) => u32(d.bytes))).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(current(b).datagrams.every((d) => d.atMs === resumedAtMs)).toBe(true);
    expect(current(b).frames.map((f) => [u32(f.bytes), f.atMs])).toEqual([[1000, resumedAtMs]]);
    expect(current(b).ticks).toBeGreaterThan(ticksBefore + 5);
  });

  it('pausing a paused process extends the pause to the later end; runUntil gives -1 on timeout', () => {
    const { sim, addresses, current } = scripted(1);
    const [a] = addresses as [string];
    sim.pause(a, 100);
    sim.runFor(50);
    sim.pause(a, 200);
    sim.pause(a, 10);
    expect(sim.runUntil(() => !sim.isPaused(a), 150, 10)).toBe(-1);
    expect(sim.nowMs()).toBe(200);
    expect(sim.runUntil(() => !sim.isPaused(a), 150, 10)).toBe(250);
    expect(current(a).tickTimesMs.filter((t) => t > 0 && t < 250)).toEqual([]);
  });

  it('drops datagrams beyond pausedQueueDatagramsMax, like a full receive buffer', () => {
    const { sim, addresses, current } = scripted(2, { pausedQueueDatagramsMax: 10 });
    const [a, b] = addresses as [string, string];
    sim.pause(b, 50);
    for (let i = 0; i < 100; i++) current(a).context.sendDatagram(b, numbered(i));
    sim.runFor(60);
    expect(current(b).datagrams.map((d) => u32(d.bytes))).toEqual(Array.from({ length: 10 }, (_, i) => i));
    expect(sim.nodeStats(a).dropsPausedOverflow).toBe(90);
  });

  it('a crash while paused loses what was parked; parked frames fail back to their sender', () => {
    const { sim, addresses, current } = scripted(2);
    const [a, b] = addresses as [string, string];
    sim.pause(b, 100);
    current(a).context.sendDatagram(b, numbered(1));
    current(a).context.sendFrame(b, numbered(2));
    sim.runFor(10);
    sim.crash(b);
    sim.runFor(10);
    expect(sim.nodeStats(a).dropsDead).toBe(1);
    expect(current(a).streamFailures).toEqual([{ to: b, atMs: 11 }]);
  });
});

describe('crashes and restarts', () => {
  it('a crashed process on a live host answers with unreachable after two latencies; frames fail after one round trip', () => {
    const { sim, addresses, current } = scripted(3);
    const [a, b, c] = addresses as [string, string, string];
    sim.runFor(10);
    sim.crash(b);
    sim.setIcmp(c, false);
    sim.crash(c);
    const sentAtMs = sim.nowMs();
    current(a).context.sendDatagram(b, numbered(1));
    current(a).context.sendDatagram(c, numbered(2));
    current(a).context.sendFrame(b, numbered(3));
    sim.runFor(10);
    expect(current(a).unreachables).toEqual([{ to: b, atMs: sentAtMs + 2 }]);
    expect(current(a).streamFailures).toEqual([{ to: b, atMs: sentAtMs + 2 }]);
    expect(sim.nodeStats(a).dropsDead).toBe(2);
    expect(sim.isProcessAlive(b)).toBe(false);
    expect(sim.isHostUp(b)).toBe(true);
  });

  it('with random latencies, unreachable takes two latencies on average', () => {
    const { sim, addresses, current } = scripted(2, { latencyMsMin: 0.2, latencyMsMean: 1 });
    const [a, b] = addresses as [string, string];
    sim.crash(b);
    for (let i = 0; i < 4000; i++) current(a).context.sendDatagram(b, numbered(i));
    sim.runFor(100);
    const delays = current(a).unreachables.map((u) => u.atMs);
    expect(delays).toHaveLength(4000);
    const meanMs = delays.reduce((s, x) => s + x, 0) / delays.length;
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(0.4);
    // Two exponentials of mean 0.8 over a floor of 0.2 each: mean 2, standard error about 0.02.
    expect(meanMs).toBeGreaterThan(1.9);
    expect(meanMs).toBeLessThan(2.1);
  });

  it('a crashed host is silent: no unreachable, and frames fail after the connect timeout', () => {
    const { sim, addresses, current } = scripted(2, { frameConnectTimeoutMs: 750 });
    const [a, b] = addresses as [string, string];
    sim.crashHost(b);
    expect(sim.isHostUp(b)).toBe(false);
    expect(sim.canReach(a, b)).toBe(false);
    current(a).context.sendDatagram(b, numbered(1));
    current(a).context.sendFrame(b, numbered(2));
    current(a).context.sendFrame('10.99.99.99:7946', numbered(3));
    sim.runFor(749);
    expect(current(a).streamFailures).toHaveLength(0);
    sim.runFor(2);
    expect(current(a).unreachables).toHaveLength(0);
    expect(current(a).streamFailures).toEqual([
      { to: b, atMs: 750 },
      { to: '10.99.99.99:7946', atMs: 750 },
    ]);
    expect(sim.nodeStats(a).dropsDead).toBe(1);
    expect(sim.nodeStats(a).framesFailed).toBe(2);
  });

  it('a frame in flight when its destination restarts is reset, never handed to the new process', () => {
    const { sim, addresses, current } = scripted(2, { latencyMsMin: 5, latencyMsMean: 5 });
    const [a, b] = addresses as [string, string];
    current(a).context.sendFrame(b, numbered(1));
    sim.runFor(1);
    sim.crash(b);
    sim.restart(b);
    sim.runFor(20);
    expect(current(b).frames).toHaveLength(0);
    expect(current(a).streamFailures).toEqual([{ to: b, atMs: 10 }]);
  });

  it('restart makes a new process with incarnationHint one higher; the old one hears nothing more', () => {
    const { sim, addresses, current, incarnations } = scripted(2);
    const [a, b] = addresses as [string, string];
    sim.runFor(50);
    sim.crash(b);
    const old = current(b);
    const oldTicks = old.ticks;
    sim.restart(b);
    sim.runFor(50);
    sim.stop(b);
    expect(current(b).stopped).toBe(true);
    expect(() => sim.stop(b)).toThrow(/not running/);
    sim.restart(b);
    sim.crashHost(b);
    sim.restart(b);
    expect(sim.isHostUp(b)).toBe(true);
    expect(incarnations.get(b)!.map((p) => p.incarnationHint)).toEqual([0, 1, 2, 3]);
    expect(sim.restartsOf(b)).toBe(3);
    expect(() => sim.restart(b)).toThrow(/crash\(\) or stop\(\) it first/);
    current(a).context.sendDatagram(b, numbered(7));
    sim.runFor(50);
    expect(old.ticks).toBe(oldTicks);
    expect(old.datagrams).toHaveLength(0);
    expect(current(b).datagrams.map((d) => u32(d.bytes))).toEqual([7]);
    expect(current(b).ticks).toBeGreaterThan(3);
  });
});

describe('watch links', () => {
  it('a process killed on a live host closes the links held to it one latency later; the holder reconnects at once, then backs off from 100 ms', () => {
    const { sim, addresses, current } = scripted(3);
    const [a, b, c] = addresses as [string, string, string];
    current(a).context.holdLinks([b, c]);
    sim.runFor(10);
    sim.crash(b);
    sim.runFor(400);
    // Closed at 10 (+1 ms), then refused reconnects: at once (+2), +100 (+2), +200 (+2).
    expect(current(a).linksLost).toEqual([
      { to: b, atMs: 11 },
      { to: b, atMs: 13 },
      { to: b, atMs: 115 },
      { to: b, atMs: 317 },
    ]);
    // Once the holder lets the link go (its ring no longer has b), nothing more comes.
    current(a).context.holdLinks([c]);
    sim.runFor(2000);
    expect(current(a).linksLost).toHaveLength(4);
  });

  it('a restarted target accepts the next reconnect: the refusals stop', () => {
    const { sim, addresses, current } = scripted(2);
    const [a, b] = addresses as [string, string];
    current(a).context.holdLinks([b]);
    sim.crash(b);
    sim.runFor(50);
    sim.restart(b);
    sim.runFor(5000);
    expect(current(a).linksLost.map((l) => l.atMs)).toEqual([1, 3]);
  });

  it('a graceful stop closes the links too; a link opened to a dead process is refused after a round trip', () => {
    const { sim, addresses, current } = scripted(3);
    const [a, b, c] = addresses as [string, string, string];
    current(a).context.holdLinks([b]);
    sim.stop(b);
    sim.crash(c);
    sim.runFor(1);
    current(a).context.holdLinks([b, c]);
    sim.runFor(3);
    expect(current(a).linksLost.slice(0, 3)).toEqual([
      { to: b, atMs: 1 },
      { to: b, atMs: 3 },
      { to: c, atMs: 3 },
    ]);
  });

  it('a host that goes down, a pause and a partition close nothing', () => {
    const { sim, addresses, current } = scripted(4);
    const [a, b, c, d] = addresses as [string, string, string, string];
    current(a).context.holdLinks([b, c, d]);
    sim.crashHost(b);
    sim.pause(c, 500);
    sim.partition([a], [d]);
    sim.runFor(100);
    sim.crash(d);
    sim.runFor(5000);
    expect(current(a).linksLost).toEqual([]);
  });

  it('a holder that dies takes its links with it; its next process holds none until it asks', () => {
    const { sim, addresses, current } = scripted(2);
    const [a, b] = addresses as [string, string];
    current(a).context.holdLinks([b]);
    sim.crash(a);
    sim.restart(a);
    sim.crash(b);
    sim.runFor(1000);
    expect(current(a).linksLost).toEqual([]);
  });
});

describe('clocks', () => {
  it('local clocks drift at their set rate, within clockDriftMax, and ticks follow local time', () => {
    const clockDriftMax = 0.0005;
    const { sim, addresses, current } = scripted(12, { clockDriftMax, tickMs: 10 });
    const startMs = addresses.map((address) => current(address).context.nowMs());
    const globalMs = 100_000;
    sim.runFor(globalMs);
    const rates = addresses.map((address, i) => (current(address).context.nowMs() - startMs[i]!) / globalMs);
    for (const [i, rate] of rates.entries()) {
      expect(Math.abs(rate - 1)).toBeLessThanOrEqual(clockDriftMax);
      expect(rate).toBeCloseTo(sim.clockOf(addresses[i]!).rate, 12);
      // One tick every 10 ms of local time: 10,000 give or take the drift and the start phase.
      expect(Math.abs(current(addresses[i]!).ticks - (globalMs * rate) / 10)).toBeLessThanOrEqual(1);
    }
    const spread = Math.max(...rates) - Math.min(...rates);
    expect(spread).toBeGreaterThan(clockDriftMax / 2);
    // Two nodes' clocks move apart by the difference of their rates.
    const [x, y] = [addresses[0]!, addresses[1]!];
    const apartMs = sim.localNowMs(x) - sim.localNowMs(y) - (startMs[0]! - startMs[1]!);
    expect(apartMs).toBeCloseTo((rates[0]! - rates[1]!) * globalMs, 6);
  });
});

describe('invariants', () => {
  it('checkConvergence passes a converged cluster and lists the disagreements of a non-converged one', () => {
    const { sim, peers, counter } = heartbeatCluster(10, { lossRate: 0.01 });
    sim.runFor(2000);
    const before = checkConvergence(sim);
    const repro = reproLine(seed, testFile, 'checkConvergence passes');
    expect(before.converged, `${before.summary}\n${repro}`).toBe(true);
    expect(before.observersChecked).toBe(10);

    const victim = peers[4]!;
    sim.crash(victim);
    const crashedAtMs = sim.nowMs();
    const after = checkConvergence(sim, { disagreementsMax: 3 });
    expect(after.converged).toBe(false);
    expect(after.disagreementCount).toBe(9);
    expect(after.disagreements).toHaveLength(3);
    expect(after.disagreements[0]).toEqual({ observer: peers[0], subject: victim, expected: 'not alive', actual: 'alive' });
    expect(after.summary).toMatch(/^not converged: 9 disagreements/);

    const convergedAtMs = sim.runUntil(() => checkConvergence(sim).converged, 5000, 50);
    // The last heartbeat came up to heartbeatMs before the crash, so silence reaches deadAfterMs that much sooner.
    expect(convergedAtMs, repro).toBeGreaterThan(crashedAtMs + kHeartbeatConfig.deadAfterMs - kHeartbeatConfig.heartbeatMs);
    expect(checkConvergence(sim, { requireDeadKnown: true }).converged).toBe(true);
    // Detection: every live node declared the victim dead about deadAfterMs after its last heartbeat.
    const latencyMs = counter.detectionLatencyMs(victim, crashedAtMs);
    expect(latencyMs).toBeGreaterThan(kHeartbeatConfig.deadAfterMs - kHeartbeatConfig.heartbeatMs);
    expect(latencyMs).toBeLessThanOrEqual(convergedAtMs - crashedAtMs);
    expect(counter.firstDeadMs(peers[0]!, victim)).toBeGreaterThan(crashedAtMs);
    expect(counter.falseDeaths).toBe(0);
  });

  it('requireDeadKnown tells absent from dead; paused and cut-off observers are skipped', () => {
    const { sim, peers } = heartbeatCluster(4);
    sim.runFor(500);
    sim.stop(peers[3]!);
    sim.runFor(50);
    expect(checkConvergence(sim, { requireDeadKnown: true }).converged).toBe(true);
    (sim.processOf(peers[0]!)!.membersView() as Map<string, SimMemberStatus>).delete(peers[3]!);
    expect(checkConvergence(sim).converged).toBe(true);
    const strict = checkConvergence(sim, { requireDeadKnown: true });
    expect(strict.disagreements).toEqual([{ observer: peers[0], subject: peers[3], expected: 'dead or left', actual: 'absent' }]);
    sim.pause(peers[1]!, 10_000);
    sim.partition([peers[2]!], [peers[0]!]);
    const partial = checkConvergence(sim);
    expect(partial.observersChecked).toBe(0);
    expect(partial.observersSkipped).toBe(3);
  });

  it('FalsePositiveCounter tells false suspicions and deaths from those about paused or crashed nodes', () => {
    const { sim, peers, counter } = heartbeatCluster(5);
    sim.runFor(500);
    sim.pause(peers[0]!, 2000);
    sim.runFor(2500);
    expect(counter.suspicionsWhilePaused).toBe(4);
    expect(counter.deadWhilePaused).toBe(4);
    expect(counter.falseDeaths).toBe(0);
    // On resume the paused node ticks before it reads the heartbeats that waited for it,
    // so it suspects all four peers, falsely: the case Lifeguard's local health is for.
    expect(counter.falseSuspicions).toBe(4);
    expect(counter.examples.every((e) => e.observer === peers[0] && e.kind === 'suspect' && e.simTimeMs === 2500)).toBe(true);
    expect(checkConvergence(sim).converged).toBe(true);
    // A partition makes live nodes suspect each other: those suspicions are false too.
    sim.partition([peers[1]!], [peers[2]!]);
    sim.runFor(600);
    expect(counter.falseSuspicions).toBe(6);
    sim.heal();
    sim.crash(peers[3]!);
    sim.runFor(2000);
    expect(counter.falseDeaths).toBe(0);
    expect(counter.deaths).toBe(4 + 4);
    const latencyMs = counter.detectionLatencyMs(peers[3]!, 3600);
    expect(latencyMs).toBeGreaterThan(kHeartbeatConfig.deadAfterMs - kHeartbeatConfig.heartbeatMs);
    expect(latencyMs).toBeLessThan(kHeartbeatConfig.deadAfterMs + 2 * kHeartbeatConfig.heartbeatMs);
  });

  it('reproLine escapes the name for vitest -t and the shell; withSeed reads GALAXY_SIM_SEED', () => {
    expect(reproLine(123, 'test/x.test.ts', 'name')).toBe('GALAXY_SIM_SEED=123 npx vitest run test/x.test.ts -t "name"');
    expect(reproLine(5, 'test/x.test.ts', 'crash + icmp "$HOME"')).toBe(
      'GALAXY_SIM_SEED=5 npx vitest run test/x.test.ts -t "crash \\\\+ icmp \\"\\\\\\$HOME\\""',
    );
    expect(withSeed(7, {})).toBe(7);
    expect(withSeed(7, { GALAXY_SIM_SEED: '42' })).toBe(42);
    expect(() => withSeed(7, { GALAXY_SIM_SEED: 'x' })).toThrow(/GALAXY_SIM_SEED must be an unsigned 32-bit integer/);
  });
});

describe('options', () => {
  it('are validated with messages that name the field', () => {
    expect(() => new NetworkSimulator({ lossRate: 1.5 })).toThrow('options.lossRate must be in [0, 1], got 1.5');
    expect(() => new NetworkSimulator({ latencyMsMin: 2, latencyMsMean: 1 })).toThrow(/options.latencyMsMean must be at least/);
    expect(() => new NetworkSimulator({ tickMs: 0 })).toThrow(/options.tickMs must be a finite number in \(0/);
    expect(() => new NetworkSimulator({ seed: -1 })).toThrow(/options.seed must be an integer from 0/);
    const sim = new NetworkSimulator({ nodesMax: 1 });
    sim.addNode(() => new ScriptedProcess(0, () => 0));
    expect(() => sim.addNode(() => new ScriptedProcess(0, () => 0))).toThrow(/options.nodesMax \(1\)/);
    expect(() => sim.crash('10.0.0.99:7946')).toThrow(/unknown node address/);
    expect(sim.settings.latencyMsMean).toBe(1);
    expect(Object.isFrozen(sim.settings)).toBe(true);
  });
});

describe('throughput (for information only, no timing asserts)', () => {
  it('prints events per second for a gossip-like load', () => {
    const nodeCount = 2000;
    const sim = new NetworkSimulator({ seed, lossRate: 0.01 });
    const addresses = Array.from({ length: nodeCount }, (_, i) => nodeAddress(i));
    const gossip = (): SimProcess => {
      let context!: SimContext;
      const message = new Uint8Array(64);
      return {
        start: (c) => (context = c),
        tick: () => context.sendDatagram(addresses[context.random.nextInt(nodeCount)]!, message),
        receiveDatagram: () => {},
        receiveFrame: () => {},
        unreachable: () => {},
        streamFailed: () => {},
        stop: () => {},
        membersView: () => new Map(),
      };
    };
    for (let i = 0; i < nodeCount; i++) sim.addNode(gossip);
    const startedMs = performance.now();
    sim.runFor(5000);
    const wallMs = performance.now() - startedMs;
    const { eventsProcessed, totals } = sim.stats();
    console.log(
      `sim throughput: ${eventsProcessed} events (${totals.datagramsSent} datagrams) in ${wallMs.toFixed(0)} ms wall = ` +
        `${Math.round(eventsProcessed / (wallMs / 1000)).toLocaleString('en')} events/s`,
    );
    expect(totals.datagramsReceived + totals.dropsLoss).toBeGreaterThan(totals.datagramsSent - nodeCount);
  });
});
