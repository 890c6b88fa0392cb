// Proves farm RPC between components. Two component hosts stand for two nodes; each is
// connected by connectComponentRpc to a farm stub that routes calls between them by node
// id (support/rpc-farm.ts; the real FarmRpc is proven in farm-rpc.test.ts), and each runs the rpc-peer
// fixture (test/fixtures/components/rpc-peer.mjs) in a real child process. A component
// on one node calls a service of the component on the other, in both directions; a
// call to its own node reaches the local component without the farm and the farm's own
// services through it; handler errors, unknown services, timeouts, oversized bodies
// (both ends) and calls to a stopped component come back with stable codes; services
// are announced on start and withdrawn on stop (and unregistered from the farm); a
// start handler may await a call; service handlers run concurrently; services under
// farm. and install. are never registered (refused at the host, and again at the
// bridge, counted), nor a name the farm refuses. The message
// checks, definition checks and the in-process runtime are tested without processes.
// Needs the compiled runner and SDK: run `npx tsc -p tsconfig.json` before vitest.
import { afterEach, describe, expect, it } from 'vitest';
import { ComponentHost } from '../src/farm/components/host/component-host.js';
import { checkComponentMessage, kRpcBodyJsonLengthMax } from '../src/farm/components/host/component-limits.js';
import type { ComponentToHost } from '../src/farm/components/host/component-protocol.js';
import { connectComponentRpc } from '../src/farm/components/host/component-rpc-bridge.js';
import { ComponentRuntime } from '../src/farm/components/host/component-runtime.js';
import { asComponentDefinition, defineComponent } from '../src/farm/components/sdk.js';
import { closeHosts, fixture, testHost, waitFor, type TestHost } from './support/components.js';
import { RpcFarm as FarmStub, type FarmMemberStub } from './support/rpc-farm.js';

afterEach(async () => {
  await closeHosts();
});

const kNodeA = '00000000000000aa';
const kNodeB = '00000000000000bb';
const kMembers: FarmMemberStub[] = [{ id: kNodeA, address: '10.0.0.1:7946', status: 'alive', tags: { roles: 'management' } }];

interface Node {
  readonly t: TestHost;
  readonly services: Array<[string, readonly string[]]>;
}

async function twoNodes(peerConfig: Record<string, unknown> = {}): Promise<{ a: Node; b: Node; farm: FarmStub }> {
  const farm = new FarmStub();
  farm.members = kMembers;
  const node = async (nodeId: string): Promise<Node> => {
    const t = testHost({ nodeId });
    const services: Node['services'] = [];
    t.host.on('services', (name, list) => services.push([name, list]));
    connectComponentRpc(t.host, farm.port(nodeId));
    t.host.add({ name: 'peer', kind: 'rpc-peer', module: fixture('rpc-peer'), config: peerConfig });
    expect((await t.host.start('peer')).state).toBe('running');
    return { t, services };
  };
  const [a, b] = await Promise.all([node(kNodeA), node(kNodeB)]);
  return { a, b, farm };
}

/** Makes the peer component on `host` call `service` on `node` and returns its outcome. */
function relay(host: ComponentHost, node: string, service: string, body: unknown, timeoutMs?: number, repeat?: number): Promise<unknown> {
  return host.request('peer', 'test.relay', host.settings.nodeId, { node, service, body, ...(timeoutMs === undefined ? {} : { timeoutMs }), ...(repeat === undefined ? {} : { repeat }) });
}

describe('component RPC across two hosts', () => {
  it('calls services on the other node both ways, on its own node without the farm, and the farm\'s own services', async () => {
    const { a, b, farm } = await twoNodes();
    const served = ['test.echo', 'test.fail', 'test.slow', 'test.big', 'test.stall', 'test.relay'];
    expect(a.services).toEqual([['peer', served]]);
    expect([...farm.handlers.get(kNodeB)!.keys()]).toEqual(served);

    expect(await relay(a.t.host, kNodeB, 'test.echo', { n: 1 })).toEqual({ ok: true, body: { echo: { n: 1 }, from: kNodeA, served: 'peer' } });
    expect(await relay(b.t.host, kNodeA, 'test.echo', { n: 2 })).toEqual({ ok: true, body: { echo: { n: 2 }, from: kNodeB, served: 'peer' } });
    expect(farm.calls.map((c) => `${c.from}>${c.node}:${c.service}`)).toEqual([`${kNodeA}>${kNodeB}:test.echo`, `${kNodeB}>${kNodeA}:test.echo`]);

    // Its own node: the local component answers, the farm never sees the call.
    expect(await relay(a.t.host, kNodeA, 'test.echo', { n: 3, when: '2025' })).toEqual({ ok: true, body: { echo: { n: 3, when: '2025' }, from: kNodeA, served: 'peer' } });
    expect(farm.calls).toHaveLength(2);
    // The farm's own services on this node go to the farm.
    expect(await relay(a.t.host, kNodeA, 'farm.members', {})).toEqual({ ok: true, body: kMembers });
    expect(farm.calls.at(-1)).toEqual({ from: kNodeA, node: kNodeA, service: 'farm.members' });
    // The host's caller is the other way in: the agent asking a local component.
    expect(await a.t.host.request('peer', 'test.echo', kNodeB, [1, 'two'])).toEqual({ echo: [1, 'two'], from: kNodeB, served: 'peer' });
    expect(a.t.host.counters()[0]!.rpc).toMatchObject({ calls: 3, requests: 6, refused: 0, timeouts: 0 });
  });

  it('returns errors, unknown services, timeouts and oversized bodies with stable codes', async () => {
    const { a } = await twoNodes();
    expect(await relay(a.t.host, kNodeB, 'test.fail', {})).toEqual({ ok: false, code: 'GALAXY_TEST_REFUSED', message: 'refused on purpose', name: 'ComponentRpcError' });
    expect(await relay(a.t.host, kNodeB, 'test.none', {})).toMatchObject({ ok: false, code: 'GALAXY_RPC_UNKNOWN_SERVICE' });
    expect(await relay(a.t.host, '00000000000000cc', 'test.echo', {})).toMatchObject({ ok: false, code: 'GALAXY_RPC_UNKNOWN_SERVICE' });
    expect(await relay(a.t.host, kNodeA, 'test.none', {})).toMatchObject({ ok: false, code: 'GALAXY_RPC_UNKNOWN_SERVICE' });

    const startedMs = Date.now();
    expect(await relay(a.t.host, kNodeB, 'test.stall', {}, 200)).toMatchObject({ ok: false, code: 'GALAXY_RPC_TIMEOUT' });
    expect(await relay(a.t.host, kNodeA, 'test.stall', {}, 200)).toMatchObject({ ok: false, code: 'GALAXY_RPC_TIMEOUT' });
    expect(Date.now() - startedMs).toBeLessThan(2000);

    // Too large to send (refused in the caller's process), and too large to answer (refused in the callee's).
    expect(await relay(a.t.host, kNodeB, 'test.echo', null, undefined, kRpcBodyJsonLengthMax)).toMatchObject({ ok: false, code: 'GALAXY_RPC_TOO_LARGE' });
    expect(await relay(a.t.host, kNodeB, 'test.big', { length: kRpcBodyJsonLengthMax })).toMatchObject({ ok: false, code: 'GALAXY_RPC_TOO_LARGE' });
    expect(await relay(a.t.host, kNodeB, 'test.big', { length: 1000 })).toEqual({ ok: true, body: 'x'.repeat(1000) });
    // And from the host's side.
    await expect(a.t.host.request('peer', 'test.echo', kNodeA, 'x'.repeat(kRpcBodyJsonLengthMax))).rejects.toMatchObject({ code: 'GALAXY_RPC_TOO_LARGE' });
    await expect(a.t.host.request('peer', 'test.big', kNodeA, { length: kRpcBodyJsonLengthMax })).rejects.toMatchObject({ code: 'GALAXY_RPC_TOO_LARGE' });
    await expect(a.t.host.request('peer', 'test.stall', kNodeA, {}, 100)).rejects.toMatchObject({ code: 'GALAXY_RPC_TIMEOUT' });
    await expect(a.t.host.request('peer', 'test.none', kNodeA, {})).rejects.toMatchObject({ code: 'GALAXY_RPC_UNKNOWN_SERVICE' });
    await expect(a.t.host.request('peer', 'test.echo', kNodeA, { f: () => 1 }.f)).rejects.toMatchObject({ code: 'GALAXY_RPC_BAD_REQUEST' });
    await expect(a.t.host.request('nobody', 'test.echo', kNodeA, {})).rejects.toMatchObject({ code: 'GALAXY_COMPONENT_UNKNOWN' });

    // Bad arguments to ctx.call.
    expect(await relay(a.t.host, 'not-a-node', 'test.echo', {})).toMatchObject({ ok: false, code: 'GALAXY_RPC_BAD_REQUEST' });
    expect(await relay(a.t.host, kNodeB, 'Bad Name', {})).toMatchObject({ ok: false, code: 'GALAXY_RPC_BAD_REQUEST' });
    expect(await relay(a.t.host, kNodeB, 'test.echo', {}, 0)).toMatchObject({ ok: false, code: 'GALAXY_RPC_BAD_REQUEST' });
    expect(a.t.host.status()[0]!.state).toBe('running');
  });

  it('withdraws the services of a stopped component and fails requests to it', async () => {
    const { a, b, farm } = await twoNodes();
    await b.t.host.stop('peer');
    expect(b.services.at(-1)).toEqual(['peer', []]);
    expect(farm.handlers.get(kNodeB)!.size).toBe(0);
    expect(await relay(a.t.host, kNodeB, 'test.echo', {})).toMatchObject({ ok: false, code: 'GALAXY_RPC_UNKNOWN_SERVICE' });
    await expect(b.t.host.request('peer', 'test.echo', kNodeA, {})).rejects.toMatchObject({ code: 'GALAXY_RPC_NOT_RUNNING' });

    // A request in flight when the component dies fails at once, not at its timeout.
    const inFlight = a.t.host.request('peer', 'test.stall', kNodeA, {}, 30_000);
    process.kill(a.t.host.status()[0]!.pid!, 'SIGKILL');
    await expect(inFlight).rejects.toMatchObject({ code: 'GALAXY_RPC_NOT_RUNNING' });
    expect(a.services.at(-1)).toEqual(['peer', []]);
    // Restarted by the host, it offers its services again.
    await waitFor('the restarted component announced its services', () => a.services.length === 3 && a.services[2]![1].length === 6);
    expect(await a.t.host.request('peer', 'test.echo', kNodeA, 1)).toMatchObject({ echo: 1 });
  });

  it('lets a start handler await a call, runs service handlers concurrently, and keeps one server per service', async () => {
    const farm = new FarmStub();
    farm.members = kMembers;
    const t = testHost({ nodeId: kNodeA });
    const disconnect = connectComponentRpc(t.host, farm.port(kNodeA));
    t.host.add({ name: 'peer', kind: 'rpc-peer', module: fixture('rpc-peer'), config: { callAtStart: { node: kNodeA, service: 'farm.members' } } });
    expect((await t.host.start('peer')).state).toBe('running');
    expect(t.values[0]!.values).toEqual({ startCallAnswer: JSON.stringify(kMembers).length });

    const startedMs = Date.now();
    await Promise.all([1, 2, 3, 4].map(() => t.host.request('peer', 'test.slow', kNodeA, { ms: 300 })));
    expect(Date.now() - startedMs).toBeLessThan(1000);
    expect(await t.host.query('peer')).toEqual({ runningMax: 4 });

    // A second component declaring the same services is ignored for them, and said so.
    t.host.add({ name: 'second', kind: 'rpc-peer', module: fixture('rpc-peer') });
    await t.host.start('second');
    expect(t.logs.filter((l) => l.message?.startsWith('component service ignored') === true)).toHaveLength(6);
    expect(disconnect.counters).toEqual({ servicesShadowed: 6, servicesRefused: 0, callsForbidden: 0 });
    expect(await relay(t.host, kNodeA, 'test.echo', {})).toMatchObject({ ok: true, body: { served: 'peer' } });

    disconnect();
    expect(farm.handlers.get(kNodeA)!.size).toBe(0);
    expect(await relay(t.host, kNodeA, 'test.echo', {})).toMatchObject({ ok: false, code: 'GALAXY_RPC_UNAVAILABLE' });
  });
});

describe('component RPC: agent-only services', () => {
  // jobs.events in the agent: a service a component serves for its agent alone. A local
  // component's call would carry this node's id, as the agent's does, so the bridge
  // refuses components' calls to it, here and on other nodes; the agent still reaches it.
  const agentOnlyNode = async (farm: FarmStub, nodeId: string, agentOnly: boolean) => {
    const t = testHost({ nodeId });
    const bridge = connectComponentRpc(t.host, farm.port(nodeId), agentOnly ? { agentOnlyServices: ['test.echo'] } : {});
    t.host.add({ name: 'peer', kind: 'rpc-peer', module: fixture('rpc-peer'), config: {} });
    expect((await t.host.start('peer')).state).toBe('running');
    return { t, bridge };
  };

  it('refuses a component calling one, on its own node or another, and counts it; the agent still calls it', async () => {
    const farm = new FarmStub();
    farm.members = kMembers;
    const a = await agentOnlyNode(farm, kNodeA, true);
    await agentOnlyNode(farm, kNodeB, false);
    expect(await relay(a.t.host, kNodeA, 'test.echo', { n: 1 })).toMatchObject({ ok: false, code: 'GALAXY_RPC_FORBIDDEN' });
    expect(await relay(a.t.host, kNodeB, 'test.echo', { n: 2 })).toMatchObject({ ok: false, code: 'GALAXY_RPC_FORBIDDEN' });
    expect(a.bridge.counters.callsForbidden).toBe(2);
    expect(await a.t.host.request('peer', 'test.echo', kNodeA, { n: 3 })).toEqual({ echo: { n: 3 }, from: kNodeA, served: 'peer' });
  });

  it('broken variant: without the list the local call passes as if the agent made it', async () => {
    const farm = new FarmStub();
    farm.members = kMembers;
    const a = await agentOnlyNode(farm, kNodeA, false);
    expect(await relay(a.t.host, kNodeA, 'test.echo', { n: 1 })).toEqual({ ok: true, body: { echo: { n: 1 }, from: kNodeA, served: 'peer' } });
  });
});

describe('component RPC: reserved services', () => {
  it('never registers a service under farm. or install.: the host refuses the declaration, the bridge checks again, and a name the farm refuses is counted', async () => {
    const farm = new FarmStub();
    const t = testHost({ nodeId: kNodeA });
    const port = farm.port(kNodeA);
    // The farm serves install.have itself; a second registration of a name it holds throws, as FarmRpc.handle does.
    port.handle('install.have', async () => ({ have: false }));
    const handle = port.handle;
    const guarded = { ...port, handle: (service: string, handler: Parameters<typeof handle>[1]) => {
      if (farm.handlers.get(kNodeA)!.has(service)) throw Object.assign(new Error(`service "${service}" is served on this node already`), { code: 'GALAXY_RPC_SERVICE_TAKEN' });
      handle(service, handler);
    } };
    const bridge = connectComponentRpc(t.host, guarded);

    // A component bypassing the SDK: the whole declaration is dropped at the host, counted and logged.
    t.host.add({ name: 'hijacker', kind: 'hijacker', module: fixture('hijacker') });
    expect((await t.host.start('hijacker')).state).toBe('running');
    await waitFor('the marker after the declaration', () => t.values.some((v) => v.values['marker'] === 1));
    expect(t.host.counters()[0]!.dropped.malformed).toBe(1);
    expect(t.logs.some((l) => l.message === 'message from component dropped' && String((l.fields as { detail?: unknown }).detail).includes('install.apply'))).toBe(true);
    expect([...farm.handlers.get(kNodeA)!.keys()]).toEqual(['install.have']);

    // Were a declaration to pass the host, the bridge would still refuse the reserved names and register the rest.
    t.host.emit('services', 'hijacker', ['farm.members', 'install.apply', 'install.have', 'hijack.ok']);
    expect([...farm.handlers.get(kNodeA)!.keys()]).toEqual(['install.have', 'hijack.ok']);
    expect(bridge.counters).toEqual({ servicesRefused: 3, servicesShadowed: 0, callsForbidden: 0 });
    expect(t.logs.filter((l) => l.message?.startsWith('component service refused') === true)).toHaveLength(3);
    // A name the farm itself refuses (taken) is counted too, not registered, and not remembered as the component's.
    farm.handlers.get(kNodeA)!.set('taken.svc', async () => 'farm');
    t.host.emit('services', 'hijacker', ['hijack.ok', 'taken.svc']);
    expect(bridge.counters.servicesRefused).toBe(4);
    bridge();
    expect([...farm.handlers.get(kNodeA)!.keys()]).toEqual(['install.have', 'taken.svc']);
  });
});

describe('component RPC parts', () => {
  it('checks RPC messages at the host', () => {
    expect(checkComponentMessage({ type: 'rpc-serve', services: ['events.store', 'events.query'] })).toMatchObject({ ok: true });
    expect(checkComponentMessage({ type: 'rpc-serve', services: ['farm.members'] })).toMatchObject({ ok: false, reason: 'malformed' });
    expect(checkComponentMessage({ type: 'rpc-serve', services: ['install.apply'] })).toMatchObject({ ok: false, reason: 'malformed' });
    expect(checkComponentMessage({ type: 'rpc-serve', services: ['a', 'a'] })).toMatchObject({ ok: false, reason: 'malformed' });
    expect(checkComponentMessage({ type: 'rpc-serve', services: Array.from({ length: 33 }, (_, i) => `s${i}`) })).toMatchObject({ ok: false, reason: 'oversized' });
    const call = { type: 'rpc-call', callId: 1, node: kNodeB, service: 'test.echo', body: { a: 1 }, timeoutMs: 1000 };
    expect(checkComponentMessage(call)).toMatchObject({ ok: true });
    expect(checkComponentMessage({ ...call, node: 'B' })).toMatchObject({ ok: false, reason: 'malformed' });
    expect(checkComponentMessage({ ...call, timeoutMs: 0 })).toMatchObject({ ok: false, reason: 'malformed' });
    expect(checkComponentMessage({ ...call, body: undefined })).toMatchObject({ ok: false, reason: 'malformed' });
    expect(checkComponentMessage({ ...call, body: 'x'.repeat(kRpcBodyJsonLengthMax) })).toMatchObject({ ok: false, reason: 'oversized' });
    expect(checkComponentMessage({ type: 'rpc-answer', requestId: 1, ok: true, body: [1] })).toMatchObject({ ok: true });
    expect(checkComponentMessage({ type: 'rpc-answer', requestId: 1, ok: false, error: { code: 'GALAXY_X', message: 'no' } })).toMatchObject({ ok: true });
    expect(checkComponentMessage({ type: 'rpc-answer', requestId: 1, ok: false, error: { code: 'lower', message: 'no' } })).toMatchObject({ ok: false, reason: 'malformed' });
  });

  it('checks the services of a definition', () => {
    const handler = () => null;
    expect(() => defineComponent({ services: { 'events.store': handler } })).not.toThrow();
    expect(() => asComponentDefinition({ services: { 'Events.Store': handler } })).toThrow(expect.objectContaining({ code: 'GALAXY_COMPONENT_BAD_DEFINITION' }));
    expect(() => asComponentDefinition({ services: { 'farm.members': handler } })).toThrow(/farm service/);
    expect(() => asComponentDefinition({ services: { 'install.remove': handler } })).toThrow(/"install\.".*farm service/);
    expect(() => asComponentDefinition({ services: { 'a.b': 'not a function' } })).toThrow(/must be a function/);
    expect(() => asComponentDefinition({ services: [handler] })).toThrow(/plain object/);
  });

  it('serves requests while a lifecycle handler waits, and answers every request', async () => {
    const sent: ComponentToHost[] = [];
    let releaseStart!: () => void;
    const definition = defineComponent({
      start: () => new Promise<void>((resolve) => (releaseStart = resolve)),
      services: { 'x.echo': (body: unknown, from: { node: string }) => ({ body, from: from.node }), 'x.bad': () => new Date(Number.NaN).toISOString() },
    });
    const runtime = new ComponentRuntime((message) => sent.push(message), async () => ({ default: definition }));
    runtime.receive({ type: 'rpc-request', requestId: 1, service: 'x.echo', from: kNodeA, body: 1 });
    runtime.receive({ type: 'init', seq: 1, init: { name: 'x', kind: 'x', nodeId: kNodeA, stateDir: '/tmp', config: {} } });
    runtime.receive({ type: 'start', seq: 2 });
    await waitFor('init answered', () => sent.some((m) => m.type === 'result' && m.seq === 1));
    runtime.receive({ type: 'rpc-request', requestId: 2, service: 'x.echo', from: kNodeB, body: { a: [1] } });
    runtime.receive({ type: 'rpc-request', requestId: 3, service: 'x.none', from: kNodeB, body: null });
    runtime.receive({ type: 'rpc-request', requestId: 4, service: 'x.bad', from: kNodeB, body: null });
    await waitFor('the requests were answered during the start', () => sent.filter((m) => m.type === 'rpc-answer').length === 4);
    const answers = sent.filter((m): m is Extract<ComponentToHost, { type: 'rpc-answer' }> => m.type === 'rpc-answer');
    expect(answers.find((m) => m.requestId === 1)).toMatchObject({ ok: false, error: { code: 'GALAXY_RPC_NOT_RUNNING' } });
    expect(answers.find((m) => m.requestId === 2)).toEqual({ type: 'rpc-answer', requestId: 2, ok: true, body: { body: { a: [1] }, from: kNodeB } });
    expect(answers.find((m) => m.requestId === 3)).toMatchObject({ ok: false, error: { code: 'GALAXY_RPC_UNKNOWN_SERVICE' } });
    expect(answers.find((m) => m.requestId === 4)).toMatchObject({ ok: false, error: { code: 'GALAXY_RPC_HANDLER' } });
    expect(sent.some((m) => m.type === 'result' && m.seq === 2)).toBe(false);
    releaseStart();
    await waitFor('the start answered, services declared first', () => sent.some((m) => m.type === 'result' && m.seq === 2));
    const types = sent.map((m) => m.type);
    expect(types.indexOf('rpc-serve')).toBe(types.lastIndexOf('result') - 1);
    expect(sent.find((m) => m.type === 'rpc-serve')).toEqual({ type: 'rpc-serve', services: ['x.echo', 'x.bad'] });
  });
});
