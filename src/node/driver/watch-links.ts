import { connect, type Socket } from 'node:net';
import { parseSocketAddress } from '../transport/socket-address.js';

/**
 * Shortest gap between two link attempts to one target, ms, after a link that failed
 * or lived less than kLinkShortLivedMs: a dead or refusing member costs a connect and
 * a beat this often at most, doubling up to kRetryMsMax.
 */
const kRetryMsMin = 100;
const kRetryMsMax = 5000;
/** A link that lived at least this long (the peer's idle timeout closing it) reconnects at once. */
const kLinkShortLivedMs = 1000;

interface Link {
  readonly address: string;
  socket: Socket | null;
  openedAtMs: number;
  retryMs: number;
  timer: ReturnType<typeof setTimeout> | null;
}

/**
 * The agent's side of the watch ring held by links (watcher.ts, `watchLinks`): one TCP
 * connection to each ring successor's listener (the stream transport's port, the same
 * number as its UDP port), on which nothing is ever sent. A process that dies has its
 * kernel close the connection at once, and `onLost(address)` runs (the driver sends the
 * member one beat, whose ICMP unreachable is the evidence); so a kill costs no idle
 * traffic to notice. A link closed for another reason (the peer's idle timeout, a
 * restart) also calls onLost (one harmless beat) and is opened again: at once if it had
 * lived a while, else after a backoff (kRetryMsMin doubling to kRetryMsMax), which also
 * bounds the connects and beats a refusing address costs.
 */
export class WatchLinks {
  private readonly links = new Map<string, Link>();
  private targets: readonly string[] = [];
  private closed = false;
  private readonly onLost: (address: string) => void;
  private readonly nowMs: () => number;
  /** Links opened, and lost (closed by the peer's side or refused), for stats and tests. */
  opened = 0;
  lost = 0;

  constructor(onLost: (address: string) => void, nowMs: () => number) {
    this.onLost = onLost;
    this.nowMs = nowMs;
  }

  /** The addresses currently linked (or being linked). */
  get addresses(): readonly string[] {
    return this.targets;
  }

  /** Holds links to exactly `targets` (the engine's watchTargets(); compared by identity first). */
  update(targets: readonly string[]): void {
    if (this.closed || targets === this.targets) return;
    this.targets = targets;
    for (const [address, link] of this.links) {
      if (!targets.includes(address)) {
        this.drop(link);
        this.links.delete(address);
      }
    }
    for (const address of targets) {
      if (this.links.has(address) || parseSocketAddress(address) === null) continue;
      const link: Link = { address, socket: null, openedAtMs: 0, retryMs: kRetryMsMin, timer: null };
      this.links.set(address, link);
      this.open(link);
    }
  }

  /** Closes every link; no onLost follows. */
  close(): void {
    this.closed = true;
    for (const link of this.links.values()) this.drop(link);
    this.links.clear();
  }

  private open(link: Link): void {
    link.timer = null;
    if (this.closed || this.links.get(link.address) !== link) return;
    const target = parseSocketAddress(link.address)!;
    const socket = connect({ host: target.host, port: target.port, noDelay: true });
    link.socket = socket;
    link.openedAtMs = this.nowMs();
    this.opened++;
    let settled = false;
    const lost = (): void => {
      if (settled) return;
      settled = true;
      socket.destroy();
      if (this.closed || link.socket !== socket) return;
      link.socket = null;
      this.lost++;
      const livedMs = this.nowMs() - link.openedAtMs;
      this.onLost(link.address);
      // onLost may have changed the targets (the member was declared dead at once).
      if (this.closed || this.links.get(link.address) !== link) return;
      if (livedMs >= kLinkShortLivedMs) {
        link.retryMs = kRetryMsMin;
        this.open(link);
      } else {
        link.timer = setTimeout(() => this.open(link), link.retryMs);
        link.retryMs = Math.min(kRetryMsMax, link.retryMs * 2);
      }
    };
    // The peer never writes on a watch link; whatever comes is ignored.
    socket.on('data', () => undefined);
    socket.on('end', lost);
    socket.on('error', lost);
    socket.on('close', lost);
  }

  private drop(link: Link): void {
    if (link.timer !== null) clearTimeout(link.timer);
    link.timer = null;
    const socket = link.socket;
    link.socket = null;
    socket?.destroy();
  }
}
