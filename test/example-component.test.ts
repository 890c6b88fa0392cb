// Proves examples/custom-component (issue 16, items 1 and 2): a component written in
// TypeScript against the component SDK's types (`galaxy-farm/component`), built with tsc
// into a module without imports, then added and installed into a running farm of two real
// `galaxy agent` processes with the CLI an operator uses (`galaxy packages add`,
// `galaxy components install`). Each copy must be told of the other node through its
// `membership` handler, reach it through farm RPC (its own service, answered by the node
// it meant), and receive its greeting by farm gossip; it posts all three as values, read
// here through the API. When b leaves, a's copy is told it has no peer left. Polls with
// deadlines.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeValues } from '../src/farm/data/node-values.js';
import { packageRoot } from '../src/core/platform/package-root.js';
import { killAllAgents } from './support/agents.js';
import { api, at, eventually, galaxy, startFarm, stop, type FarmAgent } from './support/farm-cli.js';

const root = packageRoot();
const example = join(root, 'examples', 'custom-component');
let a: FarmAgent;
let b: FarmAgent;

beforeAll(async () => {
  [a, b] = (await startFarm(2, [['controller']])) as [FarmAgent, FarmAgent];
}, 90_000);

afterAll(() => killAllAgents());

async function posted(node: FarmAgent): Promise<Record<string, unknown>> {
  const rows = (await api<NodeValues[]>(node, 'GET', `/v1/values?node=${node.id}`)).json;
  return rows[0]?.values ?? {};
}

describe('examples/custom-component', () => {
  it('builds into a module without imports, installs on a running farm, hears and reaches its peer, and is told when it leaves', async () => {
    const tsc = createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc');
    const build = spawnSync(process.execPath, [tsc, '-p', example], { encoding: 'utf8' });
    expect(build.status, build.stdout + build.stderr).toBe(0);
    const built = readFileSync(join(example, 'dist', 'index.mjs'), 'utf8');
    expect(built).not.toMatch(/^\s*import\s/m);
    // What is added is a copy: the package is sealed from the directory as it is now.
    const dir = mkdtempSync(join(tmpdir(), 'galaxy-hello-peers-'));
    cpSync(example, dir, { recursive: true });
    const added = await galaxy(['packages', 'add', dir, ...at(a)]);
    expect(added.code, added.stderr).toBe(0);
    const install = await galaxy(['components', 'install', 'hello-peers@1.0.0', '--nodes', `${a.id},${b.id}`, '--batch', '2', ...at(a)]);
    expect(install.code, install.stdout + install.stderr).toBe(0);

    for (const [node, other] of [[a, b], [b, a]] as const) {
      await eventually(`hello-peers on ${node.id} knows, reaches and hears ${other.id}`, async () => {
        const values = await posted(node);
        return values['peers'] === 1 && values['answered'] === 1 && typeof values['rttMsMax'] === 'number' && values['rttMsMax'] >= 0 && values['greetedBy'] === other.id ? true : undefined;
      }, 30_000, 200).catch(async (error: Error) => {
        throw new Error(`${error.message}; last posted: ${JSON.stringify(await posted(node))}`);
      });
    }

    await stop(b);
    await eventually(`hello-peers on ${a.id} is told b left`, async () => ((await posted(a))['peers'] === 0 ? true : undefined), 30_000, 200);
  }, 150_000);
});
