// Proves that the jobs service's coordination is the pure core's, not the driver's: the
// agent's JobCoordinator (src/farm/jobs/job-coordinator.ts) only sends the operator's
// commands through its JobsLink and records what the coordination behind it (NodeJobs:
// JobCoordinatorCore and JobRunnerCore, here in process) decides. How: nodes of the
// in-memory farm (test/support/jobs-farm.ts: real child processes, the real drivers and
// services, an in-memory RPC router) run a job on a node that then dies. With the real
// core the dead node's process is lost and the job finishes; with a deliberately broken
// core whose lost-node rule does nothing, the same driver never finishes the job, and
// with one that loses processes on its own after their start, it reports losses the
// membership never caused. So no lost-node logic is left in the driver to cover for it.
// It also shows the messages are the cores' (the router's stand-in for the
// jobs-coordination channel), and a start the node refuses
// to run (a malformed spec, which no API request can make) fails the process.
import { afterEach, describe, expect, it } from 'vitest';
import { JobCoordinatorCore } from '../src/core/jobs/job-coordinator-core.js';
import { waitFor } from './support/components.js';
import { InMemoryFarm, kCoordinationService } from './support/jobs-farm.js';

const A = '00000000000000a1';
const B = '00000000000000b2';
let farm: InMemoryFarm | undefined;

afterEach(async () => {
  await farm?.close();
  farm = undefined;
});

/** A core whose lost-node rule is switched off: a process is never given up. */
class NeverLoses extends JobCoordinatorCore {
  protected override lose(): void {}
}

/** A core that loses every process as soon as its start is answered. */
class LosesEverything extends JobCoordinatorCore {
  override step(input: Parameters<JobCoordinatorCore['step']>[0]): void {
    super.step(input);
    if (input.type === 'message' && input.message.t === 'started') this.lose(input.message.jobId, input.message.index, 'broken core');
  }
}

function twoNodes(makeCore?: (options: ConstructorParameters<typeof JobCoordinatorCore>[0]) => JobCoordinatorCore): InMemoryFarm {
  farm = new InMemoryFarm();
  farm.add(A, makeCore === undefined ? {} : { makeCoordinator: makeCore });
  farm.add(B);
  farm.announce();
  return farm;
}

/** Runs `sleep 30` on B from A, kills B once it runs, and waits up to `waitMs` for the job. */
async function jobOnDyingNode(f: InMemoryFarm, waitMs: number): Promise<{ finished: boolean; state: string; reason: string | null }> {
  const coordinator = f.nodes.get(A)!.coordinator;
  const job = await coordinator.create({ target: { nodes: [B] }, command: ['sleep', '30'] }, 'test');
  await waitFor('it runs on B', () => coordinator.table.get(job.id).processes[0]!.status.state === 'running');
  f.dead.add(B);
  f.nodes.get(B)!.worker.killAll();
  f.announce();
  const waited = await coordinator.wait(job.id, waitMs);
  const p = waited.job.processes[0]!;
  return { finished: waited.finished, state: p.state, reason: p.reason };
}

describe('the agent\'s job coordination is the core\'s', () => {
  it('loses the process of a node that left the farm, as the core decides', async () => {
    const f = twoNodes();
    const calls: string[] = [];
    const route = f.call.bind(f);
    f.call = (from, to, service, body, timeoutMs) => {
      calls.push(service);
      return route(from, to, service, body, timeoutMs);
    };
    const outcome = await jobOnDyingNode(f, 5000);
    expect(outcome).toEqual({ finished: true, state: 'lost', reason: `node ${B} left the farm (dead, or its jobs component stopped)` });
    // Starts, their answers and probes travel as the cores' messages; nothing else coordinates.
    expect(new Set(calls)).toEqual(new Set(['farm.resolve', kCoordinationService]));
    expect(f.nodes.get(A)!.link.nodeJobs!.coordinator.counters).toMatchObject({ created: 1, lost: 1 });
    expect(f.nodes.get(A)!.coordinator.counters).toMatchObject({ created: 1, lost: 1 });
  });

  it('never finishes the job when the core\'s lost-node rule is broken: the driver has none of its own', async () => {
    const outcome = await jobOnDyingNode(twoNodes((o) => new NeverLoses(o)), 2000);
    expect(outcome).toEqual({ finished: false, state: 'running', reason: null });
  });

  it('reports losses the membership never caused when the core loses processes by itself', async () => {
    const f = twoNodes((o) => new LosesEverything(o));
    const coordinator = f.nodes.get(A)!.coordinator;
    const job = await coordinator.create({ target: { nodes: [B] }, command: ['sleep', '30'] }, 'test');
    const waited = await coordinator.wait(job.id, 5000);
    expect(waited.finished).toBe(true);
    expect(waited.job.processes[0]).toMatchObject({ state: 'lost', reason: 'broken core' });
  });

  it('fails a process whose start its node refuses to run, with the node\'s reason', async () => {
    const f = twoNodes();
    const coordinator = f.nodes.get(A)!.coordinator;
    const job = await coordinator.create({ target: { nodes: [B] }, command: ['true'] }, 'test');
    // Straight to the coordination, as no API request could: a start whose spec the node's schema refuses.
    coordinator.table.add(job.id, { command: ['true'] }, [B]);
    await f.nodes.get(A)!.link.commandJobs({ type: 'add-job', jobId: job.id, command: '{"command":[]}', nodes: [B] });
    const waited = await coordinator.wait(job.id, 5000);
    expect(waited.finished).toBe(true);
    expect(waited.job.processes.map((p) => p.state)).toEqual(['exited', 'failed']);
    expect(waited.job.processes[1]!.reason).toMatch(/^GALAXY_JOBS_INVALID: /);
  });
});
