// Helpers for tests that run real `galaxy agent` processes on loopback: free ports,
// spawning with JSON-line capture, polling, and killing everything afterwards.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { packageRoot } from '../../src/core/platform/package-root.js';

const kDataRoot = mkdtempSync(join(tmpdir(), 'galaxy-test-agents-'));

export interface LogLine {
  readonly t: string;
  readonly event: string;
  readonly id?: string;
  readonly address?: string;
  readonly incarnation?: number;
  readonly self: string;
}

export interface Agent {
  readonly address: string;
  readonly child: ChildProcess;
  readonly lines: LogLine[];
  stderr: string;
}

const kStderrBytesMax = 64 * 1024;
const cli = join(packageRoot(), 'dist', 'src', 'ops', 'cli', 'main.js');
export const children = new Set<ChildProcess>();

export { freePort } from '../../bench/free-port.js';

export function spawnAgent(address: string, seeds: readonly string[], extra: readonly string[] = []): Agent {
  // A data directory per address under the test run's temporary folder: no litter in ~/.galaxy.
  // Membership tests run an open farm (no admission, no keys) unless they pass keys or
  // admission flags themselves, and no API unless they ask for one.
  const secured = extra.some((flag) => flag === '--key' || flag === '--role' || flag === '--secure');
  const defaults = [...(secured ? [] : ['--insecure']), ...(extra.includes('--api') ? [] : ['--api', 'off'])];
  const args = [cli, 'agent', '--preset', 'local', '--bind', address, ...(seeds.length > 0 ? ['--join', seeds.join(',')] : []), '--data-dir', join(kDataRoot, address.replace(/[:[\]]/g, '_')), '--log-level', 'warn', ...defaults, ...extra.filter((flag) => flag !== '--secure')];
  // Without an API nothing can reach the components, so membership tests run none: twenty
  // agents starting four component processes each saturate a 2-vCPU machine for seconds.
  const env = extra.includes('--api') ? process.env : { ...process.env, GALAXY_COMPONENTS: 'none' };
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  children.add(child);
  const agent: Agent = { address, child, lines: [], stderr: '' };
  createInterface({ input: child.stdout! }).on('line', (line) => agent.lines.push(JSON.parse(line) as LogLine));
  child.stderr!.on('data', (chunk: Buffer) => {
    if (agent.stderr.length < kStderrBytesMax) agent.stderr += chunk.toString();
  });
  return agent;
}

export async function until(what: string, condition: () => boolean, timeoutMs: number, agents: readonly Agent[]): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) {
      const stderr = agents.filter((a) => a.stderr !== '').map((a) => `${a.address}: ${a.stderr}`).join('\n');
      throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}${stderr === '' ? '' : `\nstderr:\n${stderr}`}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export function linesAbout(agent: Agent, address: string, event: string, sinceMs = 0): LogLine[] {
  return agent.lines.filter((l) => l.address === address && l.event === event && Date.parse(l.t) >= sinceMs);
}


/** SIGKILLs every agent still running (call from afterAll). */
export function killAllAgents(): void {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}
