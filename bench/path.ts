/**
 * The receive-path benchmark (`npm run bench:path`, issue 14 item 1): what one sealed
 * datagram really costs an agent, warmed up, at 1,000 and 10,000 members.
 *
 * What runs: bench/path-rig.ts assembles the agent's path from the real pieces (the
 * NativeTransport's receive handling, the Keyring's AES-256-GCM open, the
 * MembershipEngine over its shared-memory table and kernels, the sealed reply queued on
 * the same socket and sent with sendmmsg). Two kinds of datagram, as a farm sends them:
 * a ping to this agent carrying the sender's one-entry heartbeat digest (answered by an
 * ack with ours), and an ack carrying the sender's heartbeat (merged, not answered).
 *
 * Variants, all in one run: the kernels (Wasm, and the TypeScript fallback constructed
 * directly), and the sealing (today's Keyring with a fresh node:crypto cipher per
 * datagram, called `baseline`; and `native-gcm`, the keyring's openView/sealView on the
 * addon's OpenSSL EVP contexts made once per key, as the agent worker now uses them;
 * and `native-batch`, where the transport opens each recvmmsg batch in one native call,
 * NativeTransport.openBatchesWith, Keyring.openBatch).
 * Ratios (new/old) are printed against the baseline with the same kernels. The baseline
 * runs over today's engine and transport, whose small changes on this branch (reply-to
 * texts cached, no closure per send, no empty list per take) are not separated out: at
 * the branch's first commit (542cb72, before any change) the same quick run measured
 * 16.6 µs per ping at 10,000 members with Wasm, within the baseline's run-to-run spread.
 *
 * Method:
 *  - CPU: process.cpuUsage() (user + system, so the reply's sendmmsg is included) over
 *    rounds of kRoundDatagrams after kWarmupDatagrams; the median round is reported as µs
 *    of CPU per datagram. The datagrams/s one agent absorbs on one core is derived as
 *    1e6 / that figure: it leaves out recvmmsg itself (about 1 µs a datagram amortised in
 *    batches of 64 on this machine, see bench:transport), so it is an upper bound.
 *  - Allocations: the process runs with --expose-gc and a 64 MiB young generation (it
 *    restarts itself with those flags). After gc(), V8's used heap is read, a window of
 *    kAllocationDatagrams is delivered, and the heap is read again; a PerformanceObserver
 *    checks that no collection ran inside the window (else the window is retried
 *    smaller). The growth divided by the datagrams is the JavaScript heap allocated per
 *    datagram, in bytes: 0 means no allocation at all; a small object is 16 to 100 bytes.
 *    Memory outside the JS heap (OpenSSL's, the addon's, Wasm's) is not counted.
 *
 * Then the loopback run (bench/path-blaster.ts sends from another process; the agent path
 * reads with the addon's recvmmsg): pings absorbed per second, the agent's CPU in cores,
 * so µs per datagram with the receive syscalls included, and per fully busy core.
 *
 * Then the agent rows (bench/path-agent.ts, each backend in a process of its own, as an
 * agent runs one): the agent's own NodeDriver, built from the
 * AgentWorkerData the agent hands its worker, absorbs sealed pings from the same sender
 * process (the batch open, the stack's per-batch receive, the batch seal of the acks, all
 * as in the agent), with its CPU, rate and JS heap per datagram; and the same driver fed
 * full batches of 64 in process (CPU and heap without the scheduler's batch sizes).
 *
 * Then bench/path-structures.ts's rows: the broadcast queue's take and insert at 4,096
 * queued and the ICMP report's address lookup at 10,000 members, new against old.
 *
 *   GALAXY_BENCH_QUICK=1 node dist/bench/path.js     shorter rounds (a smoke run)
 *   GALAXY_BENCH_PATH_ONLY=agent node dist/bench/path.js   the agent rows only (bench/results/path-agent-only.json)
 *   GALAXY_BENCH_PATH_BASELINE=/dir ...   the agent rows of another checkout too, in the same run
 *     (its dist/bench/path.js with GALAXY_BENCH_PATH_ONLY=agent, before and after ours), with
 *     the ratios ours/its per row: how a change to the agent's path is measured against the
 *     code before it (a built copy of that commit with its own addon build).
 *   GALAXY_BENCH_PATH_ONLY=main node dist/bench/path.js    the main-thread rows only (bench/results/path-main-only.json)
 *
 * Then bench/path-main-thread.ts's rows: the agent's main thread's CPU per membership
 * event at 10,000 members (a farm node in this process churned by another), its readers
 * against issue 14's starting point's, and bench/path-icmp.ts's: the worker's CPU per
 * ICMP report at 10,000 members through the agent's NodeDriver; and the kernels' cost of
 * a 30-entry digest datagram with the datagram checksum on and off (issue 14 item 2,
 * bench/path-structures.ts's measureChecksumModes).
 */
import { fork, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { getHeapStatistics } from 'node:v8';
import { Keyring } from '../src/node/security/keyring.js';
import { packageRoot } from '../src/core/platform/package-root.js';
import { PathRig, type Sealer } from './path-rig.js';
import { measureChecksumModes, measureStructures } from './path-structures.js';
import { agentAbsorb, type AgentAbsorbRow } from './path-agent.js';
import { measureMainThread, type MainThreadResult } from './path-main-thread.js';
import { measureIcmpReports, type IcmpRow } from './path-icmp.js';

const kQuick = process.env['GALAXY_BENCH_QUICK'] === '1';
const kWarmupDatagrams = kQuick ? 5_000 : 30_000;
const kRoundDatagrams = kQuick ? 5_000 : 20_000;
const kRounds = kQuick ? 3 : 5;
const kAllocationDatagrams = 4_096;
const kAllocationAttemptsMax = 4;
const kMemberCounts = [1_000, 10_000] as const;
const kAbsorbWarmupMs = kQuick ? 300 : 1_000;
const kAbsorbMs = kQuick ? 700 : 3_000;
const kAbsorbMembers = 10_000;
/** GALAXY_BENCH_PATH_ONLY=agent runs only the agent rows. */
const kOnly = process.env['GALAXY_BENCH_PATH_ONLY'] ?? '';
/** Membership events a second the swarm offers the main-thread rows' agent (each churn datagram is one event). */
const kMainPacePerSecond = 1_000;
/** The same for issue 14's readers, whose rebuild per turn cannot keep up with the faster pace at 10,000 members. */
const kMainBaselinePacePerSecond = 25;
const kAgentWarmupMs = kQuick ? 500 : 2_000;
const kAgentWindowMs = kQuick ? 1_000 : 3_000;
const kAgentHeapWindowMs = 400;

interface Variant {
  readonly name: string;
  readonly backend: 'wasm' | 'ts';
  /** The variant this one is compared with (same kernels, today's sealing). */
  readonly baseline: string | null;
  readonly sealer: (key: Uint8Array) => Sealer;
  /** Batches opened in one native call in the transport (PathRigOptions.batchOpen). */
  readonly batchOpen?: boolean;
}

const variants: Variant[] = [
  { name: 'baseline-wasm', backend: 'wasm', baseline: null, sealer: (key) => new Keyring([key]) },
  { name: 'baseline-ts', backend: 'ts', baseline: null, sealer: (key) => new Keyring([key]) },
  { name: 'native-gcm-wasm', backend: 'wasm', baseline: 'baseline-wasm', sealer: (key) => viewSealer(new Keyring([key])) },
  { name: 'native-gcm-ts', backend: 'ts', baseline: 'baseline-ts', sealer: (key) => viewSealer(new Keyring([key])) },
  { name: 'native-batch-wasm', backend: 'wasm', baseline: 'baseline-wasm', sealer: (key) => viewSealer(new Keyring([key])), batchOpen: true },
];

/** The keyring's hot path as the agent worker uses it (openView/sealView: reused EVP contexts and buffers). */
function viewSealer(keyring: Keyring): Sealer {
  if (!keyring.native) throw new Error('bench:path needs the native addon with GcmKeyring: npm run build:native');
  return { open: (sealed) => keyring.openView(sealed), seal: (plaintext) => keyring.sealView(plaintext) };
}

interface Row {
  readonly variant: string;
  readonly members: number;
  readonly kind: 'ping' | 'ack';
  readonly cpuUsPerDatagram: number;
  readonly cpuUsPerDatagramRounds: number[];
  readonly heapBytesPerDatagram: number;
  /** Upper bound from CPU per datagram: 1e6 / cpuUsPerDatagram. */
  readonly datagramsPerSecondOneCore: number;
  readonly repliesPerDatagram: number;
  readonly ratioToBaseline: number | null;
}

function relaunchWithFlags(): never {
  const result = spawnSync(process.execPath, ['--expose-gc', '--max-semi-space-size=64', fileURLToPath(import.meta.url)], { stdio: 'inherit' });
  process.exit(result.status ?? 1);
}

const gcEntries: number[] = [];
const observer = new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) gcEntries.push(entry.startTime);
});
observer.observe({ entryTypes: ['gc'] });

const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

async function cpuPerDatagram(rig: PathRig, kind: 'ping' | 'ack'): Promise<number[]> {
  rig.deliver(kind, kWarmupDatagrams);
  await yieldToLoop();
  const rounds: number[] = [];
  for (let round = 0; round < kRounds; round++) {
    const before = process.cpuUsage();
    rig.deliver(kind, kRoundDatagrams);
    const spent = process.cpuUsage(before);
    rounds.push((spent.user + spent.system) / kRoundDatagrams);
    await yieldToLoop();
  }
  return rounds;
}

async function heapPerDatagram(rig: PathRig, kind: 'ping' | 'ack'): Promise<number> {
  const gc = (globalThis as { gc?: () => void }).gc!;
  let count = kAllocationDatagrams;
  for (let attempt = 0; attempt < kAllocationAttemptsMax; attempt++, count >>= 1) {
    gc();
    await yieldToLoop();
    const startMs = performance.now();
    const before = getHeapStatistics().used_heap_size;
    rig.deliver(kind, count);
    const after = getHeapStatistics().used_heap_size;
    const endMs = performance.now();
    await yieldToLoop();
    await new Promise((resolve) => setTimeout(resolve, 5));
    if (gcEntries.some((at) => at >= startMs && at <= endMs)) continue;
    return Math.max(0, after - before) / count;
  }
  return Number.NaN;
}

interface AbsorbRow {
  readonly variant: string;
  readonly members: number;
  /** Sealed pings the sender process got the kernel to take, per second. */
  readonly offeredPerSecond: number;
  /** Pings the agent authenticated, merged and answered, per second of wall time. */
  readonly absorbedPerSecond: number;
  /** The agent process's CPU over the window, in cores (1 = one core busy). */
  readonly agentCores: number;
  /** The agent's CPU per absorbed ping, recvmmsg and the event loop included. */
  readonly cpuUsPerDatagram: number;
  /** absorbedPerSecond / agentCores: what one fully busy core absorbs. */
  readonly absorbedPerCoreSecond: number;
}

/**
 * The real thing on loopback: another process sends sealed pings as fast as it can to an
 * agent path whose socket is read by the addon's recvmmsg, and the agent answers each.
 * Counts what the agent absorbed over a window after a warm-up window.
 */
async function absorb(variant: Variant): Promise<AbsorbRow> {
  const child = fork(join(dirname(fileURLToPath(import.meta.url)), 'path-blaster.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  try {
    const [ready] = (await once(child, 'message')) as [{ address: string }];
    const rig = PathRig.create({ members: kAbsorbMembers, backend: variant.backend, sealer: variant.sealer, memberAddress: ready.address, batchOpen: variant.batchOpen ?? false });
    const datagrams = rig.preparedPings.map((bytes) => Buffer.from(bytes).toString('base64'));
    const blast = async (durationMs: number): Promise<{ sent: number; received: number; cpuUs: number; wallMs: number }> => {
      const received = rig.engine.stats.datagramsReceived;
      const cpu = process.cpuUsage();
      const startMs = performance.now();
      child.send({ type: 'blast', to: rig.transport.address, datagrams, durationMs });
      const [done] = (await once(child, 'message')) as [{ sent: number }];
      const spent = process.cpuUsage(cpu);
      return { sent: done.sent, received: rig.engine.stats.datagramsReceived - received, cpuUs: spent.user + spent.system, wallMs: performance.now() - startMs };
    };
    await blast(kAbsorbWarmupMs);
    const run = await blast(kAbsorbMs);
    rig.close();
    const seconds = run.wallMs / 1000;
    const agentCores = run.cpuUs / 1e6 / seconds;
    return {
      variant: variant.name,
      members: kAbsorbMembers,
      offeredPerSecond: Math.round(run.sent / seconds),
      absorbedPerSecond: Math.round(run.received / seconds),
      agentCores,
      cpuUsPerDatagram: run.cpuUs / Math.max(1, run.received),
      absorbedPerCoreSecond: Math.round(run.received / seconds / Math.max(agentCores, 1e-9)),
    };
  } finally {
    child.disconnect();
  }
}

interface BaselineAgentRun {
  readonly loadAverage: number[];
  readonly agent: Array<Pick<AgentAbsorbRow, 'variant' | 'cpuUsPerDatagram' | 'heapBytesPerDatagram' | 'absorbedPerSecond' | 'absorbedPerCoreSecond'> & { fullBatches: Pick<AgentAbsorbRow['fullBatches'], 'cpuUsPerDatagram' | 'heapBytesPerDatagram'> }>;
}

/** The agent rows of the checkout at `dir` (its own build), in a child process; its result file is read back. */
function runBaselineAgentRows(dir: string): BaselineAgentRun {
  const result = spawnSync(process.execPath, [join(dir, 'dist', 'bench', 'path.js')], { cwd: dir, env: { ...process.env, GALAXY_BENCH_PATH_ONLY: 'agent', GALAXY_BENCH_PATH_BASELINE: '' }, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  for (const line of result.stdout.split('\n')) if (line.includes('agent-driver')) console.log(`baseline ${line.trim()}`);
  if (result.status !== 0) throw new Error(`the baseline's agent rows failed (exit ${result.status}) in ${dir}`);
  const run = JSON.parse(readFileSync(join(dir, 'bench', 'results', 'path-agent-only.json'), 'utf8')) as BaselineAgentRun;
  return { loadAverage: run.loadAverage, agent: run.agent };
}

/** Ours against the baseline's runs (before and after ours), per variant: CPU and heap per datagram, new/old. */
function printBaselineRatios(agent: readonly AgentAbsorbRow[], runs: readonly BaselineAgentRun[]): void {
  const ratio = (fresh: number, old: number): string => (old > 0 ? (fresh / old).toFixed(2) : 'n/a');
  for (const row of agent) {
    const olds = runs.map((run) => run.agent.find((r) => r.variant === row.variant)).filter((r) => r !== undefined);
    for (const [index, old] of olds.entries()) {
      console.log(
        `${String(row.members).padStart(6)} members  ${row.variant.padEnd(16)} against the baseline (run ${index + 1}): ` +
          `full batches ${row.fullBatches.cpuUsPerDatagram.toFixed(2)} / ${old.fullBatches.cpuUsPerDatagram.toFixed(2)} µs CPU (new/old ${ratio(row.fullBatches.cpuUsPerDatagram, old.fullBatches.cpuUsPerDatagram)}), ` +
          `${row.fullBatches.heapBytesPerDatagram.toFixed(2)} / ${old.fullBatches.heapBytesPerDatagram.toFixed(2)} heap bytes (new/old ${ratio(row.fullBatches.heapBytesPerDatagram, old.fullBatches.heapBytesPerDatagram)}); ` +
          `loopback ${row.cpuUsPerDatagram.toFixed(2)} / ${old.cpuUsPerDatagram.toFixed(2)} µs CPU (new/old ${ratio(row.cpuUsPerDatagram, old.cpuUsPerDatagram)}), ` +
          `${row.heapBytesPerDatagram.toFixed(2)} / ${old.heapBytesPerDatagram.toFixed(2)} heap bytes (new/old ${ratio(row.heapBytesPerDatagram, old.heapBytesPerDatagram)})`,
      );
    }
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1]!;
}

/**
 * One agent row in a process of its own (this file with GALAXY_BENCH_PATH_AGENT_ROW set):
 * an agent runs one kernel backend, and a second driver in the same process meets call
 * sites the first left polymorphic (the TS row measured after the Wasm one boxed 32 bytes
 * per datagram that it does not box alone).
 */
function agentRowInOwnProcess(backend: 'wasm' | 'ts'): AgentAbsorbRow {
  const result = spawnSync(process.execPath, ['--expose-gc', '--max-semi-space-size=64', fileURLToPath(import.meta.url)], {
    env: { ...process.env, GALAXY_BENCH_PATH_AGENT_ROW: backend },
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
    maxBuffer: 16 << 20,
  });
  const line = result.stdout.split('\n').find((l) => l.startsWith('AGENT_ROW '));
  if (result.status !== 0 || line === undefined) throw new Error(`the ${backend} agent row failed (exit ${result.status}): ${result.stdout.slice(-2000)}`);
  return JSON.parse(line.slice('AGENT_ROW '.length)) as AgentAbsorbRow;
}

async function main(): Promise<void> {
  if (typeof (globalThis as { gc?: unknown }).gc !== 'function') relaunchWithFlags();
  const agentRowBackend = process.env['GALAXY_BENCH_PATH_AGENT_ROW'];
  if (agentRowBackend === 'wasm' || agentRowBackend === 'ts') {
    const row = await agentAbsorb({ members: kAbsorbMembers, backend: agentRowBackend, warmupMs: kAgentWarmupMs, windowMs: kAgentWindowMs, heapWindowMs: kAgentHeapWindowMs });
    console.log(`AGENT_ROW ${JSON.stringify(row)}`);
    process.exit(0);
  }
  const rows: Row[] = [];
  for (const members of kOnly !== '' ? [] : kMemberCounts) {
    for (const variant of variants) {
      const rig = PathRig.create({ members, backend: variant.backend, sealer: variant.sealer, batchOpen: variant.batchOpen ?? false });
      for (const kind of ['ping', 'ack'] as const) {
        const sentBefore = rig.datagramsSent;
        const rounds = await cpuPerDatagram(rig, kind);
        const replies = (rig.datagramsSent - sentBefore) / (kWarmupDatagrams + kRounds * kRoundDatagrams);
        const heap = await heapPerDatagram(rig, kind);
        const cpu = median(rounds);
        const base = variant.baseline === null ? undefined : rows.find((r) => r.variant === variant.baseline && r.members === members && r.kind === kind);
        rows.push({
          variant: variant.name,
          members,
          kind,
          cpuUsPerDatagram: cpu,
          cpuUsPerDatagramRounds: rounds,
          heapBytesPerDatagram: heap,
          datagramsPerSecondOneCore: Math.round(1e6 / cpu),
          repliesPerDatagram: replies,
          ratioToBaseline: base === undefined ? null : cpu / base.cpuUsPerDatagram,
        });
        const row = rows[rows.length - 1]!;
        console.log(
          `${String(members).padStart(6)} members  ${variant.name.padEnd(16)} ${kind.padEnd(4)}  ` +
            `${cpu.toFixed(2).padStart(6)} µs CPU/datagram  ${heap.toFixed(0).padStart(5)} heap bytes/datagram  ` +
            `${String(row.datagramsPerSecondOneCore).padStart(8)} datagrams/s/core  replies/datagram ${replies.toFixed(2)}` +
            (row.ratioToBaseline === null ? '' : `  new/old ${row.ratioToBaseline.toFixed(2)}`),
        );
      }
      rig.close();
      await yieldToLoop();
    }
  }
  observer.disconnect();
  const absorbed: AbsorbRow[] = [];
  for (const variant of variants.filter((v) => v.backend === 'wasm' && kOnly === '')) {
    const row = await absorb(variant);
    absorbed.push(row);
    console.log(
      `${String(row.members).padStart(6)} members  ${row.variant.padEnd(16)} loopback: offered ${row.offeredPerSecond}/s, absorbed ${row.absorbedPerSecond}/s ` +
        `on ${row.agentCores.toFixed(2)} cores (${row.cpuUsPerDatagram.toFixed(2)} µs CPU each, ${row.absorbedPerCoreSecond}/s per busy core)`,
    );
  }
  const agent: AgentAbsorbRow[] = [];
  const baselineDir = process.env['GALAXY_BENCH_PATH_BASELINE'] ?? '';
  const baselineRuns: BaselineAgentRun[] = [];
  if (baselineDir !== '' && (kOnly === '' || kOnly === 'agent')) baselineRuns.push(runBaselineAgentRows(baselineDir));
  for (const backend of kOnly === '' || kOnly === 'agent' ? (['wasm', 'ts'] as const) : []) {
    const row = agentRowInOwnProcess(backend);
    agent.push(row);
    console.log(
      `${String(row.members).padStart(6)} members  ${row.variant.padEnd(16)} the agent's NodeDriver on loopback: offered ${row.offeredPerSecond}/s, absorbed ${row.absorbedPerSecond}/s ` +
        `on ${row.agentCores.toFixed(2)} cores (${row.cpuUsPerDatagram.toFixed(2)} µs CPU each, ${row.absorbedPerCoreSecond}/s per busy core), ` +
        `${row.heapBytesPerDatagram.toFixed(2)} heap bytes/datagram over ${row.heapWindowDatagrams} datagrams, ${row.events} membership events`,
    );
    console.log(
      `${String(row.members).padStart(6)} members  ${row.variant.padEnd(16)} the agent's NodeDriver fed full batches of 64: ${row.fullBatches.cpuUsPerDatagram.toFixed(2)} µs CPU/datagram, ` +
        `${row.fullBatches.heapBytesPerDatagram.toFixed(2)} heap bytes/datagram, ${Math.round(1e6 / row.fullBatches.cpuUsPerDatagram)} datagrams/s/core, replies/datagram ${row.fullBatches.repliesPerDatagram.toFixed(2)}`,
    );
    console.log(
      `${String(row.members).padStart(6)} members  ${row.variant.padEnd(16)} counted (warm, ${row.counted.bytesPerBatchOf4.length} x ${row.counted.batches} batches of 64 and of 4): ` +
        `least ${row.counted.perDatagramBytes.toFixed(2)} heap bytes per datagram and ${row.counted.perBatchBytes.toFixed(1)} per batch, ` +
        `median ${row.counted.medianPerDatagramBytes.toFixed(2)} and ${row.counted.medianPerBatchBytes.toFixed(1)} ` +
        `(per batch of 64: ${row.counted.bytesPerBatchOf64.map((x) => x.toFixed(0)).join(' ')}; of 4: ${row.counted.bytesPerBatchOf4.map((x) => x.toFixed(0)).join(' ')})`,
    );
  }
  if (baselineDir !== '' && (kOnly === '' || kOnly === 'agent')) {
    baselineRuns.push(runBaselineAgentRows(baselineDir));
    printBaselineRatios(agent, baselineRuns);
  }
  const structures = [...(kOnly !== '' ? [] : measureStructures(kQuick)), ...(kOnly === '' || kOnly === 'main' ? measureChecksumModes(kQuick) : [])];
  for (const row of structures) {
    console.log(`${String(row.members).padStart(6)} members  ${row.name.padEnd(58)} new ${row.usNew.toFixed(2).padStart(8)} µs  old ${row.usOld.toFixed(2).padStart(8)} µs  new/old ${row.ratioNewToOld.toFixed(4)}`);
  }
  let mainThread: MainThreadResult | null = null;
  if (kOnly === '' || kOnly === 'main') {
    mainThread = await measureMainThread({ members: kAbsorbMembers, windowMs: kQuick ? 3_000 : 6_000, pacePerSecond: kMainPacePerSecond, baselinePacePerSecond: kMainBaselinePacePerSecond });
    console.log(`${String(mainThread.members).padStart(6)} members  main thread background (the agent alone, ${mainThread.idleEvents} events): ${mainThread.backgroundMsPerSecond.toFixed(2)} ms CPU/s`);
    for (const row of mainThread.rows) {
      console.log(
        `${String(row.members).padStart(6)} members  ${row.name.padEnd(58)} ${row.usPerEvent.toFixed(1).padStart(8)} µs main-thread CPU/event (gross ${row.usPerEventGross.toFixed(1)})  ` +
          `${row.msPerTurn.toFixed(3)} ms/turn (${row.events} events in ${row.turnsWithEvents} turns at ${row.pacePerSecond}/s offered, ${row.mainThreadCpuMs.toFixed(1)} ms CPU in ${row.windowMs} ms)`,
      );
    }
    const [fresh, old] = mainThread.rows;
    if (fresh !== undefined && old !== undefined) console.log(`${String(mainThread.members).padStart(6)} members  main thread per membership event new/old ${(fresh.usPerEvent / old.usPerEvent).toFixed(4)} (target ≤ 50 µs)`);
  }
  const icmp: IcmpRow[] = [];
  // A first driver measured and dropped: whichever backend ran first paid 2-3x (the JIT and one-time costs of the path).
  if (kOnly === '' || kOnly === 'main') await measureIcmpReports({ members: kAbsorbMembers, backend: 'wasm' });
  for (const backend of kOnly === '' || kOnly === 'main' ? (['wasm', 'ts'] as const) : []) {
    const row = await measureIcmpReports({ members: kAbsorbMembers, backend });
    icmp.push(row);
    console.log(
      `${String(row.members).padStart(6)} members  ${`ICMP report through the agent's NodeDriver (${row.backend})`.padEnd(58)} ${row.usPerReport.toFixed(2).padStart(8)} µs CPU/report  ` +
        `(issue 14's address lookup alone: ${row.usOldLookupOnly.toFixed(1)} µs; ${row.reports} reports, ${row.events} events; target ≤ 10 µs)`,
    );
  }
  const root = packageRoot();
  mkdirSync(join(root, 'bench', 'results'), { recursive: true });
  const file = join(root, 'bench', 'results', kOnly === 'agent' ? 'path-agent-only.json' : kOnly === 'main' ? 'path-main-only.json' : 'path.json');
  writeFileSync(
    file,
    `${JSON.stringify(
      {
        benchmark: 'bench:path',
        date: new Date().toISOString(),
        node: process.version,
        cpu: cpus()[0]?.model ?? 'unknown',
        cores: cpus().length,
        loadAverage: loadavg(),
        quick: kQuick,
        method: {
          cpu: `process.cpuUsage over ${kRounds} rounds of ${kRoundDatagrams} datagrams after ${kWarmupDatagrams} warm-up; median round`,
          heap: `V8 used_heap_size growth over ${kAllocationDatagrams} datagrams after gc(), no collection inside the window (--max-semi-space-size=64)`,
          baseline: "today's Keyring (node:crypto, a new cipher per datagram) over this branch's engine and transport; at commit 542cb72 (issue 14's code, nothing changed) a quick run gave 16.6 µs per ping at 10,000 members (Wasm)",
          datagramsPerSecondOneCore: '1e6 / cpuUsPerDatagram: recvmmsg excluded, an upper bound',
          agent: `bench/path-agent.ts: the agent's NodeDriver (what workers/agent-worker.ts runs) on this process's main thread, secure, native transport, lan preset, ${kAbsorbMembers} members; a sender process blasts sealed pings for ${kAgentWindowMs} ms after ${kAgentWarmupMs} ms of warm-up; process CPU over the window per ping its engine received; heap: used_heap_size growth over a window of up to ${kAgentHeapWindowMs} ms after gc() with no collection inside, per ping`,
          mainThread: 'bench/path-main-thread.ts: a FarmNode in this process (insecure, API off, no components) made a farm of members by a swarm process, then churned by it (SUSPECT and refutation, one event per datagram); main-thread CPU from /proc/self/task/<pid>/schedstat, less the background of the agent alone (before the members join), per membership event; issue 14\'s readers (bench/baseline-member-readers.ts) attached in the second window',
          absorbed: `a sender process blasts sealed pings over loopback for ${kAbsorbMs} ms after ${kAbsorbWarmupMs} ms of warm-up; the agent path reads them with the addon (recvmmsg) and answers each; its process CPU and the pings its engine received are counted`,
        },
        rows,
        absorbed,
        agent,
        agentBaseline: baselineRuns.length === 0 ? null : { dir: baselineDir, runs: baselineRuns },
        structures,
        mainThread,
        icmp,
      },
      null,
      2,
    )}\n`,
  );
  console.log(`wrote ${file}`);
}

await main();
