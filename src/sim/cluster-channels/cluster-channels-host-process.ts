import type { ChannelLayerOptions } from '../../core/channels/channel-layer-options.js';
import type { ChannelOptions } from '../../core/channels/channel-options.js';
import type { ClusterMemberOptions } from '../../core/cluster/cluster-config.js';
import { ClusterChannels, type ClusterChannelsInput } from '../../core/cluster-channels/cluster-channels.js';
import { peekEnvelopeCluster } from '../../core/cluster-channels/cluster-channels-envelope.js';
import { ClusterChannelsError } from '../../core/cluster-channels/cluster-channels-error.js';
import type { NetworkSimulator } from '../network-simulator.js';
import type { SimContext, SimMemberStatus, SimProcess } from '../sim-process.js';
import type { ChannelHistoryRecorder } from '../channels/channel-history.js';

/** The steady workload every host runs on one channel while allowed. */
export interface ChannelWorkload {
  readonly channel: string;
  readonly options: ChannelOptions;
  /** Mean gap between a member's sends, in ms (0: no traffic). */
  readonly sendEveryMs: number;
  /** Sends stop at this simulated time, so the run can end quiet. */
  readonly sendUntilMs: number;
  /** Share of payloads big enough to be cut into several fragments. */
  readonly bigRate: number;
  /** Chance that a delivery is answered at once by its receiver (causal chains). */
  readonly replyRate: number;
  /** Only these nodes send (default: every node). */
  readonly senderNodeIds?: ReadonlySet<string>;
  /** Every payload this many bytes (at least 8) instead of random sizes. */
  readonly payloadBytes?: number;
  /** Flood: at every tick, send until the channel's send queue holds this many (instead of sendEveryMs). */
  readonly floodQueue?: number;
}

/** Send-to-delivery latencies in simulated ms, for benchmarks (payloads carry their send time). */
export interface LatencySamples {
  readonly samplesMs: number[];
  /** The most samples kept; later ones are counted but not kept. */
  readonly samplesMax: number;
}

/** What every host of one simulation shares. */
export interface ClusterChannelsHostShared {
  readonly sim: NetworkSimulator;
  readonly recorder: ChannelHistoryRecorder;
  readonly nodeIdOfAddress: (address: string) => string;
  readonly addressOfNodeId: (nodeId: string) => string;
  readonly cluster: string;
  readonly definition: readonly string[];
  readonly membership?: ClusterMemberOptions;
  readonly layer?: Omit<ChannelLayerOptions, 'self'>;
  readonly multicastBacklogMax?: number;
  /** By node id: a slow application that takes one delivery of the workload channel every this many ms (others consume at once). */
  readonly consumeEveryMs?: ReadonlyMap<string, number>;
  readonly workload: ChannelWorkload;
  /** Larger messages go as frames (reliable stream), as the messenger would stream them. */
  readonly datagramBytesMax: number;
  /** When set, payloads are stamped with their send time and every delivery's latency is kept here. */
  readonly latency?: LatencySamples;
  /** Replies left for the whole run (bounds causal chains). */
  repliesLeft: number;
  /** False: sends and deliveries are not recorded (benchmarks, whose runs no checker reads). Default true. */
  readonly recordMessages?: boolean;
}

/**
 * A simulated node's process hosting one ClusterChannels core (the cluster core under
 * the channel layer): it routes received envelopes to it, ticks it, turns ICMP-style
 * unreachable evidence into a suspect input, sends on its workload channel, answers
 * some deliveries (causal chains), and records the layer's view, sent and delivered
 * events in the shared ChannelHistory for the channel checkers. The layer consumes its
 * deliveries at once (autoConsume).
 */
export class ClusterChannelsHostProcess implements SimProcess {
  private context!: SimContext;
  core!: ClusterChannels;
  readonly nodeId: string;
  droppedCount = 0;
  /** Deliveries of the workload channel here. */
  deliveredCount = 0;
  private nextSendMs = 0;
  private sendIdNext = 1;
  private readonly payloads = new Map<number, Uint8Array>();
  private repliesDue = 0;
  /** A slow application's deliveries not yet taken, and when it takes the next. */
  private unconsumed = 0;
  private nextConsumeMs = 0;
  /** Sends that met their guarantee or failed here, by outcome code ('done' or the failure code). */
  readonly outcomes = new Map<string, number>();

  constructor(private readonly shared: ClusterChannelsHostShared, address: string, private readonly incarnation: number) {
    this.nodeId = shared.nodeIdOfAddress(address);
  }

  start(context: SimContext): void {
    this.context = context;
    this.core = new ClusterChannels({
      cluster: this.shared.cluster, nodeId: this.nodeId, incarnation: this.incarnation, definition: this.shared.definition,
      random: context.random.fork(), nowMs: context.nowMs(), membership: this.shared.membership,
      layer: { ...this.shared.layer, autoConsume: this.consumeEveryMs() === undefined }, multicastBacklogMax: this.shared.multicastBacklogMax,
    });
    this.nextSendMs = context.nowMs() + context.random.nextFloat() * this.shared.workload.sendEveryMs;
    this.drain();
  }

  /** The member name this process has in the channel layer. */
  get member(): string {
    return this.core.self;
  }

  tick(): void {
    const nowMs = this.context.nowMs();
    this.core.tick(nowMs);
    this.drain();
    const every = this.consumeEveryMs();
    if (every !== undefined && this.unconsumed > 0 && nowMs >= this.nextConsumeMs && this.core.layer.channelNames().includes(this.shared.workload.channel)) {
      this.nextConsumeMs = nowMs + every;
      this.unconsumed--;
      this.command({ kind: 'consume', channel: this.shared.workload.channel, count: 1 });
    }
    const w = this.shared.workload;
    if (!this.canSend()) return;
    for (; this.repliesDue > 0; this.repliesDue--) this.send(this.randomPayload());
    if (w.senderNodeIds !== undefined && !w.senderNodeIds.has(this.nodeId)) return;
    if (w.floodQueue !== undefined) {
      if (this.shared.sim.nowMs() >= w.sendUntilMs) return;
      while ((this.core.layer.channelCounters(w.channel)?.sendQueueLength ?? Infinity) < w.floodQueue && this.core.backlogLength() < this.core.multicastBacklogMax) this.send(this.randomPayload());
      return;
    }
    if (w.sendEveryMs > 0 && nowMs >= this.nextSendMs && this.shared.sim.nowMs() < w.sendUntilMs) {
      this.nextSendMs = nowMs + this.context.random.nextFloat() * 2 * w.sendEveryMs;
      this.send(this.randomPayload());
    }
  }

  /** Opens the workload channel here (one member does it; the layer announces it). */
  open(): void {
    this.command({ kind: 'open', name: this.shared.workload.channel, options: this.shared.workload.options });
  }

  /** Sends one payload on the workload channel; returns its send id. */
  send(payload: Uint8Array): number {
    const sendId = this.sendIdNext++;
    this.payloads.set(sendId, payload);
    this.command({ kind: 'send', sendId, channel: this.shared.workload.channel, payload });
    return sendId;
  }

  command(input: ClusterChannelsInput): void {
    this.core.step(input);
    this.drain();
  }

  private consumeEveryMs(): number | undefined {
    return this.shared.consumeEveryMs?.get(this.nodeId);
  }

  private canSend(): boolean {
    return this.core.layer.currentView() !== null && this.core.layer.channelNames().includes(this.shared.workload.channel) && this.core.status() === 'member';
  }

  private randomPayload(): Uint8Array {
    const random = this.context.random;
    const fixed = this.shared.workload.payloadBytes;
    if (fixed !== undefined) {
      const payload = new Uint8Array(Math.max(8, fixed));
      new DataView(payload.buffer).setFloat64(0, this.shared.sim.nowMs(), true);
      return payload;
    }
    const size = random.chance(this.shared.workload.bigRate) ? 1024 + random.nextInt(5 * 1024) : random.nextInt(200);
    const payload = new Uint8Array(size);
    for (let i = 0; i < size; i++) payload[i] = random.nextUint32() & 0xff;
    return payload;
  }

  receiveDatagram(from: string, bytes: Uint8Array): void {
    try {
      if (peekEnvelopeCluster(bytes) !== this.shared.cluster) {
        this.droppedCount++;
        return;
      }
    } catch (error) {
      if (!(error instanceof ClusterChannelsError)) throw error;
      this.droppedCount++;
      return;
    }
    this.command({ kind: 'receive', from: this.shared.nodeIdOfAddress(from), bytes });
  }

  receiveFrame(from: string, bytes: Uint8Array): void {
    this.receiveDatagram(from, bytes);
  }

  /** ICMP-style evidence: the process at `to` is dead. */
  unreachable(to: string): void {
    this.command({ kind: 'suspect', nodeId: this.shared.nodeIdOfAddress(to) });
  }

  streamFailed(): void {
    // A failed frame is a lost message; the cluster core retransmits.
  }

  stop(): void {
    this.command({ kind: 'leave' });
  }

  membersView(): ReadonlyMap<string, SimMemberStatus> {
    return new Map();
  }

  private drain(): void {
    const recorder = this.shared.recorder;
    const self = this.core.self;
    for (const output of this.core.ready()) {
      switch (output.kind) {
        case 'send': {
          const to = this.shared.addressOfNodeId(output.to);
          if (output.bytes.length <= this.shared.datagramBytesMax) this.context.sendDatagram(to, output.bytes);
          else this.context.sendFrame(to, output.bytes);
          break;
        }
        case 'view':
          recorder.view(self, output.view.id, output.view.members);
          break;
        case 'opened':
          recorder.channel(output.channel, output.options.reliability, output.options.ordering);
          break;
        case 'sent':
          if (this.shared.recordMessages !== false) recorder.sent(self, output.channel, output.viewId, output.seq, this.payloads.get(output.sendId)!);
          break;
        case 'delivered':
          if (this.shared.recordMessages !== false) recorder.delivered(self, output.channel, output.sender, output.viewId, output.seq, output.payload);
          if (this.consumeEveryMs() !== undefined && output.channel === this.shared.workload.channel) this.unconsumed++;
          if (output.channel === this.shared.workload.channel) this.deliveredCount++;
          if (this.shared.latency !== undefined && this.shared.workload.payloadBytes !== undefined && output.payload.length >= 8) {
            const samples = this.shared.latency;
            const sentAtMs = new DataView(output.payload.buffer, output.payload.byteOffset, 8).getFloat64(0, true);
            if (samples.samplesMs.length < samples.samplesMax) samples.samplesMs.push(this.shared.sim.nowMs() - sentAtMs);
          }
          if (output.sender !== self && this.shared.repliesLeft > 0 && this.context.random.chance(this.shared.workload.replyRate)) {
            this.shared.repliesLeft--;
            this.repliesDue++;
          }
          break;
        case 'sendDone':
          this.payloads.delete(output.sendId);
          this.outcomes.set('done', (this.outcomes.get('done') ?? 0) + 1);
          break;
        case 'sendFailed':
          this.payloads.delete(output.sendId);
          this.outcomes.set(output.code, (this.outcomes.get(output.code) ?? 0) + 1);
          break;
        case 'channelsReset':
          // The old layer's deliveries are gone with it: nothing is left to consume.
          this.unconsumed = 0;
          recorder.stop(self);
          break;
        case 'dropped':
          this.droppedCount++;
          break;
        default:
          break;
      }
    }
    this.core.advance();
  }
}
