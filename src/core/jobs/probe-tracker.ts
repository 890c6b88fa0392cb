/**
 * Consecutive unanswered probes per node: the probe half of the lost-node rule
 * (src/farm/jobs/lost-node-rule.ts explains the rule). Pure: the caller decides when a
 * probe went unanswered.
 */
export class ProbeTracker {
  private readonly failures = new Map<string, number>();

  constructor(private readonly failuresMax: number) {
    if (!Number.isSafeInteger(failuresMax) || failuresMax < 1) throw new RangeError(`failuresMax must be a positive integer, got ${failuresMax}`);
  }

  /** Records an unanswered probe; true when the node's processes are now to be given up (the count restarts). */
  failed(node: string): boolean {
    const count = (this.failures.get(node) ?? 0) + 1;
    if (count < this.failuresMax) {
      this.failures.set(node, count);
      return false;
    }
    this.failures.delete(node);
    return true;
  }

  answered(node: string): void {
    this.failures.delete(node);
  }

  /** Forgets nodes that no longer have live processes, so the map stays as small as the live set. */
  retain(nodes: ReadonlySet<string>): void {
    for (const node of this.failures.keys()) if (!nodes.has(node)) this.failures.delete(node);
  }

  failuresOf(node: string): number {
    return this.failures.get(node) ?? 0;
  }
}
