/**
 * When to restart a crashed component, and when to stop trying. Pure functions of the
 * crash history and the time, so the schedule is tested without a clock.
 *
 * delayMs(n) = min(maxMs, initialMs * factor^(n - 1)), n = crashes in a row.
 *
 * A crash after at least resetAfterMs of healthy running starts a new row (n = 1): a
 * component that crashes once a day restarts at once, while one that crashes on every
 * start backs off to one attempt per maxMs. Independently, crashesMax crashes within
 * windowMs make the host give up (state 'failed') until an operator restarts it: a
 * component that never stays up should page someone rather than churn forever.
 */
export interface BackoffOptions {
  /** Delay before the first restart in a row. */
  readonly initialMs: number;
  /** Upper bound of the delay. */
  readonly maxMs: number;
  /** Growth of the delay per crash in a row (>= 1). */
  readonly factor: number;
  /** Healthy running time after which the next crash starts a new row. */
  readonly resetAfterMs: number;
}

export interface GiveUpOptions {
  /** Crashes within windowMs that make the host give up; 0 never gives up. */
  readonly crashesMax: number;
  /** The sliding window the crashes are counted in. */
  readonly windowMs: number;
}

/** What the host remembers about a component's crashes between restarts. */
export interface CrashHistory {
  /** Crashes in a row, each before resetAfterMs of healthy running. */
  readonly crashesInRow: number;
  /** Times of the recent crashes within the give-up window, oldest first; at most crashesMax. */
  readonly crashTimesMs: readonly number[];
}

export const kNoCrashes: CrashHistory = Object.freeze({ crashesInRow: 0, crashTimesMs: Object.freeze([]) as readonly number[] });

export interface CrashDecision {
  readonly history: CrashHistory;
  /** Delay before the restart; meaningless when giveUp. */
  readonly delayMs: number;
  readonly giveUp: boolean;
}

/** The delay before the restart that follows `crashesInRow` (>= 1) crashes in a row. */
export function backoffDelayMs(crashesInRow: number, options: BackoffOptions): number {
  const exponent = Math.max(0, crashesInRow - 1);
  // Capped before the power overflows: factor^exponent only grows.
  const delay = options.initialMs * Math.pow(options.factor, Math.min(exponent, 64));
  return Math.round(Math.min(options.maxMs, delay));
}

/**
 * Folds one crash into the history. `runningForMs` is how long the component had been
 * running when it crashed, or null if it crashed while starting.
 */
export function afterCrash(history: CrashHistory, nowMs: number, runningForMs: number | null, backoff: BackoffOptions, giveUp: GiveUpOptions): CrashDecision {
  const healthy = runningForMs !== null && runningForMs >= backoff.resetAfterMs;
  const crashesInRow = healthy ? 1 : history.crashesInRow + 1;
  const recent = history.crashTimesMs.filter((t) => nowMs - t < giveUp.windowMs);
  recent.push(nowMs);
  const keep = Math.max(1, giveUp.crashesMax);
  const crashTimesMs = recent.length > keep ? recent.slice(recent.length - keep) : recent;
  return {
    history: { crashesInRow, crashTimesMs },
    delayMs: backoffDelayMs(crashesInRow, backoff),
    giveUp: giveUp.crashesMax > 0 && crashTimesMs.length >= giveUp.crashesMax,
  };
}
