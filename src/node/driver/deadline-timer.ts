import { performance } from 'node:perf_hooks';

/**
 * Longest sleep, ms, even when the engine has nothing scheduled sooner: the wake-up
 * measures event-loop lag and keeps a driver from sleeping through a deadline it was
 * never told about.
 */
export const kIdleWakeMsMax = 1000;

/**
 * One timer that wakes a driver at the engine's next deadline instead of on a fixed
 * interval (issue 14, item 7: a quiet agent ticked 200 times a second on a 5 ms
 * setInterval). `armAt(deadlineMs)` moves the wake-up earlier, never later: a receive
 * that brings a deadline forward re-arms, one that does not costs a comparison. Wake-ups
 * are never closer together than `minimumGapMs` (the old tick interval), so a busy
 * node costs no more than before. `lagMs` is how late the last wake-up fired: the
 * event-loop lag this thread suffered, for Lifeguard.
 */
export class DeadlineTimer {
  /** How late the last wake-up fired, ms. */
  lagMs = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private armedAtMs = Infinity;
  private lastWakeMs = -Infinity;
  private stopped = false;
  private readonly minimumGapMs: number;
  private readonly onWake: () => void;

  constructor(minimumGapMs: number, onWake: () => void) {
    this.minimumGapMs = minimumGapMs;
    this.onWake = onWake;
  }

  /** Wakes at `deadlineMs` (performance.now() time) or sooner if already armed sooner. */
  armAt(deadlineMs: number): void {
    if (this.stopped) return;
    // Armed no later than the deadline: nothing below would change. The armed time is
    // either lastWakeMs + minimumGapMs (lastWakeMs is unchanged while the timer is
    // pending), which `at` never undercuts, or at most an earlier now + kIdleWakeMsMax,
    // so at most min(deadline, now + kIdleWakeMsMax) + 0.5 <= at + 0.5. Checked before
    // the clock read, whose double is an allocation: the receive path re-arms per batch.
    if (this.timer !== null && this.armedAtMs <= deadlineMs + 0.5) return;
    const now = performance.now();
    const at = Math.max(Math.min(deadlineMs, now + kIdleWakeMsMax), this.lastWakeMs + this.minimumGapMs);
    // Already armed for about then or sooner: nothing to do (the common case, no allocation).
    if (this.timer !== null && this.armedAtMs <= at + 0.5) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.armedAtMs = at;
    this.timer = setTimeout(this.fire, Math.max(0, at - now));
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private readonly fire = (): void => {
    const now = performance.now();
    // setTimeout rounds to whole milliseconds: up to 1 ms late is the timer, not lag.
    this.lagMs = Math.max(0, now - this.armedAtMs - 1);
    this.timer = null;
    this.armedAtMs = Infinity;
    this.lastWakeMs = now;
    this.onWake();
  };
}
