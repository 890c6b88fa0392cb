/**
 * bench:path's agent rows (issue 14 item 2 on the real agent): a NodeDriver, the very
 * class workers/agent-worker.ts runs as the agent's worker, built from the same
 * AgentWorkerData the agent's main thread hands its worker (a secure farm with one key,
 * the native transport, the `lan` preset, the membership table in shared memory holding
 * `members` members), absorbs sealed one-entry heartbeat pings that bench/path-blaster.ts
 * sends from another process over loopback, and answers each with a sealed ack. Nothing
 * is replaced: recvmmsg, the batch open in one native call (Keyring.openBatch), the
 * stack, the engine's decode and merge, the sealed reply and the sendmmsg are the
 * agent's own code. The driver runs on this process's main thread instead of a worker
 * thread so that its CPU and its heap can be read (process.cpuUsage, V8's heap); the
 * process does nothing else during the window (the blaster's IPC message ends it).
 *
 * Measured over a steady window after a warm-up window:
 *  - datagrams/s absorbed: pings the engine received (its datagramsReceived counter) per
 *    second of wall time;
 *  - CPU µs per datagram: the process's user+system CPU over the window divided by the
 *    pings absorbed (recvmmsg, the open, the merge, the seal, sendmmsg and the event
 *    loop's own work all included);
 *  - per busy core: absorbed / cores used;
 *  - JS heap bytes per datagram: gc() before the window, V8's used heap after it, no
 *    collection inside it (--max-semi-space-size=64, checked with a PerformanceObserver;
 *    a window with a collection is retried shorter), divided by the pings absorbed. It
 *    includes the per-batch and per-wake-up allocations (the clock read, timers), so 0
 *    per datagram shows as a small fraction of a byte.
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { getHeapStatistics } from 'node:v8';
import { Session } from 'node:inspector/promises';
import { isAdmissionDatagram } from '../src/farm/admission/admission-wire.js';
import { createRuntime } from '../src/core/kernels/create-runtime.js';
import { MessageParts } from '../src/core/membership/message-parts.js';
import { MembershipTable } from '../src/core/table/membership-table.js';
import { agentWorkerData } from '../src/node/driver/agent-host.js';
import { assembleParts } from '../src/core/wire/compound.js';
import * as F from '../src/core/wire/format.js';
import { parseWireAddress, type NodeId } from '../src/core/wire/message.js';
import { agentSettings } from '../src/node/driver/agent-options.js';
import type { AgentWorkerReport } from '../src/node/driver/agent-worker-protocol.js';
import { NodeDriver } from '../src/node/driver/node-driver.js';
import { Keyring } from '../src/node/security/keyring.js';
import { Prng } from '../src/core/util/prng.js';
import { freePort } from './free-port.js';

const kPreparedDatagrams = 512;
const kBenchScratchBytes = 1 << 20;

export interface AgentAbsorbRow {
  readonly variant: string;
  readonly members: number;
  readonly offeredPerSecond: number;
  readonly absorbedPerSecond: number;
  readonly agentCores: number;
  readonly cpuUsPerDatagram: number;
  readonly absorbedPerCoreSecond: number;
  /** JS heap growth per absorbed datagram over a window without collection; NaN when every attempt saw one. */
  readonly heapBytesPerDatagram: number;
  /** Datagrams absorbed in the heap window. */
  readonly heapWindowDatagrams: number;
  /** Membership events the driver reported during the whole run (the agent's probes of members that never answer). */
  readonly events: number;
  /**
   * The same driver fed full recvmmsg batches of 64 in this process (the addon's batch
   * callback called with the prepared sealed pings, as bench/path-rig.ts does): CPU µs
   * per datagram (median of rounds) and JS heap bytes per datagram, with the scheduler
   * and the batch sizes a loaded machine gives left out.
   */
  readonly fullBatches: { readonly cpuUsPerDatagram: number; readonly heapBytesPerDatagram: number; readonly repliesPerDatagram: number };
  /**
   * The counting harness (issue 14 step 1): the same driver fed prepared batches of 64 and
   * of 4 datagrams after a long warm-up, heap growth over each run with no collection
   * inside, solved for bytes per batch and bytes per datagram (growth = batches × perBatch +
   * datagrams × perDatagram). NaN when every attempt saw a collection.
   */
  readonly counted: AllocationCount;
}

export interface AllocationCount {
  /** The repetition with the least growth: the path as optimised code runs it (JIT transients only add). */
  readonly perDatagramBytes: number;
  readonly perBatchBytes: number;
  /** The median repetition: what a window typically shows, deoptimisations and recompilations included. */
  readonly medianPerDatagramBytes: number;
  readonly medianPerBatchBytes: number;
  /** Heap growth per batch of 64 and per batch of 4, bytes, per repetition (each pair solved as above). */
  readonly bytesPerBatchOf64: number[];
  readonly bytesPerBatchOf4: number[];
  readonly batches: number;
}

function memberId(i: number): NodeId {
  return { high: 0x1000 + (i >>> 16), low: (i * 2654435761) >>> 0 };
}

const gcTimes: number[] = [];

export interface AgentAbsorbOptions {
  readonly members: number;
  readonly backend: 'wasm' | 'ts';
  readonly warmupMs: number;
  readonly windowMs: number;
  readonly heapWindowMs: number;
  /** Runs V8's sampling heap profiler over the steady window and prints the allocation sites (bench/path-agent-allocations.ts). */
  readonly sites?: boolean;
}

interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: ProfileNode[];
}

export async function agentAbsorb(options: AgentAbsorbOptions): Promise<AgentAbsorbRow> {
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) gcTimes.push(entry.startTime);
  });
  observer.observe({ entryTypes: ['gc'] });
  const child = fork(join(dirname(fileURLToPath(import.meta.url)), 'path-blaster.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let driver: NodeDriver | null = null;
  try {
    const [ready] = (await once(child, 'message')) as [{ address: string }];
    const key = Keyring.generateKey();
    const port = await freePort();
    const settings = agentSettings({ bind: `127.0.0.1:${port}`, keys: [key], transport: 'native', backend: options.backend, preset: 'lan' });
    const runtime = createRuntime({ memoryBytes: settings.memoryBytes, backend: settings.backend });
    // The farm is secure: its datagrams carry no checksum (a 0 trailer), as the agent's worker writes and expects them.
    runtime.setDatagramChecksums(false);
    const table = MembershipTable.create(runtime, settings.config.membersMax);
    // The bench's own scratch (building the prepared pings), before the worker's region.
    const parts = new MessageParts(runtime, 64);
    const rowList = runtime.allocate(4, 8);
    const packet = runtime.allocate(F.kDatagramBytesMax + 64, 8);
    runtime.allocate(kBenchScratchBytes, 8);
    // Gossip starts once the table holds the farm (the 'keys' request below), as an admitted node's does.
    const data = agentWorkerData(settings, runtime, table, 14, false);
    let events = 0;
    const reports: AgentWorkerReport[] = [];
    driver = new NodeDriver({
      data,
      report: (report) => {
        if (report.type === 'events') events += report.events.length;
        else if (report.type === 'ready' || report.type === 'failed') reports.push(report);
      },
      isAdmissionDatagram,
    });
    await driver.start();
    const started = reports.find((r) => r.type === 'ready');
    if (started === undefined || started.type !== 'ready') throw new Error(`the agent's driver did not start: ${JSON.stringify(reports)}`);
    if (started.transport !== 'native') throw new Error('bench:path agent rows need the native addon: npm run build:native');
    const engine = driver.engine!;
    const memberAddress = parseWireAddress(ready.address);
    for (let i = 1; i < options.members; i++) table.upsert(memberId(i), memberAddress, 1, F.kStatusAlive, 0);
    engine.adoptTable();
    driver.handle({ type: 'keys', keys: [key] });
    // Sealed one-entry heartbeat pings to this agent from varied members (as bench/path-rig.ts builds them).
    const sealer = new Keyring([key]);
    const random = new Prng(1414);
    const datagrams: string[] = [];
    for (let i = 0; i < kPreparedDatagrams; i++) {
      const sender = table.find(memberId(1 + random.nextInt(options.members - 1)));
      runtime.views.i32[rowList >>> 2] = sender;
      const heartbeat = parts.digest(table, rowList, 1, F.kPushPullFlagGossip);
      const ping = parts.ping(1000 + i, table, engine.selfRow, sender);
      const length = assembleParts(runtime, packet, [ping, heartbeat], F.kDatagramBytesMax);
      if (length < 0) throw new Error(`assembling a bench datagram failed: ${length}`);
      datagrams.push(sealer.seal(runtime.views.u8.slice(packet, packet + length)).toString('base64'));
    }
    // The datagrams go to the sender once, with the warm-up's blast: a heap window counts no IPC serialisation.
    let datagramsSent = false;
    const blast = async (durationMs: number, gc: boolean): Promise<{ sent: number; received: number; cpuUs: number; wallMs: number; heapBytes: number; collected: boolean }> => {
      const done = once(child, 'message');
      if (gc) (globalThis as { gc?: () => void }).gc?.();
      const received = engine.stats.datagramsReceived;
      const heapBefore = getHeapStatistics().used_heap_size;
      const cpu = process.cpuUsage();
      const startMs = performance.now();
      child.send(datagramsSent ? { type: 'blast', to: started.address, durationMs } : { type: 'blast', to: started.address, datagrams, durationMs });
      datagramsSent = true;
      const [reply] = (await done) as [{ sent: number }];
      const endMs = performance.now();
      const spent = process.cpuUsage(cpu);
      const heapAfter = getHeapStatistics().used_heap_size;
      const got = engine.stats.datagramsReceived - received;
      await new Promise((resolve) => setTimeout(resolve, 5));
      return { sent: reply.sent, received: got, cpuUs: spent.user + spent.system, wallMs: endMs - startMs, heapBytes: heapAfter - heapBefore, collected: gcTimes.some((at) => at >= startMs && at <= endMs) };
    };
    await blast(options.warmupMs, false);
    const session = options.sites === true ? new Session() : null;
    if (session !== null) {
      session.connect();
      await session.post('HeapProfiler.startSampling', { samplingInterval: 8, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
    }
    const run = await blast(options.windowMs, false);
    if (session !== null) {
      const { profile } = (await session.post('HeapProfiler.stopSampling')) as unknown as { profile: { head: ProfileNode } };
      session.disconnect();
      printSites(profile.head, run.received);
    }
    let heapBytesPerDatagram = Number.NaN;
    let heapWindowDatagrams = 0;
    for (let attempt = 0, ms = options.heapWindowMs; attempt < 4; attempt++, ms = Math.max(50, ms >> 1)) {
      const window = await blast(ms, true);
      if (window.collected || window.received === 0) continue;
      heapBytesPerDatagram = Math.max(0, window.heapBytes) / window.received;
      heapWindowDatagrams = window.received;
      break;
    }
    const sealedPings = datagrams.map((text) => Buffer.from(text, 'base64'));
    const fullBatches = await deliverFullBatches(driver, sealedPings, ready.address, engine, options.sites === true);
    const counted = await countAllocations(driver, sealedPings, ready.address, options.sites === true);
    // Every ping is answered: fewer replies mean the driver refused the pings (a figure of nothing).
    if (fullBatches.repliesPerDatagram < 0.9) throw new Error(`the agent's driver answered ${fullBatches.repliesPerDatagram.toFixed(2)} of the pings: it refused them (${JSON.stringify(engine.stats.wire)})`);
    const seconds = run.wallMs / 1000;
    const agentCores = run.cpuUs / 1e6 / seconds;
    return {
      variant: `agent-driver-${options.backend}`,
      members: options.members,
      offeredPerSecond: Math.round(run.sent / seconds),
      absorbedPerSecond: Math.round(run.received / seconds),
      agentCores,
      cpuUsPerDatagram: run.cpuUs / Math.max(1, run.received),
      absorbedPerCoreSecond: Math.round(run.received / seconds / Math.max(agentCores, 1e-9)),
      heapBytesPerDatagram,
      heapWindowDatagrams,
      events,
      fullBatches,
      counted,
    };
  } finally {
    observer.disconnect();
    if (driver !== null) await driver.stop(0);
    child.disconnect();
  }
}

function printSites(head: ProfileNode, datagrams: number): void {
  const sites: Array<{ bytes: number; stack: string }> = [];
  const walk = (node: ProfileNode, stack: string[]): void => {
    const frame = `${node.callFrame.functionName || '(anonymous)'} ${node.callFrame.url.split('/').slice(-2).join('/')}:${node.callFrame.lineNumber + 1}`;
    const here = [...stack, frame];
    if (node.selfSize > 0) sites.push({ bytes: node.selfSize, stack: here.slice(-6).reverse().join(' < ') });
    for (const child of node.children) walk(child, here);
  };
  walk(head, []);
  sites.sort((a, b) => b.bytes - a.bytes);
  const total = sites.reduce((sum, site) => sum + site.bytes, 0);
  console.log(`the agent's NodeDriver: about ${(total / Math.max(1, datagrams)).toFixed(1)} bytes sampled per datagram over ${datagrams} datagrams`);
  for (const site of sites.slice(0, 20)) console.log(`${(site.bytes / Math.max(1, datagrams)).toFixed(2).padStart(8)}  ${site.stack}`);
}

const kBatch = 64;
const kBatchRoundDatagrams = 20_000;

type BatchTransport = { receiveBatch(count: number, buffer: Uint8Array, lengths: Uint32Array, sources: readonly string[]): void; socket: { config: { slotBytes: number }; receiveBatch(receive: unknown, count: number, buffer: Uint8Array, lengths: Uint32Array, sources: readonly string[]): void } };

/** A deliverer of prepared sealed batches through the driver's own transport (the addon's callback path). */
function batchDeliverer(driver: NodeDriver, sealed: Uint8Array[], source: string): (batches: number, size: number) => void {
  const transport = (driver as unknown as { running: { datagram: unknown } }).running.datagram as BatchTransport;
  const slotBytes = transport.socket.config.slotBytes;
  const area = new Uint8Array(kBatch * slotBytes);
  const lengths = new Uint32Array(kBatch);
  const sources = new Array<string>(kBatch).fill(source);
  const receive = (count: number, buffer: Uint8Array, l: Uint32Array, s: readonly string[]): void => transport.receiveBatch(count, buffer, l, s);
  let next = 0;
  return (batches, size) => {
    for (let batch = 0; batch < batches; batch++) {
      for (let slot = 0; slot < size; slot++) {
        const datagram = sealed[(next + slot) % sealed.length]!;
        area.set(datagram, slot * slotBytes);
        lengths[slot] = datagram.length;
      }
      transport.socket.receiveBatch(receive, size, area, lengths, sources);
      next = (next + size) % sealed.length;
    }
  };
}

const kCountBatches = 512;
const kCountRepetitions = 5;

/**
 * Bytes per batch and per datagram (AllocationCount): after 200,000 datagrams of warm-up
 * in batches of both sizes (so the path runs optimised, as in a busy agent), runs of
 * kCountBatches batches of 64 and of 4 with heap growth read around each, each run
 * repeated until one sees no collection; kCountRepetitions pairs, reported as the least
 * (the optimised path) and the median (V8 deoptimises and recompiles parts of the path
 * now and then, and a window that catches it counts the unoptimised code's boxed
 * doubles and the new code objects).
 */
async function countAllocations(driver: NodeDriver, sealed: Uint8Array[], source: string, sites: boolean): Promise<AllocationCount> {
  const deliver = batchDeliverer(driver, sealed, source);
  const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
  for (let round = 0; round < 20; round++) {
    deliver(100, 64);
    deliver(900, 4);
    await yieldToLoop();
  }
  const growth = async (size: number): Promise<number> => {
    for (let attempt = 0; attempt < 6; attempt++) {
      (globalThis as { gc?: () => void }).gc?.();
      await yieldToLoop();
      const startMs = performance.now();
      const before = getHeapStatistics().used_heap_size;
      deliver(kCountBatches, size);
      const after = getHeapStatistics().used_heap_size;
      const endMs = performance.now();
      await new Promise((resolve) => setTimeout(resolve, 5));
      if (gcTimes.some((at) => at >= startMs && at <= endMs)) continue;
      return Math.max(0, after - before) / kCountBatches;
    }
    return Number.NaN;
  };
  if (sites) {
    for (const size of [64, 4]) {
      const session = new Session();
      session.connect();
      await session.post('HeapProfiler.startSampling', { samplingInterval: 8, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
      deliver(kCountBatches * 4, size);
      const { profile } = (await session.post('HeapProfiler.stopSampling')) as unknown as { profile: { head: ProfileNode } };
      session.disconnect();
      console.log(`warm, batches of ${size} (per datagram; times ${size} for per batch):`);
      printSites(profile.head, kCountBatches * 4 * size);
    }
  }
  const of64: number[] = [];
  const of4: number[] = [];
  for (let repetition = 0; repetition < kCountRepetitions; repetition++) {
    of64.push(await growth(64));
    of4.push(await growth(4));
  }
  const solved = of64.map((big, i) => {
    const perDatagram = Math.max(0, (big - of4[i]!) / 60);
    return { perDatagram, perBatch: Math.max(0, of4[i]! - 4 * perDatagram), total: big + of4[i]! };
  });
  const byTotal = solved.filter((x) => Number.isFinite(x.total)).sort((a, b) => a.total - b.total);
  const least = byTotal[0];
  const middle = byTotal[byTotal.length >> 1];
  return {
    perDatagramBytes: least?.perDatagram ?? Number.NaN,
    perBatchBytes: least?.perBatch ?? Number.NaN,
    medianPerDatagramBytes: middle?.perDatagram ?? Number.NaN,
    medianPerBatchBytes: middle?.perBatch ?? Number.NaN,
    bytesPerBatchOf64: of64,
    bytesPerBatchOf4: of4,
    batches: kCountBatches,
  };
}

/** Feeds the driver's own transport full batches through the addon's callback path (NativeUdpSocket.receiveBatch over NativeTransport.receiveBatch). */
async function deliverFullBatches(driver: NodeDriver, sealed: Uint8Array[], source: string, engine: NonNullable<NodeDriver['engine']>, sites: boolean): Promise<AgentAbsorbRow['fullBatches']> {
  const deliverBatches = batchDeliverer(driver, sealed, source);
  const deliver = (count: number): void => deliverBatches(Math.ceil(count / kBatch), kBatch);
  const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
  deliver(kBatchRoundDatagrams);
  await yieldToLoop();
  const rounds: number[] = [];
  const sentBefore = engine.stats.datagramsSent;
  for (let round = 0; round < 5; round++) {
    const before = process.cpuUsage();
    deliver(kBatchRoundDatagrams);
    const spent = process.cpuUsage(before);
    rounds.push((spent.user + spent.system) / kBatchRoundDatagrams);
    await yieldToLoop();
  }
  const replies = (engine.stats.datagramsSent - sentBefore) / (5 * kBatchRoundDatagrams);
  if (sites) {
    const session = new Session();
    session.connect();
    await session.post('HeapProfiler.startSampling', { samplingInterval: 8, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
    deliver(kBatchRoundDatagrams);
    const { profile } = (await session.post('HeapProfiler.stopSampling')) as unknown as { profile: { head: ProfileNode } };
    session.disconnect();
    console.log('full batches of 64:');
    printSites(profile.head, kBatchRoundDatagrams);
  }
  let heapBytesPerDatagram = Number.NaN;
  for (let attempt = 0, count = 4096; attempt < 4; attempt++, count >>= 1) {
    (globalThis as { gc?: () => void }).gc?.();
    await yieldToLoop();
    const startMs = performance.now();
    const before = getHeapStatistics().used_heap_size;
    deliver(count);
    const after = getHeapStatistics().used_heap_size;
    const endMs = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 5));
    if (gcTimes.some((at) => at >= startMs && at <= endMs)) continue;
    heapBytesPerDatagram = Math.max(0, after - before) / count;
    break;
  }
  rounds.sort((a, b) => a - b);
  return { cpuUsPerDatagram: rounds[rounds.length >> 1]!, heapBytesPerDatagram, repliesPerDatagram: replies };
}
