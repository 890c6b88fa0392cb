// Proves that the component host survives components that fail, and restarts them: real
// child processes (forks of dist/workers/component-runner.js) running the fixtures in
// test/fixtures/components. A start that throws is retried with the configured
// exponential backoff (50, 100, 200, 400 ms, capped) and every restart is reported; a
// process.exit(3) is reported with code 3; an error thrown from a timer is reported with
// its message; after crashesMax crashes in the window the host gives up ('failed') until
// an operator restart; a component that blocks its event loop on a control message or
// between messages (caught by the liveness probe), or whose start never finishes, is
// killed and restarted. The test
// process hosting all of it stays up throughout. Needs the compiled runner: `npm test`
// builds first (pretest); by hand, run `npx tsc -p tsconfig.json` before vitest.
import { afterEach, describe, expect, it } from 'vitest';
import { ComponentError } from '../src/farm/components/host/component-error.js';
import { kRunnerExitUncaught } from '../src/farm/components/host/component-protocol.js';
import { closeHosts, eventsOf, fixture, processExists, testHost, waitFor } from './support/components.js';

afterEach(async () => {
  await closeHosts();
});

describe('component host: crashes and restarts', () => {
  it('restarts a component whose start fails, with a growing backoff, and reports every restart', async () => {
    const t = testHost();
    t.host.add({ name: 'crasher', kind: 'test', module: fixture('crash-in-start'), config: { afterMs: 20 } });
    const first = await t.host.start('crasher');
    expect(first.state).toBe('backoff');
    expect(first.lastError).toContain('start failed on purpose');

    await waitFor('five restarts were scheduled', () => eventsOf(t, 'crasher', 'restarting').length >= 5);
    const restarting = eventsOf(t, 'crasher', 'restarting');
    expect(restarting.slice(0, 5).map((e) => e.detail.delayMs)).toEqual([50, 100, 200, 400, 400]);
    expect(restarting.slice(0, 5).map((e) => e.detail.restarts)).toEqual([1, 2, 3, 4, 5]);
    const crashes = eventsOf(t, 'crasher', 'crashed');
    expect(crashes.every((e) => e.detail.error?.includes('start failed on purpose'))).toBe(true);
    // The gap between two crashes includes the delay before the restart between them.
    const gaps = crashes.slice(0, 5).map((e) => Date.parse(e.at)).map((at, i, all) => (i === 0 ? 0 : at - all[i - 1]!)).slice(1);
    expect(gaps[0]).toBeGreaterThanOrEqual(50);
    expect(gaps[2]).toBeGreaterThanOrEqual(200);
    expect(t.host.status()[0]!.restarts).toBeGreaterThanOrEqual(4);
    expect(t.host.counters()[0]!.crashes).toBe(crashes.length);
    expect(processExists(process.pid)).toBe(true);
  });

  it('reports a process.exit with its code, and restarts the component', async () => {
    const t = testHost();
    t.host.add({ name: 'exiter', kind: 'test', module: fixture('exit-code'), config: { afterMs: 50 } });
    expect((await t.host.start('exiter')).state).toBe('running');
    await waitFor('it exited and was started again', () => eventsOf(t, 'exiter', 'started').length >= 2);
    const crash = eventsOf(t, 'exiter', 'crashed')[0]!;
    expect(crash.detail.exitCode).toBe(3);
    expect(crash.detail.signal).toBeNull();
    expect(crash.detail.error).toBe('exited with code 3');
    expect(eventsOf(t, 'exiter', 'started')[1]!.detail.restarts).toBe(1);
  });

  it('reports an error thrown from a timer with its message', async () => {
    const t = testHost();
    t.host.add({ name: 'thrower', kind: 'test', module: fixture('uncaught-timer') });
    await t.host.start('thrower');
    await waitFor('it crashed', () => eventsOf(t, 'thrower', 'crashed').length >= 1);
    const crash = eventsOf(t, 'thrower', 'crashed')[0]!;
    expect(crash.detail.exitCode).toBe(kRunnerExitUncaught);
    expect(crash.detail.error).toBe('uncaught: boom from a timer');
    expect(t.logs.some((l) => l.level === 'error' && JSON.stringify(l.fields).includes('uncaught-timer.mjs'))).toBe(true);
  });

  it('gives up after crashesMax crashes in the window, and an operator restart tries again', async () => {
    const t = testHost({ giveUp: { crashesMax: 3, windowMs: 60_000 }, backoff: { initialMs: 20, maxMs: 20 } });
    t.host.add({ name: 'hopeless', kind: 'test', module: fixture('crash-in-start') });
    await t.host.start('hopeless');
    await waitFor('the host gave up', () => t.host.status()[0]!.state === 'failed');
    expect(eventsOf(t, 'hopeless', 'crashed')).toHaveLength(3);
    const failed = eventsOf(t, 'hopeless', 'failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]!.detail.error).toContain('gave up after 3 crashes');

    const again = await t.host.restart('hopeless');
    expect(again.state).toBe('backoff');
    expect(again.restarts).toBe(3);
    await waitFor('it failed again after three more crashes', () => eventsOf(t, 'hopeless', 'failed').length === 2);
    expect(eventsOf(t, 'hopeless', 'crashed')).toHaveLength(6);
  });

  it('kills and restarts a component that hangs on a control message', async () => {
    const t = testHost({ controlTimeoutMs: 300 });
    t.host.add({ name: 'hanger', kind: 'test', module: fixture('hang') });
    const before = await t.host.start('hanger');
    const pid = before.pid!;
    const configure = t.host.configure('hanger', { hang: 'block' });
    await expect(configure).rejects.toBeInstanceOf(ComponentError);
    await expect(configure).rejects.toMatchObject({ code: 'GALAXY_COMPONENT_UNRESPONSIVE' });
    await waitFor('it was started again', () => eventsOf(t, 'hanger', 'started').length === 2);
    const crash = eventsOf(t, 'hanger', 'crashed')[0]!;
    expect(crash.detail.signal).toBe('SIGKILL');
    expect(crash.detail.error).toContain('unresponsive');
    expect(processExists(pid)).toBe(false);
    const after = t.host.status()[0]!;
    expect(after.pid).not.toBe(pid);
    // The refused (unanswered) configuration was not kept.
    expect(after.config).toEqual({});
    expect(t.host.counters()[0]!.unresponsive).toBe(1);
  });

  it('kills and restarts a component whose event loop blocks between messages (liveness probe)', async () => {
    const t = testHost({ controlTimeoutMs: 300, healthIntervalMs: 100 });
    t.host.add({ name: 'stuck', kind: 'test', module: fixture('hang'), config: { blockAfterMs: 150 } });
    const { pid } = await t.host.start('stuck');
    await waitFor('the probe killed it and it was restarted', () => eventsOf(t, 'stuck', 'started').length === 2);
    expect(eventsOf(t, 'stuck', 'crashed')[0]!.detail.error).toContain('did not answer "status"');
    expect(processExists(pid!)).toBe(false);
  });

  it('kills and retries a component whose start never finishes', async () => {
    // The bound covers the child's "init" answer too: 300 ms was missed by init under load
    // (full suite at load 15). The hanging start never answers, so a generous bound only costs its length.
    const t = testHost({ startTimeoutMs: 5_000 });
    t.host.add({ name: 'slow', kind: 'test', module: fixture('hang'), config: { startHang: true } });
    const status = await t.host.start('slow');
    expect(status.state).toBe('backoff');
    expect(status.lastError).toContain('did not answer "start" within 5000 ms');
    expect(eventsOf(t, 'slow', 'crashed')[0]!.detail.signal).toBe('SIGKILL');
  });

  it('reports a module that cannot be loaded as a failed start', async () => {
    const t = testHost();
    t.host.add({ name: 'missing', kind: 'test', module: fixture('no-such-component') });
    const status = await t.host.start('missing');
    expect(status.state).toBe('backoff');
    expect(status.lastError).toMatch(/init failed: .*no-such-component/);
  });
});
