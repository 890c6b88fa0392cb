// Proves the wiring of the farm components in one process, without component processes:
//  - EventForwarder: events wait (bounded) while the event service is not running and
//    go when it runs again; a malformed event is dropped alone, a refused batch is not
//    retried, a transient failure is; values samples arriving during a call are merged
//    into the next one.
//  - FarmComponents on a real FarmService (--insecure, one node) and ComponentHost: the
//    events, jobs and scripts components are added with their configuration from the
//    data directory, `management` from the node's role; the farm.* services a component
//    reaches through the RPC bridge (members, resolve with named nodes checked against
//    the live members, a landscape refused with GALAXY_LANDSCAPE_UNAVAILABLE, values,
//    publish onto the API stream), each refusal coded; an operator's configuration keeps
//    `management` and is written back to the file; the install API answers 503 until
//    the node is admitted; a corrupt configuration file stops the start with its name.
// The components themselves, in real agents, are proven by the *-e2e tests.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { silentAgentLogger } from '../src/node/util/agent-logger.js';
import type { ApiEvent } from '../src/core/util/api-event.js';
import type { ApiRoute } from '../src/surface/api/api-route.js';
import type { ComponentRpcOutcome } from '../src/farm/components/host/component-host.js';
import { EventForwarder, kPendingEventsMax } from '../src/farm/events/event-forwarder.js';
import { FarmComponents, FarmComponentsError, kFarmComponentKinds, loadFarmComponentRoutes } from '../src/ops/agent/farm-components.js';

/** A resolver with no landscapes: landscape and statement targets are refused (named nodes still work). */
function landscapesUnavailable(): never {
  throw new FarmComponentsError('GALAXY_LANDSCAPE_UNAVAILABLE', 'landscapes are not available on this node: name the nodes instead');
}
import { FarmService } from '../src/farm/service/farm-service.js';
import { closeHosts, testHost } from './support/components.js';

const root = mkdtempSync(join(tmpdir(), 'galaxy-farm-components-'));
const services: FarmService[] = [];
afterAll(async () => {
  await closeHosts();
  await Promise.all(services.map((s) => s.close()));
});

const coded = (code: string, message = code) => Object.assign(new Error(message), { code });
const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('EventForwarder', () => {
  it('keeps events while the event service is down, sends them when it runs, and drops only what can never be taken', async () => {
    const calls: Array<{ service: string; body: { events?: Array<{ type: string }>; values?: Record<string, unknown> } }> = [];
    let answer: () => Promise<unknown> = () => Promise.reject(coded('GALAXY_RPC_NOT_RUNNING'));
    const forwarder = new EventForwarder((service, body) => {
      calls.push({ service, body: body as (typeof calls)[number]['body'] });
      return answer();
    }, silentAgentLogger());
    forwarder.post({ type: 'component.crashed', severity: 'warning', body: { name: 'jobs' } });
    forwarder.post({ type: 'Not A Type' });
    await flush();
    expect(forwarder.counters).toMatchObject({ posted: 0, dropped: 1, postFailures: 1 });
    expect(forwarder.pendingEvents).toBe(1);
    // Back: everything waiting goes in one call.
    answer = () => Promise.resolve({ ids: [] });
    forwarder.post({ type: 'scripts.started' });
    forwarder.resume();
    await flush();
    await flush();
    expect(forwarder.pendingEvents).toBe(0);
    expect(forwarder.counters.posted).toBe(2);
    expect(calls.at(-1)!.body.events!.map((e) => e.type)).toEqual(['component.crashed', 'scripts.started']);
    // A batch the service refuses for what it is is dropped, not retried forever.
    answer = () => Promise.reject(coded('GALAXY_EVENTS_BAD_REQUEST', 'bad events.post'));
    forwarder.post({ type: 'x.y' });
    await flush();
    await flush();
    expect(forwarder.pendingEvents).toBe(0);
    expect(forwarder.counters.dropped).toBe(2);
    // Bounded while the service stays away.
    answer = () => Promise.reject(coded('GALAXY_RPC_NOT_RUNNING'));
    for (let i = 0; i < kPendingEventsMax + 5; i++) forwarder.post({ type: 'flood.event' });
    expect(forwarder.pendingEvents).toBe(kPendingEventsMax);
    expect(forwarder.counters.dropped).toBe(7);
    forwarder.close();
  });

  it('merges values samples that arrive while one is being forwarded', async () => {
    const sent: Array<Record<string, unknown>> = [];
    let release: () => void = () => {};
    const forwarder = new EventForwarder((_service, body) => {
      sent.push((body as { values: Record<string, unknown> }).values);
      return new Promise((resolve) => (release = () => resolve({ fired: 0 })));
    }, silentAgentLogger());
    forwarder.values({ load1: 1 });
    forwarder.values({ load1: 2, memFreeBytes: 10 });
    forwarder.values({ load1: 3 });
    expect(sent).toEqual([{ load1: 1 }]);
    release();
    await flush();
    expect(sent).toEqual([{ load1: 1 }, { load1: 3, memFreeBytes: 10 }]);
    release();
    await flush();
    expect(forwarder.counters.valuesForwarded).toBe(2);
    forwarder.close();
  });
});

async function farmNode(name: string, roles: string[], file?: string): Promise<{ service: FarmService; dataDir: string }> {
  const dataDir = join(root, name);
  const service = await FarmService.start({ agent: { bind: '127.0.0.1:0', preset: 'local' }, dataDir, mode: 'insecure', roles });
  services.push(service);
  if (file !== undefined) writeFileSync(join(dataDir, 'farm-components.json'), file);
  return { service, dataDir };
}

/** Calls a farm service the way a component does: an rpc-call through the host, answered by the bridge. */
function componentCall(host: ReturnType<typeof testHost>['host'], node: string, service: string, body: unknown): Promise<ComponentRpcOutcome> {
  return new Promise((resolve) => host.emit('rpc-call', 'test', { node, service, body, timeoutMs: 2000 }, resolve));
}

function routeOf(routes: readonly ApiRoute[], method: string, pattern: string): ApiRoute {
  const found = routes.find((r) => r.method === method && r.pattern === pattern);
  if (found === undefined) throw new Error(`no route ${method} ${pattern}`);
  return found;
}

describe('FarmComponents', () => {
  it('adds the components with their configuration and serves the farm services to them', async () => {
    const { service, dataDir } = await farmNode('manager', ['management'], JSON.stringify({ events: { thresholds: [{ key: 'load1', op: '>', value: 4, type: 'load.high' }], management: false }, jobs: { killGraceMs: 500 } }));
    const self = service.host.id;
    const t = testHost({ nodeId: self });
    const published: ApiEvent[] = [];
    const components = new FarmComponents({ service, host: t.host, dataDir, logger: silentAgentLogger(), publish: (event) => published.push(event), values: (node) => [{ node: node ?? self, values: { load1: 0.5 }, updatedAt: null }], resolve: landscapesUnavailable });
    expect(kFarmComponentKinds).toEqual(['events', 'jobs', 'scripts']);
    const configs = Object.fromEntries(t.host.status().map((s) => [s.name, [s.state, s.config]]));
    // The role decides `management`, whatever the file says.
    expect(configs).toEqual({
      events: ['stopped', { thresholds: [{ key: 'load1', op: '>', value: 4, type: 'load.high' }], management: true }],
      jobs: ['stopped', { killGraceMs: 500 }],
      scripts: ['stopped', {}],
    });

    const members = await componentCall(t.host, self, 'farm.members', {});
    expect(members).toMatchObject({ ok: true, body: [{ id: self, status: 'alive', self: true, tags: { roles: 'management' } }] });
    expect(await componentCall(t.host, self, 'farm.resolve', { nodes: [self] })).toEqual({ ok: true, body: [self] });
    expect(await componentCall(t.host, self, 'farm.resolve', { nodes: [self, 'feedfeedfeedfeed'] })).toMatchObject({ ok: false, code: 'GALAXY_FARM_UNKNOWN_NODE', message: 'node feedfeedfeedfeed is not an alive member of the farm' });
    expect(await componentCall(t.host, self, 'farm.resolve', { landscape: 'web' })).toMatchObject({ ok: false, code: 'GALAXY_LANDSCAPE_UNAVAILABLE', message: expect.stringMatching(/landscapes are not available on this node/) });
    expect(await componentCall(t.host, self, 'farm.resolve', { everything: true })).toMatchObject({ ok: false, code: 'GALAXY_FARM_BAD_REQUEST' });
    expect(await componentCall(t.host, self, 'farm.values', {})).toEqual({ ok: true, body: [{ node: self, values: { load1: 0.5 }, updatedAt: null }] });
    const stored = { id: 'a'.repeat(32), node: self, source: 'api:ops', type: 'disk.full', severity: 'warning', time: '2025-01-01T00:00:00.000Z', body: {} };
    expect(await componentCall(t.host, self, 'farm.publish', { events: [stored] })).toEqual({ ok: true, body: { published: 1 } });
    expect(published).toEqual([{ kind: 'event', type: 'disk.full', time: stored.time, body: stored }]);
    expect(await componentCall(t.host, self, 'farm.nothing', {})).toMatchObject({ ok: false, code: 'GALAXY_RPC_UNKNOWN_SERVICE' });
    // A service no running component serves on this node, and a node that is not a member.
    expect(await componentCall(t.host, self, 'jobs.list', {})).toMatchObject({ ok: false, code: 'GALAXY_RPC_UNKNOWN_SERVICE' });
    expect(await componentCall(t.host, 'feedfeedfeedfeed', 'jobs.list', {})).toMatchObject({ ok: false, code: 'GALAXY_FARM_UNKNOWN_NODE' });

    // An operator's configuration: `management` follows the role, and the result is kept in the file.
    expect(components.configuration('jobs', { probeIntervalMs: 1000 })).toEqual({ probeIntervalMs: 1000 });
    expect(() => components.configuration('events', { management: false })).toThrow(/events\.management follows the node's management role, which this node has/);
    const config = components.configuration('events', { correlations: [] });
    expect(config).toEqual({ correlations: [], management: true });
    await t.host.configure('events', config);
    expect(JSON.parse(readFileSync(join(dataDir, 'farm-components.json'), 'utf8'))).toEqual({ events: { correlations: [] }, jobs: { killGraceMs: 500 } });

    // Installation waits for admission (start()), with a clear answer meanwhile.
    const routes = components.routes(await loadFarmComponentRoutes());
    expect(routes.map((r) => `${r.method} ${r.pattern}`)).toEqual(expect.arrayContaining(['POST /v1/events', 'GET /v1/events/query', 'POST /v1/jobs', 'POST /v1/scripts', 'POST /v1/components/install', 'GET /v1/packages']));
    await expect(routeOf(routes, 'GET', '/v1/packages').handle({ params: {}, query: {}, body: undefined, caller: { name: 'ops', role: 'admin' } })).rejects.toMatchObject({ kind: 'unavailable', code: 'GALAXY_INSTALL_BUSY', message: expect.stringMatching(/not admitted to the farm yet/) });
    expect(components.metrics().map((f) => f.name)).toEqual(expect.arrayContaining(['galaxy_farm_rpc_total', 'galaxy_component_services_refused_total', 'galaxy_events_forwarded_total']));
    await components.close();
    await expect(routeOf(routes, 'GET', '/v1/packages').handle({ params: {}, query: {}, body: undefined, caller: { name: 'ops', role: 'admin' } })).rejects.toMatchObject({ kind: 'unavailable', code: 'GALAXY_INSTALL_CLOSED' });
    // Disconnected: nothing listens for the components' calls any more (the host answers them GALAXY_RPC_UNAVAILABLE).
    expect(t.host.listenerCount('rpc-call')).toBe(0);
    expect(t.host.listenerCount('services')).toBe(0);
  });

  it('refuses to start on a corrupt or misspelt configuration file, naming it', async () => {
    for (const [name, text, why] of [
      ['corrupt', '{ "events": ', /not JSON/],
      ['misspelt', JSON.stringify({ event: {} }), /Unrecognized key\(s\) in object: 'event'/],
    ] as const) {
      const { service, dataDir } = await farmNode(name, [], text);
      const t = testHost({ nodeId: service.host.id });
      expect(() => new FarmComponents({ service, host: t.host, dataDir, logger: silentAgentLogger(), publish: () => {}, values: () => [], resolve: landscapesUnavailable })).toThrow(
        expect.objectContaining({ message: expect.stringMatching(new RegExp(`${join(dataDir, 'farm-components.json').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}.*${why.source}`)) }),
      );
      expect(t.host.status()).toEqual([]);
    }
  });
});
