/**
 * Lifeguard's local health awareness: a score from 0 (healthy) to max that rises when
 * there is evidence that this node, not its peers, is the slow one (missed nacks,
 * having to refute a suspicion of itself, a lagging event loop) and falls with each
 * successful probe. Timeouts are stretched by (score + 1), so a struggling node probes
 * more gently and gives others longer to answer instead of accusing healthy members.
 */
export class Awareness {
  private score = 0;
  private readonly max: number;

  constructor(max: number) {
    this.max = max;
  }

  /** Adds delta (negative to improve), clamped to [0, max]. */
  apply(delta: number): void {
    this.score = Math.min(this.max, Math.max(0, this.score + delta));
  }

  get health(): number {
    return this.score;
  }

  /** A timeout stretched by the current score. */
  scale(timeoutMs: number): number {
    return timeoutMs * (this.score + 1);
  }
}
