// Proves ApiClient against a real ApiServer on loopback (JSON results, 201 and 204,
// /metrics as text, the server's error code and message kept in ApiClientError) and
// against stand-in servers for what a real agent does not do: nothing listening (the
// "no agent API at URL: ECONNREFUSED ..." message), a server that never answers (the
// timeout), an error page that is not JSON, and an answer over the size bound.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient, ApiClientError } from '../src/surface/client/api-client.js';
import { ApiServer } from '../src/ops/api/api-server.js';
import { TokenStore } from '../src/ops/api/token-store.js';
import { kPendingId, MemoryFarm } from './api-memory-farm.js';

let dir: string;
let api: ApiServer;
let admin: ApiClient;
let viewer: ApiClient;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'galaxy-api-client-'));
  const tokens = TokenStore.open(join(dir, 'tokens.json'));
  tokens.bootstrap(join(dir, 'admin.token'));
  api = await ApiServer.start({ backend: new MemoryFarm(), tokens, bind: '127.0.0.1:0' });
  admin = new ApiClient({ url: `${api.url}/`, token: readFileSync(join(dir, 'admin.token'), 'utf8').trim() });
  viewer = new ApiClient({ url: api.url, token: tokens.create('viewer', 'viewer').token });
});

afterAll(async () => {
  await api?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function failure(promise: Promise<unknown>): Promise<ApiClientError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ApiClientError);
    return error as ApiClientError;
  }
  throw new Error('expected an ApiClientError');
}

function listen<S extends HttpServer | NetServer>(server: S): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
}

function close(server: HttpServer | NetServer): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

describe('ApiClient against the API', () => {
  it('gets, posts, puts and deletes JSON', async () => {
    expect(await viewer.get('/v1/node')).toMatchObject({ id: '00000000000000ff', admission: 'bootstrap' });
    expect(await admin.post(`/v1/nodes/${kPendingId}/approve`)).toMatchObject({ status: 'approved', decidedBy: 'admin' });
    expect(await admin.put('/v1/components/measurement/config', { intervalMs: 2000 })).toMatchObject({ config: { intervalMs: 2000 } });
    const created = (await admin.post('/v1/tokens', { name: 'temp', role: 'viewer' })) as { token: string };
    expect(created.token).toMatch(/^gxt_/);
    expect(await admin.delete('/v1/tokens/temp')).toBeUndefined();
    expect(await viewer.get('/metrics')).toEqual(expect.stringContaining('# TYPE galaxy_api_requests_total counter'));
  });

  it('throws the server\'s status, code and message', async () => {
    const forbidden = await failure(viewer.post(`/v1/nodes/${kPendingId}/reject`, {}));
    expect(forbidden).toMatchObject({ status: 403, code: 'GALAXY_API_FORBIDDEN', message: 'token "viewer" has role viewer; this needs admin' });
    const invalid = await failure(admin.post('/v1/keys/install', { key: 'short' }));
    expect(invalid).toMatchObject({ status: 400, code: 'GALAXY_API_INVALID' });
    expect(invalid.message).toMatch(/^body\.key: /);
    const unauthorized = await failure(new ApiClient({ url: api.url, token: 'gxt_wrong' }).get('/v1/node'));
    expect(unauthorized).toMatchObject({ status: 401, code: 'GALAXY_API_UNAUTHORIZED' });
    expect(await failure(admin.get('/v1/nothing'))).toMatchObject({ status: 404, code: 'GALAXY_API_NOT_FOUND' });
  });
});

describe('ApiClient failures below the API', () => {
  it('says plainly when no agent API listens at the URL', async () => {
    const placeholder = createNetServer();
    const port = await listen(placeholder);
    await close(placeholder);
    const error = await failure(new ApiClient({ url: `http://127.0.0.1:${port}`, token: 't' }).get('/v1/node'));
    expect(error.status).toBeUndefined();
    expect(error.code).toBe('GALAXY_API_UNREACHABLE');
    expect(error.message).toBe(`no agent API at http://127.0.0.1:${port}: ECONNREFUSED 127.0.0.1:${port}`);
  });

  it('times out on a server that accepts and never answers', async () => {
    const sockets: Socket[] = [];
    const silent = createNetServer((socket) => sockets.push(socket));
    const port = await listen(silent);
    try {
      const error = await failure(new ApiClient({ url: `http://127.0.0.1:${port}`, token: 't', timeoutMs: 200 }).get('/v1/node'));
      expect(error).toMatchObject({ status: undefined, code: 'GALAXY_API_TIMEOUT', message: `the agent API at http://127.0.0.1:${port} did not answer within 200 ms` });
    } finally {
      for (const socket of sockets) socket.destroy();
      await close(silent);
    }
  });

  it('reports an error page that is not JSON by its status, and bounds the answer it reads', async () => {
    const proxy = createHttpServer((request, response) => {
      if (request.url === '/big') {
        response.writeHead(200, { 'Content-Type': 'application/json' });
        response.end(JSON.stringify({ data: 'x'.repeat(4096) }));
        return;
      }
      response.writeHead(502, { 'Content-Type': 'text/html' });
      response.end('<html>Bad Gateway</html>');
    });
    const port = await listen(proxy);
    try {
      const client = new ApiClient({ url: `http://127.0.0.1:${port}`, token: 't', responseBytesMax: 1024 });
      expect(await failure(client.get('/v1/node'))).toMatchObject({ status: 502, code: 'GALAXY_API_HTTP_502', message: `HTTP 502 from http://127.0.0.1:${port}/v1/node` });
      expect(await failure(client.get('/big'))).toMatchObject({ status: 200, code: 'GALAXY_API_RESPONSE_TOO_LARGE' });
    } finally {
      proxy.closeAllConnections();
      await close(proxy);
    }
  });

  it('refuses a URL it cannot use', () => {
    for (const url of ['127.0.0.1:7600', 'ftp://127.0.0.1:7600', 'http://127.0.0.1:7600/?x=1', 'not a url']) {
      expect(() => new ApiClient({ url, token: 't' }), url).toThrow(ApiClientError);
    }
    expect(() => new ApiClient({ url: 'http://127.0.0.1:7600', token: 't', timeoutMs: 0 })).toThrow(/timeoutMs/);
  });
});
