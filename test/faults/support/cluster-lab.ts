// What the cluster and channel fault scenarios share: a farm of agents on namespace hosts
// with one cluster of all of them, and the wait for a view of exactly some members.
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { ClusterSummary } from '../../../src/cluster/service/cluster-service.js';
import { FaultFarm, waitFor, type LabAgent } from './fault-farm.js';
import { freshDirectory, NetnsLab, preClean } from './netns-lab.js';

export interface ClusterLab {
  readonly lab: NetnsLab;
  readonly farm: FaultFarm;
  readonly dataRoot: string;
  /** ms from the cluster's creation to one view of every agent at every agent. */
  readonly formedMs: number;
}

/** This agent's summary of `cluster` (its status and view). */
export async function clusterSummary(agent: LabAgent, cluster: string): Promise<ClusterSummary> {
  return agent.get<ClusterSummary>(`/v1/clusters/${cluster}`);
}

/** Waits until every agent in `viewers` is a member of a view of exactly `members`; returns the ms it took. */
export async function waitForView(cluster: string, viewers: readonly LabAgent[], members: readonly LabAgent[], boundMs: number): Promise<number> {
  const want = members.map((m) => m.id).sort().join();
  return waitFor(`${viewers.length} agents install a view of ${members.length}`, async () => {
    for (const v of viewers) {
      const s = await clusterSummary(v, cluster);
      if (s.here?.status !== 'member' || s.here.view?.members.map((m) => m.nodeId).sort().join() !== want) return false;
    }
    return true;
  }, boundMs, 50);
}

/** Starts `agents` agents on namespace hosts (data under tmpdir()/`dataPrefix`<pid>) and a cluster of all of them; waits for its first view. */
export async function startClusterLab(dataPrefix: string, agents: number, cluster: string, viewBoundMs: number): Promise<ClusterLab> {
  preClean(tmpdir(), dataPrefix);
  const dataRoot = freshDirectory(join(tmpdir(), `${dataPrefix}${process.pid}`));
  const lab = NetnsLab.create(agents);
  const farm = new FaultFarm(lab, dataRoot);
  try {
    await farm.start(agents, 60_000);
    const created = await farm.controller.api('POST', '/v1/clusters', { body: { name: cluster, nodes: farm.agents.map((a) => a.id) } });
    expect(created.status, created.text).toBe(201);
    const formedMs = await waitForView(cluster, farm.agents, farm.agents, viewBoundMs);
    return { lab, farm, dataRoot, formedMs };
  } catch (error) {
    // The caller never gets the lab to tear down: do it here.
    farm.close();
    lab.teardown();
    rmSync(dataRoot, { recursive: true, force: true });
    throw error;
  }
}
