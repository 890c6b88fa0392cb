import type { Runtime } from '../runtime/runtime.js';
import type { Prng } from '../util/prng.js';
import { AnnounceQueue } from './announce-queue.js';
import { resolveFmidbConfig, type FmidbConfig, type FmidbOptions } from './config.js';
import { beginDelta, encodeGroupBody, endDelta, entryBytes, fitsBase, groupHeadBytes, parseDelta, readEntries, writeGroupHead, type DeltaGroup } from './delta-codec.js';
import { type EntryView, type FmidbChange, type FmidbValue, type FmidbWrite, type StoredEntry } from './entry.js';
import { EntryStore } from './entry-store.js';
import { FmidbCounters } from './fmidb-counters.js';
import { FmidbError } from './fmidb-error.js';
import { FmidbMemory } from './fmidb-memory.js';
import { fingerprintKey, fingerprintOf } from './fingerprint.js';
import { HistoryStore, type SharedHistory } from './history-store.js';
import { HybridClock } from './hybrid-clock.js';
import * as L from './layout.js';
import { kFingerprintCollision, OriginRegistry } from './origin-registry.js';
import { PendingPulls, type PendingPull } from './pending-pulls.js';
import type { ReplicaStore } from './replica-store.js';
import { SendQueues, type PeerQueue, type PullItem } from './send-queues.js';
import { TokenBucket } from './token-bucket.js';
import { utf8Length } from './utf8-cache.js';
import { varintBytes } from './varint.js';
import * as W from './wire-format.js';

export interface FmidbReplicaOptions {
  /** This node's id: the origin of its writes and the subject of its dynamic values. */
  selfId: string;
  config?: FmidbOptions;
  /** This replica's own seeded generator (peer choice, timer jitter). */
  random: Prng;
  /** Monotonic local time, ms: timers and the send budget. */
  nowMs: () => number;
  /**
   * Wall-clock time, ms since the epoch, for the stamps that order writes of the same key
   * from different nodes (last writer wins). Defaults to nowMs; the agent passes Date.now.
   */
  wallClockMs?: () => number;
  /**
   * Shared memory and kernels (createFmidbRuntime sizes one; the agent may pass its own,
   * with room for about 2.5 MB at the default limits). Give this or `memory`.
   */
  runtime?: Runtime;
  /** Scratch shared by many replicas on one thread (the simulator); overrides runtime. */
  memory?: FmidbMemory;
  /** Simulator only: keep no values, derive them from this shared history (replica-store.ts). */
  history?: SharedHistory;
  /** Simulator only: told of every version this replica reaches. */
  observer?: FmidbObserver;
  /**
   * Tests only: false gives the replica without the own-origin back-fill of a restarted
   * node (see FmidbReplica.ownBackfilledTo), the broken variant that
   * test/fmidb-restart.test.ts shows losing an earlier life's writes. Default true.
   */
  ownBackfill?: boolean;
}

/** A message for the driver to send: over a stream (TCP) when `stream`, else as one datagram. */
export interface FmidbOutgoing {
  readonly to: string;
  /**
   * The caller's to keep, unless the replica's FmidbMemory reuses its output (the
   * simulator): then valid only until the next call into a replica of that memory.
   * Shared between the copies of one round's digest: do not modify.
   */
  readonly bytes: Uint8Array;
  readonly stream: boolean;
}

/** A hook for the simulator's measurements; it must not call back into the replica. */
export interface FmidbObserver {
  /** `replica` now holds origin `row` (its registry row) up to `toVersion`, from `fromVersion` (-1: nothing). */
  versionAdvanced(replica: string, row: number, fromVersion: number, toVersion: number): void;
}

/** Groups in one DELTA at most: its count is a u16. */
const kGroupsPerMessageMax = 65535;
/** Pulls of one version at most: the first and two retries to peers that also announced it. */
const kPullAttemptsMax = 3;
/** Peers a join or a membership change queues for a full sync at most. */
const kSyncTargetsMax = 4;
/** A digest entry's fingerprint bytes; its varint follows. */
const kFingerprintBytes = 6;
/** Message header plus digest body header. */
const kDigestHeaderBytes = W.kMessageHeaderBytes + L.kDigestBodyHeaderBytes;

/**
 * One node's replica of the Farm Management Information Database: for every node
 * (subject), versioned key/values written by origins (the node itself for its dynamic
 * values, any node for static attributes). A pure state machine in the manner of
 * etcd's raft: it reads no clock but nowMs/wallClockMs, no randomness but `random`, and
 * does no I/O; the driver feeds it tick() and receive() and sends what drainOutbox()
 * returns (the agent over UDP and TCP, the simulator over its network).
 *
 * Replication is Scuttlebutt's anti-entropy per origin, with epidemic announcements:
 *  - An origin's version is the hybrid-clock stamp of its latest write; a replica holds
 *    each origin up to some version, and the version column (shared memory) is what the
 *    digest-compare kernel reads.
 *  - Announce: every gossipIntervalMs a replica sends the versions it learned since its
 *    last round (DIGEST) to gossipFanout random peers. A peer that is behind pulls
 *    (REQUEST: "I hold v"), one that is ahead pushes; the answer is a DELTA holding the
 *    origin's entries past v, oldest first. Each replica announces each version it gets
 *    once, so news spreads as an infect-and-die epidemic and each replica hears of a
 *    version about gossipFanout times, but fetches it about once (pending-pulls.ts).
 *  - Repair: every syncIntervalMs (and on joining or meeting new peers) a full digest
 *    goes over a stream to one peer, who sends what is missing either way.
 *  - Flow control: every message takes its size from a token bucket (the send budget);
 *    deltas wait in per-peer queues that name origins, not bytes, so what leaves is
 *    always the newest (send-queues.ts). Every queue and map has a bound in the config.
 *  - Conflicts: reads take, per (subject, key), the entry with the highest (stamp,
 *    origin id); a replica never replaces a value by an older one.
 *  - Departures: nodeDeparted hides a node's record at once (a tombstone) and reaps it
 *    after tombstoneReapMs; reaped ids are remembered so stale peers cannot revive them.
 */
export class FmidbReplica {
  readonly selfId: string;
  readonly config: FmidbConfig;
  readonly counters = new FmidbCounters();
  private readonly memory: FmidbMemory;
  private readonly runtime: Runtime;
  private readonly registry: OriginRegistry;
  private readonly versionsPointer: number;
  private readonly versionsIndex: number;
  private readonly f64: Float64Array;
  private readonly store: ReplicaStore;
  private readonly entries: EntryStore | null;
  private readonly clock = new HybridClock();
  private readonly bucket: TokenBucket;
  private readonly announce: AnnounceQueue;
  private readonly queues: SendQueues;
  private readonly pulls: PendingPulls;
  private readonly random: Prng;
  private readonly nowMsSource: () => number;
  private readonly wallClockMsSource: () => number;
  private readonly observer: FmidbObserver | undefined;
  private readonly selfRow: number;
  private peers: readonly string[] = [];
  private peersKnown = false;
  private originsHeldCount = 0;
  /** Departed node id -> when it departed (local ms). */
  private readonly departed = new Map<string, number>();
  /** Reaped node id -> when (entries about it are ignored). */
  private readonly reapedSubjects = new Map<string, number>();
  /** Reaped origin fingerprint key -> when (its groups are ignored). */
  private readonly reapedOrigins = new Map<number, number>();
  private readonly changes = new Map<string, FmidbChange>();
  private outbox: FmidbOutgoing[] = [];
  private readonly syncTargets: string[] = [];
  private nextRoundAtMs: number;
  private nextSyncAtMs: number;
  private readonly groups: DeltaGroup[] = [];
  /** Bumped when this replica's entries may differ from what their versions say (a reap, a refused entry). */
  private contentGeneration = 0;
  private readonly scratch: EntryView[] = [];
  /**
   * Own-origin back-fill after a restart. A node restarts with the same id and an empty
   * (or older, a snapshot's) replica while its peers still hold writes of its earlier
   * life. Its first write of this life (stamp ownFirstStamp) sets its own version to
   * that stamp, which in the version model claims every write of its origin up to it:
   * peers would see it ahead and never send the earlier life's writes below that stamp,
   * lost here for good. So from that first write, ownBackfilledTo keeps the version up to
   * which this replica really holds its own origin without a gap (what it held before
   * the write), and until ownSynced the replica tells peers that version instead in what
   * states its holdings: the full sync digest and its pulls. A peer then answers with
   * every entry of this origin it holds past it; the group merges per (subject, key), the
   * newer entry winning (this life's writes stay where they are newer, the rest come
   * back), and moves ownBackfilledTo up (a prefix cut by the frame size is followed by the
   * rest, which merges on). Announcements (round) keep the true version, so that peers
   * still pull this life's writes. ownSynced is set once a peer's answer merged, or a full
   * digest from a peer shows it holds this origin no further than ownBackfilledTo (it has
   * nothing to give back; a new node's peers hold nothing of it): one sync, not one per
   * peer, so a write of the earlier life that reached only some peers before the crash
   * comes back only if the first peer to answer holds it. Before the first write of a
   * life the version column is true and nothing of this applies. null: no write yet.
   * The digest-compare kernels (Wasm and TS) are untouched: only what this replica sends
   * and how it applies its own origin's groups change.
   */
  private ownBackfilledTo: number | null = null;
  private ownFirstStamp = Infinity;
  private ownSynced = false;
  private readonly ownBackfill: boolean;

  constructor(options: FmidbReplicaOptions) {
    this.config = resolveFmidbConfig(options.config);
    this.selfId = checkId(options.selfId, this.config.idBytesMax, 'FMIDB_SUBJECT_INVALID', 'selfId');
    this.random = options.random;
    this.nowMsSource = options.nowMs;
    this.wallClockMsSource = options.wallClockMs ?? options.nowMs;
    this.observer = options.observer;
    this.ownBackfill = options.ownBackfill ?? true;
    if (options.memory === undefined && options.runtime === undefined) throw new RangeError('options.runtime or options.memory is required (see createFmidbRuntime)');
    this.memory = options.memory ?? new FmidbMemory(options.runtime!, this.config);
    if (this.memory.frameBytesMax < this.config.streamFrameBytesMax) {
      throw new RangeError(`the shared FmidbMemory holds frames of ${this.memory.frameBytesMax} bytes, less than streamFrameBytesMax (${this.config.streamFrameBytesMax})`);
    }
    this.runtime = this.memory.runtime;
    this.registry = this.memory.registry ?? OriginRegistry.create(this.runtime, this.config.originsMax);
    if (this.registry.capacity > this.config.originsMax) {
      throw new RangeError(`the shared registry holds ${this.registry.capacity} origins, more than originsMax (${this.config.originsMax}): a full digest would not fit a frame`);
    }
    this.versionsPointer = this.runtime.allocate(8 * this.registry.capacity, 8);
    this.versionsIndex = this.versionsPointer >>> 3;
    this.f64 = this.runtime.views.f64;
    this.f64.fill(-1, this.versionsIndex, this.versionsIndex + this.registry.capacity);
    if (options.history !== undefined) {
      this.store = new HistoryStore(options.history);
      this.entries = null;
    } else {
      this.entries = new EntryStore((subject, key, before, after) => this.winnerChanged(subject, key, before, after));
      this.store = this.entries;
    }
    const row = this.registry.insert(this.selfId);
    if (row < 0) throw new RangeError(`the origin registry has no row for this node (${row === kFingerprintCollision ? 'fingerprint collision' : 'full'})`);
    this.selfRow = row;
    const now = this.nowMsSource();
    this.bucket = new TokenBucket(this.config.budgetBytesPerSecond, this.config.budgetBurstBytes, now);
    this.announce = new AnnounceQueue(this.config.announceQueueLengthMax);
    this.queues = new SendQueues(this.config.sendQueuePeersMax, this.config.sendQueueOriginsMax);
    this.pulls = new PendingPulls(this.config.requestsPendingMax, kPullAttemptsMax);
    // Random phases, so that the replicas' rounds and syncs do not fall in step (and a
    // farm started at once syncs at the steady rate from the start).
    this.nextRoundAtMs = now + this.random.nextFloat() * this.config.gossipIntervalMs;
    this.nextSyncAtMs = now + this.config.syncIntervalMs * this.random.nextFloat();
  }

  // ---- Writes -----------------------------------------------------------------------

  /** Sets one key of a subject (this node's id for its own dynamic values); returns the write's stamp. */
  set(subject: string, key: string, value: FmidbValue): number {
    return this.setMany([{ subject, key, value }]);
  }

  /** Deletes one key; returns the stamp of the deletion. */
  delete(subject: string, key: string): number {
    return this.setMany([{ subject, key, value: null }]);
  }

  /**
   * Writes a batch under one stamp: it replicates as a unit (a peer gets all of it or
   * none). A later write of the same key in the batch wins. Throws FmidbError when a
   * write breaks a limit, and then writes nothing. Returns the stamp (-1 for an empty batch).
   */
  setMany(writes: readonly FmidbWrite[]): number {
    if (!Array.isArray(writes)) throw new FmidbError('FMIDB_VALUE_INVALID', 'setMany takes an array of writes');
    if (writes.length === 0) return -1;
    if (writes.length > this.config.batchEntriesMax) {
      throw new FmidbError('FMIDB_BATCH_TOO_LARGE', `${writes.length} writes in one batch, more than batchEntriesMax (${this.config.batchEntriesMax})`);
    }
    const batch = this.validated(writes);
    this.checkKeyLimit(batch);
    this.checkBatchBytes(batch);
    return this.writeOwn(batch);
  }

  /**
   * Set-up for simulations and tests: this replica holds `origin` up to `version` with
   * these entries, as if they had been replicated, and announces nothing (a farm started
   * in its steady state). With a history store the entries must be in the history already.
   */
  prepopulate(origin: string, version: number, entries: readonly EntryView[]): void {
    const row = this.registry.insert(origin);
    if (row < 0) throw new RangeError(`prepopulate: no registry row for "${origin}"`);
    const ours = this.f64[this.versionsIndex + row]!;
    if (!(version > ours)) return;
    this.store.apply(row, origin, entries);
    this.f64[this.versionsIndex + row] = version;
    if (ours < 0) this.originsHeldCount++;
    this.clock.observe(version);
  }

  /**
   * Everything this replica holds, per origin: the version and the origin's live entries
   * (departed subjects left out), for a snapshot on disk that prepopulate() loads back
   * after a restart of the whole farm, when no peer holds the data any more.
   */
  exportOrigins(): Array<{ origin: string; version: number; entries: EntryView[] }> {
    const entries = this.requireEntries();
    const out: Array<{ origin: string; version: number; entries: EntryView[] }> = [];
    for (let row = 0; row < this.registry.rowCount; row++) {
      const version = this.f64[this.versionsIndex + row]!;
      const origin = this.registry.idOf(row);
      if (!(version >= 0) || origin === undefined) continue;
      const collected: EntryView[] = [];
      entries.collect(row, -1, version, collected);
      out.push({ origin, version, entries: collected.filter((e) => !this.hidden(e.subject)).map((e) => ({ subject: e.subject, key: e.key, value: e.value, version: e.version })) });
    }
    return out;
  }

  // ---- Reads (local; never touch the network) ----------------------------------------

  /** The value of a subject's key, or undefined (absent, deleted, or the subject departed). */
  get(subject: string, key: string): string | number | undefined {
    const entries = this.requireEntries();
    if (this.hidden(subject)) return undefined;
    const value = entries.winner(subject, key)?.value;
    return value === null ? undefined : value;
  }

  /** Every current key/value of a subject, or undefined when it has none or departed. */
  node(subject: string): Record<string, string | number> | undefined {
    const entries = this.requireEntries();
    if (this.hidden(subject)) return undefined;
    const keys = entries.keysOf(subject);
    if (keys === undefined) return undefined;
    const record: Record<string, string | number> = {};
    let count = 0;
    for (const key of keys.keys()) {
      const value = entries.winner(subject, key)?.value;
      if (value === null || value === undefined) continue;
      record[key] = value;
      count++;
    }
    return count === 0 ? undefined : record;
  }

  /**
   * A subject's current entries with who wrote them and when (stamps are wall-clock ms,
   * see hybrid-clock.ts), sorted by key; empty when it has none or departed.
   */
  entriesOf(subject: string): Array<{ key: string; value: string | number; origin: string; stamp: number }> {
    const entries = this.requireEntries();
    if (this.hidden(subject)) return [];
    const keys = entries.keysOf(subject);
    if (keys === undefined) return [];
    const out: Array<{ key: string; value: string | number; origin: string; stamp: number }> = [];
    for (const key of keys.keys()) {
      const w = entries.winner(subject, key);
      if (w === undefined || w.value === null) continue;
      out.push({ key, value: w.value, origin: w.originId, stamp: w.version });
    }
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /** Subjects with at least one value, departed ones left out. */
  subjects(): string[] {
    const entries = this.requireEntries();
    const out: string[] = [];
    for (const subject of entries.subjectIds()) if (this.node(subject) !== undefined) out.push(subject);
    return out;
  }

  /** The version this replica holds of an origin's writes, or -1. */
  versionOf(origin: string): number {
    const row = this.registry.find(origin);
    return row < 0 ? -1 : this.f64[this.versionsIndex + row]!;
  }

  /** The version of this node's own origin that this life holds without a gap, while it is back-filling (see ownBackfilledTo); else null. */
  get ownBackfillVersion(): number | null {
    return this.backfilling() ? this.ownBackfilledTo : null;
  }

  /** Origins this replica holds something of. */
  get originsHeld(): number {
    return this.originsHeldCount;
  }

  /**
   * A hash of everything the replica holds: each origin's version and, when it keeps
   * values, every entry. Replicas that converged give the same string.
   */
  digestHash(): string {
    let a = 0;
    let b = 0;
    const u32 = this.runtime.views.u32;
    const r = this.registry.base >>> 2;
    const highs = (this.registry.base + u32[r + L.kRegistryFpHighOffsetField]!) >>> 2;
    const lows = (this.registry.base + u32[r + L.kRegistryFpLowOffsetField]!) >>> 2;
    const rows = this.registry.rowCount;
    for (let row = 0; row < rows; row++) {
      const v = this.f64[this.versionsIndex + row]!;
      if (v < 0) continue;
      const vh = Math.floor(v / 4294967296);
      const h = mix(mix(mix(0x9e3779b9, u32[highs + row]!), u32[lows + row]!), mix(vh, v >>> 0));
      a = (a + h) | 0;
      b = (b + mix(h, 0x85ebca6b)) | 0;
    }
    const versions = (a >>> 0).toString(16).padStart(8, '0') + (b >>> 0).toString(16).padStart(8, '0');
    return this.entries === null ? versions : versions + this.entries.contentHash();
  }

  /** What changed in the read view since the last call, one change per (subject, key). */
  drainChanges(): FmidbChange[] {
    const out = [...this.changes.values()];
    this.changes.clear();
    return out;
  }

  // ---- Membership ---------------------------------------------------------------------

  /**
   * The nodes that are alive (membership's view; this node may be among them). Gossip
   * goes to random ones; a node seen for the first time gets a full sync (a join, a
   * healed partition); a departed node that is back is restored. The array is kept, not
   * copied, when it is frozen (the simulator passes one array to every replica).
   */
  peersChanged(alive: readonly string[]): void {
    if (!Array.isArray(alive) || alive.some((id) => typeof id !== 'string')) throw new RangeError('peersChanged takes an array of node ids');
    const list = Object.isFrozen(alive) ? alive : Object.freeze(alive.slice());
    const newcomers: string[] = [];
    if (this.peersKnown) {
      const before = new Set(this.peers);
      for (const id of list) if (id !== this.selfId && !before.has(id)) newcomers.push(id);
    }
    if (this.departed.size + this.reapedSubjects.size > 0) {
      const now = new Set(list);
      for (const id of [...this.departed.keys(), ...this.reapedSubjects.keys()]) if (now.has(id)) this.returned(id);
    }
    this.peers = list;
    if (!this.peersKnown) {
      this.peersKnown = true;
      // A replica holding far fewer origins than there are peers is joining: catch up at once.
      if (this.originsHeldCount < list.length / 2) this.queueSync(this.pickPeers(1)[0]);
    } else if (newcomers.length > 0) {
      this.queueSync(newcomers[this.random.nextInt(newcomers.length)]);
    }
  }

  /**
   * Membership says `id` left or died: its record is hidden now (drainChanges reports
   * its keys removed) and reaped tombstoneReapMs after `nowMs`.
   */
  nodeDeparted(id: string, nowMs: number = this.nowMsSource()): void {
    checkId(id, 255, 'FMIDB_SUBJECT_INVALID', 'id');
    if (id === this.selfId || this.departed.has(id)) return;
    if (this.departed.size >= this.config.tombstonesMax) this.reap(this.departed.keys().next().value!, nowMs);
    this.departed.set(id, nowMs);
    this.queues.delete(id);
    const row = this.registry.find(id);
    if (row >= 0) this.announce.delete(row);
    if (this.entries === null) return;
    const keys = this.entries.keysOf(id);
    if (keys === undefined) return;
    for (const key of keys.keys()) {
      const w = this.entries.winner(id, key);
      if (w !== undefined && w.value !== null) this.recordChange({ subject: id, key, value: null, stamp: w.version, origin: w.originId, cause: 'departed' });
    }
  }

  // ---- Driving ------------------------------------------------------------------------

  /** Runs due timers: reaping, a gossip round, a full sync; then sends what the budget allows. */
  tick(): void {
    const now = this.nowMsSource();
    this.bucket.refill(now);
    this.pulls.expire(now, (key, p) => this.retryPull(key, p, now));
    this.reapDue(now);
    this.flush();
    if (now >= this.nextRoundAtMs) {
      this.round(now);
      this.nextRoundAtMs += this.config.gossipIntervalMs;
      if (this.nextRoundAtMs <= now) this.nextRoundAtMs = now + this.config.gossipIntervalMs;
    }
    if (this.syncTargets.length > 0) {
      if (this.bucket.open) this.sync(this.syncTargets.shift()!);
    } else if (this.config.syncIntervalMs > 0 && now >= this.nextSyncAtMs) {
      const peer = this.pickPeers(1)[0];
      if (peer !== undefined && this.bucket.open) this.sync(peer);
      this.nextSyncAtMs = now + this.config.syncIntervalMs * (0.5 + this.random.nextFloat());
    }
  }

  /**
   * Whether tick() has work waiting on its short period (gossipIntervalMs and the pulls'
   * timeouts): announcements to gossip, pulls pending, sends queued behind the budget,
   * syncs asked for. When false, the only timed work left is the periodic sync
   * (syncIntervalMs, randomized) and the reaps (tombstoneReapMs), which a driver may run
   * a second late: an idle agent need not wake every gossipIntervalMs for the FMIDB.
   */
  get busy(): boolean {
    return this.announce.length > 0 || this.pulls.length > 0 || this.queues.length > 0 || this.syncTargets.length > 0 || this.outbox.length > 0;
  }

  /**
   * A message from node `fromId` (over a stream when viaStream). Malformed input is
   * counted and dropped; nothing a peer sends makes this throw.
   */
  receive(fromId: string, bytes: Uint8Array, viaStream: boolean): void {
    const c = this.counters;
    c.messagesReceived++;
    if (typeof fromId !== 'string' || fromId.length === 0 || !(bytes instanceof Uint8Array)) {
      c.malformed++;
      return;
    }
    c.bytesReceived += bytes.length;
    this.bucket.refill(this.nowMsSource());
    const length = bytes.length;
    if (length < W.kMessageHeaderBytes || length > this.memory.frameBytesMax || bytes[0] !== W.kWireMagic || bytes[1] !== W.kWireVersion) {
      c.malformed++;
      return;
    }
    const views = this.runtime.views;
    const at = this.memory.receiveBuffer;
    views.u8.set(bytes, at);
    const sum = this.runtime.kernels.checksum(at + W.kMessageHeaderBytes, length - W.kMessageHeaderBytes) >>> 0;
    if (sum !== views.dv.getUint32(at + W.kChecksumOffset, true)) {
      c.malformed++;
      c.checksumFailures++;
      return;
    }
    const type = bytes[2]!;
    const flags = bytes[3]!;
    const stream = viaStream === true;
    let ok: boolean;
    if (type === W.kTypeDigest) ok = (flags & ~W.kDigestFlagFull) === 0 && this.onDigest(fromId, length, (flags & W.kDigestFlagFull) !== 0, stream);
    else if (type === W.kTypeRequest) ok = flags === 0 && this.onRequest(fromId, length, stream);
    else if (type === W.kTypeDelta) ok = flags === 0 && this.onDelta(bytes);
    else ok = false;
    if (!ok) c.malformed++;
    this.flush();
  }

  /** The messages to send, oldest first; the outbox is empty after (see FmidbOutgoing for their bytes). */
  drainOutbox(): FmidbOutgoing[] {
    const out = this.outbox;
    this.outbox = [];
    this.memory.writer.release();
    return out;
  }

  // ---- Receiving ----------------------------------------------------------------------

  private onDigest(from: string, length: number, full: boolean, stream: boolean): boolean {
    const n = this.compare(length, full ? L.kCompareFlagFull : 0);
    if (n < 0) return false;
    const v = this.runtime.views;
    const out = this.memory.compareOut;
    const count = v.i32[(out >>> 2) + L.kCompareOutCountField]!;
    const backfilling = this.backfilling();
    let ownPeer: number | null = null; // the peer's version of this node's origin, when the digest told it
    for (let i = 0; i < count; i++) {
      const at = out + L.kCompareOutHeaderBytes + i * L.kCompareRecordBytes;
      const kind = v.i32[(at + L.kRecordKindOffset) >>> 2]!;
      const row = v.i32[(at + L.kRecordRowOffset) >>> 2]!;
      const peer = v.f64[(at + L.kRecordPeerVersionOffset) >>> 3]!;
      if (backfilling && row === this.selfRow) {
        ownPeer = peer;
        if (kind !== L.kRecordWeLack) this.queueDelta(from, row, peer, stream);
        continue;
      }
      if (kind === L.kRecordWeLack) {
        const high = v.u32[(at + L.kRecordFpHighOffset) >>> 2]!;
        const low = v.u32[(at + L.kRecordFpLowOffset) >>> 2]!;
        this.pull(from, row, high, low, v.f64[(at + L.kRecordOurVersionOffset) >>> 3]!, peer, stream);
      } else {
        this.queueDelta(from, row, peer, stream);
      }
    }
    if (backfilling) {
      // Equal versions give no record: a full digest's seen column tells whether it listed this origin.
      if (ownPeer === null && full) ownPeer = this.registry.listedInLastFull(this.selfRow) ? this.f64[this.versionsIndex + this.selfRow]! : -1;
      if (ownPeer !== null && ownPeer > this.ownBackfilledTo!) {
        const fp = this.registry.fingerprintAt(this.selfRow);
        this.pull(from, this.selfRow, fp.high, fp.low, this.ownBackfilledTo!, ownPeer, stream);
      } else if (ownPeer !== null && full) {
        this.ownSynced = true; // the peer holds nothing of this origin that this life lacks
      }
    }
    return true;
  }

  /** Whether this life still states its own origin at ownBackfilledTo (see there). */
  private backfilling(): boolean {
    return this.ownBackfilledTo !== null && !this.ownSynced;
  }

  /** The version this replica states it holds of origin `row` in syncs and pulls. */
  private statedVersion(row: number): number {
    return row === this.selfRow && this.backfilling() ? this.ownBackfilledTo! : this.f64[this.versionsIndex + row]!;
  }

  /** A pull is a digest of what the peer holds: answer what it lacks; pull what it holds beyond us. */
  private onRequest(from: string, length: number, stream: boolean): boolean {
    return this.onDigest(from, length, false, stream);
  }

  private compare(length: number, flags: number): number {
    const m = this.memory;
    const n = this.runtime.kernels.fmidbCompareDigest(this.registry.base, this.versionsPointer, m.receiveBuffer + W.kMessageHeaderBytes, length - W.kMessageHeaderBytes, flags, m.compareOut, m.compareOutCapacity);
    if (n >= 0) this.counters.compareOverflow += this.runtime.views.i32[(m.compareOut >>> 2) + L.kCompareOutOverflowField]!;
    return n;
  }

  /** Asks `from` for an origin past `ours`, unless a pull of that version is under way. */
  private pull(from: string, row: number, high: number, low: number, ours: number, peer: number, stream: boolean): void {
    const key = fingerprintKey(high, low);
    if (this.reapedOrigins.has(key)) return;
    if (row >= 0) {
      const id = this.registry.idOf(row);
      if (id !== undefined && this.departed.has(id)) return;
    }
    const now = this.nowMsSource();
    if (this.pulls.covers(key, peer, now, from)) {
      this.counters.pullsSuppressed++;
      return;
    }
    this.pulls.add(key, high, low, peer, now + this.config.requestTimeoutMs, from);
    const item: PullItem = { high, low, version: ours };
    this.queues.queuePull(from, key, item, stream);
  }

  /** A pull went unanswered: ask the alternate, if the origin is still behind what was announced. */
  private retryPull(key: number, p: PendingPull, now: number): void {
    const row = this.registry.findFingerprint(p.high, p.low);
    const ours = row < 0 ? -1 : this.statedVersion(row);
    if (ours >= p.version || p.alternate === null) return;
    this.counters.pullsRetried++;
    this.pulls.add(key, p.high, p.low, p.version, now + this.config.requestTimeoutMs, p.alternate);
    this.queues.queuePull(p.alternate, key, { high: p.high, low: p.low, version: ours }, false);
  }

  /** Queues origin `row`'s entries past `peerVersion` for `peer`. */
  private queueDelta(peer: string, row: number, peerVersion: number, stream: boolean): void {
    if (row < 0) return;
    const ours = this.f64[this.versionsIndex + row]!;
    if (!(ours > peerVersion)) return;
    const id = this.registry.idOf(row);
    if (id === undefined || this.departed.has(id)) return;
    this.queues.queueDelta(peer, row, peerVersion, this.store.estimate(row, peerVersion), stream);
  }

  private onDelta(bytes: Uint8Array): boolean {
    const groups = this.groups;
    if (!parseDelta(bytes, groups, kGroupsPerMessageMax)) return false;
    // Decode every group's entries before applying any, so a bad string drops the whole message.
    const decoded: (EntryView[] | null)[] = [];
    for (const g of groups) {
      const originId = this.originIdOf(g);
      if (originId === undefined || this.entries === null) {
        decoded.push(null);
        continue;
      }
      const entries: EntryView[] = [];
      if (!readEntries(bytes, g, originId, entries)) return false;
      decoded.push(entries);
    }
    for (let i = 0; i < groups.length; i++) this.applyGroup(groups[i]!, decoded[i]!);
    return true;
  }

  /** The id of a group's origin: known by fingerprint, or carried by the group; undefined when neither. */
  private originIdOf(g: DeltaGroup): string | undefined {
    const row = this.registry.findFingerprint(g.high, g.low);
    if (row >= 0) {
      const id = this.registry.idOf(row)!;
      return g.id === null || g.id === id ? id : undefined;
    }
    return g.id ?? undefined;
  }

  private applyGroup(g: DeltaGroup, entries: EntryView[] | null): void {
    const c = this.counters;
    const key = fingerprintKey(g.high, g.low);
    if (this.reapedOrigins.has(key)) {
      c.groupsReaped++;
      return;
    }
    let row = this.registry.findFingerprint(g.high, g.low);
    if (row >= 0 && g.id !== null && this.registry.idOf(row) !== g.id) {
      c.fingerprintCollisions++;
      return;
    }
    if (row < 0) {
      if (g.id === null) {
        c.groupsUnknownOrigin++;
        return;
      }
      row = this.registry.insert(g.id);
      if (row < 0) {
        if (row === kFingerprintCollision) c.fingerprintCollisions++;
        else c.originsRefused++;
        return;
      }
    }
    const originId = this.registry.idOf(row)!;
    const ours = this.f64[this.versionsIndex + row]!;
    if (row === this.selfRow && this.backfillsGap(g)) {
      this.applyBackfill(g, originId, ours, entries);
      return;
    }
    if (g.version <= ours) {
      c.groupsStale++;
      return;
    }
    if (g.from > ours) {
      c.groupsGapped++;
      return;
    }
    // Own writes of this life that a group of this node's origin from an earlier life would bury.
    const mine = row === this.selfRow && this.entries !== null ? this.entries.ownedUpTo(row, g.version) : null;
    if (entries !== null) this.store.apply(row, originId, this.admitted(entries, ours));
    this.clock.observe(g.version);
    this.advance(row, ours, g.version);
    c.groupsApplied++;
    c.entriesApplied += g.entryCount;
    if (mine !== null && mine.length > 0) this.restampOwn(mine);
  }

  /** Whether a group of this node's own origin fills the gap before this life's first write (see ownBackfilledTo). */
  private backfillsGap(g: DeltaGroup): boolean {
    const to = this.ownBackfilledTo;
    return this.ownBackfill && to !== null && to < this.ownFirstStamp && g.from <= to && g.version > to;
  }

  /** Merges a group of this node's origin that holds writes of its earlier life (see ownBackfilledTo). */
  private applyBackfill(g: DeltaGroup, originId: string, ours: number, entries: EntryView[] | null): void {
    const c = this.counters;
    const row = this.selfRow;
    const mine = g.version > ours && this.entries !== null ? this.entries.ownedUpTo(row, g.version) : null;
    if (entries !== null) c.ownBackfilled += this.store.merge(row, originId, this.admitted(entries, this.ownBackfilledTo!));
    this.ownBackfilledTo = g.version;
    this.ownSynced = true;
    this.clock.observe(g.version);
    if (g.version > ours) this.advance(row, ours, g.version);
    else this.pulls.settle(this.registry.keyAt(row), g.version);
    c.groupsApplied++;
    c.entriesApplied += g.entryCount;
    if (mine !== null && mine.length > 0) this.restampOwn(mine);
  }

  /** The entries to apply: newer than what the replica holds, about live subjects, within the limits. */
  private admitted(entries: EntryView[], ours: number): EntryView[] {
    const cfg = this.config;
    const store = this.entries!;
    let j = 0;
    for (const e of entries) {
      if (e.version <= ours) continue;
      if (this.reapedSubjects.has(e.subject)) {
        this.counters.groupsReaped++;
        continue;
      }
      const keyCount = store.keyCount(e.subject);
      const isNewKey = keyCount > 0 ? store.keysOf(e.subject)!.get(e.key) === undefined : true;
      if (
        utf8Length(e.key) > cfg.keyBytesMax ||
        utf8Length(e.subject) > cfg.idBytesMax ||
        (typeof e.value === 'string' && utf8Length(e.value) > cfg.valueBytesMax) ||
        (isNewKey && keyCount >= 2 * cfg.keysPerNodeMax)
      ) {
        this.counters.entriesRefused++;
        this.contentGeneration++;
        continue;
      }
      entries[j++] = e;
    }
    entries.length = j;
    return entries;
  }

  /** The replica now holds origin `row` up to `to`: record it, announce it, settle pulls. */
  private advance(row: number, from: number, to: number): void {
    this.f64[this.versionsIndex + row] = to;
    if (from < 0) this.originsHeldCount++;
    this.announce.add(row, to, this.nowMsSource());
    this.pulls.settle(this.registry.keyAt(row), to);
    this.observer?.versionAdvanced(this.selfId, row, from, to);
  }

  /**
   * Peers held this node's own origin beyond what this life wrote: writes of an earlier
   * life, whose clock ran further (its stamps had followed a fast peer's, or the wall
   * clock stepped back). Peers at that version skip this life's lower-stamped writes, and
   * the earlier life's values would bury them here, so this life's writes (`mine`, taken
   * before the group applied) are written again above it. A write of the same key by
   * another node stays if it is newer; one in between loses to the rewrite, which needs a
   * clock step back across a restart and a concurrent write, and is accepted.
   */
  private restampOwn(mine: readonly FmidbWrite[]): void {
    const writes = mine.filter((w) => this.entries!.winner(w.subject, w.key)?.originId === this.selfId);
    for (let i = 0; i < writes.length; i += this.config.batchEntriesMax) {
      this.writeOwn(writes.slice(i, i + this.config.batchEntriesMax));
      this.counters.restamps += Math.min(this.config.batchEntriesMax, writes.length - i);
    }
  }

  // ---- Sending ------------------------------------------------------------------------

  private send(to: string, bytes: Uint8Array, stream: boolean): void {
    this.outbox.push({ to, bytes, stream });
    this.bucket.spend(bytes.length);
    const c = this.counters;
    if (bytes.length > c.largestMessageBytes) c.largestMessageBytes = bytes.length;
    if (stream) {
      c.framesSent++;
      c.frameBytesSent += bytes.length;
    } else {
      c.datagramsSent++;
      c.datagramBytesSent += bytes.length;
    }
  }

  /** Serves the send queues round robin, one message a turn, while the budget allows. */
  private flush(): void {
    const outboxMax = this.config.outboxLengthMax;
    while (this.bucket.open && this.outbox.length < outboxMax) {
      const q = this.queues.next();
      if (q === undefined) break;
      if (q.pulls.size > 0) this.sendPulls(q);
      else this.sendDeltas(q);
      this.queues.rotate(q);
    }
    this.counters.sendQueueDropped = this.queues.dropped;
  }

  private streamFor(q: PeerQueue): boolean {
    return q.stream || q.entriesEstimate > this.config.streamCatchUpThresholdEntries;
  }

  private sendPulls(q: PeerQueue): void {
    const stream = this.streamFor(q);
    const items: PullItem[] = [];
    const keys: number[] = [];
    for (const [key, item] of q.pulls) {
      items.push(item);
      keys.push(key);
    }
    const n = this.encodeDigest(W.kTypeRequest, 0, items, 0, stream ? this.memory.frameBytesMax : this.config.datagramBytesMax);
    for (let i = 0; i < n; i++) q.pulls.delete(keys[i]!);
    const bytes = this.memory.writer.finish();
    this.send(q.peer, bytes, stream);
    this.counters.requestBytesSent += bytes.length;
    this.counters.requestsSent++;
    this.counters.pullsSent += n;
  }

  /**
   * Encodes a DIGEST or REQUEST of as many of `items` (from the front) as fit in `limit`
   * bytes; returns how many. The base is their lowest version, so the rest are short varints.
   */
  private encodeDigest(type: number, flags: number, items: readonly PullItem[], start: number, limit: number): number {
    let min = Infinity;
    let max = -Infinity;
    let n = 0;
    for (; start + n < items.length && n < 65535; n++) {
      const v = items[start + n]!.version;
      const nextMin = v >= 0 ? Math.min(min, v) : min;
      const nextMax = Math.max(max, v);
      const span = nextMin === Infinity ? 1 : Math.max(1, nextMax - nextMin + 1);
      if (kDigestHeaderBytes + (n + 1) * (kFingerprintBytes + varintBytes(span)) > limit) break;
      min = nextMin;
      max = nextMax;
    }
    const base = min === Infinity ? 0 : min;
    const w = this.memory.writer;
    w.begin(type, flags, limit);
    w.u16(n);
    w.f64(base);
    for (let i = 0; i < n; i++) {
      const item = items[start + i]!;
      w.u16(item.high);
      w.u32(item.low);
      w.varint(item.version < 0 ? 0 : item.version - base + 1);
    }
    return n;
  }

  private sendDeltas(q: PeerQueue): void {
    const stream = this.streamFor(q);
    const limit = stream ? this.memory.frameBytesMax : this.config.datagramBytesMax;
    const w = this.memory.writer;
    const utf8 = this.memory.utf8;
    const done: number[] = [];
    let groups = 0;
    let base = 0;
    for (const [row, peerVersion] of q.deltas) {
      const ours = this.f64[this.versionsIndex + row]!;
      const originId = this.registry.idOf(row);
      if (!(ours > peerVersion) || originId === undefined || this.departed.has(originId)) {
        done.push(row);
        continue;
      }
      if (groups === 0) {
        base = ours;
        w.begin(W.kTypeDelta, 0, limit);
        beginDelta(w, base);
      }
      if (!fitsBase(base, ours) || groups === kGroupsPerMessageMax) break;
      const body = this.groupBody(row, originId, peerVersion, ours);
      const withId = peerVersion < 0 ? originId : null;
      if (groupHeadBytes(base, withId, ours, peerVersion, utf8) + body.length > w.room) {
        if (groups > 0) break;
        if (!stream) {
          q.stream = true; // too big for a datagram: the next turn sends it over a stream
          return;
        }
        const cut = this.writePrefix(row, originId, withId !== null, peerVersion, ours, base);
        if (cut < 0) done.push(row);
        else q.deltas.set(row, cut);
        groups += cut < 0 ? 0 : 1;
        break;
      }
      writeGroupHead(w, base, this.registry.fingerprintAt(row), originId, withId !== null, ours, peerVersion, utf8);
      w.bytes(body);
      const count = groupBodyCount(body);
      groups++;
      done.push(row);
      this.counters.groupsSent++;
      this.counters.entriesSent += count;
      q.entriesEstimate = Math.max(0, q.entriesEstimate - count);
    }
    for (const row of done) q.deltas.delete(row);
    if (q.empty) {
      q.stream = false;
      q.entriesEstimate = 0;
    }
    if (groups === 0) return;
    endDelta(w, groups);
    const bytes = w.finish();
    this.send(q.peer, bytes, stream);
    this.counters.deltaBytesSent += bytes.length;
    this.counters.deltasSent++;
  }

  /**
   * An origin's delta too big for one frame (a large catch-up): writes the longest
   * prefix that ends at a version boundary (a batch is never split) and returns its
   * version, the peer's version once applied; -1 when not even one batch fits.
   */
  private writePrefix(row: number, originId: string, withId: boolean, peerVersion: number, ours: number, base: number): number {
    const w = this.memory.writer;
    const utf8 = this.memory.utf8;
    const entries = this.scratch;
    entries.length = 0;
    this.store.collect(row, peerVersion, ours, entries);
    let best = -1;
    let bytes = 9; // the entry count's varint, at most
    for (let i = 0; i < entries.length; i++) {
      const v = entries[i]!.version;
      bytes += entryBytes(entries[i]!, originId, v, utf8) + 8; // + 8: the ages grow as the group version is cut lower
      const atBoundary = i + 1 === entries.length || entries[i + 1]!.version !== v;
      if (!atBoundary) continue;
      if (groupHeadBytes(base, withId ? originId : null, v, peerVersion, utf8) + bytes > w.room || !fitsBase(base, v)) break;
      best = i + 1;
    }
    if (best < 0) return -1;
    const version = entries[best - 1]!.version;
    writeGroupHead(w, base, this.registry.fingerprintAt(row), originId, withId, version, peerVersion, utf8);
    w.bytes(encodeGroupBody(entries, 0, best, originId, version, utf8));
    this.counters.groupsSent++;
    this.counters.entriesSent += best;
    return version;
  }

  /**
   * The encoded body of origin `row`'s group (from, to]: from the shared cache, or
   * collected and encoded. Replicas hold the same entries for the same origin version
   * (snapshot semantics), so they share cache keys; one whose content may differ (it
   * reaped a node or refused an entry) keys its own.
   */
  private groupBody(row: number, originId: string, from: number, to: number): Uint8Array {
    const cache = this.memory.groupBodies;
    // This node's origin while a gap before this life's first write is open: its content is its own.
    const gap = row === this.selfRow && this.entries !== null && this.ownBackfilledTo !== null && this.ownBackfilledTo < this.ownFirstStamp;
    const key = this.contentGeneration === 0 && !gap ? `${originId}|${from}|${to}` : `${this.selfId}#${this.contentGeneration}${gap ? '~' + this.ownBackfilledTo : ''}|${originId}|${from}|${to}`;
    let body = cache.get(key);
    if (body !== undefined) return body;
    const entries = this.scratch;
    entries.length = 0;
    this.store.collect(row, from, to, entries);
    body = encodeGroupBody(entries, 0, entries.length, originId, to, this.memory.utf8);
    if (cache.size >= this.memory.groupBodiesMax) cache.clear();
    cache.set(key, body);
    return body;
  }

  /** A gossip round: the versions learned since the last one, to gossipFanout random peers. */
  private round(now: number): void {
    const waiting = this.announce.length;
    if (waiting === 0) return;
    if (waiting < this.config.announceBatchMin && now - this.announce.oldestAtMs < this.config.announceDelayMsMax) return;
    if (!this.bucket.open) {
      this.counters.roundsSkippedBudget++;
      return;
    }
    const targets = this.pickPeers(this.config.gossipFanout);
    if (targets.length === 0) return;
    const items: PullItem[] = [];
    const rows: number[] = [];
    for (const row of this.announce.rows()) {
      const version = this.f64[this.versionsIndex + row]!;
      const id = this.registry.idOf(row);
      rows.push(row);
      if (version < 0 || id === undefined || this.departed.has(id)) continue;
      const fp = this.registry.fingerprintAt(row);
      items.push({ high: fp.high, low: fp.low, version });
    }
    let sent = 0;
    for (let d = 0; d < this.config.digestDatagramsPerRoundMax && sent < items.length; d++) {
      const n = this.encodeDigest(W.kTypeDigest, 0, items, sent, this.config.datagramBytesMax);
      const bytes = this.memory.writer.finish();
      for (const to of targets) this.send(to, bytes, false);
      this.counters.digestsSent += targets.length;
      this.counters.digestBytesSent += bytes.length * targets.length;
      this.counters.announcementsSent += n * targets.length;
      sent += n;
    }
    // Rows whose items were sent (or skipped as stale) leave the queue; the rest wait a round.
    let kept = 0;
    for (const row of rows) {
      const version = this.f64[this.versionsIndex + row]!;
      const id = this.registry.idOf(row);
      const skipped = version < 0 || id === undefined || this.departed.has(id);
      if (!skipped && kept++ >= sent) continue;
      this.announce.delete(row);
    }
    this.announce.roundDone(now);
    this.counters.announceDropped = this.announce.dropped;
  }

  /** A full digest over a stream: the peer answers with what each side lacks. */
  private sync(peer: string | undefined): void {
    if (peer === undefined) return;
    const items: PullItem[] = [];
    const rows = this.registry.rowCount;
    for (let row = 0; row < rows; row++) {
      if (!(this.f64[this.versionsIndex + row]! >= 0)) continue;
      const version = this.statedVersion(row); // -1 for this node's origin, back-filling from nothing: the peer sends all of it
      const fp = this.registry.fingerprintAt(row);
      items.push({ high: fp.high, low: fp.low, version });
    }
    const n = this.encodeDigest(W.kTypeDigest, W.kDigestFlagFull, items, 0, this.memory.frameBytesMax);
    if (n < items.length) throw new Error(`a full digest of ${items.length} origins did not fit in one frame (${n} did)`);
    const bytes = this.memory.writer.finish();
    this.send(peer, bytes, true);
    this.counters.fullSyncsSent++;
    this.counters.fullSyncBytesSent += bytes.length;
  }

  private queueSync(peer: string | undefined): void {
    if (peer === undefined || this.syncTargets.includes(peer) || this.syncTargets.length >= kSyncTargetsMax) return;
    this.syncTargets.push(peer);
  }

  /** Up to k distinct random live peers other than this node. */
  private pickPeers(k: number): string[] {
    const peers = this.peers;
    const out: string[] = [];
    if (peers.length <= k + 1) {
      for (const p of peers) if (p !== this.selfId && !this.departed.has(p) && out.length < k) out.push(p);
      return out;
    }
    for (let tries = 0; tries < 4 * k && out.length < k; tries++) {
      const p = peers[this.random.nextInt(peers.length)]!;
      if (p === this.selfId || this.departed.has(p) || out.includes(p)) continue;
      out.push(p);
    }
    return out;
  }

  // ---- Local writes and changes ----------------------------------------------------------

  private writeOwn(batch: readonly FmidbWrite[]): number {
    const stamp = this.clock.next(this.wallClockMsSource());
    const from = this.f64[this.versionsIndex + this.selfRow]!;
    if (this.ownBackfilledTo === null && this.ownBackfill) {
      this.ownBackfilledTo = from;
      this.ownFirstStamp = stamp;
    }
    this.store.write(this.selfRow, this.selfId, stamp, batch);
    this.advance(this.selfRow, from, stamp);
    return stamp;
  }

  private validated(writes: readonly FmidbWrite[]): FmidbWrite[] {
    const cfg = this.config;
    const batch = new Map<string, FmidbWrite>();
    for (const w of writes) {
      if (w === null || typeof w !== 'object') throw new FmidbError('FMIDB_VALUE_INVALID', 'each write must be an object { subject, key, value }');
      const subject = checkId(w.subject, cfg.idBytesMax, 'FMIDB_SUBJECT_INVALID', 'subject');
      if (this.hidden(subject)) throw new FmidbError('FMIDB_SUBJECT_DEPARTED', `node "${subject}" departed; its record returns when membership sees it alive again`);
      const key = checkId(w.key, cfg.keyBytesMax, 'FMIDB_KEY_INVALID', 'key');
      const value = checkValue(w.value, cfg.valueBytesMax);
      const slot = subject + '\u0000' + key;
      batch.delete(slot); // the later write of a key wins, in its place in the batch
      batch.set(slot, { subject, key, value });
    }
    return [...batch.values()];
  }

  private checkKeyLimit(batch: readonly FmidbWrite[]): void {
    if (this.entries === null) return;
    const added = new Map<string, number>();
    for (const w of batch) {
      if (this.entries.keysOf(w.subject)?.has(w.key) === true) continue;
      const n = (added.get(w.subject) ?? this.entries.keyCount(w.subject)) + 1;
      if (n > this.config.keysPerNodeMax) {
        throw new FmidbError('FMIDB_KEYS_PER_NODE_EXCEEDED', `node "${w.subject}" would have ${n} keys, more than keysPerNodeMax (${this.config.keysPerNodeMax})`);
      }
      added.set(w.subject, n);
    }
  }

  /** A batch is one group and must fit in one frame, the largest message. */
  private checkBatchBytes(batch: readonly FmidbWrite[]): void {
    const utf8 = this.memory.utf8;
    const version = Math.max(this.clock.lastStamp + 1, 1);
    let bytes = W.kMessageHeaderBytes + W.kDeltaBodyHeaderBytes + groupHeadBytes(version, this.selfId, version, -1, utf8) + varintBytes(batch.length);
    for (const w of batch) bytes += entryBytes({ ...w, version }, this.selfId, version, utf8);
    if (bytes > this.config.streamFrameBytesMax) {
      throw new FmidbError('FMIDB_BATCH_TOO_LARGE', `the batch takes ${bytes} bytes, more than streamFrameBytesMax (${this.config.streamFrameBytesMax})`);
    }
  }

  private winnerChanged(subject: string, key: string, before: StoredEntry | undefined, after: StoredEntry | undefined): void {
    if (this.hidden(subject)) return;
    const e = after ?? before!;
    this.recordChange({ subject, key, value: after?.value ?? null, stamp: e.version, origin: e.originId, cause: 'write' });
  }

  private recordChange(change: FmidbChange): void {
    const slot = change.subject + '\u0000' + change.key;
    this.changes.delete(slot);
    if (this.changes.size >= this.config.changesQueueLengthMax) {
      this.changes.delete(this.changes.keys().next().value!);
      this.counters.changesDropped++;
    }
    this.changes.set(slot, change);
  }

  // ---- Tombstones ---------------------------------------------------------------------

  private hidden(subject: string): boolean {
    return this.departed.has(subject) || this.reapedSubjects.has(subject);
  }

  /** A departed or reaped node is alive again. */
  private returned(id: string): void {
    this.reapedSubjects.delete(id);
    const fp = fingerprintOf(id);
    this.reapedOrigins.delete(fingerprintKey(fp.high, fp.low));
    if (!this.departed.delete(id) || this.entries === null) return;
    const keys = this.entries.keysOf(id);
    if (keys === undefined) return;
    for (const key of keys.keys()) {
      const w = this.entries.winner(id, key);
      if (w !== undefined && w.value !== null) this.recordChange({ subject: id, key, value: w.value, stamp: w.version, origin: w.originId, cause: 'returned' });
    }
  }

  private reapDue(now: number): void {
    for (const [id, at] of this.departed) if (now - at >= this.config.tombstoneReapMs) this.reap(id, now);
    const limit = this.config.tombstonesMax;
    for (const [id, at] of this.reapedSubjects) {
      if (now - at < this.config.reapedRememberMs && this.reapedSubjects.size <= limit) break;
      this.reapedSubjects.delete(id);
    }
    for (const [key, at] of this.reapedOrigins) {
      if (now - at < this.config.reapedRememberMs && this.reapedOrigins.size <= limit) break;
      this.reapedOrigins.delete(key);
    }
  }

  /**
   * Removes a departed node's record: every entry about it, and its origin when that
   * holds nothing else (an administrator's node keeps the attributes it set for others).
   */
  private reap(id: string, now: number): void {
    this.departed.delete(id);
    this.entries?.dropSubject(id);
    this.contentGeneration++;
    const row = this.registry.find(id);
    if (row >= 0 && row !== this.selfRow && (this.entries === null || this.entries.liveCount(row) === 0)) {
      this.entries?.dropOrigin(row);
      if (this.f64[this.versionsIndex + row]! >= 0) this.originsHeldCount--;
      this.f64[this.versionsIndex + row] = -1;
      this.announce.delete(row);
      const fp = this.registry.fingerprintAt(row);
      this.reapedOrigins.set(fingerprintKey(fp.high, fp.low), now);
      this.registry.remove(row);
    }
    this.reapedSubjects.set(id, now);
    this.counters.tombstonesReaped++;
  }

  private requireEntries(): EntryStore {
    if (this.entries === null) throw new Error('this replica keeps no values (a simulation history store)');
    return this.entries;
  }
}

/** Checks a node id or key: a well-formed string of 1 to maxBytes UTF-8 bytes. */
function checkId(text: unknown, maxBytes: number, code: 'FMIDB_SUBJECT_INVALID' | 'FMIDB_KEY_INVALID', name: string): string {
  if (typeof text !== 'string' || text.length === 0 || !isWellFormed(text)) throw new FmidbError(code, `${name} must be a non-empty string of well-formed Unicode`);
  const n = utf8Length(text);
  if (n > maxBytes) throw new FmidbError(code, `${name} "${text.slice(0, 40)}" is ${n} bytes in UTF-8, more than ${maxBytes}`);
  return text;
}

function checkValue(value: unknown, maxBytes: number): FmidbValue {
  if (value === null) return null;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new FmidbError('FMIDB_VALUE_INVALID', `a number value must be finite, got ${value}`);
    return value + 0; // -0 becomes 0: the wire's integers have no negative zero
  }
  if (typeof value !== 'string' || !isWellFormed(value)) throw new FmidbError('FMIDB_VALUE_INVALID', 'a value must be a string of well-formed Unicode, a finite number or null');
  const n = utf8Length(value);
  if (n > maxBytes) throw new FmidbError('FMIDB_VALUE_TOO_LARGE', `the value is ${n} bytes in UTF-8, more than valueBytesMax (${maxBytes})`);
  return value;
}

/** String.prototype.isWellFormed (Node 20), typed here as the TypeScript lib lacks it. */
function isWellFormed(text: string): boolean {
  return (text as unknown as { isWellFormed(): boolean }).isWellFormed();
}

/** The entry count at the start of a group body. */
function groupBodyCount(body: Uint8Array): number {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < body.length; i++) {
    value += (body[i]! & 0x7f) * scale;
    if ((body[i]! & 0x80) === 0) break;
    scale *= 128;
  }
  return value;
}

/** One round of a 32-bit multiplicative mix. */
function mix(h: number, x: number): number {
  h = Math.imul(h ^ x, 0x9e3779b1);
  return (h ^ (h >>> 15)) >>> 0;
}

