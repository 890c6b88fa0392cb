import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { once } from 'node:events';
import * as F from '../../core/wire/format.js';
import type { DatagramTransport } from './datagram-transport.js';
import { canonicalSocketAddress, parseBindAddress, parseSocketAddress, type SocketAddress } from './socket-address.js';
import { AddressCache } from './address-cache.js';
import { TransportCounters } from './transport-counters.js';
import { sendErrorCode, type TransportErrorCode } from './transport-error.js';

/** Options of DgramTransport.open; every field is optional (see kDgramTransportDefaults). */
export interface DgramTransportOptions {
  /**
   * Largest datagram sent or accepted, bytes. Larger ones are dropped and counted before
   * they reach the kernel (outbound) or the engine (inbound). The protocol's own limit is
   * the default; up to 65,535 is accepted so that tests can provoke EMSGSIZE.
   */
  datagramBytesMax?: number;
  /**
   * SO_RCVBUF, bytes; 0 keeps the OS default. Bursts of gossip arrive faster than one
   * thread drains them after a pause (GC, a large push-pull), and a datagram that does
   * not fit is lost without trace. Linux caps it at net.core.rmem_max silently.
   */
  receiveBufferBytes?: number;
  /** SO_SNDBUF, bytes; 0 keeps the OS default. */
  sendBufferBytes?: number;
  /**
   * Peer addresses whose canonical form is cached, both ways (text to socket address,
   * socket address to text), so a busy node does not re-parse every datagram's address.
   * The cache is emptied when full, which costs one re-parse per peer.
   */
  addressCacheEntriesMax?: number;
}

export interface DgramTransportSettings {
  readonly datagramBytesMax: number;
  readonly receiveBufferBytes: number;
  readonly sendBufferBytes: number;
  readonly addressCacheEntriesMax: number;
}

export const kDgramTransportDefaults: DgramTransportSettings = Object.freeze({
  datagramBytesMax: F.kDatagramBytesMax,
  receiveBufferBytes: 4 * 1024 * 1024,
  sendBufferBytes: 0,
  addressCacheEntriesMax: 16_384,
});

const kUdpPayloadBytesMax = 65_535;
const kSocketBufferBytesMax = 1024 * 1024 * 1024;

/**
 * A DatagramTransport over node:dgram: one UDP socket, udp4 or udp6 by the family of the
 * bind address. It cannot see ICMP errors (Node does not set IP_RECVERR, and Linux
 * reports none on an unconnected socket), so onUnreachable fires only for an
 * ECONNREFUSED that a send itself returns.
 */
export class DgramTransport implements DatagramTransport {
  readonly kind = 'dgram' as const;
  readonly counters = new TransportCounters();
  readonly address: string;
  readonly settings: DgramTransportSettings;
  private readonly socket: Socket;
  private readonly family: 4 | 6;
  private readonly outboundAddresses: AddressCache<SocketAddress | null>;
  private readonly inboundAddresses: AddressCache<string | null>;
  private messageCallback: (from: string, bytes: Uint8Array) => void = () => {};
  private unreachableCallback: (to: string) => void = () => {};
  private closed = false;

  private constructor(socket: Socket, family: 4 | 6, settings: DgramTransportSettings) {
    this.socket = socket;
    this.family = family;
    this.settings = settings;
    this.outboundAddresses = new AddressCache(settings.addressCacheEntriesMax);
    this.inboundAddresses = new AddressCache(settings.addressCacheEntriesMax);
    const bound = socket.address();
    this.address = canonicalSocketAddress(bound.address, bound.port) ?? `${bound.address}:${bound.port}`;
    socket.on('message', (message: Buffer, remote: RemoteInfo) => this.receive(message, remote));
    // After bind, socket errors are operating failures (a receive error, a send error
    // reported out of band): count them rather than crash the agent.
    socket.on('error', (error: NodeJS.ErrnoException) => this.drop(sendErrorCode(error.code), `socket error: ${error.message}`));
  }

  /**
   * Binds a UDP socket to `bind` ("a.b.c.d:port" or "[v6]:port"; port 0 lets the OS
   * choose). Rejects with a clear message on a malformed address or a failed bind.
   */
  static async open(bind: string, options: DgramTransportOptions = {}): Promise<DgramTransport> {
    const settings = validateDgramOptions(options);
    const address = parseBindAddress(bind);
    const socket = createSocket({ type: address.family === 6 ? 'udp6' : 'udp4', ipv6Only: address.family === 6 });
    try {
      await new Promise<void>((resolve, reject) => {
        const onError = (error: Error): void => {
          socket.off('listening', onListening);
          reject(error);
        };
        const onListening = (): void => {
          socket.off('error', onError);
          resolve();
        };
        socket.once('error', onError);
        socket.once('listening', onListening);
        socket.bind(address.port, address.host);
      });
    } catch (error) {
      socket.close();
      throw new Error(`cannot bind UDP ${bind}: ${(error as Error).message}`);
    }
    applyBufferSizes(socket, settings);
    return new DgramTransport(socket, address.family, settings);
  }

  send(to: string, bytes: Uint8Array): void {
    if (this.closed) return this.drop('GALAXY_TRANSPORT_CLOSED', `send to ${to} after close`);
    if (bytes.length > this.settings.datagramBytesMax) return this.drop('GALAXY_TRANSPORT_TOO_LARGE', `${bytes.length} bytes to ${to} exceed datagramBytesMax ${this.settings.datagramBytesMax}`);
    const address = this.outboundAddress(to);
    if (address === null) return this.drop('GALAXY_TRANSPORT_BAD_ADDRESS', `bad destination "${to}"`);
    if (address.family !== this.family) return this.drop('GALAXY_TRANSPORT_FAMILY_MISMATCH', `IPv${address.family} destination ${to} on an IPv${this.family} socket`);
    // Buffer.from copies: the caller's bytes are a view into reused shared memory.
    const copy = Buffer.from(bytes);
    try {
      this.socket.send(copy, address.port, address.host, (error) => this.sent(to, copy.length, error));
    } catch (error) {
      this.sent(to, copy.length, error as Error);
    }
  }

  onMessage(callback: (from: string, bytes: Uint8Array) => void): void {
    this.messageCallback = callback;
  }

  onUnreachable(callback: (to: string) => void): void {
    this.unreachableCallback = callback;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const closed = once(this.socket, 'close');
    this.socket.close();
    await closed;
  }

  private sent(to: string, length: number, error: (Error & { code?: string }) | null | undefined): void {
    if (error === null || error === undefined) {
      this.counters.recordSent(length);
      return;
    }
    const code = sendErrorCode(error.code);
    this.drop(code, `send of ${length} bytes to ${to}: ${error.code ?? error.message}`);
    if (code === 'GALAXY_TRANSPORT_UNREACHABLE' && !this.closed) this.unreachableCallback(to);
  }

  private receive(message: Buffer, remote: RemoteInfo): void {
    if (this.closed) return;
    const from = this.inboundAddress(remote.address, remote.port);
    if (from === null) return this.drop('GALAXY_TRANSPORT_BAD_ADDRESS', `datagram from unsupported address ${remote.address} port ${remote.port}`);
    if (message.length > this.settings.datagramBytesMax) return this.drop('GALAXY_TRANSPORT_TOO_LARGE', `${message.length} bytes from ${from} exceed datagramBytesMax ${this.settings.datagramBytesMax}`);
    this.counters.recordReceived(message.length);
    this.messageCallback(from, message);
  }

  private outboundAddress(text: string): SocketAddress | null {
    return this.outboundAddresses.get(text, parseSocketAddress);
  }

  private inboundAddress(host: string, port: number): string | null {
    return this.inboundAddresses.get(`${host}#${port}`, parseInboundKey);
  }

  private drop(code: TransportErrorCode, detail: string): void {
    this.counters.recordDropped(code, detail);
  }
}

function applyBufferSizes(socket: Socket, settings: DgramTransportSettings): void {
  // A refused size is not fatal: the OS default still works, only with less headroom.
  try {
    if (settings.receiveBufferBytes > 0) socket.setRecvBufferSize(settings.receiveBufferBytes);
    if (settings.sendBufferBytes > 0) socket.setSendBufferSize(settings.sendBufferBytes);
  } catch {
    // Counted nowhere on purpose: the socket works, and the size is visible with ss -m.
  }
}

function validateDgramOptions(options: DgramTransportOptions): DgramTransportSettings {
  const settings = { ...kDgramTransportDefaults };
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) continue;
    if (!(key in kDgramTransportDefaults)) throw new RangeError(`unknown datagram transport option "${key}"`);
    (settings as Record<string, number>)[key] = value as number;
  }
  const { datagramBytesMax, receiveBufferBytes, sendBufferBytes, addressCacheEntriesMax } = settings;
  if (!Number.isInteger(datagramBytesMax) || datagramBytesMax < 1 || datagramBytesMax > kUdpPayloadBytesMax) {
    throw new RangeError(`options.datagramBytesMax must be an integer from 1 to ${kUdpPayloadBytesMax}, got ${datagramBytesMax}`);
  }
  for (const [name, value] of [['receiveBufferBytes', receiveBufferBytes], ['sendBufferBytes', sendBufferBytes]] as const) {
    if (!Number.isInteger(value) || value < 0 || value > kSocketBufferBytesMax) throw new RangeError(`options.${name} must be an integer from 0 to ${kSocketBufferBytesMax}, got ${value}`);
  }
  if (!Number.isInteger(addressCacheEntriesMax) || addressCacheEntriesMax < 1) throw new RangeError(`options.addressCacheEntriesMax must be a positive integer, got ${addressCacheEntriesMax}`);
  return Object.freeze(settings);
}

/** The canonical address of an inbound cache key "host#port" (no closure per datagram). */
function parseInboundKey(key: string): string | null {
  const at = key.lastIndexOf('#');
  return canonicalSocketAddress(key.slice(0, at), Number(key.slice(at + 1)));
}
