import type { FalseReport } from '../invariants.js';
import type { StudySpec } from './study-spec.js';

/**
 * What one study run records. Every field is decided by the spec and its seed alone
 * (no wall time here), so the same seed gives an identical result, byte for byte once
 * serialized; the CLI keeps wall times beside it, not in it. Times are simulated ms
 * from the start of the run (after a warm-up that is not recorded).
 */
export interface StudyResult {
  readonly spec: StudySpec;
  /** The SWIM detection bound the verdict holds crashes and convergence to (swim-bound.ts). */
  readonly detectionBoundMs: number;
  /** Column-wise time series, one entry per sample: ready for uPlot as they are. */
  readonly series: StudySeries;
  readonly crashes: readonly CrashRecord[];
  /** Detection times of every (crash, observer) pair, as a distribution. */
  readonly detection: DetectionDistribution;
  readonly totals: StudyTotals;
  /** The first false suspicions, then the first false deaths, with who and when. */
  readonly falseExamples: readonly FalseReport[];
  /** The convergence check at the very end, over the observer sample. */
  readonly finalConvergence: { readonly converged: boolean; readonly summary: string };
  readonly verdict: StudyVerdict;
}

export interface StudySeries {
  readonly timeS: number[];
  /**
   * Fraction of the sampled observers whose whole view matches the truth; null when no
   * observer can be judged (during a partition every observer is cut off from someone).
   */
  readonly convergedObservers: Array<number | null>;
  /** Fraction of (observer, subject) pairs that agree with the truth, over the judged observers. */
  readonly viewAgreement: Array<number | null>;
  /** Cumulative false suspicions (of running, unpaused nodes) since the start. */
  readonly falseSuspicions: number[];
  /** Cumulative false deaths since the start. */
  readonly falseDeaths: number[];
  /** Cumulative deaths of paused (stalled) nodes, which Lifeguard may rightly declare. */
  readonly deadWhilePaused: number[];
  /** Bytes sent (datagrams and frames) per running node per second, over the last sample interval. */
  readonly bytesPerNodePerSecond: number[];
  readonly runningNodes: number[];
}

export interface CrashRecord {
  readonly victim: string;
  readonly atMs: number;
  /** Live observers at the end of the run, and how many of them hold the victim dead. */
  readonly observers: number;
  readonly detected: number;
  /** Detection time quantiles over the observers that detected it, ms; null when none did. */
  readonly firstMs: number | null;
  readonly medianMs: number | null;
  readonly lastMs: number | null;
  /**
   * True when every observer held it dead within the bound; false when one did not
   * although the run lasted past the bound; null when the run ended inside the bound
   * before every observer had it (not yet decidable).
   */
  readonly withinBound: boolean | null;
}

export interface DetectionDistribution {
  /** Pairs measured, and pairs still undetected at the end. */
  readonly pairs: number;
  readonly undetected: number;
  /** Points of the cumulative distribution: fraction[i] of pairs were detected within ms[i]. */
  readonly ms: number[];
  readonly fraction: number[];
}

export interface StudyTotals {
  readonly suspicions: number;
  readonly falseSuspicions: number;
  readonly falseDeaths: number;
  readonly deadWhilePaused: number;
  /** Bytes sent over the whole run per node (every node, as bench:scale counts) per second. */
  readonly bytesPerNodePerSecond: number;
  readonly events: number;
  /** The simulator's running hash of every event: equal digests mean equal runs. */
  readonly eventDigest: number;
}

export interface StudyVerdict {
  /** True when something happened that the protocol promises will not: see reasons. */
  readonly surprising: boolean;
  readonly reasons: readonly string[];
  /** Things worth knowing that are not findings (e.g. a crash too late to judge). */
  readonly notes: readonly string[];
}

/** What the runner reports while it runs. */
export interface StudyProgress {
  readonly simulatedMs: number;
  readonly totalMs: number;
}
