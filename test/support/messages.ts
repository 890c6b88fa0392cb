// Shared fixtures for the wire tests: fast-check arbitraries that generate every
// message type within its limits, and a fixed list of sample messages for the golden
// byte vectors.
import fc from 'fast-check';
import * as F from '../../src/core/wire/format.js';
import type { MemberEntry, Message, NodeId, WireAddress } from '../../src/core/wire/message.js';

const u32 = fc.integer({ min: 0, max: 0xffffffff });
export const nodeIdArb: fc.Arbitrary<NodeId> = fc.record({ high: u32, low: u32 });

export const addressArb: fc.Arbitrary<WireAddress> = fc.oneof(
  fc.constant<WireAddress>({ family: 0, bytes: new Uint8Array(16), port: 0 }),
  fc.tuple(fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.integer({ min: 0, max: 65535 })).map(([b, port]) => {
    const bytes = new Uint8Array(16);
    bytes.set(b);
    return { family: 4 as const, bytes, port };
  }),
  fc.tuple(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.integer({ min: 0, max: 65535 })).map(([bytes, port]) => ({ family: 6 as const, bytes, port })),
);

const statusArb = fc.integer({ min: 1, max: 4 });
const bytesArb = (max: number) => fc.uint8Array({ maxLength: max });

const entryArb = (withMeta: boolean): fc.Arbitrary<MemberEntry> =>
  fc.record({ id: nodeIdArb, address: addressArb, incarnation: u32, heartbeat: u32, status: statusArb }).chain((e) =>
    withMeta ? bytesArb(40).map((meta) => ({ ...e, meta })) : fc.constant(e),
  );

/** Summaries small enough for a datagram: 1..64 buckets, a power of two. */
const summaryArb = fc
  .record({ flags: fc.integer({ min: 0, max: 255 }), memberCount: u32, buckets: fc.constantFrom(1, 2, 4, 8, 16, 32, 64) })
  .chain(({ flags, memberCount, buckets }) =>
    fc.uint32Array({ minLength: buckets, maxLength: buckets }).map((hashes) => ({ type: F.kTypePushPullSummary, flags, memberCount, hashes })),
  );

export const messageArb: fc.Arbitrary<Message> = fc.oneof(
  fc.record({ type: fc.constant(F.kTypePing), seq: u32, target: nodeIdArb, source: nodeIdArb, sourceAddress: addressArb }),
  fc.record({ type: fc.constant(F.kTypeIndirectPing), seq: u32, nack: fc.boolean(), target: nodeIdArb, targetAddress: addressArb, source: nodeIdArb, sourceAddress: addressArb }),
  fc.record({ type: fc.constant(F.kTypeAck), seq: u32, source: nodeIdArb, payload: bytesArb(64) }),
  fc.record({ type: fc.constant(F.kTypeNack), seq: u32, source: nodeIdArb }),
  fc.record({ type: fc.constantFrom(F.kTypeSuspect, F.kTypeDead), incarnation: u32, node: nodeIdArb, from: nodeIdArb }),
  fc.record({ type: fc.constantFrom(F.kTypeAlive, F.kTypeJoin), incarnation: u32, node: nodeIdArb, address: addressArb, meta: bytesArb(64) }),
  fc.record({ type: fc.constant(F.kTypeLeave), incarnation: u32, node: nodeIdArb }),
  fc.record({ type: fc.constant(F.kTypePushPullDigest), flags: fc.integer({ min: 0, max: 255 }), entries: fc.array(entryArb(false), { maxLength: 20 }) }),
  fc.record({ type: fc.constant(F.kTypePushPullState), flags: fc.integer({ min: 0, max: 255 }), entries: fc.array(entryArb(true), { maxLength: 8 }) }),
  fc.record({ type: fc.constant(F.kTypeUser), payload: bytesArb(200) }),
  summaryArb,
) as fc.Arbitrary<Message>;

/** One datagram's worth of messages: mostly one, sometimes a compound of several. */
export const datagramArb: fc.Arbitrary<Message[]> = fc.oneof(
  { weight: 3, arbitrary: messageArb.map((m) => [m]) },
  { weight: 2, arbitrary: fc.array(messageArb, { minLength: 2, maxLength: 6 }) },
);

function v4(a: number, b: number, c: number, d: number, port: number): WireAddress {
  const bytes = new Uint8Array(16);
  bytes.set([a, b, c, d]);
  return { family: 4, bytes, port };
}
const v6loop: WireAddress = { family: 6, bytes: Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]), port: 7946 };
const none: WireAddress = { family: 0, bytes: new Uint8Array(16), port: 0 };
const a: NodeId = { high: 0x01234567, low: 0x89abcdef };
const b: NodeId = { high: 0xfedcba98, low: 0x76543210 };
const text = (s: string) => new TextEncoder().encode(s);

/** The messages behind the golden vectors: one of every type, plus a compound. */
export const goldenSamples: ReadonlyArray<readonly [string, Message[]]> = [
  ['ping', [{ type: F.kTypePing, seq: 1, target: b, source: a, sourceAddress: v4(10, 0, 0, 1, 7946) }]],
  ['indirect-ping', [{ type: F.kTypeIndirectPing, seq: 2, nack: true, target: b, targetAddress: v6loop, source: a, sourceAddress: v4(10, 0, 0, 1, 7946) }]],
  ['ack', [{ type: F.kTypeAck, seq: 3, source: b, payload: text('ok') }]],
  ['nack', [{ type: F.kTypeNack, seq: 4, source: b }]],
  ['suspect', [{ type: F.kTypeSuspect, incarnation: 5, node: b, from: a }]],
  ['alive', [{ type: F.kTypeAlive, incarnation: 6, node: a, address: v4(192, 168, 1, 20, 7946), meta: text('{"rack":"r12"}') }]],
  ['dead', [{ type: F.kTypeDead, incarnation: 7, node: b, from: a }]],
  ['join', [{ type: F.kTypeJoin, incarnation: 1, node: a, address: v6loop, meta: new Uint8Array(0) }]],
  ['leave', [{ type: F.kTypeLeave, incarnation: 9, node: a }]],
  ['push-pull-digest', [{ type: F.kTypePushPullDigest, flags: F.kPushPullFlagJoin, entries: [
    { id: a, address: v4(10, 0, 0, 1, 7946), incarnation: 1, heartbeat: 100, status: F.kStatusAlive },
    { id: b, address: v6loop, incarnation: 2, heartbeat: 7, status: F.kStatusSuspect },
  ] }]],
  ['push-pull-state', [{ type: F.kTypePushPullState, flags: F.kPushPullFlagReply, entries: [
    { id: a, address: v4(10, 0, 0, 1, 7946), incarnation: 1, heartbeat: 100, status: F.kStatusAlive, meta: text('role=controller') },
    { id: b, address: none, incarnation: 3, heartbeat: 0, status: F.kStatusDead, meta: new Uint8Array(0) },
  ] }]],
  ['user', [{ type: F.kTypeUser, payload: text('hello farm') }]],
  ['compound', [
    { type: F.kTypePing, seq: 10, target: b, source: a, sourceAddress: none },
    { type: F.kTypeSuspect, incarnation: 5, node: b, from: a },
    { type: F.kTypeAlive, incarnation: 6, node: a, address: v4(127, 0, 0, 1, 8000), meta: new Uint8Array(0) },
  ]],
  ['push-pull-summary', [{ type: F.kTypePushPullSummary, flags: 0, memberCount: 3, hashes: Uint32Array.from([1, 0xdeadbeef, 0, 0x12345678]) }]],
];
