// Proves on five real `galaxy agent` processes that a delete and a repair are journaled
// like a create and an upgrade (their plan held by another lifecycle before their first
// step), and that the lifecycle removes only what it installed (issue 19). A and B are
// controllers (both run the lifecycle, so each can hold the other's journals); C, D, E
// are plain members; landscape `jr` holds C and D, later E too. Profile jr@1.0.0: role
// svc (1..2 members) runs greeter ^1.0.0.
//  - An operator installs greeter 1.0.0 on D by hand (`galaxy components install`).
//    Cluster `jr` is created on C and D: C gets greeter (its owner, as C's install
//    service records it, is the create's operation), D's hand-installed copy is left as
//    it is (no owner). Deleting `jr` journals its plan, held by the other lifecycle,
//    before its first removal; it removes C's greeter and keeps D's, which runs on in the
//    same process (today's lifecycle removed it, and planned no delete).
//  - E joins the landscape; cluster `rp` is placed on two of C, D, E. A member other than
//    D is SIGKILLed; the steward replaces it with the third node, and that repair
//    journaled its plan, held by another lifecycle, before its first install. Deleting
//    `rp` still keeps D's hand-installed greeter.
//  - Cluster `ds` (package slowstop: the greeter whose stop takes 4 s) on the two live
//    landscape nodes is deleted from A, and A SIGKILLed (then restarted) while a member
//    stops slowstop: the steward (B, or A restarted, the lower id) takes the delete over
//    and finishes it: no member runs slowstop, the record is a tombstone, the definition
//    gone (read on B).
// Polls with deadlines (tens of seconds); no fixed sleeps, no timing asserted.
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LifecycleOperationView } from '../src/cluster/lifecycle/lifecycle-operations.js';
import type { LifecycleRecord } from '../src/cluster/lifecycle/lifecycle-record.js';
import { packageRoot } from '../src/core/platform/package-root.js';
import { killAllAgents } from './support/agents.js';
import { api, at, eventually, galaxy, restart, startFarm, stop, type FarmAgent } from './support/farm-cli.js';

const root = packageRoot();
const fixtures = join(root, 'test', 'fixtures', 'packages');
let nodes: FarmAgent[];
/** The landscape's nodes still alive after the first test (its SIGKILLed member left out). */
let living: FarmAgent[] = [];
let dir = '';

const kJr = `apiVersion: galaxy/v1
kind: ClusterProfile
name: jr
version: 1.0.0
extends: base@^1
roles:
  member: null
  svc:
    count: { min: 1, max: 2 }
    components:
      - { package: greeter, version: "^1.0.0" }
`;

interface Installed {
  name: string;
  version: string;
  state: string;
  owner: string | null;
}

async function installed(node: FarmAgent): Promise<string[]> {
  const rows = (await api<Installed[]>(node, 'GET', '/v1/components/installed')).json;
  return rows.map((r) => `${r.name}@${r.version}:${r.state}`).sort();
}

async function greeterPid(node: FarmAgent): Promise<number | undefined> {
  const rows = (await api<Array<{ name: string; pid?: number | null }>>(node, 'GET', '/v1/components')).json;
  return rows.find((r) => r.name === 'greeter')?.pid ?? undefined;
}

async function record(node: FarmAgent, name: string): Promise<LifecycleRecord | null> {
  const answer = await api<LifecycleRecord>(node, 'GET', `/v1/lifecycle/clusters/${name}`);
  return answer.status === 200 ? answer.json : null;
}

/** The operations of a kind on a cluster, as A lists them (its own, then the farm's journals), each read whole. */
async function operations(node: FarmAgent, kind: string, cluster: string): Promise<LifecycleOperationView[]> {
  const list = (await api<LifecycleOperationView[]>(node, 'GET', '/v1/lifecycle/operations')).json.filter((o) => o.kind === kind && o.cluster === cluster);
  return Promise.all(list.map(async (o) => (await api<LifecycleOperationView>(node, 'GET', `/v1/lifecycle/operations/${o.id}`)).json));
}

/** The operation's `journaled` event came before its first step of `first`, and names another lifecycle holding the plan. */
function journaledFirst(op: LifecycleOperationView, first: string): void {
  const steps = op.events.map((e) => e.step);
  const journaled = steps.indexOf('journaled');
  expect(journaled, steps.join(' ')).toBeGreaterThanOrEqual(0);
  expect(steps.indexOf(first), steps.join(' ')).toBeGreaterThan(journaled);
  expect(op.events[journaled]).toMatchObject({ ok: true, text: expect.stringMatching(/journal and plan are held by [0-9a-f]{16} too/) });
}

beforeAll(async () => {
  nodes = await startFarm(5, [['controller', 'management'], ['controller']]);
}, 240_000);

afterAll(() => killAllAgents());

describe('a delete and a repair journal their plan first; the lifecycle removes only what it installed (real agents)', () => {
  it('keeps a hand-installed component through a create, a delete, a repair; journals delete and repair plans before their first step', async () => {
    const [a, , c, d, e] = nodes as [FarmAgent, FarmAgent, FarmAgent, FarmAgent, FarmAgent];
    dir = mkdtempSync(join(tmpdir(), 'galaxy-lifecycle-journaled-'));
    const added = await galaxy(['packages', 'add', join(fixtures, 'greeter'), ...at(a)]);
    expect(added.code, added.stderr).toBe(0);
    writeFileSync(join(dir, 'jr.yaml'), kJr);
    const imported = await galaxy(['profile', 'import', join(root, 'profiles', 'base.yaml'), join(dir, 'jr.yaml'), ...at(a)]);
    expect(imported.code, imported.stdout + imported.stderr).toBe(0);
    for (const node of [c, d]) expect((await galaxy(['attr', 'set', node.id, 'jr=1', ...at(a)])).code).toBe(0);
    expect((await galaxy(['landscape', 'create', 'jr', '--sql', 'SELECT node FROM nodes WHERE jr = 1', ...at(a)])).code).toBe(0);
    await eventually('landscape jr holds C and D', async () => ((await api<{ memberCount: number }>(a, 'GET', '/v1/landscapes/jr')).json.memberCount === 2 ? true : undefined), 30_000, 200);

    // ---- an operator's greeter on D, by hand -----------------------------------------------------
    const hand = await galaxy(['components', 'install', 'greeter@1.0.0', ...at(d)], 120_000);
    expect(hand.code, hand.stdout + hand.stderr).toBe(0);
    expect(await installed(d)).toEqual(['greeter@1.0.0:running']);
    const handPid = await greeterPid(d);
    expect(typeof handPid).toBe('number');

    // ---- create on C and D: C's greeter is the lifecycle's, D's stays the operator's ----------------
    const created = await galaxy(['cluster', 'create', 'jr', '--profile', 'jr@1.0.0', '--on', 'jr', ...at(a)], 180_000);
    expect(created.code, created.stdout + created.stderr).toBe(0);
    const owners = async (node: FarmAgent) => (await api<Installed[]>(node, 'GET', '/v1/components/installed')).json.map((r) => r.owner);
    expect(await owners(c)).toEqual([expect.stringMatching(/^cluster\/jr op [0-9a-f]{16}$/)]);
    expect(await owners(d)).toEqual([null]);

    // ---- delete: journaled first; C's greeter removed, D's kept in the same process ---------------
    const deleted = await galaxy(['cluster', 'delete', 'jr', ...at(a)], 180_000);
    expect(deleted.code, deleted.stdout + deleted.stderr).toBe(0);
    expect(deleted.stdout).toContain(`greeter on ${d.id}: kept, it was not installed by the cluster lifecycle`);
    expect(await installed(c)).toEqual([]);
    expect(await installed(d)).toEqual(['greeter@1.0.0:running']);
    expect(await greeterPid(d)).toBe(handPid);
    const [del] = await eventually('A lists the delete of jr', async () => {
      const ops = await operations(a, 'delete', 'jr');
      return ops.length === 1 && ops[0]!.state === 'succeeded' ? ops : undefined;
    }, 30_000, 250);
    journaledFirst(del!, 'remove');

    // ---- repair: a killed member replaced, the repair's plan journaled first -----------------------
    expect((await galaxy(['attr', 'set', e.id, 'jr=1', ...at(a)])).code).toBe(0);
    await eventually('landscape jr holds C, D and E', async () => ((await api<{ memberCount: number }>(a, 'GET', '/v1/landscapes/jr')).json.memberCount === 3 ? true : undefined), 30_000, 200);
    const rp = await galaxy(['cluster', 'create', 'rp', '--profile', 'jr@1.0.0', '--on', 'jr', ...at(a)], 180_000);
    expect(rp.code, rp.stdout + rp.stderr).toBe(0);
    const placed = (await record(a, 'rp'))!.members.map((m) => m.node);
    expect(placed).toHaveLength(2);
    const candidates = [c, d, e];
    const victim = candidates.find((n) => placed.includes(n.id) && n !== d)!;
    const spare = candidates.find((n) => !placed.includes(n.id))!;
    const survivor = candidates.find((n) => n !== victim && n !== spare)!;
    living = [survivor, spare];
    await stop(victim, 'SIGKILL');
    await eventually('the steward replaces the killed member with the spare', async () => {
      const now = await record(a, 'rp');
      return now !== null && now.members.map((m) => m.node).sort().join() === [survivor.id, spare.id].sort().join() ? true : undefined;
    }, 120_000, 250);
    const repair = await eventually('A lists the repair that placed the spare, finished', async () => {
      const ops = await operations(a, 'repair', 'rp');
      return ops.find((o) => o.state === 'succeeded' && o.events.some((x) => x.step === 'join' && x.node === spare.id));
    }, 60_000, 250);
    journaledFirst(repair, 'install-start');
    await eventually('the spare runs greeter', async () => ((await installed(spare)).join() === 'greeter@1.0.0:running' ? true : undefined), 60_000, 250);

    // ---- delete rp: what the lifecycle installed goes, D's greeter stays ----------------------------
    const gone = await galaxy(['cluster', 'delete', 'rp', ...at(a)], 180_000);
    expect(gone.code, gone.stdout + gone.stderr).toBe(0);
    for (const node of [survivor, spare].filter((n) => n !== d)) expect(await installed(node)).toEqual([]);
    expect(await installed(d)).toEqual(['greeter@1.0.0:running']);
    expect(await greeterPid(d)).toBe(handPid);
  }, 900_000);

  it('finishes a delete whose runner is SIGKILLed while a member stops a component: the steward removes the rest, the cluster is gone', async () => {
    const [a, b] = nodes as [FarmAgent, FarmAgent];
    expect(living).toHaveLength(2);
    // Package slowstop: the greeter fixture under another name, whose stop takes 4 s (a removal under way is long enough to be interrupted).
    const path = join(dir, 'slowstop');
    cpSync(join(fixtures, 'greeter'), path, { recursive: true });
    const manifest = JSON.parse(readFileSync(join(path, 'galaxy-component.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(path, 'galaxy-component.json'), JSON.stringify({ ...manifest, name: 'slowstop' }));
    writeFileSync(join(path, 'index.mjs'), readFileSync(join(path, 'index.mjs'), 'utf8').replace('  status() {', '  stop() {\n    return new Promise((resolve) => setTimeout(resolve, 4_000));\n  },\n  status() {'));
    expect((await galaxy(['packages', 'add', path, ...at(a)])).code).toBe(0);
    writeFileSync(join(dir, 'ds.yaml'), kJr.replace('name: jr', 'name: ds').replace('package: greeter', 'package: slowstop'));
    const imported = await galaxy(['profile', 'import', join(dir, 'ds.yaml'), ...at(a)]);
    expect(imported.code, imported.stdout + imported.stderr).toBe(0);
    const created = await galaxy(['cluster', 'create', 'ds', '--profile', 'ds@1.0.0', '--on', 'jr', ...at(a)], 180_000);
    expect(created.code, created.stdout + created.stderr).toBe(0);
    expect((await record(a, 'ds'))!.members.map((m) => m.node).sort()).toEqual(living.map((n) => n.id).sort());
    const slow = async (node: FarmAgent) => (await api<Array<{ name: string; state: string }>>(node, 'GET', '/v1/components')).json.find((x) => x.name === 'slowstop')?.state ?? 'absent';
    for (const node of living) expect(await slow(node)).toBe('running');

    const started = await api<LifecycleOperationView>(a, 'DELETE', '/v1/lifecycle/clusters/ds');
    expect(started.status).toBe(202);
    const id = started.json.id;
    await eventually('a member is stopping slowstop for the delete', async () => ((await Promise.all(living.map(slow))).includes('stopping') ? true : undefined), 60_000, 100);
    await stop(a, 'SIGKILL');
    await restart(a, 4);
    const finished = await eventually('the delete is finished by the steward (read on B)', async () => {
      const view = await api<LifecycleOperationView>(b, 'GET', `/v1/lifecycle/operations/${id}`);
      return view.status === 200 && view.json.state !== 'running' ? view.json : undefined;
    }, 300_000, 500);
    // For the report, not an assertion: who took the delete over, and what it did.
    console.log(`interrupted delete: ${finished.events.map((e) => `${e.step}${e.node === null ? '' : `@${e.node.slice(0, 4)}`}`).join(' ')}`);
    expect(finished.state, JSON.stringify(finished.events)).toBe('succeeded');
    const texts = finished.events.map((e) => e.text).join('\n');
    expect(texts).toMatch(/the steward [0-9a-f]{16} takes it over/);
    // The removal under way from the dead runner is the lifecycle's own: the steward's removal there is no hand-installed copy kept.
    expect(texts).not.toMatch(/not installed by the cluster lifecycle/);
    for (const node of living) await eventually(`${node.id} runs no slowstop`, async () => ((await installed(node)).some((r) => r.startsWith('slowstop')) ? undefined : true), 60_000, 500);
    expect((await record(b, 'ds'))!.deleted).toBe(true);
    await eventually('the cluster definition is gone', async () => ((await api<Array<{ name: string }>>(b, 'GET', '/v1/clusters')).json.some((x) => x.name === 'ds') ? undefined : true), 30_000, 500);
  }, 600_000);
});
