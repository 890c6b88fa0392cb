// Helpers for the component host tests: a host with short timings and a temporary state
// root, the events and log lines it produced, polling, and checks that processes are gone.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ComponentHost, type ComponentHostOptions, type ComponentLifecycleEvent, type ComponentLogger } from '../../src/farm/components/host/component-host.js';
import { packageRoot } from '../../src/core/platform/package-root.js';

export interface LoggedLine {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly fields: object;
  readonly message: string | undefined;
}

export interface TestHost {
  readonly host: ComponentHost;
  readonly lifecycle: ComponentLifecycleEvent[];
  readonly values: Array<{ name: string; values: Readonly<Record<string, number | string>>; atMs: number }>;
  readonly logs: LoggedLine[];
}

const hosts: ComponentHost[] = [];
const stateRoots: string[] = [];

/** The absolute path of a fixture component under test/fixtures/components. */
export function fixture(name: string): string {
  return join(packageRoot(), 'test', 'fixtures', 'components', `${name}.mjs`);
}

/** A host with short backoffs and timeouts, recording what it emits; closed by closeHosts(). */
export function testHost(options: Partial<ComponentHostOptions> = {}): TestHost {
  const logs: LoggedLine[] = [];
  const line = (level: LoggedLine['level']) => (fields: object, message?: string) => logs.push({ level, fields, message });
  const logger: ComponentLogger = { debug: line('debug'), info: line('info'), warn: line('warn'), error: line('error') };
  const stateRoot = mkdtempSync(join(tmpdir(), 'galaxy-components-'));
  stateRoots.push(stateRoot);
  const host = new ComponentHost({
    nodeId: '00000000000000aa',
    stateRoot,
    logger,
    backoff: { initialMs: 50, maxMs: 400, factor: 2, resetAfterMs: 60_000 },
    controlTimeoutMs: 2000,
    stopTimeoutMs: 1000,
    healthIntervalMs: 0,
    ...options,
  });
  hosts.push(host);
  const lifecycle: ComponentLifecycleEvent[] = [];
  const values: TestHost['values'] = [];
  host.on('component', (event) => lifecycle.push(event));
  host.on('values', (name, v) => values.push({ name, values: v, atMs: Date.now() }));
  return { host, lifecycle, values, logs };
}

/** Closes every host made by testHost and removes their state roots. */
export async function closeHosts(): Promise<void> {
  await Promise.all(hosts.splice(0).map((h) => h.close()));
  for (const root of stateRoots.splice(0)) rmSync(root, { recursive: true, force: true });
}

/** Polls every 10 ms until `condition` holds, or throws naming `what`. */
export async function waitFor(what: string, condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * Whether a process with this pid is alive. A zombie counts as gone: it has exited and
 * holds nothing, and an orphan's zombie lasts until PID 1 reaps it, which in some
 * containers takes a second or more.
 */
export function processExists(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return false;
  }
  // The state follows the parenthesised command name, which may itself contain spaces.
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
}

export function eventsOf(t: TestHost, name: string, type?: ComponentLifecycleEvent['type']): ComponentLifecycleEvent[] {
  return t.lifecycle.filter((e) => e.name === name && (type === undefined || e.type === type));
}
