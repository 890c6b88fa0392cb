import { HeldLinks, kHeldLinkRetryMsMin, type HeldLink } from '../transport/held-links.js';

/** A link that lived at least this long (the peer's idle timeout closing it) reconnects at once. */
const kLinkShortLivedMs = 1000;

/**
 * The agent's side of the watch ring held by links (watcher.ts, `watchLinks`): one TCP
 * connection to each ring successor's listener (the stream transport's port, the same
 * number as its UDP port), on which nothing is ever sent. A process that dies has its
 * kernel close the connection at once, and `onLost(address)` runs (the driver sends the
 * member one beat, whose ICMP unreachable is the evidence); so a kill costs no idle
 * traffic to notice. A link closed for another reason (the peer's idle timeout, a
 * restart) also calls onLost (one harmless beat) and is opened again: at once if it had
 * lived a while, else after a backoff (100 ms doubling to 5 s, held-links.ts), which
 * also bounds the connects and beats a refusing address costs.
 */
export class WatchLinks {
  private readonly links: HeldLinks<HeldLink>;
  private targets: readonly string[] = [];
  private readonly onLost: (address: string) => void;
  private readonly nowMs: () => number;
  /** Links opened, and lost (closed by the peer's side or refused), for stats and tests. */
  opened = 0;
  lost = 0;

  constructor(onLost: (address: string) => void, nowMs: () => number) {
    this.onLost = onLost;
    this.nowMs = nowMs;
    this.links = new HeldLinks<HeldLink>(
      {
        opening: (link) => {
          link.openedAtMs = this.nowMs();
          this.opened++;
        },
        ended: (link) => this.linkLost(link),
      },
      { endOn: 'first' },
    );
  }

  /** The addresses currently linked (or being linked). */
  get addresses(): readonly string[] {
    return this.targets;
  }

  /** Holds links to exactly `targets` (the engine's watchTargets(); compared by identity first). */
  update(targets: readonly string[]): void {
    if (this.links.closed || targets === this.targets) return;
    this.targets = targets;
    this.links.hold(new Map(targets.map((address) => [address, address])), (key, address) => ({ key, address, socket: null, openedAtMs: 0, retryMs: kHeldLinkRetryMsMin, timer: null }));
  }

  /** Closes every link; no onLost follows. */
  close(): void {
    this.links.close();
  }

  private linkLost(link: HeldLink): void {
    this.lost++;
    const livedMs = this.nowMs() - link.openedAtMs;
    this.onLost(link.address);
    // onLost may have changed the targets (the member was declared dead at once).
    if (!this.links.holds(link)) return;
    if (livedMs >= kLinkShortLivedMs) {
      link.retryMs = kHeldLinkRetryMsMin;
      this.links.open(link);
    } else {
      this.links.backoff(link);
    }
  }
}
