// Proves the API's TLS and bind rules (issue 16, item 5). In process: a self-signed
// certificate made with node:crypto alone parses, carries its subjectAltNames and serves
// a real TLS handshake; ApiServer with it answers HTTPS and WSS; ApiClient pinned to its
// fingerprint works, pinned to another fingerprint is refused with
// GALAXY_API_FINGERPRINT_MISMATCH before the request leaves (the server counts no
// request: the token never crossed), and unpinned it fails with a hint naming
// --api-fingerprint; ApiClient.openStream (galaxy channel listen's WebSocket) likewise,
// the upgrade request and its token never written to a mismatched certificate. ApiServer refuses a non-loopback bind in plain HTTP and accepts it
// with TLS. The `galaxy agent` rules: a non-loopback --api without TLS is a usage error
// unless --api-insecure, and the TLS flags are checked for conflicts. End to end: a real
// `galaxy agent --api-tls self-signed` prints its fingerprint; `galaxy node` with that
// fingerprint works, with a wrong one exits non-zero with the mismatch message, with the
// agent's data directory it pins by itself; a restart keeps the certificate (same pin);
// an agent serving the operator's own certificate files on 0.0.0.0 is reached by a
// pinned CLI; `galaxy agent --api 0.0.0.0:PORT` without TLS exits 2 with the refusal.
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ApiServer } from '../src/ops/api/api-server.js';
import { TokenStore } from '../src/ops/api/token-store.js';
import { createSelfSignedCertificate, derInteger } from '../src/ops/api/self-signed-certificate.js';
import { agentInvocation, type AgentFlags } from '../src/ops/agent/agent-command.js';
import { loadApiTls } from '../src/ops/agent/config/api-tls-files.js';
import { ApiClient, ApiClientError } from '../src/surface/client/api-client.js';
import { certificateFingerprint, parseFingerprint } from '../src/surface/client/certificate-fingerprint.js';
import { MemoryFarm } from './api-memory-farm.js';
import { freePort, killAllAgents, spawnAgent, until, type Agent } from './support/agents.js';
import { galaxy } from './support/farm-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'galaxy-api-tls-'));
const kNowMs = Date.parse('2026-12-07T04:00:00Z');
const servers: ApiServer[] = [];

afterAll(async () => {
  killAllAgents();
  await Promise.all(servers.map((s) => s.close()));
});

async function tlsServer(bind = '127.0.0.1:0'): Promise<{ api: ApiServer; token: string; cert: string }> {
  const made = createSelfSignedCertificate({ commonName: 'test', altNames: ['localhost', '127.0.0.1'], nowMs: kNowMs });
  const tokens = TokenStore.open(join(mkdtempSync(join(dir, 'tokens-')), 'tokens.json'));
  const api = await ApiServer.start({ backend: new MemoryFarm(), tokens, bind, tls: made });
  servers.push(api);
  return { api, token: tokens.create('ops', 'admin').token, cert: made.cert };
}

async function failure(promise: Promise<unknown>): Promise<ApiClientError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ApiClientError);
    return error as ApiClientError;
  }
  throw new Error('expected an ApiClientError');
}

describe('the self-signed certificate', () => {
  it('writes its serial as a minimal DER INTEGER (a random serial starting 00 then a byte below 80 was refused: "illegal padding")', () => {
    const hex = (bytes: number[]) => derInteger(Buffer.from(bytes)).toString('hex');
    expect(hex([0x00, 0x12, 0x34])).toBe('02021234');
    expect(hex([0x00, 0x00, 0x7f])).toBe('02017f');
    expect(hex([0x00, 0x80])).toBe('02020080');
    expect(hex([0x00, 0x00, 0x80])).toBe('02020080');
    expect(hex([0x80, 0x01])).toBe('0203008001');
    expect(hex([0x02])).toBe('020102');
    expect(hex([0x00])).toBe('020100');
    expect(hex([0x00, 0x00])).toBe('020100');
  });

  it('is an X.509 v3 certificate with its names, dates and key, trusted by TLS when given as the CA', async () => {
    const made = createSelfSignedCertificate({ commonName: 'galaxy-agent h1', altNames: ['localhost', 'h1.example', '127.0.0.1', '::1', 'fd00::7'], nowMs: kNowMs });
    const cert = new X509Certificate(made.cert);
    expect(cert.subject).toBe('CN=galaxy-agent h1');
    expect(cert.issuer).toBe(cert.subject);
    expect(cert.subjectAltName).toBe('DNS:localhost, DNS:h1.example, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, IP Address:FD00:0:0:0:0:0:0:7');
    expect(Date.parse(cert.validFrom)).toBe(kNowMs - 3_600_000);
    expect(Date.parse(cert.validTo)).toBe(kNowMs + 3650 * 86_400_000);
    expect(cert.ca).toBe(false);
    expect(cert.checkPrivateKey((await import('node:crypto')).createPrivateKey(made.key))).toBe(true);
    expect(certificateFingerprint(made.cert)).toMatch(/^SHA256:([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    // Full chain and host-name verification, as a CA-trusting client does it.
    const { api } = await tlsServerWith(made);
    const status = await new Promise<number>((resolve, reject) => {
      request(`${api.url}/v1/health`, { ca: made.cert }, (response) => {
        response.resume();
        resolve(response.statusCode!);
      }).on('error', reject).end();
    });
    expect(status).toBe(200);
  });

  it('fingerprints parse in every form an operator may paste, and nothing else does', () => {
    const canonical = `SHA256:${'AB:'.repeat(31)}CD`;
    expect(parseFingerprint(canonical)).toBe(canonical);
    expect(parseFingerprint(canonical.toLowerCase())).toBe(canonical);
    expect(parseFingerprint(canonical.slice(7).replace(/:/g, ''))).toBe(canonical);
    expect(parseFingerprint('SHA256:abcd')).toBeNull();
    expect(parseFingerprint(`SHA256:${'ZZ:'.repeat(31)}CD`)).toBeNull();
  });
});

async function tlsServerWith(made: { cert: string; key: string }): Promise<{ api: ApiServer }> {
  const tokens = TokenStore.open(join(mkdtempSync(join(dir, 'tokens-')), 'tokens.json'));
  const api = await ApiServer.start({ backend: new MemoryFarm(), tokens, bind: '127.0.0.1:0', tls: made });
  servers.push(api);
  return { api };
}

describe('ApiServer over TLS and ApiClient pinning', () => {
  it('serves HTTPS to a client pinned to its fingerprint', async () => {
    const { api, token, cert } = await tlsServer();
    expect(api.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(api.fingerprint).toBe(certificateFingerprint(cert));
    const client = new ApiClient({ url: api.url, token, fingerprint: api.fingerprint!.toLowerCase() });
    expect(await client.get('/v1/node')).toMatchObject({ id: '00000000000000ff' });
    expect(await client.post('/v1/tokens', { name: 'v', role: 'viewer' })).toMatchObject({ token: expect.stringMatching(/^gxt_/) });
    expect(await client.get('/metrics')).toMatch(/galaxy_api_requests_total/);
    expect((await failure(client.get('/v1/nope'))).status).toBe(404);
  });

  it('refuses another fingerprint before the request (and its token) leaves', async () => {
    const { api, token } = await tlsServer();
    const wrong = `SHA256:${'00:'.repeat(31)}00`;
    const error = await failure(new ApiClient({ url: api.url, token, fingerprint: wrong }).get('/v1/node'));
    expect(error.code).toBe('GALAXY_API_FINGERPRINT_MISMATCH');
    expect(error.message).toContain(`presented a certificate with fingerprint ${api.fingerprint}, not the pinned ${wrong}`);
    expect(Object.values(api.counters.requests).reduce((a, b) => a + b, 0)).toBe(0);
  });

  it('unpinned, a self-signed certificate fails with a hint to pin it; a pin on http is refused', async () => {
    const { api, token } = await tlsServer();
    const error = await failure(new ApiClient({ url: api.url, token }).get('/v1/node'));
    expect(error.code).toBe('GALAXY_API_UNREACHABLE');
    expect(error.message).toMatch(/pin it with --api-fingerprint/);
    expect(() => new ApiClient({ url: 'http://127.0.0.1:1', token, fingerprint: api.fingerprint! })).toThrow(/must be https/);
  });

  it('serves the event stream over WSS', async () => {
    const { api, token, cert } = await tlsServer();
    const socket = new WebSocket(`${api.url.replace('https', 'wss')}/v1/events`, { headers: { authorization: `Bearer ${token}` }, ca: cert });
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    socket.close();
  });

  it('opens a stream pinned to its fingerprint (ApiClient.openStream), refuses another pin before the upgrade leaves, and throws a refused upgrade as the server\'s error', async () => {
    const { api, token } = await tlsServer();
    const socket = await new ApiClient({ url: api.url, token, fingerprint: api.fingerprint! }).openStream('/v1/events', () => undefined);
    expect(socket.readyState).toBe(WebSocket.OPEN);
    socket.close();
    const before = Object.values(api.counters.requests).reduce((a, b) => a + b, 0);
    const wrong = `SHA256:${'00:'.repeat(31)}00`;
    const error = await failure(new ApiClient({ url: api.url, token, fingerprint: wrong }).openStream('/v1/events', () => undefined));
    expect(error.code).toBe('GALAXY_API_FINGERPRINT_MISMATCH');
    expect(error.message).toContain(`presented a certificate with fingerprint ${api.fingerprint}, not the pinned ${wrong}`);
    expect(Object.values(api.counters.requests).reduce((a, b) => a + b, 0)).toBe(before);
    const refused = await failure(new ApiClient({ url: api.url, token: 'gxt_wrong', fingerprint: api.fingerprint! }).openStream('/v1/events', () => undefined));
    expect(refused.status).toBe(401);
  });

  it('refuses a non-loopback bind in plain HTTP and accepts it with TLS', async () => {
    const tokens = TokenStore.open(join(mkdtempSync(join(dir, 'tokens-')), 'tokens.json'));
    await expect(ApiServer.start({ backend: new MemoryFarm(), tokens, bind: '0.0.0.0:0' })).rejects.toMatchObject({ code: 'GALAXY_API_BIND_REMOTE', message: expect.stringMatching(/--api-tls self-signed.*--api-insecure/) });
    const { api } = await tlsServer('0.0.0.0:0');
    expect(api.url).toMatch(/^https:\/\/0\.0\.0\.0:/);
  });
});

describe('galaxy agent API flags', () => {
  const base: AgentFlags = { bind: '127.0.0.1:7946', insecure: true, dataDir: dir };
  const invocation = (flags: AgentFlags, env: Record<string, string> = {}) => agentInvocation({ ...base, ...flags }, env);

  it('refuses a non-loopback API in plain HTTP unless --api-insecure, and allows it with TLS', () => {
    expect(() => invocation({ api: '0.0.0.0:7600' })).toThrow(/refusing to serve the API on 0\.0\.0\.0:7600 in plain HTTP.*--api-tls self-signed.*--api-insecure/);
    expect(() => invocation({ api: '192.0.2.10:7600' })).toThrow(/refusing/);
    expect(invocation({ api: '0.0.0.0:7600', apiInsecure: true }).farm).toMatchObject({ api: '0.0.0.0:7600', apiInsecure: true, apiTls: null });
    expect(invocation({ api: '0.0.0.0:7600' }, { GALAXY_API_INSECURE: '1' }).farm.apiInsecure).toBe(true);
    expect(invocation({ api: '0.0.0.0:7600', apiTls: 'self-signed' }).farm.apiTls).toEqual({ kind: 'self-signed' });
    expect(invocation({ api: '0.0.0.0:7600', apiTlsCert: 'c.pem', apiTlsKey: 'k.pem' }).farm.apiTls).toEqual({ kind: 'files', certFile: join(process.cwd(), 'c.pem'), keyFile: join(process.cwd(), 'k.pem') });
    expect(invocation({ api: '127.0.0.1:7600' }).farm).toMatchObject({ apiTls: null, apiInsecure: false });
  });

  it('checks the TLS flags against each other', () => {
    expect(() => invocation({ apiTls: 'yes' })).toThrow(/--api-tls takes "self-signed"/);
    expect(() => invocation({ apiTlsCert: 'c.pem' })).toThrow(/go together/);
    expect(() => invocation({ apiTls: 'self-signed', apiTlsCert: 'c.pem', apiTlsKey: 'k.pem' })).toThrow(/give one/);
    expect(() => invocation({ apiTls: 'self-signed', apiInsecure: true })).toThrow(/not needed/);
    expect(() => invocation({ api: 'off', apiTls: 'self-signed' })).toThrow(/the API is off/);
  });

  it('makes the self-signed certificate once, key readable by the owner only, and refuses a key that is not the certificate\'s', () => {
    const dataDir = mkdtempSync(join(dir, 'data-'));
    const first = loadApiTls({ kind: 'self-signed' }, dataDir, '10.1.2.3', kNowMs);
    expect(first.created).toBe(true);
    expect(new X509Certificate(first.cert).subjectAltName).toContain('IP Address:10.1.2.3');
    expect(statSync(join(dataDir, 'api-tls', 'key.pem')).mode & 0o077).toBe(0);
    const again = loadApiTls({ kind: 'self-signed' }, dataDir, '10.1.2.3', kNowMs);
    expect(again).toMatchObject({ created: false, cert: first.cert });
    const other = mkdtempSync(join(dir, 'data-'));
    loadApiTls({ kind: 'self-signed' }, other, null, kNowMs);
    expect(() => loadApiTls({ kind: 'files', certFile: join(dataDir, 'api-tls', 'cert.pem'), keyFile: join(other, 'api-tls', 'key.pem') }, dataDir, null)).toThrow(/is not the key of the certificate/);
    expect(() => loadApiTls({ kind: 'files', certFile: join(dataDir, 'nope.pem'), keyFile: join(other, 'api-tls', 'key.pem') }, dataDir, null)).toThrow(/--api-tls-cert .*nope\.pem: cannot read it/);
  });
});

describe('a real agent serving TLS, and the CLI pinning it', () => {
  const startedLine = (agent: Agent) => agent.lines.find((l) => l.event === 'started') as unknown as { api: string; apiFingerprint?: string } | undefined;

  it('works with the printed fingerprint, refuses a wrong one, pins by itself from the data directory, and keeps the certificate across a restart', async () => {
    const address = `127.0.0.1:${await freePort()}`;
    const apiPort = await freePort();
    const extra = ['--api', `127.0.0.1:${apiPort}`, '--api-tls', 'self-signed'];
    let agent = spawnAgent(address, [], extra);
    await until('the agent started', () => startedLine(agent) !== undefined, 30_000, [agent]);
    const { api: url, apiFingerprint } = startedLine(agent)!;
    expect(url).toBe(`https://127.0.0.1:${apiPort}`);
    expect(apiFingerprint).toMatch(/^SHA256:/);
    const dataDir = agent.child.spawnargs[agent.child.spawnargs.indexOf('--data-dir') + 1]!;
    const token = readFileSync(join(dataDir, 'admin.token'), 'utf8').trim();
    const ok = await galaxy(['node', '--api', url, '--token', token, '--api-fingerprint', apiFingerprint!, '--json']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ address });
    const wrong = await galaxy(['node', '--api', url, '--token', token, '--api-fingerprint', `SHA256:${'01:'.repeat(31)}01`]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/galaxy: the agent API at https:\/\/127\.0\.0\.1:\d+ presented a certificate with fingerprint SHA256:[0-9A-F:]+, not the pinned SHA256:01:01/);
    const unpinned = await galaxy(['node', '--api', url, '--token', token]);
    expect(unpinned.code).toBe(1);
    expect(unpinned.stderr).toMatch(/pin it with --api-fingerprint/);
    const local = await galaxy(['members', '--data-dir', dataDir]);
    expect(local.code, local.stderr).toBe(0);
    // A restart serves the same certificate: pins held by operators stay valid.
    agent.child.kill('SIGTERM');
    await new Promise((resolve) => agent.child.once('exit', resolve));
    agent = spawnAgent(address, [], extra);
    await until('the agent restarted', () => startedLine(agent) !== undefined, 30_000, [agent]);
    expect(startedLine(agent)!.apiFingerprint).toBe(apiFingerprint);
    agent.child.kill('SIGTERM');
  }, 90_000);

  it('serves the operator\'s own certificate files (--api-tls-cert/--api-tls-key) on every address, and the CLI pins it', async () => {
    const made = createSelfSignedCertificate({ commonName: 'ops-issued', altNames: ['127.0.0.1'], nowMs: Date.now() });
    const files = mkdtempSync(join(dir, 'pem-'));
    writeFileSync(join(files, 'api.crt'), made.cert);
    writeFileSync(join(files, 'api.key'), made.key, { mode: 0o600 });
    const apiPort = await freePort();
    const agent = spawnAgent(`127.0.0.1:${await freePort()}`, [], ['--api', `0.0.0.0:${apiPort}`, '--api-tls-cert', join(files, 'api.crt'), '--api-tls-key', join(files, 'api.key')]);
    await until('the agent started', () => startedLine(agent) !== undefined, 30_000, [agent]);
    expect(startedLine(agent)).toMatchObject({ api: `https://0.0.0.0:${apiPort}`, apiFingerprint: certificateFingerprint(made.cert) });
    const dataDir = agent.child.spawnargs[agent.child.spawnargs.indexOf('--data-dir') + 1]!;
    const token = readFileSync(join(dataDir, 'admin.token'), 'utf8').trim();
    const ok = await galaxy(['members', '--api', `https://127.0.0.1:${apiPort}`, '--token', token, '--api-fingerprint', certificateFingerprint(made.cert)]);
    expect(ok.code, ok.stderr).toBe(0);
    agent.child.kill('SIGTERM');
  }, 60_000);

  it('refuses --api on a non-loopback address without TLS, before starting', async () => {
    const run = await galaxy(['agent', '--bind', `127.0.0.1:${await freePort()}`, '--insecure', '--data-dir', mkdtempSync(join(dir, 'data-')), '--api', '0.0.0.0:7600']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/refusing to serve the API on 0\.0\.0\.0:7600 in plain HTTP/);
  });
});
