// Proves that the agent's FMIDB replica is the one inside the NodeDriver's NodeStack (the
// driver the agent worker runs), not a replica beside it: two drivers in this thread on
// real loopback sockets, sealed with one farm key, each with its FMIDB opened by the
// 'fmidb-open' request as the main thread opens it.
//  - A write sent as an 'fmidb-write' request on A comes back as A's answer after A's
//    own change report, and reaches B as an 'fmidb' change report naming A's node id as
//    origin: the stack carried it on the messenger's fmidb channel.
//  - A snapshot's origin given at open is in the replica and reported as loaded.
//  - An FMIDB envelope sealed with the farm key but claiming A's id from another
//    address reaches B's stack and is dropped there as forged (its forgedDropped
//    counter, in the stats the agent reports): the stack's sender rule guards the replica.
//  - A write the replica's limits refuse is answered with the FmidbError's code.
//  - After a 'revoke' of A, B's stack drops A's FMIDB traffic (revokedDropped).
import { createSocket } from 'node:dgram';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeEnvelope } from '../src/core/messenger/envelope.js';
import { channelByName } from '../src/core/messenger/channel-table.js';
import type { AgentOptions } from '../src/node/driver/agent-options.js';

import { NodeDriver } from '../src/node/driver/node-driver.js';
import { Keyring } from '../src/node/security/keyring.js';
import { startDriver, type RunningDriver } from './support/driver-data.js';
import { until } from './support/until.js';

type Running = RunningDriver;

const drivers: NodeDriver[] = [];

function start(options: AgentOptions, seed: number): Promise<Running> {
  return startDriver(options, seed, drivers);
}

function readyOf(r: Running): { address: string; id: string } {
  const ready = r.reports.find((x) => x.type === 'ready');
  if (ready === undefined || ready.type !== 'ready') throw new Error(`no ready report: ${JSON.stringify(r.reports.map((x) => x.type))}`);
  return ready;
}

function changesOf(r: Running): Array<{ subject: string; key: string; value: unknown; origin: string }> {
  return r.reports.flatMap((x) => (x.type === 'fmidb' ? x.changes : []));
}

afterAll(async () => {
  await Promise.all(drivers.map((d) => d.stop(0)));
});

describe('NodeDriver runs the FMIDB in its stack', () => {
  it('replicates a write between two drivers, loads a snapshot, and drops a forged FMIDB envelope', async () => {
    const key = Keyring.generateKey();
    const a = await start({ bind: '127.0.0.1:0', preset: 'local', keys: [key], secure: true }, 11);
    const aReady = readyOf(a);
    const b = await start({ bind: '127.0.0.1:0', preset: 'local', keys: [key], secure: true, join: [aReady.address] }, 12);
    const bReady = readyOf(b);
    await until('both see the other', () => a.driver.engine!.aliveCount === 2 && b.driver.engine!.aliveCount === 2);

    // A opens with a snapshot holding one origin; B opens empty.
    const restored = '00000000000000cc';
    a.driver.handle({ type: 'fmidb-open', options: {}, randomSeed: 1, snapshot: [{ origin: restored, version: 5, entries: [{ subject: restored, key: 'rack', value: 'r5', version: 5 }] }] });
    b.driver.handle({ type: 'fmidb-open', options: {}, randomSeed: 2, snapshot: [] });
    const opened = a.reports.find((x) => x.type === 'fmidb-opened');
    expect(opened).toMatchObject({ type: 'fmidb-opened', origins: 1, entries: 1, refused: [] });
    expect(a.driver.stack!.fmidb.replica.get(restored, 'rack')).toBe('r5');

    // A write on A: answered after A's own change report, then replicated to B by the stacks.
    a.driver.handle({ type: 'fmidb-write', requestId: 1, writes: [{ subject: bReady.id, key: 'rack', value: 'r12' }] });
    const answer = a.reports.findIndex((x) => x.type === 'fmidb-written' && x.requestId === 1);
    const ownChange = a.reports.findIndex((x) => x.type === 'fmidb' && x.changes.some((c) => c.subject === bReady.id && c.value === 'r12'));
    expect(answer).toBeGreaterThan(-1);
    expect(ownChange).toBeGreaterThan(-1);
    expect(ownChange).toBeLessThan(answer);
    expect(a.reports[answer]).toMatchObject({ error: null });
    await until('b reports the change', () => changesOf(b).some((c) => c.subject === bReady.id && c.key === 'rack' && c.value === 'r12'));
    expect(changesOf(b).find((c) => c.subject === bReady.id)!.origin).toBe(aReady.id);
    expect(b.driver.stack!.fmidb.replica.get(bReady.id, 'rack')).toBe('r12');
    // The snapshot's entry reaches B too, from A's replica.
    await until('b holds the restored origin', () => b.driver.stack!.fmidb.replica.get(restored, 'rack') === 'r5');

    // Sealed with the farm key, an FMIDB envelope claiming A's id from another socket: forged.
    const forgedBefore = b.driver.stack!.counters.forgedDropped;
    const raw = createSocket('udp4');
    await new Promise<void>((resolve) => raw.bind(0, '127.0.0.1', resolve));
    const sealed = new Keyring([key]).seal(encodeEnvelope('datagram', channelByName('fmidb').id, aReady.id, Uint8Array.of(1, 2, 3, 4)));
    const [host, port] = [bReady.address.split(':')[0]!, Number(bReady.address.split(':')[1])];
    await new Promise<void>((resolve, reject) => raw.send(sealed, port, host, (e) => (e ? reject(e) : resolve())));
    await until('b drops the forged envelope', () => b.driver.stack!.counters.forgedDropped > forgedBefore);
    raw.close();
    b.driver.handle({ type: 'stats', requestId: 3 });
    const stats = b.reports.find((x) => x.type === 'stats');
    if (stats?.type !== 'stats') throw new Error('no stats report');
    expect(stats.stats.stack.forgedDropped).toBe(forgedBefore + 1);
    // Nothing of it reached the main thread's messenger: FMIDB envelopes stay in the stack.
    expect(stats.stats.appReceived).toBe(0);

    // A write the limits refuse: answered with the code, nothing written.
    b.driver.handle({ type: 'fmidb-write', requestId: 2, writes: [{ subject: '', key: 'k', value: 1 }] });
    expect(b.reports.find((x) => x.type === 'fmidb-written' && x.requestId === 2)).toMatchObject({ stamp: -1, error: { code: 'FMIDB_SUBJECT_INVALID' } });

    // Once the farm revokes A, B's stack takes none of A's FMIDB traffic.
    b.driver.handle({ type: 'revoke', id: aReady.id });
    a.driver.handle({ type: 'fmidb-write', requestId: 5, writes: [{ subject: aReady.id, key: 'late', value: 1 }] });
    await until("b drops the revoked node's FMIDB traffic", () => b.driver.stack!.counters.revokedDropped > 0);
    expect(b.driver.stack!.fmidb.replica.get(aReady.id, 'late')).toBeUndefined();

    // The digest and the export come from the stack's replica.
    b.driver.handle({ type: 'fmidb-read', requestId: 4, exportOrigins: true });
    const read = b.reports.find((x) => x.type === 'fmidb-read');
    if (read?.type !== 'fmidb-read') throw new Error('no fmidb-read report');
    expect(read.readout.digest).toBe(b.driver.stack!.fmidb.replica.digestHash());
    expect(read.readout.origins!.map((o) => o.origin).sort()).toEqual([aReady.id, restored].sort());
  });
});
