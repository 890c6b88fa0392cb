/**
 * A job's recent output in arrival order, for live watchers: each chunk gets the next
 * sequence number, and a watcher asks for the chunks after the last number it saw. The
 * journal keeps at most `bytesMax` bytes of chunk text (UTF-16 length, the cost that
 * matters in a JS heap); a watcher that fell behind what was dropped is told so (`gap`)
 * and resumes at the oldest chunk kept. The per-process tails, not this, are the record.
 */
export type OutputStream = 'stdout' | 'stderr';

export interface OutputChunk {
  readonly seq: number;
  /** Index of the process in its job. */
  readonly process: number;
  readonly node: string;
  readonly stream: OutputStream;
  readonly text: string;
}

export interface JournalRead {
  readonly chunks: readonly OutputChunk[];
  /** The seq to ask after next time. */
  readonly next: number;
  /** Whether chunks after `after` were dropped before this read. */
  readonly gap: boolean;
}

export class OutputJournal {
  private readonly chunks: OutputChunk[] = [];
  /** Index in `chunks` of the oldest live one; compacted once half the array is dead. */
  private head = 0;
  private bytes = 0;
  private lastSeq = 0;

  constructor(private readonly bytesMax: number) {
    if (!Number.isSafeInteger(bytesMax) || bytesMax <= 0) throw new RangeError(`journal bytesMax must be a positive integer, got ${bytesMax}`);
  }

  /** The seq of the newest chunk (0 before the first). */
  get newest(): number {
    return this.lastSeq;
  }

  append(process: number, node: string, stream: OutputStream, text: string): number {
    if (text.length === 0) return this.lastSeq;
    const seq = ++this.lastSeq;
    // A chunk larger than the whole journal keeps only its end, like the tails do.
    const kept = text.length > this.bytesMax ? text.slice(text.length - this.bytesMax) : text;
    this.chunks.push({ seq, process, node, stream, text: kept });
    this.bytes += kept.length;
    while (this.bytes > this.bytesMax) this.bytes -= this.chunks[this.head++]!.text.length;
    if (this.head > 1024 && this.head * 2 > this.chunks.length) {
      this.chunks.splice(0, this.head);
      this.head = 0;
    }
    return seq;
  }

  /** Chunks with seq > after, at most chunksMax of them and about bytesMax of text (at least one chunk if any). */
  read(after: number, chunksMax: number, bytesMax: number): JournalRead {
    const oldest = this.head < this.chunks.length ? this.chunks[this.head]!.seq : this.lastSeq + 1;
    const gap = after + 1 < oldest && after < this.lastSeq;
    const start = this.head + Math.max(0, after + 1 - oldest);
    const out: OutputChunk[] = [];
    let bytes = 0;
    for (let i = start; i < this.chunks.length && out.length < chunksMax; i++) {
      const chunk = this.chunks[i]!;
      if (out.length > 0 && bytes + chunk.text.length > bytesMax) break;
      out.push(chunk);
      bytes += chunk.text.length;
    }
    return { chunks: out, next: out.length > 0 ? out[out.length - 1]!.seq : Math.min(Math.max(after, 0), this.lastSeq), gap };
  }
}
