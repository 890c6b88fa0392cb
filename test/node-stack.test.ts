// Proves NodeStack's own wiring on one or two stacks driven by hand (no simulator):
// envelopes are routed by channel and dropped when their sender id is not the id of
// the address they came from (a frame on an inbound connection, which names no node,
// is taken from the member its envelope names), their channel is not one the stack
// runs, or the mode they name is not the one they travelled by or one their channel
// carries; a job whose
// only node is the coordinator itself runs without touching the network; and between
// two stacks exchanging their outputs directly, a join feeds the FMIDB's peers (a
// write replicates) while a death reported by membership loses the dead node's
// process and hides its FMIDB record. With job nodes named by sender id (as the agent
// names them), a start too big for a datagram goes as a stream frame, launches and
// launch failures come back through the runner, a stop and a signal reach the host, and
// a coordinator's departure has its processes terminated. A stack made without jobs
// (the agent's) drops the jobs channel until an 'open-jobs' command, which feeds the new
// cores the members it already holds, and cannot be opened twice.
import { describe, expect, it } from 'vitest';
import { resolveFmidbConfig } from '../src/core/fmidb/config.js';
import { FmidbMemory } from '../src/core/fmidb/fmidb-memory.js';
import { createFmidbRuntime } from '../src/core/kernels/fmidb-runtime.js';
import { createRuntime } from '../src/core/kernels/create-runtime.js';
import { membershipConfig } from '../src/core/membership/config.js';
import { encodeEnvelope } from '../src/core/messenger/envelope.js';
import { NodeStack, type StackEvent, type StackOutput } from '../src/core/stack/node-stack.js';
import { Prng } from '../src/core/util/prng.js';
import { formatNodeId, parseWireAddress } from '../src/core/wire/message.js';
import { nodeIdOf } from '../src/core/wire/node-id-of.js';
import { encodeJobMessage, kJobMessageBytesMax } from '../src/core/jobs/job-message.js';

const config = membershipConfig({ membersMax: 16 }, 'local');
const fmidbConfig = resolveFmidbConfig({ originsMax: 16 });
const fmidbMemory = new FmidbMemory(createFmidbRuntime(fmidbConfig, 4, { backend: 'ts' }), fmidbConfig);

function stackAt(address: string, seeds: readonly string[] = [], seed = 1): NodeStack {
  const runtime = createRuntime({ backend: 'ts', memoryBytes: 32 << 20 });
  const random = new Prng(seed);
  const stack = new NodeStack({
    address,
    nowMs: 0,
    membership: { config, runtime, id: nodeIdOf(address), address: parseWireAddress(address), seeds, random },
    fmidb: { config: fmidbConfig, random: random.fork(), memory: fmidbMemory },
    coordinator: { probeIntervalMs: 1_000_000 },
  });
  stack.step({ type: 'command', command: { type: 'start' } });
  return stack;
}

function drain(stack: NodeStack): StackOutput[] {
  const out = stack.ready().slice();
  stack.advance();
  return out;
}

describe('NodeStack', () => {
  it('drops forged and unknown-channel envelopes, and runs a job on itself without the network', () => {
    const a = stackAt('10.0.0.1:7946');
    drain(a);
    const payload = encodeJobMessage({ t: 'probe', round: 1, keys: [] });
    a.step({ type: 'datagram', from: '10.0.0.2:7946', bytes: encodeEnvelope('datagram', 6, formatNodeId(nodeIdOf('10.0.0.3:7946')), payload) });
    expect(a.counters.forgedDropped).toBe(1);
    a.step({ type: 'datagram', from: '10.0.0.2:7946', bytes: encodeEnvelope('datagram', 999, formatNodeId(nodeIdOf('10.0.0.2:7946')), payload) });
    expect(a.counters.unknownChannelDropped).toBe(1);
    // An envelope whose mode is not the one it travelled by, or not one its channel carries, is dropped too.
    const b = formatNodeId(nodeIdOf('10.0.0.2:7946'));
    a.step({ type: 'datagram', from: '10.0.0.2:7946', bytes: encodeEnvelope('stream', 6, b, payload) });
    a.step({ type: 'datagram', from: '10.0.0.2:7946', bytes: encodeEnvelope('broadcast', 6, b, payload) });
    a.step({ type: 'frame', from: '10.0.0.2:7946', bytes: encodeEnvelope('datagram', 6, b, payload) });
    a.step({ type: 'frame', from: '10.0.0.2:7946', bytes: encodeEnvelope('datagram', 5, b, Uint8Array.of(1, 2, 3)) });
    expect(a.counters.unknownChannelDropped).toBe(5);
    expect(drain(a)).toEqual([]);
    a.step({ type: 'datagram', from: '10.0.0.2:7946', bytes: encodeEnvelope('datagram', 6, formatNodeId(nodeIdOf('10.0.0.2:7946')), payload) });
    expect(drain(a)).toEqual([{ type: 'datagram', to: '10.0.0.2:7946', bytes: expect.any(Uint8Array) }]);

    a.step({ type: 'command', command: { type: 'create-job', jobId: 'j', command: 'true', nodes: ['10.0.0.1:7946'] } });
    const out = drain(a);
    expect(out.filter((o) => o.type !== 'event')).toEqual([]);
    expect(out.map((o) => (o.type === 'event' ? o.event.layer : o.type))).toEqual(['run', 'jobs']);
    a.step({ type: 'command', command: { type: 'exited', jobId: 'j', index: 0, exitCode: 0 } });
    const done = drain(a).flatMap((o) => (o.type === 'event' && o.event.layer === 'jobs' ? [o.event.event.type] : []));
    expect(done).toEqual(['process-ended', 'job-finished']);
  });

  it('feeds membership into the FMIDB and the coordinator', () => {
    const [aAddress, bAddress] = ['10.0.0.1:7946', '10.0.0.2:7946'];
    const a = stackAt(aAddress, [], 1);
    const b = stackAt(bAddress, [aAddress], 2);
    const stacks = new Map([
      [aAddress, a],
      [bAddress, b],
    ]);
    let nowMs = 0;
    // Delivers every output at once (the tick in between plays the network's latency).
    const exchange = (): void => {
      for (const [from, s] of stacks) {
        for (const o of drain(s)) {
          if (o.type === 'event') continue;
          stacks.get(o.to)?.step(o.type === 'datagram' ? { type: 'datagram', from, bytes: o.bytes } : { type: 'frame', from, bytes: o.bytes });
        }
      }
    };
    const runMs = (ms: number): void => {
      for (const end = nowMs + ms; nowMs < end; nowMs += 10) {
        for (const s of stacks.values()) s.tick(nowMs);
        exchange();
      }
    };
    runMs(500);
    expect([...a.liveMembers()].sort()).toEqual([aAddress, bAddress]);
    // A frame on an inbound connection ("tcp#9") is taken from the member its envelope names; an unknown sender is dropped.
    const malformedBefore = a.fmidb.replica.counters.malformed;
    a.step({ type: 'frame', from: 'tcp#9', bytes: encodeEnvelope('stream', 5, formatNodeId(nodeIdOf(bAddress)), Uint8Array.of(1, 2, 3)) });
    expect(a.fmidb.replica.counters.malformed).toBe(malformedBefore + 1);
    a.step({ type: 'frame', from: 'tcp#9', bytes: encodeEnvelope('stream', 5, formatNodeId(nodeIdOf('10.0.0.9:7946')), Uint8Array.of(1, 2, 3)) });
    expect(a.counters.forgedDropped).toBe(1);
    b.step({ type: 'command', command: { type: 'write', writes: [{ subject: bAddress, key: 'rack', value: 'r7' }] } });
    a.step({ type: 'command', command: { type: 'create-job', jobId: 'j', command: 'sleep', nodes: [bAddress] } });
    runMs(2000);
    expect(a.fmidb.replica.get(bAddress, 'rack')).toBe('r7');
    expect(a.coordinator.jobs.get('j')!.processes[0]!.state).toBe('running');
    // b falls silent (its process died): a's membership declares it dead, which loses its process and hides its record.
    stacks.delete(bAddress);
    runMs(30_000);
    expect(a.liveMembers().has(bAddress)).toBe(false);
    const p = a.coordinator.jobs.get('j')!.processes[0]!;
    expect(p.state).toBe('lost');
    expect(p.reason).toMatch(/left the farm/);
    expect(a.fmidb.replica.get(bAddress, 'rack')).toBeUndefined();
  });

  it('names job nodes by sender id, sends a start too big for a datagram as a frame, and passes launches, stops, signals and orphans between host and cores', () => {
    const [aAddress, bAddress] = ['10.0.0.1:7946', '10.0.0.2:7946'];
    const idOf = (address: string): string => formatNodeId(nodeIdOf(address));
    const [aId, bId] = [idOf(aAddress), idOf(bAddress)];
    const make = (address: string, seeds: readonly string[], seed: number): NodeStack => {
      const runtime = createRuntime({ backend: 'ts', memoryBytes: 32 << 20 });
      const stack = new NodeStack({
        address,
        nowMs: 0,
        membership: { config, runtime, id: nodeIdOf(address), address: parseWireAddress(address), seeds, random: new Prng(seed) },
        jobsNames: 'sender-id',
        coordinator: { probeIntervalMs: 1_000_000 },
        runner: { confirmLaunches: true },
      });
      stack.step({ type: 'command', command: { type: 'start' } });
      return stack;
    };
    const a = make(aAddress, [], 1);
    const b = make(bAddress, [aAddress], 2);
    const stacks = new Map([
      [aAddress, a],
      [bAddress, b],
    ]);
    const events = new Map<string, StackOutput[]>([
      [aAddress, []],
      [bAddress, []],
    ]);
    const sent: StackOutput[] = [];
    let nowMs = 0;
    const exchange = (): void => {
      for (const [from, s] of stacks) {
        for (const o of drain(s)) {
          if (o.type === 'event') {
            events.get(from)!.push(o);
            continue;
          }
          sent.push(o);
          stacks.get(o.to)?.step(o.type === 'datagram' ? { type: 'datagram', from, bytes: o.bytes } : { type: 'frame', from, bytes: o.bytes });
        }
      }
    };
    const runMs = (ms: number): void => {
      for (const end = nowMs + ms; nowMs < end; nowMs += 10) {
        for (const s of stacks.values()) s.tick(nowMs);
        exchange();
      }
    };
    const hostEvents = (address: string, layer: string): unknown[] =>
      events.get(address)!.flatMap((o) => (o.type === 'event' && o.event.layer === layer ? [o.event] : []));
    runMs(500);
    expect(a.coordinator.selfId).toBe(aId);

    // A command far over a datagram's job message (an agent's start carries the whole script).
    const big = 'x'.repeat(3 * kJobMessageBytesMax);
    a.step({ type: 'command', command: { type: 'create-job', jobId: 'j', command: big, nodes: [bId, aId] } });
    sent.length = 0;
    runMs(100);
    expect(a.counters.jobFramesSent).toBeGreaterThanOrEqual(1);
    expect(sent.some((o) => o.type === 'frame' && o.to === bAddress && o.bytes.length > kJobMessageBytesMax)).toBe(true);
    // Both nodes were asked to run it (a by itself, without the network), and nothing answered before the hosts confirmed.
    expect(hostEvents(bAddress, 'run')).toEqual([{ layer: 'run', jobId: 'j', index: 0, command: big }]);
    expect(hostEvents(aAddress, 'run')).toEqual([{ layer: 'run', jobId: 'j', index: 1, command: big }]);
    expect(a.coordinator.jobs.get('j')!.processes.map((p) => p.state)).toEqual(['starting', 'starting']);
    b.step({ type: 'command', command: { type: 'launched', jobId: 'j', index: 0, pid: 4242 } });
    a.step({ type: 'command', command: { type: 'launch-failed', jobId: 'j', index: 1, reason: 'no such user' } });
    runMs(100);
    const processes = a.coordinator.jobs.get('j')!.processes;
    expect(processes[0]).toMatchObject({ state: 'running', node: bId });
    expect(processes[1]).toMatchObject({ state: 'failed', node: aId });
    expect(hostEvents(aAddress, 'jobs')).toContainEqual({ layer: 'jobs', event: { type: 'process-running', jobId: 'j', index: 0, node: bId, pid: 4242 } });

    // The operator's signal and stop reach b's host; its end goes back with the host's detail.
    a.step({ type: 'command', command: { type: 'signal-job', jobId: 'j', signal: 'SIGUSR1' } });
    a.step({ type: 'command', command: { type: 'stop-job', jobId: 'j' } });
    runMs(100);
    expect(hostEvents(bAddress, 'signal')).toEqual([{ layer: 'signal', jobId: 'j', index: 0, signal: 'SIGUSR1' }]);
    expect(hostEvents(bAddress, 'terminate')).toEqual([{ layer: 'terminate', jobId: 'j', index: 0 }]);
    b.step({ type: 'command', command: { type: 'exited', jobId: 'j', index: 0, exitCode: null, signal: 'SIGTERM', undeliveredBytes: 7 } });
    runMs(100);
    expect(hostEvents(aAddress, 'jobs')).toContainEqual({
      layer: 'jobs',
      event: { type: 'process-ended', jobId: 'j', index: 0, node: bId, exitCode: null, detail: { signal: 'SIGTERM', undeliveredBytes: 7 } },
    });
    expect(hostEvents(aAddress, 'jobs')).toContainEqual({ layer: 'jobs', event: { type: 'job-finished', jobId: 'j', atMs: expect.any(Number) } });

    // A datagram may not carry more than a datagram's job message: only frames do.
    const malformed = b.counters.malformedDropped;
    b.step({ type: 'datagram', from: aAddress, bytes: encodeEnvelope('datagram', 6, aId, encodeJobMessage({ t: 'start', jobId: 'k', index: 0, command: big }, 1 << 20)) });
    expect(b.counters.malformedDropped).toBe(malformed + 1);

    // An orphan: b runs a process for a, then a leaves the farm; b's runner has its host terminate it.
    a.step({ type: 'command', command: { type: 'create-job', jobId: 'o', command: 'sleep', nodes: [bId] } });
    runMs(100);
    b.step({ type: 'command', command: { type: 'launched', jobId: 'o', index: 0, pid: 4243 } });
    runMs(100);
    expect(a.coordinator.jobs.get('o')!.processes[0]!.state).toBe('running');
    stacks.delete(aAddress);
    runMs(30_000);
    expect(b.liveMembers().has(aAddress)).toBe(false);
    expect(hostEvents(bAddress, 'terminate')).toContainEqual({ layer: 'terminate', jobId: 'o', index: 0 });
  });

  it('opens job coordination late with open-jobs: the live members it already holds are the coordinator\'s at once', () => {
    const [aAddress, bAddress] = ['10.0.0.1:7946', '10.0.0.2:7946'];
    const make = (address: string, seeds: readonly string[], seed: number, jobs: boolean): NodeStack => {
      const runtime = createRuntime({ backend: 'ts', memoryBytes: 32 << 20 });
      const stack = new NodeStack({ address, nowMs: 0, membership: { config, runtime, id: nodeIdOf(address), address: parseWireAddress(address), seeds, random: new Prng(seed) }, jobs });
      stack.step({ type: 'command', command: { type: 'start' } });
      return stack;
    };
    const a = make(aAddress, [], 1, false);
    const b = make(bAddress, [aAddress], 2, true);
    const stacks = new Map([
      [aAddress, a],
      [bAddress, b],
    ]);
    let nowMs = 0;
    const runMs = (ms: number): void => {
      for (const end = nowMs + ms; nowMs < end; nowMs += 10) {
        for (const [from, s] of stacks) {
          s.tick(nowMs);
          for (const o of drain(s)) if (o.type !== 'event') stacks.get(o.to)?.step(o.type === 'datagram' ? { type: 'datagram', from, bytes: o.bytes } : { type: 'frame', from, bytes: o.bytes });
        }
      }
    };
    runMs(500);
    expect(a.hasJobs).toBe(false);
    // Not open: b's start to a is refused at once (a runs no coordination), not dropped.
    b.step({ type: 'command', command: { type: 'create-job', jobId: 'early', command: 'true', nodes: [aAddress] } });
    const bEvents: StackEvent[] = [];
    for (let t = 0; t < 10; t++) {
      nowMs += 10;
      for (const [from, s] of stacks) {
        s.tick(nowMs);
        for (const o of drain(s)) {
          if (o.type === 'event') {
            if (s === b) bEvents.push(o.event);
          } else stacks.get(o.to)?.step(o.type === 'datagram' ? { type: 'datagram', from, bytes: o.bytes } : { type: 'frame', from, bytes: o.bytes });
        }
      }
    }
    expect(a.counters.jobStartsUnopened).toBe(1);
    expect(bEvents.some((e) => e.layer === 'jobs' && e.event.type === 'process-failed' && e.event.jobId === 'early' && /never started/.test(e.event.reason))).toBe(true);

    a.step({ type: 'command', command: { type: 'open-jobs', jobs: { coordinator: { probeIntervalMs: 1_000_000 } } } });
    expect(a.hasJobs).toBe(true);
    // Busy (the driver ticks the cores every 100 ms, else every second) only while a job is unfinished or an end unacknowledged.
    expect(a.jobsBusy).toBe(false);
    a.step({ type: 'command', command: { type: 'create-job', jobId: 'j', command: 'true', nodes: [bAddress] } });
    expect(a.jobsBusy).toBe(true);
    runMs(100);
    expect(a.coordinator.jobs.get('j')!.processes[0]!.state).toBe('running');
    b.step({ type: 'command', command: { type: 'exited', jobId: 'j', index: 0, exitCode: 0 } });
    expect(b.jobsBusy).toBe(true);
    runMs(100);
    expect(a.coordinator.jobs.get('j')!.finished).toBe(true);
    expect(a.jobsBusy).toBe(false);
    expect(b.jobsBusy).toBe(false);
    // The coordinator holds the live set from its opening: a node outside it is lost at once (with no live set it would wait for its starts to go unanswered).
    a.step({ type: 'command', command: { type: 'create-job', jobId: 'k', command: 'true', nodes: ['10.0.0.9:7946'] } });
    expect(a.coordinator.jobs.get('k')!.processes[0]).toMatchObject({ state: 'lost', reason: expect.stringMatching(/not a live member/) });
    expect(() => a.step({ type: 'command', command: { type: 'open-jobs', jobs: {} } })).toThrow(/open already/);
  });
});
