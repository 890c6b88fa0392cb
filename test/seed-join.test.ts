// Proves the stack's 'join' command (a seed list changed while the node runs, issue 16)
// on NodeStacks driven by hand, their outputs delivered directly (no simulator, no
// sockets). A node alone joins through the new seeds at once: its first output after the
// command is a full-state frame to each seed, and the two nodes see each other soon
// after; the same scenario without the command is the control that fails (the lone node
// never reaches the other). A node that lost every member to a partition rejoins through
// a new seed the same way. A connected node sends nothing to a new seed at the command
// and then contacts it at most once per reconnect interval (no burst); a seed list that
// names itself is ignored for itself. The expected frames are counted from the outputs,
// so a stack that ignored the command, or flooded, fails these checks. In a secure farm
// the admission client of a node waiting for its grant takes the new seeds too: its next
// tick asks them (not after its 5 s pause), the old ones no more; a node not waiting
// sends nothing.
import { describe, expect, it } from 'vitest';
import { AdmissionClient, type AdmissionClientOutput } from '../src/farm/admission/admission-client.js';
import { generateNodeKeys } from '../src/farm/admission/node-keys.js';
import { createRuntime } from '../src/core/kernels/create-runtime.js';
import { membershipConfig } from '../src/core/membership/config.js';
import { NodeStack, type StackOutput } from '../src/core/stack/node-stack.js';
import { Prng } from '../src/core/util/prng.js';
import { parseWireAddress } from '../src/core/wire/message.js';
import { nodeIdOf } from '../src/core/wire/node-id-of.js';

const config = membershipConfig({ membersMax: 16 }, 'local');
const [aAddress, bAddress, cAddress] = ['10.0.0.1:7946', '10.0.0.2:7946', '10.0.0.3:7946'];

function stackAt(address: string, seeds: readonly string[], seed: number): NodeStack {
  const runtime = createRuntime({ backend: 'ts', memoryBytes: 32 << 20 });
  const stack = new NodeStack({ address, nowMs: 0, membership: { config, runtime, id: nodeIdOf(address), address: parseWireAddress(address), seeds, random: new Prng(seed) }, jobs: false });
  stack.step({ type: 'command', command: { type: 'start' } });
  return stack;
}

/** Stacks exchanging their outputs directly; `cut` addresses receive nothing and send nothing. */
class Wire {
  nowMs = 0;
  readonly stacks = new Map<string, NodeStack>();
  readonly cut = new Set<string>();
  /** Frames sent per (from, to) since the last reset. */
  readonly frames = new Map<string, number>();

  add(address: string, seeds: readonly string[], seed: number): NodeStack {
    const stack = stackAt(address, seeds, seed);
    this.stacks.set(address, stack);
    return stack;
  }

  /** Outputs of `from` right now, delivered; returns them. */
  deliverFrom(from: string): StackOutput[] {
    const stack = this.stacks.get(from)!;
    const out = stack.ready().slice();
    stack.advance();
    for (const o of out) {
      if (o.type === 'event') continue;
      if (o.type === 'frame') this.frames.set(`${from}>${o.to}`, (this.frames.get(`${from}>${o.to}`) ?? 0) + 1);
      if (this.cut.has(from) || this.cut.has(o.to)) continue;
      this.stacks.get(o.to)?.step(o.type === 'datagram' ? { type: 'datagram', from, bytes: o.bytes } : { type: 'frame', from, bytes: o.bytes });
    }
    return out;
  }

  runMs(ms: number): void {
    for (const end = this.nowMs + ms; this.nowMs < end; this.nowMs += 10) {
      for (const s of this.stacks.values()) s.tick(this.nowMs);
      for (const from of this.stacks.keys()) this.deliverFrom(from);
    }
  }

  live(address: string): string[] {
    return [...this.stacks.get(address)!.liveMembers()].sort();
  }
}

describe("the stack's join command", () => {
  it('makes a node alone join through the new seeds at once; without it the node stays alone', () => {
    for (const withCommand of [true, false]) {
      const wire = new Wire();
      wire.add(aAddress, [], 1);
      const b = wire.add(bAddress, [], 2);
      wire.runMs(3000);
      expect(wire.live(bAddress)).toEqual([bAddress]);
      if (withCommand) {
        b.step({ type: 'command', command: { type: 'join', seeds: [aAddress, bAddress] } });
        // The command's own output: one full state to the seed, none to itself.
        const out = wire.deliverFrom(bAddress).filter((o) => o.type === 'frame');
        expect(out.map((o) => o.type === 'frame' && o.to)).toEqual([aAddress]);
      }
      wire.runMs(1000);
      expect(wire.live(bAddress)).toEqual(withCommand ? [aAddress, bAddress] : [bAddress]);
      expect(wire.live(aAddress)).toEqual(withCommand ? [aAddress, bAddress] : [aAddress]);
    }
  });

  it('makes a node that lost every member to a partition rejoin through a new seed', () => {
    const wire = new Wire();
    wire.add(aAddress, [], 1);
    const b = wire.add(bAddress, [aAddress], 2);
    wire.add(cAddress, [aAddress], 3);
    wire.runMs(2000);
    expect(wire.live(bAddress)).toEqual([aAddress, bAddress, cAddress]);
    // B is cut off long enough to declare the others dead: it is alone.
    wire.cut.add(bAddress);
    wire.runMs(30_000);
    expect(wire.live(bAddress)).toEqual([bAddress]);
    // The partition heals only towards C (A stays unreachable: B's old seed is gone), and the seed file now names C.
    wire.cut.delete(bAddress);
    wire.cut.add(aAddress);
    b.step({ type: 'command', command: { type: 'join', seeds: [cAddress] } });
    expect(wire.deliverFrom(bAddress).filter((o) => o.type === 'frame').map((o) => o.type === 'frame' && o.to)).toEqual([cAddress]);
    wire.runMs(500);
    expect(wire.live(bAddress)).toContain(cAddress);
    expect(wire.live(cAddress)).toContain(bAddress);
  });

  it('makes a connected node send nothing at the command, then contact a new seed at most once per reconnect interval', () => {
    const wire = new Wire();
    const a = wire.add(aAddress, [], 1);
    wire.add(bAddress, [aAddress], 2);
    wire.runMs(2000);
    expect(wire.live(aAddress)).toEqual([aAddress, bAddress]);
    // C is a seed A cannot reach (in another partition): A keeps trying, slowly.
    wire.cut.add(cAddress);
    wire.add(cAddress, [], 3);
    a.step({ type: 'command', command: { type: 'join', seeds: [cAddress] } });
    expect(wire.deliverFrom(aAddress).filter((o) => o.type === 'frame')).toEqual([]);
    const intervals = 10;
    wire.runMs(intervals * config.reconnectIntervalMs);
    const sent = wire.frames.get(`${aAddress}>${cAddress}`) ?? 0;
    expect(sent).toBeGreaterThanOrEqual(1);
    expect(sent).toBeLessThanOrEqual(intervals + 1);
    // Once C is reachable, A's reconnect timer brings it in: the seed was taken, not only logged.
    wire.cut.delete(cAddress);
    wire.runMs(2 * config.reconnectIntervalMs + 1000);
    expect(wire.live(aAddress)).toEqual([aAddress, bAddress, cAddress]);
  });
});

describe("the admission client's seeds", () => {
  const sentTo = (out: readonly AdmissionClientOutput[]): string[] => out.flatMap((o) => (o.t === 'send' ? [o.to] : [])).sort();
  const drain = (client: AdmissionClient): AdmissionClientOutput[] => {
    const out = client.ready().slice();
    client.advance();
    return out;
  };

  it('asks the new seeds at its next tick while waiting, and nothing when not waiting', () => {
    const client = new AdmissionClient({ id: '00000000000000b2', address: bAddress, roles: [], keys: generateNodeKeys(), seeds: [aAddress], pinnedCaFingerprint: null }, null);
    let nowMs = 1_700_000_000_000;
    // Not waiting yet: new seeds are only kept.
    client.tick(nowMs);
    client.step({ t: 'seeds', addresses: [aAddress] });
    client.tick(nowMs);
    expect(drain(client)).toEqual([]);
    client.step({ t: 'want', epoch: 1 });
    expect(sentTo(drain(client))).toEqual([aAddress]);
    // Past the fast phase: rounds are 5 s apart.
    for (const end = nowMs + 40_000; nowMs < end; nowMs += 100) client.tick(nowMs);
    drain(client);
    // Just after a round: the next one is 5 s away.
    while (sentTo(drain(client)).length === 0) client.tick((nowMs += 100));
    expect(client.nextTickAtMs()! - nowMs).toBe(5000);
    nowMs += 100;
    client.step({ t: 'seeds', addresses: [cAddress, bAddress] });
    client.tick(nowMs);
    // The new seed at once; never itself; the old seed no more.
    expect(sentTo(drain(client))).toEqual([cAddress]);
  });
});
