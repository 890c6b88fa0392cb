/**
 * The nodes of a landscape, as the farm resolves them (farm.resolve), remembered for a
 * short while: a correlation rule asks for every batch of events, and a landscape's
 * membership changes on the scale of the FMIDB's updates, not of milliseconds.
 */
export const kLandscapeNodesTtlMs = 10_000;
/** Landscapes remembered at most (correlation rules and queries name few). */
export const kLandscapesCachedMax = 256;
/** Node ids one resolution may return at most: the largest farm. */
export const kLandscapeNodesMax = 65_536;

export type ResolveLandscape = (landscape: string) => Promise<unknown>;

export class LandscapeNodes {
  private readonly cache = new Map<string, { nodes: readonly string[]; atMs: number }>();

  constructor(
    private readonly resolve: ResolveLandscape,
    private readonly now: () => number = Date.now,
    private readonly ttlMs = kLandscapeNodesTtlMs,
  ) {}

  /** The landscape's node ids; rejects when the farm cannot resolve it or answers something else than a list of ids. */
  async nodes(landscape: string): Promise<readonly string[]> {
    const nowMs = this.now();
    const cached = this.cache.get(landscape);
    if (cached !== undefined && nowMs - cached.atMs < this.ttlMs) return cached.nodes;
    const answer = await this.resolve(landscape);
    const nodes = asNodeIds(answer);
    if (nodes === null) throw new Error(`farm.resolve answered something other than a list of at most ${kLandscapeNodesMax} node ids`);
    this.cache.delete(landscape);
    this.cache.set(landscape, { nodes, atMs: nowMs });
    if (this.cache.size > kLandscapesCachedMax) this.cache.delete(this.cache.keys().next().value!);
    return nodes;
  }
}

/** farm.resolve answers node ids, as a list or as { nodes: [...] }. */
function asNodeIds(answer: unknown): readonly string[] | null {
  const list = Array.isArray(answer) ? answer : (answer as { nodes?: unknown } | null)?.nodes;
  if (!Array.isArray(list) || list.length > kLandscapeNodesMax) return null;
  if (!list.every((id) => typeof id === 'string' && /^[0-9a-f]{16}$/.test(id))) return null;
  return Object.freeze([...(list as string[])]);
}
