import { Prng } from '../core/util/prng.js';
import { EventQueue } from './event-queue.js';
import { PartitionSet } from './partition-set.js';
import { nodeAddress } from './node-address.js';
import type { SimContext, SimMembershipEvent, SimProcess, SimProcessFactory } from './sim-process.js';
import { checkRate, kNodesLimit, resolveSimulatorOptions, type NetworkSimulatorOptions, type NetworkSimulatorSettings } from './sim-options.js';
import * as S from './sim-stats.js';

/**
 * A deterministic discrete-event simulator of a datacenter network and the hosts on it,
 * for running many membership processes in one thread. One seed drives the network,
 * the clocks and every process's randomness, so a (seed, code) pair replays a run
 * event for event; nothing here reads the real clock or Math.random.
 *
 * Model, in short:
 * - Datagrams: loss, partition and per-link settings are decided at send time; the
 *   state of the destination (host down, process dead, paused) at arrival time.
 * - Frames: reliable and ordered per (from, to) pair. They fail, with streamFailed at
 *   the sender, after frameConnectTimeoutMs when the destination host is down or the
 *   path is cut either way, and after one round trip when the host is up but the
 *   process is dead (a TCP reset). A frame sent to one process of a host never
 *   reaches the next one after a restart: it fails like a reset.
 * - A paused process gets no ticks and no calls; what arrives for it waits in its
 *   socket buffers (bounded) and is handed over when it resumes, right after one tick.
 * - Every callback to a process (tick, receive*, unreachable, streamFailed) carries the
 *   process epoch it was meant for; a crash or restart bumps the epoch, so nothing
 *   meant for an old process reaches a new one except datagrams, which, as with UDP,
 *   go to whoever holds the port when they arrive.
 * - Watch links (SimContext.holdLinks, the agent's idle TCP connections to its ring
 *   successors, src/node/driver/watch-links.ts): nothing travels on them. When a
 *   linked process dies and its host stays up (crash, stop), its kernel closes the
 *   link and the holder gets linkLost one latency later, if a path exists both ways;
 *   a host that goes down, a pause or a partition closes nothing. While a lost link's
 *   target stays dead and held, the holder reconnects as the agent does (at once, then
 *   after 100 ms doubling to 5 s), and each refused connect is another linkLost; a
 *   link opened to a dead process is refused the same way.
 */
export class NetworkSimulator {
  readonly settings: NetworkSimulatorSettings;

  private nowMsValue = 0;
  private running = false;
  private eventsProcessed = 0;
  private digest = 0x811c9dc5;
  private readonly queue: EventQueue;
  private readonly partitions: PartitionSet;
  private readonly links = new Map<number, SimLink>();
  private readonly listeners: SimReportListener[] = [];
  private lossRate: number;

  private readonly rootRandom: Prng;
  private readonly networkRandom: Prng;
  private readonly topologyRandom: Prng;

  private readonly addresses: string[] = [];
  private readonly indexByAddress = new Map<string, number>();
  /** Addresses no node has but that frames were sent to: failures need the name back. Index -1 - i. */
  private readonly strangers: string[] = [];
  private readonly strangerIndex = new Map<string, number>();
  private readonly factories: SimProcessFactory[] = [];
  private readonly processes: (SimProcess | null)[] = [];
  private readonly hostRandoms: Prng[] = [];
  private readonly parked: (number[] | null)[] = [];
  /** Last scheduled arrival of a frame per (from, to) pair still in flight; keeps frames ordered. */
  private readonly frameArrivalsMs = new Map<number, number>();
  /** Watch links: the node indexes each process holds a link to (null: none), and each node's holders. */
  private readonly linkTargets: (number[] | null)[] = [];
  private readonly linkHolders = new Map<number, Set<number>>();
  /** Per (holder, target) pair whose link is down while still held: the reconnect backoff, ms. */
  private readonly linkRetryMs = new Map<number, number>();

  private nodeCapacity = 0;
  private processAlive = new Uint8Array(0);
  private hostUp = new Uint8Array(0);
  private icmpEnabled = new Uint8Array(0);
  private paused = new Uint8Array(0);
  private pausedUntilMs = new Float64Array(0);
  private parkedDatagrams = new Int32Array(0);
  private parkedFrames = new Int32Array(0);
  private processEpoch = new Int32Array(0);
  private tickEpoch = new Int32Array(0);
  /** With skipIdleTicks: global time of the last tick that ran, and of the one queued (Infinity: none). */
  private tickLastMs = new Float64Array(0);
  private tickQueuedMs = new Float64Array(0);
  private restarts = new Int32Array(0);
  private clockRate = new Float64Array(0);
  private clockOffsetMs = new Float64Array(0);
  private tickIntervalMs = new Float64Array(0);
  private statCells = new Float64Array(0);

  constructor(options: NetworkSimulatorOptions = {}) {
    this.settings = resolveSimulatorOptions(options);
    this.lossRate = this.settings.lossRate;
    this.queue = new EventQueue(kInitialEventCapacity, this.settings.eventsQueuedMax);
    this.partitions = new PartitionSet(this.settings.nodesMax);
    this.rootRandom = new Prng(this.settings.seed);
    this.networkRandom = this.rootRandom.fork();
    this.topologyRandom = this.rootRandom.fork();
  }

  // ---- Building the cluster -------------------------------------------------------

  /** Adds a host, starts a process on it from `factory` (incarnationHint 0) and returns its address. */
  addNode(factory: SimProcessFactory): string {
    const index = this.addresses.length;
    if (index >= this.settings.nodesMax) throw new RangeError(`addNode: options.nodesMax (${this.settings.nodesMax}) nodes already added`);
    if (index === this.nodeCapacity) this.growNodes();
    const address = nodeAddress(index);
    this.addresses.push(address);
    this.indexByAddress.set(address, index);
    this.factories.push(factory);
    this.processes.push(null);
    this.parked.push(null);
    this.linkTargets.push(null);
    this.hostRandoms.push(this.rootRandom.fork());
    const topology = this.topologyRandom;
    const drift = (2 * topology.nextFloat() - 1) * this.settings.clockDriftMax;
    this.clockRate[index] = 1 + drift;
    this.clockOffsetMs[index] = topology.nextFloat() * this.settings.clockOffsetMsMax;
    this.tickIntervalMs[index] = this.settings.tickMs / (1 + drift);
    this.hostUp[index] = 1;
    this.icmpEnabled[index] = this.settings.icmp ? 1 : 0;
    this.startProcess(index);
    return address;
  }

  /** Every node's address, in the order added. */
  nodes(): readonly string[] {
    return this.addresses;
  }

  /** Global simulation time in ms. */
  nowMs(): number {
    return this.nowMsValue;
  }

  /** Registers a listener for what processes report (see FalsePositiveCounter). */
  addReportListener(listener: SimReportListener): void {
    this.listeners.push(listener);
  }

  // ---- Running --------------------------------------------------------------------

  /** Runs every event due in the next `ms` ms of global time, then sets the clock to the end. */
  runFor(ms: number): void {
    if (!(ms >= 0) || !Number.isFinite(ms)) throw new RangeError(`runFor: ms must be a finite number >= 0, got ${ms}`);
    this.runTo(this.nowMsValue + ms);
  }

  /**
   * Runs until predicate() holds, checking it now and every checkEveryMs of global time.
   * Returns the simulation time at which it held, or -1 when timeoutMs passed first.
   */
  runUntil(predicate: () => boolean, timeoutMs: number, checkEveryMs = kCheckEveryMsDefault): number {
    if (!(timeoutMs >= 0) || !Number.isFinite(timeoutMs)) throw new RangeError(`runUntil: timeoutMs must be a finite number >= 0, got ${timeoutMs}`);
    if (!(checkEveryMs > 0) || !Number.isFinite(checkEveryMs)) {
      throw new RangeError(`runUntil: checkEveryMs must be a finite number > 0, got ${checkEveryMs}`);
    }
    const deadlineMs = this.nowMsValue + timeoutMs;
    for (;;) {
      if (predicate()) return this.nowMsValue;
      if (this.nowMsValue >= deadlineMs) return -1;
      this.runTo(Math.min(this.nowMsValue + checkEveryMs, deadlineMs));
    }
  }

  private runTo(endMs: number): void {
    if (this.running) throw new Error('the simulator is already running: a process may not call runFor or runUntil');
    this.running = true;
    try {
      const queue = this.queue;
      while (queue.peekTimeMs() <= endMs) {
        const slot = queue.pop();
        this.nowMsValue = queue.poppedTimeMs;
        this.eventsProcessed++;
        this.dispatch(slot);
      }
      this.nowMsValue = endMs;
    } finally {
      this.running = false;
    }
  }

  private dispatch(slot: number): void {
    const queue = this.queue;
    const kind = queue.kindOf(slot);
    let digest = Math.imul(this.digest ^ kind, kFnvPrime);
    digest = Math.imul(digest ^ queue.sourceOf(slot), kFnvPrime);
    digest = Math.imul(digest ^ queue.targetOf(slot), kFnvPrime);
    this.digest = Math.imul(digest ^ Math.round(this.nowMsValue * 1000), kFnvPrime);
    switch (kind) {
      case kEventTick:
        this.onTick(slot);
        break;
      case kEventDatagram:
        this.onDatagramArrival(slot);
        break;
      case kEventFrame:
        this.onFrameArrival(slot);
        break;
      case kEventUnreachable:
      case kEventStreamFailed:
      case kEventLinkLost:
        this.onNotificationArrival(slot);
        break;
      case kEventResume:
        this.onResume(slot);
        break;
      default:
        throw new Error(`unknown event kind ${kind} in slot ${slot}`);
    }
  }

  // ---- Faults ---------------------------------------------------------------------

  /** The process dies at once (no stop() call); the host stays up, so icmp answers for it. */
  crash(address: string): void {
    const index = this.indexOf(address);
    if (this.processAlive[index] === 0) throw new Error(`crash(${address}): its process is not running`);
    this.killProcess(index);
  }

  /** The whole host goes down: its process dies and the host falls silent; frames to it time out. */
  crashHost(address: string): void {
    const index = this.indexOf(address);
    if (this.hostUp[index] === 0) throw new Error(`crashHost(${address}): the host is already down`);
    // No kernel is left to close its links: their holders learn nothing from them.
    if (this.processAlive[index] === 1) this.killProcess(index, false);
    this.hostUp[index] = 0;
  }

  /** Brings the host up if it was down and starts a new process with incarnationHint one higher. */
  restart(address: string): void {
    const index = this.indexOf(address);
    if (this.processAlive[index] === 1) throw new Error(`restart(${address}): its process is running; crash() or stop() it first`);
    this.hostUp[index] = 1;
    this.restarts[index]!++;
    this.startProcess(index);
  }

  /** Graceful stop: calls the process's stop() (which may still send), then the process is gone; the host stays up. */
  stop(address: string): void {
    const index = this.indexOf(address);
    if (this.processAlive[index] === 0) throw new Error(`stop(${address}): its process is not running`);
    if (this.paused[index] === 1) throw new Error(`stop(${address}): its process is paused and cannot run stop()`);
    this.processes[index]!.stop();
    this.killProcess(index);
  }

  /**
   * Stops the process for `ms` ms of global time, as SIGSTOP or a long event-loop stall:
   * no ticks, no deliveries (they wait in bounded socket buffers), no sends. Pausing a
   * paused process extends the pause to whichever end is later.
   */
  pause(address: string, ms: number): void {
    const index = this.indexOf(address);
    if (!(ms > 0) || !Number.isFinite(ms)) throw new RangeError(`pause(${address}): ms must be a finite number > 0, got ${ms}`);
    if (this.processAlive[index] === 0) throw new Error(`pause(${address}): its process is not running`);
    const untilMs = this.nowMsValue + ms;
    if (this.paused[index] === 1 && this.pausedUntilMs[index]! >= untilMs) return;
    this.paused[index] = 1;
    this.pausedUntilMs[index] = untilMs;
    this.tickEpoch[index]!++;
    this.queue.push(untilMs, kEventResume, index, index, this.processEpoch[index]!, 0, null);
  }

  /** Cuts groupA from groupB (both ways, or only A→B when oneWay). Cuts add up until heal(). */
  partition(groupA: readonly string[], groupB: readonly string[], options: { oneWay?: boolean } = {}): void {
    const oneWay = options.oneWay ?? false;
    if (typeof oneWay !== 'boolean') throw new RangeError(`partition: options.oneWay must be a boolean, got ${String(oneWay)}`);
    this.partitions.add(
      groupA.map((address) => this.indexOf(address)),
      groupB.map((address) => this.indexOf(address)),
      oneWay,
    );
  }

  /** Removes every partition (link settings stay). */
  heal(): void {
    this.partitions.clear();
  }

  /** Overrides loss and latency on the one-way link from→to; fields left out follow the global settings. */
  setLink(from: string, to: string, link: SimLinkSettings): void {
    const source = this.indexOf(from);
    const target = this.indexOf(to);
    const lossRate = link.lossRate ?? -1;
    if (link.lossRate !== undefined) checkRate('lossRate', link.lossRate);
    const latencyMsMin = link.latencyMsMin ?? this.settings.latencyMsMin;
    const latencyMsMean = link.latencyMsMean ?? Math.max(this.settings.latencyMsMean, latencyMsMin);
    if (!(latencyMsMin >= 0) || !Number.isFinite(latencyMsMin)) throw new RangeError(`options.latencyMsMin must be a finite number >= 0, got ${latencyMsMin}`);
    if (!(latencyMsMean >= latencyMsMin) || !Number.isFinite(latencyMsMean)) {
      throw new RangeError(`options.latencyMsMean must be finite and at least latencyMsMin (${latencyMsMin}), got ${latencyMsMean}`);
    }
    this.links.set(source * kNodesLimit + target, { lossRate, latencyMsMin, latencySpreadMs: latencyMsMean - latencyMsMin });
  }

  /** Removes every per-link override. */
  clearLinks(): void {
    this.links.clear();
  }

  /** Sets the global datagram loss rate (links with their own lossRate keep it). */
  setLossRate(lossRate: number): void {
    checkRate('lossRate', lossRate);
    this.lossRate = lossRate;
  }

  /** Turns ICMP answers for a dead process on this host on or off. */
  setIcmp(address: string, enabled: boolean): void {
    this.icmpEnabled[this.indexOf(address)] = enabled ? 1 : 0;
  }

  // ---- Ground truth ---------------------------------------------------------------

  /** True when some node has this address. */
  hasNode(address: string): boolean {
    return this.indexByAddress.has(address);
  }

  isProcessAlive(address: string): boolean {
    return this.processAlive[this.indexOf(address)] === 1;
  }

  isHostUp(address: string): boolean {
    return this.hostUp[this.indexOf(address)] === 1;
  }

  isPaused(address: string): boolean {
    return this.paused[this.indexOf(address)] === 1;
  }

  /** True when a datagram from a can arrive at b, loss aside: both hosts up and no cut from a to b. */
  canReach(a: string, b: string): boolean {
    const from = this.indexOf(a);
    const to = this.indexOf(b);
    return this.hostUp[from] === 1 && this.hostUp[to] === 1 && !(this.partitions.active && this.partitions.blocks(from, to));
  }

  /** True while any partition is in force (invariant checks use it to skip pairwise reachability). */
  hasPartitions(): boolean {
    return this.partitions.active;
  }

  /** The running process at this address, or undefined when it is dead. */
  processOf(address: string): SimProcess | undefined {
    return this.processes[this.indexOf(address)] ?? undefined;
  }

  /** How many times the host's process was restarted (the incarnationHint its current process got). */
  restartsOf(address: string): number {
    return this.restarts[this.indexOf(address)]!;
  }

  /** The host's local clock now, as its process reads it. */
  localNowMs(address: string): number {
    return this.localNowAt(this.indexOf(address));
  }

  /** The host's clock: local = offsetMs + rate * global, rate = 1 + drift. */
  clockOf(address: string): { rate: number; offsetMs: number } {
    const index = this.indexOf(address);
    return { rate: this.clockRate[index]!, offsetMs: this.clockOffsetMs[index]! };
  }

  // ---- Statistics -----------------------------------------------------------------

  stats(): S.SimStatsSummary {
    let processesAlive = 0;
    let hostsUp = 0;
    for (let i = 0; i < this.addresses.length; i++) {
      processesAlive += this.processAlive[i]!;
      hostsUp += this.hostUp[i]!;
    }
    return {
      simTimeMs: this.nowMsValue,
      eventsProcessed: this.eventsProcessed,
      eventsQueued: this.queue.length,
      nodes: this.addresses.length,
      processesAlive,
      hostsUp,
      totals: S.readNodeStats(this.statCells, -1, this.addresses.length),
    };
  }

  nodeStats(address: string): S.SimNodeStats {
    return S.readNodeStats(this.statCells, this.indexOf(address), this.addresses.length);
  }

  /** A 32-bit running hash of every event dispatched (kind, endpoints, time in µs): equal digests mean equal runs. */
  eventDigest(): number {
    return this.digest >>> 0;
  }

  // ---- Processes ------------------------------------------------------------------

  private startProcess(index: number): void {
    const epoch = ++this.processEpoch[index]!;
    const address = this.addresses[index]!;
    const process = this.factories[index]!(address, this.restarts[index]!);
    this.processes[index] = process;
    this.processAlive[index] = 1;
    this.paused[index] = 0;
    process.start(this.makeContext(index, epoch, this.hostRandoms[index]!.fork()));
    const phaseMs = this.topologyRandom.nextFloat() * this.tickIntervalMs[index]!;
    this.tickQueuedMs[index] = this.nowMsValue + phaseMs;
    // No grid yet: the first tick, queued here, starts it.
    this.tickLastMs[index] = NaN;
    this.queue.push(this.nowMsValue + phaseMs, kEventTick, index, index, ++this.tickEpoch[index]!, 0, null);
  }

  /**
   * Kills the process: later events for its epoch are ignored, and what waited for it
   * while paused is lost. Its own links go with it; the links others hold to it are
   * closed by its kernel when the host stays up (`hostStaysUp`).
   */
  private killProcess(index: number, hostStaysUp = true): void {
    const held = this.linkTargets[index];
    if (held !== null && held !== undefined) {
      for (const target of held) this.dropLink(index, target);
      this.linkTargets[index] = null;
    }
    const holders = this.linkHolders.get(index);
    if (holders !== undefined && hostStaysUp) {
      for (const holder of holders) {
        if (this.processAlive[holder] === 1 && this.pathBothWays(index, holder)) this.scheduleLinkLost(index, holder, kLinkClosed, this.sampleLatencyMs(index, holder));
      }
    }
    this.processAlive[index] = 0;
    this.processes[index] = null;
    this.processEpoch[index]!++;
    this.tickEpoch[index]!++;
    this.paused[index] = 0;
    const parked = this.parked[index];
    if (parked === null || parked === undefined || parked.length === 0) return;
    for (const slot of parked) this.discardParked(index, slot);
    parked.length = 0;
    this.parkedDatagrams[index] = 0;
    this.parkedFrames[index] = 0;
  }

  /** A parked delivery whose process died: a datagram is lost, a frame is reset back to its sender. */
  private discardParked(index: number, slot: number): void {
    const queue = this.queue;
    const kind = queue.kindOf(slot);
    const source = queue.sourceOf(slot);
    if (kind === kEventDatagram) this.count(source, S.kStatDropsDead, 1);
    if (kind === kEventFrame) this.failFrame(source, queue.sourceEpochOf(slot), index, this.sampleLatencyMs(index, source));
    queue.release(slot);
  }

  private makeContext(index: number, epoch: number, random: Prng): SimContext {
    const address = this.addresses[index]!;
    return {
      address,
      random,
      nowMs: () => this.localNowAt(index),
      sendDatagram: (to, bytes) => this.sendDatagram(index, epoch, to, bytes),
      sendFrame: (to, bytes) => this.sendFrame(index, epoch, to, bytes),
      report: (event) => this.report(index, epoch, event),
      holdLinks: (targets) => this.holdLinks(index, epoch, targets),
    };
  }

  private localNowAt(index: number): number {
    return this.clockOffsetMs[index]! + this.clockRate[index]! * this.nowMsValue;
  }

  private report(index: number, epoch: number, event: SimMembershipEvent): void {
    if (this.processEpoch[index] !== epoch) return;
    const observer = this.addresses[index]!;
    for (const listener of this.listeners) listener.onReport(observer, event, this.nowMsValue);
  }

  private onTick(slot: number): void {
    const queue = this.queue;
    const index = queue.sourceOf(slot);
    const epoch = queue.sourceEpochOf(slot);
    queue.release(slot);
    if (this.tickEpoch[index] !== epoch) return;
    this.count(index, S.kStatTicks, 1);
    this.processes[index]!.tick();
    if (this.tickEpoch[index] !== epoch) return;
    if (this.settings.skipIdleTicks) {
      this.tickLastMs[index] = this.nowMsValue;
      this.tickQueuedMs[index] = Infinity;
      this.scheduleTick(index);
      return;
    }
    queue.push(this.nowMsValue + this.tickIntervalMs[index]!, kEventTick, index, index, epoch, 0, null);
  }

  /**
   * skipIdleTicks: queues the process's next tick at the first point of its tick grid
   * after now whose local time reaches the process's next timer, unless an earlier one
   * is queued already. The grid is walked by the same additions as the regular ticks
   * make, so a tick that runs has the very time it would have had without skipping.
   */
  private scheduleTick(index: number): void {
    const process = this.processes[index];
    if (process === null || process === undefined || this.paused[index] === 1 || this.processAlive[index] === 0) return;
    const dueLocalMs = process.nextTickAtMs === undefined ? -Infinity : process.nextTickAtMs();
    if (dueLocalMs === Infinity) return;
    const intervalMs = this.tickIntervalMs[index]!;
    const rate = this.clockRate[index]!;
    const offsetMs = this.clockOffsetMs[index]!;
    const queuedMs = this.tickQueuedMs[index]!;
    const lastMs = this.tickLastMs[index]!;
    if (Number.isNaN(lastMs)) return;
    let atMs = lastMs + intervalMs;
    // A timer far away (not an engine's, whose gossip timer is never far) is reached in one jump.
    const stepsAhead = Math.floor((dueLocalMs - (offsetMs + rate * atMs)) / (rate * intervalMs)) - 1;
    if (stepsAhead > 1000) atMs += stepsAhead * intervalMs;
    while (atMs <= this.nowMsValue || offsetMs + rate * atMs < dueLocalMs) {
      if (atMs >= queuedMs) return;
      atMs += intervalMs;
    }
    if (atMs >= queuedMs) return;
    this.tickQueuedMs[index] = atMs;
    this.queue.push(atMs, kEventTick, index, index, ++this.tickEpoch[index]!, 0, null);
  }

  /**
   * The end of a pause. Node's event loop runs due timers before it polls I/O, so the
   * process ticks first and then gets, in arrival order, everything that waited.
   */
  private onResume(slot: number): void {
    const queue = this.queue;
    const index = queue.sourceOf(slot);
    const epoch = queue.sourceEpochOf(slot);
    queue.release(slot);
    if (this.processEpoch[index] !== epoch || this.paused[index] === 0) return;
    if (this.pausedUntilMs[index]! > this.nowMsValue) return;
    this.paused[index] = 0;
    const tickEpoch = ++this.tickEpoch[index]!;
    this.count(index, S.kStatTicks, 1);
    this.tickLastMs[index] = this.nowMsValue;
    this.tickQueuedMs[index] = Infinity;
    this.processes[index]!.tick();
    const parked = this.parked[index];
    if (parked !== null && parked !== undefined && parked.length !== 0) {
      // Detached while delivering, so a crash from inside a callback cannot release these slots twice.
      this.parked[index] = null;
      this.parkedDatagrams[index] = 0;
      this.parkedFrames[index] = 0;
      for (let i = 0; i < parked.length; i++) {
        if (this.processEpoch[index] === epoch) this.deliver(parked[i]!, index);
        else this.discardParked(index, parked[i]!);
      }
      parked.length = 0;
      if (this.parked[index] === null) this.parked[index] = parked;
    }
    if (this.tickEpoch[index] === tickEpoch) {
      if (this.settings.skipIdleTicks) {
        this.tickLastMs[index] = this.nowMsValue;
        this.tickQueuedMs[index] = Infinity;
        this.scheduleTick(index);
      } else {
        queue.push(this.nowMsValue + this.tickIntervalMs[index]!, kEventTick, index, index, tickEpoch, 0, null);
      }
    }
  }

  // ---- Datagrams ------------------------------------------------------------------

  private sendDatagram(source: number, epoch: number, to: string, bytes: Uint8Array): void {
    if (this.processEpoch[source] !== epoch) return;
    if (bytes.length > this.settings.datagramBytesMax) {
      throw new RangeError(`sendDatagram: ${bytes.length} bytes is over options.datagramBytesMax (${this.settings.datagramBytesMax})`);
    }
    const cells = this.statCells;
    const base = source * S.kStatFieldCount;
    cells[base + S.kStatDatagramsSent]!++;
    cells[base + S.kStatDatagramBytesSent]! += bytes.length;
    const target = this.indexByAddress.get(to);
    if (target === undefined) {
      cells[base + S.kStatDropsDead]!++;
      return;
    }
    if (this.partitions.active && this.partitions.blocks(source, target)) {
      cells[base + S.kStatDropsPartition]!++;
      return;
    }
    let lossRate = this.lossRate;
    if (this.links.size !== 0) {
      const link = this.links.get(source * kNodesLimit + target);
      if (link !== undefined && link.lossRate >= 0) lossRate = link.lossRate;
    }
    const random = this.networkRandom;
    if (lossRate > 0 && random.nextFloat() < lossRate) {
      cells[base + S.kStatDropsLoss]!++;
      return;
    }
    this.scheduleDatagram(source, epoch, target, bytes.slice());
    const duplicateRate = this.settings.duplicateRate;
    if (duplicateRate > 0 && random.nextFloat() < duplicateRate) {
      cells[base + S.kStatDatagramsDuplicated]!++;
      this.scheduleDatagram(source, epoch, target, bytes.slice());
    }
  }

  private scheduleDatagram(source: number, epoch: number, target: number, payload: Uint8Array): void {
    let delayMs = this.sampleLatencyMs(source, target);
    const reorderRate = this.settings.reorderRate;
    if (reorderRate > 0 && this.networkRandom.nextFloat() < reorderRate) {
      delayMs += this.networkRandom.nextFloat() * this.settings.reorderMsMax;
      this.count(source, S.kStatDatagramsReordered, 1);
    }
    this.queue.push(this.nowMsValue + delayMs, kEventDatagram, source, target, epoch, 0, payload);
  }

  private onDatagramArrival(slot: number): void {
    const queue = this.queue;
    const target = queue.targetOf(slot);
    if (this.processAlive[target] === 0) {
      const source = queue.sourceOf(slot);
      this.count(source, S.kStatDropsDead, 1);
      if (this.hostUp[target] === 1 && this.icmpEnabled[target] === 1) this.sendUnreachable(target, source, queue.sourceEpochOf(slot));
      queue.release(slot);
      return;
    }
    if (this.paused[target] === 1) {
      if (this.parkedDatagrams[target]! >= this.settings.pausedQueueDatagramsMax) {
        this.count(queue.sourceOf(slot), S.kStatDropsPausedOverflow, 1);
        queue.release(slot);
        return;
      }
      this.parkedDatagrams[target]!++;
      this.park(target, slot);
      return;
    }
    this.deliver(slot, target);
  }

  /** The dead process's host answers `sender` with ICMP port unreachable; it travels like a datagram. */
  private sendUnreachable(deadHost: number, sender: number, senderEpoch: number): void {
    if (this.partitions.active && this.partitions.blocks(deadHost, sender)) return;
    let lossRate = this.lossRate;
    if (this.links.size !== 0) {
      const link = this.links.get(deadHost * kNodesLimit + sender);
      if (link !== undefined && link.lossRate >= 0) lossRate = link.lossRate;
    }
    if (lossRate > 0 && this.networkRandom.nextFloat() < lossRate) return;
    const arrivalMs = this.nowMsValue + this.sampleLatencyMs(deadHost, sender);
    this.queue.push(arrivalMs, kEventUnreachable, deadHost, sender, 0, senderEpoch, null);
  }

  // ---- Frames ---------------------------------------------------------------------

  private sendFrame(source: number, epoch: number, to: string, bytes: Uint8Array): void {
    if (this.processEpoch[source] !== epoch) return;
    if (bytes.length > this.settings.frameBytesMax) {
      throw new RangeError(`sendFrame: ${bytes.length} bytes is over options.frameBytesMax (${this.settings.frameBytesMax})`);
    }
    this.count(source, S.kStatFramesSent, 1);
    this.count(source, S.kStatFrameBytesSent, bytes.length);
    const target = this.indexByAddress.get(to);
    if (target === undefined) {
      this.failFrame(source, epoch, this.strangerIndexOf(to), this.settings.frameConnectTimeoutMs);
      return;
    }
    if (this.hostUp[target] === 0 || !this.pathBothWays(source, target)) {
      this.failFrame(source, epoch, target, this.settings.frameConnectTimeoutMs);
      return;
    }
    if (this.processAlive[target] === 0) {
      this.failFrame(source, epoch, target, this.sampleLatencyMs(source, target) + this.sampleLatencyMs(target, source));
      return;
    }
    const key = source * kNodesLimit + target;
    let arrivalMs = this.nowMsValue + this.sampleLatencyMs(source, target);
    const lastArrivalMs = this.frameArrivalsMs.get(key);
    if (lastArrivalMs !== undefined && lastArrivalMs > arrivalMs) arrivalMs = lastArrivalMs;
    this.frameArrivalsMs.set(key, arrivalMs);
    this.queue.push(arrivalMs, kEventFrame, source, target, epoch, this.processEpoch[target]!, bytes.slice());
  }

  private onFrameArrival(slot: number): void {
    const queue = this.queue;
    const source = queue.sourceOf(slot);
    const target = queue.targetOf(slot);
    const key = source * kNodesLimit + target;
    if (this.frameArrivalsMs.get(key) === this.nowMsValue) this.frameArrivalsMs.delete(key);
    if (this.hostUp[target] === 0 || !this.pathBothWays(source, target)) {
      this.failFrame(source, queue.sourceEpochOf(slot), target, this.settings.frameConnectTimeoutMs);
      queue.release(slot);
      return;
    }
    if (this.processAlive[target] === 0 || this.processEpoch[target] !== queue.targetEpochOf(slot)) {
      this.failFrame(source, queue.sourceEpochOf(slot), target, this.sampleLatencyMs(target, source));
      queue.release(slot);
      return;
    }
    if (this.paused[target] === 1) {
      if (this.parkedFrames[target]! >= this.settings.pausedQueueFramesMax) {
        this.failFrame(source, queue.sourceEpochOf(slot), target, this.settings.frameConnectTimeoutMs);
        queue.release(slot);
        return;
      }
      this.parkedFrames[target]!++;
      this.park(target, slot);
      return;
    }
    this.deliver(slot, target);
  }

  /** Counts a failed frame and tells its sender, if the same process still runs, after delayMs. */
  private failFrame(sender: number, senderEpoch: number, peer: number, delayMs: number): void {
    this.count(sender, S.kStatFramesFailed, 1);
    this.queue.push(this.nowMsValue + delayMs, kEventStreamFailed, peer, sender, 0, senderEpoch, null);
  }

  private pathBothWays(a: number, b: number): boolean {
    return !this.partitions.active || (!this.partitions.blocks(a, b) && !this.partitions.blocks(b, a));
  }

  // ---- Watch links ------------------------------------------------------------------

  /** The process now holds links to exactly `to` (addresses no node has are ignored). */
  private holdLinks(holder: number, epoch: number, to: readonly string[]): void {
    if (this.processEpoch[holder] !== epoch) return;
    const next: number[] = [];
    for (const address of to) {
      const target = this.indexByAddress.get(address);
      if (target !== undefined && target !== holder && !next.includes(target)) next.push(target);
    }
    const previous = this.linkTargets[holder];
    if (previous !== null && previous !== undefined) for (const target of previous) if (!next.includes(target)) this.dropLink(holder, target);
    for (const target of next) {
      if (previous !== null && previous !== undefined && previous.includes(target)) continue;
      let holders = this.linkHolders.get(target);
      if (holders === undefined) this.linkHolders.set(target, (holders = new Set()));
      holders.add(holder);
      // A connect to a port no process listens on is refused after one round trip.
      if (this.processAlive[target] === 0 && this.hostUp[target] === 1 && this.pathBothWays(holder, target)) {
        this.linkRetryMs.set(holder * kNodesLimit + target, 0);
        this.scheduleLinkLost(target, holder, kLinkRefused, this.sampleLatencyMs(holder, target) + this.sampleLatencyMs(target, holder));
      }
    }
    this.linkTargets[holder] = next.length === 0 ? null : next;
  }

  private dropLink(holder: number, target: number): void {
    this.linkHolders.get(target)?.delete(holder);
    this.linkRetryMs.delete(holder * kNodesLimit + target);
  }

  /** A linkLost for `holder` about `peer`, `how` the link went (kLinkClosed or kLinkRefused). */
  private scheduleLinkLost(peer: number, holder: number, how: number, delayMs: number): void {
    this.queue.push(this.nowMsValue + delayMs, kEventLinkLost, peer, holder, how, this.processEpoch[holder]!, null);
  }

  /**
   * Before a linkLost is delivered: whether it still means anything (the holder holds
   * the link, and a refused reconnect's target is still dead: one that came back
   * accepted the connect). After delivery the holder reconnects while the target stays
   * dead: at once after a link that was up, then after 100 ms doubling to 5 s.
   */
  private linkLostStillHeld(holder: number, peer: number, how: number): boolean {
    const held = this.linkTargets[holder];
    if (held === null || held === undefined || !held.includes(peer)) return false;
    if (how === kLinkRefused && this.processAlive[peer] === 1) {
      this.linkRetryMs.delete(holder * kNodesLimit + peer);
      return false;
    }
    return true;
  }

  private reconnectLink(holder: number, peer: number): void {
    const held = this.linkTargets[holder];
    const key = holder * kNodesLimit + peer;
    if (held === null || held === undefined || !held.includes(peer) || this.processAlive[peer] === 1 || this.hostUp[peer] === 0) {
      this.linkRetryMs.delete(key);
      return;
    }
    const last = this.linkRetryMs.get(key);
    const waitMs = last === undefined ? 0 : Math.min(Math.max(kLinkRetryMsMin, last * 2), kLinkRetryMsMax);
    this.linkRetryMs.set(key, waitMs);
    if (!this.pathBothWays(holder, peer)) return;
    this.scheduleLinkLost(peer, holder, kLinkRefused, waitMs + this.sampleLatencyMs(holder, peer) + this.sampleLatencyMs(peer, holder));
  }

  // ---- Notifications (unreachable, streamFailed, linkLost) --------------------------

  /** An unreachable or streamFailed for `target` (the original sender); source is the peer. */
  private onNotificationArrival(slot: number): void {
    const queue = this.queue;
    const target = queue.targetOf(slot);
    if (this.processEpoch[target] !== queue.targetEpochOf(slot) || this.processAlive[target] === 0) {
      queue.release(slot);
      return;
    }
    if (this.paused[target] === 1) {
      // ICMP errors share the socket buffer with datagrams; stream failures are bounded by the frames sent.
      if (queue.kindOf(slot) === kEventUnreachable) {
        if (this.parkedDatagrams[target]! >= this.settings.pausedQueueDatagramsMax) {
          queue.release(slot);
          return;
        }
        this.parkedDatagrams[target]!++;
      }
      this.park(target, slot);
      return;
    }
    this.deliver(slot, target);
  }

  // ---- Delivery -------------------------------------------------------------------

  private park(target: number, slot: number): void {
    let parked = this.parked[target];
    if (parked === null || parked === undefined) {
      parked = [];
      this.parked[target] = parked;
    }
    parked.push(slot);
  }

  /** Hands the event in `slot` to the running process at `target` and releases the slot. */
  private deliver(slot: number, target: number): void {
    const queue = this.queue;
    const kind = queue.kindOf(slot);
    const source = queue.sourceOf(slot);
    const payload = queue.payloadOf(slot);
    const sourceEpoch = queue.sourceEpochOf(slot);
    queue.release(slot);
    const process = this.processes[target]!;
    const peer = source >= 0 ? this.addresses[source]! : this.strangers[-1 - source]!;
    switch (kind) {
      case kEventDatagram:
        this.count(target, S.kStatDatagramsReceived, 1);
        this.count(target, S.kStatDatagramBytesReceived, payload!.length);
        process.receiveDatagram(peer, payload!);
        break;
      case kEventFrame:
        this.count(target, S.kStatFramesReceived, 1);
        this.count(target, S.kStatFrameBytesReceived, payload!.length);
        process.receiveFrame(peer, payload!);
        break;
      case kEventUnreachable:
        this.count(target, S.kStatUnreachablesReceived, 1);
        process.unreachable(peer);
        break;
      case kEventStreamFailed:
        process.streamFailed(peer);
        break;
      case kEventLinkLost:
        if (source < 0 || !this.linkLostStillHeld(target, source, sourceEpoch)) break;
        process.linkLost?.(peer);
        if (this.processes[target] === process) this.reconnectLink(target, source);
        break;
      default:
        throw new Error(`event kind ${kind} cannot be delivered`);
    }
    // What arrived may have armed a timer sooner than the queued tick (a relay, an urgent probe).
    if (this.settings.skipIdleTicks && this.processes[target] === process) this.scheduleTick(target);
  }

  // ---- Helpers --------------------------------------------------------------------

  private sampleLatencyMs(source: number, target: number): number {
    let minMs = this.settings.latencyMsMin;
    let spreadMs = this.settings.latencyMsMean - minMs;
    if (this.links.size !== 0) {
      const link = this.links.get(source * kNodesLimit + target);
      if (link !== undefined) {
        minMs = link.latencyMsMin;
        spreadMs = link.latencySpreadMs;
      }
    }
    if (spreadMs === 0) return minMs;
    return minMs - Math.log(1 - this.networkRandom.nextFloat()) * spreadMs;
  }

  private count(index: number, field: number, amount: number): void {
    this.statCells[index * S.kStatFieldCount + field]! += amount;
  }

  private indexOf(address: string): number {
    const index = this.indexByAddress.get(address);
    if (index === undefined) throw new RangeError(`unknown node address "${address}"`);
    return index;
  }

  /** A negative index for an address no node has, so streamFailed can name it. */
  private strangerIndexOf(address: string): number {
    let index = this.strangerIndex.get(address);
    if (index === undefined) {
      if (this.strangers.length >= kStrangersMax) {
        throw new RangeError(`more than ${kStrangersMax} distinct unknown addresses were sent frames; is the process making them up?`);
      }
      index = -1 - this.strangers.length;
      this.strangers.push(address);
      this.strangerIndex.set(address, index);
    }
    return index;
  }

  private growNodes(): void {
    const capacity = Math.min(Math.max(kInitialNodeCapacity, this.nodeCapacity * 2), this.settings.nodesMax);
    this.processAlive = grown(this.processAlive, new Uint8Array(capacity));
    this.hostUp = grown(this.hostUp, new Uint8Array(capacity));
    this.icmpEnabled = grown(this.icmpEnabled, new Uint8Array(capacity));
    this.paused = grown(this.paused, new Uint8Array(capacity));
    this.pausedUntilMs = grown(this.pausedUntilMs, new Float64Array(capacity));
    this.parkedDatagrams = grown(this.parkedDatagrams, new Int32Array(capacity));
    this.parkedFrames = grown(this.parkedFrames, new Int32Array(capacity));
    this.processEpoch = grown(this.processEpoch, new Int32Array(capacity));
    this.tickEpoch = grown(this.tickEpoch, new Int32Array(capacity));
    this.tickLastMs = grown(this.tickLastMs, new Float64Array(capacity));
    this.tickQueuedMs = grown(this.tickQueuedMs, new Float64Array(capacity));
    this.restarts = grown(this.restarts, new Int32Array(capacity));
    this.clockRate = grown(this.clockRate, new Float64Array(capacity));
    this.clockOffsetMs = grown(this.clockOffsetMs, new Float64Array(capacity));
    this.tickIntervalMs = grown(this.tickIntervalMs, new Float64Array(capacity));
    this.statCells = grown(this.statCells, new Float64Array(capacity * S.kStatFieldCount));
    this.nodeCapacity = capacity;
  }
}

/** Receives every report() a process makes, with the global time it was made at. */
export interface SimReportListener {
  onReport(observer: string, event: SimMembershipEvent, simTimeMs: number): void;
}

/** Per-link overrides for setLink; a field left out follows the global setting. */
export interface SimLinkSettings {
  lossRate?: number;
  latencyMsMin?: number;
  latencyMsMean?: number;
}

interface SimLink {
  /** -1 means the global loss rate. */
  readonly lossRate: number;
  readonly latencyMsMin: number;
  readonly latencySpreadMs: number;
}

const kEventTick = 1;
const kEventDatagram = 2;
const kEventFrame = 3;
const kEventUnreachable = 4;
const kEventStreamFailed = 5;
const kEventResume = 6;
const kEventLinkLost = 7;
/** How a watch link went down (kept in the event's source-epoch field). */
const kLinkClosed = 0;
const kLinkRefused = 1;
/** The agent's reconnect backoff after a refused link (held-links.ts, used by watch-links.ts). */
const kLinkRetryMsMin = 100;
const kLinkRetryMsMax = 5000;

const kFnvPrime = 16777619;
const kInitialEventCapacity = 1024;
const kInitialNodeCapacity = 16;
const kCheckEveryMsDefault = 100;
/** Distinct addresses outside the simulation that frames may be sent to (each is remembered for streamFailed). */
const kStrangersMax = 4096;

function grown<T extends Uint8Array | Int32Array | Float64Array>(from: T, to: T): T {
  to.set(from);
  return to;
}
