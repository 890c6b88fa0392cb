/**
 * One simulated channel load (channels-sim.ts, cluster-channels-sim.ts): ClusterChannels
 * cores on the simulated LAN (1 ms ticks), one reliable channel 'bench' of the load's
 * ordering, flooding or paced senders; after a warm-up, messages per simulated second
 * delivered at every member (the slowest member's count) and the send-to-delivery
 * latency quantiles. Processing costs no simulated time.
 */
import type { ChannelOptions } from '../src/core/channels/channel-options.js';
import type { ClusterMemberOptions } from '../src/core/cluster/cluster-config.js';
import { nodeIdOfIndex } from '../src/sim/cluster/cluster-simulation.js';
import { ClusterChannelsSimulation } from '../src/sim/cluster-channels/cluster-channels-simulation.js';
import { quantileMs, type ChannelLoad } from './channels-common.js';

export interface SimulatedSetup {
  readonly membership: ClusterMemberOptions;
  /** The layer's credit window per member, in messages. */
  readonly windowMessages: number;
  /** A flooding sender keeps the layer's send queue this full. */
  readonly floodQueue: number;
  readonly latencySamplesMax: number;
  readonly warmMs: number;
  readonly measureMs: number;
  readonly multicastBacklogMax?: number;
  readonly recordMessages?: boolean;
  /** Throws when the view changed during the measured window. */
  readonly steadyView: boolean;
}

export interface SimulatedFigure {
  deliveredPerSecond: number;
  latency: { p50Ms: number; p99Ms: number; maxMs: number; samples: number };
  /** What the simulation cost this thread, ms of wall time. */
  wallMs: number;
}

export function runSimulated(load: ChannelLoad, seed: number, setup: SimulatedSetup): SimulatedFigure {
  const started = Date.now();
  const nodes = Array.from({ length: load.size }, (_, i) => i);
  const options: ChannelOptions = { reliability: 'reliable', ordering: load.ordering, windowMessages: setup.windowMessages };
  const latency = { samplesMs: [] as number[], samplesMax: setup.latencySamplesMax };
  const s = new ClusterChannelsSimulation({
    seed,
    nodeCount: load.size,
    workload: {
      channel: 'bench', options, sendEveryMs: load.sendEveryMs === 'flood' ? 0 : load.sendEveryMs, sendUntilMs: Infinity, bigRate: 0, replyRate: 0,
      senderNodeIds: load.allSending ? undefined : new Set([nodeIdOfIndex(0)]), payloadBytes: load.payloadBytes,
      floodQueue: load.sendEveryMs === 'flood' ? setup.floodQueue : undefined,
    },
    membership: setup.membership,
    layer: { fragmentBytes: 8192 },
    multicastBacklogMax: setup.multicastBacklogMax,
    latency,
    recordMessages: setup.recordMessages,
    sim: { tickMs: 1 },
  });
  if (s.sim.runUntil(() => s.host(0)?.core.currentView() !== null, 5000, 5) < 0) throw new Error('no first view');
  s.host(0)!.open();
  if (s.awaitCommonView(nodes, 5000) < 0) throw new Error(`no common view: ${s.describe(nodes)}`);
  s.sim.runFor(setup.warmMs);
  const before = nodes.map((i) => s.host(i)!.deliveredCount);
  latency.samplesMs.length = 0;
  s.sim.runFor(setup.measureMs);
  const delivered = nodes.map((i) => s.host(i)!.deliveredCount - before[i]!);
  if (setup.steadyView && !s.hasCommonView(nodes)) throw new Error(`the view changed during the run: ${s.describe(nodes)}`);
  const sorted = latency.samplesMs.slice().sort((a, b) => a - b);
  return {
    deliveredPerSecond: Math.round(Math.min(...delivered) / (setup.measureMs / 1000)),
    latency: { p50Ms: quantileMs(sorted, 0.5), p99Ms: quantileMs(sorted, 0.99), maxMs: quantileMs(sorted, 1), samples: sorted.length },
    wallMs: Date.now() - started,
  };
}
