/**
 * The record formats on the two rings between the main thread and the gossip worker
 * (workers/gossip-worker.ts). Both sides import these offsets; nothing else crosses.
 *
 * Every record starts with a u8 kind (3 bytes padding) and a u32 local time in ms.
 *   to the worker:   kMerge     + datagram bytes from offset 8
 *                    kSweep     + f64 phiKSquared @8, f64 varianceMinMs2 @16,
 *                                 u32 samplesMin @24, u32 silenceMaxMs @28
 *                    kStop
 *   to the main thread: kMerged / kSwept: i32 kernel result @4 (replaces the time),
 *                    then (row, flags or kind) i32 pairs from offset 8
 */
export const kRecordKindMerge = 1;
export const kRecordKindSweep = 2;
export const kRecordKindStop = 3;
export const kRecordKindMerged = 11;
export const kRecordKindSwept = 12;

export const kRecordHeaderBytes = 8;
export const kSweepRecordBytes = 32;

/** What the main thread hands the worker at start (workerData). */
export interface GossipWorkerData {
  memory: WebAssembly.Memory;
  /** The compiled kernels, or null to run the TypeScript ones. */
  module: WebAssembly.Module | null;
  tableBase: number;
  inboundRing: number;
  outboundRing: number;
  /** A kernel output buffer for the worker's own use. */
  out: number;
  outCapacity: number;
  /** Largest datagram or frame the worker accepts. */
  limit: number;
}
