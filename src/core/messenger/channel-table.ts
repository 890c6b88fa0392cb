import { MessengerError } from './messenger-error.js';
import type { DeliveryMode } from './envelope.js';

/**
 * Every channel of the farm, by name, with its stable wire id and the delivery modes
 * it accepts. ONLY APPEND TO THIS LIST: the ids are part of the protocol, and a node
 * of the previous release must still understand the ones it knows. Adding a channel is
 * one line here and one `messenger.channel(name, codec)` where it is used.
 */
export const kChannelTable = [
  /** The farm's own decisions: keyring rotations, revocations, admission decisions (JSON). */
  { name: 'farm-control', id: 1, modes: ['broadcast'] },
  /** Messages between components of one kind on different nodes. */
  { name: 'component', id: 2, modes: ['broadcast'] },
  /** Request/response between nodes' services (farm-rpc.ts), at least once, handled once. */
  { name: 'rpc', id: 3, modes: ['stream'] },
  /** Package bytes for installation (chunk-channel.ts). */
  { name: 'install-chunks', id: 4, modes: ['stream'] },
  /** FMIDB anti-entropy: small deltas as datagrams, large repairs over streams. */
  { name: 'fmidb', id: 5, modes: ['datagram', 'stream'] },
  /**
   * Job coordination between a job's coordinator and its nodes (core/jobs, run by
   * NodeStack): idempotent datagrams, resent until answered; a message too big for a
   * datagram (a start carrying a whole process spec) goes as a stream frame.
   */
  { name: 'jobs-coordination', id: 6, modes: ['datagram', 'stream'] },
  /**
   * Cluster cores (src/cluster/service): one envelope per message, routed to the core of
   * the cluster it names; the cores retransmit. An envelope that fits a sealed datagram
   * goes as one; a bigger one (a pack of channel messages, up to the core's 16 KiB
   * payloadBytesMax) goes over the stream, since the transport drops datagrams over
   * 1,400 bytes.
   */
  { name: 'cluster', id: 7, modes: ['datagram', 'stream'] },
] as const satisfies readonly ChannelSpec[];

export interface ChannelSpec {
  readonly name: string;
  readonly id: number;
  readonly modes: readonly DeliveryMode[];
}

export type ChannelName = (typeof kChannelTable)[number]['name'];

const kByName = new Map<string, ChannelSpec>(kChannelTable.map((spec) => [spec.name, spec]));
const kById = new Map<number, ChannelSpec>(kChannelTable.map((spec) => [spec.id, spec]));

/** The spec of a channel by name; an unknown name is a MessengerError (a caller bug or a version skew). */
export function channelByName(name: string): ChannelSpec {
  const spec = kByName.get(name);
  if (spec === undefined) throw new MessengerError('GALAXY_MESSENGER_UNKNOWN_CHANNEL', `no channel "${name}" in the channel table`);
  return spec;
}

/** The spec of a channel by wire id, or undefined (a newer node's channel: dropped and counted). */
export function channelById(id: number): ChannelSpec | undefined {
  return kById.get(id);
}
