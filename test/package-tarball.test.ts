// Proves that the published tarball is what an integrator should get (issue 16, item 7):
// `npm pack --dry-run` (scripts skipped: the file list is what is checked) lists the
// LICENSE (the Apache-2.0 text the package names), the built library, workers and Wasm
// kernel, the native sources and their build script, and none of: source maps (the
// TypeScript sources are not shipped, so maps would point at nothing; the published
// build, tsconfig.package.json, makes none), the .wat text of the kernel, the
// benchmarks, the tests. Then the addon is built from the packed files as `npm install`
// would (node_modules/galaxy-farm beside node-addon-api) and nothing is left outside
// build/: no stray node-addon-api/ folder. `*.tgz` is ignored by git. And the package
// description and `galaxy --help` claim only what exists: clusters built from profiles, not
// the libraries, the management cluster or the console.
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../src/core/platform/package-root.js';

const root = packageRoot();

/** Runs a command without blocking this worker's event loop (vitest talks to it meanwhile). */
function run(command: string, args: readonly string[], cwd: string): Promise<{ status: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('exit', (status) => resolve({ status, output }));
  });
}

function packedFiles(): string[] {
  const json = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return (JSON.parse(json) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map((f) => f.path);
}

describe('the package tarball', () => {
  const files = packedFiles();

  it('ships the license, the built code and the native sources, and no maps, .wat, benchmarks or tests', () => {
    expect(files).toContain('LICENSE');
    expect(readFileSync(join(root, 'LICENSE'), 'utf8')).toMatch(/Apache License\s+Version 2\.0, January 2004[\s\S]*END OF TERMS AND CONDITIONS/);
    expect((JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { license: string }).license).toBe('Apache-2.0');
    for (const wanted of ['dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/ops/cli/main.js', 'dist/workers/agent-worker.js', 'dist/bundle/galaxy.cjs', 'dist/bundle/galaxy-main.js', 'dist/bundle/agent-worker.cjs', 'dist/bundle/agent-worker-main.js', 'dist/asm/galaxy.wasm', 'native/udp_socket.cc', 'binding.gyp', 'scripts/build-native.mjs']) expect(files).toContain(wanted);
    const unwanted = files.filter((f) => f.endsWith('.map') || f.endsWith('.wat') || f.includes('bench') || f.startsWith('test/') || f.endsWith('.tgz') || f.includes('/.cache/'));
    expect(unwanted).toEqual([]);
    const published = JSON.parse(readFileSync(join(root, 'tsconfig.package.json'), 'utf8')) as { compilerOptions: { sourceMap: boolean }; include: string[] };
    expect(published.compilerOptions.sourceMap).toBe(false);
    expect(published.include.some((pattern) => pattern.includes('bench'))).toBe(false);
    expect(readFileSync(join(root, '.gitignore'), 'utf8').split('\n')).toContain('*.tgz');
  });

  it('claims the cluster service, profiles, the designer and profile-built clusters that landed, and promises nothing else of the cluster half', () => {
    const description = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { description: string }).description;
    const help = execFileSync(process.execPath, [join(root, 'dist', 'src', 'ops', 'cli', 'main.js'), '--help'], { encoding: 'utf8' });
    for (const text of [description, help.replace(/\s+/g, ' ')]) {
      // Landed: clusters with consensus views and their channels on real agents, profiles and the designer.
      expect(text).toMatch(/consensus views/);
      expect(text).toMatch(/channels/);
      expect(text).toMatch(/Cluster Designer/);
      expect(text).toMatch(/clusters built from profiles \(components installed per role; members replaced and grown, upgraded one at a time with rollback, deleted/);
      expect(text).not.toMatch(/coming/);
      // Not landed: the component and client libraries, the management cluster, the console.
      expect(text).not.toMatch(/client library|component library|console|lock service|linearizab|management cluster/i);
    }
  });

  it('builds its addon from the packed files without leaving a node-addon-api/ folder in the package', async () => {
    const project = mkdtempSync(join(tmpdir(), 'galaxy-tarball-'));
    const installed = join(project, 'node_modules', 'galaxy-farm');
    mkdirSync(installed, { recursive: true });
    for (const file of files) {
      mkdirSync(dirname(join(installed, file)), { recursive: true });
      cpSync(join(root, file), join(installed, file));
    }
    symlinkSync(dirname(createRequire(join(root, 'package.json')).resolve('node-addon-api/package.json')), join(project, 'node_modules', 'node-addon-api'));
    const build = await run(process.execPath, [join(installed, 'scripts', 'build-native.mjs')], installed);
    expect(build.status, build.output).toBe(0);
    // Without a C++ toolchain the script skips the addon (and says so); then there is nothing to look at.
    if (!existsSync(join(installed, 'build', 'Release', 'galaxy_native.node'))) {
      expect(build.output).toMatch(/was not built/);
      return;
    }
    const before = new Set(files.map((f) => f.split('/')[0]!));
    expect(readdirSync(installed).filter((entry) => !before.has(entry))).toEqual(['build']);
  }, 180_000);
});
