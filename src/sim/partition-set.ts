/**
 * The network partitions in force: a list of cuts, each splitting some nodes into side A
 * and side B. A cut drops A→B traffic, and B→A too unless it is one-way. Nodes in
 * neither side of a cut are not affected by it. Cuts add up until clear().
 *
 * Each cut is a Uint8Array indexed by node (0 = neither side, 1 = A, 2 = B), so a check
 * is two byte reads per cut and the common case (no cut) is one length test.
 */
const kSideNone = 0;
const kSideA = 1;
const kSideB = 2;

interface Cut {
  readonly sides: Uint8Array;
  readonly oneWay: boolean;
}

export class PartitionSet {
  private cuts: Cut[] = [];
  private readonly nodesMax: number;

  constructor(nodesMax: number) {
    this.nodesMax = nodesMax;
  }

  /** True when at least one cut is in force. */
  get active(): boolean {
    return this.cuts.length !== 0;
  }

  /** Adds a cut between node indexes in groupA and groupB; a node may not be on both sides. */
  add(groupA: readonly number[], groupB: readonly number[], oneWay: boolean): void {
    const sides = new Uint8Array(this.nodesMax);
    for (const node of groupA) sides[node] = kSideA;
    for (const node of groupB) {
      if (sides[node] === kSideA) throw new RangeError(`partition: node #${node} is in both groups`);
      sides[node] = kSideB;
    }
    this.cuts.push({ sides, oneWay });
  }

  clear(): void {
    this.cuts = [];
  }

  /** True when some cut drops traffic from `from` to `to`. */
  blocks(from: number, to: number): boolean {
    const cuts = this.cuts;
    for (let i = 0; i < cuts.length; i++) {
      const cut = cuts[i]!;
      const fromSide = cut.sides[from]!;
      if (fromSide === kSideNone) continue;
      const toSide = cut.sides[to]!;
      if (fromSide === kSideA && toSide === kSideB) return true;
      if (!cut.oneWay && fromSide === kSideB && toSide === kSideA) return true;
    }
    return false;
  }
}
