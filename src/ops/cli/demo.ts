import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { packageRoot } from '../../core/platform/package-root.js';
import type { ApiClient } from '../../surface/client/api-client.js';
import { connect } from '../../surface/cli/cli-kit.js';

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
    const args = [join(packageRoot(), 'dist', 'src', 'ops', 'cli', 'main.js'), 'agent', '--bind', address, '--preset', 'local', '--meta', `rack=r${1 + (index % 2)}`, '--data-dir', dataDirOf(index), '--log-level', 'warn'];
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
  await printMembers(print, dataDirOf(0));
  if (!stopping) await showFarmData(print, dataDirOf(0), dataDirOf(1));

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
    await showLandscapesWithout(print, dataDirOf(0), victim.address);
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
  print(`  npx galaxy attr get --data-dir ${dir0}                # every node's attributes and Measurement values (the FMIDB)`);
  print(`  npx galaxy landscape list --data-dir ${dir0}          # landscapes and their member counts`);
  print(`  npx galaxy db query "SELECT node, rack, role, load1 FROM nodes" --data-dir ${dir0}`);
  print(`  npx galaxy attr set ${'<node-id>'} role=db --data-dir ${dir0}   # and watch the landscapes follow`);
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

/**
 * The FMIDB and landscapes: sample attributes set through the controller's API (as
 * `galaxy attr set` does), a static landscape over them and a dynamic one over the
 * Measurement service's values, then both read back from another agent's API, which
 * computed them from its own replica.
 */
async function showFarmData(print: (line: string) => void, controllerDir: string, otherDir: string): Promise<void> {
  try {
    const controller = agentClient(controllerDir);
    const list = ((await controller.get('/v1/members')) as Array<{ id: string; tags: Record<string, string> }>).sort((a, b) => (a.id < b.id ? -1 : 1));
    const members = list.map((m) => m.id);
    print('Farm data (FMIDB): setting sample attributes through the controller\'s API ...');
    for (const [i, { id, tags }] of list.entries()) {
      const values = { rack: `r${1 + (i % 2)}`, room: 'b2', role: (tags['roles'] ?? '').includes('controller') ? 'controller' : i % 3 === 0 ? 'db' : 'web' };
      await controller.put(`/v1/attributes/${id}`, { values });
      print(`    galaxy attr set ${id} ${Object.entries(values).map(([k, v]) => `${k}=${v}`).join(' ')}`);
    }
    const landscapes = [
      { name: 'web-r2', sql: "SELECT node FROM nodes WHERE role = 'web' AND rack = 'r2'", mode: 'on-change', what: 'static: by attributes, re-evaluated when rack or role change' },
      { name: 'not-busy', sql: 'SELECT node FROM nodes WHERE load1 < 64 AND memAvailableBytes > 0', mode: 'every 2s', what: 'dynamic: by Measurement values, every 2 s' },
    ];
    for (const l of landscapes) {
      await controller.put(`/v1/landscapes/${l.name}`, { sql: l.sql, mode: l.mode });
      print(`    galaxy landscape create ${l.name} --sql "${l.sql}" --${l.mode}   (${l.what})`);
    }
    // Another agent computes the same landscapes from its own replica.
    const other = agentClient(otherDir);
    const deadline = Date.now() + 15_000;
    let views: LandscapeMembers[] = [];
    for (;;) {
      views = [];
      for (const l of landscapes) {
        try {
          views.push((await other.get(`/v1/landscapes/${l.name}`)) as LandscapeMembers);
        } catch {
          // not replicated there yet
        }
      }
      const full = views.length === landscapes.length && views[1]!.members.length === members.length && views[0]!.members.length > 0;
      if (full || Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    print(`  Read back from another agent's API (${other.url}), computed from its own replica:`);
    for (const view of views) print(`    landscape ${view.name.padEnd(9)} ${view.members.length} member(s): ${view.members.join(' ')}`);
  } catch (error) {
    print(`  (the farm data step failed: ${(error as Error).message})`);
  }
}

/** The demo's own agent by its data directory (api.json, admin.token), whatever GALAXY_API or GALAXY_TOKEN say. */
function agentClient(dataDir: string): ApiClient {
  return connect({ dataDir }, {});
}

interface LandscapeMembers {
  readonly name: string;
  readonly members: string[];
}

/** After a crash: the controller's landscapes drop the dead node (its FMIDB record is a tombstone now). */
async function showLandscapesWithout(print: (line: string) => void, dataDir: string, address: string): Promise<void> {
  try {
    const controller = agentClient(dataDir);
    const id = ((await controller.get('/v1/members')) as Array<{ id: string; address: string }>).find((m) => m.address === address)?.id;
    const startedAt = Date.now();
    let views: LandscapeMembers[] = [];
    do {
      const names = ((await controller.get('/v1/landscapes')) as Array<{ name: string }>).map((l) => l.name);
      views = (await Promise.all(names.map((name) => controller.get(`/v1/landscapes/${name}`)))) as LandscapeMembers[];
      if (!views.some((v) => v.members.includes(id ?? ''))) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    } while (Date.now() - startedAt < 5000);
    print(`  the controller's landscapes followed in ${Date.now() - startedAt} ms more: ${views.map((v) => `${v.name} ${v.members.length} member(s)`).join(', ')} (without ${id ?? address})`);
  } catch (error) {
    print(`  (could not read the landscapes: ${(error as Error).message})`);
  }
}

/** Prints the member table from the controller's API, as an operator's CLI would get it. */
async function printMembers(print: (line: string) => void, dataDir: string): Promise<void> {
  try {
    const controller = agentClient(dataDir);
    const members = (await controller.get('/v1/members')) as Array<{ id: string; address: string; status: string; tags: Record<string, string> }>;
    print(`  Members, from the controller's API (GET ${controller.url}/v1/members):`);
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
