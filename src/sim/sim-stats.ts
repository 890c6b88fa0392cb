/**
 * Per-node traffic counters, kept in one Float64Array of kStatFieldCount cells per node
 * (a float counts bytes exactly up to 2^53). The named indexes below are the layout.
 *
 * Every datagram copy has exactly one fate, and drops are charged to the SENDER:
 *   datagramsSent + datagramsDuplicated = datagrams received by anyone + drops* + in flight.
 * For frames: framesSent = frames received by anyone + framesFailed + in flight.
 */
export const kStatDatagramsSent = 0;
export const kStatDatagramBytesSent = 1;
export const kStatDatagramsReceived = 2;
export const kStatDatagramBytesReceived = 3;
/** Extra copies the network made of this node's datagrams. */
export const kStatDatagramsDuplicated = 4;
/** This node's datagrams that were given an extra reordering delay. */
export const kStatDatagramsReordered = 5;
export const kStatFramesSent = 6;
export const kStatFrameBytesSent = 7;
export const kStatFramesReceived = 8;
export const kStatFrameBytesReceived = 9;
/** This node's frames that were not delivered (streamFailed is then due to it). */
export const kStatFramesFailed = 10;
export const kStatDropsLoss = 11;
export const kStatDropsPartition = 12;
export const kStatDropsPausedOverflow = 13;
/** Lost to a downed host, a dead process, or an address no node has. */
export const kStatDropsDead = 14;
export const kStatUnreachablesReceived = 15;
export const kStatTicks = 16;
export const kStatFieldCount = 17;

export interface SimNodeStats {
  datagramsSent: number;
  datagramBytesSent: number;
  datagramsReceived: number;
  datagramBytesReceived: number;
  datagramsDuplicated: number;
  datagramsReordered: number;
  framesSent: number;
  frameBytesSent: number;
  framesReceived: number;
  frameBytesReceived: number;
  framesFailed: number;
  dropsLoss: number;
  dropsPartition: number;
  dropsPausedOverflow: number;
  dropsDead: number;
  unreachablesReceived: number;
  ticks: number;
}

export interface SimStatsSummary {
  simTimeMs: number;
  /** Events the simulator has dispatched so far (ticks, deliveries, failures, resumes). */
  eventsProcessed: number;
  /** Events waiting in the queue now. */
  eventsQueued: number;
  nodes: number;
  processesAlive: number;
  hostsUp: number;
  /** Every node's counters summed. */
  totals: SimNodeStats;
}

/** Reads node `index`'s counters out of the flat array (or sums all nodes when index is -1). */
export function readNodeStats(cells: Float64Array, index: number, nodeCount: number): SimNodeStats {
  const sum = new Float64Array(kStatFieldCount);
  const from = index < 0 ? 0 : index;
  const to = index < 0 ? nodeCount : index + 1;
  for (let node = from; node < to; node++) {
    const base = node * kStatFieldCount;
    for (let field = 0; field < kStatFieldCount; field++) sum[field]! += cells[base + field]!;
  }
  return {
    datagramsSent: sum[kStatDatagramsSent]!,
    datagramBytesSent: sum[kStatDatagramBytesSent]!,
    datagramsReceived: sum[kStatDatagramsReceived]!,
    datagramBytesReceived: sum[kStatDatagramBytesReceived]!,
    datagramsDuplicated: sum[kStatDatagramsDuplicated]!,
    datagramsReordered: sum[kStatDatagramsReordered]!,
    framesSent: sum[kStatFramesSent]!,
    frameBytesSent: sum[kStatFrameBytesSent]!,
    framesReceived: sum[kStatFramesReceived]!,
    frameBytesReceived: sum[kStatFrameBytesReceived]!,
    framesFailed: sum[kStatFramesFailed]!,
    dropsLoss: sum[kStatDropsLoss]!,
    dropsPartition: sum[kStatDropsPartition]!,
    dropsPausedOverflow: sum[kStatDropsPausedOverflow]!,
    dropsDead: sum[kStatDropsDead]!,
    unreachablesReceived: sum[kStatUnreachablesReceived]!,
    ticks: sum[kStatTicks]!,
  };
}
