import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
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
    const graceful = (await Promise.all(agents.map((a) => stopAgent(a)))).filter((left) => left).length;
    rmSync(dataRoot, { recursive: true, force: true });
    print(`All agents stopped: ${graceful} of ${agents.length} left gracefully.`);
  };
  // The agents run in their own process group, so a Ctrl-C reaches the demo alone and
  // each agent gets exactly one SIGTERM from stopAll: a signal arriving twice must not cut
  // an agent's graceful leave short. Further Ctrl-Cs while stopping are only acknowledged.
  const onSignal = () => {
    if (stopping) {
      print('Still stopping: every agent is leaving gracefully ...');
      return;
    }
    void stopAll().then(() => process.exit(0));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // Detached agents outlive a demo that dies without stopping them: they are killed on the way out.
  process.once('exit', () => {
    for (const agent of agents) if (agent.child.exitCode === null && agent.child.signalCode === null) agent.child.kill('SIGKILL');
  });

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
    const args = [join(packageRoot(), 'dist', 'src', 'ops', 'cli', 'main.js'), 'agent', '--bind', address, '--preset', 'local', '--meta', `rack=${rackOf(index)}`, '--data-dir', dataDirOf(index), '--log-level', 'warn'];
    // The first agent is the farm's controller: it creates the farm and, for the demo
    // only, approves every node that asks. The others ask to be admitted through it.
    if (address === seed) args.push('--role', 'controller', '--bootstrap', '--auto-approve', '--api', controllerApi);
    else args.push('--join', seed, '--api', '127.0.0.1:0');
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'], detached: true });
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
  if (!stopping) await showFarmData(print, dataDirOf(0), dataDirOf(1), agents.map((a) => a.address));

  if (options.showFailure && agents.length >= 3 && !stopping) {
    const victim = agents[agents.length - 1]!;
    const others = agents.filter((a) => a !== victim);
    // What the kill is judged against is printed: the controller's own landscapes now (a
    // dynamic one, computed every 2 s from measurements, can differ from another agent's
    // read-back above).
    const before = await landscapeViews(dataDirOf(0)).catch(() => []);
    if (before.length > 0) {
      print(`The controller's landscapes just before the kill:`);
      for (const view of before) print(`    landscape ${view.name.padEnd(9)} ${view.members.length} member(s): ${view.members.join(' ')}`);
    }
    print(`Killing ${victim.address} with SIGKILL (no goodbye) ...`);
    const killedAt = Date.now();
    victim.child.kill('SIGKILL');
    while (others.some((a) => a.alive.has(victim.address)) && !stopping) {
      await nextChange(1000);
      if (Date.now() - killedAt > 30_000) throw new Error('the killed agent was not detected within 30 s');
    }
    print(`  every other agent marked it dead ${Date.now() - killedAt} ms after the kill.`);
    await showLandscapesWithout(print, dataDirOf(0), victim.address, before);
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
  // In a checkout `npx galaxy` would reinstall and rebuild the package silently; an
  // installed package has its CLI under npx.
  const galaxy = existsSync(join(packageRoot(), 'tsconfig.json')) ? 'npm run galaxy --' : 'npx galaxy';
  print('The farm is running. Try, in another terminal:');
  print(`  ${galaxy} members --data-dir ${dir0}                 # the farm as the controller sees it`);
  print(`  ${galaxy} nodes list --data-dir ${dir0}              # admission records (pending, approved, ...)`);
  print(`  ${galaxy} attr get --data-dir ${dir0}                # every node's attributes and Measurement values (the FMIDB)`);
  print(`  ${galaxy} landscape list --data-dir ${dir0}          # landscapes and their member counts`);
  print(`  ${galaxy} db query "SELECT node, rack, role, load1 FROM nodes" --data-dir ${dir0}`);
  print(`  ${galaxy} attr set ${'<node-id>'} role=db --data-dir ${dir0}   # and watch the landscapes follow`);
  print(`  ${galaxy} keys list --data-dir ${dir0}               # farm keyring fingerprints`);
  print(`  curl -H "Authorization: Bearer $(cat ${join(dir0, 'admin.token')})" http://${controllerApi}/metrics`);
  print(`  ${galaxy} agent --bind 127.0.0.1:${ports[0]! + 1000} --join ${seed} --preset local --api off --data-dir $(mktemp -d)   # one more node (auto-approved here)`);
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
async function showFarmData(print: (line: string) => void, controllerDir: string, otherDir: string, addresses: readonly string[]): Promise<void> {
  try {
    const controller = agentClient(controllerDir);
    // In launch order, so that each node's attributes follow from its place like its rack tag does.
    const list = ((await controller.get('/v1/members')) as Array<{ id: string; address: string }>).sort((a, b) => addresses.indexOf(a.address) - addresses.indexOf(b.address));
    const members = list.map((m) => m.id);
    print('Farm data (FMIDB): setting sample attributes through the controller\'s API (the rack as each agent\'s tag says) ...');
    for (const { id, address } of list) {
      const index = addresses.indexOf(address);
      const values = { rack: rackOf(index), room: 'b2', role: roleOf(index) };
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

/** The controller's landscapes and their members. */
async function landscapeViews(dataDir: string): Promise<LandscapeMembers[]> {
  const controller = agentClient(dataDir);
  const names = ((await controller.get('/v1/landscapes')) as Array<{ name: string }>).map((l) => l.name).sort();
  return (await Promise.all(names.map((name) => controller.get(`/v1/landscapes/${name}`)))) as LandscapeMembers[];
}

/**
 * After a crash: the controller's landscapes drop the dead node (its FMIDB record is a
 * tombstone now). Each landscape is printed once it agrees with its own statement run on
 * the same replica (`/v1/db/query`), so a dynamic landscape caught between two of its
 * evaluations does not print a count the farm never had; and only the landscapes the node
 * was in are said to have lost it.
 */
async function showLandscapesWithout(print: (line: string) => void, dataDir: string, address: string, before: readonly LandscapeMembers[]): Promise<void> {
  try {
    const controller = agentClient(dataDir);
    const id = ((await controller.get('/v1/members')) as Array<{ id: string; address: string }>).find((m) => m.address === address)?.id ?? address;
    const statements = new Map(((await controller.get('/v1/landscapes')) as Array<{ name: string; sql: string }>).map((l) => [l.name, l.sql]));
    const startedAt = Date.now();
    let views: LandscapeMembers[] = [];
    for (;;) {
      views = await landscapeViews(dataDir);
      let settled = !views.some((v) => v.members.includes(id));
      for (const view of views) {
        if (!settled) break;
        const sql = statements.get(view.name);
        if (sql === undefined) continue;
        const rows = ((await controller.post('/v1/db/query', { sql })) as { rows: unknown[][] }).rows;
        const expected = rows.map((row) => String(row[0])).sort();
        settled = expected.join(',') === [...view.members].sort().join(',');
      }
      if (settled || Date.now() - startedAt > kLandscapeSettleMsMax) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const described = views.map((view) => {
      const was = before.find((b) => b.name === view.name);
      if (was === undefined || !was.members.includes(id)) return `${view.name} ${view.members.length} member(s), unchanged (it was not in it)`;
      return `${view.name} ${was.members.length} -> ${view.members.length} member(s)`;
    });
    print(`  the controller's landscapes dropped ${id} in ${Date.now() - startedAt} ms more: ${described.join('; ')}`);
  } catch (error) {
    print(`  (could not read the landscapes: ${(error as Error).message})`);
  }
}

/** How long the landscapes get to drop a dead node and agree with their statements: the dynamic one runs every 2 s. */
const kLandscapeSettleMsMax = 10_000;

/** The demo's racks and roles by launch order: the controller first, then web and db nodes across two racks. */
function rackOf(index: number): string {
  return `r${1 + (index % 2)}`;
}

function roleOf(index: number): string {
  return index === 0 ? 'controller' : index % 3 === 2 ? 'db' : 'web';
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

/**
 * How long an agent gets to leave gracefully (LEAVE gossip, components stopped) before it is
 * killed: the components' stop steps take up to a few seconds each on a loaded machine.
 */
const kAgentStopTimeoutMs = 10_000;

/** Stops an agent with SIGTERM; resolves whether it left gracefully (exit status 0). */
async function stopAgent(agent: AgentProcess): Promise<boolean> {
  if (agent.child.exitCode !== null || agent.child.signalCode !== null) return agent.child.exitCode === 0;
  const exited = new Promise<boolean>((resolve) => agent.child.once('exit', (code) => resolve(code === 0)));
  agent.child.kill('SIGTERM');
  const timer = setTimeout(() => agent.child.kill('SIGKILL'), kAgentStopTimeoutMs);
  const graceful = await exited;
  clearTimeout(timer);
  return graceful;
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
