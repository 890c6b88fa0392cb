// Proves `npm start`'s demo end to end: it starts 5 real agents on loopback, prints
// their convergence, kills one and reports every other agent marking it dead, restarts
// it and reports the rejoin. Then Ctrl-C as a terminal sends it: SIGINT to the demo's
// whole process group, twice 50 ms apart (an impatient operator); the demo must stop
// every agent with a graceful leave (each exits 0, which the demo counts) and exit 0.
// Its output must agree with itself: the rack attribute it sets for each node is the
// rack tag that node announces, and after the kill a landscape is said to have lost the
// dead node only if it held it in the controller's landscapes printed just before the kill
// (not another agent's read-back: a dynamic landscape can differ between the two).
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../src/core/platform/package-root.js';

describe('the embedded demo', () => {
  it('converges, detects a crash, readmits the restart, and leaves gracefully on a double Ctrl-C', async () => {
    const child = spawn(process.execPath, [join(packageRoot(), 'dist', 'src', 'ops', 'cli', 'main.js'), 'demo'], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    try {
      const deadline = Date.now() + 90_000;
      while (!/Ctrl-C stops every agent/.test(stdout) && Date.now() < deadline && child.exitCode === null) await new Promise((resolve) => setTimeout(resolve, 100));
      expect(stdout, stderr).toMatch(/Ctrl-C stops every agent/);
      // A terminal's Ctrl-C reaches the whole foreground process group.
      process.kill(-child.pid!, 'SIGINT');
      await new Promise((resolve) => setTimeout(resolve, 50));
      process.kill(-child.pid!, 'SIGINT');
      const end = await exited;
      expect(end, stderr).toEqual({ code: 0, signal: null });
    } finally {
      if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGKILL');
    }
    expect(stdout).toMatch(/Converged at .*every agent sees all 5 members/);
    expect(stdout).toMatch(/every other agent marked it dead \d+ ms after the kill/);
    expect(stdout).toMatch(/it rejoined/);
    expect(stdout).toMatch(/All agents stopped: 5 of 5 left gracefully/);
    expect(stderr).not.toMatch(/FATAL/);
    // The rack attribute of every node is the rack its agent announces.
    const tagRack = new Map([...stdout.matchAll(/^ {4}([0-9a-f]{16})\s+\S+\s+alive\s+.*\brack=(r\d)/gm)].map((m) => [m[1]!, m[2]!]));
    const attrRack = new Map([...stdout.matchAll(/galaxy attr set ([0-9a-f]{16}) rack=(r\d)/g)].map((m) => [m[1]!, m[2]!]));
    expect(tagRack.size).toBe(5);
    expect(attrRack).toEqual(tagRack);
    // After the kill: each landscape either lost the dead node or says it never held it.
    const after = /the controller's landscapes dropped ([0-9a-f]{16}) in \d+ ms more: (.*)$/m.exec(stdout);
    expect(after, stdout).not.toBeNull();
    // Judged against the controller's landscapes the demo printed just before the kill.
    const beforeKill = /The controller's landscapes just before the kill:\n((?: {4}landscape .*\n)+)/.exec(stdout);
    expect(beforeKill, stdout).not.toBeNull();
    const before = new Map([...beforeKill![1]!.matchAll(/landscape (\S+)\s+(\d+) member\(s\): (.*)$/gm)].map((m) => [m[1]!, m[3]!.split(' ')]));
    for (const part of after![2]!.split('; ')) {
      const name = part.split(' ')[0]!;
      if (before.get(name)!.includes(after![1]!)) expect(part).toMatch(/ \d+ -> \d+ member\(s\)$/);
      else expect(part).toMatch(/unchanged \(it was not in it\)$/);
    }
  }, 150_000);
});
