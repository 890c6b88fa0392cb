// Proves the farm node as `galaxy agent` runs it, with one real agent process (a
// bootstrapped controller) and its HTTP API:
//  - the Measurement component runs in a child process of its own and posts real values;
//  - SIGKILL of the component's process is reported (a component.crashed line, an event
//    on the WebSocket stream), the component is restarted with a new pid, the restart is
//    counted in /metrics, and the agent stays up and keeps answering;
//  - the interval changes at runtime through `galaxy components config`, and a bad value
//    gets a clear 400;
//  - /metrics parses as Prometheus text format with an independent parser and carries
//    the families the issue asks for (the messenger's per-channel counters among them).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { afterAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { ApiEvent } from '../src/core/util/api-event.js';
import type { ComponentStatus } from '../src/farm/components/component-status.js';
import type { NodeValues } from '../src/farm/data/node-values.js';
import { packageRoot } from '../src/core/platform/package-root.js';
import { freePort, killAllAgents, spawnAgent, until } from './support/agents.js';

const cli = join(packageRoot(), 'dist', 'src', 'ops', 'cli', 'main.js');

afterAll(() => killAllAgents());

describe('farm node (real agent process)', () => {
  it('hosts the Measurement service, survives its crash, exposes metrics and events', async () => {
    const address = `127.0.0.1:${await freePort()}`;
    const agent = spawnAgent(address, [], ['--role', 'controller', '--bootstrap', '--api', `127.0.0.1:${await freePort()}`]);
    await until('the agent starts', () => agent.lines.some((l) => l.event === 'started'), 15_000, [agent]);
    const dir = agent.child.spawnargs[agent.child.spawnargs.indexOf('--data-dir') + 1]!;
    const url = (JSON.parse(readFileSync(join(dir, 'api.json'), 'utf8')) as { url: string }).url;
    const token = readFileSync(join(dir, 'admin.token'), 'utf8').trim();
    const get = async <T>(path: string): Promise<T> => (await (await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } })).json()) as T;
    const measurement = async () => (await get<ComponentStatus[]>('/v1/components')).find((c) => c.name === 'measurement');

    let running: ComponentStatus | undefined;
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && (running = await measurement())?.state !== 'running') await new Promise((resolve) => setTimeout(resolve, 100));
    expect(running).toMatchObject({ state: 'running', restarts: 0 });
    expect(running!.pid).toBeGreaterThan(0);
    expect(running!.pid).not.toBe(agent.child.pid);

    // Faster samples at runtime; a bad interval is refused with the reason.
    const config = spawnSync(process.execPath, [cli, 'components', 'config', 'measurement', 'intervalMs=200', '--data-dir', dir], { encoding: 'utf8' });
    expect(config.status, config.stderr).toBe(0);
    const bad = await fetch(`${url}/v1/components/measurement/config`, { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ intervalMs: 5 }) });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toMatch(/intervalMs/);
    let values: NodeValues[] = [];
    const valuesDeadline = Date.now() + 10_000;
    while (Date.now() < valuesDeadline && !((values = await get<NodeValues[]>('/v1/values'))[0]?.values['memTotalBytes'] as number > 0)) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(values[0]!.values['memTotalBytes']).toBeGreaterThan(0);
    expect(values[0]!.values['load1']).toBeGreaterThanOrEqual(0);

    // Crash the component: reported, restarted, the agent stays up.
    const events: ApiEvent[] = [];
    const socket = new WebSocket(`${url.replace(/^http/, 'ws')}/v1/events`, { headers: { authorization: `Bearer ${token}` } });
    socket.on('message', (data) => events.push(JSON.parse(String(data)) as ApiEvent));
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    process.kill(running!.pid!, 'SIGKILL');
    await until('the crash is reported on stdout', () => agent.lines.some((l) => l.event === 'component.crashed'), 15_000, [agent]);
    await until('the crash is on the event stream', () => events.some((e) => e.kind === 'component' && e.type === 'crashed'), 15_000, [agent]);
    let restarted: ComponentStatus | undefined;
    const restartDeadline = Date.now() + 20_000;
    while (Date.now() < restartDeadline && !((restarted = await measurement())?.state === 'running' && restarted?.restarts === 1)) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(restarted).toMatchObject({ state: 'running', restarts: 1 });
    expect(restarted!.pid).not.toBe(running!.pid);
    expect(restarted!.config).toMatchObject({ intervalMs: 200 });
    expect(agent.child.exitCode).toBeNull();
    socket.close();

    // /metrics: valid Prometheus text with the families the issue lists.
    const text = await (await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text();
    const families = parsePrometheusTextFormat(text) as unknown as Array<{ name: string; type: string; metrics: Array<{ value: string; labels?: Record<string, string> }> }>;
    const family = (name: string) => families.find((f) => f.name === name);
    for (const name of ['galaxy_members', 'galaxy_suspicions_total', 'galaxy_refutations_total', 'galaxy_datagrams_total', 'galaxy_datagram_bytes_total', 'galaxy_auth_failures_total', 'galaxy_component_restarts_total', 'galaxy_messenger_messages_total', 'galaxy_messenger_dropped_total']) expect(family(name), name).toBeDefined();
    expect(family('galaxy_members')!.metrics.find((m) => m.labels?.['state'] === 'alive')!.value).toBe('1');
    expect(family('galaxy_component_restarts_total')!.metrics.find((m) => m.labels?.['component'] === 'measurement')!.value).toBe('1');
    expect((await fetch(`${url}/metrics`)).status).toBe(401);
  }, 90_000);
});
