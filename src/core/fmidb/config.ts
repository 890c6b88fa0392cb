/**
 * Configuration of an FMIDB replica. Every field says its unit, what it bounds and the
 * trade-off; `FmidbOptions` is what callers pass (all optional), `FmidbConfig` the
 * filled, validated, frozen result. All replicas of a farm should share the limits
 * (keys, bytes): a replica drops what exceeds its own, which would keep it from
 * converging with a laxer one.
 */
export interface FmidbConfig {
  /**
   * Distinct keys one node (subject) may hold, over all writers. A local write past it
   * fails with FMIDB_KEYS_PER_NODE_EXCEEDED. Replicated entries get twice the room,
   * since two writers may each add a key concurrently, each within the limit; past
   * that they are dropped and counted (entriesRefused).
   */
  keysPerNodeMax: number;
  /** Bytes of a key in UTF-8, 1 to 255 (one length byte on the wire). */
  keyBytesMax: number;
  /** Bytes of a string value in UTF-8 (numbers take 8, null nothing). */
  valueBytesMax: number;
  /** Bytes of a node id (a subject or an origin) in UTF-8, 1 to 255. */
  idBytesMax: number;
  /**
   * Origins (writers) the replica can track: every node that ever posted a value, plus
   * the administrators' nodes. Fixes the size of the registry and version column in
   * shared memory (about 40 bytes an origin) and of a full digest (up to 15 bytes an
   * origin, sent in one stream frame).
   */
  originsMax: number;
  /**
   * The send budget, bytes per second (payload of every datagram and frame this
   * replica sends). A token bucket refilled at this rate: a message leaves while the
   * bucket is positive and takes its size, so over any window W the replica sends at
   * most budgetBurstBytes + budgetBytesPerSecond * W plus one message. What does not
   * fit waits in bounded queues that hold only the newest version of each origin (see
   * send-queues.ts), so newer values replace older ones while updates outrun the budget.
   */
  budgetBytesPerSecond: number;
  /** Tokens the bucket holds at most, bytes: the burst allowed after a quiet spell. */
  budgetBurstBytes: number;
  /**
   * Largest datagram payload, bytes. 1,100 leaves room under a 1,280-byte IPv6 minimum
   * MTU for IP and UDP headers and the agent's envelope (keyring seal, framing).
   */
  datagramBytesMax: number;
  /**
   * Largest stream frame, bytes. A full digest goes in one frame, so it must hold
   * originsMax entries (checked below); catch-up deltas are cut into frames of this size.
   */
  streamFrameBytesMax: number;
  /**
   * Deltas for more than this many entries queued for one peer go over a stream
   * instead of datagrams (a big catch-up: a joining node, a healed partition).
   */
  streamCatchUpThresholdEntries: number;
  /**
   * Time between gossip rounds, ms. Each round sends the versions this replica learned
   * since its last round (its announcements) to gossipFanout random peers, who pull
   * what they lack. One hop of the epidemic takes about half of this plus three one-way
   * latencies, and an update needs about ln(N)/ln(gossipFanout) + 2 hops, so at 200 ms a
   * 10,000-node farm hears of an update in well under a second (bench/results/fmidb.json).
   */
  gossipIntervalMs: number;
  /**
   * Peers each new version is announced to. Every replica that gets a version announces
   * it once to this many peers (infect and die), so each replica hears of each version
   * about gossipFanout times and a fraction of about e^-gossipFanout never does (0.25% at
   * 6): those get it from the origin's next version or the periodic full sync. Each
   * announcement costs about 8 bytes, against about 120 for a node's batch of five
   * values, so every step of the fanout adds about 7% to the traffic; 5 leaves 0.7%
   * behind, too close to the 1% that the 99%-within-5-s target allows.
   */
  gossipFanout: number;
  /** Datagrams of announcements one round may send to one peer; the rest wait a round. */
  digestDatagramsPerRoundMax: number;
  /**
   * A round with fewer announcements than this waits (up to announceDelayMsMax) for
   * more, saving the 18-byte header sent to every fanout peer when a round holds one or
   * two. 1 by default: no round waits. The wait is paid at every hop of the epidemic
   * (a relay's round is as small as the origin's in a quiet farm), so at 16 a lone write
   * took 2.3 s to reach 99% of a quiet 200-node stack farm and 4.5 s of 1,000 under 5%
   * loss (bench:scale-stack), against about 0.5 s without it. What it saved: at 100
   * nodes under the measurement load (bench:fmidb) 1.82x the minimum traffic against
   * 2.12x without; at 1,000 nodes rounds fill anyway (1.64x and 1.65x).
   */
  announceBatchMin: number;
  /** How long an announcement may wait for a fuller round, ms (adds to each hop in small farms). */
  announceDelayMsMax: number;
  /**
   * Mean time between full syncs, ms: a full digest over a stream to one random peer,
   * who sends back what this replica lacks and asks for what it lacks itself. It
   * repairs what the epidemic missed and merges the sides of a healed partition. Each
   * sync costs about 8 bytes an origin each way, so 30 s keeps it about 2% of the update
   * traffic at any farm size. 0 disables periodic syncs (joins still sync).
   */
  syncIntervalMs: number;
  /**
   * A pull for an origin not answered within this long, ms, is sent again to another
   * peer that announced the same version (pending-pulls.ts); until then further
   * announcements of that version are not pulled, which keeps duplicate deltas rare.
   * Well above a LAN round trip plus the sender's queueing; lower retries sooner after a loss.
   * 150 by default (was 500): under 5% loss about one pull in ten is lost (the pull or
   * its answer), and at 500 ms each such retry alone put a node past a 1-s target; on a
   * quiet 200-node stack farm at 5% loss, 99% of nodes held a write in 0.46-0.78 s for 8
   * of 10 writes at 150 against 0.94-4.1 s (two writes never) at 500 (bench:scale-stack).
   * Too low only costs duplicate deltas when a sender's budget queues its answers.
   */
  requestTimeoutMs: number;
  /** Announcements waiting for a round, at most; the oldest go when it is full (counted). */
  announceQueueLengthMax: number;
  /** Peers with queued deltas or pulls, at most; the longest-waiting queue goes when full. */
  sendQueuePeersMax: number;
  /** Origins queued for one peer, at most; the oldest go when full (counted). */
  sendQueueOriginsMax: number;
  /** Pulls awaiting an answer that are remembered, at most (see requestTimeoutMs). */
  requestsPendingMax: number;
  /** Messages the outbox holds before drainOutbox; producing stops there. */
  outboxLengthMax: number;
  /** A departed node's record is hidden at once and removed (reaped) this long after, ms. */
  tombstoneReapMs: number;
  /**
   * A reaped node's id is remembered this long, ms, so that replicas that have not
   * reaped it yet cannot bring its record back; it should exceed the time membership
   * takes to tell every node of a departure.
   */
  reapedRememberMs: number;
  /** Departed and reaped nodes remembered at most. */
  tombstonesMax: number;
  /**
   * Changes kept for drainChanges, one per (subject, key), at most. Past it the oldest
   * are dropped and counted (changesDropped): the consumer should then re-read the
   * records it cares about.
   */
  changesQueueLengthMax: number;
  /** Writes in one setMany; their encoded size must also fit in one stream frame. */
  batchEntriesMax: number;
}

export type FmidbOptions = Partial<FmidbConfig>;

/** For a data-center LAN; the benchmark and tests derive their settings from these. */
export const kFmidbDefaults: FmidbConfig = Object.freeze({
  keysPerNodeMax: 256,
  keyBytesMax: 64,
  valueBytesMax: 512,
  idBytesMax: 64,
  originsMax: 16384,
  budgetBytesPerSecond: 1024 * 1024,
  budgetBurstBytes: 256 * 1024,
  datagramBytesMax: 1100,
  streamFrameBytesMax: 256 * 1024,
  streamCatchUpThresholdEntries: 256,
  gossipIntervalMs: 200,
  gossipFanout: 6,
  digestDatagramsPerRoundMax: 16,
  announceBatchMin: 1,
  announceDelayMsMax: 500,
  syncIntervalMs: 30_000,
  requestTimeoutMs: 150,
  announceQueueLengthMax: 16384,
  sendQueuePeersMax: 256,
  sendQueueOriginsMax: 16384,
  requestsPendingMax: 16384,
  outboxLengthMax: 1024,
  tombstoneReapMs: 300_000,
  reapedRememberMs: 3_600_000,
  tombstonesMax: 16384,
  changesQueueLengthMax: 65536,
  batchEntriesMax: 256,
});

/** Bytes a full digest needs at most: its header plus the largest entry (6 + 9) per origin. */
export function fullDigestBytesMax(originsMax: number): number {
  return kMessageHeaderBytesMax + originsMax * kDigestEntryBytesMax;
}

/** The largest message header (8 bytes) plus a digest body header (10 bytes). */
const kMessageHeaderBytesMax = 18;
const kDigestEntryBytesMax = 15;

/** Merges options over the defaults and checks every field; throws a RangeError naming the first bad one. */
export function resolveFmidbConfig(options: FmidbOptions = {}): FmidbConfig {
  const c: FmidbConfig = { ...kFmidbDefaults, ...withoutUndefined(options) };
  integer('keysPerNodeMax', c.keysPerNodeMax, 1, 1 << 20);
  integer('keyBytesMax', c.keyBytesMax, 1, 255);
  integer('valueBytesMax', c.valueBytesMax, 0, 1 << 20);
  integer('idBytesMax', c.idBytesMax, 1, 255);
  integer('originsMax', c.originsMax, 2, 65535); // a digest's count is a u16
  positive('budgetBytesPerSecond', c.budgetBytesPerSecond);
  positive('budgetBurstBytes', c.budgetBurstBytes);
  integer('datagramBytesMax', c.datagramBytesMax, 256, 65507);
  integer('streamFrameBytesMax', c.streamFrameBytesMax, c.datagramBytesMax, 1 << 28);
  if (c.streamFrameBytesMax < fullDigestBytesMax(c.originsMax)) {
    throw new RangeError(`options.streamFrameBytesMax must hold a full digest of originsMax (${c.originsMax}) origins, ${fullDigestBytesMax(c.originsMax)} bytes, got ${c.streamFrameBytesMax}`);
  }
  if (c.streamFrameBytesMax < c.valueBytesMax + 2 * 255 + 64) {
    throw new RangeError(`options.streamFrameBytesMax must hold one entry of valueBytesMax (${c.valueBytesMax}) bytes, got ${c.streamFrameBytesMax}`);
  }
  integer('streamCatchUpThresholdEntries', c.streamCatchUpThresholdEntries, 1, 1 << 24);
  positive('gossipIntervalMs', c.gossipIntervalMs);
  integer('gossipFanout', c.gossipFanout, 1, 64);
  integer('digestDatagramsPerRoundMax', c.digestDatagramsPerRoundMax, 1, 1024);
  integer('announceBatchMin', c.announceBatchMin, 1, 1 << 16);
  if (!(c.announceDelayMsMax >= 0) || !Number.isFinite(c.announceDelayMsMax)) throw new RangeError(`options.announceDelayMsMax must be a finite number >= 0, got ${String(c.announceDelayMsMax)}`);
  if (!(c.syncIntervalMs >= 0) || !Number.isFinite(c.syncIntervalMs)) throw new RangeError(`options.syncIntervalMs must be a finite number >= 0, got ${String(c.syncIntervalMs)}`);
  positive('requestTimeoutMs', c.requestTimeoutMs);
  integer('announceQueueLengthMax', c.announceQueueLengthMax, 1, 1 << 24);
  integer('sendQueuePeersMax', c.sendQueuePeersMax, 1, 1 << 20);
  integer('sendQueueOriginsMax', c.sendQueueOriginsMax, 1, 1 << 24);
  integer('requestsPendingMax', c.requestsPendingMax, 1, 1 << 24);
  integer('outboxLengthMax', c.outboxLengthMax, 1, 1 << 20);
  positive('tombstoneReapMs', c.tombstoneReapMs);
  positive('reapedRememberMs', c.reapedRememberMs);
  integer('tombstonesMax', c.tombstonesMax, 1, 1 << 24);
  integer('changesQueueLengthMax', c.changesQueueLengthMax, 1, 1 << 24);
  integer('batchEntriesMax', c.batchEntriesMax, 1, 1 << 16);
  return Object.freeze(c);
}

function integer(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`options.${name} must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
}

function positive(name: string, value: number): void {
  if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) {
    throw new RangeError(`options.${name} must be a finite number > 0, got ${String(value)}`);
  }
}

function withoutUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
