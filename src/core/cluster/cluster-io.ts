/**
 * What goes into and comes out of a ClusterMember. Node ids are opaque strings (16 hex
 * digits in the farm); a member is a node id with the incarnation of the process that
 * joined, so a node that restarts comes back as a different member.
 */

/** One member of a view: the node and the incarnation of its cluster process. */
export interface MemberRef {
  readonly nodeId: string;
  readonly incarnation: number;
}

/** An installed view. Every view this core installs is primary (a minority installs none). */
export interface ClusterView {
  /** Views are numbered 1, 2, 3, … with no gaps in the cluster's one primary sequence. */
  readonly id: number;
  /** In view order: the first live member coordinates view changes. */
  readonly members: readonly MemberRef[];
  readonly primary: true;
}

/** Where a member stands. */
export type ClusterStatus =
  /** Not in any view yet (or cut out of the last one): asking to join. */
  | 'joining'
  /** In an installed view, sending and delivering. */
  | 'member'
  /** A view change runs: sending is stopped until the next view is installed. */
  | 'blocked'
  /** Blocked, and a majority of the last view is out of reach: this side cannot make progress. */
  | 'minority'
  /** leave() was called: the member takes no further part. */
  | 'left';

export type ClusterInput =
  /** A message from another node's core for the same cluster (the transport authenticated `from`). */
  | { readonly kind: 'receive'; readonly from: string; readonly bytes: Uint8Array }
  /** Send a payload to every member of the current view (reliable, FIFO per sender, virtually synchronous). */
  | { readonly kind: 'multicast'; readonly payload: Uint8Array }
  /** Leave the cluster gracefully. */
  | { readonly kind: 'leave' }
  /** External evidence that a node's process is dead (farm dead event, ICMP, closed connection). */
  | { readonly kind: 'suspect'; readonly nodeId: string }
  /** The cluster definition (the node ids that should be members) changed. */
  | { readonly kind: 'definitionChanged'; readonly members: readonly string[] };

export type ClusterOutput =
  /** Send these bytes to that node's core for this cluster (datagram semantics: may be lost). */
  | { readonly kind: 'send'; readonly to: string; readonly bytes: Uint8Array }
  /** Deliver a multicast, in the view it was sent in; FIFO per sender; exactly once. */
  | { readonly kind: 'deliver'; readonly viewId: number; readonly sender: string; readonly seq: number; readonly payload: Uint8Array }
  /** A view change began: stop multicasting in viewId (multicast now fails with GALAXY_CLUSTER_BLOCKED). */
  | { readonly kind: 'blocked'; readonly viewId: number }
  /**
   * Every delivery of viewId has been made (the flush is done); viewInstalled of the next
   * view follows in the same batch. Upper layers deliver their leftovers of viewId here.
   */
  | { readonly kind: 'viewEnding'; readonly viewId: number }
  | { readonly kind: 'viewInstalled'; readonly view: ClusterView }
  | { readonly kind: 'status'; readonly status: ClusterStatus }
  /**
   * A received message was dropped, never thrown: GALAXY_CLUSTER_WIRE_MALFORMED (it did
   * not decode) or GALAXY_CLUSTER_WRONG_CLUSTER (it names another cluster). Count it.
   */
  | { readonly kind: 'dropped'; readonly from: string; readonly code: 'GALAXY_CLUSTER_WIRE_MALFORMED' | 'GALAXY_CLUSTER_WRONG_CLUSTER' };
