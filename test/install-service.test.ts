// Proves the install service on real component hosts (each component a child process):
// a node fetches a package it lacks from a member, verifies it and starts it; a new
// version replaces the old (whose process ends); a release whose start throws, and one
// that crashes within the settle window, are rolled back to the previous version, which
// runs again; a restarted agent starts what it had installed; the farm's desired list
// installs, reconfigures, upgrades and removes, a broken release it names is rolled back
// once and not retried, a restarted node keeps its installs until the farm's list is
// known, and an explicit remove of what the farm wants is refused; a rollout to three nodes in batches installs a new version everywhere, and a
// rollout whose second node fails stops there: the third node is not asked and keeps
// its version; a node takes install.apply and install.remove only from members whose
// roles tag says controller or management (a plain member's rollout is refused on every
// target, and nothing changes there). Nodes are linked by messengers joined in process
// (support/messenger-fabric.ts) that carry their FarmRpc and chunk channels.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { FarmRpc, kRpcCodec } from '../src/farm/service/farm-rpc.js';
import { kBytesCodec } from '../src/core/messenger/channel-codec.js';
import { MessengerFabric } from './support/messenger-fabric.js';
import { ChunkChannel } from '../src/farm/install/chunk-channel.js';
import { StaticDesiredComponents } from '../src/farm/install/desired-components.js';
import { FarmInstall } from '../src/farm/install/farm-install.js';
import type { FarmPeer } from '../src/farm/install/farm-peer.js';
import type { InstallProgress } from '../src/farm/install/install-progress.js';
import { InstallService } from '../src/farm/install/install-service.js';
import { PackageStore } from '../src/farm/install/package-store.js';
import { PackageFetcher } from '../src/farm/install/package-fetcher.js';
import { installAuthorizer, type InstallMember } from '../src/farm/install/install-authorization.js';
import { kServiceRemove, serveInstallRpc } from '../src/farm/install/install-rpc.js';
import { packageRoot } from '../src/core/platform/package-root.js';
import { closeHosts, processExists, testHost, waitFor } from './support/components.js';

const root = mkdtempSync(join(tmpdir(), 'galaxy-install-service-'));
afterEach(() => closeHosts());
afterAll(() => rmSync(root, { recursive: true, force: true }));
let counter = 0;

/** A copy of a fixture package with another version (and other manifest edits). */
function fixture(name: 'greeter' | 'greeter-broken', version: string, edit: (manifest: Record<string, unknown>) => void = () => {}): string {
  const dir = join(root, `pkg-${counter++}`);
  cpSync(join(packageRoot(), 'test', 'fixtures', 'packages', name), dir, { recursive: true });
  const path = join(dir, 'galaxy-component.json');
  const manifest = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  manifest['version'] = version;
  edit(manifest);
  writeFileSync(path, JSON.stringify(manifest));
  return dir;
}

type Send = (to: string, frame: Uint8Array) => boolean;

interface Endpoint {
  readonly rpc: FarmRpc;
  /** Sends a frame of the install-chunks channel. */
  readonly send: Send;
  /** Where this node's install-chunks frames go (its chunk channel, or its install service's). */
  app: (from: string, frame: Uint8Array) => void;
}

interface Network {
  join(peer: FarmPeer): Endpoint;
}

/** Nodes whose messengers (FarmRpc and the chunk channel on them) reach each other by node id, asynchronously. */
function network(): Network {
  const fabric = new MessengerFabric();
  return {
    join(peer) {
      const messenger = fabric.join(peer);
      const chunks = messenger.channel('install-chunks', kBytesCodec);
      const endpoint: Endpoint = { rpc: FarmRpc.over(messenger.channel('rpc', kRpcCodec), peer.id), send: (to, frame) => chunks.send(to, frame, 'stream'), app: () => {} };
      chunks.onMessage((message) => endpoint.app(message.from, message.value));
      return endpoint;
    },
  };
}

/** A fetcher for a node of the network, with its chunk channel connected. */
function fetcherFor(net: Network, self: FarmPeer, store: PackageStore, peers: () => readonly FarmPeer[]): PackageFetcher {
  const endpoint = net.join(self);
  const chunks = new ChunkChannel({ send: endpoint.send, store });
  endpoint.app = (from, frame) => chunks.receive(from, frame);
  return new PackageFetcher({ rpc: endpoint.rpc, chunks, store, peers, random: () => 0 });
}

const peerOf = (i: number): FarmPeer => ({ id: String(i).repeat(16), address: `10.0.0.${i}:7946` });

/** A member that only holds packages and serves them. */
async function holder(net: Network, dirs: readonly string[]): Promise<{ peer: FarmPeer; store: PackageStore }> {
  const peer = peerOf(9);
  const store = new PackageStore(join(root, `holder-${counter++}`));
  for (const dir of dirs) await store.importDirectory(dir);
  const endpoint = net.join(peer);
  serveInstallRpc(endpoint.rpc, { store });
  const chunks = new ChunkChannel({ send: endpoint.send, store });
  endpoint.app = (from, frame) => chunks.receive(from, frame);
  return { peer, store };
}

const kSettleMs = 400;

function versionRunning(host: ReturnType<typeof testHost>['host']): string | null {
  const status = host.status().find((s) => s.name === 'greeter');
  if (status?.state !== 'running') return null;
  return String(host.lastValues('greeter')?.['version'] ?? '');
}

describe('install service', () => {
  it('installs, replaces, and rolls back a failing start or an early crash', async () => {
    const net = network();
    const source = await holder(net, [fixture('greeter', '1.0.0'), fixture('greeter', '2.0.0'), fixture('greeter-broken', '3.0.0'), fixture('greeter', '2.1.0', (m) => (m['config'] = { crashAfterMs: 50 }))]);
    const self = peerOf(1);
    const { host } = testHost({ nodeId: self.id });
    const store = new PackageStore(join(root, `node-${counter++}`));
    const fetcher = fetcherFor(net, self, store, () => [source.peer]);
    const stateFile = join(root, `state-${counter++}.json`);
    const service = new InstallService({ store, host, fetcher, stateFile, settleMs: kSettleMs });
    const progress: InstallProgress[] = [];
    service.on('progress', (p) => progress.push(p));
    await service.start();

    expect(await service.install('greeter', '1.0.0')).toMatchObject({ result: 'installed', version: '1.0.0', previousVersion: null, error: null });
    await waitFor('1.0.0 posts its version', () => versionRunning(host) === '1.0.0');
    expect(store.has('greeter', '1.0.0')).toBe(true);
    const pid1 = host.status().find((s) => s.name === 'greeter')!.pid!;

    expect(await service.install('greeter', '2.0.0')).toMatchObject({ result: 'installed', version: '2.0.0', previousVersion: '1.0.0' });
    await waitFor('2.0.0 posts its version', () => versionRunning(host) === '2.0.0');
    await waitFor('the 1.0.0 process is gone', () => !processExists(pid1));

    progress.length = 0;
    const broken = await service.install('greeter', '3.0.0');
    expect(broken).toMatchObject({ result: 'rolled-back', version: '3.0.0', previousVersion: '2.0.0', error: { code: 'GALAXY_INSTALL_START_FAILED' } });
    expect(broken.error!.message).toContain('a broken release');
    expect(progress.map((p) => p.phase)).toEqual(['fetching', 'fetching', 'verifying', 'installing', 'starting', 'rolled-back']);
    await waitFor('2.0.0 runs again', () => versionRunning(host) === '2.0.0');
    expect(service.installed()).toMatchObject([{ name: 'greeter', version: '2.0.0', origin: 'local', state: 'running' }]);

    const crashing = await service.install('greeter', '2.1.0');
    expect(crashing).toMatchObject({ result: 'rolled-back', previousVersion: '2.0.0', error: { code: 'GALAXY_INSTALL_START_FAILED' } });
    expect(crashing.error!.message).toContain(`within ${kSettleMs} ms`);
    await waitFor('2.0.0 runs again after the crash', () => versionRunning(host) === '2.0.0');
    // The failed decisions were forgotten: the node's desired state is what runs.
    expect(service.desired()).toMatchObject([{ name: 'greeter', version: '2.0.0' }]);

    // A restarted agent: a new host and service on the same store and state start what ran.
    await service.close();
    await host.close();
    const restarted = testHost({ nodeId: self.id });
    const again = new InstallService({ store, host: restarted.host, fetcher, stateFile, settleMs: kSettleMs });
    expect(await again.start()).toMatchObject([{ name: 'greeter', result: 'installed', version: '2.0.0' }]);
    await waitFor('2.0.0 runs after the restart', () => versionRunning(restarted.host) === '2.0.0');

    expect(await again.remove('greeter')).toMatchObject({ name: 'greeter', result: 'removed', previousVersion: '2.0.0' });
    expect(restarted.host.status()).toEqual([]);
    await expect(again.remove('greeter')).rejects.toMatchObject({ code: 'GALAXY_INSTALL_NOT_INSTALLED' });
    await again.close();
  }, 60_000);

  it('follows the farm\'s desired list, keeps its installs while the list is unknown, and leaves components it did not install alone', async () => {
    const net = network();
    const source = await holder(net, [fixture('greeter', '1.0.0'), fixture('greeter', '2.0.0'), fixture('greeter-broken', '3.0.0')]);
    const self = peerOf(2);
    const { host } = testHost({ nodeId: self.id });
    host.add({ name: 'builtin', kind: 'greeter', module: join(packageRoot(), 'test', 'fixtures', 'packages', 'greeter', 'index.mjs') });
    const store = new PackageStore(join(root, `node-${counter++}`));
    const fetcher = fetcherFor(net, self, store, () => [source.peer]);
    const desired = new StaticDesiredComponents([{ name: 'greeter', version: '1.0.0', config: { greeting: 'hi' } }]);
    const stateFile = join(root, `state-${counter++}.json`);
    const service = new InstallService({ store, host, fetcher, stateFile, source: desired, settleMs: kSettleMs });
    expect(await service.start()).toMatchObject([{ name: 'greeter', result: 'installed', version: '1.0.0' }]);
    expect(host.lastValues('greeter')).toMatchObject({ version: '1.0.0', greeting: 'hi, farm' });

    // A configuration change alone reconfigures the running component.
    desired.set([{ name: 'greeter', version: '1.0.0', config: { greeting: 'hey' } }]);
    expect(await service.reconcile()).toMatchObject([{ name: 'greeter', result: 'configured' }]);
    await waitFor('the new greeting', () => host.lastValues('greeter')?.['greeting'] === 'hey, farm');

    desired.set([{ name: 'greeter', version: '2.0.0' }]);
    await service.reconcile();
    await waitFor('2.0.0 runs', () => versionRunning(host) === '2.0.0');
    await expect(service.remove('greeter')).rejects.toMatchObject({ code: 'GALAXY_INSTALL_WANTED_BY_FARM' });
    await expect(service.remove('builtin')).rejects.toMatchObject({ code: 'GALAXY_INSTALL_NOT_MANAGED' });
    await expect(service.install('builtin', '1.0.0')).resolves.toMatchObject({ result: 'failed', error: { code: 'GALAXY_INSTALL_NOT_MANAGED' } });

    // A broken release from the farm is rolled back once, then not retried until the farm's entry changes.
    desired.set([{ name: 'greeter', version: '3.0.0' }]);
    expect(await service.reconcile()).toMatchObject([{ name: 'greeter', result: 'rolled-back', previousVersion: '2.0.0' }]);
    expect(await service.reconcile()).toMatchObject([{ name: 'greeter', result: 'skipped', error: { code: 'GALAXY_INSTALL_START_FAILED' } }]);
    expect(versionRunning(host)).toBe('2.0.0');

    // A restarted node whose farm list is not known yet keeps and starts what it had; it removes it once the list says so.
    await service.close();
    await host.close();
    let known = false;
    const listeners = new Set<() => void>();
    const unknownYet = { current: () => [], ready: () => known, onChange: (listener: () => void) => (listeners.add(listener), () => listeners.delete(listener)) };
    const restarted = testHost({ nodeId: self.id });
    const again = new InstallService({ store, host: restarted.host, fetcher, stateFile, source: unknownYet, settleMs: kSettleMs });
    expect(await again.start()).toMatchObject([{ name: 'greeter', result: 'installed', version: '2.0.0' }]);
    expect(again.installed()).toMatchObject([{ name: 'greeter', origin: 'kept', state: 'running' }]);
    await expect(again.remove('greeter')).rejects.toMatchObject({ code: 'GALAXY_INSTALL_BUSY' });
    known = true;
    for (const listener of listeners) listener();
    expect(await again.reconcile()).toMatchObject([{ name: 'greeter', result: 'removed' }]);
    await again.close();
  }, 60_000);

  it('rolls a version out to three nodes in batches and stops at the first failure', async () => {
    const net = network();
    const coordinatorPeer = peerOf(5);
    const targets = [peerOf(6), peerOf(7), peerOf(8)];
    const everyone = [coordinatorPeer, ...targets];
    const installs = everyone.map((peer) => {
      const { host } = testHost({ nodeId: peer.id });
      const endpoint = net.join(peer);
      const install = new FarmInstall({
        dataDir: join(root, `farm-${counter++}`),
        selfId: peer.id,
        rpc: endpoint.rpc,
        sendChunk: endpoint.send,
        host,
        peers: () => everyone.filter((p) => p.id !== peer.id),
        service: { settleMs: kSettleMs },
      });
      endpoint.app = (from, frame) => install.receive(from, frame);
      return install;
    });
    const [coordinator, ...nodes] = installs;
    for (const install of installs) await install.start();
    await coordinator!.addPackage(fixture('greeter', '1.0.0'), 'test');
    await coordinator!.addPackage(fixture('greeter', '2.0.0'), 'test');
    const versions = (): Array<string | null> => nodes.map((n) => n.service.installed()[0]?.version ?? null);

    const first = await coordinator!.rolloutTo({ name: 'greeter', version: '1.0.0', target: { nodes: targets.map((t) => t.id) }, batch: 2 }, 'test');
    expect(first).toMatchObject({ ok: true, batches: 2, stoppedInBatch: null });
    expect(first.nodes.map((n) => n.result)).toEqual(['installed', 'installed', 'installed']);
    expect(versions()).toEqual(['1.0.0', '1.0.0', '1.0.0']);

    // The second target refuses to start 2.0.0: the rollout stops with it, the third node is not asked.
    const second = await coordinator!.rolloutTo({ name: 'greeter', version: '2.0.0', config: { failOn: [targets[1]!.id] }, target: { nodes: targets.map((t) => t.id) }, batch: 1 }, 'test');
    expect(second).toMatchObject({ ok: false, batches: 3, stoppedInBatch: 1 });
    expect(second.nodes.map((n) => [n.id, n.result])).toEqual([
      [targets[0]!.id, 'installed'],
      [targets[1]!.id, 'rolled-back'],
      [targets[2]!.id, 'not-attempted'],
    ]);
    expect(second.nodes[1]!.error?.message).toContain(`refuses to start on ${targets[1]!.id}`);
    expect(versions()).toEqual(['2.0.0', '1.0.0', '1.0.0']);
    expect(nodes.map((n) => n.service.installed()[0]?.state)).toEqual(['running', 'running', 'running']);
    await expect(coordinator!.rolloutTo({ name: 'greeter', version: '2.0.0', target: { nodes: ['ffffffffffffffff'] } }, 'test')).rejects.toMatchObject({ code: 'GALAXY_INSTALL_BAD_TARGET' });
    for (const install of installs) await install.close();
  }, 90_000);

  it('takes install.apply and install.remove only from controller or management members', async () => {
    const net = network();
    const plain = peerOf(1);
    const manager = peerOf(2);
    const target = peerOf(3);
    const everyone = [plain, manager, target];
    const members: InstallMember[] = [
      { id: plain.id, status: 'alive', tags: { roles: 'web' } },
      { id: manager.id, status: 'alive', tags: { roles: 'compute,management' } },
      { id: target.id, status: 'alive', tags: {} },
    ];
    const installs = everyone.map((peer) => {
      const { host } = testHost({ nodeId: peer.id });
      const endpoint = net.join(peer);
      const install = new FarmInstall({
        dataDir: join(root, `farm-${counter++}`),
        selfId: peer.id,
        rpc: endpoint.rpc,
        sendChunk: endpoint.send,
        host,
        peers: () => everyone.filter((p) => p.id !== peer.id),
        authorize: installAuthorizer(() => members),
        service: { settleMs: kSettleMs },
      });
      endpoint.app = (from, frame) => install.receive(from, frame);
      return { install, endpoint };
    });
    const [fromPlain, fromManager, onTarget] = installs;
    for (const { install } of installs) await install.start();
    await fromPlain!.install.addPackage(fixture('greeter', '1.0.0'), 'test');
    await fromManager!.install.addPackage(fixture('greeter', '1.0.0'), 'test');

    const refused = await fromPlain!.install.rolloutTo({ name: 'greeter', version: '1.0.0', target: { nodes: [target.id] } }, 'test');
    expect(refused.ok).toBe(false);
    expect(refused.nodes[0]!.error).toMatchObject({ code: 'GALAXY_INSTALL_FORBIDDEN', message: expect.stringContaining(`node ${plain.id} may not call install.apply`) });
    expect(onTarget!.install.service.installed()).toEqual([]);
    expect(onTarget!.install.rpcCounters.refused).toBe(1);

    const allowed = await fromManager!.install.rolloutTo({ name: 'greeter', version: '1.0.0', target: { nodes: [target.id] } }, 'test');
    expect(allowed).toMatchObject({ ok: true });
    expect(onTarget!.install.service.installed()).toMatchObject([{ name: 'greeter', version: '1.0.0', state: 'running' }]);
    await expect(fromPlain!.endpoint.rpc.call(target.id, kServiceRemove, { name: 'greeter' })).rejects.toMatchObject({ code: 'GALAXY_INSTALL_FORBIDDEN' });
    expect(onTarget!.install.service.installed()).toHaveLength(1);
    // A member whose role was right but who is gone now (dead) is refused as well.
    members[1] = { ...members[1]!, status: 'dead' };
    await expect(fromManager!.endpoint.rpc.call(target.id, kServiceRemove, { name: 'greeter' })).rejects.toMatchObject({ code: 'GALAXY_INSTALL_FORBIDDEN' });
    members[1] = { ...members[1]!, status: 'alive' };
    expect(await fromManager!.endpoint.rpc.call(target.id, kServiceRemove, { name: 'greeter' })).toMatchObject({ result: 'removed' });
    expect(onTarget!.install.rpcCounters.refused).toBe(3);
    for (const { install } of installs) await install.close();
  }, 90_000);
});

describe('install authorization', () => {
  it('guards only install.apply and install.remove, by the roles tag of a live member', () => {
    const members: InstallMember[] = [
      { id: 'a', status: 'alive', tags: { roles: 'controller' } },
      { id: 'b', status: 'suspect', tags: { roles: 'management' } },
      { id: 'c', status: 'alive', tags: { roles: 'managementx,web' } },
      { id: 'd', status: 'left', tags: { roles: 'controller' } },
      { id: 'e', status: 'alive', tags: {} },
    ];
    const authorize = installAuthorizer(() => members);
    const from = (id: string) => ({ id, peer: 'tcp#1' });
    expect(authorize(from('a'), 'install.apply')).toBe(true);
    expect(authorize(from('b'), 'install.remove')).toBe(true);
    for (const id of ['c', 'd', 'e', 'nobody']) expect(authorize(from(id), 'install.apply'), id).toBe(false);
    expect(authorize(from('nobody'), 'install.have')).toBe(true);
  });
});
