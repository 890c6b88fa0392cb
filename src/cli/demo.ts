import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { packageRoot } from '../util/package-root.js';

export interface DemoOptions {
  /** Agents to start (each a separate process). */
  nodes: number;
  /** Stop by itself after this many seconds; 0 runs until Ctrl-C. */
  durationS: number;
  /** Kill one agent with SIGKILL once converged, to show failure detection, then restart it. */
  showFailure: boolean;
  print: (line: string) => void;
}

interface AgentProcess {
  address: string;
  child: ChildProcess;
  /** Members this agent currently holds alive (itself included). */
  alive: Set<string>;
  transport: string;
}

/**
 * The embedded demo behind `npm start`: a farm of real `galaxy agent` processes on
 * loopback. It prints the membership as it converges, kills one agent with SIGKILL and
 * shows how fast every other agent learns it is dead, restarts it and shows it rejoin,
 * then keeps the farm running (Ctrl-C stops every process it started).
 */
export async function runDemo(options: DemoOptions): Promise<void> {
  const { print } = options;
  const ports = await freePorts(options.nodes);
  // The demo farm's identities live in a temporary folder, removed when the demo stops.
  const dataRoot = mkdtempSync(join(tmpdir(), 'galaxy-demo-'));
  const agents: AgentProcess[] = [];
  const started = Date.now();
  const elapsed = () => `${((Date.now() - started) / 1000).toFixed(2)}s`;
  let stopping = false;
  const stopAll = async () => {
    if (stopping) return;
    stopping = true;
    print('Stopping every agent (graceful leave) ...');
    await Promise.all(agents.map((a) => stopAgent(a)));
    rmSync(dataRoot, { recursive: true, force: true });
    print('All agents stopped.');
  };
  const onSignal = () => void stopAll().then(() => process.exit(0));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const seed = `127.0.0.1:${ports[0]}`;
  const waiters: Array<() => void> = [];
  const changed = () => waiters.splice(0).forEach((w) => w());
  const nextChange = (timeoutMs: number) => new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    waiters.push(() => {
      clearTimeout(timer);
      resolve();
    });
  });
  const launch = (address: string, index: number): AgentProcess => {
    const args = [join(packageRoot(), 'dist', 'src', 'cli', 'main.js'), 'agent', '--bind', address, '--preset', 'local', '--meta', `rack=r${1 + (index % 2)}`, '--data-dir', join(dataRoot, `agent-${index}`), '--log-level', 'warn'];
    if (address !== seed) args.push('--join', seed);
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    const agent: AgentProcess = { address, child, alive: new Set([address]), transport: '?' };
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let event: { event?: string; address?: string; transport?: string };
      try {
        event = JSON.parse(line) as typeof event;
      } catch {
        return;
      }
      if (event.event === 'started' && event.transport) agent.transport = event.transport;
      if (event.address === undefined) return;
      if (event.event === 'join' || event.event === 'alive') agent.alive.add(event.address);
      if (event.event === 'dead' || event.event === 'leave' || event.event === 'reap') agent.alive.delete(event.address);
      changed();
    });
    return agent;
  };

  print(`Starting a farm of ${options.nodes} galaxy agents on 127.0.0.1 (ports ${ports.join(', ')}), local timer preset ...`);
  ports.forEach((port, i) => agents.push(launch(`127.0.0.1:${port}`, i)));
  const converged = () => agents.every((a) => a.alive.size === agents.length);
  let last = '';
  while (!converged() && !stopping) {
    await nextChange(500);
    const line = agents.map((a) => `${a.address.split(':')[1]}:${a.alive.size}/${agents.length}`).join('  ');
    if (line !== last) print(`  [${elapsed()}] members seen per agent  ${line}`);
    last = line;
    if (Date.now() - started > 30_000) throw new Error('the demo farm did not converge within 30 s');
  }
  print(`Converged at ${elapsed()}: every agent sees all ${agents.length} members. Transport: ${agents[0]!.transport}.`);

  if (options.showFailure && agents.length >= 3 && !stopping) {
    const victim = agents[agents.length - 1]!;
    const others = agents.filter((a) => a !== victim);
    print(`Killing ${victim.address} with SIGKILL (no goodbye) ...`);
    const killedAt = Date.now();
    victim.child.kill('SIGKILL');
    while (others.some((a) => a.alive.has(victim.address)) && !stopping) {
      await nextChange(1000);
      if (Date.now() - killedAt > 30_000) throw new Error('the killed agent was not detected within 30 s');
    }
    print(`  every other agent marked it dead ${Date.now() - killedAt} ms after the kill.`);
    print(`Restarting ${victim.address} with the same identity ...`);
    const restartedAt = Date.now();
    agents[agents.length - 1] = launch(victim.address, agents.length - 1);
    while (!converged() && !stopping) {
      await nextChange(1000);
      if (Date.now() - restartedAt > 30_000) throw new Error('the restarted agent did not rejoin within 30 s');
    }
    print(`  it rejoined (with a higher incarnation) and the farm converged again in ${Date.now() - restartedAt} ms.`);
  }

  print('');
  print('The farm is running. Try, in another terminal:');
  print(`  npx galaxy agent --bind 127.0.0.1:${ports[0]! + 1000} --join ${seed} --preset local   # add a member`);
  print(`  kill -9 ${agents[1]!.child.pid}                                                    # crash one and watch`);
  print('  npx galaxy doctor                                                              # which backends run');
  print(options.durationS > 0 ? `Stopping by itself in ${options.durationS} s (Ctrl-C stops now).` : 'Ctrl-C stops every agent.');
  if (options.durationS > 0) {
    await new Promise((resolve) => setTimeout(resolve, options.durationS * 1000));
    await stopAll();
  } else {
    await new Promise(() => undefined);
  }
}

async function stopAgent(agent: AgentProcess): Promise<void> {
  if (agent.child.exitCode !== null || agent.child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => agent.child.once('exit', () => resolve()));
  agent.child.kill('SIGTERM');
  const timer = setTimeout(() => agent.child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}

/** Ports free for both UDP and TCP on 127.0.0.1. */
async function freePorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  while (ports.length < count) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
    });
    const udpFree = await new Promise<boolean>((resolve) => {
      const socket = createSocket('udp4');
      socket.once('error', () => resolve(false));
      socket.bind(port, '127.0.0.1', () => socket.close(() => resolve(true)));
    });
    if (udpFree && !ports.includes(port)) ports.push(port);
  }
  return ports;
}
