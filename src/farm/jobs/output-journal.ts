/**
 * A job's recent output in arrival order, for live watchers: each chunk gets the next
 * sequence number, and a watcher asks for the chunks after the last number it saw. The
 * journal keeps at most `charsMax` characters of chunk text counted as JSON (what it
 * costs in an answer, and at least its size in the heap); a watcher that fell behind
 * what was dropped is told so (`gap`) and resumes at the oldest chunk kept. The
 * per-process tails, not this, are the record.
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

/** What a text costs in a JSON answer: its length as a JSON string. */
export function jsonChars(text: string): number {
  return JSON.stringify(text).length;
}

interface Entry {
  readonly chunk: OutputChunk;
  readonly cost: number;
}

export class OutputJournal {
  private readonly chunks: Entry[] = [];
  /** Index in `chunks` of the oldest live one; compacted once half the array is dead. */
  private head = 0;
  private chars = 0;
  private lastSeq = 0;

  constructor(private readonly charsMax: number) {
    if (!Number.isSafeInteger(charsMax) || charsMax <= 0) throw new RangeError(`journal charsMax must be a positive integer, got ${charsMax}`);
  }

  /** The seq of the newest chunk (0 before the first). */
  get newest(): number {
    return this.lastSeq;
  }

  append(process: number, node: string, stream: OutputStream, text: string): number {
    if (text.length === 0) return this.lastSeq;
    const seq = ++this.lastSeq;
    // A chunk larger than the whole journal keeps only its end, like the tails do.
    const kept = lastFitting(text, this.charsMax);
    const cost = jsonChars(kept);
    this.chunks.push({ chunk: { seq, process, node, stream, text: kept }, cost });
    this.chars += cost;
    while (this.chars > this.charsMax) this.chars -= this.chunks[this.head++]!.cost;
    if (this.head > 1024 && this.head * 2 > this.chunks.length) {
      this.chunks.splice(0, this.head);
      this.head = 0;
    }
    return seq;
  }

  /** Chunks with seq > after: at most chunksMax of them and charsMax JSON characters of text, but at least one if any. */
  read(after: number, chunksMax: number, charsMax: number): JournalRead {
    const oldest = this.head < this.chunks.length ? this.chunks[this.head]!.chunk.seq : this.lastSeq + 1;
    const gap = after + 1 < oldest && after < this.lastSeq;
    const start = this.head + Math.max(0, after + 1 - oldest);
    const out: OutputChunk[] = [];
    let chars = 0;
    for (let i = start; i < this.chunks.length && out.length < chunksMax; i++) {
      const { chunk, cost } = this.chunks[i]!;
      if (out.length > 0 && chars + cost > charsMax) break;
      out.push(chunk);
      chars += cost;
    }
    return { chunks: out, next: out.length > 0 ? out[out.length - 1]!.seq : Math.min(Math.max(after, 0), this.lastSeq), gap };
  }
}

/**
 * The longest end of `text` whose JSON length is at most `charsMax`: the whole text when
 * it fits, else found by halving (a few JSON.stringify calls on a text that is cut anyway).
 */
export function lastFitting(text: string, charsMax: number): string {
  if (jsonChars(text) <= charsMax) return text;
  let low = 0;
  let high = Math.min(text.length, charsMax);
  // Invariant: the last `low` characters fit; the last `high + 1` do not (or exceed the text).
  while (low < high) {
    const middle = Math.ceil((low + high) / 2);
    if (jsonChars(text.slice(text.length - middle)) <= charsMax) low = middle;
    else high = middle - 1;
  }
  return text.slice(text.length - low);
}
