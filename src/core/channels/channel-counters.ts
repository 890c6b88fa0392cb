/**
 * What the channel layer counts, per channel and for the whole layer: plain numbers the
 * agent exports at /metrics. Every field only grows, except the gauges marked as such.
 */
export interface ChannelCounters {
  messagesSent: number;
  bytesSent: number;
  fragmentsSent: number;
  messagesDelivered: number;
  bytesDelivered: number;
  fragmentsReceived: number;
  /** Control messages sent: order decisions, feedback (credits and stability), opens. */
  controlSent: number;
  controlReceived: number;
  /** Sends refused because the send queue was full. */
  sendsRefused: number;
  /** Unreliable FIFO messages dropped for arriving after a later one. */
  lateDropped: number;
  /** Unreliable fragments dropped because their message could not be completed. */
  fragmentsDropped: number;
  /** Messages no member could deliver at a view end (a causal or total dependency lost with crashed members). */
  orphansDropped: number;
  /** Messages delivered at a view end by the flush rule rather than by an order decision. */
  flushDelivered: number;
  /** Own messages sent again in a new view because the old view ended before they came back. */
  resent: number;
  /** Times a send waited on a closed window (flow control): on a member lagging behind the others, or on every member. */
  windowBlocked: number;
  /** Times a send waited on an empty token bucket (rate control). */
  rateBlocked: number;
  slowMembersReported: number;
  /** Gauge: messages waiting in the send queue. */
  sendQueueLength: number;
}

/** The counters of the layer as a whole: what cannot be charged to a known channel. */
export interface ChannelLayerCounters {
  decodeErrors: number;
  /** Decode errors by code. */
  decodeErrorsByCode: Record<string, number>;
  /** Messages stamped with a view other than the current one (dropped). */
  wrongView: number;
  /** Messages from a sender outside the current view (dropped). */
  unknownSender: number;
  /** Messages whose header disagrees with the channel's known guarantees (dropped). */
  configConflicts: number;
  /** Messages of a channel not announced here, dropped because unknownChannelMessagesMax were already held. */
  unknownChannelDropped: number;
  viewsInstalled: number;
}

export function newChannelCounters(): ChannelCounters {
  return {
    messagesSent: 0, bytesSent: 0, fragmentsSent: 0, messagesDelivered: 0, bytesDelivered: 0, fragmentsReceived: 0,
    controlSent: 0, controlReceived: 0, sendsRefused: 0, lateDropped: 0, fragmentsDropped: 0, orphansDropped: 0,
    flushDelivered: 0, resent: 0, windowBlocked: 0, rateBlocked: 0, slowMembersReported: 0, sendQueueLength: 0,
  };
}

export function newChannelLayerCounters(): ChannelLayerCounters {
  return { decodeErrors: 0, decodeErrorsByCode: {}, wrongView: 0, unknownSender: 0, configConflicts: 0, unknownChannelDropped: 0, viewsInstalled: 0 };
}
