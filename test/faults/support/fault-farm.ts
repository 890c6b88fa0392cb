// A farm of real `galaxy agent` processes, one per lab host (network namespace), with
// admission by approval: host 0 runs the controller (--bootstrap), every other agent
// asks to join and is approved with `galaxy nodes approve` run in the controller's
// namespace. Each agent serves its API on the loopback of its own host; the suite reads
// it through that host's relay. What the agents print on stdout (one JSON line per
// membership or admission event, with a timestamp) is kept per agent and life, and the
// timings are measured from it.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import type { MemberView } from '../../../src/core/membership/member-view.js';
import { kLocalConfig } from '../../../src/core/membership/config.js';
import { packageRoot } from '../../../src/core/platform/package-root.js';
import type { LabHost, NetnsLab } from './netns-lab.js';
import { Relay, type HttpAnswer, type HttpOptions } from './relay.js';

const run = promisify(execFile);
export const kCli = join(packageRoot(), 'dist', 'src', 'ops', 'cli', 'main.js');
/** Every agent gossips on this port of its own host. */
export const kGossipPort = 7946;
/** Every agent's API listens here on its host's loopback. */
export const kApiPort = 7600;
const kStderrBytesMax = 64 * 1024;
const kStartMsMax = 20_000;

/** One JSON line of an agent's stdout, with its time parsed and the life it belongs to. */
export interface AgentLine {
  readonly t: string;
  readonly atMs: number;
  readonly life: number;
  readonly event: string;
  readonly id?: string;
  readonly address?: string;
  readonly incarnation?: number;
  readonly admission?: string;
  readonly [key: string]: unknown;
}

export class LabAgent {
  readonly host: LabHost;
  readonly relay: Relay;
  readonly address: string;
  readonly dataDir: string;
  readonly flags: readonly string[];
  readonly lines: AgentLine[] = [];
  stderr = '';
  child: ChildProcess | null = null;
  life = 0;
  private readonly children: Set<ChildProcess>;

  constructor(host: LabHost, relay: Relay, dataDir: string, flags: readonly string[], children: Set<ChildProcess>) {
    this.host = host;
    this.relay = relay;
    this.address = `${host.ip}:${kGossipPort}`;
    this.dataDir = dataDir;
    this.flags = flags;
    this.children = children;
  }

  /** Starts a new life of this agent (same data directory, so the same identity); resolves on its "started" line. */
  async start(): Promise<void> {
    if (this.running) throw new Error(`${this.address} is already running`);
    this.life++;
    const life = this.life;
    const args = ['netns', 'exec', this.host.namespace, process.execPath, kCli, 'agent', '--bind', this.address, '--preset', 'local', '--data-dir', this.dataDir, '--log-level', 'warn', '--api', `127.0.0.1:${kApiPort}`, ...this.flags];
    // `ip netns exec` execs node in place: the pid is the agent's own, so signals reach it.
    const child = spawn('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    createInterface({ input: child.stdout! }).on('line', (text) => {
      let parsed: Record<string, unknown>;
      try {
        parsed = JSON.parse(text) as Record<string, unknown>;
      } catch {
        this.stderr += `[stdout, not JSON] ${text}\n`;
        return;
      }
      this.lines.push({ ...parsed, life, atMs: Date.parse(String(parsed['t'])) } as AgentLine);
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      if (this.stderr.length < kStderrBytesMax) this.stderr += chunk.toString();
    });
    await waitFor(`${this.address} prints "started" (life ${life})`, () => this.startedLine(life) !== undefined || child.exitCode !== null, kStartMsMax);
    if (this.startedLine(life) === undefined) throw new Error(`${this.address} exited with ${child.exitCode} before starting: ${this.stderr}`);
  }

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  get pid(): number {
    if (this.child?.pid === undefined) throw new Error(`${this.address} has no process`);
    return this.child.pid;
  }

  startedLine(life = this.life): AgentLine | undefined {
    return this.lines.find((l) => l.life === life && l.event === 'started');
  }

  /** The node id (the same in every life: it is kept in the data directory). */
  get id(): string {
    const line = this.startedLine();
    if (line?.id === undefined) throw new Error(`${this.address} has not started`);
    return line.id;
  }

  /** The incarnation this life started with. */
  get startIncarnation(): number {
    return this.startedLine()?.incarnation ?? 0;
  }

  signal(signal: NodeJS.Signals): void {
    process.kill(this.pid, signal);
  }

  /** SIGKILLs this life and resolves once the process is gone. */
  async kill(): Promise<void> {
    const child = this.child;
    if (child === null || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await exited;
  }

  /** Lines about another agent's address, of these event types, at or after sinceMs. */
  about(address: string, events: readonly string[], sinceMs = 0): AgentLine[] {
    return this.lines.filter((l) => l.address === address && events.includes(l.event) && l.atMs >= sinceMs);
  }

  get token(): string {
    return readFileSync(join(this.dataDir, 'admin.token'), 'utf8').trim();
  }

  api(method: string, path: string, options: HttpOptions = {}): Promise<HttpAnswer> {
    return this.relay.http(method, path, { token: this.token, ...options });
  }

  /** GET a JSON route; throws with the answer unless 200. */
  async get<T>(path: string): Promise<T> {
    const answer = await this.api('GET', path);
    if (answer.status !== 200) throw new Error(`GET ${path} on ${this.address}: ${answer.status} ${answer.text.slice(0, 300)}`);
    return JSON.parse(answer.text) as T;
  }

  members(): Promise<MemberView[]> {
    return this.get<MemberView[]>('/v1/members');
  }

  /** This agent's /metrics as name{labels} -> value. */
  async metrics(): Promise<Metrics> {
    const answer = await this.api('GET', '/metrics');
    if (answer.status !== 200) throw new Error(`GET /metrics on ${this.address}: ${answer.status}`);
    return new Metrics(answer.text);
  }

  /** Resident set size of the agent's process (its main thread and gossip worker), bytes. */
  rssBytes(): number {
    const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
    if (match === null) throw new Error(`no VmRSS for pid ${this.pid}`);
    return Number(match[1]) * 1024;
  }
}

/** Prometheus text, read into samples; sum() adds the samples of a family whose labels match. */
export class Metrics {
  readonly samples: Array<{ name: string; labels: Record<string, string>; value: number }> = [];
  /** Families declared by a TYPE line, with or without samples. */
  readonly families = new Set<string>();

  constructor(text: string) {
    for (const line of text.split('\n')) {
      const declared = /^# TYPE (\S+) /.exec(line);
      if (declared !== null) this.families.add(declared[1]!);
      if (line === '' || line.startsWith('#')) continue;
      const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      if (match === null) continue;
      const labels: Record<string, string> = {};
      for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]!] = pair[2]!;
      this.samples.push({ name: match[1]!, labels, value: Number(match[3]) });
    }
  }

  /** Sum of the family's samples carrying every given label (0 when none does); throws when the family is absent. */
  sum(name: string, labels: Readonly<Record<string, string>> = {}): number {
    if (!this.families.has(name)) throw new Error(`no metric family ${name} in /metrics`);
    return this.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((total, s) => total + s.value, 0);
  }
}

/** Polls `condition` every intervalMs until it holds; returns the ms it took, or throws naming `what`. */
export async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs: number, intervalMs = 50): Promise<number> {
  const start = Date.now();
  let lastError = '';
  for (;;) {
    try {
      if (await condition()) return Date.now() - start;
    } catch (error) {
      lastError = (error as Error).message;
    }
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}${lastError === '' ? '' : ` (last error: ${lastError})`}`);
    await sleep(intervalMs);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The suspicion timeout of the local preset for a farm of n members before any
 * confirmation (Lifeguard's upper bound): suspicionMaxTimeoutMult * suspicionMult *
 * log10(max(1, n)) * probeIntervalMs.
 */
export function suspicionTimeoutMaxMs(members: number): number {
  const c = kLocalConfig;
  return c.suspicionMaxTimeoutMult * c.suspicionMult * Math.log10(Math.max(1, members)) * c.probeIntervalMs;
}

/** Whether the routes the FMIDB, landscapes and jobs bring answer on this build's agent. */
export interface Capabilities {
  readonly fmidb: boolean;
  readonly landscapes: boolean;
  readonly jobs: boolean;
}

export class FaultFarm {
  readonly lab: NetnsLab;
  readonly dataRoot: string;
  readonly relays = new Map<string, Relay>();
  readonly agents: LabAgent[] = [];
  private readonly children = new Set<ChildProcess>();

  constructor(lab: NetnsLab, dataRoot: string) {
    this.lab = lab;
    this.dataRoot = dataRoot;
  }

  get controller(): LabAgent {
    return this.agents[0]!;
  }

  async relay(host: LabHost): Promise<Relay> {
    let relay = this.relays.get(host.namespace);
    if (relay === undefined) {
      relay = await Relay.start(host, this.dataRoot);
      this.relays.set(host.namespace, relay);
    }
    return relay;
  }

  /** An agent on `host` (not started), seeded with the controller unless it is the controller. */
  async agent(host: LabHost, flags: readonly string[]): Promise<LabAgent> {
    const agent = new LabAgent(host, await this.relay(host), join(this.dataRoot, host.namespace), flags, this.children);
    return agent;
  }

  /**
   * Starts the controller on host 0 and an approved agent on each of the next
   * `count - 1` hosts (each with flagsOf(host) added); resolves when every agent sees all `count` alive.
   */
  async start(count: number, convergeMsMax: number, flagsOf: (host: LabHost) => readonly string[] = () => []): Promise<void> {
    const controller = await this.agent(this.lab.hosts[0]!, ['--role', 'controller', '--bootstrap', ...flagsOf(this.lab.hosts[0]!)]);
    this.agents.push(controller);
    await controller.start();
    const others = await Promise.all(this.lab.hosts.slice(1, count).map((host) => this.agent(host, ['--join', controller.address, ...flagsOf(host)])));
    this.agents.push(...others);
    await Promise.all(others.map((agent) => agent.start()));
    await waitFor('every agent is pending at the controller', async () => {
      const pending = new Set((await this.pending()).map((r) => r.id));
      return others.every((agent) => pending.has(agent.id));
    }, 30_000, 250);
    for (const agent of others) await this.approve(agent);
    await this.waitConverged(this.agents, convergeMsMax);
  }

  /** `galaxy nodes pending --json` in the controller's namespace. */
  async pending(): Promise<Array<{ id: string; address: string }>> {
    const { stdout } = await run('ip', ['netns', 'exec', this.controller.host.namespace, process.execPath, kCli, 'nodes', 'pending', '--json', '--data-dir', this.controller.dataDir], { encoding: 'utf8' });
    return JSON.parse(stdout) as Array<{ id: string; address: string }>;
  }

  /** `galaxy nodes approve ID` in the controller's namespace, as an operator would. */
  async approve(agent: LabAgent): Promise<void> {
    await run('ip', ['netns', 'exec', this.controller.host.namespace, process.execPath, kCli, 'nodes', 'approve', agent.id, '--data-dir', this.controller.dataDir], { encoding: 'utf8' });
  }

  /**
   * Waits until every agent of `viewers` lists exactly `expected` as its alive members
   * (by address) and nobody else as alive or suspect; returns the ms it took.
   */
  async waitConverged(viewers: readonly LabAgent[], timeoutMs: number, expected: readonly LabAgent[] = viewers): Promise<number> {
    const want = expected.map((a) => a.address).sort().join(',');
    const views = new Map<string, string>();
    try {
      return await waitFor(`${viewers.length} agents agree on ${expected.length} alive members`, async () => {
        const lists = await Promise.all(viewers.map((a) => a.members()));
        lists.forEach((list, i) => views.set(viewers[i]!.address, list.filter((m) => m.status === 'alive' || m.status === 'suspect').map((m) => `${m.address}:${m.status}`).sort().join(',')));
        return lists.every((list) => list.filter((m) => m.status === 'alive' || m.status === 'suspect').map((m) => (m.status === 'alive' ? m.address : `${m.address}?`)).sort().join(',') === want);
      }, timeoutMs, 200);
    } catch (error) {
      const detail = [...views].map(([address, view]) => `  ${address} sees ${view}`).join('\n');
      throw new Error(`${(error as Error).message}\n${detail}\n${this.stderrTails()}`);
    }
  }

  /** The capability probe: a route this build does not serve answers 404 GALAXY_API_NOT_FOUND. */
  async capabilities(): Promise<Capabilities> {
    const served = async (path: string): Promise<boolean> => {
      const answer = await this.controller.api('GET', path);
      return !(answer.status === 404 && answer.text.includes('GALAXY_API_NOT_FOUND'));
    };
    return { fmidb: await served('/v1/db/status'), landscapes: await served('/v1/landscapes'), jobs: await served('/v1/jobs') };
  }

  /** Each agent's FMIDB digest (GET /v1/db/status). */
  async dbDigests(agents: readonly LabAgent[]): Promise<string[]> {
    return Promise.all(agents.map(async (a) => (await a.get<{ digest: string }>('/v1/db/status')).digest));
  }

  /** Each agent's members of a landscape (GET /v1/landscapes/NAME), sorted and joined. */
  async landscapeMembers(agents: readonly LabAgent[], name: string): Promise<string[]> {
    return Promise.all(agents.map(async (a) => [...(await a.get<{ members: string[] }>(`/v1/landscapes/${encodeURIComponent(name)}`)).members].sort().join(',')));
  }

  /** The last lines of every agent's stderr, for failure messages. */
  stderrTails(): string {
    return this.agents.filter((a) => a.stderr.trim() !== '').map((a) => `stderr of ${a.address}:\n${a.stderr.slice(-1500)}`).join('\n');
  }

  /** SIGKILLs every agent and relay this farm started (the lab's teardown kills whatever is left). */
  close(): void {
    for (const child of this.children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    for (const relay of this.relays.values()) relay.close();
  }
}
