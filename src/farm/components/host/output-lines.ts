import type { Readable } from 'node:stream';

/**
 * Splits a component's stdout or stderr into lines for the agent's log, with bounded
 * memory: a line longer than `lineLengthMax` is cut there and the rest of it, up to the
 * next newline, is skipped. A component printing megabytes without a newline costs the
 * agent at most `lineLengthMax` characters.
 *
 * The pipes must be read: a child that fills an unread pipe blocks in write() and then
 * looks hung. Its output must not be inherited either: the agent's stdout carries the
 * one-line-per-event stream that tools and tests parse.
 */
export class LineSplitter {
  private partial = '';
  private skipping = false;

  constructor(
    private readonly lineLengthMax: number,
    private readonly onLine: (line: string, cut: boolean) => void,
  ) {}

  push(chunk: string): void {
    let start = 0;
    for (;;) {
      const newline = chunk.indexOf('\n', start);
      const end = newline < 0 ? chunk.length : newline;
      this.take(chunk.slice(start, end));
      if (newline < 0) return;
      this.finishLine();
      start = newline + 1;
    }
  }

  /** Emits what is left after the stream ended without a final newline. */
  end(): void {
    if (this.partial !== '' && !this.skipping) this.onLine(this.partial, false);
    this.partial = '';
    this.skipping = false;
  }

  private take(piece: string): void {
    if (this.skipping || piece === '') return;
    const room = this.lineLengthMax - this.partial.length;
    if (piece.length <= room) {
      this.partial += piece;
      return;
    }
    this.onLine(this.partial + piece.slice(0, room), true);
    this.partial = '';
    this.skipping = true;
  }

  private finishLine(): void {
    if (!this.skipping) this.onLine(this.partial.endsWith('\r') ? this.partial.slice(0, -1) : this.partial, false);
    this.partial = '';
    this.skipping = false;
  }
}

/** Feeds a readable stream's text into a LineSplitter. */
export function splitLines(stream: Readable, lineLengthMax: number, onLine: (line: string, cut: boolean) => void): void {
  const splitter = new LineSplitter(lineLengthMax, onLine);
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => splitter.push(chunk));
  stream.on('end', () => splitter.end());
  // A pipe error after the child died says nothing the exit does not.
  stream.on('error', () => splitter.end());
}
