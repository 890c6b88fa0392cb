// Proves the job and script commands against the routes served over HTTP (the route
// pipeline of test/support/jobs-api-harness.ts on the in-memory farm of real processes):
// `job run` prints each line prefixed by its node, stderr apart, then every node's exit,
// and exits non-zero when a node failed; ls, show, kill and wait work on jobs; `script
// run` shows phase progress and the merged view and fails with its rollout; a viewer's
// token and bad flags get clear errors. Also the pure parts: the line prefixer, the
// duration parser, target and limit flags, progress lines.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterEach, describe, expect, it } from 'vitest';
import { componentJobsBackend } from '../src/farm/jobs/jobs-backend.js';
import { parseDurationMs } from '../src/surface/cli/duration.js';
import { limitsOf, progressLines, registerJobsCommands, targetOf } from '../src/farm/jobs/jobs-commands.js';
import { NodeLinePrefixer } from '../src/surface/cli/node-line-prefixer.js';
import type { ScriptSummary } from '../src/farm/jobs/scripts/script-view.js';
import { routeDispatcher, serveOverHttp } from './support/jobs-api-harness.js';
import { InMemoryFarm } from './support/jobs-farm.js';

const A = '00000000000000a1';
const B = '00000000000000b2';
let farm: InMemoryFarm | null = null;
let server: Server | null = null;
const dirs: string[] = [];

afterEach(async () => {
  process.exitCode = undefined;
  await farm?.close();
  farm = null;
  await new Promise((resolve) => (server === null ? resolve(undefined) : server.close(resolve)));
  server = null;
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function cli(): Promise<(role: string, ...args: string[]) => Promise<{ out: string[]; err: string[]; exitCode: number }>> {
  farm = new InMemoryFarm();
  farm.add(A);
  farm.add(B);
  const dir = mkdtempSync(join(tmpdir(), 'galaxy-jobs-cli-'));
  dirs.push(dir);
  farm.addScripts(A, dir);
  farm.landscapes.set('both', [A, B]);
  farm.announce();
  const f = farm;
  const served = await serveOverHttp(routeDispatcher(componentJobsBackend((_c, service, body, timeoutMs) => f.call(A, A, service, body, timeoutMs))));
  server = served.server;
  return async (role, ...args) => {
    const out: string[] = [];
    const err: string[] = [];
    const program = new Command().exitOverride();
    registerJobsCommands(program, { print: (line) => out.push(line), printError: (line) => err.push(line) });
    process.exitCode = undefined;
    await program.parseAsync(['node', 'galaxy', ...args.flatMap((a) => (a === '@api' ? ['--api', served.url, '--token', role] : [a]))]);
    const exitCode = Number(process.exitCode ?? 0);
    process.exitCode = undefined;
    return { out, err, exitCode };
  };
}

describe('job commands', () => {
  it('job run prints output prefixed by node, then the exits; non-zero when a node failed', async () => {
    const galaxy = await cli();
    const good = await galaxy('operator', 'job', 'run', '@api', '--on', 'both', '--', 'sh', '-c', 'echo "line 1"; echo "warn" >&2; printf "no newline"');
    expect(good.exitCode).toBe(0);
    expect(good.out.filter((l) => l.startsWith(A))).toEqual([`${A}: line 1`, `${A}: no newline`]);
    expect(good.out.filter((l) => l.startsWith(B))).toEqual([`${B}: line 1`, `${B}: no newline`]);
    expect(good.err).toContain(`${A}: warn`);
    expect(good.err.some((l) => /^job \S+ finished \(succeeded\): 2 exited; 2 succeeded$/.test(l))).toBe(true);
    expect(good.err.some((l) => l.startsWith('INDEX'))).toBe(true);
    const bad = await galaxy('operator', 'job', 'run', '@api', '--nodes', `${A},${B}`, '--timeout', '5s', '--', 'sh', '-c', `[ "$GALAXY_NODE_ID" = "${B}" ] && exit 7; exit 0`);
    expect(bad.exitCode).toBe(1);
    expect(bad.err.find((l) => l.includes(B) && l.includes('exit 7'))).toBeDefined();
  });

  it('job ls, show, kill and wait', async () => {
    const galaxy = await cli();
    const started = await galaxy('operator', 'job', 'run', '@api', '--on', 'both', '--detach', '--', 'sleep', '30');
    const id = started.out[0]!;
    expect(id).toMatch(/^[0-9a-f]{16}-/);
    expect((await galaxy('viewer', 'job', 'ls', '@api')).out.some((l) => l.startsWith(id) && l.includes('running'))).toBe(true);
    const waited = await galaxy('viewer', 'job', 'wait', id, '@api', '--timeout', '300ms');
    expect(waited.exitCode).toBe(1);
    expect(waited.err.join('\n')).toContain('gave up waiting');
    expect((await galaxy('operator', 'job', 'kill', id, '@api')).out[0]).toContain('stopping');
    const done = await galaxy('viewer', 'job', 'wait', id, '@api');
    expect(done.exitCode).toBe(1);
    expect(done.err[0]).toContain('(stopped)');
    const shown = await galaxy('viewer', 'job', 'show', id, '@api', '--output');
    expect(shown.out.join('\n')).toContain('killed by SIGTERM');
  });

  it('refuses a viewer and bad flags with clear errors', async () => {
    const galaxy = await cli();
    const viewer = await galaxy('viewer', 'job', 'run', '@api', '--on', 'both', '--', 'true');
    expect(viewer.exitCode).toBe(2);
    expect(viewer.err[0]).toBe('galaxy: token "viewer-token" has role viewer; this needs operator');
    const noTarget = await galaxy('operator', 'job', 'run', '@api', '--', 'true');
    expect(noTarget.err[0]).toBe('galaxy: name the nodes with exactly one of --on LANDSCAPE, --nodes a,b or --sql "SELECT ..."');
    const timeout = await galaxy('operator', 'job', 'run', '@api', '--on', 'both', '--timeout', 'soon', '--', 'true');
    expect(timeout.err[0]).toContain('--timeout takes a duration');
    const node = await galaxy('operator', 'job', 'run', '@api', '--nodes', 'n1', '--', 'true');
    expect([node.exitCode, node.err[0]]).toEqual([2, 'galaxy: body.target.nodes.0: a node id is 16 lowercase hex digits']);
    const landscape = await galaxy('operator', 'job', 'run', '@api', '--on', 'nowhere', '--', 'true');
    expect(landscape.err[0]).toBe('galaxy: no landscape "nowhere"');
    const signal = await galaxy('operator', 'job', 'kill', `${A}-abc-1`, '@api', '--signal', 'BOGUS');
    expect(signal.err[0]).toMatch(/^galaxy: body.signal/);
    const unknown = await galaxy('viewer', 'job', 'show', `${A}-abc-1`, '@api');
    expect([unknown.exitCode, unknown.err[0]]).toEqual([2, `galaxy: no job ${A}-abc-1 on its coordinator (never created, or forgotten after it finished)`]);
  });
});

describe('script commands', () => {
  it('script run shows progress and the merged view; a failing rollout exits non-zero', async () => {
    const galaxy = await cli();
    const dir = mkdtempSync(join(tmpdir(), 'galaxy-script-file-'));
    dirs.push(dir);
    const file = join(dir, 'deploy.sh');
    writeFileSync(file, 'set -e\n# galaxy:phase check\necho "checked $1"\n# galaxy:phase apply\n[ "$GALAXY_NODE_ID" = "' + B + '" ] && { echo broken >&2; exit 3; }\necho applied\n');
    const ran = await galaxy('operator', 'script', 'run', file, '@api', '--on', 'both', '--batch', '1', '--', 'v2');
    expect(ran.exitCode).toBe(1);
    expect(ran.err[0]).toMatch(/^script run \S+: 2 nodes, 2 phases, batches of 1, 100% must succeed per phase$/);
    expect(ran.err).toContain('phase 1 check: succeeded, 2 ok, 0 failed');
    expect(ran.err.some((l) => l.startsWith('phase 2 apply: batch '))).toBe(true);
    expect(ran.err.at(-1)).toMatch(/failed: phase 2 \(apply\): 1 of 2 nodes succeeded, 2 required$/);
    const text = ran.out.join('\n');
    expect(text).toContain(`== phase 1 (check)\n----------------\n${A},${B} (2)  [exit 0]\n----------------\nchecked v2`);
    expect(text).toContain(`${B}  [exit 3]\n----------------\n[stderr]\nbroken`);
    const id = /^script run (\S+):/.exec(ran.err[0]!)![1]!;
    const shown = await galaxy('viewer', 'script', 'show', id, '@api', '--phase', '2');
    expect(shown.out.some((l) => l.startsWith(`${B}  exited 3`))).toBe(true);
    expect((await galaxy('viewer', 'script', 'ls', '@api')).out.some((l) => l.startsWith(id) && l.includes('deploy.sh'))).toBe(true);
  });

  it('refuses a missing file, a bad batch, and a viewer', async () => {
    const galaxy = await cli();
    expect((await galaxy('operator', 'script', 'run', '/nonexistent/x.sh', '@api', '--on', 'both')).err[0]).toMatch(/^galaxy: cannot read the script \/nonexistent\/x.sh/);
    const dir = mkdtempSync(join(tmpdir(), 'galaxy-script-file-'));
    dirs.push(dir);
    const file = join(dir, 's.sh');
    writeFileSync(file, 'true\n');
    const batch = await galaxy('operator', 'script', 'run', file, '@api', '--on', 'both', '--batch', 'many');
    expect([batch.exitCode, batch.err[0]]).toEqual([2, 'galaxy: body.batch: a batch is a node count ("10") or a share of the nodes ("10%"), got "many"']);
    const viewer = await galaxy('viewer', 'script', 'run', file, '@api', '--on', 'both');
    expect(viewer.exitCode).toBe(2);
  });
});

describe('command-line parts', () => {
  it('prefixes complete lines per process and stream, holding partial ones', () => {
    const prefixer = new NodeLinePrefixer();
    expect(prefixer.push(0, A, 'stdout', 'one\ntw')).toEqual([{ stream: 'stdout', text: `${A}: one` }]);
    expect(prefixer.push(1, B, 'stdout', 'other\n')).toEqual([{ stream: 'stdout', text: `${B}: other` }]);
    expect(prefixer.push(0, A, 'stderr', 'err')).toEqual([]);
    expect(prefixer.push(0, A, 'stdout', 'o\n')).toEqual([{ stream: 'stdout', text: `${A}: two` }]);
    expect(prefixer.flush()).toEqual([{ stream: 'stderr', text: `${A}: err` }]);
    expect(prefixer.push(0, A, 'stdout', 'x'.repeat(70_000))).toHaveLength(1);
  });

  it('parses durations', () => {
    expect(['500ms', '30s', '30', '1.5s', '5m', '2h'].map(parseDurationMs)).toEqual([500, 30_000, 30_000, 1500, 300_000, 7_200_000]);
    expect(['', 'soon', '5d', '-1s'].map(parseDurationMs)).toEqual([null, null, null, null]);
  });

  it('reads targets and limits from flags', () => {
    expect(targetOf({ nodes: `${A}, ${B},` })).toEqual({ nodes: [A, B] });
    expect(targetOf({ on: 'web' })).toEqual({ landscape: 'web' });
    expect(() => targetOf({ on: 'web', sql: 'x' })).toThrow(/exactly one/);
    expect(limitsOf({ timeout: '2m', memory: '256', user: 'nobody', env: ['A=1', 'B=x=y'] })).toEqual({ timeoutMs: 120_000, memoryMb: 256, user: 'nobody', env: { A: '1', B: 'x=y' } });
    expect(() => limitsOf({ memory: '1G' })).toThrow(/--memory/);
    expect(() => limitsOf({ env: ['novalue'] })).toThrow(/--env/);
  });

  it('describes progress from one summary to the next', () => {
    const phase = { number: 1, name: 'apply', state: 'running' as 'running' | 'failed', nodes: 10, required: 9, succeeded: 0, failed: 0, batches: 5, batchesRun: 0, jobIds: ['j1'], startedAt: null, endedAt: null };
    const summary = (p: Partial<typeof phase>) => ({ phases: [{ ...phase, ...p }] }) as unknown as ScriptSummary;
    expect(progressLines(null, summary({}))).toEqual(['phase 1 apply: batch 1/5, 0 ok, 0 failed (9 of 10 required)']);
    expect(progressLines(summary({}), summary({}))).toEqual([]);
    expect(progressLines(summary({}), summary({ batchesRun: 1, succeeded: 2, jobIds: ['j1', 'j2'] }))).toEqual(['phase 1 apply: batch 2/5, 2 ok, 0 failed (9 of 10 required)']);
    expect(progressLines(summary({}), summary({ state: 'failed', failed: 2 }))).toEqual(['phase 1 apply: failed, 0 ok, 2 failed']);
  });
});
