import type { Runtime } from '../runtime/runtime.js';
import * as F from './format.js';
import type { MemberEntry, Message, NodeId, WireAddress } from './message.js';
import { WireError } from './wire-error.js';

export interface TapeCapacity {
  /** Messages per datagram or frame; a datagram holds at most kCompoundPartsMax. */
  messages: number;
  /** Digest entries; a 1,400-byte datagram holds at most 77. */
  entries: number;
  /** Bytes of meta and payloads. */
  payloadBytes: number;
}

/** Enough for any single datagram. */
export const kDatagramTapeCapacity: TapeCapacity = Object.freeze({ messages: F.kCompoundPartsMax, entries: 128, payloadBytes: 4096 });

/**
 * A tape in shared memory: the decoded form of one datagram and the input of the
 * encoder (layout in format.ts). This class also converts between the tape and
 * Message objects, for tests and cold paths; hot paths read the fields directly.
 */
export class Tape {
  readonly pointer: number;
  readonly capacity: TapeCapacity;
  private readonly runtime: Runtime;

  constructor(runtime: Runtime, capacity: TapeCapacity = kDatagramTapeCapacity) {
    this.runtime = runtime;
    this.capacity = capacity;
    const entriesOffset = F.kTapeHeaderBytes + capacity.messages * F.kTapeMessageBytes;
    const payloadOffset = entriesOffset + capacity.entries * F.kTapeEntryBytes;
    this.pointer = runtime.allocate(payloadOffset + capacity.payloadBytes, 8);
    const u32 = runtime.views.u32;
    const t = this.pointer >>> 2;
    u32[t + F.kTapeMessageCapacityField] = capacity.messages;
    u32[t + F.kTapeEntryCapacityField] = capacity.entries;
    u32[t + F.kTapePayloadCapacityField] = capacity.payloadBytes;
    u32[t + F.kTapeEntriesOffsetField] = entriesOffset;
    u32[t + F.kTapePayloadOffsetField] = payloadOffset;
    this.clear();
  }

  clear(): void {
    const t = this.pointer >>> 2;
    const u32 = this.runtime.views.u32;
    u32[t + F.kTapeMessageCountField] = 0;
    u32[t + F.kTapeEntryCountField] = 0;
    u32[t + F.kTapePayloadUsedField] = 0;
  }

  get messageCount(): number {
    return this.runtime.views.u32[(this.pointer >>> 2) + F.kTapeMessageCountField]!;
  }

  /** Byte address of message record i. */
  message(i: number): number {
    return this.pointer + F.kTapeHeaderBytes + i * F.kTapeMessageBytes;
  }

  /** Byte address of entry record i. */
  entry(i: number): number {
    const u32 = this.runtime.views.u32;
    return this.pointer + u32[(this.pointer >>> 2) + F.kTapeEntriesOffsetField]! + i * F.kTapeEntryBytes;
  }

  /** Byte address of the payload area. */
  get payloadArea(): number {
    return this.pointer + this.runtime.views.u32[(this.pointer >>> 2) + F.kTapePayloadOffsetField]!;
  }

  /** Replaces the tape's content with these messages; throws WireError when they do not fit. */
  write(messages: readonly Message[]): void {
    this.clear();
    for (const message of messages) this.append(message);
  }

  /** Appends one message record. */
  append(message: Message): void {
    const { u32, u8, dv } = this.runtime.views;
    const t = this.pointer >>> 2;
    const index = u32[t + F.kTapeMessageCountField]!;
    if (index >= this.capacity.messages) throw new WireError(F.kErrTapeFull, 'tape message capacity');
    const m = this.message(index);
    u8.fill(0, m, m + F.kTapeMessageBytes);
    u8[m + F.kMsgType] = message.type;
    switch (message.type) {
      case F.kTypePing:
        dv.setUint32(m + F.kMsgSeq, message.seq, true);
        this.setId(m + F.kMsgNodeHigh, message.target);
        this.setId(m + F.kMsgFromHigh, message.source);
        this.setAddress(m + F.kMsgFamilyB, m + F.kMsgAddressB, m + F.kMsgPortB, message.sourceAddress);
        break;
      case F.kTypeIndirectPing:
        dv.setUint32(m + F.kMsgSeq, message.seq, true);
        u8[m + F.kMsgFlags] = message.nack ? F.kIndirectPingFlagNack : 0;
        this.setId(m + F.kMsgNodeHigh, message.target);
        this.setAddress(m + F.kMsgFamilyA, m + F.kMsgAddressA, m + F.kMsgPortA, message.targetAddress);
        this.setId(m + F.kMsgFromHigh, message.source);
        this.setAddress(m + F.kMsgFamilyB, m + F.kMsgAddressB, m + F.kMsgPortB, message.sourceAddress);
        break;
      case F.kTypeAck:
        dv.setUint32(m + F.kMsgSeq, message.seq, true);
        this.setId(m + F.kMsgFromHigh, message.source);
        this.setPayload(m, message.payload);
        break;
      case F.kTypeNack:
        dv.setUint32(m + F.kMsgSeq, message.seq, true);
        this.setId(m + F.kMsgFromHigh, message.source);
        break;
      case F.kTypeSuspect:
      case F.kTypeDead:
        dv.setUint32(m + F.kMsgIncarnation, message.incarnation, true);
        this.setId(m + F.kMsgNodeHigh, message.node);
        this.setId(m + F.kMsgFromHigh, message.from);
        break;
      case F.kTypeAlive:
      case F.kTypeJoin:
        dv.setUint32(m + F.kMsgIncarnation, message.incarnation, true);
        this.setId(m + F.kMsgNodeHigh, message.node);
        this.setAddress(m + F.kMsgFamilyA, m + F.kMsgAddressA, m + F.kMsgPortA, message.address);
        this.setPayload(m, message.meta);
        break;
      case F.kTypeLeave:
        dv.setUint32(m + F.kMsgIncarnation, message.incarnation, true);
        this.setId(m + F.kMsgNodeHigh, message.node);
        break;
      case F.kTypePushPullDigest:
      case F.kTypePushPullState:
        u8[m + F.kMsgFlags] = message.flags;
        this.setEntries(m, message.entries, message.type === F.kTypePushPullState);
        break;
      case F.kTypeUser:
        this.setPayload(m, message.payload);
        break;
      case F.kTypePushPullSummary: {
        // Tape mapping in format.ts: seq = bucket count, incarnation = member count,
        // payload = the hashes as little-endian bytes (the encoder validates both).
        u8[m + F.kMsgFlags] = message.flags;
        dv.setUint32(m + F.kMsgSeq, message.hashes.length, true);
        dv.setUint32(m + F.kMsgIncarnation, message.memberCount, true);
        const bytes = new Uint8Array(message.hashes.length * 4);
        const view = new DataView(bytes.buffer);
        message.hashes.forEach((h, i) => view.setUint32(i * 4, h, true));
        this.setPayload(m, bytes);
        break;
      }
    }
    u32[t + F.kTapeMessageCountField] = index + 1;
  }

  /** Reads every message on the tape back as objects. */
  read(): Message[] {
    const out: Message[] = [];
    for (let i = 0; i < this.messageCount; i++) out.push(this.readMessage(this.message(i)));
    return out;
  }

  private readMessage(m: number): Message {
    const { u8, dv } = this.runtime.views;
    const type = u8[m + F.kMsgType]!;
    const seq = dv.getUint32(m + F.kMsgSeq, true);
    const incarnation = dv.getUint32(m + F.kMsgIncarnation, true);
    const node = this.getId(m + F.kMsgNodeHigh);
    const from = this.getId(m + F.kMsgFromHigh);
    const addressA = this.getAddress(m + F.kMsgFamilyA, m + F.kMsgAddressA, m + F.kMsgPortA);
    const addressB = this.getAddress(m + F.kMsgFamilyB, m + F.kMsgAddressB, m + F.kMsgPortB);
    const payload = this.getBytes(dv.getUint32(m + F.kMsgPayloadOffset, true), dv.getUint32(m + F.kMsgPayloadLength, true));
    switch (type) {
      case F.kTypePing:
        return { type, seq, target: node, source: from, sourceAddress: addressB };
      case F.kTypeIndirectPing:
        return { type, seq, nack: (u8[m + F.kMsgFlags]! & F.kIndirectPingFlagNack) !== 0, target: node, targetAddress: addressA, source: from, sourceAddress: addressB };
      case F.kTypeAck:
        return { type, seq, source: from, payload };
      case F.kTypeNack:
        return { type, seq, source: from };
      case F.kTypeSuspect:
      case F.kTypeDead:
        return { type, incarnation, node, from };
      case F.kTypeAlive:
      case F.kTypeJoin:
        return { type, incarnation, node, address: addressA, meta: payload };
      case F.kTypeLeave:
        return { type, incarnation, node };
      case F.kTypePushPullDigest:
      case F.kTypePushPullState:
        return { type, flags: u8[m + F.kMsgFlags]!, entries: this.getEntries(m, type === F.kTypePushPullState) };
      case F.kTypeUser:
        return { type, payload };
      case F.kTypePushPullSummary: {
        const hashes = new Uint32Array(payload.length >>> 2);
        const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
        for (let i = 0; i < hashes.length; i++) hashes[i] = view.getUint32(i * 4, true);
        return { type, flags: u8[m + F.kMsgFlags]!, memberCount: incarnation, hashes };
      }
      default:
        throw new WireError(F.kErrUnknownType, `tape message type ${type}`);
    }
  }

  private setId(at: number, id: NodeId): void {
    this.runtime.views.dv.setUint32(at, id.high, true);
    this.runtime.views.dv.setUint32(at + 4, id.low, true);
  }

  private getId(at: number): NodeId {
    return { high: this.runtime.views.dv.getUint32(at, true), low: this.runtime.views.dv.getUint32(at + 4, true) };
  }

  private setAddress(family: number, bytes: number, port: number, address: WireAddress): void {
    const { u8, dv } = this.runtime.views;
    u8[family] = address.family;
    if (address.family === 0) return;
    u8.set(address.bytes.subarray(0, address.family === 4 ? 4 : 16), bytes);
    dv.setUint16(port, address.port, true);
  }

  private getAddress(family: number, bytes: number, port: number): WireAddress {
    const { u8, dv } = this.runtime.views;
    const f = u8[family]! as 0 | 4 | 6;
    return { family: f, bytes: u8.slice(bytes, bytes + 16), port: dv.getUint16(port, true) };
  }

  private setPayload(m: number, bytes: Uint8Array): void {
    const offset = this.putBytes(bytes);
    this.runtime.views.dv.setUint32(m + F.kMsgPayloadOffset, offset, true);
    this.runtime.views.dv.setUint32(m + F.kMsgPayloadLength, bytes.length, true);
  }

  private putBytes(bytes: Uint8Array): number {
    const { u32, u8 } = this.runtime.views;
    const t = this.pointer >>> 2;
    const used = u32[t + F.kTapePayloadUsedField]!;
    if (used + bytes.length > this.capacity.payloadBytes) throw new WireError(F.kErrTapeFull, 'tape payload capacity');
    u8.set(bytes, this.payloadArea + used);
    u32[t + F.kTapePayloadUsedField] = used + bytes.length;
    return used;
  }

  private getBytes(offset: number, length: number): Uint8Array {
    const start = this.payloadArea + offset;
    return this.runtime.views.u8.slice(start, start + length);
  }

  private setEntries(m: number, entries: readonly MemberEntry[], withMeta: boolean): void {
    const { u32, u8, dv } = this.runtime.views;
    const t = this.pointer >>> 2;
    const first = u32[t + F.kTapeEntryCountField]!;
    if (first + entries.length > this.capacity.entries) throw new WireError(F.kErrTapeFull, 'tape entry capacity');
    dv.setUint32(m + F.kMsgEntryStart, first, true);
    dv.setUint32(m + F.kMsgEntryCount, entries.length, true);
    entries.forEach((entry, i) => {
      const e = this.entry(first + i);
      u8.fill(0, e, e + F.kTapeEntryBytes);
      this.setId(e + F.kEntryIdHigh, entry.id);
      this.setAddress(e + F.kEntryFamily, e + F.kEntryAddress, e + F.kEntryPort, entry.address);
      dv.setUint32(e + F.kEntryIncarnation, entry.incarnation, true);
      dv.setUint32(e + F.kEntryHeartbeat, entry.heartbeat, true);
      u8[e + F.kEntryStatus] = entry.status;
      if (withMeta) {
        const meta = entry.meta ?? new Uint8Array(0);
        dv.setUint32(e + F.kEntryMetaOffset, this.putBytes(meta), true);
        dv.setUint32(e + F.kEntryMetaLength, meta.length, true);
      }
    });
    u32[t + F.kTapeEntryCountField] = first + entries.length;
  }

  private getEntries(m: number, withMeta: boolean): MemberEntry[] {
    const { u8, dv } = this.runtime.views;
    const first = dv.getUint32(m + F.kMsgEntryStart, true);
    const count = dv.getUint32(m + F.kMsgEntryCount, true);
    const out: MemberEntry[] = [];
    for (let i = 0; i < count; i++) {
      const e = this.entry(first + i);
      const base = {
        id: this.getId(e + F.kEntryIdHigh),
        address: this.getAddress(e + F.kEntryFamily, e + F.kEntryAddress, e + F.kEntryPort),
        incarnation: dv.getUint32(e + F.kEntryIncarnation, true),
        heartbeat: dv.getUint32(e + F.kEntryHeartbeat, true),
        status: u8[e + F.kEntryStatus]!,
      };
      out.push(withMeta ? { ...base, meta: this.getBytes(dv.getUint32(e + F.kEntryMetaOffset, true), dv.getUint32(e + F.kEntryMetaLength, true)) } : base);
    }
    return out;
  }
}
