/**
 * Channel throughput and latency among REAL agents (issue 18, item 6): `galaxy agent`
 * processes on loopback (bench/cluster-rig.ts: an open farm, the `local` preset, the
 * cluster service in each agent), one cluster of all of them, one reliable channel per
 * ordering opened on every member, and messages sent and read the way an integrator does:
 *
 *  - sends: POST /v1/clusters/:name/channels/:channel/messages, batches of kBatch
 *    messages (200 of 1,000 bytes: the API's body bound; one corked step in the agent each), kInFlight batches in flight per
 *    sender, each POST answered once its messages have their outcome per the guarantee;
 *  - deliveries: the WebSocket delivery stream (GET .../stream?after=AT), one per member,
 *    frames pushed as deliveries arrive; the agent consumes (gives credit back) only what
 *    it wrote to the stream, so no delivery is dropped. GALAXY_BENCH_READER=poll reads
 *    with the long-poll route instead (GET .../messages?after=AT&waitMs=...), as before.
 *
 * Per cluster size (3, 5, 8) and ordering (none, FIFO, causal, total, safe):
 *  - throughput: messages per second delivered at EVERY member (messages sent divided by
 *    the time from the first send until the slowest member has read the last), 100 B and
 *    1,000 B, one sender and all members sending;
 *  - latency at 1,000 msg/s (100 B, one sender: kLatencyBatch messages every
 *    kLatencyBatch ms): from the POST that carried a message to the read that returned it
 *    at each member, p50 / p99 over every (message, member).
 * Corosync CPG's agreed-order figures (issue 18, measured on these machines) are printed
 * beside, with our ratio. The bench process itself (the client of every agent) runs on
 * the same machine as the agents: what is measured is the whole path an integrator pays,
 * HTTP and JSON included, on a 2-vCPU machine shared with other jobs.
 *
 *   npm run bench:channels                        (writes bench/results/channels.json)
 *   GALAXY_BENCH_SIZES=5 npm run bench:channels                         (one size: writes bench/results/channels-5.json)
 *   GALAXY_BENCH_SIZES=5 GALAXY_BENCH_ORDERINGS=total npm run bench:channels   (a subset of orderings: bench/results/channels-subset.json)
 *   GALAXY_BENCH_MEASURE_MS=2000 (default) how long senders send in a throughput cell
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { ChannelReadReply } from '../src/cluster/service/channel-routes.js';
import type { SendOutcome } from '../src/cluster/service/cluster-channel-desk.js';
import type { ClusterSummary } from '../src/cluster/service/cluster-service.js';
import type { Ordering } from '../src/core/channels/channel-options.js';
import { packageRoot } from '../src/core/platform/package-root.js';
import { WebSocket } from 'ws';
import { benchGrid, corosyncOf, kCorosync, kCorosyncNote, quantileMs } from './channels-common.js';
import { api, eventually, killAll, startFarm, type RigNode } from './cluster-rig.js';

const kCluster = 'bench';
/** Messages per POST at most: one corked step in the agent. */
const kBatch = 256;
/** A POST's JSON stays under the API's 256 KiB body bound: 1,000-byte messages go 200 at a time. */
const kBatchBodyBytes = 200_000;
/** POSTs in flight per sender: the next batch is in the agent while the last one's outcomes come back. */
const kInFlight = 4;
/** The channel's window: credits per receiver, so a sender may have this many undelivered messages per member. */
const kWindowMessages = 1024;
/** Entries a read returns at most (the route's bound). */
const kReadMax = 1024;
const kLatencyRatePerSecond = 1000;
const kLatencyBatch = 5;
const kLatencyMeasureMs = 3000;
const kLatencyInFlightMax = 32;
/** How long a cell may take to drain after its senders stop before it is reported incomplete. */
const kDrainMs = 10_000;
const kLatencySamplesMax = 200_000;
/** A send's outcome wait: under the API's 10 s request timeout. */
const kSendTimeoutMs = 8_000;
const debug = process.env['GALAXY_BENCH_DEBUG'] === '1';
/**
 * The cluster's suspicion timeout (the failure detector's; default 400 ms). On this
 * machine, shared by six engineers' runs at load 20-70, an agent off the CPU for 400 ms
 * is common, and each such stall cut a member from the view mid-cell (its sends then fail
 * with GALAXY_CLUSTER_NOT_MEMBER, so other members miss whole POSTs). 2 s keeps the
 * channels, not the failure detector, under test; Corosync 3's token timeout is 3 s.
 */
const kSuspectTimeoutMs = Number(process.env['GALAXY_BENCH_SUSPECT_MS'] ?? 2000);
/** How members' deliveries are read: 'stream' (the WebSocket delivery stream, default) or 'poll' (the long-poll route, as before). */
const kReaderKind = process.env['GALAXY_BENCH_READER'] === 'poll' ? 'poll' : 'stream';

const { sizes, orderings, subset } = benchGrid();
const measureMs = Number(process.env['GALAXY_BENCH_MEASURE_MS'] ?? 2000);

interface ThroughputCell {
  /** Views installed at the first member during the cell (0: the cluster stayed in one view). */
  viewChanges: number;
  messages: number;
  deliveredPerSecond: number;
  slowestMemberMs: number;
  /** Inbox entries that fell off a member's bound (4,096) before its reader got them (counted as delivered there). */
  readerDrops: number;
  failedSends: number;
  complete: boolean;
}

interface LatencyCell {
  messages: number;
  /** The rate the sender kept (1,000 unless the agent fell behind and held it back). */
  sendRatePerSecond: number;
  samples: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  failedSends: number;
}

/**
 * One reader per member, of either kind: counts the messages its member delivered to it,
 * the entries that fell off the inbox's bound before it read them, and, in a latency run,
 * how long after its send each tagged message arrived. Started by start(); a failed read
 * is kept and thrown by stop(), never left as an unhandled rejection.
 */
abstract class MemberReader {
  protected after: number;
  read = 0;
  dropped = 0;
  /** Reads the agent refused, or streams it closed (not a running member of the cluster for a while). */
  refusals = 0;
  lastAtMs = 0;
  /** Latency run: how long after its send each tagged message reached this reader. */
  readonly latencies: number[] = [];
  protected running = true;
  private error: unknown = null;
  private done: Promise<void> = Promise.resolve();

  constructor(protected readonly node: RigNode, protected readonly channel: string, after: number, private readonly sentAt: Map<string, number> | null) {
    this.after = after;
  }

  start(): this {
    this.done = this.loop().catch((error: unknown) => {
      this.error = error;
    });
    return this;
  }

  protected abstract loop(): Promise<void>;

  /** Stops the loop at once (a stream closes its socket). */
  protected halt(): void {}

  /** Takes one read reply (a long-poll's answer or a stream's frame) that arrived at `now`. */
  protected take(reply: ChannelReadReply, now: number): void {
    // Entries that fell off the inbox's bound before this reader got to them.
    this.dropped += Math.max(0, reply.first - (this.after + 1));
    for (const e of reply.entries) {
      if (e.kind !== 'message') continue;
      this.read++;
      this.lastAtMs = now;
      if (this.sentAt !== null) {
        const tag = Buffer.from(e.base64!, 'base64').subarray(0, 24).toString('latin1').split(' ')[0]!;
        const at = this.sentAt.get(tag);
        if (at !== undefined && this.latencies.length < kLatencySamplesMax) this.latencies.push(now - at);
      }
    }
    if (reply.entries.length > 0) this.after = reply.entries[reply.entries.length - 1]!.at;
  }

  async stop(): Promise<void> {
    this.running = false;
    this.halt();
    await this.done;
    if (this.error !== null) throw this.error;
  }
}

/** GALAXY_BENCH_READER=poll: a long-poll loop from a cursor. */
class Reader extends MemberReader {
  protected async loop(): Promise<void> {
    while (this.running) {
      const reply = await api<ChannelReadReply>(this.node, 'GET', `/v1/clusters/${kCluster}/channels/${this.channel}/messages?after=${this.after}&waitMs=200&max=${kReadMax}`).catch(() => null);
      const now = performance.now();
      if (reply === null || reply.status !== 200) {
        // Cut out of the view under load (409 while its core rejoins), or a connection the agent reset: counted, and read on.
        this.refusals++;
        await new Promise((resolve) => setTimeout(resolve, 50));
        continue;
      }
      this.take(reply.json, now);
    }
  }
}

/**
 * One stream reader per member (the default): the WebSocket delivery stream
 * (GET .../stream?after=AT), each frame a read reply pushed as deliveries arrive. With a
 * stream attached, the agent consumes a delivery only once it wrote it to this client, so
 * nothing falls off the inbox: a slow reader slows the senders. Reconnects from its cursor
 * if the agent closes it (a member cut from the view and back).
 */
class StreamReader extends MemberReader {
  private socket: WebSocket | null = null;
  private markOpen!: () => void;
  /** Resolves once the first connection is open (sends start only after, so nothing is missed or counted late). */
  readonly opened: Promise<void> = new Promise((resolve) => (this.markOpen = resolve));

  protected async loop(): Promise<void> {
    while (this.running) {
      await new Promise<void>((resolve) => {
        const url = `${this.node.url.replace(/^http/, 'ws')}/v1/clusters/${kCluster}/channels/${this.channel}/stream?after=${this.after}`;
        const socket = new WebSocket(url, { headers: { authorization: `Bearer ${this.node.token}` }, perMessageDeflate: false });
        this.socket = socket;
        socket.on('open', () => this.markOpen());
        socket.on('message', (data: Buffer) => this.take(JSON.parse(data.toString('utf8')) as ChannelReadReply, performance.now()));
        socket.on('error', (error) => {
          if (debug) console.error(`    stream at ${this.node.id}: ${error.message}`);
        });
        socket.on('close', (code, reason) => {
          if (debug) console.error(`    stream at ${this.node.id} closed ${code} ${reason.toString()}`);
          resolve();
        });
      });
      this.socket = null;
      if (!this.running) return;
      this.refusals++;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  protected override halt(): void {
    this.socket?.close();
    this.markOpen();
  }
}

async function newReader(node: RigNode, channel: string, sentAt: Map<string, number> | null): Promise<MemberReader> {
  const after = await cursorOf(node, channel);
  if (kReaderKind === 'poll') return new Reader(node, channel, after, sentAt).start();
  const reader = new StreamReader(node, channel, after, sentAt).start();
  await reader.opened;
  return reader;
}

async function cursorOf(node: RigNode, channel: string): Promise<number> {
  const list = (await api<Array<{ name: string; last: number }>>(node, 'GET', `/v1/clusters/${kCluster}/channels`)).json;
  return list.find((c) => c.name === channel)?.last ?? 0;
}

function payloadOf(tag: string, bytes: number): string {
  return `${tag} `.padEnd(bytes, 'x').slice(0, Math.max(bytes, tag.length + 1));
}

/** Sends one batch; returns how many have no ok outcome (a refused or reset request counts them all: the agent may still deliver some, which only makes a cell look slower). */
async function sendBatch(node: RigNode, channel: string, texts: readonly string[]): Promise<number> {
  try {
    const reply = await api<{ outcomes: SendOutcome[] }>(node, 'POST', `/v1/clusters/${kCluster}/channels/${channel}/messages`, { messages: texts.map((text) => ({ text })), timeoutMs: kSendTimeoutMs });
    if (reply.status !== 200) {
      console.error(`  send at ${node.id}: ${reply.status} ${JSON.stringify(reply.json).slice(0, 200)}`);
      return texts.length;
    }
    return reply.json.outcomes.filter((o) => !o.ok).length;
  } catch (error) {
    console.error(`  send at ${node.id}: ${(error as Error).message} ${String((error as { cause?: unknown }).cause ?? '')}`);
    return texts.length;
  }
}

async function viewIdOf(node: RigNode): Promise<number> {
  const s = (await api<ClusterSummary>(node, 'GET', `/v1/clusters/${kCluster}`).catch(() => null))?.json;
  return s?.here?.view?.viewId ?? -1;
}

async function throughput(nodes: readonly RigNode[], channel: string, payloadBytes: number, senders: readonly RigNode[]): Promise<ThroughputCell> {
  const viewBefore = await viewIdOf(nodes[0]!);
  const readers = await Promise.all(nodes.map((n) => newReader(n, channel, null)));
  if (debug) console.log(`    ${readers.length} readers attached`);
  let sent = 0;
  let failed = 0;
  const startMs = performance.now();
  const stopAtMs = startMs + measureMs;
  await Promise.all(senders.map(async (sender, s) => {
    let next = 0;
    const lane = async (): Promise<void> => {
      while (performance.now() < stopAtMs) {
        const texts = Array.from({ length: Math.min(kBatch, Math.floor(kBatchBodyBytes / (payloadBytes + 16))) }, () => payloadOf(`s${s}-${next++}`, payloadBytes));
        sent += texts.length;
        failed += await sendBatch(sender, channel, texts);
      }
    };
    await Promise.all(Array.from({ length: kInFlight }, lane));
  }));
  const expected = sent - failed;
  const deadline = performance.now() + kDrainMs;
  while (readers.some((r) => r.read + r.dropped < expected) && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  await Promise.all(readers.map((r) => r.stop()));
  const complete = readers.every((r) => r.read + r.dropped >= expected);
  if (debug) console.log(`    sent ${sent} failed ${failed}; read ${readers.map((r) => `${r.read}+${r.dropped}${r.refusals > 0 ? ` (${r.refusals} refused)` : ''}`).join(' ')} after ${Math.round(performance.now() - startMs)} ms`);
  const slowestMemberMs = Math.max(1, Math.max(...readers.map((r) => r.lastAtMs)) - startMs);
  // A member whose reader got nothing delivered nothing to its client: the cell's rate is 0, whatever the others did.
  const deliveredPerSecond = readers.some((r) => r.read + r.dropped === 0) ? 0 : Math.round((expected / slowestMemberMs) * 1000);
  const viewChanges = Math.max(0, (await viewIdOf(nodes[0]!)) - viewBefore);
  return { viewChanges, messages: expected, deliveredPerSecond, slowestMemberMs: Math.round(slowestMemberMs), readerDrops: readers.reduce((a, r) => a + r.dropped, 0), failedSends: failed, complete };
}

async function latency(nodes: readonly RigNode[], channel: string): Promise<LatencyCell> {
  const sentAt = new Map<string, number>();
  const readers = await Promise.all(nodes.map((n) => newReader(n, channel, sentAt)));
  const sender = nodes[0]!;
  const intervalMs = (kLatencyBatch * 1000) / kLatencyRatePerSecond;
  const batches = Math.round(kLatencyMeasureMs / intervalMs);
  const posts: Promise<number>[] = [];
  const inFlight = new Set<Promise<number>>();
  const startMs = performance.now();
  let sent = 0;
  for (let b = 0; b < batches; b++) {
    // Paced against the schedule, not the previous send, so a slow turn does not lower the rate.
    const wait = startMs + b * intervalMs - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const texts = Array.from({ length: kLatencyBatch }, (_, i) => payloadOf(`l${b * kLatencyBatch + i}`, 100));
    const now = performance.now();
    for (const t of texts) sentAt.set(t.split(' ')[0]!, now);
    sent += texts.length;
    const post = sendBatch(sender, channel, texts).finally(() => inFlight.delete(post));
    inFlight.add(post);
    posts.push(post);
    // The API takes 256 connections at most: an agent that falls behind slows the sender instead.
    if (inFlight.size >= kLatencyInFlightMax) await Promise.race(inFlight);
  }
  const achievedPerSecond = Math.round((sent / (performance.now() - startMs)) * 1000);
  const failed = (await Promise.all(posts)).reduce((a, f) => a + f, 0);
  const deadline = performance.now() + kDrainMs;
  while (readers.some((r) => r.read + r.dropped < sent - failed) && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  await Promise.all(readers.map((r) => r.stop()));
  const all = readers.flatMap((r) => r.latencies).sort((a, b) => a - b);
  return { messages: sent, sendRatePerSecond: achievedPerSecond, samples: all.length, p50Ms: quantileMs(all, 0.5), p99Ms: quantileMs(all, 0.99), maxMs: quantileMs(all, 1), failedSends: failed };
}

async function formCluster(nodes: readonly RigNode[]): Promise<void> {
  const created = await api(nodes[0]!, 'POST', '/v1/clusters', { name: kCluster, nodes: nodes.map((n) => n.id), tuning: { suspectTimeoutMs: kSuspectTimeoutMs } });
  if (created.status !== 201) throw new Error(`cluster create: ${created.status} ${JSON.stringify(created.json)}`);
  for (const n of nodes) {
    await eventually(`${n.id} is in a view of ${nodes.length}`, async () => {
      const s = (await api<ClusterSummary>(n, 'GET', `/v1/clusters/${kCluster}`)).json;
      return s.here?.status === 'member' && s.here.view?.members.length === nodes.length ? true : undefined;
    }, 60_000);
  }
}

async function openChannel(nodes: readonly RigNode[], ordering: Ordering): Promise<string> {
  const name = `load-${ordering}`;
  for (const n of nodes) {
    const opened = await api(n, 'POST', `/v1/clusters/${kCluster}/channels`, { name, ordering, reliability: 'reliable', windowMessages: kWindowMessages });
    if (opened.status !== 201) throw new Error(`open ${name} at ${n.id}: ${opened.status} ${JSON.stringify(opened.json)}`);
  }
  return name;
}

function ratio(ours: number, theirs: number | undefined): string {
  return theirs === undefined ? '' : ` (${(ours / theirs).toFixed(2)}x Corosync ${theirs})`;
}

// The agents are this process's children: never leave them running.
process.on('exit', () => killAll());
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(130));

async function main(): Promise<void> {
  const loadBefore = loadavg();
  console.log(`bench:channels: real agents on loopback, HTTP API clients; load average ${loadBefore.map((x) => x.toFixed(2)).join(' ')}`);
  const results: Record<string, unknown>[] = [];
  for (const size of sizes) {
    const nodes = await startFarm(size);
    if (debug) console.log(`  ${size} agents started`);
    try {
      await formCluster(nodes);
      if (debug) console.log(`  cluster of ${size} formed`);
      const corosync = corosyncOf(size);
      for (const ordering of orderings) {
        const channel = await openChannel(nodes, ordering);
        const cells: Record<string, ThroughputCell | LatencyCell> = {};
        const label = (name: string, cell: ThroughputCell, theirs: number | undefined): void => {
          cells[name] = cell;
          console.log(`  ${size} members ${ordering.padEnd(6)} ${name.padEnd(16)} ${String(cell.deliveredPerSecond).padStart(7)} msg/s at every member${ratio(cell.deliveredPerSecond, theirs)}${cell.complete ? '' : ' INCOMPLETE'}${cell.readerDrops > 0 ? ` (${cell.readerDrops} reader drops)` : ''}${cell.failedSends > 0 ? ` (${cell.failedSends} sends failed)` : ''}${cell.viewChanges > 0 ? ` (${cell.viewChanges} view changes)` : ''}`);
        };
        label('100B one sender', await throughput(nodes, channel, 100, nodes.slice(0, 1)), corosync?.oneSender100);
        label('100B all sending', await throughput(nodes, channel, 100, nodes), corosync?.allSending100);
        label('1000B one sender', await throughput(nodes, channel, 1000, nodes.slice(0, 1)), corosync?.oneSender1000);
        label('1000B all sending', await throughput(nodes, channel, 1000, nodes), undefined);
        const lat = await latency(nodes, channel);
        cells['latency 1000 msg/s'] = lat;
        console.log(`  ${size} members ${ordering.padEnd(6)} latency at 1,000 msg/s: p50 ${lat.p50Ms} ms, p99 ${lat.p99Ms} ms, max ${lat.maxMs} ms over ${lat.samples} deliveries, sent at ${lat.sendRatePerSecond} msg/s${corosync === null ? '' : ` (Corosync p50 ${corosync.p50Ms}, p99 ${corosync.p99Ms} ms)`}; load average ${loadavg()[0]!.toFixed(2)}`);
        results.push({ size, ordering, cells, loadavg: loadavg() });
        // Written after every row, so a run cut short keeps what it measured (complete: false).
        write(results, loadBefore, false);
      }
    } catch (error) {
      for (const n of nodes) if (n.child.exitCode !== null || n.child.signalCode !== null) console.error(`agent ${n.id} exited ${n.child.exitCode ?? n.child.signalCode}: ${n.stderr.slice(-3000)}`);
      throw error;
    } finally {
      killAll();
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
  write(results, loadBefore, true);
}

function write(results: readonly Record<string, unknown>[], loadBefore: number[], complete: boolean): void {
  const out = {
    bench: 'channels',
    complete,
    what: `real galaxy agents on loopback; sends over the HTTP API (batches of up to 256 per POST and 200 KB, 4 in flight per sender); reads ${kReaderKind === 'stream' ? 'through the WebSocket delivery stream' : 'by long-polls of up to 1,024'}`,
    reader: kReaderKind,
    suspectTimeoutMs: kSuspectTimeoutMs,
    batch: kBatch,
    inFlight: kInFlight,
    windowMessages: kWindowMessages,
    measureMs,
    loadavgBefore: loadBefore,
    loadavgAfter: loadavg(),
    corosyncCpg: { ...kCorosync, note: kCorosyncNote },
    results,
  };
  const dir = join(packageRoot(), 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  // A subset of sizes has a file of its own (channels-5.json); of orderings, channels-subset.json.
  const file = process.env['GALAXY_BENCH_ORDERINGS'] !== undefined ? 'channels-subset.json' : subset ? `channels-${sizes.join('-')}.json` : 'channels.json';
  writeFileSync(join(dir, file), `${JSON.stringify(out, null, 2)}\n`);
  if (complete) console.log(`wrote bench/results/${file}`);
}

main().catch((error: unknown) => {
  killAll();
  console.error(error);
  process.exit(1);
});
