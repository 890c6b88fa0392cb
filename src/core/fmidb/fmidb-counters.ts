/** A replica's counters, exported as metrics and read by the tests and the benchmark. */
export class FmidbCounters {
  datagramsSent = 0;
  datagramBytesSent = 0;
  framesSent = 0;
  frameBytesSent = 0;
  /** The largest message sent, bytes (the overdraft the send budget allows, see token-bucket.ts). */
  largestMessageBytes = 0;
  messagesReceived = 0;
  bytesReceived = 0;
  /** Messages dropped as malformed: bad header, length, checksum or body. */
  malformed = 0;
  /** Of those, the ones whose checksum did not match. */
  checksumFailures = 0;
  /** Bytes of announcements (round digests), full syncs, pulls and deltas sent. */
  digestBytesSent = 0;
  fullSyncBytesSent = 0;
  requestBytesSent = 0;
  deltaBytesSent = 0;
  digestsSent = 0;
  announcementsSent = 0;
  fullSyncsSent = 0;
  requestsSent = 0;
  pullsSent = 0;
  /** Pulls not sent because the same version was already asked for (requestTimeoutMs). */
  pullsSuppressed = 0;
  /** Pulls sent again to another announcer after the first went unanswered. */
  pullsRetried = 0;
  deltasSent = 0;
  groupsSent = 0;
  entriesSent = 0;
  groupsApplied = 0;
  entriesApplied = 0;
  /** Groups that brought nothing new (a duplicate or late delta). */
  groupsStale = 0;
  /** Groups that started past what this replica holds (an earlier delta was lost). */
  groupsGapped = 0;
  /** Groups naming an origin by fingerprint only that this replica does not know. */
  groupsUnknownOrigin = 0;
  /** Entries or groups about reaped nodes, ignored. */
  groupsReaped = 0;
  /** Replicated entries past 2 x keysPerNodeMax for their subject, or past the key or value limits. */
  entriesRefused = 0;
  /** Origins not tracked: the registry was full. */
  originsRefused = 0;
  /** Origins not tracked: another id has the same 48-bit fingerprint. */
  fingerprintCollisions = 0;
  /** Compare records beyond the kernel's output buffer. */
  compareOverflow = 0;
  /** Gossip rounds skipped because the send budget was spent. */
  roundsSkippedBudget = 0;
  announceDropped = 0;
  sendQueueDropped = 0;
  changesDropped = 0;
  tombstonesReaped = 0;
  /** Own writes stamped again after this replica learned of its earlier life (see fmidb-replica.ts). */
  restamps = 0;
  /** Entries of this node's own origin, written by an earlier life, merged back from a peer (see fmidb-replica.ts). */
  ownBackfilled = 0;
}
