// Proves that job coordination runs inside the NodeDriver's NodeStack (the driver the
// agent worker runs) when the host opens it with a 'jobs-open' request: two drivers in
// this thread on real loopback sockets, sealed with one farm key, nodes named by their
// node ids (jobsNames 'sender-id'), the host answering each 'run' as the agent would.
//  - A command before 'jobs-open' is refused with GALAXY_JOBS_NOT_OPEN; a refused command
//    after it is answered with the core's code and kind (nothing half-done).
//  - A job created on A for A and B: both hosts get a 'run' event in a 'jobs' report, the
//    coordinator on A reports each process running with the pid the host gave
//    (launches confirmed), then ended with its exit code and the job finished.
//  - A start with a command too big for a datagram reaches B whole as a stream frame
//    (A's jobFramesSent).
//    The datagram bound leaves room for the seal the driver adds (the two constants agree).
//  - A stop of a running job reaches B's host as a 'terminate' event.
//  - A process on B is reported lost on A once B leaves the membership: the live set is
//    the farm's members, fed by the stack.
import { afterAll, describe, expect, it } from 'vitest';
import type { AgentOptions } from '../src/node/driver/agent-options.js';
import type { AgentWorkerReport, JobsStackEvent } from '../src/node/driver/agent-worker-protocol.js';
import { NodeDriver } from '../src/node/driver/node-driver.js';
import { Keyring, kSealOverheadBytes } from '../src/node/security/keyring.js';
import { kJobSealBytesMax } from '../src/core/jobs/job-message.js';
import { startDriver, type RunningDriver } from './support/driver-data.js';
import { until } from './support/until.js';

type Running = RunningDriver;

const drivers: NodeDriver[] = [];

function start(options: AgentOptions, seed: number): Promise<Running> {
  return startDriver(options, seed, drivers);
}

function idOf(r: Running): string {
  const ready = r.reports.find((x) => x.type === 'ready');
  if (ready?.type !== 'ready') throw new Error('no ready report');
  return ready.id;
}

function jobsOf(r: Running): JobsStackEvent[] {
  return r.reports.flatMap((x) => (x.type === 'jobs' ? x.events : []));
}

function doneOf(r: Running, requestId: number): Extract<AgentWorkerReport, { type: 'jobs-done' }> {
  const done = r.reports.find((x) => x.type === 'jobs-done' && x.requestId === requestId);
  if (done?.type !== 'jobs-done') throw new Error(`no jobs-done for request ${requestId}`);
  return done;
}

function runsOf(r: Running, jobId: string): Array<Extract<JobsStackEvent, { layer: 'run' }>> {
  return jobsOf(r).flatMap((e) => (e.layer === 'run' && e.jobId === jobId ? [e] : []));
}

function eventsOf(r: Running, jobId: string): string[] {
  return jobsOf(r).flatMap((e) => (e.layer === 'jobs' && e.event.jobId === jobId ? [e.event.type] : []));
}

afterAll(async () => {
  await Promise.all(drivers.map((d) => d.stop(0)));
});

describe('NodeDriver runs job coordination in its stack', () => {
  it('runs, stops and loses processes between two drivers, with launches confirmed by the host', async () => {
    const key = Keyring.generateKey();
    const a = await start({ bind: '127.0.0.1:0', preset: 'local', keys: [key], secure: true }, 21);
    const aAddress = a.reports.find((x) => x.type === 'ready')!;
    if (aAddress.type !== 'ready') throw new Error('no ready');
    const b = await start({ bind: '127.0.0.1:0', preset: 'local', keys: [key], secure: true, join: [aAddress.address] }, 22);
    const [aId, bId] = [idOf(a), idOf(b)];
    await until('both see the other', () => a.driver.engine!.aliveCount === 2 && b.driver.engine!.aliveCount === 2);

    // Not open yet: refused, and the stack holds no job cores.
    a.driver.handle({ type: 'jobs-command', requestId: 1, command: { type: 'create-job', jobId: 'early', command: 'x', nodes: [aId] } });
    expect(doneOf(a, 1).error).toMatchObject({ code: 'GALAXY_JOBS_NOT_OPEN' });
    expect(a.driver.stack!.hasJobs).toBe(false);

    const options = { coordinator: { startRetryMs: 300, probeIntervalMs: 300 }, runner: { endRetryMs: 300 } };
    a.driver.handle({ type: 'jobs-open', options });
    expect(a.driver.stack!.hasJobs).toBe(true);

    // A node whose coordination is not open (its jobs component never started) refuses a start at once, by its reason, not by the attempts running out.
    a.driver.handle({ type: 'jobs-command', requestId: 10, command: { type: 'create-job', jobId: 'j0', command: 'x', nodes: [bId] } });
    await until('j0 fails on b', () => jobsOf(a).some((e) => e.layer === 'jobs' && e.event.type === 'process-failed' && e.event.jobId === 'j0'));
    const failed = jobsOf(a).find((e) => e.layer === 'jobs' && e.event.type === 'process-failed' && e.event.jobId === 'j0');
    expect(failed).toMatchObject({ event: { node: bId, reason: expect.stringMatching(/^GALAXY_JOBS_UNAVAILABLE: job coordination does not run on this node/) } });
    expect(b.driver.stack!.counters.jobStartsUnopened).toBeGreaterThanOrEqual(1);

    b.driver.handle({ type: 'jobs-open', options });

    // A job on both nodes: each host runs its process and confirms the launch, then its exit.
    a.driver.handle({ type: 'jobs-command', requestId: 2, command: { type: 'create-job', jobId: 'j1', command: 'echo hi', nodes: [aId, bId] } });
    expect(doneOf(a, 2).error).toBeNull();
    await until('both hosts are asked to run j1', () => runsOf(a, 'j1').length === 1 && runsOf(b, 'j1').length === 1);
    expect(runsOf(b, 'j1')[0]!.command).toBe('echo hi');
    let requestId = 10;
    for (const [host, pid] of [[a, 101], [b, 202]] as const) {
      const run = runsOf(host, 'j1')[0]!;
      host.driver.handle({ type: 'jobs-command', requestId: requestId++, command: { type: 'launched', jobId: 'j1', index: run.index, pid } });
    }
    await until('the coordinator holds both running', () => eventsOf(a, 'j1').filter((t) => t === 'process-running').length === 2);
    const pids = jobsOf(a).flatMap((e) => (e.layer === 'jobs' && e.event.type === 'process-running' && e.event.jobId === 'j1' ? [e.event.pid] : []));
    expect(pids.sort()).toEqual([101, 202]);
    for (const [host, exitCode] of [[a, 0], [b, 3]] as const) {
      const run = runsOf(host, 'j1')[0]!;
      host.driver.handle({ type: 'jobs-command', requestId: requestId++, command: { type: 'exited', jobId: 'j1', index: run.index, exitCode } });
    }
    await until('j1 finishes', () => eventsOf(a, 'j1').includes('job-finished'));
    const ends = jobsOf(a).flatMap((e) => (e.layer === 'jobs' && e.event.type === 'process-ended' && e.event.jobId === 'j1' ? [[e.event.node, e.event.exitCode]] : []));
    expect(ends.sort()).toEqual([[aId, 0], [bId, 3]].sort());
    // The cores' counters reach the stats (and /metrics: galaxy_jobs_core_events_total).
    expect(a.driver.stack!.jobsCounters()).toMatchObject({ coordinator: { created: 2, startsSent: 3, startsFailed: 1, lost: 0 }, runner: { started: 1 } });
    expect(b.driver.stack!.jobsCounters()!.runner).toMatchObject({ started: 1, refused: 0 });

    // A refused command: the core's code and kind.
    a.driver.handle({ type: 'jobs-command', requestId: 3, command: { type: 'add-job', jobId: 'nope', command: 'x', nodes: [bId] } });
    expect(doneOf(a, 3).error).toMatchObject({ code: 'GALAXY_JOBS_UNKNOWN_JOB', kind: 'not-found' });

    // A start too big for a datagram goes as a frame and arrives whole; a stop terminates it.
    expect(kJobSealBytesMax).toBe(kSealOverheadBytes);
    const big = 'x'.repeat(6000);
    const framesBefore = a.driver.stack!.counters.jobFramesSent;
    a.driver.handle({ type: 'jobs-command', requestId: 4, command: { type: 'create-job', jobId: 'j2', command: big, nodes: [bId] } });
    await until('b is asked to run the big command', () => runsOf(b, 'j2').length === 1);
    expect(runsOf(b, 'j2')[0]!.command).toBe(big);
    expect(a.driver.stack!.counters.jobFramesSent).toBeGreaterThan(framesBefore);
    b.driver.handle({ type: 'jobs-command', requestId: requestId++, command: { type: 'launched', jobId: 'j2', index: 0, pid: 303 } });
    await until('j2 runs', () => eventsOf(a, 'j2').includes('process-running'));
    a.driver.handle({ type: 'jobs-command', requestId: 5, command: { type: 'stop-job', jobId: 'j2' } });
    expect(doneOf(a, 5).error).toBeNull();
    await until('b is told to terminate j2', () => jobsOf(b).some((e) => e.layer === 'terminate' && e.jobId === 'j2' && e.index === 0));
    b.driver.handle({ type: 'jobs-command', requestId: requestId++, command: { type: 'exited', jobId: 'j2', index: 0, exitCode: null, signal: 'SIGTERM' } });
    await until('j2 finishes', () => eventsOf(a, 'j2').includes('job-finished'));

    // A process on B is lost once B leaves the membership.
    a.driver.handle({ type: 'jobs-command', requestId: 6, command: { type: 'create-job', jobId: 'j3', command: 'sleep', nodes: [bId] } });
    await until('b is asked to run j3', () => runsOf(b, 'j3').length === 1);
    b.driver.handle({ type: 'jobs-command', requestId: requestId++, command: { type: 'launched', jobId: 'j3', index: 0, pid: 404 } });
    await until('j3 runs', () => eventsOf(a, 'j3').includes('process-running'));
    await b.driver.stop(200);
    await until('j3 is lost on a', () => eventsOf(a, 'j3').includes('process-lost') && eventsOf(a, 'j3').includes('job-finished'));
    expect(a.driver.jobsEventsDroppedCount).toBe(0);
  });
});
