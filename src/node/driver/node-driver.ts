import { sendAppBatch, type AppSealer } from './app-send.js';
import { DeadlineTimer, kIdleWakeMsMax } from './deadline-timer.js';
import { performance } from 'node:perf_hooks';
import { kAppInboxMax, kJobsEventsMax, type AgentStats, type AgentWorkerData, type AgentWorkerReport, type AgentWorkerRequest, type AppMessage, type FmidbCountersReport, type JobsStackEvent } from './agent-worker-protocol.js';
import { DomainError } from '../../core/util/domain-error.js';
import type { EngineStats, MembershipEngine } from '../../core/membership/membership-engine.js';
import type { MembershipEvent } from '../../core/membership/membership-event.js';
import type { FmidbChange } from '../../core/fmidb/entry.js';
import { FmidbError } from '../../core/fmidb/fmidb-error.js';
import { createFmidbRuntime } from '../../core/kernels/fmidb-runtime.js';
import { resolveFmidbConfig } from '../../core/fmidb/config.js';
import { channelByName } from '../../core/messenger/channel-table.js';
import { kEnvelopeHeaderBytes } from '../../core/messenger/envelope.js';
import { NodeStack, type StackCommand, type StackInput } from '../../core/stack/node-stack.js';
import { nodeIdOf } from '../../core/wire/node-id-of.js';
import { createTsKernels } from '../../core/kernels/ts-kernels.js';
import { createWasmKernels } from '../../core/kernels/wasm-kernels.js';
import { kRegionBase, Runtime } from '../../core/runtime/runtime.js';
import { MemoryViews } from '../../core/runtime/memory-views.js';
import { MembershipTable } from '../../core/table/membership-table.js';
import type { DatagramTransport } from '../transport/datagram-transport.js';
import type { StreamTransport } from '../transport/stream-transport.js';
import { openNodeTransports } from './open-node-transports.js';
import { parseBindAddress } from '../transport/socket-address.js';
import { hostPort } from './agent-options.js';
import { NativeTransport } from '../transport/native-transport.js';
import { Keyring, kSealOverheadBytes } from '../security/keyring.js';
import { ReceiveViews } from '../native/receive-views.js';
import * as F from '../../core/wire/format.js';
import { WatchLinks } from './watch-links.js';
import { Prng } from '../../core/util/prng.js';
import { isEnvelope } from '../../core/messenger/envelope.js';
import { formatNodeId, parseWireAddress } from '../../core/wire/message.js';
import { hopTrace } from '../util/hop-trace.js';

/**
 * Runs one node's NodeStack (src/core/stack/node-stack.ts: membership, the messenger's
 * envelopes, the FMIDB replica) on real sockets and timers: the UDP socket (native
 * batched, with the ICMP error queue) and the TCP listener, the seal/open of farm
 * traffic with the keyring (native GCM), a wake-up at the stack's next deadline, and the
 * hand-off of messenger envelopes for the channels above the stack (rpc, install,
 * farm control, components), admission datagrams, membership events, user broadcasts
 * and the FMIDB's changes to the layer above. The simulator runs the same stack
 * (src/sim/simulated-stack-farm.ts), so the agent's node is the node tested there.
 *
 * It is the one driver of a stack on real sockets: StackDriver (stack-driver.ts) is only
 * a thin fixed-interval driver kept for the stack's own real-socket test. NodeDriver
 * keeps what the agent's hot path needs and a generic driver would lose: membership
 * sends straight from the engine into the keyring's reused buffer and the transport
 * (MembershipCore's `direct` environment, no batch copy), the engine reads the monotonic
 * clock itself, and the driver sleeps until the engine's (or the FMIDB's) next deadline.
 * Job coordination (the coordinator and runner cores, nodes named by sender id) opens in
 * the stack on a 'jobs-open' request; job commands come in as 'jobs-command' requests,
 * each answered after the events it made, and the jobs events (process events, and the
 * processes the host must run, terminate or signal) go up in one 'jobs' report per
 * wake-up. The host confirms each launch (runner.confirmLaunches). The agent opens it
 * when its jobs component first starts (farm/jobs/jobs-component-link.ts): the main
 * thread's AgentHost relays the component's commands and the stack's events.
 *
 * The driver owns no thread: whoever constructs it decides where it runs (the agent's
 * worker builds one from its workerData and plugs its parent port in as `report`, a test
 * plugs in an array). It takes requests (handle) only after start() resolved.
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
/**
 * The FMIDB's timer period, ms (the replica runs its rounds, pulls and budget from it), as
 * on the main thread before. Its wake-ups are what an idle worker gained when the replica
 * moved here (issue 13, 3 sealed agents, load 16-30): about 66 wake-ups a second before,
 * 76 after; the worker's CPU up 15% (19.2 to 22.1 millicores), the main thread's down
 * from 2.2 to 0.7, the process's total up 9%, inside the runs' spread. Letting this tick
 * come up to 50 ms late to ride on membership's wake-ups gave 44 and 76 wake-ups a
 * second in two runs, and fewer idle datagrams in the first (gossip rounds without news
 * run only when the driver wakes anyway): not a settled gain, so it is not done.
 */
const kFmidbTickMs = 100;
/**
 * The FMIDB's timer period while it has nothing waiting (FmidbReplica.busy false), ms:
 * only the periodic sync (30 s, randomized) and the reaps are due then, and a second
 * late changes nothing for them. An idle agent used to wake ten times a second for it.
 */
const kFmidbIdleTickMs = 1000;
/**
 * The job cores' timer period while they are busy (kJobsIdleTickMs while not), ms: their deadlines (a start's retry,
 * 1 s; a probe round, 2 s; a runner's end resend) are seconds apart, so a tenth of a
 * second late costs nothing. Whichever of the two opens second takes the other's phase,
 * so with both open they share their wake-ups (same period, due at the same tick).
 */
const kJobsTickMs = 100;
/** The job cores' tick while they have nothing to do (no job running or starting, no end report unacknowledged). */
const kJobsIdleTickMs = 1000;
/** FMIDB changes held for the next report at most; the replica coalesces per key, so this is a burst bound. */
const kFmidbChangesMax = 65_536;
/** How often the FMIDB's counters are reported when nothing changed, ms. */
const kFmidbCountersReportMs = 1000;
const kFmidbChannelId = channelByName('fmidb').id;
const kJobsChannelId = channelByName('jobs-coordination').id;

/** A send slot: the largest datagram plus the seal's overhead (the transport drops anything over its datagramBytesMax). */
const kSendSlotBytes = F.kDatagramBytesMax + kSealOverheadBytes;
/** Replies staged per received batch at most; more take sealDatagram's path one by one. */
const kSendBatchMax = 128;

/**
 * The replies the engine sends while one received batch is handled: their plaintexts in
 * slots, sealed at the batch's end in one Keyring.sealBatch call (one native crossing on
 * the reused primary-key context) and queued for the batch's one sendmmsg. Made once;
 * nothing in it is allocated per datagram.
 */
class SendBatch {
  readonly plaintexts = new Uint8Array(kSendBatchMax * kSendSlotBytes);
  readonly sealed = new Uint8Array(kSendBatchMax * kSendSlotBytes);
  readonly lengths = new Uint32Array(kSendBatchMax);
  readonly results = new Int32Array(kSendBatchMax);
  readonly to: string[] = new Array<string>(kSendBatchMax).fill('');
  readonly views = new ReceiveViews(kSendSlotBytes);
  count = 0;

  constructor() {
    this.views.use(this.sealed);
  }

  /** Copies one plaintext in; false when it does not fit (the batch is full, or it is too long to seal into a slot). */
  stage(to: string, bytes: Uint8Array): boolean {
    if (this.count >= kSendBatchMax || bytes.length + kSealOverheadBytes > kSendSlotBytes) return false;
    this.plaintexts.set(bytes, this.count * kSendSlotBytes);
    this.lengths[this.count] = bytes.length;
    this.to[this.count] = to;
    this.count++;
    return true;
  }
}

interface Running {
  readonly runtime: Runtime;
  readonly stack: NodeStack;
  readonly engine: MembershipEngine;
  readonly datagram: DatagramTransport;
  readonly stream: StreamTransport;
  /** Wakes the driver at the engine's next deadline (never more often than tickIntervalMs). */
  readonly wake: DeadlineTimer;
  /** The watch ring's links to this node's ring successors (null when the watch beats run instead, or not at all). */
  readonly watchLinks: WatchLinks | null;
  /** The extra networks' sockets, by name (AgentWorkerData.networks). */
  readonly networks: ReadonlyMap<string, ExtraNetwork>;
}

/**
 * One extra network's sockets (issue 19's network selection): UDP and TCP bound at this
 * node's host on that network, on the farm port. They carry the messenger's envelopes
 * only (the cluster service's traffic): membership and the FMIDB stay on the farm
 * socket, so anything else opened here is refused and counted.
 */
interface ExtraNetwork {
  readonly name: string;
  readonly datagram: DatagramTransport;
  readonly stream: StreamTransport;
  appReceived: number;
  refused: number;
  appSent: number;
}

export class NodeDriver {
  private readonly data: AgentWorkerData;
  private readonly post: (report: AgentWorkerReport) => void;
  private readonly closed: () => void;
  private readonly isAdmission: (bytes: Uint8Array) => boolean;
  private keyringActive: Keyring | null;
  /** Whether the native transport opens each batch with keyringActive (batchOpenWith). */
  private batchOpened = false;
  /** The engine's replies of the batch being received, sealed together at its end (null outside a batch). */
  private sendBatch: SendBatch | null = null;
  private suspended = false;
  private gossiping = false;
  private stopping = false;
  private running: Running | null = null;
  private readonly appInbox: AppMessage[] = [];
  private appPostQueued = false;
  private appPostImmediateQueued = false;
  /** Inside a native recvmmsg batch's callbacks (onBatch to onBatchEnd). */
  private inNativeBatch = false;
  private lagMsMax = 0;
  private unauthenticatedDropped = 0;
  private admissionReceived = 0;
  private admissionDropped = 0;
  private admissionWindowStartMs = 0;
  private admissionInWindow = 0;
  private appReceived = 0;
  private appDropped = 0;
  private appSent = 0;
  /** Plaintexts sealed for appSent: one per multicast, however many peers it went to. */
  private appSealed = 0;
  private readonly appSealer: AppSealer = { seal: (bytes) => this.seal(bytes), sealDatagram: (bytes) => this.sealDatagram(bytes) };
  private stackSent = 0;
  /** The stack's output waiting for the next report (one batch per wake-up, as before). */
  private readonly pendingEvents: MembershipEvent[] = [];
  private readonly pendingUser: Uint8Array[] = [];
  private readonly pendingChanges: FmidbChange[] = [];
  private fmidbChangesDropped = 0;
  private fmidbOpen = false;
  private nextFmidbTickMs = Infinity;
  private lastFmidbTickMs = -Infinity;
  private readonly pendingJobs: JobsStackEvent[] = [];
  private jobsEventsDropped = 0;
  private jobsOpen = false;
  private nextJobsTickMs = Infinity;
  private lastJobsTickMs = -Infinity;
  /** A job command came since the last rearm: only a command (create, add, exited, ...) makes idle job cores busy. */
  private jobsCommanded = false;
  private fmidbCountersAtMs = 0;

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

  /** Job events dropped because kJobsEventsMax waited for the next report (a burst bound; tests read it). */
  get jobsEventsDroppedCount(): number {
    return this.jobsEventsDropped;
  }

  /** The stack, once started (tests read its counters and its FMIDB). */
  get stack(): NodeStack | null {
    return this.running?.stack ?? null;
  }

  /** Binds each extra network's UDP and TCP at its host on the farm port; a failure closes what was opened and throws. */
  private async openNetworks(port: number): Promise<Map<string, ExtraNetwork>> {
    const networks = new Map<string, ExtraNetwork>();
    try {
      for (const { name, host } of this.data.networks ?? []) {
        // node:dgram: the extra sockets carry the cluster service's envelopes, not the membership hot path.
        const { datagram, stream } = await openNodeTransports(hostPort(host, port), 'dgram', this.data.datagram, this.data.stream);
        const network: ExtraNetwork = { name, datagram, stream, appReceived: 0, refused: 0, appSent: 0 };
        networks.set(name, network);
        datagram.onMessage((from, bytes) => this.fromNetwork(network, from, bytes, false));
        stream.onFrame((from, bytes) => this.fromNetwork(network, from, bytes, true));
      }
    } catch (error) {
      await Promise.all([...networks.values()].flatMap((n) => [n.datagram.close(), n.stream.close()]));
      throw new Error(`extra network: ${(error as Error).message}`);
    }
    return networks;
  }

  /** What an extra network's socket received: a messenger envelope goes up; anything else (or unsealed) is refused. */
  private fromNetwork(network: ExtraNetwork, from: string, bytes: Uint8Array, stream: boolean): void {
    if (this.running === null) return;
    const plaintext = this.open(bytes);
    if (plaintext !== null && this.toApp(from, plaintext, stream, network.name)) network.appReceived++;
    else network.refused++;
    this.rearm();
  }

  private async openSockets(): Promise<void> {
    const data = this.data;
    const runtime = this.attachRuntime();
    const { datagram, stream, reason: transportReason } = await openNodeTransports(data.bind, data.transport, data.datagram, data.stream);
    const address = datagram.address;
    const id = data.id ?? nodeIdOf(address);
    const stack = new NodeStack({
      address,
      nowMs: performance.now(),
      membership: {
        config: data.config,
        runtime,
        table: new MembershipTable(runtime, data.tableBase),
        id,
        address: parseWireAddress(address),
        incarnation: data.incarnation,
        meta: data.meta,
        seeds: data.seeds,
        // The watch only helps where ICMP unreachables are seen (the native transport).
        unreachableEvidence: datagram.kind === 'native',
        // The ring is held by TCP links the kernel closes when a process dies, not by
        // beats every watchIntervalMs: no idle traffic (watch-links.ts).
        watchLinks: true,
        random: new Prng(data.randomSeed),
        direct: {
          nowMs: () => performance.now(),
          // Both transports copy the bytes before returning, as the engine requires.
          sendDatagram: (to, bytes) => {
            // Inside a received batch the engine's replies wait for one sealBatch call at its end.
            if (this.sendBatch !== null && this.sendBatch.stage(to, bytes)) return;
            const sealed = this.sealDatagram(bytes);
            if (sealed !== null) datagram.send(to, sealed);
          },
          sendFrame: (to, bytes) => {
            const sealed = this.seal(bytes);
            if (sealed !== null) stream.send(to, sealed);
          },
        },
      },
      // The agent's node ids come from its keys, not its address: membership says who is where.
      senderIds: 'membership',
      fmidbNames: 'sender-id',
      // Job coordination opens on a 'jobs-open' request, naming nodes by id as the agent's job ids and records do.
      jobs: false,
      jobsNames: 'sender-id',
    });
    const engine = stack.membership.engine;
    if (datagram instanceof NativeTransport) this.receiveBatches(datagram, stack);
    else {
      datagram.onMessage((from, bytes) => {
        if (data.secure && this.isAdmission(bytes)) {
          this.admission(from, bytes);
          return;
        }
        const plaintext = this.open(bytes);
        if (plaintext !== null && !this.toApp(from, plaintext, false)) this.input({ type: 'datagram', from, bytes: plaintext });
        this.rearm();
      });
    }
    datagram.onUnreachable((to) => {
      if (!this.gossiping || this.suspended) return;
      this.input({ type: 'unreachable', to });
      // A death found this way is posted at once, not at the next wake-up: it is rare.
      this.flushEvents();
      this.rearm();
    });
    stream.onFrame((from, bytes) => {
      const plaintext = this.open(bytes);
      if (plaintext !== null && !this.toApp(from, plaintext, true)) this.input({ type: 'frame', from, bytes: plaintext });
      this.rearm();
    });
    stream.onFailed((to) => {
      if (this.gossiping && !this.suspended) this.input({ type: 'stream-failed', to });
      this.rearm();
    });
    // The driver sleeps until the stack's next deadline rather than ticking every
    // tickIntervalMs, which is the shortest gap between wake-ups. Every input may bring a
    // deadline forward or leave events to post, so each one re-arms.
    const wake = new DeadlineTimer(data.tickIntervalMs, () => this.tick());
    const watchLinks = engine.watching ? new WatchLinks((to) => this.watchLinkLost(to), () => performance.now()) : null;
    let networks: Map<string, ExtraNetwork>;
    try {
      networks = await this.openNetworks(parseBindAddress(address).port);
    } catch (error) {
      await Promise.all([datagram.close(), stream.close()]);
      throw error;
    }
    this.running = { runtime, stack, engine, datagram, stream, wake, watchLinks, networks };
    this.tick();
    if (data.gossip) this.startGossip();
    this.post({ type: 'ready', address, id: formatNodeId(id), incarnation: engine.incarnation, backend: runtime.backendReason, transport: datagram.kind, transportReason });
    this.flushEvents();
  }

  /**
   * The native transport's receive path, one pass per recvmmsg batch (issue 14): the
   * transport opens the whole batch in one native call on the keyring's reused EVP
   * contexts (NativeTransport.openBatchesWith, Keyring.openBatch) once a keyring is
   * held, the engine reads the clock once per batch, each plaintext goes to the stack
   * without an input object (NodeStack.receiveInBatch: the decode's tape feeds the merge
   * in the engine), and the driver acts on the stack's output and re-arms its timer once
   * at the batch's end, before the batch's replies leave in one sendmmsg. A membership
   * datagram allocates nothing on this path (bench:path's agent rows count it). Admission
   * datagrams are not sealed: the transport hands them to onUnsealed.
   */
  private receiveBatches(datagram: NativeTransport, stack: NodeStack): void {
    const data = this.data;
    const sendBatch = data.secure ? new SendBatch() : null;
    datagram.onBatch(() => {
      // Replies are staged for one sealBatch only while a keyring seals and gossip runs; otherwise they take sealDatagram's path.
      if (sendBatch !== null && this.keyringActive !== null && !this.suspended) this.sendBatch = sendBatch;
      this.inNativeBatch = true;
      stack.batchArrived();
    });
    datagram.onMessage((from, bytes) => {
      let plaintext: Uint8Array | null = bytes;
      if (!this.batchOpened) {
        if (data.secure && this.isAdmission(bytes)) {
          this.admission(from, bytes);
          return;
        }
        plaintext = this.open(bytes);
      } else if (this.suspended || !this.gossiping) plaintext = null;
      if (plaintext !== null && !this.toApp(from, plaintext, false)) stack.receiveInBatch(from, plaintext);
    });
    datagram.onBatchEnd(() => {
      this.inNativeBatch = false;
      this.sendBatch = null;
      if (sendBatch !== null) this.flushSendBatch(sendBatch, datagram);
      this.act();
      this.rearm();
    });
    this.batchOpenWith(datagram);
  }

  /** Seals the staged replies in one call (Keyring.sealBatch) and queues them for the batch's sendmmsg. */
  private flushSendBatch(batch: SendBatch, datagram: DatagramTransport): void {
    const count = batch.count;
    if (count === 0) return;
    batch.count = 0;
    if (this.suspended || this.keyringActive === null) return;
    this.keyringActive.sealBatch(batch.plaintexts, count, kSendSlotBytes, batch.lengths, batch.results, batch.sealed);
    for (let i = 0; i < count; i++) {
      const length = batch.results[i]!;
      if (length >= 0) datagram.send(batch.to[i]!, batch.views.view(i, length));
    }
  }

  /** Has the native transport open each batch with the keyring, once there is one (secure farms only). */
  private batchOpenWith(datagram: DatagramTransport): void {
    if (this.batchOpened || !this.data.secure || this.keyringActive === null || !(datagram instanceof NativeTransport)) return;
    const keyring = this.keyringActive;
    datagram.openBatchesWith(keyring, (from, bytes) => {
      // Not sealed at all: an admission datagram, or garbage the keyring counted as
      // malformed. An admission datagram is no malformed farm message (the per-datagram
      // path never showed it to the keyring): its count is taken back.
      if (!this.isAdmission(bytes)) return;
      if (keyring.counters.malformed > 0) keyring.counters.malformed--;
      this.admission(from, bytes);
    });
    this.batchOpened = true;
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
        if (this.keyringActive === null) {
          this.keyringActive = new Keyring(request.keys);
          this.batchOpenWith(r.datagram);
        } else this.keyringActive.replace(request.keys);
        if (!this.suspended) this.startGossip();
        return;
      case 'suspend':
        this.suspended = true;
        return;
      case 'broadcast':
        if (this.gossiping && !this.suspended) this.command({ type: 'broadcast', payload: request.payload });
        return;
      case 'admission-send':
        r.datagram.send(request.to, request.bytes);
        return;
      case 'meta':
        this.command({ type: 'meta', meta: request.meta });
        return;
      case 'join':
        // Before gossip starts (waiting for admission) the engine only keeps the list for its start.
        if (!this.suspended) this.command({ type: 'join', seeds: request.seeds });
        return;
      case 'fmidb-open': {
        if (this.fmidbOpen) return;
        const config = resolveFmidbConfig(request.options);
        this.fmidbOpen = true;
        this.command({
          type: 'open-fmidb',
          // Stamps order writes farm-wide by wall clock: the offset of Date.now from this thread's monotonic clock.
          fmidb: { config, runtime: createFmidbRuntime(config), random: new Prng(request.randomSeed), wallClockOffsetMs: Date.now() - performance.now() },
          snapshot: request.snapshot,
        });
        this.nextFmidbTickMs = this.jobsOpen ? this.nextJobsTickMs : performance.now();
        return;
      }
      case 'fmidb-write': {
        let stamp = -1;
        let error: { code: string; message: string } | null = null;
        if (!this.fmidbOpen) {
          this.post({ type: 'fmidb-written', requestId: request.requestId, stamp, error: { code: 'FMIDB_NOT_OPEN', message: 'the FMIDB is not open on this node yet' } });
          return;
        }
        try {
          this.command({ type: 'write', writes: request.writes });
          stamp = r.stack.fmidb.replica.versionOf(r.stack.fmidb.replica.selfId);
        } catch (e) {
          if (!(e instanceof FmidbError)) throw e;
          // FmidbError prefixes its message with its code; the main thread's copy adds it again.
          error = { code: e.code, message: e.message.startsWith(`${e.code}: `) ? e.message.slice(e.code.length + 2) : e.message };
          this.act();
        }
        // The write's changes go up before its answer, so the operator's view holds it when the answer arrives.
        this.flushEvents();
        this.post({ type: 'fmidb-written', requestId: request.requestId, stamp, error });
        return;
      }
      case 'revoke':
        this.command({ type: 'revoke', senderId: request.id });
        return;
      case 'fmidb-depart':
        if (this.fmidbOpen) this.command({ type: 'depart', ids: request.ids });
        return;
      case 'fmidb-read': {
        if (!this.fmidbOpen) {
          this.post({ type: 'fmidb-read', requestId: request.requestId, readout: { digest: '', originsHeld: 0, counters: this.fmidbCounters(), origins: null } });
          return;
        }
        const replica = r.stack.fmidb.replica;
        this.post({ type: 'fmidb-read', requestId: request.requestId, readout: { digest: replica.digestHash(), originsHeld: replica.originsHeld, counters: this.fmidbCounters(), origins: request.exportOrigins ? replica.exportOrigins() : null } });
        return;
      }
      case 'jobs-open':
        if (this.jobsOpen) return;
        this.jobsOpen = true;
        // The host reports each launch (pid or why it failed) before the coordinator counts the process as running.
        this.command({ type: 'open-jobs', jobs: { coordinator: request.options.coordinator, runner: { ...request.options.runner, confirmLaunches: true } } });
        // On the FMIDB's wake-ups when it is open, so the two timers cost one wake-up.
        this.nextJobsTickMs = this.fmidbOpen ? this.nextFmidbTickMs : performance.now();
        return;
      case 'jobs-command': {
        this.jobsCommanded = true;
        let error: { code: string; kind: string; message: string } | null = null;
        if (!this.jobsOpen) error = { code: 'GALAXY_JOBS_NOT_OPEN', kind: 'unavailable', message: 'job coordination is not open on this node yet' };
        else {
          try {
            this.command(request.command);
          } catch (e) {
            if (!(e instanceof DomainError)) throw e;
            error = { code: e.code, kind: e.kind, message: e.message };
            this.act();
          }
        }
        // The command's events go up before its answer, so the host's table holds them when the answer arrives.
        this.flushEvents();
        this.post({ type: 'jobs-done', requestId: request.requestId, error });
        return;
      }
      case 'app-send':
        if (hopTrace !== null) {
          for (const message of request.messages) hopTrace.scan('worker.cmd', message.bytes);
          // After the transport's own flush microtask, queued by the first send below: the datagrams have left.
          queueMicrotask(() => {
            for (const message of request.messages) hopTrace!.scan('worker.sent', message.bytes);
          });
        }
        // One seal per multicast, the same sealed bytes to each of its peers (app-send.ts).
        this.appSealed += sendAppBatch(request.messages, this.appSealer, (message, sealed) => {
          this.appSent++;
          const network = message.via === undefined ? undefined : r.networks.get(message.via);
          if (network !== undefined) network.appSent++;
          if (message.stream) (network?.stream ?? r.stream).send(message.peer, sealed);
          else (network?.datagram ?? r.datagram).send(message.peer, sealed);
        });
        return;
    }
  }

  /** Leaves gracefully (gossiping for flushMs so the LEAVE spreads), closes the sockets, reports 'stopped'. */
  async stop(flushMs: number): Promise<void> {
    const r = this.running;
    if (this.stopping || r === null) return;
    this.stopping = true;
    if (this.gossiping && !this.suspended) {
      this.command({ type: 'leave' });
      this.flushEvents();
      // Keep ticking for flushMs so the gossip rounds carry the LEAVE to the fanout.
      await new Promise((resolve) => setTimeout(resolve, flushMs));
    }
    r.wake.stop();
    r.watchLinks?.close();
    this.flushEvents();
    await Promise.all([r.datagram.close(), r.stream.close(), ...[...r.networks.values()].flatMap((n) => [n.datagram.close(), n.stream.close()])]);
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
    // A secure farm seals every datagram with AES-256-GCM, whose tag catches corruption
    // and truncation: its datagrams carry no checksum (a 0 trailer, neither computed nor
    // checked). Fixed for the life of the worker, like the farm's mode; every agent of a
    // secure farm runs the same build, so all of them agree (issue 14 item 2).
    if (data.secure) runtime.setDatagramChecksums(false);
    return runtime;
  }

  private startGossip(): void {
    if (this.gossiping || this.running === null) return;
    this.gossiping = true;
    this.command({ type: 'start' });
    this.rearm();
  }

  /** One input to the stack, then its output acted on. */
  private input(input: StackInput): void {
    this.running!.stack.step(input);
    this.act();
  }

  private command(command: StackCommand): void {
    this.input({ type: 'command', command });
  }

  /**
   * Acts on the stack's batch in order: the FMIDB's envelopes are sealed and sent (the
   * engine's own traffic went out directly), events wait for the next report.
   */
  private act(): void {
    const r = this.running!;
    const out = r.stack.ready();
    // Indexed, not for-of: called once per received batch, and an iterator is an allocation.
    for (let i = 0; i < out.length; i++) {
      const o = out[i]!;
      if (o.type === 'event') {
        const e = o.event;
        switch (e.layer) {
          case 'membership':
            this.pendingEvents.push(e.event);
            break;
          case 'user':
            this.pendingUser.push(e.payload);
            break;
          case 'fmidb':
            if (this.pendingChanges.length >= kFmidbChangesMax) this.fmidbChangesDropped++;
            else this.pendingChanges.push(e.change);
            break;
          case 'fmidb-opened':
            this.post({ type: 'fmidb-opened', origins: e.origins, entries: e.entries, refused: e.refused });
            break;
          case 'jobs':
          case 'run':
          case 'terminate':
          case 'signal':
            if (this.pendingJobs.length >= kJobsEventsMax) this.jobsEventsDropped++;
            else this.pendingJobs.push(e);
            break;
        }
        continue;
      }
      const sealed = o.type === 'datagram' ? this.sealDatagram(o.bytes) : this.seal(o.bytes);
      if (sealed === null) continue;
      this.stackSent++;
      if (o.type === 'datagram') r.datagram.send(o.to, sealed);
      else r.stream.send(o.to, sealed);
    }
    r.stack.advance();
  }

  private fmidbBusy(r: Running): boolean {
    return this.fmidbOpen && r.stack.hasFmidb && r.stack.fmidb.replica.busy;
  }

  /** Arms the wake-up for the stack's next deadline, or now when output waits to be posted. */
  private rearm(): void {
    const r = this.running;
    if (r === null) return;
    const pending = r.engine.hasPendingOutput || this.appInbox.length > 0 || this.pendingEvents.length > 0 || this.pendingUser.length > 0 || this.pendingChanges.length > 0 || this.pendingJobs.length > 0;
    // A write or a received digest gave the idle FMIDB work: back to its short period.
    if (this.lastFmidbTickMs > -Infinity && this.nextFmidbTickMs > this.lastFmidbTickMs + kFmidbTickMs && this.fmidbBusy(r)) this.nextFmidbTickMs = this.lastFmidbTickMs + kFmidbTickMs;
    // The same for the job cores: a job created or a process ended (a command) since an idle tick brings the next one in.
    // Checked only after a command: the receive path's rearm never walks the job tables.
    if (this.jobsCommanded) {
      this.jobsCommanded = false;
      if (this.lastJobsTickMs > -Infinity && this.nextJobsTickMs > this.lastJobsTickMs + kJobsTickMs && r.stack.jobsBusy) this.nextJobsTickMs = this.lastJobsTickMs + kJobsTickMs;
    }
    if (pending) {
      r.wake.armAt(performance.now());
      return;
    }
    // Runs once per received batch: the engine's deadline is read from its field and the
    // minimum taken by comparisons, which V8 compiles without boxing a double (issue 14:
    // the Math.min form over a returned deadline was 64 bytes per batch).
    const engine = r.engine;
    engine.refreshDeadline();
    let next = engine.deadlineMs;
    if (this.nextFmidbTickMs < next) next = this.nextFmidbTickMs;
    if (this.nextJobsTickMs < next) next = this.nextJobsTickMs;
    r.wake.armAt(next);
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

  private toApp(from: string, plaintext: Uint8Array, stream: boolean, via?: string): boolean {
    // The messenger's envelopes go up, but the FMIDB's and job coordination's, which the
    // stack runs (before coordination is open it refuses starts at once); the rest is
    // membership's wire format. The channel id is
    // little-endian at offset 2 (envelope.ts).
    if (!isEnvelope(plaintext)) return false;
    if (plaintext.length >= kEnvelopeHeaderBytes) {
      const channel = plaintext[2]! | (plaintext[3]! << 8);
      if (channel === kFmidbChannelId || channel === kJobsChannelId) return false;
    }
    hopTrace?.scan('worker.recv', plaintext);
    if (this.appInbox.length >= kAppInboxMax) this.appDropped++;
    else {
      this.appReceived++;
      this.appInbox.push(via === undefined ? { peer: from, bytes: Uint8Array.from(plaintext), stream } : { peer: from, bytes: Uint8Array.from(plaintext), stream, via });
      this.postAppSoon(stream || this.inNativeBatch);
    }
    return true;
  }

  /**
   * Posts the messenger's received envelopes up soon, not at the next wake-up, which the
   * DeadlineTimer keeps at least tickIntervalMs (5 ms) after the last one. A cluster
   * channel message crosses this hop once per protocol step (data to the sequencer, its
   * order back, acks), so every wait here is paid per step (issue 18: latency at 1,000
   * msg/s, bench:channels GALAXY_BENCH_TRACE=1 "worker.recv -> worker.post").
   *  - `now` (a native recvmmsg batch, or the stream frames of one read: each is one
   *    callback): in a microtask once that callback returns, one post per batch;
   *  - otherwise (node:dgram, one callback per datagram: the fallback transport and the
   *    extra networks): after the loop's poll phase (setImmediate), so the datagrams of
   *    one turn still go up in one post instead of one post each.
   */
  private postAppSoon(now: boolean): void {
    if (now) {
      if (this.appPostQueued) return;
      this.appPostQueued = true;
      queueMicrotask(this.postApp);
      return;
    }
    if (this.appPostImmediateQueued) return;
    this.appPostImmediateQueued = true;
    setImmediate(this.postAppAfterPoll);
  }

  private readonly postApp = (): void => {
    this.appPostQueued = false;
    this.postAppNow();
  };

  private readonly postAppAfterPoll = (): void => {
    this.appPostImmediateQueued = false;
    this.postAppNow();
  };

  private postAppNow(): void {
    if (hopTrace !== null) for (const m of this.appInbox) hopTrace.scan('worker.post', m.bytes);
    if (this.running !== null && this.appInbox.length > 0) this.post({ type: 'app', messages: this.appInbox.splice(0) });
  }

  private flushEvents(): void {
    if (this.running === null) return;
    if (this.pendingEvents.length > 0) this.post({ type: 'events', events: this.pendingEvents.splice(0) });
    if (this.pendingUser.length > 0) this.post({ type: 'user', payloads: this.pendingUser.splice(0) });
    if (this.appInbox.length > 0) this.post({ type: 'app', messages: this.appInbox.splice(0) });
    if (this.pendingJobs.length > 0) this.post({ type: 'jobs', events: this.pendingJobs.splice(0) });
    if (!this.fmidbOpen) return;
    const now = performance.now();
    if (this.pendingChanges.length > 0 || now - this.fmidbCountersAtMs >= kFmidbCountersReportMs) {
      this.fmidbCountersAtMs = now;
      this.post({ type: 'fmidb', changes: this.pendingChanges.splice(0), counters: this.fmidbCounters() });
    }
  }

  private fmidbCounters(): FmidbCountersReport {
    const counters: Record<string, number> = { changesDroppedInWorker: this.fmidbChangesDropped };
    const stack = this.running?.stack;
    if (stack === undefined || !stack.hasFmidb) return counters;
    for (const [key, value] of Object.entries(stack.fmidb.replica.counters)) if (typeof value === 'number') counters[key] = value;
    counters['originsHeld'] = stack.fmidb.replica.originsHeld;
    return counters;
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
    const now = performance.now();
    this.command({ type: 'lag', lagMs });
    r.stack.tick(now);
    this.act();
    if (now >= this.nextFmidbTickMs) {
      this.lastFmidbTickMs = now;
      this.nextFmidbTickMs = now + (this.fmidbBusy(r) ? kFmidbTickMs : kFmidbIdleTickMs);
    }
    if (now >= this.nextJobsTickMs) {
      this.lastJobsTickMs = now;
      this.nextJobsTickMs = now + (r.stack.jobsBusy ? kJobsTickMs : kJobsIdleTickMs);
    }
    // The watch links follow the ring (the same array while it is unchanged: no work).
    r.watchLinks?.update(r.engine.watchTargets());
    this.flushEvents();
    this.rearm();
  }

  /** A watch link closed: one beat to that member now, whose ICMP unreachable (if its process is gone) starts the confirmation. */
  private watchLinkLost(to: string): void {
    const r = this.running;
    if (r === null || !this.gossiping || this.suspended || this.stopping) return;
    r.engine.watchLinkLost(to);
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
      appSealed: this.appSealed,
      stack: { ...r.stack.counters },
      jobs: r.stack.jobsCounters(),
      networks: [...r.networks.values()].map((n) => ({ name: n.name, address: n.datagram.address, datagram: n.datagram.counters.snapshot(), stream: n.stream.counters.snapshot(), appReceived: n.appReceived, refused: n.refused, appSent: n.appSent })),
    };
  }
}
