// The steward's gathering of operation journals from the other lifecycles
// (cluster-lifecycle.ts, gatherJournals; lifecycle-journal.ts, abandonedJournals): per
// operation the copy furthest along decides. A journal the steward's replica never got
// (the FMIDB can miss a runner's last write for good when the runner crashed before it
// spread: fmidb-replica.ts, ownBackfilledTo) is recovered from a peer's copy; a stale
// running copy in the steward's replica of an operation a peer holds finished is not
// taken over (a create that succeeded would be undone). And what it puts back: every step
// a create's or upgrade's plan names, so the step whose journal write never left the
// runner that died in it is put back too (undoSteps), and a journal fitted to an FMIDB
// value (fitJournal).
import { describe, expect, it } from 'vitest';
import { abandonedJournals, decodeGathered, decodeJournal, doneAndUnderWay, doneEntry, doneSteps, fitJournal, furtherAlong, journalsAnswer, newJournal, orphaned, undoSteps, withEvent, type JournalStep, type OperationJournal } from '../src/cluster/lifecycle/lifecycle-journal.js';

const kA = 'aaaaaaaaaaaaaaaa';
const kS = 'bbbbbbbbbbbbbbbb';

function journal(id: string, runner: string, life: string, events: number, state: OperationJournal['state'] = 'running'): OperationJournal {
  let j = newJournal({ id, kind: 'create', cluster: 'up', profile: 'up@2.0.0', by: 'admin', runner, life, startedAt: '2026-12-07T18:15:37.000Z' });
  for (let seq = 1; seq <= events; seq++) j = withEvent(j, { seq, at: '2026-12-07T18:15:37.000Z', step: seq === 1 ? 'start' : 'install-start', node: null, text: `event ${seq}`, ok: true });
  return { ...j, state };
}

/** The steward as it was before gathering: its own replica only. */
function replicaOnly(own: readonly OperationJournal[], _gathered: readonly OperationJournal[], lives: ReadonlyMap<string, string>): OperationJournal[] {
  return own.filter((j) => orphaned(j, lives));
}

describe('the steward takes over from the copy furthest along, its own or a peer\'s', () => {
  // A restarted into another life (life2); what it ran in life1 is abandoned.
  const lives = new Map([[kA, 'life2'], [kS, 'lifeS']]);
  const lost = journal('1111111111111111', kA, 'life1', 3);

  it('takes over an operation only a peer holds, which the replica-only steward leaves running for good (the broken variant)', () => {
    expect(abandonedJournals([], [lost], lives).map((j) => j.id)).toEqual([lost.id]);
    expect(replicaOnly([], [lost], lives)).toEqual([]);
  });

  it('does not undo an operation a peer holds finished while its own replica still says running, which the replica-only steward does (the broken variant)', () => {
    const stale = journal('2222222222222222', kA, 'life1', 12);
    const finished = journal(stale.id, kA, 'life1', 13, 'succeeded');
    expect(abandonedJournals([stale], [finished], lives)).toEqual([]);
    expect(replicaOnly([stale], [finished], lives)).toEqual([stale]);
  });

  it('keeps its own copy when a peer\'s is older: a finished operation, or one another steward took over, is not taken over again', () => {
    expect(abandonedJournals([journal(lost.id, kA, 'life1', 4, 'failed')], [lost], lives)).toEqual([]);
    const recovered = withEvent({ ...lost, runner: kS, life: 'lifeS' }, { seq: 4, at: '2026-12-07T18:15:40.000Z', step: 'resume', node: null, text: 'taken over', ok: true });
    expect(abandonedJournals([recovered], [lost], lives)).toEqual([]);
    expect(abandonedJournals([lost], [lost], lives)).toEqual([lost]);
  });

  it('leaves an operation whose runner still runs it (alive in the same life)', () => {
    expect(abandonedJournals([], [journal('3333333333333333', kA, 'life2', 2)], lives)).toEqual([]);
  });

  it('answers running journals first and reads answers strictly', () => {
    const done = journal('4444444444444444', kA, 'life1', 5, 'succeeded');
    const answer = journalsAnswer([done, lost]);
    expect(decodeGathered(answer)).toEqual([lost, done]);
    expect(decodeGathered({ journals: [...answer.journals, '{"no":1}', 7] })).toEqual([lost, done]);
    for (const bad of [null, 'x', {}, { journals: 'x' }]) expect(decodeGathered(bad)).toBeNull();
    expect(furtherAlong(journal(lost.id, kA, 'life1', 2), lost)).toBe(lost);
    expect(furtherAlong(lost, journal(lost.id, kA, 'life1', 2))).toBe(lost);
  });
});

describe('the steward puts back every planned step of an interrupted create or upgrade', () => {
  const kB = 'b'.repeat(16);
  const kC = 'c'.repeat(16);
  const v = (version: string) => ({ name: 'greeter', version, farm: false });
  const onB: JournalStep = { kind: 'install', node: kB, component: v('4.0.0'), previous: v('1.0.0') };
  const onC: JournalStep = { kind: 'install', node: kC, component: v('4.0.0'), previous: v('1.0.0') };
  // The runner finished B, wrote C's step under way and sent it; C's write never left the runner before it was killed.
  const held: OperationJournal = { ...journal('5555555555555555', kA, 'life1', 6), kind: 'upgrade', planned: [onB, onC], done: [0], inflight: null };

  /** The steward before plans: the steps done and the one under way, as its copy of the journal holds them. */
  const journaledOnly = (j: OperationJournal): JournalStep[] => doneAndUnderWay(j);

  it('puts back the step its runner died in even when no copy names it, which the journal-only steward leaves (the broken variant)', () => {
    expect(undoSteps(held)).toEqual([onB, onC]);
    // Undone in reverse: C first (4.0.0 -> 1.0.0 whether or not its install ran), then B.
    expect([...undoSteps(held)].reverse().map((s) => `${s.node.slice(0, 1)}:${s.previous?.version}`)).toEqual(['c:1.0.0', 'b:1.0.0']);
    expect(journaledOnly(held)).toEqual([onB]);
  });

  it('without a plan (a delete, a repair, an older journal) puts back the steps done and under way', () => {
    const { planned: _planned, ...rest } = held;
    const unplanned = { ...rest, done: [onB] };
    expect(undoSteps({ ...unplanned, inflight: onC })).toEqual([onB, onC]);
    expect(undoSteps(unplanned)).toEqual([onB]);
    // A step done that the plan lacks is put back too.
    const extra: JournalStep = { kind: 'remove', node: kC, component: v('1.0.0'), previous: v('1.0.0') };
    expect(undoSteps({ ...held, done: [0, extra] })).toEqual([onB, onC, extra]);
  });

  it('journals a step done as its index in the plan, a step the plan lacks whole, and reads both', () => {
    expect(doneEntry(held, onC)).toBe(1);
    expect(doneEntry(held, { ...onC, component: v('5.0.0') })).toEqual({ ...onC, component: v('5.0.0') });
    expect(doneEntry({}, onB)).toEqual(onB);
    expect(doneSteps({ ...held, done: [1, 0, onB, 7] })).toEqual([onC, onB, onB]);
    expect(doneAndUnderWay({ ...held, inflight: onC })).toEqual([onB, onC]);
  });

  it('fits a 64-member upgrade\'s plan and every step of it done in one agent FMIDB value (16 KiB)', () => {
    const nodes = Array.from({ length: 64 }, (_, i) => i.toString(16).padStart(16, '0'));
    const planned: JournalStep[] = nodes.map((node) => ({ kind: 'install', node, component: { name: 'greeter', version: '4.0.0', config: { greeting: 'hello' }, farm: false }, previous: { name: 'greeter', version: '1.0.0', config: { greeting: 'hello' }, farm: false } }));
    const whole = { ...held, planned, done: planned.map((_, i) => i) };
    expect(fitJournal(whole, 16_384)).not.toBeNull();
    // The same steps journaled whole (not as plan indexes) do not fit.
    expect(fitJournal({ ...whole, done: planned }, 16_384)).toBeNull();
  });

  it('keeps the plan through the FMIDB text, and a journal fitted to a value drops its oldest events, never a step', () => {
    expect(decodeJournal(JSON.stringify(held))).toEqual(held);
    let busy = held;
    for (let seq = 7; seq <= 38; seq++) busy = withEvent(busy, { seq, at: '2026-12-07T18:15:37.000Z', step: 'note', node: null, text: 'x'.repeat(400), ok: true });
    const whole = JSON.stringify(busy).length;
    const fitted = fitJournal(busy, 4_096);
    expect(whole).toBeGreaterThan(4_096);
    expect(fitted).not.toBeNull();
    expect(fitted!.length).toBeLessThanOrEqual(4_096);
    const back = decodeJournal(fitted!)!;
    expect(back.planned).toEqual([onB, onC]);
    expect(doneSteps(back)).toEqual([onB]);
    expect(back.events.length).toBeLessThan(busy.events.length);
    expect(back.events.at(-1)).toEqual(busy.events.at(-1));
    expect(fitJournal(busy, whole)).toBe(JSON.stringify(busy));
    // Steps alone past the bound: no journal (the operation is refused before its first step).
    expect(fitJournal({ ...held, events: [] }, 200)).toBeNull();
  });

  it('answers one operation\'s journal by id (the runner\'s check that another replica holds it)', () => {
    const other = journal('6666666666666666', kA, 'life1', 2);
    expect(decodeGathered(journalsAnswer([other, held], { id: held.id }))).toEqual([held]);
    expect(decodeGathered(journalsAnswer([other], { id: held.id }))).toEqual([]);
    expect(decodeGathered(journalsAnswer([other, held], {}))!.map((j) => j.id).sort()).toEqual([held.id, other.id].sort());
  });
});
