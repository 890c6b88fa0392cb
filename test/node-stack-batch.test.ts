// Proves NodeStack.receiveInBatch (the agent's per-batch receive path: no input object per
// datagram, the clock read once per batch by batchArrived) gives exactly what
// step({ type: 'datagram' }) gives: two copies of one stack, made from the same seed,
// receive the same datagrams from a third (membership and FMIDB envelopes alike), one
// through step() and one through batchArrived()+receiveInBatch(), and their outputs (every
// datagram's bytes, every frame, every event), their FMIDB and their live sets stay equal
// over a join, an FMIDB write and a death. The same run with a batch path that drops
// every second datagram of a batch (a broken variant) is caught.
import { describe, expect, it } from 'vitest';
import { resolveFmidbConfig } from '../src/core/fmidb/config.js';
import { FmidbMemory } from '../src/core/fmidb/fmidb-memory.js';
import { createFmidbRuntime } from '../src/core/kernels/fmidb-runtime.js';
import { createRuntime } from '../src/core/kernels/create-runtime.js';
import { membershipConfig } from '../src/core/membership/config.js';
import { NodeStack, type StackOutput } from '../src/core/stack/node-stack.js';
import { Prng } from '../src/core/util/prng.js';
import { parseWireAddress } from '../src/core/wire/message.js';
import { nodeIdOf } from '../src/core/wire/node-id-of.js';

const config = membershipConfig({ membersMax: 16 }, 'local');
const fmidbConfig = resolveFmidbConfig({ originsMax: 16 });

function stackAt(address: string, seeds: readonly string[], seed: number, backend: 'ts' | 'wasm'): NodeStack {
  const runtime = createRuntime({ backend, memoryBytes: 32 << 20 });
  const random = new Prng(seed);
  const stack = new NodeStack({
    address,
    nowMs: 0,
    membership: { config, runtime, id: nodeIdOf(address), address: parseWireAddress(address), seeds, random },
    fmidb: { config: fmidbConfig, random: random.fork(), memory: new FmidbMemory(createFmidbRuntime(fmidbConfig, 4, { backend: 'ts' }), fmidbConfig) },
    jobs: false,
  });
  stack.step({ type: 'command', command: { type: 'start' } });
  return stack;
}

function drain(stack: NodeStack): StackOutput[] {
  const out = stack.ready().slice();
  stack.advance();
  return out;
}

function comparable(outputs: readonly StackOutput[]): unknown[] {
  return outputs.map((o) => (o.type === 'event' ? o : { type: o.type, to: o.to, bytes: Array.from(o.bytes) }));
}

/** Runs the scenario; `broken` makes the batch path drop every second datagram of a batch. Returns whether the copies stayed equal. */
function run(backend: 'ts' | 'wasm', broken: boolean): { equal: boolean; batched: number } {
  const [aAddress, bAddress] = ['10.0.0.1:7946', '10.0.0.2:7946'];
  const a = stackAt(aAddress, [], 1, backend);
  const stepped = stackAt(bAddress, [aAddress], 2, backend);
  const batched = stackAt(bAddress, [aAddress], 2, backend);
  let nowMs = 0;
  let equal = true;
  let delivered = 0;
  const compare = (): StackOutput[] => {
    const one = drain(stepped);
    const two = drain(batched);
    if (JSON.stringify(comparable(one)) !== JSON.stringify(comparable(two))) equal = false;
    return one;
  };
  const exchange = (): void => {
    // b → a: the stepped copy's outputs stand for b's (the batched copy's are compared with them).
    for (const o of compare()) {
      if (o.type === 'event' || o.to !== aAddress) continue;
      a.step(o.type === 'datagram' ? { type: 'datagram', from: bAddress, bytes: o.bytes } : { type: 'frame', from: bAddress, bytes: o.bytes });
    }
    // a → b: datagrams as one batch to the batched copy, one step each to the stepped copy.
    const toB = drain(a).filter((o) => o.type !== 'event' && o.to === bAddress);
    batched.batchArrived();
    toB.forEach((o, i) => {
      if (o.type === 'event') return;
      if (o.type === 'frame') {
        stepped.step({ type: 'frame', from: aAddress, bytes: o.bytes });
        batched.step({ type: 'frame', from: aAddress, bytes: o.bytes });
        return;
      }
      stepped.step({ type: 'datagram', from: aAddress, bytes: o.bytes });
      if (!(broken && i % 2 === 1)) batched.receiveInBatch(aAddress, o.bytes);
      delivered++;
    });
  };
  const runMs = (ms: number, bAlive = true): void => {
    for (const end = nowMs + ms; nowMs < end; nowMs += 10) {
      a.tick(nowMs);
      if (bAlive) {
        stepped.tick(nowMs);
        batched.tick(nowMs);
        exchange();
      } else drain(a);
    }
  };
  runMs(500);
  a.step({ type: 'command', command: { type: 'write', writes: [{ subject: aAddress, key: 'rack', value: 'r7' }] } });
  runMs(2_000);
  if (stepped.fmidb.replica.get(aAddress, 'rack') !== 'r7' || batched.fmidb.replica.get(aAddress, 'rack') !== 'r7') equal = false;
  if ([...stepped.liveMembers()].sort().join() !== [...batched.liveMembers()].sort().join()) equal = false;
  // a falls silent: both copies declare it dead on the same tick.
  for (const end = nowMs + 30_000; nowMs < end; nowMs += 10) {
    stepped.tick(nowMs);
    batched.tick(nowMs);
    compare();
  }
  if (stepped.liveMembers().has(aAddress) || [...stepped.liveMembers()].join() !== [...batched.liveMembers()].join()) equal = false;
  return { equal, batched: delivered };
}

describe('NodeStack.receiveInBatch', () => {
  for (const backend of ['ts', 'wasm'] as const) {
    it(`gives exactly what step({ type: 'datagram' }) gives (${backend} kernels)`, () => {
      const result = run(backend, false);
      expect(result.batched).toBeGreaterThan(50);
      expect(result.equal).toBe(true);
    });
  }

  it('catches a batch path that loses datagrams (the broken variant)', () => {
    expect(run('ts', true).equal).toBe(false);
  });
});
