// Three real agents in one cluster with a FIFO channel of a small credit window: the
// setup of the delivery-stream tests (channel-stream, channel-listen-cli).
import { expect } from 'vitest';
import type { ClusterSummary } from '../../src/cluster/service/cluster-service.js';
import { api, eventually, startFarm, type RigNode } from '../../bench/cluster-rig.js';

/** Starts 3 agents, makes `cluster` of all of them, waits for a view of 3 everywhere, and opens `channel` (FIFO, 16 messages of credit) on each. */
export async function fifoChannelFarm(cluster: string, channel: string): Promise<RigNode[]> {
  const nodes = await startFarm(3);
  const created = await api(nodes[0]!, 'POST', '/v1/clusters', { name: cluster, nodes: nodes.map((n) => n.id), tuning: { suspectTimeoutMs: 5000 } });
  expect(created.status).toBe(201);
  for (const n of nodes) {
    await eventually(`${n.id} in a view of 3`, async () => {
      const s = (await api<ClusterSummary>(n, 'GET', `/v1/clusters/${cluster}`)).json;
      return s.here?.status === 'member' && s.here.view?.members.length === 3 ? true : undefined;
    }, 60_000);
  }
  for (const n of nodes) expect((await api(n, 'POST', `/v1/clusters/${cluster}/channels`, { name: channel, ordering: 'fifo', windowMessages: 16 })).status).toBe(201);
  return nodes;
}
