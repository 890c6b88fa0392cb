// Proves process and job control and remote scripts end to end, in `galaxy agent`: three
// real agent processes (an --insecure farm, one with the management role), driven by the
// `galaxy` CLI as an operator runs it and by the HTTP API.
//  - Scripts: two phases over three nodes hold their barrier (every node's phase-1 end,
//    as timestamps the script itself writes, precedes every phase-2 start); a phase that
//    fails on one node stops the rollout under the default success rule, and goes on
//    under --min-success 2; --batch 2 never runs more than two nodes at once; the run's
//    log is kept on the management node.
//  - Jobs on a landscape and on a SQL statement over the FMIDB run on exactly the nodes
//    whose attributes match (set from another node than the coordinator).
//  - Jobs: a command on three nodes, each node's output (stdout and stderr, prefixed by
//    node) and exit code through the CLI and the API (also asked of another agent, which
//    forwards to the coordinator); the CLI's exit code says whether every node
//    succeeded; `job kill` stops a running job; a node SIGKILLed mid-job has its process
//    reported `lost`, `job wait` returns, and the killed agent's job process does not
//    outlive it.
// Runs in order on one farm (the last test kills a node). Polls with deadlines.
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobView, JobWaitView, ScriptView } from '../src/farm/jobs/jobs-backend.js';
import { killAllAgents } from './support/agents.js';
import { api, at, eventually, galaxy, galaxyJson, startFarm, type FarmAgent } from './support/farm-cli.js';

const work = mkdtempSync(join(tmpdir(), 'galaxy-jobs-e2e-'));
let farm: FarmAgent[];
let a: FarmAgent;
let b: FarmAgent;
let c: FarmAgent;
let nodes: string;

beforeAll(async () => {
  farm = await startFarm(3, [['management']]);
  [a, b, c] = farm as [FarmAgent, FarmAgent, FarmAgent];
  nodes = farm.map((n) => n.id).join(',');
}, 90_000);

afterAll(() => killAllAgents());

/** Per node, the "phase start|end nanoseconds" lines the scripts wrote. */
function stamps(dir: string): Map<string, Array<{ phase: number; what: string; ns: bigint }>> {
  const out = new Map<string, Array<{ phase: number; what: string; ns: bigint }>>();
  for (const file of readdirSync(dir)) {
    const lines = readFileSync(join(dir, file), 'utf8').trim().split('\n');
    out.set(
      file,
      lines.map((line) => {
        const [phase, what, ns] = line.split(' ');
        return { phase: Number(phase), what: what!, ns: BigInt(ns!) };
      }),
    );
  }
  return out;
}

/** A script: a stamp at the start and end of each phase, the phase's work in between. */
function scriptFile(name: string, phases: ReadonlyArray<{ name: string; work: string }>): { file: string; dir: string } {
  const dir = mkdtempSync(join(work, `${name}-stamps-`));
  const text = [
    'stamp() { echo "$GALAXY_PHASE $1 $(date +%s%N)" >> "$STAMPS/$GALAXY_NODE_ID"; }',
    ...phases.flatMap((p) => [`# galaxy:phase ${p.name}`, 'stamp start', p.work, 'status=$?', 'stamp end', 'exit $status']),
  ].join('\n');
  const file = join(work, `${name}.sh`);
  writeFileSync(file, `${text}\n`);
  return { file, dir };
}

/** Sleeps a node-dependent time: without a barrier the phases of the nodes would overlap. */
function unevenSleep(): string {
  return `case "$GALAXY_NODE_ID" in ${a.id}) sleep 1.2;; ${b.id}) sleep 0.6;; *) sleep 0.1;; esac`;
}

describe('remote scripts through galaxy agent', () => {
  it('holds the barrier between phases and keeps the run log on the management node', async () => {
    const { file, dir } = scriptFile('barrier', [
      { name: 'build', work: unevenSleep() },
      { name: 'deploy', work: 'true' },
    ]);
    const run = await galaxy(['script', 'run', file, '--env', `STAMPS=${dir}`, '--nodes', nodes, '--json', ...at(b)]);
    expect(run.code, run.stderr).toBe(0);
    const view = JSON.parse(run.stdout) as ScriptView;
    expect(view).toMatchObject({ state: 'succeeded', nodes: 3 });
    expect(view.phases.map((p) => [p.name, p.state, p.succeeded])).toEqual([
      ['build', 'succeeded', 3],
      ['deploy', 'succeeded', 3],
    ]);
    expect(run.stderr).toMatch(/phase 1 build: succeeded, 3 ok/);
    const byNode = stamps(dir);
    expect([...byNode.keys()].sort()).toEqual(farm.map((n) => n.id).sort());
    const all = [...byNode.values()].flat();
    const lastPhase1End = all.filter((s) => s.phase === 1 && s.what === 'end').reduce((m, s) => (s.ns > m ? s.ns : m), 0n);
    const firstPhase2Start = all.filter((s) => s.phase === 2 && s.what === 'start').reduce((m, s) => (s.ns < m ? s.ns : m), BigInt(Number.MAX_SAFE_INTEGER) * 1_000_000n);
    expect(all.filter((s) => s.phase === 2 && s.what === 'start')).toHaveLength(3);
    expect(lastPhase1End < firstPhase2Start).toBe(true);
    // The slowest node's phase 1 took over a second: phase 2 waited for it.
    expect(Number(firstPhase2Start - all.find((s) => s.phase === 1 && s.what === 'start')!.ns) / 1e6).toBeGreaterThan(1000);

    // Coordinated on b, its log was sent to a, the management node, and a keeps it.
    expect(view.logs.stored).toEqual([a.id]);
    const logs = await galaxyJson<Array<{ id: string }>>(['script', 'logs', '--node', a.id, ...at(c)]);
    expect(logs.map((l) => l.id)).toContain(view.id);
  });

  it('stops a rollout whose phase fails on a node under the success rule, and goes on when the rule allows it', async () => {
    const failOnC = `if [ "$GALAXY_NODE_ID" = "${c.id}" ]; then echo "no disk" >&2; exit 4; fi`;
    const strict = scriptFile('strict', [
      { name: 'check', work: failOnC },
      { name: 'apply', work: 'true' },
    ]);
    const stopped = await galaxy(['script', 'run', strict.file, '--env', `STAMPS=${strict.dir}`, '--nodes', nodes, '--json', ...at(a)]);
    expect(stopped.code).toBe(1);
    const view = JSON.parse(stopped.stdout) as ScriptView;
    expect(view.state).toBe('failed');
    expect(view.phases.map((p) => [p.name, p.state, p.succeeded, p.failed])).toEqual([
      ['check', 'failed', 2, 1],
      ['apply', 'skipped', 0, 0],
    ]);
    expect(stopped.stderr).toMatch(/script run \S+ failed/);
    // Nothing of phase 2 ran anywhere.
    expect([...stamps(strict.dir).values()].flat().filter((s) => s.phase === 2)).toEqual([]);
    // The merged view names the failing node with its exit and its output.
    const merged = view.merged!.find((p) => p.phase === 1)!;
    expect(merged.groups.some((g) => g.nodes.includes(c.id) && g.stderr.includes('no disk') && g.status.includes('exit 4'))).toBe(true);

    const lenient = scriptFile('lenient', [
      { name: 'check', work: failOnC },
      { name: 'apply', work: 'true' },
    ]);
    const onward = await galaxy(['script', 'run', lenient.file, '--min-success', '2', '--env', `STAMPS=${lenient.dir}`, '--nodes', nodes, '--json', ...at(a)]);
    expect(onward.code, onward.stderr).toBe(0);
    expect((JSON.parse(onward.stdout) as ScriptView).phases.map((p) => p.state)).toEqual(['succeeded', 'succeeded']);
    expect([...stamps(lenient.dir).values()].flat().filter((s) => s.phase === 2 && s.what === 'end').length).toBeGreaterThanOrEqual(2);
  });

  it('runs at most --batch nodes at once', async () => {
    const { file, dir } = scriptFile('batched', [{ name: 'roll', work: 'sleep 1' }]);
    const run = await galaxy(['script', 'run', file, '--batch', '2', '--env', `STAMPS=${dir}`, '--nodes', nodes, '--json', ...at(a)]);
    expect(run.code, run.stderr).toBe(0);
    const view = JSON.parse(run.stdout) as ScriptView;
    expect(view.batchSize).toBe(2);
    expect(view.phases[0]).toMatchObject({ batches: 2, batchesRun: 2, succeeded: 3 });
    const intervals = [...stamps(dir).values()].map((list) => ({ start: list.find((s) => s.what === 'start')!.ns, end: list.find((s) => s.what === 'end')!.ns }));
    expect(intervals).toHaveLength(3);
    // At each start, how many nodes run at once (the starting one included).
    const concurrency = intervals.map((i) => intervals.filter((o) => o.start <= i.start && i.start < o.end).length);
    expect(Math.max(...concurrency)).toBe(2);
  });
});

describe('jobs through galaxy agent', () => {
  it('runs a command on three nodes: output and exit codes through the CLI and the API', async () => {
    const command = `echo "out $GALAXY_NODE_ID"; echo "err $GALAXY_NODE_ID" >&2; if [ "$GALAXY_NODE_ID" = "${b.id}" ]; then exit 3; fi`;
    const run = await galaxy(['job', 'run', '--nodes', nodes, ...at(a), '--', 'sh', '-c', command]);
    expect(run.code).toBe(1);
    for (const node of farm) {
      expect(run.stdout).toContain(`${node.id}: out ${node.id}\n`);
      expect(run.stderr).toContain(`${node.id}: err ${node.id}\n`);
    }
    const jobId = /job (\S+) on 3 nodes/.exec(run.stderr)![1]!;
    expect(run.stderr).toMatch(/finished \(failed\): 3 exited; 2 succeeded/);

    const shown = await galaxyJson<JobView>(['job', 'show', jobId, '--output', ...at(c)]);
    const exits = Object.fromEntries(shown.processes.map((p) => [p.node, [p.state, p.exitCode, p.stdout, p.stderr]]));
    expect(exits).toEqual({
      [a.id]: ['exited', 0, `out ${a.id}\n`, `err ${a.id}\n`],
      [b.id]: ['exited', 3, `out ${b.id}\n`, `err ${b.id}\n`],
      [c.id]: ['exited', 0, `out ${c.id}\n`, `err ${c.id}\n`],
    });
    // The API, on the coordinator and on another agent (forwarded), says the same.
    for (const node of [a, b]) {
      const answer = await api<JobView>(node, 'GET', `/v1/jobs/${jobId}?output=true`);
      expect(answer.status).toBe(200);
      expect(answer.json).toMatchObject({ id: jobId, state: 'finished', outcome: 'failed' });
      expect(answer.json.processes.map((p) => p.exitCode).sort()).toEqual([0, 0, 3]);
    }

    // Through the API alone: created, then waited for.
    const created = await api<JobView>(c, 'POST', '/v1/jobs', { target: { nodes: [a.id, c.id] }, command: ['sh', '-c', 'echo api; exit 0'] });
    expect(created.status).toBe(201);
    const waited = await eventually('the API job finishes', async () => {
      const answer = await api<JobWaitView>(c, 'GET', `/v1/jobs/${created.json.id}/wait?timeoutMs=5000`);
      return answer.json.finished ? answer.json : undefined;
    });
    expect(waited.job.outcome).toBe('succeeded');
    expect(waited.job.processes.map((p) => p.exitCode)).toEqual([0, 0]);

    const ok = await galaxy(['job', 'run', '--nodes', nodes, ...at(b), '--', 'true']);
    expect(ok.code, ok.stderr).toBe(0);
  });

  it('stops a running job with job kill', async () => {
    const started = await galaxy(['job', 'run', '--detach', '--nodes', nodes, ...at(a), '--', 'sleep', '60']);
    expect(started.code, started.stderr).toBe(0);
    const jobId = started.stdout.trim();
    await eventually('every process runs', async () => ((await api<JobView>(a, 'GET', `/v1/jobs/${jobId}`)).json.counts.running === 3 ? true : undefined));
    const killed = await galaxy(['job', 'kill', jobId, ...at(b)]);
    expect(killed.code, killed.stderr).toBe(0);
    const waited = await galaxy(['job', 'wait', jobId, '--timeout', '30s', '--json', ...at(c)]);
    expect(waited.code).toBe(1);
    const view = JSON.parse(waited.stdout) as JobView;
    expect(view).toMatchObject({ state: 'finished', outcome: 'stopped' });
    expect(view.processes.map((p) => [p.state, p.signal])).toEqual([
      ['signalled', 'SIGTERM'],
      ['signalled', 'SIGTERM'],
      ['signalled', 'SIGTERM'],
    ]);
  });

  it('runs a job on a landscape and on a statement: the nodes the FMIDB says', async () => {
    // Attributes set from one node, the landscape defined on another, the job coordinated by a third.
    for (const node of [a, c]) expect((await galaxy(['attr', 'set', node.id, 'role=web', ...at(b)])).code).toBe(0);
    expect((await galaxy(['attr', 'set', b.id, 'role=db', ...at(c)])).code).toBe(0);
    const created = await galaxy(['landscape', 'create', 'web', '--sql', "SELECT node FROM nodes WHERE role = 'web'", ...at(c)]);
    expect(created.code, created.stderr).toBe(0);
    await eventually('a computes the landscape web', async () => {
      const view = await api<{ members: string[] }>(a, 'GET', '/v1/landscapes/web');
      return view.status === 200 && view.json.members.length === 2 ? true : undefined;
    });
    const onLandscape = await galaxy(['job', 'run', '--on', 'web', ...at(a), '--', 'sh', '-c', 'echo "ran on $GALAXY_NODE_ID"']);
    expect(onLandscape.code, onLandscape.stderr).toBe(0);
    expect(onLandscape.stdout.split('\n').filter((line) => line.includes('ran on')).sort()).toEqual([a, c].map((n) => `${n.id}: ran on ${n.id}`).sort());
    const onStatement = await galaxy(['job', 'run', '--detach', '--json', '--sql', "SELECT node FROM nodes WHERE role = 'db'", ...at(b), '--', 'true']);
    expect(onStatement.code, onStatement.stderr).toBe(0);
    expect((JSON.parse(onStatement.stdout) as JobView).processes.map((p) => p.node)).toEqual([b.id]);
  });

  it('reports the processes of a node killed mid-job as lost, and job wait returns', async () => {
    const command = `if [ "$GALAXY_NODE_ID" = "${c.id}" ]; then exec sleep 120; fi; sleep 2`;
    const started = await galaxy(['job', 'run', '--detach', '--nodes', nodes, ...at(a), '--', 'sh', '-c', command]);
    expect(started.code, started.stderr).toBe(0);
    const jobId = started.stdout.trim();
    const running = await eventually('the process on c runs', async () => (await api<JobView>(a, 'GET', `/v1/jobs/${jobId}`)).json.processes.find((p) => p.node === c.id && p.state === 'running'));
    const waiting = galaxy(['job', 'wait', jobId, '--timeout', '60s', '--json', ...at(a)]);
    c.agent.child.kill('SIGKILL');
    const waited = await waiting;
    expect(waited.code).toBe(1);
    const view = JSON.parse(waited.stdout) as JobView;
    expect(view.state).toBe('finished');
    const states = Object.fromEntries(view.processes.map((p) => [p.node, p.state]));
    expect(states).toEqual({ [a.id]: 'exited', [b.id]: 'exited', [c.id]: 'lost' });
    expect(view.processes.find((p) => p.node === c.id)!.reason).toMatch(new RegExp(c.id));
    // The dead agent's components ended with it, and its job process with them.
    await eventually(
      `job process ${running.pid} on the killed node ended`,
      () => {
        try {
          process.kill(running.pid!, 0);
          return undefined;
        } catch (error) {
          return (error as NodeJS.ErrnoException).code === 'ESRCH' ? true : undefined;
        }
      },
      15_000,
    );
  });
});
