// Channels on real agents (issue 18, item 3): three `galaxy agent` processes on loopback
// form a cluster; `galaxy channel create` opens a total-order reliable channel on each of
// them; two members send bursts over the API (each burst one corked step) and one sends
// with `galaxy channel send`; every member's inbox (GET .../messages, and `galaxy channel
// listen` on one of them) is read back and turned into the simulator's ChannelHistory:
//  - the real delivery logs pass src/sim/channels' checkers for total order, FIFO and
//    integrity (every delivered payload is one that was sent, under the (view, seq) the
//    sender's outcome reported), and the checkers examined every delivery (not vacuous);
//  - a tampered copy of the logs (two deliveries swapped at one member, one payload
//    changed) is caught by the same checkers;
//  - a burst of 200 messages of 1,000 bytes (channel packs far over a datagram) is
//    delivered whole and in order at every member, and no agent drops a cluster envelope
//    as too large (the bug bench:channels found: such packs never arrived);
//  - bad input gets coded errors: unknown cluster, a cluster this node is not in, a bad
//    ordering (API and CLI), an ordering that needs reliability, a conflicting reopen,
//    an unknown channel.
// The logs are closed with one marker view per member, because the checkers judge a view
// from the members passing out of it and the cluster is still in its view at the end.
// Deadlines, not sleeps: every wait polls until its condition or fails with what it waited for.
import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterSummary } from '../src/cluster/service/cluster-service.js';
import type { ChannelSummary, SendOutcome } from '../src/cluster/service/cluster-channel-desk.js';
import type { ChannelReadReply, WireEntry } from '../src/cluster/service/channel-routes.js';
import { checkFifo, checkIntegrity, checkTotal } from '../src/sim/channels/channel-checkers.js';
import { payloadDigest, type ChannelHistory, type LogEntry } from '../src/sim/channels/channel-history.js';
import { api, eventually, kCliPath, killAll, startFarm, type RigNode } from '../bench/cluster-rig.js';

afterAll(() => killAll());

/**
 * Runs `galaxy` as an operator does, without blocking this process: a spawnSync held the
 * event loop for seconds at high load, the agents' API closed the idle keep-alive
 * connections meanwhile, and the next fetch went out on a closed one ("other side closed").
 */
function galaxy(node: RigNode, ...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [kCliPath, ...args, '--data-dir', node.dataDir], { encoding: 'utf8', timeout: 60_000 }, (error, stdout, stderr) => {
      const code = (error as (Error & { code?: unknown }) | null)?.code;
      resolve({ status: error === null ? 0 : typeof code === 'number' ? code : null, stdout, stderr });
    });
  });
}

/** Messages each of the two API senders sends, in bursts of kBurst: more than the channel's default window (64), so the agent must give credit back. */
const kPerSender = 100;
const kBurst = 25;

async function readAll(node: RigNode, cluster: string, channel: string): Promise<WireEntry[]> {
  const out: WireEntry[] = [];
  let after = 0;
  for (;;) {
    const reply = await api<ChannelReadReply>(node, 'GET', `/v1/clusters/${cluster}/channels/${channel}/messages?after=${after}`);
    if (reply.status !== 200) throw new Error(`read at ${node.id}: ${reply.status} ${JSON.stringify(reply.json)}`);
    if (reply.json.dropped !== 0) throw new Error(`${node.id} dropped ${reply.json.dropped} inbox entries`);
    if (reply.json.entries.length === 0) return out;
    out.push(...reply.json.entries);
    after = reply.json.entries[reply.json.entries.length - 1]!.at;
  }
}

function logOf(entries: readonly WireEntry[], channel: string): LogEntry[] {
  const log: LogEntry[] = [];
  let lastView = 0;
  for (const e of entries) {
    if (e.kind === 'view') {
      log.push({ kind: 'view', viewId: e.viewId, members: [...(e.members ?? [])] });
      lastView = e.viewId;
    } else {
      const payload = Buffer.from(e.base64!, 'base64');
      log.push({ kind: 'deliver', channel, sender: e.sender!, viewId: e.viewId, seq: e.seq!, bytes: payload.length, digest: payloadDigest(payload) });
    }
  }
  // The closing marker (see the header): every member passes out of its last view.
  log.push({ kind: 'view', viewId: lastView + 1, members: [] });
  return log;
}

describe('channels on real agents', () => {
  let nodes: RigNode[] = [];
  beforeAll(async () => {
    nodes = await startFarm(3);
  }, 60_000);

  it('opens a total-order channel on three agents; every member delivers the same sequence; bad input gets coded errors', async () => {
    const [a, b, c] = nodes as [RigNode, RigNode, RigNode];
    const unknown = await api(a, 'POST', '/v1/clusters/nope/channels', { name: 'x', ordering: 'total' });
    expect(unknown.status).toBe(404);
    expect(JSON.stringify(unknown.json)).toContain('GALAXY_CLUSTER_UNKNOWN');

    expect((await galaxy(a, 'cluster', 'create', 'web', '--nodes', [a.id, b.id, c.id].join(','))).status).toBe(0);
    expect((await galaxy(a, 'cluster', 'create', 'pair', '--nodes', [a.id, b.id].join(','))).status).toBe(0);
    for (const n of nodes) {
      await eventually(`${n.id} is a member of web in a view of all three`, async () => {
        const s = (await api<ClusterSummary>(n, 'GET', '/v1/clusters/web')).json;
        return s.here?.status === 'member' && s.here.view?.members.length === 3 ? true : undefined;
      }, 30_000);
    }

    // Bad input. (C must know the cluster "pair" before it can say it is not in it: wait for the definition to replicate.)
    await eventually(`${c.id} knows the cluster pair`, async () => ((await api(c, 'GET', '/v1/clusters/pair')).status === 200 ? true : undefined), 20_000);
    const notMember = await api(c, 'POST', '/v1/clusters/pair/channels', { name: 'x', ordering: 'total' });
    expect(notMember.status).toBe(409);
    expect(JSON.stringify(notMember.json)).toContain('GALAXY_CLUSTER_NOT_MEMBER');
    const badOrdering = await api(a, 'POST', '/v1/clusters/web/channels', { name: 'x', ordering: 'sorted' });
    expect(badOrdering.status).toBe(400);
    expect(JSON.stringify(badOrdering.json)).toContain('ordering is one of none, fifo, causal, total, safe');
    const cliBadOrdering = await galaxy(a, 'channel', 'create', 'web', 'x', '--ordering', 'sorted');
    expect(cliBadOrdering.status).not.toBe(0);
    expect(cliBadOrdering.stderr).toContain('--ordering is one of none, fifo, causal, total, safe');
    const unreliableTotal = await api(a, 'POST', '/v1/clusters/web/channels', { name: 'x', ordering: 'total', reliability: 'unreliable' });
    expect(unreliableTotal.status).toBe(400);
    expect(JSON.stringify(unreliableTotal.json)).toContain('GALAXY_CHANNEL_BAD_OPTIONS');
    const noChannel = await api(a, 'POST', '/v1/clusters/web/channels/none/messages', { messages: [{ text: 'x' }] });
    expect(noChannel.status).toBe(404);
    expect(JSON.stringify(noChannel.json)).toContain('GALAXY_CHANNEL_UNKNOWN');
    const cliNoCluster = await galaxy(a, 'channel', 'send', 'nope', 'orders', 'hello');
    expect(cliNoCluster.status).not.toBe(0);
    expect(cliNoCluster.stderr).toContain('no cluster named "nope"');

    // Open the channel on all three (the first open is announced; the others find it and agree).
    for (const n of nodes) {
      const opened = await galaxy(n, 'channel', 'create', 'web', 'orders', '--ordering', 'total', '--reliable');
      expect(opened.status, opened.stderr).toBe(0);
      expect(opened.stdout).toContain('opened channel orders on cluster web: reliable, total order');
    }
    const conflict = await api(b, 'POST', '/v1/clusters/web/channels', { name: 'orders', ordering: 'fifo' });
    expect(conflict.status).toBe(409);
    expect(JSON.stringify(conflict.json)).toContain('GALAXY_CHANNEL_CONFIG_CONFLICT');

    // Rates change at runtime (no limit again before the sends); a bad rate is refused.
    const badRate = await api(a, 'PUT', '/v1/clusters/web/channels/orders', { rateMessagesPerSecond: -1 });
    expect(badRate.status).toBe(400);
    const rate = await api<ChannelSummary>(a, 'PUT', '/v1/clusters/web/channels/orders', { rateMessagesPerSecond: 'Infinity', burstMessages: 64 });
    expect(rate.status, JSON.stringify(rate.json)).toBe(200);

    // A and B send bursts concurrently; C sends one with the CLI.
    const memberOf = async (n: RigNode): Promise<string> => {
      const s = (await api<ClusterSummary>(n, 'GET', '/v1/clusters/web')).json;
      return `${n.id}/${s.here!.incarnation}`;
    };
    const sent: { sender: string; payload: Buffer; outcome: SendOutcome }[] = [];
    await Promise.all(
      [a, b].map(async (n) => {
        const sender = await memberOf(n);
        for (let burst = 0; burst < kPerSender / kBurst; burst++) {
          const payloads = Array.from({ length: kBurst }, (_, i) => `${n.id.slice(0, 4)}-${burst * kBurst + i}`);
          const reply = await api<{ outcomes: SendOutcome[] }>(n, 'POST', '/v1/clusters/web/channels/orders/messages', { messages: payloads.map((text) => ({ text })) });
          expect(reply.status, JSON.stringify(reply.json)).toBe(200);
          reply.json.outcomes.forEach((outcome, i) => sent.push({ sender, payload: Buffer.from(payloads[i]!), outcome }));
        }
      }),
    );
    const cliSend = await galaxy(c, 'channel', 'send', 'web', 'orders', 'from the CLI');
    expect(cliSend.status, cliSend.stderr).toBe(0);
    const cliSeq = /view (\d+) seq (\d+)/.exec(cliSend.stdout);
    expect(cliSeq, cliSend.stdout).not.toBeNull();
    sent.push({ sender: await memberOf(c), payload: Buffer.from('from the CLI'), outcome: { ok: true, viewId: Number(cliSeq![1]), seq: Number(cliSeq![2]) } });
    expect(sent.filter((s) => !s.outcome.ok)).toEqual([]);
    const total = 2 * kPerSender + 1;

    // Every member delivers all of them; its log is read back through the API.
    const logs: Record<string, LogEntry[]> = {};
    for (const n of nodes) {
      const entries = await eventually(`${n.id} delivered all ${total} messages`, async () => {
        const all = await readAll(n, 'web', 'orders');
        return all.filter((e) => e.kind === 'message').length >= total ? all : undefined;
      }, 20_000);
      logs[await memberOf(n)] = logOf(entries, 'orders');
    }
    const history: ChannelHistory = {
      channels: { orders: { reliability: 'reliable', ordering: 'total' } },
      sends: sent.map((s) => ({ channel: 'orders', sender: s.sender, viewId: s.outcome.ok ? s.outcome.viewId! : 0, seq: s.outcome.ok ? s.outcome.seq! : 0, bytes: s.payload.length, digest: payloadDigest(s.payload), deps: [] })),
      logs,
    };
    const totalResult = checkTotal(history, 'orders');
    expect(totalResult.violations).toEqual([]);
    expect(checkFifo(history, 'orders').violations).toEqual([]);
    const integrity = checkIntegrity(history, 'orders');
    expect(integrity.violations).toEqual([]);
    expect(integrity.checked).toBeGreaterThanOrEqual(3 * total);

    // The checkers are not vacuous on these logs: swapped deliveries and a changed payload are caught.
    const swapped = structuredClone(history);
    const log = Object.values(swapped.logs)[1]!;
    const firstDelivery = log.findIndex((e) => e.kind === 'deliver');
    const other = log.findIndex((e, i) => i > firstDelivery && e.kind === 'deliver' && (e as { sender: string }).sender !== (log[firstDelivery] as { sender: string }).sender);
    [log[firstDelivery], log[other]] = [log[other]!, log[firstDelivery]!];
    expect(checkTotal(swapped, 'orders').ok).toBe(false);
    const changed = structuredClone(history);
    const delivery = Object.values(changed.logs)[2]!.find((e) => e.kind === 'deliver') as { digest: number };
    delivery.digest ^= 1;
    expect(checkIntegrity(changed, 'orders').ok).toBe(false);

    // `galaxy channel listen` prints the same sequence as the API read (sender, view, seq, payload).
    const listen = await galaxy(b, 'channel', 'listen', 'web', 'orders', '--count', String(total));
    expect(listen.status, listen.stderr).toBe(0);
    const printed = listen.stdout.split('\n').filter((l) => / seq \d+: /.test(l));
    const expected = logs[await memberOf(b)]!.filter((e) => e.kind === 'deliver').map((e) => `${(e as { sender: string }).sender} view ${(e as { viewId: number }).viewId} seq ${(e as { seq: number }).seq}`);
    expect(printed.map((l) => l.slice(0, l.indexOf(':', l.indexOf(' seq '))))).toEqual(expected);
    expect(listen.stdout).toMatch(/^view \d+: /m);
    expect(listen.stdout).toContain(': from the CLI');

    // ls shows the counters.
    const list = (await api<ChannelSummary[]>(a, 'GET', '/v1/clusters/web/channels')).json;
    expect(list.map((ch) => [ch.name, ch.ordering, ch.delivered, ch.sends, ch.sendsDone])).toEqual([['orders', 'total', total, kPerSender, kPerSender]]);
    const ls = await galaxy(c, 'channel', 'ls', 'web');
    expect(ls.stdout).toMatch(new RegExp(`orders\\s+reliable total\\s+yes\\s+${total}\\s`));
  }, 150_000);

  it('delivers a burst bigger than a datagram at every member: packs over 1,400 bytes go over the stream, none dropped as too large', async () => {
    const [a] = nodes as [RigNode, RigNode, RigNode];
    for (const n of nodes) {
      const opened = await api(n, 'POST', '/v1/clusters/web/channels', { name: 'burst', ordering: 'fifo', windowMessages: 1024 });
      expect(opened.status, JSON.stringify(opened.json)).toBe(201);
    }
    // 200 messages of 1,000 bytes (under the API's 256 KiB body bound) in one corked step: packs of up to 16 KiB, which before
    // the fix went as datagrams the transport dropped, so not one was ever delivered.
    const payloads = Array.from({ length: 200 }, (_, i) => `${i} `.padEnd(1000, 'x'));
    const reply = await api<{ outcomes: SendOutcome[] }>(a, 'POST', '/v1/clusters/web/channels/burst/messages', { messages: payloads.map((text) => ({ text })), timeoutMs: 8000 });
    expect(reply.status, JSON.stringify(reply.json)).toBe(200);
    expect(reply.json.outcomes.filter((o) => !o.ok)).toEqual([]);
    for (const n of nodes) {
      const texts = await eventually(`${n.id} delivered the burst`, async () => {
        const messages = (await readAll(n, 'web', 'burst')).filter((e) => e.kind === 'message');
        return messages.length >= payloads.length ? messages.map((e) => Buffer.from(e.base64!, 'base64').toString()) : undefined;
      }, 20_000);
      expect(texts).toEqual(payloads);
      const metrics = await (await fetch(`${n.url}/metrics`, { headers: { authorization: `Bearer ${n.token}` } })).text();
      expect(metrics).not.toMatch(/galaxy_channel_packs_total\{[^}]*writer="typescript"[^}]*\} [1-9]/);
      expect(metrics).not.toMatch(/galaxy_transport_dropped_total\{code="GALAXY_TRANSPORT_TOO_LARGE"[^}]*\} [1-9]/);
      // Every pack this agent multicast was written by the pack kernel (Wasm, or its TS twin where Wasm is off).
      expect(metrics).toMatch(/galaxy_channel_packs_total\{backend="(wasm|ts)",writer="kernel"\} [1-9]/);
    }
  }, 60_000);
});
