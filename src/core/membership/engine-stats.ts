import { WireCounters } from '../wire/wire-counters.js';

/** Counters exported as metrics and read by the simulator and benchmarks. */
export class EngineStats {
  datagramsSent = 0;
  bytesSent = 0;
  framesSent = 0;
  frameBytesSent = 0;
  datagramsReceived = 0;
  bytesReceived = 0;
  probes = 0;
  probesFailed = 0;
  indirectProbes = 0;
  suspicionsRaised = 0;
  /** Independent confirmations of a suspicion already held (each shortens its timer). */
  suspicionConfirmations = 0;
  /** Accusations sent straight to a suspect that showed it had not heard of its suspicion (MemberState.tellSuspect). */
  suspectsTold = 0;
  /** ALIVEs sent straight to the sender of an accusation older than the incarnation held (MemberState.answerStale). */
  staleAccusationsAnswered = 0;
  refutations = 0;
  deathsDeclared = 0;
  unreachableReports = 0;
  /** Watch beats sent to ring successors (Watcher). */
  watchBeatsSent = 0;
  /** Received heartbeat-only datagrams that repeated one already merged, so were not decoded again (BeatMemo). */
  beatRepeatsSkipped = 0;
  /** Failure-detector sweeps over the whole table (the kernel), and incremental ones (SweepSchedule). */
  fullSweeps = 0;
  incrementalSweeps = 0;
  /** Rows the incremental sweeps checked (the full ones visit every row). */
  sweepRowsChecked = 0;
  /** Datagrams sent to relay a death this node declared directly to a member. */
  deathRelays = 0;
  streamFailures = 0;
  userDelivered = 0;
  readonly wire = new WireCounters();
}
