import type { ChannelOptions } from './channel-options.js';
import type { ChannelView, VsCommand, VsEvent } from './vs-group-port.js';

/** Commands from the application (components, the API) into the channel layer. */
export type AppCommand =
  /** Opens a channel by name, locally and at every member (announced over the group). */
  | { readonly kind: 'open'; readonly name: string; readonly options: ChannelOptions }
  /** Queues a message; sendId is the caller's, echoed in `sent`, `sendDone` and `sendFailed`. */
  | { readonly kind: 'send'; readonly sendId: number; readonly channel: string; readonly payload: Uint8Array }
  /** The application has taken `count` more deliveries of the channel (they stop counting against senders' credit). */
  | { readonly kind: 'consume'; readonly channel: string; readonly count: number }
  /** Changes the channel's rate limits from now on. */
  | { readonly kind: 'setRate'; readonly channel: string; readonly rateMessagesPerSecond?: number; readonly senderRateMessagesPerSecond?: number; readonly burstMessages?: number };

export type ChannelInput = VsEvent | AppCommand;

/** What the layer tells the application. */
export type AppEvent =
  /** A view is installed: everything delivered before it was sent in the previous view. */
  | { readonly kind: 'view'; readonly view: ChannelView }
  /** A channel became known here (opened locally or announced by another member). */
  | { readonly kind: 'opened'; readonly channel: string; readonly channelId: number; readonly options: ChannelOptions }
  /** A message, in the channel's order. seq counts the sender's messages on the channel in viewId, from 1. */
  | { readonly kind: 'delivered'; readonly channel: string; readonly sender: string; readonly viewId: number; readonly seq: number; readonly payload: Uint8Array }
  /** A queued message left this member as (viewId, seq); a message cut short by a view end is sent again under a new pair. */
  | { readonly kind: 'sent'; readonly sendId: number; readonly channel: string; readonly viewId: number; readonly seq: number }
  /**
   * The send met its guarantee: unreliable, on transmission; reliable, on delivery here
   * (so every member passing into the next view with this one delivers it too); safe,
   * on delivery here, which waits until every member of the view holds it.
   */
  | { readonly kind: 'sendDone'; readonly sendId: number }
  | { readonly kind: 'sendFailed'; readonly sendId: number; readonly code: string; readonly message: string }
  /** Under policy 'remove': this member kept the channel's window closed past the bound; remove it from the view. */
  | { readonly kind: 'slowMember'; readonly channel: string; readonly member: string; readonly blockedMs: number };

export type ChannelOutput = VsCommand | AppEvent;
