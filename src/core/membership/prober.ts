import * as L from '../table/layout.js';
import * as F from '../wire/format.js';
import { assembleParts } from '../wire/compound.js';
import { Awareness } from './awareness.js';
import type { EngineContext } from './engine-context.js';

interface ProbeState {
  row: number;
  seq: number;
  indirectAtMs: number;
  endAtMs: number;
  acked: boolean;
  indirectSent: boolean;
  nacks: number;
  expectedNacks: number;
  /** The fallback ping over a stream: 0 none, 1 pending, 2 failed. */
  streamPing: number;
  address: string;
  /** Failed probes of this member in a row before this one (failedProbesToSuspect). */
  failures: number;
}

interface Relay {
  originSeq: number;
  origin: string;
  deadlineMs: number;
  wantNack: boolean;
}

const kPriorityProbesMax = 16;

/** An ACK part without payload: type byte, u32 seq, 8-byte source id, u16 payload length. */
const kAckPartBytes = 1 + 4 + 8 + 2;

/**
 * SWIM's failure detector with Lifeguard's local health, the prober of the membership
 * engine: one member per probe interval, round-robin over a shuffled list (members whose
 * heartbeat went silent first, every other turn); a direct ping, then at the probe
 * timeout a ping over a stream and indirect pings through `indirectChecks` members, who
 * send nacks when the target stays silent so a prober can tell its own slowness from
 * the target's; a failed probe raises a suspicion (MemberState). It also relays the
 * indirect pings of others, answers pings, and runs the urgent probe that confirms an
 * ICMP unreachable. The awareness score stretches its interval and timeout.
 */
export class Prober {
  readonly awareness: Awareness;
  nextProbeAtMs = 0;
  private readonly ctx: EngineContext;
  private readonly relays = new Map<number, Relay>();
  /** The ACK answering a ping, encoded on first use and patched per reply (ackReply). */
  private ackParts: Uint8Array[] | null = null;
  private readonly probeOrder: Int32Array;
  private probeCount = 0;
  private probeIndex = 0;
  private readonly priorityProbes: number[] = [];
  private priorityTurn = false;
  /** A member whose last probe failed without raising a suspicion yet: probed again next. */
  private recheckRow = -1;
  private recheckFailures = 0;
  private probe: ProbeState | null = null;
  private urgent: ProbeState | null = null;
  private seq = 1;
  private lastLagReportMs = -Infinity;

  constructor(ctx: EngineContext) {
    this.ctx = ctx;
    this.awareness = new Awareness(ctx.config.awarenessMax);
    this.probeOrder = new Int32Array(ctx.table.capacity);
  }

  /** Runs the probe timers: urgent probe end, indirect probes, probe end, next probe, relays. */
  tick(now: number): void {
    if (this.urgent !== null && now >= this.urgent.endAtMs) this.finishUrgentProbe();
    if (this.probe !== null && !this.probe.acked && !this.probe.indirectSent && now >= this.probe.indirectAtMs) this.sendIndirectProbes(this.probe);
    if (this.probe !== null && now >= this.probe.endAtMs) this.finishProbe();
    if (this.probe === null && now >= this.nextProbeAtMs && !this.ctx.leaving) this.startProbe();
    if (this.relays.size > 0) this.expireRelays();
  }

  /** The earliest time tick() has something to do (the timers tick() checks). */
  nextTimerAtMs(): number {
    let due = this.ctx.leaving ? Infinity : this.nextProbeAtMs;
    const probe = this.probe;
    if (probe !== null) {
      due = Math.min(due, probe.endAtMs);
      if (!probe.acked && !probe.indirectSent) due = Math.min(due, probe.indirectAtMs);
    }
    if (this.urgent !== null) due = Math.min(due, this.urgent.endAtMs);
    for (const relay of this.relays.values()) due = Math.min(due, relay.deadlineMs);
    return due;
  }

  /** The earliest time tick() has something to do (Infinity: nothing scheduled). */
  nextDeadlineMs(): number {
    let next = Infinity;
    const urgent = this.urgent;
    if (urgent !== null) next = urgent.endAtMs;
    const probe = this.probe;
    if (probe !== null) {
      next = Math.min(next, probe.endAtMs);
      if (!probe.acked && !probe.indirectSent) next = Math.min(next, probe.indirectAtMs);
    } else if (!this.ctx.leaving) next = Math.min(next, this.nextProbeAtMs);
    // Relays are few (one per indirect ping asked of this node, each lasting under a probe timeout).
    // Guarded: the iterator is an allocation, and this runs once per received batch.
    if (this.relays.size > 0) for (const relay of this.relays.values()) if (relay.deadlineMs < next) next = relay.deadlineMs;
    return next;
  }

  /** A member whose heartbeat went silent goes to the front of the probe order. */
  prioritize(row: number): void {
    // The bound keeps a farm-wide silence (say, after a partition) from displacing the round.
    if (this.priorityProbes.length < kPriorityProbesMax) this.priorityProbes.push(row);
  }

  /**
   * A suspect goes to the front of the probe order unless it is there already: the ping
   * carries the accusation (Lifeguard), so a suspect that never heard of its suspicion
   * (it spread while a partition cut it off) refutes within a few probe intervals of the
   * heal instead of when the round-robin comes to it.
   */
  prioritizeSuspect(row: number): void {
    if (!this.priorityProbes.includes(row)) this.prioritize(row);
  }

  /**
   * Strong evidence from the transport: a datagram to `to` drew an ICMP unreachable, so
   * the process there is most likely gone. Suspect it now and re-probe at once; a
   * second report or silence for unreachableConfirmMs confirms the death, an ack or a
   * higher incarnation refutes.
   */
  unreachable(to: string): void {
    const ctx = this.ctx;
    ctx.stats.unreachableReports++;
    const row = ctx.rowOfAddress(to);
    if (row < 0 || row === ctx.selfRow) return;
    const status = ctx.table.status[row];
    if (status !== F.kStatusAlive && status !== F.kStatusSuspect) return;
    if (this.urgent !== null && this.urgent.row === row) {
      ctx.state.declareDead(row, ctx.table.incarnation[row]!, ctx.selfRow);
      this.urgent = null;
      return;
    }
    if (this.urgent !== null) return; // one confirmation at a time; the next report will be seen
    if (status === F.kStatusAlive) ctx.state.suspect(row, ctx.table.incarnation[row]!, ctx.selfRow, true);
    const seq = this.seq++;
    this.urgent = { row, seq, indirectAtMs: Infinity, endAtMs: ctx.now + ctx.config.unreachableConfirmMs, acked: false, indirectSent: true, nacks: 0, expectedNacks: 0, streamPing: 0, address: to, failures: 0 };
    ctx.dissemination.sendTo(to, [ctx.parts.accusation(F.kTypeSuspect, ctx.table.incarnation[row]!, ctx.table, row, ctx.selfRow), ctx.parts.ping(seq, ctx.table, row, ctx.selfRow)]);
  }

  /** A stream to `to` could not be opened or broke: the stream ping of a probe, perhaps. */
  streamFailed(to: string): void {
    const probe = this.probe;
    if (probe !== null && probe.streamPing === 1 && probe.address === to) {
      probe.streamPing = 2;
      if (!probe.acked && probe.nacks >= probe.expectedNacks && probe.expectedNacks > 0) probe.endAtMs = this.ctx.now;
    }
  }

  /** The driver measured event-loop lag: a slow node should not accuse others. */
  reportEventLoopLag(): void {
    const ctx = this.ctx;
    // Whatever this node was waiting for may be sitting unread in its socket: give an
    // in-flight probe a fresh wait instead of accusing its target of our own stall.
    const probe = this.probe;
    if (probe !== null && !probe.acked) {
      probe.indirectAtMs = Math.max(probe.indirectAtMs, ctx.now + ctx.config.probeTimeoutMs / 2);
      probe.endAtMs = Math.max(probe.endAtMs, ctx.now + ctx.config.probeIntervalMs - ctx.config.probeTimeoutMs);
    }
    for (const relay of this.relays.values()) relay.deadlineMs = Math.max(relay.deadlineMs, ctx.now + ctx.config.probeTimeoutMs / 2);
    if (this.urgent !== null && !this.urgent.acked) this.urgent.endAtMs = Math.max(this.urgent.endAtMs, ctx.now + ctx.config.unreachableConfirmMs);
    if (ctx.now - this.lastLagReportMs < ctx.config.probeIntervalMs) return;
    this.lastLagReportMs = ctx.now;
    this.awareness.apply(1);
  }

  // ---------------------------------------------------------------- probing

  private startProbe(): void {
    const ctx = this.ctx;
    const table = ctx.table;
    let failures = 0;
    let row: number;
    if (this.recheckRow >= 0 && this.probeable(this.recheckRow)) {
      row = this.recheckRow;
      failures = this.recheckFailures;
    } else {
      row = this.nextProbeTarget();
    }
    this.recheckRow = -1;
    const interval = this.awareness.scale(ctx.config.probeIntervalMs);
    table.heartbeat[ctx.selfRow] = (table.heartbeat[ctx.selfRow]! + 1) >>> 0;
    ctx.dissemination.heartbeatChanged();
    if (row < 0) {
      this.nextProbeAtMs = ctx.now + interval;
      return;
    }
    const seq = this.seq++;
    ctx.stats.probes++;
    const address = ctx.addressOf(row);
    this.probe = { row, seq, indirectAtMs: ctx.now + this.awareness.scale(ctx.config.probeTimeoutMs), endAtMs: ctx.now + interval, acked: false, indirectSent: false, nacks: 0, expectedNacks: 0, streamPing: 0, address, failures };
    this.nextProbeAtMs = ctx.now + interval;
    const parts = [ctx.parts.ping(seq, table, row, ctx.selfRow)];
    // Lifeguard: tell a suspect it is suspected, on the ping itself, so it refutes at once.
    if (table.status[row] === F.kStatusSuspect) parts.unshift(ctx.parts.accusation(F.kTypeSuspect, table.incarnation[row]!, table, row, ctx.selfRow));
    ctx.dissemination.sendTo(address, parts);
  }

  private nextProbeTarget(): number {
    // Priority probes (members whose heartbeat went silent) take at most every other
    // turn, so the round-robin always advances: SWIM's detection bound depends on it.
    this.priorityTurn = !this.priorityTurn;
    while (this.priorityTurn && this.priorityProbes.length > 0) {
      const row = this.priorityProbes.shift()!;
      if (this.probeable(row) && !this.heardSince(row)) return row;
    }
    for (let attempts = 0; attempts < 2; attempts++) {
      while (this.probeIndex < this.probeCount) {
        const row = this.probeOrder[this.probeIndex++]!;
        if (this.probeable(row)) return row;
      }
      this.rebuildProbeOrder();
    }
    return -1;
  }

  /**
   * An alive member put first for its silence whose heartbeat came in since (the merge
   * clears the silence flag): no longer worth a turn. After a healed partition the list
   * is full of the far side, heard from again at once, and would hold off the suspects.
   */
  private heardSince(row: number): boolean {
    const table = this.ctx.table;
    return table.status[row] === F.kStatusAlive && (table.flags[row]! & L.kRowFlagSilenceReported) === 0;
  }

  private probeable(row: number): boolean {
    const status = this.ctx.table.status[row];
    return row !== this.ctx.selfRow && (status === F.kStatusAlive || status === F.kStatusSuspect);
  }

  rebuildProbeOrder(): void {
    let n = 0;
    for (let row = 0; row < this.ctx.table.rowCount; row++) if (this.probeable(row)) this.probeOrder[n++] = row;
    const random = this.ctx.env.random;
    for (let i = n - 1; i > 0; i--) {
      const j = random.nextInt(i + 1);
      const t = this.probeOrder[i]!;
      this.probeOrder[i] = this.probeOrder[j]!;
      this.probeOrder[j] = t;
    }
    this.probeCount = n;
    this.probeIndex = 0;
  }

  addProbeTarget(row: number): void {
    // Insert at a random place in the remaining round so a new member is probed within one round.
    if (this.probeCount >= this.probeOrder.length) return;
    const at = this.probeIndex + this.ctx.env.random.nextInt(this.probeCount - this.probeIndex + 1);
    this.probeOrder[this.probeCount] = this.probeOrder[at]!;
    this.probeOrder[at] = row;
    this.probeCount++;
  }

  private sendIndirectProbes(probe: ProbeState): void {
    const ctx = this.ctx;
    probe.indirectSent = true;
    // Also ping over a stream, as memberlist does: TCP retransmits what a lossy network
    // drops, so a live member on a path losing 20% of datagrams still answers.
    const pingPart = ctx.parts.ping(probe.seq, ctx.table, probe.row, ctx.selfRow);
    const length = assembleParts(ctx.runtime, ctx.scratch.sendPacket, [pingPart], F.kDatagramBytesMax);
    if (length > 0) {
      probe.streamPing = 1;
      ctx.stats.framesSent++;
      ctx.stats.frameBytesSent += length;
      ctx.env.sendFrame(probe.address, ctx.runtime.views.u8.subarray(ctx.scratch.sendPacket, ctx.scratch.sendPacket + length));
    }
    const helpers = ctx.randomMembers(ctx.config.indirectChecks, (row) => row !== probe.row && ctx.table.status[row] === F.kStatusAlive);
    if (helpers.length === 0) return;
    ctx.stats.indirectProbes++;
    probe.expectedNacks = helpers.length;
    const part = ctx.parts.indirectPing(probe.seq, ctx.table, probe.row, ctx.selfRow, true);
    for (const helper of helpers) ctx.dissemination.sendTo(ctx.addressOf(helper), [part]);
  }

  private finishProbe(): void {
    const ctx = this.ctx;
    const probe = this.probe!;
    this.probe = null;
    if (probe.acked) {
      this.awareness.apply(-1);
      return;
    }
    ctx.stats.probesFailed++;
    // Lifeguard: nacks that never came mean our own network or process is the slow part.
    if (probe.expectedNacks > 0) this.awareness.apply(probe.expectedNacks - probe.nacks);
    // Suspect it, or confirm an existing suspicion (which shortens its timer). An alive
    // member gets failedProbesToSuspect probes in a row first, so a short pause is
    // settled between two members instead of by two broadcasts to the whole farm.
    const status = ctx.table.status[probe.row];
    if (status === F.kStatusAlive && probe.failures + 1 < ctx.config.failedProbesToSuspect) {
      this.recheckRow = probe.row;
      this.recheckFailures = probe.failures + 1;
      return;
    }
    if (status === F.kStatusAlive || status === F.kStatusSuspect) ctx.state.suspect(probe.row, ctx.table.incarnation[probe.row]!, ctx.selfRow, false);
  }

  private finishUrgentProbe(): void {
    const ctx = this.ctx;
    const urgent = this.urgent!;
    this.urgent = null;
    if (urgent.acked) return;
    const status = ctx.table.status[urgent.row];
    if (status === F.kStatusAlive || status === F.kStatusSuspect) ctx.state.declareDead(urgent.row, ctx.table.incarnation[urgent.row]!, ctx.selfRow);
  }

  private expireRelays(): void {
    const ctx = this.ctx;
    for (const [seq, relay] of this.relays) {
      if (ctx.now < relay.deadlineMs) continue;
      this.relays.delete(seq);
      if (relay.wantNack) ctx.dissemination.sendTo(relay.origin, [ctx.parts.nack(relay.originSeq, ctx.table, ctx.selfRow)]);
    }
  }

  // ---------------------------------------------------------------- receiving

  /** A PING (tape record at `m`): answered with an ACK when it is meant for this node. */
  receivePing(from: string, m: number, seq: number): void {
    const ctx = this.ctx;
    const { u8, dv } = ctx.runtime.views;
    if (!ctx.isSelf(dv.getUint32(m + F.kMsgNodeHigh, true), dv.getUint32(m + F.kMsgNodeLow, true))) return;
    const replyTo = u8[m + F.kMsgFamilyB] === 0 ? from : ctx.tapeAddress(m + F.kMsgFamilyB, m + F.kMsgAddressB, m + F.kMsgPortB);
    ctx.dissemination.sendTo(replyTo, this.ackReply(seq));
  }

  /**
   * The ACK that answers ping `seq`, without allocating: an ACK from this node differs
   * from another only in its sequence number (format.ts: type, u32 seq, ID source, u16
   * payload length 0), so the part is encoded once by the kernels and its four sequence
   * bytes rewritten. The list is reused; sendTo copies the bytes before returning.
   */
  private ackReply(seq: number): readonly Uint8Array[] {
    let parts = this.ackParts;
    if (parts === null) {
      const ctx = this.ctx;
      const part = ctx.parts.ack(0, ctx.table, ctx.selfRow);
      if (part[0] !== F.kTypeAck || part.length !== kAckPartBytes) throw new Error(`an ACK part is ${part.length} bytes of type ${part[0]}: the wire layout changed, update Prober.ackReply`);
      this.ackParts = parts = [part];
    }
    const part = parts[0]!;
    part[1] = seq & 0xff;
    part[2] = (seq >>> 8) & 0xff;
    part[3] = (seq >>> 16) & 0xff;
    part[4] = (seq >>> 24) & 0xff;
    return parts;
  }

  /** An INDIRECT_PING: ping the target for the origin, relay its ack, or nack on silence. */
  receiveIndirectPing(from: string, m: number, seq: number): void {
    const ctx = this.ctx;
    const { u8, dv } = ctx.runtime.views;
    const target = ctx.tapeAddress(m + F.kMsgFamilyA, m + F.kMsgAddressA, m + F.kMsgPortA);
    const origin = u8[m + F.kMsgFamilyB] === 0 ? from : ctx.tapeAddress(m + F.kMsgFamilyB, m + F.kMsgAddressB, m + F.kMsgPortB);
    const targetRow = ctx.table.find({ high: dv.getUint32(m + F.kMsgNodeHigh, true), low: dv.getUint32(m + F.kMsgNodeLow, true) });
    if (targetRow < 0 || target === '-') return;
    const relaySeq = this.seq++;
    this.relays.set(relaySeq, { originSeq: seq, origin, deadlineMs: ctx.now + ctx.config.probeTimeoutMs * 0.8, wantNack: (u8[m + F.kMsgFlags]! & F.kIndirectPingFlagNack) !== 0 });
    ctx.dissemination.sendTo(target, [ctx.parts.ping(relaySeq, ctx.table, targetRow, ctx.selfRow)]);
  }

  /** An ACK: completes a probe, an urgent probe, or a relay (passed back to its origin). */
  receiveAck(seq: number): void {
    const ctx = this.ctx;
    if (this.probe !== null && this.probe.seq === seq) this.probe.acked = true;
    if (this.urgent !== null && this.urgent.seq === seq) this.urgent.acked = true;
    const relay = this.relays.get(seq);
    if (relay !== undefined) {
      this.relays.delete(seq);
      ctx.dissemination.sendTo(relay.origin, [ctx.parts.ack(relay.originSeq, ctx.table, ctx.selfRow)]);
    }
  }

  receiveNack(seq: number): void {
    if (this.probe !== null && this.probe.seq === seq) {
      this.probe.nacks++;
      // Every helper reached us but not the target: nothing more can arrive, so the
      // probe ends now instead of at the end of the interval.
      if (!this.probe.acked && this.probe.nacks >= this.probe.expectedNacks && this.probe.streamPing !== 1) this.probe.endAtMs = this.ctx.now;
    }
  }

  /** A ping over a stream is answered over the stream; an ack over one completes a probe. */
  receiveStreamProbe(from: string, length: number, type: number): void {
    const ctx = this.ctx;
    const tape = ctx.scratch.frameTape;
    const count = ctx.runtime.kernels.decode(ctx.scratch.frame, length, F.kFrameBytesMax, tape.pointer);
    ctx.stats.wire.record(count);
    if (count !== 1 || ctx.leaving) return;
    const dv = ctx.runtime.views.dv;
    const m = tape.message(0);
    const seq = dv.getUint32(m + F.kMsgSeq, true);
    if (type === F.kTypePing) {
      if (!ctx.isSelf(dv.getUint32(m + F.kMsgNodeHigh, true), dv.getUint32(m + F.kMsgNodeLow, true))) return;
      const ack = ctx.parts.ack(seq, ctx.table, ctx.selfRow);
      const n = assembleParts(ctx.runtime, ctx.scratch.sendPacket, [ack], F.kDatagramBytesMax);
      ctx.stats.framesSent++;
      ctx.stats.frameBytesSent += n;
      ctx.env.sendFrame(from, ctx.runtime.views.u8.subarray(ctx.scratch.sendPacket, ctx.scratch.sendPacket + n));
    } else if (this.probe !== null && this.probe.seq === seq) {
      this.probe.acked = true;
    }
  }
}
