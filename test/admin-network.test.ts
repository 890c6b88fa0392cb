// Administrative traffic on its own network (issue 19, item 1), the parts below the agent:
//  - FarmRpc: a routed call sends its request (and every resend) on the route, the
//    receiver answers a request that arrived on an extra network over the connection it
//    came on (route {address: its peer, via: that network}), never by node id over the
//    farm address; a service not registered for networks is refused there
//    (GALAXY_RPC_NETWORK_REFUSED) while the farm socket still serves it;
//  - the messenger hands the arrival network up (Delivered.via) and drops, on an extra
//    network, every channel but cluster, rpc and install-chunks (`network-refused`);
//  - the chunk channel answers a request over the route it came by; a package fetch over
//    a network asks only members with an address there, each on its route;
//  - which network carries a member's admin traffic (adminNetwork) and where a routed
//    call goes (networkRoute).
// test/cluster-networks-agents.test.ts shows it on real agents (a lifecycle's installs,
// answers and package fetch over the data sockets); test/faults/network-faults.test.ts on
// the wire, with nftables counters.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { kBytesCodec } from '../src/core/messenger/channel-codec.js';
import { channelByName } from '../src/core/messenger/channel-table.js';
import { encodeEnvelope } from '../src/core/messenger/envelope.js';
import { adminNetwork } from '../src/cluster/service/cluster-networks.js';
import { ChunkChannel } from '../src/farm/install/chunk-channel.js';
import { networkRoute } from '../src/farm/install/network-route.js';
import { PackageFetcher } from '../src/farm/install/package-fetcher.js';
import { PackageStore } from '../src/farm/install/package-store.js';
import { FarmRpc, type RpcFrame, type RpcSender } from '../src/farm/service/farm-rpc.js';
import type { Route } from '../src/node/messenger/messenger-channel.js';
import { Messenger } from '../src/node/messenger/messenger.js';
import type { AppMessage } from '../src/node/driver/agent-worker-protocol.js';

const kA = '00000000000000a1';
const kB = '00000000000000b2';

/** Two FarmRpc endpoints joined by a pipe that records each frame's route and delivers it as the messenger would (peer, via). */
function pair() {
  const sent: Array<{ from: string; to: string; kind: number; route: Route | undefined }> = [];
  const endpoints = new Map<string, FarmRpc>();
  // B's side of A's routed connection is "tcp#7" on network admin; A's side of it is B's admin address.
  const deliver = (from: string, to: string, frame: RpcFrame, route: Route | undefined): void => {
    sent.push({ from, to, kind: frame.kind, route });
    const sender: RpcSender = route?.via === undefined ? { id: from, peer: `farm-of-${from}` } : { id: from, peer: from === kA ? 'tcp#7' : route.address, via: route.via };
    queueMicrotask(() => endpoints.get(to)!.receive(sender, frame));
  };
  const a = new FarmRpc({ selfId: kA, send: (to, frame, route) => deliver(kA, to, frame, route), retryMs: 20 });
  const b = new FarmRpc({ selfId: kB, send: (to, frame, route) => deliver(kB, to, frame, route), retryMs: 20 });
  endpoints.set(kA, a).set(kB, b);
  return { a, b, sent };
}

describe('administrative traffic on its own network', () => {
  it('a routed call goes on its route and is answered over the connection it came on', async () => {
    const { a, b, sent } = pair();
    b.handle('install.apply', (from, body) => ({ from: from.id, via: from.via ?? null, body }), { networks: true });
    const route = { address: '10.78.0.2:7946', via: 'admin' };
    await expect(a.call(kB, 'install.apply', { n: 1 }, 1_000, route)).resolves.toEqual({ from: kA, via: 'admin', body: { n: 1 } });
    expect(sent).toEqual([
      { from: kA, to: kB, kind: 1, route },
      { from: kB, to: kA, kind: 2, route: { address: 'tcp#7', via: 'admin' } },
    ]);
    expect(a.counters.routed).toBe(1);
    expect(b.counters.routed).toBe(1);
    // Unrouted, the same service answers over the farm address (no route on either frame).
    sent.length = 0;
    await expect(a.call(kB, 'install.apply', { n: 2 })).resolves.toEqual({ from: kA, via: null, body: { n: 2 } });
    expect(sent.every((s) => s.route === undefined)).toBe(true);
    a.close();
    b.close();
  });

  it('resends of a routed call keep the route; the duplicate is answered on it', async () => {
    const { a, b, sent } = pair();
    let handled = 0;
    let release: () => void = () => {};
    b.handle('install.apply', () => {
      handled++;
      return new Promise((resolve) => (release = () => resolve({ ok: true })));
    }, { networks: true });
    const route = { address: '10.78.0.2:7946', via: 'admin' };
    const call = a.call(kB, 'install.apply', {}, 2_000, route);
    await new Promise((resolve) => setTimeout(resolve, 70));
    release();
    await expect(call).resolves.toEqual({ ok: true });
    expect(handled).toBe(1);
    const requests = sent.filter((s) => s.kind === 1);
    expect(requests.length).toBeGreaterThan(1);
    expect(requests.every((s) => s.route === route)).toBe(true);
    expect(sent.filter((s) => s.kind === 2).every((s) => s.route?.address === 'tcp#7' && s.route.via === 'admin')).toBe(true);
    a.close();
    b.close();
  });

  it('a service not registered for networks is refused on an extra network and served on the farm socket', async () => {
    const { a, b } = pair();
    b.handle('events.post', () => 'posted');
    await expect(a.call(kB, 'events.post', {}, 1_000, { address: '10.78.0.2:7946', via: 'admin' })).rejects.toMatchObject({ code: 'GALAXY_RPC_NETWORK_REFUSED' });
    expect(b.counters.networkRefused).toBe(1);
    expect(b.counters.handled).toBe(0);
    await expect(a.call(kB, 'events.post', {})).resolves.toBe('posted');
    a.close();
    b.close();
  });

  it('the messenger hands the arrival network up, and drops other channels arriving on one', async () => {
    const out: AppMessage[] = [];
    const messenger = new Messenger({ selfId: kB, transport: { sendApp: (m) => void out.push(...m), broadcast: () => {} }, membersMax: 16, broadcastBytesMax: 1024 });
    messenger.memberEvent({ type: 'alive', id: kA, address: '10.77.0.1:7946' });
    const rpcSeen: Array<{ peer: string; via: string | undefined }> = [];
    messenger.channel('rpc', kBytesCodec).onMessage((m) => rpcSeen.push({ peer: m.peer, via: m.via }));
    const fmidbSeen: string[] = [];
    messenger.channel('fmidb', kBytesCodec).onMessage((m) => fmidbSeen.push(m.peer));
    const payload = new Uint8Array([1, 2, 3]);
    messenger.receive([
      { peer: 'tcp#3', bytes: encodeEnvelope('stream', channelByName('rpc').id, kA, payload), stream: true, via: 'admin' },
      { peer: 'tcp#4', bytes: encodeEnvelope('stream', channelByName('rpc').id, kA, payload), stream: true },
      { peer: 'tcp#5', bytes: encodeEnvelope('stream', channelByName('fmidb').id, kA, payload), stream: true, via: 'admin' },
      { peer: 'tcp#6', bytes: encodeEnvelope('stream', channelByName('fmidb').id, kA, payload), stream: true },
    ]);
    expect(rpcSeen).toEqual([{ peer: 'tcp#3', via: 'admin' }, { peer: 'tcp#4', via: undefined }]);
    expect(fmidbSeen).toEqual(['tcp#6']);
    expect(messenger.snapshot()['fmidb']!.dropped['network-refused']).toBe(1);
    // A routed send leaves on the route.
    messenger.channel('install-chunks', kBytesCodec).send(kA, payload, 'stream', { address: 'tcp#3', via: 'admin' });
    messenger.flush();
    expect(out.map((m) => [m.peer, m.via])).toEqual([['tcp#3', 'admin']]);
    messenger.close();
  });

  it('the chunk channel answers a request over the route it came by', async () => {
    const store = new PackageStore(mkdtempSync(join(tmpdir(), 'galaxy-admin-chunks-')));
    const answers: Array<{ to: string; route: Route | undefined }> = [];
    const serving = new ChunkChannel({ send: (to, _frame, route) => void answers.push({ to, route }), store });
    const requests: Array<{ to: string; frame: Uint8Array; route: Route | undefined }> = [];
    const asking = new ChunkChannel({ send: (to, frame, route) => void requests.push({ to, frame, route }) });
    const route = { address: '10.78.0.2:7946', via: 'admin' };
    const pending = asking.request(kB, { name: 'greeter', version: '1.0.0', path: 'index.js', offset: 0, length: 10 }, 200, route).catch((e: Error & { code?: string }) => e.code);
    expect(requests[0]!.route).toBe(route);
    serving.receive(kA, requests[0]!.frame, { address: 'tcp#9', via: 'admin' });
    await new Promise((resolve) => setTimeout(resolve, 50));
    // The store holds no such package: the refusal goes back the way the request came.
    expect(answers).toEqual([{ to: kA, route: { address: 'tcp#9', via: 'admin' } }]);
    expect(await pending).toBe('GALAXY_INSTALL_TIMEOUT');
    asking.close();
    serving.close();
  });

  it('a fetch over a network asks only members with an address there, each on its route', async () => {
    const store = new PackageStore(mkdtempSync(join(tmpdir(), 'galaxy-admin-fetch-')));
    const calls: Array<{ to: string; service: string; route: Route | undefined }> = [];
    const rpc = {
      handle: () => {},
      call: async (to: string, service: string, _body: unknown, _timeoutMs?: number, route?: Route) => {
        calls.push({ to, service, route });
        return { have: false };
      },
    };
    const peers = [{ id: kA, address: '10.77.0.1:7946' }, { id: kB, address: '10.77.0.2:7946' }];
    const fetcher = new PackageFetcher({ rpc, chunks: { request: () => Promise.reject(new Error('no chunks here')) }, store, peers: () => peers, route: (peer, network) => (peer === kB && network === 'admin' ? { address: '10.78.0.2:7946', via: 'admin' } : null) });
    await expect(fetcher.fetch({ name: 'greeter', version: '1.0.0', network: 'admin' })).rejects.toMatchObject({ code: 'GALAXY_INSTALL_NOT_FOUND', message: expect.stringContaining('on network admin') });
    expect(calls).toEqual([{ to: kB, service: 'install.have', route: { address: '10.78.0.2:7946', via: 'admin' } }]);
    // Without a network, every member is asked at its farm address.
    calls.length = 0;
    await expect(fetcher.fetch({ name: 'greeter', version: '1.0.0' })).rejects.toMatchObject({ code: 'GALAXY_INSTALL_NOT_FOUND' });
    expect(calls.map((c) => [c.to, c.route])).toEqual([[kA, undefined], [kB, undefined]]);
  });

  it('adminNetwork names the extra network whose published host is the admin selection', () => {
    const networks = { [kB]: { admin: '10.78.0.2', components: '10.77.0.2', failureDetection: '10.77.0.2' } };
    const attributes = [{ key: 'address', value: '10.77.0.2' }, { key: 'net.data', value: '10.79.0.2' }, { key: 'net.admin', value: '10.78.0.2' }];
    expect(adminNetwork(networks, kB, '10.77.0.2:7946', attributes)).toBe('admin');
    // Selection = the farm host, no selection, or no net.* holding it: the farm address.
    expect(adminNetwork({ [kB]: { ...networks[kB]!, admin: '10.77.0.2' } }, kB, '10.77.0.2:7946', attributes)).toBeUndefined();
    expect(adminNetwork(networks, kA, '10.77.0.1:7946', attributes)).toBeUndefined();
    expect(adminNetwork(null, kB, '10.77.0.2:7946', attributes)).toBeUndefined();
    expect(adminNetwork(networks, kB, '10.77.0.2:7946', [{ key: 'admin-ip', value: '10.78.0.2' }])).toBeUndefined();
  });

  it('networkRoute: the member\'s net.NAME host on its farm port, from this node\'s socket on NAME when it has one', () => {
    const attrs: Record<string, Record<string, string>> = { [kB]: { 'net.admin': '10.78.0.2' }, [kA]: { 'net.admin': 'fd00::1' } };
    const farm: Record<string, string> = { [kB]: '10.77.0.2:7946', [kA]: '[fd00::9]:7000' };
    let own = new Set(['admin']);
    const route = networkRoute({ ownNetworks: () => own, attribute: (n, k) => attrs[n]?.[k], farmAddress: (n) => farm[n] });
    expect(route(kB, 'admin')).toEqual({ address: '10.78.0.2:7946', via: 'admin' });
    expect(route(kA, 'admin')).toEqual({ address: '[fd00::1]:7000', via: 'admin' });
    expect(route(kB, 'data')).toBeNull();
    own = new Set();
    expect(route(kB, 'admin')).toEqual({ address: '10.78.0.2:7946' });
  });
});
