// The cluster service on real agents (issue 17, item 5): three `galaxy agent` processes
// on loopback, each with its API, run the ClusterChannels cores of src/core/cluster-channels
// through src/cluster/service over the messenger's `cluster` channel.
//  - `galaxy cluster create` on one node defines a 3-member cluster in the FMIDB; every
//    member installs the same view of all three (checked through each node's API and CLI);
//  - SIGKILL of a member: each survivor installs a new view without it;
//  - the killed member restarts and returns as a new incarnation in a newer view;
//  - SIGSTOP of two members: the third reports that it is on a minority side; after
//    SIGCONT all three are in one view again;
//  - each member's recorded view history (GET /v1/clusters/:name/views) passes the
//    checkers of src/sim/cluster (view agreement, monotonic views without gaps), and a
//    deliberately tampered copy of those real histories is caught by the same checkers;
//  - view changes arrive as `cluster` events on the API's WebSocket;
//  - delete: the cluster is gone from every node and every core stops;
//  - a cluster over a landscape with --size takes its first nodes in id order; a node
//    that leaves the landscape leaves the cluster (even from a 2-member view) and the
//    next one joins; an operator's `galaxy cluster leave` makes a view without the leaver;
//  - bad input (unknown cluster, no nodes, bad landscape, unknown node, bad name,
//    --nodes with --on) gets a coded error and a non-zero exit.
// Deadlines, not sleeps: every wait polls until its condition or fails with what it waited for.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { ApiEvent } from '../src/core/util/api-event.js';
import type { ClusterSummary, ClusterViews } from '../src/cluster/service/cluster-service.js';
import { ClusterHistory } from '../src/sim/cluster/cluster-history.js';
import { checkMonotonicViews, checkViewAgreement, describeViolations } from '../src/sim/cluster/cluster-checkers.js';
import { api, eventually, kCliPath, killAll, restartNode, signal, startFarm, type RigNode } from '../bench/cluster-rig.js';
import { runProcess, type ProcessResult } from './support/run-process.js';

afterAll(() => killAll());

/** Runs the CLI against `node`, awaited (see test/support/run-process.ts for why not spawnSync). */
function galaxy(node: RigNode, ...args: string[]): Promise<ProcessResult> {
  return runProcess(process.execPath, [kCliPath, ...args, '--data-dir', node.dataDir]);
}

/** The real histories as the simulator's checkers read them: one member per (node, incarnation). */
function historyOf(recorded: readonly ClusterViews[]): ClusterHistory {
  const history = new ClusterHistory();
  for (const r of recorded) {
    const member = history.memberOf(r.name, r.node, r.incarnation);
    for (const v of r.views) history.record(member, { kind: 'install', atMs: v.installedAtMs, viewId: v.viewId, members: v.members });
  }
  return history;
}

function check(recorded: readonly ClusterViews[], cluster: string): string {
  const history = historyOf(recorded);
  return describeViolations([checkViewAgreement(history, cluster), checkMonotonicViews(history, cluster)]);
}

async function viewsOf(node: RigNode, name: string): Promise<ClusterViews> {
  const reply = await api<ClusterViews>(node, 'GET', `/v1/clusters/${name}/views`);
  if (reply.status !== 200) throw new Error(`views of ${name} at ${node.id}: ${reply.status} ${JSON.stringify(reply.json)}`);
  return reply.json;
}

describe('the cluster service on real agents', () => {
  let nodes: RigNode[] = [];
  beforeAll(async () => {
    nodes = await startFarm(3);
  }, 60_000);

  it('refuses bad input with coded errors', async () => {
    const [a] = nodes as [RigNode];
    const unknown = await api<{ error: { code: string } }>(a, 'GET', '/v1/clusters/nope');
    expect(unknown.status).toBe(404);
    expect(JSON.stringify(unknown.json)).toContain('GALAXY_CLUSTER_UNKNOWN');
    const none = await api(a, 'POST', '/v1/clusters', { name: 'x', nodes: [] });
    expect(none.status).toBe(400);
    expect(JSON.stringify(none.json)).toContain('GALAXY_CLUSTER_NO_NODES');
    const landscape = await api(a, 'POST', '/v1/clusters', { name: 'x', landscape: 'no-such-landscape' });
    expect(landscape.status).toBe(404);
    expect(JSON.stringify(landscape.json)).toContain('GALAXY_CLUSTER_BAD_LANDSCAPE');
    const stranger = await api(a, 'POST', '/v1/clusters', { name: 'x', nodes: ['0123456789abcdef'] });
    expect(stranger.status).toBe(400);
    expect(JSON.stringify(stranger.json)).toContain('GALAXY_CLUSTER_UNKNOWN_NODE');
    const both = await api(a, 'POST', '/v1/clusters', { name: 'x', nodes: [a.id], landscape: 'l' });
    expect(both.status).toBe(400);
    expect(JSON.stringify(both.json)).toContain('GALAXY_CLUSTER_BAD_SELECTION');
    const tuning = await api(a, 'POST', '/v1/clusters', { name: 'x', nodes: [a.id], tuning: { heartbeatIntervalMs: 100, suspectTimeoutMs: 150 } });
    expect(tuning.status).toBe(400);
    expect(JSON.stringify(tuning.json)).toContain('GALAXY_CLUSTER_BAD_TUNING');
    const badName = await api(a, 'POST', '/v1/clusters', { name: 'a/b', nodes: [a.id] });
    expect(badName.status).toBe(400);
    const leaveUnknown = await api(a, 'POST', '/v1/clusters/nope/leave', {});
    expect(leaveUnknown.status).toBe(404);

    const cliBoth = await galaxy(a, 'cluster', 'create', 'x', '--nodes', a.id, '--on', 'l');
    expect(cliBoth.status).not.toBe(0);
    expect(cliBoth.stderr).toContain('--nodes ID,... or --on LANDSCAPE');
    const cliNeither = await galaxy(a, 'cluster', 'create', 'x');
    expect(cliNeither.status).not.toBe(0);
    const cliShow = await galaxy(a, 'cluster', 'show', 'nope');
    expect(cliShow.status).toBe(2);
    expect(cliShow.stderr).toContain('no cluster named "nope"');
    const cliLandscape = await galaxy(a, 'cluster', 'create', 'x', '--on', 'nowhere', '--size', '2');
    expect(cliLandscape.status).toBe(2);
    expect(cliLandscape.stderr).toContain('landscape "nowhere"');
    expect((await api<unknown[]>(a, 'GET', '/v1/clusters')).json).toEqual([]);
  }, 30_000);

  it('forms one view, survives a SIGKILL, readmits the restarted member as a new incarnation, lets a member leave, and deletes', async () => {
    const [a, b, c] = nodes as [RigNode, RigNode, RigNode];
    const events: ApiEvent[] = [];
    const socket = new WebSocket(`${a.url.replace(/^http/, 'ws')}/v1/events?kind=cluster`, { headers: { authorization: `Bearer ${a.token}` } });
    socket.on('message', (data) => events.push(JSON.parse(String(data)) as ApiEvent));
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));

    const created = await galaxy(a, 'cluster', 'create', 'web', '--nodes', [a.id, b.id, c.id].join(','), '--profile', 'web-tier');
    expect(created.status, created.stderr).toBe(0);
    expect(created.stdout).toContain('created cluster web');

    // Every member installs the same view of all three.
    const ids = [a.id, b.id, c.id].sort();
    for (const n of nodes) {
      await eventually(`${n.id} is a member of web in a view of all three`, async () => {
        const s = (await api<ClusterSummary>(n, 'GET', '/v1/clusters/web')).json;
        return s.here?.status === 'member' && s.here.view?.members.map((m) => m.nodeId).sort().join() === ids.join() ? true : undefined;
      }, 20_000);
    }
    const first = await Promise.all(nodes.map((n) => api<ClusterSummary>(n, 'GET', '/v1/clusters/web')));
    const firstViews = first.map((r) => r.json.here!.view!);
    expect(new Set(firstViews.map((v) => `${v.viewId}:${JSON.stringify(v.members)}`)).size).toBe(1);
    expect(first[0]!.json.profile).toBe('web-tier');
    const shown = await galaxy(b, 'cluster', 'show', 'web');
    expect(shown.status, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(/here\s+member, incarnation 0/);
    const listed = await galaxy(c, 'cluster', 'ls');
    expect(listed.stdout).toMatch(/web\s+3\s+\d+\s+member/);
    const members = await galaxy(a, 'cluster', 'members', 'web');
    expect(members.stdout).toContain(`cluster/web/member/${c.id}`);
    const before = await viewsOf(c, 'web');

    // SIGKILL C: A and B install a view of the two of them.
    await signal(c, 'SIGKILL');
    for (const n of [a, b]) {
      await eventually(`${n.id} installs a view without the killed member`, async () => {
        const s = (await api<ClusterSummary>(n, 'GET', '/v1/clusters/web')).json;
        return s.here?.status === 'member' && s.here.view?.members.length === 2 && !s.here.view.members.some((m) => m.nodeId === c.id) ? true : undefined;
      }, 15_000);
    }
    const afterKill = [await viewsOf(a, 'web'), await viewsOf(b, 'web'), before];
    expect(check(afterKill, 'web')).toBe('');

    // C comes back: a new incarnation in a newer view at every member.
    await restartNode(c);
    for (const n of nodes) {
      await eventually(`${n.id} installs a view with the restarted member at incarnation 1`, async () => {
        const s = (await api<ClusterSummary>(n, 'GET', '/v1/clusters/web')).json;
        const view = s.here?.view;
        return view?.members.length === 3 && view.members.find((m) => m.nodeId === c.id)?.incarnation === 1 ? true : undefined;
      }, 20_000);
    }
    const final = [await viewsOf(a, 'web'), await viewsOf(b, 'web'), await viewsOf(c, 'web'), before];
    expect(final[2]!.incarnation).toBe(1);
    expect(check(final, 'web')).toBe('');
    const viewsCli = await galaxy(a, 'cluster', 'views', 'web');
    expect(viewsCli.status, viewsCli.stderr).toBe(0);
    expect(viewsCli.stdout).toContain(`${c.id}/1`);

    // The checkers are not vacuous on these histories: a member that claims another member list for a view is caught,
    // and so is one that installs an older view after a newer one.
    const tampered = final.map((r) => ({ ...r, views: r.views.map((v) => ({ ...v, members: [...v.members] })) }));
    tampered[0]!.views[tampered[0]!.views.length - 1]!.members.pop();
    expect(describeViolations([checkViewAgreement(historyOf(tampered), 'web')])).toContain('view agreement');
    const reordered = final.map((r) => ({ ...r, views: [...r.views] }));
    reordered[0]!.views.reverse();
    expect(describeViolations([checkMonotonicViews(historyOf(reordered), 'web')])).toContain('monotonic');

    // The view changes were events on A's WebSocket.
    await eventually('the view changes reached the WebSocket', () => (events.filter((e) => e.kind === 'cluster' && e.type === 'view').length >= 3 ? true : undefined), 5_000);
    socket.close();

    // SIGSTOP two of three: the one left says it is on a minority side; SIGCONT: one view of all three again.
    await signal(b, 'SIGSTOP');
    await signal(c, 'SIGSTOP');
    try {
      await eventually(`${a.id} reports minority`, async () => ((await api<ClusterSummary>(a, 'GET', '/v1/clusters/web')).json.here?.minority === true ? true : undefined), 15_000);
      const minority = await galaxy(a, 'cluster', 'show', 'web');
      expect(minority.stdout).toContain('MINORITY');
    } finally {
      await signal(b, 'SIGCONT');
      await signal(c, 'SIGCONT');
    }
    for (const n of nodes) {
      await eventually(`${n.id} is back in a view of all three`, async () => {
        const s = (await api<ClusterSummary>(n, 'GET', '/v1/clusters/web')).json;
        return s.here?.status === 'member' && s.here.view?.members.length === 3 ? true : undefined;
      }, 30_000);
    }
    expect(check([await viewsOf(a, 'web'), await viewsOf(b, 'web'), await viewsOf(c, 'web'), before], 'web')).toBe('');

    // An operator's leave: a view without the leaver; a second leave is refused.
    const left = await galaxy(c, 'cluster', 'leave', 'web');
    expect(left.status, left.stderr).toBe(0);
    for (const n of [a, b]) {
      await eventually(`${n.id} installs a view without the member that left`, async () => {
        const s = (await api<ClusterSummary>(n, 'GET', '/v1/clusters/web')).json;
        return s.here?.status === 'member' && s.here.view?.members.length === 2 && !s.here.view.members.some((m) => m.nodeId === c.id) ? true : undefined;
      }, 10_000);
    }
    await eventually(`${c.id} stopped its core of web`, async () => ((await viewsOf(c, 'web')).status === 'stopped' ? true : undefined), 10_000);
    expect((await api(c, 'POST', '/v1/clusters/web/leave', {})).status).toBe(409);
    expect(check([await viewsOf(a, 'web'), await viewsOf(b, 'web'), await viewsOf(c, 'web'), before], 'web')).toBe('');

    // Delete: gone everywhere, every core stopped.
    const deleted = await galaxy(b, 'cluster', 'delete', 'web');
    expect(deleted.status, deleted.stderr).toBe(0);
    for (const n of nodes) {
      await eventually(`${n.id} no longer lists web and stopped its core`, async () => {
        const list = (await api<unknown[]>(n, 'GET', '/v1/clusters')).json;
        const v = await viewsOf(n, 'web');
        return list.length === 0 && v.status === 'stopped' ? true : undefined;
      }, 15_000);
    }
    expect((await api(a, 'GET', '/v1/clusters/web')).status).toBe(404);
  }, 120_000);

  it('follows a landscape (--size) and moves members when the landscape changes', async () => {
    const [a, b, c] = nodes as [RigNode, RigNode, RigNode];
    for (const n of nodes) expect((await api(a, 'PUT', `/v1/attributes/${n.id}`, { values: { tier: 'web' } })).status).toBe(200);
    expect((await api(a, 'PUT', '/v1/landscapes/webs', { sql: "SELECT node FROM nodes WHERE tier = 'web'", mode: 'on-change' })).status).toBe(200);
    for (const n of nodes) {
      await eventually(`${n.id} computes webs with all three`, async () => ((await api<{ members: string[] }>(n, 'GET', '/v1/landscapes/webs')).json.members?.length === 3 ? true : undefined), 20_000);
    }
    const created = await galaxy(c, 'cluster', 'create', 'pair', '--on', 'webs', '--size', '2');
    expect(created.status, created.stderr).toBe(0);
    const sorted = [a, b, c].sort((x, y) => (x.id < y.id ? -1 : 1));
    const [low, mid, high] = sorted as [RigNode, RigNode, RigNode];
    const viewAt = async (n: RigNode): Promise<string | undefined> => {
      const s = (await api<ClusterSummary>(n, 'GET', '/v1/clusters/pair')).json;
      return s.here?.status === 'member' ? s.here.view?.members.map((m) => m.nodeId).sort().join() : undefined;
    };
    for (const n of [low, mid]) await eventually(`${n.id} is in pair with the two lowest ids`, async () => ((await viewAt(n)) === [low.id, mid.id].join() ? true : undefined), 20_000);
    expect((await api<ClusterSummary>(high, 'GET', '/v1/clusters/pair')).json.here).toBeNull();

    // The lowest id leaves the landscape: it leaves the cluster, the highest joins.
    expect((await api(a, 'PUT', `/v1/attributes/${low.id}`, { values: { tier: 'db' } })).status).toBe(200);
    for (const n of [mid, high]) await eventually(`${n.id} is in pair with the next two`, async () => ((await viewAt(n)) === [mid.id, high.id].join() ? true : undefined), 20_000);
    await eventually(`${low.id} stopped its core of pair`, async () => ((await viewsOf(low, 'pair')).status === 'stopped' ? true : undefined), 10_000);

    expect(check([await viewsOf(mid, 'pair'), await viewsOf(high, 'pair'), await viewsOf(low, 'pair')], 'pair')).toBe('');
    expect((await galaxy(a, 'cluster', 'delete', 'pair')).status).toBe(0);
  }, 90_000);
});

