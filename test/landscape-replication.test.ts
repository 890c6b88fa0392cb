// Proves that landscape definitions converge farm-wide: three engines write definitions
// and deletions with skewed clocks, the records reach every engine in a different
// shuffled order with duplicates, and all end with the same records and the same
// landscapes (last writer wins by stamp, then origin). Also: a deletion is not undone
// by a late copy of what it deleted, a writer always beats what it had seen even when
// its clock is behind, malformed records are refused, and the record store is bounded.
import { describe, expect, it } from 'vitest';
import { LandscapeEngine } from '../src/farm/data/landscape/landscape-engine.js';
import { compareRecords, type LandscapeRecord } from '../src/farm/data/landscape/landscape-record.js';
import { LandscapeRegistry } from '../src/farm/data/landscape/landscape-registry.js';
import { Prng } from '../src/core/util/prng.js';

const origins = ['00000000000000a1', '00000000000000a2', '00000000000000a3'];
const id = (i: number): string => i.toString(16).padStart(16, '0');
const onChange = { kind: 'on-change' } as const;

function engine(origin: string): LandscapeEngine {
  const e = new LandscapeEngine({ origin });
  e.applyChanges([1, 2, 3, 4].map((i) => ({ subject: id(i), key: 'load1', value: i })));
  return e;
}

function shuffle<T>(items: T[], random: Prng): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = random.nextInt(i + 1);
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

describe('landscape replication', () => {
  it('converges on the same definitions and members whatever the delivery order (seeded)', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const random = new Prng(seed);
      const engines = origins.map(engine);
      const written: LandscapeRecord[] = [];
      // Clocks skewed by up to a few seconds; names collide on purpose.
      for (let step = 0; step < 40; step++) {
        const writer = random.nextInt(engines.length);
        const e = engines[writer]!;
        const name = `l${random.nextInt(5)}`;
        const nowMs = 10_000 + step * 10 + random.nextInt(3000) - writer * 1000;
        const live = e.list().some((s) => s.name === name);
        if (live && random.chance(0.3)) written.push(e.delete(name, nowMs));
        else written.push(e.define({ name, sql: `SELECT node FROM nodes WHERE load1 >= ${1 + random.nextInt(4)}`, mode: onChange }, nowMs));
        // Sometimes a writer hears a few records before its next write.
        if (random.chance(0.3)) for (const r of written.slice(-3)) e.importDefinition(r, nowMs);
      }
      for (const e of engines) {
        for (const r of shuffle([...written, ...written.slice(0, 10)], random)) e.importDefinition(r, 20_000);
      }
      const exported = engines.map((e) => e.exportDefinitions());
      expect(exported[1], `seed ${seed}`).toEqual(exported[0]);
      expect(exported[2], `seed ${seed}`).toEqual(exported[0]);
      const views = engines.map((e) => e.list().map((s) => ({ name: s.name, sql: s.sql, members: e.nodesOf(s.name) })));
      expect(views[1]).toEqual(views[0]);
      expect(views[2]).toEqual(views[0]);
      // The winner per name is the greatest record written for it.
      for (const record of exported[0]!) {
        const candidates = written.filter((r) => r.name === record.name).sort(compareRecords);
        expect(record).toEqual(candidates.at(-1));
      }
      for (const e of engines) e.close();
    }
  });

  it('does not let a late copy of a deleted definition bring it back', () => {
    const a = engine(origins[0]!);
    const b = engine(origins[1]!);
    const defined = a.define({ name: 'web', sql: 'SELECT node FROM nodes', mode: onChange }, 1000);
    const deleted = a.delete('web', 2000);
    expect(b.importDefinition(deleted, 3000)).toBe('applied');
    expect(b.importDefinition(defined, 3000)).toBe('stale');
    expect(b.list()).toEqual([]);
    expect(b.exportDefinitions()).toEqual([deleted]);
    // Importing the same record twice changes nothing.
    expect(b.importDefinition(deleted, 3000)).toBe('stale');
    expect(b.counters.recordsStale).toBe(2);
    a.close();
    b.close();
  });

  it('lets a writer with a slow clock still replace what it has seen, and replays a redefinition as an event', () => {
    const a = engine(origins[0]!);
    const b = engine(origins[1]!);
    const fast = a.define({ name: 'busy', sql: 'SELECT node FROM nodes WHERE load1 >= 3', mode: onChange }, 50_000);
    b.importDefinition(fast, 0);
    expect(b.nodesOf('busy')).toEqual([id(3), id(4)]);
    b.drainEvents();
    // b's clock says 1000, far behind the stamp it replaces: the stamp goes past it anyway.
    const slow = b.define({ name: 'busy', sql: 'SELECT node FROM nodes WHERE load1 >= 4', mode: onChange }, 1000);
    expect(slow.updatedAtMs).toBe(50_001);
    expect(b.drainEvents()).toEqual([{ name: 'busy', added: [], removed: [id(3)], members: [id(4)], deleted: false }]);
    expect(a.importDefinition(slow, 60_000)).toBe('applied');
    expect(a.nodesOf('busy')).toEqual([id(4)]);
    a.close();
    b.close();
  });

  it('breaks equal stamps by origin, the same way on every node', () => {
    const x = { name: 'n', sql: 'SELECT node FROM nodes', mode: onChange, updatedAtMs: 5, origin: origins[0]!, deleted: false };
    const y = { ...x, sql: 'SELECT node FROM nodes WHERE load1 > 2', origin: origins[1]! };
    for (const order of [[x, y], [y, x]]) {
      const e = engine(origins[2]!);
      for (const r of order) e.importDefinition(r, 10);
      expect(e.show('n').sql).toBe(y.sql);
      e.close();
    }
  });

  it('refuses malformed records with a clear message', () => {
    const e = engine(origins[0]!);
    const good = { name: 'n', sql: 'SELECT node FROM nodes', mode: onChange, updatedAtMs: 5, origin: origins[1]!, deleted: false };
    const cases: Array<[unknown, RegExp]> = [
      [null, /must be an object/],
      [{ ...good, deleted: 'no' }, /record.deleted must be a boolean/],
      [{ ...good, updatedAtMs: -1 }, /record.updatedAtMs must be a non-negative integer, got -1/],
      [{ ...good, origin: 'x' }, /record.origin must be a node id/],
      [{ ...good, deleted: true }, /a deletion record carries no statement/],
      [{ ...good, name: 'a b' }, /landscape record: a landscape name is 1 to 64 characters/],
      [{ ...good, mode: { kind: 'every', periodMs: 1 } }, /landscape record: an "every" landscape's period/],
    ];
    for (const [record, message] of cases) {
      expect(() => e.importDefinition(record, 0)).toThrow(expect.objectContaining({ code: 'GALAXY_LANDSCAPE_BAD_RECORD', message: expect.stringMatching(message) }));
    }
    expect(e.exportDefinitions()).toEqual([]);
    e.close();
  });

  it('bounds live definitions and forgets the oldest tombstones first', () => {
    const registry = new LandscapeRegistry(3, 2);
    const record = (name: string, updatedAtMs: number, deleted: boolean): LandscapeRecord => ({ name, sql: deleted ? '' : 'SELECT node FROM nodes', mode: onChange, updatedAtMs, origin: origins[0]!, deleted });
    expect(registry.merge(record('a', 1, false))).toBe('applied');
    expect(registry.merge(record('b', 1, false))).toBe('applied');
    expect(registry.merge(record('c', 1, false))).toBe('full');
    expect(registry.merge(record('a', 2, true))).toBe('applied');
    expect(registry.merge(record('c', 3, false))).toBe('applied');
    expect(registry.merge(record('b', 4, true))).toBe('applied');
    // Four names would exceed recordsMax 3: the oldest tombstone (a) goes.
    expect(registry.merge(record('d', 5, true))).toBe('applied');
    expect(registry.all().map((r) => `${r.name}${r.deleted ? '-' : '+'}`)).toEqual(['b-', 'c+', 'd-']);
    expect(registry.tombstonesForgotten).toBe(1);
    expect(registry.live).toBe(1);
  });
});
