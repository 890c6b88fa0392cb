import type { FmidbOptions } from '../../core/fmidb/config.js';
import type { FmidbChange, FmidbWrite } from '../../core/fmidb/entry.js';
import type { SnapshotOrigin } from '../../core/stack/node-stack.js';
import type { FmidbCountersReport, FmidbReadout } from './agent-worker-protocol.js';

/** What the replica tells its operator: its read-view changes (with its counters then), or that it opened. */
export type FmidbUpdate =
  | { readonly type: 'changes'; readonly changes: readonly FmidbChange[]; readonly counters: FmidbCountersReport }
  | { readonly type: 'opened'; readonly origins: number; readonly entries: number; readonly refused: readonly { readonly origin: string; readonly reason: string }[] };

/**
 * The operator's side of an FMIDB replica that runs elsewhere: in the agent, inside the
 * worker's NodeStack (AgentHost implements this over the worker protocol); in a test
 * or a tool without a worker, in this thread (InProcessFmidb). The farm's data
 * (src/farm/data/farm-data.ts) is written against this and nothing else, so it does not
 * know on which thread the replica runs.
 */
export interface FmidbLink {
  /** Opens the replica (once), loading the snapshot's origins first as if replicated. */
  openFmidb(options: FmidbOptions, snapshot: readonly SnapshotOrigin[]): void;
  /** One batch under one stamp; resolves with the stamp once the replica's changes were delivered, rejects with an FmidbError. */
  writeFmidb(writes: readonly FmidbWrite[]): Promise<number>;
  /** Departs nodes membership never showed (restored from a snapshot and never back). */
  departFmidb(ids: readonly string[]): void;
  /** The digest, origin count and counters; the origins too when exportOrigins (for the snapshot). */
  readFmidb(exportOrigins: boolean): Promise<FmidbReadout>;
  /** Every update, in order; returns the unsubscribe. */
  onFmidb(listener: (update: FmidbUpdate) => void): () => void;
}
