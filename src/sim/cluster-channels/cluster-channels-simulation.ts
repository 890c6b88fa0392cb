import type { ChannelLayerOptions } from '../../core/channels/channel-layer-options.js';
import type { ClusterMemberOptions } from '../../core/cluster/cluster-config.js';
import { NetworkSimulator } from '../network-simulator.js';
import type { NetworkSimulatorOptions } from '../sim-options.js';
import { ChannelHistoryRecorder } from '../channels/channel-history.js';
import { nodeIdOfIndex } from '../cluster/cluster-simulation.js';
import { ClusterChannelsHostProcess, type ChannelWorkload, type ClusterChannelsHostShared, type LatencySamples } from './cluster-channels-host-process.js';

export interface ClusterChannelsSimulationOptions {
  readonly seed: number;
  readonly nodeCount: number;
  readonly workload: ChannelWorkload;
  readonly membership?: ClusterMemberOptions;
  readonly layer?: Omit<ChannelLayerOptions, 'self'>;
  readonly multicastBacklogMax?: number;
  /** When set, payloads carry their send time and delivery latencies are kept here (benchmarks). */
  readonly latency?: LatencySamples;
  /** By node index: a slow application taking one delivery every this many ms. */
  readonly consumeEveryMs?: ReadonlyMap<number, number>;
  readonly sim?: NetworkSimulatorOptions;
  /** Replies allowed over the whole run. Default 200. */
  readonly repliesMax?: number;
  /** False: the recorder keeps views only, no sends or deliveries (benchmarks, no checkers). Default true. */
  readonly recordMessages?: boolean;
}

/**
 * A simulated cluster of ClusterChannels hosts from one seed: every node is in the one
 * cluster 'chan' (node i has id i + 1, as in ClusterSimulation), runs the channel
 * workload, and records into one ChannelHistory for the channel checkers.
 */
export class ClusterChannelsSimulation {
  readonly sim: NetworkSimulator;
  readonly recorder = new ChannelHistoryRecorder();
  readonly addresses: string[] = [];
  readonly nodeIds: string[] = [];
  readonly shared: ClusterChannelsHostShared;

  constructor(options: ClusterChannelsSimulationOptions) {
    this.sim = new NetworkSimulator({ seed: options.seed, nodesMax: options.nodeCount + 1, ...options.sim });
    const idOfAddress = new Map<string, string>();
    const addressOfId = new Map<string, string>();
    for (let i = 0; i < options.nodeCount; i++) this.nodeIds.push(nodeIdOfIndex(i));
    this.shared = {
      sim: this.sim,
      recorder: this.recorder,
      nodeIdOfAddress: (address) => idOfAddress.get(address) ?? `unknown:${address}`,
      addressOfNodeId: (nodeId) => {
        const address = addressOfId.get(nodeId);
        if (address === undefined) throw new Error(`no node has id ${nodeId}`);
        return address;
      },
      cluster: 'chan',
      definition: this.nodeIds,
      membership: options.membership,
      layer: options.layer,
      multicastBacklogMax: options.multicastBacklogMax,
      consumeEveryMs: new Map([...(options.consumeEveryMs ?? new Map<number, number>())].map(([i, ms]) => [nodeIdOfIndex(i), ms])),
      workload: options.workload,
      latency: options.latency,
      datagramBytesMax: 60_000,
      repliesLeft: options.repliesMax ?? 200,
      recordMessages: options.recordMessages,
    };
    for (let i = 0; i < options.nodeCount; i++) {
      const nodeId = this.nodeIds[i]!;
      const address = this.sim.addNode((addr, incarnation) => {
        idOfAddress.set(addr, nodeId);
        addressOfId.set(nodeId, addr);
        return new ClusterChannelsHostProcess(this.shared, addr, incarnation);
      });
      this.addresses.push(address);
    }
  }

  /** The running host of node i, or undefined when its process is dead. */
  host(i: number): ClusterChannelsHostProcess | undefined {
    return this.sim.processOf(this.addresses[i]!) as ClusterChannelsHostProcess | undefined;
  }

  /**
   * True when every node of `expected` runs, its channel layer is in one common view of
   * exactly those nodes (at their current incarnations) and knows the workload channel.
   */
  hasCommonView(expected: readonly number[]): boolean {
    let viewId = -1;
    for (const i of expected) {
      const host = this.host(i);
      const view = host?.core.layer.currentView();
      if (host === undefined || view === null || view === undefined || host.core.status() !== 'member' || view.members.length !== expected.length) return false;
      if (!host.core.layer.channelNames().includes(this.shared.workload.channel)) return false;
      if (viewId === -1) viewId = view.id;
      else if (view.id !== viewId) return false;
      for (const j of expected) if (!view.members.includes(`${this.nodeIds[j]!}/${this.sim.restartsOf(this.addresses[j]!)}`)) return false;
    }
    return true;
  }

  /** Runs until hasCommonView holds; returns the ms it took, or -1 after timeoutMs. */
  awaitCommonView(expected: readonly number[], timeoutMs: number): number {
    const start = this.sim.nowMs();
    const at = this.sim.runUntil(() => this.hasCommonView(expected), timeoutMs, 5);
    return at < 0 ? -1 : at - start;
  }

  /** The view's first member's node index (the sequencer of total and safe channels), as node i sees it. */
  sequencerIndexAt(i: number): number {
    const first = this.host(i)?.core.currentView()?.members[0];
    return first === undefined ? -1 : this.nodeIds.indexOf(first.nodeId);
  }

  describe(nodes: readonly number[]): string {
    return nodes
      .map((i) => {
        const host = this.host(i);
        if (host === undefined) return `${i}:dead`;
        const view = host.core.layer.currentView();
        return `${i}:${host.core.status()}@${view === null ? '-' : `${view.id}[${view.members.join(',')}]`} backlog ${host.core.backlogLength()}`;
      })
      .join(' ');
  }
}
