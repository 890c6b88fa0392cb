// Proves the AgentHost API in one process (three hosts, each engine in its own worker
// thread with its own UDP and TCP sockets on 127.0.0.1): hosts converge and emit join
// events; members() reads the table the worker writes, in place from shared memory, and
// marks the local row; stats() reports the transports' counters; stop() leaves
// gracefully, so the others emit "leave" and show the member as left; and bad options or
// a taken port reject start() with a clear message, leaving no worker behind.
import { afterAll, describe, expect, it } from 'vitest';
import { AgentHost } from '../src/node/driver/agent-host.js';
import type { MembershipEvent } from '../src/core/membership/membership-event.js';
import { until } from './support/until.js';

const hosts: AgentHost[] = [];

async function start(join: readonly string[], meta: Record<string, string> = {}): Promise<{ host: AgentHost; events: MembershipEvent[] }> {
  const host = await AgentHost.start({ bind: '127.0.0.1:0', join, preset: 'local', meta });
  hosts.push(host);
  const events: MembershipEvent[] = [];
  host.on('event', (event) => events.push(event));
  return { host, events };
}

afterAll(async () => {
  await Promise.all(hosts.map((h) => h.stop()));
});

describe('AgentHost', () => {
  it('converges, reads members from shared memory, reports stats and leaves gracefully', async () => {
    const a = await start([], { role: 'seed' });
    const b = await start([a.host.address]);
    const c = await start([a.host.address, b.host.address]);
    const all = [a, b, c];
    expect(a.host.address).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(a.host.id).toMatch(/^[0-9a-f]{16}$/);

    const aliveIn = (h: AgentHost) => h.members().filter((m) => m.status === 'alive').length;
    await until('every host holds 3 alive members', () => all.every(({ host }) => aliveIn(host) === 3));
    for (const { host, events } of all) {
      const selfRows = host.members().filter((m) => m.self);
      expect(selfRows.map((m) => m.address)).toEqual([host.address]);
      expect(selfRows[0]!.id).toBe(host.id);
      expect(selfRows[0]!.incarnation).toBe(host.incarnation);
      await until(`${host.address} emitted 2 joins`, () => new Set(events.filter((e) => e.type === 'join').map((e) => e.address)).size === 2);
    }

    const stats = await a.host.stats();
    expect(stats.datagram.sent).toBeGreaterThan(0);
    expect(stats.datagram.received).toBeGreaterThan(0);
    expect(stats.stream.connectionsAccepted).toBeGreaterThan(0); // b and c joined through a over TCP
    expect(stats.aliveCount).toBe(3);

    await c.host.stop();
    for (const { host, events } of [a, b]) {
      await until(`${host.address} saw the leave`, () => events.some((e) => e.type === 'leave' && e.address === c.host.address));
      expect(host.members().find((m) => m.address === c.host.address)?.status).toBe('left');
    }
    await expect(c.host.stats()).rejects.toThrow(/stopped/);
  });

  it('rejects bad options with messages naming them', async () => {
    await expect(AgentHost.start({ bind: '0.0.0.0:7946' })).rejects.toThrow(/not the wildcard/);
    await expect(AgentHost.start({ bind: '127.0.0.1:0', join: ['127.0.0.1:0'] })).rejects.toThrow(/options\.join\[0\] must be/);
    await expect(AgentHost.start({ bind: '127.0.0.1:0', preset: 'moon' as 'lan' })).rejects.toThrow(/options\.preset must be one of lan, wan, local/);
    await expect(AgentHost.start({ bind: '127.0.0.1:0', meta: { big: 'x'.repeat(600) } })).rejects.toThrow(/over metaBytesMax 512/);
    await expect(AgentHost.start({ bind: '127.0.0.1:0', membership: { probeIntervalMs: -1 } })).rejects.toThrow(/options\.probeIntervalMs must be a positive number/);
    await expect(AgentHost.start({ bind: '127.0.0.1:0', tickIntervalMs: 0 })).rejects.toThrow(/options\.tickIntervalMs must be an integer from 1/);
    await expect(AgentHost.start({ bind: '127.0.0.1:0', colour: 'red' } as object)).rejects.toThrow(/unknown agent option "colour"/);
  });

  it('rejects start() when the port is taken, with the OS error, and stops its worker', async () => {
    const a = await start([]);
    await expect(AgentHost.start({ bind: a.host.address, preset: 'local' })).rejects.toThrow(/cannot bind UDP .*EADDRINUSE/);
  });
});
