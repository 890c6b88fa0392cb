// Real agent processes with their HTTP API, for tests that drive them through the
// `galaxy` CLI and the API (profiles, the Cluster Designer).
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NodeSummary } from '../../src/farm/service/node-summary.js';
import { packageRoot } from '../../src/core/platform/package-root.js';
import { freePort, spawnAgent, until, type Agent } from './agents.js';

export const cli = join(packageRoot(), 'dist', 'src', 'ops', 'cli', 'main.js');

export interface ApiAgent {
  readonly agent: Agent;
  readonly dir: string;
  readonly url: string;
  readonly token: string;
  readonly id: string;
}

export function galaxy(node: ApiAgent, ...args: string[]): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [cli, ...args, '--data-dir', node.dir], { encoding: 'utf8' });
}

export async function call(node: ApiAgent, method: string, path: string, body?: unknown, retried = false): Promise<{ status: number; json: any }> {
  let response: Response;
  try {
    response = await fetch(`${node.url}${path}`, { method, headers: { authorization: `Bearer ${node.token}`, 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  } catch (error) {
    // A kept-alive connection the agent closed while spawnSync blocked this loop: once more on a new one.
    if (retried) throw error;
    return call(node, method, path, body, true);
  }
  const text = await response.text();
  return { status: response.status, json: text === '' ? null : JSON.parse(text) };
}

export async function eventually<T>(what: string, read: () => Promise<T>, ok: (value: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (!ok(value)) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}; last: ${JSON.stringify(value).slice(0, 400)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    value = await read();
  }
  return value;
}

export async function startApiAgent(address: string, seeds: string[], key: string): Promise<ApiAgent> {
  const agent = spawnAgent(address, seeds, ['--key', key, '--api', `127.0.0.1:${await freePort()}`]);
  await until('the agent starts', () => agent.lines.some((l) => l.event === 'started'), 20_000, [agent]);
  const dir = agent.child.spawnargs[agent.child.spawnargs.indexOf('--data-dir') + 1]!;
  const url = (JSON.parse(readFileSync(join(dir, 'api.json'), 'utf8')) as { url: string }).url;
  const token = readFileSync(join(dir, 'admin.token'), 'utf8').trim();
  const partial = { agent, dir, url, token, id: '' };
  return { ...partial, id: ((await call(partial, 'GET', '/v1/node')).json as NodeSummary).id };
}

