// The stack simulator keeps its memory per node small by sharing between stacks what
// every node holds alike: one copy of each address text and sender id (internText,
// senderIdOf) and one FMIDB origin registry for all replicas (sharedRegistry). This
// proves the sharing invisible: a 60-node farm under 5% loss, with writes, a crash and
// a restart, run with the shared registry and with one registry per replica, takes the
// same number of events, every node first holds every write at the same simulated time,
// and every replica ends with the same digest and values. Bytes may differ by a few: a
// shared registry numbers rows farm-wide, so a replica's compare lists origins in
// another order, and a delta message encodes its groups' versions against the first
// group's (sendDeltas), so the order changes a varint's length now and then (7 bytes
// in 667,176 in one of these runs); they must agree within 0.1%. The comparison catches
// a farm where one node's stack drops FMIDB traffic.
import { describe, expect, it } from 'vitest';
import { membershipConfig } from '../src/core/membership/config.js';
import { channelByName } from '../src/core/messenger/channel-table.js';
import { decodeEnvelope, isEnvelope } from '../src/core/messenger/envelope.js';
import { NodeStack, type StackInput } from '../src/core/stack/node-stack.js';
import { reproLine, withSeed } from '../src/sim/invariants.js';
import { NetworkSimulator } from '../src/sim/network-simulator.js';
import { nodeAddress } from '../src/sim/node-address.js';
import { SimulatedStackFarm } from '../src/sim/simulated-stack-farm.js';

const kFile = 'test/stack-sim-sharing.test.ts';
const kNodes = 60;

/** A stack that drops every FMIDB message it receives: the broken farm the comparison must tell apart. */
class DeafToFmidb extends NodeStack {
  override step(input: StackInput): void {
    if ((input.type === 'datagram' || input.type === 'frame') && isEnvelope(input.bytes) && decodeEnvelope(input.bytes).channelId === channelByName('fmidb').id) return;
    super.step(input);
  }
}

interface Outcome {
  events: number;
  bytes: number;
  /** `node write` -> the simulated time the node first held it. */
  heldAt: Map<string, number>;
  /** Each live node's replica digest and values of the written keys. */
  replicas: Map<string, string>;
}

function run(seed: number, sharedRegistry: boolean, broken = false): Outcome {
  const sim = new NetworkSimulator({ seed, nodesMax: kNodes + 8, lossRate: 0.05 });
  const addresses = Array.from({ length: kNodes }, (_, i) => nodeAddress(i));
  const heldAt = new Map<string, number>();
  const farm = new SimulatedStackFarm(sim, {
    membership: membershipConfig({ membersMax: kNodes + 16 }, 'lan'),
    fmidb: { syncIntervalMs: 5000 },
    startsMax: kNodes + 8,
    prepopulate: addresses,
    sharedRegistry,
    makeStack: broken ? (options) => (options.address === nodeAddress(5) ? new DeafToFmidb(options) : new NodeStack(options)) : undefined,
    onEvent: (address, event, nowMs) => {
      if (event.layer !== 'fmidb' || event.change.cause !== 'write') return;
      const key = `${address} ${event.change.subject}/${event.change.key}`;
      if (!heldAt.has(key)) heldAt.set(key, nowMs);
    },
  });
  for (let i = 0; i < kNodes; i++) farm.addNode();
  sim.runFor(1000);
  const writers = addresses.slice(1, 11);
  for (const [i, a] of writers.entries()) farm.command(a, { type: 'write', writes: [{ subject: a, key: 'rack', value: `r${i}` }] });
  sim.runFor(2000);
  // A writer crashes and comes back: its restarted replica must catch up with the farm.
  sim.crash(writers[3]!);
  sim.runFor(3000);
  sim.restart(writers[3]!);
  farm.command(writers[0]!, { type: 'write', writes: [{ subject: 'farm', key: 'motd', value: 'later' }] });
  sim.runFor(12_000);
  const replicas = new Map<string, string>();
  for (const a of addresses) {
    const stack = farm.stackOf(a);
    if (stack === undefined) continue;
    const r = stack.fmidb.replica;
    replicas.set(a, [r.digestHash(), r.get('farm', 'motd'), ...writers.map((w) => r.get(w, 'rack'))].join(' '));
  }
  const totals = sim.stats().totals;
  return { events: sim.stats().eventsProcessed, bytes: totals.datagramBytesSent + totals.frameBytesSent, heldAt, replicas };
}

/** Where two runs differ, in a few lines (empty: none). */
function differences(a: Outcome, b: Outcome): string[] {
  const out: string[] = [];
  if (a.events !== b.events) out.push(`events ${a.events} vs ${b.events}`);
  if (Math.abs(a.bytes - b.bytes) > 0.001 * Math.max(a.bytes, b.bytes)) out.push(`bytes sent ${a.bytes} vs ${b.bytes}`);
  for (const key of new Set([...a.heldAt.keys(), ...b.heldAt.keys()])) {
    if (a.heldAt.get(key) !== b.heldAt.get(key)) out.push(`${key} held at ${a.heldAt.get(key)} vs ${b.heldAt.get(key)}`);
  }
  for (const key of new Set([...a.replicas.keys(), ...b.replicas.keys()])) {
    if (a.replicas.get(key) !== b.replicas.get(key)) out.push(`replica ${key}: ${a.replicas.get(key)} vs ${b.replicas.get(key)}`);
  }
  return out.slice(0, 8);
}

describe('stack simulator sharing', () => {
  it('a shared origin registry gives the same events, times and contents as one registry per replica', () => {
    const name = 'stack simulator sharing a shared origin registry gives the same events, times and contents as one registry per replica';
    for (const seed of [withSeed(3), withSeed(11)]) {
      const shared = run(seed, true);
      const own = run(seed, false);
      // The run did something: the writes reached nearly every node.
      expect(shared.heldAt.size, reproLine(seed, kFile, name)).toBeGreaterThan(10 * (kNodes - 5));
      expect(differences(shared, own), reproLine(seed, kFile, name)).toEqual([]);
    }
  }, 120_000);

  it('the comparison catches a farm where one stack drops FMIDB traffic', () => {
    const seed = withSeed(3);
    const name = 'stack simulator sharing the comparison catches a farm where one stack drops FMIDB traffic';
    expect(differences(run(seed, true), run(seed, true, true)).length, reproLine(seed, kFile, name)).toBeGreaterThan(0);
  }, 120_000);
});
