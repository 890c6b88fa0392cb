// Proves AgentHost is a JobsLink (src/node/driver/jobs-link.ts) to the job coordination
// in its worker thread's NodeStack: two hosts, each with its driver in its own worker
// thread on loopback, sealed with one farm key. The main thread opens jobs with
// openJobs, sends commands with commandJobs (a promise answered after the command's
// events) and gets the stack's jobs events from onJobs. A job on both nodes runs (each
// host answers its 'run' with a pid, then an exit), the coordinator's process events come
// back through the link, and a command the core refuses rejects with its DomainError.
import { afterAll, describe, expect, it } from 'vitest';
import { AgentHost } from '../src/node/driver/agent-host.js';
import type { JobsStackEvent } from '../src/node/driver/agent-worker-protocol.js';
import { Keyring } from '../src/node/security/keyring.js';
import { DomainError } from '../src/core/util/domain-error.js';
import { until } from './support/until.js';

const hosts: AgentHost[] = [];

async function start(key: string, join: readonly string[]): Promise<{ host: AgentHost; events: JobsStackEvent[] }> {
  const host = await AgentHost.start({ bind: '127.0.0.1:0', join, preset: 'local', keys: [key], secure: true });
  hosts.push(host);
  const events: JobsStackEvent[] = [];
  host.onJobs((batch) => events.push(...batch));
  return { host, events };
}

afterAll(async () => {
  await Promise.all(hosts.map((h) => h.stop()));
});

describe('AgentHost as a JobsLink', () => {
  it('runs a job across two worker threads through openJobs, commandJobs and onJobs', async () => {
    const key = Keyring.generateKey();
    const a = await start(key, []);
    const b = await start(key, [a.host.address]);
    await until('both see two alive members', () => [a, b].every(({ host }) => host.members().filter((m) => m.status === 'alive').length === 2));

    await expect(a.host.commandJobs({ type: 'stop-job', jobId: 'x' })).rejects.toMatchObject({ code: 'GALAXY_JOBS_NOT_OPEN' });
    for (const { host } of [a, b]) host.openJobs({ coordinator: { startRetryMs: 300, probeIntervalMs: 300 } });

    await a.host.commandJobs({ type: 'create-job', jobId: 'j1', command: 'echo hi', nodes: [a.host.id, b.host.id] });
    const runOf = (events: JobsStackEvent[]) => events.find((e) => e.layer === 'run' && e.jobId === 'j1');
    await until('both hosts are asked to run j1', () => runOf(a.events) !== undefined && runOf(b.events) !== undefined);
    for (const [{ host, events }, pid] of [[a, 11], [b, 22]] as const) {
      const run = runOf(events)!;
      if (run.layer !== 'run') throw new Error('not a run');
      expect(run.command).toBe('echo hi');
      await host.commandJobs({ type: 'launched', jobId: 'j1', index: run.index, pid });
      await host.commandJobs({ type: 'exited', jobId: 'j1', index: run.index, exitCode: 0 });
    }
    const coordinated = () => a.events.flatMap((e) => (e.layer === 'jobs' && e.event.jobId === 'j1' ? [e.event] : []));
    await until('j1 finishes on a', () => coordinated().some((e) => e.type === 'job-finished'));
    expect(coordinated().filter((e) => e.type === 'process-ended').map((e) => e.node).sort()).toEqual([a.host.id, b.host.id].sort());
    expect(coordinated().flatMap((e) => (e.type === 'process-running' ? [e.pid] : [])).sort()).toEqual([11, 22]);

    const refused = await a.host.commandJobs({ type: 'create-job', jobId: 'j1', command: 'again', nodes: [b.host.id] }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(DomainError);
    expect(refused).toMatchObject({ code: 'GALAXY_JOBS_EXISTS', kind: 'conflict' });
  });
});
