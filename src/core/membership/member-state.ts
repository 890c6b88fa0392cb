import * as L from '../table/layout.js';
import * as F from '../wire/format.js';
import { formatNodeId, type WireAddress } from '../wire/message.js';
import type { EngineContext } from './engine-context.js';
import { phiKSquared } from './failure-detector.js';
import type { MembershipEvent, MembershipEventType } from './membership-event.js';
import { forEachEntry } from './state-frame.js';
import { expectedConfirmations, Suspicion, suspicionMinMs, suspicionTimeoutMs } from './suspicion.js';
import { kSweepSamplesMin, SweepSchedule } from './sweep-schedule.js';

const kPhiThreshold = 8;
const kNoMeta = new Uint8Array(0);

/**
 * The member states of the membership engine: SWIM's incarnation rules (an older
 * incarnation is ignored, SUSPECT at an equal one overrides ALIVE, DEAD overrides both,
 * only a higher ALIVE brings a member back), refutation of news about this node,
 * Lifeguard's suspicion timers that shrink with independent confirmations, the
 * tombstones of dead and left members and their reaping, members' metadata, and the
 * membership events the layers above read.
 *
 * The table holds the states (the kernels merge gossip into it directly); this part
 * keeps what the table does not: the status each row had when last seen, so a change
 * made by a kernel merge becomes the right event and timer (settle).
 */
/** What drainEvents returns when nothing happened (frozen: callers only read it). */
const kNoEvents = Object.freeze([]) as unknown as MembershipEvent[];

export class MemberState {
  /** Members known alive or suspect, this node included. */
  liveMembers = 1;
  /** Rows removed from the table (reaped tombstones) or taken over with it (adopt): BeatMemo's guard. */
  removals = 0;
  readonly meta = new Map<number, Uint8Array>();
  private readonly ctx: EngineContext;
  private readonly suspicions = new Map<number, Suspicion>();
  private readonly knownStatus: Uint8Array;
  private events: MembershipEvent[] = [];
  private nextSweepAtMs = 0;
  private nextDeadlineAtMs = Infinity;
  private readonly phiK2 = phiKSquared(kPhiThreshold);
  /** Phi's floor on the variance: (interval / 4)². */
  private readonly varianceMinMs2: number;
  /** The incremental sweep (sweep-schedule.ts); null: the kernel sweeps the whole table every time. */
  readonly sweepSchedule: SweepSchedule | null;

  constructor(ctx: EngineContext, incrementalSweep = true) {
    this.ctx = ctx;
    this.knownStatus = new Uint8Array(ctx.table.capacity);
    this.varianceMinMs2 = (ctx.config.probeIntervalMs / 4) ** 2;
    this.sweepSchedule = incrementalSweep ? new SweepSchedule(ctx.table, ctx.config.probeIntervalMs) : null;
  }

  /** Takes this node's own row as known alive (the engine has just inserted it). */
  markSelfKnown(): void {
    this.knownStatus[this.ctx.selfRow] = F.kStatusAlive;
  }

  /** Takes the rows of a table filled beforehand as known, without events (see MembershipEngine.adoptTable). */
  adopt(): void {
    const { table, selfRow } = this.ctx;
    let live = 0;
    const rows = table.rowCount;
    for (let row = 0; row < rows; row++) {
      const status = table.status[row]!;
      this.knownStatus[row] = status;
      if (status === F.kStatusAlive || status === F.kStatusSuspect) live++;
      if ((status === F.kStatusDead || status === F.kStatusLeft) && row !== selfRow) this.armDeadline(row, this.ctx.now + this.ctx.config.tombstoneReapMs);
    }
    this.liveMembers = live;
    this.ctx.addressIndex.rebuild();
    this.ctx.watcher.noteChanged(-1);
    this.removals++;
  }

  /** Starts the sweep timer (at start()). */
  start(): void {
    this.nextSweepAtMs = this.ctx.now + this.ctx.config.probeIntervalMs;
  }

  /** The earliest time a sweep is due (the periodic one or a suspicion's deadline). */
  nextDeadlineMs(): number {
    return Math.min(this.nextSweepAtMs, this.nextDeadlineAtMs);
  }

  /** Membership events waiting for drainEvents(). */
  get pendingEvents(): number {
    return this.events.length;
  }

  /** Whether the sweep (suspicion deadlines, tombstones, silent heartbeats) is due. */
  sweepDue(now: number): boolean {
    return now >= this.nextSweepAtMs || now >= this.nextDeadlineAtMs;
  }

  /**
   * Brings the engine's own bookkeeping in line with a row the table now holds
   * (changed by a kernel merge or by a message): events, suspicion timers, tombstones.
   */
  settle(row: number, metaChanged: boolean): void {
    this.settleRow(row, metaChanged);
    // Status changes made here (ALIVE, SUSPECT, DEAD messages) and by merges reach settle.
    this.noteChanged(row);
  }

  /**
   * A row's heartbeat, phi statistics, status, flags or deadline may have changed: the
   * incremental sweep re-times it (every change the merge kernel reports, and settle).
   */
  noteChanged(row: number): void {
    this.sweepSchedule?.note(row, this.ctx.now, this.silenceLimitMs(), this.phiK2, this.varianceMinMs2);
  }

  private settleRow(row: number, metaChanged: boolean): void {
    // Every insertion and change of address reaches settle (merges and ALIVE messages).
    this.ctx.addressIndex.refresh(row);
    this.ctx.watcher.noteChanged(row);
    const table = this.ctx.table;
    const status = table.status[row]!;
    const before = this.knownStatus[row]!;
    this.knownStatus[row] = status;
    if (status === before) {
      if (status === F.kStatusAlive && metaChanged) this.emit('update', row);
      if (status === F.kStatusSuspect) this.startSuspicion(row, -1);
      return;
    }
    const wasLive = before === F.kStatusAlive || before === F.kStatusSuspect;
    const isLive = status === F.kStatusAlive || status === F.kStatusSuspect;
    if (isLive && !wasLive) this.liveMembers++;
    if (!isLive && wasLive) this.liveMembers--;
    switch (status) {
      case F.kStatusAlive:
        this.clearSuspicion(row);
        table.disarmDeadline(row);
        this.emit(before === F.kStatusSuspect ? 'alive' : 'join', row);
        if (before !== F.kStatusSuspect) this.ctx.prober.addProbeTarget(row);
        break;
      case F.kStatusSuspect:
        if (!wasLive) {
          this.emit('join', row);
          this.ctx.prober.addProbeTarget(row);
        }
        this.startSuspicion(row, -1);
        this.emit('suspect', row);
        break;
      case F.kStatusDead:
      case F.kStatusLeft:
        this.clearSuspicion(row);
        this.armDeadline(row, this.ctx.now + this.ctx.config.tombstoneReapMs);
        this.emit(status === F.kStatusDead ? 'dead' : 'leave', row);
        break;
    }
  }

  // ---------------------------------------------------------------- state changes

  /** Suspects a member (SWIM): from a failed probe, an ICMP report, or a SUSPECT message. */
  suspect(row: number, incarnation: number, fromRow: number, urgent: boolean): void {
    const ctx = this.ctx;
    const table = ctx.table;
    if (row === ctx.selfRow) {
      if (incarnation >= ctx.incarnation && !ctx.leaving) this.refute(incarnation);
      return;
    }
    const status = table.status[row];
    const current = table.incarnation[row]!;
    if (incarnation < current || status === F.kStatusDead || status === F.kStatusLeft) return;
    if (status === F.kStatusSuspect && incarnation === current) {
      // A confirmation from another member shortens the timer (Lifeguard).
      if (fromRow >= 0 && this.suspicions.get(row)?.confirm(ctx.key(fromRow))) {
        ctx.stats.suspicionConfirmations++;
        this.armSuspicionDeadline(row);
        ctx.dissemination.queueMembership(ctx.key(row), ctx.parts.accusation(F.kTypeSuspect, incarnation, table, row, fromRow));
      }
      return;
    }
    ctx.stats.suspicionsRaised++;
    table.incarnation[row] = incarnation;
    table.status[row] = F.kStatusSuspect;
    table.stateChangeMs[row] = ctx.now >>> 0;
    table.touch();
    this.suspicions.set(row, new Suspicion(ctx.now, incarnation, ctx.key(fromRow < 0 ? ctx.selfRow : fromRow)));
    this.settle(row, false);
    ctx.dissemination.queueMembership(ctx.key(row), ctx.parts.accusation(F.kTypeSuspect, incarnation, table, row, fromRow < 0 ? ctx.selfRow : fromRow));
    if (urgent) ctx.dissemination.gossip(true);
  }

  /**
   * Tells a member it is suspected, directly: called when a datagram it sent shows it
   * running at the suspected incarnation (a newer heartbeat), so it has not heard the
   * accusation. That happens after a healed partition: the suspicion spread on one side
   * while the member was on the other, its broadcasts are spent, and otherwise the member
   * learns only when a suspecting member's round-robin probe happens to reach it (the
   * accusation rides on that ping) or when the suspicion expires into a false death.
   * Once per new heartbeat at most (the merge reports a heartbeat change only when it
   * grew), so a watch beat every 20 ms does not draw an answer every 20 ms.
   */
  tellSuspect(row: number): void {
    const ctx = this.ctx;
    ctx.stats.suspectsTold++;
    ctx.dissemination.sendDirect(ctx.addressOf(row), [ctx.parts.accusation(F.kTypeSuspect, ctx.table.incarnation[row]!, ctx.table, row, ctx.selfRow)]);
  }

  private startSuspicion(row: number, fromRow: number): void {
    if (!this.suspicions.has(row)) this.suspicions.set(row, new Suspicion(this.ctx.now, this.ctx.table.incarnation[row]!, fromRow < 0 ? 'anti-entropy' : this.ctx.key(fromRow)));
    this.armSuspicionDeadline(row);
  }

  private armSuspicionDeadline(row: number): void {
    const suspicion = this.suspicions.get(row);
    if (suspicion === undefined) return;
    const config = this.ctx.config;
    const members = Math.max(this.liveMembers, 1);
    const minMs = suspicionMinMs(config.suspicionMult, members, config.probeIntervalMs);
    const maxMs = minMs * config.suspicionMaxTimeoutMult;
    const timeout = suspicionTimeoutMs(suspicion.confirmations, expectedConfirmations(config.suspicionMult, members), minMs, maxMs);
    const deadline = suspicion.startedMs + timeout;
    this.armDeadline(row, deadline);
    if (deadline < this.nextDeadlineAtMs) this.nextDeadlineAtMs = deadline;
  }

  /** Arms a row's deadline (suspicion expiry or reap time): every deadline is armed here. */
  private armDeadline(row: number, deadlineMs: number): void {
    this.ctx.table.armDeadline(row, deadlineMs);
    this.noteChanged(row);
  }

  private clearSuspicion(row: number): void {
    this.suspicions.delete(row);
  }

  /** Declares a member dead (or left, when it said so itself) and spreads the news at once. */
  declareDead(row: number, incarnation: number, fromRow: number): void {
    const ctx = this.ctx;
    const table = ctx.table;
    if (row === ctx.selfRow) {
      if (!ctx.leaving && incarnation >= ctx.incarnation) this.refute(incarnation);
      return;
    }
    const status = table.status[row];
    if (status === F.kStatusDead || status === F.kStatusLeft || status === F.kStatusEmpty) return;
    if (incarnation < table.incarnation[row]!) return;
    const left = fromRow === row;
    if (!left) ctx.stats.deathsDeclared++;
    table.incarnation[row] = incarnation;
    table.status[row] = left ? F.kStatusLeft : F.kStatusDead;
    table.stateChangeMs[row] = ctx.now >>> 0;
    table.touch();
    this.settle(row, false);
    const part = left ? ctx.parts.leave(incarnation, table, row) : ctx.parts.accusation(F.kTypeDead, incarnation, table, row, fromRow);
    ctx.dissemination.queueMembership(ctx.key(row), part);
    // A death this node found itself goes to everyone at once (directly in a small farm);
    // one learned from another member spreads by the immediate gossip round.
    if (!left && fromRow === ctx.selfRow) ctx.dissemination.relayDeath(part, row);
    else ctx.dissemination.gossip(true);
  }

  /** Refutes a suspicion or death of this node with a higher incarnation, spread at once. */
  refute(claimed: number): void {
    const ctx = this.ctx;
    ctx.stats.refutations++;
    ctx.prober.awareness.apply(1);
    ctx.table.incarnation[ctx.selfRow] = Math.max(ctx.incarnation, claimed) + 1;
    ctx.table.touch();
    ctx.dissemination.heartbeatChanged();
    ctx.dissemination.queueAnnouncement(ctx.selfRow);
    ctx.dissemination.gossip(true);
  }

  /** Changes this node's metadata, announced with a new incarnation. */
  setSelfMeta(meta: Uint8Array): void {
    const ctx = this.ctx;
    this.meta.set(ctx.selfRow, Uint8Array.from(meta));
    ctx.table.incarnation[ctx.selfRow] = ctx.table.incarnation[ctx.selfRow]! + 1;
    ctx.dissemination.heartbeatChanged();
    ctx.dissemination.queueAnnouncement(ctx.selfRow);
  }

  /**
   * The failure detector's sweep: reports alive members whose heartbeat went silent
   * (probed out of turn), suspects whose suspicion expired (declared dead) and
   * tombstones due (reaped). The incremental schedule checks only the rows due now and
   * runs the kernel over the whole table only now and then (sweep-schedule.ts); both
   * report the same rows in the same order.
   */
  sweep(): void {
    const ctx = this.ctx;
    const table = ctx.table;
    this.nextSweepAtMs = ctx.now + ctx.config.probeIntervalMs;
    const out = ctx.parts.out;
    const silenceMax = this.silenceLimitMs();
    const i32 = ctx.runtime.views.i32;
    const schedule = this.sweepSchedule;
    let count: number;
    if (schedule === null || schedule.fullSweepDue(ctx.now, silenceMax)) {
      ctx.stats.fullSweeps++;
      count = ctx.runtime.kernels.sweep(table.base, ctx.now >>> 0, this.phiK2, this.varianceMinMs2, kSweepSamplesMin, silenceMax, out, ctx.parts.outCapacity);
      schedule?.rebuild(ctx.now, silenceMax, this.phiK2, this.varianceMinMs2);
    } else {
      ctx.stats.incrementalSweeps++;
      const checked = schedule.rowsChecked;
      count = schedule.sweep(ctx.now, silenceMax, this.phiK2, this.varianceMinMs2, i32, out, ctx.parts.outCapacity);
      ctx.stats.sweepRowsChecked += schedule.rowsChecked - checked;
    }
    const o = out >>> 2;
    for (let i = 0; i < count; i++) {
      const row = i32[o + L.kOutHeaderWords + 2 * i]!;
      const kind = i32[o + L.kOutHeaderWords + 2 * i + 1]!;
      if (kind === L.kSweepSilent) ctx.prober.prioritize(row);
      else if (kind === L.kSweepSuspicionExpired) {
        if (table.status[row] === F.kStatusSuspect) this.declareDead(row, table.incarnation[row]!, ctx.selfRow);
      } else if (kind === L.kSweepReapable) this.reap(row);
    }
    this.nextDeadlineAtMs = Infinity;
    for (const row of this.suspicions.keys()) {
      ctx.prober.prioritizeSuspect(row);
      const deadline = table.deadlineMs[row]!;
      const due = ctx.now + ((deadline - (ctx.now >>> 0)) | 0);
      if (due < this.nextDeadlineAtMs) this.nextDeadlineAtMs = due;
    }
  }

  /**
   * Heartbeat silence after which a member is probed out of turn. A member's heartbeat
   * reaches this node directly about twice per N probe intervals (its ping to us, its
   * ack to ours), so the limit grows with N; in big farms phi, fed by gossip, and the
   * round-robin do the work.
   */
  private silenceLimitMs(): number {
    return this.ctx.config.probeIntervalMs * Math.max(5, 2 * this.liveMembers);
  }

  private reap(row: number): void {
    const status = this.ctx.table.status[row];
    if (status !== F.kStatusDead && status !== F.kStatusLeft) return;
    this.emit('reap', row);
    this.ctx.dissemination.forget(this.ctx.key(row));
    this.meta.delete(row);
    this.knownStatus[row] = F.kStatusEmpty;
    this.removals++;
    this.ctx.table.remove(row);
    this.ctx.addressIndex.refresh(row);
  }

  // ---------------------------------------------------------------- receiving

  /** A SUSPECT, DEAD or LEAVE message (tape record at `m`) in a datagram from `from`. */
  receiveAccusation(from: string, m: number, type: number): void {
    const ctx = this.ctx;
    const dv = ctx.runtime.views.dv;
    const row = ctx.table.find({ high: dv.getUint32(m + F.kMsgNodeHigh, true), low: dv.getUint32(m + F.kMsgNodeLow, true) });
    if (row < 0) return;
    const incarnation = dv.getUint32(m + F.kMsgIncarnation, true);
    if (type !== F.kTypeLeave && incarnation < ctx.table.incarnation[row]! && ctx.table.status[row] === F.kStatusAlive && !ctx.leaving) {
      this.answerStale(from, row);
      return;
    }
    if (type === F.kTypeLeave) {
      this.declareDead(row, incarnation, row);
      return;
    }
    const fromRow = ctx.table.find({ high: dv.getUint32(m + F.kMsgFromHigh, true), low: dv.getUint32(m + F.kMsgFromLow, true) });
    if (type === F.kTypeSuspect) this.suspect(row, incarnation, fromRow, false);
    else this.declareDead(row, incarnation, fromRow < 0 ? ctx.selfRow : fromRow);
  }

  /**
   * The sender of an accusation older than the member's refutation holds a stale view:
   * it missed the ALIVE (the refutation's broadcasts were spent, or it took the
   * accusation from a member of the far side of a healed partition after they were)
   * and would hold the member SUSPECT until its suspicion expired into a false death.
   * Answer it directly with the ALIVE we hold; the broadcast queues are left alone.
   */
  private answerStale(from: string, row: number): void {
    const ctx = this.ctx;
    ctx.stats.staleAccusationsAnswered++;
    ctx.dissemination.sendDirect(from, [ctx.parts.announcement(F.kTypeAlive, ctx.table.incarnation[row]!, ctx.table, row, this.meta.get(row) ?? kNoMeta)]);
  }

  /** An ALIVE or JOIN message (tape record at `m`). */
  receiveAlive(m: number): void {
    const ctx = this.ctx;
    const table = ctx.table;
    const { u8, dv } = ctx.runtime.views;
    const id = { high: dv.getUint32(m + F.kMsgNodeHigh, true), low: dv.getUint32(m + F.kMsgNodeLow, true) };
    const incarnation = dv.getUint32(m + F.kMsgIncarnation, true);
    if (ctx.isSelf(id.high, id.low)) {
      // Someone holds a newer incarnation of us (a previous life): overtake it.
      if (incarnation > ctx.incarnation && !ctx.leaving) this.refute(incarnation);
      return;
    }
    const family = u8[m + F.kMsgFamilyA]! as 0 | 4 | 6;
    if (family === 0) return;
    const address: WireAddress = { family, bytes: u8.subarray(m + F.kMsgAddressA, m + F.kMsgAddressA + 16), port: dv.getUint16(m + F.kMsgPortA, true) };
    const offset = dv.getUint32(m + F.kMsgPayloadOffset, true);
    const length = dv.getUint32(m + F.kMsgPayloadLength, true);
    const metaAt = ctx.scratch.receiveTape.payloadArea + offset;
    let row = table.find(id);
    const status = row < 0 ? F.kStatusEmpty : table.status[row]!;
    const current = row < 0 ? 0 : table.incarnation[row]!;
    const isNew = row < 0;
    if (!isNew && incarnation < current) return;
    if (!isNew && incarnation === current) {
      // The heartbeat entry in the same datagram may have raised the incarnation first;
      // the metadata travels only here, so take it.
      if (status === F.kStatusAlive) this.takeAnnouncedMeta(row, metaAt, length);
      return;
    }
    if (isNew) {
      try {
        row = table.upsert(id, address, incarnation, F.kStatusAlive, ctx.now);
      } catch {
        return; // table full: counted by the table's owner through capacity metrics
      }
    } else {
      table.incarnation[row] = incarnation;
      table.setAddress(row, address);
      table.status[row] = F.kStatusAlive;
      table.stateChangeMs[row] = ctx.now >>> 0;
      table.touch();
    }
    const meta = u8.slice(metaAt, metaAt + length);
    const previousMeta = this.meta.get(row);
    if (length > 0) this.meta.set(row, meta);
    else this.meta.delete(row);
    const metaChanged = !isNew && !equalBytes(previousMeta, meta);
    this.settle(row, metaChanged);
    ctx.dissemination.queueAnnouncement(row);
  }

  private takeAnnouncedMeta(row: number, metaAt: number, length: number): void {
    const meta = this.ctx.runtime.views.u8.subarray(metaAt, metaAt + length);
    if (equalBytes(this.meta.get(row), meta)) return;
    if (length > 0) this.meta.set(row, meta.slice());
    else this.meta.delete(row);
    this.emit('update', row);
    this.ctx.dissemination.queueAnnouncement(row);
  }

  /** Copies metadata from a state frame for members whose meta changed. */
  takeMeta(bytes: Uint8Array): void {
    const ctx = this.ctx;
    forEachEntry(bytes, (high, low, incarnation, status, meta) => {
      if (meta === undefined || ctx.isSelf(high, low) || status === F.kStatusDead || status === F.kStatusLeft) return;
      const row = ctx.table.find({ high, low });
      if (row < 0 || ctx.table.incarnation[row] !== incarnation) return;
      const previous = this.meta.get(row);
      if (equalBytes(previous, meta)) return;
      if (meta.length > 0) this.meta.set(row, Uint8Array.from(meta));
      else this.meta.delete(row);
      // Also when the metadata arrives after the join (the join event then carried none):
      // the layers above learn a member's tags from these events.
      this.emit('update', row);
    });
  }

  /** Membership events since the last call, oldest first. */
  drainEvents(): MembershipEvent[] {
    // Most ticks have none: hand back one shared empty array rather than a new one each time.
    if (this.events.length === 0) return kNoEvents;
    const out = this.events;
    this.events = [];
    return out;
  }

  private emit(type: MembershipEventType, row: number): void {
    const ctx = this.ctx;
    const meta = this.meta.get(row);
    const event = { type, id: formatNodeId({ high: ctx.table.idHigh[row]!, low: ctx.table.idLow[row]! }), address: ctx.addressOf(row), incarnation: ctx.table.incarnation[row]!, atMs: ctx.now };
    this.events.push(meta === undefined ? event : { ...event, meta });
  }
}

function equalBytes(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (a === undefined || a.length === 0) return b === undefined || b.length === 0;
  if (b === undefined || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
