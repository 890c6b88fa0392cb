// Proves a multicast's one-seal path (issue 18, session 9): the same payload sent to
// several peers in one turn is written into ONE envelope (the messenger's outbox holds
// the one bytes object for every peer), and the agent's worker seals it once and sends
// the same sealed bytes to each peer. Three real farm nodes (FarmService: the engine in
// a worker thread, real UDP and TCP on loopback, every message sealed under a static
// farm key): a datagram multicast and a stream multicast from A each reach B and C
// naming A as the authenticated sender, with one seal for two sends; the same content
// in two distinct payload objects (what a caller that builds a message per peer sends)
// is still enveloped and sealed per peer, which is what the counter must tell apart.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FarmService } from '../src/farm/service/farm-service.js';
import { Keyring } from '../src/node/security/keyring.js';
import { kBytesCodec } from '../src/core/messenger/channel-codec.js';
import { decodeEnvelope, encodeEnvelope } from '../src/core/messenger/envelope.js';
import { Messenger } from '../src/node/messenger/messenger.js';
import type { AppMessage } from '../src/node/driver/agent-worker-protocol.js';
import type { Delivered } from '../src/node/messenger/messenger-channel.js';
import { until } from './support/until.js';

const root = mkdtempSync(join(tmpdir(), 'galaxy-multicast-'));
const services: FarmService[] = [];

afterAll(async () => {
  await Promise.all(services.map((s) => s.close().catch(() => {})));
});

describe('a multicast is enveloped once (messenger outbox)', () => {
  it('shares one envelope among the peers of one payload, and only of the same payload object', () => {
    const batches: AppMessage[][] = [];
    const self = '1111111111111111';
    const messenger = new Messenger({ selfId: self, transport: { sendApp: (m) => void batches.push([...m]), broadcast: () => {} }, membersMax: 16, broadcastBytesMax: 1024 });
    const peers = ['2222222222222222', '3333333333333333', '4444444444444444'];
    messenger.syncMembers(peers.map((id, i) => ({ id, address: `10.0.0.${i + 2}:7946`, status: 'alive' as const, self: false })));
    const channel = messenger.channel('cluster', kBytesCodec);
    const payload = Uint8Array.of(5, 6, 7);
    for (const to of peers) channel.send(to, payload, 'datagram');
    // Equal content in new objects: a message per peer, each its own envelope.
    for (const to of peers) channel.send(to, Uint8Array.of(5, 6, 7), 'datagram');
    messenger.flush();
    expect(batches).toHaveLength(1);
    const [batch] = batches as [AppMessage[]];
    expect(batch.map((m) => m.peer)).toEqual([...peers, ...peers].map((_, i) => `10.0.0.${(i % 3) + 2}:7946`));
    expect(new Set(batch.slice(0, 3).map((m) => m.bytes)).size).toBe(1);
    expect(new Set(batch.slice(3).map((m) => m.bytes)).size).toBe(3);
    for (const m of batch) expect([...m.bytes]).toEqual([...encodeEnvelope('datagram', 7, self, payload)]);
    // The same payload object after a flush, or in another mode, gets a fresh envelope.
    channel.send(peers[0]!, payload, 'datagram');
    channel.send(peers[1]!, payload, 'stream');
    messenger.flush();
    expect(batches).toHaveLength(2);
    expect(batches[1]![0]!.bytes).not.toBe(batch[0]!.bytes);
    expect(decodeEnvelope(batches[1]![1]!.bytes).mode).toBe('stream');
  });
});

describe('a multicast is sealed once (real nodes)', () => {
  it('reaches every peer with the authenticated sender, one seal per payload', async () => {
    const key = Keyring.generateKey();
    const a = await FarmService.start({ agent: { bind: '127.0.0.1:0', preset: 'local', keys: [key] }, dataDir: join(root, 'a'), mode: 'static-keys', roles: [] });
    services.push(a);
    const b = await FarmService.start({ agent: { bind: '127.0.0.1:0', preset: 'local', keys: [key], join: [a.host.address] }, dataDir: join(root, 'b'), mode: 'static-keys', roles: [] });
    services.push(b);
    const c = await FarmService.start({ agent: { bind: '127.0.0.1:0', preset: 'local', keys: [key], join: [a.host.address] }, dataDir: join(root, 'c'), mode: 'static-keys', roles: [] });
    services.push(c);
    const all = [a, b, c];
    const aliveEverywhere = (): boolean => all.every((s) => all.every((t) => t === s || s.members().some((m) => m.id === t.host.id && m.status === 'alive')));
    await until('all three see each other alive', aliveEverywhere, 60_000);

    const atA = a.messenger.channel('cluster', kBytesCodec);
    const got = new Map<FarmService, Array<Delivered<Uint8Array>>>([[b, []], [c, []]]);
    for (const s of [b, c]) s.messenger.channel('cluster', kBytesCodec).onMessage((m) => got.get(s)!.push(m));
    const stats = async (): Promise<{ sent: number; sealed: number }> => {
      const s = await a.host.stats();
      return { sent: s.appSent, sealed: s.appSealed };
    };
    const received = (n: number): boolean => got.get(b)!.length === n && got.get(c)!.length === n;

    const before = await stats();
    const small = Uint8Array.of(1, 2, 3);
    for (const to of [b.host.id, c.host.id]) expect(atA.send(to, small, 'datagram')).toBe(true);
    await until('the datagram multicast arrives at B and C', () => received(1), 30_000);
    const afterDatagram = await stats();
    expect(afterDatagram.sent - before.sent).toBe(2);
    expect(afterDatagram.sealed - before.sealed).toBe(1);

    const big = new Uint8Array(100_000).map((_, i) => (i * 7) & 0xff);
    for (const to of [b.host.id, c.host.id]) expect(atA.send(to, big, 'stream')).toBe(true);
    await until('the stream multicast arrives at B and C', () => received(2), 30_000);
    const afterStream = await stats();
    expect(afterStream.sent - afterDatagram.sent).toBe(2);
    expect(afterStream.sealed - afterDatagram.sealed).toBe(1);

    // One message per peer (distinct objects, equal bytes): sealed per peer.
    for (const to of [b.host.id, c.host.id]) expect(atA.send(to, Uint8Array.of(1, 2, 3), 'datagram')).toBe(true);
    await until('the per-peer messages arrive at B and C', () => received(3), 30_000);
    const afterPerPeer = await stats();
    expect(afterPerPeer.sent - afterStream.sent).toBe(2);
    expect(afterPerPeer.sealed - afterStream.sealed).toBe(2);

    for (const s of [b, c]) {
      const messages = got.get(s)!;
      for (const m of messages) expect(m.from).toBe(a.host.id);
      expect(messages.map((m) => m.mode)).toEqual(['datagram', 'stream', 'datagram']);
      expect([...messages[0]!.value]).toEqual([1, 2, 3]);
      expect(Buffer.from(messages[1]!.value).equals(Buffer.from(big))).toBe(true);
      expect([...messages[2]!.value]).toEqual([1, 2, 3]);
    }
  }, 120_000);
});
