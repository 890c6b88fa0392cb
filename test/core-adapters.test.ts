// Proves the SansIoCore adapters of the membership engine and the FMIDB replica keep
// the contract (src/core/contract.ts): nothing happens without step or tick; outputs
// wait in ready() until advance() drops them, and their bytes are copies the driver
// may keep past the next call; time is only what tick() said. Two membership cores
// join through a seed and see each other alive; two FMIDB cores replicate a write and
// hide a departed node's record.
import { describe, expect, it } from 'vitest';
import { resolveFmidbConfig } from '../src/core/fmidb/config.js';
import { FmidbCore, type FmidbOutput } from '../src/core/fmidb/fmidb-core.js';
import { FmidbMemory } from '../src/core/fmidb/fmidb-memory.js';
import { createFmidbRuntime } from '../src/core/kernels/fmidb-runtime.js';
import { createRuntime } from '../src/core/kernels/create-runtime.js';
import { membershipConfig } from '../src/core/membership/config.js';
import { MembershipCore, type MembershipOutput } from '../src/core/membership/membership-core.js';
import { Prng } from '../src/core/util/prng.js';
import { parseWireAddress } from '../src/core/wire/message.js';
import { nodeIdOf } from '../src/core/wire/node-id-of.js';

describe('MembershipCore', () => {
  it('joins through a seed with outputs drained from ready(), and keeps copies of the bytes', () => {
    const config = membershipConfig({ membersMax: 16 }, 'local');
    const make = (address: string, seeds: string[], seed: number): MembershipCore =>
      new MembershipCore({ config, runtime: createRuntime({ backend: 'ts', memoryBytes: 32 << 20 }), id: nodeIdOf(address), address: parseWireAddress(address), seeds, random: new Prng(seed), nowMs: 0 });
    const a = make('10.0.0.1:7946', [], 1);
    const b = make('10.0.0.2:7946', ['10.0.0.1:7946'], 2);
    expect(a.ready()).toEqual([]);
    a.step({ type: 'start' });
    b.step({ type: 'start' });
    const first = b.ready().slice();
    expect(first.some((o) => o.type === 'frame' && o.to === '10.0.0.1:7946')).toBe(true);
    expect(b.ready()).toEqual(first);
    const kept = first.map((o) => (o.type === 'frame' || o.type === 'datagram' ? o.bytes.slice() : null));
    b.advance();
    expect(b.ready()).toEqual([]);
    const cores = new Map([
      ['10.0.0.1:7946', a],
      ['10.0.0.2:7946', b],
    ]);
    const joins: string[] = [];
    const deliver = (from: string, out: readonly MembershipOutput[]): void => {
      for (const o of out) {
        if (o.type === 'event' && o.event.type === 'join') joins.push(`${from} sees ${o.event.address}`);
        if (o.type === 'datagram') cores.get(o.to)!.step({ type: 'datagram', from, bytes: o.bytes });
        if (o.type === 'frame') cores.get(o.to)!.step({ type: 'frame', from, bytes: o.bytes });
      }
    };
    deliver('10.0.0.2:7946', first);
    // The batch's bytes were not overwritten by later calls into the engines (they are copies).
    first.forEach((o, i) => {
      if (o.type === 'frame' || o.type === 'datagram') expect(o.bytes).toEqual(kept[i]);
    });
    for (let now = 10; now <= 2000; now += 10) {
      for (const [address, core] of cores) {
        core.tick(now);
        const out = core.ready().slice();
        core.advance();
        deliver(address, out);
      }
    }
    expect(joins.sort()).toEqual(['10.0.0.1:7946 sees 10.0.0.2:7946', '10.0.0.2:7946 sees 10.0.0.1:7946']);
    expect(a.engine.aliveCount).toBe(2);
  });
});

describe('FmidbCore', () => {
  it('replicates a write through drained sends, and hides a departed node', () => {
    const config = resolveFmidbConfig({ originsMax: 16, gossipIntervalMs: 50 });
    const memory = new FmidbMemory(createFmidbRuntime(config, 2, { backend: 'ts' }), config);
    const a = new FmidbCore({ selfId: 'a', config, random: new Prng(1), memory, nowMs: 0 });
    const b = new FmidbCore({ selfId: 'b', config, random: new Prng(2), memory, nowMs: 0 });
    const cores = new Map([
      ['a', a],
      ['b', b],
    ]);
    a.step({ type: 'peers', alive: ['a', 'b'] });
    b.step({ type: 'peers', alive: ['a', 'b'] });
    a.step({ type: 'write', writes: [{ subject: 'a', key: 'rack', value: 'r1' }] });
    const changes: string[] = [];
    const run = (fromMs: number, toMs: number): void => {
      for (let now = fromMs; now <= toMs; now += 10) {
        for (const [id, core] of cores) {
          core.tick(now);
          const out: FmidbOutput[] = core.ready().slice();
          core.advance();
          for (const o of out) {
            if (o.type === 'change') changes.push(`${id}: ${o.change.subject}/${o.change.key}=${String(o.change.value)}`);
            else cores.get(o.to)!.step({ type: 'message', from: id, bytes: o.bytes, stream: o.stream });
          }
        }
      }
    };
    run(0, 1000);
    expect(b.replica.get('a', 'rack')).toBe('r1');
    expect(changes).toContain('b: a/rack=r1');
    b.step({ type: 'departed', id: 'a' });
    expect(b.ready().map((o) => (o.type === 'change' ? `${o.change.subject}/${o.change.key}=${String(o.change.value)} (${o.change.cause})` : o.type))).toEqual(['a/rack=null (departed)']);
    b.advance();
    expect(b.replica.get('a', 'rack')).toBeUndefined();
  });
});
