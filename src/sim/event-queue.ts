/**
 * The simulator's agenda: a binary min-heap of events ordered by (timeMs, sequence).
 *
 * The heap holds only keys and a slot number, in parallel typed arrays, so a comparison
 * reads two Float64Array cells and allocates nothing. An event's fields live in
 * per-slot typed arrays and its payload in a plain array indexed by slot; slots are
 * recycled through a free stack, so a long run allocates no event objects at all.
 *
 * The sequence number is the order of push, so two events at the same time run in the
 * order they were scheduled: that tie-break is what makes a run replay exactly.
 *
 * A popped slot stays owned by the caller until it calls release(slot); the simulator
 * uses that to park deliveries for a paused process without copying them.
 */
export class EventQueue {
  /** The most slots the queue may hold (queued plus popped-but-not-released); beyond it push throws. */
  readonly slotsMax: number;

  private heapTimeMs: Float64Array;
  private heapSequence: Float64Array;
  private heapSlot: Int32Array;
  private heapLength = 0;

  private slotKind: Uint8Array;
  private slotSource: Int32Array;
  private slotTarget: Int32Array;
  private slotSourceEpoch: Int32Array;
  private slotTargetEpoch: Int32Array;
  private slotPayload: (Uint8Array | null)[];
  private freeSlots: Int32Array;
  private freeLength = 0;
  private slotsUsed = 0;
  private capacity: number;
  private nextSequence = 0;
  private lastPoppedTimeMs = 0;

  constructor(initialCapacity: number, slotsMax: number) {
    if (!Number.isInteger(slotsMax) || slotsMax < 1) throw new RangeError(`slotsMax must be a positive integer, got ${slotsMax}`);
    if (!Number.isInteger(initialCapacity) || initialCapacity < 1) {
      throw new RangeError(`initialCapacity must be a positive integer, got ${initialCapacity}`);
    }
    this.slotsMax = slotsMax;
    this.capacity = Math.min(initialCapacity, slotsMax);
    this.heapTimeMs = new Float64Array(this.capacity);
    this.heapSequence = new Float64Array(this.capacity);
    this.heapSlot = new Int32Array(this.capacity);
    this.slotKind = new Uint8Array(this.capacity);
    this.slotSource = new Int32Array(this.capacity);
    this.slotTarget = new Int32Array(this.capacity);
    this.slotSourceEpoch = new Int32Array(this.capacity);
    this.slotTargetEpoch = new Int32Array(this.capacity);
    this.slotPayload = new Array<Uint8Array | null>(this.capacity).fill(null);
    this.freeSlots = new Int32Array(this.capacity);
  }

  /** Events waiting in the heap. */
  get length(): number {
    return this.heapLength;
  }

  /** Slots in use: queued events plus popped ones the caller has not released yet. */
  get slotsInUse(): number {
    return this.slotsUsed - this.freeLength;
  }

  /** Time of the earliest event; Infinity when the queue is empty. */
  peekTimeMs(): number {
    return this.heapLength === 0 ? Infinity : this.heapTimeMs[0]!;
  }

  /** Time of the event that the last pop() returned. */
  get poppedTimeMs(): number {
    return this.lastPoppedTimeMs;
  }

  /** Schedules an event; the queue keeps a reference to payload until the slot is released. */
  push(timeMs: number, kind: number, source: number, target: number, sourceEpoch: number, targetEpoch: number, payload: Uint8Array | null): void {
    const slot = this.allocateSlot();
    this.slotKind[slot] = kind;
    this.slotSource[slot] = source;
    this.slotTarget[slot] = target;
    this.slotSourceEpoch[slot] = sourceEpoch;
    this.slotTargetEpoch[slot] = targetEpoch;
    this.slotPayload[slot] = payload;
    this.siftUp(this.heapLength++, timeMs, this.nextSequence++, slot);
  }

  /** Removes the earliest event and returns its slot; the caller must release(slot) when done. Throws when empty. */
  pop(): number {
    if (this.heapLength === 0) throw new RangeError('pop from an empty event queue');
    const slot = this.heapSlot[0]!;
    this.lastPoppedTimeMs = this.heapTimeMs[0]!;
    const last = --this.heapLength;
    if (last > 0) this.siftDown(this.heapTimeMs[last]!, this.heapSequence[last]!, this.heapSlot[last]!, last);
    return slot;
  }

  /** Returns a popped slot to the free stack and drops its payload reference. */
  release(slot: number): void {
    this.slotPayload[slot] = null;
    this.freeSlots[this.freeLength++] = slot;
  }

  kindOf(slot: number): number {
    return this.slotKind[slot]!;
  }

  sourceOf(slot: number): number {
    return this.slotSource[slot]!;
  }

  targetOf(slot: number): number {
    return this.slotTarget[slot]!;
  }

  sourceEpochOf(slot: number): number {
    return this.slotSourceEpoch[slot]!;
  }

  targetEpochOf(slot: number): number {
    return this.slotTargetEpoch[slot]!;
  }

  payloadOf(slot: number): Uint8Array | null {
    return this.slotPayload[slot]!;
  }

  private allocateSlot(): number {
    if (this.freeLength > 0) return this.freeSlots[--this.freeLength]!;
    if (this.slotsUsed === this.capacity) this.grow();
    return this.slotsUsed++;
  }

  private siftUp(at: number, timeMs: number, sequence: number, slot: number): void {
    const times = this.heapTimeMs;
    const sequences = this.heapSequence;
    const slots = this.heapSlot;
    while (at > 0) {
      const parent = (at - 1) >> 1;
      const parentTimeMs = times[parent]!;
      if (parentTimeMs < timeMs || (parentTimeMs === timeMs && sequences[parent]! < sequence)) break;
      times[at] = parentTimeMs;
      sequences[at] = sequences[parent]!;
      slots[at] = slots[parent]!;
      at = parent;
    }
    times[at] = timeMs;
    sequences[at] = sequence;
    slots[at] = slot;
  }

  /**
   * Places the entry (timeMs, sequence, slot) into the hole at the root. Floyd's
   * bottom-up variant: the hole first walks down to a leaf along the smaller children
   * (one comparison per level), then the entry climbs back up. The entry is the old
   * last leaf, so it rarely climbs far, and this does about half the comparisons of
   * the textbook sift-down.
   */
  private siftDown(timeMs: number, sequence: number, slot: number, length: number): void {
    const times = this.heapTimeMs;
    const sequences = this.heapSequence;
    const slots = this.heapSlot;
    let at = 0;
    let child = 1;
    while (child < length) {
      const right = child + 1;
      if (right < length) {
        const rightTimeMs = times[right]!;
        const leftTimeMs = times[child]!;
        if (rightTimeMs < leftTimeMs || (rightTimeMs === leftTimeMs && sequences[right]! < sequences[child]!)) child = right;
      }
      times[at] = times[child]!;
      sequences[at] = sequences[child]!;
      slots[at] = slots[child]!;
      at = child;
      child = 2 * at + 1;
    }
    this.siftUp(at, timeMs, sequence, slot);
  }

  private grow(): void {
    if (this.capacity >= this.slotsMax) {
      throw new RangeError(`event queue full: ${this.slotsMax} events in flight; raise options.eventsQueuedMax or look for a send loop`);
    }
    const capacity = Math.min(this.capacity * 2, this.slotsMax);
    this.heapTimeMs = grownFloat64(this.heapTimeMs, capacity);
    this.heapSequence = grownFloat64(this.heapSequence, capacity);
    this.heapSlot = grownInt32(this.heapSlot, capacity);
    const kinds = new Uint8Array(capacity);
    kinds.set(this.slotKind);
    this.slotKind = kinds;
    this.slotSource = grownInt32(this.slotSource, capacity);
    this.slotTarget = grownInt32(this.slotTarget, capacity);
    this.slotSourceEpoch = grownInt32(this.slotSourceEpoch, capacity);
    this.slotTargetEpoch = grownInt32(this.slotTargetEpoch, capacity);
    this.freeSlots = grownInt32(this.freeSlots, capacity);
    for (let i = this.capacity; i < capacity; i++) this.slotPayload.push(null);
    this.capacity = capacity;
  }
}

function grownFloat64(from: Float64Array, capacity: number): Float64Array {
  const to = new Float64Array(capacity);
  to.set(from);
  return to;
}

function grownInt32(from: Int32Array, capacity: number): Int32Array {
  const to = new Int32Array(capacity);
  to.set(from);
  return to;
}
