import { once } from 'node:events';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Runtime } from '../../core/runtime/runtime.js';
import { wasmModule } from '../../core/platform/wasm-module.js';
import type { MembershipTable } from '../../core/table/membership-table.js';
import * as L from '../../core/table/layout.js';
import { packageRoot } from '../../core/platform/package-root.js';
import * as F from '../../core/wire/format.js';
import * as P from './gossip-worker-protocol.js';
import { Ring } from './ring.js';

export interface GossipWorkerOptions {
  /** Bytes of each ring's data area (power of two); 1 MiB holds ~700 full datagrams. */
  ringBytes?: number;
  /** Change records the worker reports per kernel call before counting overflow. */
  outCapacity?: number;
}

/** One result record from the worker, read in place from the outbound ring. */
export interface WorkerResult {
  kind: number;
  /** The kernel's return: entries merged, rows reported, or a negated error. */
  result: number;
  /** Pointer to (row, flags) i32 pairs in shared memory, and their count. */
  pairs: number;
  pairCount: number;
}

/**
 * The main thread's handle on the gossip worker. Work goes in through one ring and
 * results come back through another; the table itself is read directly from shared
 * memory (MembershipTable over the same runtime), never copied or posted.
 */
export class GossipWorkerClient {
  readonly backend: string;
  private readonly worker: Worker;
  private readonly runtime: Runtime;
  private readonly inbound: Ring;
  private readonly outbound: Ring;

  private constructor(worker: Worker, runtime: Runtime, inbound: Ring, outbound: Ring, backend: string) {
    this.worker = worker;
    this.runtime = runtime;
    this.inbound = inbound;
    this.outbound = outbound;
    this.backend = backend;
  }

  /** Starts a worker over the runtime's memory and table, with the runtime's kernel backend. */
  static async start(runtime: Runtime, table: MembershipTable, options: GossipWorkerOptions = {}): Promise<GossipWorkerClient> {
    const ringBytes = options.ringBytes ?? 1 << 20;
    const outCapacity = options.outCapacity ?? 4096;
    const inbound = Ring.create(runtime.views, runtime.allocate(Ring.bytesFor(ringBytes), 8), ringBytes);
    const outbound = Ring.create(runtime.views, runtime.allocate(Ring.bytesFor(ringBytes), 8), ringBytes);
    const out = runtime.allocate((L.kOutHeaderWords + 2 * outCapacity) * 4, 8);
    const data: P.GossipWorkerData = {
      memory: runtime.memory,
      module: runtime.kernels.backend === 'wasm' ? wasmModule() : null,
      tableBase: table.base,
      inboundRing: inbound.base,
      outboundRing: outbound.base,
      out,
      outCapacity,
      limit: F.kFrameBytesMax,
    };
    const worker = new Worker(join(packageRoot(), 'dist', 'workers', 'gossip-worker.js'), { workerData: data });
    const [ready] = (await Promise.race([once(worker, 'message'), once(worker, 'error').then(([e]) => Promise.reject(e))])) as [{ backend: string }];
    return new GossipWorkerClient(worker, runtime, inbound, outbound, ready.backend);
  }

  /** Queues a datagram to merge; returns false when the ring is full (counted). Call flush() after a batch. */
  submitMerge(bytes: Uint8Array, nowMs: number): boolean {
    const at = this.inbound.reserve(P.kRecordHeaderBytes + bytes.length);
    if (at < 0) return false;
    const { u8, dv } = this.runtime.views;
    u8[at] = P.kRecordKindMerge;
    dv.setUint32(at + 4, nowMs >>> 0, true);
    u8.set(bytes, at + P.kRecordHeaderBytes);
    this.inbound.commit();
    return true;
  }

  /** Queues a failure-detector sweep. */
  submitSweep(nowMs: number, phiKSquared: number, varianceMinMs2: number, samplesMin: number, silenceMaxMs: number): boolean {
    const at = this.inbound.reserve(P.kSweepRecordBytes);
    if (at < 0) return false;
    const dv = this.runtime.views.dv;
    this.runtime.views.u8[at] = P.kRecordKindSweep;
    dv.setUint32(at + 4, nowMs >>> 0, true);
    dv.setFloat64(at + 8, phiKSquared, true);
    dv.setFloat64(at + 16, varianceMinMs2, true);
    dv.setUint32(at + 24, samplesMin, true);
    dv.setUint32(at + 28, silenceMaxMs >>> 0, true);
    this.inbound.commit();
    return true;
  }

  /** Wakes the worker once for everything queued since the last flush. */
  flush(): void {
    this.inbound.signal();
  }

  /** Value to pass to waitForResults: read it before flush() so no wake-up is missed. */
  get resultSignal(): number {
    return this.outbound.signalValue;
  }

  /** Resolves when the worker has signalled results after `seen` (or the timeout). */
  async waitForResults(seen: number, timeoutMs = 5000): Promise<void> {
    await this.outbound.waitAsync(seen, timeoutMs);
  }

  /** Reads every result record available, in order; returns how many. */
  drainResults(visit: (result: WorkerResult) => void): number {
    const { u8, dv } = this.runtime.views;
    return this.outbound.drain((pointer, length) => {
      visit({ kind: u8[pointer]!, result: dv.getInt32(pointer + 4, true), pairs: pointer + P.kRecordHeaderBytes, pairCount: (length - P.kRecordHeaderBytes) / 8 });
    });
  }

  /** Records refused because a ring was full, inbound and outbound. */
  get refused(): { inbound: number; outbound: number } {
    return { inbound: this.inbound.refused, outbound: this.outbound.refused };
  }

  async stop(): Promise<void> {
    const at = this.inbound.reserve(P.kRecordHeaderBytes);
    if (at >= 0) {
      this.runtime.views.u8[at] = P.kRecordKindStop;
      this.inbound.commit();
    }
    this.inbound.signal();
    const exited = once(this.worker, 'exit');
    const timer = setTimeout(() => void this.worker.terminate(), 2000);
    await exited;
    clearTimeout(timer);
  }
}
