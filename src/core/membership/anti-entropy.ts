import * as L from '../table/layout.js';
import * as F from '../wire/format.js';
import { pushPullIntervalFor } from './config.js';
import type { EngineContext } from './engine-context.js';
import { encodeStateFrame, encodeSummaryFrame, forEachEntry } from './state-frame.js';
import { bucketOf, mismatchedBuckets, summarize, summaryBucketsFor } from './summary.js';

/**
 * Anti-entropy, the push-pull half of the membership engine: a join sends the whole
 * state to the seeds over a stream and merges the state they answer with; every (log N
 * scaled) push-pull interval a random member gets a summary of bucket hashes, and only
 * the buckets that differ are exchanged; dead members and seeds are re-contacted so the
 * halves of a healed partition find each other. Every merge of entries (a state frame,
 * or the heartbeat digests riding on datagrams) runs the kernel and hands each changed
 * row to MemberState; news learned this way is passed on once.
 */
export class AntiEntropy {
  nextPushPullAtMs = 0;
  private readonly ctx: EngineContext;
  private seeds: readonly string[];
  private readonly seedRows = new Map<string, number>();
  /** Rows learned from a merge, announced once their metadata is in. */
  private readonly toAnnounce: number[] = [];
  private nextReconnectAtMs = 0;

  constructor(ctx: EngineContext, seeds: readonly string[]) {
    this.ctx = ctx;
    this.seeds = seeds;
  }

  /** Joins through the seeds when alone, and starts the reconnect timer (at start()). */
  start(): void {
    const ctx = this.ctx;
    const live = ctx.state.liveMembers;
    // A table that already holds live members (adoptTable) needs no join.
    if (live <= 1) this.joinSeeds();
    this.nextReconnectAtMs = ctx.now + (live <= 1 ? Math.min(1000, ctx.config.reconnectIntervalMs) : ctx.config.reconnectIntervalMs);
  }

  /**
   * Takes a new seed list while running (the agent's discovery found a changed seed file
   * or SRV set). The list replaces the old one, since discovery reports the whole set.
   * A node alone (every other member dead or never met, as after a partition that outlived
   * the suspicion timeout) joins through every new seed at once, exactly as at start: it
   * has nothing to lose and no other way back. A node with live members sends nothing now:
   * the reconnect timer already re-contacts one seed it does not hold alive per
   * reconnectIntervalMs, which heals a split through a new seed without a burst of full
   * states from every healthy member each time a file is rewritten. Returns the join
   * frames sent now.
   */
  replaceSeeds(seeds: readonly string[], started: boolean): number {
    const ctx = this.ctx;
    this.seeds = seeds;
    this.seedRows.clear();
    if (!started || ctx.leaving || ctx.state.liveMembers > 1 || seeds.length === 0) return 0;
    this.joinSeeds();
    // Refused streams bring the retry forward (streamFailed); otherwise retry at the alone pace.
    this.nextReconnectAtMs = Math.min(this.nextReconnectAtMs, ctx.now + Math.min(1000, ctx.config.reconnectIntervalMs));
    return seeds.length;
  }

  /** Runs the push-pull and reconnect timers. */
  tick(now: number): void {
    const config = this.ctx.config;
    if (config.pushPullIntervalMs > 0 && now >= this.nextPushPullAtMs) {
      this.nextPushPullAtMs = now + this.pushPullInterval();
      this.pushPullRandom();
    }
    if (config.reconnectIntervalMs > 0 && now >= this.nextReconnectAtMs) {
      this.nextReconnectAtMs = now + (this.ctx.state.liveMembers <= 1 ? Math.min(1000, config.reconnectIntervalMs) : config.reconnectIntervalMs);
      this.reconnect();
    }
  }

  /** The next periodic push-pull or reconnect, Infinity when both are off. */
  nextDeadlineMs(): number {
    const config = this.ctx.config;
    // Compared, not Math.min over two conditionals: that form boxed both doubles on every
    // call (32 bytes per received batch through NodeDriver's re-arm, bench:path's count).
    let next = Infinity;
    if (config.pushPullIntervalMs > 0 && this.nextPushPullAtMs < next) next = this.nextPushPullAtMs;
    if (config.reconnectIntervalMs > 0 && this.nextReconnectAtMs < next) next = this.nextReconnectAtMs;
    return next;
  }

  /** Handles one push-pull frame (state, digest or summary) already copied to scratch.frame. */
  receiveFrame(from: string, bytes: Uint8Array, type: number): void {
    const ctx = this.ctx;
    if (type === F.kTypePushPullSummary) {
      this.receiveSummary(from, bytes.length);
      return;
    }
    const result = this.mergeEntries(ctx.scratch.frame, bytes.length, F.kFrameBytesMax, bytes);
    ctx.stats.wire.record(result);
    if (result < 0) return;
    if (type === F.kTypePushPullState) ctx.state.takeMeta(bytes);
    this.announceLearned();
    const flags = bytes[4]!;
    // A full state (a join) is answered with a full state; partial ones close an exchange.
    if ((flags & (F.kPushPullFlagReply | F.kPushPullFlagPartial)) === 0 && !ctx.leaving) this.sendState(from, F.kPushPullFlagReply);
  }

  /** A stream to `to` failed: alone and the seed refused, try again soon rather than after a whole reconnect interval. */
  streamFailed(to: string): void {
    const ctx = this.ctx;
    if (ctx.state.liveMembers <= 1 && this.seeds.includes(to)) this.nextReconnectAtMs = Math.min(this.nextReconnectAtMs, ctx.env.nowMs() + Math.min(1000, ctx.config.reconnectIntervalMs));
  }

  /**
   * Push-pull by summary: compare bucket hashes and send the entries of the buckets
   * that differ. The responder sends its differing buckets, then its own summary with
   * the reply flag; the initiator, having merged them, sends back what it still has
   * that differs. Two summaries of a few KiB when views agree.
   */
  private receiveSummary(from: string, length: number): void {
    const ctx = this.ctx;
    const table = ctx.table;
    const tape = ctx.scratch.frameTape;
    const count = ctx.runtime.kernels.decode(ctx.scratch.frame, length, F.kFrameBytesMax, tape.pointer);
    ctx.stats.wire.record(count);
    if (count !== 1 || ctx.leaving) return;
    const { u8, dv } = ctx.runtime.views;
    const m = tape.message(0);
    const flags = u8[m + F.kMsgFlags]!;
    const bucketCount = dv.getUint32(m + F.kMsgSeq, true);
    const at = tape.payloadArea + dv.getUint32(m + F.kMsgPayloadOffset, true);
    const theirs = new Uint32Array(bucketCount);
    for (let i = 0; i < bucketCount; i++) theirs[i] = dv.getUint32(at + 4 * i, true);
    const mine = summarize(table, bucketCount);
    const differ = mismatchedBuckets(mine, theirs);
    if (differ.some((d) => d === 1)) {
      this.sendState(from, F.kPushPullFlagPartial | F.kPushPullFlagReply, (row) => differ[bucketOf(table.idHigh[row]!, table.idLow[row]!, bucketCount)] === 1);
    }
    if ((flags & F.kPushPullFlagReply) === 0) this.sendSummary(from, F.kPushPullFlagReply, bucketCount);
  }

  private sendSummary(address: string, flags: number, bucketCount: number): void {
    const ctx = this.ctx;
    const frame = encodeSummaryFrame(summarize(ctx.table, bucketCount), flags, ctx.runtime.datagramChecksums);
    ctx.stats.framesSent++;
    ctx.stats.frameBytesSent += frame.length;
    ctx.env.sendFrame(address, frame);
  }

  /**
   * Runs the merge kernel over a packet or frame and acts on every changed row.
   * `fromHeartbeats` is set for a datagram's entries: each is its sender's own heartbeat,
   * and a higher incarnation there is not re-announced, because the member announces
   * its new incarnation itself with its metadata, and our copy, sent with the metadata
   * we still hold, would overwrite the new one wherever it arrived later. The watch
   * beats (heartbeat alone, news left off) made that race the rule rather than the
   * exception.
   */
  mergeEntries(pointer: number, length: number, limit: number, bytes: Uint8Array, fromHeartbeats = false): number {
    const ctx = this.ctx;
    const kernels = ctx.runtime.kernels;
    const out = ctx.parts.out;
    const result = kernels.mergeDigest(ctx.table.base, pointer, length, limit, ctx.now >>> 0, out, ctx.parts.outCapacity);
    if (result < 0) return result;
    const i32 = ctx.runtime.views.i32;
    const o = out >>> 2;
    const n = i32[o + L.kOutCountField]!;
    for (let i = 0; i < n; i++) {
      const row = i32[o + L.kOutHeaderWords + 2 * i]!;
      const flags = i32[o + L.kOutHeaderWords + 2 * i + 1]!;
      if (row === ctx.selfRow) {
        if ((flags & L.kChangeStatus) !== 0 && !ctx.leaving) ctx.state.refute(this.claimedSelfIncarnation(bytes));
        continue;
      }
      // Its heartbeat, phi statistics, status or flags changed: the sweep re-times it.
      ctx.state.noteChanged(row);
      // A newer heartbeat of a member we hold SUSPECT, at the suspected incarnation, in a
      // datagram it sent: it runs and has not refuted, so the accusation never reached it
      // (it spread while a partition cut it off). Tell it now.
      if (fromHeartbeats && (flags & L.kChangeHeartbeat) !== 0 && ctx.table.status[row] === F.kStatusSuspect && !ctx.leaving) ctx.state.tellSuspect(row);
      if ((flags & (L.kChangeStatus | L.kChangeInserted | L.kChangeIncarnation | L.kChangeAddress)) === 0) continue;
      ctx.state.settle(row, false);
      // News to this node is passed on once (as memberlist does on a merge), so joins
      // spread epidemically instead of waiting for the next push-pull.
      const announce = fromHeartbeats ? L.kChangeInserted : L.kChangeInserted | L.kChangeIncarnation;
      if ((flags & announce) !== 0 && ctx.table.status[row] === F.kStatusAlive) this.toAnnounce.push(row);
    }
    return result;
  }

  announceLearned(): void {
    for (const row of this.toAnnounce) if (this.ctx.table.status[row] === F.kStatusAlive) this.ctx.dissemination.queueAnnouncement(row);
    this.toAnnounce.length = 0;
  }

  /** The highest incarnation the packet claims for this node (a cold path: only when accused). */
  private claimedSelfIncarnation(bytes: Uint8Array): number {
    let claimed = 0;
    forEachEntry(bytes, (high, low, incarnation) => {
      if (this.ctx.isSelf(high, low) && incarnation > claimed) claimed = incarnation;
    });
    return claimed;
  }

  private pushPullRandom(): void {
    const ctx = this.ctx;
    const [row] = ctx.randomMembers(1, (r) => ctx.table.status[r] === F.kStatusAlive);
    if (row !== undefined) this.sendSummary(ctx.addressOf(row), 0, summaryBucketsFor(ctx.state.liveMembers));
  }

  private joinSeeds(): void {
    for (const seed of this.seeds) this.sendState(seed, F.kPushPullFlagJoin);
  }

  /** Re-contacts a dead member or a seed so the halves of a healed partition find each other. */
  private reconnect(): void {
    const ctx = this.ctx;
    if (ctx.leaving) return;
    if (ctx.state.liveMembers <= 1 && this.seeds.length > 0) {
      this.joinSeeds();
      return;
    }
    const [dead] = ctx.randomMembers(1, (r) => ctx.table.status[r] === F.kStatusDead);
    if (dead !== undefined) this.sendState(ctx.addressOf(dead), 0);
    if (this.seeds.length > 0) {
      const seed = this.seeds[ctx.env.random.nextInt(this.seeds.length)]!;
      if (!this.seedAlive(seed)) this.sendState(seed, F.kPushPullFlagJoin);
    }
  }

  private sendState(address: string, flags: number, include?: (row: number) => boolean): void {
    const ctx = this.ctx;
    const frame = encodeStateFrame(ctx.table, (row) => ctx.state.meta.get(row), flags, ctx.runtime.datagramChecksums, include);
    ctx.stats.framesSent++;
    ctx.stats.frameBytesSent += frame.length;
    ctx.env.sendFrame(address, frame);
  }

  pushPullInterval(): number {
    return pushPullIntervalFor(this.ctx.config, this.ctx.state.liveMembers);
  }

  /** Whether a seed address belongs to a member known alive (row found once, then cached). */
  private seedAlive(seed: string): boolean {
    const ctx = this.ctx;
    let row = this.seedRows.get(seed);
    if (row === undefined || ctx.table.status[row] === F.kStatusEmpty || ctx.addressOf(row) !== seed) {
      // Rare (the cached row went away): a scan, so that only ICMP evidence builds the index.
      row = ctx.addressIndex.scan(seed, ctx.selfRow);
      this.seedRows.set(seed, row);
    }
    return row >= 0 && ctx.table.status[row] === F.kStatusAlive;
  }
}
