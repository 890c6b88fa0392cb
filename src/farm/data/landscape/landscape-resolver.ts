/**
 * "The nodes of landscape X": the one way later layers (jobs, scripts, clusters) turn a
 * landscape name into target nodes. The landscape engine implements it; tests and
 * other layers can stand in a fixed map.
 */
export interface LandscapeResolver {
  /**
   * The ids of the landscape's members, sorted, as this node last computed them.
   * Throws a LandscapeError: GALAXY_LANDSCAPE_UNKNOWN when no landscape has that name,
   * GALAXY_LANDSCAPE_UNAVAILABLE when its statement does not compile here or its last
   * evaluation failed (a target list that may be stale is worse than none).
   */
  nodesOf(landscape: string): string[];
}
