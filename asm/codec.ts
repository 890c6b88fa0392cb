// The wire codec, AssemblyScript twin of src/wire/ts-codec.ts.
//
// Results must match the TypeScript codec bit for bit: the same checks in the same
// order, the same negated kErr* codes, and the same bytes written to the tape and the
// output datagram (including the zero-filled tape records and partial writes left by
// a failing call).
//
// Pointers are u32 byte offsets into the one (imported, shared) memory. Inside this
// file a position travels as a u32; an error travels as its negated code reinterpreted
// as u32 (0xFFFFFFF0 and up), where the TypeScript code returns a negative number.
// That leaves positions up to 4 GiB - 16 usable. Sums of untrusted u32 fields (tape
// header and message fields) are compared in u64, as TypeScript compares them exactly.
//
// No allocation: only loads, stores and memory.copy.

import * as F from "../src/core/wire/format";
import { datagramChecksumOf } from "./checksum";

// ---------------------------------------------------------------------------------
// Error positions

/** Positions at or above this value are negated error codes. */
const kErrFloor: u32 = <u32>(-F.kErrCodeLimit);

@inline function fail(code: i32): u32 {
  return <u32>(-code);
}

@inline function failed(p: u32): bool {
  return p >= kErrFloor;
}

// ---------------------------------------------------------------------------------
// Small helpers shared with table.ts

/** Byte address of a u32 tape header field (the TypeScript code indexes u32[tape >>> 2]). */
@inline function tapeField(th: u32, field: i32): u32 {
  return load<u32>(th + (<u32>field << 2));
}

@inline function setTapeField(th: u32, field: i32, value: u32): void {
  store<u32>(th + (<u32>field << 2), value);
}

/** Copies an ID (two u32, in the order the TypeScript copyId does). */
@inline function copyId(from: u32, to: u32): void {
  store<u32>(to, load<u32>(from));
  store<u32>(to, load<u32>(from, 4), 4);
}

/** Copies 4 or 16 address bytes (memmove semantics, like copyWithin). */
@inline function copyAddress(to: u32, from: u32, size: u32): void {
  if (size == 4) store<u32>(to, load<u32>(from));
  else v128.store(to, v128.load(from));
}

/** Size of an address of family f: 0 for none, 4, 16, or -1 when unknown. */
@inline function addressSize(f: u32): i32 {
  return f == F.kFamilyIPv4 ? 4 : f == F.kFamilyIPv6 ? 16 : -1;
}

// ---------------------------------------------------------------------------------
// Decoding

/** Checks size, magic, version and checksum; returns 0 or a negated error. */
export function checkHeader(packet: u32, length: u32, limit: u32): i32 {
  if (length < <u32>(F.kHeaderBytes + F.kChecksumBytes)) return -F.kErrTruncated;
  if (length > limit) return -F.kErrTooLarge;
  if (load<u8>(packet) != F.kMagic0 || load<u8>(packet, 1) != F.kMagic1) return -F.kErrBadMagic;
  if (load<u8>(packet, 2) != F.kProtocolVersion) return -F.kErrBadVersion;
  const body = length - F.kChecksumBytes;
  if (load<u32>(packet + body) != datagramChecksumOf(packet, body)) return -F.kErrBadChecksum;
  return 0;
}

/** Decodes the datagram at `packet` (`length` bytes) into the tape; returns the message count. */
export function decode(packet: u32, length: u32, limit: u32, tape: u32): i32 {
  const head = checkHeader(packet, length, limit);
  if (head < 0) return head;
  const th = tape & ~3;
  setTapeField(th, F.kTapeMessageCountField, 0);
  setTapeField(th, F.kTapeEntryCountField, 0);
  setTapeField(th, F.kTapePayloadUsedField, 0);
  const end = packet + length - F.kChecksumBytes;
  const type = <u32>load<u8>(packet, 3);
  if (type != F.kTypeCompound) {
    const r = decodeBody(tape, th, type, packet + F.kHeaderBytes, end);
    return r < 0 ? r : 1;
  }
  let p = packet + F.kHeaderBytes;
  if (p + 1 > end) return -F.kErrTruncated;
  const count = <u32>load<u8>(p);
  p += 1;
  if (count == 0 || count > <u32>F.kCompoundPartsMax) return -F.kErrBadCount;
  for (let i: u32 = 0; i < count; i++) {
    if (p + 2 > end) return -F.kErrTruncated;
    const partLength = <u32>load<u16>(p);
    p += 2;
    if (partLength < 1) return -F.kErrBadLength;
    if (p + partLength > end) return -F.kErrTruncated;
    const partType = <u32>load<u8>(p);
    if (partType == F.kTypeCompound) return -F.kErrNestedCompound;
    const r = decodeBody(tape, th, partType, p + 1, p + partLength);
    if (r < 0) return r;
    p += partLength;
  }
  if (p != end) return -F.kErrBadLength;
  return <i32>count;
}

/** Decodes one message body into the next tape record; returns 0 or a negated error. */
function decodeBody(tape: u32, th: u32, type: u32, start: u32, end: u32): i32 {
  if (type == F.kTypeInvalid || type >= <u32>F.kTypeLimit) return -F.kErrUnknownType;
  const index = tapeField(th, F.kTapeMessageCountField);
  if (index >= tapeField(th, F.kTapeMessageCapacityField)) return -F.kErrTapeFull;
  const m = tape + F.kTapeHeaderBytes + index * F.kTapeMessageBytes;
  // kTapeMessageBytes = 80 = 5 x 16
  const z = i32x4.splat(0);
  v128.store(m, z, 0);
  v128.store(m, z, 16);
  v128.store(m, z, 32);
  v128.store(m, z, 48);
  v128.store(m, z, 64);
  store<u8>(m, <u8>type, F.kMsgType);
  setTapeField(th, F.kTapeMessageCountField, index + 1);
  let p = start;
  switch (type) {
    case F.kTypePing: {
      if (p + 20 > end) return -F.kErrTruncated;
      store<u32>(m, load<u32>(p), F.kMsgSeq);
      copyId(p + 4, m + F.kMsgNodeHigh);
      copyId(p + 12, m + F.kMsgFromHigh);
      p = readAddress(p + 20, end, m + F.kMsgFamilyB, m + F.kMsgAddressB, m + F.kMsgPortB);
      break;
    }
    case F.kTypeIndirectPing: {
      if (p + 13 > end) return -F.kErrTruncated;
      store<u32>(m, load<u32>(p), F.kMsgSeq);
      store<u8>(m, load<u8>(p, 4), F.kMsgFlags);
      copyId(p + 5, m + F.kMsgNodeHigh);
      p = readAddress(p + 13, end, m + F.kMsgFamilyA, m + F.kMsgAddressA, m + F.kMsgPortA);
      if (failed(p)) return <i32>p;
      if (p + 8 > end) return -F.kErrTruncated;
      copyId(p, m + F.kMsgFromHigh);
      p = readAddress(p + 8, end, m + F.kMsgFamilyB, m + F.kMsgAddressB, m + F.kMsgPortB);
      break;
    }
    case F.kTypeAck: {
      if (p + 12 > end) return -F.kErrTruncated;
      store<u32>(m, load<u32>(p), F.kMsgSeq);
      copyId(p + 4, m + F.kMsgFromHigh);
      p = readPayload(tape, th, p + 12, end, m, F.kAckPayloadBytesMax);
      break;
    }
    case F.kTypeNack: {
      if (p + 12 > end) return -F.kErrTruncated;
      store<u32>(m, load<u32>(p), F.kMsgSeq);
      copyId(p + 4, m + F.kMsgFromHigh);
      p += 12;
      break;
    }
    case F.kTypeSuspect:
    case F.kTypeDead: {
      if (p + 20 > end) return -F.kErrTruncated;
      store<u32>(m, load<u32>(p), F.kMsgIncarnation);
      copyId(p + 4, m + F.kMsgNodeHigh);
      copyId(p + 12, m + F.kMsgFromHigh);
      p += 20;
      break;
    }
    case F.kTypeAlive:
    case F.kTypeJoin: {
      if (p + 12 > end) return -F.kErrTruncated;
      store<u32>(m, load<u32>(p), F.kMsgIncarnation);
      copyId(p + 4, m + F.kMsgNodeHigh);
      p = readAddress(p + 12, end, m + F.kMsgFamilyA, m + F.kMsgAddressA, m + F.kMsgPortA);
      if (failed(p)) return <i32>p;
      p = readPayload(tape, th, p, end, m, F.kMetaBytesMax);
      break;
    }
    case F.kTypeLeave: {
      if (p + 12 > end) return -F.kErrTruncated;
      store<u32>(m, load<u32>(p), F.kMsgIncarnation);
      copyId(p + 4, m + F.kMsgNodeHigh);
      p += 12;
      break;
    }
    case F.kTypePushPullDigest: {
      p = readEntries(tape, th, p, end, m, false);
      break;
    }
    case F.kTypePushPullState: {
      p = readEntries(tape, th, p, end, m, true);
      break;
    }
    case F.kTypeUser: {
      p = readPayload(tape, th, p, end, m, F.kUserPayloadBytesMax);
      break;
    }
    case F.kTypePushPullSummary: {
      p = readSummary(tape, th, p, end, m);
      break;
    }
    default:
      return -F.kErrUnknownType;
  }
  if (failed(p)) return <i32>p;
  if (p != end) return -F.kErrBadLength;
  return 0;
}

/** Reads an ADDR; writes family, address bytes (the record is already zeroed) and port. */
@inline function readAddress(p: u32, end: u32, family: u32, address: u32, port: u32): u32 {
  if (failed(p)) return p;
  if (p + 1 > end) return fail(F.kErrTruncated);
  const f = <u32>load<u8>(p);
  p += 1;
  if (f == F.kFamilyNone) return p;
  const size = addressSize(f);
  if (size < 0) return fail(F.kErrBadAddress);
  if (p + <u32>size + 2 > end) return fail(F.kErrTruncated);
  store<u8>(family, <u8>f);
  copyAddress(address, p, <u32>size);
  store<u16>(port, load<u16>(p + <u32>size));
  return p + <u32>size + 2;
}

/** Reads a u16-length payload into the tape's payload area and records it on message m. */
function readPayload(tape: u32, th: u32, p: u32, end: u32, m: u32, max: u32): u32 {
  if (failed(p)) return p;
  if (p + 2 > end) return fail(F.kErrTruncated);
  const length = <u32>load<u16>(p);
  p += 2;
  if (length > max) return fail(F.kErrFieldTooLarge);
  if (p + length > end) return fail(F.kErrTruncated);
  const offset = takePayload(tape, th, p, length);
  if (failed(offset)) return offset;
  store<u32>(m, offset, F.kMsgPayloadOffset);
  store<u32>(m, length, F.kMsgPayloadLength);
  return p + length;
}

/** Copies bytes into the tape's payload area; returns their offset in it, or an error. */
@inline function takePayload(tape: u32, th: u32, from: u32, length: u32): u32 {
  const used = tapeField(th, F.kTapePayloadUsedField);
  if (<u64>used + <u64>length > <u64>tapeField(th, F.kTapePayloadCapacityField)) return fail(F.kErrTapeFull);
  const area = tape + tapeField(th, F.kTapePayloadOffsetField);
  memory.copy(area + used, from, length);
  setTapeField(th, F.kTapePayloadUsedField, used + length);
  return used;
}

/** True when a summary's bucket count is a power of two from 1 to kSummaryBucketsMax. */
@inline function isBucketCount(count: u32): bool {
  return count >= 1 && count <= <u32>F.kSummaryBucketsMax && (count & (count - 1)) == 0;
}

/**
 * Reads a PUSH_PULL_SUMMARY body: flags to kMsgFlags, bucketCount to kMsgSeq,
 * memberCount to kMsgIncarnation, the hashes (raw bytes) into the payload area.
 */
@inline function readSummary(tape: u32, th: u32, p: u32, end: u32, m: u32): u32 {
  if (p + 7 > end) return fail(F.kErrTruncated);
  const buckets = <u32>load<u16>(p, 1);
  store<u8>(m, load<u8>(p), F.kMsgFlags);
  store<u32>(m, buckets, F.kMsgSeq);
  store<u32>(m, load<u32>(p, 3), F.kMsgIncarnation);
  p += 7;
  if (!isBucketCount(buckets)) return fail(F.kErrBadCount);
  const length = buckets << 2;
  if (p + length > end) return fail(F.kErrTruncated);
  const offset = takePayload(tape, th, p, length);
  if (failed(offset)) return offset;
  store<u32>(m, offset, F.kMsgPayloadOffset);
  store<u32>(m, length, F.kMsgPayloadLength);
  return p + length;
}

/** ID 8, family 1, incarnation 4, heartbeat 4, status 1. */
const kEntryBytesMin: u32 = 18;

@inline function readEntries(tape: u32, th: u32, p: u32, end: u32, m: u32, withMeta: bool): u32 {
  if (p + 5 > end) return fail(F.kErrTruncated);
  store<u8>(m, load<u8>(p), F.kMsgFlags);
  const count = load<u32>(p, 1);
  p += 5;
  if (count > (end - p) / kEntryBytesMin) return fail(F.kErrBadCount);
  const first = tapeField(th, F.kTapeEntryCountField);
  if (<u64>first + <u64>count > <u64>tapeField(th, F.kTapeEntryCapacityField)) return fail(F.kErrTapeFull);
  store<u32>(m, first, F.kMsgEntryStart);
  store<u32>(m, count, F.kMsgEntryCount);
  const entries = tape + tapeField(th, F.kTapeEntriesOffsetField);
  const z = i32x4.splat(0);
  for (let i: u32 = 0; i < count; i++) {
    const e = entries + (first + i) * F.kTapeEntryBytes;
    // kTapeEntryBytes = 48 = 3 x 16
    v128.store(e, z, 0);
    v128.store(e, z, 16);
    v128.store(e, z, 32);
    if (p + 8 > end) return fail(F.kErrTruncated);
    copyId(p, e + F.kEntryIdHigh);
    p = readAddress(p + 8, end, e + F.kEntryFamily, e + F.kEntryAddress, e + F.kEntryPort);
    if (failed(p)) return p;
    if (p + 9 > end) return fail(F.kErrTruncated);
    store<u32>(e, load<u32>(p), F.kEntryIncarnation);
    store<u32>(e, load<u32>(p, 4), F.kEntryHeartbeat);
    const status = <u32>load<u8>(p, 8);
    if (status == F.kStatusEmpty || status >= <u32>F.kStatusLimit) return fail(F.kErrBadStatus);
    store<u8>(e, <u8>status, F.kEntryStatus);
    p += 9;
    if (withMeta) {
      if (p + 2 > end) return fail(F.kErrTruncated);
      const length = <u32>load<u16>(p);
      p += 2;
      if (length > <u32>F.kMetaBytesMax) return fail(F.kErrFieldTooLarge);
      if (p + length > end) return fail(F.kErrTruncated);
      const offset = takePayload(tape, th, p, length);
      if (failed(offset)) return offset;
      store<u32>(e, offset, F.kEntryMetaOffset);
      store<u32>(e, length, F.kEntryMetaLength);
      p += length;
    }
    setTapeField(th, F.kTapeEntryCountField, first + i + 1);
  }
  return p;
}

// ---------------------------------------------------------------------------------
// Encoding

/**
 * out + limit - kChecksumBytes without wrapping (clamped to the 32-bit address space);
 * the caller has checked limit >= kHeaderBytes + kChecksumBytes. An if/else rather
 * than a select, so that V8 computes it once instead of at each use inside a loop.
 */
@inline function capEndOf(out: u32, limit: u32): u32 {
  let capEnd: u32;
  if (limit <= ~out) capEnd = out + limit - F.kChecksumBytes;
  else capEnd = 0xffffffff;
  return capEnd;
}

/** Encodes every message on the tape into one datagram at `out`; returns its length. */
export function encode(tape: u32, out: u32, limit: u32): i32 {
  const th = tape & ~3;
  const count = tapeField(th, F.kTapeMessageCountField);
  if (count == 0 || count > <u32>F.kCompoundPartsMax) return -F.kErrBadCount;
  if (limit < <u32>(F.kHeaderBytes + F.kChecksumBytes)) return -F.kErrTooLarge;
  const capEnd = capEndOf(out, limit);
  store<u8>(out, F.kMagic0);
  store<u8>(out, F.kMagic1, 1);
  store<u8>(out, F.kProtocolVersion, 2);
  let p = out + F.kHeaderBytes;
  const messages = tape + F.kTapeHeaderBytes;
  if (count == 1) {
    // A lone message's type byte is the header's fourth byte, its body follows.
    p = encodeBody(tape, th, messages, out + 3, capEnd);
  } else {
    store<u8>(out, F.kTypeCompound, 3);
    if (p + 1 > capEnd) return -F.kErrTooLarge;
    store<u8>(p, <u8>count);
    p += 1;
    for (let i: u32 = 0; i < count; i++) {
      const lengthAt = p;
      if (p + 2 > capEnd) return -F.kErrTooLarge;
      p = encodeBody(tape, th, messages + i * F.kTapeMessageBytes, p + 2, capEnd);
      if (failed(p)) return <i32>p;
      const partLength = p - lengthAt - 2;
      if (partLength > 0xffff) return -F.kErrTooLarge;
      store<u16>(lengthAt, <u16>partLength);
    }
  }
  if (failed(p)) return <i32>p;
  store<u32>(p, datagramChecksumOf(out, p - out));
  return <i32>(p + F.kChecksumBytes - out);
}

/** Writes one message's type byte and body at p; returns the new position or an error. */
function encodeBody(tape: u32, th: u32, m: u32, p: u32, capEnd: u32): u32 {
  const type = <u32>load<u8>(m, F.kMsgType);
  if (type == F.kTypeCompound) return fail(F.kErrNestedCompound);
  if (type == F.kTypeInvalid || type >= <u32>F.kTypeLimit) return fail(F.kErrUnknownType);
  if (p + 1 > capEnd) return fail(F.kErrTooLarge);
  store<u8>(p, <u8>type);
  p += 1;
  switch (type) {
    case F.kTypePing: {
      if (p + 20 > capEnd) return fail(F.kErrTooLarge);
      store<u32>(p, load<u32>(m, F.kMsgSeq));
      copyId(m + F.kMsgNodeHigh, p + 4);
      copyId(m + F.kMsgFromHigh, p + 12);
      return writeAddress(p + 20, capEnd, m + F.kMsgFamilyB, m + F.kMsgAddressB, m + F.kMsgPortB);
    }
    case F.kTypeIndirectPing: {
      if (p + 13 > capEnd) return fail(F.kErrTooLarge);
      store<u32>(p, load<u32>(m, F.kMsgSeq));
      store<u8>(p, load<u8>(m, F.kMsgFlags), 4);
      copyId(m + F.kMsgNodeHigh, p + 5);
      p = writeAddress(p + 13, capEnd, m + F.kMsgFamilyA, m + F.kMsgAddressA, m + F.kMsgPortA);
      if (failed(p)) return p;
      if (p + 8 > capEnd) return fail(F.kErrTooLarge);
      copyId(m + F.kMsgFromHigh, p);
      return writeAddress(p + 8, capEnd, m + F.kMsgFamilyB, m + F.kMsgAddressB, m + F.kMsgPortB);
    }
    case F.kTypeAck: {
      if (p + 12 > capEnd) return fail(F.kErrTooLarge);
      store<u32>(p, load<u32>(m, F.kMsgSeq));
      copyId(m + F.kMsgFromHigh, p + 4);
      return writePayload(tape, th, p + 12, capEnd, m, F.kAckPayloadBytesMax);
    }
    case F.kTypeNack: {
      if (p + 12 > capEnd) return fail(F.kErrTooLarge);
      store<u32>(p, load<u32>(m, F.kMsgSeq));
      copyId(m + F.kMsgFromHigh, p + 4);
      return p + 12;
    }
    case F.kTypeSuspect:
    case F.kTypeDead: {
      if (p + 20 > capEnd) return fail(F.kErrTooLarge);
      store<u32>(p, load<u32>(m, F.kMsgIncarnation));
      copyId(m + F.kMsgNodeHigh, p + 4);
      copyId(m + F.kMsgFromHigh, p + 12);
      return p + 20;
    }
    case F.kTypeAlive:
    case F.kTypeJoin: {
      if (p + 12 > capEnd) return fail(F.kErrTooLarge);
      store<u32>(p, load<u32>(m, F.kMsgIncarnation));
      copyId(m + F.kMsgNodeHigh, p + 4);
      p = writeAddress(p + 12, capEnd, m + F.kMsgFamilyA, m + F.kMsgAddressA, m + F.kMsgPortA);
      if (failed(p)) return p;
      return writePayload(tape, th, p, capEnd, m, F.kMetaBytesMax);
    }
    case F.kTypeLeave: {
      if (p + 12 > capEnd) return fail(F.kErrTooLarge);
      store<u32>(p, load<u32>(m, F.kMsgIncarnation));
      copyId(m + F.kMsgNodeHigh, p + 4);
      return p + 12;
    }
    case F.kTypePushPullDigest:
      return writeEntries(tape, th, p, capEnd, m, false);
    case F.kTypePushPullState:
      return writeEntries(tape, th, p, capEnd, m, true);
    case F.kTypeUser:
      return writePayload(tape, th, p, capEnd, m, F.kUserPayloadBytesMax);
    case F.kTypePushPullSummary:
      return writeSummary(tape, th, p, capEnd, m);
    default:
      return fail(F.kErrUnknownType);
  }
}

@inline function writeAddress(p: u32, capEnd: u32, family: u32, address: u32, port: u32): u32 {
  const f = <u32>load<u8>(family);
  if (p + 1 > capEnd) return fail(F.kErrTooLarge);
  if (f == F.kFamilyNone) {
    store<u8>(p, 0);
    return p + 1;
  }
  const size = addressSize(f);
  if (size < 0) return fail(F.kErrBadAddress);
  if (p + 1 + <u32>size + 2 > capEnd) return fail(F.kErrTooLarge);
  store<u8>(p, <u8>f);
  copyAddress(p + 1, address, <u32>size);
  store<u16>(p + 1 + <u32>size, load<u16>(port));
  return p + 1 + <u32>size + 2;
}

@inline function writePayload(tape: u32, th: u32, p: u32, capEnd: u32, m: u32, max: u32): u32 {
  const offset = load<u32>(m, F.kMsgPayloadOffset);
  const length = load<u32>(m, F.kMsgPayloadLength);
  return writeBytes(tape, th, p, capEnd, offset, length, max);
}

/** Writes a u16 length and that many bytes from the tape's payload area. */
function writeBytes(tape: u32, th: u32, p: u32, capEnd: u32, offset: u32, length: u32, max: u32): u32 {
  if (length > max) return fail(F.kErrFieldTooLarge);
  if (<u64>offset + <u64>length > <u64>tapeField(th, F.kTapePayloadCapacityField)) return fail(F.kErrBadLength);
  if (p + 2 + length > capEnd) return fail(F.kErrTooLarge);
  store<u16>(p, <u16>length);
  const area = tape + tapeField(th, F.kTapePayloadOffsetField);
  memory.copy(p + 2, area + offset, length);
  return p + 2 + length;
}

/** Writes a PUSH_PULL_SUMMARY body from its tape record (mapping in format.ts). */
@inline function writeSummary(tape: u32, th: u32, p: u32, capEnd: u32, m: u32): u32 {
  if (p + 7 > capEnd) return fail(F.kErrTooLarge);
  const buckets = load<u32>(m, F.kMsgSeq);
  const offset = load<u32>(m, F.kMsgPayloadOffset);
  const length = load<u32>(m, F.kMsgPayloadLength);
  if (<u64>length != <u64>buckets << 2) return fail(F.kErrBadLength);
  if (!isBucketCount(buckets)) return fail(F.kErrBadCount);
  if (<u64>offset + <u64>length > <u64>tapeField(th, F.kTapePayloadCapacityField)) return fail(F.kErrBadLength);
  if (p + 7 + length > capEnd) return fail(F.kErrTooLarge);
  store<u8>(p, load<u8>(m, F.kMsgFlags));
  store<u16>(p, <u16>buckets, 1);
  store<u32>(p, load<u32>(m, F.kMsgIncarnation), 3);
  const area = tape + tapeField(th, F.kTapePayloadOffsetField);
  memory.copy(p + 7, area + offset, length);
  return p + 7 + length;
}

@inline function writeEntries(tape: u32, th: u32, p: u32, capEnd: u32, m: u32, withMeta: bool): u32 {
  const first = load<u32>(m, F.kMsgEntryStart);
  const count = load<u32>(m, F.kMsgEntryCount);
  if (<u64>first + <u64>count > <u64>tapeField(th, F.kTapeEntryCountField)) return fail(F.kErrBadCount);
  if (p + 5 > capEnd) return fail(F.kErrTooLarge);
  store<u8>(p, load<u8>(m, F.kMsgFlags));
  store<u32>(p, count, 1);
  p += 5;
  const entries = tape + tapeField(th, F.kTapeEntriesOffsetField);
  for (let i: u32 = 0; i < count; i++) {
    const e = entries + (first + i) * F.kTapeEntryBytes;
    if (p + 8 > capEnd) return fail(F.kErrTooLarge);
    copyId(e + F.kEntryIdHigh, p);
    p = writeAddress(p + 8, capEnd, e + F.kEntryFamily, e + F.kEntryAddress, e + F.kEntryPort);
    if (failed(p)) return p;
    const status = <u32>load<u8>(e, F.kEntryStatus);
    if (status == F.kStatusEmpty || status >= <u32>F.kStatusLimit) return fail(F.kErrBadStatus);
    if (p + 9 > capEnd) return fail(F.kErrTooLarge);
    store<u32>(p, load<u32>(e, F.kEntryIncarnation));
    store<u32>(p, load<u32>(e, F.kEntryHeartbeat), 4);
    store<u8>(p, <u8>status, 8);
    p += 9;
    if (withMeta) {
      const offset = load<u32>(e, F.kEntryMetaOffset);
      const length = load<u32>(e, F.kEntryMetaLength);
      p = writeBytes(tape, th, p, capEnd, offset, length, F.kMetaBytesMax);
      if (failed(p)) return p;
    }
  }
  return p;
}
