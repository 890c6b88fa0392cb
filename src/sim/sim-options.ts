/**
 * Options of the NetworkSimulator. Every field is optional; NetworkSimulatorSettings is
 * the filled form, made by merging the options over kNetworkSimulatorDefaults and
 * validating the result.
 */
export interface NetworkSimulatorOptions {
  /**
   * The one seed that drives everything: latencies, losses, duplicates, clock drift and
   * offsets, tick phases and every process's own generator. An unsigned 32-bit integer.
   */
  seed?: number;
  /** How often each process's tick() runs, in ms of its LOCAL clock. */
  tickMs?: number;
  /** The floor of one-way latency, in ms. */
  latencyMsMin?: number;
  /**
   * Mean one-way latency in ms. Latency = latencyMsMin + exponential(latencyMsMean -
   * latencyMsMin): a fixed wire delay plus queueing, with a long tail, as on a LAN.
   */
  latencyMsMean?: number;
  /** Probability that a datagram is lost, in [0, 1]. Frames are never lost (TCP retransmits). */
  lossRate?: number;
  /** Probability that a delivered datagram is delivered a second time, with its own latency. */
  duplicateRate?: number;
  /**
   * Probability that a datagram gets an extra delay, uniform in [0, reorderMsMax), on top
   * of its latency. Exponential latencies already reorder a little; this reorders more.
   */
  reorderRate?: number;
  /** Upper bound of the extra delay of a reordered datagram, in ms. */
  reorderMsMax?: number;
  /**
   * How long a frame to an unreachable or downed host takes to fail, in ms: the sender
   * gets streamFailed(to) this long after the frame met the problem (TCP connect timeout).
   */
  frameConnectTimeoutMs?: number;
  /**
   * A paused process's socket receive buffer, in datagrams: deliveries beyond it are
   * dropped, as with a full rcvbuf. Linux's default 208 KiB rcvbuf holds a few hundred
   * small datagrams once the per-packet overhead is counted.
   */
  pausedQueueDatagramsMax?: number;
  /**
   * Frames a paused process may have waiting. Beyond it a frame fails with
   * streamFailed after the connect timeout, as a zero-window stream hits its deadline.
   */
  pausedQueueFramesMax?: number;
  /**
   * Default for every host: when true, a datagram to a live host whose process is dead
   * is answered, one latency later, with unreachable() at the sender (ICMP port
   * unreachable). setIcmp changes it per host.
   */
  icmp?: boolean;
  /**
   * Each host's clock runs at rate (1 + drift) with drift uniform in [-clockDriftMax,
   * +clockDriftMax]; 0.0005 is 500 ppm. Commodity quartz is within about 100 ppm.
   */
  clockDriftMax?: number;
  /** Each host's clock starts at an offset uniform in [0, clockOffsetMsMax) ms. */
  clockOffsetMsMax?: number;
  /** The largest datagram a process may send; a larger one is a bug and throws. 65507 is the UDP limit. */
  datagramBytesMax?: number;
  /** The largest frame a process may send; a larger one is a bug and throws. */
  frameBytesMax?: number;
  /** The most nodes addNode may create (typed arrays are sized from it as they grow). */
  nodesMax?: number;
  /** The most events in flight at once; beyond it the run throws, which usually means a send loop. */
  eventsQueuedMax?: number;
  /**
   * Skip the ticks a process says would do nothing. A process that implements
   * nextTickAtMs() is then ticked only at the points of its tick grid (every tickMs of
   * its local time, as without this) at or after its next due timer, and again at the
   * next grid point after any delivery that makes a timer due sooner. The ticks that
   * run are at the same times as without skipping, so a process whose tick does nothing
   * before its timers behaves the same; the simulator just stops spending most of its
   * events on empty ticks (the scale benchmark at 10,000 nodes). Off by default.
   */
  skipIdleTicks?: boolean;
}

export interface NetworkSimulatorSettings {
  readonly seed: number;
  readonly tickMs: number;
  readonly latencyMsMin: number;
  readonly latencyMsMean: number;
  readonly lossRate: number;
  readonly duplicateRate: number;
  readonly reorderRate: number;
  readonly reorderMsMax: number;
  readonly frameConnectTimeoutMs: number;
  readonly pausedQueueDatagramsMax: number;
  readonly pausedQueueFramesMax: number;
  readonly icmp: boolean;
  readonly clockDriftMax: number;
  readonly clockOffsetMsMax: number;
  readonly datagramBytesMax: number;
  readonly frameBytesMax: number;
  readonly nodesMax: number;
  readonly eventsQueuedMax: number;
  readonly skipIdleTicks: boolean;
}

/** The hard ceiling of nodesMax: node pairs are keyed as from * kNodesLimit + to, which must stay an exact integer. */
export const kNodesLimit = 1 << 20;
/** The ceiling of eventsQueuedMax: each queued event costs about 40 bytes of typed arrays plus its payload. */
export const kEventsQueuedLimit = 1 << 27;
const kTickMsMax = 60_000;
const kClockDriftLimit = 0.1;
const kDatagramBytesLimit = 65507;
const kFrameBytesLimit = 1 << 30;

export const kNetworkSimulatorDefaults: NetworkSimulatorSettings = Object.freeze({
  seed: 1,
  tickMs: 10,
  latencyMsMin: 0.2,
  latencyMsMean: 1,
  lossRate: 0,
  duplicateRate: 0,
  reorderRate: 0,
  reorderMsMax: 10,
  frameConnectTimeoutMs: 1000,
  pausedQueueDatagramsMax: 512,
  pausedQueueFramesMax: 4096,
  icmp: true,
  clockDriftMax: 0.0001,
  clockOffsetMsMax: 1000,
  datagramBytesMax: kDatagramBytesLimit,
  frameBytesMax: 16 * 1024 * 1024,
  nodesMax: 65536,
  eventsQueuedMax: 1 << 23,
  skipIdleTicks: false,
});

/** Merges options over the defaults and checks every field; throws a RangeError naming the first bad one. */
export function resolveSimulatorOptions(options: NetworkSimulatorOptions): NetworkSimulatorSettings {
  const settings: NetworkSimulatorSettings = { ...kNetworkSimulatorDefaults, ...withoutUndefined(options) };
  checkInteger('seed', settings.seed, 0, 0xffffffff);
  checkNumber('tickMs', settings.tickMs, 0, kTickMsMax, false);
  checkNumber('latencyMsMin', settings.latencyMsMin, 0, Number.MAX_SAFE_INTEGER, true);
  checkNumber('latencyMsMean', settings.latencyMsMean, 0, Number.MAX_SAFE_INTEGER, true);
  if (settings.latencyMsMean < settings.latencyMsMin) {
    throw new RangeError(`options.latencyMsMean must be at least options.latencyMsMin (${settings.latencyMsMin}), got ${settings.latencyMsMean}`);
  }
  checkRate('lossRate', settings.lossRate);
  checkRate('duplicateRate', settings.duplicateRate);
  checkRate('reorderRate', settings.reorderRate);
  checkNumber('reorderMsMax', settings.reorderMsMax, 0, Number.MAX_SAFE_INTEGER, true);
  checkNumber('frameConnectTimeoutMs', settings.frameConnectTimeoutMs, 0, Number.MAX_SAFE_INTEGER, false);
  checkInteger('pausedQueueDatagramsMax', settings.pausedQueueDatagramsMax, 0, Number.MAX_SAFE_INTEGER);
  checkInteger('pausedQueueFramesMax', settings.pausedQueueFramesMax, 0, Number.MAX_SAFE_INTEGER);
  if (typeof settings.skipIdleTicks !== 'boolean') throw new RangeError(`options.skipIdleTicks must be a boolean, got ${String(settings.skipIdleTicks)}`);
  if (typeof settings.icmp !== 'boolean') throw new RangeError(`options.icmp must be a boolean, got ${String(settings.icmp)}`);
  checkNumber('clockDriftMax', settings.clockDriftMax, 0, kClockDriftLimit, true);
  checkNumber('clockOffsetMsMax', settings.clockOffsetMsMax, 0, Number.MAX_SAFE_INTEGER, true);
  checkInteger('datagramBytesMax', settings.datagramBytesMax, 1, kDatagramBytesLimit);
  checkInteger('frameBytesMax', settings.frameBytesMax, 1, kFrameBytesLimit);
  checkInteger('nodesMax', settings.nodesMax, 1, kNodesLimit);
  checkInteger('eventsQueuedMax', settings.eventsQueuedMax, 16, kEventsQueuedLimit);
  return Object.freeze(settings);
}

/** Checks a probability, as used by the options and by setLink/setLossRate. */
export function checkRate(name: string, value: number): void {
  if (typeof value !== 'number' || !(value >= 0 && value <= 1)) throw new RangeError(`options.${name} must be in [0, 1], got ${String(value)}`);
}

function checkNumber(name: string, value: number, min: number, max: number, minIncluded: boolean): void {
  const aboveMin = minIncluded ? value >= min : value > min;
  if (typeof value !== 'number' || !Number.isFinite(value) || !aboveMin || value > max) {
    const range = `${minIncluded ? '[' : '('}${min}, ${max}]`;
    throw new RangeError(`options.${name} must be a finite number in ${range}, got ${String(value)}`);
  }
}

function checkInteger(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`options.${name} must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
}

function withoutUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
