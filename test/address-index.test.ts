/**
 * Proves that the AddressIndex answers "which row has this address" exactly as the scan
 * it replaced (issue 14's starting point, bench/baseline-row-of-address.ts, which formats
 * every row): fast-check drives random inserts, removals (rows are reused from the free
 * list) and changes of address on a real MembershipTable, with IPv4, IPv6, shared and
 * missing addresses, refreshing the touched row as the engine does; after every step
 * both are asked about every address of the pool, '-', a non-canonical IPv6 text and a
 * non-address, with and without an excluded row. A deliberately broken index (not told
 * of changes of address) is caught by the same property. scan() (no index) and textOf
 * (the cached formatting of reply-to addresses) are checked against the same references. A gossip simulation with churn
 * then checks the engine's own index against the scan over every member it knows.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { scanRowOfAddress } from '../bench/baseline-row-of-address.js';
import { AddressIndex } from '../src/core/membership/address-index.js';
import { membershipConfig } from '../src/core/membership/config.js';
import { SimulatedFarm } from '../src/sim/simulated-farm.js';
import { createRuntime } from '../src/core/kernels/create-runtime.js';
import { reproLine, withSeed } from '../src/sim/invariants.js';
import { NetworkSimulator } from '../src/sim/network-simulator.js';
import { MembershipTable } from '../src/core/table/membership-table.js';
import * as F from '../src/core/wire/format.js';
import { formatWireAddress, kNoAddress, parseWireAddress, type WireAddress } from '../src/core/wire/message.js';

const pool = ['10.0.0.1:7946', '10.0.0.1:7947', '10.0.0.2:7946', '[fd00:0:0:0:0:0:0:1]:7946', '[fd00:0:0:0:0:0:0:2]:7946', '-'];
const questions = [...pool, '[fd00::1]:7946', 'not an address', '10.0.0.3:7946'];
const addressOf = (i: number): WireAddress => (pool[i] === '-' ? kNoAddress : parseWireAddress(pool[i]!));

type Step = { op: 'upsert'; id: number; address: number } | { op: 'remove'; id: number } | { op: 'readdress'; id: number; address: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ op: fc.constant('upsert' as const), id: fc.integer({ min: 1, max: 24 }), address: fc.integer({ min: 0, max: pool.length - 1 }) }),
  fc.record({ op: fc.constant('remove' as const), id: fc.integer({ min: 1, max: 24 }) }),
  fc.record({ op: fc.constant('readdress' as const), id: fc.integer({ min: 1, max: 24 }), address: fc.integer({ min: 0, max: pool.length - 1 }) }),
);

/** Replays steps on a table; the first question the index answers differently, or null. */
function firstDifference(steps: readonly Step[], refreshOnReaddress: boolean): string | null {
  const runtime = createRuntime({ backend: 'ts', memoryBytes: 1 << 20 });
  // 32 rows: 64 slots, so churn fills them with deleted slots and forces rebuilds too.
  const table = MembershipTable.create(runtime, 32);
  const index = new AddressIndex(table, 0);
  for (const [n, s] of steps.entries()) {
    const id = { high: 7, low: s.id };
    const found = table.find(id);
    if (s.op === 'upsert') index.refresh(table.upsert(id, addressOf(s.address), 1, F.kStatusAlive, 0));
    else if (found >= 0 && s.op === 'remove') {
      table.remove(found);
      index.refresh(found);
    } else if (found >= 0 && s.op === 'readdress') {
      table.setAddress(found, addressOf(s.address));
      if (refreshOnReaddress) index.refresh(found);
    }
    for (const question of questions) {
      for (const except of [-1, 0, 1, found]) {
        const expected = scanRowOfAddress(table, except, question);
        const actual = index.rowOf(question, except);
        if (expected !== actual) return `step ${n}: rowOf(${question}, except ${except}) = ${actual}, expected ${expected}`;
      }
    }
  }
  return null;
}

function counterexample(refreshOnReaddress: boolean): string | null {
  const result = fc.check(fc.property(fc.array(step, { maxLength: 150 }), (steps) => firstDifference(steps, refreshOnReaddress) === null), { numRuns: 300, seed: 14 });
  return result.failed ? `seed ${result.seed}, path ${result.counterexamplePath}` : null;
}

describe('address index: same answers as the formatting scan', () => {
  it('agrees with the scan on random inserts, removals and changes of address', () => {
    expect(counterexample(true)).toBeNull();
  });

  it('the comparison catches an index that is not told of changes of address', () => {
    expect(counterexample(false)).not.toBeNull();
  });

  it('textOf formats like formatWireAddress, cached or not', () => {
    const runtime = createRuntime({ backend: 'ts', memoryBytes: 1 << 20 });
    const table = MembershipTable.create(runtime, 64);
    const cached = new AddressIndex(table, 4);
    const uncached = new AddressIndex(table, 0);
    fc.assert(
      fc.property(fc.constantFrom(0, 4, 6), fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.integer({ min: 0, max: 65535 }), (family, bytes, port) => {
        const expected = formatWireAddress({ family: family as 0 | 4 | 6, bytes, port });
        expect(cached.textOf(family, bytes, 0, port)).toBe(expected);
        expect(cached.textOf(family, bytes, 0, port)).toBe(expected);
        expect(uncached.textOf(family, bytes, 0, port)).toBe(expected);
      }),
      { numRuns: 300, seed: 14 },
    );
  });

  it('scan() gives rowOf()\'s answers without building the index', () => {
    const runtime = createRuntime({ backend: 'ts', memoryBytes: 1 << 20 });
    const table = MembershipTable.create(runtime, 64);
    for (let i = 0; i < 40; i++) table.upsert({ high: 2, low: i }, addressOf(i % pool.length), 1, F.kStatusAlive, 0);
    const index = new AddressIndex(table, 0);
    for (const question of questions) for (const except of [-1, 0, 5]) expect(index.scan(question, except)).toBe(scanRowOfAddress(table, except, question));
  });

  it('rebuild() files a table filled by someone else', () => {
    const runtime = createRuntime({ backend: 'ts', memoryBytes: 1 << 20 });
    const table = MembershipTable.create(runtime, 64);
    const index = new AddressIndex(table, 0);
    expect(index.rowOf(pool[0]!, -1)).toBe(-1); // built, on an empty table
    for (let i = 0; i < 40; i++) table.upsert({ high: 1, low: i }, addressOf(i % pool.length), 1, F.kStatusAlive, 0);
    index.rebuild();
    for (const question of questions) expect(index.rowOf(question, 0)).toBe(scanRowOfAddress(table, 0, question));
  });
});

/** The engine's shared context (private to the facade): where its address index lives since the engine's split. */
const contextOf = (engine: object): { rowOfAddress(text: string): number } => (engine as unknown as { ctx: { rowOfAddress(text: string): number } }).ctx;

describe('address index inside the engine', () => {
  it('matches the scan in every engine of a simulated farm after crashes, reaps and new members reusing rows', () => {
    const seed = withSeed(1414);
    const sim = new NetworkSimulator({ seed, nodesMax: 40 });
    const farm = new SimulatedFarm(sim, membershipConfig({ membersMax: 64, tombstoneReapMs: 3_000 }, 'local'), { runtimeBytes: 64 << 20 });
    const first = farm.addMember();
    for (let i = 1; i < 16; i++) farm.addMember([first]);
    sim.runFor(5_000);
    // Build every engine's index now, so that the churn below reaches it through refresh().
    for (const address of sim.nodes()) contextOf(farm.engineOf(address)!).rowOfAddress(address);
    for (const victim of sim.nodes().slice(3, 7)) sim.crashHost(victim);
    sim.runFor(20_000);
    for (let i = 0; i < 6; i++) farm.addMember([first]);
    sim.runFor(10_000);
    let checked = 0;
    let reused = 0;
    for (const address of sim.nodes()) {
      const engine = farm.engineOf(address);
      if (engine === undefined) continue;
      // 22 members were ever known: fewer rows means reaped rows were handed out again.
      if (engine.table.rowCount < 22) reused++;
      const context = contextOf(engine);
      const rowOf = (text: string): number => context.rowOfAddress(text);
      for (const question of [...sim.nodes(), '-', '127.0.0.1:1']) {
        expect(rowOf(question), `${reproLine(seed, 'test/address-index.test.ts', 'address index inside the engine')}\n${address} asked about ${question}`).toBe(scanRowOfAddress(engine.table, engine.selfRow, question));
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(300);
    expect(reused).toBeGreaterThan(0);
  });
});
