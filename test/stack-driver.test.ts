// Proves that the StackDriver runs whole NodeStacks on real sockets and timers: three
// stacks on 127.0.0.1 (UDP and TCP), every byte sealed with one farm key, join through
// the first; an attribute written on one node replicates to the others through the
// FMIDB; a job created on the first node runs on the other two (this test plays their
// hosts: it answers each 'run' event with an 'exited' command) and finishes with their
// exit codes; a node that leaves gracefully while its process runs has that process
// reported lost; and datagrams not sealed with the farm key never reach a stack.
import { createSocket } from 'node:dgram';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveFmidbConfig } from '../src/core/fmidb/config.js';
import { FmidbMemory } from '../src/core/fmidb/fmidb-memory.js';
import { createFmidbRuntime } from '../src/core/kernels/fmidb-runtime.js';
import { createRuntime } from '../src/core/kernels/create-runtime.js';
import { membershipConfig } from '../src/core/membership/config.js';
import { NodeStack, type StackEvent } from '../src/core/stack/node-stack.js';
import { Prng } from '../src/core/util/prng.js';
import { parseWireAddress } from '../src/core/wire/message.js';
import { nodeIdOf } from '../src/core/wire/node-id-of.js';
import { StackDriver } from '../src/node/driver/stack-driver.js';
import { Keyring } from '../src/node/security/keyring.js';
import { until } from './support/until.js';

const drivers: StackDriver[] = [];
const config = membershipConfig({ membersMax: 16 }, 'local');
const fmidbConfig = resolveFmidbConfig({ originsMax: 16, gossipIntervalMs: 50 });

async function start(key: string, seeds: string[], seed: number, events: StackEvent[], exitCodes: Map<string, number> = new Map()): Promise<StackDriver> {
  let driver: StackDriver | null = null;
  driver = await StackDriver.start({
    bind: '127.0.0.1:0',
    keys: [key],
    tickIntervalMs: 10,
    makeStack: (address, nowMs) => {
      const random = new Prng(seed);
      return new NodeStack({
        address,
        nowMs,
        membership: { config, runtime: createRuntime({ backend: 'ts', memoryBytes: 32 << 20 }), id: nodeIdOf(address), address: parseWireAddress(address), seeds, random },
        fmidb: { config: fmidbConfig, random: random.fork(), memory: new FmidbMemory(createFmidbRuntime(fmidbConfig, 1, { backend: 'ts' }), fmidbConfig) },
        coordinator: { probeIntervalMs: 500, startRetryMs: 200 },
        runner: { endRetryMs: 200 },
      });
    },
    onEvent: (event) => {
      events.push(event);
      // The host: a process whose exit code is given exits 50 ms later; others run until their node stops.
      if (event.layer === 'run' && exitCodes.has(event.jobId)) setTimeout(() => driver!.command({ type: 'exited', jobId: event.jobId, index: event.index, exitCode: exitCodes.get(event.jobId)! }), 50);
    },
  });
  drivers.push(driver);
  return driver;
}

afterAll(async () => {
  await Promise.all(drivers.map((d) => d.stop()));
});

describe('StackDriver', () => {
  it('runs three sealed stacks on loopback: membership, FMIDB and jobs', async () => {
    const key = Keyring.generateKey();
    const aEvents: StackEvent[] = [];
    const a = await start(key, [], 1, aEvents);
    const b = await start(key, [a.address], 2, [], new Map([['j1', 0]]));
    const c = await start(key, [a.address], 3, [], new Map([['j1', 5]]));
    await until('all three see each other', () => [a, b, c].every((d) => d.stack.liveMembers().size === 3));

    b.command({ type: 'write', writes: [{ subject: b.address, key: 'rack', value: 'r2' }] });
    await until('the write reaches a and c', () => a.stack.fmidb.replica.get(b.address, 'rack') === 'r2' && c.stack.fmidb.replica.get(b.address, 'rack') === 'r2');

    a.command({ type: 'create-job', jobId: 'j1', command: 'work', nodes: [b.address, c.address] });
    await until('job j1 finishes', () => a.stack.coordinator.jobs.get('j1')?.finished === true);
    expect(a.stack.coordinator.jobs.get('j1')!.processes.map((p) => `${p.state}:${p.exitCode}`)).toEqual(['ended:0', 'ended:5']);

    // j2 runs forever on c; c leaves: its process is lost and the job still finishes.
    a.command({ type: 'create-job', jobId: 'j2', command: 'work', nodes: [c.address] });
    await until('j2 runs on c', () => a.stack.coordinator.jobs.get('j2')?.processes[0]?.state === 'running');
    await c.stop(200);
    await until('j2 finishes', () => a.stack.coordinator.jobs.get('j2')?.finished === true);
    expect(a.stack.coordinator.jobs.get('j2')!.processes[0]!.state).toBe('lost');
    expect(aEvents.some((e) => e.layer === 'membership' && e.event.type === 'leave' && e.event.address === c.address)).toBe(true);

    // Unsealed bytes (even a well-formed envelope) are dropped before the stack.
    const raw = createSocket('udp4');
    await new Promise<void>((resolve) => raw.bind(0, '127.0.0.1', resolve));
    const before = a.counters.unauthenticatedDropped;
    const port = Number(a.address.split(':')[1]);
    await new Promise<void>((resolve, reject) => raw.send(Buffer.from([0x81, 1, 6, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0x7b, 0x7d]), port, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
    await until('a drops it', () => a.counters.unauthenticatedDropped > before);
    raw.close();
    expect(a.stack.counters).toEqual({ forgedDropped: 0, revokedDropped: 0, unknownChannelDropped: 0, malformedDropped: 0, noRouteDropped: 0, jobFramesSent: 0, jobTooLargeDropped: 0, jobStartsUnopened: 0 });
  });
});
