// Proves the pure parts behind shared components and journaled lifecycle operations
// (issue 19): who holds a component on a node (lifecycle records and running journals,
// farm components never), when two clusters can share one copy (same version and the
// same configuration, key order aside), which placements conflict, the holdings table,
// a journal's encoding round trip and bounds, and when the steward treats an operation as
// abandoned (runner not alive, or alive in another life). Plain values, no agents.
import { describe, expect, it } from 'vitest';
import { conflicts, holders, holdings, sameCopy } from '../src/cluster/lifecycle/component-holders.js';
import { decodeJournal, encodeJournal, kJournalEventsMax, newJournal, orphaned, withEvent, type OperationJournal } from '../src/cluster/lifecycle/lifecycle-journal.js';
import type { LifecycleRecord } from '../src/cluster/lifecycle/lifecycle-record.js';

const kB = 'b'.repeat(16);
const kC = 'c'.repeat(16);

function record(name: string, version: string, nodes: string[], extra: Partial<LifecycleRecord> = {}): LifecycleRecord {
  return {
    format: 1,
    name,
    profile: `${name}@1.0.0`,
    on: null,
    roles: [{ role: 'svc', components: [{ name: 'measurement', version: '0.1.0', farm: true }, { name: 'greeter', version, config: { greeting: 'hi', n: 1 }, farm: false }] }],
    members: nodes.map((node) => ({ node, role: 'svc' })),
    leftovers: [],
    updatedAtMs: 0,
    deleted: false,
    ...extra,
  };
}

function journal(cluster: string, extra: Partial<OperationJournal> = {}): OperationJournal {
  return { ...newJournal({ id: '0123456789abcdef', kind: 'upgrade', cluster, profile: `${cluster}@2.0.0`, by: 'admin', runner: kB, life: 'life-1', startedAt: '2026-01-01T00:00:00.000Z' }), ...extra };
}

describe('component holders', () => {
  it('names the clusters whose records place a component on a node, never farm components, never the asking cluster', () => {
    const records = [record('one', '1.0.0', [kB, kC]), record('two', '1.0.0', [kB]), record('gone', '1.0.0', [kB], { deleted: true })];
    expect(holders(records, [], kB, 'greeter', null).map((h) => h.cluster)).toEqual(['one', 'two']);
    expect(holders(records, [], kB, 'greeter', 'one').map((h) => h.cluster)).toEqual(['two']);
    expect(holders(records, [], kC, 'greeter', 'one')).toEqual([]);
    expect(holders(records, [], kB, 'measurement', null)).toEqual([]);
  });

  it('counts what a running operation installed or is installing, not a finished one', () => {
    const step = { kind: 'install' as const, node: kC, component: { name: 'greeter', version: '2.0.0', farm: false }, previous: null };
    expect(holders([], [journal('up', { inflight: step })], kC, 'greeter', null).map((h) => `${h.cluster}:${h.component.version}`)).toEqual(['up:2.0.0']);
    expect(holders([], [journal('up', { done: [step] })], kC, 'greeter', null)).toHaveLength(1);
    expect(holders([], [journal('up', { done: [step], state: 'succeeded' })], kC, 'greeter', null)).toEqual([]);
    expect(holders([], [journal('up', { done: [step] })], kC, 'greeter', 'up')).toEqual([]);
  });

  it('shares a copy only at the same version and configuration', () => {
    const base = { name: 'greeter', version: '1.0.0', config: { greeting: 'hi', n: 1 }, farm: false };
    expect(sameCopy(base, { ...base, config: { n: 1, greeting: 'hi' } })).toBe(true);
    expect(sameCopy(base, { ...base, version: '2.0.0' })).toBe(false);
    expect(sameCopy(base, { ...base, config: { greeting: 'ho', n: 1 } })).toBe(false);
    expect(sameCopy({ ...base, config: undefined }, { ...base, config: {} })).toBe(true);
    const records = [record('one', '1.0.0', [kB])];
    expect(conflicts(records, [], kB, { ...base, version: '2.0.0' }, 'three').map((h) => h.cluster)).toEqual(['one']);
    expect(conflicts(records, [], kB, base, 'three')).toEqual([]);
    expect(conflicts(records, [], kC, { ...base, version: '2.0.0' }, 'three')).toEqual([]);
  });

  it('tabulates every holding', () => {
    const table = holdings([record('one', '1.0.0', [kB, kC]), record('two', '1.0.0', [kB])], []);
    expect(table).toEqual([
      { node: kB, component: 'greeter', version: '1.0.0', clusters: ['one', 'two'] },
      { node: kC, component: 'greeter', version: '1.0.0', clusters: ['one'] },
    ]);
  });
});

describe('operation journals', () => {
  it('round-trips, refuses a bad value and keeps the latest events', () => {
    let j = journal('up');
    for (let seq = 1; seq <= kJournalEventsMax + 5; seq++) j = withEvent(j, { seq, at: '2026-01-01T00:00:00.000Z', step: 'note', node: null, text: `e${seq}`, ok: true });
    expect(j.events).toHaveLength(kJournalEventsMax);
    expect(j.events[0]!.seq).toBe(6);
    expect(decodeJournal(encodeJournal(j))).toEqual(j);
    expect(decodeJournal(encodeJournal({ ...j, runner: 'not a node id' }))).toBeNull();
    expect(decodeJournal('{')).toBeNull();
    expect(decodeJournal(7)).toBeNull();
  });

  it('is abandoned when its runner is not alive or runs another life, never when finished', () => {
    const j = journal('up');
    expect(orphaned(j, new Map([[kB, 'life-1']]))).toBe(false);
    expect(orphaned(j, new Map([[kB, 'life-2']]))).toBe(true);
    expect(orphaned(j, new Map([[kC, 'life-1']]))).toBe(true);
    expect(orphaned({ ...j, state: 'failed' }, new Map())).toBe(false);
  });
});
