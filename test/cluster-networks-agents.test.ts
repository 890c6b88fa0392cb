// Network selection on real agents (issue 19, item 1), on loopback without root: three
// `galaxy agent` processes on 127.0.0.1, each also started with `--network
// data=127.0.0.(11+i)` (a second address: its own UDP and TCP sockets on the farm port).
// Cluster `duo` is made from a profile extending base with mixin dual-network (components
// and failure detection on `net.data`) with `galaxy cluster create --profile`:
//  - each agent publishes `net.data` itself, and the definition every member reads holds
//    each member's data address for components and failureDetection, its farm host for admin;
//  - the cluster forms its view of three, and every agent's counters show its cluster
//    envelopes routed to the data addresses and received on its data network (with the
//    selection ignored, both counters stay 0: the assertions can fail);
//  - a total-order channel on it delivers a burst from every member at every member;
//  - the kinds are routed apart: cluster `split` (components on net.data, failure
//    detection on the farm address) forms its view and keeps it with nothing received on
//    the data network; only its channel data arrives there;
//  - a profile whose network attribute holds an interface name is refused before
//    anything is written (no record, no definition);
//  - an agent whose --network address is not on this machine does not start, and says why.
// The two-network fault scenario (test/faults/network-faults.test.ts, root) shows the
// traffic on the wire with nftables counters and a cut of the data network alone.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterSummary } from '../src/cluster/service/cluster-service.js';
import type { ChannelReadReply } from '../src/cluster/service/channel-routes.js';
import { packageRoot } from '../src/core/platform/package-root.js';
import { freePort, killAllAgents } from './support/agents.js';
import { api, at, eventually, galaxy, startFarm, type FarmAgent } from './support/farm-cli.js';

const root = packageRoot();
const kProfile = `apiVersion: galaxy/v1
kind: ClusterProfile
name: duo
version: 1.0.0
extends: base@^1
mixins: [dual-network@^1]
roles:
  member:
    count: { min: 3, max: 3 }
`;
/** Only channel data on the data network: the view protocol and failure detector stay on the farm address. */
const kSplit = `apiVersion: galaxy/v1
kind: ClusterProfile
name: split
version: 1.0.0
extends: base@^1
networks:
  components: { attribute: net.data }
roles:
  member:
    count: { min: 3, max: 3 }
`;
let nodes: FarmAgent[];
const dataHost = (i: number) => `127.0.0.${11 + i}`;

async function metric(node: FarmAgent, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`${node.url}/metrics`, { headers: { authorization: `Bearer ${node.token}` } })).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null || match[1] !== name) continue;
    const have = Object.fromEntries([...(match[2] ?? '').matchAll(/([a-zA-Z_]+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(match[3]);
  }
  return sum;
}

beforeAll(async () => {
  nodes = await startFarm(3, [['controller', 'management']], [0, 1, 2].map((i) => ['--network', `data=${dataHost(i)}`]));
}, 120_000);

afterAll(() => killAllAgents());

describe('network selection on real agents (loopback, two addresses each)', () => {
  it('routes the kinds apart: with only components on the data network, views form without it and channel data crosses it', async () => {
    const a = nodes[0]!;
    await eventually('every agent published net.data', async () => {
      const rows = (await api<Array<{ node: string; attributes: Array<{ key: string; value: unknown }> }>>(a, 'GET', '/v1/attributes')).json;
      return nodes.every((n, i) => rows.find((r) => r.node === n.id)?.attributes.some((x) => x.key === 'net.data' && x.value === dataHost(i))) ? true : undefined;
    }, 30_000, 250);
    const dir = mkdtempSync(join(tmpdir(), 'galaxy-split-'));
    writeFileSync(join(dir, 'split.yaml'), kSplit);
    const imported = await galaxy(['profile', 'import', join(root, 'profiles', 'base.yaml'), join(dir, 'split.yaml'), ...at(a)]);
    expect(imported.code, imported.stdout + imported.stderr).toBe(0);
    const created = await galaxy(['cluster', 'create', 'split', '--profile', 'split@1.0.0', ...at(a)], 120_000);
    expect(created.code, created.stdout + created.stderr).toBe(0);
    const ids = nodes.map((n) => n.id).sort().join();
    for (const node of nodes) {
      await eventually(`${node.address} is in a view of all three`, async () => {
        const s = (await api<ClusterSummary>(node, 'GET', '/v1/clusters/split')).json;
        return s.here?.status === 'member' && s.here.view?.members.map((m) => m.nodeId).sort().join() === ids ? s : undefined;
      }, 30_000, 100);
    }
    // Heartbeats flow (500 ms apart with base's tuning) for a while: none of them on the data network.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    for (const node of nodes) {
      expect(await metric(node, 'galaxy_network_messages_total', { network: 'data', direction: 'received' }), node.address).toBe(0);
      expect((await api<ClusterSummary>(node, 'GET', '/v1/clusters/split')).json.here?.view?.members.length).toBe(3);
    }
    for (const node of nodes) expect((await api(node, 'POST', '/v1/clusters/split/channels', { name: 'c', ordering: 'total', reliability: 'reliable' })).status).toBe(201);
    const sent = await api(a, 'POST', '/v1/clusters/split/channels/c/messages', { messages: Array.from({ length: 10 }, (_, k) => ({ text: `split ${k}` })), timeoutMs: 10_000 });
    expect(sent.status, JSON.stringify(sent.json)).toBe(200);
    for (const node of nodes) {
      await eventually(`${node.address} delivers 10 on split`, async () => {
        const reply = (await api<ChannelReadReply>(node, 'GET', '/v1/clusters/split/channels/c/messages?after=0&max=1024')).json;
        return reply.entries.filter((e) => e.kind !== 'view').length >= 10 ? true : undefined;
      }, 30_000, 100);
    }
    // The sender's data went out on its data socket; the others received it there.
    expect(await metric(a, 'galaxy_network_messages_total', { network: 'data', direction: 'sent' })).toBeGreaterThan(0);
    for (const node of nodes.slice(1)) expect(await metric(node, 'galaxy_network_messages_total', { network: 'data', direction: 'received' }), node.address).toBeGreaterThan(0);
    const deleted = await galaxy(['cluster', 'delete', 'split', ...at(a)], 120_000);
    expect(deleted.code, deleted.stdout + deleted.stderr).toBe(0);
  }, 240_000);

  it('a cluster from a dual-network profile runs over the data addresses', async () => {
    const a = nodes[0]!;
    await eventually('every agent published net.data', async () => {
      const rows = (await api<Array<{ node: string; attributes: Array<{ key: string; value: unknown }> }>>(a, 'GET', '/v1/attributes')).json;
      return nodes.every((n, i) => rows.find((r) => r.node === n.id)?.attributes.some((x) => x.key === 'net.data' && x.value === dataHost(i))) ? true : undefined;
    }, 30_000, 250);
    const dir = mkdtempSync(join(tmpdir(), 'galaxy-duo-'));
    writeFileSync(join(dir, 'duo.yaml'), kProfile);
    const imported = await galaxy(['profile', 'import', join(root, 'profiles', 'base.yaml'), join(root, 'profiles', 'mixin-dual-network.yaml'), join(dir, 'duo.yaml'), ...at(a)]);
    expect(imported.code, imported.stdout + imported.stderr).toBe(0);
    const created = await galaxy(['cluster', 'create', 'duo', '--profile', 'duo@1.0.0', ...at(a)], 120_000);
    expect(created.code, created.stdout + created.stderr).toBe(0);
    const ids = nodes.map((n) => n.id).sort().join();
    for (const node of nodes) {
      await eventually(`${node.address} is in a view of all three`, async () => {
        const s = (await api<ClusterSummary>(node, 'GET', '/v1/clusters/duo')).json;
        return s.here?.status === 'member' && s.here.view?.members.map((m) => m.nodeId).sort().join() === ids ? s : undefined;
      }, 30_000, 100);
      const s = (await api<ClusterSummary>(node, 'GET', '/v1/clusters/duo')).json;
      nodes.forEach((member, i) => expect(s.networks?.[member.id]).toEqual({ admin: '127.0.0.1', components: dataHost(i), failureDetection: dataHost(i) }));
    }
    const shown = await galaxy(['cluster', 'show', 'duo', ...at(a)]);
    expect(shown.code, shown.stderr).toBe(0);
    nodes.forEach((member, i) => expect(shown.stdout).toContain(`network     ${member.id}: failureDetection ${dataHost(i)}, components ${dataHost(i)}, admin 127.0.0.1`));
    for (const node of nodes) {
      expect(await metric(node, 'galaxy_cluster_routed_total'), node.address).toBeGreaterThan(0);
      expect(await metric(node, 'galaxy_network_messages_total', { network: 'data', direction: 'received' }), node.address).toBeGreaterThan(0);
      expect(await metric(node, 'galaxy_network_messages_total', { network: 'data', direction: 'sent' }), node.address).toBeGreaterThan(0);
    }
    // A channel on it: every member sends 20, every member delivers all 60.
    for (const node of nodes) expect((await api(node, 'POST', '/v1/clusters/duo/channels', { name: 'c', ordering: 'total', reliability: 'reliable' })).status).toBe(201);
    await Promise.all(nodes.map(async (node) => {
      const sent = await api(node, 'POST', '/v1/clusters/duo/channels/c/messages', { messages: Array.from({ length: 20 }, (_, k) => ({ text: `${node.id} ${k} ${'y'.repeat(500)}` })), timeoutMs: 10_000 });
      expect(sent.status, JSON.stringify(sent.json)).toBe(200);
    }));
    for (const node of nodes) {
      await eventually(`${node.address} delivers 60`, async () => {
        const reply = (await api<ChannelReadReply>(node, 'GET', '/v1/clusters/duo/channels/c/messages?after=0&max=1024')).json;
        return reply.entries.filter((e) => e.kind !== 'view').length >= 60 ? true : undefined;
      }, 30_000, 100);
    }
  }, 240_000);

  it('refuses, before writing anything, a profile whose network attribute holds an interface name', async () => {
    const a = nodes[0]!;
    for (const node of nodes) expect((await galaxy(['attr', 'set', node.id, 'net.nic=eth1', ...at(a)])).code).toBe(0);
    const dir = mkdtempSync(join(tmpdir(), 'galaxy-nic-'));
    writeFileSync(join(dir, 'nic.yaml'), kSplit.replace('name: split', 'name: nic').replace('attribute: net.data', 'attribute: net.nic'));
    expect((await galaxy(['profile', 'import', join(dir, 'nic.yaml'), ...at(a)])).code).toBe(0);
    await eventually('every node has net.nic', async () => {
      const rows = (await api<Array<{ node: string; attributes: Array<{ key: string; value: unknown }> }>>(a, 'GET', '/v1/attributes')).json;
      return nodes.every((n) => rows.find((r) => r.node === n.id)?.attributes.some((x) => x.key === 'net.nic')) ? true : undefined;
    }, 30_000, 250);
    const created = await galaxy(['cluster', 'create', 'nic', '--profile', 'nic@1.0.0', ...at(a)], 60_000);
    expect(created.code).not.toBe(0);
    expect(created.stderr + created.stdout).toMatch(/GALAXY_CLUSTER_BAD_NETWORK|"eth1" is not a host address/);
    expect((await api(a, 'GET', '/v1/lifecycle/clusters/nic')).status).toBe(404);
    expect((await api(a, 'GET', '/v1/clusters/nic')).status).toBe(404);
  }, 120_000);

  it('an agent whose extra network address is not on this machine exits with the reason', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'galaxy-badnet-'));
    const run = spawnSync(process.execPath, [join(root, 'dist', 'src', 'ops', 'cli', 'main.js'), 'agent', '--bind', `127.0.0.1:${await freePort()}`, '--network', 'data=192.0.2.55', '--insecure', '--api', 'off', '--data-dir', dir, '--log-level', 'warn'], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, GALAXY_COMPONENTS: 'none' } });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/extra network: .*192\.0\.2\.55/);
  }, 90_000);
});
