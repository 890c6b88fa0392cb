// Proves the pure cores of the jobs service without processes, clocks or a farm: the
// bounded output ring (tail kept, head dropped and counted), the UTF-8 boundary a chunk
// is cut at, the watch journal (cursors, gaps, bounds), the process state machine (every
// transition, final states absorbing late and duplicate reports), the job table (states,
// outcomes, reports from the wrong node refused, admission bounds evicting finished jobs
// first and refusing otherwise), the lost-node rule (membership departures, probe failure
// counting, process keys), target resolution checks, the launch plan (memory wrapper,
// run-as-user refusals, environment), /etc/passwd parsing, the node's output batcher
// (pending bound, chunking, characters never split) and the views' output bound.
import { describe, expect, it } from 'vitest';
import { JobsError } from '../src/farm/jobs/jobs-error.js';
import { jobCoordinator, makeJobId } from '../src/farm/jobs/job-id.js';
import { kJobCreateSchema, kProcessSpecSchema, type ProcessSpec } from '../src/farm/jobs/job-spec.js';
import { JobTable, jobOutcome, jobState, processCounts, reservation } from '../src/farm/jobs/job-table.js';
import { jobView } from '../src/farm/jobs/job-view.js';
import { kViewOutputJsonCharsMax } from '../src/farm/jobs/jobs-limits.js';
import { kLimitShell, kMemoryLimitExitCode, launchPlan, type NodeFacts } from '../src/farm/jobs/launch-plan.js';
import { departedNodes, parseProcessKey, processKey, ProbeTracker } from '../src/farm/jobs/lost-node-rule.js';
import { OutputBatcher } from '../src/farm/jobs/output-batcher.js';
import { jsonChars, lastFitting, OutputJournal } from '../src/farm/jobs/output-journal.js';
import { OutputTail } from '../src/farm/jobs/output-tail.js';
import { findPasswdEntry, passwdNameOf } from '../src/farm/jobs/passwd.js';
import { applyProcessEvent, kPendingProcess, type ProcessEnd, type ProcessStatus } from '../src/farm/jobs/process-state.js';
import { resolvedNodes } from '../src/farm/jobs/target-resolution.js';
import { utf8CompletePrefixLength } from '../src/farm/jobs/utf8-boundary.js';

const A = '00000000000000a1';
const B = '00000000000000b2';
const C = '00000000000000c3';
const bytes = (text: string) => new TextEncoder().encode(text);
const end = (exitCode: number | null, signal: string | null = null, timedOut = false): ProcessEnd => ({ exitCode, signal, timedOut, undeliveredBytes: 0 });
const spec = (extra: Partial<ProcessSpec> = {}): ProcessSpec => ({ command: ['true'], ...extra });

describe('output tail', () => {
  it('keeps everything below capacity', () => {
    const tail = new OutputTail(8);
    tail.append(bytes('abc'));
    tail.append(bytes('de'));
    expect(tail.text()).toBe('abcde');
    expect([tail.totalBytes, tail.keptBytes, tail.droppedBytes]).toEqual([5, 5, 0]);
  });

  it('keeps the last capacity bytes across wrap-arounds and counts the dropped head', () => {
    const tail = new OutputTail(8);
    for (const piece of ['0123', '4567', '89', 'abcde']) tail.append(bytes(piece));
    expect(tail.text()).toBe('6789abcde'.slice(-8));
    expect([tail.totalBytes, tail.keptBytes, tail.droppedBytes]).toEqual([15, 8, 7]);
  });

  it('keeps the end of one write larger than the ring', () => {
    const tail = new OutputTail(4);
    tail.append(bytes('x'));
    tail.append(bytes('0123456789'));
    expect(tail.text()).toBe('6789');
    expect(tail.droppedBytes).toBe(7);
  });

  it('never holds more than its capacity whatever is written', () => {
    const tail = new OutputTail(1024);
    let written = 0;
    for (let i = 1; i < 400; i++) {
      tail.append(new Uint8Array(i * 7).fill(65 + (i % 26)));
      written += i * 7;
    }
    expect(tail.bytes().length).toBe(1024);
    expect(tail.totalBytes).toBe(written);
    expect(tail.bytes()[1023]).toBe(65 + (399 % 26));
  });

  it('refuses a capacity that is not a positive integer', () => {
    expect(() => new OutputTail(0)).toThrow(RangeError);
  });
});

describe('UTF-8 boundary', () => {
  it('holds back only an incomplete final character', () => {
    const euro = bytes('€'); // e2 82 ac
    expect(utf8CompletePrefixLength(bytes('abc'))).toBe(3);
    expect(utf8CompletePrefixLength(new Uint8Array([0x61, euro[0]!]))).toBe(1);
    expect(utf8CompletePrefixLength(new Uint8Array([0x61, euro[0]!, euro[1]!]))).toBe(1);
    expect(utf8CompletePrefixLength(new Uint8Array([0x61, ...euro]))).toBe(4);
    const smile = bytes('😀'); // 4 bytes
    expect(utf8CompletePrefixLength(smile.subarray(0, 3))).toBe(0);
    expect(utf8CompletePrefixLength(smile)).toBe(4);
  });

  it('does not hold back bytes that are not UTF-8', () => {
    expect(utf8CompletePrefixLength(new Uint8Array([0x61, 0xff]))).toBe(2);
    expect(utf8CompletePrefixLength(new Uint8Array([0x80, 0x80, 0x80, 0x80, 0x80]))).toBe(5);
  });
});

describe('output journal', () => {
  it('numbers chunks and reads after a cursor', () => {
    const journal = new OutputJournal(1000);
    journal.append(0, A, 'stdout', 'one');
    journal.append(1, B, 'stderr', 'two');
    journal.append(0, A, 'stdout', 'three');
    const first = journal.read(0, 2, 1000);
    expect(first.chunks.map((c) => c.text)).toEqual(['one', 'two']);
    expect(first.next).toBe(2);
    expect(first.gap).toBe(false);
    const second = journal.read(first.next, 10, 1000);
    expect(second.chunks.map((c) => [c.seq, c.process, c.node, c.stream, c.text])).toEqual([[3, 0, A, 'stdout', 'three']]);
    expect(journal.read(3, 10, 1000)).toEqual({ chunks: [], next: 3, gap: false });
  });

  it('drops the oldest chunks beyond its bound (JSON characters) and tells a late reader of the gap', () => {
    const journal = new OutputJournal(12);
    for (const text of ['aaaa', 'bbbb', 'cccc', 'dddd']) journal.append(0, A, 'stdout', text); // 6 JSON characters each
    const read = journal.read(0, 10, 100);
    expect(read.gap).toBe(true);
    expect(read.chunks.map((c) => c.text)).toEqual(['cccc', 'dddd']);
    expect(journal.read(2, 10, 100).gap).toBe(false);
  });

  it('bounds one read by chunks and by JSON characters, yet returns at least one chunk', () => {
    const journal = new OutputJournal(10_000);
    for (let i = 0; i < 10; i++) journal.append(0, A, 'stdout', 'x'.repeat(100));
    expect(journal.read(0, 3, 100_000).chunks).toHaveLength(3);
    expect(journal.read(0, 100, 250).chunks).toHaveLength(2);
    expect(journal.read(0, 100, 10).chunks).toHaveLength(1);
  });

  it('counts binary output at its escaped JSON size, and cuts text to the longest fitting end', () => {
    expect(jsonChars('\u0001')).toBe(8);
    const journal = new OutputJournal(100);
    journal.append(0, A, 'stdout', '\u0001'.repeat(50));
    const kept = journal.read(0, 10, 1000).chunks[0]!.text;
    expect(jsonChars(kept)).toBeLessThanOrEqual(100);
    expect(kept.length).toBe(16);
    expect(lastFitting('abcdef', 5)).toBe('def');
    expect(lastFitting('abc', 100)).toBe('abc');
  });
});

describe('process state machine', () => {
  const started = applyProcessEvent(kPendingProcess, { type: 'started', pid: 42, atMs: 1000 })!;

  it('runs pending -> running -> exited, keeping pid and times', () => {
    expect(started).toMatchObject({ state: 'running', pid: 42, startedAtMs: 1000 });
    const ended = applyProcessEvent(started, { type: 'ended', end: end(3), atMs: 1500 })!;
    expect(ended).toMatchObject({ state: 'exited', exitCode: 3, signal: null, startedAtMs: 1000, endedAtMs: 1500 });
  });

  it('tells a signal from a timeout', () => {
    expect(applyProcessEvent(started, { type: 'ended', end: end(null, 'SIGKILL'), atMs: 2 })!.state).toBe('signalled');
    expect(applyProcessEvent(started, { type: 'ended', end: end(null, 'SIGTERM', true), atMs: 2 })!.state).toBe('timed-out');
  });

  it('takes an end report that overtook the start answer', () => {
    expect(applyProcessEvent(kPendingProcess, { type: 'ended', end: end(0), atMs: 5 })).toMatchObject({ state: 'exited', exitCode: 0, startedAtMs: 5 });
  });

  it('fails or cancels only a pending process', () => {
    expect(applyProcessEvent(kPendingProcess, { type: 'start-failed', reason: 'ENOENT', atMs: 1 })).toMatchObject({ state: 'failed', reason: 'ENOENT' });
    expect(applyProcessEvent(started, { type: 'start-failed', reason: 'x', atMs: 1 })).toBeNull();
    expect(applyProcessEvent(kPendingProcess, { type: 'cancelled', reason: 'stopped', atMs: 1 })!.state).toBe('cancelled');
    expect(applyProcessEvent(started, { type: 'cancelled', reason: 'stopped', atMs: 1 })).toBeNull();
    expect(applyProcessEvent(started, { type: 'started', pid: 1, atMs: 1 })).toBeNull();
  });

  it('makes every final state absorbing: a late end after a loss changes nothing', () => {
    const lost = applyProcessEvent(started, { type: 'lost', reason: 'node died', atMs: 9 })!;
    expect(lost).toMatchObject({ state: 'lost', reason: 'node died' });
    for (const event of [
      { type: 'ended', end: end(0), atMs: 10 },
      { type: 'started', pid: 1, atMs: 10 },
      { type: 'lost', reason: 'again', atMs: 10 },
      { type: 'cancelled', reason: 'x', atMs: 10 },
      { type: 'start-failed', reason: 'x', atMs: 10 },
    ] as const) {
      expect(applyProcessEvent(lost, event)).toBeNull();
    }
  });

  it('cuts long reasons to a bound', () => {
    const failed = applyProcessEvent(kPendingProcess, { type: 'start-failed', reason: 'r'.repeat(5000), atMs: 1 }) as ProcessStatus;
    expect(failed.reason!.length).toBeLessThanOrEqual(512);
  });
});

describe('job table', () => {
  const make = (options: ConstructorParameters<typeof JobTable>[0] = {}) => new JobTable(options);

  it('runs a job to success, with counts and an outcome', () => {
    const changed: string[] = [];
    const table = make({ changed: (id) => changed.push(id) });
    const job = table.create('j1', 'alice', { nodes: [A, B] }, spec(), [A, B], 100);
    expect(jobState(job)).toBe('running');
    expect(processCounts(job)).toMatchObject({ pending: 2 });
    expect(table.apply('j1', 0, A, { type: 'started', pid: 10, atMs: 110 })).toBe('applied');
    expect(table.apply('j1', 1, B, { type: 'started', pid: 11, atMs: 110 })).toBe('applied');
    expect(table.apply('j1', 0, A, { type: 'ended', end: end(0), atMs: 200 })).toBe('applied');
    expect(jobOutcome(job)).toBeNull();
    expect(table.apply('j1', 1, B, { type: 'ended', end: end(0), atMs: 300 })).toBe('applied');
    expect(jobState(job)).toBe('finished');
    expect(jobOutcome(job)).toBe('succeeded');
    expect(job.finishedAtMs).toBe(300);
    expect(processCounts(job)).toMatchObject({ exited: 2, succeeded: 2 });
    expect(changed.length).toBeGreaterThanOrEqual(5);
  });

  it('fails a job with any non-zero exit, and says stopped when a stop was asked', () => {
    const table = make();
    const failing = table.create('j1', 'a', { nodes: [A, B] }, spec(), [A, B], 0);
    table.apply('j1', 0, A, { type: 'ended', end: end(0), atMs: 1 });
    table.apply('j1', 1, B, { type: 'ended', end: end(2), atMs: 1 });
    expect(jobOutcome(failing)).toBe('failed');
    const stopped = table.create('j2', 'a', { nodes: [A] }, spec(), [A], 0);
    table.requestStop('j2', 5);
    expect(jobState(stopped)).toBe('stopping');
    table.apply('j2', 0, A, { type: 'ended', end: end(null, 'SIGTERM'), atMs: 6 });
    expect(jobOutcome(stopped)).toBe('stopped');
  });

  it('refuses reports from a node that does not run the process, and unknown processes', () => {
    const table = make();
    table.create('j1', 'a', { nodes: [A] }, spec(), [A], 0);
    expect(table.apply('j1', 0, B, { type: 'started', pid: 1, atMs: 1 })).toBe('wrong-node');
    expect(table.appendOutput('j1', 0, B, 'stdout', 'forged')).toBe('wrong-node');
    expect(table.apply('j1', 7, A, { type: 'started', pid: 1, atMs: 1 })).toBe('unknown');
    expect(table.apply('nope', 0, A, { type: 'started', pid: 1, atMs: 1 })).toBe('unknown');
  });

  it('keeps output in per-process tails and the journal, even after the process ended', () => {
    const table = make();
    const job = table.create('j1', 'a', { nodes: [A] }, spec({ outputBytesMax: 1024 }), [A], 0);
    table.apply('j1', 0, A, { type: 'ended', end: end(0), atMs: 1 });
    expect(table.appendOutput('j1', 0, A, 'stdout', 'late line\n')).toBe('applied');
    expect(job.processes[0]!.stdout.text()).toBe('late line\n');
    expect(job.journal.newest).toBe(1);
  });

  it('adds processes to a running job, not to a finished or stopping one', () => {
    const table = make();
    const job = table.create('j1', 'a', { nodes: [A] }, spec(), [A], 0);
    const added = table.add('j1', spec({ command: ['echo', 'more'] }), [B, C]);
    expect(added.map((p) => [p.index, p.node])).toEqual([[1, B], [2, C]]);
    expect(job.processes[1]!.spec.command).toEqual(['echo', 'more']);
    table.requestStop('j1', 1);
    expect(() => table.add('j1', spec(), [A])).toThrow(expect.objectContaining({ code: 'GALAXY_JOBS_FINISHED' }));
    const other = table.create('j2', 'a', { nodes: [A] }, spec(), [A], 0);
    table.apply('j2', 0, A, { type: 'ended', end: end(0), atMs: 1 });
    expect(other.finishedAtMs).toBe(1);
    expect(() => table.add('j2', spec(), [A])).toThrow(expect.objectContaining({ code: 'GALAXY_JOBS_FINISHED' }));
    expect(() => table.add('j9', spec(), [A])).toThrow(expect.objectContaining({ code: 'GALAXY_JOBS_UNKNOWN_JOB' }));
  });

  it('refuses a job on no node, and one beyond the processes bound', () => {
    const table = make({ processesPerJobMax: 2 });
    expect(() => table.create('j1', 'a', { nodes: [A] }, spec(), [], 0)).toThrow(expect.objectContaining({ code: 'GALAXY_JOBS_NO_TARGETS' }));
    expect(() => table.create('j1', 'a', { nodes: [A] }, spec(), [A, B, C], 0)).toThrow(expect.objectContaining({ code: 'GALAXY_JOBS_BUSY' }));
    table.create('j1', 'a', { nodes: [A] }, spec(), [A, B], 0);
    expect(() => table.add('j1', spec(), [C])).toThrow(expect.objectContaining({ code: 'GALAXY_JOBS_BUSY' }));
  });

  it('evicts the oldest finished jobs to admit a new one, and refuses when only live jobs hold the room', () => {
    const table = make({ jobsMax: 2 });
    table.create('j1', 'a', { nodes: [A] }, spec(), [A], 0);
    table.create('j2', 'a', { nodes: [A] }, spec(), [A], 0);
    expect(() => table.create('j3', 'a', { nodes: [A] }, spec(), [A], 0)).toThrow(expect.objectContaining({ code: 'GALAXY_JOBS_BUSY' }));
    table.apply('j2', 0, A, { type: 'ended', end: end(0), atMs: 1 });
    table.create('j3', 'a', { nodes: [A] }, spec(), [A], 0);
    expect(table.list().map((j) => j.id)).toEqual(['j3', 'j1']);
  });

  it('reserves two tails per process against the output budget', () => {
    const small = spec({ outputBytesMax: 1024 });
    expect(reservation(small, 3)).toBe(6 * 1024);
    const table = make({ outputBudgetBytes: 8 * 1024 });
    table.create('j1', 'a', { nodes: [A] }, small, [A, B], 0);
    expect(table.reserved).toBe(4096);
    expect(() => table.create('j2', 'a', { nodes: [A] }, small, [A, B, C], 0)).toThrow(expect.objectContaining({ code: 'GALAXY_JOBS_BUSY' }));
    expect(() => table.create('j2', 'a', { nodes: [A] }, spec(), [A], 0)).toThrow(/exceed the coordinator's whole budget/);
    table.apply('j1', 0, A, { type: 'ended', end: end(0), atMs: 1 });
    table.apply('j1', 1, B, { type: 'ended', end: end(0), atMs: 1 });
    table.create('j2', 'a', { nodes: [A] }, small, [A, B, C], 0);
    expect(table.reserved).toBe(6 * 1024);
  });

  it('loses every live process of a node, across jobs, and leaves final ones alone', () => {
    const table = make();
    const one = table.create('j1', 'a', { nodes: [A, B] }, spec(), [A, B], 0);
    const two = table.create('j2', 'a', { nodes: [B] }, spec(), [B], 0);
    table.apply('j1', 0, A, { type: 'ended', end: end(0), atMs: 1 });
    table.apply('j1', 1, B, { type: 'started', pid: 5, atMs: 1 });
    expect(table.loseNode(B, 'node died', 50)).toBe(2);
    expect(one.processes[1]!.status).toMatchObject({ state: 'lost', reason: 'node died' });
    expect(jobOutcome(one)).toBe('failed');
    expect(jobState(two)).toBe('finished');
    expect(table.loseNode(A, 'x', 60)).toBe(0);
  });
});

describe('job views', () => {
  it('leaves out output beyond the answer bound, and shows one asked-for process by the ends of its streams', () => {
    const table = new JobTable();
    const job = table.create('j1', 'a', { nodes: [A, B, C] }, spec(), [A, B, C], 0);
    const big = 'x'.repeat(kViewOutputJsonCharsMax / 2 + 10);
    for (const i of [0, 1, 2]) table.appendOutput('j1', i, job.processes[i]!.node, 'stdout', big);
    const view = jobView(job, { output: true });
    expect(view.outputOmitted).toBe(2);
    expect(view.processes[0]!.stdout).toBe(big);
    expect(view.processes[0]!.outputComplete).toBe(true);
    expect(view.processes[1]!.stdout).toBeUndefined();
    expect(JSON.stringify(view).length).toBeLessThan(kViewOutputJsonCharsMax + 10_000);
    table.appendOutput('j1', 2, C, 'stdout', 'y'.repeat(kViewOutputJsonCharsMax));
    const one = jobView(job, { output: true, process: 2 });
    expect(one.processes).toHaveLength(1);
    expect(one.processes[0]!.stdout!.endsWith('yyy')).toBe(true);
    expect(one.processes[0]!.outputComplete).toBe(false);
    expect(JSON.stringify(one).length).toBeLessThan(kViewOutputJsonCharsMax + 10_000);
    expect(jobView(job).processes[0]!.stdout).toBeUndefined();
    expect(jobView(job).processes[0]!.stdoutBytes).toBe(big.length);
  });
});

describe('lost-node rule', () => {
  it('counts departures only, never the first membership or a mere absence', () => {
    expect(departedNodes(null, new Set([A]), C)).toEqual([]);
    expect(departedNodes(new Set([A, B]), new Set([A]), C)).toEqual([B]);
    expect(departedNodes(new Set([A]), new Set([A, B]), C)).toEqual([]);
    expect(departedNodes(new Set([A, C]), new Set(), C)).toEqual([A]);
  });

  it('gives a node up after failuresMax probes in a row; an answer resets the count', () => {
    const tracker = new ProbeTracker(3);
    expect(tracker.failed(A)).toBe(false);
    expect(tracker.failed(A)).toBe(false);
    tracker.answered(A);
    expect(tracker.failed(A)).toBe(false);
    expect(tracker.failed(A)).toBe(false);
    expect(tracker.failed(A)).toBe(true);
    expect(tracker.failuresOf(A)).toBe(0);
    tracker.failed(B);
    tracker.retain(new Set([A]));
    expect(tracker.failuresOf(B)).toBe(0);
  });

  it('names processes by job id and index (probe answers are settled by the core: job-coordination-cores.test.ts)', () => {
    const job = makeJobId(C, 1000, 1);
    expect(processKey(job, 3)).toBe(`${job}/3`);
    expect(parseProcessKey(processKey(job, 3))).toEqual({ jobId: job, index: 3 });
    expect(() => parseProcessKey('nonsense')).toThrow(RangeError);
  });
});

describe('job ids and targets', () => {
  it('names the coordinator in the id', () => {
    const id = makeJobId(A, 1_700_000_000_000, 12);
    expect(id).toBe(`${A}-${(1_700_000_000_000).toString(36)}-12`);
    expect(jobCoordinator(id)).toBe(A);
    expect(() => jobCoordinator('x')).toThrow(expect.objectContaining({ code: 'GALAXY_JOBS_INVALID' }));
  });

  it('checks what farm.resolve answered: ids only, duplicates dropped, empty and oversized refused', () => {
    expect(resolvedNodes({ landscape: 'web' }, [A, B, A])).toEqual([A, B]);
    expect(() => resolvedNodes({ landscape: 'web' }, [])).toThrow(expect.objectContaining({ code: 'GALAXY_JOBS_NO_TARGETS', message: 'landscape "web" selects no node' }));
    expect(() => resolvedNodes({ sql: 'select 1' }, [A, 'x'])).toThrow(expect.objectContaining({ code: 'GALAXY_JOBS_INVALID' }));
    expect(() => resolvedNodes({ sql: 'select 1' }, { nodes: [] })).toThrow(JobsError);
    expect(() => resolvedNodes({ nodes: [A, B] }, [A, B], 1)).toThrow(expect.objectContaining({ code: 'GALAXY_JOBS_BUSY' }));
  });

  it('validates requests strictly, naming the field', () => {
    expect(kJobCreateSchema.safeParse({ target: { nodes: [A] }, command: ['ls'] }).success).toBe(true);
    expect(kJobCreateSchema.safeParse({ target: { nodes: [A] }, command: [] }).success).toBe(false);
    expect(kJobCreateSchema.safeParse({ target: { landscape: 'web' }, command: ['ls'], timeout: 5 }).success).toBe(false);
    expect(kJobCreateSchema.safeParse({ target: { nodes: ['zz'] }, command: ['ls'] }).success).toBe(false);
    expect(kProcessSpecSchema.safeParse({ command: ['ls'], env: { GALAXY_JOB_ID: 'x' } }).success).toBe(false);
    expect(kProcessSpecSchema.safeParse({ command: ['ls'], timeoutMs: 10 }).success).toBe(false);
    expect(kProcessSpecSchema.safeParse({ command: ['ls'], user: 'Root;rm' }).success).toBe(false);
    expect(kProcessSpecSchema.safeParse({ command: ['ls'], cwd: 'relative' }).success).toBe(false);
  });
});

describe('launch plan', () => {
  const passwd = 'root:x:0:0:root:/root:/bin/bash\n# comment\nbroken:line\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\nalice:x:1000:1000::/home/alice:/bin/sh\n';
  const facts = (uid: number, userName: string | null): NodeFacts => ({
    nodeId: A,
    uid,
    userName,
    lookupUser: (name) => findPasswdEntry(passwd, name),
    environment: { PATH: '/usr/bin:/bin', SECRET: undefined, LANG: 'C.UTF-8' },
    temporaryDirectory: '/tmp',
    directoryExists: (path) => path === '/home/alice' || path === '/root',
  });
  const identity = { jobId: makeJobId(A, 1, 1), index: 3 };

  it('runs argv directly with the job variables, in the temporary directory', () => {
    const plan = launchPlan(spec({ command: ['echo', 'a b', '$HOME'], env: { COLOR: 'red' } }), facts(1000, 'alice'), identity);
    expect(plan.file).toBe('echo');
    expect(plan.args).toEqual(['a b', '$HOME']);
    expect([plan.uid, plan.gid, plan.cwd]).toEqual([null, null, '/tmp']);
    expect(plan.env).toMatchObject({ PATH: '/usr/bin:/bin', LANG: 'C.UTF-8', COLOR: 'red', GALAXY_JOB_ID: identity.jobId, GALAXY_PROCESS_INDEX: '3', GALAXY_NODE_ID: A });
    expect('SECRET' in plan.env).toBe(false);
  });

  it('wraps the command in the ulimit shell for a memory limit, argv untouched', () => {
    const plan = launchPlan(spec({ command: ['my prog', '*'], memoryMb: 64 }), facts(0, 'root'), identity);
    expect(plan.file).toBe(kLimitShell);
    expect(plan.args[0]).toBe('-c');
    expect(plan.args[1]).toContain('ulimit -v "$1"');
    expect(plan.args[1]).toContain(`exit ${kMemoryLimitExitCode}`);
    expect(plan.args.slice(2)).toEqual(['galaxy-job', String(64 * 1024), 'my prog', '*']);
  });

  it('switches user only as root, to a known user, in their home when it exists', () => {
    const alice = launchPlan(spec({ user: 'alice' }), facts(0, 'root'), identity);
    expect([alice.uid, alice.gid, alice.cwd]).toEqual([1000, 1000, '/home/alice']);
    expect(alice.env).toMatchObject({ HOME: '/home/alice', USER: 'alice', LOGNAME: 'alice' });
    const nobody = launchPlan(spec({ user: 'nobody' }), facts(0, 'root'), identity);
    expect([nobody.uid, nobody.cwd]).toEqual([65534, '/tmp']);
    expect(() => launchPlan(spec({ user: 'mallory' }), facts(0, 'root'), identity)).toThrow(expect.objectContaining({ code: 'GALAXY_JOBS_USER_UNKNOWN' }));
    expect(() => launchPlan(spec({ user: 'root' }), facts(1000, 'alice'), identity)).toThrow(expect.objectContaining({ code: 'GALAXY_JOBS_USER_NOT_PERMITTED' }));
    expect(launchPlan(spec({ user: 'alice' }), facts(1000, 'alice'), identity).uid).toBeNull();
  });

  it('parses /etc/passwd, skipping malformed lines', () => {
    expect(findPasswdEntry(passwd, 'alice')).toEqual({ name: 'alice', uid: 1000, gid: 1000, home: '/home/alice' });
    expect(findPasswdEntry(passwd, 'broken')).toBeNull();
    expect(findPasswdEntry('evil:x:abc:0::/:/bin/sh\n', 'evil')).toBeNull();
    expect(passwdNameOf(passwd, 65534)).toBe('nobody');
    expect(passwdNameOf(passwd, 4242)).toBeNull();
  });
});

describe('output batcher', () => {
  it('joins pieces into reports of at most chunkBytesMax', () => {
    const batcher = new OutputBatcher(1000, 10);
    batcher.push('stdout', bytes('hello '));
    batcher.push('stdout', bytes('world!'));
    batcher.push('stderr', bytes('err'));
    expect(batcher.take(false)).toEqual({ stdout: 'hello worl', stderr: '' });
    expect(batcher.take(false)).toEqual({ stdout: 'd!', stderr: 'err' });
    expect(batcher.take(false)).toBeNull();
  });

  it('never splits a character until the process has ended', () => {
    const batcher = new OutputBatcher(1000, 100);
    const euro = bytes('a€');
    batcher.push('stdout', euro.subarray(0, 2));
    expect(batcher.take(false)).toEqual({ stdout: 'a', stderr: '' });
    expect(batcher.take(false)).toBeNull();
    batcher.push('stdout', euro.subarray(2));
    expect(batcher.take(false)).toEqual({ stdout: '€', stderr: '' });
    batcher.push('stdout', euro.subarray(1, 2));
    expect(batcher.take(true)).toEqual({ stdout: '\uFFFD', stderr: '' });
  });

  it('drops the oldest pending bytes beyond its bound and counts them with lost reports', () => {
    const batcher = new OutputBatcher(10, 100);
    batcher.push('stdout', bytes('0123456789'));
    batcher.push('stdout', bytes('abcd'));
    expect(batcher.pendingBytes).toBe(10);
    expect(batcher.undeliveredBytes).toBe(4);
    const report = batcher.take(false)!;
    expect(report.stdout).toBe('456789abcd');
    batcher.lost(report);
    expect(batcher.undeliveredBytes).toBe(14);
  });
});
