// The steward's gathering of operation journals from the other lifecycles
// (cluster-lifecycle.ts, gatherJournals; lifecycle-journal.ts, abandonedJournals): per
// operation the copy furthest along decides. A journal the steward's replica never got
// (the FMIDB can miss a runner's last write for good when the runner crashed before it
// spread: fmidb-replica.ts, ownBackfilledTo) is recovered from a peer's copy; a stale
// running copy in the steward's replica of an operation a peer holds finished is not
// taken over (a create that succeeded would be undone).
import { describe, expect, it } from 'vitest';
import { abandonedJournals, decodeGathered, furtherAlong, journalsAnswer, newJournal, orphaned, withEvent, type OperationJournal } from '../src/cluster/lifecycle/lifecycle-journal.js';

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
