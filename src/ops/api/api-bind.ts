import { BlockList } from 'node:net';
import { parseBindAddress, type SocketAddress } from '../../node/transport/socket-address.js';
import { ApiConfigError } from './api-config-error.js';

/**
 * Where the API listens. Loopback unless the operator says otherwise: the API can
 * approve nodes and rotate keys, and bearer tokens cross plain HTTP, so listening on
 * a routable address is a decision to make explicitly: behind TLS (which allows it), or
 * on a trusted network with allowRemote, never a default or a typo.
 */
export const kApiBindDefault = '127.0.0.1:7600';

const kLoopback = new BlockList();
kLoopback.addSubnet('127.0.0.0', 8, 'ipv4');
kLoopback.addAddress('::1', 'ipv6');

/** Whether every packet to this address stays on this machine. */
export function isLoopbackAddress(address: SocketAddress): boolean {
  return kLoopback.check(address.host, address.family === 4 ? 'ipv4' : 'ipv6');
}

/**
 * Parses "a.b.c.d:port" or "[v6]:port" (port 0: the OS picks one) and refuses a
 * non-loopback address without allowRemote, with a message that says how to allow it.
 */
export function resolveApiBind(bind: string, allowRemote: boolean): SocketAddress {
  let address: SocketAddress;
  try {
    address = parseBindAddress(bind);
  } catch (error) {
    throw new ApiConfigError('GALAXY_API_BIND_INVALID', `API bind address: ${(error as Error).message}`);
  }
  if (!allowRemote && !isLoopbackAddress(address)) {
    throw new ApiConfigError(
      'GALAXY_API_BIND_REMOTE',
      `refusing to serve the API on ${address.text}: it is not a loopback address, and tokens would cross the network in clear; bind to 127.0.0.1 or [::1], serve TLS (galaxy agent --api-tls-cert FILE --api-tls-key FILE, or --api-tls self-signed), or, on a trusted network only, allow plain HTTP (--api-insecure; allowRemote: true)`,
    );
  }
  return address;
}
