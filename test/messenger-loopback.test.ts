// Proves the messenger end to end between two real farm nodes (FarmService: the engine
// in a worker thread, real UDP and TCP sockets on loopback, every message sealed under
// a static farm key): a datagram, a stream message and an epidemic broadcast each reach
// the other node and name the sender's node id. Then a stranger holding the farm key
// sends validly sealed datagrams from a socket of its own: an id no member has, a
// member's id from the wrong address, and (after a revocation) the revoked member's id
// are each dropped and counted by reason; a datagram sealed under another key never
// gets past the farm key. The sender rule itself is pinned in messenger.test.ts.
// The datagrams use the cluster channel and the stream install-chunks: the fmidb and
// jobs-coordination channels' envelopes stay in the worker's NodeStack, which runs the
// replica and the job cores (their sender rule is proven in node-driver-fmidb.test.ts).
import { createSocket } from 'node:dgram';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FarmService } from '../src/farm/service/farm-service.js';
import { Keyring } from '../src/node/security/keyring.js';
import { kBytesCodec } from '../src/core/messenger/channel-codec.js';
import { encodeEnvelope } from '../src/core/messenger/envelope.js';
import type { Delivered } from '../src/node/messenger/messenger-channel.js';
import { parseBindAddress } from '../src/node/transport/socket-address.js';
import { until } from './support/until.js';

const root = mkdtempSync(join(tmpdir(), 'galaxy-messenger-'));
const services: FarmService[] = [];

afterAll(async () => {
  await Promise.all(services.map((s) => s.close().catch(() => {})));
});

describe('messenger between two real nodes', () => {
  it('carries datagrams, streams and broadcasts with the authenticated sender, and drops forged senders', async () => {
    const key = Keyring.generateKey();
    const a = await FarmService.start({ agent: { bind: '127.0.0.1:0', preset: 'local', keys: [key] }, dataDir: join(root, 'a'), mode: 'static-keys', roles: [] });
    services.push(a);
    const b = await FarmService.start({ agent: { bind: '127.0.0.1:0', preset: 'local', keys: [key], join: [a.host.address] }, dataDir: join(root, 'b'), mode: 'static-keys', roles: [] });
    services.push(b);
    const alive = (s: FarmService, id: string): boolean => s.members().some((m) => m.id === id && m.status === 'alive');
    await until('both see each other alive', () => alive(a, b.host.id) && alive(b, a.host.id));

    const atA = a.messenger.channel('cluster', kBytesCodec);
    const atB = b.messenger.channel('cluster', kBytesCodec);
    const streamAtA = a.messenger.channel('install-chunks', kBytesCodec);
    const got: Array<Delivered<Uint8Array>> = [];
    atB.onMessage((message) => got.push(message));
    b.messenger.channel('install-chunks', kBytesCodec).onMessage((message) => got.push(message));
    expect(atA.send(b.host.id, Uint8Array.of(1, 2, 3), 'datagram')).toBe(true);
    await until('the datagram arrives', () => got.length === 1);
    expect(got[0]).toMatchObject({ from: a.host.id, peer: a.host.address, mode: 'datagram' });
    expect([...got[0]!.value]).toEqual([1, 2, 3]);
    const big = new Uint8Array(200_000).map((_, i) => i & 0xff);
    expect(streamAtA.send(b.host.id, big, 'stream')).toBe(true);
    await until('the stream message arrives', () => got.length === 2);
    expect(got[1]).toMatchObject({ from: a.host.id, mode: 'stream' });
    expect(Buffer.from(got[1]!.value).equals(Buffer.from(big))).toBe(true);

    const components: Array<[string, string, number[]]> = [];
    b.on('component', (kind, from, payload) => components.push([kind, from, [...payload]]));
    a.broadcastComponent('probe', Uint8Array.of(9, 8));
    await until('the broadcast arrives', () => components.length === 1);
    expect(components[0]).toEqual(['probe', a.host.id, [9, 8]]);

    // A stranger with the farm key, on a socket of its own.
    const stranger = createSocket('udp4');
    await new Promise<void>((resolve) => stranger.bind(0, '127.0.0.1', resolve));
    const target = parseBindAddress(b.host.address);
    const send = (bytes: Uint8Array): Promise<void> => new Promise((resolve, reject) => stranger.send(bytes, target.port, target.host, (error) => (error ? reject(error) : resolve())));
    const sealed = (sender: string): Buffer => new Keyring([key]).seal(encodeEnvelope('datagram', 7, sender, Uint8Array.of(7)));
    const dropped = (): Record<string, number> => b.messenger.snapshot()['cluster']!.dropped;
    await send(sealed('abcdefabcdefabcd'));
    await until('an unknown sender is dropped', () => dropped()['unknown-sender'] === 1);
    await send(sealed(a.host.id));
    await until("a member's id from another address is dropped", () => dropped()['address-mismatch'] === 1);
    const failedBefore = (await b.host.stats()).keyring?.['authenticationFailed'] ?? 0;
    await send(new Keyring([Keyring.generateKey()]).seal(encodeEnvelope('datagram', 7, a.host.id, Uint8Array.of(7))));
    const deadline = Date.now() + 10_000;
    while (((await b.host.stats()).keyring?.['authenticationFailed'] ?? 0) === failedBefore) {
      if (Date.now() > deadline) throw new Error('a datagram under another key was not refused by the keyring');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    b.messenger.revoke(a.host.id);
    atA.send(b.host.id, Uint8Array.of(4), 'datagram');
    await until('the revoked member is dropped', () => dropped()['revoked-sender'] === 1);
    stranger.close();
    expect(got).toHaveLength(2);
    expect(b.messenger.snapshot()['cluster']).toMatchObject({ received: 1 });
    expect(b.messenger.snapshot()['install-chunks']).toMatchObject({ received: 1 });
    expect(a.messenger.snapshot()['component']).toMatchObject({ sent: 1 });
    expect(b.messenger.snapshot()['component']).toMatchObject({ received: 1 });
  }, 60_000);
});
