import { formatWireAddress, parseWireAddress } from '../../core/wire/message.js';

/**
 * A peer address as both the engine and node:dgram/node:net need it. The engine names
 * members by the canonical text of their wire address (formatWireAddress: "a.b.c.d:port",
 * or "[v6]:port" with every group written out), and compares addresses as strings, so a
 * transport must hand it exactly that form, whatever spelling the socket reported.
 */
export interface SocketAddress {
  /** Canonical text, as formatWireAddress writes it. */
  readonly text: string;
  /** The host as the socket APIs take it, without brackets. */
  readonly host: string;
  readonly port: number;
  readonly family: 4 | 6;
}

/** Parses a destination, "a.b.c.d:port" or "[v6]:port"; null when malformed or when the port is 0. */
export function parseSocketAddress(text: string): SocketAddress | null {
  const address = parseAnyPort(text);
  return address === null || address.port === 0 ? null : address;
}

/**
 * Parses an address to bind to; unlike a destination, port 0 (the OS chooses) is
 * allowed. Throws with a clear message, since a bad bind address is a configuration error.
 */
export function parseBindAddress(text: string): SocketAddress {
  const address = parseAnyPort(text);
  if (address === null) throw new RangeError(`bind address must be "a.b.c.d:port" or "[v6]:port", got "${text}"`);
  return address;
}

function parseAnyPort(text: string): SocketAddress | null {
  let wire;
  try {
    wire = parseWireAddress(text);
  } catch {
    return null;
  }
  if (wire.family === 0) return null;
  const canonical = formatWireAddress(wire);
  const host = wire.family === 4 ? canonical.slice(0, canonical.lastIndexOf(':')) : canonical.slice(1, canonical.lastIndexOf(']'));
  return { text: canonical, host, port: wire.port, family: wire.family };
}

/**
 * The canonical text of an address a socket reported (rinfo, remoteAddress); null for
 * forms the wire cannot carry (scoped link-local "fe80::1%eth0", v4-mapped "::ffff:1.2.3.4").
 */
export function canonicalSocketAddress(host: string, port: number): string | null {
  const text = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  return parseSocketAddress(text)?.text ?? null;
}

/** Whether the address is a wildcard (0.0.0.0 or ::), which peers cannot send to. */
export function isUnspecifiedAddress(address: SocketAddress): boolean {
  return address.family === 4 ? address.host === '0.0.0.0' : /^[0:]+$/.test(address.host);
}
