import type { Runtime } from '../runtime/runtime.js';
import * as F from './format.js';

/**
 * Assembles a datagram from pre-encoded message parts (type byte + body), the way
 * queued broadcasts are piggybacked: one part becomes a plain datagram, several a
 * compound. Writes into `out` in shared memory and returns the length, or a negated
 * kErr* code when the parts do not fit `limit`.
 *
 * The bytes are exactly what the codec's encode() gives for the same messages, so a
 * part made once by the codec (partOf) can be sent many times without re-encoding.
 * Only the first `count` parts are used (all by default): the datagram hot path reuses
 * one list and says how much of it is this datagram's.
 */
export function assembleParts(runtime: Runtime, out: number, parts: readonly Uint8Array[], limit: number, count = parts.length): number {
  if (count === 0 || count > F.kCompoundPartsMax || count > parts.length) return -F.kErrBadCount;
  const { u8, dv } = runtime.views;
  let size = F.kHeaderBytes + F.kChecksumBytes - 1;
  if (count === 1) size += parts[0]!.length;
  else for (let i = 0; i < count; i++) size += 2 + parts[i]!.length;
  if (count > 1) size += 2; // the compound type byte and the count
  if (size > limit) return -F.kErrTooLarge;
  u8[out] = F.kMagic0;
  u8[out + 1] = F.kMagic1;
  u8[out + 2] = F.kProtocolVersion;
  let p: number;
  if (count === 1) {
    u8.set(parts[0]!, out + 3);
    p = out + 3 + parts[0]!.length;
  } else {
    u8[out + 3] = F.kTypeCompound;
    u8[out + 4] = count;
    p = out + 5;
    for (let i = 0; i < count; i++) {
      const part = parts[i]!;
      dv.setUint16(p, part.length, true);
      u8.set(part, p + 2);
      p += 2 + part.length;
    }
  }
  dv.setUint32(p, runtime.kernels.datagramChecksum(out, p - out), true);
  return p + F.kChecksumBytes - out;
}

/** The part (type byte + body) inside a datagram holding a single message. */
export function partOf(datagram: Uint8Array): Uint8Array {
  return datagram.slice(3, datagram.length - F.kChecksumBytes);
}

/** Bytes a list of parts occupies as a datagram. */
export function assembledBytes(parts: readonly Uint8Array[], count = parts.length): number {
  if (count === 1) return F.kHeaderBytes + F.kChecksumBytes - 1 + parts[0]!.length;
  let size = F.kHeaderBytes + F.kChecksumBytes + 1;
  for (let i = 0; i < count; i++) size += 2 + parts[i]!.length;
  return size;
}
