// Proves `npm start`'s demo end to end: it starts 5 real agents on loopback, prints
// their convergence, kills one and reports every other agent marking it dead, restarts
// it and reports the rejoin, then (with --duration) stops every process and exits 0.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../src/core/platform/package-root.js';

describe('the embedded demo', () => {
  it('converges, detects a crash, readmits the restart and shuts down cleanly', () => {
    const run = spawnSync(process.execPath, [join(packageRoot(), 'dist', 'src', 'ops', 'cli', 'main.js'), 'demo', '--duration', '1'], { encoding: 'utf8', timeout: 90_000 });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/Converged at .*every agent sees all 5 members/);
    expect(run.stdout).toMatch(/every other agent marked it dead \d+ ms after the kill/);
    expect(run.stdout).toMatch(/it rejoined/);
    expect(run.stdout).toMatch(/All agents stopped/);
  });
});
