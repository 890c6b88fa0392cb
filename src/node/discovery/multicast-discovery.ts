import { createSocket, type Socket } from 'node:dgram';
import { isIPv4 } from 'node:net';
import { CodedError } from '../../core/util/coded-error.js';
import { canonicalSocketAddress, isUnspecifiedAddress, parseSocketAddress } from '../transport/socket-address.js';
import { decodeAnnouncement, encodeAnnouncement, type Announcement } from './multicast-announcement.js';

/**
 * LAN multicast discovery (`galaxy agent --discovery-multicast [GROUP:PORT]`). Every agent
 * with the flag joins the group; one that holds the farm authority (a controller) sends an
 * announcement (multicast-announcement.ts) once at start and every announceIntervalMs,
 * with TTL 1 so it never leaves the LAN segment. A listener keeps the gossip addresses it
 * hears as seeds, and SeedDiscovery merges them with --join, the seed file and SRV, so a
 * new node started with nothing but the flag finds a controller and asks it for admission.
 *
 * Only controllers announce: they are the nodes a new node must reach (admission requests
 * go to the seeds, and a controller answers them), and a farm has few of them, so the
 * group's traffic does not grow with the farm. Announcements of another farm are dropped
 * when --farm-ca pins one; without a pin the node trusts the first farm that grants it
 * credentials, as admission already does (a LAN with two farms needs the pin).
 */
export interface MulticastGroup {
  /** An IPv4 multicast address (224.0.0.0/4). */
  readonly group: string;
  readonly port: number;
}

/**
 * Administratively scoped (RFC 2365): stays inside the organisation, and TTL 1 keeps it on
 * the segment. Port 7945, not 7947: the examples run a second agent's gossip on 7947 and
 * 7948 of the same machine, and a taken port would stop the agent at start.
 */
export const kMulticastGroupDefault: MulticastGroup = { group: '239.255.77.1', port: 7945 };
export const kAnnounceIntervalMsDefault = 2000;
/** Seeds kept from announcements: the most recently heard; a farm has a handful of controllers. */
export const kMulticastSeedsMax = 16;
/** Sources whose last accepted announcement time is remembered (for the rate limit); forgotten all at once when full. */
export const kMulticastSourcesMax = 1024;
/** A source is heard at most once per this interval: a flood from one host costs one parse per datagram, nothing more. */
export const kSourceMinIntervalMs = 500;

export interface MulticastDiscoveryOptions {
  readonly group: MulticastGroup;
  /** The IPv4 address of the interface to send and listen on (the agent's bind address), or null: the system's choice. */
  readonly interfaceAddress: string | null;
  /** Pinned farm authority (--farm-ca): announcements of any other are dropped. Null: any farm's are taken. */
  readonly farmCa: string | null;
  /** This node's own gossip address, never a seed of its own. */
  readonly self: string;
  readonly announceIntervalMs?: number;
}

export interface MulticastCounters {
  received: number;
  accepted: number;
  malformed: number;
  oversize: number;
  /** Announcements of a farm other than the pinned one. */
  foreign: number;
  /** Dropped by the per-source rate limit. */
  limited: number;
  sent: number;
  sendFailed: number;
}

/** Parses "GROUP:PORT" (or "" / true for the default); null when it is not an IPv4 multicast group with a port. */
export function parseMulticastGroup(text: string): MulticastGroup | null {
  const address = parseSocketAddress(text);
  if (address === null || address.family !== 4) return null;
  const first = Number(address.host.split('.')[0]);
  if (first < 224 || first > 239) return null;
  return { group: address.host, port: address.port };
}

export class MulticastDiscovery {
  readonly counters: MulticastCounters = { received: 0, accepted: 0, malformed: 0, oversize: 0, foreign: 0, limited: 0, sent: 0, sendFailed: 0 };
  private readonly options: MulticastDiscoveryOptions;
  /** Seed address -> when last heard (ms); insertion order is refreshed on each hearing, so the first is the stalest. */
  private readonly heard = new Map<string, number>();
  private readonly lastFrom = new Map<string, number>();
  private readonly listeners: Array<(seeds: readonly string[]) => void> = [];
  private socket: Socket | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(options: MulticastDiscoveryOptions) {
    this.options = options;
  }

  /** Binds the group's port (shared: other agents on the host may listen too) and joins the group. */
  async open(): Promise<void> {
    const socket = createSocket({ type: 'udp4', reuseAddr: true });
    this.socket = socket;
    socket.on('message', (bytes, rinfo) => this.receive(bytes, rinfo.address, Date.now()));
    // A send or receive error on a discovery socket must never end the agent: once bound, it is counted.
    await new Promise<void>((resolve, reject) => {
      socket.once('error', (error) => reject(new CodedError('GALAXY_DISCOVERY_MULTICAST_BIND', `--discovery-multicast: cannot listen on UDP port ${this.options.group.port}: ${error.message}`)));
      socket.bind(this.options.group.port, () => {
        socket.removeAllListeners('error');
        socket.on('error', () => this.counters.sendFailed++);
        resolve();
      });
    });
    const iface = this.options.interfaceAddress;
    socket.addMembership(this.options.group.group, iface ?? undefined);
    if (iface !== null) socket.setMulticastInterface(iface);
    socket.setMulticastTTL(1);
    // Loopback on: agents on one machine (and the tests) find each other too; a node drops its own.
    socket.setMulticastLoopback(true);
  }

  /** The seeds heard so far, most recently heard last. */
  seeds(): string[] {
    return [...this.heard.keys()];
  }

  /** Called with the seed set whenever an announcement adds a seed. */
  onChange(listener: (seeds: readonly string[]) => void): void {
    this.listeners.push(listener);
  }

  /**
   * Handles one datagram from the group (public so that a test can feed it bytes): checks
   * the per-source rate, decodes strictly, drops another farm's, and keeps the gossip
   * address (a wildcard replaced by the sender's address) as a seed.
   */
  receive(bytes: Uint8Array, sourceIp: string, nowMs: number): void {
    this.counters.received++;
    const last = this.lastFrom.get(sourceIp);
    if (last !== undefined && nowMs - last < kSourceMinIntervalMs) {
      this.counters.limited++;
      return;
    }
    if (this.lastFrom.size >= kMulticastSourcesMax) this.lastFrom.clear();
    this.lastFrom.set(sourceIp, nowMs);
    const decoded = decodeAnnouncement(bytes);
    if (!decoded.ok) {
      this.counters[decoded.reason]++;
      return;
    }
    const { farmCa, gossip } = decoded.announcement;
    if (this.options.farmCa !== null && farmCa !== this.options.farmCa) {
      this.counters.foreign++;
      return;
    }
    const address = parseSocketAddress(gossip)!;
    const seed = isUnspecifiedAddress(address) ? canonicalSocketAddress(sourceIp, address.port) : address.text;
    if (seed === null || seed === this.options.self) return;
    this.counters.accepted++;
    const known = this.heard.delete(seed);
    this.heard.set(seed, nowMs);
    // The stalest seed makes room: a controller still announcing is heard again within seconds.
    if (this.heard.size > kMulticastSeedsMax) this.heard.delete(this.heard.keys().next().value!);
    if (!known) for (const listener of this.listeners) listener(this.seeds());
  }

  /**
   * Announces what `current` returns (null: nothing to announce, e.g. not a controller yet)
   * now and every announceIntervalMs, until close().
   */
  announce(current: () => Announcement | null): void {
    const send = (): void => {
      const socket = this.socket;
      const announcement = current();
      if (socket === null || announcement === null) return;
      socket.send(encodeAnnouncement(announcement), this.options.group.port, this.options.group.group, (error) => {
        if (error) this.counters.sendFailed++;
        else this.counters.sent++;
      });
    };
    send();
    this.timer = setInterval(send, this.options.announceIntervalMs ?? kAnnounceIntervalMsDefault);
    this.timer.unref();
  }

  close(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    const socket = this.socket;
    this.socket = null;
    if (socket !== null) {
      try {
        socket.close();
      } catch {
        // closed already
      }
    }
  }
}

/** The interface address to use for a bind address: its IPv4 host unless it is the wildcard. */
export function multicastInterfaceOf(bind: string): string | null {
  const address = parseSocketAddress(bind);
  return address !== null && isIPv4(address.host) && !isUnspecifiedAddress(address) ? address.host : null;
}
