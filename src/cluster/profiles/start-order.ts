/**
 * The order to start things in when some must start after others: a topological sort
 * that, among the items free to go, takes the one listed first, so the order is the
 * listed order wherever dependencies allow (and the same on every node). Used for a
 * role's components (`after` between packages) and for roles (`after` between roles).
 * Components are stopped in the reverse order.
 */
export type StartOrder = { readonly ok: true; readonly order: readonly string[] } | { readonly ok: false; readonly cycle: readonly string[] };

/** `items` in listed order with, for each, the names it must come after (all among `items`). */
export function startOrder(items: ReadonlyArray<{ readonly name: string; readonly after: readonly string[] }>): StartOrder {
  const done = new Set<string>();
  const order: string[] = [];
  while (order.length < items.length) {
    const next = items.find((item) => !done.has(item.name) && item.after.every((name) => done.has(name)));
    if (next === undefined) return { ok: false, cycle: findCycle(items.filter((item) => !done.has(item.name))) };
    done.add(next.name);
    order.push(next.name);
  }
  return { ok: true, order };
}

/** One cycle among items none of which can go: follow the first blocking dependency until a name repeats. */
function findCycle(stuck: ReadonlyArray<{ readonly name: string; readonly after: readonly string[] }>): string[] {
  const byName = new Map(stuck.map((item) => [item.name, item]));
  const path: string[] = [];
  let at = stuck[0]!;
  while (!path.includes(at.name)) {
    path.push(at.name);
    at = byName.get(at.after.find((name) => byName.has(name))!)!;
  }
  return [...path.slice(path.indexOf(at.name)), at.name];
}
