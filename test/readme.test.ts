// Proves that the README's commands run as written (issue 16, item 4). Every ```sh and
// ```bash block of README.md is extracted in order; a block whose previous line is
// `<!-- readme-test: not run (REASON) -->` is left out (the reason must be given), and
// the others run one after the other in one bash session (`set -euo pipefail`, so any
// failing command fails the test, and `$NODE` and `GALAXY_DATA_DIR` carry from block to
// block as the README says they do). The session runs in a private network and mount
// namespace (`unshare -rnm`): the README's fixed ports (7946, 7947, the API's 7600) and
// its /tmp paths cannot collide with anything else on the machine, and every agent it
// started dies with the namespace. `galaxy` on PATH is this checkout's built CLI, as
// `npm link` makes it. The runner is itself checked on a README with a failing command
// and on one with an unexplained skip. Without unshare the agent blocks are skipped.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../src/core/platform/package-root.js';

const kMarker = /^<!-- readme-test: not run \((.+)\) -->$/;
const kSessionTimeoutMs = 150_000;

interface Block {
  readonly line: number;
  readonly text: string;
  /** Why it is not run, or null when it runs. */
  readonly skipped: string | null;
}

/** The shell blocks of a README, in order; throws on a marker without a reason. */
function shellBlocks(readme: string): Block[] {
  const lines = readme.split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^```(sh|bash)\s*$/.test(lines[i]!)) continue;
    const end = lines.indexOf('```', i + 1);
    if (end < 0) throw new Error(`README line ${i + 1}: a code block that never ends`);
    const previous = i > 0 ? lines[i - 1]! : '';
    if (previous.includes('readme-test') && !kMarker.test(previous)) throw new Error(`README line ${i}: a readme-test marker must say why: <!-- readme-test: not run (REASON) -->`);
    blocks.push({ line: i + 1, text: lines.slice(i + 1, end).join('\n'), skipped: kMarker.exec(previous)?.[1] ?? null });
    i = end;
  }
  return blocks;
}

/** Where the checkout is bind-mounted inside the session's mount namespace (outside /tmp). */
const kPackageMount = '/mnt';

function canUnshare(): boolean {
  return spawnSync('unshare', ['-rnm', 'sh', '-c', 'ip link set lo up && mount -t tmpfs tmpfs /tmp'], { encoding: 'utf8' }).status === 0;
}

/**
 * Runs the blocks in one bash session inside fresh network and mount namespaces, with
 * `galaxy` on PATH; resolves with the exit status and the output.
 */
function runBlocks(blocks: readonly Block[]): Promise<{ status: number | null; output: string }> {
  const root = packageRoot();
  const work = mkdtempSync(join(tmpdir(), 'galaxy-readme-'));
  const session = join(work, 'session.sh');
  writeFileSync(session, ['set -euo pipefail', ...blocks.filter((b) => b.skipped === null).flatMap((b) => [`echo "### README line ${b.line}"`, b.text])].join('\n') + '\n');
  const shim = `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(join(kPackageMount, 'dist', 'src', 'ops', 'cli', 'main.js'))} "$@"\n`;
  // The session is opened (fd 3) before a private tmpfs replaces /tmp, which hides the
  // host's; the shim is written into the private one. The checkout is bind-mounted at
  // /mnt first and the session runs there: a checkout under /tmp (as a CI clone may be)
  // would be hidden by the private /tmp.
  const setup = `ip link set lo up && exec 3< ${JSON.stringify(session)} && mount --bind ${JSON.stringify(root)} ${kPackageMount} && cd ${kPackageMount} && mount -t tmpfs tmpfs /tmp && mkdir -p /tmp/bin /tmp/home && printf '%s' "$GALAXY_SHIM" > /tmp/bin/galaxy && chmod +x /tmp/bin/galaxy && exec bash /dev/fd/3`;
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: `/tmp/bin:${process.env['PATH'] ?? ''}`, HOME: '/tmp/home', GALAXY_SHIM: shim };
  for (const name of ['GALAXY_DATA_DIR', 'GALAXY_API', 'GALAXY_TOKEN', 'NODE']) delete env[name];
  return new Promise((resolve) => {
    const child = spawn('unshare', ['-rnm', 'sh', '-c', setup], { cwd: root, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), kSessionTimeoutMs);
    child.on('exit', (status) => {
      clearTimeout(timer);
      // Whatever the session left running (the agents) goes with its process group.
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
      resolve({ status, output });
    });
  });
}

describe('the README', () => {
  const readme = readFileSync(join(packageRoot(), 'README.md'), 'utf8');

  it('marks every block it does not run with a reason', () => {
    const blocks = shellBlocks(readme);
    expect(blocks.filter((b) => b.skipped === null).length).toBeGreaterThanOrEqual(4);
    expect(() => shellBlocks('<!-- readme-test: not run -->\n```sh\ntrue\n```\n')).toThrow(/must say why/);
  });

  it.skipIf(!canUnshare())('the runner fails on a failing command', async () => {
    const failing = await runBlocks(shellBlocks('```sh\necho one\nfalse\necho never\n```\n'));
    expect(failing.status).not.toBe(0);
    expect(failing.output).not.toContain('never');
  }, 30_000);

  it.skipIf(!canUnshare())('runs its command blocks as written, in order, on loopback', async () => {
    const blocks = shellBlocks(readme);
    const run = await runBlocks(blocks);
    console.log(`ran ${blocks.filter((b) => b.skipped === null).length} blocks, skipped ${blocks.filter((b) => b.skipped !== null).map((b) => `line ${b.line} (${b.skipped})`).join(', ')}`);
    expect(run.status, run.output.slice(-6000)).toBe(0);
    expect(run.output).toMatch(/approved/);
  }, kSessionTimeoutMs + 10_000);
});
