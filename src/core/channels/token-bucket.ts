/**
 * A token bucket: tokens accrue at ratePerSecond up to depth; each message takes one.
 * Time comes in as nowMs (the core's tick), so it is exact and replayable. Rate and
 * depth change at runtime; the tokens already held are kept (clipped to the new depth).
 */
export class TokenBucket {
  private ratePerSecond: number;
  private depth: number;
  private tokens: number;
  private lastMs: number;

  constructor(ratePerSecond: number, depth: number, nowMs: number) {
    this.ratePerSecond = ratePerSecond;
    this.depth = depth;
    this.tokens = depth;
    this.lastMs = nowMs;
  }

  /** Changes the rate and depth from nowMs on. */
  set(ratePerSecond: number, depth: number, nowMs: number): void {
    this.refill(nowMs);
    this.ratePerSecond = ratePerSecond;
    this.depth = depth;
    this.tokens = Math.min(this.tokens, depth);
  }

  /** Takes one token if there is one at nowMs. */
  take(nowMs: number): boolean {
    if (this.ratePerSecond === Infinity) return true;
    this.refill(nowMs);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** How long from nowMs until a token is available (0 when one is). */
  waitMs(nowMs: number): number {
    if (this.ratePerSecond === Infinity) return 0;
    this.refill(nowMs);
    return this.tokens >= 1 ? 0 : ((1 - this.tokens) * 1000) / this.ratePerSecond;
  }

  private refill(nowMs: number): void {
    if (nowMs <= this.lastMs) return;
    this.tokens = Math.min(this.depth, this.tokens + ((nowMs - this.lastMs) * this.ratePerSecond) / 1000);
    this.lastMs = nowMs;
  }
}
