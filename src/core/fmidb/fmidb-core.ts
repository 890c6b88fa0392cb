import { OutputQueue, type SansIoCore } from '../contract.js';
import type { FmidbChange, FmidbWrite } from './entry.js';
import { FmidbReplica, type FmidbReplicaOptions } from './fmidb-replica.js';

/** What an FMIDB core takes: messages from a peer (its id), membership's view, writes. */
export type FmidbInput =
  | { readonly type: 'message'; readonly from: string; readonly bytes: Uint8Array; readonly stream: boolean }
  /** The nodes membership holds alive (this node may be among them). */
  | { readonly type: 'peers'; readonly alive: readonly string[] }
  /** Membership says the node left or died. */
  | { readonly type: 'departed'; readonly id: string }
  | { readonly type: 'write'; readonly writes: readonly FmidbWrite[] };

export type FmidbOutput =
  /** Bytes for a peer, over a stream when `stream`; the driver's to keep. */
  | { readonly type: 'send'; readonly to: string; readonly bytes: Uint8Array; readonly stream: boolean }
  /** A change of the read view (one per subject and key). */
  | { readonly type: 'change'; readonly change: FmidbChange };

export interface FmidbCoreOptions extends Omit<FmidbReplicaOptions, 'nowMs' | 'wallClockMs'> {
  /** The clock at construction, ms. */
  readonly nowMs: number;
  /**
   * The wall clock's offset from the tick clock, ms: stamps that order writes of one key
   * from different nodes are tick time plus this (the agent passes Date.now() minus its
   * monotonic clock; the simulator 0, its clocks already drift apart).
   */
  readonly wallClockOffsetMs?: number;
  readonly outputsMax?: number;
}

const kOutputsMaxDefault = 65_536;

/**
 * The FMIDB replica behind the common contract (contract.ts). The replica was already a
 * pure state machine with a drained outbox; this adapter gives it the contract's shape:
 * its clock is the last tick, and its outbox and read-view changes come out as one
 * ordered batch. A write command's stamp is the replica's return value, not an output:
 * read it from `replica` when needed.
 */
export class FmidbCore implements SansIoCore<FmidbInput, FmidbOutput> {
  readonly replica: FmidbReplica;
  private readonly out: OutputQueue<FmidbOutput>;
  private clockMs: number;
  private readonly wallClockOffsetMs: number;

  constructor(options: FmidbCoreOptions) {
    this.clockMs = options.nowMs;
    this.wallClockOffsetMs = options.wallClockOffsetMs ?? 0;
    this.out = new OutputQueue(options.outputsMax ?? kOutputsMaxDefault);
    const { nowMs: _nowMs, wallClockOffsetMs: _offset, outputsMax: _outputsMax, ...replicaOptions } = options;
    this.replica = new FmidbReplica({ ...replicaOptions, nowMs: () => this.clockMs, wallClockMs: () => this.clockMs + this.wallClockOffsetMs });
  }

  step(input: FmidbInput): void {
    const replica = this.replica;
    switch (input.type) {
      case 'message':
        replica.receive(input.from, input.bytes, input.stream);
        break;
      case 'peers':
        replica.peersChanged(input.alive);
        break;
      case 'departed':
        replica.nodeDeparted(input.id, this.clockMs);
        break;
      case 'write':
        replica.setMany(input.writes);
        break;
    }
    this.collect();
  }

  tick(nowMs: number): void {
    if (nowMs > this.clockMs) this.clockMs = nowMs;
    this.replica.tick();
    this.collect();
  }

  ready(): readonly FmidbOutput[] {
    return this.out.ready();
  }

  advance(): void {
    this.out.advance();
  }

  private collect(): void {
    // The replica's memory may reuse its output buffer (the simulator's does): copy.
    for (const m of this.replica.drainOutbox()) this.out.push({ type: 'send', to: m.to, bytes: m.bytes.slice(), stream: m.stream });
    for (const change of this.replica.drainChanges()) this.out.push({ type: 'change', change });
  }
}
