/**
 * Real `galaxy agent` processes on loopback for the cluster service's end-to-end test
 * (test/cluster-agents.test.ts) and benchmark (bench/cluster.ts): an open farm
 * (--insecure; GALAXY_BENCH_SECURE=1 for a farm key), each agent with its HTTP API and no components (GALAXY_COMPONENTS=none:
 * the cluster service runs in the agent itself), the `local` timer preset. The helpers
 * start, kill and restart agents, call their APIs, and poll with deadlines.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../src/core/platform/package-root.js';
import { freePort } from './free-port.js';

const cli = join(packageRoot(), 'dist', 'src', 'ops', 'cli', 'main.js');
const kStderrBytesMax = 64 * 1024;
const dataRoot = mkdtempSync(join(tmpdir(), 'galaxy-cluster-rig-'));
const children = new Set<ChildProcess>();
/**
 * GALAXY_BENCH_SECURE=1: a farm with one static farm key (--key, AES-256-GCM on every
 * message, as a production farm seals) instead of an open one (--insecure, no seal).
 */
const farmKey = process.env['GALAXY_BENCH_SECURE'] === '1' ? randomBytes(32).toString('base64') : null;

export interface RigNode {
  /** The gossip and API addresses (a restart may move them: see restartNode). */
  address: string;
  apiBind: string;
  readonly dataDir: string;
  readonly seeds: readonly string[];
  child: ChildProcess;
  stderr: string;
  id: string;
  url: string;
  token: string;
}

export { freePort };

function spawnNode(node: Pick<RigNode, 'address' | 'apiBind' | 'dataDir' | 'seeds'>): { child: ChildProcess; stderr: () => string } {
  const args = [cli, 'agent', '--preset', 'local', '--bind', node.address, ...(node.seeds.length > 0 ? ['--join', node.seeds.join(',')] : []), '--data-dir', node.dataDir, '--log-level', 'warn', ...(farmKey === null ? ['--insecure'] : ['--key', farmKey]), '--api', node.apiBind];
  // GALAXY_BENCH_NODE_ARGS: node options for every agent (e.g. --prof, which NODE_OPTIONS refuses), to see where an agent's time goes.
  const nodeArgs = (process.env['GALAXY_BENCH_NODE_ARGS'] ?? '').split(/\s+/).filter((a) => a !== '');
  const child = spawn(process.execPath, [...nodeArgs, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, GALAXY_COMPONENTS: 'none' } });
  children.add(child);
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    if (stderr.length < kStderrBytesMax) stderr += chunk.toString();
  });
  return { child, stderr: () => stderr };
}

/** Starts one agent joining through `seeds`; resolves when its API answers (not yet when the farm sees it). */
export async function startNode(seeds: readonly string[]): Promise<RigNode> {
  const address = `127.0.0.1:${await freePort()}`;
  const apiBind = `127.0.0.1:${await freePort()}`;
  const dataDir = join(dataRoot, address.replace(/[:.]/g, '_'));
  const spawned = spawnNode({ address, apiBind, dataDir, seeds });
  const node: RigNode = { address, apiBind, dataDir, seeds, child: spawned.child, stderr: '', id: '', url: '', token: '' };
  spawned.child.stderr!.on('data', () => (node.stderr = spawned.stderr()));
  await answering(node);
  return node;
}

/** How long an agent may take to answer on its API: seconds on a machine loaded many times over its two CPUs. */
const kAnswerTimeoutMs = 120_000;

async function answering(node: RigNode): Promise<void> {
  await eventually(`${node.address} wrote its API address`, () => {
    if (node.child.exitCode !== null) throw new Error(`agent ${node.address} exited ${node.child.exitCode}: ${node.stderr}`);
    return existsSync(join(node.dataDir, 'api.json')) && existsSync(join(node.dataDir, 'admin.token')) ? true : undefined;
  }, kAnswerTimeoutMs, 50);
  node.url = (JSON.parse(readFileSync(join(node.dataDir, 'api.json'), 'utf8')) as { url: string }).url;
  node.token = readFileSync(join(node.dataDir, 'admin.token'), 'utf8').trim();
  node.id = await eventually(`${node.address} answers on its API`, async () => {
    if (node.child.exitCode !== null || node.child.signalCode !== null) throw new AgentExited(`agent ${node.address} exited ${node.child.exitCode ?? node.child.signalCode}: ${node.stderr.slice(-2000)}`);
    return (await api<{ id: string }>(node, 'GET', '/v1/node')).json.id;
  }, kAnswerTimeoutMs, 50);
}

/**
 * Starts `count` agents (the first is every other's seed) and waits until each sees all
 * alive. `batch` staggers the boots: at most that many start at once, the next batch
 * once the previous ones answer on their APIs (64 agents booting together on two CPUs
 * starve each other past the farm's timeouts).
 */
export async function startFarm(count: number, batch = count): Promise<RigNode[]> {
  const first = await startNode([]);
  const rest: RigNode[] = [];
  for (let started = 1; started < count; started += batch) {
    const n = Math.min(batch, count - started);
    rest.push(...(await Promise.all(Array.from({ length: n }, () => startNode([first.address])))));
  }
  const nodes = [first, ...rest];
  await allAlive(nodes, nodes.length, Math.max(60_000, count * 2_000));
  return nodes;
}

/** Waits until every node in `nodes` sees `count` members alive. */
export async function allAlive(nodes: readonly RigNode[], count: number, timeoutMs = 60_000): Promise<void> {
  await Promise.all(nodes.map((node) => eventually(`${node.address} sees ${count} members alive`, async () => {
    const members = (await api<Array<{ status: string }>>(node, 'GET', '/v1/members')).json;
    return members.filter((m) => m.status === 'alive').length === count ? true : undefined;
  }, timeoutMs, 100)));
}

/** Sends `signal` and waits until the process exited (or, for SIGSTOP, returns at once). */
export async function signal(node: RigNode, sig: NodeJS.Signals): Promise<void> {
  const child = node.child;
  if (sig === 'SIGSTOP' || sig === 'SIGCONT') {
    child.kill(sig);
    return;
  }
  const exited = new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));
  child.kill(sig);
  await exited;
}

class AgentExited extends Error {}

/**
 * Starts a stopped agent again with the same data directory (so the same node id) on
 * the same addresses; if it exits at once (another process on this shared machine took
 * one of its ports meanwhile), once more on fresh ports.
 */
export async function restartNode(node: RigNode): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const spawned = spawnNode(node);
    node.child = spawned.child;
    node.stderr = '';
    spawned.child.stderr!.on('data', () => (node.stderr = spawned.stderr()));
    try {
      await answering(node);
      return;
    } catch (error) {
      if (attempt > 0 || !(error instanceof AgentExited)) throw error;
      node.address = `127.0.0.1:${await freePort()}`;
      node.apiBind = `127.0.0.1:${await freePort()}`;
    }
  }
}

export async function api<T = unknown>(node: RigNode, method: string, path: string, body?: unknown): Promise<{ status: number; json: T }> {
  const response = await fetch(`${node.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${node.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, json: (text === '' ? null : JSON.parse(text)) as T };
}

/** Polls `probe` until it returns something other than undefined; throws `what` at the deadline. */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = null;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      if (error instanceof AgentExited) throw error;
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}${last === null ? '' : ` (last error: ${(last as Error).message})`}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** The CLI entry point (dist), for tests that run `galaxy` as an operator does. */
export const kCliPath = cli;

/** SIGKILLs every agent this rig started that still runs. */
export function killAll(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGCONT');
      child.kill('SIGKILL');
    }
  }
}
