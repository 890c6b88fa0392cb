// The cluster service's closed-connection evidence (src/cluster/service/cluster-links.ts,
// issue 17): real TCP on loopback, a real process killed.
//  - a peer process SIGKILLed: its link closes, the reconnect is refused, onGone names it;
//  - a live peer closing the link (its idle timeout): no evidence, the link opens again;
//  - a link never held (nothing listens from the start): no evidence, only retries;
//  - the same, with the rule broken (any lost link taken as evidence, no reconnect):
//    the idle close becomes a false death, which is why the reconnect is there.
// Deadlines, not sleeps: every wait polls until its condition or fails with what it waited for.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { afterEach, describe, expect, it } from 'vitest';
import { ClusterLinks } from '../src/cluster/service/cluster-links.js';
import { eventually } from '../bench/cluster-rig.js';
import { freePort } from '../bench/free-port.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/** A node process listening on `port` that holds every connection it accepts. */
async function listenerProcess(port: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['-e', `require('net').createServer(() => {}).listen(${port}, '127.0.0.1', () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
  cleanups.push(() => child.kill('SIGKILL'));
  await once(child.stdout!, 'data');
  return child;
}

/** An in-process listener on `port` that closes the first connection it accepts after `closeAfterMs` (an idle timeout) and holds the rest. */
async function idleClosingServer(port: number, closeAfterMs: number): Promise<{ server: Server; accepted: () => number }> {
  let accepted = 0;
  const sockets: Socket[] = [];
  const server = createServer((socket) => {
    accepted++;
    sockets.push(socket);
    socket.on('error', () => {});
    if (accepted === 1) setTimeout(() => socket.destroy(), closeAfterMs);
  });
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return { server, accepted: () => accepted };
}

function links(): { links: ClusterLinks; gone: string[] } {
  const gone: string[] = [];
  const l = new ClusterLinks((nodeId) => gone.push(nodeId), () => performance.now());
  cleanups.push(() => l.close());
  return { links: l, gone };
}

describe('ClusterLinks: closed-connection evidence', () => {
  it('names a peer whose process was SIGKILLed: the link closes and the reconnect is refused', async () => {
    const port = await freePort();
    const child = await listenerProcess(port);
    const { links: l, gone } = links();
    l.update(new Map([['00000000000000aa', `127.0.0.1:${port}`]]));
    await eventually('the link is open', () => (l.isOpen('00000000000000aa') ? true : undefined), 10_000, 10);
    child.kill('SIGKILL');
    await eventually('the killed peer is named', () => (gone.length > 0 ? true : undefined), 10_000, 5);
    expect(gone).toEqual(['00000000000000aa']);
    expect(l.counters.gone).toBe(1);
    expect(l.counters.refused).toBeGreaterThanOrEqual(1);
  });

  it('gives no evidence when a live peer closes the link (its idle timeout): the link opens again', async () => {
    const port = await freePort();
    const server = await idleClosingServer(port, 50);
    const { links: l, gone } = links();
    l.update(new Map([['00000000000000bb', `127.0.0.1:${port}`]]));
    await eventually('the link was lost and opened again', () => (l.counters.lost >= 1 && server.accepted() >= 2 && l.isOpen('00000000000000bb') ? true : undefined), 10_000, 10);
    expect(gone).toEqual([]);
    expect(l.counters.gone).toBe(0);
  });

  it('gives no evidence for a link never held (nothing listens from the start), only retries', async () => {
    const port = await freePort();
    const { links: l, gone } = links();
    l.update(new Map([['00000000000000cc', `127.0.0.1:${port}`]]));
    await eventually('two refused connects', () => (l.counters.refused >= 2 ? true : undefined), 10_000, 10);
    expect(gone).toEqual([]);
    // Once a process listens there, the backoff's next try holds the link.
    const child = await listenerProcess(port);
    await eventually('the link is open', () => (l.isOpen('00000000000000cc') ? true : undefined), 10_000, 10);
    child.kill('SIGKILL');
    await eventually('the killed peer is named', () => (gone.length > 0 ? true : undefined), 10_000, 5);
    expect(gone).toEqual(['00000000000000cc']);
  });

  it('drops links to peers no longer wanted, without evidence', async () => {
    const port = await freePort();
    const child = await listenerProcess(port);
    const { links: l, gone } = links();
    l.update(new Map([['00000000000000dd', `127.0.0.1:${port}`]]));
    await eventually('the link is open', () => (l.isOpen('00000000000000dd') ? true : undefined), 10_000, 10);
    l.update(new Map());
    expect([...l.peers().keys()]).toEqual([]);
    child.kill('SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(gone).toEqual([]);
  });

  it('links to a target address from the local host given, counts the evidence under its route, and relinks without evidence when the target moves', async () => {
    const port = await freePort();
    // The peer listens on every loopback address (as an agent on its farm and extra networks); its parent learns each accepted connection's source.
    const child = spawn(process.execPath, ['-e', `require('net').createServer((s) => console.log(s.remoteAddress + ' ' + s.localAddress)).listen(${port}, '0.0.0.0', () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
    cleanups.push(() => child.kill('SIGKILL'));
    const seen: string[] = [];
    child.stdout!.on('data', (chunk: Buffer) => seen.push(...chunk.toString().trim().split('\n')));
    await eventually('the listener is up', () => (seen.includes('up') ? true : undefined), 10_000, 10);
    const { links: l, gone } = links();
    l.update(new Map([['00000000000000f1', `127.0.0.1:${port}`]]));
    await eventually('the farm link is open', () => (l.isOpen('00000000000000f1') ? true : undefined), 10_000, 10);
    expect(Object.fromEntries(l.routes())).toEqual({ farm: 1 });
    // The profile now selects another host for failure detection: the link moves there, from this node's own address on that network.
    l.update(new Map([['00000000000000f1', { address: `127.0.0.3:${port}`, localHost: '127.0.0.2', route: 'failureDetection' }]]));
    await eventually('the failure-detection link is open', () => (l.isOpen('00000000000000f1') && seen.includes('127.0.0.2 127.0.0.3') ? true : undefined), 10_000, 10);
    expect(l.peers().get('00000000000000f1')).toBe(`127.0.0.3:${port}`);
    expect(Object.fromEntries(l.routes())).toEqual({ failureDetection: 1 });
    expect(gone).toEqual([]);
    child.kill('SIGKILL');
    await eventually('the killed peer is named', () => (gone.length > 0 ? true : undefined), 10_000, 5);
    expect(gone).toEqual(['00000000000000f1']);
    expect(Object.fromEntries(l.goneByRoute)).toEqual({ failureDetection: 1 });
  });

  it('the broken rule (a lost link is evidence, no reconnect) takes an idle close for a death: the test above would catch it', async () => {
    const port = await freePort();
    await idleClosingServer(port, 50);
    const gone: string[] = [];
    const l = new ClusterLinks((nodeId) => gone.push(nodeId), () => performance.now(), { broken: { lostIsGone: true } });
    cleanups.push(() => l.close());
    l.update(new Map([['00000000000000ee', `127.0.0.1:${port}`]]));
    await eventually('the idle close was taken for a death', () => (gone.length > 0 ? true : undefined), 10_000, 10);
    expect(gone).toEqual(['00000000000000ee']);
  });
});
