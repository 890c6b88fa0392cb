// Proves the jobs and scripts components as they run in an agent: two component hosts
// stand for two nodes, each running the compiled jobs and scripts components in child
// processes (forks of dist/workers/component-runner.js), joined by the in-process farm
// stub of support/rpc-farm.ts through connectComponentRpc (farm.resolve and
// farm.members answered there; the real FarmRpc is proven in farm-rpc.test.ts). Each
// node's job coordination is an InProcessJobs (the NodeJobs composition the agent's
// worker stack runs) behind the agent's JobsComponentPort, its messages over the stub. A job
// created on one node runs on both and returns exit codes and output; the API backend
// reaches the component through ComponentHost.request; a node whose jobs component is
// SIGKILLed mid-job and drops out of the membership has its process marked lost and the
// job finishes, and the restarted component kills the process its predecessor left; a
// component SIGKILLed while its node stays a member has its process lost at the
// coordinator's next probe (the coordination forgets what it ran), and a start on a node
// whose component is stopped fails at once; a
// script's phases hold their barrier across the nodes and its log lands on the
// management node. Needs the compiled components: run `npx tsc -p tsconfig.json` first.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { componentJobsBackend } from '../src/farm/jobs/jobs-backend.js';
import { connectComponentRpc } from '../src/farm/components/host/component-rpc-bridge.js';
import { kJobsComponent } from '../src/farm/jobs/jobs-component.js';
import { kScriptsComponent } from '../src/farm/jobs/scripts/scripts-component.js';
import type { JobView, JobWaitView } from '../src/farm/jobs/job-view.js';
import type { ScriptProgress } from '../src/farm/jobs/scripts/script-coordinator.js';
import type { ScriptView } from '../src/farm/jobs/scripts/script-view.js';
import { closeHosts, processExists, testHost, waitFor, type TestHost } from './support/components.js';
import { RpcFarm } from './support/rpc-farm.js';
import { jobMessageOf } from '../src/core/jobs/job-message.js';
import { JobsComponentPort } from '../src/farm/jobs/jobs-component-link.js';
import { kJobsEventsService } from '../src/farm/jobs/jobs-wire.js';
import { InProcessJobs } from '../src/node/driver/in-process-jobs.js';

const kCoordinationService = 'test.jobs-coordination';
const links: InProcessJobs[] = [];

const A = '00000000000000aa';
const B = '00000000000000bb';
const dirs: string[] = [];

afterEach(async () => {
  await closeHosts();
  for (const link of links.splice(0)) link.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

type JobsNode = TestHost & { readonly jobs: InProcessJobs };

async function twoNodes(): Promise<{ a: JobsNode; b: JobsNode; farm: RpcFarm }> {
  const farm = new RpcFarm();
  farm.members = [
    { id: A, address: '10.0.0.1:7946', status: 'alive', tags: { roles: 'management' } },
    { id: B, address: '10.0.0.2:7946', status: 'alive', tags: { roles: 'worker' } },
  ];
  farm.landscapes.set('both', [A, B]);
  farm.landscapes.set('b', [B]);
  const node = async (nodeId: string, peer: string): Promise<JobsNode> => {
    const t = testHost({ nodeId, controlTimeoutMs: 5000 });
    // The stub resolves landscapes only; named nodes resolve to themselves, as the farm's farm.resolve does for members.
    const port = farm.port(nodeId);
    const jobs = new InProcessJobs({ selfId: nodeId, send: (to, message) => void port.call(to, kCoordinationService, { message }, 500).catch(() => undefined) });
    links.push(jobs);
    port.handle(kCoordinationService, async (from, body) => {
      const message = jobMessageOf((body as { message?: unknown }).message);
      if (message !== null) jobs.receive(from.id, message);
      return {};
    });
    jobs.members(new Set([peer]));
    // The agent's side, as FarmComponents wires it.
    const jobsPort = new JobsComponentPort({ link: jobs, component: kJobsComponent.name, deliver: (body) => t.host.request(kJobsComponent.name, kJobsEventsService, nodeId, body, 10_000) });
    t.host.on('component', (event) => {
      if (event.name === kJobsComponent.name && (event.type === 'crashed' || event.type === 'failed' || event.type === 'stopped')) jobsPort.componentGone();
    });
    connectComponentRpc(t.host, {
      ...port,
      call: (to, service, body, timeoutMs, caller) => {
        if (to === nodeId && jobsPort.serves(service)) return jobsPort.serve(service, body, caller);
        return service === 'farm.resolve' && Array.isArray((body as { nodes?: unknown }).nodes) ? Promise.resolve((body as { nodes: string[] }).nodes) : port.call(to, service, body, timeoutMs);
      },
    });
    t.host.add({ ...kJobsComponent, config: { probeIntervalMs: 300, probeTimeoutMs: 500, killGraceMs: 500 } });
    t.host.add(kScriptsComponent);
    expect((await t.host.start('jobs')).state).toBe('running');
    expect((await t.host.start('scripts')).state).toBe('running');
    return Object.assign(t, { jobs });
  };
  const [a, b] = await Promise.all([node(A, B), node(B, A)]);
  return { a, b, farm };
}

async function waitJob(t: TestHost, jobId: string): Promise<JobView> {
  for (;;) {
    const waited = (await t.host.request('jobs', 'jobs.wait', t.host.settings.nodeId, { jobId, timeoutMs: 5000 }, 10_000)) as JobWaitView;
    if (waited.finished) return (await t.host.request('jobs', 'jobs.show', t.host.settings.nodeId, { jobId, output: true })) as JobView;
  }
}

describe('jobs and scripts components across two hosts', () => {
  it('runs a job on both nodes from one, with exit codes and output; the API backend reaches it', async () => {
    const { a, b } = await twoNodes();
    const created = (await a.host.request('jobs', 'jobs.create', A, { request: { target: { landscape: 'both' }, command: ['sh', '-c', 'echo "on $GALAXY_NODE_ID"; exit ${CODE:-0}'], env: { CODE: '0' } }, by: 'test' })) as JobView;
    const job = await waitJob(a, created.id);
    expect(job.processes.map((p) => [p.node, p.state, p.exitCode, p.stdout])).toEqual([
      [A, 'exited', 0, `on ${A}\n`],
      [B, 'exited', 0, `on ${B}\n`],
    ]);
    // From the other node, through the API backend: forwarded to the coordinator.
    const backend = componentJobsBackend((component, service, body, timeoutMs) => b.host.request(component, service, B, body, timeoutMs));
    expect((await backend.showJob(created.id, {})).outcome).toBe('succeeded');
    const failing = await backend.createJob({ target: { landscape: 'b' }, command: ['sh', '-c', 'echo bad >&2; exit 9'] }, 'op');
    const waited = await backend.waitJob(failing.id, 10_000);
    expect(waited.job.processes[0]).toMatchObject({ node: B, exitCode: 9 });
    await expect(backend.createJob({ target: { landscape: 'none' }, command: ['true'] }, 'op')).rejects.toMatchObject({ code: 'GALAXY_LANDSCAPE_UNKNOWN' });
  });

  it('marks the process of a node that dies mid-job lost; the job finishes; the restarted component reaps the orphan', async () => {
    const { a, b } = await twoNodes();
    const created = (await a.host.request('jobs', 'jobs.create', A, { request: { target: { landscape: 'both' }, command: ['sh', '-c', `[ "$GALAXY_NODE_ID" = "${B}" ] && exec sleep 60; sleep 1; echo done`] }, by: 'test' })) as JobView;
    let view: JobView = created;
    for (const deadline = Date.now() + 10_000; Date.now() < deadline && !view.processes.every((p) => p.state === 'running'); ) {
      view = (await a.host.request('jobs', 'jobs.show', A, { jobId: created.id })) as JobView;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const orphan = view.processes[1]!.pid!;
    expect(processExists(orphan)).toBe(true);
    // Node B dies: its jobs component is SIGKILLed, and the farm's membership drops it.
    const componentPid = b.host.status().find((c) => c.name === 'jobs')!.pid!;
    process.kill(componentPid, 'SIGKILL');
    a.jobs.members(new Set());
    const job = await waitJob(a, created.id);
    expect(job.state).toBe('finished');
    expect(job.processes[0]).toMatchObject({ state: 'exited', exitCode: 0, stdout: 'done\n' });
    expect(job.processes[1]).toMatchObject({ state: 'lost', reason: expect.stringContaining(`node ${B} left the farm`) });
    await waitFor('B restarted its jobs component', () => b.host.status().find((c) => c.name === 'jobs')!.pid !== componentPid && b.host.status().find((c) => c.name === 'jobs')!.state === 'running', 15_000);
    await waitFor('the restarted component killed the orphan', () => !processExists(orphan), 10_000);
  });

  it('loses the process of a node whose jobs component is SIGKILLed and restarts while the node stays a member; with the component stopped, a start there fails at once', async () => {
    const { a, b } = await twoNodes();
    const created = (await a.host.request('jobs', 'jobs.create', A, { request: { target: { landscape: 'b' }, command: ['sleep', '60'] }, by: 'test' })) as JobView;
    let view: JobView = created;
    for (const deadline = Date.now() + 10_000; Date.now() < deadline && view.processes[0]!.state !== 'running'; ) {
      view = (await a.host.request('jobs', 'jobs.show', A, { jobId: created.id })) as JobView;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const orphan = view.processes[0]!.pid!;
    const componentPid = b.host.status().find((c) => c.name === 'jobs')!.pid!;
    process.kill(componentPid, 'SIGKILL');
    // B never left the membership: its coordination forgets what the killed component ran, so A's probe loses it.
    const job = await waitJob(a, created.id);
    expect(job.processes[0]).toMatchObject({ state: 'lost', reason: `node ${B} no longer knows the process (its jobs component restarted)` });
    await waitFor('the restarted component killed the orphan', () => !processExists(orphan), 15_000);
    // With B's component stopped, a start on B fails at once: B's agent answers for it.
    await waitFor('B restarted its jobs component', () => b.host.status().find((c) => c.name === 'jobs')!.state === 'running', 15_000);
    await b.host.stop('jobs');
    const refused = (await a.host.request('jobs', 'jobs.create', A, { request: { target: { landscape: 'b' }, command: ['true'] }, by: 'test' })) as JobView;
    const failed = await waitJob(a, refused.id);
    expect(failed.processes[0]).toMatchObject({ state: 'failed', reason: expect.stringContaining('GALAXY_JOBS_UNAVAILABLE: the jobs component does not run on this node') });
  });

  it('runs a script across both nodes with the barrier holding, and keeps its log on the management node', async () => {
    const { a, b } = await twoNodes();
    const dir = mkdtempSync(join(tmpdir(), 'galaxy-jobs-components-'));
    dirs.push(dir);
    const log = join(dir, 'stamps');
    writeFileSync(log, '');
    const script = `s() { echo "$GALAXY_PHASE $1 $(date +%s%N)" >> "${log}"; }\n# galaxy:phase one\ns start; [ "$GALAXY_NODE_ID" = "${A}" ] && sleep 0.5; s end\n# galaxy:phase two\ns start; echo two; s end\n`;
    const started = (await b.host.request('scripts', 'scripts.run', B, { request: { target: { landscape: 'both' }, script }, by: 'test' })) as { id: string };
    let version: number | undefined;
    for (;;) {
      const progress = (await b.host.request('scripts', 'scripts.wait', B, { runId: started.id, timeoutMs: 5000, ...(version === undefined ? {} : { version }) }, 10_000)) as ScriptProgress;
      if (progress.finished) break;
      version = progress.version;
    }
    const view = (await b.host.request('scripts', 'scripts.show', B, { runId: started.id, merged: true })) as ScriptView;
    expect([view.state, view.reason]).toEqual(['succeeded', null]);
    expect(view.merged![1]!.groups).toEqual([{ nodes: [A, B], status: 'exit 0', stdout: 'two\n', stderr: '' }]);
    const stamps = readFileSync(log, 'utf8').trim().split('\n').map((line) => line.split(' '));
    const lastEndOfOne = stamps.filter(([phase, what]) => phase === '1' && what === 'end').map(([, , ns]) => BigInt(ns!)).reduce((m, n) => (n > m ? n : m));
    const firstStartOfTwo = stamps.filter(([phase, what]) => phase === '2' && what === 'start').map(([, , ns]) => BigInt(ns!)).reduce((m, n) => (n < m ? n : m));
    expect(lastEndOfOne < firstStartOfTwo).toBe(true);
    await waitFor('the log reached the management node', () => {
      try {
        return JSON.parse(readFileSync(join(a.host.settings.stateRoot, 'scripts', 'script-logs', `${started.id}.json`), 'utf8')).record.state === 'succeeded';
      } catch {
        return false;
      }
    });
    const kept = (await a.host.request('scripts', 'scripts.logs', A, { runId: started.id })) as { from: string };
    expect(kept.from).toBe(B);
  });
});
