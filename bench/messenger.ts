/**
 * The messenger benchmark: what the envelope costs a message, against what it replaced
 * and against the farm-key seal every message pays anyway, measured in one run and
 * reported as ratios (absolute times vary with the machine and its load).
 *
 *  - envelope: encodeEnvelope + decodeEnvelope + the directory's sender check + the
 *    bytes codec's copy, for a 200-byte FMIDB message;
 *  - old FMIDB envelope: the 0xF6 byte, the sender id as text, and its TextDecoder parse,
 *    as farm-data.ts did before the messenger;
 *  - seal + open: Keyring.seal and Keyring.open of the same message (AES-256-GCM).
 *
 *   node dist/bench/messenger.js                 (GALAXY_BENCH_QUICK=1 for a smoke run)
 */
import { Bench } from 'tinybench';
import { decodeEnvelope, encodeEnvelope } from '../src/core/messenger/envelope.js';
import { MemberDirectory } from '../src/core/messenger/member-directory.js';
import { kBytesCodec } from '../src/core/messenger/channel-codec.js';
import { Keyring } from '../src/node/security/keyring.js';

const quick = process.env.GALAXY_BENCH_QUICK === '1';
const kPayloadBytes = 200;
const kMembers = 10_000;
const self = '0000000000000001';
const sender = '00000000000004d2';
const address = '10.0.4.210:7946';
const payload = new Uint8Array(kPayloadBytes).map((_, i) => i & 0xff);
const directory = new MemberDirectory(self, kMembers);
for (let i = 2; i <= kMembers; i++) directory.set(i.toString(16).padStart(16, '0'), `10.0.${i >> 8}.${i & 0xff}:7946`, 'alive');
const keyring = new Keyring([Keyring.generateKey()]);
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const senderBytes = encoder.encode(sender);
let sink = 0;

function envelope(): void {
  const bytes = encodeEnvelope('datagram', 5, sender, payload);
  const parsed = decodeEnvelope(bytes);
  if (directory.check(parsed.sender, 'datagram', address) !== 'ok') throw new Error('the sender check refused a member');
  sink += kBytesCodec.decode(parsed.payload).length;
}

function oldEnvelope(): void {
  const bytes = new Uint8Array(2 + senderBytes.length + payload.length);
  bytes[0] = 0xf6;
  bytes[1] = senderBytes.length;
  bytes.set(senderBytes, 2);
  bytes.set(payload, 2 + senderBytes.length);
  const from = decoder.decode(bytes.subarray(2, 2 + bytes[1]!));
  sink += from.length + bytes.subarray(2 + bytes[1]!).length;
}

function sealOpen(): void {
  sink += keyring.open(keyring.seal(payload))!.length;
}

const bench = new Bench({ time: quick ? 200 : 1500, warmupTime: quick ? 50 : 300 });
bench.add('messenger envelope (encode, decode, sender check, copy)', envelope).add('old FMIDB envelope (0xF6, id as text)', oldEnvelope).add('farm-key seal + open (AES-256-GCM)', sealOpen);
await bench.run();
const ns = (name: string): number => (bench.getTask(name)!.result!.latency?.mean ?? bench.getTask(name)!.result!.mean!) * 1e6;
const [a, b, c] = ['messenger envelope (encode, decode, sender check, copy)', 'old FMIDB envelope (0xF6, id as text)', 'farm-key seal + open (AES-256-GCM)'].map(ns) as [number, number, number];
console.table([
  { what: 'messenger envelope', nsPerMessage: Math.round(a) },
  { what: 'old FMIDB envelope', nsPerMessage: Math.round(b) },
  { what: 'seal + open', nsPerMessage: Math.round(c) },
]);
console.log(`envelope / old envelope: ${(a / b).toFixed(2)}x; envelope / (seal + open): ${(a / c).toFixed(2)}x (${kPayloadBytes}-byte payload, ${kMembers} members in the directory; sink ${sink > 0 ? 'ok' : 'empty'})`);
