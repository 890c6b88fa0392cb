import type { ClusterMemberOptions } from '../../core/cluster/cluster-config.js';
import { NetworkSimulator } from '../network-simulator.js';
import type { NetworkSimulatorOptions } from '../sim-options.js';
import { checkSafety, type CheckResult } from './cluster-checkers.js';
import { ClusterHistory } from './cluster-history.js';
import { ClusterHostProcess, type ClusterHostShared, type HostedCluster } from './cluster-host-process.js';

/** One cluster of a simulation: its name, the indexes of the nodes in its definition, and core options. */
export interface SimulatedClusterSpec {
  readonly name: string;
  readonly nodes: readonly number[];
  readonly options?: ClusterMemberOptions;
}

export interface ClusterSimulationOptions {
  readonly seed: number;
  /** How many simulated nodes (hosts) to add. */
  readonly nodeCount: number;
  readonly clusters: readonly SimulatedClusterSpec[];
  readonly sim?: NetworkSimulatorOptions;
  /** Every live member multicasts on every cluster this often while allowed; 0 for no traffic. */
  readonly multicastEveryMs?: number;
  /** When node i's cores first start, ms of simulated time (default 0: at once); see ClusterHostShared.firstStartAtMs. */
  readonly firstStartAtMs?: (index: number) => number;
  /** Sees every message a core sends, with the sender's and receiver's node ids (traces). */
  readonly onSend?: (atMs: number, from: string, to: string, bytes: Uint8Array) => void;
}

/**
 * A whole simulated farm of cluster hosts from one seed: the simulator, one
 * ClusterHostProcess per node, the shared history recorder, and the questions tests ask
 * (has every live member of this set installed one common view?) and the checkers.
 * Node ids are 16 hex digits, node i (from 0) having id i + 1.
 */
export class ClusterSimulation {
  readonly sim: NetworkSimulator;
  readonly history = new ClusterHistory();
  readonly addresses: string[] = [];
  readonly nodeIds: string[] = [];
  /** The largest message any core sent, by wire message type, over the run so far. */
  readonly sentBytesMaxByType = new Map<number, number>();
  private readonly specs: readonly SimulatedClusterSpec[];

  constructor(options: ClusterSimulationOptions) {
    this.specs = options.clusters;
    this.sim = new NetworkSimulator({ seed: options.seed, nodesMax: options.nodeCount + 1, ...options.sim });
    const idOfAddress = new Map<string, string>();
    const addressOfId = new Map<string, string>();
    const shared: ClusterHostShared = {
      sim: this.sim,
      history: this.history,
      nodeIdOfAddress: (address) => idOfAddress.get(address) ?? `unknown:${address}`,
      addressOfNodeId: (nodeId) => {
        const address = addressOfId.get(nodeId);
        if (address === undefined) throw new Error(`no node has id ${nodeId}`);
        return address;
      },
      multicastEveryMs: options.multicastEveryMs ?? 0,
      datagramBytesMax: 60_000,
      sentBytesMaxByType: this.sentBytesMaxByType,
      ...(options.onSend === undefined ? {} : { onSend: options.onSend }),
      ...(options.firstStartAtMs === undefined ? {} : { firstStartAtMs: (nodeId: string) => options.firstStartAtMs!(parseInt(nodeId, 16) - 1) }),
    };
    for (let i = 0; i < options.nodeCount; i++) {
      const nodeId = nodeIdOfIndex(i);
      this.nodeIds.push(nodeId);
      const hosted: HostedCluster[] = this.specs
        .filter((c) => c.nodes.includes(i))
        .map((c) => ({ name: c.name, definition: c.nodes.map(nodeIdOfIndex), options: c.options }));
      // The address is known only once addNode returns, and addNode starts the process at once,
      // so the maps are filled from the address the factory is given.
      const address = this.sim.addNode((addr, incarnation) => {
        idOfAddress.set(addr, nodeId);
        addressOfId.set(nodeId, addr);
        return new ClusterHostProcess(shared, hosted, addr, incarnation);
      });
      this.addresses.push(address);
    }
  }

  /** The running host of node i, or undefined when its process is dead. */
  host(i: number): ClusterHostProcess | undefined {
    return this.sim.processOf(this.addresses[i]!) as ClusterHostProcess | undefined;
  }

  /**
   * True when every node of `expected` runs, is in `cluster` as a member (status
   * 'member'), and all have installed one view whose members are exactly those nodes at
   * their current incarnations.
   */
  hasCommonView(cluster: string, expected: readonly number[]): boolean {
    let viewId = -1;
    for (const i of expected) {
      const core = this.host(i)?.coreOf(cluster);
      if (core === undefined || core.status() !== 'member') return false;
      const view = core.currentView();
      if (view === null || view.members.length !== expected.length) return false;
      if (viewId === -1) viewId = view.id;
      else if (view.id !== viewId) return false;
      for (const j of expected) {
        const incarnation = this.sim.restartsOf(this.addresses[j]!);
        if (!view.members.some((m) => m.nodeId === this.nodeIds[j] && m.incarnation === incarnation)) return false;
      }
    }
    return true;
  }

  /** Runs until hasCommonView holds; returns the ms it took, or -1 after timeoutMs. */
  awaitCommonView(cluster: string, expected: readonly number[], timeoutMs: number, checkEveryMs = 5): number {
    const start = this.sim.nowMs();
    const at = this.sim.runUntil(() => this.hasCommonView(cluster, expected), timeoutMs, checkEveryMs);
    return at < 0 ? -1 : at - start;
  }

  /**
   * Liveness as a checker: after the faults stopped, every live connected member of the
   * majority installs one common view within boundMs.
   */
  checkLiveness(cluster: string, expected: readonly number[], boundMs: number): CheckResult {
    const tookMs = this.awaitCommonView(cluster, expected, boundMs);
    const violations = tookMs >= 0 ? [] : [`nodes ${expected.join(',')} had no common view of ${cluster} within ${boundMs} ms: ${this.describe(cluster, expected)}`];
    return { property: 'liveness (a common view within the bound)', violations };
  }

  /** Every safety checker over every cluster. */
  checkAll(): CheckResult[] {
    return this.specs.flatMap((c) => checkSafety(this.history, c.name));
  }

  /** Where each of these nodes stands in `cluster`, for failure messages. */
  describe(cluster: string, nodes: readonly number[]): string {
    return nodes
      .map((i) => {
        const core = this.host(i)?.coreOf(cluster);
        if (core === undefined) return `${i}:dead`;
        const view = core.currentView();
        return `${i}:${core.status()}@${view === null ? '-' : `${view.id}[${view.members.map((m) => `${parseInt(m.nodeId, 16) - 1}#${m.incarnation}`).join(',')}]`}`;
      })
      .join(' ');
  }
}

/** The node id of node index i: i + 1 in 16 hex digits. */
export function nodeIdOfIndex(i: number): string {
  return (i + 1).toString(16).padStart(16, '0');
}
