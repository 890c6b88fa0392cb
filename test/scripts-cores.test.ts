// Proves the pure cores of the remote script service: phase markers and counts (prelude
// in every phase, refusals), batch limits as counts and shares, the success rule (its
// arithmetic and the early verdict that stops a failing rollout), the dshbak-style merge
// of identical outputs and its text layout, and the run state machine: barriers (no
// batch of the next phase before every batch of this one finished), batches in order,
// the rule checked after every batch, stop and failure skipping what remains; views fit
// their JSON bound; management nodes are found by their roles tag.
import { describe, expect, it } from 'vitest';
import { batchSize, parseBatchLimit, planBatches } from '../src/farm/jobs/scripts/batch-plan.js';
import { formatMerged, mergeOutputs } from '../src/farm/jobs/scripts/dshbak-merge.js';
import { managementNodes } from '../src/farm/jobs/scripts/script-coordinator.js';
import { splitPhases } from '../src/farm/jobs/scripts/script-phases.js';
import { ScriptRun, type NodeResult } from '../src/farm/jobs/scripts/script-run.js';
import { kScriptRunSchema } from '../src/farm/jobs/scripts/script-spec.js';
import { fitView, mergedPhases, phaseResults, scriptSummary, type RunMeta } from '../src/farm/jobs/scripts/script-view.js';
import { parseSuccessRule, phaseVerdict, requiredSuccesses } from '../src/farm/jobs/scripts/success-rule.js';

const ok = (node: string, stdout = 'ok\n'): NodeResult => ({ node, state: 'exited', exitCode: 0, signal: null, reason: null, stdout, stderr: '', startedAtMs: 1, endedAtMs: 2, jobId: 'j' });
const bad = (node: string, code = 1): NodeResult => ({ ...ok(node, 'failed\n'), exitCode: code });
const nodes = (n: number) => Array.from({ length: n }, (_, i) => `n${String(i).padStart(2, '0')}`);

describe('phases', () => {
  it('splits on markers, runs the prelude in every phase, names phases', () => {
    const script = '#!/bin/bash\nset -e\nf() { echo hi; }\n# galaxy:phase prepare\nf\n#galaxy:phase\necho two\n  #  galaxy:phase verify  \necho three\n';
    const phases = splitPhases(script);
    expect(phases.map((p) => [p.number, p.name])).toEqual([
      [1, 'prepare'],
      [2, 'phase-2'],
      [3, 'verify'],
    ]);
    for (const phase of phases) expect(phase.text.startsWith('#!/bin/bash\nset -e\nf() { echo hi; }\n')).toBe(true);
    expect(phases[0]!.text).toContain('\nf\n');
    expect(phases[0]!.text).not.toContain('echo two');
    expect(phases[2]!.text).toContain('echo three');
  });

  it('runs a script without markers as N phases', () => {
    expect(splitPhases('echo $GALAXY_PHASE').map((p) => p.name)).toEqual(['phase-1']);
    const three = splitPhases('echo $GALAXY_PHASE', 3);
    expect(three.map((p) => [p.number, p.text])).toEqual([
      [1, 'echo $GALAXY_PHASE'],
      [2, 'echo $GALAXY_PHASE'],
      [3, 'echo $GALAXY_PHASE'],
    ]);
  });

  it('refuses markers with a count, empty phases, duplicate or bad names, too many phases', () => {
    const invalid = expect.objectContaining({ code: 'GALAXY_SCRIPTS_INVALID' });
    expect(() => splitPhases('# galaxy:phase a\necho', 2)).toThrow(invalid);
    expect(() => splitPhases('# galaxy:phase a\n\n# galaxy:phase b\necho')).toThrow(/phase 1 \("a", line 1\) has nothing to run/);
    expect(() => splitPhases('# galaxy:phase a\necho\n# galaxy:phase a\necho')).toThrow(/used twice/);
    expect(() => splitPhases('# galaxy:phase bad name!\necho')).toThrow(invalid);
    expect(() => splitPhases(Array.from({ length: 17 }, (_, i) => `# galaxy:phase p${i}\necho`).join('\n'))).toThrow(/at most 16/);
    expect(() => splitPhases('echo', 0)).toThrow(invalid);
    expect(() => splitPhases('  \n')).toThrow(/empty/);
  });
});

describe('batches', () => {
  it('parses counts and shares and refuses the rest', () => {
    expect(parseBatchLimit('10')).toEqual({ kind: 'count', count: 10 });
    expect(parseBatchLimit('25%')).toEqual({ kind: 'percent', percent: 25 });
    expect(parseBatchLimit('2.5%')).toEqual({ kind: 'percent', percent: 2.5 });
    for (const text of ['0', '0%', '101%', '-1', 'ten', '10 %x', '']) expect(() => parseBatchLimit(text)).toThrow(expect.objectContaining({ code: 'GALAXY_SCRIPTS_INVALID' }));
  });

  it('sizes batches: shares round up, at least one node, at most all', () => {
    expect(batchSize({ kind: 'percent', percent: 10 }, 95)).toBe(10);
    expect(batchSize({ kind: 'percent', percent: 10 }, 100)).toBe(10);
    expect(batchSize({ kind: 'percent', percent: 1 }, 5)).toBe(1);
    expect(batchSize({ kind: 'percent', percent: 100 }, 7)).toBe(7);
    expect(batchSize({ kind: 'count', count: 50 }, 7)).toBe(7);
    expect(planBatches(nodes(5), 2)).toEqual([['n00', 'n01'], ['n02', 'n03'], ['n04']]);
  });
});

describe('success rule', () => {
  it('computes the successes required', () => {
    expect(requiredSuccesses(parseSuccessRule('90%'), 10)).toBe(9);
    expect(requiredSuccesses(parseSuccessRule('90%'), 11)).toBe(10);
    expect(requiredSuccesses(parseSuccessRule('100%'), 3)).toBe(3);
    expect(requiredSuccesses(parseSuccessRule('0%'), 3)).toBe(0);
    expect(requiredSuccesses(parseSuccessRule('5'), 3)).toBe(3);
    expect(requiredSuccesses(parseSuccessRule('2'), 3)).toBe(2);
    for (const text of ['101%', 'most', '-1', '']) expect(() => parseSuccessRule(text)).toThrow(expect.objectContaining({ code: 'GALAXY_SCRIPTS_INVALID' }));
  });

  it('decides early that a rule cannot be met, and only at the end that it is met', () => {
    expect(phaseVerdict(9, 10, 5, 1)).toBe('undecided');
    expect(phaseVerdict(9, 10, 5, 2)).toBe('cannot-meet');
    expect(phaseVerdict(9, 10, 9, 1)).toBe('met');
    expect(phaseVerdict(9, 10, 9, 0)).toBe('undecided');
    expect(phaseVerdict(0, 3, 0, 3)).toBe('met');
  });
});

describe('dshbak merge', () => {
  it('groups identical output and status, largest group first', () => {
    const groups = mergeOutputs([
      { node: 'c', status: 'exit 0', stdout: 'ok\n', stderr: '' },
      { node: 'a', status: 'exit 0', stdout: 'ok\n', stderr: '' },
      { node: 'b', status: 'exit 1', stdout: 'ok\n', stderr: '' },
      { node: 'd', status: 'exit 0', stdout: 'ok\n', stderr: 'warn\n' },
      { node: 'e', status: 'exit 0', stdout: 'ok\n', stderr: '' },
    ]);
    expect(groups.map((g) => [g.nodes, g.status, g.stderr])).toEqual([
      [['a', 'c', 'e'], 'exit 0', ''],
      [['b'], 'exit 1', ''],
      [['d'], 'exit 0', 'warn\n'],
    ]);
  });

  it('is not fooled by texts that would collide if joined naively', () => {
    const groups = mergeOutputs([
      { node: 'a', status: 'exit 0', stdout: 'x\u0000', stderr: 'y' },
      { node: 'b', status: 'exit 0', stdout: 'x', stderr: '\u0000y' },
    ]);
    expect(groups).toHaveLength(2);
  });

  it('prints dshbak -c style blocks', () => {
    const text = formatMerged(mergeOutputs([
      { node: 'a', status: 'exit 0', stdout: 'up 3 days\n', stderr: '' },
      { node: 'b', status: 'exit 0', stdout: 'up 3 days\n', stderr: '' },
      { node: 'c', status: 'exit 2', stdout: '', stderr: 'no such file\n' },
      { node: 'd', status: 'lost', stdout: '', stderr: '' },
    ]));
    expect(text).toBe(['----------------', 'a,b (2)  [exit 0]', '----------------', 'up 3 days', '----------------', 'c  [exit 2]', '----------------', '[stderr]', 'no such file', '----------------', 'd  [lost]', '----------------', '(no output)', ''].join('\n'));
  });
});

describe('script run state machine', () => {
  const phases = splitPhases('# galaxy:phase one\necho 1\n# galaxy:phase two\necho 2\n');

  it('runs batches in order and never offers the next phase before every batch of this one finished', () => {
    const run = new ScriptRun(nodes(5), phases, 2, parseSuccessRule('100%'));
    const order: string[] = [];
    for (let action = run.next(0); action !== null; action = run.next(0)) {
      order.push(`${action.script.name}:${action.nodes.join('+')}`);
      expect(run.next(0)).toBeNull(); // one batch at a time
      run.batchFinished(action, action.nodes.map((n) => ok(n)), 1);
    }
    expect(order).toEqual(['one:n00+n01', 'one:n02+n03', 'one:n04', 'two:n00+n01', 'two:n02+n03', 'two:n04']);
    expect(run.state).toBe('succeeded');
    expect(run.phaseRecords.map((p) => [p.state, p.succeeded, p.failed, p.batchesRun])).toEqual([
      ['succeeded', 5, 0, 3],
      ['succeeded', 5, 0, 3],
    ]);
  });

  it('stops a failing rollout as soon as the rule cannot be met: later batches and phases skipped', () => {
    const run = new ScriptRun(nodes(10), phases, 2, parseSuccessRule('90%'));
    let action = run.next(0)!;
    run.batchFinished(action, [ok('n00'), bad('n01')], 1);
    expect(run.state).toBe('running');
    action = run.next(1)!;
    run.batchFinished(action, [bad('n02'), ok('n03')], 2);
    expect(run.state).toBe('failed');
    expect(run.reason).toBe('phase 1 (one): 2 of 10 nodes succeeded, 9 required');
    expect(run.next(3)).toBeNull();
    const [one, two] = run.phaseRecords;
    expect(one!.state).toBe('failed');
    expect(one!.batchesRun).toBe(2);
    expect([...one!.results.values()].filter((r) => r.state === 'skipped').map((r) => r.node)).toEqual(['n04', 'n05', 'n06', 'n07', 'n08', 'n09']);
    expect(two!.state).toBe('skipped');
  });

  it('lets a phase through with failures the rule allows', () => {
    const run = new ScriptRun(nodes(10), phases.slice(0, 1), 10, parseSuccessRule('90%'));
    const action = run.next(0)!;
    run.batchFinished(action, action.nodes.map((n, i) => (i === 3 ? bad(n) : ok(n))), 1);
    expect(run.state).toBe('succeeded');
  });

  it('counts a node without a result as lost', () => {
    const run = new ScriptRun(nodes(2), phases.slice(0, 1), 2, parseSuccessRule('100%'));
    const action = run.next(0)!;
    run.batchFinished(action, [ok('n00')], 1);
    expect(run.phaseRecords[0]!.results.get('n01')!.state).toBe('lost');
    expect(run.state).toBe('failed');
  });

  it('stops between batches, or after the running batch, keeping its results', () => {
    const between = new ScriptRun(nodes(4), phases, 2, parseSuccessRule('100%'));
    const first = between.next(0)!;
    between.batchFinished(first, first.nodes.map((n) => ok(n)), 1);
    between.stop('operator', 2);
    expect(between.state).toBe('stopped');
    expect(between.phaseRecords.map((p) => p.state)).toEqual(['stopped', 'skipped']);
    expect(between.next(3)).toBeNull();

    const during = new ScriptRun(nodes(4), phases, 2, parseSuccessRule('100%'));
    const running = during.next(0)!;
    during.stop('operator', 1);
    expect([during.state, during.finished, during.phaseRecords[0]!.state]).toEqual(['stopping', false, 'running']);
    expect(during.next(1)).toBeNull();
    during.batchFinished(running, running.nodes.map((n) => ({ ...ok(n), state: 'signalled' as const, exitCode: null, signal: 'SIGTERM' })), 2);
    expect([during.state, during.reason, during.phaseRecords[0]!.state]).toEqual(['stopped', 'operator', 'stopped']);
    expect(during.phaseRecords[0]!.results.get('n00')!.signal).toBe('SIGTERM');
    expect(during.phaseRecords[0]!.results.get('n03')!.state).toBe('skipped');
  });

  it('fails on an operating error with the reason', () => {
    const run = new ScriptRun(nodes(2), phases, 1, parseSuccessRule('100%'));
    run.next(0);
    run.fail('GALAXY_JOBS_BUSY: full', 1);
    expect([run.state, run.reason]).toEqual(['failed', 'GALAXY_JOBS_BUSY: full']);
    expect(run.phaseRecords.map((p) => p.state)).toEqual(['failed', 'skipped']);
  });
});

describe('script views', () => {
  const meta: RunMeta = { id: '00000000000000a1-x-1', name: 'deploy.sh', createdBy: 'op', createdAtMs: 0, target: { landscape: 'web' }, batch: '2', minSuccess: '100%', logs: { stored: [], failed: [] } };

  it('pages one phase\'s results in node order and merges every phase', () => {
    const run = new ScriptRun(nodes(3), splitPhases('echo'), 3, parseSuccessRule('100%'));
    const action = run.next(0)!;
    run.batchFinished(action, [ok('n02'), ok('n00'), bad('n01')], 1);
    const page = phaseResults(run, 1, 1, 1)!;
    expect([page.total, page.nodes.map((n) => n.node)]).toEqual([3, ['n01']]);
    const merged = mergedPhases(run);
    expect(merged[0]!.groups.map((g) => g.nodes)).toEqual([['n00', 'n02'], ['n01']]);
    expect(scriptSummary(meta, run).phases[0]).toMatchObject({ state: 'failed', succeeded: 2, failed: 1, required: 3 });
  });

  it('fits a view to its bound by cutting texts, then dropping the smallest groups', () => {
    const many = nodes(60);
    const run = new ScriptRun(many, splitPhases('echo'), 60, parseSuccessRule('0%'));
    const action = run.next(0)!;
    run.batchFinished(action, many.map((n, i) => ok(n, `${i}:${'x'.repeat(3000)}`)), 1);
    const view = { ...scriptSummary(meta, run), merged: mergedPhases(run) };
    const fitted = fitView(view, 20_000);
    expect(JSON.stringify(fitted).length).toBeLessThanOrEqual(20_000);
    expect(fitted.outputCut).toBe(true);
    const tiny = fitView(view, 3000);
    expect(JSON.stringify(tiny).length).toBeLessThanOrEqual(3000);
    expect(tiny.merged![0]!.groupsOmitted).toBeGreaterThan(0);
  });

  it('finds management nodes by their roles tag, alive only', () => {
    expect(
      managementNodes([
        { id: 'a', status: 'alive', tags: { roles: 'controller,management' } },
        { id: 'b', status: 'dead', tags: { roles: 'management' } },
        { id: 'c', status: 'alive', tags: { roles: 'worker' } },
        { id: 'd', status: 'alive', tags: {} },
        null,
      ]),
    ).toEqual(['a']);
    expect(managementNodes('nonsense')).toEqual([]);
  });

  it('validates run requests strictly, with the batch and rule syntax checked', () => {
    const base = { target: { landscape: 'web' }, script: 'echo hi' };
    expect(kScriptRunSchema.safeParse({ ...base, batch: '10%', minSuccess: '90%' }).success).toBe(true);
    expect(kScriptRunSchema.safeParse({ ...base, batch: 'lots' }).success).toBe(false);
    expect(kScriptRunSchema.safeParse({ ...base, minSuccess: '190%' }).success).toBe(false);
    expect(kScriptRunSchema.safeParse({ ...base, script: '' }).success).toBe(false);
    expect(kScriptRunSchema.safeParse({ ...base, script: 'x'.repeat(40_000) }).success).toBe(false);
    expect(kScriptRunSchema.safeParse({ ...base, interpreter: 'python' }).success).toBe(false);
    expect(kScriptRunSchema.safeParse({ ...base, command: ['ls'] }).success).toBe(false);
  });
});
