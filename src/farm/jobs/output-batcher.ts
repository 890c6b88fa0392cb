import { kOutputChunkBytesMax, kPendingOutputBytesMax } from './jobs-limits.js';
import type { OutputStream } from './output-journal.js';
import { utf8CompletePrefixLength } from './utf8-boundary.js';

/**
 * A process's output on its node, waiting to be sent to the job's coordinator. Output
 * arrives in pipe-sized pieces much faster than it is worth sending; the batcher joins
 * them, and the node sends one report per process at a time (so reports arrive in
 * order) every flush interval. Bounded: when the coordinator is slower than the process
 * (or unreachable), at most pendingBytesMax wait; older pending bytes are dropped first
 * and counted, since the end of the output is what the coordinator's tail keeps anyway.
 * Reports carry text, cut only on UTF-8 character boundaries.
 */
export interface OutputReport {
  readonly stdout: string;
  readonly stderr: string;
}

class Pending {
  parts: Uint8Array[] = [];
  bytes = 0;

  push(bytes: Uint8Array): void {
    this.parts.push(bytes);
    this.bytes += bytes.length;
  }

  /** Drops `count` bytes from the front. */
  dropFront(count: number): void {
    let left = count;
    while (left > 0 && this.parts.length > 0) {
      const first = this.parts[0]!;
      if (first.length <= left) {
        this.parts.shift();
        left -= first.length;
      } else {
        this.parts[0] = first.subarray(left);
        left = 0;
      }
    }
    this.bytes -= count - left;
  }

  /** Takes up to `max` bytes from the front, ending on a character boundary unless `all`. */
  take(max: number, all: boolean): Uint8Array {
    const joined = concat(this.parts, this.bytes);
    let length = Math.min(max, joined.length);
    if (!all || length < joined.length) {
      const complete = utf8CompletePrefixLength(joined.subarray(0, length));
      // Hold back an incomplete character, unless that would send nothing from a full chunk.
      if (complete > 0 || length < max) length = complete;
    }
    const taken = joined.subarray(0, length);
    const rest = joined.subarray(length);
    this.parts = rest.length > 0 ? [rest] : [];
    this.bytes = rest.length;
    return taken;
  }
}

function concat(parts: readonly Uint8Array[], total: number): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

export class OutputBatcher {
  private readonly stdout = new Pending();
  private readonly stderr = new Pending();
  /** Bytes dropped here (pending bound) or lost in reports that failed. */
  undeliveredBytes = 0;

  constructor(
    private readonly pendingBytesMax = kPendingOutputBytesMax,
    private readonly chunkBytesMax = kOutputChunkBytesMax,
  ) {}

  get pendingBytes(): number {
    return this.stdout.bytes + this.stderr.bytes;
  }

  push(stream: OutputStream, bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    const pending = stream === 'stdout' ? this.stdout : this.stderr;
    const other = stream === 'stdout' ? this.stderr : this.stdout;
    pending.push(bytes);
    const excess = this.pendingBytes - this.pendingBytesMax;
    if (excess <= 0) return;
    // Drop the oldest of this stream first: the other stream's pending output is not to blame.
    const fromThis = Math.min(excess, pending.bytes);
    pending.dropFront(fromThis);
    other.dropFront(excess - fromThis);
    this.undeliveredBytes += excess;
  }

  /**
   * The next report (at most chunkBytesMax bytes of both streams), or null when nothing
   * is pending. With `final` (the process has ended) an incomplete character at the very
   * end is sent as it is: no more bytes will complete it.
   */
  take(final: boolean): OutputReport | null {
    if (this.pendingBytes === 0) return null;
    const stdout = this.stdout.take(this.chunkBytesMax, final);
    const stderr = this.stderr.take(this.chunkBytesMax - stdout.length, final);
    if (stdout.length === 0 && stderr.length === 0) return null;
    const decoder = new TextDecoder('utf-8', { fatal: false });
    return { stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
  }

  /** Counts a report that could not be delivered. */
  lost(report: OutputReport): void {
    this.undeliveredBytes += new TextEncoder().encode(report.stdout).length + new TextEncoder().encode(report.stderr).length;
  }
}
