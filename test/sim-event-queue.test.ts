// Proves the simulator's event queue: events come out in (time, push order) order, ties
// in the order they were pushed, fields and payloads come back intact, released slots
// are recycled, and the queue grows up to its limit and then refuses loudly. Checked
// against a sorted reference on seeded random schedules.
import { describe, expect, it } from 'vitest';
import { EventQueue } from '../src/sim/event-queue.js';
import { Prng } from '../src/core/util/prng.js';

interface Ref {
  timeMs: number;
  order: number;
}

describe('EventQueue', () => {
  it('pops in (time, push order) order on random schedules, interleaving pushes and pops', () => {
    const random = new Prng(7);
    const queue = new EventQueue(4, 1 << 16);
    const reference: Ref[] = [];
    let order = 0;
    // Like a simulator, never schedule before the last event popped.
    let floorMs = 0;
    for (let step = 0; step < 20_000; step++) {
      if (queue.length === 0 || random.chance(0.55)) {
        // Times on a coarse grid so many ties happen.
        const timeMs = floorMs + random.nextInt(20) / 4;
        const payload = Uint8Array.of(order & 255);
        queue.push(timeMs, 3, order, -1 - order, order * 2, order * 3, payload);
        reference.push({ timeMs, order });
        order++;
      } else {
        reference.sort((a, b) => a.timeMs - b.timeMs || a.order - b.order);
        const expected = reference.shift()!;
        const slot = queue.pop();
        expect(queue.poppedTimeMs).toBe(expected.timeMs);
        expect(queue.sourceOf(slot)).toBe(expected.order);
        expect(queue.targetOf(slot)).toBe(-1 - expected.order);
        expect(queue.sourceEpochOf(slot)).toBe(expected.order * 2);
        expect(queue.targetEpochOf(slot)).toBe(expected.order * 3);
        expect(queue.kindOf(slot)).toBe(3);
        expect(queue.payloadOf(slot)![0]).toBe(expected.order & 255);
        floorMs = queue.poppedTimeMs;
        queue.release(slot);
      }
    }
    expect(queue.length).toBe(reference.length);
  });

  it('recycles released slots, so a steady state does not grow', () => {
    const queue = new EventQueue(8, 8);
    for (let round = 0; round < 1000; round++) {
      for (let i = 0; i < 8; i++) queue.push(round + i, 1, i, i, 0, 0, null);
      for (let i = 0; i < 8; i++) queue.release(queue.pop());
    }
    expect(queue.slotsInUse).toBe(0);
    expect(queue.peekTimeMs()).toBe(Infinity);
  });

  it('counts popped-but-unreleased slots against the limit and throws when full', () => {
    const queue = new EventQueue(2, 4);
    for (let i = 0; i < 4; i++) queue.push(i, 1, i, i, 0, 0, null);
    const held = queue.pop();
    expect(queue.slotsInUse).toBe(4);
    expect(() => queue.push(9, 1, 0, 0, 0, 0, null)).toThrow(/event queue full: 4 events/);
    queue.release(held);
    queue.push(9, 1, 0, 0, 0, 0, null);
    expect(queue.length).toBe(4);
    expect(() => new EventQueue(0, 4)).toThrow(/initialCapacity must be a positive integer/);
  });
});
