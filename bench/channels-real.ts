/**
 * Channel throughput and latency on the REAL path (issue 18, item 6, before real agents
 * run clusters): N worker threads on loopback, each one member running a ClusterChannels
 * core (the real cluster core under the channel layer) over its own node:dgram socket,
 * every datagram sealed with the farm keyring (AES-256-GCM, src/node/security). Per
 * ordering and cluster size: messages per second delivered at every member (the slowest
 * member's count) for 100-byte and 1,000-byte messages, one sender and all sending; the
 * send-to-delivery latency p50 / p99 at 1,000 msg/s of 100-byte messages from one
 * sender; Corosync CPG's agreed-order figures (real processes, issue 18) beside them.
 *
 * Not the agent: no messenger, no membership gossip, no FMIDB; threads of one process,
 * not hosts in namespaces. Every member costs real CPU here, so on a machine with fewer
 * cores than members the figures are the machine's limit as much as the protocol's.
 * The lead points bench:channels at real agents when the cluster service runs there.
 *
 *   npm run bench:channels-real                      (writes bench/results/channels-real.json)
 *   GALAXY_BENCH_SIZES=5 GALAXY_BENCH_ORDERINGS=total npm run bench:channels-real   (a subset; no file written)
 *   GALAXY_BENCH_MEASURE_MS=1000 (default 1,500)
 */
import { createSocket, type Socket } from 'node:dgram';
import { availableParallelism, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import type { ChannelOptions, Ordering } from '../src/core/channels/channel-options.js';
import type { ClusterMemberOptions } from '../src/core/cluster/cluster-config.js';
import { ClusterChannels } from '../src/core/cluster-channels/cluster-channels.js';
import { Prng } from '../src/core/util/prng.js';
import { Keyring } from '../src/node/security/keyring.js';
import { benchGrid, corosyncColumns, corosyncOf, loadOf, quantileMs, throughputColumns, writeResults, type ChannelLoad } from './channels-common.js';

const kCluster = 'bench';
const kChannel = 'load';
/** The cluster core's window (each message a pack of channel messages) and its largest pack: well under a UDP datagram once sealed. */
const kMembership: ClusterMemberOptions = { sendWindowMax: 128, payloadBytesMax: 32 * 1024 };
const kWindowMessages = 1024;
/** A flooding sender keeps the layer's send queue this full. */
const kFloodQueue = 256;
/** The most sends a flooding sender makes per event-loop turn (under one cork). */
const kFloodBurst = 256;
const kSocketBufferBytes = 4 * 1024 * 1024;
const kLatencySamplesMax = 200_000;

interface WorkerConfig {
  index: number;
  size: number;
  ordering: Ordering;
  key: string;
}

type ToWorker =
  | { kind: 'peers'; ports: number[] }
  | { kind: 'start'; sender: boolean; payloadBytes: number; sendEveryMs: number | 'flood'; warmMs: number; measureMs: number };

type FromWorker =
  | { kind: 'port'; port: number }
  | { kind: 'ready' }
  | { kind: 'done'; delivered: number; latenciesMs: number[]; sealed: number; opened: number; multicasts: number; packedMessages: number; viewChanges: number; cpuMs: number };

/** Wall-clock ms shared by all threads (each thread's performance.now() has its own origin). */
const wallMs = (): number => performance.timeOrigin + performance.now();

// ---- A member (one worker thread) ----------------------------------------------------

function member(config: WorkerConfig): void {
  const port = parentPort!;
  const nodeIds = Array.from({ length: config.size }, (_, i) => `n${i}`);
  const self = nodeIds[config.index]!;
  const keyring = new Keyring([config.key]);
  if (!keyring.native) console.error('channels-real: the native keyring addon is not loaded; sealing takes node:crypto');
  const socket: Socket = createSocket({ type: 'udp4', recvBufferSize: kSocketBufferBytes, sendBufferSize: kSocketBufferBytes });
  let ports: number[] = [];
  const portOf = new Map<number, string>();
  let core: ClusterChannels | null = null;
  let delivered = 0;
  let counting = false;
  let viewChanges = 0;
  const latencies: number[] = [];
  let load: Extract<ToWorker, { kind: 'start' }> | null = null;
  let sendId = 1;
  let stopAtMs = Infinity;
  let readySent = false;

  const drain = (): void => {
    const c = core!;
    for (const output of c.ready()) {
      switch (output.kind) {
        case 'send': {
          const to = ports[nodeIds.indexOf(output.to)]!;
          // sealView reuses its buffer (native AES-GCM contexts); the send needs its own copy.
          socket.send(Buffer.from(keyring.sealView(output.bytes)), to, '127.0.0.1');
          break;
        }
        case 'delivered':
          if (output.channel !== kChannel || !counting) break;
          delivered++;
          if (latencies.length < kLatencySamplesMax && output.payload.length >= 8) {
            latencies.push(wallMs() - new DataView(output.payload.buffer, output.payload.byteOffset, 8).getFloat64(0, true));
          }
          break;
        case 'view':
          viewChanges++;
          break;
        default:
          break;
      }
    }
    c.advance();
  };

  const send = (bytes: number): void => {
    const payload = new Uint8Array(bytes);
    new DataView(payload.buffer).setFloat64(0, wallMs(), true);
    core!.step({ kind: 'send', sendId: sendId++, channel: kChannel, payload });
  };

  const flood = (): void => {
    if (core === null || load === null || wallMs() >= stopAtMs) return;
    const c = core;
    // A burst of sends under a cork goes as a few full packs.
    c.step({ kind: 'cork' });
    let sentNow = 0;
    for (; sentNow < kFloodBurst; sentNow++) {
      const queued = c.layer.channelCounters(kChannel)?.sendQueueLength ?? Infinity;
      if (queued >= kFloodQueue || c.backlogLength() >= c.multicastBacklogMax - 1) break;
      send(load.payloadBytes);
    }
    c.step({ kind: 'uncork' });
    drain();
    // Nothing could go (windows full): wait for a timer instead of spinning, so the other members' threads get the CPU.
    if (sentNow === 0) setTimeout(flood, 1);
    else setImmediate(flood);
  };

  socket.on('message', (sealed, rinfo) => {
    const from = portOf.get(rinfo.port);
    const view = keyring.openView(sealed);
    if (from === undefined || view === null || core === null) return;
    // openView's result is valid until the next call; the cores keep views of what they receive.
    core.step({ kind: 'receive', from, bytes: view.slice() });
    drain();
  });

  port.on('message', (message: ToWorker) => {
    if (message.kind === 'peers') {
      ports = message.ports;
      ports.forEach((p, i) => portOf.set(p, nodeIds[i]!));
      core = new ClusterChannels({
        cluster: kCluster, nodeId: self, incarnation: 0, definition: nodeIds, random: new Prng(1000 + config.index), nowMs: performance.now(),
        membership: kMembership, layer: { fragmentBytes: 8192, autoConsume: true }, multicastBacklogMax: 4096,
      });
      drain();
      const ticker = setInterval(() => {
        core!.tick(performance.now());
        drain();
        const view = core!.layer.currentView();
        if (config.index === 0 && view !== null && view.members.length === config.size && !core!.layer.channelNames().includes(kChannel)) {
          const options: ChannelOptions = { reliability: 'reliable', ordering: config.ordering, windowMessages: kWindowMessages };
          core!.step({ kind: 'open', name: kChannel, options });
          drain();
        }
        if (!readySent && view !== null && view.members.length === config.size && core!.layer.channelNames().includes(kChannel)) {
          readySent = true;
          port.postMessage({ kind: 'ready' } satisfies FromWorker);
        }
      }, 1);
      void ticker;
      return;
    }
    load = message;
    const startMs = wallMs();
    stopAtMs = startMs + message.warmMs + message.measureMs;
    const cpuStart = process.cpuUsage();
    setTimeout(() => {
      counting = true;
    }, message.warmMs);
    if (message.sender) {
      if (message.sendEveryMs === 'flood') setImmediate(flood);
      else {
        const every = message.sendEveryMs;
        let nextMs = startMs;
        const paced = setInterval(() => {
          // Catch up on the schedule (timers fire late under load): a steady rate, not a steady gap.
          for (let now = wallMs(); nextMs <= now && now < stopAtMs; nextMs += every) {
            send(message.payloadBytes);
            drain();
          }
        }, 1);
        setTimeout(() => clearInterval(paced), message.warmMs + message.measureMs);
      }
    }
    setTimeout(() => {
      counting = false;
      const cpu = process.cpuUsage(cpuStart);
      port.postMessage({
        kind: 'done', delivered, latenciesMs: latencies, sealed: keyring.counters.sealed, opened: keyring.counters.opened,
        multicasts: core!.counters.multicasts, packedMessages: core!.counters.packedMessages, viewChanges, cpuMs: (cpu.user + cpu.system) / 1000,
      } satisfies FromWorker);
    }, message.warmMs + message.measureMs + 50);
  });
  socket.bind(0, '127.0.0.1', () => port.postMessage({ kind: 'port', port: socket.address().port } satisfies FromWorker));
}

// ---- The driver (main thread) --------------------------------------------------------

interface Figure {
  deliveredPerSecond: number;
  latency: { p50Ms: number; p99Ms: number; samples: number };
  multicastsPerMember: number;
  messagesPerPack: number;
  cpuMsPerMember: number;
  viewChanges: number;
}

const quick = process.env.GALAXY_BENCH_QUICK === '1';
const kWarmMs = 500;
const kMeasureMs = Number(process.env.GALAXY_BENCH_MEASURE_MS ?? (quick ? 700 : 1500));

async function run(load: ChannelLoad, key: string): Promise<Figure> {
  const workers: Worker[] = [];
  const inbox: FromWorker[][] = [];
  const waiters: (() => void)[] = [];
  for (let index = 0; index < load.size; index++) {
    const worker = new Worker(new URL(import.meta.url), { workerData: { index, size: load.size, ordering: load.ordering, key } satisfies WorkerConfig });
    inbox.push([]);
    worker.on('message', (m: FromWorker) => {
      inbox[index]!.push(m);
      for (const w of waiters.splice(0)) w();
    });
    worker.on('error', (error) => {
      throw error;
    });
    workers.push(worker);
  }
  const take = async (index: number, kind: FromWorker['kind'], timeoutMs: number): Promise<FromWorker> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const at = inbox[index]!.findIndex((m) => m.kind === kind);
      if (at >= 0) return inbox[index]!.splice(at, 1)[0]!;
      if (Date.now() > deadline) throw new Error(`member ${index} sent no ${kind} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  };
  try {
    const ports: number[] = [];
    for (let i = 0; i < load.size; i++) ports.push((await take(i, 'port', 10_000) as Extract<FromWorker, { kind: 'port' }>).port);
    for (const w of workers) w.postMessage({ kind: 'peers', ports } satisfies ToWorker);
    for (let i = 0; i < load.size; i++) await take(i, 'ready', 15_000);
    for (let i = 0; i < load.size; i++) {
      workers[i]!.postMessage({
        kind: 'start', sender: load.allSending || i === 0, payloadBytes: load.payloadBytes, sendEveryMs: load.sendEveryMs, warmMs: kWarmMs, measureMs: kMeasureMs,
      } satisfies ToWorker);
    }
    const done: Extract<FromWorker, { kind: 'done' }>[] = [];
    for (let i = 0; i < load.size; i++) done.push((await take(i, 'done', kWarmMs + kMeasureMs + 30_000)) as Extract<FromWorker, { kind: 'done' }>);
    if (process.env.GALAXY_BENCH_DEBUG === '1') console.log(JSON.stringify({ load, done: done.map((d) => ({ ...d, latenciesMs: d.latenciesMs.length })) }));
    const sorted = done.flatMap((d) => d.latenciesMs).sort((a, b) => a - b);
    const multicasts = done.reduce((sum, d) => sum + d.multicasts, 0);
    const packed = done.reduce((sum, d) => sum + d.packedMessages, 0);
    return {
      deliveredPerSecond: Math.round(Math.min(...done.map((d) => d.delivered)) / (kMeasureMs / 1000)),
      latency: { p50Ms: quantileMs(sorted, 0.5), p99Ms: quantileMs(sorted, 0.99), samples: sorted.length },
      multicastsPerMember: Math.round(multicasts / load.size),
      messagesPerPack: Math.round((packed / Math.max(1, multicasts)) * 10) / 10,
      cpuMsPerMember: Math.round(done.reduce((sum, d) => sum + d.cpuMs, 0) / load.size),
      viewChanges: done.reduce((sum, d) => sum + d.viewChanges, 0) - load.size,
    };
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

async function main(): Promise<void> {
  const { sizes, orderings, subset } = benchGrid();
  const key = Keyring.generateKey();
  console.log(`REAL PATH: worker threads on loopback, each a ClusterChannels core over node:dgram with keyring seals; not agents. ${availableParallelism()} CPUs, load ${loadavg()[0]!.toFixed(1)} at start; ${kMeasureMs} ms measured per figure`);
  console.log('members ordering | 100 B one sender | 100 B all sending | 1000 B one sender | 1000 B all sending | p50 / p99 at 1000 msg/s, 100 B || Corosync CPG agreed (real): 100 B one | 100 B all | 1000 B one | p50 / p99');
  const results: Record<string, unknown>[] = [];
  for (const size of sizes) {
    for (const ordering of orderings) {
      const started = Date.now();
      // A run that fails (a member starved past its deadline on a loaded machine) counts as nothing delivered, and says so.
      const attempt = async (load: ChannelLoad): Promise<Figure> => {
        try {
          return await run(load, key);
        } catch (error) {
          console.log(`  run failed (${JSON.stringify(load)}): ${error instanceof Error ? error.message : String(error)}`);
          return { deliveredPerSecond: 0, latency: { p50Ms: NaN, p99Ms: NaN, samples: 0 }, multicastsPerMember: 0, messagesPerPack: NaN, cpuMsPerMember: 0, viewChanges: -1 };
        }
      };
      const one100 = await attempt(loadOf(size, ordering, 'one100'));
      const all100 = await attempt(loadOf(size, ordering, 'all100'));
      const one1000 = await attempt(loadOf(size, ordering, 'one1000'));
      const all1000 = await attempt(loadOf(size, ordering, 'all1000'));
      const moderate = await attempt(loadOf(size, ordering, 'moderate'));
      const c = corosyncOf(size);
      results.push({ size, ordering, viewChangesDuringRuns: one100.viewChanges + all100.viewChanges + one1000.viewChanges + all1000.viewChanges + moderate.viewChanges, oneSender100: one100, allSending100: all100, oneSender1000: one1000, allSending1000: all1000, latencyAt1000: moderate, corosync: c, loadAverage: loadavg()[0] });
      console.log(
        `${size} ${ordering.padEnd(6)} | ${throughputColumns(one100.deliveredPerSecond, all100.deliveredPerSecond, one1000.deliveredPerSecond, all1000.deliveredPerSecond, c)}` +
          ` | ${moderate.latency.p50Ms} / ${moderate.latency.p99Ms} ms (sat. p99 ${all100.latency.p99Ms} ms)` +
          ` || ${corosyncColumns(c)}` +
          `  [${one100.messagesPerPack} msg/pack, ${one100.cpuMsPerMember} ms CPU/member, ${((Date.now() - started) / 1000).toFixed(1)} s wall]`,
      );
    }
  }
  if (!subset) {
    writeResults('channels-real.json', {
      realPath: true,
      note: 'worker threads on loopback, ClusterChannels cores over node:dgram with AES-256-GCM keyring seals; not agents; Corosync figures are real processes (issue 18)',
      cpus: availableParallelism(), measureMs: kMeasureMs, membership: kMembership, windowMessages: kWindowMessages, results,
    });
  }
}

if (isMainThread) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
} else {
  member(workerData as WorkerConfig);
}
