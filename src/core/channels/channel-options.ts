import { ChannelError } from './channel-error.js';

/** Whether a channel's messages are retransmitted until every member of the view has them. */
export type Reliability = 'unreliable' | 'reliable';

/**
 * The delivery order of a channel: none; FIFO per sender; causal (vector clocks over the
 * view's member order); total (the same order at every member, a sequencer decides);
 * safe (total, and delivered only once every member of the view holds the message).
 */
export type Ordering = 'none' | 'fifo' | 'causal' | 'total' | 'safe';

/**
 * What a sender does when one receiver's window stays closed: 'block' waits for it as
 * long as it takes (the send queue, bounded, then refuses new sends); 'remove' also
 * waits, but once that member, lagging half a window or more behind the fastest member,
 * has held the window closed for slowReceiverBoundMs in total during one backlog (from a send that had to wait until the send queue is empty
 * again), reports it (a `slowMember` output) so the cluster service can remove it from
 * the view, which reopens the window.
 */
export type SlowReceiverPolicy = 'block' | 'remove';

// ONLY APPEND TO THESE LISTS! The numeric values are part of the channel header.
export const kOrderings: readonly Ordering[] = ['none', 'fifo', 'causal', 'total', 'safe'];
export const kReliabilities: readonly Reliability[] = ['unreliable', 'reliable'];

/** The options of one channel, as given to `open`; all but the guarantees are optional. */
export interface ChannelOptions {
  reliability: Reliability;
  ordering: Ordering;
  /** Default 'block'. Applies to reliable channels (unreliable ones have no flow control). */
  slowReceiverPolicy?: SlowReceiverPolicy;
  /**
   * How many of this sender's messages each receiver may hold undelivered or unconsumed
   * (its credit). Default 64. A receiver's memory for the channel is bounded by
   * members × windowMessages × messageBytesMax.
   */
  windowMessages?: number;
  /** With policy 'remove': how long a lagging member may keep the window closed during one backlog before it is reported. Default 2,000 ms. */
  slowReceiverBoundMs?: number;
  /**
   * The channel's total rate, shared evenly by the members of the view (each sender may
   * send rateMessagesPerSecond / members). Default Infinity (no limit). Changeable at runtime.
   */
  rateMessagesPerSecond?: number;
  /** This sender's own cap on the channel; the effective rate is the smaller. Default Infinity. */
  senderRateMessagesPerSecond?: number;
  /** The token bucket's depth, in messages: how far a sender may burst above its rate. Default 32. */
  burstMessages?: number;
}

/** ChannelOptions with every field filled. */
export type ChannelSettings = Required<ChannelOptions>;

const kWindowMessagesMax = 65_536;

export const kChannelDefaults = Object.freeze({
  slowReceiverPolicy: 'block' as SlowReceiverPolicy,
  windowMessages: 64,
  slowReceiverBoundMs: 2_000,
  rateMessagesPerSecond: Infinity,
  senderRateMessagesPerSecond: Infinity,
  burstMessages: 32,
});

/** Fills and validates channel options; throws a ChannelError GALAXY_CHANNEL_BAD_OPTIONS on a bad field. */
export function channelSettings(options: ChannelOptions): ChannelSettings {
  const settings: ChannelSettings = { ...kChannelDefaults, ...options };
  const bad = (why: string): never => {
    throw new ChannelError('GALAXY_CHANNEL_BAD_OPTIONS', why);
  };
  if (!kReliabilities.includes(settings.reliability)) bad(`options.reliability must be one of ${kReliabilities.join(', ')}`);
  if (!kOrderings.includes(settings.ordering)) bad(`options.ordering must be one of ${kOrderings.join(', ')}`);
  // Causal, total and safe need every message, which only the reliable path guarantees.
  if (settings.reliability === 'unreliable' && settings.ordering !== 'none' && settings.ordering !== 'fifo') {
    bad(`options.ordering ${settings.ordering} needs reliability 'reliable'`);
  }
  if (settings.slowReceiverPolicy !== 'block' && settings.slowReceiverPolicy !== 'remove') bad(`options.slowReceiverPolicy must be 'block' or 'remove'`);
  if (!Number.isInteger(settings.windowMessages) || settings.windowMessages < 1 || settings.windowMessages > kWindowMessagesMax) {
    bad(`options.windowMessages must be an integer from 1 to ${kWindowMessagesMax}`);
  }
  if (!(settings.slowReceiverBoundMs >= 0)) bad('options.slowReceiverBoundMs must be a non-negative number');
  validateRate(settings.rateMessagesPerSecond, 'rateMessagesPerSecond');
  validateRate(settings.senderRateMessagesPerSecond, 'senderRateMessagesPerSecond');
  if (!Number.isInteger(settings.burstMessages) || settings.burstMessages < 1) bad('options.burstMessages must be a positive integer');
  return settings;
}

/** A rate must be positive (Infinity means no limit). */
export function validateRate(rate: number, field: string): void {
  if (typeof rate !== 'number' || !(rate > 0)) throw new ChannelError('GALAXY_CHANNEL_BAD_OPTIONS', `options.${field} must be a positive number or Infinity`);
}
