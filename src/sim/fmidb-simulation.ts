import type { KernelBackend } from '../core/runtime/kernels.js';
import { NetworkSimulator } from '../sim/network-simulator.js';
import { nodeAddress } from '../sim/node-address.js';
import type { NetworkSimulatorOptions } from '../sim/sim-options.js';
import type { SimContext, SimMemberStatus, SimProcess } from '../sim/sim-process.js';
import { resolveFmidbConfig, type FmidbConfig, type FmidbOptions } from '../core/fmidb/config.js';
import type { EntryView, FmidbChange, FmidbWrite } from '../core/fmidb/entry.js';
import { FmidbMemory } from '../core/fmidb/fmidb-memory.js';
import { createFmidbRuntime } from '../core/kernels/fmidb-runtime.js';
import { FmidbReplica, type FmidbObserver } from '../core/fmidb/fmidb-replica.js';
import { SharedHistory } from '../core/fmidb/history-store.js';

export interface FmidbSimulationOptions {
  /** Nodes in the farm; each runs one replica, its id being its simulated address. */
  nodes: number;
  /** Network and clocks; its seed drives everything, the replicas' generators included. */
  network?: NetworkSimulatorOptions;
  config?: FmidbOptions;
  /**
   * 'entries' (default): every replica keeps its values (EntryStore). 'history': none
   * does, they share the origins' write histories (HistoryStore), for 10,000 nodes.
   */
  values?: 'entries' | 'history';
  /** One origin registry for all replicas (forced by 'history'); else each has its own. */
  sharedRegistry?: boolean;
  backend?: KernelBackend;
  /**
   * Starts the farm in its steady state: every replica already holds every node's
   * writes from this function, at version 1 (nothing is announced).
   */
  prepopulate?: (address: string, index: number) => FmidbWrite[];
  /** Runs in each node's tick before its replica's: the workload (writes). */
  workload?: (node: FmidbSimNode) => void;
  /** Told of every version every replica reaches. */
  observer?: FmidbObserver;
  /** Each replica's drainChanges() after every call into it (for invariant checks). */
  onChanges?: (address: string, changes: FmidbChange[]) => void;
}

/** What the workload sees of a node. */
export interface FmidbSimNode {
  readonly address: string;
  readonly index: number;
  readonly replica: FmidbReplica;
  /** The node's local clock, ms. */
  nowMs(): number;
}

/**
 * N FMIDB replicas on the deterministic NetworkSimulator (src/sim): one seed drives the
 * network (loss, latency, partitions), the clocks and every replica's generator, so a
 * seed replays a run exactly. Each replica's outbox goes out as simulated datagrams and
 * frames after every call into it; all replicas share one shared memory and scratch.
 */
export class FmidbSimulation {
  readonly sim: NetworkSimulator;
  readonly config: FmidbConfig;
  /** Every node's address, frozen (it is every replica's peer list). */
  readonly nodes: readonly string[];
  readonly history: SharedHistory | null;
  readonly memory: FmidbMemory;
  private readonly options: FmidbSimulationOptions;
  private readonly processes = new Map<string, FmidbSimProcess>();
  /** Each node's prepopulated entries (empty arrays with a history store, which holds them). */
  private readonly initial: (readonly EntryView[])[] = [];

  constructor(options: FmidbSimulationOptions) {
    if (!Number.isInteger(options.nodes) || options.nodes < 1) throw new RangeError(`options.nodes must be a positive integer, got ${options.nodes}`);
    this.options = options;
    this.sim = new NetworkSimulator(options.network ?? {});
    this.nodes = Object.freeze(Array.from({ length: options.nodes }, (_, i) => nodeAddress(i)));
    const history = options.values === 'history';
    this.history = history ? new SharedHistory() : null;
    const shared = history || options.sharedRegistry === true;
    this.config = resolveFmidbConfig({ ...options.config, originsMax: Math.max(options.config?.originsMax ?? 0, options.nodes + 16) });
    const sharedRegistryCapacity = shared ? this.config.originsMax : undefined;
    const runtime = createFmidbRuntime(this.config, options.nodes, { sharedRegistryCapacity, backend: options.backend ?? 'auto' });
    // Outgoing bytes may live in a reused buffer: every process sends what it drained at once, and the network copies it.
    this.memory = new FmidbMemory(runtime, this.config, { sharedRegistryCapacity, reuseOutput: true });
    if (options.prepopulate !== undefined) {
      for (let i = 0; i < options.nodes; i++) {
        const address = this.nodes[i]!;
        const writes = options.prepopulate(address, i);
        if (this.history !== null) {
          this.history.record(this.memory.registry!.insert(address), kPrepopulatedVersion, writes);
          this.initial.push([]);
        } else {
          this.initial.push(writes.map((w) => ({ ...w, version: kPrepopulatedVersion })));
        }
      }
    }
    for (let i = 0; i < options.nodes; i++) {
      const address = this.sim.addNode(() => {
        const p = new FmidbSimProcess(this, i);
        this.processes.set(this.nodes[i]!, p);
        return p;
      });
      if (address !== this.nodes[i]) throw new Error(`the simulator gave node ${i} address ${address}, expected ${this.nodes[i]}`);
    }
  }

  replica(address: string): FmidbReplica {
    const p = this.processes.get(address);
    if (p === undefined) throw new RangeError(`no replica at ${address}`);
    return p.replica;
  }

  /** Every replica, in node order. */
  replicas(): FmidbReplica[] {
    return this.nodes.map((a) => this.replica(a));
  }

  /** @internal */
  makeReplica(context: SimContext): FmidbReplica {
    const replica = new FmidbReplica({
      selfId: context.address,
      config: this.config,
      random: context.random,
      nowMs: () => context.nowMs(),
      memory: this.memory,
      history: this.history ?? undefined,
      observer: this.options.observer,
    });
    for (let i = 0; i < this.initial.length; i++) replica.prepopulate(this.nodes[i]!, kPrepopulatedVersion, this.initial[i]!);
    return replica;
  }

  /** @internal */
  get workload(): ((node: FmidbSimNode) => void) | undefined {
    return this.options.workload;
  }

  /** @internal */
  get onChanges(): ((address: string, changes: FmidbChange[]) => void) | undefined {
    return this.options.onChanges;
  }
}

/** The version prepopulated writes have: below any stamp a running node issues. */
const kPrepopulatedVersion = 1;

const kNoMembers: ReadonlyMap<string, SimMemberStatus> = new Map();

/** One node's process: drives its replica and flushes its outbox into the simulated network. */
class FmidbSimProcess implements SimProcess, FmidbSimNode {
  readonly index: number;
  private readonly owner: FmidbSimulation;
  private context!: SimContext;
  replica!: FmidbReplica;

  constructor(owner: FmidbSimulation, index: number) {
    this.owner = owner;
    this.index = index;
  }

  get address(): string {
    return this.context.address;
  }

  nowMs(): number {
    return this.context.nowMs();
  }

  start(context: SimContext): void {
    this.context = context;
    this.replica = this.owner.makeReplica(context);
    this.replica.peersChanged(this.owner.nodes);
    this.flush();
  }

  tick(): void {
    this.owner.workload?.(this);
    this.replica.tick();
    this.flush();
  }

  receiveDatagram(from: string, bytes: Uint8Array): void {
    this.replica.receive(from, bytes, false);
    this.flush();
  }

  receiveFrame(from: string, bytes: Uint8Array): void {
    this.replica.receive(from, bytes, true);
    this.flush();
  }

  unreachable(): void {}

  streamFailed(): void {
    // A lost frame is repaired like a lost datagram: by the next announcement or full sync.
  }

  stop(): void {}

  membersView(): ReadonlyMap<string, SimMemberStatus> {
    return kNoMembers;
  }

  private flush(): void {
    const context = this.context;
    for (const m of this.replica.drainOutbox()) {
      if (m.stream) context.sendFrame(m.to, m.bytes);
      else context.sendDatagram(m.to, m.bytes);
    }
    const onChanges = this.owner.onChanges;
    if (onChanges !== undefined) {
      const changes = this.replica.drainChanges();
      if (changes.length > 0) onChanges(context.address, changes);
    }
  }
}
