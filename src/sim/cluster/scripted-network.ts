import { ClusterMember } from '../../core/cluster/cluster-member.js';
import type { ClusterMemberOptions } from '../../core/cluster/cluster-config.js';
import type { ClusterInput, ClusterOutput } from '../../core/cluster/cluster-io.js';
import { Prng } from '../../core/util/prng.js';
import { ClusterHistory } from './cluster-history.js';

/** A message in flight in a ScriptedNetwork, with its type's name for filters. */
export interface ScriptedMessage {
  readonly from: string;
  readonly to: string;
  readonly bytes: Uint8Array;
  readonly type: string;
}

const kTypeNames = ['', 'heartbeat', 'data', 'join', 'newer', 'leave', 'prepare', 'promise', 'accept', 'accepted', 'reject', 'install', 'installed', 'stable'];

/**
 * A hand-driven network of ClusterMember cores for transition tests: the test decides
 * when time passes and which messages arrive, are dropped, or wait, so a readable script
 * can walk a protocol through one exact interleaving (a coordinator that decides and
 * dies before its install reaches anyone, say). Outputs other than sends are kept per
 * node for the test to read, and recorded into a ClusterHistory so the same checkers
 * as the simulator's can judge the script.
 */
export class ScriptedNetwork {
  readonly history = new ClusterHistory();
  readonly cores = new Map<string, ClusterMember>();
  /** Messages sent and not yet delivered or dropped, oldest first. */
  inFlight: ScriptedMessage[] = [];
  nowMs = 0;
  /** Stalled processes: not ticked, and what is sent to them waits in flight (their socket buffers) until they run again. */
  readonly paused = new Set<string>();
  private readonly outputs = new Map<string, ClusterOutput[]>();
  private readonly random = new Prng(7);

  constructor(readonly cluster = 'web') {}

  /** Starts a core for nodeId. */
  add(nodeId: string, definition: readonly string[], options: ClusterMemberOptions = {}, incarnation = 0): ClusterMember {
    const core = new ClusterMember({ cluster: this.cluster, nodeId, incarnation, definition, random: this.random.fork(), nowMs: this.nowMs, options });
    this.cores.set(nodeId, core);
    this.outputs.set(nodeId, []);
    this.collect(nodeId);
    return core;
  }

  core(nodeId: string): ClusterMember {
    const core = this.cores.get(nodeId);
    if (core === undefined) throw new Error(`no core ${nodeId}`);
    return core;
  }

  /** The process dies: its core is gone and what it had in flight is lost. */
  crash(nodeId: string): void {
    this.cores.delete(nodeId);
    this.inFlight = this.inFlight.filter((m) => m.from !== nodeId);
  }

  step(nodeId: string, input: ClusterInput): void {
    this.core(nodeId).step(input);
    this.collect(nodeId);
  }

  /** Lets ms pass and ticks every core once at the new time. */
  tick(ms: number): void {
    this.nowMs += ms;
    for (const [nodeId, core] of this.cores) {
      if (this.paused.has(nodeId)) continue;
      core.tick(this.nowMs);
      this.collect(nodeId);
    }
  }

  /**
   * Delivers every message now in flight once, in order; a message `keep` rejects is
   * dropped. Returns how many were delivered (messages they cause wait for the next call).
   */
  deliver(keep: (m: ScriptedMessage) => boolean = () => true): number {
    const batch = this.inFlight;
    this.inFlight = [];
    let delivered = 0;
    for (const m of batch) {
      if (this.paused.has(m.to)) {
        this.inFlight.push(m);
        continue;
      }
      const core = this.cores.get(m.to);
      if (core === undefined || !keep(m)) continue;
      core.step({ kind: 'receive', from: m.from, bytes: m.bytes });
      this.collect(m.to);
      delivered++;
    }
    return delivered;
  }

  /** Delivers until nothing is in flight but what waits for a paused process (at most roundsMax rounds, without time passing). */
  settle(keep: (m: ScriptedMessage) => boolean = () => true, roundsMax = 50): void {
    for (let i = 0; i < roundsMax && this.inFlight.some((m) => !this.paused.has(m.to)); i++) this.deliver(keep);
  }

  /** Ticks in steps of stepMs for totalMs, settling after each tick. */
  run(totalMs: number, stepMs = 5, keep: (m: ScriptedMessage) => boolean = () => true): void {
    for (let t = 0; t < totalMs; t += stepMs) {
      this.tick(stepMs);
      this.settle(keep);
    }
  }

  /** The outputs other than sends that nodeId produced since the last take. */
  take(nodeId: string): ClusterOutput[] {
    const list = this.outputs.get(nodeId) ?? [];
    this.outputs.set(nodeId, []);
    return list;
  }

  private collect(nodeId: string): void {
    const core = this.cores.get(nodeId)!;
    const kept = this.outputs.get(nodeId)!;
    const history = this.history.memberOf(this.cluster, nodeId, core.incarnation);
    const atMs = this.nowMs;
    for (const o of core.ready()) {
      if (o.kind === 'send') {
        this.inFlight.push({ from: nodeId, to: o.to, bytes: o.bytes, type: kTypeNames[o.bytes[1]!] ?? 'unknown' });
        continue;
      }
      kept.push(o);
      if (o.kind === 'viewInstalled') this.history.record(history, { kind: 'install', atMs, viewId: o.view.id, members: o.view.members });
      if (o.kind === 'viewEnding') this.history.record(history, { kind: 'ending', atMs, viewId: o.viewId });
      if (o.kind === 'deliver') {
        const payload = new TextDecoder().decode(o.payload);
        if (o.sender === nodeId) this.history.record(history, { kind: 'send', atMs, viewId: o.viewId, seq: o.seq, payload });
        this.history.record(history, { kind: 'deliver', atMs, viewId: o.viewId, sender: o.sender, seq: o.seq, payload });
      }
    }
    core.advance();
  }
}
