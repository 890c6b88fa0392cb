// The channel pack kernels, AssemblyScript twin of
// src/core/cluster-channels/ts-pack-kernels.ts: a cluster multicast's pack of channel
// messages written from a record list (packRecords) or from header fields and bodies
// (packMessages: the channel header, vector clock and body of each message written
// straight into the pack), and a pack's records found (unpackRecords).
//
// Results must match the TypeScript kernels bit for bit: the same checks in the same
// order, the same negated kPackErr* codes, the same bytes. Pointers are u32 byte
// offsets into the one (imported, shared) memory; lists and outputs of u32 words are
// aligned down to 4, as the TypeScript typed-array indexing does. The pack kernels write
// nothing when their result is negative; unpackRecords may have written the entries of
// the records before the fault (so does the TypeScript twin). No allocation: only
// loads, stores and memory.copy.

import * as L from "../src/core/cluster-channels/pack-layout";

const kRecordBytesLimit: u32 = (1 << 28) - 1;

@inline function varintBytes(n: u32): u32 {
  return n < (1 << 7) ? 1 : n < (1 << 14) ? 2 : n < (1 << 21) ? 3 : 4;
}

@inline function writeVarint(at: u32, n: u32): u32 {
  while (n >= 0x80) {
    store<u8>(at++, <u8>((n & 0x7f) | 0x80));
    n >>>= 7;
  }
  store<u8>(at++, <u8>n);
  return at;
}

@inline function word(list: u32, index: u32): u32 {
  return load<u32>(list + (index << 2));
}

/**
 * Writes the pack of `count` records (list: per record its pointer and length) at
 * `out`; returns its length, or -kPackErrBadRecord for a record of 0 or 2^28 bytes or
 * more, or -kPackErrOverflow when it would pass `limit` bytes.
 */
export function packRecords(list: u32, count: u32, out: u32, limit: u32): i32 {
  const l = list & ~3;
  let total: u64 = 1;
  for (let i: u32 = 0; i < count; i++) {
    const length = word(l, i * L.kRecordWords + 1);
    if (length == 0 || length > kRecordBytesLimit) return -L.kPackErrBadRecord;
    total += <u64>(varintBytes(length) + length);
    if (total > <u64>limit) return -L.kPackErrOverflow;
  }
  store<u8>(out, <u8>L.kPackTagByte);
  let at = out + 1;
  for (let i: u32 = 0; i < count; i++) {
    const pointer = word(l, i * L.kRecordWords);
    const length = word(l, i * L.kRecordWords + 1);
    at = writeVarint(at, length);
    memory.copy(at, pointer, length);
    at += length;
  }
  return <i32>total;
}

/**
 * Writes the pack of `count` channel messages (list: kMessageWords words each, see
 * pack-layout.ts) at `out`, each record the 28-byte channel header, the vector clock and
 * the body; returns its length, or -kPackErrBadClock, -kPackErrBadRecord or
 * -kPackErrOverflow.
 */
export function packMessages(list: u32, count: u32, out: u32, limit: u32): i32 {
  const l = list & ~3;
  let total: u64 = 1;
  for (let i: u32 = 0; i < count; i++) {
    const m = i * L.kMessageWords;
    const clockLength = word(l, m + L.kMessageClockLengthField);
    if (clockLength > 255) return -L.kPackErrBadClock;
    const length = <u64>L.kChannelHeaderBytes + ((<u64>clockLength) << 2) + <u64>word(l, m + L.kMessageBodyLengthField);
    if (length > <u64>kRecordBytesLimit) return -L.kPackErrBadRecord;
    total += <u64>(varintBytes(<u32>length) + <u32>length);
    if (total > <u64>limit) return -L.kPackErrOverflow;
  }
  store<u8>(out, <u8>L.kPackTagByte);
  let at = out + 1;
  for (let i: u32 = 0; i < count; i++) {
    const m = i * L.kMessageWords;
    const clockLength = word(l, m + L.kMessageClockLengthField);
    const bodyLength = word(l, m + L.kMessageBodyLengthField);
    at = writeVarint(at, L.kChannelHeaderBytes + (clockLength << 2) + bodyLength);
    const fragment = word(l, m + L.kMessageFragmentField);
    store<u8>(at, <u8>L.kChannelHeaderVersion);
    store<u8>(at + 1, <u8>word(l, m + L.kMessageKindField));
    store<u8>(at + 2, <u8>word(l, m + L.kMessageConfigField));
    store<u8>(at + 3, 0);
    store<u32>(at + 4, word(l, m + L.kMessageViewIdField));
    store<u32>(at + 8, word(l, m + L.kMessageChannelIdField));
    store<u32>(at + 12, word(l, m + L.kMessageSeqField));
    store<u16>(at + 16, <u16>(fragment & 0xffff));
    store<u16>(at + 18, <u16>(fragment >>> 16));
    store<u32>(at + 20, word(l, m + L.kMessageBytesField));
    store<u32>(at + 24, clockLength);
    at += L.kChannelHeaderBytes;
    const clockBytes = clockLength << 2;
    if (clockBytes > 0) {
      memory.copy(at, word(l, m + L.kMessageClockField), clockBytes);
      at += clockBytes;
    }
    memory.copy(at, word(l, m + L.kMessageBodyField), bodyLength);
    at += bodyLength;
  }
  return <i32>total;
}

/**
 * Finds the records of the pack of `length` bytes at `pack`: writes per record its
 * offset from `pack` and its length at `out` (two u32 words each) and returns their
 * count; -kPackErrBadTag, -kPackErrTooMany (over recordsMax or outCapacity records),
 * -kPackErrBadLength or -kPackErrTruncated otherwise, checked in decodePack's order.
 */
export function unpackRecords(pack: u32, length: u32, recordsMax: u32, out: u32, outCapacity: u32): i32 {
  if (length < 2 || load<u8>(pack) != L.kPackTagByte) return -L.kPackErrBadTag;
  const o = out & ~3;
  let count: u32 = 0;
  let at: u32 = 1;
  while (at < length) {
    if (count >= recordsMax || count >= outCapacity) return -L.kPackErrTooMany;
    let record: u32 = 0;
    for (let shift: u32 = 0; ; shift += 7) {
      if (shift > 21 || at >= length) return -L.kPackErrBadLength;
      const b = <u32>load<u8>(pack + at++);
      record |= (b & 0x7f) << shift;
      if (b < 0x80) break;
    }
    if (record == 0 || <u64>at + <u64>record > <u64>length) return -L.kPackErrTruncated;
    store<u32>(o + (count << 3), at);
    store<u32>(o + (count << 3) + 4, record);
    count++;
    at += record;
  }
  return <i32>count;
}
