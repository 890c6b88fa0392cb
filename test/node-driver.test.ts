// Proves the NodeDriver alone, without a worker thread: two drivers run in this test's
// thread on real loopback UDP and TCP sockets, each over its own shared memory, with
// reports collected in arrays instead of a parent port. They seal farm traffic with one
// farm key and converge (each reports the other's join); a messenger envelope sent with
// 'app-send' arrives on the other side as an 'app' report naming the sender's address;
// an unsealed admission datagram goes up as an 'admission' report while an unsealed
// membership datagram is dropped and counted; stats count it; 'stop' leaves gracefully
// (the other reports 'leave') and reports 'stopped'. A bind to a taken port reports
// 'failed' and calls closed(), as the worker's port used to be closed.
import { createSocket } from 'node:dgram';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeEnvelope } from '../src/core/messenger/envelope.js';
import type { AgentOptions } from '../src/node/driver/agent-options.js';
import type { AgentStats, AgentWorkerData, AgentWorkerReport } from '../src/node/driver/agent-worker-protocol.js';
import { NodeDriver } from '../src/node/driver/node-driver.js';
import { Keyring } from '../src/node/security/keyring.js';
import { encodeAdmission, isAdmissionDatagram } from '../src/farm/admission/admission-wire.js';
import { driverData } from './support/driver-data.js';
import { until } from './support/until.js';

interface Running {
  readonly driver: NodeDriver;
  readonly reports: AgentWorkerReport[];
  closedCalls: number;
}

const drivers: NodeDriver[] = [];

function dataOf(options: AgentOptions, seed: number): AgentWorkerData {
  return driverData(options, seed);
}

async function start(options: AgentOptions, seed: number): Promise<Running> {
  const reports: AgentWorkerReport[] = [];
  const running: Running = { driver: null as unknown as NodeDriver, reports, closedCalls: 0 };
  const driver = new NodeDriver({ data: dataOf(options, seed), report: (r) => reports.push(r), closed: () => running.closedCalls++, isAdmissionDatagram });
  (running as { driver: NodeDriver }).driver = driver;
  await driver.start();
  drivers.push(driver);
  return running;
}

function readyOf(r: Running): { address: string; id: string } {
  const ready = r.reports.find((x) => x.type === 'ready');
  if (ready === undefined || ready.type !== 'ready') throw new Error(`no ready report: ${JSON.stringify(r.reports.map((x) => x.type))}`);
  return ready;
}

function eventsOf(r: Running): Array<{ type: string; id: string }> {
  return r.reports.flatMap((x) => (x.type === 'events' ? x.events : []));
}

afterAll(async () => {
  await Promise.all(drivers.map((d) => d.stop(0)));
});

describe('NodeDriver', () => {
  it('runs a secure node on loopback: converges, carries envelopes and admission, counts drops, leaves', async () => {
    const key = Keyring.generateKey();
    const a = await start({ bind: '127.0.0.1:0', preset: 'local', keys: [key], secure: true }, 1);
    const aReady = readyOf(a);
    const b = await start({ bind: '127.0.0.1:0', preset: 'local', keys: [key], secure: true, join: [aReady.address] }, 2);
    const bReady = readyOf(b);
    await until('both see the other join', () => eventsOf(a).some((e) => e.type === 'join' && e.id === bReady.id) && eventsOf(b).some((e) => e.type === 'join' && e.id === aReady.id));

    // A messenger envelope goes through the seal and comes out as an app report.
    const envelope = encodeEnvelope('datagram', 7, bReady.id, Uint8Array.of(1, 2, 3));
    b.driver.handle({ type: 'app-send', messages: [{ peer: aReady.address, bytes: envelope, stream: false }] });
    await until('a gets the envelope', () => a.reports.some((x) => x.type === 'app'));
    const app = a.reports.find((x) => x.type === 'app');
    if (app?.type !== 'app') throw new Error('unreachable');
    expect(app.messages[0]!.peer).toBe(bReady.address);
    expect([...app.messages[0]!.bytes]).toEqual([...envelope]);

    // Unsealed bytes: an admission datagram goes up, anything else is dropped by the seal check.
    const raw = createSocket('udp4');
    await new Promise<void>((resolve) => raw.bind(0, '127.0.0.1', resolve));
    const [host, port] = [aReady.address.split(':')[0]!, Number(aReady.address.split(':')[1])];
    const admission = encodeAdmission({ type: 'hello' } as never);
    await new Promise<void>((resolve, reject) => raw.send(admission, port, host, (e) => (e ? reject(e) : resolve())));
    await new Promise<void>((resolve, reject) => raw.send(Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]), port, host, (e) => (e ? reject(e) : resolve())));
    await until('a hands the admission datagram up', () => a.reports.some((x) => x.type === 'admission'));
    a.driver.handle({ type: 'stats', requestId: 9 });
    const statsReport = a.reports.find((x) => x.type === 'stats');
    if (statsReport?.type !== 'stats') throw new Error('no stats report');
    const stats: AgentStats = statsReport.stats;
    expect(statsReport.requestId).toBe(9);
    expect(stats.admissionReceived).toBe(1);
    expect(stats.appReceived).toBe(1);
    expect(stats.keyring!.authenticationFailed + stats.keyring!.malformed).toBeGreaterThanOrEqual(1);
    expect(stats.aliveCount).toBe(2);
    raw.close();

    await b.driver.stop(300);
    expect(b.reports.at(-1)!.type).toBe('stopped');
    expect(b.closedCalls).toBe(1);
    await until('a sees b leave', () => eventsOf(a).some((e) => e.type === 'leave' && e.id === bReady.id));
  });

  it('reports failed and closes when the port is taken', async () => {
    const a = await start({ bind: '127.0.0.1:0', preset: 'local', secure: false }, 3);
    const taken = await start({ bind: readyOf(a).address, preset: 'local', secure: false }, 4);
    expect(taken.reports.map((x) => x.type)).toEqual(['failed']);
    expect(taken.closedCalls).toBe(1);
    expect(() => taken.driver.handle({ type: 'stats', requestId: 1 })).toThrow(/before start/);
  });
});
