import { DeadlineTimer, kIdleWakeMsMax } from './deadline-timer.js';
import { performance } from 'node:perf_hooks';
import { kAppInboxMax, type AgentStats, type AgentWorkerData, type AgentWorkerReport, type AgentWorkerRequest, type AppMessage } from './agent-worker-protocol.js';
import { MembershipEngine, type EngineStats } from '../../core/membership/membership-engine.js';
import { nodeIdOf } from '../../core/wire/node-id-of.js';
import { createTsKernels } from '../../core/kernels/ts-kernels.js';
import { createWasmKernels } from '../../core/kernels/wasm-kernels.js';
import { kRegionBase, Runtime } from '../../core/runtime/runtime.js';
import { MemoryViews } from '../../core/runtime/memory-views.js';
import { MembershipTable } from '../../core/table/membership-table.js';
import type { DatagramTransport } from '../transport/datagram-transport.js';
import type { StreamTransport } from '../transport/stream-transport.js';
import { openNodeTransports } from './open-node-transports.js';
import { Keyring } from '../security/keyring.js';
import { Prng } from '../../core/util/prng.js';
import { isEnvelope } from '../../core/messenger/envelope.js';
import { formatNodeId, parseWireAddress } from '../../core/wire/message.js';

/**
 * Runs one node's membership engine on real sockets and timers: the UDP socket and the
 * TCP listener, the seal/open of farm traffic with the keyring, the tick timer, and the
 * hand-off of messenger envelopes, admission datagrams and membership events to the
 * layer above. It is what workers/agent-worker.ts used to be as a module-level script,
 * made a class so it can be constructed and tested alone: the worker thread builds one
 * from its workerData and plugs its parent port in as `report`, a test plugs in an array.
 *
 * The driver owns no thread: whoever constructs it decides where it runs. It takes
 * requests (handle) only after start() resolved, as the worker's port did.
 */
export interface NodeDriverOptions {
  readonly data: AgentWorkerData;
  /** Where reports go (the worker's parentPort.postMessage, or a test's array). */
  readonly report: (report: AgentWorkerReport) => void;
  /** Called once after the 'stopped' report: the worker closes its port here. */
  readonly closed?: () => void;
  /**
   * Tells admission datagrams (sent unsealed by nodes without keys yet) from farm
   * traffic. Injected because admission is a farm feature, a layer above the driver.
   */
  readonly isAdmissionDatagram: (bytes: Uint8Array) => boolean;
}

/** Admission datagrams handed up per second at most: a flood costs a counter, not a thread. */
const kAdmissionPerSecondMax = 200;

interface Running {
  readonly runtime: Runtime;
  readonly engine: MembershipEngine;
  readonly datagram: DatagramTransport;
  readonly stream: StreamTransport;
  /** Wakes the driver at the engine's next deadline (never more often than tickIntervalMs). */
  readonly wake: DeadlineTimer;
}

export class NodeDriver {
  private readonly data: AgentWorkerData;
  private readonly post: (report: AgentWorkerReport) => void;
  private readonly closed: () => void;
  private readonly isAdmission: (bytes: Uint8Array) => boolean;
  private keyringActive: Keyring | null;
  private suspended = false;
  private gossiping = false;
  private stopping = false;
  private running: Running | null = null;
  private readonly appInbox: AppMessage[] = [];
  private lagMsMax = 0;
  private unauthenticatedDropped = 0;
  private admissionReceived = 0;
  private admissionDropped = 0;
  private admissionWindowStartMs = 0;
  private admissionInWindow = 0;
  private appReceived = 0;
  private appDropped = 0;
  private appSent = 0;

  constructor(options: NodeDriverOptions) {
    this.data = options.data;
    this.post = options.report;
    this.closed = options.closed ?? (() => undefined);
    this.isAdmission = options.isAdmissionDatagram;
    this.keyringActive = options.data.keys.length > 0 ? new Keyring(options.data.keys) : null;
  }

  /** Opens the sockets, builds the engine, starts the tick timer and reports 'ready' (or 'failed' and closes). */
  async start(): Promise<void> {
    try {
      await this.openSockets();
    } catch (error) {
      this.post({ type: 'failed', message: (error as Error).message });
      this.closed();
    }
  }

  /** The engine, once started (tests read its counters). */
  get engine(): MembershipEngine | null {
    return this.running?.engine ?? null;
  }

  private async openSockets(): Promise<void> {
    const data = this.data;
    const runtime = this.attachRuntime();
    const { datagram, stream, reason: transportReason } = await openNodeTransports(data.bind, data.transport, data.datagram, data.stream);
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
      // The watch beats only help where ICMP unreachables are seen (the native transport).
      unreachableEvidence: datagram.kind === 'native',
      environment: {
        nowMs: () => performance.now(),
        random: new Prng(data.randomSeed),
        // Both transports copy the bytes before returning, as the engine requires.
        sendDatagram: (to, bytes) => {
          const sealed = this.sealDatagram(bytes);
          if (sealed !== null) datagram.send(to, sealed);
        },
        sendFrame: (to, bytes) => {
          const sealed = this.seal(bytes);
          if (sealed !== null) stream.send(to, sealed);
        },
      },
    });
    // A transport that reads batches announces each: the engine reads the clock once per batch.
    const batched = datagram.onBatch !== undefined;
    datagram.onBatch?.(() => engine.batchArrived());
    datagram.onMessage((from, bytes) => {
      if (data.secure && this.isAdmission(bytes)) {
        this.admission(from, bytes);
        return;
      }
      const plaintext = this.open(bytes);
      if (plaintext !== null && !this.toApp(from, plaintext, false)) {
        if (batched) engine.receiveInBatch(from, plaintext);
        else engine.receiveDatagram(from, plaintext);
      }
      this.rearm();
    });
    datagram.onUnreachable((to) => {
      if (!this.gossiping || this.suspended) return;
      engine.unreachable(to);
      // A death found this way is posted at once, not at the next wake-up: it is rare.
      this.flushEvents();
      this.rearm();
    });
    stream.onFrame((from, bytes) => {
      const plaintext = this.open(bytes);
      if (plaintext !== null && !this.toApp(from, plaintext, true)) engine.receiveFrame(from, plaintext);
      this.rearm();
    });
    stream.onFailed((to) => {
      if (this.gossiping && !this.suspended) engine.streamFailed(to);
      this.rearm();
    });
    // The driver sleeps until the engine's next deadline rather than ticking every
    // tickIntervalMs, which is the shortest gap between wake-ups. Every input may bring a
    // deadline forward or leave events to post, so each one re-arms.
    const wake = new DeadlineTimer(data.tickIntervalMs, () => this.tick());
    this.running = { runtime, engine, datagram, stream, wake };
    this.tick();
    if (data.gossip) this.startGossip();
    this.post({ type: 'ready', address, id: formatNodeId(id), incarnation: engine.incarnation, backend: runtime.backendReason, transport: datagram.kind, transportReason });
    this.flushEvents();
  }

  /** One request from the layer above (the main thread's AgentHost). */
  handle(request: AgentWorkerRequest): void {
    this.handleRequest(request);
    // A broadcast, new metadata or new keys may have queued news: wake for it.
    if (!this.stopping) this.rearm();
  }

  private handleRequest(request: AgentWorkerRequest): void {
    const r = this.running;
    if (r === null) throw new Error('NodeDriver.handle before start() resolved');
    switch (request.type) {
      case 'stop':
        void this.stop(request.flushMs);
        return;
      case 'stats':
        this.post({ type: 'stats', requestId: request.requestId, stats: this.statsOf(r) });
        this.lagMsMax = 0;
        return;
      case 'keys':
        if (this.keyringActive === null) this.keyringActive = new Keyring(request.keys);
        else this.keyringActive.replace(request.keys);
        if (!this.suspended) this.startGossip();
        return;
      case 'suspend':
        this.suspended = true;
        return;
      case 'broadcast':
        if (this.gossiping && !this.suspended) r.engine.broadcastUser(request.payload);
        return;
      case 'admission-send':
        r.datagram.send(request.to, request.bytes);
        return;
      case 'meta':
        r.engine.setMeta(request.meta);
        return;
      case 'app-send':
        for (const message of request.messages) {
          const sealed = this.seal(message.bytes);
          if (sealed === null) continue;
          this.appSent++;
          if (message.stream) r.stream.send(message.peer, sealed);
          else r.datagram.send(message.peer, sealed);
        }
        return;
    }
  }

  /** Leaves gracefully (gossiping for flushMs so the LEAVE spreads), closes the sockets, reports 'stopped'. */
  async stop(flushMs: number): Promise<void> {
    const r = this.running;
    if (this.stopping || r === null) return;
    this.stopping = true;
    if (this.gossiping && !this.suspended) {
      r.engine.leave();
      this.flushEvents();
      // Keep ticking for flushMs so the gossip rounds carry the LEAVE to the fanout.
      await new Promise((resolve) => setTimeout(resolve, flushMs));
    }
    r.wake.stop();
    this.flushEvents();
    await Promise.all([r.datagram.close(), r.stream.close()]);
    this.post({ type: 'stopped' });
    this.closed();
  }

  private attachRuntime(): Runtime {
    const data = this.data;
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

  private startGossip(): void {
    if (this.gossiping || this.running === null) return;
    this.gossiping = true;
    this.running.engine.start();
    this.rearm();
  }

  /** Arms the wake-up for the engine's next deadline, or now when output waits to be posted. */
  private rearm(): void {
    const r = this.running;
    if (r === null) return;
    r.wake.armAt(r.engine.hasPendingOutput || this.appInbox.length > 0 ? performance.now() : r.engine.nextDeadlineMs());
  }

  private seal(bytes: Uint8Array): Uint8Array | null {
    if (this.suspended) return null;
    if (!this.data.secure) return bytes;
    return this.keyringActive === null ? null : this.keyringActive.seal(bytes);
  }

  // Datagrams are sealed into the keyring's reused buffer (native contexts when the
  // addon is loaded): the transports copy the bytes before send() returns.
  private sealDatagram(bytes: Uint8Array): Uint8Array | null {
    if (this.suspended) return null;
    if (!this.data.secure) return bytes;
    return this.keyringActive === null ? null : this.keyringActive.sealView(bytes);
  }

  // In a secure farm nothing reaches the engine's parsers unless a farm key
  // authenticates it; admission datagrams go up, never to the engine.
  private open(bytes: Uint8Array): Uint8Array | null {
    if (!this.data.secure) return bytes;
    if (this.keyringActive === null) {
      this.unauthenticatedDropped++;
      return null;
    }
    // A view into the keyring's reused buffer: the engine and toApp copy what they keep.
    const plaintext = this.keyringActive.openView(bytes);
    return plaintext === null || this.suspended || !this.gossiping ? null : plaintext;
  }

  private toApp(from: string, plaintext: Uint8Array, stream: boolean): boolean {
    // The messenger's envelopes go up; the rest is membership's wire format.
    if (!isEnvelope(plaintext)) return false;
    if (this.appInbox.length >= kAppInboxMax) this.appDropped++;
    else {
      this.appReceived++;
      this.appInbox.push({ peer: from, bytes: Uint8Array.from(plaintext), stream });
    }
    return true;
  }

  private flushEvents(): void {
    const engine = this.running?.engine;
    if (engine === undefined) return;
    const events = engine.drainEvents();
    if (events.length > 0) this.post({ type: 'events', events });
    const payloads = engine.drainUserMessages();
    if (payloads.length > 0) this.post({ type: 'user', payloads });
    if (this.appInbox.length > 0) this.post({ type: 'app', messages: this.appInbox.splice(0) });
  }

  private tick(): void {
    const r = this.running;
    if (r === null) return;
    // A wake-up that comes late means our own probes and acks were late too, so
    // Lifeguard should trust us less.
    const lagMs = r.wake.lagMs;
    if (lagMs > this.lagMsMax) this.lagMsMax = lagMs;
    if (!this.gossiping || this.suspended) {
      r.wake.armAt(performance.now() + kIdleWakeMsMax);
      return;
    }
    r.engine.reportEventLoopLag(lagMs);
    r.engine.tick();
    this.flushEvents();
    this.rearm();
  }

  /** Hands an admission datagram up, at most kAdmissionPerSecondMax a second. */
  private admission(from: string, bytes: Uint8Array): void {
    const now = performance.now();
    if (now - this.admissionWindowStartMs >= 1000) {
      this.admissionWindowStartMs = now;
      this.admissionInWindow = 0;
    }
    if (++this.admissionInWindow > kAdmissionPerSecondMax) {
      this.admissionDropped++;
      return;
    }
    this.admissionReceived++;
    this.post({ type: 'admission', from, bytes: Uint8Array.from(bytes) });
  }

  private statsOf(r: Running): AgentStats {
    const engine = r.engine;
    const counters: Record<string, number> = {};
    for (const [key, value] of Object.entries(engine.stats as EngineStats)) if (typeof value === 'number') counters[key] = value;
    return {
      engine: counters,
      wireRejectedByCode: Object.fromEntries(engine.stats.wire.rejectedByCode),
      datagram: r.datagram.counters.snapshot(),
      stream: r.stream.counters.snapshot(),
      aliveCount: engine.aliveCount,
      incarnation: engine.incarnation,
      health: engine.health,
      eventLoopLagMsMax: this.lagMsMax,
      keyring: this.keyringActive === null ? null : { ...this.keyringActive.counters },
      unauthenticatedDropped: this.unauthenticatedDropped,
      admissionReceived: this.admissionReceived,
      admissionDropped: this.admissionDropped,
      suspended: this.suspended,
      appReceived: this.appReceived,
      appDropped: this.appDropped,
      appSent: this.appSent,
    };
  }
}
