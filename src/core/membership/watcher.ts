import * as F from '../wire/format.js';
import type { EngineContext } from './engine-context.js';

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
 */
export class Watcher {
  /** The ring successors' rows, refreshed every kRingRefreshBeats beats or when one leaves the live set. */
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
  private readonly ctx: EngineContext;

  constructor(ctx: EngineContext, enabled: boolean) {
    this.ctx = ctx;
    this.enabled = enabled && ctx.config.watchIntervalMs > 0 && ctx.config.watchSuccessors > 0;
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

  /** The next beat, or Infinity when the watch is off. */
  nextDeadlineMs(): number {
    return this.enabled && !this.ctx.leaving ? this.nextBeatAtMs : Infinity;
  }

  /** Sends the beats when one is due. */
  tick(now: number): void {
    if (!this.enabled || now < this.nextBeatAtMs || this.ctx.leaving) return;
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
    for (let i = 0; i < count; i++) this.successorAddresses[i] = ctx.addressOf(this.successors[i]!);
  }
}
