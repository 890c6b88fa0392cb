import { resolveFmidbConfig, type FmidbConfig, type FmidbOptions } from '../core/fmidb/config.js';
import { FmidbMemory } from '../core/fmidb/fmidb-memory.js';
import { createFmidbRuntime } from '../core/kernels/fmidb-runtime.js';
import { createRuntime } from '../core/kernels/create-runtime.js';
import type { MembershipConfig } from '../core/membership/config.js';
import { EngineScratch } from '../core/membership/membership-engine.js';
import type { KernelBackend } from '../core/runtime/kernels.js';
import type { Runtime } from '../core/runtime/runtime.js';
import { NodeStack, type StackCommand, type StackEvent, type NodeStackOptions } from '../core/stack/node-stack.js';
import { MembershipTable } from '../core/table/membership-table.js';
import { initializeTable, tableLayout, type TableLayout } from '../core/table/table-layout.js';
import { writeSharingTable } from '../core/table/shared-identity.js';
import * as F from '../core/wire/format.js';
import { formatNodeId, parseWireAddress } from '../core/wire/message.js';
import { nodeIdOf } from '../core/wire/node-id-of.js';
import type { NetworkSimulator } from './network-simulator.js';
import type { SimContext, SimMemberStatus, SimProcess } from './sim-process.js';

export interface SimulatedStackFarmOptions {
  readonly membership: MembershipConfig;
  readonly fmidb?: FmidbOptions;
  readonly coordinator?: NodeStackOptions['coordinator'];
  readonly runner?: NodeStackOptions['runner'];
  /** Nodes started at most over the run (first starts and restarts): sizes the FMIDB memory. */
  readonly startsMax: number;
  readonly backend?: KernelBackend;
  /** Start every node with a membership table holding these addresses alive (the farm's steady state). */
  readonly prepopulate?: readonly string[];
  /** Told of every event of every stack, in order. */
  readonly onEvent?: (address: string, event: StackEvent, simNowMs: number) => void;
  /** Makes a node's stack (a test passes a deliberately broken one); `new NodeStack(options)` by default. */
  readonly makeStack?: (options: NodeStackOptions) => NodeStack;
  /** Watch links as the agent holds them (true, the default) or beats (SimulatedFarmOptions.watchLinks). */
  readonly watchLinks?: boolean;
  /**
   * One FMIDB origin registry for every replica (true, the default), or one each as the
   * agent has (N rows per node: quadratic memory). Shared rows are numbered farm-wide,
   * so compares list origins in another order, and a delta message, whose versions are
   * encoded against its first group's, may come out a few bytes longer or shorter;
   * test/stack-sim-sharing.test.ts shows the two give the same events, times and
   * contents, and bytes within 0.1%.
   */
  readonly sharedRegistry?: boolean;
}

/** A process the simulated host runs for the runner: it exits with exitCode at exitAtMs (host-local time). */
interface HostProcess {
  readonly jobId: string;
  readonly index: number;
  readonly exitAtMs: number;
  readonly exitCode: number;
}

/** `sleep <ms>; exit <code>`: the only command a simulated host runs. */
const kCommandPattern = /^sleep (\d{1,7}); exit (\d{1,3})$/;

/**
 * Runs a whole NodeStack (membership, FMIDB, job coordination) on every simulated node,
 * from one seed: the driver the simulator plays, as the NodeDriver does on sockets. It
 * ticks each stack with its node's local clock, turns the stack's outputs into simulated
 * datagrams and frames, and plays the host for the job runner: a `sleep <ms>; exit <c>`
 * command exits after <ms> of the node's time with code <c>. A crash loses the process
 * with its stack; a restart starts a fresh stack over the node's table memory.
 */
export class SimulatedStackFarm {
  readonly sim: NetworkSimulator;
  readonly fmidbConfig: FmidbConfig;
  private readonly options: SimulatedStackFarmOptions;
  private readonly layout: TableLayout;
  private readonly memberships: Array<{ runtime: Runtime; scratch: EngineScratch; shared: { base: number; written: boolean } }> = [];
  private readonly slots = new Map<string, TableSlot>();
  private readonly fmidbMemory: FmidbMemory;
  private readonly stacks = new Map<string, NodeStack>();
  /** Every process each node's runner was asked to run and the code it exited with, across restarts (for the checkers). */
  readonly ran = new Map<string, Map<string, number | null>>();
  private template: Uint8Array | null = null;
  /**
   * One copy of each address text and of each address's sender id for the whole farm,
   * handed to every stack (NodeStackOptions.internText, senderIdOf): each stack holds
   * every member's address in its live set, its FMIDB peers and its jobs' members, and
   * every member's id in its routing map, so copies per stack grow as N². The ids are
   * the stack's default (the id the address hashes to), computed once per address.
   */
  private readonly texts = new Map<string, string>();
  private readonly senderIds = new Map<string, string>();
  private readonly internText = (text: string): string => {
    const known = this.texts.get(text);
    if (known !== undefined) return known;
    this.texts.set(text, text);
    return text;
  };
  private readonly senderIdOf = (address: string): string => {
    let id = this.senderIds.get(address);
    if (id === undefined) {
      id = formatNodeId(nodeIdOf(address));
      this.senderIds.set(this.internText(address), id);
    }
    return id;
  };

  constructor(sim: NetworkSimulator, options: SimulatedStackFarmOptions) {
    this.sim = sim;
    this.options = options;
    this.layout = tableLayout(options.membership.membersMax);
    this.fmidbConfig = resolveFmidbConfig({ ...options.fmidb, originsMax: Math.max(options.fmidb?.originsMax ?? 0, options.membership.membersMax) });
    // One origin registry for every replica (as FmidbSimulation's sharedRegistry): a registry each costs N rows per node.
    const sharedRegistryCapacity = options.sharedRegistry === false ? undefined : this.fmidbConfig.originsMax;
    const runtime = createFmidbRuntime(this.fmidbConfig, options.startsMax, { sharedRegistryCapacity, backend: options.backend ?? 'auto' });
    this.fmidbMemory = new FmidbMemory(runtime, this.fmidbConfig, { sharedRegistryCapacity, reuseOutput: true });
  }

  addNode(seeds: readonly string[] = []): string {
    return this.sim.addNode((address, incarnationHint) => new StackProcess(this, address, incarnationHint, seeds));
  }

  /** The running stack of a node (undefined while it is crashed). */
  stackOf(address: string): NodeStack | undefined {
    return this.sim.isProcessAlive(address) ? this.stacks.get(address) : undefined;
  }

  /** Sends a command to a node's stack and flushes its outputs into the network. */
  command(address: string, command: StackCommand): void {
    const process = this.sim.processOf(address) as StackProcess | undefined;
    if (process === undefined || !this.sim.isProcessAlive(address)) throw new RangeError(`no running stack at ${address}`);
    process.command(command);
  }

  /** @internal */
  createStack(context: SimContext, incarnationHint: number, seeds: readonly string[]): NodeStack {
    let slot = this.slots.get(context.address);
    if (slot === undefined) {
      slot = this.allocateSlot();
      this.slots.set(context.address, slot);
    }
    const template = incarnationHint === 0 ? this.prepopulated() : null;
    if (template !== null && slot.fresh) {
      // Prepopulated tables of one memory share one copy of their identity (see SimulatedFarm).
      if (!slot.shared.written) {
        slot.runtime.views.u8.set(template, slot.shared.base);
        slot.shared.written = true;
      }
      writeSharingTable(slot.runtime.views, slot.base, template, slot.shared.base);
    } else if (template !== null) slot.runtime.views.u8.set(template, slot.base);
    else initializeTable(slot.runtime.views, slot.base, this.layout);
    slot.fresh = false;
    const o = this.options;
    const options: NodeStackOptions = {
        address: context.address,
        nowMs: context.nowMs(),
        membership: {
          config: o.membership,
          runtime: slot.runtime,
          scratch: slot.scratch,
          table: new MembershipTable(slot.runtime, slot.base),
          id: nodeIdOf(context.address),
          address: parseWireAddress(context.address),
          incarnation: incarnationHint + 1,
          seeds,
          addressTextsMax: 0,
          random: context.random,
          watchLinks: o.watchLinks ?? true,
        },
        fmidb: { config: this.fmidbConfig, random: context.random.fork(), memory: this.fmidbMemory },
        coordinator: o.coordinator,
        runner: o.runner,
        senderIdOf: this.senderIdOf,
        internText: this.internText,
    };
    const stack = o.makeStack?.(options) ?? new NodeStack(options);
    if (template !== null) stack.membership.engine.adoptTable();
    this.stacks.set(context.address, stack);
    return stack;
  }

  /** @internal */
  dropped(address: string): void {
    this.stacks.delete(address);
  }

  /** @internal */
  event(address: string, event: StackEvent): void {
    if (event.layer === 'run') {
      let ran = this.ran.get(address);
      if (ran === undefined) this.ran.set(address, (ran = new Map()));
      ran.set(`${event.jobId}/${event.index}`, null);
    }
    this.options.onEvent?.(address, event, this.sim.nowMs());
  }

  /** @internal */
  exited(address: string, jobId: string, index: number, exitCode: number): void {
    this.ran.get(address)?.set(`${jobId}/${index}`, exitCode);
  }

  private prepopulated(): Uint8Array | null {
    const addresses = this.options.prepopulate;
    if (addresses === undefined) return null;
    if (this.template === null) {
      const runtime = createRuntime({ backend: 'ts', memoryBytes: Math.ceil((this.layout.totalBytes + 2 * 65536) / 65536) * 65536 });
      const table = MembershipTable.create(runtime, this.options.membership.membersMax);
      for (const a of addresses) table.upsert(nodeIdOf(a), parseWireAddress(a), 1, F.kStatusAlive, 0);
      this.template = table.bytes();
    }
    return this.template;
  }

  private allocateSlot(): TableSlot {
    const need = this.layout.totalBytes + 8;
    let current = this.memberships[this.memberships.length - 1];
    if (current === undefined || current.runtime.bytesFree < need) {
      const runtime = createRuntime({ backend: this.options.backend ?? 'wasm', memoryBytes: 256 << 20 });
      // The shared identity's table is reserved first; its pages are committed only if written.
      const shared = { base: this.options.prepopulate !== undefined ? runtime.allocate(this.layout.totalBytes, 8) : -1, written: false };
      current = { runtime, scratch: new EngineScratch(runtime, this.options.membership.membersMax), shared };
      this.memberships.push(current);
    }
    return { runtime: current.runtime, scratch: current.scratch, shared: current.shared, fresh: true, base: current.runtime.allocate(this.layout.totalBytes, 8) };
  }
}

interface TableSlot {
  runtime: Runtime;
  scratch: EngineScratch;
  base: number;
  /** The table of the slot's memory holding the shared identity (once written). */
  shared: { base: number; written: boolean };
  /** The slot's memory was never written (a sharing table may be written there). */
  fresh: boolean;
}

const kStatusNames: Record<number, SimMemberStatus> = { [F.kStatusAlive]: 'alive', [F.kStatusSuspect]: 'suspect', [F.kStatusDead]: 'dead', [F.kStatusLeft]: 'left' };

/** The simulator's process for one node: its stack, and the host processes its runner started. */
class StackProcess implements SimProcess {
  private stack!: NodeStack;
  private context!: SimContext;
  private readonly running: HostProcess[] = [];
  private lastTickMs = -1;
  /** The watch targets last handed to holdLinks (the same array while unchanged; empty in beats mode). */
  private heldTargets: readonly string[] | null = null;

  constructor(
    private readonly farm: SimulatedStackFarm,
    private readonly address: string,
    private readonly incarnationHint: number,
    private readonly seeds: readonly string[],
  ) {}

  start(context: SimContext): void {
    this.context = context;
    this.stack = this.farm.createStack(context, this.incarnationHint, this.seeds);
    this.stack.step({ type: 'command', command: { type: 'start' } });
    this.flush();
  }

  command(command: StackCommand): void {
    this.stack.step({ type: 'command', command });
    this.flush();
  }

  tick(): void {
    const now = this.context.nowMs();
    // The driver measures its own lag, as the agent does with timer drift.
    if (this.lastTickMs >= 0) this.stack.step({ type: 'command', command: { type: 'lag', lagMs: now - this.lastTickMs - this.farm.sim.settings.tickMs } });
    this.lastTickMs = now;
    for (let i = 0; i < this.running.length; ) {
      const p = this.running[i]!;
      if (p.exitAtMs > now) {
        i++;
        continue;
      }
      this.running.splice(i, 1);
      this.farm.exited(this.address, p.jobId, p.index, p.exitCode);
      this.stack.step({ type: 'command', command: { type: 'exited', jobId: p.jobId, index: p.index, exitCode: p.exitCode } });
    }
    this.stack.tick(now);
    this.flush();
    // The watch links follow the ring after each tick, as the agent's driver does.
    const targets = this.stack.membership.engine.watchTargets();
    if (targets !== this.heldTargets) {
      this.heldTargets = targets;
      this.context.holdLinks(targets);
    }
  }

  receiveDatagram(from: string, bytes: Uint8Array): void {
    this.stack.step({ type: 'datagram', from, bytes });
    this.flush();
  }

  receiveFrame(from: string, bytes: Uint8Array): void {
    this.stack.step({ type: 'frame', from, bytes });
    this.flush();
  }

  unreachable(to: string): void {
    this.stack.step({ type: 'unreachable', to });
    this.flush();
  }

  streamFailed(to: string): void {
    this.stack.step({ type: 'stream-failed', to });
    this.flush();
  }

  linkLost(to: string): void {
    // As the agent's driver: straight to the engine, which answers with one beat.
    this.stack.membership.engine.watchLinkLost(to);
    this.flush();
  }

  stop(): void {
    this.stack.step({ type: 'command', command: { type: 'leave' } });
    this.flush();
    this.farm.dropped(this.address);
  }

  membersView(): ReadonlyMap<string, SimMemberStatus> {
    const view = new Map<string, SimMemberStatus>();
    const engine = this.stack.membership.engine;
    const table = engine.table;
    for (let row = 0; row < table.rowCount; row++) {
      const status = table.status[row];
      if (status === F.kStatusEmpty) continue;
      view.set(engine.addressOf(row), kStatusNames[status!]!);
    }
    return view;
  }

  private flush(): void {
    const context = this.context;
    for (const o of this.stack.ready()) {
      if (o.type === 'datagram') context.sendDatagram(o.to, o.bytes);
      else if (o.type === 'frame') context.sendFrame(o.to, o.bytes);
      else {
        const e = o.event;
        if (e.layer === 'membership') {
          const t = e.event.type;
          const kind = t === 'dead' ? 'dead' : t === 'suspect' ? 'suspect' : t === 'leave' ? 'left' : t === 'alive' || t === 'join' ? 'alive' : null;
          if (kind !== null) context.report({ kind, subject: e.event.address });
        } else if (e.layer === 'run') {
          const match = kCommandPattern.exec(e.command);
          // A command the simulated host cannot run fails at once, like a missing binary.
          this.running.push({ jobId: e.jobId, index: e.index, exitAtMs: context.nowMs() + (match === null ? 0 : Number(match[1])), exitCode: match === null ? 127 : Number(match[2]) });
        }
        this.farm.event(this.address, e);
      }
    }
    this.stack.advance();
  }
}
