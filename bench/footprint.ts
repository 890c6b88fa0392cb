/**
 * The footprint benchmark (`npm run bench:footprint`, issue 14 item 7): what an agent
 * costs every node of a farm, Galaxy beside Serf in the same run.
 *
 * What runs: N agents on loopback started at once (GALAXY_FOOTPRINT_AGENTS, default 50):
 * `galaxy agent` sealed with one farm key (--key), the default `lan` preset, the native
 * transport, GALAXY_COMPONENTS=none, API off; then, when the `serf` binary is present,
 * N `serf agent` processes with their defaults. Each agent joins through the first three
 * started. Measured, from /proc (utime + stime of the whole process, all threads):
 *  - boot CPU: each agent's CPU when it printed that it started (Galaxy's `started`
 *    line, Serf's "Serf agent starting"... line, read as they arrive);
 *  - boot wall time: from the spawn of the first to the last agent's start line;
 *  - convergence: from the last start line until every agent has logged a join for
 *    every other one (GALAXY_FOOTPRINT_CONVERGE_MS bounds the wait);
 *  - idle CPU: after kSettleMs more, the farm's CPU over kIdleWindowMs, in cores for
 *    the farm and millicores per agent;
 *  - RSS: VmRSS per agent at the end, median and max, MiB.
 * A slow convergence is traced as it happens (issue 14 item 7, the 100-agent row): for
 * each agent the wall time from its start line to its first join, with its CPU and its
 * threads' run-queue wait (/proc schedstat) meanwhile; the joins logged after the last
 * boot, by observer and by subject; the join seeds' CPU and run-queue wait against the
 * others'. GALAXY_FOOTPRINT_LOG_DIR keeps every agent's output lines (ms since the first
 * spawn, one file per agent), GALAXY_FOOTPRINT_LOG_LEVEL sets the agents' --log-level,
 * GALAXY_FOOTPRINT_IDLE_MS the idle window (default 20 s).
 * The ratios Galaxy/Serf are printed beside each figure, and the figures go to
 * bench/results/footprint.json with the load average (the machine is shared).
 *
 * Agents run as a user runs them: package.json's bin, the bundle with its V8 code cache
 * (scripts/bundle.mjs). First, one agent at a time (GALAXY_FOOTPRINT_SINGLE runs each,
 * default 5, alternating), the boot CPU and RSS of that bin against the compiled
 * modules (dist/src/ops/cli/main.js, what ran before the bundle): a baseline in the
 * same run, free of the simultaneous boot's contention. GALAXY_FOOTPRINT_BASELINE_BIN names
 * another build's bin (say main's dist/bundle/galaxy.cjs) whose N agents are measured the
 * same way just before this build's, each figure printed beside this build's. The first bin run may write the
 * code cache (after 4 s); it is run once untimed before.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { once } from 'node:events';
import { packageRoot } from '../src/core/platform/package-root.js';

const kSettleMs = 5_000;
const kIdleWindowMs = Number(process.env['GALAXY_FOOTPRINT_IDLE_MS'] ?? 20_000);
/** GALAXY_FOOTPRINT_LOG_DIR: every agent's output lines, each with ms since the first spawn, one file per agent (a trace of a slow convergence). */
const logDir = process.env['GALAXY_FOOTPRINT_LOG_DIR'] || undefined;
const kClockTicksPerSecond = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

const root = packageRoot();
// The program a user runs: package.json's bin (the bundle with its code cache, built by `npm run build`).
const cli = join(root, (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { bin: { galaxy: string } }).bin.galaxy);
if (!existsSync(cli)) throw new Error(`${cli} is missing: run npm run build (or npm run build:bundle)`);

interface Agent {
  readonly name: string;
  lastLine: string;
  readonly child: ChildProcess;
  startedAtMs: number;
  bootCpuMs: number;
  /** When the agent logged its first join, and its CPU (ms) then: the join's cost against its wait. */
  firstJoinAtMs: number;
  firstJoinCpuMs: number;
  /** Run-queue wait (all threads) at the start line and at the first join, ms. */
  bootWaitMs: number;
  firstJoinWaitMs: number;
  readonly joined: Set<string>;
  /** When each member was first seen joining (ms since the epoch), for the late-join trace. */
  readonly joinedAtMs: Map<string, number>;
}

interface Figures {
  agents: number;
  converged: boolean;
  bootWallMs: number;
  bootCpuMsMedian: number;
  bootCpuMsMax: number;
  convergeMs: number | null;
  idleCores: number;
  idleMillicoresPerAgent: number;
  rssMiBMedian: number;
  rssMiBMax: number;
  /** The convergence trace's lines, as printed (see lateJoins). */
  trace: string[];
}

/**
 * Ports are chosen below the ephemeral range (32768 and up here): agents booting for tens
 * of seconds open outbound connections whose local ports would otherwise take a port
 * handed to an agent not started yet.
 */
const kPortLow = 12_000;
const kPortHigh = 30_000;
const taken = new Set<number>();

async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const candidate = kPortLow + Math.floor(Math.random() * (kPortHigh - kPortLow));
    if (taken.has(candidate)) continue;
    const udp = createSocket('udp4');
    const bound = await new Promise<boolean>((resolve) => {
      udp.once('error', () => resolve(false));
      udp.bind(candidate, '127.0.0.1', () => resolve(true));
    });
    if (!bound) {
      udp.close();
      continue;
    }
    const port = candidate;
    const tcp = createServer();
    const ok = await new Promise<boolean>((resolve) => {
      tcp.once('error', () => resolve(false));
      tcp.listen(port, '127.0.0.1', () => resolve(true));
    });
    udp.close();
    if (ok) {
      tcp.close();
      taken.add(port);
      return port;
    }
  }
  throw new Error('no port free for both UDP and TCP');
}

/** utime + stime of a process, ms (0 once it is gone). */
function cpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / kClockTicksPerSecond;
  } catch {
    return 0;
  }
}

/**
 * Time the process's threads spent runnable but waiting for a CPU, ms (the second field of
 * /proc/PID/task/TID/schedstat, summed over threads; 0 once it is gone): how much of a
 * slow step was the machine's run queue rather than the agent's own work or a timer.
 */
function runQueueWaitMs(pid: number): number {
  let total = 0;
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        total += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[1]) / 1e6;
      } catch {
        // the thread ended meanwhile
      }
    }
  } catch {
    return 0;
  }
  return total;
}

function rssMiB(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match === null ? 0 : Number(match[1]) / 1024;
  } catch {
    return 0;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const sorted = (values: number[]): number[] => values.slice().sort((a, b) => a - b);
const median = (values: number[]): number => sorted(values)[values.length >> 1]!;

async function measure(system: 'galaxy' | 'serf', count: number, convergeTimeoutMs: number, serfPath: string, entry = cli): Promise<Figures> {
  const dataRoot = mkdtempSync(join(tmpdir(), 'galaxy-bench-footprint-'));
  const key = randomBytes(32).toString('base64');
  const binds: string[] = [];
  const rpcPorts: number[] = [];
  for (let i = 0; i < count; i++) {
    binds.push(`127.0.0.1:${await freePort()}`);
    rpcPorts.push(await freePort());
  }
  const names = system === 'galaxy' ? binds : binds.map((_, i) => `n${i}`);
  const agents: Agent[] = [];
  const spawnedAtMs = Date.now();
  for (let i = 0; i < count; i++) {
    const seeds = binds.slice(0, Math.min(3, count)).filter((b) => b !== binds[i]);
    let child: ChildProcess;
    if (system === 'galaxy') {
      const args = [entry, 'agent', '--bind', binds[i]!, '--transport', 'native', '--key', key, '--api', 'off', '--log-level', process.env['GALAXY_FOOTPRINT_LOG_LEVEL'] ?? 'warn', '--data-dir', join(dataRoot, String(i))];
      if (seeds.length > 0) args.push('--join', seeds.join(','));
      child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, GALAXY_COMPONENTS: 'none' } });
    } else {
      const args = ['agent', `-node=${names[i]!}`, `-bind=${binds[i]!}`, `-rpc-addr=127.0.0.1:${rpcPorts[i]!}`, '-log-level=info', '-retry-interval=1s', ...seeds.map((s) => `-retry-join=${s}`)];
      child = spawn(serfPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    }
    const agent: Agent = { name: names[i]!, lastLine: '', child, startedAtMs: 0, bootCpuMs: 0, firstJoinAtMs: 0, firstJoinCpuMs: 0, bootWaitMs: 0, firstJoinWaitMs: 0, joined: new Set(), joinedAtMs: new Map() };
    child.on('exit', (code, signal) => {
      if (signal !== 'SIGKILL') console.warn(`  ${system} agent ${agent.name} exited early (${code ?? signal}): ${agent.lastLine.slice(0, 300)}`);
    });
    const log = logDir === undefined ? null : join(logDir, `${system}-${i}.log`);
    const onLine = (text: string): void => {
      agent.lastLine = text;
      if (log !== null) appendFileSync(log, `${Date.now() - spawnedAtMs} ${text}\n`);
      if (agent.startedAtMs === 0 && (system === 'galaxy' ? text.includes('"event":"started"') : text.includes('Serf agent starting') || text.includes('serf: EventMemberJoin'))) {
        agent.startedAtMs = Date.now();
        agent.bootCpuMs = cpuMs(child.pid!);
        agent.bootWaitMs = runQueueWaitMs(child.pid!);
      }
      if (system === 'galaxy') {
        const match = /"event":"join".*?"address":"([^"]+)"/.exec(text);
        if (match !== null && !agent.joined.has(match[1]!)) {
          if (agent.joined.size === 0) {
            agent.firstJoinAtMs = Date.now();
            agent.firstJoinCpuMs = cpuMs(child.pid!);
            agent.firstJoinWaitMs = runQueueWaitMs(child.pid!);
          }
          agent.joined.add(match[1]!);
          agent.joinedAtMs.set(match[1]!, Date.now());
        }
      } else {
        const match = /EventMemberJoin: (\S+)/.exec(text);
        if (match !== null && match[1] !== agent.name && !agent.joined.has(match[1]!)) {
          agent.joined.add(match[1]!);
          agent.joinedAtMs.set(match[1]!, Date.now());
        }
      }
    };
    createInterface({ input: child.stdout! }).on('line', onLine);
    createInterface({ input: child.stderr! }).on('line', onLine);
    agents.push(agent);
  }
  try {
    const deadline = Date.now() + convergeTimeoutMs;
    while (agents.some((a) => a.startedAtMs === 0) && Date.now() < deadline) await sleep(5);
    const lastStartMs = Math.max(...agents.map((a) => a.startedAtMs));
    let convergedAtMs = 0;
    while (Date.now() < deadline) {
      if (agents.every((a) => a.joined.size >= count - 1)) {
        convergedAtMs = Date.now();
        break;
      }
      await sleep(5);
    }
    const label = entry === cli ? system : `${system} (baseline)`;
    const trace = lateJoins(label, agents, lastStartMs);
    const cpuNow = agents.map((a) => cpuMs(a.child.pid!));
    const queuedNow = agents.map((a) => Math.round(runQueueWaitMs(a.child.pid!)));
    trace.push(`  ${label}: since spawn, at convergence: CPU of the join seeds ${cpuNow.slice(0, 3).join(', ')} ms, of the others ${median(cpuNow.slice(3))} ms median, ${Math.max(...cpuNow.slice(3))} max; run-queue wait of the seeds ${queuedNow.slice(0, 3).join(', ')} ms, of the others ${median(queuedNow.slice(3))} ms median`);
    console.log(trace[trace.length - 1]);
    await sleep(kSettleMs);
    const before = agents.map((a) => cpuMs(a.child.pid!));
    const t0 = Date.now();
    await sleep(kIdleWindowMs);
    const after = agents.map((a) => cpuMs(a.child.pid!));
    const windowMs = Date.now() - t0;
    const idleCpuMs = after.reduce((sum, value, i) => sum + (value - before[i]!), 0);
    const rss = agents.map((a) => rssMiB(a.child.pid!));
    const boot = agents.map((a) => a.bootCpuMs);
    return {
      agents: count,
      converged: convergedAtMs > 0,
      bootWallMs: lastStartMs - spawnedAtMs,
      bootCpuMsMedian: median(boot),
      bootCpuMsMax: Math.max(...boot),
      convergeMs: convergedAtMs > 0 ? Math.max(0, convergedAtMs - lastStartMs) : null,
      idleCores: idleCpuMs / windowMs,
      idleMillicoresPerAgent: (idleCpuMs / windowMs / count) * 1000,
      rssMiBMedian: median(rss),
      rssMiBMax: Math.max(...rss),
      trace,
    };
  } finally {
    for (const a of agents) if (a.child.exitCode === null && a.child.signalCode === null) a.child.kill('SIGKILL');
    await sleep(500);
    rmSync(dataRoot, { recursive: true, force: true });
  }
}

/**
 * Which views completed late: the joins logged after the last boot, by observer and by
 * subject (the member that was learned), with each one's boot time relative to the last
 * boot. Tells a farm that waits on a few late-booted members (their news not spread) from
 * one that waits on a few observers (their push-pull not answered) or on everyone (CPU).
 */
function lateJoins(system: string, agents: readonly Agent[], lastStartMs: number): string[] {
  const lines: string[] = [];
  const index = new Map(agents.map((a, i) => [a.name, i]));
  const late: { observer: number; subject: number; afterMs: number }[] = [];
  agents.forEach((a, observer) => {
    for (const [name, at] of a.joinedAtMs) if (at > lastStartMs) late.push({ observer, subject: index.get(name) ?? -1, afterMs: at - lastStartMs });
  });
  const missing = agents.reduce((sum, a) => sum + (agents.length - 1 - a.joined.size), 0);
  const byCount = (key: 'observer' | 'subject'): string => {
    const counts = new Map<number, number>();
    for (const l of late) counts.set(l[key], (counts.get(l[key]) ?? 0) + 1);
    return [...counts].sort((x, y) => y[1] - x[1]).slice(0, 6).map(([i, n]) => `#${i} (booted ${((agents[i]?.startedAtMs ?? 0) - lastStartMs) / 1000} s) x${n}`).join(', ');
  };
  late.sort((x, y) => x.afterMs - y.afterMs);
  const firstViews = agents.filter((a) => a.firstJoinAtMs > 0).map((a) => ({ waitMs: a.firstJoinAtMs - a.startedAtMs, cpuMs: a.firstJoinCpuMs - a.bootCpuMs, queuedMs: a.firstJoinWaitMs - a.bootWaitMs }));
  if (firstViews.length > 0) {
    const waits = sorted(firstViews.map((f) => f.waitMs));
    const cpus = sorted(firstViews.map((f) => f.cpuMs));
    const queued = sorted(firstViews.map((f) => Math.round(f.queuedMs)));
    lines.push(`  ${system}: from its start line to its first join, per agent: wall ${median(waits)} ms median, ${waits[waits.length - 1]} max; meanwhile its CPU ${median(cpus)} ms median, ${cpus[cpus.length - 1]} max, and its threads' run-queue wait ${median(queued)} ms median, ${queued[queued.length - 1]} max`);
  }
  const quantile = (q: number): number => late[Math.min(late.length - 1, Math.floor(q * late.length))]?.afterMs ?? 0;
  lines.push(`  ${system}: ${late.length} joins logged after the last boot (p50 ${quantile(0.5)} ms, p90 ${quantile(0.9)} ms, last ${quantile(1)} ms), ${missing} never`);
  if (late.length > 0) lines.push(`    by observer: ${byCount('observer')}`, `    by subject: ${byCount('subject')}`);
  for (const line of lines) console.log(line);
  return lines;
}

const moduleCli = join(root, 'dist', 'src', 'ops', 'cli', 'main.js');

/** Boot CPU (at the `started` line) and RSS (3 s later) of one agent alone, started from `entry`. */
async function single(entry: string): Promise<{ bootCpuMs: number; rssMiB: number }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'galaxy-bench-footprint-single-'));
  const bind = `127.0.0.1:${await freePort()}`;
  const child = spawn(process.execPath, [entry, 'agent', '--bind', bind, '--transport', 'native', '--key', randomBytes(32).toString('base64'), '--api', 'off', '--log-level', 'warn', '--data-dir', dataDir], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, GALAXY_COMPONENTS: 'none' } });
  try {
    const bootCpuMs = await new Promise<number>((resolve, reject) => {
      const onLine = (text: string): void => {
        if (text.includes('"event":"started"')) resolve(cpuMs(child.pid!));
      };
      createInterface({ input: child.stdout! }).on('line', onLine);
      createInterface({ input: child.stderr! }).on('line', onLine);
      child.once('exit', (code) => reject(new Error(`agent from ${entry} exited (${code}) before it started`)));
    });
    await sleep(3000);
    return { bootCpuMs, rssMiB: rssMiB(child.pid!) };
  } finally {
    child.kill('SIGKILL');
    await once(child, 'exit').catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

function line(label: string, galaxy: number | null, serf: number | null, unit: string, digits = 1): string {
  const g = galaxy === null ? '-' : galaxy.toFixed(digits);
  const s = serf === null ? '-' : serf.toFixed(digits);
  const ratio = galaxy !== null && serf !== null && serf > 0 ? `${(galaxy / serf).toFixed(2)}x` : '-';
  return `  ${label.padEnd(34)} ${`${g} ${unit}`.padStart(16)} ${`${s} ${unit}`.padStart(16)} ${ratio.padStart(8)}`;
}

async function main(): Promise<void> {
  const count = Number(process.env['GALAXY_FOOTPRINT_AGENTS'] ?? 50);
  const convergeTimeoutMs = Number(process.env['GALAXY_FOOTPRINT_CONVERGE_MS'] ?? 120_000);
  const serfPath = spawnSync('sh', ['-c', 'command -v serf'], { encoding: 'utf8' }).stdout.trim();
  console.log(`footprint of ${count} agents on loopback; load average at start ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const singleRuns = Number(process.env['GALAXY_FOOTPRINT_SINGLE'] ?? 5);
  let singles: { bin: { bootCpuMs: number[]; rssMiB: number[] }; modules: { bootCpuMs: number[]; rssMiB: number[] } } | null = null;
  if (singleRuns > 0) {
    await single(cli);
    await sleep(2000); // the code cache is written 4 s after a start that found none
    singles = { bin: { bootCpuMs: [], rssMiB: [] }, modules: { bootCpuMs: [], rssMiB: [] } };
    for (let i = 0; i < singleRuns; i++) {
      for (const [kind, entry] of [['bin', cli], ['modules', moduleCli]] as const) {
        const r = await single(entry);
        singles[kind].bootCpuMs.push(r.bootCpuMs);
        singles[kind].rssMiB.push(r.rssMiB);
      }
    }
    const b = singles.bin;
    const m = singles.modules;
    console.log(`one agent at a time, ${singleRuns} runs each (load ${loadavg()[0]!.toFixed(2)}):`);
    console.log(`  ${''.padEnd(34)} ${'bundle (bin)'.padStart(16)} ${'modules'.padStart(16)} ${'ratio'.padStart(8)}`);
    console.log(line('boot CPU, median', median(b.bootCpuMs), median(m.bootCpuMs), 'ms', 0));
    console.log(line('RSS 3 s after start, median', median(b.rssMiB), median(m.rssMiB), 'MiB'));
  }
  // Another build's bin (GALAXY_FOOTPRINT_BASELINE_BIN, e.g. main's dist/bundle/galaxy.cjs)
  // measured the same way in the same run, before this one: before/after under the same load.
  const baselineBin = process.env['GALAXY_FOOTPRINT_BASELINE_BIN'];
  let baseline: Figures | null = null;
  if (baselineBin !== undefined && baselineBin !== '') {
    if (!existsSync(baselineBin)) throw new Error(`GALAXY_FOOTPRINT_BASELINE_BIN ${baselineBin} is missing`);
    await single(baselineBin); // its code cache, as for this build's bin
    await sleep(2000);
    baseline = await measure('galaxy', count, convergeTimeoutMs, serfPath, baselineBin);
    console.log(`baseline ${baselineBin} (load ${loadavg()[0]!.toFixed(2)}) beside this build:`);
  }
  const galaxy = await measure('galaxy', count, convergeTimeoutMs, serfPath);
  if (baseline !== null) {
    console.log(`  ${''.padEnd(34)} ${'this build'.padStart(16)} ${'baseline'.padStart(16)} ${'ratio'.padStart(8)}`);
    console.log(line('RSS per agent, median', galaxy.rssMiBMedian, baseline.rssMiBMedian, 'MiB'));
    console.log(line('RSS per agent, max', galaxy.rssMiBMax, baseline.rssMiBMax, 'MiB'));
    console.log(line('idle CPU per agent', galaxy.idleMillicoresPerAgent, baseline.idleMillicoresPerAgent, 'mcore'));
    console.log(line('boot CPU per agent, median', galaxy.bootCpuMsMedian, baseline.bootCpuMsMedian, 'ms', 0));
    console.log(line('boot wall time, all at once', galaxy.bootWallMs, baseline.bootWallMs, 'ms', 0));
    console.log(line('full views after the last boot', galaxy.convergeMs, baseline.convergeMs, 'ms', 0));
  }
  const serf = serfPath === '' ? null : await measure('serf', count, convergeTimeoutMs, serfPath);
  if (serf === null) console.log('serf not installed (apt-get install -y serf): Galaxy only');
  console.log(`  ${''.padEnd(34)} ${'galaxy'.padStart(16)} ${'serf'.padStart(16)} ${'ratio'.padStart(8)}`);
  console.log(line('idle CPU per agent', galaxy.idleMillicoresPerAgent, serf?.idleMillicoresPerAgent ?? null, 'mcore'));
  console.log(line('idle CPU, whole farm', galaxy.idleCores, serf?.idleCores ?? null, 'cores', 3));
  console.log(line('RSS per agent, median', galaxy.rssMiBMedian, serf?.rssMiBMedian ?? null, 'MiB'));
  console.log(line('RSS per agent, max', galaxy.rssMiBMax, serf?.rssMiBMax ?? null, 'MiB'));
  console.log(line('boot CPU per agent, median', galaxy.bootCpuMsMedian, serf?.bootCpuMsMedian ?? null, 'ms', 0));
  console.log(line('boot CPU per agent, max', galaxy.bootCpuMsMax, serf?.bootCpuMsMax ?? null, 'ms', 0));
  console.log(line('boot wall time, all at once', galaxy.bootWallMs, serf?.bootWallMs ?? null, 'ms', 0));
  console.log(line('full views after the last boot', galaxy.convergeMs, serf?.convergeMs ?? null, 'ms', 0));
  const out = { startedAt: new Date().toISOString(), loadAverageAtEnd: loadavg(), agents: count, entry: cli, galaxy, serf, single: singles, ...(baseline === null ? {} : { baseline: { entry: baselineBin, figures: baseline } }) };
  mkdirSync(join(root, 'bench', 'results'), { recursive: true });
  const file = join(root, 'bench', 'results', process.env['GALAXY_FOOTPRINT_OUT'] ?? 'footprint.json');
  writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
  console.log(`wrote ${file}`);
}

main().catch((error: Error) => {
  console.error(error.stack ?? error.message);
  process.exit(1);
});
