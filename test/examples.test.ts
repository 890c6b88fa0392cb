// Proves the library surface through the examples an integrator reads (issue 16, item
// 1): examples/three-members.mjs (three farm nodes embedded in one process converge, one
// closes, the others see its `leave` both through the async iterator and the
// EventEmitter, an FMIDB attribute set on one is read on another) and
// examples/simulated-farm.mjs (50 engines in the simulator converge and detect a crash)
// run in the checkout, importing `galaxy-farm` and `galaxy-farm/sim` by package name.
// Then what integrators get: the files `npm pack` lists are laid out as
// node_modules/galaxy-farm of an empty project, beside its runtime dependencies (linked
// from this checkout: the machine has no registry access, so `npm install` of the tarball
// itself is not run), and both examples run from that project: the exports map, the
// files list and the built code are enough. Every subpath export resolves there.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../src/core/platform/package-root.js';

const root = packageRoot();
const kExamples = ['three-members.mjs', 'simulated-farm.mjs'];
const kExampleTimeoutMs = 90_000;

/** Runs an example without blocking this worker's event loop (vitest talks to it meanwhile). */
function runExample(file: string, cwd: string): Promise<{ status: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [file], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), kExampleTimeoutMs);
    child.on('exit', (status) => {
      clearTimeout(timer);
      resolve({ status, output });
    });
  });
}

describe('the examples', () => {
  for (const example of kExamples) {
    it(`${example} runs in the checkout`, async () => {
      const run = await runExample(join(root, 'examples', example), root);
      expect(run.status, run.output).toBe(0);
      if (example === 'three-members.mjs') expect(run.output).toMatch(/b saw leave of [0-9a-f]{16}; a saw leave of/);
      else expect(run.output).toMatch(/every survivor holds 49 alive/);
    }, 100_000);
  }

  it('run against the packed package in an empty project, and every subpath export resolves', async () => {
    const files = (JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map((f) => f.path);
    expect(files).toEqual(expect.arrayContaining(kExamples.map((e) => `examples/${e}`)));
    const project = mkdtempSync(join(tmpdir(), 'galaxy-integrator-'));
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'integrator', private: true, type: 'module' }));
    const installed = join(project, 'node_modules', 'galaxy-farm');
    for (const file of files) {
      mkdirSync(dirname(join(installed, file)), { recursive: true });
      cpSync(join(root, file), join(installed, file));
    }
    const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; exports: Record<string, unknown> };
    for (const dependency of Object.keys(manifest.dependencies)) {
      mkdirSync(dirname(join(project, 'node_modules', dependency)), { recursive: true });
      symlinkSync(join(root, 'node_modules', dependency), join(project, 'node_modules', dependency));
    }
    const subpaths = Object.keys(manifest.exports).filter((key) => key !== './package.json').map((key) => `galaxy-farm${key.slice(1)}`);
    expect(subpaths.sort()).toEqual(['galaxy-farm', 'galaxy-farm/client', 'galaxy-farm/component', 'galaxy-farm/sim']);
    const imports = spawnSync(process.execPath, ['--input-type=module', '-e', `${subpaths.map((s, i) => `import * as m${i} from '${s}';`).join(' ')} console.log([${subpaths.map((_, i) => `typeof m${i}.${['startFarmNode', 'ApiClient', 'defineComponent', 'NetworkSimulator'][i]}`).join(', ')}].join(' '));`], { cwd: project, encoding: 'utf8' });
    expect(imports.stdout.trim(), imports.stderr).toBe('function function function function');
    for (const example of kExamples) {
      cpSync(join(installed, 'examples', example), join(project, example));
      const run = await runExample(join(project, example), project);
      expect(run.status, `${example}: ${run.output}`).toBe(0);
    }
  }, 200_000);
});
