import type { MemoryViews } from '../runtime/memory-views.js';
import { datagramChecksum } from './checksum.js';
import * as F from './format.js';

/**
 * The TypeScript codec: decodes a datagram into a tape and encodes a tape into a
 * datagram, byte for byte as asm/codec.ts does. It is the reference the Wasm codec is
 * tested against, and the path that runs when Wasm is off.
 *
 * Both functions return a count or length on success and a negated kErr* code on
 * failure; they never throw on bad input, so a hostile datagram costs one call.
 * The checks run in a fixed order, the same in both backends, so both report the same
 * error for the same bytes.
 */

/** Decodes the datagram at `packet` (`length` bytes) into the tape; returns the message count. */
export function decode(views: MemoryViews, packet: number, length: number, limit: number, tape: number): number {
  const head = checkHeader(views, packet, length, limit);
  if (head < 0) return head;
  const u32 = views.u32;
  const t = tape >>> 2;
  u32[t + F.kTapeMessageCountField] = 0;
  u32[t + F.kTapeEntryCountField] = 0;
  u32[t + F.kTapePayloadUsedField] = 0;
  const end = packet + length - F.kChecksumBytes;
  const type = views.u8[packet + 3]!;
  if (type !== F.kTypeCompound) {
    const r = decodeBody(views, tape, type, packet + F.kHeaderBytes, end);
    return r < 0 ? r : 1;
  }
  let p = packet + F.kHeaderBytes;
  if (p + 1 > end) return -F.kErrTruncated;
  const count = views.u8[p]!;
  p += 1;
  if (count === 0 || count > F.kCompoundPartsMax) return -F.kErrBadCount;
  for (let i = 0; i < count; i++) {
    if (p + 2 > end) return -F.kErrTruncated;
    const partLength = views.dv.getUint16(p, true);
    p += 2;
    if (partLength < 1) return -F.kErrBadLength;
    if (p + partLength > end) return -F.kErrTruncated;
    const partType = views.u8[p]!;
    if (partType === F.kTypeCompound) return -F.kErrNestedCompound;
    const r = decodeBody(views, tape, partType, p + 1, p + partLength);
    if (r < 0) return r;
    p += partLength;
  }
  if (p !== end) return -F.kErrBadLength;
  return count;
}

/** Checks size, magic, version and checksum (0 expected with datagram checksums off); returns 0 or a negated error. */
export function checkHeader(views: MemoryViews, packet: number, length: number, limit: number): number {
  if (length < F.kHeaderBytes + F.kChecksumBytes) return -F.kErrTruncated;
  if (length > limit) return -F.kErrTooLarge;
  const u8 = views.u8;
  if (u8[packet] !== F.kMagic0 || u8[packet + 1] !== F.kMagic1) return -F.kErrBadMagic;
  if (u8[packet + 2] !== F.kProtocolVersion) return -F.kErrBadVersion;
  const body = length - F.kChecksumBytes;
  if (views.dv.getUint32(packet + body, true) !== datagramChecksum(views, packet, body)) return -F.kErrBadChecksum;
  return 0;
}

function decodeBody(views: MemoryViews, tape: number, type: number, start: number, end: number): number {
  if (type === F.kTypeInvalid || type >= F.kTypeLimit) return -F.kErrUnknownType;
  const u32 = views.u32;
  const t = tape >>> 2;
  const index = u32[t + F.kTapeMessageCountField]!;
  if (index >= u32[t + F.kTapeMessageCapacityField]!) return -F.kErrTapeFull;
  const m = tape + F.kTapeHeaderBytes + index * F.kTapeMessageBytes;
  views.u8.fill(0, m, m + F.kTapeMessageBytes);
  views.u8[m + F.kMsgType] = type;
  u32[t + F.kTapeMessageCountField] = index + 1;
  const dv = views.dv;
  let p = start;
  switch (type) {
    case F.kTypePing:
      if (p + 20 > end) return -F.kErrTruncated;
      dv.setUint32(m + F.kMsgSeq, dv.getUint32(p, true), true);
      copyId(views, p + 4, m + F.kMsgNodeHigh);
      copyId(views, p + 12, m + F.kMsgFromHigh);
      p = readAddress(views, p + 20, end, m + F.kMsgFamilyB, m + F.kMsgAddressB, m + F.kMsgPortB);
      break;
    case F.kTypeIndirectPing:
      if (p + 13 > end) return -F.kErrTruncated;
      dv.setUint32(m + F.kMsgSeq, dv.getUint32(p, true), true);
      views.u8[m + F.kMsgFlags] = views.u8[p + 4]!;
      copyId(views, p + 5, m + F.kMsgNodeHigh);
      p = readAddress(views, p + 13, end, m + F.kMsgFamilyA, m + F.kMsgAddressA, m + F.kMsgPortA);
      if (p < 0) return p;
      if (p + 8 > end) return -F.kErrTruncated;
      copyId(views, p, m + F.kMsgFromHigh);
      p = readAddress(views, p + 8, end, m + F.kMsgFamilyB, m + F.kMsgAddressB, m + F.kMsgPortB);
      break;
    case F.kTypeAck:
      if (p + 12 > end) return -F.kErrTruncated;
      dv.setUint32(m + F.kMsgSeq, dv.getUint32(p, true), true);
      copyId(views, p + 4, m + F.kMsgFromHigh);
      p = readPayload(views, tape, p + 12, end, m, F.kAckPayloadBytesMax);
      break;
    case F.kTypeNack:
      if (p + 12 > end) return -F.kErrTruncated;
      dv.setUint32(m + F.kMsgSeq, dv.getUint32(p, true), true);
      copyId(views, p + 4, m + F.kMsgFromHigh);
      p += 12;
      break;
    case F.kTypeSuspect:
    case F.kTypeDead:
      if (p + 20 > end) return -F.kErrTruncated;
      dv.setUint32(m + F.kMsgIncarnation, dv.getUint32(p, true), true);
      copyId(views, p + 4, m + F.kMsgNodeHigh);
      copyId(views, p + 12, m + F.kMsgFromHigh);
      p += 20;
      break;
    case F.kTypeAlive:
    case F.kTypeJoin:
      if (p + 12 > end) return -F.kErrTruncated;
      dv.setUint32(m + F.kMsgIncarnation, dv.getUint32(p, true), true);
      copyId(views, p + 4, m + F.kMsgNodeHigh);
      p = readAddress(views, p + 12, end, m + F.kMsgFamilyA, m + F.kMsgAddressA, m + F.kMsgPortA);
      if (p < 0) return p;
      p = readPayload(views, tape, p, end, m, F.kMetaBytesMax);
      break;
    case F.kTypeLeave:
      if (p + 12 > end) return -F.kErrTruncated;
      dv.setUint32(m + F.kMsgIncarnation, dv.getUint32(p, true), true);
      copyId(views, p + 4, m + F.kMsgNodeHigh);
      p += 12;
      break;
    case F.kTypePushPullDigest:
    case F.kTypePushPullState:
      p = readEntries(views, tape, p, end, m, type === F.kTypePushPullState);
      break;
    case F.kTypeUser:
      p = readPayload(views, tape, p, end, m, F.kUserPayloadBytesMax);
      break;
    case F.kTypePushPullSummary:
      p = readSummary(views, tape, p, end, m);
      break;
    default:
      return -F.kErrUnknownType;
  }
  if (p < 0) return p;
  if (p !== end) return -F.kErrBadLength;
  return 0;
}

function copyId(views: MemoryViews, from: number, to: number): void {
  const dv = views.dv;
  dv.setUint32(to, dv.getUint32(from, true), true);
  dv.setUint32(to + 4, dv.getUint32(from + 4, true), true);
}

/** Reads an ADDR; writes family, 16 address bytes (zero-padded) and port; returns the new position. */
function readAddress(views: MemoryViews, p: number, end: number, family: number, address: number, port: number): number {
  if (p < 0) return p;
  if (p + 1 > end) return -F.kErrTruncated;
  const f = views.u8[p]!;
  p += 1;
  if (f === F.kFamilyNone) return p;
  const size = f === F.kFamilyIPv4 ? 4 : f === F.kFamilyIPv6 ? 16 : -1;
  if (size < 0) return -F.kErrBadAddress;
  if (p + size + 2 > end) return -F.kErrTruncated;
  views.u8[family] = f;
  views.u8.copyWithin(address, p, p + size);
  views.dv.setUint16(port, views.dv.getUint16(p + size, true), true);
  return p + size + 2;
}

/** Reads a u16-length payload into the tape's payload area and records it on message m. */
function readPayload(views: MemoryViews, tape: number, p: number, end: number, m: number, max: number): number {
  if (p < 0) return p;
  if (p + 2 > end) return -F.kErrTruncated;
  const length = views.dv.getUint16(p, true);
  p += 2;
  if (length > max) return -F.kErrFieldTooLarge;
  if (p + length > end) return -F.kErrTruncated;
  const offset = takePayload(views, tape, p, length);
  if (offset < 0) return offset;
  views.dv.setUint32(m + F.kMsgPayloadOffset, offset, true);
  views.dv.setUint32(m + F.kMsgPayloadLength, length, true);
  return p + length;
}

/** Copies bytes into the tape's payload area; returns their offset in it, or an error. */
function takePayload(views: MemoryViews, tape: number, from: number, length: number): number {
  const t = tape >>> 2;
  const u32 = views.u32;
  const used = u32[t + F.kTapePayloadUsedField]!;
  if (used + length > u32[t + F.kTapePayloadCapacityField]!) return -F.kErrTapeFull;
  const area = tape + u32[t + F.kTapePayloadOffsetField]!;
  views.u8.copyWithin(area + used, from, from + length);
  u32[t + F.kTapePayloadUsedField] = used + length;
  return used;
}

/** True when a summary's bucket count is a power of two from 1 to kSummaryBucketsMax. */
function isBucketCount(count: number): boolean {
  return count >= 1 && count <= F.kSummaryBucketsMax && (count & (count - 1)) === 0;
}

/**
 * Reads a PUSH_PULL_SUMMARY body: flags to kMsgFlags, bucketCount to kMsgSeq,
 * memberCount to kMsgIncarnation, the hashes (raw bytes) into the payload area.
 */
function readSummary(views: MemoryViews, tape: number, p: number, end: number, m: number): number {
  if (p + 7 > end) return -F.kErrTruncated;
  const dv = views.dv;
  const buckets = dv.getUint16(p + 1, true);
  views.u8[m + F.kMsgFlags] = views.u8[p]!;
  dv.setUint32(m + F.kMsgSeq, buckets, true);
  dv.setUint32(m + F.kMsgIncarnation, dv.getUint32(p + 3, true), true);
  p += 7;
  if (!isBucketCount(buckets)) return -F.kErrBadCount;
  const length = buckets * 4;
  if (p + length > end) return -F.kErrTruncated;
  const offset = takePayload(views, tape, p, length);
  if (offset < 0) return offset;
  dv.setUint32(m + F.kMsgPayloadOffset, offset, true);
  dv.setUint32(m + F.kMsgPayloadLength, length, true);
  return p + length;
}

const kEntryBytesMin = 18; // ID 8, family 1, incarnation 4, heartbeat 4, status 1

function readEntries(views: MemoryViews, tape: number, p: number, end: number, m: number, withMeta: boolean): number {
  if (p + 5 > end) return -F.kErrTruncated;
  const dv = views.dv;
  const u8 = views.u8;
  u8[m + F.kMsgFlags] = u8[p]!;
  const count = dv.getUint32(p + 1, true);
  p += 5;
  if (count > ((end - p) / kEntryBytesMin) >>> 0) return -F.kErrBadCount;
  const t = tape >>> 2;
  const u32 = views.u32;
  const first = u32[t + F.kTapeEntryCountField]!;
  if (first + count > u32[t + F.kTapeEntryCapacityField]!) return -F.kErrTapeFull;
  dv.setUint32(m + F.kMsgEntryStart, first, true);
  dv.setUint32(m + F.kMsgEntryCount, count, true);
  const entries = tape + u32[t + F.kTapeEntriesOffsetField]!;
  for (let i = 0; i < count; i++) {
    const e = entries + (first + i) * F.kTapeEntryBytes;
    u8.fill(0, e, e + F.kTapeEntryBytes);
    if (p + 8 > end) return -F.kErrTruncated;
    copyId(views, p, e + F.kEntryIdHigh);
    p = readAddress(views, p + 8, end, e + F.kEntryFamily, e + F.kEntryAddress, e + F.kEntryPort);
    if (p < 0) return p;
    if (p + 9 > end) return -F.kErrTruncated;
    dv.setUint32(e + F.kEntryIncarnation, dv.getUint32(p, true), true);
    dv.setUint32(e + F.kEntryHeartbeat, dv.getUint32(p + 4, true), true);
    const status = u8[p + 8]!;
    if (status === F.kStatusEmpty || status >= F.kStatusLimit) return -F.kErrBadStatus;
    u8[e + F.kEntryStatus] = status;
    p += 9;
    if (withMeta) {
      if (p + 2 > end) return -F.kErrTruncated;
      const length = dv.getUint16(p, true);
      p += 2;
      if (length > F.kMetaBytesMax) return -F.kErrFieldTooLarge;
      if (p + length > end) return -F.kErrTruncated;
      const offset = takePayload(views, tape, p, length);
      if (offset < 0) return offset;
      dv.setUint32(e + F.kEntryMetaOffset, offset, true);
      dv.setUint32(e + F.kEntryMetaLength, length, true);
      p += length;
    }
    u32[t + F.kTapeEntryCountField] = first + i + 1;
  }
  return p;
}

/** Encodes every message on the tape into one datagram at `out`; returns its length. */
export function encode(views: MemoryViews, tape: number, out: number, limit: number): number {
  const u32 = views.u32;
  const t = tape >>> 2;
  const count = u32[t + F.kTapeMessageCountField]!;
  if (count === 0 || count > F.kCompoundPartsMax) return -F.kErrBadCount;
  if (limit < F.kHeaderBytes + F.kChecksumBytes) return -F.kErrTooLarge;
  const u8 = views.u8;
  const capEnd = out + limit - F.kChecksumBytes;
  u8[out] = F.kMagic0;
  u8[out + 1] = F.kMagic1;
  u8[out + 2] = F.kProtocolVersion;
  let p = out + F.kHeaderBytes;
  const messages = tape + F.kTapeHeaderBytes;
  if (count === 1) {
    // A lone message's type byte is the header's fourth byte, its body follows.
    p = encodeBody(views, tape, messages, out + 3, capEnd);
  } else {
    u8[out + 3] = F.kTypeCompound;
    if (p + 1 > capEnd) return -F.kErrTooLarge;
    u8[p] = count;
    p += 1;
    for (let i = 0; i < count && p >= 0; i++) {
      const lengthAt = p;
      if (p + 2 > capEnd) return -F.kErrTooLarge;
      p = encodeBody(views, tape, messages + i * F.kTapeMessageBytes, p + 2, capEnd);
      if (p < 0) return p;
      const partLength = p - lengthAt - 2;
      if (partLength > 0xffff) return -F.kErrTooLarge;
      views.dv.setUint16(lengthAt, partLength, true);
    }
  }
  if (p < 0) return p;
  views.dv.setUint32(p, datagramChecksum(views, out, p - out), true);
  return p + F.kChecksumBytes - out;
}

/** Writes one message's type byte and body at p; returns the new position or an error. */
function encodeBody(views: MemoryViews, tape: number, m: number, p: number, capEnd: number): number {
  const u8 = views.u8;
  const dv = views.dv;
  const type = u8[m + F.kMsgType]!;
  if (type === F.kTypeCompound) return -F.kErrNestedCompound;
  if (type === F.kTypeInvalid || type >= F.kTypeLimit) return -F.kErrUnknownType;
  if (p + 1 > capEnd) return -F.kErrTooLarge;
  u8[p] = type;
  p += 1;
  switch (type) {
    case F.kTypePing:
      if (p + 20 > capEnd) return -F.kErrTooLarge;
      dv.setUint32(p, dv.getUint32(m + F.kMsgSeq, true), true);
      copyId(views, m + F.kMsgNodeHigh, p + 4);
      copyId(views, m + F.kMsgFromHigh, p + 12);
      return writeAddress(views, p + 20, capEnd, m + F.kMsgFamilyB, m + F.kMsgAddressB, m + F.kMsgPortB);
    case F.kTypeIndirectPing:
      if (p + 13 > capEnd) return -F.kErrTooLarge;
      dv.setUint32(p, dv.getUint32(m + F.kMsgSeq, true), true);
      u8[p + 4] = u8[m + F.kMsgFlags]!;
      copyId(views, m + F.kMsgNodeHigh, p + 5);
      p = writeAddress(views, p + 13, capEnd, m + F.kMsgFamilyA, m + F.kMsgAddressA, m + F.kMsgPortA);
      if (p < 0) return p;
      if (p + 8 > capEnd) return -F.kErrTooLarge;
      copyId(views, m + F.kMsgFromHigh, p);
      return writeAddress(views, p + 8, capEnd, m + F.kMsgFamilyB, m + F.kMsgAddressB, m + F.kMsgPortB);
    case F.kTypeAck:
      if (p + 12 > capEnd) return -F.kErrTooLarge;
      dv.setUint32(p, dv.getUint32(m + F.kMsgSeq, true), true);
      copyId(views, m + F.kMsgFromHigh, p + 4);
      return writePayload(views, tape, p + 12, capEnd, m, F.kAckPayloadBytesMax);
    case F.kTypeNack:
      if (p + 12 > capEnd) return -F.kErrTooLarge;
      dv.setUint32(p, dv.getUint32(m + F.kMsgSeq, true), true);
      copyId(views, m + F.kMsgFromHigh, p + 4);
      return p + 12;
    case F.kTypeSuspect:
    case F.kTypeDead:
      if (p + 20 > capEnd) return -F.kErrTooLarge;
      dv.setUint32(p, dv.getUint32(m + F.kMsgIncarnation, true), true);
      copyId(views, m + F.kMsgNodeHigh, p + 4);
      copyId(views, m + F.kMsgFromHigh, p + 12);
      return p + 20;
    case F.kTypeAlive:
    case F.kTypeJoin:
      if (p + 12 > capEnd) return -F.kErrTooLarge;
      dv.setUint32(p, dv.getUint32(m + F.kMsgIncarnation, true), true);
      copyId(views, m + F.kMsgNodeHigh, p + 4);
      p = writeAddress(views, p + 12, capEnd, m + F.kMsgFamilyA, m + F.kMsgAddressA, m + F.kMsgPortA);
      if (p < 0) return p;
      return writePayload(views, tape, p, capEnd, m, F.kMetaBytesMax);
    case F.kTypeLeave:
      if (p + 12 > capEnd) return -F.kErrTooLarge;
      dv.setUint32(p, dv.getUint32(m + F.kMsgIncarnation, true), true);
      copyId(views, m + F.kMsgNodeHigh, p + 4);
      return p + 12;
    case F.kTypePushPullDigest:
    case F.kTypePushPullState:
      return writeEntries(views, tape, p, capEnd, m, type === F.kTypePushPullState);
    case F.kTypeUser:
      return writePayload(views, tape, p, capEnd, m, F.kUserPayloadBytesMax);
    case F.kTypePushPullSummary:
      return writeSummary(views, tape, p, capEnd, m);
    default:
      return -F.kErrUnknownType;
  }
}

function writeAddress(views: MemoryViews, p: number, capEnd: number, family: number, address: number, port: number): number {
  const f = views.u8[family]!;
  if (p + 1 > capEnd) return -F.kErrTooLarge;
  if (f === F.kFamilyNone) {
    views.u8[p] = 0;
    return p + 1;
  }
  const size = f === F.kFamilyIPv4 ? 4 : f === F.kFamilyIPv6 ? 16 : -1;
  if (size < 0) return -F.kErrBadAddress;
  if (p + 1 + size + 2 > capEnd) return -F.kErrTooLarge;
  views.u8[p] = f;
  views.u8.copyWithin(p + 1, address, address + size);
  views.dv.setUint16(p + 1 + size, views.dv.getUint16(port, true), true);
  return p + 1 + size + 2;
}

function writePayload(views: MemoryViews, tape: number, p: number, capEnd: number, m: number, max: number): number {
  const offset = views.dv.getUint32(m + F.kMsgPayloadOffset, true);
  const length = views.dv.getUint32(m + F.kMsgPayloadLength, true);
  return writeBytes(views, tape, p, capEnd, offset, length, max);
}

/** Writes a u16 length and that many bytes from the tape's payload area. */
function writeBytes(views: MemoryViews, tape: number, p: number, capEnd: number, offset: number, length: number, max: number): number {
  if (length > max) return -F.kErrFieldTooLarge;
  const t = tape >>> 2;
  if (offset + length > views.u32[t + F.kTapePayloadCapacityField]!) return -F.kErrBadLength;
  if (p + 2 + length > capEnd) return -F.kErrTooLarge;
  views.dv.setUint16(p, length, true);
  const area = tape + views.u32[t + F.kTapePayloadOffsetField]!;
  views.u8.copyWithin(p + 2, area + offset, area + offset + length);
  return p + 2 + length;
}

/** Writes a PUSH_PULL_SUMMARY body from its tape record (mapping in format.ts). */
function writeSummary(views: MemoryViews, tape: number, p: number, capEnd: number, m: number): number {
  const dv = views.dv;
  if (p + 7 > capEnd) return -F.kErrTooLarge;
  const buckets = dv.getUint32(m + F.kMsgSeq, true);
  const offset = dv.getUint32(m + F.kMsgPayloadOffset, true);
  const length = dv.getUint32(m + F.kMsgPayloadLength, true);
  if (length !== buckets * 4) return -F.kErrBadLength;
  if (!isBucketCount(buckets)) return -F.kErrBadCount;
  const t = tape >>> 2;
  if (offset + length > views.u32[t + F.kTapePayloadCapacityField]!) return -F.kErrBadLength;
  if (p + 7 + length > capEnd) return -F.kErrTooLarge;
  views.u8[p] = views.u8[m + F.kMsgFlags]!;
  dv.setUint16(p + 1, buckets, true);
  dv.setUint32(p + 3, dv.getUint32(m + F.kMsgIncarnation, true), true);
  const area = tape + views.u32[t + F.kTapePayloadOffsetField]!;
  views.u8.copyWithin(p + 7, area + offset, area + offset + length);
  return p + 7 + length;
}

function writeEntries(views: MemoryViews, tape: number, p: number, capEnd: number, m: number, withMeta: boolean): number {
  const dv = views.dv;
  const u8 = views.u8;
  const t = tape >>> 2;
  const first = dv.getUint32(m + F.kMsgEntryStart, true);
  const count = dv.getUint32(m + F.kMsgEntryCount, true);
  if (first + count > views.u32[t + F.kTapeEntryCountField]!) return -F.kErrBadCount;
  if (p + 5 > capEnd) return -F.kErrTooLarge;
  u8[p] = u8[m + F.kMsgFlags]!;
  dv.setUint32(p + 1, count, true);
  p += 5;
  const entries = tape + views.u32[t + F.kTapeEntriesOffsetField]!;
  for (let i = 0; i < count; i++) {
    const e = entries + (first + i) * F.kTapeEntryBytes;
    if (p + 8 > capEnd) return -F.kErrTooLarge;
    copyId(views, e + F.kEntryIdHigh, p);
    p = writeAddress(views, p + 8, capEnd, e + F.kEntryFamily, e + F.kEntryAddress, e + F.kEntryPort);
    if (p < 0) return p;
    const status = u8[e + F.kEntryStatus]!;
    if (status === F.kStatusEmpty || status >= F.kStatusLimit) return -F.kErrBadStatus;
    if (p + 9 > capEnd) return -F.kErrTooLarge;
    dv.setUint32(p, dv.getUint32(e + F.kEntryIncarnation, true), true);
    dv.setUint32(p + 4, dv.getUint32(e + F.kEntryHeartbeat, true), true);
    u8[p + 8] = status;
    p += 9;
    if (withMeta) {
      const offset = dv.getUint32(e + F.kEntryMetaOffset, true);
      const length = dv.getUint32(e + F.kEntryMetaLength, true);
      p = writeBytes(views, tape, p, capEnd, offset, length, F.kMetaBytesMax);
      if (p < 0) return p;
    }
  }
  return p;
}
