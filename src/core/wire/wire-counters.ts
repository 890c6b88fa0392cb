import { wireErrorName } from './wire-error.js';

/**
 * Counts datagrams accepted and rejected, rejections by stable error name. Every
 * listener keeps one, and /metrics exports it: a rejected datagram is never silent.
 */
export class WireCounters {
  accepted = 0;
  rejected = 0;
  readonly rejectedByCode = new Map<string, number>();

  /** Records the result of a decode or merge kernel call (count, or negated error). */
  record(result: number): void {
    if (result >= 0) {
      this.accepted++;
      return;
    }
    this.rejected++;
    const name = wireErrorName(-result);
    this.rejectedByCode.set(name, (this.rejectedByCode.get(name) ?? 0) + 1);
  }
}
