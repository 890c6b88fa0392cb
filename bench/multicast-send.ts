/**
 * What one cluster multicast costs on the agent's send path (issue 18, session 9), the
 * path before and after in one run, printed as ratios: a channel pack of B bytes sent by
 * the cluster core to the N-1 other members of an N-member view, through
 *
 *   ClusterChannels' cluster envelope → the Messenger (its envelope, outbox, flush) →
 *   the app-send request's structured clone (v8.serialize + v8.deserialize: what
 *   postMessage does on its two sides, here in one thread) → the worker's seal and
 *   the transport (a sink counting bytes; no socket).
 *
 *  - before: the code as it was: an envelope per peer at both layers (distinct objects,
 *    so the clone carries N-1 copies) and the worker sealing every message with
 *    Keyring.seal (node:crypto, a cipher per message): bench/baseline-app-send.ts keeps
 *    that loop;
 *  - after: one cluster envelope and one messenger envelope per multicast (the same
 *    object for every peer, cloned once), sealed once by sendAppBatch (app-send.ts),
 *    datagrams with the keyring's native contexts (sealView) when the addon loads.
 *
 * Rows for an open farm (--insecure: no seal, as bench:channels runs) and a secure one
 * (AES-256-GCM). Alternating timed rounds of each; the median per multicast is reported.
 *
 *   nice -n 10 node dist/bench/multicast-send.js     (writes bench/results/multicast-send.json; GALAXY_BENCH_QUICK=1 for a smoke run)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { deserialize, serialize } from 'node:v8';
import { encodeClusterEnvelope } from '../src/core/cluster-channels/cluster-channels-envelope.js';
import { kBytesCodec } from '../src/core/messenger/channel-codec.js';
import { packageRoot } from '../src/core/platform/package-root.js';
import type { AgentWorkerRequest, AppMessage } from '../src/node/driver/agent-worker-protocol.js';
import { sendAppBatch, type AppSealer } from '../src/node/driver/app-send.js';
import { Messenger } from '../src/node/messenger/messenger.js';
import type { MessengerChannel } from '../src/node/messenger/messenger-channel.js';
import { Keyring } from '../src/node/security/keyring.js';
import { baselineSendApp } from './baseline-app-send.js';

const quick = process.env['GALAXY_BENCH_QUICK'] === '1';
const kRounds = quick ? 3 : 9;
const kMulticastsPerRound = quick ? 500 : 4000;
const memberCounts = [3, 5, 8];
const packBytes = [100, 1000, 8000];
/** A cluster datagram's largest payload: bigger ones go over the stream (cluster-service.ts). */
const kDatagramMax = 1300;
const self = '0000000000000001';
const peersOf = (n: number): string[] => Array.from({ length: n - 1 }, (_, i) => (i + 2).toString(16).padStart(16, '0'));

interface Path {
  readonly messenger: Messenger;
  readonly channel: MessengerChannel<Uint8Array>;
  sink: number;
  seals: number;
}

function makePath(members: number, keyring: Keyring | null, before: boolean): Path {
  const counts = { sink: 0, seals: 0 };
  const sealer: AppSealer = keyring === null ? { seal: (b) => b, sealDatagram: (b) => b } : { seal: (b) => keyring.seal(b), sealDatagram: (b) => keyring.sealView(b) };
  const sink = (_m: AppMessage, sealed: Uint8Array): void => void (counts.sink += sealed.length);
  const transport = {
    sendApp: (messages: readonly AppMessage[]): void => {
      const request = deserialize(serialize({ type: 'app-send', messages } satisfies AgentWorkerRequest)) as { messages: AppMessage[] };
      if (before) counts.seals += baselineSendApp(request.messages, keyring === null ? (b) => b : (b) => keyring.seal(b), sink);
      else counts.seals += sendAppBatch(request.messages, sealer, sink);
    },
    broadcast: (): void => {},
  };
  const messenger = new Messenger({ selfId: self, transport, membersMax: 64, broadcastBytesMax: 1024 });
  messenger.syncMembers(peersOf(members).map((id, i) => ({ id, address: `127.0.0.1:${7000 + i}`, status: 'alive' as const, self: false })));
  const channel = messenger.channel('cluster', kBytesCodec);
  return {
    messenger, channel,
    get sink() { return counts.sink; },
    get seals() { return counts.seals; },
    set seals(v: number) { counts.seals = v; },
  } as Path;
}

function round(path: Path, members: number, bytes: number, before: boolean): number {
  const peers = peersOf(members);
  const pack = new Uint8Array(bytes).map((_, i) => i & 0xff);
  const mode = bytes + 1 <= kDatagramMax ? 'datagram' : 'stream';
  const start = performance.now();
  for (let i = 0; i < kMulticastsPerRound; i++) {
    pack[0] = i & 0xff;
    if (before) {
      for (const to of peers) path.channel.send(to, encodeClusterEnvelope(pack), mode);
    } else {
      const envelope = encodeClusterEnvelope(pack);
      for (const to of peers) path.channel.send(to, envelope, mode);
    }
    // One flush per multicast: at 1,000 msg/s each multicast is its own postMessage.
    path.messenger.flush();
  }
  return ((performance.now() - start) * 1e6) / kMulticastsPerRound;
}

interface Row {
  farm: 'open' | 'secure';
  members: number;
  packBytes: number;
  beforeNsPerMulticast: number;
  afterNsPerMulticast: number;
  speedup: number;
  sealsPerMulticastBefore: number;
  sealsPerMulticastAfter: number;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const loadStart = loadavg();
const rows: Row[] = [];
const keyring = new Keyring([Keyring.generateKey()]);
for (const farm of ['open', 'secure'] as const) {
  for (const members of memberCounts) {
    for (const bytes of packBytes) {
      const ring = farm === 'secure' ? keyring : null;
      const before = makePath(members, ring, true);
      const after = makePath(members, ring, false);
      round(before, members, bytes, true);
      round(after, members, bytes, false);
      before.seals = 0;
      after.seals = 0;
      const b: number[] = [];
      const a: number[] = [];
      for (let r = 0; r < kRounds; r++) {
        b.push(round(before, members, bytes, true));
        a.push(round(after, members, bytes, false));
      }
      if (before.sink !== after.sink) throw new Error(`before and after sent different byte counts (${before.sink} vs ${after.sink})`);
      const row: Row = {
        farm, members, packBytes: bytes,
        beforeNsPerMulticast: Math.round(median(b)), afterNsPerMulticast: Math.round(median(a)),
        speedup: Number((median(b) / median(a)).toFixed(2)),
        sealsPerMulticastBefore: before.seals / (kRounds * kMulticastsPerRound), sealsPerMulticastAfter: after.seals / (kRounds * kMulticastsPerRound),
      };
      rows.push(row);
      console.log(`${farm.padEnd(6)} ${members} members ${String(bytes).padStart(5)} B: before ${row.beforeNsPerMulticast} ns, after ${row.afterNsPerMulticast} ns per multicast (${row.speedup}x); seals per multicast ${row.sealsPerMulticastBefore} -> ${row.sealsPerMulticastAfter}`);
    }
  }
}
const loadEnd = loadavg();
const out = { bench: 'multicast-send', nativeSeal: keyring.native, rounds: kRounds, multicastsPerRound: kMulticastsPerRound, loadAverageStart: loadStart, loadAverageEnd: loadEnd, rows };
const dir = join(packageRoot(), 'bench', 'results');
mkdirSync(dir, { recursive: true });
const file = quick ? 'multicast-send-quick.json' : 'multicast-send.json';
writeFileSync(join(dir, file), JSON.stringify(out, null, 2) + '\n');
console.log(`load ${loadStart.map((x) => x.toFixed(1)).join(' ')} at the start, ${loadEnd.map((x) => x.toFixed(1)).join(' ')} at the end; bench/results/${file}`);
