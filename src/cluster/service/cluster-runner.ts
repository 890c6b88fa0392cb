import type { ClusterStatus, MemberRef } from '../../core/cluster/cluster-io.js';
import { ClusterChannels, kClusterChannelsPayloadBytesDefault, type ClusterChannelsInput } from '../../core/cluster-channels/cluster-channels.js';
import type { PackKernel } from '../../core/cluster-channels/pack-kernel.js';
import { resolveClusterMemberOptions, type ClusterMemberOptions } from '../../core/cluster/cluster-config.js';
import type { Prng } from '../../core/util/prng.js';
import type { AppEvent } from '../../core/channels/channel-layer-io.js';
import type { ChannelView } from '../../core/channels/vs-group-port.js';

/**
 * One cluster on this node: its ClusterChannels core (a ClusterMember under a channel
 * layer) and what this node recorded of it, the views it installed and its status
 * changes. The runner does no I/O and keeps no timer: the service (cluster-service.ts)
 * feeds it received envelopes, evidence and ticks, and hands its sends to the
 * messenger. Times are given: `nowMs` the core's monotonic clock, `wallMs` the epoch
 * time the history is stamped with (the management node compares histories of
 * different nodes by it).
 */
/** Views (and status changes) kept per cluster at most; older ones are counted and forgotten. */
export const kViewHistoryMax = 256;

export interface RecordedView {
  readonly viewId: number;
  readonly members: readonly MemberRef[];
  /** Epoch ms when this node installed it. */
  readonly installedAtMs: number;
  readonly installedAt: string;
}

export interface RecordedStatus {
  readonly status: ClusterStatus;
  readonly atMs: number;
}

/**
 * External evidence this node's core was given, with its epoch time: why a view changed.
 * A farm `dead` or `leave` event, or a closed connection to the node whose reconnect was
 * refused (cluster-links.ts).
 */
export interface RecordedEvidence {
  readonly nodeId: string;
  readonly source: 'farm-dead' | 'farm-leave' | 'link-closed';
  readonly atMs: number;
}

export interface ClusterRunnerInit {
  readonly cluster: string;
  readonly uid: string;
  readonly nodeId: string;
  readonly incarnation: number;
  readonly definition: readonly string[];
  readonly tuning: ClusterMemberOptions;
  /** Epoch ms of the core's start (a joiner's join time runs from it). */
  readonly startedAtMs: number;
  readonly random: Prng;
  readonly nowMs: number;
  /** The pack kernel for cores of this payloadBytesMax (the cluster service keeps one per size), or none: TypeScript packs. */
  readonly packKernelFor?: (payloadBytesMax: number) => PackKernel | undefined;
}

export type RunnerOutput =
  | { readonly kind: 'send'; readonly to: string; readonly bytes: Uint8Array }
  | { readonly kind: 'view'; readonly view: RecordedView }
  | { readonly kind: 'status'; readonly status: ClusterStatus; readonly previous: ClusterStatus }
  | { readonly kind: 'reset'; readonly fromViewId: number }
  /** The channel layer's events for the application (the service's channel inboxes and pending sends). */
  | { readonly kind: 'channel'; readonly event: AppEvent };

export class ClusterRunner {
  readonly cluster: string;
  readonly uid: string;
  readonly incarnation: number;
  readonly startedAtMs: number;
  readonly core: ClusterChannels;
  readonly views: RecordedView[] = [];
  readonly statuses: RecordedStatus[] = [];
  readonly evidence: RecordedEvidence[] = [];
  viewsForgotten = 0;
  /** The member list the core was last told (sorted node ids). */
  definition: readonly string[];
  /** Set when the runner was told to leave (by an operator, a deletion or a definition without this node). */
  leavingSinceMs: number | null = null;
  private statusValue: ClusterStatus = 'joining';
  /** The channel layer's last view (members as `nodeId/incarnation`), or null before the first. */
  layerView: ChannelView | null = null;
  readonly counters = { sends: 0, received: 0, dropped: 0, resets: 0 };

  constructor(init: ClusterRunnerInit) {
    this.cluster = init.cluster;
    this.uid = init.uid;
    this.incarnation = init.incarnation;
    this.startedAtMs = init.startedAtMs;
    this.definition = [...init.definition];
    this.core = new ClusterChannels({
      cluster: init.cluster,
      nodeId: init.nodeId,
      incarnation: init.incarnation,
      definition: init.definition,
      random: init.random,
      nowMs: init.nowMs,
      membership: init.tuning,
      packKernel: init.packKernelFor?.(resolveClusterMemberOptions({ payloadBytesMax: kClusterChannelsPayloadBytesDefault, ...init.tuning }).payloadBytesMax),
    });
  }

  get status(): ClusterStatus {
    return this.statusValue;
  }

  /** The last view this node installed, or null. */
  get view(): RecordedView | null {
    return this.views.length === 0 ? null : this.views[this.views.length - 1]!;
  }

  step(input: ClusterChannelsInput, wallMs: number): RunnerOutput[] {
    if (input.kind === 'receive') this.counters.received++;
    this.core.step(input);
    return this.drain(wallMs);
  }

  /** External evidence against a member's node: the core suspects it at once (its incarnation in the view). */
  suspect(nodeId: string, source: RecordedEvidence['source'], wallMs: number): RunnerOutput[] {
    if (this.evidence.length >= kViewHistoryMax) this.evidence.shift();
    this.evidence.push({ nodeId, source, atMs: wallMs });
    return this.step({ kind: 'suspect', nodeId }, wallMs);
  }

  tick(nowMs: number, wallMs: number): RunnerOutput[] {
    this.core.tick(nowMs);
    return this.drain(wallMs);
  }

  /** Only what the service acts on leaves the runner; the channel layer's events go to the service as `channel` outputs. */
  private drain(wallMs: number): RunnerOutput[] {
    const out: RunnerOutput[] = [];
    const batch = this.core.ready();
    for (const output of batch) {
      switch (output.kind) {
        case 'send':
          this.counters.sends++;
          out.push({ kind: 'send', to: output.to, bytes: output.bytes });
          break;
        case 'clusterView': {
          const view: RecordedView = { viewId: output.view.id, members: output.view.members.map((m) => ({ nodeId: m.nodeId, incarnation: m.incarnation })), installedAtMs: wallMs, installedAt: new Date(wallMs).toISOString() };
          this.remember(this.views, view);
          out.push({ kind: 'view', view });
          break;
        }
        case 'clusterStatus':
          if (output.status !== this.statusValue) {
            const previous = this.statusValue;
            this.statusValue = output.status;
            this.remember(this.statuses, { status: output.status, atMs: wallMs });
            out.push({ kind: 'status', status: output.status, previous });
          }
          break;
        case 'channelsReset':
          this.counters.resets++;
          out.push({ kind: 'reset', fromViewId: output.fromViewId });
          break;
        case 'dropped':
          this.counters.dropped++;
          break;
        case 'view':
          this.layerView = output.view;
          out.push({ kind: 'channel', event: output });
          break;
        case 'opened':
        case 'delivered':
        case 'sent':
        case 'sendDone':
        case 'sendFailed':
        case 'slowMember':
          out.push({ kind: 'channel', event: output });
          break;
        default:
          break;
      }
    }
    this.core.advance();
    return out;
  }

  private remember<T>(list: T[], item: T): void {
    if (list.length >= kViewHistoryMax) {
      list.shift();
      this.viewsForgotten++;
    }
    list.push(item);
  }
}
