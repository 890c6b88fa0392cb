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
//  - an agent whose --network address is not on this machine does not start, and says why;
//  - administrative traffic on its own network: cluster `adm` selects `net.data` for
//    admin only (components and failure detection on the farm address). Only A holds the
//    greeter package; create installs it on every member, and delete removes it. Nothing
//    but the lifecycle's install round trips and the package fetch may use the data
//    sockets here (cluster traffic is on the farm address, and an extra network refuses
//    every other channel): B and C received their install requests there and answered on
//    the same connections, fetched the package from A there (A's data socket received
//    their install.have and chunk requests and sent the bytes), and every one of those
//    calls was a routed one (galaxy_farm_rpc_total{event="routed"}). With the route ignored, every
//    data counter stays 0.
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
import { api, at, eventually, galaxy, startFarm, stop, type FarmAgent } from './support/farm-cli.js';

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
/** Only administrative traffic on the data network: installs (request, answer, package fetch) go there. */
const kAdmin = `apiVersion: galaxy/v1
kind: ClusterProfile
name: adm
version: 1.0.0
extends: base@^1
networks:
  admin: { attribute: net.data }
roles:
  member:
    count: { min: 3, max: 3 }
    components:
      - { package: measurement, version: ^0.1.0 }
      - { package: greeter, version: ^1.0.0, after: [measurement] }
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

/** The data network's messages at `node`, received or sent (galaxy_network_messages_total{network="data"}). */
function dataMessages(node: FarmAgent, direction: 'received' | 'sent'): Promise<number> {
  return metric(node, 'galaxy_network_messages_total', { network: 'data', direction });
}

/** `node`'s data-network counters and its routed farm RPC calls, to compare before and after a step. */
async function adminCounters(node: FarmAgent): Promise<{ received: number; sent: number; routed: number }> {
  return { received: await dataMessages(node, 'received'), sent: await dataMessages(node, 'sent'), routed: await metric(node, 'galaxy_farm_rpc_total', { event: 'routed' }) };
}

/** Waits until A's attribute table holds every agent's net.data, its --network host. */
async function dataPublished(): Promise<void> {
  await eventually('every agent published net.data', async () => {
    const rows = (await api<Array<{ node: string; attributes: Array<{ key: string; value: unknown }> }>>(nodes[0]!, 'GET', '/v1/attributes')).json;
    return nodes.every((n, i) => rows.find((r) => r.node === n.id)?.attributes.some((x) => x.key === 'net.data' && x.value === dataHost(i))) ? true : undefined;
  }, 30_000, 250);
}

/** Writes `yaml` as NAME.yaml and imports it at A after the profile files `before` (base.yaml, a mixin); galaxy must exit 0. */
async function importProfile(name: string, yaml: string, before: readonly string[]): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), `galaxy-${name}-`));
  writeFileSync(join(dir, `${name}.yaml`), yaml);
  const imported = await galaxy(['profile', 'import', ...before.map((file) => join(root, 'profiles', file)), join(dir, `${name}.yaml`), ...at(nodes[0]!)]);
  expect(imported.code, imported.stdout + imported.stderr).toBe(0);
}

/** `galaxy cluster ARGS` at A; it must exit 0. */
async function clusterCommand(args: readonly string[], timeoutMs: number): Promise<void> {
  const result = await galaxy(['cluster', ...args, ...at(nodes[0]!)], timeoutMs);
  expect(result.code, result.stdout + result.stderr).toBe(0);
}

/** Waits until every agent is a member of `cluster` in a view of all three. */
async function fullView(cluster: string): Promise<void> {
  const ids = nodes.map((n) => n.id).sort().join();
  for (const node of nodes) {
    await eventually(`${node.address} is in a view of all three`, async () => {
      const s = (await api<ClusterSummary>(node, 'GET', `/v1/clusters/${cluster}`)).json;
      return s.here?.status === 'member' && s.here.view?.members.map((m) => m.nodeId).sort().join() === ids ? s : undefined;
    }, 30_000, 100);
  }
}

/** Opens channel c (total order, reliable) of `cluster` at every agent. */
async function openChannel(cluster: string): Promise<void> {
  for (const node of nodes) expect((await api(node, 'POST', `/v1/clusters/${cluster}/channels`, { name: 'c', ordering: 'total', reliability: 'reliable' })).status).toBe(201);
}

/** Waits until every agent has delivered `count` messages on channel c of `cluster`. */
async function delivered(cluster: string, count: number): Promise<void> {
  for (const node of nodes) {
    await eventually(`${node.address} delivers ${count} on ${cluster}`, async () => {
      const reply = (await api<ChannelReadReply>(node, 'GET', `/v1/clusters/${cluster}/channels/c/messages?after=0&max=1024`)).json;
      return reply.entries.filter((e) => e.kind !== 'view').length >= count ? true : undefined;
    }, 30_000, 100);
  }
}

beforeAll(async () => {
  nodes = await startFarm(3, [['controller', 'management']], [0, 1, 2].map((i) => ['--network', `data=${dataHost(i)}`]));
}, 120_000);

afterAll(() => killAllAgents());

describe('network selection on real agents (loopback, two addresses each)', () => {
  it('routes the kinds apart: with only components on the data network, views form without it and channel data crosses it', async () => {
    const a = nodes[0]!;
    await dataPublished();
    await importProfile('split', kSplit, ['base.yaml']);
    await clusterCommand(['create', 'split', '--profile', 'split@1.0.0'], 120_000);
    await fullView('split');
    // The closed-connection links follow the failure-detection selection: here the farm address.
    for (const node of nodes) {
      await eventually(`${node.address} links both peers at their farm addresses`, async () => ((await metric(node, 'galaxy_cluster_links', { route: 'farm' })) === 2 ? true : undefined), 30_000, 200);
      expect(await metric(node, 'galaxy_cluster_links', { route: 'failureDetection' }), node.address).toBe(0);
    }
    // Heartbeats flow (500 ms apart with base's tuning) for a while: none of them on the data network.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    for (const node of nodes) {
      expect(await dataMessages(node, 'received'), node.address).toBe(0);
      expect((await api<ClusterSummary>(node, 'GET', '/v1/clusters/split')).json.here?.view?.members.length).toBe(3);
    }
    await openChannel('split');
    const sent = await api(a, 'POST', '/v1/clusters/split/channels/c/messages', { messages: Array.from({ length: 10 }, (_, k) => ({ text: `split ${k}` })), timeoutMs: 10_000 });
    expect(sent.status, JSON.stringify(sent.json)).toBe(200);
    await delivered('split', 10);
    // The sender's data went out on its data socket; the others received it there.
    expect(await dataMessages(a, 'sent')).toBeGreaterThan(0);
    for (const node of nodes.slice(1)) expect(await dataMessages(node, 'received'), node.address).toBeGreaterThan(0);
    await clusterCommand(['delete', 'split'], 120_000);
  }, 240_000);

  it('a cluster from a dual-network profile runs over the data addresses', async () => {
    const a = nodes[0]!;
    await dataPublished();
    await importProfile('duo', kProfile, ['base.yaml', 'mixin-dual-network.yaml']);
    await clusterCommand(['create', 'duo', '--profile', 'duo@1.0.0'], 120_000);
    await fullView('duo');
    for (const node of nodes) {
      const s = (await api<ClusterSummary>(node, 'GET', '/v1/clusters/duo')).json;
      nodes.forEach((member, i) => expect(s.networks?.[member.id]).toEqual({ admin: '127.0.0.1', components: dataHost(i), failureDetection: dataHost(i) }));
    }
    // The closed-connection links go to the failure-detection hosts too (from this node's own data address).
    for (const node of nodes) {
      await eventually(`${node.address} links both peers at their data addresses`, async () => ((await metric(node, 'galaxy_cluster_links', { route: 'failureDetection' })) === 2 ? true : undefined), 30_000, 200);
      expect(await metric(node, 'galaxy_cluster_links', { route: 'farm' }), node.address).toBe(0);
    }
    const shown = await galaxy(['cluster', 'show', 'duo', ...at(a)]);
    expect(shown.code, shown.stderr).toBe(0);
    nodes.forEach((member, i) => expect(shown.stdout).toContain(`network     ${member.id}: failureDetection ${dataHost(i)}, components ${dataHost(i)}, admin 127.0.0.1`));
    for (const node of nodes) {
      expect(await metric(node, 'galaxy_cluster_routed_total'), node.address).toBeGreaterThan(0);
      expect(await dataMessages(node, 'received'), node.address).toBeGreaterThan(0);
      expect(await dataMessages(node, 'sent'), node.address).toBeGreaterThan(0);
    }
    // A channel on it: every member sends 20, every member delivers all 60.
    await openChannel('duo');
    await Promise.all(nodes.map(async (node) => {
      const sent = await api(node, 'POST', '/v1/clusters/duo/channels/c/messages', { messages: Array.from({ length: 20 }, (_, k) => ({ text: `${node.id} ${k} ${'y'.repeat(500)}` })), timeoutMs: 10_000 });
      expect(sent.status, JSON.stringify(sent.json)).toBe(200);
    }));
    await delivered('duo', 60);
  }, 240_000);

  it('administrative traffic on its own network: installs, their answers and the package fetch go over the admin selection', async () => {
    const a = nodes[0]!;
    await dataPublished();
    const added = await galaxy(['packages', 'add', join(root, 'test', 'fixtures', 'packages', 'greeter'), ...at(a)]);
    expect(added.code, added.stderr).toBe(0);
    await importProfile('adm', kAdmin, ['base.yaml']);
    const before = await Promise.all(nodes.map(adminCounters));
    await clusterCommand(['create', 'adm', '--profile', 'adm@1.0.0'], 180_000);
    for (const node of nodes) {
      const s = (await api<ClusterSummary>(node, 'GET', '/v1/clusters/adm')).json;
      nodes.forEach((member, i) => expect(s.networks?.[member.id]).toEqual({ admin: dataHost(i), components: '127.0.0.1', failureDetection: '127.0.0.1' }));
      const rows = (await api<Array<{ name: string; version: string; state: string }>>(node, 'GET', '/v1/components/installed')).json;
      expect(rows.map((r) => `${r.name}@${r.version}:${r.state}`), node.address).toContain('greeter@1.0.0:running');
    }
    const after = await Promise.all(nodes.map(adminCounters));
    // A (the steward, the only holder) sent install.apply to B and C over the data network
    // and got their answers there; it also served their package fetch there.
    expect(after[0]!.sent - before[0]!.sent).toBeGreaterThan(0);
    expect(after[0]!.received - before[0]!.received).toBeGreaterThan(0);
    expect(after[0]!.routed - before[0]!.routed).toBeGreaterThanOrEqual(2);
    for (const i of [1, 2]) {
      // B and C: the install request in, its answer out, their package fetch (install.have, chunks) out and back.
      expect(after[i]!.received - before[i]!.received, nodes[i]!.address).toBeGreaterThan(0);
      expect(after[i]!.sent - before[i]!.sent, nodes[i]!.address).toBeGreaterThan(0);
      expect(after[i]!.routed - before[i]!.routed, nodes[i]!.address).toBeGreaterThan(0);
    }
    await clusterCommand(['delete', 'adm'], 120_000);
    for (const node of nodes) {
      const rows = (await api<Array<{ name: string }>>(node, 'GET', '/v1/components/installed')).json;
      expect(rows.map((r) => r.name), node.address).not.toContain('greeter');
    }
    // The removals went over the data network too.
    expect(await metric(a, 'galaxy_farm_rpc_total', { event: 'routed' })).toBeGreaterThanOrEqual(after[0]!.routed + 2);
  }, 300_000);

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

  // Last: it kills an agent of the shared farm.
  it('a SIGKILLed member of the dual-network cluster is found gone through the link on its failure-detection address', async () => {
    const [a, b, c] = nodes as [FarmAgent, FarmAgent, FarmAgent];
    for (const node of [a, b]) {
      await eventually(`${node.address} links C at its data address`, async () => ((await metric(node, 'galaxy_cluster_links', { route: 'failureDetection' })) === 2 ? true : undefined), 30_000, 200);
    }
    const before = await Promise.all([a, b].map((n) => metric(n, 'galaxy_cluster_links_gone_total', { route: 'failureDetection' })));
    await stop(c, 'SIGKILL');
    const survivors = [a.id, b.id].sort().join();
    for (const [i, node] of [a, b].entries()) {
      await eventually(`${node.address} found C gone over the data network`, async () => ((await metric(node, 'galaxy_cluster_links_gone_total', { route: 'failureDetection' })) > before[i]! ? true : undefined), 30_000, 50);
      expect(await metric(node, 'galaxy_cluster_links_gone_total', { route: 'farm' }), node.address).toBe(0);
      await eventually(`${node.address} installs duo without C`, async () => {
        const s = (await api<ClusterSummary>(node, 'GET', '/v1/clusters/duo')).json;
        return s.here?.view?.members.map((m) => m.nodeId).sort().join() === survivors ? true : undefined;
      }, 30_000, 100);
    }
  }, 90_000);

  it('an agent whose extra network address is not on this machine exits with the reason', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'galaxy-badnet-'));
    const run = spawnSync(process.execPath, [join(root, 'dist', 'src', 'ops', 'cli', 'main.js'), 'agent', '--bind', `127.0.0.1:${await freePort()}`, '--network', 'data=192.0.2.55', '--insecure', '--api', 'off', '--data-dir', dir, '--log-level', 'warn'], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, GALAXY_COMPONENTS: 'none' } });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/extra network: .*192\.0\.2\.55/);
  }, 90_000);
});
