// Proves the layering rules can fail: dependency-cruiser with the project's own
// .dependency-cruiser.cjs, scripts/check-folder-cycles.mjs and scripts/check-core-purity.mjs,
// run over a small tree of deliberately broken fixtures (test/fixtures/layers: core
// importing ops, node:fs and the package's entry point, two farm folders importing each
// other, core reading the clock, arming a timer, drawing Math.random and reading
// process.env, the simulator drawing Math.random) and must report each violation; over
// the real src/ they must report none (npm test's pretest runs them too, this keeps the
// proof).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../src/core/platform/package-root.js';

const root = packageRoot();
const depcruise = join(root, 'node_modules', '.bin', 'depcruise');
const config = join(root, '.dependency-cruiser.cjs');
const cycles = join(root, 'scripts', 'check-folder-cycles.mjs');
const purity = join(root, 'scripts', 'check-core-purity.mjs');
const fixtures = join(root, 'test', 'fixtures', 'layers');
// Reporters colour their output where they think a terminal or CI wants it: compare the text.
const plain = (text: string): string => text.replace(/\u001b\[[0-9;]*m/g, '');

describe('layer rules', () => {
  it('catch a lower layer importing a higher one, a node: built-in in core, and a layer importing the package entry points', () => {
    const run = spawnSync(depcruise, ['src', '--config', config, '--output-type', 'err'], { cwd: fixtures, encoding: 'utf8' });
    expect(run.status).not.toBe(0);
    expect(plain(run.stdout)).toContain('core-not-above: src/core/a/wrong-way.ts → src/ops/operator.ts');
    expect(plain(run.stdout)).toContain('core-no-io: src/core/a/wrong-way.ts → fs');
    expect(plain(run.stdout)).toContain('entry-points-on-top: src/core/b/uses-entry.ts → src/exports/api.ts');
  });

  it('catch two feature folders importing each other', () => {
    const run = spawnSync(process.execPath, [cycles], { cwd: fixtures, encoding: 'utf8' });
    expect(run.status).toBe(1);
    expect(plain(run.stderr)).toContain('folder cycle: src/farm/x <-> src/farm/y');
  });

  it('catch the clock, timers, Math.random and the process in core, and the clock and Math.random in the simulator', () => {
    const run = spawnSync(process.execPath, [purity, fixtures], { cwd: fixtures, encoding: 'utf8' });
    expect(run.status).toBe(1);
    const found = plain(run.stderr)
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
  });

  it('hold on the real tree', () => {
    const lint = spawnSync(depcruise, ['src', 'workers', '--config', config, '--output-type', 'err'], { cwd: root, encoding: 'utf8' });
    expect(plain(lint.stdout + lint.stderr)).toContain('no dependency violations found');
    expect(lint.status).toBe(0);
    const folders = spawnSync(process.execPath, [cycles], { cwd: root, encoding: 'utf8' });
    expect(plain(folders.stdout)).toContain('folder cycles: none');
    expect(folders.status).toBe(0);
    const pure = spawnSync(process.execPath, [purity], { cwd: root, encoding: 'utf8' });
    expect(plain(pure.stdout + pure.stderr)).toContain('core purity: no clock, timer, randomness or process use');
    expect(pure.status).toBe(0);
    // A bound, not a measurement: three tools over the whole tree took 84-104 s on a
    // 2-vCPU machine at a load average of 30-45 (60 s timed out there).
  }, 300_000);
});
