import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { threadId } from 'node:worker_threads';

/**
 * Where one channel message's time goes on its way through real agents (issue 18,
 * latency at 1,000 msg/s): a bench-only trace, off unless GALAXY_CHANNEL_TRACE_DIR names
 * a directory (bench:channels sets it with GALAXY_BENCH_TRACE=1).
 *
 * A traced message's payload carries a marker, `HOPT` and 8 decimal digits (its id),
 * which every hop that sees plaintext bytes (the API's send, the cluster core's outputs,
 * the worker's sends and receives, the inbox, the stream) finds by scanning the bytes it
 * holds: no header, no protocol change, so what is measured is the path untraced
 * messages take. Each hop records (id, hop, time) with process.hrtime.bigint(), the
 * machine's CLOCK_MONOTONIC, which every process and thread on one machine shares, so
 * the bench (its client) lines up the records of all agents and their workers. Records
 * are appended to `DIR/PID-THREAD.trace`, lines of `id hop nanoseconds`, every
 * kFlushMs and when kRecordsMax are buffered.
 *
 * When off, each hop costs one null check (`hopTrace === null`).
 */
const kMarker = Buffer.from('HOPT', 'latin1');
const kIdDigits = 8;
const kFlushMs = 200;
const kRecordsMax = 4096;

export class HopTrace {
  private lines: string[] = [];
  private readonly file: string;
  private timer: NodeJS.Timeout | null = null;

  constructor(dir: string) {
    mkdirSync(dir, { recursive: true });
    this.file = join(dir, `${process.pid}-${threadId}.trace`);
  }

  /** Records `hop` now for every marker in `bytes` (at most one record per id per call). */
  scan(hop: string, bytes: Uint8Array): void {
    const at = process.hrtime.bigint();
    const buffer = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let from = 0;
    let last = '';
    for (;;) {
      const i = buffer.indexOf(kMarker, from);
      if (i < 0 || i + kMarker.length + kIdDigits > buffer.length) break;
      const id = buffer.toString('latin1', i + kMarker.length, i + kMarker.length + kIdDigits);
      from = i + kMarker.length + kIdDigits;
      if (id === last || !/^\d+$/.test(id)) continue;
      last = id;
      this.record(id, hop, at);
    }
  }

  /** Records `hop` at `at` (hrtime ns) for one id. */
  record(id: string, hop: string, at: bigint = process.hrtime.bigint()): void {
    this.lines.push(`${id} ${hop} ${at}`);
    if (this.lines.length >= kRecordsMax) this.flush();
    else if (this.timer === null) {
      this.timer = setTimeout(() => this.flush(), kFlushMs);
      this.timer.unref();
    }
  }

  flush(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (this.lines.length === 0) return;
    const text = `${this.lines.join('\n')}\n`;
    this.lines = [];
    appendFileSync(this.file, text);
  }
}

/** The marker a traced payload starts with (the bench writes it). */
export function hopMarker(id: number): string {
  return `HOPT${String(id).padStart(kIdDigits, '0')}`;
}

const dir = process.env['GALAXY_CHANNEL_TRACE_DIR'];
/** The process's trace, or null (the default: nothing is traced). */
export const hopTrace: HopTrace | null = dir === undefined || dir === '' ? null : new HopTrace(dir);
