import type { Runtime } from '../runtime/runtime.js';
import type { MembershipTable } from '../table/membership-table.js';
import * as L from '../table/layout.js';
import * as F from '../wire/format.js';
import { Tape } from '../wire/tape.js';
import { WireError } from '../wire/wire-error.js';

/**
 * Encodes the engine's outgoing messages as parts (type byte + body) by writing tape
 * records field by field and running the kernel encoder: no Message objects, and the
 * bytes are the codec's own. Also reads decoded tapes back field by field.
 *
 * One instance may serve many engines on one thread (the simulator does this): every
 * method finishes with the scratch space before it returns.
 */
export class MessageParts {
  readonly tape: Tape;
  readonly packet: number;
  readonly out: number;
  readonly outCapacity: number;
  private readonly runtime: Runtime;

  constructor(runtime: Runtime, outCapacity: number) {
    this.runtime = runtime;
    this.tape = new Tape(runtime, { messages: F.kCompoundPartsMax, entries: 256, payloadBytes: 8192 });
    this.packet = runtime.allocate(F.kDatagramBytesMax + 64, 8);
    this.outCapacity = outCapacity;
    this.out = runtime.allocate((L.kOutHeaderWords + 2 * outCapacity) * 4, 8);
  }

  private begin(type: number): number {
    this.tape.clear();
    const m = this.tape.message(0);
    this.runtime.views.u8.fill(0, m, m + F.kTapeMessageBytes);
    this.runtime.views.u8[m + F.kMsgType] = type;
    this.runtime.views.u32[(this.tape.pointer >>> 2) + F.kTapeMessageCountField] = 1;
    return m;
  }

  private finish(): Uint8Array {
    const length = this.runtime.kernels.encode(this.tape.pointer, this.packet, F.kDatagramBytesMax);
    if (length < 0) throw new WireError(-length, 'encoding an engine message');
    return this.runtime.views.u8.slice(this.packet + 3, this.packet + length - F.kChecksumBytes);
  }

  private setId(at: number, high: number, low: number): void {
    this.runtime.views.dv.setUint32(at, high, true);
    this.runtime.views.dv.setUint32(at + 4, low, true);
  }

  /** Copies a row's address into a tape address slot (family, bytes, port). */
  private setRowAddress(table: MembershipTable, row: number, family: number, bytes: number, port: number): void {
    const { u8, dv } = this.runtime.views;
    u8[family] = table.family[row]!;
    u8.set(table.address.subarray(row * 16, row * 16 + 16), bytes);
    dv.setUint16(port, table.port[row]!, true);
  }

  ping(seq: number, table: MembershipTable, target: number, self: number): Uint8Array {
    const m = this.begin(F.kTypePing);
    this.runtime.views.dv.setUint32(m + F.kMsgSeq, seq, true);
    this.setId(m + F.kMsgNodeHigh, table.idHigh[target]!, table.idLow[target]!);
    this.setId(m + F.kMsgFromHigh, table.idHigh[self]!, table.idLow[self]!);
    this.setRowAddress(table, self, m + F.kMsgFamilyB, m + F.kMsgAddressB, m + F.kMsgPortB);
    return this.finish();
  }

  indirectPing(seq: number, table: MembershipTable, target: number, self: number, nack: boolean): Uint8Array {
    const m = this.begin(F.kTypeIndirectPing);
    this.runtime.views.dv.setUint32(m + F.kMsgSeq, seq, true);
    this.runtime.views.u8[m + F.kMsgFlags] = nack ? F.kIndirectPingFlagNack : 0;
    this.setId(m + F.kMsgNodeHigh, table.idHigh[target]!, table.idLow[target]!);
    this.setRowAddress(table, target, m + F.kMsgFamilyA, m + F.kMsgAddressA, m + F.kMsgPortA);
    this.setId(m + F.kMsgFromHigh, table.idHigh[self]!, table.idLow[self]!);
    this.setRowAddress(table, self, m + F.kMsgFamilyB, m + F.kMsgAddressB, m + F.kMsgPortB);
    return this.finish();
  }

  ack(seq: number, table: MembershipTable, self: number): Uint8Array {
    const m = this.begin(F.kTypeAck);
    this.runtime.views.dv.setUint32(m + F.kMsgSeq, seq, true);
    this.setId(m + F.kMsgFromHigh, table.idHigh[self]!, table.idLow[self]!);
    return this.finish();
  }

  nack(seq: number, table: MembershipTable, self: number): Uint8Array {
    const m = this.begin(F.kTypeNack);
    this.runtime.views.dv.setUint32(m + F.kMsgSeq, seq, true);
    this.setId(m + F.kMsgFromHigh, table.idHigh[self]!, table.idLow[self]!);
    return this.finish();
  }

  /** SUSPECT or DEAD about `node`, said by `from`. */
  accusation(type: typeof F.kTypeSuspect | typeof F.kTypeDead, incarnation: number, table: MembershipTable, node: number, from: number): Uint8Array {
    const m = this.begin(type);
    this.runtime.views.dv.setUint32(m + F.kMsgIncarnation, incarnation, true);
    this.setId(m + F.kMsgNodeHigh, table.idHigh[node]!, table.idLow[node]!);
    this.setId(m + F.kMsgFromHigh, table.idHigh[from]!, table.idLow[from]!);
    return this.finish();
  }

  /** ALIVE or JOIN for `node`, with its address and meta. */
  announcement(type: typeof F.kTypeAlive | typeof F.kTypeJoin, incarnation: number, table: MembershipTable, node: number, meta: Uint8Array): Uint8Array {
    const m = this.begin(type);
    const { dv, u8 } = this.runtime.views;
    dv.setUint32(m + F.kMsgIncarnation, incarnation, true);
    this.setId(m + F.kMsgNodeHigh, table.idHigh[node]!, table.idLow[node]!);
    this.setRowAddress(table, node, m + F.kMsgFamilyA, m + F.kMsgAddressA, m + F.kMsgPortA);
    u8.set(meta, this.tape.payloadArea);
    this.runtime.views.u32[(this.tape.pointer >>> 2) + F.kTapePayloadUsedField] = meta.length;
    dv.setUint32(m + F.kMsgPayloadLength, meta.length, true);
    return this.finish();
  }

  leave(incarnation: number, table: MembershipTable, node: number): Uint8Array {
    const m = this.begin(F.kTypeLeave);
    this.runtime.views.dv.setUint32(m + F.kMsgIncarnation, incarnation, true);
    this.setId(m + F.kMsgNodeHigh, table.idHigh[node]!, table.idLow[node]!);
    return this.finish();
  }

  user(payload: Uint8Array): Uint8Array {
    const m = this.begin(F.kTypeUser);
    this.runtime.views.u8.set(payload, this.tape.payloadArea);
    this.runtime.views.u32[(this.tape.pointer >>> 2) + F.kTapePayloadUsedField] = payload.length;
    this.runtime.views.dv.setUint32(m + F.kMsgPayloadLength, payload.length, true);
    return this.finish();
  }

  /** A digest part listing the given rows straight from the table (the kernel encoder). */
  digest(table: MembershipTable, rowList: number, rowCount: number, flags: number): Uint8Array {
    const length = this.runtime.kernels.encodeDigest(table.base, rowList, rowCount, flags, this.packet, F.kDatagramBytesMax);
    if (length < 0) throw new WireError(-length, 'encoding a digest');
    return this.runtime.views.u8.slice(this.packet + 3, this.packet + length - F.kChecksumBytes);
  }
}
