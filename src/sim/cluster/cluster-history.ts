import type { MemberRef } from '../../core/cluster/cluster-io.js';

/**
 * A recorder of what every cluster member did, with the global simulation time: views
 * installed, messages sent and delivered, view endings and status changes. The checkers
 * judge these histories after (or during) a run. A member is one process of one node in
 * one cluster, keyed "cluster/nodeId/incarnation", so a restarted node starts afresh.
 */
export class ClusterHistory {
  /** member key → that member's events, in the order they happened. */
  readonly members = new Map<string, MemberHistory>();
  /** The most events kept per member; a run that exceeds it is too long for a checked run. */
  readonly eventsPerMemberMax: number;

  constructor(eventsPerMemberMax = 1 << 20) {
    this.eventsPerMemberMax = eventsPerMemberMax;
  }

  memberOf(cluster: string, nodeId: string, incarnation: number): MemberHistory {
    const key = `${cluster}/${nodeId}/${incarnation}`;
    let history = this.members.get(key);
    if (history === undefined) {
      history = { key, cluster, nodeId, incarnation, events: [] };
      this.members.set(key, history);
    }
    return history;
  }

  record(history: MemberHistory, event: HistoryEvent): void {
    if (history.events.length >= this.eventsPerMemberMax) throw new RangeError(`member ${history.key} recorded over ${this.eventsPerMemberMax} events`);
    history.events.push(event);
  }

  /** The members of one cluster. */
  ofCluster(cluster: string): MemberHistory[] {
    return [...this.members.values()].filter((m) => m.cluster === cluster);
  }
}

export interface MemberHistory {
  readonly key: string;
  readonly cluster: string;
  readonly nodeId: string;
  readonly incarnation: number;
  readonly events: HistoryEvent[];
}

export type HistoryEvent =
  | { readonly kind: 'install'; readonly atMs: number; readonly viewId: number; readonly members: readonly MemberRef[] }
  | { readonly kind: 'send'; readonly atMs: number; readonly viewId: number; readonly seq: number; readonly payload: string }
  | { readonly kind: 'deliver'; readonly atMs: number; readonly viewId: number; readonly sender: string; readonly seq: number; readonly payload: string }
  | { readonly kind: 'ending'; readonly atMs: number; readonly viewId: number }
  | { readonly kind: 'status'; readonly atMs: number; readonly status: string };
