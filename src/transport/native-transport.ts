import { constants as osConstants } from 'node:os';
import type { NativeUdpErrorRecord } from '../native/loader.js';
import { NativeUdpError, NativeUdpSocket } from '../native/native-udp-socket.js';
import * as F from '../wire/format.js';
import type { DatagramTransport } from './datagram-transport.js';
import { canonicalSocketAddress, parseBindAddress, parseSocketAddress } from './socket-address.js';
import { TransportCounters } from './transport-counters.js';

/** ICMP (v4) destination-unreachable codes that mean "nothing will answer there". */
const kIcmpDestinationUnreachable = 3;
const kIcmpGoneCodes = new Set([0, 1, 2, 3, 9, 10, 13]); // net, host, protocol, port, prohibited
const kIcmp6DestinationUnreachable = 1;
const kEconnrefused = 111;
const kEhostunreach = 113;

/** Counters of error-queue records: what became evidence and what was ignored. */
export interface ErrorQueueCounters {
  unreachable: number;
  ignored: number;
}

/**
 * A DatagramTransport over the native batched socket (native/udp_socket.cc): sends of
 * one loop turn leave in one sendmmsg, receives arrive in recvmmsg batches, and the
 * kernel's ICMP error queue (IP_RECVERR / IPV6_RECVERR) becomes onUnreachable
 * evidence: a crashed process on a live host answers the very next datagram with a
 * port unreachable, which reaches the engine within a millisecond on a LAN.
 *
 * Errors never throw out of send(): bad addresses, oversized datagrams and a closed
 * socket are counted under the same stable codes as the dgram transport's.
 */
export class NativeTransport implements DatagramTransport {
  readonly kind = 'native' as const;
  readonly counters = new TransportCounters();
  readonly errorQueue: ErrorQueueCounters = { unreachable: 0, ignored: 0 };
  readonly address: string;
  private readonly socket: NativeUdpSocket;
  private readonly family: 4 | 6;
  private messageCallback: (from: string, bytes: Uint8Array) => void = () => {};
  private unreachableCallback: (to: string) => void = () => {};
  private closed = false;

  private constructor(socket: NativeUdpSocket, family: 4 | 6) {
    this.socket = socket;
    this.family = family;
    const local = socket.localAddress;
    this.address = parseSocketAddress(local)?.text ?? local;
  }

  /** Binds a native socket to `bind`; throws with a clear message when that fails. */
  static open(bind: string): NativeTransport {
    const address = parseBindAddress(bind);
    let transport: NativeTransport | undefined;
    let socket: NativeUdpSocket;
    try {
      socket = NativeUdpSocket.open(
      { host: address.host, port: address.port, ipv6: address.family === 6 },
      {
        onMessage: (from, bytes) => transport?.receive(from, bytes),
        onErrors: (records) => transport?.errors(records),
      },
      );
    } catch (error) {
      const errno = (error as { errno?: number }).errno ?? Number(/errno (\d+)/.exec((error as Error).message)?.[1]);
      const name = Object.entries(osConstants.errno).find(([, n]) => n === errno)?.[0];
      throw new Error(`cannot bind UDP ${bind}: ${(error as Error).message}${name === undefined ? '' : ` (${name})`}`);
    }
    transport = new NativeTransport(socket, address.family);
    return transport;
  }

  send(to: string, bytes: Uint8Array): void {
    if (this.closed) return this.counters.recordDropped('GALAXY_TRANSPORT_CLOSED', `send to ${to} after close`);
    if (bytes.length > F.kDatagramBytesMax) return this.counters.recordDropped('GALAXY_TRANSPORT_TOO_LARGE', `${bytes.length} bytes to ${to}`);
    const address = parseSocketAddress(to);
    if (address === null) return this.counters.recordDropped('GALAXY_TRANSPORT_BAD_ADDRESS', `bad destination "${to}"`);
    if (address.family !== this.family) return this.counters.recordDropped('GALAXY_TRANSPORT_FAMILY_MISMATCH', `IPv${address.family} destination ${to} on an IPv${this.family} socket`);
    try {
      // The addon copies the bytes into its send batch before queue() returns.
      if (this.socket.send(address.text, bytes)) this.counters.recordSent(bytes.length);
      else this.counters.recordDropped('GALAXY_TRANSPORT_SEND_FAILED', `native socket refused ${bytes.length} bytes to ${to}`);
    } catch (error) {
      const code = error instanceof NativeUdpError && error.code === 'GALAXY_NATIVE_CLOSED' ? 'GALAXY_TRANSPORT_CLOSED' : 'GALAXY_TRANSPORT_SEND_FAILED';
      this.counters.recordDropped(code, `send to ${to}: ${(error as Error).message}`);
    }
  }

  onMessage(callback: (from: string, bytes: Uint8Array) => void): void {
    this.messageCallback = callback;
  }

  onUnreachable(callback: (to: string) => void): void {
    this.unreachableCallback = callback;
  }

  /** Kernel-level counters of the socket (batches, truncations, sendmmsg drops). */
  get socketStats(): Record<string, number> {
    return { ...(this.socket.stats as unknown as Record<string, number>) };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.socket.close();
  }

  private receive(from: string, bytes: Uint8Array): void {
    if (this.closed) return;
    const text = parseSocketAddress(from)?.text ?? canonicalSocketAddress(from, 0);
    if (text === null || text === undefined) return this.counters.recordDropped('GALAXY_TRANSPORT_BAD_ADDRESS', `datagram from unsupported address ${from}`);
    this.counters.recordReceived(bytes.length);
    this.messageCallback(text, bytes);
  }

  private errors(records: readonly NativeUdpErrorRecord[]): void {
    for (const record of records) {
      const peer = record.peer === '' ? null : parseSocketAddress(record.peer);
      if (peer === null || !isGone(record)) {
        this.errorQueue.ignored++;
        continue;
      }
      this.errorQueue.unreachable++;
      this.counters.recordDropped('GALAXY_TRANSPORT_UNREACHABLE', `ICMP ${record.origin} type ${record.icmpType} code ${record.icmpCode} for ${peer.text}`);
      if (!this.closed) this.unreachableCallback(peer.text);
    }
  }
}

/** Whether an error-queue record says nothing listens at its destination any more. */
export function isGone(record: Pick<NativeUdpErrorRecord, 'origin' | 'icmpType' | 'icmpCode' | 'errno'>): boolean {
  if (record.origin === 'icmp') return record.icmpType === kIcmpDestinationUnreachable && kIcmpGoneCodes.has(record.icmpCode);
  if (record.origin === 'icmp6') return record.icmpType === kIcmp6DestinationUnreachable;
  return record.origin === 'local' && (record.errno === kEconnrefused || record.errno === kEhostunreach);
}
