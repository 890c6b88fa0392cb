/**
 * The agent worker: runs one membership engine over real sockets. It owns the UDP
 * socket and the TCP listener, so datagrams go from the socket to the engine on this
 * thread and never cross threads one by one; the main thread sees only the results (the
 * table in shared memory, and membership events posted in one batch per tick).
 */
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import type { AgentStats, AgentWorkerData, AgentWorkerReport, AgentWorkerRequest } from '../src/agent/agent-worker-protocol.js';
import { MembershipEngine, type EngineStats } from '../src/gossip/membership-engine.js';
import { nodeIdOf } from '../src/gossip/simulated-farm.js';
import { createTsKernels } from '../src/kernels/ts-kernels.js';
import { createWasmKernels } from '../src/kernels/wasm-kernels.js';
import { kRegionBase, Runtime } from '../src/kernels/runtime.js';
import { MemoryViews } from '../src/memory/views.js';
import { MembershipTable } from '../src/table/membership-table.js';
import type { DatagramTransport } from '../src/transport/datagram-transport.js';
import { openDatagramTransport } from '../src/transport/select-transport.js';
import { StreamTransport } from '../src/transport/stream-transport.js';
import { parseBindAddress } from '../src/transport/socket-address.js';
import { Keyring } from '../src/security/keyring.js';
import { Prng } from '../src/util/prng.js';
import { formatNodeId, parseWireAddress } from '../src/wire/message.js';

const data = workerData as AgentWorkerData;
const port = parentPort!;

function post(report: AgentWorkerReport): void {
  port.postMessage(report);
}

function attachRuntime(): Runtime {
  const views = new MemoryViews(data.memory.buffer);
  const runtime =
    data.module === null
      ? new Runtime(data.memory, createTsKernels(views), 'TypeScript kernels (agent worker)')
      : new Runtime(data.memory, createWasmKernels(data.memory, data.module).kernels, 'Wasm kernels (agent worker)');
  // This thread's allocator starts at the region base like the main thread's did: skip
  // to the region the main thread reserved for us, past the table.
  runtime.allocate(data.regionStart - kRegionBase, 1);
  return runtime;
}

async function openTransports(): Promise<{ datagram: DatagramTransport; stream: StreamTransport; reason: string }> {
  const { transport: datagram, reason } = await openDatagramTransport(data.bind, data.transport, data.datagram);
  // TCP takes the port UDP got, so one address names both (the OS may have chosen it).
  const bound = parseBindAddress(datagram.address);
  try {
    const stream = await StreamTransport.listen(bound.text, data.stream);
    return { datagram, stream, reason };
  } catch (error) {
    await datagram.close();
    throw error;
  }
}

const keyring = data.keys.length > 0 ? new Keyring(data.keys) : null;

async function main(): Promise<void> {
  const runtime = attachRuntime();
  const { datagram, stream, reason: transportReason } = await openTransports();
  const address = datagram.address;
  const id = data.id ?? nodeIdOf(address);
  const engine = new MembershipEngine({
    config: data.config,
    runtime,
    table: new MembershipTable(runtime, data.tableBase),
    id,
    address: parseWireAddress(address),
    incarnation: data.incarnation,
    meta: data.meta,
    seeds: data.seeds,
    environment: {
      nowMs: () => performance.now(),
      random: new Prng(data.randomSeed),
      // Both transports copy the bytes before returning, as the engine requires.
      sendDatagram: (to, bytes) => datagram.send(to, keyring === null ? bytes : keyring.seal(bytes)),
      sendFrame: (to, bytes) => stream.send(to, keyring === null ? bytes : keyring.seal(bytes)),
    },
  });
  // With a keyring, nothing reaches the engine's parsers unless a farm key authenticates it.
  datagram.onMessage((from, bytes) => {
    const plaintext = keyring === null ? bytes : keyring.open(bytes);
    if (plaintext !== null) engine.receiveDatagram(from, plaintext);
  });
  datagram.onUnreachable((to) => engine.unreachable(to));
  stream.onFrame((from, bytes) => {
    const plaintext = keyring === null ? bytes : keyring.open(bytes);
    if (plaintext !== null) engine.receiveFrame(from, plaintext);
  });
  stream.onFailed((to) => engine.streamFailed(to));

  let lastTickMs = performance.now();
  let lagMsMax = 0;
  const flushEvents = (): void => {
    const events = engine.drainEvents();
    if (events.length > 0) post({ type: 'events', events });
  };
  const tick = (): void => {
    // Timer drift is the event-loop lag this thread suffered: a tick that comes late
    // means our own probes and acks were late too, so Lifeguard should trust us less.
    const now = performance.now();
    const lagMs = Math.max(0, now - lastTickMs - data.tickIntervalMs);
    lastTickMs = now;
    if (lagMs > lagMsMax) lagMsMax = lagMs;
    engine.reportEventLoopLag(lagMs);
    engine.tick();
    flushEvents();
  };
  const timer = setInterval(tick, data.tickIntervalMs);

  let stopping = false;
  const stop = async (flushMs: number): Promise<void> => {
    if (stopping) return;
    stopping = true;
    engine.leave();
    flushEvents();
    // Keep ticking for flushMs so the gossip rounds carry the LEAVE to the fanout.
    await new Promise((resolve) => setTimeout(resolve, flushMs));
    clearInterval(timer);
    flushEvents();
    await Promise.all([datagram.close(), stream.close()]);
    post({ type: 'stopped' });
    port.close();
  };

  port.on('message', (request: AgentWorkerRequest) => {
    if (request.type === 'stop') void stop(request.flushMs);
    else if (request.type === 'stats') {
      post({ type: 'stats', requestId: request.requestId, stats: statsOf(engine, datagram, stream, lagMsMax) });
      lagMsMax = 0;
    }
  });

  engine.start();
  post({ type: 'ready', address, id: formatNodeId(id), incarnation: engine.incarnation, backend: runtime.backendReason, transport: datagram.kind, transportReason });
  flushEvents();
}

function statsOf(engine: MembershipEngine, datagram: DatagramTransport, stream: StreamTransport, eventLoopLagMsMax: number): AgentStats {
  const counters: Record<string, number> = {};
  for (const [key, value] of Object.entries(engine.stats as EngineStats)) if (typeof value === 'number') counters[key] = value;
  return {
    engine: counters,
    wireRejectedByCode: Object.fromEntries(engine.stats.wire.rejectedByCode),
    datagram: datagram.counters.snapshot(),
    stream: stream.counters.snapshot(),
    aliveCount: engine.aliveCount,
    incarnation: engine.incarnation,
    health: engine.health,
    eventLoopLagMsMax,
    keyring: keyring === null ? null : { ...keyring.counters },
  };
}

main().catch((error: Error) => {
  post({ type: 'failed', message: error.message });
  port.close();
});
