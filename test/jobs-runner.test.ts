// Proves the jobs service with real processes, in one test process: nodes are a
// JobCoordinator and a JobWorker each, joined by an in-memory router that plays the farm
// RPC (test/support/jobs-farm.ts). Exit codes and output come back per node; a timeout
// ends a process with SIGTERM, and one that ignores SIGTERM with SIGKILL; signals reach
// the whole process group, and what a process leaves in its group is killed when it
// exits; captured output is bounded (tail kept, every byte accounted for); a missing
// program fails the start; the memory limit is in force; a process runs as another user
// when the agent is root; stop ends a job; a node that dies mid-job has its processes
// marked lost and the job finishes; requests about a job are forwarded from any node.
import { afterEach, describe, expect, it } from 'vitest';
import { processExists, waitFor } from './support/components.js';
import { InMemoryFarm } from './support/jobs-farm.js';
import type { JobView } from '../src/farm/jobs/job-view.js';

const A = '00000000000000a1';
const B = '00000000000000b2';
let farm: InMemoryFarm;

afterEach(async () => {
  await farm?.close();
});

function twoNodes(): InMemoryFarm {
  farm = new InMemoryFarm();
  farm.add(A);
  farm.add(B);
  farm.landscapes.set('both', [A, B]);
  farm.announce();
  return farm;
}

/** Watches a job from `after` until its output so far contains `text`; returns that output and the cursor. */
async function watchFor(jobId: string, text: string, after = 0): Promise<{ output: string; next: number; chunks: Array<{ node: string; stream: string; process: number }> }> {
  const coordinator = farm.nodes.get(A)!.coordinator;
  let output = '';
  const chunks: Array<{ node: string; stream: string; process: number }> = [];
  const deadline = Date.now() + 10_000;
  while (!output.includes(text)) {
    if (Date.now() > deadline) throw new Error(`no "${text}" in the output of ${jobId}: ${JSON.stringify(output)}`);
    const read = await coordinator.watch(jobId, after, 5000);
    output += read.chunks.map((c) => c.text).join('');
    chunks.push(...read.chunks);
    after = read.next;
  }
  return { output, next: after, chunks };
}

async function finished(jobId: string, node = A, timeoutMs = 10_000): Promise<JobView> {
  const coordinator = farm.nodes.get(node)!.coordinator;
  const wait = await coordinator.wait(jobId, timeoutMs);
  expect(wait.finished).toBe(true);
  return coordinator.show(jobId, true);
}

describe('jobs on real processes', () => {
  it('runs a command on a landscape and returns each node\'s exit code and output', async () => {
    twoNodes();
    const created = await farm.nodes.get(A)!.coordinator.create({ target: { landscape: 'both' }, command: ['sh', '-c', 'echo "out $GALAXY_NODE_ID"; echo err >&2; [ "$GALAXY_NODE_ID" = "$BAD" ] && exit 3; exit 0'], env: { BAD: B } }, 'alice');
    expect(created.processes.map((p) => p.node)).toEqual([A, B]);
    expect(created.createdBy).toBe('alice');
    const job = await finished(created.id);
    expect(job.state).toBe('finished');
    expect(job.outcome).toBe('failed');
    const [a, b] = job.processes;
    expect([a!.state, a!.exitCode, a!.stdout, a!.stderr]).toEqual(['exited', 0, `out ${A}\n`, 'err\n']);
    expect([b!.state, b!.exitCode, b!.stdout]).toEqual(['exited', 3, `out ${B}\n`]);
    expect(a!.pid).toBeGreaterThan(1);
    expect(job.counts).toMatchObject({ exited: 2, succeeded: 1 });
  });

  it('streams output live to a watcher before the process ends', async () => {
    twoNodes();
    const coordinator = farm.nodes.get(A)!.coordinator;
    const { id } = await coordinator.create({ target: { nodes: [B] }, command: ['sh', '-c', 'echo first; sleep 1; echo second'] }, 'a');
    const first = await watchFor(id, 'first');
    expect(first.output).toBe('first\n');
    expect(first.chunks[0]).toMatchObject({ node: B, stream: 'stdout', process: 0 });
    // The second line is a second later: the first arrived while the process ran.
    expect(coordinator.table.get(id).finishedAtMs).toBeNull();
    expect((await watchFor(id, 'second', first.next)).output).toBe('second\n');
    expect((await finished(id)).outcome).toBe('succeeded');
  });

  it('ends a process at its timeout with SIGTERM, and one that ignores SIGTERM with SIGKILL', async () => {
    twoNodes();
    const coordinator = farm.nodes.get(A)!.coordinator;
    const polite = await coordinator.create({ target: { nodes: [A] }, command: ['sleep', '30'], timeoutMs: 300 }, 'a');
    const stubborn = await coordinator.create({ target: { nodes: [B] }, command: ['sh', '-c', 'trap "" TERM; sleep 30'], timeoutMs: 300 }, 'a');
    const startedMs = Date.now();
    const p = (await finished(polite.id)).processes[0]!;
    const s = (await finished(stubborn.id)).processes[0]!;
    expect([p.state, p.signal, p.exitCode]).toEqual(['timed-out', 'SIGTERM', null]);
    expect([s.state, s.signal]).toEqual(['timed-out', 'SIGKILL']);
    expect(Date.now() - startedMs).toBeLessThan(5000);
  });

  it('signals the whole process group, and kills what a process leaves behind when it exits', async () => {
    twoNodes();
    const coordinator = farm.nodes.get(A)!.coordinator;
    const job = await coordinator.create({ target: { nodes: [A] }, command: ['sh', '-c', 'sleep 30 & echo $!; wait'] }, 'a');
    const childPid = Number((await watchFor(job.id, '\n')).output.trim());
    expect(processExists(childPid)).toBe(true);
    await coordinator.signal(job.id, 'SIGTERM');
    const ended = (await finished(job.id)).processes[0]!;
    expect(ended.state).toBe('signalled');
    await waitFor('the background child died with its group', () => !processExists(childPid));

    const leaver = await coordinator.create({ target: { nodes: [A] }, command: ['sh', '-c', 'sleep 30 & echo $!'] }, 'a');
    const view = await finished(leaver.id, A, 5000);
    expect(view.processes[0]!.exitCode).toBe(0);
    const leftPid = Number(view.processes[0]!.stdout!.trim());
    await waitFor('the left-behind child was killed with the group', () => !processExists(leftPid));
  });

  it('bounds captured output to the tail and accounts for every byte', async () => {
    twoNodes();
    const coordinator = farm.nodes.get(A)!.coordinator;
    const total = 3 * 1024 * 1024;
    const job = await coordinator.create({ target: { nodes: [B] }, command: ['sh', '-c', `head -c ${total} /dev/zero | tr '\\0' x; printf END`], outputBytesMax: 64 * 1024 }, 'a');
    const p = (await finished(job.id)).processes[0]!;
    expect(p.exitCode).toBe(0);
    expect(p.stdout!.length).toBe(64 * 1024);
    expect(p.stdout!.endsWith('xxxEND')).toBe(true);
    expect(p.stdoutBytes + p.undeliveredBytes).toBe(total + 3);
  });

  it('fails the start of a program that does not exist, with the reason', async () => {
    twoNodes();
    const job = await farm.nodes.get(A)!.coordinator.create({ target: { nodes: [A, B] }, command: ['no-such-program-galaxy'] }, 'a');
    const view = await finished(job.id);
    expect(view.outcome).toBe('failed');
    for (const p of view.processes) {
      expect(p.state).toBe('failed');
      expect(p.reason).toMatch(/GALAXY_JOBS_SPAWN_FAILED: cannot start "no-such-program-galaxy": ENOENT/);
    }
  });

  it('puts the memory limit in force (RLIMIT_AS through ulimit -v)', async () => {
    twoNodes();
    const job = await farm.nodes.get(A)!.coordinator.create({ target: { nodes: [A] }, command: ['sh', '-c', 'ulimit -v'], memoryMb: 64 }, 'a');
    expect((await finished(job.id)).processes[0]!.stdout).toBe(`${64 * 1024}\n`);
  });

  it.runIf(process.getuid?.() === 0)('runs a process as another user when the agent is root', async () => {
    twoNodes();
    const job = await farm.nodes.get(A)!.coordinator.create({ target: { nodes: [B] }, command: ['id', '-u'], user: 'nobody' }, 'a');
    const p = (await finished(job.id)).processes[0]!;
    expect(p.stdout).toBe('65534\n');
    expect(p.user).toBe('nobody');
  });

  it('stops a job: running processes terminated, the job finishes as stopped', async () => {
    twoNodes();
    const coordinator = farm.nodes.get(A)!.coordinator;
    const job = await coordinator.create({ target: { landscape: 'both' }, command: ['sleep', '30'] }, 'a');
    await waitFor('both run', () => coordinator.table.get(job.id).processes.every((p) => p.status.state === 'running'));
    const stopping = await coordinator.stop(job.id);
    expect(stopping.state).toBe('stopping');
    const view = await finished(job.id);
    expect(view.outcome).toBe('stopped');
    expect(view.processes.map((p) => p.signal)).toEqual(['SIGTERM', 'SIGTERM']);
    await expect(coordinator.add(job.id, { target: { nodes: [A] } })).rejects.toMatchObject({ code: 'GALAXY_JOBS_FINISHED' });
  });

  it('adds processes to a running job and forwards requests from another node to the coordinator', async () => {
    twoNodes();
    const coordinator = farm.nodes.get(A)!.coordinator;
    const other = farm.nodes.get(B)!.coordinator;
    const job = await coordinator.create({ target: { nodes: [A] }, command: ['sleep', '1'] }, 'a');
    const added = await other.add(job.id, { target: { nodes: [B] }, command: ['echo', 'added'] });
    expect(added.processes.map((p) => [p.node, p.command])).toEqual([
      [A, ['sleep', '1']],
      [B, ['echo', 'added']],
    ]);
    const waited = await other.wait(job.id, 10_000);
    expect(waited.finished).toBe(true);
    expect((await other.show(job.id, true, 1)).processes[0]!.stdout).toBe('added\n');
    expect(other.list()).toEqual([]);
    await expect(other.show(`${A}-zz-9`, false)).rejects.toMatchObject({ code: 'GALAXY_JOBS_UNKNOWN_JOB' });
  });

  it('marks the processes of a node that dies mid-job lost, and the job finishes', async () => {
    twoNodes();
    const coordinator = farm.nodes.get(A)!.coordinator;
    const job = await coordinator.create({ target: { landscape: 'both' }, command: ['sh', '-c', 'sleep 2; echo done'] }, 'a');
    await waitFor('both run', () => coordinator.table.get(job.id).processes.every((p) => p.status.state === 'running'));
    farm.dead.add(B);
    farm.nodes.get(B)!.worker.killAll();
    farm.announce();
    const view = await finished(job.id);
    expect(view.outcome).toBe('failed');
    expect(view.processes[0]).toMatchObject({ state: 'exited', exitCode: 0, stdout: 'done\n' });
    expect(view.processes[1]).toMatchObject({ state: 'lost', reason: expect.stringContaining(`node ${B} left the farm`) });
  });

  it('loses the processes of a node that stops answering probes while still a member', async () => {
    twoNodes();
    const coordinator = farm.nodes.get(A)!.coordinator;
    const job = await coordinator.create({ target: { nodes: [B] }, command: ['sleep', '30'] }, 'a');
    await waitFor('it runs', () => coordinator.table.get(job.id).processes[0]!.status.state === 'running');
    farm.dead.add(B);
    const view = await finished(job.id, A, 10_000);
    expect(view.processes[0]).toMatchObject({ state: 'lost', reason: expect.stringContaining('did not answer 3 probes') });
    farm.nodes.get(B)!.worker.killAll();
  });
});
