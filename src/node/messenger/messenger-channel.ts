import type { ChannelCodec } from '../../core/messenger/channel-codec.js';
import type { ChannelSpec } from '../../core/messenger/channel-table.js';
import type { DeliveryMode } from '../../core/messenger/envelope.js';

/** One message as a channel's handler gets it: the sender is authenticated (messenger.ts). */
export interface Delivered<T> {
  /** The sender's node id, checked against the farm's members. */
  readonly from: string;
  /** The transport peer it came from: the member's address, or `tcp#n` for an inbound stream. */
  readonly peer: string;
  readonly mode: DeliveryMode;
  /**
   * The extra network (`galaxy agent --network NAME=HOST`) whose socket received it;
   * absent: the farm socket. A reply routed `{ address: peer, via }` goes back on the
   * same connection.
   */
  readonly via?: string;
  readonly value: T;
}

/**
 * Where a send goes instead of the member's farm address (issue 19's network selection):
 * the address of that member on another network, and the extra network of this node
 * whose socket sends it (absent: the farm socket). The envelope still names the sender
 * by id, sealed: the receiver checks the id, and the address against its aliases.
 */
export interface Route {
  readonly address: string;
  readonly via?: string;
}

export type ChannelHandler<T> = (message: Delivered<T>) => void;

/** The messenger's side of a channel: what MessengerChannel calls. */
export interface ChannelSink {
  send(spec: ChannelSpec, to: string, payload: Uint8Array, mode: DeliveryMode, route?: Route): boolean;
  broadcast(spec: ChannelSpec, payload: Uint8Array): void;
}

/**
 * A named channel with a typed codec, made by `messenger.channel(name, codec)`. Sends
 * are addressed by node id; what arrives is decoded and handed to the one handler.
 */
export class MessengerChannel<T> {
  handler: ChannelHandler<T> | null = null;

  constructor(
    readonly spec: ChannelSpec,
    readonly codec: ChannelCodec<T>,
    private readonly sink: ChannelSink,
  ) {}

  get name(): string {
    return this.spec.name;
  }

  /**
   * Sends to one node by id, as a datagram (best effort, one datagram's worth) or over
   * the node's reliable stream. False when it was dropped (and counted): no route to
   * that id, or the outbox is full. With a route, it goes to route.address (from the
   * extra network route.via), provided `to` is a known member. A multicast sends the
   * same encoded bytes to each peer in one turn: they are enveloped and sealed once
   * (messenger.ts, app-send.ts), so bytes handed here must not be written again before
   * the messenger's flush (the end of the turn).
   */
  send(to: string, value: T, mode: 'datagram' | 'stream' = 'stream', route?: Route): boolean {
    return this.sink.send(this.spec, to, this.codec.encode(value), mode, route);
  }

  /** Spreads the value to every member by gossip (each gets it once); throws MessengerError when too large. */
  broadcast(value: T): void {
    this.sink.broadcast(this.spec, this.codec.encode(value));
  }

  /** Sets the one handler of what arrives (a second call replaces it). */
  onMessage(handler: ChannelHandler<T>): void {
    this.handler = handler;
  }
}
