import { connect, type Socket } from 'node:net';
import { parseSocketAddress } from './socket-address.js';

/**
 * Backoff between two attempts on a link that cannot be held, ms: doubling from the
 * first to the second (the simulator's watch links copy it: network-simulator.ts).
 */
export const kHeldLinkRetryMsMin = 100;
export const kHeldLinkRetryMsMax = 5000;

/** One link a HeldLinks holds; its owner may add fields (its own evidence state). */
export interface HeldLink {
  /** What the owner names the link by (a node id, or the address itself). */
  readonly key: string;
  readonly address: string;
  /** The local host to connect from (an address of this node on the link's network); undefined: the kernel's choice. */
  readonly localHost?: string | undefined;
  socket: Socket | null;
  openedAtMs: number;
  retryMs: number;
  timer: ReturnType<typeof setTimeout> | null;
}

/** Where a link goes: the address, and the local host to connect from (undefined: the kernel's choice). */
export interface HeldTarget {
  readonly address: string;
  readonly localHost?: string | undefined;
}

/** The owner's evidence rules: what an open, a connection and an end mean. */
export interface HeldLinkRules<L extends HeldLink> {
  /** A connect is about to be made for `link` (its first, a reconnect or a retry). */
  opening?(link: L): void;
  /** The connect succeeded and this socket is still the link's. */
  connected?(link: L): void;
  /**
   * The link's socket went down (link.socket is null again): `connected` whether it ever
   * connected, `code` the last socket error's code (ECONNREFUSED: nothing listens). Not
   * called for a link dropped by hold() or close(). The rules decide what comes next:
   * open(), openAfter() or backoff().
   */
  ended(link: L, connected: boolean, code: string | undefined): void;
}

export interface HeldLinksOptions {
  /** A connect neither connected nor failed within this long is destroyed (its end follows). None by default. */
  readonly connectTimeoutMs?: number;
  /**
   * When the link counts as down: 'close' (the socket closed: the error's code is known),
   * or 'first' (the first of the peer's end, an error or a close).
   */
  readonly endOn: 'close' | 'first';
}

/**
 * Idle TCP links held to a set of addresses, on which nothing is ever sent: the connect,
 * drop, retry and backoff machinery of the agent's two closed-connection detectors — the
 * watch ring's links (driver/watch-links.ts) and the cluster service's links to peers
 * (cluster/service/cluster-links.ts). Each keeps its own rules of what a lost link proves
 * and when to try again (HeldLinkRules); whatever the peer sends is read and dropped.
 */
export class HeldLinks<L extends HeldLink> {
  private readonly links = new Map<string, L>();
  private closedAll = false;
  private readonly rules: HeldLinkRules<L>;
  private readonly options: HeldLinksOptions;

  constructor(rules: HeldLinkRules<L>, options: HeldLinksOptions) {
    this.rules = rules;
    this.options = options;
  }

  /** Whether close() was called. */
  get closed(): boolean {
    return this.closedAll;
  }

  get(key: string): L | undefined {
    return this.links.get(key);
  }

  values(): IterableIterator<L> {
    return this.links.values();
  }

  /** Whether `link` is still held (not dropped by hold() or close()). */
  holds(link: L): boolean {
    return !this.closedAll && this.links.get(link.key) === link;
  }

  /**
   * Holds links to exactly `wanted` (key → address, or address and the local host to
   * connect from): drops each link whose key is not wanted or whose address or local host
   * changed, and opens one made by `make` for each new key with a parseable address, in
   * `wanted`'s order.
   */
  hold(wanted: ReadonlyMap<string, string | HeldTarget>, make: (key: string, address: string, localHost: string | undefined) => L): void {
    if (this.closedAll) return;
    const targets = new Map([...wanted].map(([key, target]): [string, HeldTarget] => [key, typeof target === 'string' ? { address: target } : target]));
    for (const [key, link] of this.links) {
      const target = targets.get(key);
      if (target === undefined || target.address !== link.address || target.localHost !== link.localHost) {
        this.drop(link);
        this.links.delete(key);
      }
    }
    for (const [key, { address, localHost }] of targets) {
      if (this.links.has(key) || parseSocketAddress(address) === null) continue;
      const link = make(key, address, localHost);
      this.links.set(key, link);
      this.open(link);
    }
  }

  /** Closes every link; no rule is called after. */
  close(): void {
    this.closedAll = true;
    for (const link of this.links.values()) this.drop(link);
    this.links.clear();
  }

  /** Connects the link now (nothing if it is no longer held). */
  open(link: L): void {
    link.timer = null;
    if (!this.holds(link)) return;
    this.rules.opening?.(link);
    const target = parseSocketAddress(link.address)!;
    const socket = connect({ host: target.host, port: target.port, noDelay: true, ...(link.localHost === undefined ? {} : { localAddress: link.localHost }) });
    link.socket = socket;
    let connected = false;
    let code: string | undefined;
    let settled = false;
    const timeoutMs = this.options.connectTimeoutMs;
    const hang = timeoutMs === undefined ? null : setTimeout(() => socket.destroy(), timeoutMs);
    socket.once('connect', () => {
      if (hang !== null) clearTimeout(hang);
      connected = true;
      if (link.socket !== socket) return;
      this.rules.connected?.(link);
    });
    // Nothing is ever sent; anything the peer sends is read and dropped.
    socket.on('data', () => undefined);
    socket.on('error', (error: NodeJS.ErrnoException) => {
      code = error.code;
    });
    const ended = (): void => {
      if (settled) return;
      settled = true;
      if (hang !== null) clearTimeout(hang);
      socket.destroy();
      if (this.closedAll || link.socket !== socket) return;
      link.socket = null;
      this.rules.ended(link, connected, code);
    };
    if (this.options.endOn === 'first') {
      socket.on('end', ended);
      socket.on('error', ended);
    }
    socket.on('close', ended);
  }

  /** Connects the link after `ms` (at once for 0). */
  openAfter(link: L, ms: number): void {
    if (ms === 0) this.open(link);
    else link.timer = setTimeout(() => this.open(link), ms);
  }

  /** Connects the link again after its backoff, which doubles for the next time (up to kHeldLinkRetryMsMax). */
  backoff(link: L): void {
    const delay = link.retryMs;
    link.retryMs = Math.min(kHeldLinkRetryMsMax, link.retryMs * 2);
    link.timer = setTimeout(() => this.open(link), delay);
  }

  private drop(link: L): void {
    if (link.timer !== null) clearTimeout(link.timer);
    link.timer = null;
    const socket = link.socket;
    link.socket = null;
    socket?.destroy();
  }
}
