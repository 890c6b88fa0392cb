import type { DatagramTransport } from '../transport/datagram-transport.js';
import type { DgramTransportOptions } from '../transport/dgram-transport.js';
import { openDatagramTransport, type TransportChoice } from '../transport/select-transport.js';
import { parseBindAddress } from '../transport/socket-address.js';
import { StreamTransport, type StreamTransportOptions } from '../transport/stream-transport.js';

/** Tries when the OS chose the port (port 0) and that port is taken for TCP by another socket. */
const kEphemeralBindAttemptsMax = 8;

/**
 * Opens a node's UDP socket and its TCP listener on one address. With port 0 the OS
 * picks a UDP port; TCP must take the same one so one address names both, and that
 * port may already be in use for TCP (an outbound connection's local port): then
 * another UDP port is tried. A fixed port fails at once, as asked.
 */
export async function openNodeTransports(
  bind: string,
  choice: TransportChoice,
  datagramOptions: DgramTransportOptions = {},
  streamOptions: StreamTransportOptions = {},
): Promise<{ datagram: DatagramTransport; stream: StreamTransport; reason: string }> {
  const ephemeral = parseBindAddress(bind).port === 0;
  for (let attempt = 1; ; attempt++) {
    const { transport: datagram, reason } = await openDatagramTransport(bind, choice, datagramOptions);
    const bound = parseBindAddress(datagram.address);
    try {
      const stream = await StreamTransport.listen(bound.text, streamOptions);
      return { datagram, stream, reason };
    } catch (error) {
      await datagram.close();
      if (!ephemeral || attempt >= kEphemeralBindAttemptsMax || !/EADDRINUSE/.test((error as Error).message)) throw error;
    }
  }
}
