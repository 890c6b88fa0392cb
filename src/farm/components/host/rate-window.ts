/**
 * At most `perSecondMax` admissions per one-second window. A fixed window rather than a
 * token bucket: the bound only has to stop a runaway component from flooding the agent's
 * event loop, and a fixed window needs two numbers and no arithmetic on fractions. It
 * takes the time as an argument, so it is tested without a clock.
 */
export class RateWindow {
  private windowStartMs = Number.NEGATIVE_INFINITY;
  private admitted = 0;

  constructor(private readonly perSecondMax: number) {
    if (!Number.isSafeInteger(perSecondMax) || perSecondMax < 1) throw new RangeError('perSecondMax must be a positive integer');
  }

  /** Whether one more admission at `nowMs` is within the bound (and counts it if so). */
  admit(nowMs: number): boolean {
    if (nowMs - this.windowStartMs >= 1000) {
      this.windowStartMs = nowMs;
      this.admitted = 0;
    }
    if (this.admitted >= this.perSecondMax) return false;
    this.admitted++;
    return true;
  }
}
