// Proves the job and script routes: the route table run through the same steps as the
// API server (route match, role check, path, query and body validation, the handler,
// error mapping), with the backend being componentJobsBackend over the in-memory farm
// of real processes. An operator runs jobs and scripts end to end; a viewer can only
// read and is refused (403) every route that changes anything; bad input to every route
// gets a 400 naming the field, unknown ids a 404, and every coded error of the services
// has a deliberate HTTP status.
import { afterEach, describe, expect, it } from 'vitest';
import { ApiError } from '../src/ops/api/api-error.js';
import type { ApiRole } from '../src/surface/api/api-roles.js';
import { componentJobsBackend } from '../src/farm/jobs/jobs-backend.js';
import { kindOfCode } from '../src/farm/jobs/jobs-routes.js';
import { toApiError } from '../src/ops/api/api-response.js';
import { DomainError } from '../src/core/util/domain-error.js';
import { routeDispatcher, type Answer } from './support/jobs-api-harness.js';
import { kJobsErrorCodes } from '../src/farm/jobs/jobs-error.js';
import { kScriptsErrorCodes } from '../src/farm/jobs/scripts/scripts-error.js';
import { InMemoryFarm } from './support/jobs-farm.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const A = '00000000000000a1';
const B = '00000000000000b2';
let farm: InMemoryFarm;
let stateDir: string;

afterEach(async () => {
  await farm?.close();
  rmSync(stateDir, { recursive: true, force: true });
});

function api(): (method: string, target: string, role: ApiRole, body?: unknown) => Promise<Answer> {
  farm = new InMemoryFarm();
  farm.add(A);
  farm.add(B);
  stateDir = mkdtempSync(join(tmpdir(), 'galaxy-jobs-api-'));
  farm.addScripts(A, stateDir);
  farm.landscapes.set('both', [A, B]);
  farm.announce();
  return routeDispatcher(componentJobsBackend((_component, service, body, timeoutMs) => farm.call(A, A, service, body, timeoutMs)));
}

describe('job and script routes', () => {
  it('lets an operator run a job and follow it; a viewer reads it', async () => {
    const request = api();
    const created = await request('POST', '/v1/jobs', 'operator', { target: { landscape: 'both' }, command: ['sh', '-c', 'echo "hi from $GALAXY_NODE_ID"'] });
    expect(created.status).toBe(201);
    expect(created.json.createdBy).toBe('operator-token');
    const id = created.json.id as string;
    const waited = await request('GET', `/v1/jobs/${id}/wait?timeoutMs=10000`, 'viewer');
    expect(waited.status).toBe(200);
    expect(waited.json.finished).toBe(true);
    expect(waited.json.job.outcome).toBe('succeeded');
    const shown = await request('GET', `/v1/jobs/${id}?output=true`, 'viewer');
    expect(shown.json.processes.map((p: { node: string; stdout: string; exitCode: number }) => [p.node, p.exitCode, p.stdout])).toEqual([
      [A, 0, `hi from ${A}\n`],
      [B, 0, `hi from ${B}\n`],
    ]);
    const output = await request('GET', `/v1/jobs/${id}/output?after=0&timeoutMs=0`, 'viewer');
    expect(output.json.chunks.map((c: { text: string }) => c.text).sort()).toEqual([`hi from ${A}\n`, `hi from ${B}\n`]);
    const listed = await request('GET', '/v1/jobs', 'viewer');
    expect(listed.json.map((j: { id: string }) => j.id)).toEqual([id]);
  });

  it('lets an operator signal, stop and add to a job', async () => {
    const request = api();
    const { json: job } = await request('POST', '/v1/jobs', 'operator', { target: { nodes: [A] }, command: ['sleep', '30'] });
    const added = await request('POST', `/v1/jobs/${job.id}/processes`, 'operator', { target: { nodes: [B] } });
    expect(added.json.processes).toHaveLength(2);
    expect((await request('POST', `/v1/jobs/${job.id}/signal`, 'operator', { signal: 'SIGCONT', processes: [0] })).status).toBe(200);
    expect((await request('POST', `/v1/jobs/${job.id}/stop`, 'operator')).json.state).toBe('stopping');
    const waited = await request('GET', `/v1/jobs/${job.id}/wait?timeoutMs=10000`, 'viewer');
    expect(waited.json.job.outcome).toBe('stopped');
  });

  it('runs a script and shows it merged', async () => {
    const request = api();
    const created = await request('POST', '/v1/scripts', 'operator', { target: { landscape: 'both' }, script: 'echo same', batch: '50%', minSuccess: '100%' });
    expect(created.status).toBe(201);
    const id = created.json.id as string;
    let version: number | undefined;
    for (;;) {
      const progress = await request('GET', `/v1/scripts/${id}/wait?timeoutMs=5000${version === undefined ? '' : `&version=${version}`}`, 'viewer');
      if (progress.json.finished) break;
      version = progress.json.version;
    }
    const merged = await request('GET', `/v1/scripts/${id}?merged=true`, 'viewer');
    expect(merged.json.state).toBe('succeeded');
    expect(merged.json.merged[0].groups).toEqual([{ nodes: [A, B], status: 'exit 0', stdout: 'same\n', stderr: '' }]);
    const page = await request('GET', `/v1/scripts/${id}?phase=1&limit=1`, 'viewer');
    expect(page.json.results.total).toBe(2);
    expect(page.json.results.nodes).toHaveLength(1);
    expect((await request('GET', '/v1/scripts', 'viewer')).json).toHaveLength(1);
    expect((await request('GET', '/v1/script-logs', 'viewer')).status).toBe(200);
  });

  it('refuses a viewer every route that runs or changes something', async () => {
    const request = api();
    const job = `${A}-abc-1`;
    for (const [method, target, body] of [
      ['POST', '/v1/jobs', { target: { nodes: [A] }, command: ['true'] }],
      ['POST', `/v1/jobs/${job}/processes`, { target: { nodes: [A] } }],
      ['POST', `/v1/jobs/${job}/signal`, { signal: 'SIGTERM' }],
      ['POST', `/v1/jobs/${job}/stop`, {}],
      ['POST', '/v1/scripts', { target: { nodes: [A] }, script: 'true' }],
      ['POST', `/v1/scripts/${job}/stop`, {}],
    ] as const) {
      const answer = await request(method, target, 'viewer', body);
      expect(answer.status, `${method} ${target}`).toBe(403);
      expect(answer.json.error.code).toBe('GALAXY_API_FORBIDDEN');
    }
    expect(farm.calls).toBe(0);
  });

  it('answers bad input to every route with a 400 naming what is wrong', async () => {
    const request = api();
    const job = `${A}-abc-1`;
    const cases: Array<[string, string, unknown, RegExp]> = [
      ['POST', '/v1/jobs', { target: { nodes: [A] } }, /body.command: Required/],
      ['POST', '/v1/jobs', { target: { nodes: [A] }, command: [] }, /body.command: the command is empty/],
      ['POST', '/v1/jobs', { target: { hosts: [A] }, command: ['x'] }, /body.target: Unrecognized key/],
      ['POST', '/v1/jobs', { target: {}, command: ['x'] }, /body.target: a target is exactly one of/],
      ['POST', '/v1/jobs', { target: { nodes: [A], landscape: 'web' }, command: ['x'] }, /body.target: a target is exactly one of/],
      ['POST', '/v1/jobs', { target: { nodes: ['node1'] }, command: ['x'] }, /body.target.nodes.0: a node id is 16 lowercase hex digits/],
      ['POST', '/v1/jobs', { target: { nodes: [A] }, command: ['x'], timeoutMs: 5 }, /body.timeoutMs/],
      ['POST', '/v1/jobs', { target: { nodes: [A] }, command: ['x'], memoryMb: 1 }, /body.memoryMb/],
      ['POST', '/v1/jobs', { target: { nodes: [A] }, command: ['x'], user: 'no body' }, /body.user: a user name/],
      ['POST', '/v1/jobs', { target: { nodes: [A] }, command: ['x'], env: { GALAXY_JOB_ID: '1' } }, /body.env/],
      ['POST', '/v1/jobs', { target: { nodes: [A] }, command: ['x'], shell: true }, /Unrecognized key/],
      ['GET', '/v1/jobs/not-a-job', undefined, /path.id: a job id is/],
      ['GET', `/v1/jobs/${job}?output=maybe`, undefined, /query.output/],
      ['GET', `/v1/jobs/${job}?process=-1`, undefined, /query.process/],
      ['POST', `/v1/jobs/${job}/processes`, { command: ['x'] }, /body.target: Required/],
      ['POST', `/v1/jobs/${job}/signal`, { signal: 'SIGSEGV' }, /body.signal/],
      ['POST', `/v1/jobs/${job}/stop`, { now: true }, /Unrecognized key/],
      ['GET', `/v1/jobs/${job}/wait?timeoutMs=600000`, undefined, /query.timeoutMs/],
      ['GET', `/v1/jobs/${job}/output?after=x`, undefined, /query.after/],
      ['POST', '/v1/scripts', { target: { nodes: [A] }, script: '' }, /body.script: the script is empty/],
      ['POST', '/v1/scripts', { target: { nodes: [A] }, script: 'x'.repeat(40_000) }, /body.script: a script has at most/],
      ['POST', '/v1/scripts', { target: { nodes: [A] }, script: 'true', batch: 'half' }, /body.batch: a batch is a node count/],
      ['POST', '/v1/scripts', { target: { nodes: [A] }, script: 'true', minSuccess: '150%' }, /body.minSuccess: a success share/],
      ['POST', '/v1/scripts', { target: { nodes: [A] }, script: 'true', phases: 99 }, /body.phases/],
      ['GET', `/v1/scripts/${job}?phase=0`, undefined, /query.phase/],
      ['GET', '/v1/scripts/x', undefined, /path.id: a script run id is/],
      ['GET', `/v1/scripts/${job}/wait?version=-2`, undefined, /query.version/],
      ['GET', '/v1/script-logs?node=zz', undefined, /query.node/],
    ];
    for (const [method, target, body, message] of cases) {
      const answer = await request(method, target, 'admin', body);
      expect(answer.status, `${method} ${target} ${JSON.stringify(body)?.slice(0, 80)}`).toBe(400);
      expect(answer.json.error.code).toBe('GALAXY_API_INVALID');
      expect(answer.json.error.message).toMatch(message);
    }
    expect(farm.calls).toBe(0);
  });

  it('maps the services\' refusals to statuses: unknown ids 404, a script the phase rules refuse 400, an unknown landscape 404', async () => {
    const request = api();
    const unknownJob = await request('GET', `/v1/jobs/${A}-abc-1`, 'viewer');
    expect([unknownJob.status, unknownJob.json.error.code]).toEqual([404, 'GALAXY_JOBS_UNKNOWN_JOB']);
    const unknownRun = await request('GET', `/v1/scripts/${A}-abc-1`, 'viewer');
    expect([unknownRun.status, unknownRun.json.error.code]).toEqual([404, 'GALAXY_SCRIPTS_UNKNOWN_RUN']);
    const landscape = await request('POST', '/v1/jobs', 'operator', { target: { landscape: 'nowhere' }, command: ['true'] });
    expect([landscape.status, landscape.json.error.code, landscape.json.error.message]).toEqual([404, 'GALAXY_LANDSCAPE_UNKNOWN', 'no landscape "nowhere"']);
    const markers = await request('POST', '/v1/scripts', 'operator', { target: { nodes: [A] }, script: '# galaxy:phase a\necho', phases: 2 });
    expect([markers.status, markers.json.error.code]).toEqual([400, 'GALAXY_SCRIPTS_INVALID']);
    const log = await request('GET', `/v1/script-logs/${A}-abc-1`, 'viewer');
    expect([log.status, log.json.error.code]).toEqual([404, 'GALAXY_SCRIPTS_UNKNOWN_LOG']);
    const { json: job } = await request('POST', '/v1/jobs', 'operator', { target: { nodes: [A] }, command: ['true'] });
    await request('GET', `/v1/jobs/${job.id}/wait?timeoutMs=10000`, 'viewer');
    const late = await request('POST', `/v1/jobs/${job.id}/processes`, 'operator', { target: { nodes: [B] } });
    expect([late.status, late.json.error.code]).toEqual([409, 'GALAXY_JOBS_FINISHED']);
    const noProcess = await request('POST', `/v1/jobs/${job.id}/signal`, 'operator', { signal: 'SIGTERM', processes: [5] });
    expect([noProcess.status, noProcess.json.error.code]).toEqual([404, 'GALAXY_JOBS_UNKNOWN_PROCESS']);
  });

  // The status the API answers for a coded error of the services: its kind, mapped by the API layer.
  const statusOf = (code: string): number | null => {
    const kind = kindOfCode(code);
    return kind === null ? null : toApiError(new DomainError(kind, code, 'x'))!.status;
  };

  it('gives every coded error of the services an error status', () => {
    for (const code of [...kJobsErrorCodes, ...kScriptsErrorCodes]) {
      const status = statusOf(code);
      expect(status, code).not.toBeNull();
      expect(status! >= 400 && status! <= 599, code).toBe(true);
    }
    expect(statusOf('GALAXY_RPC_TIMEOUT')).toBe(504);
    // The farm's refusals of a target: a named node not in the farm is the caller's mistake; no landscapes here is the node's limit.
    expect(statusOf('GALAXY_FARM_UNKNOWN_NODE')).toBe(400);
    expect(statusOf('GALAXY_LANDSCAPE_UNAVAILABLE')).toBe(503);
    expect(statusOf('GALAXY_LANDSCAPE_UNKNOWN')).toBe(404);
    expect(statusOf('SOMETHING_ELSE')).toBeNull();
    expect(new ApiError(400, 'x', 'y')).toBeInstanceOf(Error);
  });
});
