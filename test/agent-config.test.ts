// Proves the settings and identity of `galaxy agent`: every setting resolves with the
// precedence flags > GALAXY_* environment > YAML config file > defaults; an unknown key or
// a bad value is refused with a message naming the field and where it came from (exit
// status 2); the data directory keeps a random node id and moves the incarnation past the
// last one on every start; a corrupt identity.json is refused, never replaced. The
// resolution and the identity module are unit-tested with an explicit clock and home
// directory; the built CLI is then started twice on one data directory (SIGTERM after the
// "started" line) to see the id survive a restart with a higher incarnation, and once on a
// corrupt identity file to see exit 2 and the message.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { agentInvocation, AgentUsageError, type AgentEnvironment, type AgentFlags } from '../src/ops/agent/agent-command.js';
import { claimIdentity, nextIncarnation, readIdentity } from '../src/ops/agent/config/agent-identity.js';
import { packageRoot } from '../src/core/platform/package-root.js';
import { freePort } from './support/agents.js';

const cli = join(packageRoot(), 'dist', 'src', 'ops', 'cli', 'main.js');
const kClockMs = 1_700_000_123_456;

function temporaryDir(): string {
  return mkdtempSync(join(tmpdir(), 'galaxy-agent-config-'));
}

function configFile(yaml: string): string {
  const path = join(temporaryDir(), 'agent.yaml');
  writeFileSync(path, yaml);
  return path;
}

function usageError(flags: AgentFlags, env: AgentEnvironment = {}): string {
  try {
    agentInvocation(flags, env, kClockMs, '/home/test');
  } catch (error) {
    expect(error).toBeInstanceOf(AgentUsageError);
    expect((error as AgentUsageError).exitCode).toBe(2);
    return (error as Error).message;
  }
  throw new Error('expected a usage error');
}

describe('agent settings precedence', () => {
  it('takes defaults when nothing else is given', () => {
    const invocation = agentInvocation({ bind: '127.0.0.1:7946' }, {}, kClockMs, '/home/test');
    expect(invocation.options).toMatchObject({ bind: '127.0.0.1:7946', join: [], preset: 'lan', transport: 'auto', keys: [], incarnation: 1_700_000_123 });
    expect(invocation.logLevel).toBe('info');
    expect(invocation.dataDir).toBe('/home/test/.galaxy/127.0.0.1_7946');
    expect(invocation.configPath).toBeNull();
  });

  it('chooses the components to run from GALAXY_COMPONENTS: all by default, a list, or none', () => {
    const components = (env: AgentEnvironment) => agentInvocation({ bind: '127.0.0.1:7946' }, env, kClockMs, '/home/test').farm.components;
    expect(components({})).toBeNull();
    expect(components({ GALAXY_COMPONENTS: 'measurement, jobs' })).toEqual(['measurement', 'jobs']);
    expect(components({ GALAXY_COMPONENTS: 'none' })).toEqual([]);
    expect(usageError({ bind: '127.0.0.1:7946' }, { GALAXY_COMPONENTS: 'jobs,Bad Kind' })).toMatch(/GALAXY_COMPONENTS takes component kinds/);
  });

  it('lets the config file override defaults, the environment override the file, and flags override both', () => {
    const path = configFile(
      ['bind: 127.0.0.1:7001', 'join: [127.0.0.1:7002]', 'preset: wan', 'transport: dgram', 'logLevel: debug', 'dataDir: state', 'meta: { zone: a }', 'membership: { probeIntervalMs: 5000 }'].join('\n'),
    );
    const fileOnly = agentInvocation({ config: path }, {}, kClockMs, '/home/test');
    expect(fileOnly.options).toMatchObject({ bind: '127.0.0.1:7001', join: ['127.0.0.1:7002'], preset: 'wan', transport: 'dgram', meta: { zone: 'a' }, membership: { probeIntervalMs: 5000 } });
    expect(fileOnly.logLevel).toBe('debug');
    expect(fileOnly.dataDir).toBe(join(path, '..', 'state'));

    const env = { GALAXY_BIND: '127.0.0.1:7003', GALAXY_JOIN: '127.0.0.1:7004,127.0.0.1:7005', GALAXY_PRESET: 'local', GALAXY_TRANSPORT: 'native', GALAXY_LOG_LEVEL: 'warn', GALAXY_DATA_DIR: '/srv/galaxy' };
    const fileAndEnv = agentInvocation({ config: path }, env, kClockMs, '/home/test');
    expect(fileAndEnv.options).toMatchObject({ bind: '127.0.0.1:7003', join: ['127.0.0.1:7004', '127.0.0.1:7005'], preset: 'local', transport: 'native' });
    expect(fileAndEnv.logLevel).toBe('warn');
    expect(fileAndEnv.dataDir).toBe('/srv/galaxy');

    const flags: AgentFlags = { config: path, bind: '127.0.0.1:7006', join: ['127.0.0.1:7007'], preset: 'lan', transport: 'dgram', logLevel: 'error', dataDir: '/var/galaxy', meta: ['zone=b'] };
    const all = agentInvocation(flags, env, kClockMs, '/home/test');
    expect(all.options).toMatchObject({ bind: '127.0.0.1:7006', join: ['127.0.0.1:7007'], preset: 'lan', transport: 'dgram', meta: { zone: 'b' } });
    expect(all.logLevel).toBe('error');
    expect(all.dataDir).toBe('/var/galaxy');
  });

  it('treats empty environment variables and empty flag lists as not given', () => {
    const invocation = agentInvocation({ bind: '127.0.0.1:7946', join: [], key: [] }, { GALAXY_PRESET: '', GALAXY_JOIN: '' }, kClockMs, '/home/test');
    expect(invocation.options).toMatchObject({ preset: 'lan', join: [], keys: [] });
  });
});

describe('agent settings errors', () => {
  it('refuses unknown keys and bad values in the config file, naming the file and the field', () => {
    const unknown = configFile('bind: 127.0.0.1:7001\njoins: [127.0.0.1:7002]\n');
    expect(usageError({ config: unknown })).toMatch(new RegExp(`${unknown}: unknown key "joins"`));
    const badEnum = configFile('bind: 127.0.0.1:7001\ntransport: udp\n');
    expect(usageError({ config: badEnum })).toMatch(new RegExp(`${badEnum}: transport: .*'auto' \\| 'native' \\| 'dgram'.*'udp'`));
    const badType = configFile('bind: 127.0.0.1:7001\njoin: 127.0.0.1:7002\n');
    expect(usageError({ config: badType })).toMatch(new RegExp(`${badType}: join: Expected array`));
    const badPreset = configFile('bind: 127.0.0.1:7001\npreset: fast\n');
    expect(usageError({ config: badPreset })).toMatch(new RegExp(`preset in ${badPreset} must be one of lan, wan, local, got "fast"`));
    const badBind = configFile('bind: 0.0.0.0:7001\n');
    expect(usageError({ config: badBind })).toMatch(new RegExp(`bind in ${badBind} must be an address peers can reach`));
    const badMembership = configFile('bind: 127.0.0.1:7001\nmembership: { probeTimeoutMs: -1 }\n');
    expect(usageError({ config: badMembership })).toMatch(new RegExp(`${badMembership}: membership\\.probeTimeoutMs must be a positive number`));
    const unknownMembership = configFile('bind: 127.0.0.1:7001\nmembership: { probeIntervalSeconds: 1 }\n');
    expect(usageError({ config: unknownMembership })).toMatch(/unknown membership option "probeIntervalSeconds"/);
    const notYaml = configFile('bind: [\n');
    expect(usageError({ config: notYaml })).toMatch(new RegExp(`${notYaml}: not valid YAML`));
    expect(usageError({ config: '/nonexistent/agent.yaml' })).toMatch(/--config \/nonexistent\/agent\.yaml: cannot read it/);
  });

  it('names the environment variable a bad value came from', () => {
    expect(usageError({}, { GALAXY_BIND: 'nope' })).toMatch(/^GALAXY_BIND must be "a\.b\.c\.d:port"/);
    expect(usageError({ bind: '127.0.0.1:7001' }, { GALAXY_JOIN: '127.0.0.1:7002,nope' })).toMatch(/^GALAXY_JOIN takes .* got "nope"/);
    expect(usageError({ bind: '127.0.0.1:7001' }, { GALAXY_PRESET: 'fast' })).toMatch(/^GALAXY_PRESET must be one of/);
    expect(usageError({ bind: '127.0.0.1:7001' }, { GALAXY_TRANSPORT: 'udp' })).toMatch(/^GALAXY_TRANSPORT must be auto, native or dgram/);
    expect(usageError({ bind: '127.0.0.1:7001' }, { GALAXY_LOG_LEVEL: 'loud' })).toMatch(/^GALAXY_LOG_LEVEL must be one of fatal, error/);
    expect(usageError({ bind: '127.0.0.1:7001' }, { GALAXY_KEYS: 'not-a-key' })).toMatch(/^GALAXY_KEYS: /);
    expect(usageError({ bind: '127.0.0.1:7001', logLevel: 'loud' })).toMatch(/^--log-level must be one of/);
  });
});

describe('agent identity', () => {
  it('computes the incarnation as max(last + 1, wall-clock second)', () => {
    expect(nextIncarnation(null, kClockMs)).toBe(1_700_000_123);
    expect(nextIncarnation(5, kClockMs)).toBe(1_700_000_123);
    expect(nextIncarnation(1_700_000_123, kClockMs)).toBe(1_700_000_124);
    expect(nextIncarnation(1_800_000_000, kClockMs)).toBe(1_800_000_001);
  });

  it('generates a random id once, keeps it, and writes each incarnation back', () => {
    const dataDir = join(temporaryDir(), 'nested', 'data');
    const first = claimIdentity(dataDir, kClockMs);
    expect(first).toMatchObject({ created: true, clockBehind: false, incarnation: 1_700_000_123 });
    expect(first.id).toMatch(/^[0-9a-f]{16}$/);
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    // A restart within the same second still comes back higher.
    const second = claimIdentity(dataDir, kClockMs);
    expect(second).toMatchObject({ id: first.id, created: false, clockBehind: true, incarnation: 1_700_000_124 });
    expect(readIdentity(dataDir)).toEqual({ id: first.id, incarnation: 1_700_000_124 });
    expect(claimIdentity(temporaryDir(), kClockMs).id).not.toBe(first.id);
  });

  it('refuses a corrupt identity file and leaves it as it was', () => {
    const dataDir = temporaryDir();
    for (const text of ['{', '{"id":"xyz","incarnation":1}', '{"id":"0123456789abcdef","incarnation":0}', '{"id":"0123456789abcdef","incarnation":1,"extra":true}']) {
      writeFileSync(join(dataDir, 'identity.json'), text);
      expect(() => claimIdentity(dataDir, kClockMs)).toThrow(AgentUsageError);
      expect(() => claimIdentity(dataDir, kClockMs)).toThrow(/identity file .*identity\.json is corrupt/);
      expect(readFileSync(join(dataDir, 'identity.json'), 'utf8')).toBe(text);
    }
  });
});

interface AgentRun {
  started: Record<string, unknown>;
  stderr: string;
  code: number | null;
}

/** Starts the built CLI, waits for the "started" line, sends SIGTERM and collects the exit. */
async function runUntilStarted(args: readonly string[]): Promise<AgentRun> {
  const child = spawn(process.execPath, [cli, 'agent', '--api', 'off', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const lines: Array<Record<string, unknown>> = [];
    createInterface({ input: child.stdout }).on('line', (line) => lines.push(JSON.parse(line) as Record<string, unknown>));
    const exited = once(child, 'exit') as Promise<[number | null]>;
    const deadline = Date.now() + 15_000;
    while (lines.length === 0 && child.exitCode === null && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    if (lines.length > 0) child.kill('SIGTERM');
    const [code] = await exited;
    return { started: lines[0] ?? {}, stderr, code };
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

describe('galaxy agent data directory (built CLI)', () => {
  it('keeps the node id across a restart and comes back with a higher incarnation', async () => {
    const dataDir = join(temporaryDir(), 'data');
    const address = `127.0.0.1:${await freePort()}`;
    const first = await runUntilStarted(['--bind', address, '--preset', 'local', '--data-dir', dataDir]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.started).toMatchObject({ event: 'started', address });
    const second = await runUntilStarted(['--bind', address, '--preset', 'local', '--data-dir', dataDir]);
    expect(second.code, second.stderr).toBe(0);
    expect(second.started.id).toBe(first.started.id);
    expect(second.started.incarnation as number).toBeGreaterThan(first.started.incarnation as number);
    expect(readIdentity(dataDir)).toEqual({ id: first.started.id, incarnation: second.started.incarnation });
    // The structured log on stderr is JSON and names the data directory.
    const startedLog = second.stderr.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>).find((record) => record.msg === 'agent started');
    expect(startedLog).toMatchObject({ bind: address, id: first.started.id, dataDir, preset: 'local' });
  }, 40_000);

  it('exits 2 with a message on a corrupt identity file', async () => {
    const dataDir = temporaryDir();
    writeFileSync(join(dataDir, 'identity.json'), 'not json');
    const run = await runUntilStarted(['--bind', `127.0.0.1:${await freePort()}`, '--data-dir', dataDir]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/identity file .*identity\.json is corrupt/);
    expect(readFileSync(join(dataDir, 'identity.json'), 'utf8')).toBe('not json');
  }, 20_000);
});
