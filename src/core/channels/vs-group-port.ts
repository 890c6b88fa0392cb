import type { ChannelHeader } from './channel-header.js';

/**
 * The narrow interface the channel layer consumes from a view-synchronous (VS) group,
 * the cluster-membership core. An adapter turns the VS core's outputs into these events
 * (fed to ChannelLayer.step) and carries these commands back into it.
 *
 * What the layer assumes of the group (and nothing more):
 * - Views have increasing ids and an ordered member list that every member sees the
 *   same; the first member is the view's sequencer for total and safe channels.
 * - `vsDeliver` is reliable FIFO per sender within a view, and a member delivers its own
 *   multicasts too (self-delivery).
 * - `vsViewEnding(v)` announces the flush: the layer stops multicasting in v (anything it
 *   still multicasts stamped v may be dropped). Between it and `vsViewInstalled(v+1)` the
 *   group delivers the rest of v's messages, so that members passing together from v to
 *   v+1 have delivered the same set in v, every survivor's own messages included.
 * - `vsDatagram` is best effort: it may be lost, duplicated or reordered, but arrives
 *   only in the view it was sent in (the group drops it otherwise, or the layer does).
 * - A member removed from the view (crashed, partitioned away, slow) gets no more
 *   events for the group; if it comes back it is a new member joining a later view.
 */

/** A view as the channel layer sees it. */
export interface ChannelView {
  /** Increasing from one view to the next; at most 2^32 - 1 (it travels in a u32). */
  readonly id: number;
  /** The members in the group's agreed order; index = rank. */
  readonly members: readonly string[];
}

/** Events from the VS group into the channel layer. */
export type VsEvent =
  | { readonly kind: 'vsViewInstalled'; readonly view: ChannelView }
  | { readonly kind: 'vsViewEnding'; readonly viewId: number }
  | { readonly kind: 'vsDeliver'; readonly viewId: number; readonly sender: string; readonly bytes: Uint8Array }
  /**
   * Several consecutive deliveries from one sender at once (a group that packs messages):
   * the same as one vsDeliver each, in order, except that the layer's end-of-step work
   * (the sequencer's order batch, feedback) runs once after all of them.
   */
  | { readonly kind: 'vsDeliverBatch'; readonly viewId: number; readonly sender: string; readonly items: readonly Uint8Array[] }
  | { readonly kind: 'vsDatagram'; readonly viewId: number; readonly sender: string; readonly bytes: Uint8Array };

/** Commands from the channel layer to the VS group. */
export type VsCommand =
  /** Reliable FIFO multicast to every member of view viewId (self included); dropped if that view is over. */
  | { readonly kind: 'vsMulticast'; readonly viewId: number; readonly bytes: Uint8Array }
  /**
   * The same as a vsMulticast of encodeMessage(header, body), left unencoded for a group
   * that packs messages and writes each one straight into its pack (ClusterChannels: one
   * pass, no buffer per message). Given instead of vsMulticast only when the layer's
   * deferMulticastEncoding option is on. The header and body are never written again.
   */
  | { readonly kind: 'vsMulticastMessage'; readonly viewId: number; readonly header: ChannelHeader; readonly body: Uint8Array }
  /** Best-effort datagram to every other member of view viewId. */
  | { readonly kind: 'vsSendDatagram'; readonly viewId: number; readonly bytes: Uint8Array };
