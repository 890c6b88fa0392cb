// A pull whose answer never comes is asked again: of another peer that announced the
// same version meanwhile, or, when none did, of the peer first asked (losses are
// independent; waiting for an announcement that may never come left a node behind
// for seconds in a quiet farm under loss, bench:scale-stack).
import { describe, expect, it } from 'vitest';
import { PendingPulls, type PendingPull } from '../src/core/fmidb/pending-pulls.js';

function expired(pulls: PendingPulls, nowMs: number): Array<[number, string | null]> {
  const out: Array<[number, string | null]> = [];
  pulls.expire(nowMs, (key: number, p: PendingPull) => out.push([key, p.alternate]));
  return out;
}

describe('PendingPulls', () => {
  it('retries an unanswered pull of the peer first asked when nobody else announced the version', () => {
    const pulls = new PendingPulls(16, 3);
    pulls.add(1, 0, 1, 5, 150, 'peer-a');
    expect(expired(pulls, 100)).toEqual([]);
    expect(expired(pulls, 150)).toEqual([[1, 'peer-a']]);
  });

  it('prefers a peer that announced the version while the pull was under way', () => {
    const pulls = new PendingPulls(16, 3);
    pulls.add(1, 0, 1, 5, 150, 'peer-a');
    expect(pulls.covers(1, 5, 10, 'peer-b')).toBe(true);
    expect(expired(pulls, 150)).toEqual([[1, 'peer-b']]);
  });

  it('stops after attemptsMax pulls of one version, and forgets a settled one', () => {
    const pulls = new PendingPulls(16, 2);
    pulls.add(1, 0, 1, 5, 150, 'peer-a');
    pulls.add(1, 0, 1, 5, 300, 'peer-a');
    expect(expired(pulls, 300)).toEqual([]);
    pulls.add(2, 0, 2, 7, 400, 'peer-a');
    pulls.settle(2, 7);
    expect(expired(pulls, 400)).toEqual([]);
  });
});
