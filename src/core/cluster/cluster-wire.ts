import { ClusterError } from './cluster-error.js';
import type { MemberRef } from './cluster-io.js';

/**
 * The cluster core's wire format, version 1. Every message starts with a fixed header:
 *
 *   u8 version (1) | u8 type | u8 name length | name (UTF-8, the cluster's name) |
 *   u32 sender incarnation | u32 view id
 *
 * then a body per type, all integers big-endian. The cluster name lets a node's host
 * hand a message to the right core when it is in several clusters (peekClusterName).
 * decode refuses malformed input with GALAXY_CLUSTER_WIRE_MALFORMED and never reads
 * past the end; every count is checked against a bound before anything is allocated.
 */

/** ONLY APPEND TO THIS LIST! The numeric values are part of the protocol itself. */
export const kMessageHeartbeat = 1;
export const kMessageData = 2;
export const kMessageJoin = 3;
export const kMessageNewer = 4;
export const kMessageLeave = 5;
export const kMessagePrepare = 6;
export const kMessagePromise = 7;
export const kMessageAccept = 8;
export const kMessageAccepted = 9;
export const kMessageReject = 10;
export const kMessageInstall = 11;
export const kMessageInstalled = 12;
/** A sender's own stable prefix (held by every member), so receivers drop those messages without waiting for every heartbeat. */
export const kMessageStable = 13;
/**
 * External evidence relayed: the sender was told (the farm's dead, a closed connection)
 * that the member of rank `rank` of the header's view, at `suspectIncarnation`, is dead.
 * Sent to the member the sender takes for the coordinator, so the change starts at the
 * first evidence anywhere, not at the coordinator's own.
 */
export const kMessageSuspect = 14;
const kMessageTypeLast = 14;

export const kWireVersion = 1;

/** A Paxos ballot: higher round wins; equal rounds are ordered by the coordinator's rank. */
export interface Ballot {
  readonly round: number;
  readonly rank: number;
}

/** A message of a view, as carried in promises, accepts and installs. senderRank indexes that view's members. */
export interface CarriedMessage {
  readonly senderRank: number;
  readonly seq: number;
  readonly payload: Uint8Array;
}

/**
 * The value one view change agrees on: the next view and the flush cut of the previous
 * one (for each member of view prevViewId, by rank, the last sequence number that every
 * member passing into viewId delivers in prevViewId).
 */
export interface ViewValue {
  readonly viewId: number;
  readonly prevViewId: number;
  readonly members: readonly MemberRef[];
  readonly cut: readonly number[];
}

export interface Header {
  readonly type: number;
  readonly cluster: string;
  readonly incarnation: number;
  readonly viewId: number;
}

export type WireMessage = Header &
  (
    | { readonly type: typeof kMessageHeartbeat; readonly ownSeq: number; readonly acks: readonly number[] }
    | { readonly type: typeof kMessageData; readonly seq: number; readonly payload: Uint8Array }
    | { readonly type: typeof kMessageStable; readonly stable: number }
    | { readonly type: typeof kMessageSuspect; readonly rank: number; readonly suspectIncarnation: number }
    | { readonly type: typeof kMessageJoin | typeof kMessageNewer | typeof kMessageLeave | typeof kMessageInstalled }
    | { readonly type: typeof kMessagePrepare | typeof kMessageAccepted | typeof kMessageReject; readonly ballot: Ballot }
    | {
        readonly type: typeof kMessagePromise;
        readonly ballot: Ballot;
        readonly accepted: { readonly ballot: Ballot; readonly value: ViewValue } | null;
        readonly contiguous: readonly number[];
        readonly messages: readonly CarriedMessage[];
      }
    | { readonly type: typeof kMessageAccept; readonly ballot: Ballot; readonly value: ViewValue; readonly messages: readonly CarriedMessage[] }
    | { readonly type: typeof kMessageInstall; readonly value: ViewValue; readonly messages: readonly CarriedMessage[] }
  );

/** Bounds decode checks counts against, so a hostile length cannot make it allocate. */
export interface WireBounds {
  readonly membersMax: number;
  readonly payloadBytesMax: number;
  readonly nodeIdBytesMax: number;
  /** The most carried messages one promise, accept or install may hold. */
  readonly carriedMessagesMax: number;
}

const kNameBytesMax = 255;
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** Encodes one message; the caller passes well-formed values (a bug otherwise, which throws). */
export function encodeMessage(message: WireMessage): Uint8Array {
  const w = new Writer();
  w.u8(kWireVersion);
  w.u8(message.type);
  w.string(message.cluster);
  w.u32(message.incarnation);
  w.u32(message.viewId);
  switch (message.type) {
    case kMessageHeartbeat:
      w.u32(message.ownSeq);
      w.u16(message.acks.length);
      for (const a of message.acks) w.u32(a);
      break;
    case kMessageData:
      w.u32(message.seq);
      w.bytes(message.payload);
      break;
    case kMessageStable:
      w.u32(message.stable);
      break;
    case kMessageSuspect:
      w.u16(message.rank);
      w.u32(message.suspectIncarnation);
      break;
    case kMessageJoin:
    case kMessageNewer:
    case kMessageLeave:
    case kMessageInstalled:
      break;
    case kMessagePrepare:
    case kMessageAccepted:
    case kMessageReject:
      w.ballot(message.ballot);
      break;
    case kMessagePromise:
      w.ballot(message.ballot);
      w.u8(message.accepted === null ? 0 : 1);
      if (message.accepted !== null) {
        w.ballot(message.accepted.ballot);
        w.value(message.accepted.value);
      }
      w.u16(message.contiguous.length);
      for (const c of message.contiguous) w.u32(c);
      w.messages(message.messages);
      break;
    case kMessageAccept:
      w.ballot(message.ballot);
      w.value(message.value);
      w.messages(message.messages);
      break;
    case kMessageInstall:
      w.value(message.value);
      w.messages(message.messages);
      break;
  }
  return w.finish();
}

/** The cluster name of a message, for a host routing to one of several cores; throws GALAXY_CLUSTER_WIRE_MALFORMED. */
export function peekClusterName(bytes: Uint8Array): string {
  const r = new Reader(bytes);
  const version = r.u8();
  if (version !== kWireVersion) throw malformed(`unknown version ${version}`);
  r.u8();
  return r.string(kNameBytesMax);
}

/** Decodes one message or throws ClusterError GALAXY_CLUSTER_WIRE_MALFORMED (never anything else). */
export function decodeMessage(bytes: Uint8Array, bounds: WireBounds): WireMessage {
  try {
    return decodeUnchecked(bytes, bounds);
  } catch (error) {
    if (error instanceof ClusterError) throw error;
    throw malformed(error instanceof Error ? error.message : String(error));
  }
}

function decodeUnchecked(bytes: Uint8Array, bounds: WireBounds): WireMessage {
  const r = new Reader(bytes);
  const version = r.u8();
  if (version !== kWireVersion) throw malformed(`unknown version ${version}`);
  const type = r.u8();
  if (type < 1 || type > kMessageTypeLast) throw malformed(`unknown message type ${type}`);
  const cluster = r.string(kNameBytesMax);
  const incarnation = r.u32();
  const viewId = r.u32();
  const head = { cluster, incarnation, viewId };
  let message: WireMessage;
  switch (type) {
    case kMessageHeartbeat: {
      const ownSeq = r.u32();
      const acks = r.u32Array(r.count(bounds.membersMax));
      message = { ...head, type, ownSeq, acks };
      break;
    }
    case kMessageData: {
      const seq = r.u32();
      if (seq < 1) throw malformed('data sequence numbers start at 1');
      message = { ...head, type, seq, payload: r.bytes(bounds.payloadBytesMax) };
      break;
    }
    case kMessageStable:
      message = { ...head, type, stable: r.u32() };
      break;
    case kMessageSuspect: {
      const rank = r.u16();
      if (rank >= bounds.membersMax) throw malformed(`suspect rank ${rank} over membersMax`);
      message = { ...head, type, rank, suspectIncarnation: r.u32() };
      break;
    }
    case kMessageJoin:
    case kMessageNewer:
    case kMessageLeave:
    case kMessageInstalled:
      message = { ...head, type };
      break;
    case kMessagePrepare:
    case kMessageAccepted:
    case kMessageReject:
      message = { ...head, type, ballot: r.ballot(bounds) };
      break;
    case kMessagePromise: {
      const ballot = r.ballot(bounds);
      const flag = r.u8();
      if (flag > 1) throw malformed(`bad accepted flag ${flag}`);
      const accepted = flag === 1 ? { ballot: r.ballot(bounds), value: r.value(bounds) } : null;
      const contiguous = r.u32Array(r.count(bounds.membersMax));
      message = { ...head, type, ballot, accepted, contiguous, messages: r.messages(bounds) };
      break;
    }
    case kMessageAccept:
      message = { ...head, type, ballot: r.ballot(bounds), value: r.value(bounds), messages: r.messages(bounds) };
      break;
    case kMessageInstall:
      message = { ...head, type, value: r.value(bounds), messages: r.messages(bounds) };
      break;
    default:
      throw malformed(`unknown message type ${type}`);
  }
  if (!r.atEnd()) throw malformed(`${r.remaining()} trailing bytes`);
  return message;
}

function malformed(why: string): ClusterError {
  return new ClusterError('GALAXY_CLUSTER_WIRE_MALFORMED', `malformed cluster message: ${why}`);
}

class Writer {
  private buffer = new Uint8Array(256);
  private view = new DataView(this.buffer.buffer);
  private length = 0;

  private room(n: number): void {
    if (this.length + n <= this.buffer.length) return;
    let size = this.buffer.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buffer.subarray(0, this.length));
    this.buffer = next;
    this.view = new DataView(next.buffer);
  }

  u8(v: number): void {
    this.room(1);
    this.view.setUint8(this.length, v);
    this.length += 1;
  }

  u16(v: number): void {
    if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new RangeError(`u16 out of range: ${v}`);
    this.room(2);
    this.view.setUint16(this.length, v);
    this.length += 2;
  }

  u32(v: number): void {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`u32 out of range: ${v}`);
    this.room(4);
    this.view.setUint32(this.length, v);
    this.length += 4;
  }

  string(s: string): void {
    const b = encoder.encode(s);
    if (b.length > kNameBytesMax) throw new RangeError(`string over ${kNameBytesMax} bytes`);
    this.u8(b.length);
    this.raw(b);
  }

  bytes(b: Uint8Array): void {
    this.u32(b.length);
    this.raw(b);
  }

  raw(b: Uint8Array): void {
    this.room(b.length);
    this.buffer.set(b, this.length);
    this.length += b.length;
  }

  ballot(b: Ballot): void {
    this.u32(b.round);
    this.u16(b.rank);
  }

  value(v: ViewValue): void {
    this.u32(v.viewId);
    this.u32(v.prevViewId);
    this.u16(v.members.length);
    for (const m of v.members) {
      this.string(m.nodeId);
      this.u32(m.incarnation);
    }
    this.u16(v.cut.length);
    for (const c of v.cut) this.u32(c);
  }

  messages(list: readonly CarriedMessage[]): void {
    this.u32(list.length);
    for (const m of list) {
      this.u16(m.senderRank);
      this.u32(m.seq);
      this.bytes(m.payload);
    }
  }

  finish(): Uint8Array {
    return this.buffer.slice(0, this.length);
  }
}

class Reader {
  private offset = 0;
  private readonly view: DataView;

  constructor(private readonly input: Uint8Array) {
    this.view = new DataView(input.buffer, input.byteOffset, input.byteLength);
  }

  private need(n: number): void {
    if (this.offset + n > this.input.length) throw malformed(`truncated at byte ${this.offset} (needs ${n} more of ${this.input.length})`);
  }

  u8(): number {
    this.need(1);
    return this.view.getUint8(this.offset++);
  }

  u16(): number {
    this.need(2);
    const v = this.view.getUint16(this.offset);
    this.offset += 2;
    return v;
  }

  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.offset);
    this.offset += 4;
    return v;
  }

  count(max: number): number {
    const n = this.u16();
    if (n > max) throw malformed(`count ${n} over its bound ${max}`);
    return n;
  }

  u32Array(n: number): number[] {
    this.need(4 * n);
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push(this.u32());
    return out;
  }

  string(max: number): string {
    const n = this.u8();
    if (n > max) throw malformed(`string of ${n} bytes over its bound ${max}`);
    this.need(n);
    const s = decoder.decode(this.input.subarray(this.offset, this.offset + n));
    this.offset += n;
    return s;
  }

  bytes(max: number): Uint8Array {
    const n = this.u32();
    if (n > max) throw malformed(`payload of ${n} bytes over its bound ${max}`);
    this.need(n);
    const b = this.input.slice(this.offset, this.offset + n);
    this.offset += n;
    return b;
  }

  ballot(bounds: WireBounds): Ballot {
    const round = this.u32();
    const rank = this.u16();
    if (rank >= bounds.membersMax) throw malformed(`ballot rank ${rank} over membersMax`);
    return { round, rank };
  }

  value(bounds: WireBounds): ViewValue {
    const viewId = this.u32();
    const prevViewId = this.u32();
    if (viewId !== prevViewId + 1) throw malformed(`view ${viewId} does not follow ${prevViewId}`);
    const n = this.count(bounds.membersMax);
    if (n < 1) throw malformed('a view has at least one member');
    const members: MemberRef[] = [];
    const seen = new Set<string>();
    for (let i = 0; i < n; i++) {
      const nodeId = this.string(bounds.nodeIdBytesMax);
      if (nodeId.length === 0) throw malformed('empty node id');
      if (seen.has(nodeId)) throw malformed(`node ${nodeId} twice in one view`);
      seen.add(nodeId);
      members.push({ nodeId, incarnation: this.u32() });
    }
    const cut = this.u32Array(this.count(bounds.membersMax));
    return { viewId, prevViewId, members, cut };
  }

  messages(bounds: WireBounds): CarriedMessage[] {
    const n = this.u32();
    if (n > bounds.carriedMessagesMax) throw malformed(`${n} carried messages over the bound ${bounds.carriedMessagesMax}`);
    const out: CarriedMessage[] = [];
    for (let i = 0; i < n; i++) {
      const senderRank = this.u16();
      if (senderRank >= bounds.membersMax) throw malformed(`sender rank ${senderRank} over membersMax`);
      const seq = this.u32();
      if (seq < 1) throw malformed('carried sequence numbers start at 1');
      out.push({ senderRank, seq, payload: this.bytes(bounds.payloadBytesMax) });
    }
    return out;
  }

  atEnd(): boolean {
    return this.offset === this.input.length;
  }

  remaining(): number {
    return this.input.length - this.offset;
  }
}
