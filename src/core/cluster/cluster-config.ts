/**
 * Settings of one ClusterMember. Every field is optional in ClusterMemberOptions;
 * ClusterMemberSettings is the filled form (defaults merged in, every field checked).
 * The timers are the cluster's focused failure detector: tighter than the farm's gossip
 * and set per cluster by its profile.
 */
export interface ClusterMemberOptions {
  /**
   * How often a member sends a heartbeat (with its acknowledgements) to every other
   * member of its view, in ms. Heartbeats also carry the acks that make messages
   * stable, so this is the garbage-collection period too.
   */
  heartbeatIntervalMs?: number;
  /**
   * A member not heard from for this long is suspected and left out of the next view.
   * With loss rate p and k = suspectTimeoutMs / heartbeatIntervalMs heartbeats per
   * window, a false suspicion needs k losses in a row: p^k (10% loss, k = 8: 1e-8 per
   * pair and window). Lower is faster detection of a silent crash, higher is fewer
   * false view changes. External evidence (suspect input) does not wait for it.
   */
  suspectTimeoutMs?: number;
  /**
   * The adaptive failure detector's ceiling, in ms. A member's silence is judged against
   * its own recent rhythm: the timeout for member r is four times the longest silence
   * heard between two of r's messages over the last 25 to 50 suspect timeouts (10 to 20 s
   * at the default), at least suspectTimeoutMs and at most this. On a quiet machine
   * without loss the gaps stay near a heartbeat period and the timeout stays at
   * suspectTimeoutMs; under loss or on a loaded one,
   * where a live process goes silent for a few hundred ms when it is descheduled, it grows
   * to this ceiling, so a stall of a live member is not a view change, and a silent
   * crash is still detected within this bound. External evidence never waits for it.
   * Equal to suspectTimeoutMs switches adaptation off. Default: twice suspectTimeoutMs.
   */
  suspectTimeoutMaxMs?: number;
  /**
   * A coordinator whose round (prepare or accept phase) made no progress for this long
   * starts again with a higher ballot, after a random extra delay up to the same amount
   * so that two would-be coordinators do not duel forever.
   */
  roundTimeoutMs?: number;
  /** How often unacknowledged data, prepares, accepts and installs are sent again, in ms. */
  retransmitIntervalMs?: number;
  /** How often a node outside the view (joining, restarted, cut off) asks to join, in ms. */
  joinIntervalMs?: number;
  /**
   * How long a leaving member repeats its leave and stays an acceptor of its view, at
   * most, in ms: it stops earlier once a view without it is installed. Its vote is what
   * lets the survivor of a 2-member view install a view alone.
   */
  leaveLingerMs?: number;
  /** The most members a view may have; also the bound of every per-member array. */
  membersMax?: number;
  /** The largest payload multicast accepts, in bytes. */
  payloadBytesMax?: number;
  /**
   * The most of its own messages a member may have sent and not yet seen stable (acked
   * by every member); multicast beyond it fails with GALAXY_CLUSTER_WINDOW_FULL. It also
   * bounds what a receiver buffers per sender ahead of its contiguous prefix.
   */
  sendWindowMax?: number;
  /**
   * A prompt acknowledgement: once this many messages of one sender have arrived here
   * since this member last told that sender its prefix, it tells it at once (a
   * heartbeat to that sender alone) instead of waiting for the next heartbeat. Without
   * it a sender's rate is bounded by sendWindowMax per heartbeat period (32 per 50 ms
   * by default); with it, by sendWindowMax per round trip. 0 switches it off. Default:
   * a quarter of sendWindowMax (at least 1), so a full window always reopens within a
   * round trip.
   */
  ackEveryMessages?: number;
  /**
   * Whether acceptors tell their ACCEPTED to the whole view, not only to the coordinator,
   * so that every acceptor installs the new view once it hears a majority accepted it
   * (Paxos' learners), a message hop before the coordinator's INSTALL would reach it. It
   * costs n² small messages per view change (4,032 at 64 members) against one hop of
   * latency at every member but the coordinator; the INSTALL is still sent. Default true.
   */
  learnFromAcceptors?: boolean;
  /**
   * Whether a member given external evidence (suspect input: the farm's dead, a closed
   * connection) against a member of its view tells the member it takes for the
   * coordinator (a SUSPECT message), which takes it as evidence of its own. The change
   * then starts at the first evidence anywhere, one hop later, instead of when the
   * coordinator's own evidence comes (tens to hundreds of ms apart on a loaded machine)
   * or, without any, after its suspectTimeoutMs of silence; and a coordinator's crash is
   * handed on to the next member in view order by whoever heard of it first. Evidence
   * decides only whom to suspect (liveness), and relayed evidence is exactly the
   * external evidence some member was given. Default true.
   */
  relayEvidence?: boolean;
  /** The most nodes asking to join that a member remembers at once. */
  joinCandidatesMax?: number;
  /** The most outputs one ready() batch may hold. */
  outputsMax?: number;
  /** The longest node id accepted, in bytes of UTF-8 (farm ids are 16 hex digits). */
  nodeIdBytesMax?: number;
  /**
   * Deliberately broken variants, switched on only by the tests that prove each
   * checker can fail. Never set in production.
   */
  broken?: BrokenVariants;
}

/** Each switch breaks one guarantee on purpose; see the cluster checker tests. */
export interface BrokenVariants {
  /** Install the next view without delivering the cut's missing messages (breaks virtual synchrony). */
  skipFlush?: boolean;
  /** A coordinator decides on any single acceptance (breaks primary uniqueness and agreement). */
  acceptWithoutMajority?: boolean;
  /** A new coordinator proposes its own value even when it found one accepted (breaks agreement). */
  ignoreAcceptedValue?: boolean;
  /** Deliver data that arrives out of order at once (breaks FIFO). */
  deliverOutOfOrder?: boolean;
  /** Deliver duplicates (no dedup by sequence number). */
  deliverDuplicates?: boolean;
  /** Deliver data tagged with an older view in the current one (breaks delivered-in-sent-view). */
  deliverStaleView?: boolean;
  /** Never suspect a silent member (breaks liveness after a silent crash). */
  neverSuspect?: boolean;
  /** Accept an install of an older view id too (breaks monotonic views). */
  installOlderViews?: boolean;
  /** A leaver stops voting at once, as before issue 17's fix (strands the survivor of a 2-member view in 'minority'). */
  leaverStopsVoting?: boolean;
  /** Evidence against an incarnation is never lifted by proof of life (a node declared dead in a partition joins and is evicted in a loop). */
  keepDeadEvidence?: boolean;
  /** A learner installs the value it accepted on any one acceptance heard, not a majority's (breaks agreement). */
  learnWithoutMajority?: boolean;
  /** The coordinator leaves out a member whose promise is late after one round timeout even when it heard from it meanwhile (the rule before issue 17's 16-member runs: a slow member is cut out and rejoins). */
  leaveOutSlowPromisers?: boolean;
  /** The coordinator leaves out a member silent since the round began after one round timeout, before the failure detector suspects it (the rule before issue 17's loaded runs: a process stalled for a moment is cut out and rejoins through another change). */
  leaveOutStalledPromisers?: boolean;
  /** The adaptive suspect timeout grows with the silences it heard without its ceiling suspectTimeoutMaxMs (a member that stalled longer and longer, then crashed silently, is never suspected in time). */
  unboundedSuspectTimeout?: boolean;
  /** A member counts the gap between its own ticks (its own stall) as its peers' silence (the rule before issue 17's loaded runs: a member waking from a stall suspects everyone and prepares). */
  suspectAcrossOwnStall?: boolean;
}

export interface ClusterMemberSettings {
  readonly heartbeatIntervalMs: number;
  readonly suspectTimeoutMs: number;
  readonly suspectTimeoutMaxMs: number;
  readonly roundTimeoutMs: number;
  readonly retransmitIntervalMs: number;
  readonly joinIntervalMs: number;
  readonly leaveLingerMs: number;
  readonly membersMax: number;
  readonly payloadBytesMax: number;
  readonly sendWindowMax: number;
  readonly ackEveryMessages: number;
  readonly learnFromAcceptors: boolean;
  readonly relayEvidence: boolean;
  readonly joinCandidatesMax: number;
  readonly outputsMax: number;
  readonly nodeIdBytesMax: number;
  readonly broken: Readonly<BrokenVariants>;
}

export const kClusterMemberDefaults: ClusterMemberSettings = Object.freeze({
  heartbeatIntervalMs: 50,
  suspectTimeoutMs: 400,
  suspectTimeoutMaxMs: 800,
  roundTimeoutMs: 150,
  retransmitIntervalMs: 30,
  joinIntervalMs: 100,
  leaveLingerMs: 500,
  membersMax: 64,
  payloadBytesMax: 1024,
  sendWindowMax: 32,
  ackEveryMessages: 8,
  learnFromAcceptors: true,
  relayEvidence: true,
  joinCandidatesMax: 256,
  outputsMax: 1 << 16,
  nodeIdBytesMax: 64,
  broken: Object.freeze({}),
});

/** Merges options over the defaults and checks every field; throws a RangeError naming the first bad one. */
export function resolveClusterMemberOptions(options: ClusterMemberOptions = {}): ClusterMemberSettings {
  const defined = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as Partial<ClusterMemberSettings>;
  const window = defined.sendWindowMax ?? kClusterMemberDefaults.sendWindowMax;
  const suspect = defined.suspectTimeoutMs ?? kClusterMemberDefaults.suspectTimeoutMs;
  const settings: ClusterMemberSettings = { ...kClusterMemberDefaults, ackEveryMessages: Math.max(1, Math.floor(window / 4)), suspectTimeoutMaxMs: 2 * suspect, ...defined };
  positive('heartbeatIntervalMs', settings.heartbeatIntervalMs);
  positive('suspectTimeoutMs', settings.suspectTimeoutMs);
  positive('suspectTimeoutMaxMs', settings.suspectTimeoutMaxMs);
  if (settings.suspectTimeoutMaxMs < settings.suspectTimeoutMs) {
    throw new RangeError(`options.suspectTimeoutMaxMs must be at least suspectTimeoutMs (${settings.suspectTimeoutMs}), got ${settings.suspectTimeoutMaxMs}`);
  }
  positive('roundTimeoutMs', settings.roundTimeoutMs);
  positive('retransmitIntervalMs', settings.retransmitIntervalMs);
  positive('joinIntervalMs', settings.joinIntervalMs);
  positive('leaveLingerMs', settings.leaveLingerMs);
  if (settings.suspectTimeoutMs < 2 * settings.heartbeatIntervalMs) {
    throw new RangeError(`options.suspectTimeoutMs must be at least twice heartbeatIntervalMs (${settings.heartbeatIntervalMs}), got ${settings.suspectTimeoutMs}`);
  }
  integer('membersMax', settings.membersMax, 1, 1024);
  integer('payloadBytesMax', settings.payloadBytesMax, 0, 1 << 20);
  integer('sendWindowMax', settings.sendWindowMax, 1, 1 << 16);
  integer('ackEveryMessages', settings.ackEveryMessages, 0, 1 << 16);
  integer('joinCandidatesMax', settings.joinCandidatesMax, 1, 1 << 16);
  integer('outputsMax', settings.outputsMax, 16, 1 << 24);
  integer('nodeIdBytesMax', settings.nodeIdBytesMax, 1, 255);
  if (typeof settings.learnFromAcceptors !== 'boolean') throw new RangeError(`options.learnFromAcceptors must be a boolean, got ${String(settings.learnFromAcceptors)}`);
  if (typeof settings.relayEvidence !== 'boolean') throw new RangeError(`options.relayEvidence must be a boolean, got ${String(settings.relayEvidence)}`);
  if (typeof settings.broken !== 'object' || settings.broken === null) throw new RangeError('options.broken must be an object');
  return Object.freeze(settings);
}

function positive(name: string, value: number): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || !(value > 0)) {
    throw new RangeError(`options.${name} must be a finite number > 0, got ${String(value)}`);
  }
}

function integer(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`options.${name} must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
}
