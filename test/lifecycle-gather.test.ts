// The steward's gathering of running operations from other lifecycles (cluster-lifecycle.ts,
// gatherJournals; lifecycle-journal.ts, abandonedJournals): a journal the steward's own
// replica never got (the FMIDB can miss a runner's last write for good when the runner
// crashed before it spread: fmidb-replica.ts, ownBackfilledTo) is recovered from a peer's
// answer; one its replica holds in any version is taken from the replica.
import { describe, expect, it } from 'vitest';
import { abandonedJournals, decodeGathered, encodeJournal, furtherAlong, newJournal, orphaned, withEvent, type OperationJournal } from '../src/cluster/lifecycle/lifecycle-journal.js';

const kA = 'aaaaaaaaaaaaaaaa';
const kS = 'bbbbbbbbbbbbbbbb';

function journal(id: string, runner: string, life: string, events = 1): OperationJournal {
  let j = newJournal({ id, kind: 'upgrade', cluster: 'up', profile: 'up@2.0.0', by: 'admin', runner, life, startedAt: '2026-12-07T18:15:37.000Z' });
  for (let seq = 1; seq <= events; seq++) j = withEvent(j, { seq, at: '2026-12-07T18:15:37.000Z', step: seq === 1 ? 'start' : 'upgrade-start', node: null, text: `event ${seq}`, ok: true });
  return j;
}

/** The steward as it was before gathering: its own replica only. */
function replicaOnly(own: readonly OperationJournal[], _gathered: readonly OperationJournal[], lives: ReadonlyMap<string, string>): OperationJournal[] {
  return own.filter((j) => orphaned(j, lives));
}

describe('the steward gathers running operations its replica lacks', () => {
  // A restarted into another life (life2); the operation it ran in life1 reached only B's replica.
  const lives = new Map([[kA, 'life2'], [kS, 'lifeS']]);
  const lost = journal('1111111111111111', kA, 'life1', 3);

  it('takes over an operation only a peer holds, which the replica-only steward leaves running for good (the broken variant)', () => {
    expect(abandonedJournals([], [lost], lives).map((j) => j.id)).toEqual([lost.id]);
    expect(replicaOnly([], [lost], lives)).toEqual([]);
  });

  it('prefers its own replica for an operation it holds in any version: a finished one is not taken over again from a stale copy', () => {
    const finished = { ...lost, state: 'succeeded' as const };
    expect(abandonedJournals([finished], [lost], lives)).toEqual([]);
    const recovered = { ...lost, runner: kS, life: 'lifeS' };
    expect(abandonedJournals([recovered], [lost], lives)).toEqual([]);
    // Its own orphaned copy is taken once, not twice.
    expect(abandonedJournals([lost], [lost], lives)).toHaveLength(1);
  });

  it('leaves a peer\'s operation whose runner still runs it (alive in the same life)', () => {
    const running = journal('2222222222222222', kA, 'life2');
    expect(abandonedJournals([], [running], lives)).toEqual([]);
  });

  it('keeps of two peers\' copies the one further along, and reads answers strictly', () => {
    const behind = journal(lost.id, kA, 'life1', 2);
    expect(furtherAlong(behind, lost)).toBe(lost);
    expect(furtherAlong(lost, behind)).toBe(lost);
    expect(decodeGathered({ journals: [encodeJournal(lost), encodeJournal({ ...lost, id: '3333333333333333', state: 'failed' }), '{"no":1}', 7] })).toEqual([lost]);
    for (const bad of [null, 'x', {}, { journals: 'x' }]) expect(decodeGathered(bad)).toBeNull();
  });
});
