// Proves the event service as real components (the compiled events-component.js, one
// child process per node) on two component hosts standing for two nodes: A, a
// management node, and B. Their farm RPC goes through connectComponentRpc and an
// in-process farm (support/rpc-farm.ts) that also answers farm.members, farm.resolve
// and farm.publish. Shown: a threshold rule on forwarded values fires once per crossing
// and a log line matching a pattern (across a rotation) becomes an event, both stored
// on A and handed to its stream; events posted while A's component is stopped, and while
// it is SIGKILLed in the middle of deliveries, all reach the store exactly once; lost
// acknowledgements (the batch stored, the answer dropped) and a batch sent twice store
// nothing twice; a correlation rule over a landscape raises exactly one warning for a
// burst; a node's query is answered by the management node; and bad input to every
// service and to the configuration comes back with a coded error naming the problem.
// Needs the compiled component: run `npx tsc -p tsconfig.json` before vitest.
import { appendFileSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { EventsPage } from '../src/farm/events/event-filter.js';
import { kEventsComponent } from '../src/farm/events/events-component.js';
import { makeEvent, type FarmEvent } from '../src/farm/events/farm-event.js';
import { connectComponentRpc } from '../src/farm/components/host/component-rpc-bridge.js';
import { closeHosts, testHost, waitFor, type TestHost } from './support/components.js';
import { RpcFarm } from './support/rpc-farm.js';

const kA = '00000000000000aa';
const kB = '00000000000000bb';
const kRack = ['0000000000000001', '0000000000000002', '0000000000000003'];
/** Fast retries and membership refreshes, so a test sees recovery in well under a second. */
const kQuick = { retry: { initialMs: 50, maxMs: 300 }, membersRefreshMs: 200, callTimeoutMs: 1000 };

const logs = mkdtempSync(join(tmpdir(), 'galaxy-events-logs-'));
afterAll(() => rmSync(logs, { recursive: true, force: true }));
afterEach(async () => {
  await closeHosts();
});

interface Farm {
  readonly farm: RpcFarm;
  readonly a: TestHost;
  readonly b: TestHost;
}

async function farmOfTwo(configA: Record<string, unknown> = {}, configB: Record<string, unknown> = {}): Promise<Farm> {
  const farm = new RpcFarm();
  farm.members = [
    { id: kA, address: '10.0.0.1:7946', status: 'alive', tags: { roles: 'controller,management' } },
    { id: kB, address: '10.0.0.2:7946', status: 'alive', tags: { roles: 'worker' } },
  ];
  const node = async (nodeId: string, config: Record<string, unknown>): Promise<TestHost> => {
    const t = testHost({ nodeId });
    connectComponentRpc(t.host, farm.port(nodeId));
    t.host.add({ ...kEventsComponent, config });
    expect((await t.host.start('events')).state).toBe('running');
    return t;
  };
  const [a, b] = await Promise.all([node(kA, { management: true, ...kQuick, ...configA }), node(kB, { ...kQuick, ...configB })]);
  return { farm, a, b };
}

function query(t: TestHost, filter: Record<string, unknown> = {}): Promise<EventsPage> {
  return t.host.request('events', 'events.query', t.host.settings.nodeId, { limit: 10_000, ...filter }) as Promise<EventsPage>;
}

function post(t: TestHost, events: Array<Record<string, unknown>>): Promise<{ ids: string[] }> {
  return t.host.request('events', 'events.post', t.host.settings.nodeId, { events }) as Promise<{ ids: string[] }>;
}

async function storedCount(t: TestHost, filter: Record<string, unknown> = {}): Promise<number> {
  try {
    return (await query(t, filter)).events.length;
  } catch {
    return -1; // restarting
  }
}

async function until(what: string, condition: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('event service components', () => {
  it('raise threshold and log events once, store them on the management node and stream them', async () => {
    const logPath = join(logs, 'app.log');
    writeFileSync(logPath, 'ERROR before the service started: not reported\n');
    const { farm, a, b } = await farmOfTwo(
      {},
      { thresholds: [{ key: 'load1', op: '>', value: 4, type: 'load.high', severity: 'warning' }], logs: [{ path: logPath, pattern: 'ERROR|FATAL', type: 'app.error', severity: 'error' }], logPollMs: 50 },
    );
    const fired: number[] = [];
    for (const load1 of [5, 6, 7, 1, 6]) fired.push(((await b.host.request('events', 'events.values', kB, { values: { load1, memTotalBytes: 1 } })) as { fired: number }).fired);
    expect(fired).toEqual([1, 0, 0, 0, 1]);

    await new Promise((resolve) => setTimeout(resolve, 150)); // the follower has taken the file's end
    appendFileSync(logPath, 'INFO fine\nERROR disk on fire\n');
    await until('the first log event is stored', async () => (await storedCount(a, { type: 'app.error' })) === 1);
    renameSync(logPath, `${logPath}.1`);
    writeFileSync(logPath, 'FATAL after rotation\nINFO fine\n');

    await until('everything is stored', async () => (await storedCount(a, { node: kB })) === 4);
    const stored = (await query(a, { node: kB })).events;
    expect(stored.map((e) => `${e.type}:${e.source}`)).toEqual(['load.high:threshold', 'load.high:threshold', 'app.error:log', 'app.error:log']);
    expect(stored[2]!.body).toEqual({ path: logPath, line: 'ERROR disk on fire' });
    expect(stored[3]!.body).toEqual({ path: logPath, line: 'FATAL after rotation' });
    expect(stored[0]!.body).toMatchObject({ key: 'load1', op: '>', threshold: 4, value: 5 });
    // Handed to the agent's stream on the management node.
    await waitFor('streamed', () => (farm.published.get(kA) ?? []).length === 4);
    expect((farm.published.get(kA) as FarmEvent[]).map((e) => e.id).sort()).toEqual(stored.map((e) => e.id).sort());
    // A node without the store answers a query through the management node.
    expect((await query(b, { type: 'load.*' })).events).toHaveLength(2);
    expect(await b.host.query('events')).toMatchObject({ management: false, outbox: { events: 0, dropped: 0 }, destinations: [{ node: kA, reachable: true, pending: 0 }] });
  });

  it('loses nothing and stores nothing twice across a stopped, a killed and a forgetful management node', async () => {
    const { farm, a, b } = await farmOfTwo();
    const posted: string[] = [];
    const postBatch = async (n: number, tag: string) => posted.push(...(await post(b, Array.from({ length: n }, (_, i) => ({ type: 'test.tick', body: { tag, i } })))).ids);

    await postBatch(20, 'first');
    await until('the first events are stored', async () => (await storedCount(a)) === 20);

    // The management node stopped: events wait in B's outbox, nothing is lost.
    await a.host.stop('events');
    for (let i = 0; i < 5; i++) await postBatch(10, `while-stopped-${i}`);
    expect(((await b.host.query('events')) as { outbox: { events: number } }).outbox.events).toBe(50);
    await a.host.start('events');
    await until('the waiting events are stored', async () => (await storedCount(a)) === 70);

    // Killed in the middle of deliveries: the host restarts it; every batch is retried until acknowledged.
    const poster = (async () => {
      for (let i = 0; i < 25; i++) {
        await postBatch(8, `during-kill-${i}`);
        await new Promise((resolve) => setTimeout(resolve, 15));
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 120));
    process.kill(a.host.status()[0]!.pid!, 'SIGKILL');
    await poster;
    await until('every event is stored after the restart', async () => (await storedCount(a)) === posted.length);
    expect(a.lifecycle.filter((e) => e.type === 'crashed')).toHaveLength(1);

    // Acknowledgements lost after the store committed: the sender retries, the store keeps one copy.
    farm.loseAnswers.set('events.store', 3);
    await postBatch(30, 'lost-acks');
    await until('the lost acknowledgements were retried', async () => farm.loseAnswers.get('events.store') === 0 && (await storedCount(a)) === posted.length);
    await until('B has nothing left to send', async () => ((await b.host.query('events')) as { outbox: { events: number } }).outbox.events === 0);

    const stored = (await query(a)).events;
    expect(stored).toHaveLength(posted.length);
    expect(new Set(stored.map((e) => e.id))).toEqual(new Set(posted));
    const status = (await a.host.query('events')) as { counters: { duplicates: number } };
    expect(status.counters.duplicates).toBeGreaterThan(0);

    // The same batch delivered twice by hand: stored once.
    const batch = [makeEvent({ node: kB, source: 'test', type: 'test.twice', severity: 'info', body: {} }, Date.now())];
    expect(await a.host.request('events', 'events.store', kB, { events: batch })).toEqual({ stored: 1, duplicates: 0, expired: 0, refused: 0 });
    expect(await a.host.request('events', 'events.store', kB, { events: batch })).toEqual({ stored: 0, duplicates: 1, expired: 0, refused: 0 });
    expect(await storedCount(a, { type: 'test.twice' })).toBe(1);
  });

  it('raises one correlated warning for a burst on the nodes of a landscape', async () => {
    const { farm, a } = await farmOfTwo({ correlations: [{ type: 'disk.full', landscape: 'rack12', count: 3, windowMs: 600_000, raise: { type: 'disk.full.correlated', severity: 'critical' } }] });
    farm.landscapes.set('rack12', kRack);
    const deliver = (node: string, atMs: number) => a.host.request('events', 'events.store', node, { events: [makeEvent({ node, source: 'threshold', type: 'disk.full', severity: 'error', body: {} }, atMs)] });
    const nowMs = Date.now();
    await deliver(kRack[0]!, nowMs - 3000);
    await deliver(kB, nowMs - 2500); // not on the rack
    await deliver(kRack[1]!, nowMs - 2000);
    expect(await storedCount(a, { type: 'disk.full.correlated' })).toBe(0);
    await deliver(kRack[2]!, nowMs - 1000);
    await deliver(kRack[0]!, nowMs - 500);
    await deliver(kRack[1]!, nowMs);
    const raised = (await query(a, { type: 'disk.full.correlated' })).events;
    expect(raised).toHaveLength(1);
    expect(raised[0]).toMatchObject({ node: kA, source: 'correlation', severity: 'critical', body: { rule: 'disk.full@rack12', count: 3, landscape: 'rack12' } });
    // Queried by landscape: the rack's events only.
    expect((await query(a, { landscape: 'rack12', type: 'disk.full' })).events).toHaveLength(5);
    await expect(query(a, { landscape: 'nowhere' })).rejects.toMatchObject({ code: 'GALAXY_EVENTS_RESOLVE_FAILED' });
  });

  it('refuses bad input to every service and to its configuration with coded errors', async () => {
    const { a, b } = await farmOfTwo();
    const refusal = (promise: Promise<unknown>) => expect(promise).rejects;
    await refusal(post(b, [{ type: 'Not A Type' }])).toMatchObject({ code: 'GALAXY_EVENTS_BAD_REQUEST', message: expect.stringContaining('events.0.type') });
    await refusal(post(b, [{ type: 'x', severity: 'fatal' }])).toMatchObject({ code: 'GALAXY_EVENTS_BAD_REQUEST', message: expect.stringContaining('severity') });
    await refusal(post(b, [{ type: 'x', body: { big: 'y'.repeat(9000) } }])).toMatchObject({ code: 'GALAXY_EVENTS_BAD_REQUEST', message: expect.stringContaining('8192') });
    await refusal(post(b, [])).toMatchObject({ code: 'GALAXY_EVENTS_BAD_REQUEST' });
    await refusal(b.host.request('events', 'events.post', kA, { events: [{ type: 'x' }] })).toMatchObject({ code: 'GALAXY_EVENTS_LOCAL_ONLY' });
    await refusal(b.host.request('events', 'events.values', kB, { values: { 'bad key': 1 } })).toMatchObject({ code: 'GALAXY_EVENTS_BAD_REQUEST' });
    await refusal(b.host.request('events', 'events.values', kB, { load1: 1 })).toMatchObject({ code: 'GALAXY_EVENTS_BAD_REQUEST' });
    await refusal(b.host.request('events', 'events.store', kA, { events: [] })).toMatchObject({ code: 'GALAXY_EVENTS_NOT_MANAGEMENT' });
    await refusal(a.host.request('events', 'events.store', kB, { events: 'none' })).toMatchObject({ code: 'GALAXY_EVENTS_BAD_REQUEST' });
    // An event claiming another node is refused, the rest taken.
    const mine = makeEvent({ node: kB, source: 'test', type: 'x', severity: 'info', body: {} }, Date.now());
    const forged = makeEvent({ node: kA, source: 'test', type: 'x', severity: 'info', body: {} }, Date.now());
    expect(await a.host.request('events', 'events.store', kB, { events: [mine, forged, { id: 'junk' }] })).toEqual({ stored: 1, duplicates: 0, expired: 0, refused: 2 });
    await refusal(query(a, { limit: 0 })).toMatchObject({ code: 'GALAXY_EVENTS_BAD_REQUEST', message: expect.stringContaining('limit') });
    await refusal(query(b, { since: 'yesterday' })).toMatchObject({ code: 'GALAXY_EVENTS_BAD_REQUEST', message: expect.stringContaining('since') });
    await refusal(a.host.configure('events', { thresholds: [{ key: 'load1', op: '>>', value: 1, type: 'x' }] })).toMatchObject({ code: 'GALAXY_COMPONENT_CONFIG_REJECTED', message: expect.stringContaining('thresholds.0.op') });
    expect(a.host.status()[0]!.state).toBe('running');
    expect(b.host.status()[0]!.state).toBe('running');
  });
});
