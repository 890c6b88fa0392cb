// Proves the pieces that put the agent's job coordination in its worker stack and let the
// jobs component drive it (src/farm/jobs/jobs-component-link.ts, src/core/jobs/node-jobs.ts):
//  - the runner takes a start only from the node its job id names (startsFromJobIdNode),
//    and a runner without that rule (a deliberately broken one) runs work for anybody;
//  - a host restart (the jobs component restarted, stopped or crashed) makes the runner
//    forget what it ran: the coordinator's next probe loses those processes, a launch
//    still under way fails, an end already reported is still delivered; and the jobs the
//    node coordinated (their table went with the component) are stopped;
//  - the agent's JobsComponentPort answers farm.jobs.* for the jobs component alone,
//    opens the coordination once and tells it of a restart at every later open, and fails
//    at once a process it cannot hand to a component that does not run;
//  - the component's JobsComponentLink takes jobs.events only from its own node.
// The coordination here is two NodeJobs (the composition the worker's NodeStack runs)
// whose messages a synchronous router carries, or InProcessJobs links over the same.
import { afterEach, describe, expect, it } from 'vitest';
import type { JobEvent } from '../src/core/jobs/job-coordinator-core.js';
import type { JobMessage } from '../src/core/jobs/job-message.js';
import { NodeJobs, type NodeJobsEvent } from '../src/core/jobs/node-jobs.js';
import { jobsOpenOptions } from '../src/farm/jobs/job-coordinator.js';
import { JobsComponentLink, JobsComponentPort, kJobsLinkServices } from '../src/farm/jobs/jobs-component-link.js';
import type { JobsStackEvent } from '../src/node/driver/agent-worker-protocol.js';
import { InProcessJobs } from '../src/node/driver/in-process-jobs.js';
import { waitFor } from './support/components.js';

const A = '00000000000000a1';
const B = '00000000000000b2';
const C = '00000000000000c3';
const kJob = `${A}-lq9x2k1c-1`;

/** Two or three NodeJobs joined by a synchronous router; every node's events recorded. */
class Pair {
  readonly nodes = new Map<string, NodeJobs>();
  readonly events = new Map<string, NodeJobsEvent[]>();
  nowMs = 0;

  constructor(ids: readonly string[], startsFromJobIdNode = true) {
    const options = jobsOpenOptions({ probeIntervalMs: 200, startRetryMs: 200 });
    for (const id of ids) {
      this.nodes.set(id, new NodeJobs(id, { ...options, runner: { ...options.runner, startsFromJobIdNode } }, 0));
      this.events.set(id, []);
    }
    for (const jobs of this.nodes.values()) jobs.members(new Set(ids));
    this.settle();
  }

  node(id: string): NodeJobs {
    return this.nodes.get(id)!;
  }

  /** Drains every node until no message is left. */
  settle(): void {
    for (let moved = true; moved; ) {
      moved = false;
      for (const [id, jobs] of this.nodes) {
        const sent: Array<[string, JobMessage]> = [];
        jobs.drain({ event: (e) => this.events.get(id)!.push(e), send: (to, message) => sent.push([to, message]) });
        for (const [to, message] of sent) {
          moved = true;
          this.nodes.get(to)?.receive(id, message);
        }
      }
    }
  }

  tick(ms: number): void {
    this.nowMs += ms;
    for (const jobs of this.nodes.values()) jobs.tick(this.nowMs);
    this.settle();
  }

  coordinatorEvents(id: string): JobEvent[] {
    return this.events.get(id)!.flatMap((e) => (e.layer === 'jobs' ? [e.event] : []));
  }

  runs(id: string): number {
    return this.events.get(id)!.filter((e) => e.layer === 'run').length;
  }
}

describe('starts only from the coordinator a job id names', () => {
  it('refuses a start another node sends for a job it does not coordinate; a broken runner without the rule runs it', () => {
    for (const rule of [true, false]) {
      const p = new Pair([A, B, C], rule);
      // C forges a start of A's job to B, straight to B's runner.
      p.node(B).receive(C, { t: 'start', jobId: kJob, index: 0, command: '{"command":["true"]}' });
      p.settle();
      expect(p.runs(B)).toBe(rule ? 0 : 1);
      expect(p.node(B).runner.counters.startsRefused).toBe(rule ? 1 : 0);
    }
    // The job's own coordinator is obeyed.
    const p = new Pair([A, B]);
    p.node(A).command({ type: 'create-job', jobId: kJob, command: '{"command":["true"]}', nodes: [B] });
    p.settle();
    expect(p.runs(B)).toBe(1);
  });
});

describe('a host restart', () => {
  it('forgets the running processes (lost at the next probe), fails a launch under way, and keeps an end already reported', () => {
    const p = new Pair([A, B]);
    p.node(A).command({ type: 'create-job', jobId: kJob, command: 'x', nodes: [B, B, B] });
    p.settle();
    expect(p.runs(B)).toBe(3);
    p.node(B).command({ type: 'launched', jobId: kJob, index: 0, pid: 100 });
    p.node(B).command({ type: 'launched', jobId: kJob, index: 1, pid: 101 });
    p.node(B).command({ type: 'exited', jobId: kJob, index: 1, exitCode: 0 });
    p.settle();
    // Index 0 runs, 1 ended and reported, 2 is still launching when the component restarts.
    p.node(B).command({ type: 'host-restarted', reason: 'GALAXY_JOBS_UNAVAILABLE: restarted' });
    p.settle();
    expect(p.node(B).runner.counters.forgotten).toBe(1);
    for (let i = 0; i < 10; i++) p.tick(100);
    const byIndex = new Map(p.coordinatorEvents(A).filter((e) => e.type !== 'job-finished' && e.type !== 'process-running').map((e) => [(e as { index: number }).index, e]));
    expect(byIndex.get(0)).toMatchObject({ type: 'process-lost', reason: `node ${B} no longer knows the process (its jobs component restarted)` });
    expect(byIndex.get(1)).toMatchObject({ type: 'process-ended', exitCode: 0 });
    expect(byIndex.get(2)).toMatchObject({ type: 'process-failed', reason: 'GALAXY_JOBS_UNAVAILABLE: restarted' });
    expect(p.coordinatorEvents(A).some((e) => e.type === 'job-finished')).toBe(true);
  });

  it('on the coordinator\'s node stops the jobs whose table went with the component: their processes elsewhere are terminated', () => {
    const p = new Pair([A, B]);
    p.node(A).command({ type: 'create-job', jobId: kJob, command: 'x', nodes: [B] });
    p.settle();
    p.node(B).command({ type: 'launched', jobId: kJob, index: 0, pid: 100 });
    p.settle();
    expect(p.events.get(B)!.filter((e) => e.layer === 'terminate')).toEqual([]);
    p.node(A).command({ type: 'host-restarted', reason: 'restarted' });
    p.settle();
    expect(p.events.get(B)!.filter((e) => e.layer === 'terminate')).toEqual([{ layer: 'terminate', jobId: kJob, index: 0 }]);
    p.node(B).command({ type: 'exited', jobId: kJob, index: 0, exitCode: null, signal: 'SIGTERM' });
    p.settle();
    expect(p.coordinatorEvents(A).map((e) => e.type)).toEqual(['process-running', 'process-ended', 'job-finished']);
  });

  it('without it, the same processes never end: the job would wait for processes nobody runs', () => {
    const p = new Pair([A, B]);
    p.node(A).command({ type: 'create-job', jobId: kJob, command: 'x', nodes: [B] });
    p.settle();
    p.node(B).command({ type: 'launched', jobId: kJob, index: 0, pid: 100 });
    for (let i = 0; i < 20; i++) p.tick(100);
    expect(p.coordinatorEvents(A).map((e) => e.type)).toEqual(['process-running']);
  });
});

describe('the agent\'s port to the jobs component', () => {
  const links: InProcessJobs[] = [];
  afterEach(() => {
    for (const link of links.splice(0)) link.close();
  });

  /** A and B as InProcessJobs joined in memory; B's port delivers through `deliver`. */
  function farm(deliver: (body: { events: readonly JobsStackEvent[] }) => Promise<unknown>) {
    const byId = new Map<string, InProcessJobs>();
    const make = (id: string) => {
      const link = new InProcessJobs({ selfId: id, send: (to, message) => queueMicrotask(() => byId.get(to)?.receive(id, message)) });
      byId.set(id, link);
      links.push(link);
      link.members(new Set([A, B]));
      return link;
    };
    const a = make(A);
    const b = make(B);
    const port = new JobsComponentPort({ link: b, component: 'jobs', deliver });
    const events: JobsStackEvent[] = [];
    a.onJobs((batch) => events.push(...batch));
    return { a, b, port, events };
  }

  it('answers farm.jobs.* for the jobs component alone, and opens once: a later open is a restart', async () => {
    const { b, port } = farm(async () => ({}));
    const options = jobsOpenOptions();
    await expect(port.serve(kJobsLinkServices.open, { options }, 'other')).rejects.toMatchObject({ code: 'GALAXY_JOBS_INVALID' });
    await expect(port.serve(kJobsLinkServices.open, { options }, undefined)).rejects.toMatchObject({ code: 'GALAXY_JOBS_INVALID' });
    expect(b.nodeJobs).toBeNull();
    await port.serve(kJobsLinkServices.open, { options }, 'jobs');
    expect(b.nodeJobs).not.toBeNull();
    const cores = b.nodeJobs!;
    cores.receive(A, { t: 'start', jobId: kJob, index: 0, command: 'x' });
    await port.serve(kJobsLinkServices.command, { command: { type: 'launched', jobId: kJob, index: 0, pid: 7 } }, 'jobs');
    expect(cores.runner.processes.size).toBe(1);
    await port.serve(kJobsLinkServices.open, { options }, 'jobs');
    // The same cores (not reopened), told the component restarted.
    expect(b.nodeJobs).toBe(cores);
    expect(cores.runner.counters.forgotten).toBe(1);
    await expect(port.serve(kJobsLinkServices.command, { command: { type: 'open-jobs' } }, 'jobs')).rejects.toMatchObject({ code: 'GALAXY_JOBS_INVALID' });
    expect(port.counters).toMatchObject({ opens: 2, commands: 1, refused: 3 });
  });

  it('fails at once a process it cannot hand to the component, with why', async () => {
    const refused = Object.assign(new Error('component jobs is not running'), { code: 'GALAXY_COMPONENT_NOT_RUNNING' });
    const { a, port, events } = farm(() => Promise.reject(refused));
    a.openJobs(jobsOpenOptions());
    await port.serve(kJobsLinkServices.open, { options: jobsOpenOptions() }, 'jobs');
    await a.commandJobs({ type: 'create-job', jobId: kJob, command: 'x', nodes: [B] });
    await waitFor('the start failed', () => events.some((e) => e.layer === 'jobs' && e.event.type === 'process-failed'), 5000);
    const failed = events.find((e) => e.layer === 'jobs' && e.event.type === 'process-failed') as { event: { reason: string } };
    expect(failed.event.reason).toBe('GALAXY_JOBS_UNAVAILABLE: the jobs component does not run on this node (component jobs is not running)');
    expect(port.counters.deliveriesFailed).toBe(1);
  });

  it('delivers every event in order to a running component, in bodies the bridge takes', async () => {
    const bodies: Array<readonly JobsStackEvent[]> = [];
    const { a, port } = farm(async (body) => bodies.push(body.events));
    a.openJobs(jobsOpenOptions());
    await port.serve(kJobsLinkServices.open, { options: jobsOpenOptions() }, 'jobs');
    const big = JSON.stringify({ command: ['sh', '-c', 'x'.repeat(200_000)] });
    for (let n = 1; n <= 8; n++) await a.commandJobs({ type: 'create-job', jobId: `${A}-lq9x2k1c-${n}`, command: big, nodes: [B] });
    await waitFor('eight runs delivered', () => bodies.flat().filter((e) => e.layer === 'run').length === 8, 5000);
    expect(bodies.flat().map((e) => (e.layer === 'run' ? e.jobId : '')).filter((id) => id !== '')).toEqual([1, 2, 3, 4, 5, 6, 7, 8].map((n) => `${A}-lq9x2k1c-${n}`));
    for (const body of bodies) expect(JSON.stringify({ events: body }).length).toBeLessThan(1024 * 1024);
  });
});

describe('the component\'s link', () => {
  it('takes jobs.events only from its own node', () => {
    const link = new JobsComponentLink({ nodeId: B, call: async () => ({}) });
    const got: JobsStackEvent[] = [];
    link.onJobs((events) => got.push(...events));
    const events: JobsStackEvent[] = [{ layer: 'terminate', jobId: kJob, index: 0 }];
    expect(() => link.events({ events }, A)).toThrow(/only from this node/);
    link.events({ events }, B);
    expect(got).toEqual(events);
  });
});
