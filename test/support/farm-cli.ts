// Helpers for end-to-end tests of the farm components through real `galaxy agent`
// processes: a small --insecure farm with the HTTP API on each agent, the `galaxy` CLI
// run as a child process (as an operator runs it), the API called with fetch, and
// polling with deadlines instead of fixed sleeps.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MemberView } from '../../src/core/membership/member-view.js';
import type { ComponentStatus } from '../../src/farm/components/component-status.js';
import { packageRoot } from '../../src/core/platform/package-root.js';
import { freePort, spawnAgent, type Agent } from './agents.js';
import { runProcess } from './run-process.js';

const cli = join(packageRoot(), 'dist', 'src', 'ops', 'cli', 'main.js');

export interface FarmAgent {
  /** The agent process (replaced by restart()). */
  agent: Agent;
  readonly address: string;
  readonly apiBind: string;
  readonly dataDir: string;
  readonly extra: readonly string[];
  readonly seeds: readonly string[];
  id: string;
  url: string;
  token: string;
}

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `galaxy ARGS...`; resolves when it exits (it is killed after timeoutMs). */
export async function galaxy(args: readonly string[], timeoutMs = 60_000): Promise<CliResult> {
  // The connection comes from the arguments only, never from the test runner's environment.
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !['GALAXY_API', 'GALAXY_TOKEN', 'GALAXY_DATA_DIR'].includes(key)));
  const { status, stdout, stderr } = await runProcess(process.execPath, [cli, ...args], { env, timeoutMs });
  return { code: status, stdout, stderr };
}

/** Runs `galaxy ARGS... --json` and parses stdout; throws with stderr when it does not exit 0. */
export async function galaxyJson<T>(args: readonly string[]): Promise<T> {
  const result = await galaxy([...args, '--json']);
  if (result.code !== 0) throw new Error(`galaxy ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
  return JSON.parse(result.stdout) as T;
}

/** Polls `probe` until it returns something other than undefined; throws `what` at the deadline. */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = null;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}${last === null ? '' : ` (last error: ${(last as Error).message})`}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Calls the agent's API with its admin token (or `token`); the status and the parsed body. */
export async function api<T = unknown>(node: FarmAgent, method: string, path: string, body?: unknown, token = node.token): Promise<{ status: number; json: T }> {
  const response = await fetch(`${node.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, json: (text === '' ? null : JSON.parse(text)) as T };
}

/** The connection flags of the CLI for this agent. */
export function at(node: FarmAgent): string[] {
  return ['--data-dir', node.dataDir];
}

/** `args` with `flags` added before a `--` (after it, everything is the remote command). */
export function withFlags(args: readonly string[], flags: readonly string[]): string[] {
  const end = args.indexOf('--');
  return end < 0 ? [...args, ...flags] : [...args.slice(0, end), ...flags, ...args.slice(end)];
}

/**
 * Starts `count` agents of an --insecure farm on loopback, each with its API; `roles[i]`
 * are the --role flags of agent i, `flags[i]` any other flags of it. Resolves once every agent sees every other alive and
 * runs the events, jobs and scripts components.
 */
export async function startFarm(count: number, roles: ReadonlyArray<readonly string[]> = [], flags: ReadonlyArray<readonly string[]> = []): Promise<FarmAgent[]> {
  const nodes: FarmAgent[] = [];
  for (let i = 0; i < count; i++) {
    const address = `127.0.0.1:${await freePort()}`;
    const apiBind = `127.0.0.1:${await freePort()}`;
    const extra = ['--insecure', '--api', apiBind, ...(roles[i] ?? []).flatMap((role) => ['--role', role]), ...(flags[i] ?? [])];
    const seeds = nodes.length === 0 ? [] : [nodes[0]!.address];
    const agent = spawnAgent(address, seeds, extra);
    const dataDir = agent.child.spawnargs[agent.child.spawnargs.indexOf('--data-dir') + 1]!;
    nodes.push({ agent, address, apiBind, dataDir, extra, seeds, id: '', url: '', token: '' });
  }
  for (const node of nodes) await ready(node, nodes.length);
  return nodes;
}

/** Waits until the agent answers on its API, sees `members` members alive and runs its farm components. */
export async function ready(node: FarmAgent, members: number): Promise<void> {
  await eventually(`${node.address} wrote its API address`, () => (existsSync(join(node.dataDir, 'api.json')) && existsSync(join(node.dataDir, 'admin.token')) ? true : undefined), 30_000);
  node.url = (JSON.parse(readFileSync(join(node.dataDir, 'api.json'), 'utf8')) as { url: string }).url;
  node.token = readFileSync(join(node.dataDir, 'admin.token'), 'utf8').trim();
  // A restarted agent rewrites api.json with the same address: it answers once it listens.
  node.id = await eventually(`${node.address} answers on its API`, async () => (await api<{ id: string }>(node, 'GET', '/v1/node')).json.id, 30_000, 200);
  await eventually(
    `${node.address} sees ${members} members alive and runs events, jobs and scripts`,
    async () => {
      if (node.agent.child.exitCode !== null) throw new Error(`agent ${node.address} exited: ${node.agent.stderr}`);
      const alive = (await api<MemberView[]>(node, 'GET', '/v1/members')).json.filter((m) => m.status === 'alive').length;
      const running = (await api<ComponentStatus[]>(node, 'GET', '/v1/components')).json.filter((c) => ['events', 'jobs', 'scripts'].includes(c.name) && c.state === 'running').length;
      return alive === members && running === 3 ? true : undefined;
    },
    45_000,
    200,
  );
}

/** Stops the agent (SIGTERM: it leaves; SIGKILL: it crashes) and waits until it has exited. */
export async function stop(node: FarmAgent, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  const child = node.agent.child;
  const exited = new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));
  child.kill(signal);
  await exited;
}

/** Starts a stopped agent again on the same address and data directory, joining through `seeds`. */
export async function restart(node: FarmAgent, members: number, seeds: readonly string[] = node.seeds): Promise<void> {
  node.agent = spawnAgent(node.address, seeds, node.extra);
  await ready(node, members);
}
