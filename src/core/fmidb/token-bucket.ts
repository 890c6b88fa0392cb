/**
 * The send budget: a token bucket of bytes refilled at ratePerSecond up to burstBytes,
 * driven by the caller's clock. A message may leave while the bucket is positive and
 * takes its whole size, so the bucket may go negative by at most one message: over any
 * window W the bytes sent stay within burstBytes + ratePerSecond * W + one message.
 * Why allow the overdraft: a catch-up frame can be larger than the burst, and must
 * still leave eventually.
 */
export class TokenBucket {
  readonly ratePerSecond: number;
  readonly burstBytes: number;
  private tokens: number;
  private lastMs: number;

  constructor(ratePerSecond: number, burstBytes: number, nowMs: number) {
    this.ratePerSecond = ratePerSecond;
    this.burstBytes = burstBytes;
    this.tokens = burstBytes;
    this.lastMs = nowMs;
  }

  /** Adds the tokens earned since the last refill (a clock that went back earns nothing). */
  refill(nowMs: number): void {
    const elapsedMs = nowMs - this.lastMs;
    if (!(elapsedMs > 0)) return;
    this.lastMs = nowMs;
    this.tokens = Math.min(this.burstBytes, this.tokens + (elapsedMs * this.ratePerSecond) / 1000);
  }

  /** True while a message may leave. */
  get open(): boolean {
    return this.tokens > 0;
  }

  get available(): number {
    return this.tokens;
  }

  spend(bytes: number): void {
    this.tokens -= bytes;
  }
}
