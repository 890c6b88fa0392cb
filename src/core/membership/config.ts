/**
 * Configuration of the membership engine. Every field is documented with its unit,
 * formula and trade-off; presets derive from one another (WAN and local start from
 * LAN). `MembershipOptions` is what callers pass (all optional); `MembershipConfig` is
 * the filled, validated, frozen result.
 */
export interface MembershipConfig {
  /**
   * Time between failure-detector probes of one member, ms. Every node probes one
   * member per interval, so probe load per node is constant whatever the farm size;
   * first detection of a crash takes about 1.58 intervals on average (SWIM).
   * Lifeguard stretches it by (awareness + 1) when this node itself is slow.
   */
  probeIntervalMs: number;
  /**
   * Time to wait for a direct ack before asking others to probe indirectly, ms. Should
   * sit well above the 99th percentile round-trip time of the network.
   */
  probeTimeoutMs: number;
  /** Members asked to probe indirectly when a direct probe times out (SWIM's k). */
  indirectChecks: number;
  /**
   * Failed probes of an alive member, in a row, before this node suspects it. 1 is SWIM
   * and memberlist: the first failed probe raises a suspicion, which every member then
   * hears and the target refutes, both spread to the whole farm (about
   * 2 * retransmitMult * log10(N) messages per member). With 2, a failed probe is
   * followed at the next probe turn by a second probe of the same member, and only a
   * second failure is broadcast: a pause shorter than about one probe interval then
   * costs one extra probe instead of two farm-wide broadcasts, for one probe interval
   * more of detection time. See bench/results/scale.json's stall scenario.
   */
  failedProbesToSuspect: number;
  /**
   * Suspicion timeout multiplier. The minimum suspicion time is
   *   SuspicionMinMs = suspicionMult * log10(max(1, N)) * probeIntervalMs
   * so larger farms give the refutation more time to spread.
   */
  suspicionMult: number;
  /**
   * The suspicion timeout starts at suspicionMaxTimeoutMult * SuspicionMinMs and shrinks
   * toward SuspicionMinMs as independent confirmations arrive (Lifeguard).
   */
  suspicionMaxTimeoutMult: number;
  /**
   * Multiplier of retransmits per broadcast: each update is sent about
   *   retransmitMult * ceil(log10(N + 1)) times
   * (SWIM's λ·log N) before it leaves the queue.
   */
  retransmitMult: number;
  /** Time between gossip rounds, ms (rounds are skipped when there is nothing to send). */
  gossipIntervalMs: number;
  /** Random members each gossip round goes to (the fanout). */
  gossipNodes: number;
  /** Dead members still receive gossip for this long, ms, so they can learn and refute. */
  gossipToTheDeadMs: number;
  /**
   * Base push-pull (anti-entropy) interval, ms; 0 disables periodic push-pull. The
   * effective interval grows with log2 N past 32 members (memberlist's scaling), so the
   * full-state exchanges stay rare in big farms.
   */
  pushPullIntervalMs: number;
  /** How long dead members stay as tombstones before their rows are released, ms. */
  tombstoneReapMs: number;
  /**
   * Every interval, ms, a dead member or a seed is re-contacted with a push-pull, so the
   * two sides of a healed partition find each other again. 0 disables.
   */
  reconnectIntervalMs: number;
  /** Lifeguard: highest local-health score; the probe interval stretches up to (max + 1) times. */
  awarenessMax: number;
  /** Event-loop lag above which the driver reports this node as slow, ms. */
  eventLoopLagMsMax: number;
  /** Bytes of node metadata (tags) per member; the wire limit is 512. */
  metaBytesMax: number;
  /** Bytes of one user broadcast. */
  userPayloadBytesMax: number;
  /** Queued broadcasts kept at most; the oldest and most-sent go first when full. */
  broadcastQueueLengthMax: number;
  /** Bytes of each datagram kept for user broadcasts when membership news is queued too. */
  userBroadcastReserveBytes: number;
  /** Members the table can hold (fixed at creation). */
  membersMax: number;
  /** Time to wait for an ack after strong unreachability evidence (an ICMP error), ms. */
  unreachableConfirmMs: number;
  /** Largest datagram sent, bytes; the wire limit is 1,400. */
  datagramBytesMax: number;
  /**
   * Interval of the watch beat, ms; 0 disables it. Every node sends a heartbeat-only
   * datagram (no news, no reply asked) to its `watchSuccessors` ring successors (the
   * live members next in node-id order) this often, so when one of them is killed the
   * next beat draws an ICMP port unreachable within this interval instead of waiting
   * for somebody's next probe of it (SWIM: about 1.58 probeIntervalMs on average, with
   * a long tail). Cost per node: watchSuccessors * 1000 /
   * watchIntervalMs datagrams a second (100 at the LAN defaults, about 9 KB/s sealed).
   * Only useful where the transport sees ICMP; the agent turns it off otherwise.
   */
  watchIntervalMs: number;
  /** Ring successors each node beats to (and so watches); 0 disables the watch. */
  watchSuccessors: number;
  /**
   * A death this node declares itself is sent at once, directly, to every live member
   * while the farm has at most this many; above it the immediate gossip round (a fanout
   * of gossipNodes, each of whom relays at once) carries it. The direct relay costs one
   * datagram per member per death.
   */
  deathRelayDirectMax: number;
}

export type MembershipOptions = Partial<MembershipConfig>;

/** Ring successors a node may watch at most: the beat traffic grows with it. */
export const kWatchSuccessorsMax = 8;
/** Shortest watch-beat interval, ms: keeps the beat traffic bounded (watchSuccessors * 200 a second at most). */
export const kWatchIntervalMsMin = 5;

/** For a data-center LAN: sub-millisecond RTTs, rare loss. Mirrors memberlist's DefaultLANConfig. */
export const kLanConfig: MembershipConfig = Object.freeze({
  probeIntervalMs: 1000,
  probeTimeoutMs: 500,
  indirectChecks: 3,
  failedProbesToSuspect: 1,
  suspicionMult: 4,
  suspicionMaxTimeoutMult: 6,
  retransmitMult: 4,
  gossipIntervalMs: 200,
  gossipNodes: 3,
  gossipToTheDeadMs: 30_000,
  pushPullIntervalMs: 30_000,
  tombstoneReapMs: 3_600_000,
  reconnectIntervalMs: 10_000,
  awarenessMax: 8,
  eventLoopLagMsMax: 100,
  metaBytesMax: 512,
  userPayloadBytesMax: 1024,
  broadcastQueueLengthMax: 4096,
  userBroadcastReserveBytes: 256,
  membersMax: 16_384,
  unreachableConfirmMs: 50,
  datagramBytesMax: 1400,
  watchIntervalMs: 20,
  watchSuccessors: 2,
  deathRelayDirectMax: 128,
});

/** For links between sites: longer timeouts, more retransmits. Derived from LAN. */
export const kWanConfig: MembershipConfig = Object.freeze({
  ...kLanConfig,
  probeIntervalMs: 5000,
  probeTimeoutMs: 3000,
  suspicionMult: 6,
  retransmitMult: 4,
  gossipIntervalMs: 500,
  gossipNodes: 4,
  gossipToTheDeadMs: 60_000,
  pushPullIntervalMs: 60_000,
  unreachableConfirmMs: 500,
  watchIntervalMs: 100,
});

/** For one machine (tests, demos): fast timers, since loopback RTTs are microseconds. Derived from LAN. */
export const kLocalConfig: MembershipConfig = Object.freeze({
  ...kLanConfig,
  probeIntervalMs: 200,
  probeTimeoutMs: 100,
  suspicionMult: 3,
  gossipIntervalMs: 50,
  gossipToTheDeadMs: 10_000,
  pushPullIntervalMs: 10_000,
  reconnectIntervalMs: 2000,
  unreachableConfirmMs: 20,
});

export const kPresets = Object.freeze({ lan: kLanConfig, wan: kWanConfig, local: kLocalConfig });
export type PresetName = keyof typeof kPresets;

/** Merges options over a preset and validates every field; throws with a clear message. */
export function membershipConfig(options: MembershipOptions = {}, preset: PresetName = 'lan'): MembershipConfig {
  const base = kPresets[preset];
  if (base === undefined) throw new RangeError(`preset must be one of ${Object.keys(kPresets).join(', ')}, got "${String(preset)}"`);
  const config: MembershipConfig = { ...base };
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) continue;
    if (!(key in base)) throw new RangeError(`unknown membership option "${key}"`);
    (config as unknown as Record<string, unknown>)[key] = value;
  }
  const positive: Array<keyof MembershipConfig> = ['probeIntervalMs', 'probeTimeoutMs', 'failedProbesToSuspect', 'suspicionMult', 'suspicionMaxTimeoutMult', 'retransmitMult', 'gossipIntervalMs', 'gossipNodes', 'tombstoneReapMs', 'broadcastQueueLengthMax', 'membersMax', 'unreachableConfirmMs', 'metaBytesMax', 'userPayloadBytesMax', 'datagramBytesMax'];
  const nonNegative: Array<keyof MembershipConfig> = ['indirectChecks', 'gossipToTheDeadMs', 'pushPullIntervalMs', 'reconnectIntervalMs', 'awarenessMax', 'eventLoopLagMsMax', 'userBroadcastReserveBytes', 'watchIntervalMs', 'watchSuccessors', 'deathRelayDirectMax'];
  for (const key of positive) {
    if (typeof config[key] !== 'number' || !Number.isFinite(config[key]) || config[key] <= 0) throw new RangeError(`options.${key} must be a positive number, got ${String(config[key])}`);
  }
  for (const key of nonNegative) {
    if (typeof config[key] !== 'number' || !Number.isFinite(config[key]) || config[key] < 0) throw new RangeError(`options.${key} must be a non-negative number, got ${String(config[key])}`);
  }
  if (config.probeTimeoutMs >= config.probeIntervalMs) throw new RangeError(`options.probeTimeoutMs (${config.probeTimeoutMs}) must be less than options.probeIntervalMs (${config.probeIntervalMs})`);
  if (!Number.isInteger(config.watchSuccessors) || config.watchSuccessors > kWatchSuccessorsMax) throw new RangeError(`options.watchSuccessors must be an integer from 0 to ${kWatchSuccessorsMax}, got ${config.watchSuccessors}`);
  if (config.watchIntervalMs > 0 && config.watchIntervalMs < kWatchIntervalMsMin) throw new RangeError(`options.watchIntervalMs must be 0 (off) or at least ${kWatchIntervalMsMin}, got ${config.watchIntervalMs}`);
  if (config.suspicionMaxTimeoutMult < 1) throw new RangeError('options.suspicionMaxTimeoutMult must be at least 1');
  if (config.metaBytesMax > 512) throw new RangeError(`options.metaBytesMax must be at most 512 (the wire limit), got ${config.metaBytesMax}`);
  if (config.userPayloadBytesMax > 1100) throw new RangeError(`options.userPayloadBytesMax must be at most 1100, got ${config.userPayloadBytesMax}`);
  if (config.datagramBytesMax < 576 || config.datagramBytesMax > 1400) throw new RangeError(`options.datagramBytesMax must be from 576 to 1400, got ${config.datagramBytesMax}`);
  if (!Number.isInteger(config.membersMax) || config.membersMax > 1 << 20) throw new RangeError(`options.membersMax must be an integer up to ${1 << 20}, got ${config.membersMax}`);
  return Object.freeze(config);
}

/** Effective push-pull interval for N members: grows with log2 N beyond 32 (memberlist). */
export function pushPullIntervalFor(config: MembershipConfig, members: number): number {
  const threshold = 32;
  if (members <= threshold) return config.pushPullIntervalMs;
  const multiplier = Math.ceil(Math.log2(members) - Math.log2(threshold)) + 1;
  return config.pushPullIntervalMs * multiplier;
}

/** Number of times each broadcast is sent: retransmitMult * ceil(log10(N + 1)). */
export function retransmitLimit(config: MembershipConfig, members: number): number {
  return config.retransmitMult * Math.ceil(Math.log10(members + 1));
}
