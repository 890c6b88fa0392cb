// The channel pack kernels in TypeScript: the reference the Wasm twin (asm/channels.ts)
// must match bit for bit, and the fallback where Wasm is unavailable. See
// pack-layout.ts for the lists they read and write and the pack itself
// (cluster-channels-pack.ts). Results are a length or count, or a negated kPackErr*.
import type { MemoryViews } from '../runtime/memory-views.js';
import * as L from './pack-layout.js';

const kRecordBytesLimit = (1 << 28) - 1;

function varintBytes(n: number): number {
  return n < 1 << 7 ? 1 : n < 1 << 14 ? 2 : n < 1 << 21 ? 3 : 4;
}

function writeVarint(u8: Uint8Array, at: number, n: number): number {
  while (n >= 0x80) {
    u8[at++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  u8[at++] = n;
  return at;
}

export function packRecords(views: MemoryViews, list: number, count: number, out: number, limit: number): number {
  const u32 = views.u32;
  const u8 = views.u8;
  const l = (list >>> 2) & 0x3fffffff;
  let total = 1;
  for (let i = 0; i < count; i++) {
    const length = u32[l + i * L.kRecordWords + 1]!;
    if (length === 0 || length > kRecordBytesLimit) return -L.kPackErrBadRecord;
    total += varintBytes(length) + length;
    if (total > limit >>> 0) return -L.kPackErrOverflow;
  }
  u8[out] = L.kPackTagByte;
  let at = out + 1;
  for (let i = 0; i < count; i++) {
    const pointer = u32[l + i * L.kRecordWords]!;
    const length = u32[l + i * L.kRecordWords + 1]!;
    at = writeVarint(u8, at, length);
    u8.copyWithin(at, pointer, pointer + length);
    at += length;
  }
  return total;
}

export function packMessages(views: MemoryViews, list: number, count: number, out: number, limit: number): number {
  const u32 = views.u32;
  const u8 = views.u8;
  const dv = views.dv;
  const l = (list >>> 2) & 0x3fffffff;
  let total = 1;
  for (let i = 0; i < count; i++) {
    const m = l + i * L.kMessageWords;
    const clockLength = u32[m + L.kMessageClockLengthField]!;
    if (clockLength > 255) return -L.kPackErrBadClock;
    const length = L.kChannelHeaderBytes + clockLength * 4 + u32[m + L.kMessageBodyLengthField]!;
    if (length > kRecordBytesLimit) return -L.kPackErrBadRecord;
    total += varintBytes(length) + length;
    if (total > limit >>> 0) return -L.kPackErrOverflow;
  }
  u8[out] = L.kPackTagByte;
  let at = out + 1;
  for (let i = 0; i < count; i++) {
    const m = l + i * L.kMessageWords;
    const clockLength = u32[m + L.kMessageClockLengthField]!;
    const bodyLength = u32[m + L.kMessageBodyLengthField]!;
    at = writeVarint(u8, at, L.kChannelHeaderBytes + clockLength * 4 + bodyLength);
    const fragment = u32[m + L.kMessageFragmentField]!;
    u8[at] = L.kChannelHeaderVersion;
    u8[at + 1] = u32[m + L.kMessageKindField]!;
    u8[at + 2] = u32[m + L.kMessageConfigField]!;
    u8[at + 3] = 0;
    dv.setUint32(at + 4, u32[m + L.kMessageViewIdField]!, true);
    dv.setUint32(at + 8, u32[m + L.kMessageChannelIdField]!, true);
    dv.setUint32(at + 12, u32[m + L.kMessageSeqField]!, true);
    dv.setUint16(at + 16, fragment & 0xffff, true);
    dv.setUint16(at + 18, fragment >>> 16, true);
    dv.setUint32(at + 20, u32[m + L.kMessageBytesField]!, true);
    dv.setUint32(at + 24, clockLength, true);
    at += L.kChannelHeaderBytes;
    if (clockLength > 0) {
      const clock = u32[m + L.kMessageClockField]!;
      u8.copyWithin(at, clock, clock + clockLength * 4);
      at += clockLength * 4;
    }
    const body = u32[m + L.kMessageBodyField]!;
    u8.copyWithin(at, body, body + bodyLength);
    at += bodyLength;
  }
  return total;
}

export function unpackRecords(views: MemoryViews, pack: number, length: number, recordsMax: number, out: number, outCapacity: number): number {
  const u8 = views.u8;
  const u32 = views.u32;
  if (length < 2 || u8[pack] !== L.kPackTagByte) return -L.kPackErrBadTag;
  const o = (out >>> 2) & 0x3fffffff;
  let count = 0;
  let at = 1;
  while (at < length) {
    if (count >= recordsMax >>> 0 || count >= outCapacity >>> 0) return -L.kPackErrTooMany;
    let record = 0;
    for (let shift = 0; ; shift += 7) {
      if (shift > 21 || at >= length) return -L.kPackErrBadLength;
      const b = u8[pack + at++]!;
      record |= (b & 0x7f) << shift;
      if (b < 0x80) break;
    }
    if (record === 0 || at + record > length) return -L.kPackErrTruncated;
    u32[o + count * 2] = at;
    u32[o + count * 2 + 1] = record;
    count++;
    at += record;
  }
  return count;
}
