// Proves the cluster lifecycle from profiles (issue 19, item 3) on four real `galaxy
// agent` processes, driven with the CLI an operator uses. A (the controller, where the
// packages are added) runs the lifecycle; B, C, D are in landscape `lc`, B on rack r1, C
// and D on r2. Profile lc@1.0.0 (extends the shipped base): role primary (1, greeter),
// role replica (1..3, after primary, peer-echo, hard anti-affinity by rack across the
// cluster), both with the farm's measurement component. Every network attribute comes
// from the agents' own `address` attribute (published by each agent, not set here).
//  - create: B is primary, C replica, D skipped (rack r2 taken): greeter runs only on B,
//    peer-echo only on C, nothing on A or D; the CLI printed each step as it went;
//  - C is SIGKILLed: the steward (A) replaces it with D (now free of rack r2's holder),
//    which gets peer-echo; C is a leftover;
//  - A enters the landscape (rack r3): the cluster grows, A becomes a replica;
//  - upgrade to lc@2.0.0 (primary greeter 2.0.0, replicas also a greeter 3.0.0 whose
//    start throws): B is upgraded first, the first replica fails, and every change is
//    rolled back: B runs greeter 1.0.0 again, no replica has a greeter, the record and
//    the definition stay at lc@1.0.0; exit 1;
//  - delete: every component removed from every live member, the cluster gone; C, started
//    again, has its peer-echo removed by the steward (the record's leftover);
//  - each shipped profile `galaxy profile validate` calls deployable (base today) is
//    created over the whole farm (measurement checked on every member) and deleted.
// Every step was a farm event: A (also the management node) stores them, type
// cluster.lifecycle.STEP, source cluster/shop. Polls with deadlines; no fixed sleeps.
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LifecycleRecord } from '../src/cluster/lifecycle/lifecycle-record.js';
import { packageRoot } from '../src/core/platform/package-root.js';
import { killAllAgents } from './support/agents.js';
import { api, at, eventually, galaxy, restart, startFarm, stop, type FarmAgent } from './support/farm-cli.js';

const root = packageRoot();
const fixtures = join(root, 'test', 'fixtures', 'packages');
let a: FarmAgent;
let nodes: FarmAgent[];

const kLc1 = `apiVersion: galaxy/v1
kind: ClusterProfile
name: lc
version: 1.0.0
extends: base@^1
roles:
  member: null
  primary:
    count: 1
    components:
      - { package: measurement, version: ^0.1.0 }
      - { package: greeter, version: ^1.0.0, after: [measurement] }
  replica:
    count: { min: 1, max: 3 }
    after: [primary]
    placement: { antiAffinity: { attribute: rack, scope: cluster } }
    components:
      - { package: measurement, version: ^0.1.0 }
      - { package: peer-echo, version: ^1.0.0 }
`;
const kLc2 = kLc1.replace('version: 1.0.0', 'version: 2.0.0').replace('greeter, version: ^1.0.0', 'greeter, version: ^2.0.0').replace("      - { package: peer-echo, version: ^1.0.0 }\n", "      - { package: peer-echo, version: ^1.0.0 }\n      - { package: greeter, version: ^3.0.0, after: [peer-echo] }\n");

async function installed(node: FarmAgent): Promise<string[]> {
  const rows = (await api<Array<{ name: string; version: string; state: string }>>(node, 'GET', '/v1/components/installed')).json;
  return rows.map((r) => `${r.name}@${r.version}:${r.state}`).sort();
}

async function record(name: string): Promise<LifecycleRecord | null> {
  const answer = await api<LifecycleRecord>(a, 'GET', `/v1/lifecycle/clusters/${name}`);
  return answer.status === 200 ? answer.json : null;
}

function members(r: LifecycleRecord | null): string {
  return (r?.members ?? []).map((m) => `${m.node}:${m.role}`).sort().join(' ');
}

beforeAll(async () => {
  nodes = await startFarm(4, [['controller', 'management']]);
  a = nodes[0]!;
}, 120_000);

afterAll(() => killAllAgents());

describe('the cluster lifecycle from a profile (real agents)', () => {
  it('creates, replaces a killed member, grows with its landscape, rolls back a failed upgrade, deletes; creates each deployable shipped profile', async () => {
    // Packages: only A holds them; members fetch them from their peers.
    const dir = mkdtempSync(join(tmpdir(), 'galaxy-lifecycle-'));
    const greeter2 = join(dir, 'greeter-2');
    cpSync(join(fixtures, 'greeter'), greeter2, { recursive: true });
    const manifest = JSON.parse(readFileSync(join(greeter2, 'galaxy-component.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(greeter2, 'galaxy-component.json'), JSON.stringify({ ...manifest, version: '2.0.0' }));
    for (const path of [join(fixtures, 'greeter'), greeter2, join(fixtures, 'greeter-broken'), join(fixtures, 'peer-echo')]) {
      const added = await galaxy(['packages', 'add', path, ...at(a)]);
      expect(added.code, added.stderr).toBe(0);
    }
    writeFileSync(join(dir, 'lc-1.yaml'), kLc1);
    writeFileSync(join(dir, 'lc-2.yaml'), kLc2);
    const imported = await galaxy(['profile', 'import', join(root, 'profiles', 'base.yaml'), join(dir, 'lc-1.yaml'), join(dir, 'lc-2.yaml'), ...at(a)]);
    expect(imported.code, imported.stdout + imported.stderr).toBe(0);

    // Every agent publishes its address attribute itself.
    await eventually('every agent published its address', async () => {
      const rows = (await api<Array<{ node: string; attributes: Array<{ key: string; value: unknown }> }>>(a, 'GET', '/v1/attributes')).json;
      return nodes.every((n) => rows.find((r) => r.node === n.id)?.attributes.some((x) => x.key === 'address' && x.value === '127.0.0.1')) ? true : undefined;
    }, 30_000, 250);

    const [b, c, d] = nodes.slice(1).sort((x, y) => (x.id < y.id ? -1 : 1)) as [FarmAgent, FarmAgent, FarmAgent];
    for (const [node, rack] of [[b, 'r1'], [c, 'r2'], [d, 'r2']] as const) {
      const set = await galaxy(['attr', 'set', node.id, `rack=${rack}`, 'lc=1', ...at(a)]);
      expect(set.code, set.stderr).toBe(0);
    }
    expect((await galaxy(['landscape', 'create', 'lc', '--sql', 'SELECT node FROM nodes WHERE lc = 1', ...at(a)])).code).toBe(0);
    await eventually('landscape lc holds B, C and D', async () => ((await api<{ memberCount: number }>(a, 'GET', '/v1/landscapes/lc')).json.memberCount === 3 ? true : undefined), 20_000, 200);

    // ---- create ------------------------------------------------------------------------
    const created = await galaxy(['cluster', 'create', 'shop', '--profile', 'lc@1.0.0', '--on', 'lc', ...at(a)], 180_000);
    expect(created.code, created.stdout + created.stderr).toBe(0);
    // The steps, printed as they happened: placement with reasons, the farm component checked, each install.
    expect(created.stdout).toMatch(new RegExp(`${b.id} gets role primary`));
    expect(created.stdout).toMatch(new RegExp(`${c.id} gets role replica: .*rack r2 not yet used`));
    expect(created.stdout).toMatch(new RegExp(`measurement \\(a farm component\\) runs on ${b.id}`));
    expect(created.stdout).toMatch(new RegExp(`greeter@1.0.0 on ${b.id}: installed, running`));
    expect(created.stdout).toMatch(new RegExp(`peer-echo@1.0.0 on ${c.id}: installed, running`));
    expect(created.stdout).toMatch(/create of shop: succeeded/);
    expect(created.stdout.indexOf(`greeter@1.0.0 on ${b.id}: installed`)).toBeLessThan(created.stdout.indexOf(`peer-echo@1.0.0 on ${c.id}: installed`));
    expect(await installed(b)).toEqual(['greeter@1.0.0:running']);
    expect(await installed(c)).toEqual(['peer-echo@1.0.0:running']);
    expect(await installed(d)).toEqual([]);
    expect(await installed(a)).toEqual([]);
    expect(members(await record('shop'))).toBe([`${b.id}:primary`, `${c.id}:replica`].sort().join(' '));
    const shown = (await api<{ members: string[]; profile: string }>(a, 'GET', '/v1/clusters/shop')).json;
    expect([...shown.members].sort()).toEqual([b.id, c.id].sort());
    expect(shown.profile).toBe('lc@1.0.0');
    // Refused at once, before anything is done: the name exists; an unknown profile; a placement short of a role's minimum.
    const again = await galaxy(['cluster', 'create', 'shop', '--profile', 'lc@1.0.0', '--on', 'lc', ...at(a)]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/a cluster named "shop" exists/);
    const unknown = await galaxy(['cluster', 'create', 'other', '--profile', 'nosuch@1.0.0', ...at(a)]);
    expect(unknown.code).toBe(2);
    expect((await record('other'))).toBeNull();
    // Its members' cores agree on a view of both.
    await eventually('B installs a view of B and C', async () => {
      const views = (await api<{ views: Array<{ members: Array<{ nodeId: string }> }> }>(b, 'GET', '/v1/clusters/shop/views')).json.views;
      return views.at(-1)?.members.length === 2 ? true : undefined;
    }, 20_000, 200);

    // ---- a member killed and replaced -----------------------------------------------------
    await stop(c, 'SIGKILL');
    await eventually('D replaces C as replica', async () => (members(await record('shop')) === [`${b.id}:primary`, `${d.id}:replica`].sort().join(' ') ? true : undefined), 60_000, 250);
    await eventually('D runs peer-echo', async () => ((await installed(d)).join() === 'peer-echo@1.0.0:running' ? true : undefined), 30_000, 250);
    expect((await record('shop'))!.leftovers).toEqual([{ node: c.id, components: ['peer-echo'] }]);
    const repairs = (await api<Array<{ kind: string; state: string }>>(a, 'GET', '/v1/lifecycle/operations')).json.filter((o) => o.kind === 'repair');
    expect(repairs.some((o) => o.state === 'succeeded')).toBe(true);

    // ---- a landscape change grows the cluster -------------------------------------------
    expect((await galaxy(['attr', 'set', a.id, 'rack=r3', 'lc=1', ...at(a)])).code).toBe(0);
    await eventually('A joins as a replica', async () => (members(await record('shop')) === [`${a.id}:replica`, `${b.id}:primary`, `${d.id}:replica`].sort().join(' ') ? true : undefined), 60_000, 250);
    await eventually('A runs peer-echo', async () => ((await installed(a)).join() === 'peer-echo@1.0.0:running' ? true : undefined), 30_000, 250);
    await eventually('the definition names A, B and D', async () => {
      const now = (await api<{ members: string[] }>(a, 'GET', '/v1/clusters/shop')).json.members;
      return [...now].sort().join() === [a.id, b.id, d.id].sort().join() ? true : undefined;
    }, 20_000, 200);

    // ---- an upgrade that fails halfway, rolled back -----------------------------------------
    const upgrade = await galaxy(['cluster', 'upgrade', 'shop', '--profile', 'lc@2.0.0', ...at(a)], 240_000);
    expect(upgrade.code, upgrade.stdout + upgrade.stderr).toBe(1);
    expect(upgrade.stdout).toMatch(new RegExp(`greeter 1.0.0 → 2.0.0 on ${b.id}`));
    expect(upgrade.stdout).toMatch(new RegExp(`greeter@2.0.0 on ${b.id}: installed, running`));
    expect(upgrade.stdout).toMatch(/greeter@3.0.0 on [0-9a-f]{16}: (failed|rolled-back)/);
    expect(upgrade.stdout).toMatch(new RegExp(`rollback +greeter@1.0.0 on ${b.id}: installed`));
    expect(upgrade.stdout).toMatch(/every change was rolled back: shop stays on lc@1.0.0/);
    expect(await installed(b)).toEqual(['greeter@1.0.0:running']);
    expect(await installed(a)).toEqual(['peer-echo@1.0.0:running']);
    expect(await installed(d)).toEqual(['peer-echo@1.0.0:running']);
    expect((await record('shop'))!.profile).toBe('lc@1.0.0');
    expect((await api<{ profile: string }>(a, 'GET', '/v1/clusters/shop')).json.profile).toBe('lc@1.0.0');

    // ---- delete ----------------------------------------------------------------------------
    const deleted = await galaxy(['cluster', 'delete', 'shop', ...at(a)], 120_000);
    expect(deleted.code, deleted.stdout + deleted.stderr).toBe(0);
    expect(deleted.stdout).toMatch(/delete of shop: succeeded/);
    for (const node of [a, b, d]) expect(await installed(node)).toEqual([]);
    expect((await api<unknown[]>(a, 'GET', '/v1/clusters')).json).toEqual([]);
    expect((await record('shop'))!.deleted).toBe(true);
    expect((await record('shop'))!.leftovers).toEqual([{ node: c.id, components: ['peer-echo'] }]);

    // ---- the killed member comes back: what it ran for the cluster is removed -------------------
    await restart(c, 4);
    await eventually('C no longer runs peer-echo', async () => ((await installed(c)).length === 0 ? true : undefined), 60_000, 250);
    await eventually('the record has no leftovers', async () => ((await record('shop'))!.leftovers.length === 0 ? true : undefined), 20_000, 250);

    // ---- every step was a farm event, stored on the management node ----------------------------
    await eventually('the lifecycle steps are farm events on A', async () => {
      const page = (await api<{ events: Array<{ type: string; source: string; body: { text?: string } }> }>(a, 'GET', '/v1/events/query?since=1h&limit=10000')).json;
      const shop = page.events.filter((e) => e.type.startsWith('cluster.lifecycle.') && e.source === 'cluster/shop');
      const types = new Set(shop.map((e) => e.type));
      return ['cluster.lifecycle.placement', 'cluster.lifecycle.install', 'cluster.lifecycle.join', 'cluster.lifecycle.upgrade', 'cluster.lifecycle.rollback', 'cluster.lifecycle.remove', 'cluster.lifecycle.done'].every((t) => types.has(t)) ? true : undefined;
    }, 30_000, 500);

    // ---- each shipped profile whose components exist ----------------------------------------
    const validation = await galaxy(['profile', 'validate', ...['base', 'application-development', 'component-management', 'game-server', 'primary-backup', 'mscs-compatible', 'cloned-service', 'partitioned-service', 'parallel-computing'].map((p) => join(root, 'profiles', `${p}.yaml`)), '--json']);
    const deployable = (JSON.parse(validation.stdout) as Array<{ ref: string; deployable: boolean }>).filter((v) => v.deployable).map((v) => v.ref);
    expect(deployable).toEqual(['base@1.0.0']);
    for (const ref of deployable) {
      const name = `shipped-${ref.split('@')[0]}`;
      const made = await galaxy(['cluster', 'create', name, '--profile', ref, ...at(a)], 120_000);
      expect(made.code, made.stdout + made.stderr).toBe(0);
      const live = [a, b, c, d].map((n) => n.id);
      expect(members(await record(name))).toBe(live.map((id) => `${id}:member`).sort().join(' '));
      for (const id of live) expect(made.stdout).toMatch(new RegExp(`measurement \\(a farm component\\) runs on ${id}`));
      const gone = await galaxy(['cluster', 'delete', name, ...at(a)], 60_000);
      expect(gone.code, gone.stdout + gone.stderr).toBe(0);
    }
  }, 600_000);
});
