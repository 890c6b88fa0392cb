import { parseSocketAddress } from '../../node/transport/socket-address.js';
import { HeldLinks, kHeldLinkRetryMsMin, type HeldLink } from '../../node/transport/held-links.js';

/** Peers linked at once, at most (one link per peer node, whatever the number of clusters it shares with this one). */
export const kClusterLinksMax = 64;
/** A link that lived at least this long starts its confirmations afresh when it closes. */
const kLinkSettledMs = 1000;
/**
 * The gaps before each confirming connect after a lost link, ms (about 320 ms in all).
 * A killed process's kernel closes its sockets one by one, in the dying process's own
 * time: its listener may still take connects for tens of ms after the link closed, and
 * on a loaded machine for longer (seen here: a first confirming connect taken and
 * reset, the next one refused 20 ms later). Each connect taken and dropped at once is
 * tried again after the next gap; a peer that keeps taking and dropping them (at its
 * connection bound) is given up on without evidence after the last.
 */
const kConfirmGapsMs = [0, 2, 5, 10, 20, 40, 80, 160];
/** A confirming connect that neither connects nor fails within this long proves nothing (a host that vanished). */
const kConnectTimeoutMs = 3000;

export interface ClusterLinksOptions {
  /** Deliberately broken rules, switched on only by the test that shows the reconnect check is needed. Never set in production. */
  readonly broken?: {
    /** Any lost link is evidence at once, without the confirming reconnect (an idle close becomes a false death). */
    readonly lostIsGone?: boolean;
  };
}

type LinkState = 'connecting' | 'open' | 'confirming' | 'waiting';

/**
 * Where a peer's link goes: an address its process listens on (its farm address, or the
 * host its cluster's profile selects for failure detection on its farm port), the local
 * host to connect from (this node's own address on that network; absent: the kernel's
 * choice), and the name of the route, for the counters ('farm', 'failureDetection').
 */
export interface LinkTarget {
  readonly address: string;
  readonly localHost?: string;
  readonly route?: string;
}

/** A link to a peer node (key: its node id); connects, drops and backoff are held-links.ts's. */
interface Link extends HeldLink {
  /** The route's name, for the counters. */
  route: string;
  state: LinkState;
  /** Confirming connects made since the link was last settled. */
  attempts: number;
}

/**
 * Closed-connection evidence for the cluster service's cores (issue 17): one TCP
 * connection from this agent's main thread to the stream listener of every peer node
 * that shares a running cluster with it (the farm address's port: the stream transport
 * listens on the same number as the datagrams), on which nothing is ever sent. When a
 * peer's process dies its kernel closes the connection at once, whatever the
 * process was doing.
 *
 * When a cluster's profile selects a network for failure detection (cluster-networks.ts),
 * the link to a member goes to its host there, on its farm port, from this node's own
 * address on that network (the agent listens there with the same stream transport): the
 * evidence then travels the network the cluster's heartbeats use, as a profile asked, and
 * a cut of the farm network alone does not take it away (ClusterService.linkTarget).
 *
 * A close alone is not evidence: the peer's stream transport closes idle connections
 * (10 s), and a restart closes them too. So a lost link is confirmed at once by
 * connecting again: `ECONNREFUSED` means no process listens on the peer's port any
 * more, and only that calls `onGone(nodeId)`. A connect that succeeds makes the link
 * open again (the peer lives: an idle close); one that connects and is dropped at once
 * (a dying process's listener taking the SYN before it closes, or a peer at its
 * connection bound) is tried again after the next of kConfirmGapsMs.
 * A connect that hangs (a host that vanished, a partition) proves nothing: the cores'
 * own failure detector (suspectTimeoutMs) decides then. A link never held (refused from
 * the start: a stale address) gives no evidence either; it is retried with a backoff.
 *
 * Cost: a connection per peer pair and nothing sent; a reconnect per link per idle
 * timeout of the peer (every 10 s). Inbound, each peer's worker holds one accepted
 * connection per member sharing a cluster with it (63 in a cluster of 64, against the
 * stream transport's bound of 256).
 */
export class ClusterLinks {
  readonly counters = { opened: 0, lost: 0, refused: 0, gone: 0 };
  /** Peers found gone (counters.gone), by the route of the link that showed it. */
  readonly goneByRoute = new Map<string, number>();
  private readonly links: HeldLinks<Link>;
  private readonly onGone: (nodeId: string, address: string) => void;
  private readonly nowMs: () => number;
  private readonly lostIsGone: boolean;

  constructor(onGone: (nodeId: string, address: string) => void, nowMs: () => number, options: ClusterLinksOptions = {}) {
    this.onGone = onGone;
    this.nowMs = nowMs;
    this.lostIsGone = options.broken?.lostIsGone === true;
    this.links = new HeldLinks<Link>(
      {
        opening: (link) => {
          // The backoff is over: a restarted peer is linked again.
          if (link.state === 'waiting') link.state = 'connecting';
        },
        connected: (link) => {
          link.state = 'open';
          link.openedAtMs = this.nowMs();
          link.retryMs = kHeldLinkRetryMsMin;
          this.counters.opened++;
        },
        ended: (link, connected, code) => this.closedSocket(link, connected, code),
      },
      { endOn: 'close', connectTimeoutMs: kConnectTimeoutMs },
    );
  }

  /** The peers linked (or being linked), node id → address. */
  peers(): Map<string, string> {
    return new Map([...this.links.values()].map((l) => [l.key, l.address]));
  }

  /** The links held (or being made) per route name. */
  routes(): Map<string, number> {
    const out = new Map<string, number>();
    for (const link of this.links.values()) out.set(link.route, (out.get(link.route) ?? 0) + 1);
    return out;
  }

  /** Whether the link to `nodeId` is open now (for tests and diagnostics). */
  isOpen(nodeId: string): boolean {
    return this.links.get(nodeId)?.state === 'open';
  }

  /**
   * Holds links to exactly `peers` (node id → its farm address, or a LinkTarget), the
   * first kClusterLinksMax by node id. A peer whose target changed (another address, or
   * another local host) is linked afresh, without evidence.
   */
  update(peers: ReadonlyMap<string, string | LinkTarget>): void {
    if (this.links.closed) return;
    const wanted = [...peers.entries()]
      .map(([nodeId, target]): [string, LinkTarget] => [nodeId, typeof target === 'string' ? { address: target } : target])
      .filter(([, target]) => parseSocketAddress(target.address) !== null)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .slice(0, kClusterLinksMax);
    const routes = new Map(wanted.map(([nodeId, target]) => [nodeId, target.route ?? 'farm']));
    this.links.hold(new Map(wanted), (key, address, localHost) => ({ key, address, localHost, route: routes.get(key)!, state: 'connecting', socket: null, openedAtMs: 0, attempts: 0, retryMs: kHeldLinkRetryMsMin, timer: null }));
    // A route renamed over the same address and local host keeps its link: only the label follows.
    for (const link of this.links.values()) link.route = routes.get(link.key) ?? link.route;
  }

  /** Closes every link; no onGone follows. */
  close(): void {
    this.links.close();
  }

  private closedSocket(link: Link, connected: boolean, code: string | undefined): void {
    const confirming = link.state === 'confirming';
    if (connected) {
      // A link that was held is gone (or a confirming connect was taken and dropped): confirm whether a process still listens there.
      this.counters.lost++;
      if (this.lostIsGone) {
        this.countGone(link);
        this.wait(link);
        this.onGone(link.key, link.address);
        return;
      }
      if (this.nowMs() - link.openedAtMs >= kLinkSettledMs) link.attempts = 0;
      this.confirm(link);
      return;
    }
    if (code === 'ECONNREFUSED') this.counters.refused++;
    if (!confirming) {
      this.wait(link);
      return;
    }
    if (code === 'ECONNREFUSED') {
      // The link closed and nothing listens on the peer's port: its process is gone.
      this.countGone(link);
      link.attempts = 0;
      this.wait(link);
      this.onGone(link.key, link.address);
      return;
    }
    // A confirming connect that failed otherwise (reset in the handshake, a timeout): the next gap.
    this.confirm(link);
  }

  private countGone(link: Link): void {
    this.counters.gone++;
    this.goneByRoute.set(link.route, (this.goneByRoute.get(link.route) ?? 0) + 1);
  }

  /** The next confirming connect after its gap, or, once they are spent, the backoff without evidence. */
  private confirm(link: Link): void {
    if (link.attempts >= kConfirmGapsMs.length) {
      this.wait(link);
      return;
    }
    link.state = 'confirming';
    const gap = kConfirmGapsMs[link.attempts]!;
    link.attempts++;
    this.links.openAfter(link, gap);
  }

  /** Tries the link again after the backoff (a restarted peer is linked again). */
  private wait(link: Link): void {
    link.state = 'waiting';
    this.links.backoff(link);
  }
}
