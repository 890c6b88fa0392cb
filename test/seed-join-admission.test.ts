// Proves that in a secure farm a node waiting for admission acts on a changed seed list
// (issue 16), with real FarmServices in one process (each runs its engine in a worker
// thread on real UDP/TCP sockets on 127.0.0.1): the node starts with a seed nobody
// listens on, so the bootstrapped controller never hears of it (the control: still
// unknown after a second); FarmService.join with the controller's address makes its
// request arrive (pending at the controller) within seconds, and once approved it
// gossips and joins through the new seeds, which its membership engine took before it
// started (the worker keeps a list handed over before the grant for the engine's start).
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from './support/agents.js';
import { admissionServices, alive } from './support/admission-services.js';
import { until } from './support/until.js';

const farm = admissionServices('galaxy-seed-join-admission-');
const { start } = farm;

afterAll(() => farm.closeAll());

describe('a node waiting for admission', () => {
  it('asks the controllers through a changed seed list, and joins through it once approved', async () => {
    const controller = await start('controller', ['controller'], [], { bootstrap: true });
    const nobody = `127.0.0.1:${await freePort()}`;
    const node = await start('node', [], [nobody]);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(node.node().admission).toBe('pending');
    expect(controller.admissions().some((r) => r.id === node.host.id)).toBe(false);

    const joinedAtMs = Date.now();
    node.join([nobody, controller.host.address]);
    await until('the node is pending at the controller', () => controller.admissions().some((r) => r.id === node.host.id && r.status === 'pending'), 5000);
    expect(Date.now() - joinedAtMs).toBeLessThan(3000);
    await controller.approve(node.host.id, undefined, 'test');
    await until('the node joins', () => alive(controller, node.host.id) && alive(node, controller.host.id));
  }, 40_000);
});
