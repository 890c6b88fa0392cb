import * as F from '../wire/format.js';
import type { EngineContext } from './engine-context.js';

/**
 * How often, in watch beats, the ring successors are recomputed even when none of
 * them changed state: a new member with an id between this node and its successors is
 * taken into the ring within this many beats (one second at the LAN defaults). The scan
 * is O(N), so it must not run on every beat.
 */
const kRingRefreshBeats = 50;
const kNoTargets: readonly string[] = Object.freeze([]);

/**
 * The watch ring, the part of the membership engine that makes a kill known within
 * milliseconds instead of at the victim's next probe. Every node sends a cheap,
 * frequent heartbeat-only datagram (its own one-entry digest: no news, no reply asked)
 * to its `watchSuccessors` ring successors, the live members next after it in node-id
 * order, wrapping. A killed process leaves its host's kernel up, and the kernel answers
 * the next beat with an ICMP port unreachable: the transport reports it
 * (MembershipEngine.unreachable), the prober suspects the member and confirms with an
 * urgent ping, whose second unreachable declares the death; MemberState then relays
 * the death directly to every member. So the first survivor learns within one beat
 * interval plus two round trips, whatever the farm size and the probe interval.
 *
 * The ring is recomputed (one O(N) scan) at the first beat after the number of live
 * members changed, when a successor left the live set, and every kRingRefreshBeats
 * beats in any case, so a newcomer is watched from its first beat interval on.
 *
 * The ring is by id, not random, so every live member is watched by exactly
 * `watchSuccessors` predecessors (when the farm has more members than that) and the
 * traffic is constant per node: watchSuccessors datagrams per watchIntervalMs. A host
 * that vanishes with its kernel (power loss) answers nothing; SWIM's probes find it as
 * before, and the beats change nothing there: they never raise a suspicion by silence.
 *
 * Held links instead of beats (`links`, the agent on the native transport): the driver
 * keeps one TCP connection open to each ring successor (watchTargets()) and sends
 * nothing on it. When a successor's process dies its kernel closes the connection at
 * once (FIN or RST), and the driver calls linkLost(): one beat goes to that member
 * right then, whose ICMP unreachable starts the same confirmation as above. So a kill
 * is noticed within a round trip with no idle traffic at all; a connection closed for
 * any other reason (the peer's idle timeout) costs one beat the live peer simply
 * merges, never a suspicion. In this mode no beat is sent on a timer, and the ring is
 * recomputed when the driver asks for the targets (on the same triggers, and at least
 * every kRingRefreshBeats * watchIntervalMs).
 */
export class Watcher {
  /** The ring successors' rows, refreshed every kRingRefreshBeats beats or when one leaves the live set. */
  private readonly successors: Int32Array;
  private successorCount = 0;
  /** Ring distance of each successor from self, as unsigned 32-bit (high, low) words, kept sorted. */
  private readonly distHigh: Float64Array;
  private readonly distLow: Float64Array;
  private nextBeatAtMs = 0;
  private beatsSinceRefresh = kRingRefreshBeats;
  /** Live members when the ring was last computed: a join or a death changes it, and the ring is recomputed at the next beat. */
  private liveAtRefresh = -1;
  private readonly enabled: boolean;
  /** Whether the driver holds links to the successors instead of beating to them. */
  readonly links: boolean;
  /** Next time watchTargets() recomputes the ring even when nothing changed (links mode). */
  private nextRefreshAtMs = -Infinity;
  /** The successors' addresses as last handed out by watchTargets() (links mode). */
  private targets: readonly string[] = [];
  private readonly ctx: EngineContext;

  constructor(ctx: EngineContext, enabled: boolean, links = false) {
    this.ctx = ctx;
    this.enabled = enabled && ctx.config.watchIntervalMs > 0 && ctx.config.watchSuccessors > 0;
    this.links = this.enabled && links;
    this.successors = new Int32Array(ctx.config.watchSuccessors);
    this.distHigh = new Float64Array(ctx.config.watchSuccessors);
    this.distLow = new Float64Array(ctx.config.watchSuccessors);
  }

  get active(): boolean {
    return this.enabled;
  }

  /** The current ring successors (rows), for tests and diagnostics. */
  successorRows(): number[] {
    return Array.from(this.successors.subarray(0, this.successorCount));
  }

  /** The next beat, or Infinity when the watch is off or held by links (nothing is sent on a timer then). */
  nextDeadlineMs(): number {
    return this.enabled && !this.links && !this.ctx.leaving ? this.nextBeatAtMs : Infinity;
  }

  /**
   * Links mode: the addresses of the ring successors the driver should hold a link to,
   * recomputed when the live count changed, a successor left the live set, or
   * kRingRefreshBeats * watchIntervalMs passed. The same array is returned while the
   * successors are unchanged, so a driver compares by identity. Empty when leaving or off.
   */
  watchTargets(now: number): readonly string[] {
    if (!this.links || this.ctx.leaving) return kNoTargets;
    if (now >= this.nextRefreshAtMs || this.ctx.state.liveMembers !== this.liveAtRefresh || !this.successorsLive()) {
      this.nextRefreshAtMs = now + kRingRefreshBeats * this.ctx.config.watchIntervalMs;
      this.refresh();
      const next: string[] = [];
      for (let i = 0; i < this.successorCount; i++) next.push(this.ctx.addressOf(this.successors[i]!));
      if (next.length !== this.targets.length || next.some((a, i) => a !== this.targets[i])) this.targets = next;
    }
    return this.targets;
  }

  /**
   * Links mode: the link to `address` closed (its process may be gone). One beat goes
   * there now: a dead process's kernel answers it with an ICMP unreachable, which the
   * transport reports (unreachable()) and the prober confirms; a live one merges it.
   * Returns whether a beat was sent (the address is a current successor).
   */
  linkLost(address: string): boolean {
    if (!this.links || this.ctx.leaving || !this.targets.includes(address)) return false;
    this.ctx.stats.watchBeatsSent++;
    this.ctx.dissemination.sendBeat(address);
    return true;
  }

  /** Sends the beats when one is due. */
  tick(now: number): void {
    if (!this.enabled || this.links || now < this.nextBeatAtMs || this.ctx.leaving) return;
    this.nextBeatAtMs = now + this.ctx.config.watchIntervalMs;
    if (++this.beatsSinceRefresh >= kRingRefreshBeats || this.ctx.state.liveMembers !== this.liveAtRefresh || !this.successorsLive()) this.refresh();
    for (let i = 0; i < this.successorCount; i++) {
      const row = this.successors[i]!;
      this.ctx.stats.watchBeatsSent++;
      this.ctx.dissemination.sendBeat(this.ctx.addressOf(row));
    }
  }

  private successorsLive(): boolean {
    const status = this.ctx.table.status;
    for (let i = 0; i < this.successorCount; i++) {
      const s = status[this.successors[i]!];
      if (s !== F.kStatusAlive && s !== F.kStatusSuspect) return false;
    }
    return true;
  }

  /**
   * Finds the `watchSuccessors` live members whose ids follow this node's, wrapping
   * past the largest id: one O(N) scan keeping the k nearest by ring distance.
   */
  private refresh(): void {
    this.beatsSinceRefresh = 0;
    const ctx = this.ctx;
    this.liveAtRefresh = ctx.state.liveMembers;
    const table = ctx.table;
    const k = this.successors.length;
    const selfHigh = table.idHigh[ctx.selfRow]!;
    const selfLow = table.idLow[ctx.selfRow]!;
    const distHigh = this.distHigh;
    const distLow = this.distLow;
    let count = 0;
    for (let row = 0; row < table.rowCount; row++) {
      if (row === ctx.selfRow) continue;
      const s = table.status[row];
      if (s !== F.kStatusAlive && s !== F.kStatusSuspect) continue;
      // (id - self) mod 2^64, in two words with a borrow.
      let low = table.idLow[row]! - selfLow;
      let high = table.idHigh[row]! - selfHigh;
      if (low < 0) {
        low += 0x1_0000_0000;
        high -= 1;
      }
      if (high < 0) high += 0x1_0000_0000;
      if (count === k && (high > distHigh[k - 1]! || (high === distHigh[k - 1]! && low >= distLow[k - 1]!))) continue;
      let at = count < k ? count++ : k - 1;
      while (at > 0 && (distHigh[at - 1]! > high || (distHigh[at - 1]! === high && distLow[at - 1]! > low))) {
        distHigh[at] = distHigh[at - 1]!;
        distLow[at] = distLow[at - 1]!;
        this.successors[at] = this.successors[at - 1]!;
        at--;
      }
      distHigh[at] = high;
      distLow[at] = low;
      this.successors[at] = row;
    }
    this.successorCount = count;
  }
}
