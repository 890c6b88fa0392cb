// The plans a delete and a repair journal before their first step (issue 19: every
// lifecycle operation survives its runner), and what a steward puts back of an
// interrupted repair. Plain values, no agents: test/cluster-lifecycle-journaled.test.ts
// runs both on real agents.
import { describe, expect, it } from 'vitest';
import { repairUndoSteps, teardownSteps } from '../src/cluster/lifecycle/cluster-lifecycle.js';
import { decodeJournal, doneSteps, fitJournal, newJournal, undoSteps, type JournalStep, type OperationJournal } from '../src/cluster/lifecycle/lifecycle-journal.js';
import type { LifecycleRecord } from '../src/cluster/lifecycle/lifecycle-record.js';

const kB = 'b'.repeat(16);
const kC = 'c'.repeat(16);
const kD = 'd'.repeat(16);
const kE = 'e'.repeat(16);

const greeter = { name: 'greeter', version: '1.0.0', config: { greeting: 'hi' }, farm: false };
const echo = { name: 'peer-echo', version: '1.0.0', farm: false };
const measurement = { name: 'measurement', version: '0.1.0', farm: true };

const record: LifecycleRecord = {
  format: 1,
  name: 'shop',
  profile: 'lc@1.0.0',
  on: 'lc',
  roles: [
    { role: 'primary', components: [measurement, greeter] },
    { role: 'replica', components: [measurement, echo, greeter] },
  ],
  members: [
    { node: kB, role: 'primary' },
    { node: kC, role: 'replica' },
    { node: kD, role: 'replica' },
  ],
  leftovers: [],
  updatedAtMs: 0,
  deleted: false,
};

const remove = (node: string, component: JournalStep['component']): JournalStep => ({ kind: 'remove', node, component, previous: component });
const install = (node: string, component: JournalStep['component']): JournalStep => ({ kind: 'install', node, component, previous: null });

describe('a delete\'s plan', () => {
  it('is every live member\'s removal in reverse role and start order, never a farm component, none for a dead member', () => {
    expect(teardownSteps(record, new Set([kB, kC, kD]))).toEqual([remove(kC, greeter), remove(kC, echo), remove(kD, greeter), remove(kD, echo), remove(kB, greeter)]);
    expect(teardownSteps(record, new Set([kB, kD]))).toEqual([remove(kD, greeter), remove(kD, echo), remove(kB, greeter)]);
    expect(teardownSteps(record, new Set())).toEqual([]);
  });

  it('travels in its journal through the FMIDB text; a steward reads the removals done as plan indexes', () => {
    const planned = teardownSteps(record, new Set([kB, kC, kD]));
    const journal: OperationJournal = { ...newJournal({ id: '0123456789abcdef', kind: 'delete', cluster: 'shop', profile: 'lc@1.0.0', by: 'admin', runner: kB, life: 'life-1', startedAt: '2026-12-08T02:00:00.000Z' }), planned, done: [0, 1] };
    const text = fitJournal(journal, 16_384);
    expect(text).not.toBeNull();
    const back = decodeJournal(text!)!;
    expect(back.planned).toEqual(planned);
    expect(doneSteps(back)).toEqual([remove(kC, greeter), remove(kC, echo)]);
  });
});

describe('an interrupted repair put back', () => {
  // A repair replacing dead C with E: E's installs planned; E then in the record or not.
  const planned = [install(kE, echo), install(kE, greeter)];
  const journal = { done: [0], inflight: null, planned };
  const before = record;
  const after: LifecycleRecord = { ...record, members: [{ node: kB, role: 'primary' }, { node: kD, role: 'replica' }, { node: kE, role: 'replica' }] };

  it('undoes every planned install of a member the record does not name yet, the one its runner died in too', () => {
    expect(repairUndoSteps(undoSteps(journal), before)).toEqual(planned);
  });

  it('keeps the installs of a member the record names already (the repair had written it), which undoing every step removes (the broken variant)', () => {
    expect(repairUndoSteps(undoSteps(journal), after)).toEqual([]);
    // The broken variant: every planned step undone, E stays in the record without its components.
    expect(undoSteps(journal)).toEqual(planned);
    // Another version than the record's is not the member's component: put back.
    const other = install(kE, { ...greeter, version: '2.0.0' });
    expect(repairUndoSteps([other], after)).toEqual([other]);
    // A deleted record names no member.
    expect(repairUndoSteps(planned, { ...after, deleted: true })).toEqual(planned);
  });
});
