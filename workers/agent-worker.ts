/**
 * The agent worker: runs one membership engine over real sockets. It owns the UDP
 * socket and the TCP listener, so datagrams go from the socket to the engine on this
 * thread and never cross threads one by one; the main thread sees only the results (the
 * table in shared memory, and membership events posted in one batch per tick).
 */
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import { kAppInboxMax, type AgentStats, type AgentWorkerData, type AgentWorkerReport, type AgentWorkerRequest, type AppMessage } from '../src/node/driver/agent-worker-protocol.js';
import { MembershipEngine, type EngineStats } from '../src/core/membership/membership-engine.js';
import { nodeIdOf } from '../src/core/wire/node-id-of.js';
import { createTsKernels } from '../src/core/kernels/ts-kernels.js';
import { createWasmKernels } from '../src/core/kernels/wasm-kernels.js';
import { kRegionBase, Runtime } from '../src/core/runtime/runtime.js';
import { MemoryViews } from '../src/core/runtime/memory-views.js';
import { MembershipTable } from '../src/core/table/membership-table.js';
import type { DatagramTransport } from '../src/node/transport/datagram-transport.js';
import { openDatagramTransport } from '../src/node/transport/select-transport.js';
import { StreamTransport } from '../src/node/transport/stream-transport.js';
import { parseBindAddress } from '../src/node/transport/socket-address.js';
import { Keyring } from '../src/node/security/keyring.js';
import { isAdmissionDatagram } from '../src/farm/admission/admission-wire.js';
import { Prng } from '../src/core/util/prng.js';
import { isEnvelope } from '../src/core/messenger/envelope.js';
import { formatNodeId, parseWireAddress } from '../src/core/wire/message.js';
import { DeadlineTimer, kIdleWakeMsMax } from '../src/node/driver/deadline-timer.js';

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

/** Tries when the OS chose the port (port 0) and that port is taken for TCP by another socket. */
const kEphemeralBindAttemptsMax = 8;

async function openTransports(): Promise<{ datagram: DatagramTransport; stream: StreamTransport; reason: string }> {
  // With port 0 the OS picks a UDP port; TCP must take the same one so one address names
  // both, and that port may already be in use for TCP (an outbound connection's local
  // port): then another UDP port is tried. A fixed port fails at once, as asked.
  const ephemeral = parseBindAddress(data.bind).port === 0;
  for (let attempt = 1; ; attempt++) {
    const { transport: datagram, reason } = await openDatagramTransport(data.bind, data.transport, data.datagram);
    const bound = parseBindAddress(datagram.address);
    try {
      const stream = await StreamTransport.listen(bound.text, data.stream);
      return { datagram, stream, reason };
    } catch (error) {
      await datagram.close();
      if (!ephemeral || attempt >= kEphemeralBindAttemptsMax || !/EADDRINUSE/.test((error as Error).message)) throw error;
    }
  }
}

/** Admission datagrams handed to the main thread per second at most: a flood costs a counter, not a thread. */
const kAdmissionPerSecondMax = 200;

const keyring = data.keys.length > 0 ? new Keyring(data.keys) : null;
let keyringActive: Keyring | null = keyring;
let suspended = false;
let unauthenticatedDropped = 0;
let admissionReceived = 0;
let admissionDropped = 0;
let admissionWindowStartMs = 0;
let admissionInWindow = 0;
let appReceived = 0;
let appDropped = 0;
let appSent = 0;

async function main(): Promise<void> {
  const runtime = attachRuntime();
  const { datagram, stream, reason: transportReason } = await openTransports();
  const address = datagram.address;
  const id = data.id ?? nodeIdOf(address);
  const seal = (bytes: Uint8Array): Uint8Array | null => {
    if (suspended) return null;
    if (!data.secure) return bytes;
    return keyringActive === null ? null : keyringActive.seal(bytes);
  };
  // Datagrams are sealed into the keyring's reused buffer (native contexts when the
  // addon is loaded): the transports copy the bytes before send() returns.
  const sealDatagram = (bytes: Uint8Array): Uint8Array | null => {
    if (suspended) return null;
    if (!data.secure) return bytes;
    return keyringActive === null ? null : keyringActive.sealView(bytes);
  };
  const engine = new MembershipEngine({
    config: data.config,
    runtime,
    table: new MembershipTable(runtime, data.tableBase),
    id,
    address: parseWireAddress(address),
    incarnation: data.incarnation,
    meta: data.meta,
    seeds: data.seeds,
    // The watch beats only help where ICMP unreachables are seen (the native transport).
    unreachableEvidence: datagram.kind === 'native',
    environment: {
      nowMs: () => performance.now(),
      random: new Prng(data.randomSeed),
      // Both transports copy the bytes before returning, as the engine requires.
      sendDatagram: (to, bytes) => {
        const sealed = sealDatagram(bytes);
        if (sealed !== null) datagram.send(to, sealed);
      },
      sendFrame: (to, bytes) => {
        const sealed = seal(bytes);
        if (sealed !== null) stream.send(to, sealed);
      },
    },
  });
  let gossiping = false;
  const startGossip = (): void => {
    if (gossiping) return;
    gossiping = true;
    engine.start();
    rearm();
  };
  // In a secure farm nothing reaches the engine's parsers unless a farm key
  // authenticates it; admission datagrams go to the main thread, never to the engine.
  const open = (bytes: Uint8Array): Uint8Array | null => {
    if (!data.secure) return bytes;
    if (keyringActive === null) {
      unauthenticatedDropped++;
      return null;
    }
    // A view into the keyring's reused buffer: the engine and toApp copy what they keep.
    const plaintext = keyringActive.openView(bytes);
    return plaintext === null || suspended || !gossiping ? null : plaintext;
  };
  const appInbox: AppMessage[] = [];
  const toApp = (from: string, plaintext: Uint8Array, stream: boolean): boolean => {
    // The messenger's envelopes go to the main thread; the rest is membership's wire format.
    if (!isEnvelope(plaintext)) return false;
    if (appInbox.length >= kAppInboxMax) appDropped++;
    else {
      appReceived++;
      appInbox.push({ peer: from, bytes: Uint8Array.from(plaintext), stream });
    }
    return true;
  };
  // The worker sleeps until the engine's next deadline (issue 14, item 7) rather than
  // ticking every tickIntervalMs, which is now the shortest gap between wake-ups. Every
  // input may bring a deadline forward or leave events to post, so each one re-arms.
  const wake = new DeadlineTimer(data.tickIntervalMs, () => tick());
  const rearm = (): void => {
    wake.armAt(engine.hasPendingOutput || appInbox.length > 0 ? performance.now() : engine.nextDeadlineMs());
  };
  datagram.onMessage((from, bytes) => {
    if (data.secure && isAdmissionDatagram(bytes)) {
      admission(from, bytes);
      return;
    }
    const plaintext = open(bytes);
    if (plaintext !== null && !toApp(from, plaintext, false)) engine.receiveDatagram(from, plaintext);
    rearm();
  });
  datagram.onUnreachable((to) => {
    if (!gossiping || suspended) return;
    engine.unreachable(to);
    // A death found this way is posted at once, not at the next wake-up: it is rare.
    flushEvents();
    rearm();
  });
  stream.onFrame((from, bytes) => {
    const plaintext = open(bytes);
    if (plaintext !== null && !toApp(from, plaintext, true)) engine.receiveFrame(from, plaintext);
    rearm();
  });
  stream.onFailed((to) => {
    if (gossiping && !suspended) engine.streamFailed(to);
    rearm();
  });

  let lagMsMax = 0;
  const flushEvents = (): void => {
    const events = engine.drainEvents();
    if (events.length > 0) post({ type: 'events', events });
    const payloads = engine.drainUserMessages();
    if (payloads.length > 0) post({ type: 'user', payloads });
    if (appInbox.length > 0) post({ type: 'app', messages: appInbox.splice(0) });
  };
  function tick(): void {
    // A wake-up that comes late means our own probes and acks were late too, so
    // Lifeguard should trust us less.
    const lagMs = wake.lagMs;
    if (lagMs > lagMsMax) lagMsMax = lagMs;
    if (!gossiping || suspended) {
      wake.armAt(performance.now() + kIdleWakeMsMax);
      return;
    }
    engine.reportEventLoopLag(lagMs);
    engine.tick();
    flushEvents();
    rearm();
  }
  tick();

  let stopping = false;
  const stop = async (flushMs: number): Promise<void> => {
    if (stopping) return;
    stopping = true;
    if (gossiping && !suspended) {
      engine.leave();
      flushEvents();
      // Keep ticking for flushMs so the gossip rounds carry the LEAVE to the fanout.
      await new Promise((resolve) => setTimeout(resolve, flushMs));
    }
    wake.stop();
    flushEvents();
    await Promise.all([datagram.close(), stream.close()]);
    post({ type: 'stopped' });
    port.close();
  };

  port.on('message', (request: AgentWorkerRequest) => {
    handleRequest(request);
    // A broadcast, new metadata or new keys may have queued news: wake for it.
    if (!stopping) rearm();
  });
  const handleRequest = (request: AgentWorkerRequest): void => {
    switch (request.type) {
      case 'stop':
        void stop(request.flushMs);
        return;
      case 'stats':
        post({ type: 'stats', requestId: request.requestId, stats: statsOf(engine, datagram, stream, lagMsMax) });
        lagMsMax = 0;
        return;
      case 'keys':
        if (keyringActive === null) keyringActive = new Keyring(request.keys);
        else keyringActive.replace(request.keys);
        if (!suspended) startGossip();
        return;
      case 'suspend':
        suspended = true;
        return;
      case 'broadcast':
        if (gossiping && !suspended) engine.broadcastUser(request.payload);
        return;
      case 'admission-send':
        datagram.send(request.to, request.bytes);
        return;
      case 'meta':
        engine.setMeta(request.meta);
        return;
      case 'app-send':
        for (const message of request.messages) {
          const sealed = seal(message.bytes);
          if (sealed === null) continue;
          appSent++;
          if (message.stream) stream.send(message.peer, sealed);
          else datagram.send(message.peer, sealed);
        }
        return;
    }
  };

  if (data.gossip) startGossip();
  post({ type: 'ready', address, id: formatNodeId(id), incarnation: engine.incarnation, backend: runtime.backendReason, transport: datagram.kind, transportReason });
  flushEvents();
}

/** Hands an admission datagram to the main thread, at most kAdmissionPerSecondMax a second. */
function admission(from: string, bytes: Uint8Array): void {
  const now = performance.now();
  if (now - admissionWindowStartMs >= 1000) {
    admissionWindowStartMs = now;
    admissionInWindow = 0;
  }
  if (++admissionInWindow > kAdmissionPerSecondMax) {
    admissionDropped++;
    return;
  }
  admissionReceived++;
  post({ type: 'admission', from, bytes: Uint8Array.from(bytes) });
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
    keyring: keyringActive === null ? null : { ...keyringActive.counters },
    unauthenticatedDropped,
    admissionReceived,
    admissionDropped,
    suspended,
    appReceived,
    appDropped,
    appSent,
  };
}

main().catch((error: Error) => {
  post({ type: 'failed', message: error.message });
  port.close();
});
