// The bench-only hop trace (src/node/util/hop-trace.ts, bench:channels GALAXY_BENCH_TRACE=1):
// a marker (HOPT and 8 digits) is found wherever it sits in the bytes a hop holds (a
// cluster envelope packing several messages), each id once per scan, with a
// CLOCK_MONOTONIC time; the records reach the process's trace file as `id hop ns` lines.
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { threadId } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { HopTrace, hopMarker, hopTrace } from '../src/node/util/hop-trace.js';

describe('HopTrace', () => {
  it('is off unless GALAXY_CHANNEL_TRACE_DIR is set', () => {
    expect(process.env['GALAXY_CHANNEL_TRACE_DIR']).toBeUndefined();
    expect(hopTrace).toBeNull();
  });

  it('records every marker in a pack once per scan, in order, with monotonic times', () => {
    const dir = mkdtempSync(join(tmpdir(), 'galaxy-hop-trace-test-'));
    const trace = new HopTrace(dir);
    const before = process.hrtime.bigint();
    // Three messages packed behind a header, one id twice in a row (a retransmitted copy), and a marker cut off at the end.
    const pack = Buffer.concat([Buffer.from([1, 2, 3, 4]), Buffer.from(`${hopMarker(7)} xxxx`), Buffer.from([0, 9]), Buffer.from(`${hopMarker(12345678)} yy${hopMarker(12345678)}`), Buffer.from(`${hopMarker(42)}z`), Buffer.from('HOPT123')]);
    trace.scan('main.out', new Uint8Array(pack.buffer, pack.byteOffset, pack.byteLength));
    trace.scan('main.in', Buffer.from('no marker here'));
    trace.flush();
    const files = readdirSync(dir);
    expect(files).toEqual([`${process.pid}-${threadId}.trace`]);
    const lines = readFileSync(join(dir, files[0]!), 'utf8').trim().split('\n').map((l) => l.split(' '));
    expect(lines.map(([id, hop]) => `${id} ${hop}`)).toEqual(['00000007 main.out', '12345678 main.out', '00000042 main.out']);
    for (const [, , ns] of lines) expect(BigInt(ns!) >= before && BigInt(ns!) <= process.hrtime.bigint()).toBe(true);
  });
});
