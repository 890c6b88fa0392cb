// Proves the agent's NodeDriver takes the one-pass batch path on the native transport
// (issue 14): two secure drivers on loopback converge while every datagram they receive
// is opened by Keyring.openBatch, one call per recvmmsg batch, on the driver's own
// keyring (a spy that counts calls and passes them to the real method), and never by a
// per-datagram openView, while the replies sent during a batch are sealed together by
// Keyring.sealBatch; an admission datagram (unsealed) still goes up without being counted
// as a malformed farm message, while unsealed garbage is; a node that starts waiting for admission (secure, no keys) takes
// the batch path from the 'keys' request on and then converges too. Without the spy's
// calls (the per-datagram path this replaced), the counts below fail.
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import type { AgentOptions } from '../src/node/driver/agent-options.js';
import type { AgentWorkerData, AgentWorkerReport } from '../src/node/driver/agent-worker-protocol.js';
import { NodeDriver } from '../src/node/driver/node-driver.js';
import { Keyring } from '../src/node/security/keyring.js';
import { encodeAdmission, isAdmissionDatagram } from '../src/farm/admission/admission-wire.js';
import { createSocket } from 'node:dgram';
import { driverData } from './support/driver-data.js';
import { until } from './support/until.js';

const drivers: NodeDriver[] = [];

function dataOf(options: AgentOptions, seed: number): AgentWorkerData {
  return driverData(options, seed);
}

async function start(options: AgentOptions, seed: number): Promise<{ driver: NodeDriver; reports: AgentWorkerReport[]; address: string; id: string }> {
  const reports: AgentWorkerReport[] = [];
  const driver = new NodeDriver({ data: dataOf(options, seed), report: (r) => reports.push(r), isAdmissionDatagram });
  await driver.start();
  drivers.push(driver);
  const ready = reports.find((x) => x.type === 'ready');
  if (ready?.type !== 'ready') throw new Error(`no ready report: ${JSON.stringify(reports)}`);
  expect(ready.transport).toBe('native');
  return { driver, reports, address: ready.address, id: ready.id };
}

function joined(reports: AgentWorkerReport[], id: string): boolean {
  return reports.some((x) => x.type === 'events' && x.events.some((e) => e.type === 'join' && e.id === id));
}

/** Each wait's bound in this file (longer than support/until.ts's default). */
const kWaitMs = 20_000;

afterEach(() => {
  vi.restoreAllMocks();
});

afterAll(async () => {
  await Promise.all(drivers.map((d) => d.stop(0)));
});

describe('NodeDriver on the native transport', () => {
  it('opens every received batch in one Keyring.openBatch call, never datagram by datagram', async () => {
    const openBatch = vi.spyOn(Keyring.prototype, 'openBatch');
    const openView = vi.spyOn(Keyring.prototype, 'openView');
    const sealBatch = vi.spyOn(Keyring.prototype, 'sealBatch');
    const key = Keyring.generateKey();
    const a = await start({ bind: '127.0.0.1:0', preset: 'local', keys: [key], transport: 'native' }, 1);
    const b = await start({ bind: '127.0.0.1:0', preset: 'local', keys: [key], transport: 'native', join: [a.address] }, 2);
    await until('both see the other join', () => joined(a.reports, b.id) && joined(b.reports, a.id), kWaitMs);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const received = a.driver.engine!.stats.datagramsReceived + b.driver.engine!.stats.datagramsReceived;
    expect(received).toBeGreaterThan(5);
    // Every call is one batch; the slots it opened cover every datagram the engines took.
    const slots = openBatch.mock.calls.reduce((sum, call) => sum + (call[1] as number), 0);
    expect(openBatch.mock.calls.length).toBeGreaterThan(0);
    expect(slots).toBeGreaterThanOrEqual(received);
    // openView is only the stream frames' path (push-pull over TCP), never a datagram's:
    // the per-datagram path this replaced called it once per datagram received.
    expect(openView.mock.calls.length).toBeLessThan(received);
    // The replies the engines sent while handling a batch (their acks) were sealed in one sealBatch call per batch.
    const repliesSealed = sealBatch.mock.results.reduce((sum, result) => sum + (result.value as number), 0);
    expect(sealBatch.mock.calls.length).toBeGreaterThan(0);
    expect(repliesSealed).toBeGreaterThan(0);
    // An admission datagram still goes up, and is not counted as a malformed farm message; garbage is.
    const raw = createSocket('udp4');
    await new Promise<void>((resolve) => raw.bind(0, '127.0.0.1', resolve));
    const [host, port] = [a.address.split(':')[0]!, Number(a.address.split(':')[1])];
    const statsOf = async (requestId: number) => {
      a.driver.handle({ type: 'stats', requestId });
      await until('a reports its stats', () => a.reports.some((x) => x.type === 'stats' && x.requestId === requestId), kWaitMs);
      const report = a.reports.find((x) => x.type === 'stats' && x.requestId === requestId);
      if (report?.type !== 'stats') throw new Error('no stats report');
      return report.stats;
    };
    const before = await statsOf(1);
    await new Promise<void>((resolve, reject) => raw.send(encodeAdmission({ type: 'hello' } as never), port, host, (e) => (e ? reject(e) : resolve())));
    await until('a hands the admission datagram up', () => a.reports.some((x) => x.type === 'admission'), kWaitMs);
    expect((await statsOf(2)).keyring!.malformed).toBe(before.keyring!.malformed);
    await new Promise<void>((resolve, reject) => raw.send(Buffer.from([9, 9, 9]), port, host, (e) => (e ? reject(e) : resolve())));
    await until('a counts the garbage as malformed', () => {
      a.driver.handle({ type: 'stats', requestId: 3 });
      const report = a.reports.filter((x) => x.type === 'stats' && x.requestId === 3).at(-1);
      return report?.type === 'stats' && report.stats.keyring!.malformed === before.keyring!.malformed + 1;
    }, kWaitMs);
    raw.close();
    await Promise.all([a.driver.stop(0), b.driver.stop(0)]);
  });

  it('a node waiting for admission takes the batch path once its keys arrive', async () => {
    const key = Keyring.generateKey();
    const a = await start({ bind: '127.0.0.1:0', preset: 'local', keys: [key], transport: 'native' }, 3);
    const waiting = await start({ bind: '127.0.0.1:0', preset: 'local', secure: true, transport: 'native', join: [a.address] }, 4);
    const openBatch = vi.spyOn(Keyring.prototype, 'openBatch');
    waiting.driver.handle({ type: 'keys', keys: [key] });
    await until('both see the other join', () => joined(a.reports, waiting.id) && joined(waiting.reports, a.id), kWaitMs);
    await until('the admitted node receives datagrams', () => waiting.driver.engine!.stats.datagramsReceived > 2, kWaitMs);
    // Two keyrings open batches: a's, and the one the waiting node made from its 'keys' request.
    expect(new Set(openBatch.mock.contexts).size).toBe(2);
  });
});
