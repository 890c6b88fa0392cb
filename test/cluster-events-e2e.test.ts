// Proves the farm-event path of cluster view changes end to end (issue 17: "view changes
// ... as farm events to the management node"): three real `galaxy agent` processes (an
// --insecure farm with the events component; a has the management role, b and c do
// not), one cluster of all three defined through b's API. The view each member installs
// is posted by its cluster service to its own event service, forwarded to the management
// node and stored there: a's store holds a `cluster.view` event from each of a, b and c
// for the first view, named by the one naming scheme (source
// cluster/<name>/member/<node>, body.path cluster/<name>). Then c is SIGKILLed: b, which
// is not a management node, installs the view without c and a's store gets that view from
// b, with c's node id absent from its members and b as the event's node; a's own view of
// that id has the same members. The store is read on a's API and through `galaxy events`
// at b (any agent reads the management node's store). Polls with deadlines; nothing is
// mocked.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventsPage, FarmEvent } from '../src/farm/events/events-backend.js';
import { killAllAgents } from './support/agents.js';
import { api, at, eventually, galaxyJson, startFarm, stop, type FarmAgent } from './support/farm-cli.js';

const kCluster = 'watched';
let a: FarmAgent;
let b: FarmAgent;
let c: FarmAgent;

beforeAll(async () => {
  [a, b, c] = (await startFarm(3, [['management']])) as [FarmAgent, FarmAgent, FarmAgent];
}, 120_000);

afterAll(() => killAllAgents());

interface ViewBody {
  readonly cluster: string;
  readonly path: string;
  readonly member: string;
  readonly viewId: number;
  readonly members: readonly string[];
}

/** The `cluster.view` events of kCluster stored on the management node, read through `node`'s API. */
async function storedViews(node: FarmAgent): Promise<FarmEvent[]> {
  const page = (await api<EventsPage>(node, 'GET', '/v1/events/query?type=cluster.view&since=1h&limit=1000')).json;
  return page.events.filter((e) => (e.body as unknown as ViewBody).cluster === kCluster);
}

const nodesOf = (e: FarmEvent): string[] => (e.body as unknown as ViewBody).members.map((m) => m.split('/')[0]!).sort();

describe('cluster view changes reach the management node as farm events', () => {
  it('stores every member\'s view, and a survivor\'s view without a SIGKILLed member', async () => {
    const all = [a, b, c];
    const created = await api(b, 'POST', '/v1/clusters', { name: kCluster, nodes: all.map((n) => n.id) });
    expect(created.status, JSON.stringify(created.json)).toBe(201);

    // Each member's first view of all three, stored on a (posted on a, b and c).
    const everyone = all.map((n) => n.id).sort();
    const formed = await eventually('a stores a view of all three from each member', async () => {
      const events = await storedViews(a);
      const full = events.filter((e) => nodesOf(e).join() === everyone.join());
      return everyone.every((id) => full.some((e) => e.node === id)) ? full : undefined;
    }, 60_000, 250);
    for (const e of formed) {
      const body = e.body as unknown as ViewBody;
      expect(e.severity).toBe('info');
      expect(e.source).toBe(`cluster/${kCluster}/member/${e.node}`);
      expect(body.member).toBe(e.source);
      expect(body.path).toBe(`cluster/${kCluster}`);
    }
    // One view id for all three members' first full view (view agreement, as stored).
    const firstFull = new Map<string, number>();
    for (const e of formed) firstFull.set(e.node, Math.min(firstFull.get(e.node) ?? Infinity, (e.body as unknown as ViewBody).viewId));
    expect(new Set(firstFull.values()).size).toBe(1);

    // c crashes: b (not a management node) installs the view without c and its event reaches a.
    const killedAt = Date.now();
    await stop(c, 'SIGKILL');
    const without = await eventually('a stores b\'s view without c', async () => {
      const events = await storedViews(a);
      return events.find((e) => e.node === b.id && nodesOf(e).join() === [a.id, b.id].sort().join() && Date.parse(e.time) >= killedAt - 1000);
    }, 30_000, 250);
    const body = without.body as unknown as ViewBody;
    expect(body.viewId).toBeGreaterThan(firstFull.get(b.id)!);
    expect(body.members.some((m) => m.startsWith(c.id))).toBe(false);
    // a's own view of the same id carries the same members (what the management node can correlate).
    const fromA = await eventually('a stores its own view of the same id', async () => (await storedViews(a)).find((e) => e.node === a.id && (e.body as unknown as ViewBody).viewId === body.viewId));
    expect(nodesOf(fromA)).toEqual(nodesOf(without));
    // Any agent reads the management node's store: the same event through b's CLI.
    const viaCli = await galaxyJson<EventsPage>(['events', '--type', 'cluster.view', '--node', b.id, '--since', '1h', ...at(b)]);
    expect(viaCli.events.map((e) => e.id)).toContain(without.id);
  }, 120_000);
});
