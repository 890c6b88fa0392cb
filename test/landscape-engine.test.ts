// Proves the landscape engine end to end on a driven clock: on-change landscapes follow
// attribute and load changes at the next tick (and only when a column they read
// changed), `every` landscapes follow them on their period, events say exactly what
// joined and left (coalesced between drains), columns appear as keys appear (with '.'
// and '-' mapped to '_' and colliding keys resolved the same whatever the order), nodes
// leave, bounds refuse loudly, failures are reported through show() and nodesOf, and a
// 10,000-node mirror evaluates to the same members as a JavaScript filter over the same
// data. Evaluation time comes from an injected counter clock, so nothing here sleeps.
import { describe, expect, it } from 'vitest';
import { ColumnAssignment } from '../src/farm/data/landscape/column-assignment.js';
import { LandscapeEngine } from '../src/farm/data/landscape/landscape-engine.js';
import type { NodeChange } from '../src/farm/data/landscape/node-mirror.js';
import { formatMode, parsePeriod } from '../src/farm/data/landscape/landscape-mode.js';
import { Prng } from '../src/core/util/prng.js';

const kOrigin = '00000000000000aa';
const id = (i: number): string => i.toString(16).padStart(16, '0');
const onChange = { kind: 'on-change' } as const;
const every = (periodMs: number) => ({ kind: 'every', periodMs }) as const;

function farm(count: number): LandscapeEngine {
  const engine = new LandscapeEngine({ origin: kOrigin });
  const changes: NodeChange[] = [];
  for (let i = 1; i <= count; i++) {
    changes.push({ subject: id(i), key: 'rack', value: i % 2 === 0 ? 'r12' : 'r13' }, { subject: id(i), key: 'load1', value: 0.5 });
  }
  engine.applyChanges(changes);
  // The driver ticks all the time; this one consumes the changes of the set-up.
  engine.tick(0);
  return engine;
}

describe('landscape engine: on-change', () => {
  it('follows loads and attributes at the next tick, with exact events', () => {
    const engine = farm(4);
    engine.define({ name: 'idle-r12', sql: "SELECT node FROM nodes WHERE rack = 'r12' AND load1 < 2", mode: onChange }, 1000);
    expect(engine.members('idle-r12')).toEqual([id(2), id(4)]);
    expect(engine.drainEvents()).toEqual([{ name: 'idle-r12', added: [id(2), id(4)], removed: [], members: [id(2), id(4)], deleted: false }]);

    // A load rises: the node leaves at the next tick, not before.
    engine.applyChanges([{ subject: id(2), key: 'load1', value: 7.5 }]);
    expect(engine.members('idle-r12')).toEqual([id(2), id(4)]);
    expect(engine.tick(1100)).toEqual({ evaluated: 1, failed: 0 });
    expect(engine.members('idle-r12')).toEqual([id(4)]);
    expect(engine.drainEvents()).toEqual([{ name: 'idle-r12', added: [], removed: [id(2)], members: [id(4)], deleted: false }]);

    // A node is moved to the rack: it joins.
    engine.applyChanges([{ subject: id(3), key: 'rack', value: 'r12' }]);
    engine.tick(1200);
    expect(engine.members('idle-r12')).toEqual([id(3), id(4)]);
    // Deleting a key makes the column NULL: the node no longer matches.
    engine.applyChanges([{ subject: id(4), key: 'load1', value: null }]);
    engine.tick(1300);
    expect(engine.members('idle-r12')).toEqual([id(3)]);
    expect(engine.drainEvents()).toEqual([{ name: 'idle-r12', added: [id(3)], removed: [id(4)], members: [id(3)], deleted: false }]);
    engine.close();
  });

  it('re-evaluates only when a column the statement reads changes, once per tick however many batches', () => {
    const engine = farm(4);
    engine.define({ name: 'busy', sql: 'SELECT node FROM nodes WHERE load1 >= 2', mode: onChange }, 0);
    const before = engine.show('busy').evaluations;
    engine.applyChanges([{ subject: id(1), key: 'mem_free', value: 100 }]);
    expect(engine.tick(10)).toEqual({ evaluated: 0, failed: 0 });
    // Writing the value a column holds already is not a change.
    engine.applyChanges([{ subject: id(1), key: 'load1', value: 0.5 }]);
    expect(engine.tick(20).evaluated).toBe(0);
    for (let i = 0; i < 5; i++) engine.applyChanges([{ subject: id(1), key: 'load1', value: 2 + i }]);
    expect(engine.tick(30).evaluated).toBe(1);
    expect(engine.show('busy').evaluations).toBe(before + 1);
    expect(engine.show('busy').reads).toEqual({ columns: ['load1'], attributes: false, everything: false });
    // A node arriving concerns every landscape.
    engine.applyChanges([{ subject: id(9), key: 'os', value: 'linux' }]);
    expect(engine.tick(40).evaluated).toBe(1);
    engine.close();
  });

  it('coalesces events between drains: a node that leaves and comes back produces none', () => {
    const engine = farm(2);
    engine.define({ name: 'idle', sql: 'SELECT node FROM nodes WHERE load1 < 1', mode: onChange }, 0);
    engine.drainEvents();
    engine.applyChanges([{ subject: id(1), key: 'load1', value: 5 }]);
    engine.tick(1);
    engine.applyChanges([{ subject: id(1), key: 'load1', value: 0.1 }]);
    engine.tick(2);
    expect(engine.drainEvents()).toEqual([]);
    engine.close();
  });

  it('follows statements over the attributes table, for keys with and without columns', () => {
    const engine = new LandscapeEngine({ origin: kOrigin, options: { columnsMax: 1 } });
    engine.applyChanges([
      { subject: id(1), key: 'rack', value: 'r1' },
      { subject: id(1), key: 'gpu.model', value: 'a100' },
      { subject: id(2), key: 'gpu.model', value: 'h100' },
    ]);
    // Only one column: gpu.model lives only in attributes.
    expect(engine.columns()).toEqual([{ key: 'rack', column: 'rack' }]);
    engine.define({ name: 'h100', sql: "SELECT node FROM attributes WHERE key = 'gpu.model' AND value = 'h100'", mode: onChange }, 0);
    expect(engine.members('h100')).toEqual([id(2)]);
    engine.applyChanges([{ subject: id(1), key: 'gpu.model', value: 'h100' }]);
    expect(engine.tick(5).evaluated).toBe(1);
    expect(engine.members('h100')).toEqual([id(1), id(2)]);
    engine.close();
  });

  it('drops members when their node leaves, and reports deletion as an event', () => {
    const engine = farm(3);
    engine.define({ name: 'all', sql: 'SELECT node FROM nodes', mode: onChange }, 0);
    engine.drainEvents();
    expect(engine.removeNode(id(2))).toBe(true);
    expect(engine.removeNode(id(2))).toBe(false);
    engine.tick(1);
    expect(engine.members('all')).toEqual([id(1), id(3)]);
    const tombstone = engine.delete('all', 2);
    expect(tombstone).toMatchObject({ name: 'all', deleted: true, sql: '', origin: kOrigin });
    expect(engine.drainEvents()).toEqual([{ name: 'all', added: [], removed: [id(1), id(2), id(3)], members: [], deleted: true }]);
    expect(() => engine.members('all')).toThrow(expect.objectContaining({ code: 'GALAXY_LANDSCAPE_UNKNOWN', message: 'no landscape is named "all"' }));
    expect(() => engine.delete('all', 3)).toThrow(expect.objectContaining({ code: 'GALAXY_LANDSCAPE_UNKNOWN' }));
    expect(engine.list()).toEqual([]);
    engine.close();
  });
});

describe('landscape engine: every', () => {
  it('re-evaluates on its period only, whatever changes', () => {
    const engine = farm(2);
    const record = engine.define({ name: 'hot', sql: 'SELECT node FROM nodes WHERE load1 > 4', mode: every(10_000) }, 50_000);
    expect(formatMode(record.mode)).toBe('every 10s');
    expect(engine.members('hot')).toEqual([]);
    engine.applyChanges([{ subject: id(1), key: 'load1', value: 9 }]);
    expect(engine.tick(55_000).evaluated).toBe(0);
    expect(engine.members('hot')).toEqual([]);
    expect(engine.tick(60_000).evaluated).toBe(1);
    expect(engine.members('hot')).toEqual([id(1)]);
    expect(engine.drainEvents().at(-1)).toEqual({ name: 'hot', added: [id(1)], removed: [], members: [id(1)], deleted: false });
    engine.applyChanges([{ subject: id(2), key: 'load1', value: 9 }]);
    expect(engine.tick(69_999).evaluated).toBe(0);
    expect(engine.tick(70_000).evaluated).toBe(1);
    expect(engine.members('hot')).toEqual([id(1), id(2)]);
    const view = engine.show('hot');
    expect(view.lastEvaluatedAtMs).toBe(70_000);
    expect(view.lastEvaluationMs).toBeGreaterThanOrEqual(0);
    expect(view.mode).toEqual({ kind: 'every', periodMs: 10_000 });
    expect(view.memberCount).toBe(2);
    engine.close();
  });

  it('parses and prints periods the CLI way', () => {
    expect(parsePeriod('10s')).toBe(10_000);
    expect(parsePeriod('500ms')).toBe(500);
    expect(parsePeriod('5m')).toBe(300_000);
    expect(parsePeriod('1.5h')).toBe(5_400_000);
    expect(parsePeriod('30')).toBe(30_000);
    expect(() => parsePeriod('soon')).toThrow(expect.objectContaining({ code: 'GALAXY_LANDSCAPE_BAD_MODE' }));
    expect(formatMode({ kind: 'every', periodMs: 1500 })).toBe('every 1500ms');
    expect(formatMode({ kind: 'on-change' })).toBe('on-change');
  });
});

describe('landscape engine: the mirror', () => {
  it('adds columns as keys appear, maps . and - to _, and compares numbers as numbers', () => {
    const engine = farm(2);
    engine.applyChanges([
      { subject: id(1), key: 'disk.root-free', value: 10 },
      { subject: id(2), key: 'disk.root-free', value: 9 },
      { subject: id(2), key: 'version', value: '10' },
    ]);
    expect(engine.columns().map((c) => c.column)).toEqual(['rack', 'load1', 'disk_root_free', 'version']);
    // 9 < 10 numerically (text would say '10' < '9').
    engine.define({ name: 'roomy', sql: 'SELECT node FROM nodes WHERE disk_root_free > 9.5', mode: onChange }, 0);
    expect(engine.members('roomy')).toEqual([id(1)]);
    // A text value stays text.
    engine.define({ name: 'v10', sql: "SELECT node FROM nodes WHERE version = '10'", mode: onChange }, 0);
    expect(engine.members('v10')).toEqual([id(2)]);
    engine.close();
  });

  it('gives a shared column name to the smallest key, whatever the order the keys arrive in', () => {
    for (const order of [['disk_free', 'disk.free'], ['disk.free', 'disk_free']]) {
      const engine = farm(1);
      engine.applyChanges([{ subject: id(1), key: order[0]!, value: order[0] === 'disk.free' ? 1 : 2 }]);
      engine.applyChanges([{ subject: id(1), key: order[1]!, value: order[1] === 'disk.free' ? 1 : 2 }]);
      // 'disk.free' < 'disk_free' in string order, so its value (1) is in the column.
      expect(engine.columns().find((c) => c.column === 'disk_free')).toEqual({ key: 'disk.free', column: 'disk_free' });
      engine.define({ name: 'one', sql: 'SELECT node FROM nodes WHERE disk_free = 1', mode: onChange }, 0);
      expect(engine.members('one')).toEqual([id(1)]);
      // The other key's value is in the attributes table, under its own spelling.
      engine.define({ name: 'two', sql: "SELECT node FROM attributes WHERE key = 'disk_free' AND value = 2", mode: onChange }, 0);
      expect(engine.members('two')).toEqual([id(1)]);
      engine.close();
    }
    const assignment = new ColumnAssignment(8);
    expect(assignment.assign('node')).toEqual({ kind: 'none' });
    expect(assignment.assign('ROWID')).toEqual({ kind: 'none' });
    expect(assignment.assign('load1')).toEqual({ kind: 'add', column: 'load1' });
    expect(assignment.assign('Load1')).toEqual({ kind: 'take-over', column: 'load1', previousKey: 'load1' });
    expect(assignment.assign('load1')).toEqual({ kind: 'none' });
    expect(assignment.columnOf('Load1')).toBe('load1');
  });

  it('indexes the columns of indexedKeys and answers the same', () => {
    const engine = new LandscapeEngine({ origin: kOrigin, options: { indexedKeys: ['rack'] } });
    engine.applyChanges([1, 2, 3].map((i) => ({ subject: id(i), key: 'rack', value: `r${i % 2}` })));
    engine.define({ name: 'r1', sql: "SELECT node FROM nodes WHERE rack = 'r1'", mode: onChange }, 0);
    expect(engine.members('r1')).toEqual([id(1), id(3)]);
    const database = (engine as unknown as { mirror: { database: import('better-sqlite3').Database } }).mirror.database;
    const plan = database.prepare("EXPLAIN QUERY PLAN SELECT node FROM nodes WHERE rack = 'r1'").all() as Array<{ detail: string }>;
    expect(plan.map((step) => step.detail).join(' ')).toMatch(/USING (COVERING )?INDEX nodes_by_rack/);
    engine.close();
  });

  it('refuses bad changes before writing any of the batch', () => {
    const engine = farm(1);
    const bad: Array<[NodeChange, RegExp]> = [
      [{ subject: 'node-1', key: 'a', value: 1 }, /changes\[1\]\.subject must be a node id \(16 lower-case hex digits\), got "node-1"/],
      [{ subject: '00000000000000AB', key: 'a', value: 1 }, /subject must be a node id/],
      [{ subject: id(1), key: 'bad key', value: 1 }, /changes\[1\]\.key must match \[A-Za-z0-9_.-\]\{1,64\}, got "bad key"/],
      [{ subject: id(1), key: 'a', value: Number.NaN }, /must be a finite number, got NaN/],
      [{ subject: id(1), key: 'a', value: true as never }, /must be a string, a number or null, got boolean/],
      [{ subject: id(1), key: 'a', value: 'x'.repeat(5000) }, /5000 characters; the limit is 4096/],
    ];
    for (const [change, message] of bad) {
      expect(() => engine.applyChanges([{ subject: id(1), key: 'load1', value: 99 }, change])).toThrow(expect.objectContaining({ code: 'GALAXY_LANDSCAPE_BAD_CHANGE', message: expect.stringMatching(message) }));
    }
    engine.define({ name: 'l', sql: 'SELECT node FROM nodes WHERE load1 = 99', mode: onChange }, 0);
    expect(engine.members('l')).toEqual([]);
    const small = new LandscapeEngine({ origin: kOrigin, options: { nodesMax: 2 } });
    small.applyChanges([{ subject: id(1), key: 'a', value: 1 }]);
    expect(() => small.applyChanges([{ subject: id(2), key: 'a', value: 1 }, { subject: id(3), key: 'a', value: 1 }])).toThrow(
      expect.objectContaining({ code: 'GALAXY_LANDSCAPE_TOO_MANY_NODES' }),
    );
    small.close();
    engine.close();
  });

  it('refuses a landscape past landscapesMax, and rejects bad options', () => {
    const engine = new LandscapeEngine({ origin: kOrigin, options: { landscapesMax: 1 } });
    engine.define({ name: 'a', sql: 'SELECT node FROM nodes', mode: onChange }, 0);
    engine.define({ name: 'a', sql: 'SELECT node FROM nodes WHERE 0', mode: onChange }, 1);
    expect(() => engine.define({ name: 'b', sql: 'SELECT node FROM nodes', mode: onChange }, 2)).toThrow(expect.objectContaining({ code: 'GALAXY_LANDSCAPE_TOO_MANY' }));
    engine.close();
    expect(() => new LandscapeEngine({ origin: kOrigin, options: { columnsMax: 0 } })).toThrow(/options.columnsMax must be a positive integer, got 0/);
    expect(() => new LandscapeEngine({ origin: kOrigin, options: { columnsMax: 5000 } })).toThrow(/at most 1999/);
    expect(() => new LandscapeEngine({ origin: 'me' })).toThrow(expect.objectContaining({ code: 'GALAXY_LANDSCAPE_BAD_OPTIONS' }));
    expect(() => new LandscapeEngine({ origin: kOrigin, options: { indexedKeys: ['bad key'] } })).toThrow(/options.indexedKeys holds "bad key"/);
    const fresh = farm(1);
    expect(() => fresh.tick(Number.NaN)).toThrow(/nowMs must be a non-negative finite number/);
    fresh.close();
    expect(() => engine.tick(0)).toThrow(expect.objectContaining({ code: 'GALAXY_LANDSCAPE_CLOSED' }));
  });
});

describe('landscape engine: failures and bounds', () => {
  it('bounds evaluation time between rows with the injected clock, and retries a slow landscape only after failureRetryMs', () => {
    let clockMs = 0;
    let stepMs = 1;
    // Each clock read advances stepMs: 300 rows take two reads, 2 ms > evaluationMsMax.
    const engine = new LandscapeEngine({ origin: kOrigin, clock: () => (clockMs += stepMs), options: { evaluationMsMax: 1, failureRetryMs: 1000 } });
    const changes: NodeChange[] = [];
    for (let i = 1; i <= 300; i++) changes.push({ subject: id(i), key: 'load1', value: 1 });
    engine.applyChanges(changes);
    engine.tick(0);
    expect(() => engine.define({ name: 'slow', sql: 'SELECT node FROM nodes', mode: onChange }, 0)).toThrow(
      expect.objectContaining({ code: 'GALAXY_LANDSCAPE_TOO_SLOW', message: 'the landscape statement ran longer than 1 ms (options.evaluationMsMax)' }),
    );
    // The same statement from a peer is kept, failing, and not retried on every change.
    const record = { name: 'slow', sql: 'SELECT node FROM nodes', mode: onChange, updatedAtMs: 1, origin: '00000000000000bb', deleted: false };
    expect(engine.importDefinition(record, 100)).toBe('applied');
    expect(engine.show('slow').error?.code).toBe('GALAXY_LANDSCAPE_TOO_SLOW');
    stepMs = 0;
    engine.applyChanges([{ subject: id(1), key: 'load1', value: 2 }]);
    expect(engine.tick(600)).toEqual({ evaluated: 0, failed: 0 });
    expect(engine.tick(1100)).toEqual({ evaluated: 1, failed: 0 });
    expect(engine.nodesOf('slow')).toHaveLength(300);
    engine.close();
  });

  it('bounds the rows of an evaluation', () => {
    const engine = farm(3);
    const small = new LandscapeEngine({ origin: kOrigin, options: { evaluationRowsMax: 4 } });
    small.applyChanges([1, 2, 3].map((i) => ({ subject: id(i), key: 'a', value: i })));
    expect(() => small.define({ name: 'x', sql: 'SELECT a.node FROM nodes a, nodes b', mode: onChange }, 0)).toThrow(
      expect.objectContaining({ code: 'GALAXY_LANDSCAPE_RESULT_TOO_LARGE', message: expect.stringMatching(/more than 4 rows/) }),
    );
    // Duplicates count once as members.
    engine.define({ name: 'dup', sql: 'SELECT a.node FROM nodes a, nodes b', mode: onChange }, 0);
    expect(engine.members('dup')).toEqual([id(1), id(2), id(3)]);
    small.close();
    engine.close();
  });

  it('declares a column no node holds yet, for local and peer definitions alike, and follows it when values appear', () => {
    const engine = farm(2);
    const record = { name: 'gpus', sql: 'SELECT node FROM nodes WHERE gpus > 0', mode: onChange, updatedAtMs: 5, origin: '00000000000000bb', deleted: false };
    expect(engine.importDefinition(record, 100)).toBe('applied');
    expect(engine.list()).toEqual([{ name: 'gpus', mode: onChange, sql: record.sql, memberCount: 0, lastEvaluatedAtMs: 100, error: null }]);
    expect(engine.nodesOf('gpus')).toEqual([]);
    engine.define({ name: 'racked', sql: "SELECT node FROM nodes WHERE room = 'b2'", mode: onChange }, 110);
    expect(engine.nodesOf('racked')).toEqual([]);
    engine.applyChanges([{ subject: id(2), key: 'gpus', value: 8 }, { subject: id(1), key: 'room', value: 'b2' }]);
    expect(engine.tick(300)).toEqual({ evaluated: 2, failed: 0 });
    expect(engine.nodesOf('gpus')).toEqual([id(2)]);
    expect(engine.nodesOf('racked')).toEqual([id(1)]);
    engine.close();
  });

  it('keeps a peer definition that fails here and reports it; a local one is refused', () => {
    const engine = farm(2);
    const record = { name: 'typo', sql: 'SELECT node FROM nodes WHERE n.gpus > 0', mode: onChange, updatedAtMs: 5, origin: '00000000000000bb', deleted: false };
    expect(engine.importDefinition(record, 100)).toBe('applied');
    expect(engine.list()).toEqual([
      { name: 'typo', mode: onChange, sql: record.sql, memberCount: 0, lastEvaluatedAtMs: 100, error: { code: 'GALAXY_LANDSCAPE_SQL_INVALID', message: 'SQLite refused the landscape statement: no such column: n.gpus' } },
    ]);
    expect(() => engine.nodesOf('typo')).toThrow(
      expect.objectContaining({ code: 'GALAXY_LANDSCAPE_UNAVAILABLE', message: 'landscape "typo" is unavailable on this node: SQLite refused the landscape statement: no such column: n.gpus' }),
    );
    expect(engine.tick(200)).toEqual({ evaluated: 0, failed: 0 });
    expect(() => engine.define({ name: 'typo2', sql: record.sql, mode: onChange }, 300)).toThrow(expect.objectContaining({ code: 'GALAXY_LANDSCAPE_SQL_INVALID' }));
    engine.close();
  });

  it('reports a data-dependent failure, keeps the last members in show, and recovers on the next relevant change', () => {
    const engine = farm(2);
    engine.applyChanges([{ subject: id(2), key: 'peer', value: id(2) }]);
    engine.tick(0);
    engine.define({ name: 'peers', sql: "SELECT node FROM nodes WHERE rack = 'r12' UNION SELECT peer FROM nodes WHERE peer IS NOT NULL", mode: onChange }, 0);
    expect(engine.members('peers')).toEqual([id(2)]);
    engine.applyChanges([{ subject: id(1), key: 'peer', value: 'nobody' }]);
    expect(engine.tick(10)).toEqual({ evaluated: 0, failed: 1 });
    const view = engine.show('peers');
    expect(view.error?.code).toBe('GALAXY_LANDSCAPE_RESULT_NOT_NODE');
    expect(view.members).toEqual([id(2)]);
    expect(() => engine.nodesOf('peers')).toThrow(/unavailable on this node: row 2 of the result is "nobody"/);
    engine.applyChanges([{ subject: id(1), key: 'peer', value: id(1) }]);
    expect(engine.tick(20)).toEqual({ evaluated: 1, failed: 0 });
    expect(engine.nodesOf('peers')).toEqual([id(1), id(2)]);
    engine.close();
  });
});

describe('landscape engine: 10,000 nodes', () => {
  it('evaluates to the members a JavaScript filter finds over the same data, before and after a wave of load changes', () => {
    const random = new Prng(6);
    const engine = new LandscapeEngine({ origin: kOrigin });
    const nodes = new Map<string, { rack: string; load1: number; role: string }>();
    const changes: NodeChange[] = [];
    for (let i = 0; i < 10_000; i++) {
      const node = { rack: `r${random.nextInt(40)}`, load1: random.nextInt(800) / 100, role: random.chance(0.3) ? 'db' : 'web' };
      nodes.set(id(i + 1), node);
      changes.push({ subject: id(i + 1), key: 'rack', value: node.rack }, { subject: id(i + 1), key: 'load1', value: node.load1 }, { subject: id(i + 1), key: 'role', value: node.role });
    }
    engine.applyChanges(changes);
    engine.define({ name: 'idle-r12', sql: "SELECT node FROM nodes WHERE rack = 'r12' AND load1 < 2", mode: onChange }, 0);
    engine.define({ name: 'busy-db', sql: "SELECT node FROM nodes WHERE role = 'db' AND load1 >= 4 AND rack IN ('r1', 'r2', 'r3', 'r4')", mode: onChange }, 0);
    const expected = () => ({
      idle: [...nodes].filter(([, n]) => n.rack === 'r12' && n.load1 < 2).map(([k]) => k).sort(),
      busy: [...nodes].filter(([, n]) => n.role === 'db' && n.load1 >= 4 && ['r1', 'r2', 'r3', 'r4'].includes(n.rack)).map(([k]) => k).sort(),
    });
    expect(engine.members('idle-r12')).toEqual(expected().idle);
    expect(engine.members('busy-db')).toEqual(expected().busy);
    expect(expected().idle.length).toBeGreaterThan(10);
    engine.drainEvents();
    const before = new Set(expected().idle);

    const wave: NodeChange[] = [];
    for (let i = 0; i < 30_000; i++) {
      const subject = id(1 + random.nextInt(10_000));
      const load1 = random.nextInt(800) / 100;
      nodes.get(subject)!.load1 = load1;
      wave.push({ subject, key: 'load1', value: load1 });
    }
    engine.applyChanges(wave);
    expect(engine.tick(1000)).toEqual({ evaluated: 2, failed: 0 });
    const after = expected();
    expect(engine.members('idle-r12')).toEqual(after.idle);
    expect(engine.members('busy-db')).toEqual(after.busy);
    const event = engine.drainEvents().find((e) => e.name === 'idle-r12')!;
    expect(event.added).toEqual(after.idle.filter((n) => !before.has(n)));
    expect(event.removed).toEqual([...before].filter((n) => !after.idle.includes(n)).sort());
    engine.close();
  });
});

describe('landscape engine: a mirror created at first need (fill)', () => {
  it('creates no mirror until a landscape, a statement or a read needs it, then answers as the mirror fed every change', () => {
    // What the FMIDB holds, kept by the caller (FarmData keeps its view): the fill's source.
    const held = new Map<string, Map<string, string | number>>();
    const feed = (engine: LandscapeEngine, changes: NodeChange[]): void => {
      for (const c of changes) {
        const keys = held.get(c.subject) ?? new Map<string, string | number>();
        if (c.value === null) keys.delete(c.key);
        else keys.set(c.key, c.value);
        if (keys.size === 0) held.delete(c.subject);
        else held.set(c.subject, keys);
      }
      engine.applyChanges(changes);
    };
    let fills = 0;
    const lazy = new LandscapeEngine({
      origin: kOrigin,
      fill: (apply) => {
        fills++;
        const rows: NodeChange[] = [];
        for (const [subject, keys] of held) for (const [key, value] of keys) rows.push({ subject, key, value });
        // Two batches, as a caller bounded by batchChangesMax sends them.
        apply(rows.slice(0, 3));
        apply(rows.slice(3));
      },
    });
    const eager = new LandscapeEngine({ origin: kOrigin });
    const both = (changes: NodeChange[]): void => {
      feed(lazy, changes);
      eager.applyChanges(changes);
    };
    const prng = new Prng(7);
    for (let round = 0; round < 20; round++) {
      const changes: NodeChange[] = [];
      for (let i = 1; i <= 8; i++) {
        if (prng.nextFloat() < 0.5) changes.push({ subject: id(i), key: 'rack', value: prng.nextFloat() < 0.5 ? 'r12' : 'r13' });
        if (prng.nextFloat() < 0.5) changes.push({ subject: id(i), key: 'load1', value: prng.nextFloat() < 0.2 ? null : Math.round(prng.nextFloat() * 40) / 10 });
      }
      both(changes);
      lazy.tick(round);
      eager.tick(round);
    }
    lazy.removeNode(id(3));
    eager.removeNode(id(3));
    held.delete(id(3));
    expect(lazy.mirrorCreated).toBe(false);
    expect(lazy.list()).toEqual([]);
    expect(fills).toBe(0);

    const sql = "SELECT node FROM nodes WHERE rack = 'r12' AND load1 < 2";
    lazy.define({ name: 'idle-r12', sql, mode: onChange }, 1000);
    eager.define({ name: 'idle-r12', sql, mode: onChange }, 1000);
    expect(lazy.mirrorCreated).toBe(true);
    expect(fills).toBe(1);
    expect(lazy.members('idle-r12')).toEqual(eager.members('idle-r12'));
    expect(lazy.resolveStatement('SELECT node FROM nodes WHERE load1 IS NULL')).toEqual(eager.resolveStatement('SELECT node FROM nodes WHERE load1 IS NULL'));
    expect(lazy.columns()).toEqual(expect.arrayContaining(eager.columns()));

    // From now on the changes go straight in, as to the eager one.
    both([{ subject: id(2), key: 'rack', value: 'r12' }, { subject: id(2), key: 'load1', value: 0.1 }, { subject: id(5), key: 'load1', value: 9 }]);
    expect(lazy.tick(2000)).toEqual(eager.tick(2000));
    expect(lazy.members('idle-r12')).toEqual(eager.members('idle-r12'));
    expect(lazy.members('idle-r12')).toContain(id(2));
    expect(fills).toBe(1);
    lazy.close();
    eager.close();
  });

  it('is created by a read of its columns, and not by a deleted definition imported from a peer', () => {
    let fills = 0;
    const lazy = new LandscapeEngine({ origin: kOrigin, fill: () => void fills++ });
    lazy.importDefinition({ name: 'gone', sql: '', mode: onChange, updatedAtMs: 5, origin: '00000000000000bb', deleted: true }, 10);
    expect(lazy.mirrorCreated).toBe(false);
    expect(lazy.columns()).toEqual([]);
    expect(lazy.mirrorCreated).toBe(true);
    expect(fills).toBe(1);
    lazy.close();
  });
});
