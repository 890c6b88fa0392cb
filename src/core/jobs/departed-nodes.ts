/**
 * The membership half of the lost-node rule: nodes present in `previous` and absent
 * from `current`. None on the first membership (previous null): only a departure
 * counts, never mere absence, since a node may run a process before this node's
 * membership lists it.
 */
export function departedNodes(previous: ReadonlySet<string> | null, current: ReadonlySet<string>, self: string): string[] {
  if (previous === null) return [];
  return [...previous].filter((node) => node !== self && !current.has(node));
}
