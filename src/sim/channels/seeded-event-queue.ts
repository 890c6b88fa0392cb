/**
 * A seeded simulation's agenda: callbacks ordered by time, ties broken by insertion
 * order, so one seed gives one run. A binary heap; `lengthMax` bounds it.
 */
export class SeededEventQueue {
  private readonly heap: { timeMs: number; order: number; run: () => void }[] = [];
  private orderNext = 0;
  private nowMsValue = 0;
  readonly lengthMax: number;

  constructor(lengthMax: number) {
    this.lengthMax = lengthMax;
  }

  get nowMs(): number {
    return this.nowMsValue;
  }

  get length(): number {
    return this.heap.length;
  }

  /** Runs `run` at timeMs (not before now). */
  at(timeMs: number, run: () => void): void {
    if (this.heap.length >= this.lengthMax) throw new Error(`event queue over its bound of ${this.lengthMax}`);
    const item = { timeMs: Math.max(timeMs, this.nowMsValue), order: this.orderNext++, run };
    const heap = this.heap;
    heap.push(item);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  /** Runs events up to and including untilMs; returns how many ran. */
  runUntil(untilMs: number): number {
    let count = 0;
    while (this.heap.length > 0 && this.heap[0]!.timeMs <= untilMs) {
      const item = this.pop();
      this.nowMsValue = item.timeMs;
      item.run();
      count++;
    }
    this.nowMsValue = Math.max(this.nowMsValue, untilMs);
    return count;
  }

  private pop(): { timeMs: number; order: number; run: () => void } {
    const heap = this.heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let least = i;
        if (left < heap.length && before(heap[left]!, heap[least]!)) least = left;
        if (right < heap.length && before(heap[right]!, heap[least]!)) least = right;
        if (least === i) break;
        [heap[i], heap[least]] = [heap[least]!, heap[i]!];
        i = least;
      }
    }
    return top;
  }
}

function before(a: { timeMs: number; order: number }, b: { timeMs: number; order: number }): boolean {
  return a.timeMs < b.timeMs || (a.timeMs === b.timeMs && a.order < b.order);
}
