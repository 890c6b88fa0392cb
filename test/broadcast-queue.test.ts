/**
 * Proves that the treap-ordered BroadcastQueue keeps the exact semantics of the queue it
 * replaced (issue 14's starting point, which sorted the whole queue on every take, kept
 * as bench/baseline-broadcast-queue.ts): on random sequences of queueMembership,
 * queueUser, forget and take, with small bounds so eviction, the user reserve, partsMax
 * and first-fit skipping all happen, both queues return the very same parts in the same
 * order and agree on length and dropped after every step (fast-check, 300 runs of up to
 * 120 operations). The same property is shown to catch two deliberately broken queues,
 * so a difference in order or budget would be seen. No timing here: bench:path measures
 * the cost.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BaselineBroadcastQueue } from '../bench/baseline-broadcast-queue.js';
import { BroadcastQueue } from '../src/core/membership/broadcast-queue.js';

interface QueueLike {
  readonly length: number;
  readonly dropped: number;
  queueMembership(key: string, part: Uint8Array): void;
  queueUser(part: Uint8Array): void;
  forget(key: string): void;
  take(budgetBytes: number, partsMax: number, limit: number, userReserveBytes: number): readonly Uint8Array[];
}

type Operation =
  | { op: 'membership'; key: number; size: number }
  | { op: 'user'; size: number }
  | { op: 'forget'; key: number }
  | { op: 'take'; budget: number; partsMax: number; limit: number; reserve: number };

const operation: fc.Arbitrary<Operation> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('membership' as const), key: fc.integer({ min: 0, max: 30 }), size: fc.integer({ min: 1, max: 120 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('user' as const), size: fc.integer({ min: 1, max: 200 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('forget' as const), key: fc.integer({ min: 0, max: 30 }) }) },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('take' as const),
      budget: fc.integer({ min: 0, max: 600 }),
      partsMax: fc.integer({ min: 0, max: 8 }),
      limit: fc.integer({ min: 1, max: 5 }),
      reserve: fc.integer({ min: 0, max: 250 }),
    }),
  },
);

const scenario = fc.record({ lengthMax: fc.integer({ min: 1, max: 24 }), operations: fc.array(operation, { maxLength: 120 }) });

/** Replays a scenario on both queues; the first disagreement, or null. */
function firstDifference(make: (lengthMax: number) => QueueLike, lengthMax: number, operations: readonly Operation[]): string | null {
  const reference = new BaselineBroadcastQueue(lengthMax);
  const candidate = make(lengthMax);
  let serial = 0;
  for (const [index, step] of operations.entries()) {
    if (step.op === 'membership' || step.op === 'user') {
      // Parts are shared by both queues, so the comparison is by identity.
      const part = new Uint8Array(step.size).fill(serial++ & 0xff);
      if (step.op === 'membership') {
        reference.queueMembership(`n${step.key}`, part);
        candidate.queueMembership(`n${step.key}`, part);
      } else {
        reference.queueUser(part);
        candidate.queueUser(part);
      }
    } else if (step.op === 'forget') {
      reference.forget(`n${step.key}`);
      candidate.forget(`n${step.key}`);
    } else {
      const expected = reference.take(step.budget, step.partsMax, step.limit, step.reserve);
      const actual = candidate.take(step.budget, step.partsMax, step.limit, step.reserve);
      if (expected.length !== actual.length || expected.some((part, i) => part !== actual[i])) return `step ${index}: take returned different parts`;
    }
    if (reference.length !== candidate.length) return `step ${index}: length ${candidate.length}, expected ${reference.length}`;
    if (reference.dropped !== candidate.dropped) return `step ${index}: dropped ${candidate.dropped}, expected ${reference.dropped}`;
  }
  return null;
}

function counterexample(make: (lengthMax: number) => QueueLike): string | null {
  const result = fc.check(
    fc.property(scenario, ({ lengthMax, operations }) => firstDifference(make, lengthMax, operations) === null),
    { numRuns: 300, seed: 14 },
  );
  return result.failed ? `seed ${result.seed}, path ${result.counterexamplePath}` : null;
}

/** Broken on purpose: forgets the user reserve, so membership news may crowd user broadcasts out. */
class NoReserveQueue extends BroadcastQueue {
  override take(budgetBytes: number, partsMax: number, limit: number): readonly Uint8Array[] {
    return super.take(budgetBytes, partsMax, limit, 0);
  }
}

/** Broken on purpose: returns the right parts in the wrong order. */
class ReversedQueue extends BroadcastQueue {
  override take(budgetBytes: number, partsMax: number, limit: number, userReserveBytes: number): readonly Uint8Array[] {
    return [...super.take(budgetBytes, partsMax, limit, userReserveBytes)].reverse();
  }
}

describe('broadcast queue: same semantics as the sort-every-take queue', () => {
  it('agrees with the baseline on random operation sequences', () => {
    expect(counterexample((lengthMax) => new BroadcastQueue(lengthMax))).toBeNull();
  });

  it('the comparison catches a queue that ignores the user reserve', () => {
    expect(counterexample((lengthMax) => new NoReserveQueue(lengthMax))).not.toBeNull();
  });

  it('the comparison catches a queue that reorders what it takes', () => {
    expect(counterexample((lengthMax) => new ReversedQueue(lengthMax))).not.toBeNull();
  });

  it('agrees on a long run at the engine scale (4,096 queued, many takes)', () => {
    const operations: Operation[] = [];
    let state = 14;
    const next = (n: number): number => {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      return state % n;
    };
    for (let i = 0; i < 20_000; i++) {
      const r = next(10);
      if (r < 5) operations.push({ op: 'membership', key: next(6000), size: 20 + next(60) });
      else if (r < 6) operations.push({ op: 'user', size: 10 + next(300) });
      else if (r < 7) operations.push({ op: 'forget', key: next(6000) });
      else operations.push({ op: 'take', budget: next(1400), partsMax: 64, limit: 3 + next(10), reserve: 200 });
    }
    expect(firstDifference((lengthMax) => new BroadcastQueue(lengthMax), 4096, operations)).toBeNull();
  });
});
