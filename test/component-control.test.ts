// Proves the service control interface end to end over real child processes (forks of
// dist/workers/component-runner.js running the fixtures in test/fixtures/components): a
// configuration reaches the live component, is refused with the component's own reason
// when it says no, and survives a restart; membership and peer messages reach the
// component and its peer messages and events come back; out-of-bounds messages written
// straight to the IPC channel are dropped and counted while good ones still arrive;
// stop and close leave no process behind, even one that blocks in its stop handler and
// ignores SIGTERM, nor any process a component started (its process group is killed on
// stop and on crash); a component exits by itself when its agent is SIGKILLed (a stand-in
// agent process is killed and the component's pid checked); the agent's GALAXY_*
// environment is not passed on; a component's
// stdout goes to the host's log. Needs the compiled runner and SDK: `npm test` builds
// first (pretest); by hand, run `npx tsc -p tsconfig.json` before vitest.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { ComponentError } from '../src/farm/components/host/component-error.js';
import { closeHosts, eventsOf, fixture, processExists, testHost, waitFor } from './support/components.js';

afterEach(async () => {
  await closeHosts();
});

describe('component host: control', () => {
  it('configures a live component, keeps the configuration across a restart, and returns a refusal', async () => {
    const t = testHost();
    t.host.add({ name: 'echo', kind: 'echo', module: fixture('echo'), config: { tag: 'first' } });
    const started = await t.host.start('echo');
    expect(started.state).toBe('running');
    await waitFor('the start values arrived', () => t.values.some((v) => v.values['tag'] === 'first'));
    expect(t.values[0]!.values['cwd']).toBe(1);

    const configured = await t.host.configure('echo', { tag: 'second' });
    expect(configured.config).toEqual({ tag: 'second' });
    await waitFor('the live component saw the configuration', () => t.values.some((v) => v.values['tag'] === 'second' && v.values['pid'] === started.pid));
    expect(eventsOf(t, 'echo', 'configured')).toHaveLength(1);

    const refusal = t.host.configure('echo', { refuse: true });
    await expect(refusal).rejects.toBeInstanceOf(ComponentError);
    await expect(refusal).rejects.toMatchObject({ code: 'GALAXY_COMPONENT_CONFIG_REJECTED', message: expect.stringContaining('refused on purpose') });
    expect(t.host.status()[0]!.config).toEqual({ tag: 'second' });
    expect(await t.host.query('echo')).toMatchObject({ tag: 'second', pid: started.pid });

    const restarted = await t.host.restart('echo');
    expect(restarted.pid).not.toBe(started.pid);
    expect(restarted.restarts).toBe(1);
    await waitFor('the new process started with the kept configuration', () => t.values.some((v) => v.values['tag'] === 'second' && v.values['pid'] === restarted.pid));
    expect(processExists(started.pid!)).toBe(false);
  });

  it('keeps a configuration given while stopped for the next start', async () => {
    const t = testHost();
    t.host.add({ name: 'echo', kind: 'echo', module: fixture('echo') });
    await t.host.configure('echo', { tag: 'early' });
    const { pid } = await t.host.start('echo');
    await waitFor('it started with it', () => t.values.some((v) => v.values['tag'] === 'early' && v.values['pid'] === pid));
  });

  it('passes membership and peer messages to the component and carries its peer messages and events back', async () => {
    const t = testHost();
    const peerSends: Array<[string, Uint8Array]> = [];
    const farmEvents: Array<[string, string, Readonly<Record<string, unknown>>]> = [];
    t.host.on('peer-send', (kind, payload) => peerSends.push([kind, payload]));
    t.host.on('event', (name, event) => farmEvents.push([name, event.eventType, event.body]));
    // Membership known before the component starts is given to it right after its start.
    t.host.membership('echo', [{ id: '00000000000000b1', address: '10.0.0.1:7946', status: 'alive' }]);
    t.host.add({ name: 'echo', kind: 'echo', module: fixture('echo') });
    await t.host.start('echo');
    await waitFor('the first membership arrived', () => t.values.some((v) => v.values['peerIds'] === '00000000000000b1'));

    t.host.membership('echo', [
      { id: '00000000000000b1', address: '10.0.0.1:7946', status: 'alive' },
      { id: '00000000000000b2', address: '10.0.0.2:7946', status: 'suspect' },
    ]);
    await waitFor('the changed membership arrived', () => t.values.some((v) => v.values['peers'] === 2));

    expect(t.host.deliverPeer('echo', '00000000000000b2', new Uint8Array([1, 2, 3]))).toBe(1);
    await waitFor('the echo came back', () => peerSends.length === 1 && farmEvents.length === 1);
    expect(peerSends[0]![0]).toBe('echo');
    expect([...peerSends[0]![1]]).toEqual([1, 2, 3]);
    expect(farmEvents[0]).toEqual(['echo', 'echo.peer', { from: '00000000000000b2', bytes: 3 }]);

    // A peer message the component's handler throws on is logged, not fatal.
    t.host.deliverPeer('echo', '00000000000000b2', new Uint8Array([0xff]));
    await waitFor('the handler error was logged', () => t.logs.some((l) => l.level === 'error' && l.message?.includes('cannot parse') === true));
    expect(t.host.status()[0]!.state).toBe('running');
    expect(eventsOf(t, 'echo', 'crashed')).toHaveLength(0);

    // Too large for gossip, or for a kind nobody runs: dropped and counted.
    expect(t.host.deliverPeer('echo', '00000000000000b2', new Uint8Array(1025))).toBe(0);
    expect(t.host.deliverPeer('nobody', '00000000000000b2', new Uint8Array(1))).toBe(0);
    expect(t.host.hostCounters().peerUndeliverable).toBe(2);
  });

  it('drops and counts out-of-bounds messages from a component and still takes good ones', async () => {
    const t = testHost({ messagesPerSecondMax: 50 });
    const peerSends: Uint8Array[] = [];
    t.host.on('peer-send', (_kind, payload) => peerSends.push(payload));
    t.host.add({ name: 'flood', kind: 'flood', module: fixture('flood'), config: { burst: 200 } });
    await t.host.start('flood');
    await waitFor('the marker arrived', () => t.values.some((v) => v.values['marker'] === 1));
    const counted = () => t.host.counters()[0]!.dropped;
    await waitFor('the burst was counted', () => t.values.length + counted().rateLimited >= 201);
    const dropped = counted();
    expect(dropped.oversized).toBe(4); // 300 keys, a 2000-byte peer payload, a 10 kB event body, a 1000-character value
    expect(dropped.malformed).toBe(2); // an unknown type, a NaN value
    expect(dropped.unsolicited).toBe(1); // a result nobody asked for
    expect(dropped.rateLimited).toBeGreaterThan(0);
    expect(t.values.length + dropped.rateLimited).toBe(201);
    expect(t.values.every((v) => Object.keys(v.values).length === 1)).toBe(true);
    expect(peerSends).toHaveLength(0);
    expect(t.logs.some((l) => l.level === 'warn' && l.message === 'message from component dropped')).toBe(true);
    expect(t.host.status()[0]!.state).toBe('running');
  });

  it('leaves no process behind after stop and close', async () => {
    const t = testHost();
    for (const name of ['one', 'two', 'three']) t.host.add({ name, kind: 'echo', module: fixture('echo') });
    const pids = [];
    for (const name of ['one', 'two', 'three']) pids.push((await t.host.start(name)).pid!);
    expect(pids.every(processExists)).toBe(true);

    const stopped = await t.host.stop('one');
    expect(stopped.state).toBe('stopped');
    expect(stopped.pid).toBeNull();
    expect(processExists(pids[0]!)).toBe(false);
    expect(eventsOf(t, 'one', 'stopped')[0]!.detail.exitCode).toBe(0);

    await t.host.close();
    expect(pids.some(processExists)).toBe(false);
    expect(t.host.status().every((s) => s.state === 'stopped')).toBe(true);
    await expect(t.host.start('one')).rejects.toMatchObject({ code: 'GALAXY_COMPONENT_CLOSED' });
  });

  it('ends a component that blocks in its stop handler and ignores SIGTERM with SIGKILL', async () => {
    const t = testHost({ controlTimeoutMs: 200, stopTimeoutMs: 200 });
    t.host.add({ name: 'stubborn', kind: 'test', module: fixture('hang'), config: { stopHang: true } });
    const { pid } = await t.host.start('stubborn');
    await t.host.stop('stubborn');
    expect(processExists(pid!)).toBe(false);
    expect(eventsOf(t, 'stubborn', 'stopped')[0]!.detail.signal).toBe('SIGKILL');
    expect(t.logs.filter((l) => l.level === 'warn').map((l) => l.message)).toEqual(
      expect.arrayContaining(['component did not confirm its stop', expect.stringContaining('sending SIGTERM'), expect.stringContaining('sending SIGKILL')]),
    );
    expect(eventsOf(t, 'stubborn', 'crashed')).toHaveLength(0);
  });

  it('ends the processes a component started, on stop and when it crashes', async () => {
    const t = testHost();
    t.host.add({ name: 'spawner', kind: 'test', module: fixture('spawner') });
    await t.host.start('spawner');
    await waitFor('the helper pid arrived', () => t.values.length === 1);
    const helper = t.values[0]!.values['helperPid'] as number;
    expect(processExists(helper)).toBe(true);
    await t.host.stop('spawner');
    await waitFor('the helper is gone after the stop', () => !processExists(helper), 2000);

    await t.host.configure('spawner', { exitAfterMs: 100 });
    await t.host.start('spawner');
    await waitFor('the second helper pid arrived', () => t.values.length === 2);
    const orphan = t.values[1]!.values['helperPid'] as number;
    await waitFor('it crashed', () => eventsOf(t, 'spawner', 'crashed').length === 1);
    expect(eventsOf(t, 'spawner', 'crashed')[0]!.detail.exitCode).toBe(5);
    await waitFor('the helper is gone after the crash', () => !processExists(orphan), 2000);
  });

  it('a component exits by itself when the agent hosting it is SIGKILLed', async () => {
    const agent = spawn(process.execPath, [fixture('agent-stand-in')], { stdio: ['ignore', 'pipe', 'inherit'] });
    let stateRoot = '';
    try {
      const lines = createInterface({ input: agent.stdout! })[Symbol.asyncIterator]();
      const componentPid = Number((await lines.next()).value);
      stateRoot = String((await lines.next()).value);
      expect(processExists(componentPid)).toBe(true);
      agent.kill('SIGKILL');
      await once(agent, 'exit');
      await waitFor('the orphaned component exited', () => !processExists(componentPid), 3000);
    } finally {
      agent.kill('SIGKILL');
      if (stateRoot.startsWith(tmpdir())) rmSync(stateRoot, { recursive: true, force: true });
    }
  });

  it('hides the agent\'s GALAXY_* environment and logs the component\'s stdout', async () => {
    process.env['GALAXY_TEST_SECRET'] = 'not for components';
    try {
      const t = testHost();
      t.host.add({ name: 'echo', kind: 'echo', module: fixture('echo') });
      await t.host.start('echo');
      expect(await t.host.query('echo')).toMatchObject({ secretSeen: false });
      await waitFor('the stdout line was logged', () => t.logs.some((l) => l.level === 'info' && l.message?.startsWith('echo echo started') === true));
    } finally {
      delete process.env['GALAXY_TEST_SECRET'];
    }
  });

  it('refuses bad specs, duplicate and unknown names with coded errors', async () => {
    const t = testHost();
    expect(() => t.host.add({ name: '../evil', kind: 'echo', module: fixture('echo') })).toThrow(expect.objectContaining({ code: 'GALAXY_COMPONENT_BAD_SPEC' }));
    expect(() => t.host.add({ name: 'echo', kind: 'echo', module: 'relative.mjs' })).toThrow(expect.objectContaining({ code: 'GALAXY_COMPONENT_BAD_SPEC' }));
    expect(() => t.host.add({ name: 'echo', kind: 'echo', module: fixture('echo'), memoryMb: 1 })).toThrow(expect.objectContaining({ code: 'GALAXY_COMPONENT_BAD_SPEC' }));
    t.host.add({ name: 'echo', kind: 'echo', module: fixture('echo') });
    expect(() => t.host.add({ name: 'echo', kind: 'echo', module: fixture('echo') })).toThrow(expect.objectContaining({ code: 'GALAXY_COMPONENT_EXISTS' }));
    await expect(t.host.start('nope')).rejects.toMatchObject({ code: 'GALAXY_COMPONENT_UNKNOWN' });
    await expect(t.host.configure('echo', [] as unknown as Record<string, unknown>)).rejects.toMatchObject({ code: 'GALAXY_COMPONENT_BAD_CONFIG' });
    await expect(t.host.query('echo')).rejects.toMatchObject({ code: 'GALAXY_COMPONENT_NOT_RUNNING' });
  });
});
