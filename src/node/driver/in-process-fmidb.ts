import { randomInt } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { resolveFmidbConfig, type FmidbOptions } from '../../core/fmidb/config.js';
import type { FmidbChange, FmidbWrite } from '../../core/fmidb/entry.js';
import { FmidbCore } from '../../core/fmidb/fmidb-core.js';
import { FmidbError } from '../../core/fmidb/fmidb-error.js';
import { createFmidbRuntime } from '../../core/kernels/fmidb-runtime.js';
import type { SnapshotOrigin } from '../../core/stack/node-stack.js';
import { Prng } from '../../core/util/prng.js';
import type { FmidbCountersReport, FmidbReadout } from './agent-worker-protocol.js';
import type { FmidbLink, FmidbUpdate } from './fmidb-link.js';

export interface InProcessFmidbOptions {
  /** This node's id: the replica's name. */
  readonly selfId: string;
  /** Timer period, ms. */
  readonly tickMs?: number;
  /** Sends a message to a peer by id; absent: a lone replica (nothing to send to). */
  readonly send?: (to: string, bytes: Uint8Array, stream: boolean) => void;
}

/**
 * An FMIDB replica driven in this thread, for a node without an agent worker (the farm
 * data's own tests, tools): the same FmidbCore the worker's NodeStack runs, ticked by a
 * timer with the monotonic clock and stamped with the wall clock, behind the same
 * FmidbLink the agent's worker offers. Updates are delivered on a microtask, in order,
 * as the worker's reports arrive on a later turn.
 */
export class InProcessFmidb implements FmidbLink {
  private core: FmidbCore | null = null;
  private readonly options: InProcessFmidbOptions;
  private readonly listeners = new Set<(update: FmidbUpdate) => void>();
  private timer: NodeJS.Timeout | null = null;
  private changes: FmidbChange[] = [];

  constructor(options: InProcessFmidbOptions) {
    this.options = options;
  }

  /** The core, once open (tests read its replica). */
  get fmidb(): FmidbCore | null {
    return this.core;
  }

  openFmidb(options: FmidbOptions, snapshot: readonly SnapshotOrigin[]): void {
    if (this.core !== null) return;
    const config = resolveFmidbConfig(options);
    const now = performance.now();
    const core = new FmidbCore({ selfId: this.options.selfId, config, runtime: createFmidbRuntime(config), random: new Prng(randomInt(0, 2 ** 32)), nowMs: now, wallClockOffsetMs: Date.now() - now });
    const refused: { origin: string; reason: string }[] = [];
    let origins = 0;
    let entries = 0;
    for (const origin of snapshot) {
      try {
        core.replica.prepopulate(origin.origin, origin.version, origin.entries);
        origins++;
        entries += origin.entries.length;
      } catch (error) {
        refused.push({ origin: origin.origin, reason: (error as Error).message });
      }
    }
    this.core = core;
    this.emit({ type: 'opened', origins, entries, refused });
    // The loaded entries come out as changes of the read view, as they do from the worker's stack.
    core.tick(performance.now());
    this.act();
    this.timer = setInterval(() => {
      core.tick(performance.now());
      this.act();
    }, this.options.tickMs ?? 100);
    this.timer.unref();
  }

  writeFmidb(writes: readonly FmidbWrite[]): Promise<number> {
    const core = this.core;
    if (core === null) return Promise.reject(new FmidbError('FMIDB_NOT_OPEN', 'the FMIDB is not open'));
    try {
      core.step({ type: 'write', writes });
    } catch (error) {
      return Promise.reject(error as Error);
    }
    const stamp = core.replica.versionOf(this.options.selfId);
    this.act();
    // Resolved after the update the write made, as the worker answers after its changes.
    return new Promise((resolve) => queueMicrotask(() => resolve(stamp)));
  }

  departFmidb(ids: readonly string[]): void {
    if (this.core === null) return;
    for (const id of ids) this.core.step({ type: 'departed', id });
    this.act();
  }

  readFmidb(exportOrigins: boolean): Promise<FmidbReadout> {
    const replica = this.core?.replica;
    if (replica === undefined) return Promise.resolve({ digest: '', originsHeld: 0, counters: {}, origins: null });
    return Promise.resolve({ digest: replica.digestHash(), originsHeld: replica.originsHeld, counters: this.counters(), origins: exportOrigins ? replica.exportOrigins() : null });
  }

  onFmidb(listener: (update: FmidbUpdate) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** A message from peer `from` (for a test wiring replicas together). */
  receive(from: string, bytes: Uint8Array, stream: boolean): void {
    if (this.core === null) return;
    this.core.step({ type: 'message', from, bytes, stream });
    this.act();
  }

  /** The peers membership holds alive (for a test wiring replicas together). */
  peers(alive: readonly string[]): void {
    if (this.core === null) return;
    this.core.step({ type: 'peers', alive });
    this.act();
  }

  close(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  private act(): void {
    const core = this.core!;
    for (const o of core.ready()) {
      if (o.type === 'change') this.changes.push(o.change);
      else this.options.send?.(o.to, o.bytes, o.stream);
    }
    core.advance();
    if (this.changes.length === 0) return;
    const changes = this.changes;
    this.changes = [];
    this.emit({ type: 'changes', changes, counters: this.counters() });
  }

  private emit(update: FmidbUpdate): void {
    queueMicrotask(() => {
      for (const listener of this.listeners) listener(update);
    });
  }

  private counters(): FmidbCountersReport {
    const replica = this.core?.replica;
    const out: Record<string, number> = {};
    if (replica === undefined) return out;
    for (const [key, value] of Object.entries(replica.counters)) if (typeof value === 'number') out[key] = value;
    out['originsHeld'] = replica.originsHeld;
    return out;
  }
}
