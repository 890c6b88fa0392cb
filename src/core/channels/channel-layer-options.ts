import { ChannelError } from './channel-error.js';

/**
 * Deliberately broken behaviours, for the tests that prove each checker can fail. Never
 * set outside tests: each one breaks a guarantee the layer otherwise keeps.
 */
export interface ChannelFaults {
  /** Total and safe: deliver data on receipt, ignoring the sequencer's order. */
  deliverTotalOnReceipt?: boolean;
  /** Causal: deliver on receipt, without waiting for the message's causal past. */
  skipCausalWait?: boolean;
  /** Safe: deliver in total order without waiting for stability. */
  deliverSafeBeforeStable?: boolean;
  /** Unreliable FIFO: deliver late messages instead of dropping them. */
  skipFifoCheck?: boolean;
  /** At a view change: install the new view first, then deliver the old view's leftovers. */
  deliverLeftoversAfterInstall?: boolean;
}

export interface ChannelLayerOptions {
  /** This member's id, as it appears in the views' member lists. */
  self: string;
  /** The largest message, in bytes. Default 1 MiB. Must agree across the cluster. */
  messageBytesMax?: number;
  /** Every fragment but a message's last carries exactly this many bytes. Default 8,192. Must agree across the cluster. */
  fragmentBytes?: number;
  /** The most channels the layer holds. Default 256. */
  channelsMax?: number;
  /** Per channel: the most messages waiting to be sent; a send beyond it fails GALAXY_CHANNEL_SEND_QUEUE_FULL. Default 1,024. */
  sendQueueMessagesMax?: number;
  /** Messages for a channel not yet announced here, held until its open arrives (layer-wide). Default 1,024. */
  unknownChannelMessagesMax?: number;
  /** Per unreliable channel: messages being reassembled at once; the oldest is dropped beyond it. Default 64. */
  partialsMax?: number;
  /**
   * How often a member tells the others what it has received and consumed (credit and
   * stability), at most. Default 2 ms; feedback also goes out at once when half a window
   * has been consumed. On a safe channel, news that stability waits for (data or an order
   * message received since the last feedback) goes at the end of the step whatever
   * this interval: this interval paces credit only.
   */
  feedbackIntervalMs?: number;
  /** The most entries in one order message; more become several messages. Default 1,024. */
  orderEntriesMax?: number;
  /** The most outputs between two advance() calls. Default 1,000,000. */
  outputsMax?: number;
  /** When true, deliveries are consumed as they are output (the driver hands them straight on). Default false. */
  autoConsume?: boolean;
  /**
   * When true, the group promises that the bytes of vsDeliver and vsDeliverBatch are
   * never written again (the cluster core's own copies), so the layer keeps views of
   * them for reliable messages instead of copying each one. A delivered payload then
   * keeps its whole cluster message (a pack, at most the cluster's payloadBytesMax)
   * alive while the application holds it. Default false (datagram inputs are always copied).
   */
  inputsImmutable?: boolean;
  /**
   * Reliable multicasts go out as `vsMulticastMessage` (header and body, unencoded) instead
   * of `vsMulticast` (bytes), for a group that encodes them into its packs itself
   * (ClusterChannels). Default false.
   */
  deferMulticastEncoding?: boolean;
  /** Test-only broken behaviours. */
  faults?: ChannelFaults;
}

export type ChannelLayerSettings = Required<Omit<ChannelLayerOptions, 'faults'>> & { faults: ChannelFaults };

const kDefaults = Object.freeze({
  messageBytesMax: 1 << 20,
  fragmentBytes: 8192,
  channelsMax: 256,
  sendQueueMessagesMax: 1024,
  unknownChannelMessagesMax: 1024,
  partialsMax: 64,
  feedbackIntervalMs: 2,
  orderEntriesMax: 1024,
  outputsMax: 1_000_000,
  autoConsume: false,
  inputsImmutable: false,
  deferMulticastEncoding: false,
});

/** Fills and validates layer options; a bad field throws GALAXY_CHANNEL_BAD_OPTIONS. */
export function channelLayerSettings(options: ChannelLayerOptions): ChannelLayerSettings {
  const settings: ChannelLayerSettings = { ...kDefaults, faults: {}, ...options };
  const bad = (why: string): never => {
    throw new ChannelError('GALAXY_CHANNEL_BAD_OPTIONS', why);
  };
  if (typeof settings.self !== 'string' || settings.self === '') bad('options.self must be a non-empty string');
  const positive: (keyof typeof kDefaults)[] = ['messageBytesMax', 'fragmentBytes', 'channelsMax', 'sendQueueMessagesMax', 'unknownChannelMessagesMax', 'partialsMax', 'orderEntriesMax', 'outputsMax'];
  for (const field of positive) {
    const value = settings[field];
    if (!Number.isInteger(value) || (value as number) < 1) bad(`options.${field} must be a positive integer`);
  }
  if (settings.messageBytesMax > 0xffffffff) bad('options.messageBytesMax must fit in 32 bits');
  // Fragment counts travel in a u16.
  if (Math.ceil(settings.messageBytesMax / settings.fragmentBytes) > 0xffff) bad('options.messageBytesMax / fragmentBytes must be at most 65535 fragments');
  if (settings.orderEntriesMax > 0xffff) bad('options.orderEntriesMax must be at most 65535');
  if (!(settings.feedbackIntervalMs >= 0)) bad('options.feedbackIntervalMs must be a non-negative number');
  return settings;
}
