/**
 * bench:path's rows for the per-event JavaScript that used to grow with N or with the
 * queue (issue 14 item 3), new against issue 14's starting point in one run:
 *  - the broadcast queue at the engine's bound (4,096 queued, the retransmit limit of
 *    10,000 members): µs per take (as every datagram does, a 1,400-byte room) with the
 *    queue refilled to its bound after each take, and µs per insert;
 *  - the ICMP report's "which member is this address": µs per lookup over a 10,000-member
 *    table with distinct addresses, the AddressIndex against the formatting scan.
 * CPU is process.cpuUsage over a timed loop after a warm-up, median of rounds.
 */
import { kLanConfig, retransmitLimit } from '../src/core/membership/config.js';
import { AddressIndex } from '../src/core/membership/address-index.js';
import { BroadcastQueue } from '../src/core/membership/broadcast-queue.js';
import { createRuntime } from '../src/core/kernels/create-runtime.js';
import { MembershipTable } from '../src/core/table/membership-table.js';
import * as F from '../src/core/wire/format.js';
import { formatWireAddress, parseWireAddress } from '../src/core/wire/message.js';
import { Tape, kDatagramTapeCapacity } from '../src/core/wire/tape.js';
import { BaselineBroadcastQueue } from './baseline-broadcast-queue.js';
import { scanRowOfAddress } from './baseline-row-of-address.js';

export interface StructureRow {
  readonly name: string;
  readonly members: number;
  readonly usNew: number;
  readonly usOld: number;
  readonly ratioNewToOld: number;
}

interface QueueLike {
  readonly length: number;
  queueMembership(key: string, part: Uint8Array): void;
  take(budgetBytes: number, partsMax: number, limit: number, userReserveBytes: number): readonly Uint8Array[];
}

const kQueued = kLanConfig.broadcastQueueLengthMax;
const kMembers = 10_000;
const kRoomBytes = 1_400;

function cpuUs(run: () => void, repeats: number, rounds: number): number {
  for (let i = 0; i < Math.max(1, repeats >> 2); i++) run();
  const results: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const before = process.cpuUsage();
    for (let i = 0; i < repeats; i++) run();
    const spent = process.cpuUsage(before);
    results.push((spent.user + spent.system) / repeats);
  }
  results.sort((a, b) => a - b);
  return results[results.length >> 1]!;
}

function filledQueue(make: () => QueueLike, parts: Uint8Array[]): { queue: QueueLike; nextKey: () => string } {
  const queue = make();
  let key = 0;
  const nextKey = (): string => `n${key++ % (kQueued * 4)}`;
  while (queue.length < kQueued) queue.queueMembership(nextKey(), parts[key % parts.length]!);
  return { queue, nextKey };
}

function queueRows(quick: boolean): StructureRow[] {
  const parts = Array.from({ length: 64 }, (_, i) => new Uint8Array(24 + (i % 40)).fill(i));
  const limit = retransmitLimit(kLanConfig, kMembers);
  const repeats = quick ? 200 : 1_000;
  const rounds = quick ? 3 : 5;
  const measure = (make: () => QueueLike): { take: number; insert: number } => {
    const taking = filledQueue(make, parts);
    let serial = 0;
    const take = cpuUs(
      () => {
        taking.queue.take(kRoomBytes, F.kCompoundPartsMax - 2, limit, kLanConfig.userBroadcastReserveBytes);
        while (taking.queue.length < kQueued) taking.queue.queueMembership(taking.nextKey(), parts[serial++ % parts.length]!);
      },
      repeats,
      rounds,
    );
    const inserting = filledQueue(make, parts);
    const insert = cpuUs(() => inserting.queue.queueMembership(inserting.nextKey(), parts[serial++ % parts.length]!), repeats * 20, rounds);
    return { take, insert };
  };
  const fresh = measure(() => new BroadcastQueue(kQueued));
  const old = measure(() => new BaselineBroadcastQueue(kQueued));
  return [
    { name: `broadcast queue take + refill (${kQueued} queued)`, members: kMembers, usNew: fresh.take, usOld: old.take, ratioNewToOld: fresh.take / old.take },
    { name: `broadcast queue insert (${kQueued} queued, replacing and evicting)`, members: kMembers, usNew: fresh.insert, usOld: old.insert, ratioNewToOld: fresh.insert / old.insert },
  ];
}

function icmpRows(quick: boolean): StructureRow[] {
  const runtime = createRuntime({ backend: 'ts', memoryBytes: 16 << 20 });
  const table = MembershipTable.create(runtime, 16_384);
  const addresses: string[] = [];
  for (let i = 0; i < kMembers; i++) {
    const text = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:7946`;
    addresses.push(formatWireAddress(parseWireAddress(text)));
    table.upsert({ high: 3, low: i }, parseWireAddress(text), 1, F.kStatusAlive, 0);
  }
  const index = new AddressIndex(table, 0);
  index.rowOf(addresses[0]!, -1); // builds the index, as the first ICMP report does
  let n = 0;
  // Reports about random members: the scan's cost depends on where the row is.
  const ask = (): string => addresses[(Math.imul(n++, 2654435761) >>> 0) % kMembers]!;
  let sink = 0;
  const repeats = quick ? 50 : 200;
  const usNew = cpuUs(() => (sink += index.rowOf(ask(), 0)), repeats * 100, quick ? 3 : 5);
  const usOld = cpuUs(() => (sink += scanRowOfAddress(table, 0, ask())), repeats, quick ? 3 : 5);
  if (sink === 0) throw new Error('lookups found nothing');
  return [{ name: 'ICMP report: address to row', members: kMembers, usNew, usOld, ratioNewToOld: usNew / usOld }];
}

export function measureStructures(quick: boolean): StructureRow[] {
  return [...queueRows(quick), ...icmpRows(quick)];
}

/**
 * Issue 14 item 2: what the datagram checksum costs the kernels on a farm's typical
 * datagram (a ping with a 30-entry heartbeat digest, about 700 bytes): decode plus
 * re-encode, with datagram checksums on (an insecure farm) and off (a secure farm, AES-GCM
 * authenticating), per backend, in one run.
 */
export function measureChecksumModes(quick: boolean): StructureRow[] {
  const rows: StructureRow[] = [];
  for (const backend of ['wasm', 'ts'] as const) {
    const us = (checksums: boolean): number => {
      const runtime = createRuntime({ backend, memoryBytes: 8 << 20 });
      runtime.setDatagramChecksums(checksums);
      const table = MembershipTable.create(runtime, 64);
      const rowList = runtime.allocate(4 * 30, 8);
      for (let i = 0; i < 30; i++) runtime.views.i32[(rowList >>> 2) + i] = table.upsert({ high: 9, low: i + 1 }, parseWireAddress(`10.0.0.${i + 1}:7946`), i + 1, F.kStatusAlive, 0);
      const packet = runtime.allocate(F.kDatagramBytesMax + 64, 8);
      const out = runtime.allocate(F.kDatagramBytesMax + 64, 8);
      const length = runtime.kernels.encodeDigest(table.base, rowList, 30, F.kPushPullFlagGossip, packet, F.kDatagramBytesMax);
      if (length < 0) throw new Error(`encodeDigest failed: ${length}`);
      const tape = new Tape(runtime, kDatagramTapeCapacity);
      let sink = 0;
      const result = cpuUs(
        () => {
          sink += runtime.kernels.decode(packet, length, F.kDatagramBytesMax, tape.pointer);
          sink += runtime.kernels.encodeDigest(table.base, rowList, 30, F.kPushPullFlagGossip, out, F.kDatagramBytesMax);
        },
        quick ? 20_000 : 100_000,
        quick ? 3 : 5,
      );
      if (sink <= 0) throw new Error('the kernels refused the datagram');
      return result;
    };
    const on = us(true);
    const off = us(false);
    rows.push({ name: `30-entry digest datagram decoded and encoded (${backend}), checksum off vs on`, members: 30, usNew: off, usOld: on, ratioNewToOld: off / on });
  }
  return rows;
}
