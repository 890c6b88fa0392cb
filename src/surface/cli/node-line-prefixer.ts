/**
 * Live output of many processes, as `galaxy job run` prints it: each complete line
 * prefixed by the node it came from (`0a1b2c3d4e5f6071: line`), like pdsh. Output
 * arrives in chunks cut anywhere, so each process's and stream's unfinished last line
 * is held until its end arrives (or the job ends: flush). A held line is bounded: past
 * kHeldCharsMax it is printed as it is, so a process that never writes a newline still
 * shows up.
 */
export const kHeldCharsMax = 64 * 1024;

export interface PrefixedLine {
  readonly stream: 'stdout' | 'stderr';
  readonly text: string;
}

export class NodeLinePrefixer {
  private readonly held = new Map<string, { node: string; stream: 'stdout' | 'stderr'; text: string }>();

  /** Lines completed by a chunk, prefixed. */
  push(process: number, node: string, stream: 'stdout' | 'stderr', text: string): PrefixedLine[] {
    const key = `${process}/${stream}`;
    const joined = (this.held.get(key)?.text ?? '') + text;
    const parts = joined.split('\n');
    const rest = parts.pop()!;
    const lines = parts.map((line) => ({ stream, text: `${node}: ${line}` }));
    if (rest.length > kHeldCharsMax) {
      lines.push({ stream, text: `${node}: ${rest}` });
      this.held.delete(key);
    } else if (rest === '') this.held.delete(key);
    else this.held.set(key, { node, stream, text: rest });
    return lines;
  }

  /** The unfinished lines, prefixed (the job ended without their newline). */
  flush(): PrefixedLine[] {
    const lines = [...this.held.values()].map((h) => ({ stream: h.stream, text: `${h.node}: ${h.text}` }));
    this.held.clear();
    return lines;
  }
}
