// Proves the layering rules can fail: dependency-cruiser with the project's own
// .dependency-cruiser.cjs, and scripts/check-folder-cycles.mjs, run over a small tree of
// deliberately broken fixtures (test/fixtures/layers: core importing ops and node:fs, two
// farm folders importing each other) and must report each violation; over the real src/
// they must report none (npm test's pretest runs them too, this keeps the proof).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../src/core/platform/package-root.js';

const root = packageRoot();
const depcruise = join(root, 'node_modules', '.bin', 'depcruise');
const config = join(root, '.dependency-cruiser.cjs');
const cycles = join(root, 'scripts', 'check-folder-cycles.mjs');
const fixtures = join(root, 'test', 'fixtures', 'layers');
// Reporters colour their output where they think a terminal or CI wants it: compare the text.
const plain = (text: string): string => text.replace(/\u001b\[[0-9;]*m/g, '');

describe('layer rules', () => {
  it('catch a lower layer importing a higher one and a node: built-in in core', () => {
    const run = spawnSync(depcruise, ['src', '--config', config, '--output-type', 'err'], { cwd: fixtures, encoding: 'utf8' });
    expect(run.status).not.toBe(0);
    expect(plain(run.stdout)).toContain('core-not-above: src/core/a/wrong-way.ts → src/ops/operator.ts');
    expect(plain(run.stdout)).toContain('core-no-io: src/core/a/wrong-way.ts → fs');
  });

  it('catch two feature folders importing each other', () => {
    const run = spawnSync(process.execPath, [cycles], { cwd: fixtures, encoding: 'utf8' });
    expect(run.status).toBe(1);
    expect(plain(run.stderr)).toContain('folder cycle: src/farm/x <-> src/farm/y');
  });

  it('hold on the real tree', () => {
    const lint = spawnSync(depcruise, ['src', 'workers', '--config', config, '--output-type', 'err'], { cwd: root, encoding: 'utf8' });
    expect(plain(lint.stdout + lint.stderr)).toContain('no dependency violations found');
    expect(lint.status).toBe(0);
    const folders = spawnSync(process.execPath, [cycles], { cwd: root, encoding: 'utf8' });
    expect(plain(folders.stdout)).toContain('folder cycles: none');
    expect(folders.status).toBe(0);
  }, 60_000);
});
