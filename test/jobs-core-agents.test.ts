// Proves on real `galaxy agent` processes that job coordination runs the pure cores
// (src/core/jobs) in the agent's worker stack, and that both halves of the lost-node
// rule act as the cores decide when an agent is SIGKILLed:
//  - a jobs component SIGKILLed while its agent lives: the agent tells the stack's
//    runner its processes are gone, the coordinator's next probe loses them, and the
//    restarted component kills the orphan and runs jobs again;
//  - JobCoordinatorCore: a worker agent killed mid-job has its process lost, with the
//    core's departure reason, while the coordinator's own process ends normally; the job
//    finishes and its wait returns.
//  - JobRunnerCore: when the coordinator agent is killed, a surviving node terminates the
//    process it ran for it (an orphan: the runner core's membership rule), so the process
//    does not outlive its coordinator.
// How: three agents of an --insecure farm on loopback, driven through the HTTP API;
// processes are watched by pid from the test. Polls with deadlines.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobView, JobWaitView } from '../src/farm/jobs/jobs-backend.js';
import { killAllAgents } from './support/agents.js';
import { api, eventually, startFarm, type FarmAgent } from './support/farm-cli.js';

let a: FarmAgent;
let b: FarmAgent;
let c: FarmAgent;

beforeAll(async () => {
  [a, b, c] = (await startFarm(3)) as [FarmAgent, FarmAgent, FarmAgent];
}, 90_000);

afterAll(() => killAllAgents());

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

async function runningOn(coordinator: FarmAgent, jobId: string, node: FarmAgent): Promise<number> {
  const p = await eventually(`the process on ${node.id} runs`, async () => (await api<JobView>(coordinator, 'GET', `/v1/jobs/${jobId}`)).json.processes.find((p) => p.node === node.id && p.state === 'running'));
  // The pid comes from the runner core's 'started' answer (it confirms launches in the agent).
  expect(p.pid).toBeGreaterThan(0);
  expect(alive(p.pid!)).toBe(true);
  return p.pid!;
}

describe('job coordination cores in galaxy agent', () => {
  it('loses the process of a node whose jobs component is SIGKILLed while the agent lives: the worker stack\'s runner forgets it, the coordinator\'s probe loses it', async () => {
    const created = await api<JobView>(a, 'POST', '/v1/jobs', { target: { nodes: [b.id] }, command: ['sleep', '120'] });
    expect(created.status).toBe(201);
    const pid = await runningOn(a, created.json.id, b);
    const component = async () => (await api<Array<{ name: string; state: string; pid: number | null }>>(b, 'GET', '/v1/components')).json.find((s) => s.name === 'jobs')!;
    const before = await component();
    process.kill(before.pid!, 'SIGKILL');
    const waited = await eventually('the job finishes', async () => {
      const answer = await api<JobWaitView>(a, 'GET', `/v1/jobs/${created.json.id}/wait?timeoutMs=5000`);
      return answer.json.finished ? answer.json : undefined;
    }, 60_000);
    expect(waited.job.processes[0]).toMatchObject({ state: 'lost', reason: `node ${b.id} no longer knows the process (its jobs component restarted)` });
    // b stayed a member throughout, and its restarted component reaped what its predecessor left.
    await eventually(`the orphan ${pid} on ${b.id} is killed`, () => (alive(pid) ? undefined : true), 30_000, 200);
    await eventually('b\'s jobs component runs again', async () => ((await component()).state === 'running' ? true : undefined), 30_000);
    const again = await api<JobView>(a, 'POST', '/v1/jobs', { target: { nodes: [b.id] }, command: ['true'] });
    const done = await eventually('a job on b runs again', async () => {
      const answer = await api<JobWaitView>(a, 'GET', `/v1/jobs/${again.json.id}/wait?timeoutMs=5000`);
      return answer.json.finished ? answer.json : undefined;
    });
    expect(done.job.outcome).toBe('succeeded');
  }, 90_000);

  it('loses the process of a SIGKILLed worker agent by the coordinator core\'s departure rule', async () => {
    const created = await api<JobView>(a, 'POST', '/v1/jobs', { target: { nodes: [a.id, c.id] }, command: ['sh', '-c', `if [ "$GALAXY_NODE_ID" = "${c.id}" ]; then exec sleep 120; fi; sleep 3; echo done`] });
    expect(created.status).toBe(201);
    const jobId = created.json.id;
    await runningOn(a, jobId, c);
    c.agent.child.kill('SIGKILL');
    const waited = await eventually('the job finishes', async () => {
      const answer = await api<JobWaitView>(a, 'GET', `/v1/jobs/${jobId}/wait?timeoutMs=5000`);
      return answer.json.finished ? answer.json : undefined;
    }, 60_000);
    const byNode = Object.fromEntries(waited.job.processes.map((p) => [p.node, p]));
    expect(byNode[a.id]).toMatchObject({ state: 'exited', exitCode: 0 });
    expect(byNode[c.id]).toMatchObject({ state: 'lost', reason: `node ${c.id} left the farm (dead, or its jobs component stopped)` });
    expect(waited.job.outcome).toBe('failed');
  }, 90_000);

  it('terminates the process a node ran for a SIGKILLed coordinator (the runner core\'s orphan rule)', async () => {
    const created = await api<JobView>(a, 'POST', '/v1/jobs', { target: { nodes: [b.id] }, command: ['sleep', '120'] });
    expect(created.status).toBe(201);
    const pid = await runningOn(a, created.json.id, b);
    a.agent.child.kill('SIGKILL');
    await eventually(`the orphan ${pid} on ${b.id} is terminated`, () => (alive(pid) ? undefined : true), 60_000, 200);
    // b itself is fine: it still answers, and now coordinates a job of its own.
    const own = await api<JobView>(b, 'POST', '/v1/jobs', { target: { nodes: [b.id] }, command: ['true'] });
    expect(own.status).toBe(201);
    const waited = await eventually('b\'s own job finishes', async () => {
      const answer = await api<JobWaitView>(b, 'GET', `/v1/jobs/${own.json.id}/wait?timeoutMs=5000`);
      return answer.json.finished ? answer.json : undefined;
    });
    expect(waited.job.outcome).toBe('succeeded');
  }, 90_000);
});
