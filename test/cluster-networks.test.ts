// Network selection plumbing (issue 19, item 1): a cluster definition carries each
// member's host per kind of traffic; the cluster service classifies each envelope as
// components or failureDetection traffic and routes it to the peer's selected host on
// its farm port, from this node's own extra network; the messenger's directory takes
// datagrams from a member's selected hosts (on its farm port only); the agent's
// --network option is checked. Each rule is also shown refusing what it must refuse.
import { describe, expect, it } from 'vitest';
import { encodeClusterEnvelope, encodeDatagramEnvelope, encodeSlowMemberEnvelope } from '../src/core/cluster-channels/cluster-channels-envelope.js';
import { encodeMessage, kMessageAccept, kMessageData, kMessageHeartbeat, kMessageInstall, kMessageJoin, kMessagePrepare, kMessageStable, type WireMessage } from '../src/core/cluster/cluster-wire.js';
import { kBytesCodec } from '../src/core/messenger/channel-codec.js';
import { encodeEnvelope } from '../src/core/messenger/envelope.js';
import { MemberDirectory } from '../src/core/messenger/member-directory.js';
import { decodeDefinition, encodeDefinition, type ClusterDefinition } from '../src/cluster/service/cluster-definition.js';
import { aliasHosts, canonicalHost, checkNetworks, clusterTrafficKind, routeFor } from '../src/cluster/service/cluster-networks.js';
import { agentSettings } from '../src/node/driver/agent-options.js';
import type { AppMessage } from '../src/node/driver/agent-worker-protocol.js';
import { Messenger } from '../src/node/messenger/messenger.js';
import { prepareAgent } from '../src/ops/agent/agent-command.js';
import { channelByName } from '../src/core/messenger/channel-table.js';

const A = 'aaaaaaaaaaaaaaaa';
const B = 'bbbbbbbbbbbbbbbb';
const C = 'cccccccccccccccc';
const head = { cluster: 'c1', incarnation: 3, viewId: 7 };

function core(message: WireMessage): Uint8Array {
  return encodeClusterEnvelope(encodeMessage(message));
}

describe('clusterTrafficKind', () => {
  it('puts the view protocol and the failure detector on failureDetection, channel data on components', () => {
    expect(clusterTrafficKind(core({ ...head, type: kMessageHeartbeat, ownSeq: 4, acks: [1, 2] }))).toBe('failureDetection');
    expect(clusterTrafficKind(core({ ...head, type: kMessageJoin }))).toBe('failureDetection');
    expect(clusterTrafficKind(core({ ...head, type: kMessagePrepare, ballot: { round: 1, rank: 0 } }))).toBe('failureDetection');
    const value = { viewId: 8, prevViewId: 7, members: [{ nodeId: A, incarnation: 1 }], cut: [0] };
    expect(clusterTrafficKind(core({ ...head, type: kMessageAccept, ballot: { round: 1, rank: 0 }, value, messages: [] } as unknown as WireMessage))).toBe('failureDetection');
    expect(clusterTrafficKind(core({ ...head, type: kMessageInstall, ballot: { round: 1, rank: 0 }, value, messages: [] } as unknown as WireMessage))).toBe('failureDetection');
    expect(clusterTrafficKind(core({ ...head, type: kMessageData, seq: 1, payload: new Uint8Array([1, 2, 3]) }))).toBe('components');
    expect(clusterTrafficKind(core({ ...head, type: kMessageStable, stable: 9 }))).toBe('components');
    expect(clusterTrafficKind(encodeDatagramEnvelope('c1', 7, 3, new Uint8Array([5])))).toBe('components');
    expect(clusterTrafficKind(encodeSlowMemberEnvelope('c1', 7, B, 2))).toBe('components');
  });
});

describe('routeFor and aliasHosts', () => {
  const networks = checkNetworks({
    [A]: { admin: '10.77.0.1', components: '10.78.0.1', failureDetection: '10.79.0.1' },
    [B]: { admin: '10.77.0.2', components: '10.78.0.2', failureDetection: '10.79.0.2' },
    [C]: { admin: '10.77.0.3', components: '10.77.0.3', failureDetection: '10.77.0.3' },
  });
  const mine = new Map([
    ['10.78.0.1', 'data'],
    ['10.79.0.1', 'fd'],
  ]);

  it("sends each kind to the peer's selected host on its farm port, from this node's own network for that kind", () => {
    expect(routeFor(networks, A, B, 'components', '10.77.0.2:7946', mine)).toEqual({ address: '10.78.0.2:7946', via: 'data' });
    expect(routeFor(networks, A, B, 'failureDetection', '10.77.0.2:7946', mine)).toEqual({ address: '10.79.0.2:7946', via: 'fd' });
    // Without an extra network of its own for that kind, this node sends from its farm socket.
    expect(routeFor(networks, A, B, 'components', '10.77.0.2:7946', new Map())).toEqual({ address: '10.78.0.2:7946' });
  });

  it('keeps the farm address where there is no selection, the selection is the farm host, or the farm address is unknown', () => {
    expect(routeFor(null, A, B, 'components', '10.77.0.2:7946', mine)).toBeNull();
    expect(routeFor(networks, A, C, 'components', '10.77.0.3:7946', mine)).toBeNull();
    expect(routeFor(networks, A, 'dddddddddddddddd', 'components', '10.77.0.4:7946', mine)).toBeNull();
    expect(routeFor(networks, A, B, 'components', undefined, mine)).toBeNull();
  });

  it("lists every other member's components and failureDetection hosts over all definitions", () => {
    const other = checkNetworks({ [B]: { admin: '10.77.0.2', components: '10.80.0.2', failureDetection: '10.80.0.2' } });
    const aliases = aliasHosts([networks, null, other], A);
    expect(aliases.has(A)).toBe(false);
    expect(aliases.get(B)).toEqual(['10.78.0.2', '10.79.0.2', '10.80.0.2']);
    expect(aliases.get(C)).toEqual(['10.77.0.3']);
  });

  it('refuses hosts that cannot be sent to (interface names, wildcards, ports) and canonicalises v6', () => {
    expect(() => checkNetworks({ [A]: { admin: '10.77.0.1', components: 'eth1', failureDetection: '10.77.0.1' } })).toThrow(/networks\.aaaaaaaaaaaaaaaa\.components: "eth1" is not a host address/);
    expect(() => checkNetworks({ [A]: { admin: '10.77.0.1', components: '0.0.0.0', failureDetection: '10.77.0.1' } })).toThrow(/not a host address/);
    expect(() => checkNetworks({ [A]: { admin: '10.77.0.1', components: '10.78.0.1:7946', failureDetection: '10.77.0.1' } })).toThrow(/not a host address/);
    expect(() => checkNetworks({ nope: { admin: '10.77.0.1', components: '10.78.0.1', failureDetection: '10.77.0.1' } })).toThrow(/node id/);
    expect(canonicalHost('fd00::1')).toBe('fd00:0:0:0:0:0:0:1');
    expect(routeFor(checkNetworks({ [B]: { admin: 'fd00::2', components: 'fd01::2', failureDetection: 'fd01::2' } }), A, B, 'components', '[fd00:0:0:0:0:0:0:2]:7946', new Map())).toEqual({ address: '[fd01:0:0:0:0:0:0:2]:7946' });
  });
});

describe('the definition carries the networks', () => {
  const base: ClusterDefinition = { format: 1, name: 'c1', uid: '0123456789abcdef', nodes: [A, B], landscape: null, size: null, tuning: {}, profile: 'p@1.0.0', createdAtMs: 1, createdBy: A, updatedAtMs: 1, deleted: false };

  it('round-trips them; a record written before them (no field) still decodes', () => {
    const networks = checkNetworks({ [A]: { admin: '10.77.0.1', components: '10.78.0.1', failureDetection: '10.78.0.1' } });
    expect(decodeDefinition(encodeDefinition({ ...base, networks }))?.networks).toEqual(networks);
    expect(decodeDefinition(encodeDefinition(base))).not.toBeNull();
    expect(decodeDefinition(encodeDefinition({ ...base, networks: null }))?.networks).toBeNull();
  });

  it('defines nothing when a replicated record holds a bad host', () => {
    const bad = JSON.stringify({ ...base, networks: { [A]: { admin: '10.77.0.1', components: 'eth1', failureDetection: '10.78.0.1' } } });
    expect(decodeDefinition(bad)).toBeNull();
  });
});

describe('the messenger on a second network', () => {
  it("takes a datagram from a member's alias host on its farm port only, and stops when the aliases are removed", () => {
    const directory = new MemberDirectory(A, 8);
    directory.set(B, '10.77.0.2:7946', 'alive');
    expect(directory.check(B, 'datagram', '10.78.0.2:7946')).toBe('address-mismatch');
    directory.setAliases(B, ['10.78.0.2']);
    expect(directory.check(B, 'datagram', '10.78.0.2:7946')).toBe('ok');
    expect(directory.check(B, 'datagram', '10.78.0.2:7947')).toBe('address-mismatch');
    expect(directory.check(B, 'datagram', '10.78.0.3:7946')).toBe('address-mismatch');
    // Another member's alias is no alias of B.
    directory.set(C, '10.77.0.3:7946', 'alive');
    expect(directory.check(C, 'datagram', '10.78.0.2:7946')).toBe('address-mismatch');
    directory.setAliases(B, []);
    expect(directory.check(B, 'datagram', '10.78.0.2:7946')).toBe('address-mismatch');
  });

  it("sends a routed message to the route's address with its network, the envelope naming this node", async () => {
    const sent: AppMessage[] = [];
    const messenger = new Messenger({ selfId: A, transport: { sendApp: (m) => sent.push(...m), broadcast: () => {} }, membersMax: 8, broadcastBytesMax: 1024 });
    messenger.syncMembers([{ id: B, address: '10.77.0.2:7946', status: 'alive', self: false }]);
    const channel = messenger.channel('cluster', kBytesCodec);
    expect(channel.send(B, new Uint8Array([1]), 'datagram', { address: '10.78.0.2:7946', via: 'data' })).toBe(true);
    expect(channel.send(B, new Uint8Array([2]), 'datagram')).toBe(true);
    // A route does not make an unknown node a destination.
    expect(channel.send(C, new Uint8Array([3]), 'datagram', { address: '10.78.0.3:7946' })).toBe(false);
    messenger.flush();
    expect(sent.map((m) => [m.peer, m.via])).toEqual([
      ['10.78.0.2:7946', 'data'],
      ['10.77.0.2:7946', undefined],
    ]);
    expect(Buffer.from(sent[0]!.bytes)).toEqual(Buffer.from(encodeEnvelope('datagram', channelByName('cluster').id, A, new Uint8Array([1]))));
  });
});

describe('the agent option', () => {
  it('takes --network NAME=HOST pairs and checks them', () => {
    const prepared = prepareAgent({ bind: '10.77.0.1:7946', network: ['data=10.78.0.1', 'fd=10.79.0.1'], dataDir: '/tmp/gx-networks-test' }, {});
    expect(prepared.options.networks).toEqual({ data: '10.78.0.1', fd: '10.79.0.1' });
    expect(agentSettings(prepared.options).networks).toEqual([
      { name: 'data', host: '10.78.0.1' },
      { name: 'fd', host: '10.79.0.1' },
    ]);
    expect(prepareAgent({ bind: '10.77.0.1:7946', dataDir: '/tmp/gx-networks-test' }, { GALAXY_NETWORKS: 'data=10.78.0.1' }).options.networks).toEqual({ data: '10.78.0.1' });
    expect(() => prepareAgent({ bind: '10.77.0.1:7946', network: ['data'] }, {})).toThrow(/NAME=HOST/);
    // An interface of this machine is taken as its address (lo: 127.0.0.1); an unknown name is refused, naming the interfaces.
    expect(prepareAgent({ bind: '127.0.0.2:7946', network: ['data=lo'], dataDir: '/tmp/gx-networks-test' }, {}).options.networks).toEqual({ data: '127.0.0.1' });
    expect(() => prepareAgent({ bind: '10.77.0.1:7946', network: ['data=nosuchif9'] }, {})).toThrow(/neither a host address nor an interface of this machine \(interfaces: .*lo/);
    expect(() => prepareAgent({ bind: '10.77.0.1:7946', network: ['data=10.78.0.1', 'data=10.78.0.2'] }, {})).toThrow(/twice/);
    expect(() => agentSettings({ bind: '10.77.0.1:7946', networks: { Data: '10.78.0.1' } })).toThrow(/network name/);
    expect(() => agentSettings({ bind: '10.77.0.1:7946', networks: { data: '0.0.0.0' } })).toThrow(/host address/);
    expect(() => agentSettings({ bind: '10.77.0.1:7946', networks: { data: '10.78.0.1:7946' } })).toThrow(/host address/);
    expect(() => agentSettings({ bind: '10.77.0.1:7946', networks: { data: '10.77.0.1' } })).toThrow(/farm address/);
    expect(() => agentSettings({ bind: '10.77.0.1:7946', networks: { data: 'fd00::1' } })).toThrow(/family/);
  });
});
