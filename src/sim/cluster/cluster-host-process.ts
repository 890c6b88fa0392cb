import { ClusterMember } from '../../core/cluster/cluster-member.js';
import type { ClusterMemberOptions } from '../../core/cluster/cluster-config.js';
import { ClusterError } from '../../core/cluster/cluster-error.js';
import { peekClusterName } from '../../core/cluster/cluster-wire.js';
import type { NetworkSimulator } from '../network-simulator.js';
import type { SimContext, SimMemberStatus, SimProcess } from '../sim-process.js';
import type { ClusterHistory, MemberHistory } from './cluster-history.js';

/** One cluster a simulated node is in: its name, definition and the core's options. */
export interface HostedCluster {
  readonly name: string;
  readonly definition: readonly string[];
  readonly options?: ClusterMemberOptions;
}

/** What every host of one simulation shares: the simulator, the recorder and the id ↔ address maps. */
export interface ClusterHostShared {
  readonly sim: NetworkSimulator;
  readonly history: ClusterHistory;
  readonly nodeIdOfAddress: (address: string) => string;
  readonly addressOfNodeId: (nodeId: string) => string;
  /** Multicast on every cluster every this many ms of local time while allowed (0: never). */
  readonly multicastEveryMs: number;
  /** Larger messages go as frames (reliable stream), as the messenger would fragment or stream them. */
  readonly datagramBytesMax: number;
  /**
   * When each node's cores first start, ms of simulated time (its first life only; a
   * restart starts them at once). Before it the node's host runs but has no core, as an
   * agent the cluster's definition has not reached yet: what arrives is dropped
   * (droppedCount), as the agent's service drops envelopes of a cluster it runs no core of.
   */
  readonly firstStartAtMs?: (nodeId: string) => number;
  /** The largest message each core sent, by wire message type (cluster-wire.ts kMessage*), over the whole run. */
  readonly sentBytesMaxByType: Map<number, number>;
  /** Sees every message a core sends (traces of a run: who sent what when). */
  readonly onSend?: (atMs: number, from: string, to: string, bytes: Uint8Array) => void;
}

/**
 * A simulated node's process hosting one ClusterMember per cluster it is in: the adapter
 * between the sans-I/O cores and the simulator. It feeds received datagrams to the core
 * named in the message, ticks every core, turns ICMP-style unreachable evidence into a
 * suspect input for every core, acts on outputs (send, record), and drives a steady
 * multicast workload whose payloads name their sender, view and sequence number.
 */
export class ClusterHostProcess implements SimProcess {
  private context!: SimContext;
  private readonly cores = new Map<string, { core: ClusterMember; history: MemberHistory; nextMulticastMs: number }>();
  readonly nodeId: string;
  /** Messages dropped before reaching a core (unknown cluster, malformed header) or by it. */
  droppedCount = 0;
  /** Workload messages this process multicast, numbering the payloads. */
  private sentCount = 0;

  constructor(
    private readonly shared: ClusterHostShared,
    private readonly clusters: readonly HostedCluster[],
    address: string,
    private readonly incarnation: number,
  ) {
    this.nodeId = shared.nodeIdOfAddress(address);
  }

  start(context: SimContext): void {
    this.context = context;
    const at = this.incarnation === 0 ? this.shared.firstStartAtMs?.(this.nodeId) ?? 0 : 0;
    if (at > context.nowMs()) {
      this.startAtMs = at;
      return;
    }
    this.startCores();
  }

  /** Whether the cores wait for their first start (firstStartAtMs). */
  private startAtMs: number | null = null;

  private startCores(): void {
    const context = this.context;
    this.startAtMs = null;
    for (const c of this.clusters) {
      const core = new ClusterMember({
        cluster: c.name,
        nodeId: this.nodeId,
        incarnation: this.incarnation,
        definition: c.definition,
        random: context.random.fork(),
        nowMs: context.nowMs(),
        options: c.options,
      });
      const history = this.shared.history.memberOf(c.name, this.nodeId, this.incarnation);
      this.cores.set(c.name, { core, history, nextMulticastMs: 0 });
      this.drain(c.name);
    }
  }

  tick(): void {
    const nowMs = this.context.nowMs();
    if (this.startAtMs !== null) {
      if (nowMs < this.startAtMs) return;
      this.startCores();
    }
    for (const [name, entry] of this.cores) {
      entry.core.tick(nowMs);
      const every = this.shared.multicastEveryMs;
      if (every > 0 && nowMs >= entry.nextMulticastMs && entry.core.canMulticast()) {
        entry.nextMulticastMs = nowMs + every;
        this.multicast(name);
      }
      this.drain(name);
    }
  }

  /** Multicasts one workload message on `cluster` now, if the core accepts it; returns whether it did. */
  multicast(cluster: string): boolean {
    const entry = this.cores.get(cluster)!;
    const view = entry.core.currentView();
    if (view === null || !entry.core.canMulticast()) return false;
    const text = `${this.nodeId}/${this.incarnation}/${view.id}/${this.sentCount++}`;
    entry.core.step({ kind: 'multicast', payload: new TextEncoder().encode(text) });
    return true;
  }

  receiveDatagram(from: string, bytes: Uint8Array): void {
    let name: string;
    try {
      name = peekClusterName(bytes);
    } catch (error) {
      if (!(error instanceof ClusterError)) throw error;
      this.droppedCount++;
      return;
    }
    const entry = this.cores.get(name);
    if (entry === undefined) {
      this.droppedCount++;
      return;
    }
    entry.core.step({ kind: 'receive', from: this.shared.nodeIdOfAddress(from), bytes });
    this.drain(name);
  }

  receiveFrame(from: string, bytes: Uint8Array): void {
    this.receiveDatagram(from, bytes);
  }

  /** ICMP-style evidence: the process at `to` is dead; every core suspects that node at once. */
  unreachable(to: string): void {
    const nodeId = this.shared.nodeIdOfAddress(to);
    for (const [name, entry] of this.cores) {
      entry.core.step({ kind: 'suspect', nodeId });
      this.drain(name);
    }
  }

  streamFailed(): void {
    // A failed frame is a lost message; the protocol retransmits.
  }

  stop(): void {
    for (const [name, entry] of this.cores) {
      entry.core.step({ kind: 'leave' });
      this.drain(name);
    }
  }

  membersView(): ReadonlyMap<string, SimMemberStatus> {
    return new Map();
  }

  /** The core of one cluster (tests drive and inspect it). */
  coreOf(cluster: string): ClusterMember | undefined {
    return this.cores.get(cluster)?.core;
  }

  /** Feeds a command to one core and acts on its outputs (tests: leave, definition changes). */
  command(cluster: string, input: Parameters<ClusterMember['step']>[0]): void {
    this.cores.get(cluster)!.core.step(input);
    this.drain(cluster);
  }

  private drain(name: string): void {
    const entry = this.cores.get(name)!;
    const { core, history } = entry;
    const atMs = this.shared.sim.nowMs();
    const recorder = this.shared.history;
    for (const output of core.ready()) {
      switch (output.kind) {
        case 'send': {
          const to = this.shared.addressOfNodeId(output.to);
          this.shared.onSend?.(this.shared.sim.nowMs(), this.nodeId, output.to, output.bytes);
          const type = output.bytes[1] ?? 0;
          if (output.bytes.length > (this.shared.sentBytesMaxByType.get(type) ?? 0)) this.shared.sentBytesMaxByType.set(type, output.bytes.length);
          if (output.bytes.length <= this.shared.datagramBytesMax) this.context.sendDatagram(to, output.bytes);
          else this.context.sendFrame(to, output.bytes);
          break;
        }
        case 'deliver': {
          const payload = new TextDecoder().decode(output.payload);
          if (output.sender === this.nodeId) recorder.record(history, { kind: 'send', atMs, viewId: output.viewId, seq: output.seq, payload });
          recorder.record(history, { kind: 'deliver', atMs, viewId: output.viewId, sender: output.sender, seq: output.seq, payload });
          break;
        }
        case 'viewInstalled':
          recorder.record(history, { kind: 'install', atMs, viewId: output.view.id, members: output.view.members });
          break;
        case 'viewEnding':
          recorder.record(history, { kind: 'ending', atMs, viewId: output.viewId });
          break;
        case 'status':
          recorder.record(history, { kind: 'status', atMs, status: output.status });
          break;
        case 'blocked':
          break;
        case 'dropped':
          this.droppedCount++;
          break;
      }
    }
    core.advance();
  }
}
