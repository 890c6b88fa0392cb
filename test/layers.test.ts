// Proves the layering rules can fail: dependency-cruiser with the project's own
// .dependency-cruiser.cjs, scripts/check-folder-cycles.mjs and scripts/check-core-purity.mjs,
// run over a small tree of deliberately broken fixtures (test/fixtures/layers: core
// importing ops, node:fs and the package's entry point, farm domain code importing the
// operator surface (its routes file may), two farm folders importing each other, core reading the clock, arming a timer, drawing Math.random and reading
// process.env, the simulator drawing Math.random) and must report each violation; over
// the real src/ they must report none (npm test's pretest runs them too, this keeps the
// proof).
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../src/core/platform/package-root.js';
import { runProcess, type ProcessResult } from './support/run-process.js';

const root = packageRoot();
const depcruise = join(root, 'node_modules', '.bin', 'depcruise');
const config = join(root, '.dependency-cruiser.cjs');
const cycles = join(root, 'scripts', 'check-folder-cycles.mjs');
const purity = join(root, 'scripts', 'check-core-purity.mjs');
const fixtures = join(root, 'test', 'fixtures', 'layers');
// Reporters colour their output where they think a terminal or CI wants it: compare the text.
const plain = (text: string): string => text.replace(/\u001b\[[0-9;]*m/g, '');
// Each check runs as a child process awaited without blocking this worker's event loop
// (a synchronous spawn of a whole-tree cruise on a loaded machine starved vitest's own
// RPC: 'Timeout calling onTaskUpdate').
const run = (command: string, args: readonly string[], cwd: string): Promise<ProcessResult> => runProcess(command, args, { cwd });
// Three cruises of the whole tree on a loaded 2-vCPU machine took over a minute: a bound, not a target.
const kRealTreeTimeoutMs = 300_000;
const kFixtureTimeoutMs = 120_000;

describe('layer rules', () => {
  it('catch a lower layer importing a higher one, a node: built-in in core, a layer importing the package entry points, and farm domain code importing the surface', async () => {
    const result = await run(depcruise, ['src', '--config', config, '--output-type', 'err'], fixtures);
    expect(result.status).not.toBe(0);
    expect(plain(result.stdout)).toContain('core-not-above: src/core/a/wrong-way.ts → src/ops/operator.ts');
    expect(plain(result.stdout)).toContain('core-no-io: src/core/a/wrong-way.ts → fs');
    expect(plain(result.stdout)).toContain('entry-points-on-top: src/core/b/uses-entry.ts → src/exports/api.ts');
    expect(plain(result.stdout)).toContain('domain-not-to-surface: src/farm/z/z-domain.ts → src/surface/api/api-types.ts');
    // a feature's routes are its surface adapter: the same import from z-routes.ts is allowed
    expect(plain(result.stdout)).not.toContain('src/farm/z/z-routes.ts');
  }, kFixtureTimeoutMs);

  it('catch two feature folders importing each other', async () => {
    const result = await run(process.execPath, [cycles], fixtures);
    expect(result.status).toBe(1);
    expect(plain(result.stderr)).toContain('folder cycle: src/farm/x <-> src/farm/y');
  }, kFixtureTimeoutMs);

  it('catch the clock, timers, Math.random and the process in core, and the clock and Math.random in the simulator', async () => {
    const result = await run(process.execPath, [purity, fixtures], fixtures);
    expect(result.status).toBe(1);
    const found = plain(result.stderr)
      .split('\n')
      .filter((line) => line.startsWith('core purity: src/'))
      .map((line) => line.slice('core purity: '.length));
    expect(found).toEqual([
      'src/core/c/clock.ts:7:19 Date.now',
      'src/core/c/clock.ts:8:3 setTimeout()',
      'src/core/c/clock.ts:9:17 new Date() (the wall clock)',
      'src/core/c/clock.ts:10:20 Math.random',
      'src/core/c/clock.ts:10:61 process.env',
      'src/sim/sim.ts:4:16 performance.now',
      'src/sim/sim.ts:5:16 Math.random',
    ]);
  }, kFixtureTimeoutMs);

  it('hold on the real tree', async () => {
    const lint = await run(depcruise, ['src', 'workers', '--config', config, '--output-type', 'err'], root);
    expect(plain(lint.stdout + lint.stderr)).toContain('no dependency violations found');
    expect(lint.status).toBe(0);
    const folders = await run(process.execPath, [cycles], root);
    expect(plain(folders.stdout)).toContain('folder cycles: none');
    expect(folders.status).toBe(0);
    const pure = await run(process.execPath, [purity], root);
    expect(plain(pure.stdout + pure.stderr)).toContain('core purity: no clock, timer, randomness or process use');
    expect(pure.status).toBe(0);
  }, kRealTreeTimeoutMs);
});
