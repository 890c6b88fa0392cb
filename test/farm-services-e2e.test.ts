// Proves component installation, the event service and the authorisation of the farm
// component commands end to end, in `galaxy agent`: three real agent processes (an
// --insecure farm; a has the management role), driven by the `galaxy` CLI and the API.
//  - Installation: a package directory added on a rolls out to b and c (fetched from a,
//    the only holder); a new version replaces it everywhere; a package whose bytes rot
//    in a's store is refused by b (its checksum does not match) and b keeps its version;
//    a release that fails to start is rolled back on the first node and the rollout
//    stops before the second; a node without the controller or management role cannot
//    make another node install.
//  - Authorisation and bad input: a viewer token gets 403 on job run, script run, event
//    post and components install (CLI exit 2 with the reason; the API says the same),
//    and each command's bad input gets a clear error and a non-zero exit.
//  - Events: `galaxy event post` on b is stored on a, the management node, and found by
//    `galaxy events --type` from any agent and on a's WebSocket stream; a correlation
//    rule raises its warning once; a threshold rule on a Measurement value fires; a is
//    SIGKILLed and started again: an event posted while it was down waits in b's outbox
//    and is delivered when a is back, and every event is still there, each stored once.
// Also: `galaxy --help` lists the commands. Runs in order on one farm (the last test
// restarts a). Polls with deadlines.
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { ApiEvent } from '../src/core/util/api-event.js';
import type { NodeValues } from '../src/farm/data/node-values.js';
import type { EventsPage, FarmEvent } from '../src/farm/events/events-backend.js';
import type { InstallOperationView, InstalledComponentView, PackageView } from '../src/farm/install/install-backend.js';
import { packageRoot } from '../src/core/platform/package-root.js';
import { killAllAgents } from './support/agents.js';
import { api, at, eventually, galaxy, galaxyJson, restart, startFarm, stop, withFlags, type CliResult, type FarmAgent } from './support/farm-cli.js';

const work = mkdtempSync(join(tmpdir(), 'galaxy-services-e2e-'));
let farm: FarmAgent[];
let a: FarmAgent;
let b: FarmAgent;
let c: FarmAgent;

beforeAll(async () => {
  farm = await startFarm(3, [['management']]);
  [a, b, c] = farm as [FarmAgent, FarmAgent, FarmAgent];
}, 90_000);

afterAll(() => killAllAgents());

/** A copy of a fixture package, at `version`. */
function packageDir(fixture: 'greeter' | 'greeter-broken', version: string, name?: string): string {
  const dir = mkdtempSync(join(work, `${fixture}-${version}-`));
  cpSync(join(packageRoot(), 'test', 'fixtures', 'packages', fixture), dir, { recursive: true });
  const path = join(dir, 'galaxy-component.json');
  writeFileSync(path, JSON.stringify({ ...(JSON.parse(readFileSync(path, 'utf8')) as object), version, ...(name === undefined ? {} : { name }) }));
  return dir;
}

/** What `node` runs from packages (through the API: the CLI's `components installed` is checked once below). */
async function installed(node: FarmAgent): Promise<Array<Pick<InstalledComponentView, 'name' | 'version' | 'state'>>> {
  return (await api<InstalledComponentView[]>(node, 'GET', '/v1/components/installed')).json.map(({ name, version, state }) => ({ name, version, state }));
}

async function packagesHeld(node: FarmAgent): Promise<string[]> {
  return (await api<PackageView[]>(node, 'GET', '/v1/packages')).json.map((p) => `${p.name}@${p.version}`);
}

/** The version the greeter that runs on `node` posted (its own manifest's). */
async function greeterVersion(node: FarmAgent): Promise<unknown> {
  const rows = (await api<NodeValues[]>(node, 'GET', `/v1/values?node=${node.id}`)).json;
  return rows[0]?.values['version'];
}

function operationOf(result: CliResult): InstallOperationView {
  return JSON.parse(result.stdout) as InstallOperationView;
}

describe('the galaxy command', () => {
  it('lists the farm component commands in its help, install beside the components subcommands', async () => {
    const help = await galaxy(['--help']);
    expect(help.code).toBe(0);
    for (const command of ['events', 'event', 'job', 'script', 'components', 'packages']) expect(help.stdout).toMatch(new RegExp(`^  ${command} `, 'm'));
    const components = await galaxy(['components', '--help']);
    for (const sub of ['ls', 'restart', 'config', 'install', 'remove', 'installed', 'operation']) expect(components.stdout).toMatch(new RegExp(`^  ${sub} `, 'm'));
    const job = await galaxy(['job', '--help']);
    for (const sub of ['run', 'ls', 'show', 'kill', 'wait', 'watch', 'add']) expect(job.stdout).toMatch(new RegExp(`^  ${sub} `, 'm'));
  });
});

describe('component installation through galaxy agent', () => {
  it('rolls a package out from the farm, replaces its version, refuses a corrupted one, rolls a failing start back', async () => {
    const added = await galaxy(['packages', 'add', packageDir('greeter', '1.0.0'), ...at(a)]);
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toMatch(/^greeter@1\.0\.0 [0-9a-f]{64}\n$/);

    const first = await galaxy(['components', 'install', 'greeter@1.0.0', '--nodes', `${b.id},${c.id}`, '--batch', '2', ...at(a)]);
    expect(first.code, first.stdout + first.stderr).toBe(0);
    expect(first.stdout).toContain('2/2 nodes run greeter@1.0.0');
    expect((await galaxyJson<InstalledComponentView[]>(['components', 'installed', ...at(b)])).map((v) => [v.name, v.version, v.state, v.origin])).toEqual([['greeter', '1.0.0', 'running', 'local']]);
    for (const node of [b, c]) {
      expect(await installed(node)).toEqual([{ name: 'greeter', version: '1.0.0', state: 'running' }]);
      // Fetched from a: the package is in the node's own store now.
      expect(await packagesHeld(node)).toEqual(['greeter@1.0.0']);
      await eventually(`greeter 1.0.0 posts on ${node.id}`, async () => ((await greeterVersion(node)) === '1.0.0' ? true : undefined));
    }

    // A new version rolls out.
    expect((await galaxy(['packages', 'add', packageDir('greeter', '2.0.0'), ...at(a)])).code).toBe(0);
    const second = await galaxy(['components', 'install', 'greeter@2.0.0', '--nodes', `${b.id},${c.id}`, '--batch', '2', '--json', ...at(a)]);
    expect(second.code, second.stdout).toBe(0);
    expect(operationOf(second).rollout!.nodes.map((n) => n.result)).toEqual(['installed', 'installed']);
    for (const node of [b, c]) {
      expect(await installed(node)).toEqual([{ name: 'greeter', version: '2.0.0', state: 'running' }]);
      await eventually(`greeter 2.0.0 posts on ${node.id}`, async () => ((await greeterVersion(node)) === '2.0.0' ? true : undefined));
    }

    // A package whose bytes rotted in the only holder's store: b refuses it and keeps 2.0.0.
    expect((await galaxy(['packages', 'add', packageDir('greeter', '2.1.0'), ...at(a)])).code).toBe(0);
    const stored = join(a.dataDir, 'packages', 'greeter', '2.1.0', 'index.mjs');
    const original = readFileSync(stored, 'utf8');
    writeFileSync(stored, original.replace('greeting', 'GREETING'));
    expect(readFileSync(stored, 'utf8')).not.toBe(original);
    const corrupted = await galaxy(['components', 'install', 'greeter@2.1.0', '--nodes', b.id, '--json', ...at(a)]);
    expect(corrupted.code).toBe(1);
    const refusal = operationOf(corrupted).rollout!.nodes[0]!;
    expect(refusal.result).toBe('failed');
    expect(refusal.error!.message).toMatch(/does not match its sha256/);
    expect(await installed(b)).toEqual([{ name: 'greeter', version: '2.0.0', state: 'running' }]);
    expect(await packagesHeld(b)).not.toContain('greeter@2.1.0');

    // A release that cannot start: rolled back on b, the rollout stops before c.
    expect((await galaxy(['packages', 'add', packageDir('greeter-broken', '3.0.0'), ...at(a)])).code).toBe(0);
    const broken = await galaxy(['components', 'install', 'greeter@3.0.0', '--nodes', `${b.id},${c.id}`, '--batch', '1', '--json', ...at(a)]);
    expect(broken.code).toBe(1);
    const rollout = operationOf(broken).rollout!;
    expect(rollout.nodes.map((n) => [n.id, n.result])).toEqual([
      [b.id, 'rolled-back'],
      [c.id, 'not-attempted'],
    ]);
    expect(rollout.nodes[0]!.error!.message).toMatch(/cannot start: a broken release/);
    for (const node of [b, c]) expect(await installed(node)).toEqual([{ name: 'greeter', version: '2.0.0', state: 'running' }]);
    await eventually('the rolled-back greeter 2.0.0 posts again on b', async () => ((await greeterVersion(b)) === '2.0.0' ? true : undefined));

    // b has neither the controller nor the management role: c refuses to install for it.
    const forbidden = await galaxy(['components', 'install', 'greeter@1.0.0', '--nodes', c.id, '--json', ...at(b)]);
    expect(forbidden.code).toBe(1);
    expect(operationOf(forbidden).rollout!.nodes[0]!.error).toMatchObject({ code: 'GALAXY_INSTALL_FORBIDDEN' });
    expect(await installed(c)).toEqual([{ name: 'greeter', version: '2.0.0', state: 'running' }]);
  }, 120_000);

  it('makes each node run what the farm configuration gives its landscapes, as nodes join and leave them', async () => {
    expect((await galaxy(['packages', 'add', packageDir('greeter', '1.0.0', 'hello'), ...at(a)])).code).toBe(0);
    expect((await galaxy(['attr', 'set', c.id, 'role=edge', ...at(a)])).code).toBe(0);
    expect((await galaxy(['landscape', 'create', 'edge', '--sql', "SELECT node FROM nodes WHERE role = 'edge'", ...at(a)])).code).toBe(0);
    const set = await galaxy(['farm', 'components', 'set', 'edge', 'hello@1.0.0', ...at(b)]);
    expect(set.code, set.stderr).toBe(0);
    const runsHello = async (node: FarmAgent): Promise<boolean> => (await installed(node)).some((x) => x.name === 'hello' && x.version === '1.0.0' && x.state === 'running');
    await eventually('c, in landscape edge, runs hello', async () => ((await runsHello(c)) ? true : undefined), 30_000);
    expect(await runsHello(b)).toBe(false);
    expect(await packagesHeld(c)).toContain('hello@1.0.0');

    // b joins the landscape: it installs hello from a peer; c leaves it: it removes hello.
    expect((await galaxy(['attr', 'set', b.id, 'role=edge', ...at(c)])).code).toBe(0);
    await eventually('b, now in edge, runs hello', async () => ((await runsHello(b)) ? true : undefined), 30_000);
    expect((await galaxy(['attr', 'set', c.id, 'role=', ...at(a)])).code).toBe(0);
    await eventually('c, out of edge, no longer runs hello', async () => ((await installed(c)).some((x) => x.name === 'hello') ? undefined : true), 30_000);
    const listed = await galaxyJson<{ thisNode: Array<{ name: string }>; ready: boolean; assignments: Array<{ target: string }> }>(['farm', 'components', 'ls', ...at(b)]);
    expect(listed).toMatchObject({ ready: true, thisNode: [{ name: 'hello' }], assignments: [{ target: 'edge' }] });
    // The explicit installs stay as they were.
    for (const node of [b, c]) expect((await installed(node)).find((x) => x.name === 'greeter')).toMatchObject({ version: '2.0.0', state: 'running' });
  }, 120_000);
});

describe('authorisation and bad input', () => {
  it('refuses a viewer token on every command that changes something, with the reason', async () => {
    const created = await galaxy(['tokens', 'create', 'watcher', '--role', 'viewer', ...at(a)]);
    expect(created.code, created.stderr).toBe(0);
    const viewer = created.stdout.trim();
    const as = ['--api', a.url, '--token', viewer];
    const scriptFile = join(work, 'noop.sh');
    writeFileSync(scriptFile, 'true\n');
    for (const args of [
      ['job', 'run', '--nodes', b.id, '--', 'true'],
      ['script', 'run', scriptFile, '--nodes', b.id],
      ['event', 'post', 'disk.full'],
      ['components', 'install', 'greeter@2.0.0', '--nodes', b.id],
    ]) {
      const result = await galaxy(withFlags(args, as));
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr, args.join(' ')).toMatch(/token "watcher" has role viewer; this needs (operator|admin)/);
    }
    const post = (path: string, body: unknown) => api(a, 'POST', path, body, viewer);
    expect((await post('/v1/jobs', { target: { nodes: [b.id] }, command: ['true'] })).status).toBe(403);
    expect((await post('/v1/scripts', { target: { nodes: [b.id] }, script: 'true' })).status).toBe(403);
    expect((await post('/v1/events', { type: 'disk.full' })).status).toBe(403);
    expect((await post('/v1/components/install', { name: 'greeter', version: '2.0.0' })).status).toBe(403);
    // A viewer still reads.
    expect((await api(a, 'GET', '/v1/jobs', undefined, viewer)).status).toBe(200);
    expect((await api(a, 'GET', '/v1/events/query?since=1h', undefined, viewer)).status).toBe(200);
    expect((await api(a, 'GET', '/v1/components/installed', undefined, viewer)).status).toBe(200);
  }, 180_000);

  it('answers bad input to each command with a clear error and a non-zero exit', async () => {
    const cases: Array<{ args: string[]; code: number; error: RegExp }> = [
      { args: ['job', 'run', '--', 'true'], code: 1, error: /exactly one of --on LANDSCAPE, --nodes a,b or --sql/ },
      { args: ['job', 'run', '--nodes', 'not-a-node', '--', 'true'], code: 2, error: /a node id is 16 lowercase hex digits/ },
      { args: ['job', 'run', '--nodes', 'feedfeedfeedfeed', '--', 'true'], code: 2, error: /node feedfeedfeedfeed is not an alive member of the farm/ },
      { args: ['job', 'run', '--on', 'web', '--', 'true'], code: 2, error: /no landscape is named "web"/ },
      { args: ['job', 'run', '--sql', 'DELETE FROM nodes', '--', 'true'], code: 2, error: /must be a SELECT/ },
      { args: ['job', 'run', '--nodes', b.id, '--timeout', 'soon', '--', 'true'], code: 1, error: /--timeout takes a duration/ },
      { args: ['job', 'run', '--nodes', b.id, '--', ''], code: 2, error: /command/ },
      { args: ['job', 'kill', 'no-such-job'], code: 2, error: /job id/i },
      { args: ['script', 'run', join(work, 'missing.sh'), '--nodes', b.id], code: 1, error: /cannot read the script/ },
      { args: ['script', 'run', join(work, 'noop.sh'), '--nodes', b.id, '--batch', 'lots'], code: 2, error: /batch/ },
      { args: ['script', 'run', join(work, 'noop.sh'), '--nodes', b.id, '--min-success', '150%'], code: 2, error: /minSuccess|success/ },
      { args: ['event', 'post', 'Disk Full'], code: 2, error: /an event type is 1 to 64 of a-z/ },
      { args: ['event', 'post', 'disk.full', '--body', '[1]'], code: 1, error: /--body must be a JSON object/ },
      { args: ['event', 'post', 'disk.full', '--severity', 'fatal'], code: 1, error: /--severity must be one of info, warning, error, critical/ },
      { args: ['events', '--since', 'yesterday'], code: 2, error: /a time is ISO 8601/ },
      { args: ['events', '--limit', '0'], code: 1, error: /--limit must be an integer/ },
      { args: ['components', 'install', 'greeter'], code: 1, error: /expected NAME@VERSION/ },
      { args: ['components', 'install', 'greeter@one'], code: 2, error: /semantic version/ },
      { args: ['components', 'install', 'ghost@1.0.0', '--nodes', b.id], code: 1, error: /failed/ },
      { args: ['components', 'config', 'events', 'thresholds=[{"key":"load1","op":"~","value":1,"type":"load.high"}]'], code: 2, error: /invalid events configuration: thresholds\.0\.op/ },
      { args: ['components', 'config', 'events', 'management=false'], code: 2, error: /events\.management follows the node's management role/ },
    ];
    for (const { args, code, error } of cases) {
      const result = await galaxy(withFlags(args, at(a)));
      expect(result.code, `galaxy ${args.join(' ')}: ${result.stderr}`).toBe(code);
      expect(`${result.stderr}${result.stdout}`, `galaxy ${args.join(' ')}`).toMatch(error);
    }
    // Nothing of it changed the events component's configuration.
    expect((await api<Array<{ name: string; config: Record<string, unknown> }>>(a, 'GET', '/v1/components')).json.find((s) => s.name === 'events')!.config).toEqual({ management: true });
  }, 120_000);
});

describe('the event service through galaxy agent', () => {
  it('stores posted events on the management node, correlates them, fires thresholds, and keeps them across its restart', async () => {
    const stream: ApiEvent[] = [];
    const socket = new WebSocket(`${a.url.replace(/^http/, 'ws')}/v1/events?kind=event`, { headers: { authorization: `Bearer ${a.token}` } });
    socket.on('message', (data) => stream.push(JSON.parse(String(data)) as ApiEvent));
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));

    const posted = await galaxy(['event', 'post', 'disk.full', '--severity', 'warning', '--body', '{"mount":"/data"}', ...at(b)]);
    expect(posted.code, posted.stderr).toBe(0);
    const id = posted.stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    const query = (node: FarmAgent, filter: string) => galaxyJson<EventsPage>(['events', ...filter.split(' '), ...at(node)]);
    const found = await eventually('the event is stored on the management node', async () => (await query(a, '--type disk.full')).events.find((e) => e.id === id));
    expect(found).toMatchObject({ node: b.id, type: 'disk.full', severity: 'warning', source: 'api:admin', body: { mount: '/data' } });
    // Any agent answers the query (the others ask a), also by node and by type prefix.
    expect((await query(c, `--type disk.* --node ${b.id}`)).events.map((e) => e.id)).toEqual([id]);
    await eventually('the stored event is on a\'s stream', () => (stream.some((e) => e.kind === 'event' && e.body['id'] === id) ? true : undefined));

    // A correlation rule on the management node: two disk.full within a minute raise a disk.storm warning, once.
    const rule = '[{"type":"disk.full","count":2,"windowMs":60000,"raise":{"type":"disk.storm"}}]';
    expect((await galaxy(['components', 'config', 'events', `correlations=${rule}`, ...at(a)])).code).toBe(0);
    for (const node of [c, b]) expect((await galaxy(['event', 'post', 'disk.full', ...at(node)])).code).toBe(0);
    const storm = await eventually('the correlation raises disk.storm', async () => (await query(a, '--type disk.storm')).events[0]);
    expect(storm).toMatchObject({ node: a.id, source: 'correlation', severity: 'warning', body: { rule: 'disk.full@*', threshold: 2 } });
    expect((storm.body as { count: number }).count).toBeGreaterThanOrEqual(2);
    await eventually('every disk.full is stored', async () => ((await query(a, '--type disk.full')).events.length === 3 ? true : undefined));
    expect((await query(a, '--type disk.storm')).events).toHaveLength(1);
    // By landscape: the events of the nodes the landscape holds, as the querying node computes it.
    expect((await galaxy(['landscape', 'create', 'only-c', '--sql', `SELECT node FROM nodes WHERE node = '${c.id}'`, ...at(b)])).code).toBe(0);
    const byLandscape = await eventually('b computes only-c and answers by landscape', async () => {
      const result = await galaxy(['events', '--type', 'disk.full', '--landscape', 'only-c', '--json', ...at(b)]);
      return result.code === 0 ? (JSON.parse(result.stdout) as EventsPage) : undefined;
    });
    expect(byLandscape.events.map((e) => e.node)).toEqual([c.id]);

    // A threshold rule on c's Measurement values: memTotalBytes is always above zero.
    const thresholds = '[{"key":"memTotalBytes","op":">","value":0,"type":"memory.seen","severity":"info"}]';
    expect((await galaxy(['components', 'config', 'events', `thresholds=${thresholds}`, ...at(c)])).code).toBe(0);
    expect((await galaxy(['components', 'config', 'measurement', 'intervalMs=300', ...at(c)])).code).toBe(0);
    const fired = await eventually('the threshold rule fires on c', async () => (await query(a, `--type memory.seen --node ${c.id}`)).events[0], 20_000, 250);
    expect(fired).toMatchObject({ source: 'threshold', body: { key: 'memTotalBytes', op: '>', threshold: 0 } });
    expect((fired.body as { value: number }).value).toBeGreaterThan(0);
    // The rule is kept in c's data directory for its next start.
    expect(JSON.parse(readFileSync(join(c.dataDir, 'farm-components.json'), 'utf8'))).toMatchObject({ events: { thresholds: [{ key: 'memTotalBytes' }] } });
    socket.close();

    // The management node crashes (SIGKILL) and comes back; an event posted meanwhile waits
    // in b's outbox (what b tries to send the dead node fails and is sent again later) and arrives once.
    await stop(a, 'SIGKILL');
    const whileDown = await galaxy(['event', 'post', 'while.down', ...at(b)]);
    expect(whileDown.code, whileDown.stderr).toBe(0);
    const downId = whileDown.stdout.trim();
    await restart(a, 3, [b.address]);
    const after = await eventually('the event posted while a was down arrives', async () => {
      const page = await query(a, '--since 1h');
      return page.events.some((e) => e.id === downId) ? page : undefined;
    }, 40_000, 250);
    const ids = after.events.map((e: FarmEvent) => e.id);
    for (const kept of [id, downId, storm.id, fired.id]) expect(ids.filter((x) => x === kept), kept).toHaveLength(1);
    expect(new Set(ids).size).toBe(ids.length);
  }, 150_000);
});
