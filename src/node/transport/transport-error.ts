/**
 * Stable codes for what a transport dropped or could not do. Transports never throw on
 * a send or on a peer's misbehaviour (an operating failure, not a bug): they count the
 * code in their TransportCounters and carry on. Metrics and logs use these strings, so
 * they are part of the interface: ONLY APPEND, never rename.
 */
export const kTransportErrorCodes = Object.freeze([
  /** The destination is not "a.b.c.d:port" or "[v6]:port", or its port is 0. */
  'GALAXY_TRANSPORT_BAD_ADDRESS',
  /** An IPv6 destination on an IPv4 socket, or the other way round. */
  'GALAXY_TRANSPORT_FAMILY_MISMATCH',
  /** A datagram or frame over the configured bound, or EMSGSIZE from the kernel. */
  'GALAXY_TRANSPORT_TOO_LARGE',
  /** Sent after close(). */
  'GALAXY_TRANSPORT_CLOSED',
  /** No route to the host or network (EHOSTUNREACH, ENETUNREACH, EADDRNOTAVAIL). */
  'GALAXY_TRANSPORT_NO_ROUTE',
  /** The port is closed (ECONNREFUSED, or an ICMP port unreachable read by a native transport). */
  'GALAXY_TRANSPORT_UNREACHABLE',
  /** The kernel refused the send for another reason (ENOBUFS, EPERM, ...). */
  'GALAXY_TRANSPORT_SEND_FAILED',
  /** A TCP connection could not be opened (refused, reset, no route). */
  'GALAXY_TRANSPORT_CONNECT_FAILED',
  /** A TCP connection was not established within connectTimeoutMs. */
  'GALAXY_TRANSPORT_CONNECT_TIMEOUT',
  /** Every connection slot (connectionsMax) is taken. */
  'GALAXY_TRANSPORT_CONNECTIONS_FULL',
  /** A frame's length prefix exceeds frameBytesMax; the connection is closed. */
  'GALAXY_TRANSPORT_FRAME_TOO_LARGE',
  /** A connection ended or went idle in the middle of a frame. */
  'GALAXY_TRANSPORT_FRAME_TRUNCATED',
  /** A reply was addressed to an inbound connection that is already closed. */
  'GALAXY_TRANSPORT_NO_ROUTE_BACK',
  /** A connection's unsent bytes would exceed writeBufferBytesMax (the peer does not read). */
  'GALAXY_TRANSPORT_BACKPRESSURE',
  /** An established connection broke (reset, write after the peer closed). */
  'GALAXY_TRANSPORT_STREAM_BROKEN',
  /** Partial frames on all connections together would exceed readBufferBytesMax; the connection is closed. */
  'GALAXY_TRANSPORT_READ_BUFFER_FULL',
  /** A frame did not arrive whole within frameTimeoutMs (a peer trickling it); the connection is closed. */
  'GALAXY_TRANSPORT_FRAME_TIMEOUT',
] as const);

export type TransportErrorCode = (typeof kTransportErrorCodes)[number];

/** Maps a Node system error code (err.code) on a send to a transport code. */
export function sendErrorCode(systemCode: string | undefined): TransportErrorCode {
  switch (systemCode) {
    case 'EMSGSIZE':
      return 'GALAXY_TRANSPORT_TOO_LARGE';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EADDRNOTAVAIL':
      return 'GALAXY_TRANSPORT_NO_ROUTE';
    case 'ECONNREFUSED':
      return 'GALAXY_TRANSPORT_UNREACHABLE';
    case 'ERR_SOCKET_DGRAM_NOT_RUNNING':
      return 'GALAXY_TRANSPORT_CLOSED';
    default:
      return 'GALAXY_TRANSPORT_SEND_FAILED';
  }
}
