// Proves the install service's ownership record on a real component host (each
// component a child process; packages fetched from a member over messengers joined in
// process): the cluster lifecycle installs with an owner (its operation) and removes
// with `ownedOnly`, so it never removes what an operator installed by hand (issue 19).
//  - a hand install has no owner; a lifecycle install over it (same version: unchanged)
//    does not take it over, and an owned-only removal keeps it running in the same
//    process, while a plain removal (what the lifecycle asked before: the broken variant)
//    takes it away;
//  - a lifecycle install onto nothing is owned, through an upgrade and a restart of the
//    service (the state file), and an owned-only removal removes it (a second one
//    arriving while it is under way is not refused);
//  - a hand install over an owned component takes it over (the latest decision wins);
//  - a failed owned install onto nothing leaves no owner behind.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { kBytesCodec } from '../src/core/messenger/channel-codec.js';
import { packageRoot } from '../src/core/platform/package-root.js';
import { ChunkChannel } from '../src/farm/install/chunk-channel.js';
import type { FarmPeer } from '../src/farm/install/farm-peer.js';
import { serveInstallRpc } from '../src/farm/install/install-rpc.js';
import { InstallService } from '../src/farm/install/install-service.js';
import { PackageFetcher } from '../src/farm/install/package-fetcher.js';
import { PackageStore } from '../src/farm/install/package-store.js';
import { FarmRpc, kRpcCodec } from '../src/farm/service/farm-rpc.js';
import { closeHosts, processExists, testHost, waitFor } from './support/components.js';
import { MessengerFabric } from './support/messenger-fabric.js';

const root = mkdtempSync(join(tmpdir(), 'galaxy-install-ownership-'));
afterEach(() => closeHosts());
afterAll(() => rmSync(root, { recursive: true, force: true }));
let counter = 0;
const kSettleMs = 300;
const kOwner = 'cluster/shop op 0123456789abcdef';

function fixture(name: 'greeter' | 'greeter-broken', version: string): string {
  const dir = join(root, `pkg-${counter++}`);
  cpSync(join(packageRoot(), 'test', 'fixtures', 'packages', name), dir, { recursive: true });
  const path = join(dir, 'galaxy-component.json');
  writeFileSync(path, JSON.stringify({ ...(JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>), version }));
  return dir;
}

const peerOf = (i: number): FarmPeer => ({ id: String(i).repeat(16), address: `10.0.0.${i}:7946` });

/** A node (peer 1) whose fetcher reaches a member (peer 9) holding the packages. */
async function node(dirs: readonly string[]) {
  const fabric = new MessengerFabric();
  const join_ = (peer: FarmPeer, store: PackageStore) => {
    const messenger = fabric.join(peer);
    const channel = messenger.channel('install-chunks', kBytesCodec);
    const chunks = new ChunkChannel({ send: (to, frame) => channel.send(to, frame, 'stream'), store });
    channel.onMessage((message) => chunks.receive(message.from, message.value));
    return { rpc: FarmRpc.over(messenger.channel('rpc', kRpcCodec), peer.id), chunks };
  };
  const holderStore = new PackageStore(join(root, `holder-${counter++}`));
  for (const dir of dirs) await holderStore.importDirectory(dir);
  serveInstallRpc(join_(peerOf(9), holderStore).rpc, { store: holderStore });
  const self = peerOf(1);
  const store = new PackageStore(join(root, `node-${counter++}`));
  const { rpc, chunks } = join_(self, store);
  const fetcher = new PackageFetcher({ rpc, chunks, store, peers: () => [peerOf(9)], random: () => 0 });
  const stateFile = join(root, `state-${counter++}.json`);
  const make = () => {
    const { host } = testHost({ nodeId: self.id });
    return { host, service: new InstallService({ store, host, fetcher, stateFile, settleMs: kSettleMs }) };
  };
  return { make };
}

const pidOf = (host: ReturnType<typeof testHost>['host']) => host.status().find((s) => s.name === 'greeter' && s.state === 'running')?.pid ?? null;

describe('install ownership: the lifecycle removes only what it installed', () => {
  it('keeps a hand-installed component through an owned install and an owned-only removal; a plain removal takes it (the broken variant)', async () => {
    const { make } = await node([fixture('greeter', '1.0.0')]);
    const { host, service } = make();
    await service.start();
    expect(await service.install('greeter', '1.0.0')).toMatchObject({ result: 'installed' });
    await waitFor('greeter runs', () => pidOf(host) !== null, 30_000);
    const pid = pidOf(host)!;
    expect(service.ownerOf('greeter')).toBeNull();
    expect(await service.install('greeter', '1.0.0', { owner: kOwner })).toMatchObject({ result: 'unchanged' });
    expect(service.ownerOf('greeter')).toBeNull();
    expect(service.installed()).toMatchObject([{ name: 'greeter', owner: null, state: 'running' }]);
    await expect(service.remove('greeter', { ownedOnly: true })).rejects.toMatchObject({ code: 'GALAXY_INSTALL_NOT_OWNED' });
    expect(pidOf(host)).toBe(pid);
    expect(processExists(pid)).toBe(true);
    // The broken variant: a removal that does not ask for ownership removes the operator's copy.
    expect(await service.remove('greeter')).toMatchObject({ result: 'removed' });
    await waitFor('the hand-installed greeter is gone', () => !processExists(pid), 30_000);
    await service.close();
  }, 120_000);

  it('owns what it installed onto nothing, through an upgrade and a restart; an owned-only removal removes it; a hand install takes over', async () => {
    const { make } = await node([fixture('greeter', '1.0.0'), fixture('greeter', '2.0.0')]);
    const first = make();
    await first.service.start();
    expect(await first.service.install('greeter', '1.0.0', { owner: kOwner })).toMatchObject({ result: 'installed' });
    expect(first.service.ownerOf('greeter')).toBe(kOwner);
    expect(await first.service.install('greeter', '2.0.0', { owner: 'cluster/shop op fedcba9876543210' })).toMatchObject({ result: 'installed', previousVersion: '1.0.0' });
    expect(first.service.ownerOf('greeter')).toBe(kOwner);
    await first.service.close();
    await first.host.close();

    const again = make();
    await again.service.start();
    await waitFor('greeter runs again after the restart', () => pidOf(again.host) !== null, 30_000);
    expect(again.service.installed()).toMatchObject([{ name: 'greeter', version: '2.0.0', owner: kOwner }]);
    // A second owned-only removal while the first is under way (a steward finishing a dead runner's delete) is not refused.
    const removing = again.service.remove('greeter', { ownedOnly: true });
    const second = again.service.remove('greeter', { ownedOnly: true });
    expect(await removing).toMatchObject({ result: 'removed' });
    await expect(second).resolves.toMatchObject({ name: 'greeter' });
    expect(again.service.ownerOf('greeter')).toBeNull();
    expect(again.service.installed()).toEqual([]);

    // Owned, then installed by hand: the operator's now.
    expect(await again.service.install('greeter', '1.0.0', { owner: kOwner })).toMatchObject({ result: 'installed' });
    expect(await again.service.install('greeter', '1.0.0', { config: { greeting: 'mine' } })).toMatchObject({ result: 'configured' });
    expect(again.service.ownerOf('greeter')).toBeNull();
    await expect(again.service.remove('greeter', { ownedOnly: true })).rejects.toMatchObject({ code: 'GALAXY_INSTALL_NOT_OWNED' });
    await again.service.close();
  }, 120_000);

  it('leaves no owner behind for an owned install that failed onto nothing', async () => {
    const { make } = await node([fixture('greeter-broken', '3.0.0')]);
    const { service } = make();
    await service.start();
    expect(await service.install('greeter', '3.0.0', { owner: kOwner })).toMatchObject({ result: 'failed' });
    expect(service.ownerOf('greeter')).toBeNull();
    expect(service.installed()).toEqual([]);
    await service.close();
  }, 120_000);
});
