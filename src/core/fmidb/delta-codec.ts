import { ByteReader } from './byte-reader.js';
import type { EntryView, FmidbValue } from './entry.js';
import { fingerprintOf } from './fingerprint.js';
import type { MessageWriter } from './message-writer.js';
import type { Utf8Cache } from './utf8-cache.js';
import { kVarintLimit, unzigzag, varintBytes, writeVarint, zigzag } from './varint.js';
import * as W from './wire-format.js';

/**
 * The DELTA message (wire-format.ts): groups of entries, one group per origin. The
 * encoder sizes each group before writing it, so a group is either whole in a message
 * or not in it; the parser validates a whole message before anything is applied.
 */

/** Integers up to this magnitude travel as zigzag varints; larger numbers as doubles. */
const kIntegerMagnitudeMax = 2 ** 52 - 1;

/** One parsed group; its entries stay in the bytes until readEntries. */
export interface DeltaGroup {
  high: number;
  low: number;
  /** The origin's id when the group carries it, else null. */
  id: string | null;
  /** The origin's version the group brings the receiver to. */
  version: number;
  /** The group holds every entry with version > from; -1: every entry the sender has. */
  from: number;
  entryCount: number;
  entriesAt: number;
  entriesEnd: number;
}

/** Starts a DELTA body; `base` is the first group's version (later ones are relative to it). */
export function beginDelta(writer: MessageWriter, base: number): void {
  writer.u16(0);
  writer.f64(base);
}

/** Sets the group count of a finished DELTA body. */
export function endDelta(writer: MessageWriter, groupCount: number): void {
  writer.patchU16(W.kMessageHeaderBytes, groupCount);
}

/** Bytes a value takes on the wire, after the entry's flags. */
function valueBytes(value: FmidbValue, utf8: Utf8Cache): number {
  if (value === null) return 0;
  if (typeof value === 'string') {
    const n = utf8.bytes(value).length;
    return varintBytes(n) + n;
  }
  return isWireInteger(value) ? varintBytes(zigzag(value)) : 8;
}

function isWireInteger(value: number): boolean {
  return Number.isInteger(value) && Math.abs(value) <= kIntegerMagnitudeMax;
}

/** Bytes of one entry in a group whose version is groupVersion. */
export function entryBytes(entry: EntryView, originId: string, groupVersion: number, utf8: Utf8Cache): number {
  const subject = entry.subject === originId ? 0 : 1 + utf8.bytes(entry.subject).length;
  return 1 + subject + 1 + utf8.bytes(entry.key).length + valueBytes(entry.value, utf8) + varintBytes(groupVersion - entry.version);
}

/** Bytes of a group's head: all but its body (the entry count and the entries). */
export function groupHeadBytes(base: number, withId: string | null, version: number, from: number, utf8: Utf8Cache): number {
  const id = withId === null ? 0 : 1 + utf8.bytes(withId).length;
  return 6 + 1 + id + varintBytes(zigzag(version - base)) + varintBytes(from < 0 ? 0 : version - from);
}

/** True when a group's version can be written relative to the message base (|difference| < 2^52). */
export function fitsBase(base: number, version: number): boolean {
  return zigzag(version - base) < kVarintLimit;
}

/** Writes a group's head; its body (encodeGroupBody) follows. */
export function writeGroupHead(writer: MessageWriter, base: number, fp: { high: number; low: number }, originId: string, withId: boolean, version: number, from: number, utf8: Utf8Cache): void {
  writer.u16(fp.high);
  writer.u32(fp.low);
  writer.u8(withId ? W.kGroupFlagId : 0);
  if (withId) {
    const id = utf8.bytes(originId);
    writer.u8(id.length);
    writer.bytes(id);
  }
  writer.varint(zigzag(version - base));
  writer.varint(from < 0 ? 0 : version - from);
}

/**
 * A group's body: the count of `entries[start, end)` and the entries (oldest first, all
 * with version in (from, version]). It depends only on the origin's entries and the
 * group's version, so a replica encodes it once for every peer it sends it to.
 */
export function encodeGroupBody(entries: readonly EntryView[], start: number, end: number, originId: string, version: number, utf8: Utf8Cache): Uint8Array {
  let size = varintBytes(end - start);
  for (let i = start; i < end; i++) size += entryBytes(entries[i]!, originId, version, utf8);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let p = writeVarint(out, 0, end - start);
  for (let i = start; i < end; i++) {
    const e = entries[i]!;
    const value = e.value;
    const kind = value === null ? W.kValueNull : typeof value === 'string' ? W.kValueString : isWireInteger(value) ? W.kValueInteger : W.kValueFloat;
    const subjectIsOrigin = e.subject === originId;
    out[p++] = (subjectIsOrigin ? W.kEntryFlagSubjectIsOrigin : 0) | (kind << 1);
    if (!subjectIsOrigin) p = writeBytes(out, p, utf8.bytes(e.subject));
    p = writeBytes(out, p, utf8.bytes(e.key));
    if (kind === W.kValueFloat) {
      view.setFloat64(p, value as number, true);
      p += 8;
    } else if (kind === W.kValueInteger) p = writeVarint(out, p, zigzag(value as number));
    else if (kind === W.kValueString) {
      const v = utf8.bytes(value as string);
      p = writeVarint(out, p, v.length);
      out.set(v, p);
      p += v.length;
    }
    p = writeVarint(out, p, version - e.version);
  }
  if (p !== size) throw new Error(`group body sized ${size} bytes, wrote ${p}`);
  return out;
}

/** A length byte and the bytes. */
function writeBytes(out: Uint8Array, p: number, bytes: Uint8Array): number {
  out[p] = bytes.length;
  out.set(bytes, p + 1);
  return p + 1 + bytes.length;
}

/**
 * Parses a DELTA message's structure into `out` (cleared first): every length, count,
 * version and ordering rule, and that an id matches its fingerprint. Entry strings are
 * decoded later (readEntries). Returns false, with `out` to be ignored, when malformed.
 */
export function parseDelta(bytes: Uint8Array, out: DeltaGroup[], groupsMax: number): boolean {
  out.length = 0;
  const r = new ByteReader(bytes, W.kMessageHeaderBytes);
  const count = r.u16();
  const base = r.f64();
  if (!r.ok || count === 0 || count > groupsMax || !isVersion(base)) return false;
  for (let g = 0; g < count; g++) {
    const high = r.u16();
    const low = r.u32();
    const flags = r.u8();
    if ((flags & ~W.kGroupFlagId) !== 0) return false;
    let id: string | null = null;
    if ((flags & W.kGroupFlagId) !== 0) {
      const n = r.u8();
      if (n === 0) return false;
      id = r.utf8(n);
      if (!r.ok) return false;
      const fp = fingerprintOf(id);
      if (fp.high !== high || fp.low !== low) return false;
    }
    const version = base + unzigzag(r.varint());
    const fromDelta = r.varint();
    const entryCount = r.varint();
    if (!r.ok || !isVersion(version) || fromDelta > version) return false;
    const from = fromDelta === 0 ? -1 : version - fromDelta;
    // Every entry takes at least 4 bytes (flags, key length, a key byte, its age).
    if (entryCount > (r.end - r.pos) / 4) return false;
    const entriesAt = r.pos;
    let lastAge = Infinity;
    for (let i = 0; i < entryCount; i++) {
      const entryFlags = r.u8();
      if (entryFlags > 7) return false;
      if ((entryFlags & W.kEntryFlagSubjectIsOrigin) === 0) {
        const n = r.u8();
        if (n === 0) return false;
        r.skip(n);
      }
      const keyLength = r.u8();
      if (keyLength === 0) return false;
      r.skip(keyLength);
      const kind = entryFlags >>> 1;
      if (kind === W.kValueFloat) {
        const v = r.f64();
        if (!Number.isFinite(v)) return false;
      } else if (kind === W.kValueInteger) r.varint();
      else if (kind === W.kValueString) r.skip(r.varint());
      const age = r.varint();
      if (!r.ok || age > lastAge || age >= version - from) return false;
      lastAge = age;
    }
    out.push({ high, low, id, version, from, entryCount, entriesAt, entriesEnd: r.pos });
  }
  return r.ok && r.pos === r.end;
}

function isVersion(v: number): boolean {
  return v >= 0 && v < kVarintLimit && Math.floor(v) === v;
}

/**
 * Decodes a parsed group's entries, appending them to `out`; false when a string is
 * not valid UTF-8 (the message is then malformed and nothing of it is applied).
 */
export function readEntries(bytes: Uint8Array, group: DeltaGroup, originId: string, out: EntryView[]): boolean {
  const r = new ByteReader(bytes, group.entriesAt, group.entriesEnd);
  for (let i = 0; i < group.entryCount; i++) {
    const flags = r.u8();
    const subject = (flags & W.kEntryFlagSubjectIsOrigin) !== 0 ? originId : r.utf8(r.u8());
    const key = r.utf8(r.u8());
    const kind = flags >>> 1;
    let value: FmidbValue = null;
    if (kind === W.kValueFloat) value = r.f64() + 0; // + 0 turns -0 into 0, as local writes do
    else if (kind === W.kValueInteger) value = unzigzag(r.varint());
    else if (kind === W.kValueString) value = r.utf8(r.varint());
    const version = group.version - r.varint();
    // The fatal decoder refuses encoded surrogates, so every string here is well formed.
    if (!r.ok) return false;
    out.push({ subject, key, value, version });
  }
  return r.ok;
}
