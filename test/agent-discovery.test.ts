// Proves discovery without hand-given seeds (issue 16, item 6: seed file and DNS SRV).
// Units: the seed file's grammar (addresses, host names, comments, bad lines reported
// and skipped); SRV resolution through node:dns against a tiny DNS server started here
// (test/support/tiny-dns.ts; Resolver#setServers), in RFC 2782 order, targets resolved
// to A records, an unknown name reported; SeedDiscovery merging --join, file and SRV
// without self, and reporting a new set when the file is replaced by rename. End to end,
// real `galaxy agent` processes: B finds A through a seed file, C through SRV records
// (--dns-server pointing at the tiny server); D starts with an empty seed file and waits,
// then joins once the file names A; a running agent logs the new set when its file
// changes; a node listed in its own seed file starts alone; a running node alone (its file
// names only itself) joins a running farm within seconds once its file also names a member,
// and not before (issue 16: the watch hands new seeds to the node, not only to the log); a
// waiting node stops at once on SIGTERM (not after its backoff pause).
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { Resolver } from 'node:dns/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseSeedFile } from '../src/node/discovery/seed-file.js';
import { resolveSrvSeeds } from '../src/node/discovery/srv-seeds.js';
import { SeedDiscovery, type DiscoveredSeeds } from '../src/node/discovery/seed-discovery.js';
import { agentInvocation } from '../src/ops/agent/agent-command.js';
import { freePort, killAllAgents, spawnAgent, until, type Agent } from './support/agents.js';
import { TinyDns } from './support/tiny-dns.js';

const dir = mkdtempSync(join(tmpdir(), 'galaxy-discovery-'));
const dnsServers: TinyDns[] = [];

afterAll(() => {
  killAllAgents();
  for (const dns of dnsServers) dns.close();
});

async function tinyDns(...args: Parameters<typeof TinyDns.start>): Promise<TinyDns> {
  const dns = await TinyDns.start(...args);
  dnsServers.push(dns);
  return dns;
}

describe('the seed file', () => {
  it('takes addresses and host names, one per line, with comments; reports and skips bad lines', () => {
    const parsed = parseSeedFile(['# controllers', '10.0.0.1:7946', '', '  10.0.0.2:7946   # rack 2', '[::1]:7946', 'ctl-3.farm.example:7946', '10.0.0.1:7946', 'not an address', '10.0.0.9', 'host:99999'].join('\n'));
    expect(parsed.addresses.slice(0, 2)).toEqual(['10.0.0.1:7946', '10.0.0.2:7946']);
    expect(parsed.addresses).toHaveLength(3);
    expect(parsed.addresses[2]).toMatch(/^\[[0:]*1\]:7946$/);
    expect(parsed.names).toEqual([{ host: 'ctl-3.farm.example', port: 7946 }]);
    expect(parsed.problems).toEqual([
      'line 8: "not an address" is not "a.b.c.d:port", "[v6]:port" or "host:port"',
      'line 9: "10.0.0.9" is not "a.b.c.d:port", "[v6]:port" or "host:port"',
      'line 10: "host:99999" is not "a.b.c.d:port", "[v6]:port" or "host:port"',
    ]);
  });
});

describe('DNS SRV seeds', () => {
  it('resolves SRV records through the given server, lowest priority then highest weight first, targets to addresses', async () => {
    const dns = await tinyDns({
      srv: { '_galaxy._udp.farm.test': [{ priority: 20, weight: 0, port: 7001, target: 'c.farm.test' }, { priority: 10, weight: 1, port: 7002, target: 'b.farm.test' }, { priority: 10, weight: 5, port: 7003, target: 'a.farm.test' }, { priority: 10, weight: 0, port: 7004, target: 'gone.farm.test' }] },
      a: { 'a.farm.test': ['10.0.0.1'], 'b.farm.test': ['10.0.0.2', '10.0.0.3'], 'c.farm.test': ['10.0.0.4'] },
    });
    const resolver = new Resolver({ timeout: 1000, tries: 1 });
    resolver.setServers([dns.server]);
    const seeds = await resolveSrvSeeds('_galaxy._udp.farm.test.', resolver);
    expect(seeds.addresses).toEqual(['10.0.0.1:7003', '10.0.0.2:7002', '10.0.0.3:7002', '10.0.0.4:7001']);
    expect(seeds.problems).toEqual(['gone.farm.test: ENOTFOUND']);
    await expect(resolveSrvSeeds('_nothing._udp.farm.test', resolver)).rejects.toMatchObject({ code: 'ENOTFOUND' });
  });
});

describe('SeedDiscovery', () => {
  it('merges --join, the file and SRV without itself, and reports a new set when the file is replaced', async () => {
    const dns = await tinyDns({ srv: { '_galaxy._udp.farm.test': [{ priority: 0, weight: 0, port: 7946, target: '10.0.0.7' }] } });
    const file = join(mkdtempSync(join(dir, 'seeds-')), 'seeds');
    writeFileSync(file, '10.0.0.5:7946\n10.0.0.9:7946 # this node\n');
    const discovery = new SeedDiscovery({ join: ['10.0.0.1:7946'], seedsFile: file, seedsSrv: '_galaxy._udp.farm.test', dnsServers: [dns.server], self: '10.0.0.9:7946', refreshIntervalMs: 60_000 });
    expect(await discovery.resolve()).toEqual({ addresses: ['10.0.0.1:7946', '10.0.0.5:7946', '10.0.0.7:7946'], selfListed: true, problems: [] });
    const sets: DiscoveredSeeds[] = [];
    discovery.watch((seeds) => sets.push(seeds));
    await until('the first set', () => sets.length === 1, 5000, []);
    // Replaced the way provisioning tools write files: a temporary file renamed over it.
    writeFileSync(`${file}.tmp`, '# moved\n10.0.0.6:7946\n');
    renameSync(`${file}.tmp`, file);
    await until('the new set after the rename', () => sets.length === 2, 5000, []);
    expect(sets[1]!.addresses).toEqual(['10.0.0.1:7946', '10.0.0.6:7946', '10.0.0.7:7946']);
    discovery.close();
  });

  it('reports a missing file and an unknown SRV name as problems, not failures', async () => {
    const dns = await tinyDns({});
    const discovery = new SeedDiscovery({ join: [], seedsFile: join(dir, 'nope', 'seeds'), seedsSrv: '_galaxy._udp.none.test', dnsServers: [dns.server], self: '10.0.0.9:7946' });
    const seeds = await discovery.resolve();
    expect(seeds.addresses).toEqual([]);
    expect(seeds.problems).toEqual([expect.stringMatching(/seeds file .*nope\/seeds: ENOENT/), 'SRV _galaxy._udp.none.test: ENOTFOUND']);
  });

  it('galaxy agent checks the discovery flags', () => {
    const base = { bind: '127.0.0.1:7946', insecure: true, dataDir: dir };
    expect(agentInvocation({ ...base, seedsFile: 'seeds', seedsSrv: '_galaxy._udp.farm.example.', dnsServer: ['127.0.0.1:5353', '10.0.0.53'] }, {}).discovery).toEqual({ seedsFile: join(process.cwd(), 'seeds'), seedsSrv: '_galaxy._udp.farm.example.', dnsServers: ['127.0.0.1:5353', '10.0.0.53'], multicast: null });
    expect(() => agentInvocation({ ...base, seedsSrv: 'farm.example' }, {})).toThrow(/--seeds-srv takes an SRV name/);
    expect(() => agentInvocation({ ...base, dnsServer: ['dns.example'] }, {})).toThrow(/--dns-server takes/);
    expect(agentInvocation(base, { GALAXY_SEEDS_SRV: '_g._udp.x', GALAXY_DNS_SERVERS: '127.0.0.1:53' }).discovery).toMatchObject({ seedsSrv: '_g._udp.x', dnsServers: ['127.0.0.1:53'] });
  });
});

describe('agents that discover the farm', () => {
  const sees = (agent: Agent, address: string) => agent.lines.some((l) => l.event === 'join' && l.address === address);

  it('join through a seed file and through SRV records; one waits for an empty seed file to name a seed; a running one logs a changed file', async () => {
    const [pa, pb, pc, pd] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    const [a, b, c, d] = [pa, pb, pc, pd].map((port) => `127.0.0.1:${port}`) as [string, string, string, string];
    const seedsDir = mkdtempSync(join(dir, 'farm-'));
    // A is listed in its own seed file: it is a seed, so it starts alone.
    writeFileSync(join(seedsDir, 'seeds-a'), `# the farm's seeds\n${a}\n`);
    const agentA = spawnAgent(a, [], ['--seeds-file', join(seedsDir, 'seeds-a')]);
    writeFileSync(join(seedsDir, 'seeds-b'), `# the farm's seeds\n\n${a}   # controller 1\n`);
    const agentB = spawnAgent(b, [], ['--seeds-file', join(seedsDir, 'seeds-b')]);
    const dns = await tinyDns({ srv: { '_galaxy._udp.farm.test': [{ priority: 0, weight: 0, port: pa, target: 'ctl.farm.test' }] }, a: { 'ctl.farm.test': ['127.0.0.1'] } });
    const agentC = spawnAgent(c, [], ['--seeds-srv', '_galaxy._udp.farm.test.', '--dns-server', dns.server]);
    writeFileSync(join(seedsDir, 'seeds-d'), '# nothing yet\n');
    const agentD = spawnAgent(d, [], ['--seeds-file', join(seedsDir, 'seeds-d')]);
    const agents = [agentA, agentB, agentC, agentD];
    await until('A sees B and C join', () => sees(agentA, b) && sees(agentA, c), 30_000, agents);
    await until('B and C see A', () => sees(agentB, a) && sees(agentC, a), 30_000, agents);
    // D has not started: no seed yet.
    expect(agentD.lines.some((l) => l.event === 'started')).toBe(false);
    expect(agentD.child.exitCode).toBeNull();
    writeFileSync(join(seedsDir, 'seeds-d'), `${b}\n`);
    await until('D joins through B once its file names B', () => sees(agentD, a) && sees(agentA, d), 30_000, agents);
    expect((agentD.lines.find((l) => l.event === 'started') as unknown as { join: string[] }).join).toEqual([b]);
    // A running agent reports the new set (it keeps the seeds it joined with).
    writeFileSync(join(seedsDir, 'seeds-b'), `${a}\n${c}\n`);
    await until('B logs the new seed set', () => agentB.lines.some((l) => l.event === 'discovery.seeds' && JSON.stringify((l as unknown as { seeds: string[] }).seeds) === JSON.stringify([a, c])), 10_000, agents);
    for (const agent of agents) agent.child.kill('SIGTERM');
  }, 90_000);

  it('a running node alone joins the farm within seconds once its seed file names a member', async () => {
    const [pa, pb] = await Promise.all([freePort(), freePort()]);
    const [a, b] = [pa, pb].map((port) => `127.0.0.1:${port}`) as [string, string];
    const seedsDir = mkdtempSync(join(dir, 'rejoin-'));
    // Both are listed in their own files only: each starts alone, running, a farm of one.
    writeFileSync(join(seedsDir, 'seeds-a'), `${a}\n`);
    writeFileSync(join(seedsDir, 'seeds-b'), `${b}\n`);
    const agentA = spawnAgent(a, [], ['--seeds-file', join(seedsDir, 'seeds-a')]);
    const agentB = spawnAgent(b, [], ['--seeds-file', join(seedsDir, 'seeds-b')]);
    const agents = [agentA, agentB];
    await until('A and B run', () => agents.every((agent) => agent.lines.some((l) => l.event === 'started')), 30_000, agents);
    // Alone they stay alone (the control: nothing but the new seeds brings them together).
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(sees(agentA, b) || sees(agentB, a)).toBe(false);
    // Replaced by rename, as provisioning writes it: B's file now names A too.
    writeFileSync(join(seedsDir, 'seeds-b.tmp'), `${b}\n${a}\n`);
    renameSync(join(seedsDir, 'seeds-b.tmp'), join(seedsDir, 'seeds-b'));
    const writtenMs = Date.now();
    await until('B and A see each other join', () => sees(agentB, a) && sees(agentA, b), 10_000, agents);
    const joinedMs = Date.now() - writtenMs;
    console.log(`B joined ${joinedMs} ms after its file named A`);
    expect(agentB.lines.some((l) => l.event === 'discovery.seeds' && JSON.stringify((l as unknown as { seeds: string[] }).seeds) === JSON.stringify([a]))).toBe(true);
    // Within a few seconds: the file watch settles in 50 ms and B, alone, joins at once.
    expect(joinedMs).toBeLessThan(5000);
    for (const agent of agents) agent.child.kill('SIGTERM');
  }, 60_000);

  it('a node waiting for a seed stops at once on SIGTERM, with status 0', async () => {
    const seeds = join(mkdtempSync(join(dir, 'wait-')), 'seeds');
    writeFileSync(seeds, '# nobody yet\n');
    const agent = spawnAgent(`127.0.0.1:${await freePort()}`, [], ['--seeds-file', seeds]);
    // Past the first rounds of the backoff, so the pause in progress is a long one.
    await new Promise((resolve) => setTimeout(resolve, 4000));
    expect(agent.child.exitCode).toBeNull();
    const exited = new Promise<number | null>((resolve) => agent.child.once('exit', (code) => resolve(code)));
    const sentMs = Date.now();
    agent.child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(Date.now() - sentMs).toBeLessThan(1500);
  }, 30_000);
});
