/**
 * The transport benchmark (`npm run bench:transport`), native against node:dgram in one run:
 *  (a) datagrams per second at 512-byte payloads between two processes on loopback, with
 *      CPU time per datagram: the raw sockets, measured by bench/transport-raw.ts (run as
 *      a child; it writes bench/results/transport-raw.json);
 *  (b) the same through the DatagramTransport wrappers the agent uses (address parsing,
 *      counters, canonical names), sender and receiver in this one process;
 *  (c) time from SIGKILL to "dead" at every one of 20 `galaxy agent` processes on
 *      loopback, p50 and max over 10 kills per transport, each kill of a different agent,
 *      restarted and seen alive again by all before the next. Both transports run the
 *      `local` timer preset: with LAN timers on loopback the dgram figure would only
 *      stretch to seconds per kill, while the native one does not depend on timers.
 * Prints a table with the targets (native p50 kill-to-dead under 250 ms; native datagram
 * rate at least 1.4x dgram) and writes bench/results/transport.json. Absolute figures
 * depend on the machine and on what else runs: the load average is recorded.
 *
 *   GALAXY_BENCH_KILLS=3 node dist/bench/transport.js     fewer kills (a smoke run)
 *   GALAXY_BENCH_QUICK=1 ...                              a short rate measurement
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { NativeUdpSocket } from '../src/node/native/native-udp-socket.js';
import type { DatagramTransport } from '../src/node/transport/datagram-transport.js';
import { DgramTransport } from '../src/node/transport/dgram-transport.js';
import { NativeTransport } from '../src/node/transport/native-transport.js';
import { packageRoot } from '../src/core/platform/package-root.js';
import { freePort } from './free-port.js';

const kAgents = 20;
const kKills = Number(process.env['GALAXY_BENCH_KILLS'] ?? 10);
const kQuick = process.env['GALAXY_BENCH_QUICK'] === '1';
const kPayloadBytes = 512;
const kBurst = 64;
const kWrapperRunMs = kQuick ? 300 : 1500;
const kWrapperRounds = kQuick ? 1 : 3;
const kBurstWaitMs = 20;
const kConvergeMsMax = 60_000;
const kDetectMsMax = 30_000;
const kTargetNativeP50Ms = 250;
const kTargetRateRatio = 1.4;
const root = packageRoot();
const cli = join(root, 'dist', 'src', 'ops', 'cli', 'main.js');
const children = new Set<ChildProcess>();

type Kind = 'native' | 'dgram';

// ------------------------------------------------------------------ (b) wrappers

interface WrapperRun {
  readonly kind: Kind;
  readonly receivedPerSecond: number;
  /** CPU of this process (sender and receiver together) per received datagram, ns. */
  readonly cpuNsPerDatagram: number;
  readonly lossRatio: number;
  readonly dropped: number;
}

async function openTransport(kind: Kind): Promise<DatagramTransport> {
  const options = { socketBufferBytes: 1 << 20 };
  return kind === 'native' ? NativeTransport.open('127.0.0.1:0', options) : DgramTransport.open('127.0.0.1:0', { receiveBufferBytes: 1 << 20 });
}

/**
 * Closed loop, so that neither side starves the other on one thread: a burst of kBurst
 * datagrams, then wait until the receiver has them all (or kBurstWaitMs passed, which
 * counts the missing ones as lost), then the next burst.
 */
async function wrapperRun(kind: Kind): Promise<WrapperRun> {
  const sender = await openTransport(kind);
  const receiver = await openTransport(kind);
  let received = 0;
  let target = 0;
  let wake: (() => void) | null = null;
  receiver.onMessage(() => {
    if (++received >= target && wake !== null) wake();
  });
  const payload = new Uint8Array(kPayloadBytes).fill(7);
  let sent = 0;
  const cpuStart = process.cpuUsage();
  const startMs = performance.now();
  while (performance.now() - startMs < kWrapperRunMs) {
    target = received + kBurst;
    for (let i = 0; i < kBurst; i++) sender.send(receiver.address, payload);
    sent += kBurst;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => resolve(), kBurstWaitMs);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    wake = null;
  }
  const wallMs = performance.now() - startMs;
  const cpu = process.cpuUsage(cpuStart);
  const dropped = sender.counters.dropped + receiver.counters.dropped;
  await Promise.all([sender.close(), receiver.close()]);
  return {
    kind,
    receivedPerSecond: Math.round(received / (wallMs / 1000)),
    cpuNsPerDatagram: Math.round(((cpu.user + cpu.system) * 1000) / Math.max(1, received)),
    lossRatio: round2(1 - received / sent),
    dropped,
  };
}

async function wrapperRates(): Promise<{ native: WrapperRun; dgram: WrapperRun; ratio: number }> {
  const samples: WrapperRun[] = [];
  for (let round = 0; round < kWrapperRounds; round++) for (const kind of ['dgram', 'native'] as const) samples.push(await wrapperRun(kind));
  const medianOf = (kind: Kind): WrapperRun => {
    const runs = samples.filter((s) => s.kind === kind).sort((a, b) => a.receivedPerSecond - b.receivedPerSecond);
    return runs[runs.length >> 1]!;
  };
  const native = medianOf('native');
  const dgram = medianOf('dgram');
  return { native, dgram, ratio: round2(native.receivedPerSecond / dgram.receivedPerSecond) };
}

// ------------------------------------------------------------------ (c) kill to dead

interface Agent {
  readonly address: string;
  readonly child: ChildProcess;
  /** Per peer address: the last event this agent logged about it, and when (ms). */
  readonly seen: Map<string, { event: string; atMs: number }>;
  /** The transport its "started" line named. */
  transport: string | null;
}


/** Agent identities for this run, in a temporary folder. */
const dataRoot = mkdtempSync(join(tmpdir(), 'galaxy-bench-agents-'));

function spawnAgent(address: string, seed: string, transport: Kind): Agent {
  // An open lab farm with no API and no components, as the membership tests run: since
  // admission became the default, agents started without --insecure wait for approval
  // (and all tried to bind the API's default port), so this part never converged.
  const args = [cli, 'agent', '--preset', 'local', '--bind', address, '--join', seed, '--transport', transport, '--data-dir', join(dataRoot, address.replace(/:/g, '_')), '--log-level', 'warn', '--insecure', '--api', 'off'];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, GALAXY_COMPONENTS: 'none' } });
  children.add(child);
  const agent: Agent = { address, child, seen: new Map(), transport: null };
  createInterface({ input: child.stdout! }).on('line', (line) => {
    let event: { event: string; address?: string; t: string; transport?: string };
    try {
      event = JSON.parse(line) as typeof event;
    } catch {
      return; // not one of the agent's JSON lines
    }
    if (event.event === 'started') agent.transport = event.transport ?? null;
    if (event.address !== undefined) agent.seen.set(event.address, { event: event.event, atMs: Date.parse(event.t) });
  });
  return agent;
}

function killAll(): void {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

async function until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const seesAlive = (a: Agent, b: Agent): boolean => a === b || ['join', 'alive', 'update'].includes(a.seen.get(b.address)?.event ?? '');
const allSeeAllAlive = (agents: readonly Agent[]): boolean => agents.every((a) => agents.every((b) => seesAlive(a, b)));

interface KillRounds {
  readonly p50Ms: number;
  readonly maxMs: number;
  /** Per kill: the slowest survivor's kill-to-dead time. */
  readonly perKillMaxMs: number[];
  /** Per kill: the median survivor's kill-to-dead time. */
  readonly perKillP50Ms: number[];
}

async function killRounds(transport: Kind): Promise<KillRounds> {
  const ports = new Set<number>();
  while (ports.size < kAgents) ports.add(await freePort(ports));
  const addresses = [...ports].map((p) => `127.0.0.1:${p}`);
  const seedOf = (i: number): string => (i === 0 ? addresses[1]! : addresses[0]!);
  const agents = addresses.map((a, i) => spawnAgent(a, seedOf(i), transport));
  const all: number[] = [];
  const perKillMaxMs: number[] = [];
  const perKillP50Ms: number[] = [];
  try {
    await until(() => allSeeAllAlive(agents), kConvergeMsMax, `the ${transport} farm converged`);
    const wrong = agents.find((a) => a.transport !== transport);
    if (wrong !== undefined) throw new Error(`agent ${wrong.address} runs ${String(wrong.transport)}, not ${transport}`);
    for (let k = 0; k < kKills; k++) {
      // Agents 0 and 1 are the seeds; every kill takes a different one of the others.
      const index = 2 + (k % (kAgents - 2));
      const victim = agents[index]!;
      const survivors = agents.filter((a) => a !== victim);
      const killedAtMs = Date.now();
      victim.child.kill('SIGKILL');
      await until(() => survivors.every((a) => a.seen.get(victim.address)?.event === 'dead'), kDetectMsMax, `kill ${k + 1} was seen by every survivor`);
      const times = survivors.map((a) => a.seen.get(victim.address)!.atMs - killedAtMs).sort((a, b) => a - b);
      all.push(...times);
      perKillMaxMs.push(times[times.length - 1]!);
      perKillP50Ms.push(percentile(times, 0.5));
      console.log(`  ${transport} kill ${k + 1}/${kKills} (agent ${index}): p50 ${percentile(times, 0.5)} ms, max ${times[times.length - 1]} ms`);
      agents[index] = spawnAgent(victim.address, seedOf(index), transport);
      await until(() => allSeeAllAlive(agents), kConvergeMsMax, `the restarted agent ${index} was seen alive by all`);
    }
  } finally {
    for (const a of agents) if (a.child.exitCode === null && a.child.signalCode === null) a.child.kill('SIGKILL');
  }
  all.sort((a, b) => a - b);
  return { p50Ms: percentile(all, 0.5), maxMs: all[all.length - 1]!, perKillMaxMs, perKillP50Ms };
}

// ------------------------------------------------------------------ main

function percentile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))]!;
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}

const verdict = (ok: boolean): string => (ok ? 'met' : 'NOT met');

interface RawRun {
  sender: Kind;
  receiver: Kind;
  receivedPerSecond: number;
  senderCpuNsPerDatagram: number;
  receiverCpuNsPerDatagram: number;
}

async function main(): Promise<void> {
  const availability = NativeUdpSocket.available();
  if (!availability.available) {
    console.log(`bench:transport: the native socket is unavailable here (${availability.reason}); nothing to compare.`);
    return;
  }
  const loadAtStart = loadavg()[0]!;
  console.log(`load average ${loadAtStart.toFixed(2)} on ${cpus().length} CPUs at start${loadAtStart > 0.5 ? ': other work is running, expect noisy throughput' : ''}`);

  console.log(`(a) raw sockets: ${kPayloadBytes}-byte datagrams between two processes on loopback (bench/transport-raw.js) ...`);
  const raw = spawnSync(process.execPath, [join(root, 'dist', 'bench', 'transport-raw.js')], { stdio: 'inherit', env: process.env });
  if (raw.status !== 0) throw new Error('bench/transport-raw failed');
  const rate = JSON.parse(readFileSync(join(root, 'bench', 'results', 'transport-raw.json'), 'utf8')) as { runs: RawRun[]; ratios: Record<string, number>; loadAverageBefore: number; loadAverageAfter: number };
  const rawRun = (sender: Kind, receiver: Kind): RawRun => rate.runs.find((r) => r.sender === sender && r.receiver === receiver)!;

  console.log(`(b) through the DatagramTransport wrappers, one process, closed loop of ${kBurst}-datagram bursts, ${kWrapperRounds} rounds of ${kWrapperRunMs} ms ...`);
  const wrappers = await wrapperRates();

  console.log(`(c) SIGKILL to "dead" at every one of ${kAgents} agents (--preset local), ${kKills} kills per transport ...`);
  const native = await killRounds('native');
  const dgram = await killRounds('dgram');
  const loadAtEnd = loadavg()[0]!;

  const dgramToDgram = rawRun('dgram', 'dgram');
  const nativeToNative = rawRun('native', 'native');
  const rawRatio = round2(nativeToNative.receivedPerSecond / dgramToDgram.receivedPerSecond);
  const targets = {
    nativeP50KillToDeadUnderMs: { target: kTargetNativeP50Ms, measured: native.p50Ms, met: native.p50Ms < kTargetNativeP50Ms },
    nativeRateRatioAtLeast: { target: kTargetRateRatio, measured: rawRatio, met: rawRatio >= kTargetRateRatio },
  };
  const results = {
    date: new Date().toISOString(),
    node: process.version,
    cpu: cpus()[0]?.model,
    cpuCount: cpus().length,
    loadAverageAtStart: round2(loadAtStart),
    loadAverageAtEnd: round2(loadAtEnd),
    agents: kAgents,
    kills: kKills,
    preset: 'local',
    rate: { raw: { runs: rate.runs, ratios: rate.ratios, endToEndRatio: rawRatio }, wrappers },
    killToDead: { native, dgram, p50Ratio: round2(dgram.p50Ms / native.p50Ms) },
    targets,
  };
  mkdirSync(join(root, 'bench', 'results'), { recursive: true });
  writeFileSync(join(root, 'bench', 'results', 'transport.json'), JSON.stringify(results, null, 2) + '\n');

  console.log('');
  console.log(`| ${kPayloadBytes}-byte datagrams | native | dgram | native/dgram |`);
  console.log('|---|---:|---:|---:|');
  console.log(`| raw, received/s (two processes) | ${nativeToNative.receivedPerSecond} | ${dgramToDgram.receivedPerSecond} | ${rawRatio}x |`);
  console.log(`| raw, sender CPU ns/datagram | ${nativeToNative.senderCpuNsPerDatagram} | ${dgramToDgram.senderCpuNsPerDatagram} | ${round2(nativeToNative.senderCpuNsPerDatagram / dgramToDgram.senderCpuNsPerDatagram)}x |`);
  console.log(`| raw, receiver CPU ns/datagram | ${nativeToNative.receiverCpuNsPerDatagram} | ${dgramToDgram.receiverCpuNsPerDatagram} | ${round2(nativeToNative.receiverCpuNsPerDatagram / dgramToDgram.receiverCpuNsPerDatagram)}x |`);
  console.log(`| transport wrappers, received/s (one process, closed loop) | ${wrappers.native.receivedPerSecond} | ${wrappers.dgram.receivedPerSecond} | ${wrappers.ratio}x |`);
  console.log(`| transport wrappers, CPU ns/datagram (send + receive) | ${wrappers.native.cpuNsPerDatagram} | ${wrappers.dgram.cpuNsPerDatagram} | ${round2(wrappers.native.cpuNsPerDatagram / wrappers.dgram.cpuNsPerDatagram)}x |`);
  console.log(`| transport wrappers, datagrams lost | ${(wrappers.native.lossRatio * 100).toFixed(1)}% | ${(wrappers.dgram.lossRatio * 100).toFixed(1)}% | |`);
  console.log('');
  console.log(`| kill-to-dead at all ${kAgents - 1} survivors, ${kKills} kills, --preset local | p50 ms | max ms |`);
  console.log('|---|---:|---:|');
  console.log(`| native (ICMP error queue, then SWIM) | ${native.p50Ms} | ${native.maxMs} |`);
  console.log(`| node:dgram (SWIM probes and suspicion only) | ${dgram.p50Ms} | ${dgram.maxMs} |`);
  console.log('');
  console.log(`targets: native p50 kill-to-dead < ${kTargetNativeP50Ms} ms: ${native.p50Ms} ms, ${verdict(targets.nativeP50KillToDeadUnderMs.met)}; native datagram rate >= ${kTargetRateRatio}x dgram (raw, end to end): ${rawRatio}x, ${verdict(targets.nativeRateRatioAtLeast.met)}`);
  console.log(`load average ${loadAtStart.toFixed(2)} at start, ${loadAtEnd.toFixed(2)} at end (raw rate run: ${rate.loadAverageBefore} before, ${rate.loadAverageAfter} after). Results written to bench/results/transport.json`);
}

process.on('exit', killAll);
try {
  await main();
} finally {
  killAll();
}
