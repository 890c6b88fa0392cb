// Proves identity sharing (src/core/table/shared-identity.ts), the simulator's way of
// keeping one copy of the identity columns and id index for thousands of tables, changes
// nothing a table's reader can see, and that it saves what it claims:
// - kernels: on seeded random sequences of inserts, merges (new members, new addresses,
//   precedence), removals and upserts, a group of tables that share one identity and the
//   same group built privately answer every lookup alike and hold the same members
//   (ids, addresses, statuses, incarnations, heartbeats) after every step, with the TS
//   and the Wasm kernels; and the TS and Wasm kernels leave byte-identical memory;
// - the comparison can fail: a deliberately broken sharer (a write into the shared
//   table that skips the copy) is caught by it;
// - a simulated farm prepopulated with 48 nodes, with joins (claimed shared rows),
//   crashes, reaping (copies) and a restart, under loss and reordering, reports the same
//   things at the same times and sends the same bytes with and without sharing; every
//   prepopulated table still shares after the joins, and none after the reaping.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRuntime } from '../src/core/kernels/create-runtime.js';
import { membershipConfig } from '../src/core/membership/config.js';
import type { Runtime } from '../src/core/runtime/runtime.js';
import * as L from '../src/core/table/layout.js';
import { MembershipTable } from '../src/core/table/membership-table.js';
import { identityShared, sharedTableOf, writeSharingTable } from '../src/core/table/shared-identity.js';
import { Codec } from '../src/core/wire/codec.js';
import * as F from '../src/core/wire/format.js';
import type { MemberEntry, NodeId, WireAddress } from '../src/core/wire/message.js';
import { reproLine, withSeed } from '../src/sim/invariants.js';
import { NetworkSimulator } from '../src/sim/network-simulator.js';
import { SimulatedFarm } from '../src/sim/simulated-farm.js';
import { nodeAddress } from '../src/sim/node-address.js';

const kFile = 'test/sim-shared-identity.test.ts';
const kCapacity = 48;
const kTables = 4;
const kTemplateRows = 20;

function v4(last: number, port = 7946): WireAddress {
  const bytes = new Uint8Array(16);
  bytes.set([10, 0, 1, last]);
  return { family: 4, bytes, port };
}
const idOf = (n: number): NodeId => ({ high: 0x5eed, low: n });

/** One memory holding kTables tables, sharing one identity or each its own. */
class Group {
  readonly runtime: Runtime;
  readonly tables: MembershipTable[] = [];
  readonly codec: Codec;
  readonly out: number;
  readonly packet: number;

  constructor(backend: 'ts' | 'wasm', share: boolean) {
    this.runtime = createRuntime({ backend, memoryBytes: 8 << 20 });
    this.codec = new Codec(this.runtime, F.kFrameBytesMax >> 8, { messages: 4, entries: 256, payloadBytes: 65536 });
    this.out = this.runtime.allocate((L.kOutHeaderWords + 2 * 256) * 4, 8);
    this.packet = this.runtime.allocate(65536, 8);
    const template = MembershipTable.create(this.runtime, kCapacity);
    for (let i = 0; i < kTemplateRows; i++) template.upsert(idOf(i), v4(i), 1, F.kStatusAlive, 0);
    const bytes = template.bytes();
    for (let t = 0; t < kTables; t++) {
      const base = this.runtime.allocate(template.layout.totalBytes, 8);
      if (share) writeSharingTable(this.runtime.views, base, bytes, template.base);
      else this.runtime.views.u8.set(bytes, base);
      this.tables.push(new MembershipTable(this.runtime, base));
    }
  }

  merge(t: number, entries: MemberEntry[], nowMs: number): number[] {
    const bytes = this.codec.encode([{ type: F.kTypePushPullDigest, flags: 0, entries }]);
    this.runtime.views.u8.set(bytes, this.packet);
    const result = this.runtime.kernels.mergeDigest(this.tables[t]!.base, this.packet, bytes.length, 65536, nowMs, this.out, 256);
    const i32 = this.runtime.views.i32;
    const o = this.out >>> 2;
    const changes = [result];
    for (let i = 0; i < i32[o + L.kOutCountField]!; i++) changes.push(i32[o + L.kOutHeaderWords + 2 * i]!, i32[o + L.kOutHeaderWords + 2 * i + 1]!);
    return changes;
  }

  /** What a reader can see of table t: every member, and the answer to every lookup. */
  view(t: number): string {
    const table = this.tables[t]!;
    const rows = table.members().map((m) => `${m.row}:${m.id.low}@${[...m.address.bytes].join('.')}:${m.address.port}/${m.address.family} ${m.status} i${m.incarnation} h${m.heartbeat}`);
    const lookups: number[] = [];
    for (let n = 0; n < 60; n++) lookups.push(table.find(idOf(n)));
    return `${table.rowCount} ${table.size} | ${rows.join(' ')} | ${lookups.join(',')}`;
  }
}

type Step =
  | { kind: 'merge'; table: number; member: number; address: number; incarnation: number; status: number; heartbeat: number }
  | { kind: 'remove'; table: number; member: number }
  | { kind: 'upsert'; table: number; member: number; address: number };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('merge' as const), table: fc.nat(kTables - 1), member: fc.nat(34), address: fc.oneof({ weight: 5, arbitrary: fc.constant(-1) }, { weight: 1, arbitrary: fc.nat(200) }), incarnation: fc.integer({ min: 1, max: 4 }), status: fc.integer({ min: 1, max: 4 }), heartbeat: fc.nat(50) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('remove' as const), table: fc.nat(kTables - 1), member: fc.nat(34) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('upsert' as const), table: fc.nat(kTables - 1), member: fc.nat(40), address: fc.oneof(fc.constant(-1), fc.nat(200)) }) },
);

function apply(group: Group, step: Step, nowMs: number): string {
  const table = group.tables[step.table]!;
  const address = (a: number, member: number) => (a < 0 ? v4(member) : v4(a, 9000));
  if (step.kind === 'merge') {
    return group.merge(step.table, [{ id: idOf(step.member), address: address(step.address, step.member), incarnation: step.incarnation, heartbeat: step.heartbeat, status: step.status }], nowMs).join(',');
  }
  if (step.kind === 'remove') {
    const row = table.find(idOf(step.member));
    if (row >= 0 && (table.flags[row]! & L.kRowFlagSelf) === 0) table.remove(row);
    return String(row);
  }
  return String(table.upsert(idOf(step.member), address(step.address, step.member), 2, F.kStatusAlive, nowMs));
}

/** Runs steps on a sharing group and a private one; the first step where a reader could tell them apart, or null. */
function firstDifference(backend: 'ts' | 'wasm', steps: Step[], breakSharing = false): string | null {
  const shared = new Group(backend, true);
  const own = new Group(backend, false);
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i]!;
    const a = apply(shared, step, 1000 + i * 10);
    const b = apply(own, step, 1000 + i * 10);
    if (breakSharing && i === 0) {
      // A broken sharer: it writes a new address straight into the shared table.
      const table = shared.tables[0]!;
      const sharedBase = sharedTableOf(shared.runtime.views.u32, table.base);
      const sharedTable = new MembershipTable(shared.runtime, sharedBase);
      sharedTable.port[3] = 1234;
    }
    if (a !== b) return `steps ${JSON.stringify(steps.slice(0, i + 1))} step ${i} (${JSON.stringify(step)}): ${a} vs ${b}`;
    for (let t = 0; t < kTables; t++) {
      const x = shared.view(t);
      const y = own.view(t);
      if (x !== y) return `steps ${JSON.stringify(steps.slice(0, i + 1))} after step ${i} (${JSON.stringify(step)}), table ${t}: ${x} vs ${y}`;
    }
  }
  return null;
}

describe('identity sharing (kernels)', () => {
  for (const backend of ['ts', 'wasm'] as const) {
    const name = `a sharing group and a private one cannot be told apart on random steps (${backend})`;
    it(name, () => {
      const seed = withSeed(815);
      const check = fc.check(fc.property(fc.array(stepArb, { minLength: 1, maxLength: 80 }), (steps) => firstDifference(backend, steps) === null), { seed, numRuns: 150 });
      const found = check.counterexample === null ? null : firstDifference(backend, check.counterexample[0]);
      expect(found, reproLine(seed, kFile, name)).toBeNull();
    });
  }

  it('claims shared rows for new members, follows other tables\' claims, and copies only on divergence', () => {
    const group = new Group('wasm', true);
    const joiner = { id: idOf(30), address: v4(30), incarnation: 1, heartbeat: 1, status: F.kStatusAlive };
    for (let t = 0; t < kTables; t++) group.merge(t, [joiner], 100);
    expect(group.tables.every((table) => table.identityShared)).toBe(true);
    expect(group.tables.every((table) => table.find(idOf(30)) === kTemplateRows)).toBe(true);
    // Another address for a known member, at a higher incarnation: that table copies.
    group.merge(1, [{ ...joiner, address: v4(99), incarnation: 2 }], 200);
    expect(group.tables.map((table) => table.identityShared)).toEqual([true, false, true, true]);
    expect(group.tables[0]!.get(kTemplateRows).address.bytes[3]).toBe(30);
    expect(group.tables[1]!.get(kTemplateRows).address.bytes[3]).toBe(99);
    // A removal copies too.
    group.tables[2]!.remove(group.tables[2]!.find(idOf(4)));
    expect(identityShared(group.runtime.views.u32, group.tables[2]!.base)).toBe(false);
    expect(group.tables[3]!.find(idOf(4))).toBe(4);
  });

  it('leaves byte-identical memory with the TS and the Wasm kernels', () => {
    const seed = withSeed(816);
    {
      fc.assert(fc.property(fc.array(stepArb, { minLength: 1, maxLength: 60 }), (steps) => {
        const ts = new Group('ts', true);
        const wasm = new Group('wasm', true);
        steps.forEach((step, i) => { apply(ts, step, 1000 + i * 10); apply(wasm, step, 1000 + i * 10); });
        const end = wasm.tables[kTables - 1]!.base + wasm.tables[0]!.layout.totalBytes;
        return Buffer.compare(ts.runtime.views.u8.subarray(0, end), wasm.runtime.views.u8.subarray(0, end)) === 0;
      }), { seed, numRuns: 60 });
    }
  });

  it('the comparison catches a broken sharer that writes into the shared table', () => {
    const steps: Step[] = [{ kind: 'merge', table: 1, member: 2, address: -1, incarnation: 1, status: F.kStatusAlive, heartbeat: 3 }];
    expect(firstDifference('ts', steps, true)).toMatch(/table 0/);
    expect(firstDifference('ts', steps, false)).toBeNull();
  });
});

interface Trace {
  reports: string[];
  datagramBytes: number;
  /** Tables still sharing after the joins, and at the end (after reaping). */
  sharingAfterJoins: number;
  sharing: number;
}

function farmRun(seed: number, shareIdentity: boolean): Trace {
  const sim = new NetworkSimulator({ seed, nodesMax: 64, lossRate: 0.03, reorderRate: 0.05, skipIdleTicks: true });
  const config = membershipConfig({ membersMax: 64, tombstoneReapMs: 5000 }, 'lan');
  const addresses = Array.from({ length: 48 }, (_, i) => nodeAddress(i));
  const farm = new SimulatedFarm(sim, config, { prepopulate: addresses, runtimeBytes: 64 << 20, shareIdentity });
  const reports: string[] = [];
  sim.addReportListener({ onReport: (observer, event, at) => reports.push(`${at.toFixed(6)} ${observer} ${event.kind} ${event.subject}`) });
  for (let i = 0; i < 48; i++) farm.addMember(addresses.slice(0, 3));
  sim.runFor(3000);
  // One join after the other: every table lists them in the same rows, so all follow
  // the shared rows the first to hear of each joiner claimed.
  farm.addMember(addresses.slice(0, 2));
  sim.runFor(4000);
  farm.addMember(addresses.slice(2, 4));
  sim.runFor(4000);
  // Over the nodes that keep running (a crashed host's table stays as it was).
  const sharingOf = () => sim.nodes().filter((a) => a !== addresses[7] && farm.engineOf(a)?.table.identityShared).length;
  const sharingAfterJoins = sharingOf();
  sim.crashHost(addresses[7]!);
  sim.crash(addresses[11]!);
  sim.runFor(30_000);
  sim.restart(addresses[11]!);
  sim.runFor(10_000);
  return { reports, datagramBytes: sim.stats().totals.datagramBytesSent, sharingAfterJoins, sharing: sharingOf() };
}

describe('identity sharing (simulated farm)', () => {
  const name = 'a 48-node farm with joins, crashes, reaping and a restart reports the same with and without sharing';
  it(name, () => {
    const seed = withSeed(4242);
    {
      const shared = farmRun(seed, true);
      const own = farmRun(seed, false);
      const n = Math.max(shared.reports.length, own.reports.length);
      let difference: string | null = null;
      for (let i = 0; i < n && difference === null; i++) if (shared.reports[i] !== own.reports[i]) difference = `report ${i}: ${shared.reports[i]} vs ${own.reports[i]}`;
      expect(difference, reproLine(seed, kFile, name)).toBeNull();
      expect(shared.datagramBytes).toBe(own.datagramBytes);
      expect(shared.reports.some((r) => r.includes(' dead '))).toBe(true);
      // Joins are followed in the shared rows; reaping the dead copies every table.
      expect(own.sharingAfterJoins).toBe(0);
      expect(shared.sharingAfterJoins).toBe(47);
      expect(shared.sharing).toBe(0);
    }
  });
});
