/**
 * The kill benchmark (`npm run bench:kill`, issue 14 item 5): how long after a SIGKILL
 * every survivor of a farm of real agents on loopback knows the victim is dead.
 *
 * What runs: `galaxy agent` processes as a new user starts them (the default `lan`
 * preset, the native transport, GALAXY_COMPONENTS=none, API off, an open farm), 10 and
 * then 20 of them. Each run SIGKILLs one agent chosen at random and waits until every
 * survivor printed its `dead` line about it (or kTimeoutMs); the victim is then started
 * again on a fresh port and the farm settles (everyone saw it join, then 1-2 s more, a
 * random part so the kill lands anywhere in the probe and beat cycles) before the next
 * run. A survivor's detection time runs from the kill (taken just before kill()) to the
 * wall-clock stamp `t` the survivor wrote on its `dead` line; all processes share the
 * machine's clock. Per run it prints the first, median and slowest survivor.
 *
 * Serf, when the `serf` binary is present (the Debian package), runs the same way
 * beside it: `serf agent` processes with their defaults (memberlist's LAN profile),
 * detection at the moment the bench reads the survivor's `EventMemberFailed` log line
 * (Serf stamps its lines in whole seconds only, so the bench's receipt time is used:
 * it includes the pipe, well under a millisecond when the bench is idle).
 *
 * Figures go to bench/results/kill.json (kill-dgram.json with GALAXY_KILL_TRANSPORT=dgram).
 * Options (environment): GALAXY_KILL_RUNS (20), GALAXY_KILL_SIZES ("10,20"),
 * GALAXY_KILL_SERF_RUNS (the same as runs; 0 skips Serf), GALAXY_KILL_TRANSPORT
 * (native; dgram runs the agents without the addon, where SWIM alone must find the kill).
 * The machine is shared: the load average is recorded beside the figures.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { once } from 'node:events';
import { packageRoot } from '../src/core/platform/package-root.js';
import { freePort } from './free-port.js';

/** GALAXY_KILL_TRANSPORT=dgram measures the agent without the addon (no ICMP: SWIM alone). */
const kTransport = process.env['GALAXY_KILL_TRANSPORT'] === 'dgram' ? 'dgram' : 'native';
/** A run whose survivors have not all reported within this is recorded as missed. */
const kTimeoutMs = 30_000;
/** Time allowed for a farm (or a restarted victim) to be seen by everyone. */
const kConvergeTimeoutMs = 60_000;
/** Settling after convergence: a fixed part (the watch ring refreshes every second) and a random part. */
const kSettleMs = 1_000;
const kSettleJitterMs = 1_000;
/** Stdout/stderr lines kept per process (only the recent ones matter). */
const kLinesMax = 4_096;

const root = packageRoot();
// The program a user runs: package.json's bin (the bundle with its code cache, built by `npm run build`).
const cli = join(root, (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { bin: { galaxy: string } }).bin.galaxy);
if (!existsSync(cli)) throw new Error(`${cli} is missing: run npm run build (or npm run build:bundle)`);
const dataRoot = mkdtempSync(join(tmpdir(), 'galaxy-bench-kill-'));
// The watch ring's interval (the LAN default is 20 ms); GALAXY_KILL_WATCH_MS=0 measures
// the agents with it off.
const kWatchIntervalMs = Number(process.env.GALAXY_KILL_WATCH_MS ?? 20);
const kConfigFile = join(dataRoot, 'agent.yaml');
writeFileSync(kConfigFile, `membership:\n  watchIntervalMs: ${kWatchIntervalMs}\n`);

interface Seen {
  /** Wall-clock ms of each member's first `dead` (or failed) report, by subject address or name. */
  readonly dead: Map<string, number>;
  /** Subjects seen joining (or alive again), by address or name. */
  readonly joined: Set<string>;
}

interface Proc {
  readonly key: string; // the address (Galaxy) or node name (Serf) the others report it by
  readonly child: ChildProcess;
  readonly seen: Seen;
  stderr: string;
}

interface RunResult {
  readonly victim: string;
  readonly firstMs: number | null;
  readonly medianMs: number | null;
  readonly slowestMs: number | null;
  readonly missed: number;
  readonly survivors: number;
}

interface System {
  readonly name: string;
  start(key: number, seeds: readonly Proc[]): Promise<Proc>;
}


const galaxy: System = {
  name: 'galaxy',
  async start(_key, seeds) {
    const address = `127.0.0.1:${await freePort()}`;
    const args = [cli, 'agent', '--config', kConfigFile, '--bind', address, '--transport', kTransport, '--insecure', '--api', 'off', '--log-level', 'warn', '--data-dir', join(dataRoot, address.replace(/[:.]/g, '_'))];
    if (seeds.length > 0) args.push('--join', seeds.slice(0, 3).map((s) => s.key).join(','));
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, GALAXY_COMPONENTS: 'none' } });
    const proc: Proc = { key: address, child, seen: { dead: new Map(), joined: new Set() }, stderr: '' };
    createInterface({ input: child.stdout! }).on('line', (text) => {
      let line: { t?: string; event?: string; address?: string };
      try {
        line = JSON.parse(text) as typeof line;
      } catch {
        return;
      }
      if (line.address === undefined) return;
      if (line.event === 'dead' && !proc.seen.dead.has(line.address)) proc.seen.dead.set(line.address, Date.parse(line.t ?? '') || Date.now());
      if (line.event === 'join' || line.event === 'alive') proc.seen.joined.add(line.address);
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      if (proc.stderr.length < 16_384) proc.stderr += chunk.toString();
    });
    return proc;
  },
};

function serfSystem(binary: string): System {
  return {
    name: 'serf',
    async start(key, seeds) {
      const port = await freePort();
      const rpcPort = await freePort();
      const name = `n${key}`;
      const args = ['agent', `-node=${name}`, `-bind=127.0.0.1:${port}`, `-rpc-addr=127.0.0.1:${rpcPort}`, '-log-level=info'];
      for (const seed of seeds.slice(0, 3)) args.push(`-join=${(seed as SerfProc).bind}`);
      const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      const proc: SerfProc = { key: name, bind: `127.0.0.1:${port}`, child, seen: { dead: new Map(), joined: new Set() }, stderr: '' };
      const onLine = (text: string): void => {
        // e.g. "2026/12/07 02:40:01 [INFO] serf: EventMemberFailed: n3 127.0.0.1"
        const failed = /EventMemberFailed: (\S+)/.exec(text);
        if (failed !== null && !proc.seen.dead.has(failed[1]!)) proc.seen.dead.set(failed[1]!, Date.now());
        const joined = /EventMemberJoin: (\S+)/.exec(text);
        if (joined !== null) proc.seen.joined.add(joined[1]!);
      };
      createInterface({ input: child.stdout! }).on('line', onLine);
      createInterface({ input: child.stderr! }).on('line', onLine);
      return proc;
    },
  };
}

interface SerfProc extends Proc {
  readonly bind: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(what: string, condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) {
      console.warn(`  (timed out waiting until ${what})`);
      return false;
    }
    await sleep(2);
  }
  return true;
}

function stop(proc: Proc): void {
  if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill('SIGKILL');
}

function median(sorted: readonly number[]): number {
  return sorted[sorted.length >> 1]!;
}

async function runSize(system: System, size: number, runs: number): Promise<RunResult[]> {
  let nextKey = 0;
  const procs: Proc[] = [];
  const everyoneSees = (subject: Proc): boolean => procs.every((p) => p === subject || p.seen.joined.has(subject.key));
  // The first agent, then the rest in small batches: fifty processes booting at once on
  // two cores would measure the boot, not the farm.
  procs.push(await system.start(nextKey++, []));
  await sleep(500);
  while (procs.length < size) {
    const batch: Promise<Proc>[] = [];
    for (let i = 0; i < 5 && procs.length + batch.length < size; i++) batch.push(system.start(nextKey++, procs));
    procs.push(...(await Promise.all(batch)));
  }
  const converged = await until(`${size} ${system.name} agents see each other`, () => procs.every((p) => everyoneSees(p)), kConvergeTimeoutMs);
  if (!converged) for (const p of procs) if (p.stderr !== '') console.warn(`  ${p.key}: ${p.stderr.slice(0, 400)}`);
  const results: RunResult[] = [];
  try {
    for (let run = 0; run < runs; run++) {
      await sleep(kSettleMs + Math.random() * kSettleJitterMs);
      const index = Math.floor(Math.random() * procs.length);
      const victim = procs[index]!;
      const survivors = procs.filter((p) => p !== victim);
      const killedAtMs = Date.now();
      victim.child.kill('SIGKILL');
      await until(`every survivor reports ${victim.key} dead`, () => survivors.every((p) => p.seen.dead.has(victim.key)), kTimeoutMs);
      const times = survivors.map((p) => p.seen.dead.get(victim.key)).filter((t): t is number => t !== undefined).map((t) => Math.max(0, t - killedAtMs)).sort((a, b) => a - b);
      const missed = survivors.length - times.length;
      const result: RunResult = { victim: victim.key, firstMs: times[0] ?? null, medianMs: times.length > 0 ? median(times) : null, slowestMs: missed > 0 ? null : times[times.length - 1]!, missed, survivors: survivors.length };
      results.push(result);
      console.log(`  ${system.name} ${size} run ${String(run + 1).padStart(2)}: first ${fmt(result.firstMs)}  median ${fmt(result.medianMs)}  slowest ${missed > 0 ? `${missed} missed` : fmt(result.slowestMs)}   (load ${loadavg()[0]!.toFixed(2)})`);
      // The victim comes back as a new member (fresh port) and everyone sees it before the next run.
      const replacement = await system.start(nextKey++, survivors);
      procs[index] = replacement;
      await until(`the replacement ${replacement.key} is seen`, () => everyoneSees(replacement) && survivors.every((p) => replacement.seen.joined.has(p.key)), kConvergeTimeoutMs);
    }
  } finally {
    for (const p of procs) stop(p);
    await sleep(300);
  }
  return results;
}

function fmt(ms: number | null): string {
  return ms === null ? '   -   ' : `${ms.toFixed(0).padStart(5)} ms`;
}

function summarize(results: readonly RunResult[]): Record<string, number | null> {
  const slowest = results.map((r) => r.slowestMs);
  const complete = slowest.filter((s): s is number => s !== null).sort((a, b) => a - b);
  const medians = results.map((r) => r.medianMs).filter((s): s is number => s !== null).sort((a, b) => a - b);
  const firsts = results.map((r) => r.firstMs).filter((s): s is number => s !== null).sort((a, b) => a - b);
  return {
    runs: results.length,
    runsSlowestWithin250Ms: complete.filter((s) => s <= 250).length,
    runsMedianWithin50Ms: medians.filter((s) => s <= 50).length,
    runsWithMissedSurvivors: results.filter((r) => r.missed > 0).length,
    firstMsMedian: firsts.length > 0 ? median(firsts) : null,
    medianMsMedian: medians.length > 0 ? median(medians) : null,
    medianMsMax: medians.length > 0 ? medians[medians.length - 1]! : null,
    slowestMsMedian: complete.length > 0 ? median(complete) : null,
    slowestMsMax: complete.length > 0 ? complete[complete.length - 1]! : null,
  };
}

async function main(): Promise<void> {
  const runs = Number(process.env['GALAXY_KILL_RUNS'] ?? 20);
  const sizes = (process.env['GALAXY_KILL_SIZES'] ?? '10,20').split(',').map(Number);
  const serfRuns = Number(process.env['GALAXY_KILL_SERF_RUNS'] ?? runs);
  const serfPath = spawnSync('sh', ['-c', 'command -v serf'], { encoding: 'utf8' }).stdout.trim();
  const systems: Array<{ system: System; runs: number }> = [{ system: galaxy, runs }];
  if (serfPath !== '' && serfRuns > 0) systems.push({ system: serfSystem(serfPath), runs: serfRuns });
  else console.log(serfPath === '' ? 'serf not installed (apt-get install -y serf): Galaxy only' : 'GALAXY_KILL_SERF_RUNS=0: Galaxy only');
  console.log(`kill detection on loopback: ${sizes.join(' and ')} agents, ${runs} runs each; load average at start ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const out: Record<string, unknown> = { startedAt: new Date().toISOString(), loadAverageAtStart: loadavg(), galaxy: { preset: 'lan', transport: kTransport, components: 'none', api: 'off' }, results: {} as Record<string, unknown> };
  const results = out['results'] as Record<string, unknown>;
  try {
    for (const size of sizes) {
      for (const { system, runs: n } of systems) {
        const perRun = await runSize(system, size, n);
        const summary = summarize(perRun);
        results[`${system.name}-${size}`] = { summary, runs: perRun };
        console.log(`${system.name} ${size} agents: slowest survivor within 250 ms in ${String(summary['runsSlowestWithin250Ms'])}/${perRun.length} runs, median survivor within 50 ms in ${String(summary['runsMedianWithin50Ms'])}/${perRun.length}; first ${String(summary['firstMsMedian'])} ms, median ${String(summary['medianMsMedian'])} ms, slowest ${String(summary['slowestMsMedian'])} ms (medians over runs), worst slowest ${String(summary['slowestMsMax'])} ms`);
      }
    }
  } finally {
    rmSync(dataRoot, { recursive: true, force: true });
  }
  out['loadAverageAtEnd'] = loadavg();
  mkdirSync(join(root, 'bench', 'results'), { recursive: true });
  const file = join(root, 'bench', 'results', kTransport === 'dgram' ? 'kill-dgram.json' : 'kill.json');
  writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
  console.log(`wrote ${file}`);
}

main().catch((error: Error) => {
  console.error(error.stack ?? error.message);
  process.exit(1);
});
