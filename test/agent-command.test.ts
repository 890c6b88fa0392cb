import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
// Proves the `galaxy agent` flag handling: every bad flag is refused with a message that
// names the flag (AgentUsageError, exit status 2), join lists may be comma-separated and
// repeated, addresses come out canonical, and the incarnation is the wall-clock second
// (so a restart rejoins higher). Also runs the built CLI with a bad --bind to see the
// status 2 and the message on stderr, and one real agent to see the JSON lines framing a
// SIGTERM: "started" first, "stopped" last, exit 0.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { agentOptionsFromFlags, AgentUsageError } from '../src/ops/agent/agent-command.js';
import { packageRoot } from '../src/core/platform/package-root.js';
import { freePort } from './support/agents.js';

const cli = join(packageRoot(), 'dist', 'src', 'ops', 'cli', 'main.js');

function usageError(flags: Parameters<typeof agentOptionsFromFlags>[0]): string {
  try {
    agentOptionsFromFlags(flags);
  } catch (error) {
    expect(error).toBeInstanceOf(AgentUsageError);
    expect((error as AgentUsageError).exitCode).toBe(2);
    return (error as Error).message;
  }
  throw new Error('expected a usage error');
}

describe('agent flags', () => {
  it('refuses bad flags with messages naming them', () => {
    expect(usageError({})).toMatch(/--bind HOST:PORT is required/);
    expect(usageError({ bind: 'localhost:7946' })).toMatch(/--bind must be "a\.b\.c\.d:port"/);
    expect(usageError({ bind: '10.0.0.1:0' })).toMatch(/--bind must be .* with a port from 1 to 65535/);
    expect(usageError({ bind: '10.0.0.256:7946' })).toMatch(/--bind must be/);
    expect(usageError({ bind: '0.0.0.0:7946' })).toMatch(/not the wildcard/);
    expect(usageError({ bind: '10.0.0.1:7946', join: ['10.0.0.2:7946,nope'] })).toMatch(/--join takes .* got "nope"/);
    expect(usageError({ bind: '10.0.0.1:7946', preset: 'fast' })).toMatch(/--preset must be one of lan, wan, local, got "fast"/);
    expect(usageError({ bind: '10.0.0.1:7946', meta: ['novalue'] })).toMatch(/--meta takes key=value/);
    expect(usageError({ bind: '10.0.0.1:7946', meta: ['a=1', 'a=2'] })).toMatch(/given twice/);
    expect(usageError({ bind: '10.0.0.1:7946', meta: ['bad key=1'] })).toMatch(/meta key "bad key"/);
    expect(usageError({ bind: '10.0.0.1:7946', meta: [`k=${'v'.repeat(600)}`] })).toMatch(/over metaBytesMax/);
  });

  it('accepts comma-separated and repeated seeds, canonicalises addresses, and takes the clock second as incarnation', () => {
    const options = agentOptionsFromFlags({ bind: '[::1]:7946', join: ['[::1]:7947,[::1]:7948', '[0:0::1]:7949'], preset: 'wan', meta: ['zone=a', 'role=db'] }, 1_700_000_123_456);
    expect(options.bind).toBe('[0:0:0:0:0:0:0:1]:7946');
    expect(options.join).toEqual(['[0:0:0:0:0:0:0:1]:7947', '[0:0:0:0:0:0:0:1]:7948', '[0:0:0:0:0:0:0:1]:7949']);
    expect(options.preset).toBe('wan');
    expect({ ...options.meta }).toEqual({ zone: 'a', role: 'db' });
    expect(options.incarnation).toBe(1_700_000_123);
  });
});

describe('galaxy agent (built CLI)', () => {
  it('exits 2 with the message on stderr for a bad address', async () => {
    const child = spawn(process.execPath, [cli, 'agent', '--bind', 'nonsense'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const [code] = (await once(child, 'exit')) as [number];
    expect(code).toBe(2);
    expect(stderr).toMatch(/--bind must be "a\.b\.c\.d:port" or "\[v6\]:port"/);
  });

  it('logs "started" first and "stopped" last around a SIGTERM, and exits 0', async () => {
    const address = `127.0.0.1:${await freePort()}`;
    const child = spawn(process.execPath, [cli, 'agent', '--bind', address, '--preset', 'local', '--api', 'off', '--data-dir', mkdtempSync(join(tmpdir(), 'galaxy-test-'))], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const lines: Array<Record<string, unknown>> = [];
      createInterface({ input: child.stdout }).on('line', (line) => lines.push(JSON.parse(line) as Record<string, unknown>));
      const deadline = Date.now() + 15_000;
      while (lines.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(lines[0]).toMatchObject({ event: 'started', address, self: address, preset: 'local' });
      expect(typeof lines[0]!.t).toBe('string');
      const exited = once(child, 'exit') as Promise<[number | null]>;
      child.kill('SIGTERM');
      const [code] = await exited;
      expect(code).toBe(0);
      expect(lines.at(-1)).toMatchObject({ event: 'stopped', self: address, signal: 'SIGTERM' });
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });
});
