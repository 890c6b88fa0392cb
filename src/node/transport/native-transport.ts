import { constants as osConstants } from 'node:os';
import type { NativeStatus, NativeUdpErrorRecord, NativeUdpSocketStats } from '../native/loader.js';
import { NativeUdpError, NativeUdpSocket } from '../native/native-udp-socket.js';
import * as F from '../../core/wire/format.js';
import type { DatagramTransport } from './datagram-transport.js';
import { parseBindAddress, parseSocketAddress, type SocketAddress } from './socket-address.js';
import { AddressCache } from './address-cache.js';
import { ReceiveViews } from '../native/receive-views.js';
import { kOpenMalformed, type Keyring } from '../security/keyring.js';
import { TransportCounters } from './transport-counters.js';

/** Options of NativeTransport.open; every field is optional (see kNativeTransportDefaults). */
export interface NativeTransportOptions {
  /**
   * Largest datagram sent or accepted, bytes. Larger ones are dropped and counted: outbound
   * before they reach the kernel, inbound by the kernel itself (the receive slots are this
   * size, so a longer datagram arrives truncated and is counted, never delivered). The
   * protocol's own limit is the default; up to 65,535 is accepted so that tests can
   * provoke the kernel's UDP payload limit.
   */
  datagramBytesMax?: number;
  /**
   * SO_RCVBUF and SO_SNDBUF, bytes; 0 keeps the OS default. Bursts of gossip arrive
   * faster than one thread drains them after a pause, and a datagram that does not fit is
   * lost. Without CAP_NET_ADMIN Linux caps it at net.core.rmem_max/wmem_max silently.
   */
  socketBufferBytes?: number;
  /**
   * Peer addresses whose canonical form is cached, both ways (text to socket address,
   * reported source to canonical text), so a busy node does not re-parse every datagram's
   * address. The cache is emptied when full, which costs one re-parse per peer.
   */
  addressCacheEntriesMax?: number;
}

export interface NativeTransportSettings {
  readonly datagramBytesMax: number;
  readonly socketBufferBytes: number;
  readonly addressCacheEntriesMax: number;
}

export const kNativeTransportDefaults: NativeTransportSettings = Object.freeze({
  datagramBytesMax: F.kDatagramBytesMax,
  socketBufferBytes: 4 * 1024 * 1024,
  addressCacheEntriesMax: 16_384,
});

const kUdpPayloadBytesMax = 65_535;
/** The kernel's UDP payload limits (65,535 less the IP and UDP headers); native/udp_socket.h checks the same. */
const kKernelPayloadBytesMax = { 4: 65_507, 6: 65_527 } as const;
/** The addon's bounds on a receive slot and on the socket buffers (kNativeUdpLimits). */
const kSlotBytesMin = 16;
const kSocketBufferBytesMax = 64 * 1024 * 1024;

/** What one error-queue record means to the membership engine and to the counters. */
export type ErrorRecordMeaning =
  /** Nothing answers at the destination any more: strong evidence for engine.unreachable. */
  | 'unreachable'
  /** The datagram exceeded a path MTU (ICMP fragmentation needed, packet too big, local EMSGSIZE). */
  | 'too-large'
  /** This host has no route to the destination: a fact about us, not about the peer. */
  | 'no-route'
  /** Anything else (policy rejections, time exceeded, unknown codes): counted and ignored. */
  | 'ignored';

const kIcmpDestinationUnreachable = 3;
/**
 * ICMPv4 destination-unreachable codes that mean the destination is gone: 0 network, 1
 * host (also what the local stack sends when ARP gets no answer), 3 port (the process
 * died on a live host). The "administratively prohibited" codes (9, 10, 13) are left out
 * on purpose: they say a filter rejects *this* sender, not that the peer stopped, and
 * engine.unreachable confirms a death from a second report without asking other members,
 * so a one-sided firewall rule would have the peer declared dead by this node alone.
 * SWIM's indirect probes handle that case correctly.
 */
const kIcmpGoneCodes: ReadonlySet<number> = new Set([0, 1, 3]);
const kIcmpFragmentationNeeded = 4;
const kIcmp6DestinationUnreachable = 1;
const kIcmp6PacketTooBig = 2;
/**
 * ICMPv6 destination-unreachable codes that mean the destination is gone: 0 no route, 3
 * address unreachable (neighbour discovery failed), 4 port unreachable. Left out, as for
 * IPv4: 1 administratively prohibited, 5 source address failed policy, 6 reject route
 * (all policy), and 2 beyond the scope of the source address (our mistake, not theirs).
 */
const kIcmp6GoneCodes: ReadonlySet<number> = new Set([0, 3, 4]);
const kErrno = osConstants.errno;

/** Classifies one error-queue record; a pure function of the record's ICMP type, code and errno. */
export function errorRecordMeaning(record: Pick<NativeUdpErrorRecord, 'origin' | 'icmpType' | 'icmpCode' | 'errno'>): ErrorRecordMeaning {
  if (record.origin === 'icmp') {
    if (record.icmpType !== kIcmpDestinationUnreachable) return 'ignored';
    if (record.icmpCode === kIcmpFragmentationNeeded) return 'too-large';
    return kIcmpGoneCodes.has(record.icmpCode) ? 'unreachable' : 'ignored';
  }
  if (record.origin === 'icmp6') {
    if (record.icmpType === kIcmp6PacketTooBig) return 'too-large';
    if (record.icmpType !== kIcmp6DestinationUnreachable) return 'ignored';
    return kIcmp6GoneCodes.has(record.icmpCode) ? 'unreachable' : 'ignored';
  }
  if (record.origin === 'local') {
    if (record.errno === kErrno.ECONNREFUSED) return 'unreachable';
    if (record.errno === kErrno.EMSGSIZE) return 'too-large';
    if (record.errno === kErrno.EHOSTUNREACH || record.errno === kErrno.ENETUNREACH) return 'no-route';
  }
  return 'ignored';
}

/** Counters that only a native transport has: what the kernel's error queue said. */
export interface ErrorQueueCounters {
  /** Records that became onUnreachable evidence (several for one peer in one wake-up count once each). */
  unreachable: number;
  tooLarge: number;
  noRoute: number;
  /** Records of no use to the engine, or without a destination. */
  ignored: number;
}

/** Thrown by NativeTransport.open; `code` is the addon's stable GALAXY_NATIVE_* code. */
export class NativeTransportOpenError extends Error {
  readonly code: string;

  constructor(code: string, message: string, cause: unknown) {
    super(message, { cause });
    this.name = 'NativeTransportOpenError';
    this.code = code;
  }
}

/** Where a received datagram goes: onMessage, onUnsealed, or nowhere (no key authenticated it; the keyring counted it). */
const kDeliverMessage = 0;
const kDeliverUnsealed = 1;
const kDeliverNothing = 2;
type Delivery = typeof kDeliverMessage | typeof kDeliverUnsealed | typeof kDeliverNothing;

/** The addon's counters the transport turns into drops, as last read. */
type KernelDropCounters = Pick<NativeUdpSocketStats, 'sendDropped' | 'sendTooLarge' | 'sendFailed' | 'sendInvalidAddress' | 'truncated'>;

/**
 * A DatagramTransport over the native batched socket (native/udp_socket.cc): sends of
 * one loop turn leave in one sendmmsg, receives arrive in recvmmsg batches, and the
 * kernel's error queue (IP_RECVERR / IPV6_RECVERR) becomes onUnreachable evidence: a
 * crashed process on a live host answers the very next datagram with an ICMP port
 * unreachable, which reaches the engine within a millisecond on a LAN.
 *
 * Drops never throw out of send(). Those decided here (bad address, family, datagramBytesMax,
 * the kernel's payload limit, closed) are counted at once. Those the kernel decides later,
 * inside sendmmsg/recvmmsg (EAGAIN or ENOBUFS from a full send buffer, EMSGSIZE, other
 * errors, truncated inbound datagrams), live in the addon's counters and are folded into
 * `counters` whenever `counters` is read, so the hot path pays nothing for them.
 */
export class NativeTransport implements DatagramTransport {
  readonly kind = 'native' as const;
  readonly address: string;
  readonly settings: NativeTransportSettings;
  readonly errorQueue: ErrorQueueCounters = { unreachable: 0, tooLarge: 0, noRoute: 0, ignored: 0 };
  private readonly socket: NativeUdpSocket;
  private readonly family: 4 | 6;
  private readonly ownCounters = new TransportCounters();
  private kernelSeen: KernelDropCounters = { sendDropped: 0, sendTooLarge: 0, sendFailed: 0, sendInvalidAddress: 0, truncated: 0 };
  /** Bytes and datagrams counted as sent since the last fold, to estimate the bytes of the ones the kernel refused. */
  private sentSinceFold = { datagrams: 0, bytes: 0 };
  private readonly outboundAddresses: AddressCache<SocketAddress | null>;
  private readonly inboundAddresses: AddressCache<SocketAddress | null>;
  private messageCallback: (from: string, bytes: Uint8Array) => void = () => {};
  private batchCallback: (count: number) => void = () => {};
  private batchEndCallback: () => void = () => {};
  private unsealedCallback: (from: string, bytes: Uint8Array) => void = () => {};
  /** Opens each batch before delivery when set (openBatchesWith). */
  private keyring: Keyring | null = null;
  private readonly slotBytes: number;
  private readonly receivedViews: ReceiveViews;
  private readonly openedViews: ReceiveViews;
  /** The plaintexts of one batch, slot by slot as received, and each one's openBatch result. */
  private readonly opened: Uint8Array;
  private readonly openResults: Int32Array;
  private unreachableCallback: (to: string) => void = () => {};
  private closed = false;

  private constructor(socket: NativeUdpSocket, family: 4 | 6, settings: NativeTransportSettings) {
    this.socket = socket;
    this.family = family;
    this.settings = settings;
    this.slotBytes = socket.config.slotBytes;
    this.receivedViews = new ReceiveViews(this.slotBytes);
    this.openedViews = new ReceiveViews(this.slotBytes);
    this.opened = new Uint8Array(socket.config.recvBatch * this.slotBytes);
    this.openResults = new Int32Array(socket.config.recvBatch);
    this.openedViews.use(this.opened);
    this.outboundAddresses = new AddressCache(settings.addressCacheEntriesMax);
    this.inboundAddresses = new AddressCache(settings.addressCacheEntriesMax);
    const local = socket.localAddress;
    this.address = parseSocketAddress(local)?.text ?? local;
  }

  /**
   * Binds a native socket to `bind` ("a.b.c.d:port" or "[v6]:port"; port 0 lets the OS
   * choose). Throws a RangeError on bad options and a NativeTransportOpenError (code
   * GALAXY_NATIVE_UNAVAILABLE, GALAXY_NATIVE_BIND, ...) when the socket cannot be opened.
   */
  static open(bind: string, options: NativeTransportOptions = {}, status?: NativeStatus): NativeTransport {
    const settings = validateNativeOptions(options);
    const address = parseBindAddress(bind);
    let transport: NativeTransport | undefined;
    let socket: NativeUdpSocket;
    try {
      socket = NativeUdpSocket.open(
        {
          host: address.host,
          port: address.port,
          ipv6: address.family === 6,
          // One slot holds the largest accepted datagram; a longer one is truncated by the kernel and counted.
          slotBytes: Math.max(kSlotBytesMin, settings.datagramBytesMax),
          socketBufferBytes: settings.socketBufferBytes,
        },
        {
          onMessage: () => {},
          onRawBatch: (count, buffer, lengths, sources) => transport?.receiveBatch(count, buffer, lengths, sources),
          onErrors: (records) => transport?.errors(records),
        },
        status,
      );
    } catch (error) {
      throw openError(bind, error);
    }
    transport = new NativeTransport(socket, address.family, settings);
    return transport;
  }

  /** Counters of what was moved and dropped, the kernel's own drops folded in up to this read. */
  get counters(): TransportCounters {
    this.foldKernelDrops();
    return this.ownCounters;
  }

  send(to: string, bytes: Uint8Array): void {
    const counters = this.ownCounters;
    if (this.closed) return counters.recordDropped('GALAXY_TRANSPORT_CLOSED', `send to ${to} after close`);
    if (bytes.length > this.settings.datagramBytesMax) return counters.recordDropped('GALAXY_TRANSPORT_TOO_LARGE', `${bytes.length} bytes to ${to} exceed datagramBytesMax ${this.settings.datagramBytesMax}`);
    const address = this.outboundAddress(to);
    if (address === null) return counters.recordDropped('GALAXY_TRANSPORT_BAD_ADDRESS', `bad destination "${to}"`);
    if (address.family !== this.family) return counters.recordDropped('GALAXY_TRANSPORT_FAMILY_MISMATCH', `IPv${address.family} destination ${to} on an IPv${this.family} socket`);
    if (bytes.length > kKernelPayloadBytesMax[this.family]) return counters.recordDropped('GALAXY_TRANSPORT_TOO_LARGE', `${bytes.length} bytes to ${to}: EMSGSIZE, over the IPv${this.family} UDP payload limit ${kKernelPayloadBytesMax[this.family]}`);
    let queued: boolean;
    try {
      // The addon copies the bytes into its send batch before queue() returns.
      queued = this.socket.send(address.text, bytes);
    } catch (error) {
      const code = error instanceof NativeUdpError && error.code === 'GALAXY_NATIVE_CLOSED' ? 'GALAXY_TRANSPORT_CLOSED' : 'GALAXY_TRANSPORT_SEND_FAILED';
      return counters.recordDropped(code, `send to ${to}: ${(error as Error).message}`);
    }
    // A refusal here is already in the addon's counters (sendInvalidAddress, sendTooLarge)
    // and reaches ours at the next fold; counting it now too would count it twice.
    if (!queued) return;
    counters.recordSent(bytes.length);
    this.sentSinceFold.datagrams++;
    this.sentSinceFold.bytes += bytes.length;
  }

  onMessage(callback: (from: string, bytes: Uint8Array) => void): void {
    this.messageCallback = callback;
  }

  onUnreachable(callback: (to: string) => void): void {
    this.unreachableCallback = callback;
  }

  /** Sets the receiver of batch starts: `count` datagrams of one recvmmsg follow (onMessage gets each). */
  onBatch(callback: (count: number) => void): void {
    this.batchCallback = callback;
  }

  /**
   * Sets the receiver of batch ends: called once after the last onMessage of a recvmmsg
   * batch, before the batch's sends leave in one sendmmsg, so a receiver can act on the
   * whole batch once (the agent's NodeDriver acts on its stack and re-arms its timer here).
   */
  onBatchEnd(callback: () => void): void {
    this.batchEndCallback = callback;
  }

  /** The addon's own counters (batches, wake-ups, error-queue records), for diagnosis. */
  get socketStats(): NativeUdpSocketStats {
    return this.socket.stats;
  }

  /** Flushes what is queued, then closes; idempotent. Sends after this are counted as GALAXY_TRANSPORT_CLOSED. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.socket.close();
  }

  /**
   * Opens every received batch with `keyring` in one call (Keyring.openBatch: one native
   * crossing per recvmmsg batch) before delivery: onMessage then gets plaintexts (views
   * valid during the callback); a datagram that is not sealed at all (too short, another
   * version byte: admission datagrams) goes to `onUnsealed` as received; one that no
   * key authenticates is dropped and counted by the keyring. `null` delivers datagrams
   * as received again. A key rotation needs no new call: the keyring rebuilds its
   * contexts itself.
   */
  openBatchesWith(keyring: Keyring | null, onUnsealed: (from: string, bytes: Uint8Array) => void = () => {}): void {
    this.keyring = keyring;
    this.unsealedCallback = onUnsealed;
  }

  /** One recvmmsg batch from the addon (or bench:path's prepared one). */
  private receiveBatch(count: number, buffer: Uint8Array, lengths: Uint32Array, sources: readonly string[]): void {
    if (this.closed) return;
    this.batchCallback(count);
    const received = this.receivedViews;
    received.use(buffer);
    const keyring = this.keyring;
    if (keyring === null) {
      for (let i = 0; i < count; i++) this.receive(sources[i]!, received.view(i, lengths[i]!), lengths[i]!, kDeliverMessage);
    } else {
      const results = this.openResults;
      keyring.openBatch(buffer, count, this.slotBytes, lengths, results, this.opened);
      for (let i = 0; i < count; i++) {
        const result = results[i]!;
        if (result >= 0) this.receive(sources[i]!, this.openedViews.view(i, result), lengths[i]!, kDeliverMessage);
        else if (result === kOpenMalformed) this.receive(sources[i]!, received.view(i, lengths[i]!), lengths[i]!, kDeliverUnsealed);
        else this.receive(sources[i]!, received.view(i, lengths[i]!), lengths[i]!, kDeliverNothing);
        if (this.closed) return;
      }
    }
    if (!this.closed) this.batchEndCallback();
  }

  /** Checks and counts a received datagram, then hands it to the receiver `delivery` names. */
  private receive(from: string, bytes: Uint8Array, wireBytes: number, delivery: Delivery): void {
    if (this.closed) return;
    const address = this.inboundAddress(from);
    if (address === null) return this.ownCounters.recordDropped('GALAXY_TRANSPORT_BAD_ADDRESS', `datagram from unsupported address ${from}`);
    // An IPv6 socket bound to :: also receives IPv4 (v4-mapped) datagrams; the engine could
    // not answer them on this socket, so they are dropped, as node:dgram's ipv6Only does.
    if (address.family !== this.family) return this.ownCounters.recordDropped('GALAXY_TRANSPORT_FAMILY_MISMATCH', `IPv${address.family} datagram from ${from} on an IPv${this.family} socket`);
    this.ownCounters.recordReceived(wireBytes);
    if (delivery === kDeliverMessage) this.messageCallback(address.text, bytes);
    else if (delivery === kDeliverUnsealed) this.unsealedCallback(address.text, bytes);
  }

  /**
   * One wake-up's error-queue records. A burst of sends to a dead peer draws one ICMP
   * error each, all drained in the same wake-up: the peer is reported once per wake-up,
   * since extra reports would read to the engine as the re-probe's confirmation.
   */
  private errors(records: readonly NativeUdpErrorRecord[]): void {
    if (this.closed) return;
    const reported = new Set<string>();
    for (const record of records) {
      const meaning = errorRecordMeaning(record);
      const peer = record.peer === '' ? null : this.inboundAddress(record.peer);
      if (meaning === 'ignored' || peer === null) {
        this.errorQueue.ignored++;
        continue;
      }
      const detail = `${record.origin} type ${record.icmpType} code ${record.icmpCode} errno ${record.errno} for ${peer.text}`;
      if (meaning === 'too-large') {
        this.errorQueue.tooLarge++;
        this.ownCounters.recordDropped('GALAXY_TRANSPORT_TOO_LARGE', `${detail} (path MTU ${record.info})`);
      } else if (meaning === 'no-route') {
        this.errorQueue.noRoute++;
        this.ownCounters.recordDropped('GALAXY_TRANSPORT_NO_ROUTE', detail);
      } else {
        this.errorQueue.unreachable++;
        this.ownCounters.recordDropped('GALAXY_TRANSPORT_UNREACHABLE', detail);
        reported.add(peer.text);
      }
    }
    for (const peer of reported) {
      if (this.closed) return;
      this.unreachableCallback(peer);
    }
  }

  /**
   * Folds the drops the addon counted since the last fold into ours. Datagrams the kernel
   * refused after queue() accepted them were counted as sent: they come off `sent`, and
   * off `bytesSent` at the average size of what was sent since the last fold (the addon
   * does not say which ones it refused).
   */
  private foldKernelDrops(): void {
    const stats = this.socket.stats;
    const seen = this.kernelSeen;
    const counters = this.ownCounters;
    const pushedBack = stats.sendDropped - seen.sendDropped;
    const emsgsize = stats.sendTooLarge - seen.sendTooLarge;
    const failed = stats.sendFailed - seen.sendFailed;
    const invalid = stats.sendInvalidAddress - seen.sendInvalidAddress;
    const truncated = stats.truncated - seen.truncated;
    this.kernelSeen = { sendDropped: stats.sendDropped, sendTooLarge: stats.sendTooLarge, sendFailed: stats.sendFailed, sendInvalidAddress: stats.sendInvalidAddress, truncated: stats.truncated };
    for (let i = 0; i < pushedBack; i++) counters.recordDropped('GALAXY_TRANSPORT_SEND_FAILED', 'send buffer full (EAGAIN or ENOBUFS from sendmmsg): dropped, as UDP may');
    for (let i = 0; i < emsgsize; i++) counters.recordDropped('GALAXY_TRANSPORT_TOO_LARGE', 'EMSGSIZE from sendmmsg');
    for (let i = 0; i < failed; i++) counters.recordDropped('GALAXY_TRANSPORT_SEND_FAILED', 'sendmmsg failed (an errno other than EAGAIN, ENOBUFS, EMSGSIZE)');
    for (let i = 0; i < invalid; i++) counters.recordDropped('GALAXY_TRANSPORT_BAD_ADDRESS', 'destination refused by the native socket');
    for (let i = 0; i < truncated; i++) counters.recordDropped('GALAXY_TRANSPORT_TOO_LARGE', `inbound datagram over datagramBytesMax ${this.settings.datagramBytesMax} (truncated by the kernel)`);
    const refused = pushedBack + emsgsize + failed;
    if (refused > 0 && this.sentSinceFold.datagrams > 0) {
      const averageBytes = this.sentSinceFold.bytes / this.sentSinceFold.datagrams;
      counters.sent -= Math.min(refused, counters.sent);
      counters.bytesSent = Math.max(0, counters.bytesSent - Math.round(refused * averageBytes));
    }
    this.sentSinceFold = { datagrams: 0, bytes: 0 };
  }

  private outboundAddress(text: string): SocketAddress | null {
    return this.outboundAddresses.get(text, parseSocketAddress);
  }

  /** The canonical form of an address the addon reported ("[::1]:7946" becomes "[0:0:0:0:0:0:0:1]:7946"). */
  private inboundAddress(text: string): SocketAddress | null {
    return this.inboundAddresses.get(text, parseSocketAddress);
  }
}

function openError(bind: string, error: unknown): Error {
  const code = error instanceof NativeUdpError ? error.code : 'GALAXY_NATIVE_SOCKET';
  const errno = error instanceof NativeUdpError ? error.errno : undefined;
  const name = errno === undefined ? undefined : Object.entries(kErrno).find(([, value]) => value === errno)?.[0];
  const message = error instanceof Error ? error.message : String(error);
  return new NativeTransportOpenError(code, `cannot bind UDP ${bind}: ${message}${name === undefined ? '' : ` (${name})`}`, error);
}

function validateNativeOptions(options: NativeTransportOptions): NativeTransportSettings {
  const settings = { ...kNativeTransportDefaults };
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) continue;
    if (!(key in kNativeTransportDefaults)) throw new RangeError(`unknown native transport option "${key}"`);
    (settings as Record<string, number>)[key] = value as number;
  }
  const { datagramBytesMax, socketBufferBytes, addressCacheEntriesMax } = settings;
  if (!Number.isInteger(datagramBytesMax) || datagramBytesMax < 1 || datagramBytesMax > kUdpPayloadBytesMax) {
    throw new RangeError(`options.datagramBytesMax must be an integer from 1 to ${kUdpPayloadBytesMax}, got ${datagramBytesMax}`);
  }
  if (!Number.isInteger(socketBufferBytes) || socketBufferBytes < 0 || socketBufferBytes > kSocketBufferBytesMax) {
    throw new RangeError(`options.socketBufferBytes must be an integer from 0 to ${kSocketBufferBytesMax}, got ${socketBufferBytes}`);
  }
  if (!Number.isInteger(addressCacheEntriesMax) || addressCacheEntriesMax < 1) throw new RangeError(`options.addressCacheEntriesMax must be a positive integer, got ${addressCacheEntriesMax}`);
  return Object.freeze(settings);
}
