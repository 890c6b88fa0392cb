import type { MembershipTable } from '../table/membership-table.js';
import { hashId } from '../table/ts-table-kernels.js';
import * as F from '../wire/format.js';

/**
 * Push-pull summaries: the membership folded into bucket hashes, so two nodes whose
 * views agree learn it from a few kilobytes instead of swapping their whole state. A
 * member's hash covers id, incarnation and status (not the heartbeat, which changes all
 * the time and spreads by gossip); a bucket's hash is the wrapping sum of its members'
 * hashes, so it does not depend on row order. Only mismatched buckets are then sent.
 *
 * This keeps anti-entropy traffic per node nearly flat as the farm grows: a summary is
 * 4 bytes per 8 members, a full state about 26 bytes per member.
 */
export interface Summary {
  readonly bucketCount: number;
  readonly memberCount: number;
  readonly hashes: Uint32Array;
}

/** Buckets for a farm of `members`: about 8 members a bucket, a power of two, 1..4096. */
export function summaryBucketsFor(members: number): number {
  let count = 1;
  while (count * 8 < members && count < F.kSummaryBucketsMax) count *= 2;
  return count;
}

/** The bucket a member falls in (independent of the table's own hash slots). */
export function bucketOf(high: number, low: number, bucketCount: number): number {
  return hashId(low ^ 0x5bd1e995, high) & (bucketCount - 1);
}

export function memberHash(high: number, low: number, incarnation: number, status: number): number {
  let h = hashId(high, low);
  h = Math.imul(h ^ incarnation, 668265261);
  h ^= h >>> 15;
  h = Math.imul(h ^ status, 374761393);
  return (h ^ (h >>> 13)) >>> 0;
}

/** Folds the table into `bucketCount` bucket hashes. */
export function summarize(table: MembershipTable, bucketCount: number): Summary {
  const hashes = new Uint32Array(bucketCount);
  let memberCount = 0;
  const rows = table.rowCount;
  for (let row = 0; row < rows; row++) {
    const status = table.status[row]!;
    if (status === F.kStatusEmpty) continue;
    const high = table.idHigh[row]!;
    const low = table.idLow[row]!;
    const bucket = bucketOf(high, low, bucketCount);
    hashes[bucket] = (hashes[bucket]! + memberHash(high, low, table.incarnation[row]!, status)) >>> 0;
    memberCount++;
  }
  return { bucketCount, memberCount, hashes };
}

/** The buckets where two summaries of the same size differ, as a membership test. */
export function mismatchedBuckets(mine: Summary, theirs: Uint32Array): Uint8Array {
  const out = new Uint8Array(mine.bucketCount);
  for (let i = 0; i < mine.bucketCount; i++) out[i] = mine.hashes[i] === theirs[i] ? 0 : 1;
  return out;
}
