// Proves request/response between farm nodes over the messenger's rpc channel: two real
// nodes (worker threads, real sockets, sealed traffic) call each other's services; an
// error in a handler comes back coded; an unknown service is refused; a second handler
// for a taken service name is refused (unhandle first); a request resent
// with the same id (what a retry after a lost answer looks like) is handled once and
// answered twice; a call to a node that is gone times out with a coded error.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { RpcFrame } from '../src/farm/service/farm-rpc.js';
import { FarmService } from '../src/farm/service/farm-service.js';
import { until } from './support/until.js';

const root = mkdtempSync(join(tmpdir(), 'galaxy-farm-rpc-'));
const services: FarmService[] = [];

afterAll(async () => {
  await Promise.all(services.map((s) => s.close().catch(() => {})));
});

describe('farm RPC', () => {
  it('calls, errors, duplicates and timeouts', async () => {
    const a = await FarmService.start({ agent: { bind: '127.0.0.1:0', preset: 'local' }, dataDir: join(root, 'a'), mode: 'admission', roles: ['controller'], bootstrap: true, autoApprove: true });
    services.push(a);
    const b = await FarmService.start({ agent: { bind: '127.0.0.1:0', preset: 'local', join: [a.host.address] }, dataDir: join(root, 'b'), mode: 'admission', roles: [] });
    services.push(b);
    await until('b is admitted and joined', () => a.members().some((m) => m.id === b.host.id && m.status === 'alive'));

    let handled = 0;
    b.rpc.handle('test.echo', (from, body) => {
      handled++;
      return { from: from.id, echo: body };
    });
    b.rpc.handle('test.fail', () => {
      throw Object.assign(new Error('disk is full'), { code: 'GALAXY_TEST_FULL' });
    });
    expect(await a.rpc.call(b.host.id, 'test.echo', { n: 1 })).toEqual({ from: a.host.id, echo: { n: 1 } });
    await expect(a.rpc.call(b.host.id, 'test.fail', {})).rejects.toMatchObject({ code: 'GALAXY_TEST_FULL', message: 'disk is full' });
    await expect(a.rpc.call(b.host.id, 'test.nothing', {})).rejects.toMatchObject({ code: 'GALAXY_RPC_UNKNOWN_SERVICE' });
    // A taken name is refused, not replaced: the first handler keeps answering until it is withdrawn.
    expect(() => b.rpc.handle('test.echo', () => 'hijacked')).toThrow(expect.objectContaining({ code: 'GALAXY_RPC_SERVICE_TAKEN' }));
    expect(await a.rpc.call(b.host.id, 'test.echo', { n: 0 })).toEqual({ from: a.host.id, echo: { n: 0 } });
    expect(b.rpc.serves('test.echo')).toBe(true);
    b.rpc.unhandle('test.echo');
    expect(b.rpc.serves('test.echo')).toBe(false);
    b.rpc.handle('test.echo', (from, body) => {
      handled++;
      return { from: from.id, echo: body };
    });

    // A duplicate request (same id, as a retry sends it) is answered from memory, not handled again.
    const sent: RpcFrame[] = [];
    const probe = new (await import('../src/farm/service/farm-rpc.js')).FarmRpc({ selfId: 'feedfeedfeedfeed', send: (_to, frame) => void sent.push(frame), retryMs: 60_000 });
    void probe.call('x', 'test.echo', { n: 2 }).catch(() => {});
    const request = sent[0]!;
    const answers: Array<{ to: string; frame: RpcFrame }> = [];
    const receiver = new (await import('../src/farm/service/farm-rpc.js')).FarmRpc({ selfId: b.host.id, send: (to, frame) => void answers.push({ to, frame }) });
    let count = 0;
    receiver.handle('test.echo', () => ++count);
    receiver.receive({ id: 'feedfeedfeedfeed', peer: 'tcp#1' }, request);
    receiver.receive({ id: 'feedfeedfeedfeed', peer: 'tcp#2' }, request);
    await until('both answered', () => answers.length === 2);
    expect(count).toBe(1);
    expect(receiver.counters.duplicates).toBe(1);
    // Both answers go to the authenticated sender, whatever connection the requests came by.
    expect(answers.map((a) => a.to)).toEqual(['feedfeedfeedfeed', 'feedfeedfeedfeed']);
    expect(answers[1]!.frame).toBe(answers[0]!.frame);
    // The same request id from another sender is another request: handled again.
    receiver.receive({ id: 'beefbeefbeefbeef', peer: 'tcp#3' }, request);
    await until('the other sender answered', () => answers.length === 3);
    expect(count).toBe(2);
    probe.close();

    const handledBefore = handled;
    await b.close();
    await expect(a.rpc.call(b.host.id, 'test.echo', {}, 1500)).rejects.toMatchObject({ code: 'GALAXY_RPC_TIMEOUT' });
    expect(handled).toBe(handledBefore);
    expect(a.rpc.counters.retries).toBeGreaterThanOrEqual(1);
  }, 60_000);
});
