import * as F from '../wire/format.js';
import type { EngineContext } from './engine-context.js';

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
 * The ring is recomputed (one O(N) scan) at the first beat after a change that can
 * alter it: MemberState.settle, through which every insertion, status, incarnation and
 * address change of a row passes, calls noteChanged(row), which marks the ring stale
 * when the row is a successor (it left the live set or moved) or a live member nearer
 * than the farthest successor (a newcomer, watched from its first beat interval on).
 * Nothing else can change which live members follow this node (rows never move; a
 * row's id changes only through removal, which only tombstones reach), so a quiet farm
 * never rescans: at 10,000 members a periodic rescan (once a second, as this class did
 * before) cost each node 10,000 rows a second and dominated a simulated farm's CPU.
 * The successors' address texts are kept from the scan, for the same reason: a
 * successor's address changes only through settle, which marks the ring stale.
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
 * recomputed when the driver asks for the targets, on the same triggers (noteChanged).
 */
export class Watcher {
  /** The ring successors' rows, recomputed when stale (noteChanged) or when one leaves the live set. */
  private readonly successors: Int32Array;
  private successorCount = 0;
  /** Ring distance of each successor from self, as unsigned 32-bit (high, low) words, kept sorted. */
  private readonly distHigh: Float64Array;
  private readonly distLow: Float64Array;
  /** The successors' address texts, from the last scan. */
  private readonly successorAddresses: string[];
  private nextBeatAtMs = 0;
  /** The ring must be recomputed at the next beat (see noteChanged); set until the first scan. */
  private stale = true;
  private readonly enabled: boolean;
  /** Whether the driver holds links to the successors instead of beating to them. */
  readonly links: boolean;
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
    this.successorAddresses = new Array<string>(ctx.config.watchSuccessors).fill('-');
  }

  /**
   * A row's status, incarnation, address or identity changed (MemberState.settle), or
   * the whole table was taken over (row -1): marks the ring stale when the change can
   * alter it, that is when the row is a successor, or a live member at most as far as
   * the farthest successor (or the ring is not full).
   */
  noteChanged(row: number): void {
    if (this.stale || !this.enabled) return;
    const ctx = this.ctx;
    if (row < 0) {
      this.stale = true;
      return;
    }
    if (row === ctx.selfRow) return;
    for (let i = 0; i < this.successorCount; i++) {
      if (this.successors[i] === row) {
        this.stale = true;
        return;
      }
    }
    const table = ctx.table;
    const s = table.status[row];
    if (s !== F.kStatusAlive && s !== F.kStatusSuspect) return;
    const k = this.successors.length;
    if (this.successorCount < k) {
      this.stale = true;
      return;
    }
    let low = table.idLow[row]! - table.idLow[ctx.selfRow]!;
    let high = table.idHigh[row]! - table.idHigh[ctx.selfRow]!;
    if (low < 0) {
      low += 0x1_0000_0000;
      high -= 1;
    }
    if (high < 0) high += 0x1_0000_0000;
    if (high < this.distHigh[k - 1]! || (high === this.distHigh[k - 1]! && low <= this.distLow[k - 1]!)) this.stale = true;
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
   * recomputed when the ring is stale (noteChanged) or a successor left the live set.
   * The same array is returned while the successors are unchanged, so a driver compares
   * by identity. Empty when leaving or off.
   */
  watchTargets(_now: number): readonly string[] {
    if (!this.links || this.ctx.leaving) return kNoTargets;
    if (this.stale || !this.successorsLive()) {
      this.refresh();
      const next = this.successorAddresses.slice(0, this.successorCount);
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
    if (this.stale || !this.successorsLive()) this.refresh();
    for (let i = 0; i < this.successorCount; i++) {
      this.ctx.stats.watchBeatsSent++;
      this.ctx.dissemination.sendBeat(this.successorAddresses[i]!);
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
    this.stale = false;
    const ctx = this.ctx;
    const table = ctx.table;
    const k = this.successors.length;
    const selfHigh = table.idHigh[ctx.selfRow]!;
    const selfLow = table.idLow[ctx.selfRow]!;
    const distHigh = this.distHigh;
    const distLow = this.distLow;
    let count = 0;
    // The row count read once (an atomic load per row was a fifth of the scan).
    const rows = table.rowCount;
    for (let row = 0; row < rows; row++) {
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
    for (let i = 0; i < count; i++) this.successorAddresses[i] = ctx.addressOf(this.successors[i]!);
  }
}
