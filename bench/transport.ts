/**
 * The transport benchmark (`npm run bench:transport`), native against node:dgram in one run:
 *  (a) datagrams per second at 512-byte payloads between two processes on loopback,
 *      with CPU time per datagram (bench/transport-raw.ts, run as a child);
 *  (b) time from SIGKILL to "dead" at every one of 20 agents on loopback, p50 and max
 *      over 10 kills, each kill of a different agent, restarted and readmitted before
 *      the next. Both transports use the `local` timer preset (loopback RTTs are
 *      microseconds; LAN timers would only stretch the dgram figure).
 * Writes bench/results/transport.json and prints a table.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { packageRoot } from '../src/util/package-root.js';

const kAgents = 20;
const kKills = Number(process.env.GALAXY_BENCH_KILLS ?? 10);
const root = packageRoot();
const cli = join(root, 'dist', 'src', 'cli', 'main.js');

interface Agent {
  address: string;
  child: ChildProcess;
  /** Per peer address: last event seen and when (ms). */
  seen: Map<string, { event: string; atMs: number }>;
}

async function freePort(): Promise<number> {
  const udp = createSocket('udp4');
  udp.bind(0, '127.0.0.1');
  await once(udp, 'listening');
  const port = udp.address().port;
  udp.close();
  return port;
}

function spawnAgent(address: string, seed: string, transport: string): Agent {
  const child = spawn(process.execPath, [cli, 'agent', '--preset', 'local', '--bind', address, '--join', seed, '--transport', transport], { stdio: ['ignore', 'pipe', 'ignore'] });
  const agent: Agent = { address, child, seen: new Map() };
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      const event = JSON.parse(line) as { event: string; address?: string; t: string };
      if (event.address !== undefined) agent.seen.set(event.address, { event: event.event, atMs: Date.parse(event.t) });
    } catch {
      // not a JSON line: ignore
    }
  });
  return agent;
}

async function until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const aliveAt = (a: Agent, b: Agent) => a === b || ['join', 'alive', 'update'].includes(a.seen.get(b.address)?.event ?? '');

async function killRounds(transport: 'native' | 'dgram'): Promise<{ p50Ms: number; maxMs: number; perKillMaxMs: number[] }> {
  const ports: number[] = [];
  while (ports.length < kAgents) {
    const p = await freePort();
    if (!ports.includes(p)) ports.push(p);
  }
  const addresses = ports.map((p) => `127.0.0.1:${p}`);
  const seedOf = (i: number) => (i === 0 ? addresses[1]! : addresses[0]!);
  const agents = addresses.map((a, i) => spawnAgent(a, seedOf(i), transport));
  const all: number[] = [];
  const perKillMaxMs: number[] = [];
  try {
    await until(() => agents.every((a) => agents.every((b) => aliveAt(a, b))), 60_000, 'the farm converged');
    for (let k = 0; k < kKills; k++) {
      const index = 2 + (k % (kAgents - 2));
      const victim = agents[index]!;
      const others = agents.filter((a) => a !== victim);
      const killedAt = Date.now();
      victim.child.kill('SIGKILL');
      await until(() => others.every((a) => a.seen.get(victim.address)?.event === 'dead'), 30_000, `kill ${k} was detected everywhere`);
      const times = others.map((a) => a.seen.get(victim.address)!.atMs - killedAt);
      all.push(...times);
      perKillMaxMs.push(Math.max(...times));
      process.stdout.write(`  ${transport} kill ${k + 1}/${kKills}: max ${Math.max(...times)} ms\n`);
      agents[index] = spawnAgent(victim.address, seedOf(index), transport);
      await until(() => agents.every((a) => agents.every((b) => aliveAt(a, b))), 30_000, 'the restarted agent was readmitted');
    }
  } finally {
    for (const a of agents) if (a.child.exitCode === null && a.child.signalCode === null) a.child.kill('SIGKILL');
  }
  all.sort((a, b) => a - b);
  return { p50Ms: all[Math.floor(all.length / 2)]!, maxMs: all[all.length - 1]!, perKillMaxMs };
}

async function main(): Promise<void> {
  console.log('(a) datagram rate, 512-byte payloads, two processes on loopback ...');
  const raw = spawnSync(process.execPath, [join(root, 'dist', 'bench', 'transport-raw.js')], { stdio: 'inherit', env: process.env });
  if (raw.status !== 0) throw new Error('bench/transport-raw failed');
  const rate = JSON.parse(readFileSync(join(root, 'bench', 'results', 'transport-raw.json'), 'utf8')) as Record<string, unknown>;
  console.log(`(b) SIGKILL to dead at every one of ${kAgents} agents, ${kKills} kills per transport ...`);
  const load = loadavg()[0];
  const native = await killRounds('native');
  const dgram = await killRounds('dgram');
  const results = { date: new Date().toISOString(), node: process.version, loadAverageAtStart: load, agents: kAgents, kills: kKills, preset: 'local', rate, killToDead: { native, dgram, p50Ratio: Math.round((dgram.p50Ms / native.p50Ms) * 10) / 10 } };
  mkdirSync(join(root, 'bench', 'results'), { recursive: true });
  writeFileSync(join(root, 'bench', 'results', 'transport.json'), JSON.stringify(results, null, 2) + '\n');
  console.log('| kill-to-dead at all 20 agents | p50 ms | max ms |');
  console.log('|---|---:|---:|');
  console.log(`| native (ICMP error queue) | ${native.p50Ms} | ${native.maxMs} |`);
  console.log(`| node:dgram (SWIM probes only) | ${dgram.p50Ms} | ${dgram.maxMs} |`);
  console.log(`dgram/native p50 ratio ${results.killToDead.p50Ratio}x. Results written to bench/results/transport.json`);
}

await main();
