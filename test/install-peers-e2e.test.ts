// Proves that an installed package's components hear about their peers (issue 16, item
// 2), end to end in `galaxy agent`: three real agent processes (an --insecure farm), the
// fixture package peer-echo (a kind of its own, not built in) added on a and installed on
// all three through `galaxy components install`. Each copy must be told, through its
// `membership` handler, of exactly the two other nodes (it posts the ids it was given as
// values), and must hear the greetings the two others send to their peers (farm gossip
// to the kind). When c leaves, a's and b's copies are told their peer list shrank to
// each other. Before the fix the host told built-in kinds only: `peers` stayed -1.
// Polls with deadlines.
import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeValues } from '../src/farm/data/node-values.js';
import { packageRoot } from '../src/core/platform/package-root.js';
import { killAllAgents } from './support/agents.js';
import { api, at, eventually, galaxy, startFarm, stop, type FarmAgent } from './support/farm-cli.js';

let a: FarmAgent;
let b: FarmAgent;
let c: FarmAgent;

beforeAll(async () => {
  [a, b, c] = (await startFarm(3, [['management']])) as [FarmAgent, FarmAgent, FarmAgent];
}, 90_000);

afterAll(() => killAllAgents());

/** What peer-echo on `node` posted: the peers its membership handler was given, and the peers it heard from. */
async function echo(node: FarmAgent): Promise<{ peers: unknown; peerIds: unknown; heard: unknown }> {
  const rows = (await api<NodeValues[]>(node, 'GET', `/v1/values?node=${node.id}`)).json;
  const values = rows[0]?.values ?? {};
  return { peers: values['peers'], peerIds: values['peerIds'], heard: values['heard'] };
}

const ids = (...nodes: FarmAgent[]): string => nodes.map((n) => n.id).sort().join(',');

describe('an installed component', () => {
  it('is told of its peers on the other nodes, hears them, and is told when one leaves', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'galaxy-peer-echo-'));
    cpSync(join(packageRoot(), 'test', 'fixtures', 'packages', 'peer-echo'), dir, { recursive: true });
    const added = await galaxy(['packages', 'add', dir, ...at(a)]);
    expect(added.code, added.stderr).toBe(0);
    const install = await galaxy(['components', 'install', 'peer-echo@1.0.0', '--nodes', `${a.id},${b.id},${c.id}`, '--batch', '3', ...at(a)]);
    expect(install.code, install.stdout + install.stderr).toBe(0);

    for (const [node, others] of [[a, [b, c]], [b, [a, c]], [c, [a, b]]] as const) {
      const expected = { peers: 2, peerIds: ids(...others), heard: ids(...others) };
      await eventually(`peer-echo on ${node.id} knows and heard ${expected.peerIds}`, async () => {
        const seen = await echo(node);
        return seen.peers === expected.peers && seen.peerIds === expected.peerIds && seen.heard === expected.heard ? true : undefined;
      }, 30_000, 200).catch(async (error: Error) => {
        throw new Error(`${error.message}; last posted: ${JSON.stringify(await echo(node))}`);
      });
    }

    await stop(c);
    for (const [node, other] of [[a, b], [b, a]] as const) {
      await eventually(`peer-echo on ${node.id} is told c left`, async () => {
        const seen = await echo(node);
        return seen.peers === 1 && seen.peerIds === other.id ? true : undefined;
      }, 30_000, 200);
    }
  }, 150_000);
});
