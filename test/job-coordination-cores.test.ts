// Pins single transitions of the pure job coordination cores (src/core/jobs), each
// driven step by step with explicit ticks and its outputs read from ready(): starts go
// out in waves bounded by startConcurrencyMax and are resent until answered; a runner
// runs a repeated start once; an end is resent until acknowledged; a departure from
// membership loses a node's processes (never mere absence from the first view); a node
// that leaves probeFailuresMax probe rounds unanswered is lost (a late answer restarts
// the count), one that answers
// "unknown" loses the process at once; a lost process is final; and the message codec
// refuses what is not a message. The operator's part, as the agent drives it: additions
// run their own command; a stop cancels what was not sent, terminates what runs, and
// terminates a start answered after it; a signal goes to running processes only; a
// node's refusal to start fails the process (final); a runner that confirms launches
// answers a start only once the host launched it (with the pid) or failed to, passes
// terminate and signal on for its coordinator's processes only, reports the end's
// detail, and terminates the processes of a coordinator that left the membership.
import { describe, expect, it } from 'vitest';
import { JobCoordinatorCore, type JobCoordinatorOutput } from '../src/core/jobs/job-coordinator-core.js';
import { JobRunnerCore, type JobRunnerOutput } from '../src/core/jobs/job-runner-core.js';
import { decodeJobMessage, encodeJobMessage, jobMessageOf, type JobMessage } from '../src/core/jobs/job-message.js';

function drain<T>(core: { ready(): readonly T[]; advance(): void }): T[] {
  const out = core.ready().slice();
  core.advance();
  return out;
}

function sends(out: readonly JobCoordinatorOutput[] | readonly JobRunnerOutput[]): Array<{ to: string; message: JobMessage }> {
  return (out as ReadonlyArray<{ type: string; to?: string; message?: JobMessage }>).filter((o) => o.type === 'send').map((o) => ({ to: o.to!, message: o.message! }));
}

function events(out: readonly JobCoordinatorOutput[]): string[] {
  return out.flatMap((o) => (o.type === 'event' ? [`${o.event.type}${'index' in o.event ? ` ${o.event.index}` : ''}`] : []));
}

describe('JobCoordinatorCore', () => {
  it('starts in waves, resends unanswered starts, settles ends and finishes', () => {
    const c = new JobCoordinatorCore({ selfId: 'a', nowMs: 0, startConcurrencyMax: 2, startRetryMs: 100, startAttemptsMax: 3 });
    c.step({ type: 'create', jobId: 'j', command: 'x', nodes: ['b', 'c', 'd'] });
    expect(sends(drain(c)).map((s) => `${s.message.t} ${s.to}`)).toEqual(['start b', 'start c']);
    c.step({ type: 'message', from: 'b', message: { t: 'started', jobId: 'j', index: 0 } });
    const afterStarted = drain(c);
    expect(events(afterStarted)).toEqual(['process-running 0']);
    expect(sends(afterStarted).map((s) => `${s.message.t} ${s.to}`)).toEqual(['start d']);
    c.tick(100);
    expect(sends(drain(c)).map((s) => `${s.message.t} ${s.to}`)).toEqual(['start c', 'start d']);
    c.step({ type: 'message', from: 'b', message: { t: 'end', jobId: 'j', index: 0, exitCode: 0 } });
    const afterEnd = drain(c);
    expect(events(afterEnd)).toEqual(['process-ended 0']);
    expect(sends(afterEnd)).toEqual([{ to: 'b', message: { t: 'end-ack', jobId: 'j', index: 0 } }]);
    // c never answers: after three starts it is lost. d ends without a 'started' first.
    c.step({ type: 'message', from: 'd', message: { t: 'end', jobId: 'j', index: 2, exitCode: 4 } });
    c.tick(200);
    c.tick(300);
    const out = drain(c);
    expect(events(out)).toEqual(['process-ended 2', 'process-lost 1', 'job-finished']);
    expect(c.jobs.get('j')!.processes.map((p) => `${p.state}:${p.exitCode}`)).toEqual(['ended:0', 'lost:null', 'ended:4']);
  });

  it('refuses a report from a node that does not run the process, and keeps a lost process lost', () => {
    const c = new JobCoordinatorCore({ selfId: 'a', nowMs: 0 });
    c.step({ type: 'members', live: new Set(['a', 'b']) });
    c.step({ type: 'create', jobId: 'j', command: 'x', nodes: ['b'] });
    c.step({ type: 'message', from: 'z', message: { t: 'end', jobId: 'j', index: 0, exitCode: 0 } });
    expect(c.counters.reportsRefused).toBe(1);
    c.step({ type: 'members', live: new Set(['a']) });
    expect(events(drain(c))).toEqual(['process-lost 0', 'job-finished']);
    c.step({ type: 'message', from: 'b', message: { t: 'end', jobId: 'j', index: 0, exitCode: 0 } });
    expect(c.jobs.get('j')!.processes[0]!.state).toBe('lost');
    expect(c.counters.reportsIgnored).toBe(1);
  });

  it('counts only departures: absence from the first membership loses nothing', () => {
    const c = new JobCoordinatorCore({ selfId: 'a', nowMs: 0 });
    c.step({ type: 'create', jobId: 'j', command: 'x', nodes: ['b'] });
    c.step({ type: 'members', live: new Set(['a']) });
    expect(c.jobs.get('j')!.processes[0]!.state).toBe('starting');
  });

  it('loses a node after probeFailuresMax unanswered rounds, and a process the node no longer knows at once', () => {
    const c = new JobCoordinatorCore({ selfId: 'a', nowMs: 0, probeIntervalMs: 10, probeFailuresMax: 2 });
    c.step({ type: 'create', jobId: 'j', command: 'x', nodes: ['b', 'c'] });
    c.step({ type: 'message', from: 'b', message: { t: 'started', jobId: 'j', index: 0 } });
    c.step({ type: 'message', from: 'c', message: { t: 'started', jobId: 'j', index: 1 } });
    drain(c);
    c.tick(10);
    const probes = sends(drain(c));
    expect(probes.map((p) => `${p.message.t} ${p.to}`)).toEqual(['probe b', 'probe c']);
    // c answers it forgot the process; b stays silent.
    const round = (probes[1]!.message as { round: number }).round;
    c.step({ type: 'message', from: 'c', message: { t: 'probe-answer', round, running: [], ended: [], unknown: ['j/1'] } });
    expect(events(drain(c))).toEqual(['process-lost 1']);
    c.tick(20);
    expect(events(drain(c))).toEqual([]);
    c.tick(30);
    expect(events(drain(c))).toEqual(['process-lost 0', 'job-finished']);
    expect(c.jobs.get('j')!.processes[0]!.reason).toMatch(/did not answer 2 probes in a row/);
  });
});

describe('JobCoordinatorCore, late probe answers', () => {
  it('restarts a node\'s run of failures on a late answer, and loses it only after rounds with no answer at all', () => {
    const c = new JobCoordinatorCore({ selfId: 'a', nowMs: 0, probeIntervalMs: 10, probeFailuresMax: 2 });
    c.step({ type: 'create', jobId: 'j', command: 'x', nodes: ['b'] });
    c.step({ type: 'message', from: 'b', message: { t: 'started', jobId: 'j', index: 0 } });
    drain(c);
    const answer = (round: number): JobMessage => ({ t: 'probe-answer', round, running: ['j/0'], ended: [], unknown: [] });
    c.tick(10); // round 1 sent
    c.tick(20); // round 1 unanswered: failure 1; round 2 sent
    c.step({ type: 'message', from: 'b', message: answer(1) }); // round 1's answer, late: the count restarts
    c.tick(30); // round 2 unanswered: failure 1 again, not 2
    expect(events(drain(c))).toEqual([]);
    expect(c.jobs.get('j')!.processes[0]!.state).toBe('running');
    c.tick(40); // round 3 unanswered: failure 2, lost
    expect(events(drain(c))).toEqual(['process-lost 0', 'job-finished']);
  });
});

describe('JobCoordinatorCore, the operator\'s part', () => {
  it('adds processes with their own command; stop cancels pending ones and terminates running ones', () => {
    const c = new JobCoordinatorCore({ selfId: 'a', nowMs: 0, startConcurrencyMax: 1 });
    c.step({ type: 'create', jobId: 'j', command: 'x', nodes: ['b'] });
    c.step({ type: 'add', jobId: 'j', command: 'y', nodes: ['c', 'd'] });
    expect(sends(drain(c)).map((s) => s.message)).toEqual([{ t: 'start', jobId: 'j', index: 0, command: 'x' }]);
    c.step({ type: 'message', from: 'b', message: { t: 'started', jobId: 'j', index: 0, pid: 77 } });
    const running = drain(c);
    expect(running.find((o) => o.type === 'event')).toMatchObject({ event: { type: 'process-running', index: 0, pid: 77 } });
    expect(sends(running).map((s) => s.message)).toEqual([{ t: 'start', jobId: 'j', index: 1, command: 'y' }]);
    // c's start is in flight, d's not yet sent: stop cancels d, terminates b, and c once it answers.
    c.step({ type: 'stop', jobId: 'j' });
    const stopped = drain(c);
    expect(events(stopped)).toEqual(['process-cancelled 2']);
    expect(sends(stopped)).toEqual([{ to: 'b', message: { t: 'terminate', keys: ['j/0'] } }]);
    expect(() => c.step({ type: 'add', jobId: 'j', command: 'z', nodes: ['e'] })).toThrow(expect.objectContaining({ code: 'GALAXY_JOBS_FINISHED' }));
    c.step({ type: 'message', from: 'c', message: { t: 'started', jobId: 'j', index: 1 } });
    expect(sends(drain(c))).toEqual([{ to: 'c', message: { t: 'terminate', keys: ['j/1'] } }]);
    c.step({ type: 'message', from: 'b', message: { t: 'end', jobId: 'j', index: 0, exitCode: null, signal: 'SIGTERM' } });
    const ended = drain(c);
    expect(ended.find((o) => o.type === 'event')).toMatchObject({ event: { type: 'process-ended', exitCode: null, detail: { signal: 'SIGTERM' } } });
    c.step({ type: 'message', from: 'c', message: { t: 'end', jobId: 'j', index: 1, exitCode: null, signal: 'SIGTERM' } });
    expect(events(drain(c))).toEqual(['process-ended 1', 'job-finished']);
    expect(c.jobs.get('j')!.processes.map((p) => p.state)).toEqual(['ended', 'ended', 'cancelled']);
  });

  it('starts queued processes of several jobs in order, skipping those cancelled or lost while they waited', () => {
    const c = new JobCoordinatorCore({ selfId: 'a', nowMs: 0, startConcurrencyMax: 3 });
    c.step({ type: 'members', live: new Set(['a', 'n0', 'n1', 'n2', 'n3', 'n4', 'x']) });
    const nodes = ['n0', 'n1', 'n2', 'n3', 'n4'];
    c.step({ type: 'create', jobId: 'j1', command: 'x', nodes });
    c.step({ type: 'create', jobId: 'j2', command: 'x', nodes: [...nodes, 'x'] });
    c.step({ type: 'create', jobId: 'j3', command: 'x', nodes: ['n0'] });
    const started = (out: readonly JobCoordinatorOutput[]) => sends(out).filter((s) => s.message.t === 'start').map((s) => `${(s.message as { jobId: string }).jobId}/${(s.message as { index: number }).index}`);
    expect(started(drain(c))).toEqual(['j1/0', 'j1/1', 'j1/2']);
    c.step({ type: 'stop', jobId: 'j2' }); // all of j2 still waits: every one is cancelled
    c.step({ type: 'members', live: new Set(['a', 'n0', 'n1', 'n2', 'n3']) }); // n4 leaves: j1/4 is lost while it waits
    drain(c);
    const answered: string[] = [];
    for (let round = 0; round < 10; round++) {
      const pending = [...c.jobs.values()].flatMap((job) => job.processes.flatMap((p, i) => (p.state === 'starting' ? [{ job: job.jobId, i, node: p.node }] : [])));
      for (const p of pending) c.step({ type: 'message', from: p.node, message: { t: 'started', jobId: p.job, index: p.i } });
      answered.push(...started(drain(c)));
    }
    expect(answered).toEqual(['j1/3', 'j3/0']);
    expect(c.counters.startsSent).toBe(5);
    expect(c.jobs.get('j2')!.processes.every((p) => p.state === 'cancelled')).toBe(true);
    expect(c.jobs.get('j1')!.processes[4]!.state).toBe('lost');
  });

  it('signals running processes only, and fails a process its node could not start', () => {
    const c = new JobCoordinatorCore({ selfId: 'a', nowMs: 0 });
    c.step({ type: 'create', jobId: 'j', command: 'x', nodes: ['b', 'b', 'c'] });
    drain(c);
    c.step({ type: 'message', from: 'b', message: { t: 'started', jobId: 'j', index: 0 } });
    c.step({ type: 'message', from: 'b', message: { t: 'started', jobId: 'j', index: 1 } });
    drain(c);
    c.step({ type: 'signal', jobId: 'j', signal: 'SIGUSR1', indexes: [1, 2] });
    expect(sends(drain(c))).toEqual([{ to: 'b', message: { t: 'signal', keys: ['j/1'], signal: 'SIGUSR1' } }]);
    // A refusal from a node that does not run the process is refused in turn.
    c.step({ type: 'message', from: 'b', message: { t: 'start-failed', jobId: 'j', index: 2, reason: 'no' } });
    expect(c.jobs.get('j')!.processes[2]!.state).toBe('starting');
    c.step({ type: 'message', from: 'c', message: { t: 'start-failed', jobId: 'j', index: 2, reason: 'spawn failed' } });
    expect(events(drain(c))).toEqual(['process-failed 2']);
    expect(c.jobs.get('j')!.processes[2]).toMatchObject({ state: 'failed', reason: 'spawn failed' });
    // Final: a late end for it is ignored.
    c.step({ type: 'message', from: 'c', message: { t: 'end', jobId: 'j', index: 2, exitCode: 0 } });
    expect(c.jobs.get('j')!.processes[2]!.state).toBe('failed');
  });
});

describe('JobRunnerCore with confirmed launches', () => {
  it('answers a start once the host launched it, or failed to, and never runs it twice', () => {
    const r = new JobRunnerCore({ nowMs: 0, confirmLaunches: true });
    const start = (index: number): JobMessage => ({ t: 'start', jobId: 'j', index, command: 'x' });
    r.step({ type: 'message', from: 'a', message: start(0) });
    r.step({ type: 'message', from: 'a', message: start(0) });
    expect(drain(r).map((o) => o.type)).toEqual(['run']);
    r.step({ type: 'launched', jobId: 'j', index: 0, pid: 4242 });
    expect(sends(drain(r))).toEqual([{ to: 'a', message: { t: 'started', jobId: 'j', index: 0, pid: 4242 } }]);
    r.step({ type: 'message', from: 'a', message: start(0) });
    expect(drain(r)).toEqual([{ type: 'send', to: 'a', message: { t: 'started', jobId: 'j', index: 0, pid: 4242 } }]);
    r.step({ type: 'message', from: 'a', message: start(1) });
    drain(r);
    r.step({ type: 'launch-failed', jobId: 'j', index: 1, reason: 'no such program' });
    r.step({ type: 'message', from: 'a', message: start(1) });
    expect(sends(drain(r)).map((s) => s.message)).toEqual([
      { t: 'start-failed', jobId: 'j', index: 1, reason: 'no such program' },
      { t: 'start-failed', jobId: 'j', index: 1, reason: 'no such program' },
    ]);
    r.step({ type: 'exited', jobId: 'j', index: 0, exitCode: null, signal: 'SIGKILL', timedOut: true, undeliveredBytes: 12 });
    expect(sends(drain(r))[0]!.message).toEqual({ t: 'end', jobId: 'j', index: 0, exitCode: null, signal: 'SIGKILL', timedOut: true, undeliveredBytes: 12 });
    r.step({ type: 'message', from: 'a', message: { t: 'probe', round: 1, keys: ['j/0', 'j/1'] } });
    expect(sends(drain(r))[0]!.message).toEqual({ t: 'probe-answer', round: 1, running: [], ended: [{ key: 'j/0', exitCode: null, signal: 'SIGKILL', timedOut: true, undeliveredBytes: 12 }], unknown: ['j/1'] });
  });

  it('passes terminate and signal on for its coordinator\'s running processes only, and terminates orphans', () => {
    const r = new JobRunnerCore({ nowMs: 0 });
    r.step({ type: 'members', live: new Set(['a', 'z', 'n']) });
    r.step({ type: 'message', from: 'a', message: { t: 'start', jobId: 'j', index: 0, command: 'x' } });
    r.step({ type: 'message', from: 'z', message: { t: 'start', jobId: 'k', index: 0, command: 'x' } });
    r.step({ type: 'message', from: 'z', message: { t: 'start', jobId: 'k', index: 1, command: 'x' } });
    r.step({ type: 'exited', jobId: 'k', index: 1, exitCode: 0 });
    drain(r);
    r.step({ type: 'message', from: 'z', message: { t: 'terminate', keys: ['j/0', 'k/0', 'k/1', 'k/9'] } });
    expect(drain(r)).toEqual([{ type: 'terminate', jobId: 'k', index: 0 }]);
    r.step({ type: 'message', from: 'a', message: { t: 'signal', keys: ['j/0', 'k/0'], signal: 'SIGSTOP' } });
    expect(drain(r)).toEqual([{ type: 'signal', jobId: 'j', index: 0, signal: 'SIGSTOP' }]);
    // Coordinator a leaves the farm: its running process is an orphan and is terminated.
    r.step({ type: 'members', live: new Set(['z', 'n']) });
    expect(drain(r)).toEqual([{ type: 'terminate', jobId: 'j', index: 0 }]);
    expect(r.counters.orphansTerminated).toBe(1);
  });
});

describe('JobRunnerCore', () => {
  it('runs a repeated start once, resends its end until acknowledged, answers probes', () => {
    const r = new JobRunnerCore({ nowMs: 0, endRetryMs: 50 });
    const start: JobMessage = { t: 'start', jobId: 'j', index: 3, command: 'x' };
    r.step({ type: 'message', from: 'a', message: start });
    r.step({ type: 'message', from: 'a', message: start });
    const out = drain(r);
    expect(out.filter((o) => o.type === 'run')).toHaveLength(1);
    expect(sends(out).map((s) => s.message.t)).toEqual(['started', 'started']);
    r.step({ type: 'message', from: 'a', message: { t: 'probe', round: 1, keys: ['j/3', 'j/4'] } });
    expect(sends(drain(r))[0]!.message).toEqual({ t: 'probe-answer', round: 1, running: ['j/3'], ended: [], unknown: ['j/4'] });
    r.step({ type: 'exited', jobId: 'j', index: 3, exitCode: 9 });
    expect(sends(drain(r))).toEqual([{ to: 'a', message: { t: 'end', jobId: 'j', index: 3, exitCode: 9 } }]);
    r.tick(49);
    expect(drain(r)).toEqual([]);
    r.tick(50);
    expect(sends(drain(r)).map((s) => s.message.t)).toEqual(['end']);
    r.step({ type: 'message', from: 'a', message: { t: 'end-ack', jobId: 'j', index: 3 } });
    r.tick(200);
    expect(drain(r)).toEqual([]);
    // A probe from another coordinator does not learn of this coordinator's process.
    r.step({ type: 'message', from: 'z', message: { t: 'probe', round: 1, keys: ['j/3'] } });
    expect(sends(drain(r))[0]!.message).toMatchObject({ unknown: ['j/3'] });
  });
});

describe('job messages', () => {
  it('round-trip, and anything else decodes to null', () => {
    const m: JobMessage = { t: 'probe-answer', round: 2, running: ['j/0'], ended: [{ key: 'j/1', exitCode: 1 }], unknown: [] };
    expect(decodeJobMessage(encodeJobMessage(m))).toEqual(m);
    const end: JobMessage = { t: 'end', jobId: 'j', index: 0, exitCode: null, signal: 'SIGTERM', timedOut: false, undeliveredBytes: 3 };
    expect(decodeJobMessage(encodeJobMessage(end))).toEqual(end);
    const bad = [
      '',
      'null',
      '[]',
      '{"t":"start","jobId":"j","index":-1,"command":"x"}',
      '{"t":"nope"}',
      '{"t":"end","jobId":"j","index":0}',
      '{"t":"end","jobId":"j","index":0,"exitCode":null,"undeliveredBytes":-1}',
      '{"t":"started","jobId":"j","index":0,"pid":0}',
      '{"t":"start-failed","jobId":"j","index":0}',
      `{"t":"signal","keys":["j/0"],"signal":"${'S'.repeat(17)}"}`,
      '\xff',
    ];
    for (const text of bad) expect(decodeJobMessage(new TextEncoder().encode(text))).toBeNull();
    // Parsed messages (the agent's RPC bodies) are held to the key bound, not the datagram's.
    const keys = (n: number) => Array.from({ length: n }, (_, i) => `j/${i}`);
    expect(jobMessageOf({ t: 'terminate', keys: keys(1024) })).not.toBeNull();
    expect(jobMessageOf({ t: 'terminate', keys: keys(1025) })).toBeNull();
  });
});
