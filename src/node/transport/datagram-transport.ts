import type { TransportCounters } from './transport-counters.js';

/**
 * What the membership engine's driver needs from a datagram socket, whoever implements
 * it: node:dgram (dgram-transport.ts) or, later, the native addon (recvmmsg/sendmmsg and
 * the ICMP error queue). Both meet the same contract:
 *
 *  - Addresses are the engine's canonical text ("a.b.c.d:port", "[v6]:port", see
 *    socket-address.ts), on the way in and on the way out.
 *  - send() never throws and never blocks: a malformed address, an oversized datagram,
 *    a closed socket or an OS error (EMSGSIZE, ENOBUFS, EHOSTUNREACH) is counted in
 *    `counters` under a stable code and the datagram is dropped, as UDP would drop it.
 *  - send() copies `bytes` before it returns: callers hand views into reused shared
 *    memory.
 *  - onMessage's `bytes` is only valid during the callback.
 *  - onUnreachable reports strong evidence that nothing listens at `to` any more (an
 *    ICMP port unreachable). A transport that cannot see ICMP (node:dgram on an
 *    unconnected socket cannot) simply never calls it; the engine then falls back on
 *    probe timeouts.
 */
export interface DatagramTransport {
  /** The bound address in canonical form, with the port the OS chose when bound to port 0. */
  readonly address: string;
  readonly kind: 'dgram' | 'native';
  readonly counters: TransportCounters;
  send(to: string, bytes: Uint8Array): void;
  /** Sets the receiver of inbound datagrams (one receiver; a second call replaces the first). */
  onMessage(callback: (from: string, bytes: Uint8Array) => void): void;
  /**
   * Sets the receiver of batch starts (optional: only a transport that reads batches has
   * it): called with the number of datagrams of one read before their onMessage calls,
   * so a receiver can read the clock once per batch (MembershipEngine.batchArrived).
   */
  onBatch?(callback: (count: number) => void): void;
  /** Sets the receiver of unreachability evidence (one receiver). */
  onUnreachable(callback: (to: string) => void): void;
  /** Closes the socket; sends after this are counted as GALAXY_TRANSPORT_CLOSED. */
  close(): Promise<void>;
}
