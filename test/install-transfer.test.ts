// Proves that packages travel between nodes only over the farm (FarmRpc for the
// questions, the chunk channel for the bytes) and arrive intact: a node fetches a package
// in many small chunks from a member that holds it; a holder whose disk copy rotted
// refuses to serve it, a holder that announces one package and serves another is caught
// by the file's sha256, and a holder that never answers times out; in each case the
// fetcher moves on to the next holder; members holding different contents under one
// name@version are refused unless a checksum is pinned; a package nobody holds is
// reported as such; malformed chunk requests are refused by the holder. The first tests
// link the nodes' FarmRpc and chunk channels over messengers joined in process (each
// one's send reaches the other's receive); the last runs two real FarmService nodes on loopback (worker
// threads, sockets) and moves a package of several full-size chunks across.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FarmRpc, kRpcCodec } from '../src/farm/service/farm-rpc.js';
import { kBytesCodec } from '../src/core/messenger/channel-codec.js';
import { MessengerFabric } from './support/messenger-fabric.js';
import { FarmService } from '../src/farm/service/farm-service.js';
import type { FarmPeer } from '../src/farm/install/farm-peer.js';
import { InstallError } from '../src/farm/install/install-error.js';
import { ChunkChannel } from '../src/farm/install/chunk-channel.js';
import { kServiceHave, serveInstallRpc } from '../src/farm/install/install-rpc.js';
import { PackageFetcher, type FetchProgress } from '../src/farm/install/package-fetcher.js';
import { PackageStore } from '../src/farm/install/package-store.js';
import { packageRoot } from '../src/core/platform/package-root.js';

const root = mkdtempSync(join(tmpdir(), 'galaxy-install-transfer-'));
const services: FarmService[] = [];
afterAll(async () => {
  await Promise.all(services.map((s) => s.close().catch(() => {})));
  rmSync(root, { recursive: true, force: true });
});
let counter = 0;

function fixtureCopy(edit: (manifest: Record<string, unknown>) => void = () => {}): string {
  const dir = join(root, `pkg-${counter++}`);
  cpSync(join(packageRoot(), 'test', 'fixtures', 'packages', 'greeter'), dir, { recursive: true });
  const path = join(dir, 'galaxy-component.json');
  const manifest = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  edit(manifest);
  writeFileSync(path, JSON.stringify(manifest));
  return dir;
}

interface TestNode {
  readonly peer: FarmPeer;
  readonly rpc: FarmRpc;
  readonly chunks: ChunkChannel;
  readonly store: PackageStore;
  /** Whether its chunk channel takes what arrives (a silent holder does not). */
  answersChunks: boolean;
}

/** Nodes whose FarmRpc and chunk channel run on messengers linked in process (support/messenger-fabric.ts). */
function linkedNodes(count: number): TestNode[] {
  const nodes: TestNode[] = [];
  const fabric = new MessengerFabric();
  for (let i = 0; i < count; i++) {
    const peer = { id: `${String.fromCharCode(97 + i)}`.repeat(16), address: `10.0.0.${i + 1}:7946` };
    const messenger = fabric.join(peer);
    const channel = messenger.channel('install-chunks', kBytesCodec);
    const store = new PackageStore(join(root, `store-${counter++}`));
    const node: TestNode = { peer, rpc: FarmRpc.over(messenger.channel('rpc', kRpcCodec), peer.id), chunks: new ChunkChannel({ send: (to, frame) => channel.send(to, frame, 'stream'), store }), store, answersChunks: true };
    channel.onMessage((message) => {
      if (node.answersChunks) node.chunks.receive(message.from, message.value);
    });
    nodes.push(node);
  }
  return nodes;
}

function fetcherOf(node: TestNode, peers: readonly TestNode[], chunkBytes = 64): PackageFetcher {
  return new PackageFetcher({ rpc: node.rpc, chunks: node.chunks, store: node.store, peers: () => peers.map((p) => p.peer), chunkBytes, chunkTimeoutMs: 150, chunkAttemptsMax: 2, haveTimeoutMs: 2000, random: () => 0 });
}

async function refusal(promise: Promise<unknown>): Promise<InstallError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(InstallError);
    return error as InstallError;
  }
  throw new Error('expected a refusal');
}

describe('package transfer over the farm', () => {
  it('fetches a package chunk by chunk from a member that holds it', async () => {
    const [a, b] = linkedNodes(2);
    serveInstallRpc(a!.rpc, { store: a!.store });
    serveInstallRpc(b!.rpc, { store: b!.store });
    const held = await a!.store.importDirectory(fixtureCopy());
    const progress: FetchProgress[] = [];
    const result = await fetcherOf(b!, [a!]).fetch({ name: 'greeter', version: '1.0.0' }, (p) => progress.push(p));
    expect(result).toMatchObject({ sources: [a!.peer.id], manifest: { checksum: held.checksum } });
    await b!.store.verify('greeter', '1.0.0');
    const total = held.files.reduce((sum, f) => sum + f.bytes, 0);
    expect(progress.at(-1)).toEqual({ bytesDone: total, bytesTotal: total, peer: a!.peer.id });
    expect(a!.chunks.counters.chunksServed).toBe(held.files.reduce((sum, f) => sum + Math.ceil(f.bytes / 64), 0));
    // Held now: a second fetch does not ask the farm.
    expect((await fetcherOf(b!, [a!]).fetch({ name: 'greeter', version: '1.0.0' })).sources).toEqual([]);
  });

  it('moves on from a holder whose copy rotted, one that serves other bytes, and one that never answers', async () => {
    const [rotten, liar, silent, good, fetching, alone] = linkedNodes(6);
    const dir = fixtureCopy();
    const manifest = await rotten!.store.importDirectory(dir);
    await good!.store.importDirectory(dir);
    await silent!.store.importDirectory(dir);
    for (const node of [rotten!, silent!, good!]) serveInstallRpc(node.rpc, { store: node.store });
    silent!.answersChunks = false;
    const indexPath = join(rotten!.store.root, 'greeter', '1.0.0', 'index.mjs');
    const bytes = readFileSync(indexPath);
    bytes[100] = bytes[100]! ^ 0x20;
    writeFileSync(indexPath, bytes);
    // The liar holds another build under the same version (one byte changed, same size),
    // announces the true manifest, and serves its own bytes.
    const other = fixtureCopy();
    const text = readFileSync(join(other, 'index.mjs'), 'utf8');
    writeFileSync(join(other, 'index.mjs'), text.replace('farm', 'FARM').replace('words', 'Words'));
    await liar!.store.importDirectory(other);
    liar!.rpc.handle(kServiceHave, () => ({ have: true, manifest }));

    const result = await fetcherOf(fetching!, [rotten!, liar!, silent!, good!]).fetch({ name: 'greeter', version: '1.0.0' });
    // index.mjs rotted at the first holder, differs at the second, never came from the third: it came from the fourth.
    expect(result.sources).toContain(good!.peer.id);
    expect(result.sources).not.toContain(liar!.peer.id);
    expect(result.sources).not.toContain(silent!.peer.id);
    expect(good!.chunks.counters.chunksServed).toBeGreaterThan(0);
    expect(fetching!.chunks.counters.timeouts).toBeGreaterThanOrEqual(2);
    await fetching!.store.verify('greeter', '1.0.0');
    expect(readFileSync(join(fetching!.store.root, 'greeter', '1.0.0', 'index.mjs'))).toEqual(readFileSync(join(dir, 'index.mjs')));

    // With no honest holder left, the fetch fails naming every holder's fault, and nothing is kept.
    const error = await refusal(fetcherOf(alone!, [rotten!, liar!, silent!]).fetch({ name: 'greeter', version: '1.0.0' }));
    expect(error.code).toBe('GALAXY_INSTALL_FETCH_FAILED');
    expect(error.message).toContain(`${rotten!.peer.id}: greeter@1.0.0: "index.mjs" does not match its sha256`);
    expect(error.message).toContain(`${liar!.peer.id}: "index.mjs" does not match its sha256`);
    expect(error.message).toContain(`${silent!.peer.id}: no chunk from ${silent!.peer.id}`);
    expect(alone!.store.list()).toEqual([]);
  });

  it('refuses members that disagree on a version unless a checksum is pinned, and reports a package nobody holds', async () => {
    const [one, two, fetching] = linkedNodes(3);
    const first = await one!.store.importDirectory(fixtureCopy());
    const second = await two!.store.importDirectory(fixtureCopy((m) => (m['config'] = { greeting: 'different' })));
    expect(first.checksum).not.toBe(second.checksum);
    serveInstallRpc(one!.rpc, { store: one!.store });
    serveInstallRpc(two!.rpc, { store: two!.store });
    const fetcher = fetcherOf(fetching!, [one!, two!]);
    expect((await refusal(fetcher.fetch({ name: 'greeter', version: '1.0.0' }))).code).toBe('GALAXY_INSTALL_AMBIGUOUS');
    expect((await fetcher.fetch({ name: 'greeter', version: '1.0.0', checksum: second.checksum })).manifest.checksum).toBe(second.checksum);
    expect((await refusal(fetcher.fetch({ name: 'greeter', version: '9.9.9' }))).code).toBe('GALAXY_INSTALL_NOT_FOUND');
  });

  it('refuses malformed chunk requests at the holder', async () => {
    const [a, b] = linkedNodes(2);
    await a!.store.importDirectory(fixtureCopy());
    const ask = (body: { path: string; offset: number; length: number }): Promise<Buffer> => b!.chunks.request(a!.peer.id, { name: 'greeter', version: '1.0.0', ...body }, 2000);
    await expect(ask({ path: 'index.mjs', offset: 0, length: 2 * 1024 * 1024 })).rejects.toMatchObject({ code: 'GALAXY_INSTALL_BAD_REQUEST' });
    await expect(ask({ path: '../../etc/passwd', offset: 0, length: 1 })).rejects.toMatchObject({ code: 'GALAXY_INSTALL_BAD_REQUEST' });
    await expect(ask({ path: 'index.mjs', offset: 1_000_000, length: 1 })).rejects.toMatchObject({ code: 'GALAXY_INSTALL_BAD_REQUEST' });
    expect((await ask({ path: 'index.mjs', offset: 3, length: 5 })).toString()).toBe(readFileSync(join(a!.store.root, 'greeter', '1.0.0', 'index.mjs'), 'utf8').slice(3, 8));
  });

  it('moves a package of several full-size chunks between two real nodes', async () => {
    const a = await FarmService.start({ agent: { bind: '127.0.0.1:0', preset: 'local' }, dataDir: join(root, 'node-a'), mode: 'insecure', roles: [] });
    services.push(a);
    const b = await FarmService.start({ agent: { bind: '127.0.0.1:0', preset: 'local', join: [a.host.address] }, dataDir: join(root, 'node-b'), mode: 'insecure', roles: [] });
    services.push(b);
    const storeA = new PackageStore(join(root, 'node-a', 'packages'));
    const storeB = new PackageStore(join(root, 'node-b', 'packages'));
    serveInstallRpc(a.rpc, { store: storeA });
    serveInstallRpc(b.rpc, { store: storeB });
    const channelA = a.messenger.channel('install-chunks', kBytesCodec);
    const channelB = b.messenger.channel('install-chunks', kBytesCodec);
    const chunksA = new ChunkChannel({ send: (to, frame) => channelA.send(to, frame, 'stream'), store: storeA });
    const chunksB = new ChunkChannel({ send: (to, frame) => channelB.send(to, frame, 'stream'), store: storeB });
    channelA.onMessage((message) => chunksA.receive(message.from, message.value));
    channelB.onMessage((message) => chunksB.receive(message.from, message.value));
    const dir = fixtureCopy();
    // 2.5 MiB of bytes that do not compress to nothing: three chunks of up to 1 MiB.
    const blob = Buffer.alloc(2.5 * 1024 * 1024);
    for (let i = 0; i < blob.length; i++) blob[i] = (i * 2654435761) >>> 24;
    writeFileSync(join(dir, 'lib', 'blob.bin'), blob);
    const held = await storeA.importDirectory(dir);

    const peersOfB = (): FarmPeer[] => b.members().filter((m) => !m.self && m.status === 'alive').map((m) => ({ id: m.id, address: m.address }));
    const deadline = Date.now() + 15_000;
    while (peersOfB().length === 0) {
      if (Date.now() > deadline) throw new Error('b never saw a alive');
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    const fetcher = new PackageFetcher({ rpc: b.rpc, chunks: chunksB, store: storeB, peers: peersOfB });
    const result = await fetcher.fetch({ name: 'greeter', version: '1.0.0', checksum: held.checksum });
    expect(result.sources).toEqual([a.host.id]);
    await storeB.verify('greeter', '1.0.0');
    expect(readFileSync(join(storeB.root, 'greeter', '1.0.0', 'lib', 'blob.bin')).equals(blob)).toBe(true);
    expect(chunksA.counters.chunksServed).toBe(2 + 3);
  }, 60_000);
});
