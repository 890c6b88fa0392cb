/**
 * The progress of `galaxy simulate` on stderr. On a terminal: one bar redrawn in place
 * (all runs together, and the runs in flight by name). Elsewhere (a pipe, a CI log): a
 * plain line when a run starts, each time it passes a quarter, and when it ends, so a
 * log stays short and readable.
 */
export interface ProgressStream {
  write(text: string): boolean;
  isTTY?: boolean;
  columns?: number;
}

const kBarWidth = 30;
/** Redraws of the terminal bar are at most this often, wall ms. */
const kRedrawEveryMs = 100;
/** Plain lines are printed at these fractions of a run. */
const kPlainSteps = 4;

export class ProgressDisplay {
  private readonly fractions: number[];
  private readonly state: Array<'waiting' | 'running' | 'done'>;
  private readonly plainStep: number[];
  private lastDrawMs = -Infinity;
  private done = 0;

  constructor(
    private readonly stream: ProgressStream,
    private readonly labels: readonly string[],
    private readonly nowMs: () => number = () => performance.now(),
  ) {
    this.fractions = labels.map(() => 0);
    this.state = labels.map(() => 'waiting');
    this.plainStep = labels.map(() => 0);
  }

  start(index: number): void {
    this.state[index] = 'running';
    if (!this.stream.isTTY) this.stream.write(`simulate: ${this.labels[index]} started\n`);
    else this.draw(true);
  }

  progress(index: number, simulatedMs: number, totalMs: number): void {
    const fraction = totalMs > 0 ? Math.min(1, simulatedMs / totalMs) : 1;
    this.fractions[index] = fraction;
    if (!this.stream.isTTY) {
      const step = Math.floor(fraction * kPlainSteps);
      if (step > this.plainStep[index]! && step < kPlainSteps) {
        this.plainStep[index] = step;
        this.stream.write(`simulate: ${this.labels[index]} ${Math.round(fraction * 100)}% (${(simulatedMs / 1000).toFixed(0)} of ${(totalMs / 1000).toFixed(0)} simulated s)\n`);
      }
      return;
    }
    this.draw(false);
  }

  finish(index: number, status: string): void {
    this.state[index] = 'done';
    this.fractions[index] = 1;
    this.done++;
    if (!this.stream.isTTY) {
      this.stream.write(`simulate: ${this.labels[index]} ${status} [${this.done}/${this.labels.length}]\n`);
      return;
    }
    this.clear();
    this.stream.write(`  ${this.labels[index]}: ${status}\n`);
    this.draw(true);
  }

  /** Removes the bar, leaving the terminal as it was. */
  close(): void {
    if (this.stream.isTTY) this.clear();
  }

  private clear(): void {
    this.stream.write('\r\x1b[2K');
  }

  private draw(force: boolean): void {
    const now = this.nowMs();
    if (!force && now - this.lastDrawMs < kRedrawEveryMs) return;
    this.lastDrawMs = now;
    const total = this.fractions.reduce((a, b) => a + b, 0) / Math.max(1, this.labels.length);
    const filled = Math.round(total * kBarWidth);
    const running = this.labels.map((label, i) => (this.state[i] === 'running' ? `${label} ${Math.round(this.fractions[i]! * 100)}%` : null)).filter((s) => s !== null);
    let line = `[${'#'.repeat(filled)}${'-'.repeat(kBarWidth - filled)}] ${Math.round(total * 100)}% ${this.done}/${this.labels.length} runs ${running.join(', ')}`;
    const width = (this.stream.columns ?? 100) - 1;
    if (line.length > width) line = line.slice(0, width);
    this.stream.write(`\r\x1b[2K${line}`);
  }
}
