// A lab of real hosts made with network namespaces: one namespace holds a bridge (the
// switch), and each host is a namespace of its own with one veth into it and an address
// 10.77.0.X/24. No address is added outside these namespaces. Faults are nftables rules
// in each host's own table (`inet gxfault`), dropping at input so that a lost packet is
// silent, as on a real network: partitions (both ways or one way) and random loss.
//
// Everything is named with the prefix gxf-<pid of the suite>-, so that a crashed run's
// leftovers are found and removed by the next run (preClean) without touching a run that
// is still going. teardown() kills every process left in the namespaces, then deletes
// them; it is idempotent and is called from afterAll and from exit and signal handlers.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/** Namespaces of this suite start so; the pid after it says which run made them. */
export const kNamespacePrefix = 'gxf-';
/** The hosts' subnet; host i (0-based) gets .(i + 1). */
export const kSubnet = '10.77.0';
/** The second network's subnet (NetnsLab.create with secondNetwork): host i gets .(i + 1) on its eth1. */
export const kSubnet2 = '10.78.0';
/** Hosts in one lab at most (addresses .1 to .250). */
export const kHostsMax = 250;
/** The fault table each host namespace may hold. */
const kFaultTable = 'gxfault';

export interface LabHost {
  readonly index: number;
  /** The namespace's name. */
  readonly namespace: string;
  /** Its one address, e.g. 10.77.0.3. */
  readonly ip: string;
  /** The veth end in the bridge namespace. */
  readonly port: string;
  /** Its address on the second network (eth1, on bridge br1), or null in a lab of one network. */
  readonly ip2: string | null;
}

/** Packets and bytes a host received on each interface since countTraffic (nftables counters). */
export interface TrafficCounts {
  readonly eth0: { readonly packets: number; readonly bytes: number };
  readonly eth1: { readonly packets: number; readonly bytes: number };
}

/**
 * Why this machine cannot run the lab, or null when it can: root is needed for `ip netns`
 * and nftables, and both tools must be installed and work.
 */
export function labUnavailable(): string | null {
  if (process.platform !== 'linux') return `network namespaces need Linux (this is ${process.platform})`;
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'not root: ip netns and nftables need root';
  const ip = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  if (ip.error !== undefined || ip.status !== 0) return `\`ip netns\` does not work here (${ip.error?.message ?? ip.stderr.trim()}): install iproute2`;
  const nft = spawnSync('nft', ['--version'], { encoding: 'utf8' });
  if (nft.error !== undefined || nft.status !== 0) return `\`nft\` is missing (${nft.error?.message ?? nft.stderr.trim()}): install nftables`;
  return null;
}

function ip(args: readonly string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function namespaces(): string[] {
  const out = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '';
  return out.split('\n').map((line) => line.split(' ')[0]!.trim()).filter((name) => name !== '');
}

/** SIGKILLs every process inside a namespace, then deletes it; quiet when it is already gone. */
function destroyNamespace(name: string): void {
  const pids = (spawnSync('ip', ['netns', 'pids', name], { encoding: 'utf8' }).stdout ?? '').split('\n').map(Number).filter((pid) => pid > 0);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
  spawnSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
}

/** Removes the namespaces (and data directories under `dataParent`) of earlier runs of this suite whose process is gone; returns the namespaces' names. */
export function preClean(dataParent: string, dataPrefix: string): string[] {
  const stalePid = (pid: number) => pid !== process.pid && !isAlive(pid);
  const stale = namespaces().filter((name) => {
    const match = /^gxf-(\d+)-/.exec(name);
    return match !== null && stalePid(Number(match[1]));
  });
  for (const name of stale) destroyNamespace(name);
  for (const entry of readdirSync(dataParent)) {
    const match = new RegExp(`^${dataPrefix}(\\d+)$`).exec(entry);
    if (match !== null && stalePid(Number(match[1]))) rmSync(join(dataParent, entry), { recursive: true, force: true });
  }
  return stale;
}

export class NetnsLab {
  readonly prefix: string;
  readonly bridge: string;
  readonly hosts: LabHost[] = [];
  /** Whether each host also has eth1 on a second bridge (br1, subnet kSubnet2). */
  readonly secondNetwork: boolean;
  private tornDown = false;
  private readonly faulted = new Set<string>();
  private readonly onExit = (): void => this.teardown();
  private readonly onSignal = (signal: NodeJS.Signals): void => {
    this.teardown();
    process.kill(process.pid, signal);
  };

  private constructor(prefix: string, secondNetwork: boolean) {
    this.prefix = prefix;
    this.secondNetwork = secondNetwork;
    this.bridge = `${prefix}br`;
  }

  /**
   * Makes the bridge namespace and `hosts` host namespaces, each reachable from every
   * other; with secondNetwork, a second bridge (br1) and a second interface (eth1,
   * kSubnet2) on every host: two networks between the same hosts.
   */
  static create(hostCount: number, options: { readonly secondNetwork?: boolean } = {}): NetnsLab {
    if (!Number.isInteger(hostCount) || hostCount < 1 || hostCount > kHostsMax) throw new RangeError(`hostCount must be an integer from 1 to ${kHostsMax}, got ${hostCount}`);
    const lab = new NetnsLab(`${kNamespacePrefix}${process.pid}-`, options.secondNetwork === true);
    // Handlers first: a failure half-way through still leaves nothing behind.
    process.once('exit', lab.onExit);
    process.once('SIGINT', lab.onSignal);
    process.once('SIGTERM', lab.onSignal);
    try {
      ip(['netns', 'add', lab.bridge]);
      ip(['-n', lab.bridge, 'link', 'add', 'br0', 'type', 'bridge']);
      ip(['-n', lab.bridge, 'link', 'set', 'br0', 'up']);
      if (lab.secondNetwork) {
        ip(['-n', lab.bridge, 'link', 'add', 'br1', 'type', 'bridge']);
        ip(['-n', lab.bridge, 'link', 'set', 'br1', 'up']);
      }
      for (let i = 0; i < hostCount; i++) lab.addHost();
    } catch (error) {
      lab.teardown();
      throw error;
    }
    return lab;
  }

  /** Adds one host namespace on the bridge. */
  addHost(): LabHost {
    const index = this.hosts.length;
    if (index >= kHostsMax) throw new RangeError(`a lab holds at most ${kHostsMax} hosts`);
    const host: LabHost = { index, namespace: `${this.prefix}h${index}`, ip: `${kSubnet}.${index + 1}`, port: `v${index}`, ip2: this.secondNetwork ? `${kSubnet2}.${index + 1}` : null };
    ip(['netns', 'add', host.namespace]);
    this.hosts.push(host);
    // The veth is made inside the bridge namespace with its peer straight in the host's,
    // so no interface ever appears in the namespace the suite runs in.
    ip(['-n', this.bridge, 'link', 'add', host.port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', host.namespace]);
    ip(['-n', this.bridge, 'link', 'set', host.port, 'master', 'br0', 'up']);
    ip(['-n', host.namespace, 'link', 'set', 'lo', 'up']);
    ip(['-n', host.namespace, 'addr', 'add', `${host.ip}/24`, 'dev', 'eth0']);
    ip(['-n', host.namespace, 'link', 'set', 'eth0', 'up']);
    if (host.ip2 !== null) {
      ip(['-n', this.bridge, 'link', 'add', `w${index}`, 'type', 'veth', 'peer', 'name', 'eth1', 'netns', host.namespace]);
      ip(['-n', this.bridge, 'link', 'set', `w${index}`, 'master', 'br1', 'up']);
      ip(['-n', host.namespace, 'addr', 'add', `${host.ip2}/24`, 'dev', 'eth1']);
      ip(['-n', host.namespace, 'link', 'set', 'eth1', 'up']);
    }
    return host;
  }

  /** (Re)starts counting what the host receives on eth0 and eth1: a table of its own (inet gxcount), apart from the fault rules. */
  countTraffic(host: LabHost): void {
    const script = ['table inet gxcount', 'delete table inet gxcount', 'table inet gxcount {', '  chain input {', '    type filter hook input priority -20; policy accept;', '    iifname "eth0" counter', '    iifname "eth1" counter', '  }', '}'].join('\n');
    this.exec(host, ['nft', '-f', '-'], `${script}\n`);
  }

  /** What the host received on each interface since countTraffic. */
  traffic(host: LabHost): TrafficCounts {
    const listing = JSON.parse(this.exec(host, ['nft', '-j', 'list', 'table', 'inet', 'gxcount'])) as { nftables: Array<{ rule?: { expr: Array<Record<string, unknown>> } }> };
    const counts = listing.nftables.filter((item) => item.rule !== undefined).map((item) => (item.rule!.expr.find((e) => 'counter' in e)?.['counter'] as { packets: number; bytes: number } | undefined) ?? { packets: 0, bytes: 0 });
    return { eth0: { packets: counts[0]?.packets ?? 0, bytes: counts[0]?.bytes ?? 0 }, eth1: { packets: counts[1]?.packets ?? 0, bytes: counts[1]?.bytes ?? 0 } };
  }

  /** Runs a command inside a host's namespace and returns its stdout; throws on a non-zero exit. */
  exec(host: LabHost, command: readonly string[], input?: string): string {
    return execFileSync('ip', ['netns', 'exec', host.namespace, ...command], { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
  }

  /**
   * Replaces the host's fault rules with `dropRules` (nft matches of its input chain, each
   * ending in `counter drop`); [] clears them. A first rule counts every packet from the
   * network, so faultCounters() can show each fault was in effect and how much it dropped.
   */
  setFaults(host: LabHost, dropRules: readonly string[]): void {
    const rules = ['iifname "eth0" counter', ...dropRules];
    const script = [
      `table inet ${kFaultTable}`,
      `delete table inet ${kFaultTable}`,
      ...(dropRules.length === 0
        ? []
        : [`table inet ${kFaultTable} {`, '  chain input {', '    type filter hook input priority -10; policy accept;', ...rules.map((rule) => `    ${rule}`), '  }', '}']),
    ].join('\n');
    this.exec(host, ['nft', '-f', '-'], `${script}\n`);
    if (dropRules.length === 0) this.faulted.delete(host.namespace);
    else this.faulted.add(host.namespace);
  }

  /** Drops every packet between the two sides (each side drops at input what comes from the other). */
  partition(sideA: readonly LabHost[], sideB: readonly LabHost[]): void {
    const set = (hosts: readonly LabHost[]) => `{ ${hosts.map((h) => h.ip).join(', ')} }`;
    for (const host of sideA) this.setFaults(host, [`iifname "eth0" ip saddr ${set(sideB)} counter drop`]);
    for (const host of sideB) this.setFaults(host, [`iifname "eth0" ip saddr ${set(sideA)} counter drop`]);
  }

  /** `deaf` no longer hears `speaker`: packets from speaker to deaf are dropped; the other way still works. */
  oneWay(speaker: LabHost, deaf: LabHost): void {
    this.setFaults(deaf, [`iifname "eth0" ip saddr ${speaker.ip} counter drop`]);
  }

  /** Every host drops `percent` % of the packets it receives from the network, at random. */
  loss(percent: number): void {
    if (!Number.isInteger(percent) || percent < 0 || percent > 100) throw new RangeError(`percent must be an integer from 0 to 100, got ${percent}`);
    for (const host of this.hosts) this.setFaults(host, [`iifname "eth0" numgen random mod 100 < ${percent} counter drop`]);
  }

  /** Packets from the network every faulted host saw, and those its fault rules dropped, so far. */
  faultCounters(): { seen: number; dropped: number } {
    let seen = 0;
    let dropped = 0;
    for (const host of this.hosts) {
      if (!this.faulted.has(host.namespace)) continue;
      const listing = JSON.parse(this.exec(host, ['nft', '-j', 'list', 'table', 'inet', kFaultTable])) as { nftables: Array<{ rule?: { expr: Array<Record<string, unknown>> } }> };
      const counts = listing.nftables.filter((item) => item.rule !== undefined).map((item) => (item.rule!.expr.find((e) => 'counter' in e)?.['counter'] as { packets: number } | undefined)?.packets ?? 0);
      seen += counts[0] ?? 0;
      dropped += counts.slice(1).reduce((a, b) => a + b, 0);
    }
    return { seen, dropped };
  }

  /** Removes every fault rule: the network is whole again. */
  heal(): void {
    for (const host of this.hosts) if (this.faulted.has(host.namespace)) this.setFaults(host, []);
  }

  /** Kills every process in the lab's namespaces and deletes them; safe to call more than once. */
  teardown(): void {
    if (this.tornDown) return;
    this.tornDown = true;
    for (const host of this.hosts) destroyNamespace(host.namespace);
    destroyNamespace(this.bridge);
    process.off('exit', this.onExit);
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
  }

  /** Namespaces of this lab that still exist (for the teardown check). */
  leftovers(): string[] {
    return namespaces().filter((name) => name.startsWith(this.prefix));
  }
}

/** A directory for a run's sockets and data, made empty. */
export function freshDirectory(path: string): string {
  if (existsSync(path)) rmSync(path, { recursive: true, force: true });
  mkdirSync(path, { recursive: true });
  return path;
}
