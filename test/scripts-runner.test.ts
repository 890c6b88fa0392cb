// Proves the remote script service with real processes, in one test process (nodes are
// jobs coordinators and workers plus script coordinators, joined by the in-memory farm
// router of test/support/jobs-farm.ts). The scripts write their own timestamps (date
// +%s%N) into a shared file, and the tests check the claims from those alone: every
// node finishes phase 1 before any starts phase 2 (the barrier); no more than the batch
// limit run at once; a failing rollout stops where its success rule says, leaving the
// later nodes and phases untouched; the merged view groups identical outputs; the run's
// log lands on the management node; a stop ends a run.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ScriptCoordinator } from '../src/farm/jobs/scripts/script-coordinator.js';
import type { ScriptView } from '../src/farm/jobs/scripts/script-view.js';
import { InMemoryFarm } from './support/jobs-farm.js';

const ids = ['00000000000000a1', '00000000000000a2', '00000000000000a3', '00000000000000a4', '00000000000000a5'];
const [A, B, C, D] = ids as [string, string, string, string];
let farm: InMemoryFarm;
const dirs: string[] = [];

afterEach(async () => {
  await farm?.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function temporary(): string {
  const dir = mkdtempSync(join(tmpdir(), 'galaxy-scripts-'));
  dirs.push(dir);
  return dir;
}

const coordinators = new Map<string, ScriptCoordinator>();

/** A farm of `count` nodes, each with jobs and scripts; A is the management node; returns a directory for the stamps. */
function init(count: number): { events: Array<{ node: string; type: string; body: Record<string, unknown> }>; dir: string } {
  farm = new InMemoryFarm();
  coordinators.clear();
  const events: Array<{ node: string; type: string; body: Record<string, unknown> }> = [];
  for (const id of ids.slice(0, count)) farm.add(id);
  for (const id of ids.slice(0, count)) coordinators.set(id, farm.addScripts(id, temporary(), events).coordinator);
  farm.landscapes.set('all', ids.slice(0, count));
  farm.roles.set(A, ['management']);
  farm.announce();
  return { events, dir: temporary() };
}

function coordinatorOf(id: string): ScriptCoordinator {
  return coordinators.get(id)!;
}

async function finished(scripts: ScriptCoordinator, runId: string): Promise<ScriptView> {
  let version: number | undefined;
  const deadline = Date.now() + 30_000;
  for (;;) {
    const progress = await scripts.wait(runId, version, 5000);
    if (progress.finished) return scripts.show(runId, { merged: true });
    if (Date.now() > deadline) throw new Error(`run ${runId} did not finish`);
    version = progress.version;
  }
}

interface Stamp {
  readonly phase: number;
  readonly node: string;
  readonly what: 'start' | 'end';
  readonly ns: bigint;
}

function stamps(file: string): Stamp[] {
  return readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const [phase, node, what, ns] = line.split(' ');
      return { phase: Number(phase), node: node!, what: what as 'start' | 'end', ns: BigInt(ns!) };
    });
}

/** Most processes running at once, from start/end stamps. */
function concurrency(list: readonly Stamp[]): number {
  let running = 0;
  let most = 0;
  for (const stamp of [...list].sort((a, b) => (a.ns < b.ns ? -1 : a.ns > b.ns ? 1 : a.what === 'end' ? -1 : 1))) {
    running += stamp.what === 'start' ? 1 : -1;
    most = Math.max(most, running);
  }
  return most;
}

/** A script that stamps its start and end into $1, sleeping in between (longer on the first node). */
const kStampScript = (body = 'true') => `stamp() { echo "$GALAXY_PHASE $GALAXY_NODE_ID $1 $(date +%s%N)" >> "$LOG"; }
LOG="$1"
# galaxy:phase prepare
stamp start
[ "$GALAXY_NODE_ID" = "${A}" ] && sleep 0.4 || sleep 0.1
${body}
stamp end
# galaxy:phase switch
stamp start
sleep 0.1
echo "switched"
stamp end
`;

describe('scripts on real processes', () => {
  it('holds the barrier between phases: every node ends phase 1 before any starts phase 2', async () => {
    const { dir } = init(3);
    const scripts = coordinatorOf(A);
    const log = join(dir, 'stamps');
    writeFileSync(log, '');
    const run = await scripts.run({ target: { landscape: 'all' }, script: kStampScript(), args: [log], name: 'stamp.sh' }, 'op');
    expect(run.phases.map((p) => p.name)).toEqual(['prepare', 'switch']);
    const view = await finished(scripts, run.id);
    expect(view.state).toBe('succeeded');
    const list = stamps(log);
    expect(list).toHaveLength(12);
    const lastEndOfOne = list.filter((s) => s.phase === 1 && s.what === 'end').reduce((m, s) => (s.ns > m ? s.ns : m), 0n);
    const firstStartOfTwo = list.filter((s) => s.phase === 2 && s.what === 'start').reduce((m, s) => (s.ns < m ? s.ns : m), BigInt('9'.repeat(30)));
    expect(lastEndOfOne < firstStartOfTwo).toBe(true);
    // Without a batch limit the nodes of a phase run together.
    expect(concurrency(list.filter((s) => s.phase === 1))).toBe(3);
    expect(view.merged!.find((m) => m.phase === 2)!.groups).toEqual([{ nodes: [A, B, C], status: 'exit 0', stdout: 'switched\n', stderr: '' }]);
  });

  it('keeps batches within the limit', async () => {
    const { dir } = init(5);
    const scripts = coordinatorOf(A);
    const log = join(dir, 'stamps');
    writeFileSync(log, '');
    const run = await scripts.run({ target: { landscape: 'all' }, script: kStampScript(), args: [log], batch: '40%' }, 'op');
    expect(run.batchSize).toBe(2);
    const view = await finished(scripts, run.id);
    expect(view.state).toBe('succeeded');
    const list = stamps(log);
    expect(list).toHaveLength(20);
    for (const phase of [1, 2]) expect(concurrency(list.filter((s) => s.phase === phase))).toBeLessThanOrEqual(2);
    expect(view.phases.map((p) => [p.batches, p.batchesRun, p.jobIds.length])).toEqual([
      [3, 3, 3],
      [3, 3, 3],
    ]);
  });

  it('stops a failing rollout by its success rule: later batches and phases never run', async () => {
    const { dir } = init(4);
    const scripts = coordinatorOf(A);
    const log = join(dir, 'stamps');
    writeFileSync(log, '');
    // Nodes B and C fail phase 1; with 75% of 4 required only one failure is allowed.
    const failing = `case "$GALAXY_NODE_ID" in ${B}|${C}) echo "disk full" >&2; stamp end; exit 4;; esac`;
    const run = await scripts.run({ target: { nodes: [A, B, C, D] }, script: kStampScript(failing), args: [log], batch: '1', minSuccess: '75%' }, 'op');
    const view = await finished(scripts, run.id);
    expect(view.state).toBe('failed');
    expect(view.reason).toBe('phase 1 (prepare): 1 of 4 nodes succeeded, 3 required');
    expect(view.phases.map((p) => p.state)).toEqual(['failed', 'skipped']);
    const list = stamps(log);
    expect(new Set(list.map((s) => s.node))).toEqual(new Set([A, B, C]));
    expect(list.some((s) => s.phase === 2)).toBe(false);
    const groups = view.merged![0]!.groups;
    expect(groups.map((g) => [g.nodes, g.status, g.stderr])).toEqual([
      [[B, C], 'exit 4', 'disk full\n'],
      [[A], 'exit 0', ''],
      [[D], 'skipped', ''],
    ]);
    const results = await scripts.show(run.id, { phase: 1 });
    expect(results.results!.nodes.map((n) => [n.node, n.state, n.exitCode])).toEqual([
      [A, 'exited', 0],
      [B, 'exited', 4],
      [C, 'exited', 4],
      [D, 'skipped', null],
    ]);
  });

  it('keeps the run\'s log on the management node and raises progress events', async () => {
    const { events } = init(2);
    const scripts = coordinatorOf(B);
    const run = await scripts.run({ target: { landscape: 'all' }, script: 'echo "hello from $GALAXY_PHASE"', phases: 2 }, 'op');
    const view = await finished(scripts, run.id);
    expect(view.state).toBe('succeeded');
    await new Promise((resolve) => setTimeout(resolve, 100));
    const summary = await scripts.show(run.id);
    expect(summary.logs.stored).toEqual([A]);
    const stored = (await farm.call(B, A, 'scripts.logs', { runId: run.id }, 5000)) as { from: string; record: ScriptView };
    expect(stored.from).toBe(B);
    expect(stored.record.state).toBe('succeeded');
    expect(stored.record.merged!.map((m) => m.groups[0]!.stdout)).toEqual(['hello from 1\n', 'hello from 2\n']);
    const listed = (await farm.call(B, B, 'scripts.logs', { node: A }, 5000)) as Array<{ id: string }>;
    expect(listed.map((l) => l.id)).toEqual([run.id]);
    expect(events.filter((e) => e.body['run'] === run.id).map((e) => e.type)).toEqual(['scripts.started', 'scripts.phase-started', 'scripts.phase-ended', 'scripts.phase-started', 'scripts.phase-ended', 'scripts.finished']);
  });

  it('stops a run: the running batch is ended and the rest never runs', async () => {
    init(2);
    const scripts = coordinatorOf(A);
    const run = await scripts.run({ target: { landscape: 'all' }, script: 'sleep 30', phases: 2 }, 'op');
    await new Promise((resolve) => setTimeout(resolve, 300));
    const stopped = await coordinatorOf(B).stop(run.id);
    expect(stopped.state).toBe('stopping');
    const view = await finished(scripts, run.id);
    expect([view.state, view.reason]).toEqual(['stopped', 'stopped by an operator']);
    expect(view.phases.map((p) => p.state)).toEqual(['stopped', 'skipped']);
    expect(view.merged![0]!.groups[0]!.status).toBe('SIGTERM');
  });
});
