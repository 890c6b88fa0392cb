import { ClusterChannelsError } from './cluster-channels-error.js';

/**
 * The payload of every cluster multicast a ClusterChannels core makes: one or more
 * channel-layer messages packed back to back, so that a burst of small messages (a
 * credit refresh releasing a window, a backlog built while the cluster core's window
 * was full, the sequencer's order messages) costs one cluster message, one sequence
 * number of the cluster core's window and one datagram per member, not one each.
 *
 *   u8 0x50 ('P') | { varint length (LEB128, 1 to 4 bytes) | that many bytes }+
 *
 * Records are never empty; the count is implied by the end. The cluster core delivers a
 * pack reliably, FIFO and whole, so the records reach the layer in the order they were
 * packed: packing keeps every order the layer builds on the group's FIFO.
 */
export const kPackTag = 0x50;
/** A record's length is at most 2^28 - 1 bytes (four varint bytes); cluster payloads are at most 1 MiB. */
const kRecordBytesLimit = (1 << 28) - 1;

/** The bytes a record of `length` bytes adds to a pack. */
export function packRecordBytes(length: number): number {
  return varintBytes(length) + length;
}

/** The bytes of an empty pack (its tag). */
export const kPackHeaderBytes = 1;

/** Packs records (each non-empty) into one payload of exactly `1 + Σ packRecordBytes`. */
export function encodePack(records: readonly Uint8Array[]): Uint8Array {
  let total = kPackHeaderBytes;
  for (const r of records) {
    if (r.length === 0 || r.length > kRecordBytesLimit) throw new RangeError(`a pack record must be 1 to ${kRecordBytesLimit} bytes, got ${r.length}`);
    total += packRecordBytes(r.length);
  }
  const out = new Uint8Array(total);
  out[0] = kPackTag;
  let at = 1;
  for (const r of records) {
    let n = r.length;
    while (n >= 0x80) {
      out[at++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    out[at++] = n;
    out.set(r, at);
    at += r.length;
  }
  return out;
}

/**
 * The records of a pack, as views into `bytes` (no copies), at most recordsMax of
 * them; throws ClusterChannelsError GALAXY_CLUSTER_CHANNELS_PACK_MALFORMED otherwise.
 */
export function decodePack(bytes: Uint8Array, recordsMax: number): Uint8Array[] {
  if (bytes.length < 2 || bytes[0] !== kPackTag) malformed(bytes.length < 2 ? 'a pack too short' : `unknown pack tag ${String(bytes[0])}`);
  const out: Uint8Array[] = [];
  let at = 1;
  while (at < bytes.length) {
    if (out.length >= recordsMax) malformed(`more than ${recordsMax} records`);
    let length = 0;
    for (let shift = 0; ; shift += 7) {
      if (shift > 21 || at >= bytes.length) malformed('a truncated or overlong record length');
      const b = bytes[at++]!;
      length |= (b & 0x7f) << shift;
      if (b < 0x80) break;
    }
    if (length === 0 || at + length > bytes.length) malformed(length === 0 ? 'an empty record' : 'a truncated record');
    out.push(bytes.subarray(at, at + length));
    at += length;
  }
  return out;
}

function varintBytes(n: number): number {
  return n < 1 << 7 ? 1 : n < 1 << 14 ? 2 : n < 1 << 21 ? 3 : 4;
}

function malformed(why: string): never {
  throw new ClusterChannelsError('GALAXY_CLUSTER_CHANNELS_PACK_MALFORMED', why);
}
