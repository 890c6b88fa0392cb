import { createRuntime } from '../core/kernels/create-runtime.js';
import { type Runtime } from '../core/runtime/runtime.js';
import type { KernelBackend } from '../core/runtime/kernels.js';
import type { NetworkSimulator } from '../sim/network-simulator.js';
import type { SimContext, SimMemberStatus, SimProcess } from '../sim/sim-process.js';
import { MembershipTable } from '../core/table/membership-table.js';
import { initializeTable, tableLayout, type TableLayout } from '../core/table/table-layout.js';
import { writeSharingTable } from '../core/table/shared-identity.js';
import * as F from '../core/wire/format.js';
import { parseWireAddress, type NodeId } from '../core/wire/message.js';
import type { MembershipConfig } from '../core/membership/config.js';
import type { MembershipEvent } from '../core/membership/membership-event.js';
import { EngineScratch, MembershipEngine } from '../core/membership/membership-engine.js';
import type { TrafficByType } from './traffic-by-type.js';

export interface SimulatedFarmOptions {
  /** Kernel backend for every engine; Wasm by default. */
  backend?: KernelBackend;
  /** Bytes of each shared memory the engines' tables are carved from (Wasm32 allows < 4 GiB). */
  runtimeBytes?: number;
  /** Called with every engine's events after each of its ticks (a batch per tick). */
  onEvents?: (address: string, events: readonly MembershipEvent[]) => void;
  /**
   * Start every node with a table already holding these addresses as alive (the farm's
   * steady state), instead of simulating thousands of joins first. Nodes added later
   * join through their seeds as usual.
   */
  prepopulate?: readonly string[];
  /** Counts every engine's sends by message type (the scale benchmark's breakdown). */
  traffic?: TrafficByType;
  /**
   * With prepopulate: the prepopulated tables of one memory share one copy of their
   * identity columns and id index (core/table/shared-identity.ts), each copying them
   * into its own columns only when its identity departs from the shared one. Saves
   * 33 of a row's 65 bytes and changes no result; on by default.
   */
  shareIdentity?: boolean;
  /** The engines' BeatMemo (on by default); off only to show it changes nothing. */
  beatMemo?: boolean;
  /** The engines' incremental failure-detector sweep (on by default); off only to show it changes nothing. */
  incrementalSweep?: boolean;
  /**
   * The watch ring as the agent holds it (true, the default): idle links to the ring
   * successors, which the simulator closes when a process dies (SimContext.holdLinks),
   * so the ring costs no traffic. False: a beat to each successor every watchIntervalMs
   * (the engine's other mode, which no agent runs today).
   */
  watchLinks?: boolean;
}

interface SharedIdentityTable {
  base: number;
  written: boolean;
}

interface Slot {
  runtime: Runtime;
  scratch: EngineScratch;
  base: number;
  /** The table of the slot's memory holding the shared identity (once written). */
  shared: SharedIdentityTable;
  /** The slot's memory was never written (a sharing table may be written there). */
  fresh: boolean;
}

/**
 * Runs one membership engine per simulated node, many engines to one thread. Tables are
 * carved from a few large shared memories (a Wasm memory per engine would exhaust the
 * address space at 10,000 nodes), and the engines of one memory share their scratch,
 * which is safe because the simulator never calls two processes at once.
 */
export class SimulatedFarm {
  readonly sim: NetworkSimulator;
  readonly config: MembershipConfig;
  private readonly options: SimulatedFarmOptions;
  private readonly layout: TableLayout;
  private readonly runtimes: Array<{ runtime: Runtime; scratch: EngineScratch; shared: SharedIdentityTable }> = [];
  private readonly slots = new Map<string, Slot>();
  private readonly engines = new Map<string, MembershipEngine>();

  /** Whether engines hold watch links rather than beat (SimulatedFarmOptions.watchLinks). */
  readonly watchLinks: boolean;

  constructor(sim: NetworkSimulator, config: MembershipConfig, options: SimulatedFarmOptions = {}) {
    this.sim = sim;
    this.watchLinks = options.watchLinks ?? true;
    this.config = config;
    this.options = options;
    this.layout = tableLayout(config.membersMax);
  }

  /** Adds a node whose engine joins through `seeds` (addresses of earlier nodes). */
  addMember(seeds: readonly string[] = []): string {
    return this.sim.addNode((address, incarnationHint) => new SimulatedMember(this, address, incarnationHint, seeds));
  }

  engineOf(address: string): MembershipEngine | undefined {
    return this.engines.get(address);
  }

  /** Members that `observer` holds alive or suspect. */
  liveCount(observer: string): number {
    return this.engines.get(observer)?.aliveCount ?? 0;
  }

  /** @internal Makes the engine of a (re)started node, reusing its table's memory. */
  createEngine(context: SimContext, incarnationHint: number, seeds: readonly string[]): MembershipEngine {
    let slot = this.slots.get(context.address);
    if (slot === undefined) {
      slot = this.allocateSlot();
      this.slots.set(context.address, slot);
    }
    const template = this.prepopulated(context.address, incarnationHint);
    if (template !== null && this.options.shareIdentity !== false && slot.fresh) {
      if (!slot.shared.written) {
        slot.runtime.views.u8.set(template, slot.shared.base);
        slot.shared.written = true;
      }
      writeSharingTable(slot.runtime.views, slot.base, template, slot.shared.base);
    } else if (template !== null) slot.runtime.views.u8.set(template, slot.base);
    else initializeTable(slot.runtime.views, slot.base, this.layout);
    slot.fresh = false;
    const table = new MembershipTable(slot.runtime, slot.base);
    const traffic = this.options.traffic;
    const sendDatagram = traffic === undefined
      ? (to: string, b: Uint8Array) => context.sendDatagram(to, b)
      : (to: string, b: Uint8Array) => { traffic.recordDatagram(b); context.sendDatagram(to, b); };
    const sendFrame = traffic === undefined
      ? (to: string, b: Uint8Array) => context.sendFrame(to, b)
      : (to: string, b: Uint8Array) => { traffic.recordFrame(b); context.sendFrame(to, b); };
    const engine = new MembershipEngine({
      config: this.config,
      runtime: slot.runtime,
      scratch: slot.scratch,
      table,
      environment: { nowMs: () => context.nowMs(), random: context.random, sendDatagram, sendFrame },
      id: nodeIdOf(context.address),
      address: parseWireAddress(context.address),
      incarnation: incarnationHint + 1,
      seeds,
      // Thousands of engines share this process: no per-engine cache of address texts.
      addressTextsMax: 0,
      ...(this.options.beatMemo === false ? { beatMemo: false } : {}),
      ...(this.options.incrementalSweep === false ? { incrementalSweep: false } : {}),
      watchLinks: this.watchLinks,
    });
    if (template !== null) engine.adoptTable();
    this.engines.set(context.address, engine);
    return engine;
  }

  private template: Uint8Array | null = null;
  private prepopulatedSet: Set<string> | undefined;

  /** The bytes of a table holding every prepopulated address, made once; null when not used. */
  private prepopulated(address: string, incarnationHint: number): Uint8Array | null {
    const addresses = this.options.prepopulate;
    if (addresses === undefined || incarnationHint > 0) return null;
    this.prepopulatedSet ??= new Set(addresses);
    if (!this.prepopulatedSet.has(address)) return null;
    if (this.template === null) {
      const runtime = createRuntime({ backend: 'ts', memoryBytes: Math.ceil((this.layout.totalBytes + 2 * 65536) / 65536) * 65536 });
      const table = MembershipTable.create(runtime, this.config.membersMax);
      for (const a of addresses) table.upsert(nodeIdOf(a), parseWireAddress(a), 1, F.kStatusAlive, 0);
      this.template = table.bytes();
    }
    return this.template;
  }

  /** @internal */
  deliver(address: string, events: readonly MembershipEvent[]): void {
    if (events.length > 0) this.options.onEvents?.(address, events);
  }

  private allocateSlot(): Slot {
    const need = this.layout.totalBytes + 8;
    let current = this.runtimes[this.runtimes.length - 1];
    if (current === undefined || current.runtime.bytesFree < need) {
      const runtime = createRuntime({ backend: this.options.backend ?? 'wasm', memoryBytes: this.options.runtimeBytes ?? 1024 * 1024 * 1024 });
      const sharing = this.options.prepopulate !== undefined && this.options.shareIdentity !== false;
      // The shared table is reserved first; its pages are committed only if written.
      const shared = { base: sharing ? runtime.allocate(this.layout.totalBytes, 8) : -1, written: false };
      current = { runtime, scratch: new EngineScratch(runtime, this.config.membersMax), shared };
      this.runtimes.push(current);
    }
    // Fresh memory is zero: a sharing table written there never commits its identity pages.
    return { runtime: current.runtime, scratch: current.scratch, shared: current.shared, fresh: true, base: current.runtime.allocate(this.layout.totalBytes, 8) };
  }
}

/** The simulator's process for one node: the engine plus event reporting. */
class SimulatedMember implements SimProcess {
  private engine: MembershipEngine | null = null;
  private context: SimContext | null = null;

  constructor(
    private readonly farm: SimulatedFarm,
    private readonly address: string,
    private readonly incarnationHint: number,
    private readonly seeds: readonly string[],
  ) {}

  start(context: SimContext): void {
    this.context = context;
    this.engine = this.farm.createEngine(context, this.incarnationHint, this.seeds);
    this.engine.start();
    this.flush();
  }

  private lastTickMs = -1;
  /** The watch targets last handed to holdLinks (the engine returns the same array while they are unchanged). */
  private heldTargets: readonly string[] | null = null;
  /** With skipIdleTicks: the engine's next timer as of its last tick, local ms. */
  private dueMs = -Infinity;

  tick(): void {
    // The driver measures its own lag, as the agent does with timer drift: a tick that
    // comes late (the process was paused) is reported before the engine runs its timers.
    // With skipIdleTicks the tick was due at the engine's next timer, not one tickMs
    // after the last tick: the lag is measured from whichever is later.
    const now = this.context!.nowMs();
    const tickMs = this.farm.sim.settings.tickMs;
    if (this.lastTickMs >= 0) this.engine!.reportEventLoopLag(now - Math.max(this.lastTickMs + tickMs, this.dueMs));
    this.lastTickMs = now;
    this.engine!.tick();
    this.flush();
    // The watch links follow the ring after each tick, as the agent's driver does.
    if (this.farm.watchLinks) {
      const targets = this.engine!.watchTargets();
      if (targets !== this.heldTargets) {
        this.heldTargets = targets;
        this.context!.holdLinks(targets);
      }
    }
    if (this.farm.sim.settings.skipIdleTicks) this.dueMs = this.engine!.nextTickAtMs();
  }

  receiveDatagram(from: string, bytes: Uint8Array): void {
    this.engine!.receiveDatagram(from, bytes);
  }

  nextTickAtMs(): number {
    return this.engine!.nextTickAtMs();
  }

  receiveFrame(from: string, bytes: Uint8Array): void {
    this.engine!.receiveFrame(from, bytes);
  }

  unreachable(to: string): void {
    this.engine!.unreachable(to);
    this.flush();
  }

  streamFailed(to: string): void {
    this.engine!.streamFailed(to);
  }

  linkLost(to: string): void {
    this.engine!.watchLinkLost(to);
    this.flush();
  }

  stop(): void {
    this.engine!.leave();
    this.flush();
  }

  membersView(): ReadonlyMap<string, SimMemberStatus> {
    const view = new Map<string, SimMemberStatus>();
    const engine = this.engine!;
    const table = engine.table;
    for (let row = 0; row < table.rowCount; row++) {
      const status = table.status[row];
      if (status === F.kStatusEmpty) continue;
      view.set(engine.addressOf(row), kStatusNames[status!]!);
    }
    return view;
  }

  private flush(): void {
    const events = this.engine!.drainEvents();
    if (events.length === 0) return;
    for (const event of events) {
      const kind = event.type === 'dead' ? 'dead' : event.type === 'suspect' ? 'suspect' : event.type === 'leave' ? 'left' : event.type === 'alive' || event.type === 'join' ? 'alive' : null;
      if (kind !== null) this.context!.report({ kind, subject: event.address });
    }
    this.farm.deliver(this.address, events);
  }
}

const kStatusNames: Record<number, SimMemberStatus> = { [F.kStatusAlive]: 'alive', [F.kStatusSuspect]: 'suspect', [F.kStatusDead]: 'dead', [F.kStatusLeft]: 'left' };

import { nodeIdOf } from '../core/wire/node-id-of.js';
export { nodeIdOf };
