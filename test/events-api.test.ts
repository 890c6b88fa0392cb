// Proves the events API and CLI end to end on one management node: a real ApiServer
// (tokens, roles, validation, error bodies) serving eventsRoutes over
// componentEventsBackend, i.e. over a real `events` component in its own process; the
// CLI commands run through commander against it. An operator posts an event and a
// viewer finds it (source api:<token>); a viewer may not post; every bad input, to the
// routes and to the commands, comes back with a clear message and a 4xx or a non-zero
// exit code; a query on a node with no management node in reach is a 503.
//
// ApiServer builds its route table from apiRoutes() alone until the agent wires the
// events routes in; this test adds them by replacing the server's router with one over
// both tables, which is exactly what that wiring will do.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DomainError } from '../src/core/util/domain-error.js';
import { ApiRouter } from '../src/ops/api/api-router.js';
import { type ApiRoute } from '../src/surface/api/api-route.js';
import { apiRoutes } from '../src/ops/api/api-routes.js';
import { ApiServer } from '../src/ops/api/api-server.js';
import type { EventsPage } from '../src/farm/events/events-backend.js';
import { eventsRoutes } from '../src/farm/events/events-routes.js';
import { TokenStore } from '../src/ops/api/token-store.js';
import { registerEventsCommands } from '../src/farm/events/events-commands.js';
import { componentEventsBackend } from '../src/farm/events/events-api-backend.js';
import { kEventsComponent } from '../src/farm/events/events-component.js';
import { connectComponentRpc } from '../src/farm/components/host/component-rpc-bridge.js';
import { MemoryFarm } from './api-memory-farm.js';
import { closeHosts, testHost } from './support/components.js';
import { RpcFarm } from './support/rpc-farm.js';

const kSelf = '00000000000000aa';
const dir = mkdtempSync(join(tmpdir(), 'galaxy-events-api-'));
let api: ApiServer;
let operator: string;
let viewer: string;

beforeAll(async () => {
  const farm = new RpcFarm();
  farm.members = [{ id: kSelf, address: '127.0.0.1:7946', status: 'alive', tags: { roles: 'management' } }];
  farm.landscapes.set('rack12', [kSelf]);
  const t = testHost({ nodeId: kSelf });
  connectComponentRpc(t.host, farm.port(kSelf));
  t.host.add({ ...kEventsComponent, config: { management: true, retry: { initialMs: 50, maxMs: 300 }, membersRefreshMs: 200 } });
  expect((await t.host.start('events')).state).toBe('running');

  const tokens = TokenStore.open(join(dir, 'tokens.json'));
  operator = tokens.create('ops', 'operator').token;
  viewer = tokens.create('dashboard', 'viewer').token;
  const backend = new MemoryFarm();
  api = await ApiServer.start({ backend, tokens, bind: '127.0.0.1:0' });
  const routes: ApiRoute[] = [...apiRoutes({ backend, tokens, counters: api.counters }), ...eventsRoutes(componentEventsBackend(t.host, { nodeId: kSelf }))];
  (api as unknown as { router: ApiRouter<ApiRoute> }).router = new ApiRouter(routes);
});

afterAll(async () => {
  await api.close();
  await closeHosts();
  rmSync(dir, { recursive: true, force: true });
});

async function http(method: string, path: string, token: string | null, body?: unknown): Promise<{ status: number; json: { error?: { code: string; message: string } } & Record<string, unknown> }> {
  const headers: Record<string, string> = token === null ? {} : { Authorization: `Bearer ${token}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(api.url + path, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  return { status: response.status, json: (await response.json()) as { error?: { code: string; message: string } } };
}

/** Runs `galaxy ...args` against the API; returns what it printed, what it complained and its exit code. */
async function cli(token: string, ...args: string[]): Promise<{ out: string[]; err: string; exitCode: number }> {
  const out: string[] = [];
  const errors: string[] = [];
  const spy = vi.spyOn(console, 'error').mockImplementation((...parts: unknown[]) => void errors.push(parts.join(' ')));
  const program = new Command().exitOverride();
  registerEventsCommands(program, (line) => out.push(line));
  process.exitCode = 0;
  try {
    await program.parseAsync(['node', 'galaxy', ...args, '--api', api.url, '--token', token]);
    return { out, err: errors.join('\n'), exitCode: Number(process.exitCode ?? 0) };
  } finally {
    spy.mockRestore();
    process.exitCode = 0;
  }
}

async function until(what: string, condition: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('events API and CLI', () => {
  it('lets an operator post and a viewer query, but not post', async () => {
    const posted = await cli(operator, 'event', 'post', 'disk.full', '--severity', 'error', '--body', '{"mount": "/data"}');
    expect(posted.exitCode).toBe(0);
    expect(posted.out[0]).toMatch(/^[0-9a-f]{32}$/);
    const id = posted.out[0]!;

    const refused = await cli(viewer, 'event', 'post', 'disk.full');
    expect(refused.exitCode).toBe(2);
    expect(refused.err).toMatch(/^galaxy: .*operator/);
    expect((await http('POST', '/v1/events', viewer, { type: 'x' })).json.error?.code).toBe('GALAXY_API_FORBIDDEN');

    await until('the event is stored', async () => ((await http('GET', '/v1/events/query?type=disk.*', viewer)).json['events'] as unknown[]).length === 1);
    const listed = await cli(viewer, 'events', '--type', 'disk.full', '--since', '10m', '--node', kSelf, '--landscape', 'rack12', '--limit', '5', '--json');
    const page = JSON.parse(listed.out.join('\n')) as EventsPage;
    expect(page).toEqual({ events: [expect.objectContaining({ id, node: kSelf, source: 'api:ops', type: 'disk.full', severity: 'error', body: { mount: '/data' } })], truncated: false });

    const table = await cli(viewer, 'events', '--since', new Date(Date.now() - 60_000).toISOString());
    expect(table.out[0]).toMatch(/^TIME\s+NODE\s+SEVERITY\s+TYPE\s+SOURCE\s+BODY$/);
    expect(table.out[1]).toContain('disk.full');
    expect(table.out[1]).toContain('{"mount":"/data"}');
    expect((await cli(viewer, 'events', '--type', 'nothing.here')).out).toEqual(['(none)']);
  });

  it('refuses bad input to every route and command with a clear error', async () => {
    const bad = async (path: string, field: string) => {
      const answer = await http('GET', `/v1/events/query?${path}`, viewer);
      expect(answer.status).toBe(400);
      expect(answer.json.error?.code).toBe('GALAXY_API_INVALID');
      expect(answer.json.error?.message).toContain(field);
    };
    await bad('since=yesterday', 'query.since: a time is ISO 8601');
    await bad('until=10 minutes', 'query.until');
    await bad('limit=0', 'query.limit');
    await bad('limit=20000', 'query.limit');
    await bad('limit=many', 'query.limit');
    await bad('node=xyz', 'query.node: a node id is 16 lowercase hex digits');
    await bad('type=Disk%20Full', 'query.type');
    await bad('landscape=..%2Fetc', 'query.landscape');
    await bad('colour=red', 'colour');
    const unresolvable = await http('GET', '/v1/events/query?landscape=nowhere', viewer);
    expect(unresolvable.status).toBe(400);
    expect(unresolvable.json.error).toMatchObject({ code: 'GALAXY_EVENTS_RESOLVE_FAILED', message: expect.stringContaining('nowhere') });
    expect((await http('GET', '/v1/events/query?since=2025-02-01T00:00:00Z&until=2025-01-01T00:00:00Z', viewer)).json.error).toMatchObject({ code: 'GALAXY_EVENTS_BAD_REQUEST', message: expect.stringContaining('since is after until') });
    expect((await http('GET', '/v1/events/query', null)).status).toBe(401);

    const badPost = async (body: unknown, field: string) => {
      const answer = await http('POST', '/v1/events', operator, body);
      expect(answer.status).toBe(400);
      expect(answer.json.error?.message).toContain(field);
    };
    await badPost({ type: 'Disk Full' }, 'body.type');
    await badPost({ type: 'disk.full', severity: 'fatal' }, 'body.severity');
    await badPost({ type: 'disk.full', body: [1, 2] }, 'body.body');
    await badPost({ type: 'disk.full', body: { text: 'x'.repeat(9000) } }, 'body.body: an event body is at most 8192 characters of JSON');
    await badPost({ type: 'disk.full', node: kSelf }, 'node');
    await badPost({}, 'body.type');

    const command = async (args: string[], message: string | RegExp, exitCode: number) => {
      const run = await cli(operator, ...args);
      expect(run.exitCode).toBe(exitCode);
      expect(run.err).toMatch(message);
      expect(run.out).toEqual([]);
    };
    await command(['event', 'post', 'disk.full', '--body', 'not json'], /^galaxy: --body must be a JSON object/, 1);
    await command(['event', 'post', 'disk.full', '--body', '[1]'], /^galaxy: --body must be a JSON object/, 1);
    await command(['event', 'post', 'disk.full', '--severity', 'fatal'], /^galaxy: --severity must be one of info, warning, error, critical/, 1);
    await command(['event', 'post', 'Disk Full'], /^galaxy: body\.type: an event type is 1 to 64/, 2);
    await command(['events', '--limit', 'many'], /^galaxy: --limit must be an integer from 1 to 10000/, 1);
    await command(['events', '--since', 'yesterday'], /^galaxy: query\.since: a time is ISO 8601/, 2);
    await command(['events', '--node', 'xyz'], /^galaxy: query\.node/, 2);
  });

  it('answers 503 when no management node is in reach', async () => {
    const farm = new RpcFarm();
    const lonely = '00000000000000cc';
    farm.members = [{ id: lonely, address: '127.0.0.1:7947', status: 'alive', tags: { roles: 'worker' } }];
    const t = testHost({ nodeId: lonely });
    connectComponentRpc(t.host, farm.port(lonely));
    t.host.add({ ...kEventsComponent, config: { membersRefreshMs: 200 } });
    await t.host.start('events');
    const route = eventsRoutes(componentEventsBackend(t.host, { nodeId: lonely })).find((r) => r.pattern === '/v1/events/query')!;
    const answer = route.handle({ params: {}, query: {}, body: undefined, caller: { name: 'dashboard', role: 'viewer' } });
    await expect(answer).rejects.toBeInstanceOf(DomainError);
    await expect(answer).rejects.toMatchObject({ kind: 'unavailable', code: 'GALAXY_EVENTS_NO_MANAGEMENT' });
    // Posting still works: the event waits in the outbox for a management node.
    const post = eventsRoutes(componentEventsBackend(t.host, { nodeId: lonely })).find((r) => r.method === 'POST')!;
    expect(await post.handle({ params: {}, query: {}, body: { type: 'deploy.done' }, caller: { name: 'ops', role: 'operator' } })).toMatchObject({ status: 201 });
    expect(await t.host.query('events')).toMatchObject({ outbox: { events: 1 } });
    expect(readFileSync(join(t.host.settings.stateRoot, 'events', 'outbox.sqlite')).length).toBeGreaterThan(0);
  });
});
