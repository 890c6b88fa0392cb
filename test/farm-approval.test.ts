// Proves admission by approval end to end with real `galaxy agent` processes and the
// operator's CLI (`galaxy nodes ...` over the controller's HTTP API, token from its data
// directory):
//  - a new node waits pending and is not a member until `galaxy nodes approve`, then joins;
//  - a rejected node learns it and never joins;
//  - `galaxy nodes revoke` rotates the farm keyring: afterwards datagrams sealed with the
//    revoked node's old keys are dropped and counted (galaxy_auth_failures_total in
//    /metrics), and the revoked node sees no new farm traffic (a node approved later
//    never appears in its membership);
//  - the pending queue and every decision survive a controller restart;
//  - a viewer token cannot approve (403), and a bad id gets a 400 with a message.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Keyring } from '../src/node/security/keyring.js';
import { packageRoot } from '../src/core/platform/package-root.js';
import { freePort, killAllAgents, spawnAgent, until, type Agent } from './support/agents.js';

const cli = join(packageRoot(), 'dist', 'src', 'ops', 'cli', 'main.js');

afterAll(() => killAllAgents());

function galaxy(args: readonly string[]): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 20_000 });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

function galaxyJson<T>(args: readonly string[]): T {
  const run = galaxy([...args, '--json']);
  if (run.status !== 0) throw new Error(`galaxy ${args.join(' ')} exited ${run.status}: ${run.stderr}`);
  return JSON.parse(run.stdout) as T;
}

const idOf = (agent: Agent) => agent.lines.find((l) => l.event === 'started')?.id ?? '';
const started = (agent: Agent) => agent.lines.some((l) => l.event === 'started');
const sawEvent = (agent: Agent, event: string) => agent.lines.some((l) => l.event === event);
const joined = (agent: Agent, other: Agent) => agent.lines.some((l) => l.event === 'join' && l.address === other.address);
const dataDirOf = (agent: Agent) => (agent.child.spawnargs[agent.child.spawnargs.indexOf('--data-dir') + 1] ?? '') as string;

async function metric(controllerDir: string, name: string, labels: string): Promise<number> {
  const api = JSON.parse(readFileSync(join(controllerDir, 'api.json'), 'utf8')) as { url: string };
  const token = readFileSync(join(controllerDir, 'admin.token'), 'utf8').trim();
  const text = await (await fetch(`${api.url}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line === undefined ? Number.NaN : Number(line.split(' ')[1]);
}

describe('admission by approval (real processes)', () => {
  it('pending, approve, reject, revoke, restart', async () => {
    const controllerAddress = `127.0.0.1:${await freePort()}`;
    const apiPort = await freePort();
    const controllerFlags = ['--role', 'controller', '--bootstrap', '--api', `127.0.0.1:${apiPort}`];
    let controller = spawnAgent(controllerAddress, [], controllerFlags);
    await until('the controller starts', () => started(controller), 15_000, [controller]);
    const dir = dataDirOf(controller);
    const newNode = async () => {
      const agent = spawnAgent(`127.0.0.1:${await freePort()}`, [controllerAddress], ['--secure']);
      await until('the node starts', () => started(agent), 15_000, [agent]);
      return agent;
    };
    const pendingIds = () => galaxyJson<Array<{ id: string }>>(['nodes', 'pending', '--data-dir', dir]).map((r) => r.id);

    // Pending until approved.
    const a = await newNode();
    expect(a.lines[0]).toMatchObject({ event: 'started', admission: 'pending', mode: 'admission' });
    await until('a is pending', () => pendingIds().includes(idOf(a)), 15_000, [a, controller]);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(joined(controller, a)).toBe(false);
    const approve = galaxy(['nodes', 'approve', idOf(a), '--data-dir', dir]);
    expect(approve.status, approve.stderr).toBe(0);
    expect(approve.stdout).toMatch(/approved/);
    await until('a is admitted and joins', () => sawEvent(a, 'admission.admitted') && joined(controller, a) && joined(a, controller), 15_000, [a, controller]);

    // Rejected: learns it, never joins.
    const r = await newNode();
    await until('r is pending', () => pendingIds().includes(idOf(r)), 15_000, [r, controller]);
    expect(galaxy(['nodes', 'reject', idOf(r), '--data-dir', dir]).status).toBe(0);
    await until('r learns it is rejected', () => sawEvent(r, 'admission.rejected'), 15_000, [r]);
    expect(joined(controller, r)).toBe(false);

    // Revoked: the keyring rotates; old-key traffic is refused and counted.
    const b = await newNode();
    await until('b is pending', () => pendingIds().includes(idOf(b)), 15_000, [b, controller]);
    galaxy(['nodes', 'approve', idOf(b), '--data-dir', dir]);
    await until('b joins a', () => joined(a, b) && joined(b, a), 15_000, [a, b]);
    const oldKeys = (JSON.parse(readFileSync(join(dataDirOf(b), 'credentials.json'), 'utf8')) as { keys: string[] }).keys;
    const revoke = galaxy(['nodes', 'revoke', idOf(b), '--data-dir', dir]);
    expect(revoke.status, revoke.stderr).toBe(0);
    await until('b learns it is revoked', () => sawEvent(b, 'admission.revoked'), 15_000, [b]);
    await until('the controller rotated the keyring', () => controller.lines.some((l) => l.event === 'keyring.rotated'), 30_000, [controller]);
    const keysNow = galaxyJson<Array<{ fingerprint: string }>>(['keys', 'list', '--data-dir', dir]);
    expect(keysNow).toHaveLength(1);

    const failedBefore = await metric(dir, 'galaxy_auth_failures_total', '{reason="authentication"}');
    const socket = createSocket('udp4');
    const old = new Keyring(oldKeys);
    for (let i = 0; i < 20; i++) socket.send(old.seal(randomBytes(80)), Number(controllerAddress.split(':')[1]), '127.0.0.1');
    await new Promise((resolve) => setTimeout(resolve, 500));
    socket.close();
    expect((await metric(dir, 'galaxy_auth_failures_total', '{reason="authentication"}')) - failedBefore).toBeGreaterThanOrEqual(20);

    // A node approved after the revocation is never seen by the revoked node.
    const d = await newNode();
    await until('d is pending', () => pendingIds().includes(idOf(d)), 15_000, [d, controller]);
    galaxy(['nodes', 'approve', idOf(d), '--data-dir', dir]);
    await until('d joins a', () => joined(a, d), 15_000, [a, d]);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(joined(b, d)).toBe(false);

    // The pending queue and the decisions survive a controller restart.
    const p = await newNode();
    await until('p is pending', () => pendingIds().includes(idOf(p)), 15_000, [p, controller]);
    controller.child.kill('SIGTERM');
    await new Promise<void>((resolve) => controller.child.once('exit', () => resolve()));
    controller = spawnAgent(controllerAddress, [], controllerFlags);
    await until('the controller restarts', () => started(controller), 15_000, [controller]);
    await until('its API answers', () => galaxy(['nodes', 'list', '--data-dir', dir]).status === 0, 15_000, [controller]);
    const records = galaxyJson<Array<{ id: string; status: string }>>(['nodes', 'list', '--data-dir', dir]);
    const statusOf = (agent: Agent) => records.find((x) => x.id === idOf(agent))?.status;
    expect([statusOf(a), statusOf(r), statusOf(b), statusOf(d), statusOf(p)]).toEqual(['approved', 'rejected', 'revoked', 'approved', 'pending']);

    // Roles: a viewer cannot approve; a bad id is a 400 with a message.
    const viewer = galaxy(['tokens', 'create', 'watcher', '--role', 'viewer', '--data-dir', dir]).stdout.trim();
    const denied = galaxy(['nodes', 'approve', idOf(p), '--data-dir', dir, '--token', viewer]);
    expect(denied.status).toBe(2);
    expect(denied.stderr).toMatch(/403|role|permission|forbidden/i);
    const bad = galaxy(['nodes', 'approve', 'not-an-id', '--data-dir', dir]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/id/i);
  }, 180_000);
});
