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
 *   GALAXY_BENCH_CELLS=latency npm run bench:channels    (the latency cells only: bench/results/channels-latency.json)
 *   GALAXY_BENCH_MEASURE_MS=2000 (default) how long senders send in a throughput cell
 *   GALAXY_BENCH_SECURE=1 a farm key on every agent (every message sealed) instead of an open farm
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { ChannelReadReply } from '../src/cluster/service/channel-routes.js';
import type { SendOutcome } from '../src/cluster/service/cluster-channel-desk.js';
import type { ClusterSummary } from '../src/cluster/service/cluster-service.js';
import { kOrderings, type Ordering } from '../src/core/channels/channel-options.js';
import { packageRoot } from '../src/core/platform/package-root.js';
import { WebSocket } from 'ws';
import { api, eventually, killAll, startFarm, type RigNode } from './cluster-rig.js';
import { hopMarker } from '../src/node/util/hop-trace.js';

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
/** Sent at the same rate before the measured 3 s, not measured (warm-up). */
const kLatencyWarmMs = 1000;
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
/**
 * GALAXY_BENCH_TRACE=1: the agents trace each latency message's hops (src/node/util/hop-trace.ts,
 * GALAXY_CHANNEL_TRACE_DIR) and the latency cells print where the time went, hop by hop
 * (stream reader only).
 */
const traceDir = process.env['GALAXY_BENCH_TRACE'] === '1' ? mkdtempSync(join(tmpdir(), 'galaxy-hop-trace-')) : null;
if (traceDir !== null) process.env['GALAXY_CHANNEL_TRACE_DIR'] = traceDir;
/** How members' deliveries are read: 'stream' (the WebSocket delivery stream, default) or 'poll' (the long-poll route, as before). */
/** GALAXY_BENCH_SECURE=1: the rig's agents hold a farm key and seal every message (cluster-rig.ts). */
const kSecureFarm = process.env['GALAXY_BENCH_SECURE'] === '1';
const kReaderKind = process.env['GALAXY_BENCH_READER'] === 'poll' ? 'poll' : 'stream';

/** Corosync CPG, agreed order, one synchronous sender (issue 18; corosync 3.1.7, network namespaces, medians of 3). */
interface CorosyncFigures {
  readonly oneSender100: number;
  readonly allSending100: number;
  readonly oneSender1000: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}
const kCorosync: Readonly<Record<3 | 5, CorosyncFigures>> = {
  3: { oneSender100: 12_000, allSending100: 15_400, oneSender1000: 12_200, p50Ms: 0.51, p99Ms: 1.56 },
  5: { oneSender100: 7_800, allSending100: 7_800, oneSender1000: 6_700, p50Ms: 0.68, p99Ms: 1.76 },
};
const kCorosyncNote = 'Corosync CPG 3.1.7 agreed order, one synchronous sender, nodes in network namespaces, medians of 3 (issue 18); 8 members not measured';

const sizes = (process.env['GALAXY_BENCH_SIZES'] ?? '3,5,8').split(',').map(Number);
const orderings = (process.env['GALAXY_BENCH_ORDERINGS']?.split(',') ?? [...kOrderings]) as Ordering[];
const measureMs = Number(process.env['GALAXY_BENCH_MEASURE_MS'] ?? 2000);
/** Which cells run: 'throughput', 'latency' or both (default); a latency-only run writes bench/results/channels-latency.json. */
const cellKinds = new Set((process.env['GALAXY_BENCH_CELLS'] ?? 'throughput,latency').split(','));
const latencyOnly = !cellKinds.has('throughput');
const subset = process.env['GALAXY_BENCH_SIZES'] !== undefined || process.env['GALAXY_BENCH_ORDERINGS'] !== undefined || latencyOnly;

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
  /** Trace runs (GALAXY_BENCH_TRACE=1): the time between consecutive hops, per hop. */
  hops?: HopRow[];
}

/** One reader per member: a long-poll loop from a cursor, counting messages and noting when each tagged one arrived. */
class Reader {
  private after: number;
  read = 0;
  dropped = 0;
  /** Reads the agent refused (not a running member of the cluster for a while). */
  refusals = 0;
  lastAtMs = 0;
  private running = true;
  private error: unknown = null;
  private readonly done: Promise<void>;
  /** Latency run: send time per tag, and what this reader saw. */
  readonly latencies: number[] = [];

  constructor(private readonly node: RigNode, private readonly channel: string, after: number, private readonly sentAt: Map<string, number> | null) {
    this.after = after;
    // A failed read is kept and thrown by stop(), never left as an unhandled rejection.
    this.done = this.loop().catch((error: unknown) => {
      this.error = error;
    });
  }

  private async loop(): Promise<void> {
    while (this.running) {
      const reply = await api<ChannelReadReply>(this.node, 'GET', `/v1/clusters/${kCluster}/channels/${this.channel}/messages?after=${this.after}&waitMs=200&max=${kReadMax}`).catch(() => null);
      const now = performance.now();
      if (reply === null || reply.status !== 200) {
        // Cut out of the view under load (409 while its core rejoins), or a connection the agent reset: counted, and read on.
        this.refusals++;
        await new Promise((resolve) => setTimeout(resolve, 50));
        continue;
      }
      // Entries that fell off the inbox's bound before this reader got to them.
      this.dropped += Math.max(0, reply.json.first - (this.after + 1));
      for (const e of reply.json.entries) {
        if (e.kind !== 'message') continue;
        this.read++;
        this.lastAtMs = now;
        if (this.sentAt !== null) {
          const tag = Buffer.from(e.base64!, 'base64').subarray(0, 24).toString('latin1').split(' ')[0]!;
          const at = this.sentAt.get(tag);
          if (at !== undefined && this.latencies.length < kLatencySamplesMax) this.latencies.push(now - at);
        }
      }
      if (reply.json.entries.length > 0) this.after = reply.json.entries[reply.json.entries.length - 1]!.at;
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
    if (this.error !== null) throw this.error;
  }
}

/**
 * One stream reader per member (the default): the WebSocket delivery stream
 * (GET .../stream?after=AT), each frame a read reply pushed as deliveries arrive. With a
 * stream attached, the agent consumes a delivery only once it wrote it to this client, so
 * nothing falls off the inbox: a slow reader slows the senders. Reconnects from its cursor
 * if the agent closes it (a member cut from the view and back).
 */
class StreamReader {
  private after: number;
  read = 0;
  dropped = 0;
  refusals = 0;
  lastAtMs = 0;
  readonly latencies: number[] = [];
  /** Trace runs: when (hrtime ns) each traced message's frame arrived here. */
  readonly arrivedNs = new Map<string, bigint>();
  private running = true;
  private socket: WebSocket | null = null;
  private readonly done: Promise<void>;
  private error: unknown = null;

  constructor(private readonly node: RigNode, private readonly channel: string, after: number, private readonly sentAt: Map<string, number> | null) {
    this.after = after;
    this.done = this.loop().catch((error: unknown) => {
      this.error = error;
    });
  }

  private markOpen!: () => void;
  /** Resolves once the first connection is open (sends start only after, so nothing is missed or counted late). */
  readonly opened: Promise<void> = new Promise((resolve) => (this.markOpen = resolve));

  private async loop(): Promise<void> {
    while (this.running) {
      await new Promise<void>((resolve) => {
        const url = `${this.node.url.replace(/^http/, 'ws')}/v1/clusters/${kCluster}/channels/${this.channel}/stream?after=${this.after}`;
        const socket = new WebSocket(url, { headers: { authorization: `Bearer ${this.node.token}` }, perMessageDeflate: false });
        this.socket = socket;
        socket.on('open', () => this.markOpen());
        socket.on('message', (data: Buffer) => this.frame(JSON.parse(data.toString('utf8')) as ChannelReadReply));
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

  private frame(reply: ChannelReadReply): void {
    const now = performance.now();
    const nowNs = process.hrtime.bigint();
    this.dropped += Math.max(0, reply.first - (this.after + 1));
    for (const e of reply.entries) {
      if (e.kind !== 'message') continue;
      this.read++;
      this.lastAtMs = now;
      if (this.sentAt !== null) {
        const tag = Buffer.from(e.base64!, 'base64').subarray(0, 24).toString('latin1').split(' ')[0]!;
        const at = this.sentAt.get(tag);
        if (at !== undefined && this.latencies.length < kLatencySamplesMax) this.latencies.push(now - at);
        if (at !== undefined && traceDir !== null) this.arrivedNs.set(tag.slice(4), nowNs);
      }
    }
    if (reply.entries.length > 0) this.after = reply.entries[reply.entries.length - 1]!.at;
  }

  async stop(): Promise<void> {
    this.running = false;
    this.socket?.close();
    this.markOpen();
    await this.done;
    if (this.error !== null) throw this.error;
  }
}

type AnyReader = Reader | StreamReader;

async function newReader(node: RigNode, channel: string, sentAt: Map<string, number> | null): Promise<AnyReader> {
  const after = await cursorOf(node, channel);
  if (kReaderKind === 'poll') return new Reader(node, channel, after, sentAt);
  const reader = new StreamReader(node, channel, after, sentAt);
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

/**
 * The senders' HTTP client: node:http over kept-alive connections (the default), or the
 * global fetch (undici, GALAXY_BENCH_SEND_CLIENT=fetch, as runs before s7). The bench
 * process is the client of every agent on the same two CPUs: with fetch, its own work per
 * POST showed as the largest hop of a traced latency cell ("client.post -> api.body").
 */
const kSendClient = process.env['GALAXY_BENCH_SEND_CLIENT'] === 'fetch' ? 'fetch' : 'http';
const keptAlive = new HttpAgent({ keepAlive: true, maxSockets: 64 });

function postKeptAlive<T>(node: RigNode, path: string, body: unknown): Promise<{ status: number; json: T }> {
  const text = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const request = httpRequest(`${node.url}${path}`, { method: 'POST', agent: keptAlive, headers: { authorization: `Bearer ${node.token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        const answer = Buffer.concat(chunks).toString('utf8');
        try {
          resolve({ status: response.statusCode ?? 0, json: (answer === '' ? null : JSON.parse(answer)) as T });
        } catch (error) {
          reject(error as Error);
        }
      });
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end(text);
  });
}

/** Sends one batch; returns how many have no ok outcome (a refused or reset request counts them all: the agent may still deliver some, which only makes a cell look slower). */
async function sendBatch(node: RigNode, channel: string, texts: readonly string[]): Promise<number> {
  try {
    const path = `/v1/clusters/${kCluster}/channels/${channel}/messages`;
    const body = { messages: texts.map((text) => ({ text })), timeoutMs: kSendTimeoutMs };
    const reply = kSendClient === 'fetch' ? await api<{ outcomes: SendOutcome[] }>(node, 'POST', path, body) : await postKeptAlive<{ outcomes: SendOutcome[] }>(node, path, body);
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

/** Traced ids run on across the latency cells of a run (each cell reads its own range). */
let nextTraceId = 1;

async function latency(nodes: readonly RigNode[], channel: string): Promise<LatencyCell> {
  const sentAt = new Map<string, number>();
  const postedNs = new Map<string, bigint>();
  const firstId = nextTraceId;
  const readers = await Promise.all(nodes.map((n) => newReader(n, channel, sentAt)));
  const sender = nodes[0]!;
  const intervalMs = (kLatencyBatch * 1000) / kLatencyRatePerSecond;
  // The first kLatencyWarmMs of sends are not measured: the first cell after the cluster formed ran on cold code.
  const warmBatches = Math.round(kLatencyWarmMs / intervalMs);
  const batches = warmBatches + Math.round(kLatencyMeasureMs / intervalMs);
  const posts: Promise<number>[] = [];
  const inFlight = new Set<Promise<number>>();
  const startMs = performance.now();
  let sent = 0;
  for (let b = 0; b < batches; b++) {
    // Paced against the schedule, not the previous send, so a slow turn does not lower the rate.
    const wait = startMs + b * intervalMs - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    // Each tag is a hop-trace marker (HOPT and 8 digits): traced agents record every hop it crosses.
    const texts = Array.from({ length: kLatencyBatch }, () => payloadOf(hopMarker(nextTraceId++), 100));
    const now = performance.now();
    const nowNs = process.hrtime.bigint();
    for (const t of texts) {
      if (b < warmBatches) break;
      const tag = t.split(' ')[0]!;
      sentAt.set(tag, now);
      postedNs.set(tag.slice(4), nowNs);
    }
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
  const at = (q: number): number => round2(all[Math.min(all.length - 1, Math.floor(q * all.length))] ?? NaN);
  const hops = traceDir === null ? undefined : await hopBreakdown(nodes, readers as StreamReader[], postedNs, firstId, nextTraceId);
  return { messages: sent, sendRatePerSecond: achievedPerSecond, samples: all.length, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: round2(all[all.length - 1] ?? NaN), failedSends: failed, ...(hops === undefined ? {} : { hops }) };
}

/** One hop of a traced message: the time from the hop before it to this one, over every (message, receiving member). */
export interface HopRow {
  readonly hop: string;
  readonly samples: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

/** The hops of a message from the client through the sender's agent to another member's client. */
const kRemoteHops = ['client.post', 'api.body', 'api.send', 'main.out', 'main.post', 'worker.cmd', 'worker.sent', 'worker.recv', 'worker.post', 'main.app', 'main.in', 'main.deliver', 'ws.send', 'ws.written', 'client.frame'] as const;
/** The sender's own delivery. */
const kSelfHops = ['client.post', 'api.body', 'api.send', 'main.deliver', 'ws.send', 'ws.written', 'client.frame'] as const;

/**
 * Reads the agents' trace files (after their flush), and for every traced id of this
 * cell and every member, the time between consecutive hops of its path; rows for a
 * remote member's path, then the sender's own ("self ..."), then end to end.
 */
async function hopBreakdown(nodes: readonly RigNode[], readers: readonly StreamReader[], postedNs: ReadonlyMap<string, bigint>, firstId: number, endId: number): Promise<HopRow[]> {
  await new Promise((resolve) => setTimeout(resolve, 600));
  // pid -> id -> hop -> first time
  const byPid = new Map<number, Map<string, Map<string, bigint>>>();
  for (const file of readdirSync(traceDir!)) {
    const pid = Number(file.split('-')[0]);
    let ids = byPid.get(pid);
    if (ids === undefined) byPid.set(pid, (ids = new Map()));
    for (const line of readFileSync(join(traceDir!, file), 'utf8').split('\n')) {
      const [id, hop, ns] = line.split(' ');
      if (id === undefined || hop === undefined || ns === undefined) continue;
      const n = Number(id);
      if (n < firstId || n >= endId) continue;
      let hops = ids.get(id);
      if (hops === undefined) ids.set(id, (hops = new Map()));
      const t = BigInt(ns);
      const seen = hops.get(hop);
      if (seen === undefined || t < seen) hops.set(hop, t);
    }
  }
  const sender = nodes[0]!;
  const deltas = new Map<string, number[]>();
  const push = (name: string, ms: number): void => {
    let list = deltas.get(name);
    if (list === undefined) deltas.set(name, (list = []));
    list.push(ms);
  };
  for (const [id, posted] of postedNs) {
    const atSender = byPid.get(sender.child.pid!)?.get(id);
    for (let r = 0; r < nodes.length; r++) {
      const node = nodes[r]!;
      const atReceiver = byPid.get(node.child.pid!)?.get(id);
      const frame = readers[r]!.arrivedNs.get(id);
      const self = node === sender;
      const path = self ? kSelfHops : kRemoteHops;
      const timeOf = (hop: string): bigint | undefined => {
        if (hop === 'client.post') return posted;
        if (hop === 'client.frame') return frame;
        if (self || ['api.body', 'api.send', 'main.out', 'main.post', 'worker.cmd', 'worker.sent'].includes(hop)) return atSender?.get(hop);
        return atReceiver?.get(hop);
      };
      let previous: bigint | undefined;
      let previousHop = '';
      for (const hop of path) {
        const t = timeOf(hop);
        if (t !== undefined && previous !== undefined) push(`${self ? 'self ' : ''}${previousHop} -> ${hop}`, Number(t - previous) / 1e6);
        // A hop missing from the trace (not recorded) is skipped: the next delta spans it.
        if (t !== undefined) {
          previous = t;
          previousHop = hop;
        }
      }
      if (frame !== undefined) push(self ? 'self end to end' : 'end to end', Number(frame - posted) / 1e6);
    }
  }
  const rows: HopRow[] = [];
  for (const [hop, list] of deltas) {
    list.sort((a, b) => a - b);
    const q = (x: number): number => round2(list[Math.min(list.length - 1, Math.floor(x * list.length))]!);
    rows.push({ hop, samples: list.length, p50Ms: q(0.5), p99Ms: q(0.99) });
  }
  return rows;
}

function printHops(rows: readonly HopRow[]): void {
  for (const r of rows) console.log(`      ${r.hop.padEnd(36)} ${String(r.p50Ms).padStart(8)} ms p50 ${String(r.p99Ms).padStart(8)} ms p99  (${r.samples})`);
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
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

function corosyncOf(size: number): CorosyncFigures | null {
  return size === 3 || size === 5 ? kCorosync[size] : null;
}

function ratio(ours: number, theirs: number | undefined): string {
  return theirs === undefined ? '' : ` (${(ours / theirs).toFixed(2)}x Corosync ${theirs})`;
}

// The agents are this process's children: never leave them running.
process.on('exit', () => killAll());
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(130));

async function main(): Promise<void> {
  const loadBefore = loadavg();
  console.log(`bench:channels: real agents on loopback, ${kSecureFarm ? 'a farm key (sealed)' : 'an open farm'}, HTTP API clients; load average ${loadBefore.map((x) => x.toFixed(2)).join(' ')}`);
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
        if (cellKinds.has('throughput')) {
          label('100B one sender', await throughput(nodes, channel, 100, nodes.slice(0, 1)), corosync?.oneSender100);
          label('100B all sending', await throughput(nodes, channel, 100, nodes), corosync?.allSending100);
          label('1000B one sender', await throughput(nodes, channel, 1000, nodes.slice(0, 1)), corosync?.oneSender1000);
          label('1000B all sending', await throughput(nodes, channel, 1000, nodes), undefined);
        }
        if (!cellKinds.has('latency')) {
          results.push({ size, ordering, cells, loadavg: loadavg() });
          write(results, loadBefore, false);
          continue;
        }
        const lat = await latency(nodes, channel);
        cells['latency 1000 msg/s'] = lat;
        console.log(`  ${size} members ${ordering.padEnd(6)} latency at 1,000 msg/s: p50 ${lat.p50Ms} ms, p99 ${lat.p99Ms} ms, max ${lat.maxMs} ms over ${lat.samples} deliveries, sent at ${lat.sendRatePerSecond} msg/s${corosync === null ? '' : ` (Corosync p50 ${corosync.p50Ms}, p99 ${corosync.p99Ms} ms)`}; load average ${loadavg()[0]!.toFixed(2)}`);
        if (lat.hops !== undefined) printHops(lat.hops);
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
    sendClient: kSendClient,
    traced: traceDir !== null,
    /** GALAXY_BENCH_SECURE=1 (cluster-rig.ts): every message sealed under a farm key; else an open farm. */
    secureFarm: kSecureFarm,
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
  const file = latencyOnly ? 'channels-latency.json' : process.env['GALAXY_BENCH_ORDERINGS'] !== undefined ? 'channels-subset.json' : subset ? `channels-${sizes.join('-')}.json` : 'channels.json';
  writeFileSync(join(dir, file), `${JSON.stringify(out, null, 2)}\n`);
  if (complete) console.log(`wrote bench/results/${file}`);
}

main().catch((error: unknown) => {
  killAll();
  console.error(error);
  process.exit(1);
});
