import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
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
  // One more port for the controller's API.
  const ports = await freePorts(options.nodes + 1);
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
  const controllerApi = `127.0.0.1:${ports[ports.length - 1]}`;
  const dataDirOf = (index: number) => join(dataRoot, `agent-${index}`);
  const launch = (address: string, index: number): AgentProcess => {
    const args = [join(packageRoot(), 'dist', 'src', 'cli', 'main.js'), 'agent', '--bind', address, '--preset', 'local', '--meta', `rack=r${1 + (index % 2)}`, '--data-dir', dataDirOf(index), '--log-level', 'warn'];
    // The first agent is the farm's controller: it creates the farm and, for the demo
    // only, approves every node that asks. The others ask to be admitted through it.
    if (address === seed) args.push('--role', 'controller', '--bootstrap', '--auto-approve', '--api', controllerApi);
    else args.push('--join', seed, '--api', '127.0.0.1:0');
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
      if (event.event === 'admission.admitted') print(`  [${elapsed()}] ${address} admitted by the controller (credentials and keyring received)`);
      if (event.address === undefined) return;
      if (event.event === 'join' || event.event === 'alive') agent.alive.add(event.address);
      if (event.event === 'dead' || event.event === 'leave' || event.event === 'reap') agent.alive.delete(event.address);
      changed();
    });
    return agent;
  };

  print(`Starting a farm of ${options.nodes} galaxy agents on 127.0.0.1 (ports ${ports.slice(0, options.nodes).join(', ')}), local timer preset ...`);
  print(`  ${seed} is the controller: it bootstraps the farm and auto-approves (demo only); the others wait for approval, then gossip encrypted.`);
  ports.slice(0, options.nodes).forEach((port, i) => agents.push(launch(`127.0.0.1:${port}`, i)));
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
  await printMembers(print, `http://${controllerApi}`, dataDirOf(0));

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
  const dir0 = dataDirOf(0);
  print('The farm is running. Try, in another terminal:');
  print(`  npx galaxy members --data-dir ${dir0}                 # the farm as the controller sees it`);
  print(`  npx galaxy nodes list --data-dir ${dir0}              # admission records (pending, approved, ...)`);
  print(`  npx galaxy values --data-dir ${dir0}                  # what the Measurement service posted`);
  print(`  npx galaxy keys list --data-dir ${dir0}               # farm keyring fingerprints`);
  print(`  curl -H "Authorization: Bearer $(cat ${join(dir0, 'admin.token')})" http://${controllerApi}/metrics`);
  print(`  npx galaxy agent --bind 127.0.0.1:${ports[0]! + 1000} --join ${seed} --preset local --api off --data-dir $(mktemp -d)   # one more node (auto-approved here)`);
  print(`  kill -9 ${agents[1]!.child.pid}                                  # crash one and watch`);
  print(`  API: http://${controllerApi}  (token: ${join(dir0, 'admin.token')})`);
  print(options.durationS > 0 ? `Stopping by itself in ${options.durationS} s (Ctrl-C stops now).` : 'Ctrl-C stops every agent.');
  if (options.durationS > 0) {
    await new Promise((resolve) => setTimeout(resolve, options.durationS * 1000));
    await stopAll();
  } else {
    await new Promise(() => undefined);
  }
}

/** Prints the member table from the controller's API, as an operator's CLI would get it. */
async function printMembers(print: (line: string) => void, url: string, dataDir: string): Promise<void> {
  try {
    const token = readFileSync(join(dataDir, 'admin.token'), 'utf8').trim();
    const response = await fetch(`${url}/v1/members`, { headers: { authorization: `Bearer ${token}` } });
    const members = (await response.json()) as Array<{ id: string; address: string; status: string; tags: Record<string, string> }>;
    print(`  Members, from the controller's API (GET ${url}/v1/members):`);
    for (const m of members) print(`    ${m.id}  ${m.address.padEnd(21)} ${m.status.padEnd(7)} ${Object.entries(m.tags).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  } catch (error) {
    print(`  (could not read the controller's API: ${(error as Error).message})`);
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
