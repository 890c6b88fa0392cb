// Proves the install routes and CLI pieces over a real FarmInstall (a real component
// host, one node): the routes' roles; adding a packed archive by path; installing
// through an operation that is followed by polling its events until 'done'; listing
// packages and installed components; removing; and the HTTP statuses and codes of the
// refusals (a relative path, a corrupted archive, an unknown component or operation, an
// invalid body). Requests go through the API's router and schema parsing as the server
// does them (the server itself is tested in api-server.test.ts). The CLI's `packages
// pack` runs through commander and writes an archive the store takes.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import { ApiError } from '../src/ops/api/api-error.js';
import { toApiError } from '../src/ops/api/api-response.js';
import { parseInput, queryObject, splitTarget } from '../src/ops/api/api-input.js';
import type { ApiReply } from '../src/surface/api/api-route.js';
import { ApiRouter } from '../src/ops/api/api-router.js';
import type { ApiRoute } from '../src/surface/api/api-route.js';
import type { InstallOperationView } from '../src/farm/install/install-backend.js';
import { installRoutes } from '../src/farm/install/install-routes.js';
import { describeOperationEvent, parsePackageSpec, registerInstallCommands } from '../src/farm/install/install-commands.js';
import { FarmRpc } from '../src/farm/service/farm-rpc.js';
import { FarmInstall } from '../src/farm/install/farm-install.js';
import { PackageStore } from '../src/farm/install/package-store.js';
import { packageRoot } from '../src/core/platform/package-root.js';
import { closeHosts, testHost } from './support/components.js';

const root = mkdtempSync(join(tmpdir(), 'galaxy-install-api-'));
afterAll(async () => {
  await closeHosts();
  rmSync(root, { recursive: true, force: true });
});

function fixtureCopy(): string {
  const dir = join(root, `pkg-${Math.random().toString(16).slice(2)}`);
  cpSync(join(packageRoot(), 'test', 'fixtures', 'packages', 'greeter'), dir, { recursive: true });
  return dir;
}

/** Packs a directory with the CLI, as an operator would. */
async function packWithCli(dir: string, out: string): Promise<string[]> {
  const lines: string[] = [];
  const program = new Command().exitOverride();
  registerInstallCommands(program, undefined, (line) => lines.push(line));
  await program.parseAsync(['node', 'galaxy', 'packages', 'pack', dir, '--out', out]);
  return lines;
}

function harness(routes: ApiRoute[]) {
  const router = new ApiRouter(routes);
  return async (method: string, target: string, body?: unknown): Promise<ApiReply & { json?: unknown }> => {
    const { pathname, search } = splitTarget(target);
    const match = router.match(method, pathname);
    const params = parseInput('path', match.route.params, match.params);
    const query = parseInput('query', match.route.query, queryObject(search));
    const parsedBody = match.route.body === null ? undefined : parseInput('body', match.route.body, body ?? {});
    return match.route.handle({ params, query, body: parsedBody, caller: { name: 'tester', role: 'admin' } });
  };
}

/** Polls an operation, as the CLI does, until it ends. */
async function followed(call: ReturnType<typeof harness>, id: string, timeoutMs = 20_000): Promise<InstallOperationView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const view = (await call('GET', `/v1/installs/${id}`)).json as InstallOperationView;
    if (view.state !== 'running') return view;
    if (Date.now() > deadline) throw new Error(`operation ${id} still running after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function refused(promise: Promise<unknown>): Promise<ApiError> {
  try {
    await promise;
  } catch (error) {
    // What the server answers: a route's DomainError mapped to its status by the API layer.
    const answered = toApiError(error);
    expect(answered).toBeInstanceOf(ApiError);
    return answered!;
  }
  throw new Error('expected an ApiError');
}

describe('install API and CLI', () => {
  it('adds, installs through a followed operation, lists, removes, and refuses with statuses', async () => {
    const { host } = testHost({ nodeId: '1111111111111111' });
    const rpc = new FarmRpc({ selfId: '1111111111111111', send: () => {} });
    const install = new FarmInstall({ dataDir: join(root, 'node'), selfId: '1111111111111111', rpc, sendChunk: () => true, host, peers: () => [], service: { settleMs: 200 } });
    await install.start();
    const routes = installRoutes(install);
    expect(routes.map((r) => `${r.method} ${r.pattern} ${r.role}`)).toEqual([
      'GET /v1/packages viewer',
      'POST /v1/packages admin',
      'GET /v1/components/installed viewer',
      'POST /v1/components/install admin',
      'POST /v1/components/:name/remove admin',
      'GET /v1/installs viewer',
      'GET /v1/installs/:id viewer',
    ]);
    const call = harness(routes);

    const archive = join(root, 'greeter.gxpkg');
    const printed = await packWithCli(fixtureCopy(), archive);
    expect(printed[0]).toMatch(/greeter\.gxpkg greeter@1\.0\.0 [0-9a-f]{64}$/);
    const added = await call('POST', '/v1/packages', { path: archive });
    expect(added).toMatchObject({ status: 201, json: { name: 'greeter', version: '1.0.0', installed: false, files: 2 } });

    const started = await call('POST', '/v1/components/install', { name: 'greeter', version: '1.0.0', config: { greeting: 'hi' } });
    expect(started.status).toBe(202);
    const id = (started.json as InstallOperationView).id;
    const view = await followed(call, id);
    expect(view).toMatchObject({ kind: 'install', state: 'succeeded', outcome: { result: 'installed', version: '1.0.0' }, by: 'tester' });
    expect(view.events.map((e) => (e.type === 'progress' ? e.progress.phase : e.type))).toEqual(['verifying', 'installing', 'starting', 'done']);
    expect(describeOperationEvent(view.events.at(-1)!)).toMatch(/greeter@1\.0\.0 done$/);
    const later = (await call('GET', `/v1/installs/${id}?after=${view.events.at(-2)!.seq}`)).json as InstallOperationView;
    expect(later.events).toHaveLength(1);
    expect((await call('GET', '/v1/installs')).json).toMatchObject([{ id, state: 'succeeded', events: [] }]);
    expect((await call('GET', '/v1/packages')).json).toMatchObject([{ name: 'greeter', installed: true }]);
    expect((await call('GET', '/v1/components/installed')).json).toMatchObject([{ name: 'greeter', version: '1.0.0', state: 'running', config: { greeting: 'hi' } }]);
    expect(host.lastValues('greeter')).toMatchObject({ greeting: 'hi, farm' });

    expect((await call('POST', '/v1/components/greeter/remove')).json).toMatchObject({ result: 'removed' });
    expect(host.status()).toEqual([]);

    expect(await refused(call('POST', '/v1/packages', { path: 'relative/dir' }))).toMatchObject({ status: 400, code: 'GALAXY_INSTALL_BAD_REQUEST' });
    const bytes = readFileSync(archive);
    bytes[bytes.length - 2] ^= 0x01;
    const damaged = join(root, 'damaged.gxpkg');
    writeFileSync(damaged, bytes);
    expect(await refused(call('POST', '/v1/packages', { path: damaged }))).toMatchObject({ status: 400, code: 'GALAXY_PACKAGE_FILE_MISMATCH' });
    expect(await refused(call('POST', '/v1/components/greeter/remove'))).toMatchObject({ status: 404, code: 'GALAXY_INSTALL_NOT_INSTALLED' });
    expect(await refused(call('GET', '/v1/installs/0000000000000000'))).toMatchObject({ status: 404, code: 'GALAXY_INSTALL_UNKNOWN_OPERATION' });
    expect(await refused(call('POST', '/v1/components/install', { name: 'greeter', version: 'latest' }))).toMatchObject({ status: 400, code: 'GALAXY_API_INVALID' });
    expect(await refused(call('POST', '/v1/components/install', { name: 'greeter', version: '1.0.0', target: { nodes: ['not-a-node'] } }))).toMatchObject({ status: 400, code: 'GALAXY_API_INVALID' });

    // A rollout to a node that is not a member is refused before it starts; a landscape needs the farm's resolver.
    expect(await refused(call('POST', '/v1/components/install', { name: 'greeter', version: '1.0.0', target: { nodes: ['2222222222222222'] } }))).toMatchObject({ status: 400, code: 'GALAXY_INSTALL_BAD_TARGET' });
    const rollout = (await call('POST', '/v1/components/install', { name: 'greeter', version: '1.0.0', target: { landscape: 'web' } })).json as InstallOperationView;
    expect(await followed(call, rollout.id)).toMatchObject({ kind: 'rollout', state: 'failed', error: { code: 'GALAXY_INSTALL_BAD_TARGET' } });
    const families = new Map(install.metrics().map((f) => [f.name, f]));
    expect(families.get('galaxy_install_packages')!.samples).toEqual([{ value: 1 }]);
    expect(families.get('galaxy_install_outcomes_total')!.samples).toContainEqual({ labels: { result: 'installed' }, value: 1 });
    await install.close();
    expect(new PackageStore(join(root, 'node', 'packages')).list()).toHaveLength(1);
  }, 60_000);

  it('parses NAME@VERSION', () => {
    expect(parsePackageSpec('greeter@1.2.3-rc.1')).toEqual({ name: 'greeter', version: '1.2.3-rc.1' });
    for (const bad of ['greeter', '@1.0.0', 'greeter@']) expect(() => parsePackageSpec(bad)).toThrow(/NAME@VERSION/);
  });
});
