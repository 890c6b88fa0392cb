// Proves three parts of the cluster lifecycle (issue 19, item 3) on five real `galaxy
// agent` processes: A (controller and management, API on: the operator's agent), S
// (controller, API OFF), and B, C, D (API on, no role). B and C are in landscape `sh`.
//  - Shared components: clusters `one` and `two` (profile sh@1.0.0: greeter 1.0.0 on B
//    and C) share the installed greeter (the second create says so and installs nothing);
//    /v1/lifecycle/holders names both clusters; a third cluster demanding greeter 2.0.0 on
//    the same nodes is refused before anything is done (exit 2, the conflict named), and
//    the designer's plan for it is blocked with the same reason per node;
//    deleting `one` keeps greeter running on B and C (same process: not restarted) for
//    `two`; deleting `two` removes it.
//  - Persistent operations and a steward without the API: cluster `up` (up@1.0.0,
//    greeter 1.0.0 on B and C) is upgraded from A to up@2.0.0, whose greeter 4.0.0 takes
//    6 s to start (the window). Before its first step A waits until another lifecycle's
//    replica holds the operation's journal with its plan (the `journaled` event names
//    it). A is SIGKILLed as soon as its own view has a step under way and a member is
//    starting greeter 4.0.0 (past the package fetch from A), whether or not any other
//    replica holds the write naming that step (journals travel by gossip; the steward
//    puts back every planned step), and started again at once (the FMIDB relays no
//    origin of a dead node: a journal write S missed reaches it once A is back). The
//    steward, the lower id of S (a controller with its API off) and A, finds the
//    journal, sees its runner gone or in another life, and rolls it back. Read
//    from B (the journal is farm-replicated): the operation is no longer running, its
//    events name the steward that took it over and the rollback, every member ends on
//    greeter 1.0.0 with the record at up@1.0.0, and A lists the operation in `galaxy
//    cluster operations` with its outcome. The test prints which agent was the steward.
//  - `up` is deleted; a create of `cr` (up@2.0.0, the slow greeter) is started from A and
//    A SIGKILLed and restarted while its installs are under way: the steward undoes it
//    (nothing left on B or C, the record a tombstone, the definition gone).
// Polls with deadlines; no fixed sleeps.
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LifecycleOperationView } from '../src/cluster/lifecycle/lifecycle-operations.js';
import type { LifecycleRecord } from '../src/cluster/lifecycle/lifecycle-record.js';
import { packageRoot } from '../src/core/platform/package-root.js';
import type { MemberView } from '../src/core/membership/member-view.js';
import { freePort, killAllAgents, spawnAgent } from './support/agents.js';
import { api, at, eventually, galaxy, restart, startFarm, stop, type FarmAgent } from './support/farm-cli.js';

const root = packageRoot();
const fixtures = join(root, 'test', 'fixtures', 'packages');
let a: FarmAgent;
let b: FarmAgent;
let c: FarmAgent;
let nodes: FarmAgent[];
let stewardId = '';

const kSh = (name: string, range: string) => `apiVersion: galaxy/v1
kind: ClusterProfile
name: ${name}
version: 1.0.0
extends: base@^1
roles:
  member: null
  svc:
    count: { min: 1, max: 2 }
    components:
      - { package: greeter, version: "${range}" }
`;
const kUp1 = kSh('up', '^1.0.0');
const kUp2 = kSh('up', '^4.0.0').replace('version: 1.0.0', 'version: 2.0.0');

interface Installed {
  name: string;
  version: string;
  state: string;
}

async function installed(node: FarmAgent): Promise<string[]> {
  const rows = (await api<Installed[]>(node, 'GET', '/v1/components/installed')).json;
  return rows.map((r) => `${r.name}@${r.version}:${r.state}`).sort();
}

async function greeterPid(node: FarmAgent): Promise<number | undefined> {
  const rows = (await api<Array<{ name: string; pid?: number | null }>>(node, 'GET', '/v1/components')).json;
  return rows.find((r) => r.name === 'greeter')?.pid ?? undefined;
}

/** Whether a member is starting the slow greeter: past its package fetch from A, inside the 6 s start. */
async function startingGreeter(nodes: readonly FarmAgent[]): Promise<boolean> {
  const rows = await Promise.all(nodes.map(async (n) => (await api<Array<{ name: string; state: string }>>(n, 'GET', '/v1/components')).json));
  return rows.some((r) => r.some((x) => x.name === 'greeter' && x.state === 'starting'));
}

async function record(node: FarmAgent, name: string): Promise<LifecycleRecord | null> {
  const answer = await api<LifecycleRecord>(node, 'GET', `/v1/lifecycle/clusters/${name}`);
  return answer.status === 200 ? answer.json : null;
}

/** A copy of the greeter fixture at another version; with startDelayMs its start takes that long. */
function greeterAt(dir: string, version: string, startDelayMs = 0): string {
  const path = join(dir, `greeter-${version}`);
  cpSync(join(fixtures, 'greeter'), path, { recursive: true });
  const manifest = JSON.parse(readFileSync(join(path, 'galaxy-component.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(path, 'galaxy-component.json'), JSON.stringify({ ...manifest, version }));
  if (startDelayMs > 0) {
    const source = readFileSync(join(path, 'index.mjs'), 'utf8');
    writeFileSync(join(path, 'index.mjs'), source.replace('  start(ctx) {', `  async start(ctx) {\n    await new Promise((resolve) => setTimeout(resolve, ${startDelayMs}));`));
  }
  return path;
}

beforeAll(async () => {
  nodes = await startFarm(4, [['controller', 'management']]);
  a = nodes[0]!;
  [b, c] = nodes.slice(1) as [FarmAgent, FarmAgent];
  // S: a controller with its API off (the default of spawnAgent without --api would also turn its components off).
  const address = `127.0.0.1:${await freePort()}`;
  spawnAgent(address, [a.address], ['--insecure', '--api', 'off', '--role', 'controller']);
  stewardId = await eventually('S is an alive member announcing the lifecycle', async () => {
    const members = (await api<MemberView[]>(a, 'GET', '/v1/members')).json;
    const s = members.find((m) => m.address === address && m.status === 'alive');
    return s !== undefined && (s.tags['lifecycle'] ?? '') !== '' && (s.tags['roles'] ?? '').includes('controller') ? s.id : undefined;
  }, 60_000, 250);
}, 180_000);

afterAll(() => killAllAgents());

describe('the cluster lifecycle: shared components, journaled operations, a steward without the API (real agents)', () => {
  it('shares a component between clusters, refuses a conflicting version, keeps it for the other cluster on delete; an upgrade interrupted by its runner\'s death is rolled back by a steward without an API', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'galaxy-lifecycle-shared-'));
    for (const path of [join(fixtures, 'greeter'), greeterAt(dir, '2.0.0'), greeterAt(dir, '4.0.0', 6_000)]) {
      const added = await galaxy(['packages', 'add', path, ...at(a)]);
      expect(added.code, added.stderr).toBe(0);
    }
    const files = [['sh', kSh('sh', '^1.0.0')], ['shx', kSh('shx', '^2.0.0')], ['up-1', kUp1], ['up-2', kUp2]].map(([file, text]) => {
      writeFileSync(join(dir, `${file}.yaml`), text!);
      return join(dir, `${file}.yaml`);
    });
    const imported = await galaxy(['profile', 'import', join(root, 'profiles', 'base.yaml'), ...files, ...at(a)]);
    expect(imported.code, imported.stdout + imported.stderr).toBe(0);
    for (const node of [b, c]) expect((await galaxy(['attr', 'set', node.id, 'sh=1', ...at(a)])).code).toBe(0);
    expect((await galaxy(['landscape', 'create', 'sh', '--sql', 'SELECT node FROM nodes WHERE sh = 1', ...at(a)])).code).toBe(0);
    await eventually('landscape sh holds B and C', async () => ((await api<{ memberCount: number }>(a, 'GET', '/v1/landscapes/sh')).json.memberCount === 2 ? true : undefined), 20_000, 200);

    // ---- two clusters share one installed greeter -------------------------------------------
    const one = await galaxy(['cluster', 'create', 'one', '--profile', 'sh@1.0.0', '--on', 'sh', ...at(a)], 180_000);
    expect(one.code, one.stdout + one.stderr).toBe(0);
    for (const node of [b, c]) expect(await installed(node)).toEqual(['greeter@1.0.0:running']);
    const pids = await Promise.all([b, c].map(greeterPid));
    expect(pids.every((p) => typeof p === 'number')).toBe(true);
    const two = await galaxy(['cluster', 'create', 'two', '--profile', 'sh@1.0.0', '--on', 'sh', ...at(a)], 180_000);
    expect(two.code, two.stdout + two.stderr).toBe(0);
    expect(two.stdout).toMatch(new RegExp(`greeter@1.0.0 on ${b.id}: runs already for cluster one; shared`));
    const holdings = (await api<Array<{ node: string; component: string; clusters: string[] }>>(a, 'GET', '/v1/lifecycle/holders')).json;
    for (const node of [b, c]) expect(holdings.find((h) => h.node === node.id && h.component === 'greeter')?.clusters).toEqual(['one', 'two']);

    // ---- a conflicting version on the same nodes is refused before anything is done -----------
    const three = await galaxy(['cluster', 'create', 'three', '--profile', 'shx@1.0.0', '--on', 'sh', ...at(a)], 60_000);
    expect(three.code, three.stdout + three.stderr).toBe(2);
    expect(three.stderr).toMatch(/cannot create three from shx@1.0.0: greeter@2.0.0 \(role svc\) on [0-9a-f]{16}: cluster one runs greeter@1.0.0, cluster two runs greeter@1.0.0 there, and a node runs one copy of a component/);
    // The designer's plan (what --dry-run prints) is blocked for the same reason, per node.
    const plan = (await api<{ blocked: string[]; lines: string[] }>(a, 'POST', '/v1/designer/plan', { profile: { ref: 'shx@1.0.0' }, on: 'sh', name: 'three' })).json;
    for (const node of [b, c]) expect(plan.blocked).toContain(`greeter@2.0.0 (role svc) on ${node.id}: cluster one runs greeter@1.0.0, cluster two runs greeter@1.0.0 there, and a node runs one copy of a component`);
    expect(plan.lines.filter((l) => l.startsWith('! blocked: greeter@2.0.0'))).toHaveLength(2);
    expect(await record(a, 'three')).toBeNull();
    for (const node of [b, c]) expect(await installed(node)).toEqual(['greeter@1.0.0:running']);

    // ---- deleting one keeps the greeter two holds; deleting two removes it ----------------------
    const goneOne = await galaxy(['cluster', 'delete', 'one', ...at(a)], 120_000);
    expect(goneOne.code, goneOne.stdout + goneOne.stderr).toBe(0);
    expect(goneOne.stdout).toMatch(new RegExp(`greeter on ${b.id}: kept, cluster two holds it too`));
    for (const node of [b, c]) expect(await installed(node)).toEqual(['greeter@1.0.0:running']);
    expect(await Promise.all([b, c].map(greeterPid))).toEqual(pids);
    const goneTwo = await galaxy(['cluster', 'delete', 'two', ...at(a)], 120_000);
    expect(goneTwo.code, goneTwo.stdout + goneTwo.stderr).toBe(0);
    for (const node of [b, c]) expect(await installed(node)).toEqual([]);

    // ---- an upgrade whose runner dies midway: the steward (S, no API) rolls it back ------------
    const up = await galaxy(['cluster', 'create', 'up', '--profile', 'up@1.0.0', '--on', 'sh', ...at(a)], 180_000);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    const started = await api<LifecycleOperationView>(a, 'POST', '/v1/lifecycle/clusters/up/upgrade', { profile: 'up@2.0.0' });
    expect(started.status).toBe(202);
    const id = started.json.id;
    // A is killed once its own view has a step under way: the write naming that step may not have left A yet
    // (a write is local first); the plan, journaled before the first step, is held by another replica.
    const underWay = await eventually('the upgrade has a step under way (A\'s own view)', async () => {
      const view = await api<LifecycleOperationView>(a, 'GET', `/v1/lifecycle/operations/${id}`);
      return view.status === 200 && view.json.state === 'running' && view.json.events.some((e) => e.step === 'upgrade-start') && (await startingGreeter([b, c])) ? view.json : undefined;
    }, 60_000, 100);
    expect(underWay.events.find((e) => e.step === 'journaled')).toMatchObject({ ok: true, text: expect.stringMatching(/journal and plan are held by [0-9a-f]{16} too/) });
    // A figure for the report, not an assertion: what the wait for another replica cost this upgrade before its first step.
    const timeOf = (step: string) => Date.parse(underWay.events.find((e) => e.step === step)!.at);
    console.log(`the upgrade's journal was held by another lifecycle ${timeOf('journaled') - timeOf('start')} ms after its start event`);
    // The steward is the lower id of A and S: when it is A, the runner killed is the steward itself.
    console.log(`the upgrade's runner A ${a.id < stewardId ? 'is' : 'is not'} the steward (A ${a.id}, S ${stewardId})`);
    await stop(a, 'SIGKILL');
    const killedAtMs = Date.now();
    // Restarted at once: the FMIDB relays no origin of a dead node, so a journal write of A's that S had not
    // received before the kill reaches S only once A is back; whichever is the steward then takes the operation over.
    await restart(a, 5);
    const finished = await eventually('the operation is finished by the steward (read on B)', async () => {
      const view = await api<LifecycleOperationView>(b, 'GET', `/v1/lifecycle/operations/${id}`);
      return view.status === 200 && view.json.state !== 'running' ? view.json : undefined;
      // A member still fetching the package from the killed runner would hold its install queue until the fetch gives up.
    }, 300_000, 500);
    // A figure for the report, not an assertion: how long the farm went without the upgrade's outcome.
    console.log(`interrupted upgrade finished by the steward ${Date.now() - killedAtMs} ms after its runner's SIGKILL (read on B, polled every 500 ms)`);
    expect(finished.state).toBe('failed');
    expect(finished.error).toMatch(/rolled back by the steward: up stays on up@1.0.0/);
    const texts = finished.events.map((e) => e.text).join('\n');
    const taker = /the steward ([0-9a-f]{16}) takes it over/.exec(texts)?.[1];
    expect([stewardId, a.id]).toContain(taker);
    console.log(`the upgrade was taken over by ${taker === stewardId ? 'S (API off)' : 'A, restarted'}`);
    expect(texts).toMatch(/the interrupted upgrade to up@2.0.0 was rolled back \(2 step\(s\) planned, each put back\)/);
    await eventually('every member ends on greeter 1.0.0', async () => {
      const now = await Promise.all([b, c].map(installed));
      return now.every((rows) => rows.join() === 'greeter@1.0.0:running') ? true : undefined;
    }, 60_000, 500);
    expect((await record(b, 'up'))!.profile).toBe('up@1.0.0');

    // ---- A again: the operation is listed with its outcome ---------------------------------------
    const listed = await eventually('A lists the operation', async () => {
      const out = await galaxy(['cluster', 'operations', ...at(a)]);
      return out.stdout.includes(id) ? out.stdout : undefined;
    }, 30_000, 500);
    expect(listed).toMatch(new RegExp(`${id}\\s+upgrade\\s+up\\s+up@2.0.0\\s+failed`));
    // Still one version on every member once the steward is A again.
    for (const node of [b, c]) expect(await installed(node)).toEqual(['greeter@1.0.0:running']);

    // ---- a create whose runner dies midway: undone by the steward ------------------------------
    const removed = await galaxy(['cluster', 'delete', 'up', ...at(a)], 120_000);
    expect(removed.code, removed.stdout + removed.stderr).toBe(0);
    for (const node of [b, c]) expect(await installed(node)).toEqual([]);
    const creating = await api<LifecycleOperationView>(a, 'POST', '/v1/lifecycle/clusters', { name: 'cr', profile: 'up@2.0.0', on: 'sh' });
    expect(creating.status).toBe(202);
    const createId = creating.json.id;
    await eventually('the create has an install under way, journaled farm-wide', async () => {
      const view = await api<LifecycleOperationView>(b, 'GET', `/v1/lifecycle/operations/${createId}`);
      return view.status === 200 && view.json.state === 'running' && view.json.events.some((e) => e.step === 'install-start') && (await startingGreeter([b, c])) ? true : undefined;
    }, 60_000, 100);
    await stop(a, 'SIGKILL');
    await restart(a, 5);
    let last: unknown = null;
    const undone = await eventually('the create is undone by the steward (read on B)', async () => {
      const view = await api<LifecycleOperationView>(b, 'GET', `/v1/lifecycle/operations/${createId}`);
      last = view.json;
      return view.status === 200 && view.json.state !== 'running' ? view.json : undefined;
      // A member still fetching the package from the killed runner holds its install queue until the fetch gives up
      // (3 attempts of 30 s per chunk from a silent holder, then the next holder): the undo waits behind it.
    }, 300_000, 500).catch(async (error: Error) => {
      // What the steward got to, for the failure's message.
      const rows = await Promise.all([b, c].map(async (n) => JSON.stringify((await api(n, 'GET', '/v1/components/installed')).json)));
      throw new Error(`${error.message}\nlast view on B: ${JSON.stringify(last)}\ninstalled on B, C: ${rows.join(' | ')}`);
    });
    expect(undone.state).toBe('failed');
    expect(undone.error).toMatch(/undone by the steward/);
    expect([stewardId, a.id]).toContain(/the steward ([0-9a-f]{16}) takes it over/.exec(undone.events.map((e) => e.text).join('\n'))?.[1]);
    expect((await record(b, 'cr'))!.deleted).toBe(true);
    await eventually('no member runs the greeter the create started', async () => ((await Promise.all([b, c].map(installed))).every((rows) => rows.length === 0) ? true : undefined), 60_000, 500);
    await eventually('the cluster definition is gone', async () => ((await api<Array<{ name: string }>>(b, 'GET', '/v1/clusters')).json.some((x) => x.name === 'cr') ? undefined : true), 30_000, 500);
  }, 900_000);
});
