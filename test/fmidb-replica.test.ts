// Proves the FMIDB replica's behaviour on a few replicas wired by hand (a manual clock
// and synchronous delivery, so each step is visible): local reads and writes, what
// replicates (values, deletes, attributes set on behalf of other nodes), the coded
// errors of every limit, last writer wins across origins by hybrid-clock stamp and
// origin id (a write made after seeing a value beats it, whatever the clocks), the
// change feed, tombstones (hidden at once, reaped later, never revived by a stale peer,
// restored when the node returns), repair by full sync when every datagram is lost, a
// restarted node whose clock fell behind, and the config's validation.
import { describe, expect, it } from 'vitest';
import { resolveFmidbConfig, type FmidbOptions } from '../src/core/fmidb/config.js';
import { FmidbError } from '../src/core/fmidb/fmidb-error.js';
import { FmidbMemory } from '../src/core/fmidb/fmidb-memory.js';
import { createFmidbRuntime } from '../src/core/kernels/fmidb-runtime.js';
import { FmidbReplica } from '../src/core/fmidb/fmidb-replica.js';
import { Prng } from '../src/core/util/prng.js';

const kBase: FmidbOptions = { originsMax: 64, streamFrameBytesMax: 8192, gossipIntervalMs: 100, syncIntervalMs: 0, announceBatchMin: 1 };

/** Replicas on one thread with a manual clock; messages go straight to their targets unless `cut` says otherwise. */
class Net {
  nowMs = 1_000_000;
  readonly replicas = new Map<string, FmidbReplica>();
  readonly wallOffsetMs = new Map<string, number>();
  readonly memory: FmidbMemory;
  cut: (from: string, to: string, stream: boolean) => boolean = () => false;
  private seed = 1;

  constructor(readonly options: FmidbOptions = {}) {
    const config = resolveFmidbConfig({ ...kBase, ...options });
    this.memory = new FmidbMemory(createFmidbRuntime(config, 8), config);
  }

  add(id: string, wallOffsetMs = 0): FmidbReplica {
    this.wallOffsetMs.set(id, wallOffsetMs);
    const r = new FmidbReplica({
      selfId: id,
      config: { ...kBase, ...this.options },
      random: new Prng(this.seed++),
      nowMs: () => this.nowMs,
      wallClockMs: () => this.nowMs + this.wallOffsetMs.get(id)!,
      memory: this.memory,
    });
    this.replicas.set(id, r);
    return r;
  }

  /** Tells every replica who is alive (all of them). */
  meet(): void {
    const ids = [...this.replicas.keys()];
    for (const r of this.replicas.values()) r.peersChanged(ids);
    this.deliver();
  }

  /** Delivers until no replica has anything to send. */
  deliver(): void {
    for (let round = 0; round < 1000; round++) {
      const mail: Array<{ from: string; to: string; bytes: Uint8Array; stream: boolean }> = [];
      for (const [id, r] of this.replicas) for (const m of r.drainOutbox()) mail.push({ from: id, to: m.to, bytes: m.bytes.slice(), stream: m.stream });
      if (mail.length === 0) return;
      for (const m of mail) {
        if (this.cut(m.from, m.to, m.stream)) continue;
        this.replicas.get(m.to)?.receive(m.from, m.bytes, m.stream);
      }
    }
    throw new Error('the replicas never went quiet');
  }

  /** Advances the clock in ticks of `stepMs`, ticking every replica and delivering. */
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

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof FmidbError) return error.code;
    throw error;
  }
  return 'no error';
}

describe('FMIDB replica', () => {
  it('reads what it writes: get, node, subjects, deletes', () => {
    const net = new Net();
    const a = net.add('a');
    a.setMany([{ subject: 'a', key: 'load1', value: 0.5 }, { subject: 'a', key: 'role', value: 'db' }, { subject: 'b', key: 'rack', value: 'r7' }]);
    expect(a.get('a', 'load1')).toBe(0.5);
    expect(a.node('a')).toEqual({ load1: 0.5, role: 'db' });
    expect(a.subjects().sort()).toEqual(['a', 'b']);
    a.delete('a', 'role');
    expect(a.get('a', 'role')).toBeUndefined();
    expect(a.node('a')).toEqual({ load1: 0.5 });
    expect(a.get('nobody', 'x')).toBeUndefined();
    expect(a.node('nobody')).toBeUndefined();
    // A later write of a key in one batch wins; -0 is stored as 0 (the wire has no negative integer zero).
    a.setMany([{ subject: 'a', key: 'x', value: 1 }, { subject: 'a', key: 'x', value: -0 }]);
    expect(Object.is(a.get('a', 'x'), 0)).toBe(true);
  });

  it('replicates values, deletes and attributes set on behalf of other nodes', () => {
    const net = new Net();
    const [a, b, c] = [net.add('a'), net.add('b'), net.add('c')];
    net.meet();
    a.setMany([{ subject: 'a', key: 'load1', value: 1.25 }, { subject: 'a', key: 'memBytes', value: 2 ** 40 + 3 }, { subject: 'a', key: 'name', value: 'ünïcødé ✓' }]);
    b.set('c', 'rack', 'r12'); // an administrator on b sets c's static attribute
    net.run(1000);
    for (const r of [a, b, c]) {
      expect(r.node('a')).toEqual({ load1: 1.25, memBytes: 2 ** 40 + 3, name: 'ünïcødé ✓' });
      expect(r.get('c', 'rack')).toBe('r12');
    }
    a.delete('a', 'name');
    net.run(1000);
    expect(c.node('a')).toEqual({ load1: 1.25, memBytes: 2 ** 40 + 3 });
    expect(net.hashes().size).toBe(1);
  });

  it('refuses writes past the limits with coded errors, and then writes nothing', () => {
    const net = new Net({ keysPerNodeMax: 3, keyBytesMax: 8, valueBytesMax: 16, idBytesMax: 12, batchEntriesMax: 4 });
    const a = net.add('a');
    expect(code(() => a.set('', 'k', 1))).toBe('FMIDB_SUBJECT_INVALID');
    expect(code(() => a.set('a-very-long-node-id', 'k', 1))).toBe('FMIDB_SUBJECT_INVALID');
    expect(code(() => a.set('a', '', 1))).toBe('FMIDB_KEY_INVALID');
    expect(code(() => a.set('a', 'key-too-long', 1))).toBe('FMIDB_KEY_INVALID');
    expect(code(() => a.set('a', 'k', Number.NaN))).toBe('FMIDB_VALUE_INVALID');
    expect(code(() => a.set('a', 'k', {} as unknown as string))).toBe('FMIDB_VALUE_INVALID');
    expect(code(() => a.set('a', 'k', '\ud800'))).toBe('FMIDB_VALUE_INVALID');
    expect(code(() => a.set('a', 'k', 'x'.repeat(17)))).toBe('FMIDB_VALUE_TOO_LARGE');
    expect(code(() => a.setMany([1, 2, 3, 4, 5].map((i) => ({ subject: 'a', key: `k${i}`, value: i }))))).toBe('FMIDB_BATCH_TOO_LARGE');
    a.setMany([{ subject: 'a', key: 'k1', value: 1 }, { subject: 'a', key: 'k2', value: 2 }]);
    expect(code(() => a.setMany([{ subject: 'a', key: 'k3', value: 3 }, { subject: 'a', key: 'k4', value: 4 }]))).toBe('FMIDB_KEYS_PER_NODE_EXCEEDED');
    expect(a.node('a')).toEqual({ k1: 1, k2: 2 }); // the refused batch left nothing behind
    a.set('a', 'k1', 10); // an existing key is no new key
    a.set('a', 'k3', 3);
    expect(code(() => a.set('a', 'k4', 4))).toBe('FMIDB_KEYS_PER_NODE_EXCEEDED');
    expect(a.setMany([])).toBe(-1);
    a.nodeDeparted('b');
    expect(code(() => a.set('b', 'rack', 'r1'))).toBe('FMIDB_SUBJECT_DEPARTED');
    const error = (() => {
      try {
        a.set('a', '', 1);
      } catch (e) {
        return e as FmidbError;
      }
    })()!;
    expect(error.message).toMatch(/^FMIDB_KEY_INVALID: /);
  });

  it('resolves writes of one key from several nodes by (stamp, origin id), never an older value over a newer', () => {
    const net = new Net();
    // a's wall clock runs 5 s ahead of b's.
    const a = net.add('a', 5000);
    const b = net.add('b', 0);
    net.meet();
    a.set('x', 'rack', 'from-a');
    net.nowMs += 1000;
    b.set('x', 'rack', 'from-b'); // later in real time, but stamped 4 s lower: it loses
    net.run(500);
    expect(a.get('x', 'rack')).toBe('from-a');
    expect(b.get('x', 'rack')).toBe('from-a');
    // b has now seen a's stamp: its next write is stamped above it and wins everywhere.
    b.set('x', 'rack', 'from-b-again');
    net.run(500);
    expect(a.get('x', 'rack')).toBe('from-b-again');
    expect(b.get('x', 'rack')).toBe('from-b-again');
    // Equal stamps: the higher origin id wins.
    const net2 = new Net();
    const [p, q] = [net2.add('p'), net2.add('q')];
    net2.meet();
    expect(p.set('y', 'k', 'p')).toBe(q.set('y', 'k', 'q'));
    net2.run(500);
    expect(p.get('y', 'k')).toBe('q');
    expect(q.get('y', 'k')).toBe('q');
  });

  it('reports each change of the read view once, newest per key, with its cause', () => {
    const net = new Net();
    const [a, b] = [net.add('a'), net.add('b')];
    net.meet();
    a.drainChanges();
    b.set('b', 'load1', 1);
    b.set('b', 'load1', 2);
    net.run(500);
    const changes = a.drainChanges();
    expect(changes.map((c) => [c.subject, c.key, c.value, c.origin, c.cause])).toEqual([['b', 'load1', 2, 'b', 'write']]);
    expect(a.drainChanges()).toEqual([]);
    a.nodeDeparted('b');
    expect(a.drainChanges().map((c) => [c.subject, c.key, c.value, c.cause])).toEqual([['b', 'load1', null, 'departed']]);
    a.peersChanged(['a', 'b']);
    expect(a.drainChanges().map((c) => [c.subject, c.key, c.value, c.cause])).toEqual([['b', 'load1', 2, 'returned']]);
  });

  it('hides a departed node at once, reaps it later, never lets a stale peer revive it, and restores it when alive', () => {
    const net = new Net({ tombstoneReapMs: 5000, syncIntervalMs: 1000 });
    const [a, b, c] = [net.add('a'), net.add('b'), net.add('c')];
    net.meet();
    c.setMany([{ subject: 'c', key: 'load1', value: 3 }, { subject: 'c', key: 'role', value: 'web' }]);
    a.set('c', 'rack', 'r3');
    net.run(1000);
    expect(b.node('c')).toEqual({ load1: 3, role: 'web', rack: 'r3' });
    // c dies; a and b hear of it, but c's record stays in b until b reaps it (b is not told here).
    net.replicas.delete('c');
    a.nodeDeparted('c', net.nowMs);
    expect(a.node('c')).toBeUndefined();
    expect(a.subjects()).toEqual([]);
    net.run(6000);
    expect(a.counters.tombstonesReaped).toBe(1);
    expect(a.versionOf('c')).toBe(-1);
    // b still holds c and syncs with a every second: a ignores it.
    expect(b.node('c')).toEqual({ load1: 3, role: 'web', rack: 'r3' });
    net.run(3000);
    expect(a.versionOf('c')).toBe(-1);
    expect(a.node('c')).toBeUndefined();
    expect(a.counters.groupsReaped).toBeGreaterThan(0);
    // Once b reaps it too, both agree again.
    b.nodeDeparted('c', net.nowMs);
    net.run(6000);
    expect(b.versionOf('c')).toBe(-1);
    expect(net.hashes().size).toBe(1);
    // c comes back: membership lists it alive, and its new writes replicate.
    const c2 = net.add('c');
    net.meet();
    c2.set('c', 'load1', 4);
    net.run(2000);
    expect(a.node('c')).toEqual({ load1: 4 });
    expect(b.node('c')).toEqual({ load1: 4 });
  });

  it('repairs by full sync over streams when every datagram is lost', () => {
    const net = new Net({ syncIntervalMs: 2000 });
    const [a, b] = [net.add('a'), net.add('b')];
    net.meet();
    net.cut = (_from, _to, stream) => !stream;
    a.setMany([{ subject: 'a', key: 'k', value: 1 }, { subject: 'z', key: 'rack', value: 'r1' }]);
    b.set('b', 'k', 2);
    net.run(5000);
    expect(b.node('a')).toEqual({ k: 1 });
    expect(b.get('z', 'rack')).toBe('r1');
    expect(a.node('b')).toEqual({ k: 2 });
    expect(a.counters.fullSyncsSent + b.counters.fullSyncsSent).toBeGreaterThan(0);
    expect(net.hashes().size).toBe(1);
  });

  it('a restarted node whose clock fell behind its last stamp writes again above it, so peers take its new values', () => {
    const net = new Net();
    const a = net.add('a', 60_000); // a's clock is a minute ahead
    const b = net.add('b');
    net.meet();
    a.setMany([{ subject: 'a', key: 'load1', value: 1 }, { subject: 'a', key: 'boot', value: 'first' }]);
    net.run(500);
    expect(b.get('a', 'load1')).toBe(1);
    // a restarts with an empty replica and a corrected clock, a minute behind its old stamps.
    const a2 = net.add('a', 0);
    net.meet();
    a2.set('a', 'load1', 2);
    net.run(2000);
    expect(a2.counters.restamps).toBeGreaterThan(0);
    expect(b.get('a', 'load1')).toBe(2);
    expect(a2.get('a', 'load1')).toBe(2);
    expect(a2.get('a', 'boot')).toBe('first'); // learned back from b
    expect(net.hashes().size).toBe(1);
  });

  it('validates its config with messages naming the option', () => {
    expect(() => resolveFmidbConfig({ keyBytesMax: 300 })).toThrow(/options.keyBytesMax must be an integer from 1 to 255, got 300/);
    expect(() => resolveFmidbConfig({ budgetBytesPerSecond: 0 })).toThrow(/options.budgetBytesPerSecond must be a finite number > 0/);
    expect(() => resolveFmidbConfig({ originsMax: 65536 })).toThrow(/options.originsMax/);
    expect(() => resolveFmidbConfig({ originsMax: 20000, streamFrameBytesMax: 65536 })).toThrow(/must hold a full digest/);
    expect(Object.isFrozen(resolveFmidbConfig())).toBe(true);
  });
});
