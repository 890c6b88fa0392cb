/**
 * Lifeguard's suspicion timer maths, as pure functions testable without a clock.
 *
 * A suspicion starts with the longest timeout and shrinks toward the shortest as
 * independent confirmations arrive: with k expected confirmations and c received,
 *   timeout = max(min, max - (max - min) * log(c + 1) / log(k + 1))
 * so a node suspected by many is declared dead quickly, and one suspected by a single
 * (perhaps slow) member gets the whole window to refute.
 */

/** Shortest suspicion: suspicionMult * log10(max(1, N)) * probeInterval, never below one interval. */
export function suspicionMinMs(suspicionMult: number, members: number, probeIntervalMs: number): number {
  const scale = Math.max(1, Math.log10(Math.max(1, members)));
  return suspicionMult * scale * probeIntervalMs;
}

/** Total suspicion timeout after `confirmations` independent confirmations. */
export function suspicionTimeoutMs(confirmations: number, expected: number, minMs: number, maxMs: number): number {
  if (expected < 1) return minMs;
  const fraction = Math.log(confirmations + 1) / Math.log(expected + 1);
  const timeout = maxMs - (maxMs - minMs) * fraction;
  return Math.max(minMs, Math.floor(timeout));
}

/** Time left of a suspicion that started `elapsedMs` ago (never negative). */
export function remainingSuspicionMs(confirmations: number, expected: number, elapsedMs: number, minMs: number, maxMs: number): number {
  return Math.max(0, suspicionTimeoutMs(confirmations, expected, minMs, maxMs) - elapsedMs);
}

/** Confirmations a suspicion waits for: the indirect probers (k) minus two, at least one (memberlist). */
export function expectedConfirmations(suspicionMult: number, members: number): number {
  const k = suspicionMult - 2;
  // With few members, fewer independent confirmations can ever arrive.
  return Math.max(0, Math.min(k, members - 2));
}

/** One member's open suspicion: who confirmed it, and when it began (local ms). */
export class Suspicion {
  readonly startedMs: number;
  readonly incarnation: number;
  private readonly confirmers = new Set<string>();

  constructor(startedMs: number, incarnation: number, from: string) {
    this.startedMs = startedMs;
    this.incarnation = incarnation;
    this.confirmers.add(from);
  }

  /** Records a confirmation; returns true when it came from a new member. */
  confirm(from: string): boolean {
    if (this.confirmers.has(from)) return false;
    this.confirmers.add(from);
    return true;
  }

  /** Independent confirmations beyond the first suspector. */
  get confirmations(): number {
    return this.confirmers.size - 1;
  }
}
