// Proves that a node restarted with the same id and an empty replica gets back every
// write of its own origin that its peers hold, whatever it writes before its first sync
// (the agent publishes its address at boot): its sync digest and pulls state its own
// origin at what this life held before its first write, and the peer's answer merges by
// last writer wins per key. The replica built with ownBackfill: false (the code before
// the fix) loses the earlier life's writes in the same runs, which these tests check too.
// Replicas are driven in-process with a manual clock and synchronous delivery.
import { describe, expect, it } from 'vitest';
import { resolveFmidbConfig, type FmidbOptions } from '../src/core/fmidb/config.js';
import { FmidbMemory } from '../src/core/fmidb/fmidb-memory.js';
import { FmidbReplica } from '../src/core/fmidb/fmidb-replica.js';
import { createFmidbRuntime } from '../src/core/kernels/fmidb-runtime.js';
import { Prng } from '../src/core/util/prng.js';

const kBase: FmidbOptions = { originsMax: 64, streamFrameBytesMax: 8192, gossipIntervalMs: 100, syncIntervalMs: 0, announceBatchMin: 1 };

class Net {
  nowMs = 1_000_000;
  readonly replicas = new Map<string, FmidbReplica>();
  readonly memory: FmidbMemory;
  cut: (from: string, to: string, stream: boolean) => boolean = () => false;
  /** Every message sent, in order, as text (the kernel twin test compares them). */
  readonly trace: string[] = [];
  private seed = 1;

  constructor(readonly options: FmidbOptions = {}, backend: 'auto' | 'wasm' | 'ts' = 'auto') {
    const config = resolveFmidbConfig({ ...kBase, ...options });
    this.memory = new FmidbMemory(createFmidbRuntime(config, 8, { backend }), config);
  }

  add(id: string, ownBackfill = true): FmidbReplica {
    const r = new FmidbReplica({ selfId: id, config: { ...kBase, ...this.options }, random: new Prng(this.seed++), nowMs: () => this.nowMs, memory: this.memory, ownBackfill });
    this.replicas.set(id, r);
    return r;
  }

  meet(): void {
    const ids = [...this.replicas.keys()];
    for (const r of this.replicas.values()) r.peersChanged(ids);
    this.deliver();
  }

  deliver(): void {
    for (let round = 0; round < 1000; round++) {
      const mail: Array<{ from: string; to: string; bytes: Uint8Array; stream: boolean }> = [];
      for (const [id, r] of this.replicas) for (const m of r.drainOutbox()) mail.push({ from: id, to: m.to, bytes: m.bytes.slice(), stream: m.stream });
      if (mail.length === 0) return;
      for (const m of mail) this.trace.push(`${m.from}>${m.to}${m.stream ? 's' : 'd'}:${Buffer.from(m.bytes).toString('hex')}`);
      for (const m of mail) if (!this.cut(m.from, m.to, m.stream)) this.replicas.get(m.to)?.receive(m.from, m.bytes, m.stream);
    }
    throw new Error('the replicas never went quiet');
  }

  run(ms: number, stepMs = 50): void {
    for (let t = 0; t < ms; t += stepMs) {
      this.nowMs += stepMs;
      for (const r of this.replicas.values()) r.tick();
      this.deliver();
    }
  }

  hashes(): Set<string> {
    return new Set([...this.replicas.values()].map((r) => r.digestHash()));
  }
}

/** Three replicas; b writes two attributes that replicate, then restarts empty and writes at boot before meeting anyone. */
function restartScenario(ownBackfill: boolean, cut?: (from: string, to: string, stream: boolean) => boolean, backend: 'auto' | 'wasm' | 'ts' = 'auto'): { net: Net; b2: FmidbReplica } {
  const net = new Net({}, backend);
  net.add('a');
  const b = net.add('b');
  net.add('c');
  net.meet();
  b.setMany([{ subject: 'b', key: 'rack', value: 'r7' }, { subject: 'b', key: 'address', value: '10.0.0.2:7946' }]);
  b.set('a', 'role', 'db'); // an attribute b set on behalf of another node
  net.run(1000);
  expect(net.replicas.get('a')!.get('b', 'rack')).toBe('r7');
  net.nowMs += 5000; // b is SIGKILLed and restarts with an empty replica
  const b2 = net.add('b', ownBackfill);
  b2.set('b', 'address', '10.0.0.2:7950'); // written at boot, before any sync
  if (cut !== undefined) net.cut = cut;
  net.meet();
  net.run(3000);
  return { net, b2 };
}

describe('FMIDB restart with an empty replica', () => {
  it('gets back the writes of its earlier life from the sync answer; its newer write of a key wins', () => {
    const { net, b2 } = restartScenario(true);
    expect(b2.get('b', 'rack')).toBe('r7');
    expect(b2.get('a', 'role')).toBe('db');
    expect(b2.get('b', 'address')).toBe('10.0.0.2:7950');
    expect(net.replicas.get('a')!.get('b', 'address')).toBe('10.0.0.2:7950');
    expect(b2.counters.ownBackfilled).toBeGreaterThan(0);
    expect(b2.ownBackfillVersion).toBeNull(); // synced: it states its true version again
    expect(net.hashes().size).toBe(1);
  });

  it('the replica without the back-fill (the code before the fix) loses them: the broken variant this test catches', () => {
    const { net, b2 } = restartScenario(false);
    expect(b2.get('b', 'rack')).toBeUndefined();
    expect(b2.get('a', 'role')).toBeUndefined();
    expect(net.replicas.get('a')!.get('b', 'rack')).toBe('r7');
    expect(net.hashes().size).toBeGreaterThan(1);
  });

  it('gets them back through announcements and pulls when every stream is lost (no sync arrives)', () => {
    const streamsCut = (_from: string, _to: string, stream: boolean): boolean => stream;
    const { net, b2 } = restartScenario(true, streamsCut);
    expect(b2.get('b', 'rack')).toBe('r7');
    expect(b2.get('a', 'role')).toBe('db');
    expect(net.replicas.get('c')!.get('b', 'address')).toBe('10.0.0.2:7950');
    expect(net.hashes().size).toBe(1);
    const broken = restartScenario(false, streamsCut);
    expect(broken.b2.get('b', 'rack')).toBeUndefined();
  });

  it('a new node whose peers hold nothing of it stops stating an older version after its first sync', () => {
    const net = new Net();
    net.add('a');
    net.add('c');
    net.meet();
    net.run(500);
    const d = net.add('d');
    d.set('d', 'address', '10.0.0.4:7946');
    expect(d.ownBackfillVersion).toBe(-1);
    net.meet();
    net.run(2000);
    expect(d.ownBackfillVersion).toBeNull();
    expect(d.counters.ownBackfilled).toBe(0);
    expect(net.replicas.get('a')!.get('d', 'address')).toBe('10.0.0.4:7946');
    expect(net.hashes().size).toBe(1);
  });

  it('a back-fill cut into several frames merges on to the end', () => {
    const net = new Net({ streamFrameBytesMax: 2048, keysPerNodeMax: 512, batchEntriesMax: 16 });
    net.add('a');
    const b = net.add('b');
    net.meet();
    for (let i = 0; i < 20; i++) {
      b.setMany(Array.from({ length: 16 }, (_, k) => ({ subject: 'b', key: `k${i}-${k}`, value: `value-${i}-${k}-padding-padding` })));
      net.run(100);
    }
    net.run(1000);
    expect(net.replicas.get('a')!.node('b')).toBeDefined();
    expect(Object.keys(net.replicas.get('a')!.node('b')!).length).toBe(320);
    net.nowMs += 5000;
    const b2 = net.add('b');
    b2.set('b', 'k0-0', 'new');
    let framesToB = 0;
    net.cut = (from, to, stream) => {
      if (from === 'a' && to === 'b' && stream) framesToB++;
      return false;
    };
    net.meet();
    net.run(5000);
    expect(framesToB).toBeGreaterThan(3); // 319 entries do not fit one 2 KB frame
    expect(b2.counters.ownBackfilled).toBe(319);
    expect(Object.keys(b2.node('b')!).length).toBe(320);
    expect(b2.get('b', 'k0-0')).toBe('new');
    expect(b2.get('b', 'k19-15')).toBe('value-19-15-padding-padding');
    expect(net.hashes().size).toBe(1);
  });

  it('sends the same bytes over the Wasm digest kernels and their TypeScript twins', () => {
    const wasm = restartScenario(true, undefined, 'wasm');
    const ts = restartScenario(true, undefined, 'ts');
    expect(wasm.b2.get('b', 'rack')).toBe('r7');
    expect(ts.b2.get('b', 'rack')).toBe('r7');
    expect(wasm.net.trace.length).toBeGreaterThan(10);
    expect(ts.net.trace).toEqual(wasm.net.trace);
    expect(ts.b2.digestHash()).toBe(wasm.b2.digestHash());
  });
});
