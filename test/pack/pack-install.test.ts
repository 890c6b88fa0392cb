// Proves that the published package installs and runs the way an integrator gets it
// (issue 16, items 1 and 7), with npm itself: `npm pack` of this checkout (its build is
// what CI's `npm ci` made; scripts are not rerun), then `npm install TARBALL` into an
// empty project whose package.json allows the two install scripts (galaxy-farm's addon
// build and better-sqlite3's binding), as the README tells integrators. Dependencies come
// from the npm cache or the npm registry only: better-sqlite3 is built from source
// (npm_config_build_from_source) instead of fetching a prebuilt binary from GitHub. From
// that project: `npx galaxy --help` and `npx galaxy doctor` answer, better-sqlite3 loads,
// `galaxy agent` starts (a "started" line, its API answering /v1/health), leaves on
// SIGTERM (a "stopped" line, exit 0), and examples/three-members.mjs, copied into the
// project so that it imports `galaxy-farm` as a dependency, converges and sees a leave.
// It compiles SQLite, so it takes minutes: `npm run test:pack` (.ci/run), not `npm test`.
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/core/platform/package-root.js';
import { freePort } from '../support/agents.js';

const root = packageRoot();
const work = mkdtempSync(join(tmpdir(), 'galaxy-pack-'));
const project = join(work, 'project');

/** Runs a command to its end without blocking this worker's event loop. */
function run(command: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = process.env, timeoutMs = 600_000): Promise<{ status: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (status) => {
      clearTimeout(timer);
      resolve({ status, output });
    });
  });
}

describe('the packed package, installed with npm', () => {
  it('packs, and installs into an empty project with its install scripts, from npm only', async () => {
    const pack = spawnSync('npm', ['pack', '--ignore-scripts', '--pack-destination', work], { cwd: root, encoding: 'utf8' });
    expect(pack.status, pack.stderr).toBe(0);
    const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'))!;
    expect(tarball).toMatch(/^galaxy-farm-\d+\.\d+\.\d+\.tgz$/);
    spawnSync('mkdir', ['-p', project]);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'integrator', private: true, type: 'module', allowScripts: { 'galaxy-farm': true, 'better-sqlite3': true } }, null, 2));
    const env = { ...process.env, npm_config_build_from_source: 'true', npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' };
    const install = await run('npm', ['install', join(work, tarball), '--prefer-offline', '--foreground-scripts'], project, env);
    expect(install.status, install.output.slice(-4000)).toBe(0);
    expect(existsSync(join(project, 'node_modules', 'galaxy-farm', 'dist', 'src', 'ops', 'cli', 'main.js'))).toBe(true);
  }, 900_000);

  it('npx galaxy --help and doctor answer; better-sqlite3 loads', async () => {
    const help = await run('npx', ['--no-install', 'galaxy', '--help'], project);
    expect(help.status, help.output).toBe(0);
    expect(help.output).toMatch(/Usage: galaxy/);
    expect(help.output).toMatch(/agent \[options\]/);
    const doctor = await run('npx', ['--no-install', 'galaxy', 'doctor'], project);
    expect(doctor.status, doctor.output).toBe(0);
    expect(doctor.output).toMatch(/^kernels\s+wasm/m);
    const sqlite = await run(process.execPath, ['-e', "import('better-sqlite3').then((m) => console.log(new m.default(':memory:').prepare('SELECT 41 + 1 AS n').get().n))"], project);
    expect(sqlite.output.trim()).toBe('42');
  }, 120_000);

  it('galaxy agent starts, answers on its API, and leaves on SIGTERM', async () => {
    const bind = `127.0.0.1:${await freePort()}`;
    const apiPort = await freePort();
    const child = spawn(join(project, 'node_modules', '.bin', 'galaxy'), ['agent', '--bind', bind, '--insecure', '--api', `127.0.0.1:${apiPort}`, '--data-dir', join(work, 'agent'), '--log-level', 'warn'], { cwd: project, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, GALAXY_COMPONENTS: 'none' } });
    const events: string[] = [];
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    createInterface({ input: child.stdout }).on('line', (line) => events.push((JSON.parse(line) as { event: string }).event));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const deadline = Date.now() + 30_000;
    while (!events.includes('started')) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`the agent did not start: ${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const health = await fetch(`http://127.0.0.1:${apiPort}/v1/health`);
    expect(await health.json()).toEqual({ ok: true });
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(events.at(-1)).toBe('stopped');
  }, 60_000);

  it('runs an example that imports galaxy-farm as a dependency', async () => {
    copyFileSync(join(project, 'node_modules', 'galaxy-farm', 'examples', 'three-members.mjs'), join(project, 'three-members.mjs'));
    const example = await run(process.execPath, ['three-members.mjs'], project, process.env, 90_000);
    expect(example.status, example.output).toBe(0);
    expect(example.output).toMatch(/b saw leave of [0-9a-f]{16}; a saw leave of/);
  }, 100_000);
});
