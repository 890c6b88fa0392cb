// Proves the HTTP API's contract on a real ApiServer bound to 127.0.0.1:0, backed by a
// small in-memory farm (MemoryFarm in api-memory-farm.ts, the ApiBackend the farm service will provide
// for real) and a real token store on disk: authentication (401, counted) and each
// role's limits (403), validation of path, query and body with zod's message in the
// answer, malformed JSON, wrong content type, oversized bodies (413 while the server
// keeps serving), 404 and 405 with Allow, backend errors kept and unexpected ones
// hidden behind a generic 500, the caller's token name passed as `by`, /metrics read
// back by an independent Prometheus parser, the WebSocket event stream (delivery, kind
// filter, refused upgrades, a slow consumer dropped), the connection limit, the header
// timeout, the refusal of a non-loopback bind, and extra routes given at start (served
// through the same pipeline; a duplicate refused before listening). Raw sockets drive the cases fetch
// cannot express (a lying or endless body, idle connections).
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { z } from 'zod';
import { ApiError } from '../src/ops/api/api-error.js';
import type { ApiEvent } from '../src/core/util/api-event.js';
import type { AdmissionRecord } from '../src/farm/admission/admission-record.js';
import type { ApiLogger } from '../src/ops/api/api-logger.js';
import { kApiLimitsDefault } from '../src/ops/api/api-limits.js';
import { by, ok, route } from '../src/surface/api/api-route.js';
import { ApiServer } from '../src/ops/api/api-server.js';
import { TokenStore } from '../src/ops/api/token-store.js';
import { kApprovedId, kKey1, kKey2, kPendingId, MemoryFarm } from './api-memory-farm.js';
import { until } from './support/net.js';

/** Collects what the server logs, to check that a 500's real cause is logged and not sent. */
class RecordingLogger implements ApiLogger {
  readonly errors: Array<{ object: object; message?: string }> = [];
  readonly warnings: Array<{ object: object; message?: string }> = [];
  debug(): void {}
  info(): void {}
  warn(object: object, message?: string): void {
    this.warnings.push({ object, message });
  }
  error(object: object, message?: string): void {
    this.errors.push({ object, message });
  }
}

interface Answer {
  status: number;
  headers: Headers;
  body: { error?: { code: string; message: string } } & Record<string, unknown>;
  text: string;
}

let dir: string;
let farm: MemoryFarm;
let tokens: TokenStore;
let logger: RecordingLogger;
let api: ApiServer;
let admin: string;
let operator: string;
let viewer: string;
const kBodyBytesMax = 4096;

async function call(method: string, path: string, options: { token?: string; body?: unknown; raw?: string; contentType?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers['Authorization'] = `Bearer ${options.token}`;
  let body: string | undefined;
  if (options.body !== undefined || options.raw !== undefined) {
    body = options.raw ?? JSON.stringify(options.body);
    headers['Content-Type'] = options.contentType ?? 'application/json';
  }
  const response = await fetch(api.url + path, { method, headers, ...(body === undefined ? {} : { body }) });
  const text = await response.text();
  let parsed: Answer['body'] = {};
  if (response.headers.get('content-type')?.startsWith('application/json')) parsed = JSON.parse(text) as Answer['body'];
  return { status: response.status, headers: response.headers, body: parsed, text };
}

/** Sends raw bytes on a fresh connection and collects everything the server sends back until it closes. */
function rawExchange(port: number, chunks: readonly string[], options: { gapMs?: number; timeoutMs?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no close within ${options.timeoutMs ?? 5000} ms; got ${JSON.stringify(received.slice(0, 200))}`));
    }, options.timeoutMs ?? 5000);
    socket.setEncoding('utf8');
    socket.on('data', (data: string) => (received += data));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(received);
    });
    socket.on('connect', async () => {
      for (const chunk of chunks) {
        if (socket.destroyed) return;
        socket.write(chunk);
        await new Promise((r) => setTimeout(r, options.gapMs ?? 0));
      }
    });
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'galaxy-api-'));
  tokens = TokenStore.open(join(dir, 'tokens.json'));
  expect(tokens.bootstrap(join(dir, 'admin.token'))).toBe(true);
  admin = readFileSync(join(dir, 'admin.token'), 'utf8').trim();
  operator = tokens.create('ops', 'operator').token;
  viewer = tokens.create('dashboard', 'viewer').token;
  farm = new MemoryFarm();
  logger = new RecordingLogger();
  api = await ApiServer.start({ backend: farm, tokens, bind: '127.0.0.1:0', limits: { bodyBytesMax: kBodyBytesMax }, logger });
});

afterAll(async () => {
  await api?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('ApiServer: authentication and roles', () => {
  it('serves /v1/health without a token, on loopback', async () => {
    expect(api.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(api.address).toMatchObject({ host: '127.0.0.1', family: 4 });
    const answer = await call('GET', '/v1/health');
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ ok: true });
    expect(answer.headers.get('cache-control')).toBe('no-store');
  });

  it('answers 401 without a token or with an invalid one, and counts each', async () => {
    const before = api.counters.authFailures;
    const none = await call('GET', '/v1/node');
    expect(none.status).toBe(401);
    expect(none.body.error).toEqual({ code: 'GALAXY_API_UNAUTHORIZED', message: expect.stringMatching(/Authorization: Bearer/) });
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer realm="galaxy"/);
    const wrong = await call('GET', '/v1/node', { token: `gxt_${'A'.repeat(43)}` });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toContain('invalid_token');
    const basic = await call('GET', '/v1/node', { headers: { Authorization: `Basic ${Buffer.from('admin:admin').toString('base64')}` } });
    expect(basic.status).toBe(401);
    const empty = await call('GET', '/v1/node', { headers: { Authorization: 'Bearer ' } });
    expect(empty.status).toBe(401);
    expect(api.counters.authFailures).toBe(before + 4);
    expect(farm.calls.some((c) => c.method === 'node')).toBe(false);
  });

  it('lets a viewer read everything but tokens, and change nothing', async () => {
    for (const path of ['/v1/node', '/v1/members', '/v1/nodes', '/v1/keys', '/v1/components', '/v1/values', '/metrics']) {
      expect((await call('GET', path, { token: viewer })).status, path).toBe(200);
    }
    const refused: Array<[string, string, unknown]> = [
      ['GET', '/v1/tokens', undefined],
      ['POST', '/v1/tokens', { name: 'mine', role: 'admin' }],
      ['DELETE', '/v1/tokens/ops', undefined],
      ['POST', `/v1/nodes/${kPendingId}/approve`, {}],
      ['POST', `/v1/nodes/${kPendingId}/reject`, {}],
      ['POST', `/v1/nodes/${kApprovedId}/revoke`, {}],
      ['POST', '/v1/keys/install', { key: kKey2 }],
      ['PUT', '/v1/components/measurement/config', { intervalMs: 1000 }],
      ['POST', '/v1/components/measurement/restart', {}],
    ];
    const calls = farm.calls.length;
    for (const [method, path, body] of refused) {
      const answer = await call(method, path, { token: viewer, body });
      expect(answer.status, `${method} ${path}`).toBe(403);
      expect(answer.body.error?.code).toBe('GALAXY_API_FORBIDDEN');
      expect(answer.body.error?.message).toMatch(/token "dashboard" has role viewer; this needs (operator|admin)/);
    }
    expect(farm.calls.slice(calls).filter((c) => c.method !== 'values')).toEqual([]);
  });

  it('lets an operator configure and restart components, with its name as `by`, but not decide admissions or manage tokens', async () => {
    const configured = await call('PUT', '/v1/components/measurement/config', { token: operator, body: { intervalMs: 1000, paths: ['/'] } });
    expect(configured.status).toBe(200);
    expect(configured.body['config']).toEqual({ intervalMs: 1000, paths: ['/'] });
    expect(farm.calls.at(-1)).toEqual({ method: 'configureComponent', args: ['measurement', { intervalMs: 1000, paths: ['/'] }, 'ops'] });
    const restarted = await call('POST', '/v1/components/measurement/restart', { token: operator });
    expect(restarted.status).toBe(200);
    expect(restarted.body['restarts']).toBe(1);
    expect(farm.calls.at(-1)).toEqual({ method: 'restartComponent', args: ['measurement', 'ops'] });
    for (const [method, path, body] of [
      ['POST', `/v1/nodes/${kPendingId}/approve`, {}],
      ['POST', '/v1/keys/use', { key: kKey1 }],
      ['POST', '/v1/tokens', { name: 'more', role: 'viewer' }],
      ['GET', '/v1/tokens', undefined],
    ] as const) {
      expect((await call(method, path, { token: operator, body })).status, `${method} ${path}`).toBe(403);
    }
  });

  it('lets an admin decide admissions, rotate keys and manage tokens, as `by` admin', async () => {
    const approved = await call('POST', `/v1/nodes/${kPendingId}/approve`, { token: admin, body: { roles: ['worker', 'storage'] } });
    expect(approved.status).toBe(200);
    expect(approved.body).toMatchObject({ id: kPendingId, status: 'approved', roles: ['worker', 'storage'], decidedBy: 'admin' });
    expect(farm.calls.at(-1)).toEqual({ method: 'approve', args: [kPendingId, ['worker', 'storage'], 'admin'] });
    expect((await call('GET', '/v1/nodes?status=pending', { token: viewer })).body).toEqual([]);
    expect(((await call('GET', '/v1/nodes?status=approved', { token: viewer })).body as unknown as AdmissionRecord[]).map((r) => r.id).sort()).toEqual([kPendingId, kApprovedId].sort());

    const revoked = await call('POST', `/v1/nodes/${kApprovedId}/revoke`, { token: admin });
    expect(revoked.body).toMatchObject({ status: 'revoked', decidedBy: 'admin' });

    // use and remove take the key or the fingerprint GET /v1/keys shows; install only the key.
    const fingerprint = (key: string) => createHash('sha256').update(Buffer.from(key, 'base64')).digest('hex').slice(0, 16);
    expect((await call('POST', '/v1/keys/install', { token: admin, body: { key: fingerprint(kKey2) } })).status).toBe(400);
    for (const [op, key] of [['install', kKey2], ['use', fingerprint(kKey2)], ['remove', fingerprint(kKey1)]] as const) {
      const answer = await call('POST', `/v1/keys/${op}`, { token: admin, body: { key } });
      expect(answer.status, op).toBe(200);
    }
    expect((await call('POST', '/v1/keys/remove', { token: admin, body: { key: 'ABCDEF0123456789' } })).body.error?.message).toMatch(/or its fingerprint/);
    expect((await call('GET', '/v1/keys', { token: viewer })).body).toEqual(farm.keys());
    expect(farm.keys()).toHaveLength(1);

    const created = await call('POST', '/v1/tokens', { token: admin, body: { name: 'grafana', role: 'viewer' } });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({ name: 'grafana', role: 'viewer', token: expect.stringMatching(/^gxt_/) });
    const grafana = created.body['token'] as string;
    expect((await call('GET', '/v1/members', { token: grafana })).status).toBe(200);
    const listed = await call('GET', '/v1/tokens', { token: admin });
    expect((listed.body as unknown as Array<{ name: string }>).map((t) => t.name)).toEqual(['admin', 'dashboard', 'grafana', 'ops']);
    expect(listed.text).not.toContain('gxt_');
    expect(readFileSync(join(dir, 'tokens.json'), 'utf8')).not.toContain(grafana);

    expect((await call('POST', '/v1/tokens', { token: admin, body: { name: 'grafana', role: 'admin' } })).body.error?.code).toBe('GALAXY_TOKEN_NAME_TAKEN');
    const removed = await call('DELETE', '/v1/tokens/grafana', { token: admin });
    expect(removed.status).toBe(204);
    expect((await call('GET', '/v1/members', { token: grafana })).status).toBe(401);
    expect((await call('DELETE', '/v1/tokens/grafana', { token: admin })).status).toBe(404);
    const lastAdmin = await call('DELETE', '/v1/tokens/admin', { token: admin });
    expect(lastAdmin.status).toBe(409);
    expect(lastAdmin.body.error?.code).toBe('GALAXY_TOKEN_LAST_ADMIN');
  });
});

describe('ApiServer: validation', () => {
  it('refuses a bad node id with zod\'s message, but only after authentication', async () => {
    const bad = await call('POST', '/v1/nodes/not-a-node/approve', { token: admin, body: {} });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toEqual({ code: 'GALAXY_API_INVALID', message: 'path.id: a node id is 16 lowercase hex digits' });
    expect((await call('POST', '/v1/nodes/00000000000000A1/reject', { token: admin })).status).toBe(400);
    expect((await call('POST', '/v1/nodes/not-a-node/approve', { body: {} })).status).toBe(401);
  });

  it('refuses bad queries: a wrong value, an unknown parameter, a repeated one', async () => {
    const status = await call('GET', '/v1/nodes?status=maybe', { token: viewer });
    expect(status.status).toBe(400);
    expect(status.body.error?.message).toMatch(/^query\.status: Invalid enum value\. Expected 'pending' \| 'approved' \| 'rejected' \| 'revoked', received 'maybe'/);
    expect((await call('GET', '/v1/nodes?statuss=pending', { token: viewer })).body.error?.message).toMatch(/Unrecognized key\(s\) in object: 'statuss'/);
    expect((await call('GET', '/v1/nodes?status=pending&status=approved', { token: viewer })).body.error?.message).toMatch(/query\.status: Expected .*received array/);
    expect((await call('GET', '/v1/values?node=xyz', { token: viewer })).body.error?.message).toBe('query.node: a node id is 16 lowercase hex digits');
    const one = await call('GET', '/v1/values?node=00000000000000ff', { token: viewer });
    expect(one.status).toBe(200);
    expect(farm.calls.at(-1)).toEqual({ method: 'values', args: ['00000000000000ff'] });
  });

  it('refuses bodies of the wrong shape, naming the field', async () => {
    const roles = await call('POST', `/v1/nodes/${kPendingId}/approve`, { token: admin, body: { roles: 'worker' } });
    expect(roles.status).toBe(400);
    expect(roles.body.error).toEqual({ code: 'GALAXY_API_INVALID', message: 'body.roles: Expected array, received string' });
    expect((await call('POST', `/v1/nodes/${kPendingId}/approve`, { token: admin, body: { roles: ['Not A Role'] } })).body.error?.message).toMatch(/^body\.roles\.0: a role is/);
    expect((await call('POST', `/v1/nodes/${kPendingId}/approve`, { token: admin, body: { role: ['worker'] } })).body.error?.message).toMatch(/Unrecognized key\(s\) in object: 'role'/);
    expect((await call('POST', '/v1/keys/install', { token: admin, body: { key: Buffer.alloc(16).toString('base64') } })).body.error?.message).toMatch(/^body\.key: a key is 32 bytes/);
    expect((await call('POST', '/v1/keys/install', { token: admin, body: { key: 42 } })).body.error?.message).toBe('body.key: Expected string, received number');
    expect((await call('PUT', '/v1/components/measurement/config', { token: operator, body: [1, 2] })).body.error?.message).toBe('body: Expected object, received array');
    const tooMany = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, i]));
    expect((await call('PUT', '/v1/components/measurement/config', { token: operator, body: tooMany })).body.error?.message).toMatch(/at most 64 keys/);
    expect((await call('PUT', '/v1/components/measurement/config', { token: operator, raw: '{"__proto__": {"admin": true}}' })).body.error?.message).toMatch(/cannot be __proto__/);
    expect((await call('PUT', '/v1/components/Bad_Name/config', { token: operator, body: {} })).body.error?.message).toMatch(/^path\.name: a component name/);
    expect((await call('POST', '/v1/tokens', { token: admin, body: { name: 'x y', role: 'root' } })).body.error?.message).toMatch(/body\.name: .*; body\.role: Invalid enum value/);
    expect((await call('POST', '/v1/keys/install', { token: admin })).body.error?.code).toBe('GALAXY_API_BODY_MISSING');
  });

  it('refuses malformed JSON (400) and a body that is not JSON by content type (415), counting both', async () => {
    const before = api.counters.rejectedBodies;
    const malformed = await call('POST', '/v1/tokens', { token: admin, raw: '{"name": "x",' });
    expect(malformed.status).toBe(400);
    expect(malformed.body.error?.code).toBe('GALAXY_API_MALFORMED_JSON');
    expect(malformed.body.error?.message).toMatch(/^the request body is not valid JSON: /);
    const text = await call('POST', '/v1/tokens', { token: admin, raw: 'name=x&role=viewer', contentType: 'application/x-www-form-urlencoded' });
    expect(text.status).toBe(415);
    expect(text.body.error?.code).toBe('GALAXY_API_UNSUPPORTED_MEDIA_TYPE');
    expect((await call('POST', '/v1/tokens', { token: admin, raw: '{}', contentType: 'application/json; charset=latin1' })).status).toBe(415);
    expect((await call('POST', '/v1/tokens', { token: admin, body: { name: 'utf', role: 'viewer' }, contentType: 'application/json; charset=UTF-8' })).status).toBe(201);
    expect(api.counters.rejectedBodies).toBe(before + 3);
  });

  it('answers 413 to a body over the limit without reading it, and keeps serving', async () => {
    const port = api.address.port;
    const before = api.counters.rejectedBodies;
    const auth = `Authorization: Bearer ${admin}\r\n`;
    // Declared too large: refused from the Content-Length, before the body is sent.
    const declared = await rawExchange(port, [`POST /v1/tokens HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nContent-Length: 10000000\r\n\r\n{"name":`]);
    expect(declared).toMatch(/^HTTP\/1\.1 413 /);
    expect(declared).toContain('"code":"GALAXY_API_BODY_TOO_LARGE"');
    expect(declared.toLowerCase()).toContain('connection: close');
    // Chunked, with no length: refused once the bytes received pass the limit; the rest (an endless stream) is never read.
    const chunk = `${(1024).toString(16)}\r\n${'x'.repeat(1024)}\r\n`;
    const chunked = await rawExchange(port, [`PUT /v1/components/measurement/config HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`, ...Array<string>(64).fill(chunk)], { gapMs: 2 });
    expect(chunked).toMatch(/^HTTP\/1\.1 413 /);
    expect(api.counters.rejectedBodies).toBe(before + 2);
    expect((await call('GET', '/v1/health')).status).toBe(200);
    expect((await call('POST', '/v1/tokens', { token: admin, body: { name: 'after-413', role: 'viewer' } })).status).toBe(201);
  });

  it('answers 404 to an unknown route and 405 with Allow to a wrong method', async () => {
    for (const path of ['/v2/node', '/v1/node/', '/v1/keys/rotate', '/', '/v1/nodes/' + kPendingId]) {
      const answer = await call('GET', path, { token: admin });
      expect(answer.status, path).toBe(404);
      expect(answer.body.error?.code).toBe('GALAXY_API_NOT_FOUND');
    }
    const wrong = await call('DELETE', '/v1/node', { token: admin });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('GET');
    const install = await call('GET', '/v1/keys/install', { token: admin });
    expect(install.status).toBe(405);
    expect(install.headers.get('allow')).toBe('POST');
    expect((await call('PATCH', '/v1/tokens', { token: admin })).headers.get('allow')).toBe('GET, POST');
    expect((await call('GET', '/v1/tokens/%E0%A4%A', { token: admin })).body.error?.code).toBe('GALAXY_API_BAD_PATH');
  });

  it('keeps a backend ApiError\'s status and code, and hides anything else behind a logged 500', async () => {
    const unknown = await call('POST', '/v1/nodes/0000000000000fff/approve', { token: admin });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toEqual({ code: 'GALAXY_ADMISSION_UNKNOWN', message: 'no node 0000000000000fff asked to join' });
    const decided = await call('POST', `/v1/nodes/${kPendingId}/reject`, { token: admin });
    expect(decided.status).toBe(409);
    expect(decided.body.error?.code).toBe('GALAXY_ADMISSION_DECIDED');

    const before = api.counters.requests['5xx'];
    farm.failNext = new Error('database password is hunter2');
    const crashed = await call('GET', '/v1/node', { token: viewer });
    expect(crashed.status).toBe(500);
    expect(crashed.body.error).toEqual({ code: 'GALAXY_API_INTERNAL', message: 'internal error; the agent log has the details' });
    expect(crashed.text).not.toContain('hunter2');
    expect(logger.errors.at(-1)).toMatchObject({ object: { caller: 'dashboard', url: '/v1/node' }, message: 'API request failed' });
    expect(api.counters.requests['5xx']).toBe(before + 1);

    farm.failNext = new ApiError(200, 'NOT_AN_ERROR', 'a backend may not pick a success status for a failure');
    expect((await call('GET', '/v1/members', { token: viewer })).status).toBe(500);
  });
});

describe('ApiServer: /metrics', () => {
  it('serves the backend\'s families and its own counters as Prometheus text', async () => {
    const answer = await call('GET', '/metrics', { token: viewer });
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const families = parsePrometheusTextFormat(answer.text);
    const byName = new Map(families.map((family) => [family.name, family]));
    expect(byName.get('galaxy_members')?.metrics).toEqual([{ labels: { status: 'alive' }, value: '1' }, { labels: { status: 'dead' }, value: '0' }]);
    expect(byName.get('galaxy_component_info')?.metrics[0]?.labels).toEqual({ name: 'measurement', note: 'a "quoted"\\path\nline' });
    expect(byName.get('galaxy_probe_rtt_seconds')?.metrics[0]?.value).toBe('NaN');

    const requests = byName.get('galaxy_api_requests_total')!;
    expect(requests.type).toBe('COUNTER');
    expect(requests.metrics.map((m) => m.labels?.['code'])).toEqual(['1xx', '2xx', '3xx', '4xx', '5xx']);
    const served = Object.fromEntries(requests.metrics.map((m) => [m.labels!['code'], Number(m.value)]));
    // The scrape itself is counted after it is written.
    expect(served).toEqual({ ...api.counters.requests, '2xx': api.counters.requests['2xx'] - 1 });
    expect(served['4xx']).toBeGreaterThan(10);
    expect(Number(byName.get('galaxy_api_auth_failures_total')?.metrics[0]?.value)).toBe(api.counters.authFailures);
    expect(byName.get('galaxy_api_websocket_clients')?.type).toBe('GAUGE');
    for (const name of ['galaxy_api_rejected_bodies_total', 'galaxy_api_connections_rejected_total', 'galaxy_api_client_errors_total', 'galaxy_api_websocket_dropped_total']) expect(byName.has(name), name).toBe(true);
  });
});

/** Opens an event-stream WebSocket; resolves once open, or with the HTTP status of a refused upgrade. */
function openStream(url: string, token: string | undefined, query = ''): Promise<{ socket: WebSocket; messages: ApiEvent[] } | { refused: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`${url.replace(/^http/, 'ws')}/v1/events${query}`, token === undefined ? {} : { headers: { Authorization: `Bearer ${token}` } });
    const messages: ApiEvent[] = [];
    socket.on('message', (data) => messages.push(JSON.parse(String(data)) as ApiEvent));
    socket.once('open', () => resolve({ socket, messages }));
    socket.once('unexpected-response', (_request, response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      response.on('end', () => resolve({ refused: response.statusCode ?? 0, body }));
    });
    socket.once('error', reject);
  });
}

function closed(socket: WebSocket): Promise<number> {
  return new Promise((resolve) => {
    if (socket.readyState === WebSocket.CLOSED) return resolve(-1);
    socket.once('close', (code) => resolve(code));
  });
}

const event = (kind: string, type: string, body: Record<string, unknown> = {}): ApiEvent => ({ kind, type, time: '2025-01-01T00:00:00.000Z', body });

describe('ApiServer: event stream', () => {
  it('sends each backend event as one JSON message, filtered by kind, and unsubscribes when the last client leaves', async () => {
    const all = await openStream(api.url, viewer);
    const some = await openStream(api.url, admin, '?kind=membership,component');
    if (!('socket' in all) || !('socket' in some)) throw new Error('upgrade refused');
    expect(api.counters.webSocketClients).toBe(2);
    expect(farm.listenerCount).toBe(1);
    const events = [event('membership', 'join', { id: 'a' }), event('keyring', 'rotated'), event('component', 'crashed', { name: 'measurement', 'ünï': 'cøde' }), event('admission', 'approved')];
    for (const e of events) farm.emit(e);
    await until(() => all.messages.length === 4 && some.messages.length === 2);
    expect(all.messages).toEqual(events);
    expect(some.messages).toEqual([events[0], events[2]]);
    all.socket.close();
    some.socket.close();
    await Promise.all([closed(all.socket), closed(some.socket)]);
    await until(() => api.counters.webSocketClients === 0);
    expect(farm.listenerCount).toBe(0);
  });

  it('refuses unauthenticated upgrades (401, counted), bad filters (400), and a plain GET (426)', async () => {
    const before = api.counters.authFailures;
    const anonymous = await openStream(api.url, undefined);
    expect(anonymous).toMatchObject({ refused: 401 });
    expect(JSON.parse((anonymous as { body: string }).body)).toMatchObject({ error: { code: 'GALAXY_API_UNAUTHORIZED' } });
    expect(await openStream(api.url, 'gxt_nope')).toMatchObject({ refused: 401 });
    expect(api.counters.authFailures).toBe(before + 2);
    const badKind = await openStream(api.url, viewer, '?kind=Membership');
    expect(badKind).toMatchObject({ refused: 400 });
    expect((badKind as { body: string }).body).toContain('query.kind.0: an event kind is');
    expect(await openStream(api.url, viewer, '?kind=')).toMatchObject({ refused: 400 });
    const plain = await call('GET', '/v1/events', { token: viewer });
    expect(plain.status).toBe(426);
    expect(plain.headers.get('upgrade')).toBe('websocket');
    expect(api.counters.webSocketClients).toBe(0);
  });
});

describe('ApiServer: limits', () => {
  let limited: ApiServer;
  let limitedLogger: RecordingLogger;
  const limitedFarm = new MemoryFarm();

  beforeAll(async () => {
    limitedLogger = new RecordingLogger();
    limited = await ApiServer.start({
      backend: limitedFarm,
      tokens,
      bind: '127.0.0.1:0',
      limits: { connectionsMax: 3, webSocketClientsMax: 1, webSocketBufferedBytesMax: 64 * 1024, requestTimeoutMs: 400, headersTimeoutMs: 200 },
      logger: limitedLogger,
    });
  });

  afterAll(async () => {
    await limited?.close();
  });

  it('disconnects and counts an event-stream client that reads too slowly, and refuses one over the client limit', async () => {
    const slow = await openStream(limited.url, viewer);
    if (!('socket' in slow)) throw new Error('upgrade refused');
    expect(await openStream(limited.url, viewer)).toMatchObject({ refused: 503 });
    // Stop reading: what the server sends piles up in the kernel, then in its own buffer.
    const raw = (slow.socket as unknown as { _socket: Socket })._socket;
    raw.pause();
    const filler = 'x'.repeat(16 * 1024);
    for (let i = 0; i < 4000 && limited.counters.webSocketDropped === 0; i++) {
      limitedFarm.emit(event('membership', 'update', { i, filler }));
      if (i % 16 === 15) await new Promise((resolve) => setImmediate(resolve));
    }
    expect(limited.counters.webSocketDropped).toBe(1);
    expect(limited.counters.webSocketClients).toBe(0);
    expect(limitedFarm.listenerCount).toBe(0);
    expect(limitedLogger.warnings.at(-1)?.message).toMatch(/reads too slowly/);
    raw.resume();
    await closed(slow.socket);
    // The slot is free again.
    const next = await openStream(limited.url, viewer);
    if (!('socket' in next)) throw new Error('upgrade refused after the drop');
    limitedFarm.emit(event('membership', 'join'));
    await until(() => next.messages.length === 1);
    next.socket.close();
    await closed(next.socket);
  });

  it('closes connections beyond connectionsMax at accept, counts them, and serves again once some close', async () => {
    await until(() => limited.counters.webSocketClients === 0);
    const open: Socket[] = [];
    const request = `GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n`;
    for (let i = 0; i < 3; i++) {
      const socket = connect(limited.address.port, '127.0.0.1');
      socket.setEncoding('utf8');
      // Each answers once, so the server has surely accepted it before the next connects.
      const answered = new Promise<string>((resolve, reject) => {
        socket.once('data', (data: string) => resolve(data));
        socket.once('error', reject);
      });
      socket.write(request);
      expect(await answered).toMatch(/^HTTP\/1\.1 200 /);
      open.push(socket);
    }
    const before = limited.counters.connectionsRejected;
    const refused = await rawExchange(limited.address.port, [request], { timeoutMs: 3000 });
    expect(refused).toBe('');
    expect(limited.counters.connectionsRejected).toBe(before + 1);
    for (const socket of open) socket.destroy();
    let status = 0;
    for (let attempt = 0; attempt < 50 && status !== 200; attempt++) {
      status = await fetch(`${limited.url}/v1/health`).then(
        (r) => r.status,
        () => 0,
      );
      if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(status).toBe(200);
  });

  it('closes a connection whose headers do not arrive within headersTimeoutMs, and counts it', async () => {
    const before = limited.counters.clientErrors.timeout;
    const started = Date.now();
    const answer = await rawExchange(limited.address.port, ['GET /v1/health HTTP/1.1\r\nHost: x\r\n'], { timeoutMs: 5000 });
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(Date.now() - started).toBeLessThan(4000);
    expect(limited.counters.clientErrors.timeout).toBe(before + 1);
  });

  it('answers 400 to bytes that are not HTTP, counts them as malformed, and keeps serving', async () => {
    const before = limited.counters.clientErrors.malformed;
    const answer = await rawExchange(limited.address.port, ['\x00\x01GXA1 not a request line\r\n\r\n'], { timeoutMs: 3000 });
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(limited.counters.clientErrors.malformed).toBe(before + 1);
    const text = await (await fetch(`${limited.url}/metrics`, { headers: { Authorization: `Bearer ${viewer}` } })).text();
    expect(text).toContain(`galaxy_api_client_errors_total{reason="malformed"} ${before + 1}`);
    expect((await fetch(`${limited.url}/v1/health`)).status).toBe(200);
  });
});

describe('ApiServer: start and close', () => {
  it('refuses a non-loopback bind unless allowRemote, and bad limits, with coded errors', async () => {
    await expect(ApiServer.start({ backend: farm, tokens, bind: '0.0.0.0:0' })).rejects.toMatchObject({ code: 'GALAXY_API_BIND_REMOTE', message: expect.stringMatching(/not a loopback address.*allowRemote: true/) });
    await expect(ApiServer.start({ backend: farm, tokens, bind: '192.0.2.1:7600' })).rejects.toMatchObject({ code: 'GALAXY_API_BIND_REMOTE' });
    await expect(ApiServer.start({ backend: farm, tokens, bind: 'localhost:port' })).rejects.toMatchObject({ code: 'GALAXY_API_BIND_INVALID' });
    await expect(ApiServer.start({ backend: farm, tokens, bind: '127.0.0.1:0', limits: { bodyBytesMax: 0 } })).rejects.toMatchObject({ code: 'GALAXY_API_LIMIT_INVALID', message: expect.stringMatching(/^limits\.bodyBytesMax must be an integer/) });
    await expect(ApiServer.start({ backend: farm, tokens, bind: '127.0.0.1:0', limits: { connectionsMax: 10, webSocketClientsMax: 10 } })).rejects.toMatchObject({ code: 'GALAXY_API_LIMIT_INVALID' });
    await expect(ApiServer.start({ backend: farm, tokens, bind: '127.0.0.1:0', limits: { requestTimeoutMs: 100, headersTimeoutMs: 200 } })).rejects.toMatchObject({ code: 'GALAXY_API_LIMIT_INVALID' });
    await expect(ApiServer.start({ backend: farm, tokens, bind: '127.0.0.1:0', limits: { bodyBytes: 1 } as never })).rejects.toMatchObject({ code: 'GALAXY_API_LIMIT_INVALID', message: expect.stringMatching(/limits\.bodyBytes is not a limit/) });
  });

  it('binds 127.0.0.0/8 addresses other than 127.0.0.1, and closes its event-stream clients on close', async () => {
    const other = await ApiServer.start({ backend: farm, tokens, bind: '127.0.0.2:0' });
    expect(other.url).toMatch(/^http:\/\/127\.0\.0\.2:\d+$/);
    const stream = await openStream(other.url, viewer);
    if (!('socket' in stream)) throw new Error('upgrade refused');
    const code = closed(stream.socket);
    await other.close();
    expect(await code).toBe(1001);
    await other.close();
    await expect(fetch(`${other.url}/v1/health`)).rejects.toThrow();
  });
});

describe('ApiServer: extra routes', () => {
  it('serves routes given at start through the same token, role and validation steps; a duplicate is refused before listening', async () => {
    const seen: Array<{ body: unknown; by: string }> = [];
    const routes = [
      route({ method: 'GET', pattern: '/v1/extra/ping', role: 'viewer', handle: () => ok({ pong: true }) }),
      route({
        method: 'POST',
        pattern: '/v1/extra/echo',
        role: 'operator',
        body: z.object({ text: z.string().max(8) }).strict(),
        handle: ({ body, caller }) => {
          seen.push({ body, by: by(caller) });
          return { status: 201, json: body };
        },
      }),
    ];
    const extra = await ApiServer.start({ backend: farm, tokens, bind: '127.0.0.1:0', routes });
    try {
      const send = (method: string, path: string, token?: string, body?: unknown) =>
        fetch(`${extra.url}${path}`, { method, headers: { ...(token === undefined ? {} : { authorization: `Bearer ${token}` }), ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
      expect((await send('GET', '/v1/extra/ping')).status).toBe(401);
      expect(await (await send('GET', '/v1/extra/ping', viewer)).json()).toEqual({ pong: true });
      expect((await send('POST', '/v1/extra/echo', viewer, { text: 'hi' })).status).toBe(403);
      const bad = await send('POST', '/v1/extra/echo', operator, { text: 'far too long' });
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { error: { message: string } }).error.message).toMatch(/text/);
      expect((await send('POST', '/v1/extra/echo', operator, { text: 'hi' })).status).toBe(201);
      expect(seen).toEqual([{ body: { text: 'hi' }, by: 'ops' }]);
      // The built-in routes are still there.
      expect((await send('GET', '/v1/node', viewer)).status).toBe(200);
    } finally {
      await extra.close();
    }
    await expect(ApiServer.start({ backend: farm, tokens, bind: '127.0.0.1:0', routes: [...routes, routes[0]!] })).rejects.toThrow(/GET \/v1\/extra\/ping is defined twice/);
    await expect(ApiServer.start({ backend: farm, tokens, bind: '127.0.0.1:0', routes: [route({ method: 'GET', pattern: '/v1/node', role: null, handle: () => ok({}) })] })).rejects.toThrow(/GET \/v1\/node is defined twice/);
  });

  it('reads bodies up to 256 KiB by default (a remote script), and refuses larger ones with 413', async () => {
    expect(kApiLimitsDefault.bodyBytesMax).toBe(256 * 1024);
    const routes = [route({ method: 'POST', pattern: '/v1/extra/blob', role: 'operator', body: z.object({ text: z.string() }).strict(), handle: ({ body }) => ok({ length: body.text.length }) })];
    const extra = await ApiServer.start({ backend: farm, tokens, bind: '127.0.0.1:0', routes });
    try {
      const post = (text: string) => fetch(`${extra.url}/v1/extra/blob`, { method: 'POST', headers: { authorization: `Bearer ${operator}`, 'content-type': 'application/json' }, body: JSON.stringify({ text }) });
      const fits = await post('x'.repeat(200 * 1024));
      expect(fits.status).toBe(200);
      expect(await fits.json()).toEqual({ length: 200 * 1024 });
      expect((await post('x'.repeat(257 * 1024))).status).toBe(413);
    } finally {
      await extra.close();
    }
  });
});
