// Proves the deployment files shipped in deploy/ (issue 16, item 5): the systemd unit
// passes `systemd-analyze verify` (with ExecStart pointed at this checkout's CLI, the one
// path that differs on a machine with `npm install -g galaxy-farm`; verify checks that
// the command exists), with no warning about any line, and a unit with a bad value is
// caught by the same check (verify warns but exits 0 on those, so warnings count). The
// unit's contract with the agent is read from it: it runs `galaxy agent --config
// /etc/galaxy/agent.yaml`, sends SIGTERM to the agent alone (KillMode=mixed: it stops its
// components itself), waits longer than the graceful leave, and does not restart on a
// usage error (exit 2). The example config is accepted by `galaxy agent` as written, and
// its non-loopback API is allowed only because it serves TLS. Without systemd-analyze the
// verify test is skipped; the rest runs.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../src/core/platform/package-root.js';
import { agentInvocation } from '../src/ops/agent/agent-command.js';
import { kAgentDefaults } from '../src/node/driver/agent-options.js';

const root = packageRoot();
const unitText = readFileSync(join(root, 'deploy', 'galaxy-agent.service'), 'utf8');
const kInstalledCli = '/usr/local/bin/galaxy';
const hasSystemdAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0;

/** `systemd-analyze verify` on a unit text; its status and the lines it printed about the unit. */
function verify(text: string): { status: number | null; complaints: string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'galaxy-unit-'));
  const file = join(dir, 'galaxy-agent.service');
  writeFileSync(file, text.replace(`ExecStart=${kInstalledCli}`, `ExecStart=${process.execPath} ${join(root, 'dist', 'src', 'ops', 'cli', 'main.js')}`));
  const run = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8' });
  const complaints = `${run.stdout}\n${run.stderr}`.split('\n').filter((line) => line.includes('galaxy-agent.service'));
  return { status: run.status, complaints };
}

/** The unit's `Key=value` lines by section. */
function unitSettings(text: string): Map<string, Map<string, string>> {
  const sections = new Map<string, Map<string, string>>();
  let current: Map<string, string> | null = null;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const header = /^\[(\w+)\]$/.exec(line);
    if (header !== null) {
      current = new Map();
      sections.set(header[1]!, current);
      continue;
    }
    const at = line.indexOf('=');
    expect(at, `a line of the unit is not Key=value: ${line}`).toBeGreaterThan(0);
    expect(current, 'a setting before any section').not.toBeNull();
    current!.set(line.slice(0, at), line.slice(at + 1));
  }
  return sections;
}

describe('deploy/galaxy-agent.service', () => {
  it.skipIf(!hasSystemdAnalyze)('passes systemd-analyze verify without a warning, and a bad value is caught', () => {
    expect(verify(unitText)).toEqual({ status: 0, complaints: [] });
    const broken = verify(unitText.replace('KillMode=mixed', 'KillMode=sometimes'));
    expect(broken.complaints.join('\n')).toMatch(/kill mode/i);
  });

  it('runs the agent on its config file, stops it with SIGTERM to the agent alone, and gives the leave time', () => {
    const service = unitSettings(unitText).get('Service')!;
    expect(service.get('ExecStart')).toBe(`${kInstalledCli} agent --config /etc/galaxy/agent.yaml`);
    expect(service.get('KillMode')).toBe('mixed');
    expect(service.get('KillSignal')).toBe('SIGTERM');
    expect(Number(service.get('TimeoutStopSec')) * 1000).toBeGreaterThan(kAgentDefaults.stopTimeoutMs + kAgentDefaults.leaveFlushMs);
    expect(service.get('RestartPreventExitStatus')).toBe('2');
    expect(service.get('StateDirectory')).toBe('galaxy');
    expect(unitSettings(unitText).get('Install')!.get('WantedBy')).toBe('multi-user.target');
  });
});

describe('deploy/agent.example.yaml', () => {
  const file = join(root, 'deploy', 'agent.example.yaml');

  it('is accepted by galaxy agent as written: TLS on the non-loopback API, discovery by file and SRV', () => {
    const invocation = agentInvocation({ config: file }, {});
    expect(invocation.dataDir).toBe('/var/lib/galaxy');
    expect(invocation.farm).toMatchObject({ api: '10.0.0.11:7600', apiTls: { kind: 'self-signed' }, roles: ['controller'] });
    expect(invocation.discovery).toEqual({ seedsFile: '/etc/galaxy/seeds', seedsSrv: '_galaxy._udp.farm.example.', dnsServers: [], multicast: null });
  });

  it('would be refused without its TLS line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'galaxy-yaml-'));
    const withoutTls = join(dir, 'agent.yaml');
    const parsed = parseYaml(readFileSync(file, 'utf8')) as Record<string, unknown>;
    delete parsed['apiTls'];
    writeFileSync(withoutTls, JSON.stringify(parsed));
    expect(() => agentInvocation({ config: withoutTls }, {})).toThrow(/refusing to serve the API on 10\.0\.0\.11:7600 in plain HTTP/);
  });
});
