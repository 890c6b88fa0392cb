import { assembledBytes, assembleParts } from '../wire/compound.js';
import * as F from '../wire/format.js';
import { BroadcastQueue } from './broadcast-queue.js';
import { retransmitLimit } from './config.js';
import type { EngineContext } from './engine-context.js';

const kUserHeaderBytes = 12; // origin id (8) + sequence (4)
const kUserSeenMax = 4096;
const kEmpty = new Uint8Array(0);

/**
 * Dissemination, SWIM's infection-style half of the membership engine: news (ALIVE,
 * SUSPECT, DEAD, LEAVE and user broadcasts) waits in a transmit-limited queue and rides
 * on every datagram this node sends, pings and acks included; gossip rounds carry it to
 * a random fanout (alive, suspect and recently dead members), and a death or a
 * refutation triggers a round at once. Every datagram also carries this node's own
 * heartbeat entry, which the receiving kernel merges and feeds to phi accrual. User
 * broadcasts are deduplicated by origin and sequence and relayed once.
 */
export class Dissemination {
  nextGossipAtMs = 0;
  private readonly ctx: EngineContext;
  private readonly broadcasts: BroadcastQueue;
  private selfPart: Uint8Array | null = null;
  /** The last beat datagram, assembled from selfPart: the same bytes until the heartbeat entry changes. */
  private beat: Uint8Array | null = null;
  private userMessages: Uint8Array[] = [];
  private readonly userSeen = new Set<string>();
  private readonly userSeenOrder: string[] = [];
  private userSequence = 0;

  constructor(ctx: EngineContext) {
    this.ctx = ctx;
    this.broadcasts = new BroadcastQueue(ctx.config.broadcastQueueLengthMax);
  }

  /** Runs a gossip round when one is due. */
  tick(now: number): void {
    if (now >= this.nextGossipAtMs) {
      this.nextGossipAtMs = now + this.ctx.config.gossipIntervalMs;
      this.gossip();
    }
  }

  /**
   * The next gossip round, or Infinity while nothing is queued: an idle node need not
   * wake for rounds that would send nothing. News queued later makes the round due at
   * once (its time has passed), which is when it would have gone anyway, or sooner.
   */
  nextDeadlineMs(): number {
    // Not `cond ? Infinity : field`: V8 boxed the double of that form on every call
    // (16 bytes per received batch through NodeDriver's re-arm, bench:path's count).
    let next = Infinity;
    if (this.broadcasts.length !== 0) next = this.nextGossipAtMs;
    return next;
  }

  /** User broadcasts waiting for drainUserMessages(). */
  get pendingUserMessages(): number {
    return this.userMessages.length;
  }

  /** Queues news about a member, replacing older news about it. */
  queueMembership(key: string, part: Uint8Array): void {
    this.broadcasts.queueMembership(key, part);
  }

  /** Drops queued news about a member (it was reaped). */
  forget(key: string): void {
    this.broadcasts.forget(key);
  }

  /** This node's heartbeat entry changed (a probe round, a new incarnation, a leave): encode it anew. */
  heartbeatChanged(): void {
    this.selfPart = null;
    this.beat = null;
  }

  queueAnnouncement(row: number): void {
    const ctx = this.ctx;
    this.broadcasts.queueMembership(ctx.key(row), ctx.parts.announcement(F.kTypeAlive, ctx.table.incarnation[row]!, ctx.table, row, ctx.state.meta.get(row) ?? kEmpty));
  }

  /**
   * Sends primary parts plus this node's heartbeat entry and as much queued news as fits.
   * Allocates nothing: the parts are gathered in one reused list (scratch.partList) and the
   * datagram handed over as a cached view of the send packet.
   */
  sendTo(address: string, primary: readonly Uint8Array[]): void {
    const ctx = this.ctx;
    if (address === '-' || address === ctx.selfAddress) return;
    // More parts than a compound holds never assemble (as assembleParts would refuse them).
    if (primary.length + (ctx.leaving ? 0 : 1) > F.kCompoundPartsMax) return;
    const parts = ctx.scratch.partList;
    let count = 0;
    for (let i = 0; i < primary.length; i++) parts[count++] = primary[i]!;
    if (!ctx.leaving) parts[count++] = this.heartbeatPart();
    const room = ctx.config.datagramBytesMax - assembledBytes(parts, count) - 2;
    // Never the same part twice in a row to one member (BroadcastQueue.take), unless it is
    // the only other member: then every part would wait for a member that never comes.
    const limit = retransmitLimit(ctx.config, ctx.state.liveMembers);
    count = this.broadcasts.takeInto(parts, count, room, F.kCompoundPartsMax - count, limit, ctx.config.userBroadcastReserveBytes, ctx.state.liveMembers > 2 ? address : '');
    const length = assembleParts(ctx.runtime, ctx.scratch.sendPacket, parts, ctx.config.datagramBytesMax, count);
    parts.fill(kEmpty, 0, count);
    if (length < 0) return;
    ctx.stats.datagramsSent++;
    ctx.stats.bytesSent += length;
    ctx.env.sendDatagram(address, ctx.scratch.sendView(length));
  }

  /**
   * A watch beat (Watcher): this node's heartbeat entry alone, no news and no reply
   * asked. News stays off the beats on purpose: they go to the same few ring successors
   * fifty times a second and would spend every broadcast's retransmit budget there.
   * A beat's bytes depend on the heartbeat entry alone, so they are assembled once per
   * heartbeat change (heartbeatChanged) and the same bytes are sent until then: the
   * receiver must not keep them past the call, as with any datagram handed over.
   */
  sendBeat(address: string): void {
    const ctx = this.ctx;
    if (address === '-' || address === ctx.selfAddress || ctx.leaving) return;
    let beat = this.beat;
    if (beat === null) {
      const parts = ctx.scratch.partList;
      parts[0] = this.heartbeatPart();
      const length = assembleParts(ctx.runtime, ctx.scratch.sendPacket, parts, ctx.config.datagramBytesMax, 1);
      parts[0] = kEmpty;
      if (length < 0) return;
      beat = this.beat = ctx.scratch.sendView(length).slice();
    }
    ctx.stats.datagramsSent++;
    ctx.stats.bytesSent += beat.length;
    ctx.env.sendDatagram(address, beat);
  }

  /**
   * A direct answer (MemberState.tellSuspect, answerStale): the parts and this node's
   * heartbeat entry, no queued news. Answers come in bursts to one member (one per
   * stale accusation in its datagram); carrying news they would spend a broadcast's
   * retransmit budget on that one member, and the epidemic would miss others.
   */
  sendDirect(address: string, parts: Uint8Array[]): void {
    this.sendOnly(address, parts);
  }

  /**
   * Sends a death this node declared directly to every live member when the farm has at
   * most deathRelayDirectMax of them, so nobody waits for the epidemic to reach it;
   * above that (or with the relay off) an immediate gossip round carries it, and every
   * member that learns it gossips at once in turn.
   */
  relayDeath(part: Uint8Array, deadRow: number): void {
    const ctx = this.ctx;
    const table = ctx.table;
    if (ctx.state.liveMembers - 1 <= ctx.config.deathRelayDirectMax && ctx.config.deathRelayDirectMax > 0) {
      for (let row = 0; row < table.rowCount; row++) {
        if (row === ctx.selfRow || row === deadRow) continue;
        const status = table.status[row];
        if (status !== F.kStatusAlive && status !== F.kStatusSuspect) continue;
        ctx.stats.deathRelays++;
        this.sendOnly(ctx.addressOf(row), [part]);
      }
    }
    this.gossip(true);
  }

  /** Primary parts plus this node's heartbeat entry, without queued news. */
  private sendOnly(address: string, primary: Uint8Array[]): void {
    const ctx = this.ctx;
    if (address === '-' || address === ctx.selfAddress || ctx.leaving) return;
    primary.push(this.heartbeatPart());
    const length = assembleParts(ctx.runtime, ctx.scratch.sendPacket, primary, ctx.config.datagramBytesMax);
    primary.pop();
    if (length < 0) return;
    ctx.stats.datagramsSent++;
    ctx.stats.bytesSent += length;
    ctx.env.sendDatagram(address, ctx.scratch.sendView(length));
  }

  /** This node's own entry as a one-entry digest: the gossip heartbeat every datagram carries. */
  private heartbeatPart(): Uint8Array {
    if (this.selfPart === null) {
      const ctx = this.ctx;
      ctx.runtime.views.i32[ctx.scratch.rowList >>> 2] = ctx.selfRow;
      this.selfPart = ctx.parts.digest(ctx.table, ctx.scratch.rowList, 1, F.kPushPullFlagGossip);
    }
    return this.selfPart;
  }

  /** A gossip round: queued news to a random fanout (alive, suspect and recently dead). */
  gossip(urgent = false): void {
    if (this.broadcasts.length === 0) return;
    const ctx = this.ctx;
    const table = ctx.table;
    const deadWindow = ctx.config.gossipToTheDeadMs;
    const targets = ctx.randomMembers(ctx.config.gossipNodes, (row) => {
      const status = table.status[row];
      if (status === F.kStatusAlive || status === F.kStatusSuspect) return true;
      return status === F.kStatusDead && ((ctx.now - table.stateChangeMs[row]!) >>> 0) < deadWindow;
    });
    for (const row of targets) {
      if (this.broadcasts.length === 0) break;
      this.sendTo(ctx.addressOf(row), []);
    }
    if (urgent) this.nextGossipAtMs = ctx.now + ctx.config.gossipIntervalMs;
  }

  /** Broadcasts a payload to every member (epidemic, deduplicated, bounded size). */
  broadcastUser(payload: Uint8Array): void {
    const ctx = this.ctx;
    if (payload.length > ctx.config.userPayloadBytesMax) throw new RangeError(`user broadcast of ${payload.length} bytes exceeds userPayloadBytesMax ${ctx.config.userPayloadBytesMax}`);
    const framed = new Uint8Array(kUserHeaderBytes + payload.length);
    const dv = new DataView(framed.buffer);
    dv.setUint32(0, ctx.selfId.high, true);
    dv.setUint32(4, ctx.selfId.low, true);
    dv.setUint32(8, this.userSequence++, true);
    framed.set(payload, kUserHeaderBytes);
    this.rememberUser(framed);
    this.broadcasts.queueUser(ctx.parts.user(framed));
  }

  /** A USER message (tape record at `m`): delivered once, relayed once. */
  receiveUser(m: number): void {
    const ctx = this.ctx;
    const { u8, dv } = ctx.runtime.views;
    const offset = dv.getUint32(m + F.kMsgPayloadOffset, true);
    const length = dv.getUint32(m + F.kMsgPayloadLength, true);
    if (length < kUserHeaderBytes) return;
    const at = ctx.scratch.receiveTape.payloadArea + offset;
    const framed = u8.slice(at, at + length);
    if (!this.rememberUser(framed)) return;
    this.userMessages.push(framed.subarray(kUserHeaderBytes));
    ctx.stats.userDelivered++;
    // Relay once, so a broadcast reaches the whole farm epidemically (not only the fanout of its origin).
    this.broadcasts.queueUser(ctx.parts.user(framed));
  }

  /** Remembers a user broadcast by origin and sequence; returns false when already seen. */
  private rememberUser(framed: Uint8Array): boolean {
    const dv = new DataView(framed.buffer, framed.byteOffset);
    const key = `${dv.getUint32(0, true)}:${dv.getUint32(4, true)}:${dv.getUint32(8, true)}`;
    if (this.userSeen.has(key)) return false;
    this.userSeen.add(key);
    this.userSeenOrder.push(key);
    if (this.userSeenOrder.length > kUserSeenMax) this.userSeen.delete(this.userSeenOrder.shift()!);
    return true;
  }

  /** User broadcasts received since the last call (each once), oldest first. */
  drainUserMessages(): Uint8Array[] {
    const out = this.userMessages;
    this.userMessages = [];
    return out;
  }
}
