/**
 * Membership change events for the API stream, coalesced per landscape: between two
 * drains a landscape has at most one pending event, holding the members it had when
 * the first change since the last drain happened. At the drain the event says what was
 * added and removed since then, so a node that flapped in and out between drains
 * produces nothing, and the queue is bounded by the number of landscapes without ever
 * dropping an event.
 */
export interface LandscapeEvent {
  readonly name: string;
  /** Node ids that joined since the previous event of this landscape, sorted. */
  readonly added: string[];
  /** Node ids that left, sorted. */
  readonly removed: string[];
  /** All members now, sorted; empty when deleted. */
  readonly members: string[];
  /** The landscape was deleted (or replaced by a peer's deletion); members is empty. */
  readonly deleted: boolean;
}

/** What the coalescer needs to know about a landscape at drain time. */
export interface CurrentMembers {
  /** The members now, or undefined when the landscape no longer exists. */
  membersOf(name: string): ReadonlySet<string> | undefined;
}

const kEmpty: ReadonlySet<string> = new Set();

export class LandscapeEventQueue {
  /** Name to the members before the first change since the last drain. At most one entry per landscape name seen. */
  private readonly before = new Map<string, ReadonlySet<string>>();

  get length(): number {
    return this.before.size;
  }

  /** Call before a landscape's members change (or it is deleted), with the members it has now. */
  noteChange(name: string, membersBefore: ReadonlySet<string> | undefined): void {
    if (!this.before.has(name)) this.before.set(name, membersBefore ?? kEmpty);
  }

  /** The events since the last drain, in the order the landscapes first changed; clears the queue. */
  drain(current: CurrentMembers): LandscapeEvent[] {
    const events: LandscapeEvent[] = [];
    for (const [name, before] of this.before) {
      const now = current.membersOf(name);
      const after = now ?? kEmpty;
      const added = difference(after, before);
      const removed = difference(before, after);
      if (now !== undefined && added.length === 0 && removed.length === 0) continue;
      events.push({ name, added, removed, members: [...after].sort(), deleted: now === undefined });
    }
    this.before.clear();
    return events;
  }
}

function difference(a: ReadonlySet<string>, b: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (const id of a) if (!b.has(id)) out.push(id);
  return out.sort();
}
