import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { performance } from 'node:perf_hooks';
import { WatchLinks } from '../src/node/driver/watch-links.js';
import { freePort } from '../bench/free-port.js';

// The agent's watch ring held by TCP links (src/node/driver/watch-links.ts): a process
// that dies has its kernel close the link, and onLost runs with no traffic before it.
const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

async function until(check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('WatchLinks', () => {
  it('reports a link lost when the process holding the listener is SIGKILLed, and links again when it is back', async () => {
    const port = await freePort();
    const address = `127.0.0.1:${port}`;
    const listen = `require('net').createServer((s) => s.on('data', () => {})).listen(${port}, '127.0.0.1', () => console.log('up'))`;
    const startPeer = async () => {
      const child = spawn(process.execPath, ['-e', listen], { stdio: ['ignore', 'pipe', 'inherit'] });
      cleanups.push(() => child.kill('SIGKILL'));
      await once(child.stdout!, 'data');
      return child;
    };
    const peer = await startPeer();
    const lost: string[] = [];
    const links = new WatchLinks((to) => lost.push(to), () => performance.now());
    cleanups.push(() => links.close());
    links.update([address]);
    await until(() => links.opened === 1);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(lost).toEqual([]);
    peer.kill('SIGKILL');
    await until(() => lost.length >= 1);
    expect(lost[0]).toBe(address);
    // Refused while it is down: lost again at the backoff, then linked once it listens again.
    await until(() => lost.length >= 2);
    await startPeer();
    const openedBefore = links.opened;
    const lostBefore = lost.length;
    await until(() => links.opened > openedBefore);
    await new Promise((resolve) => setTimeout(resolve, 300));
    // A held link to a live peer loses nothing more (at most the attempt that raced the restart).
    expect(lost.length - lostBefore).toBeLessThanOrEqual(1);
  });

  it('follows the targets: a removed target is closed without a loss report, and close() reports nothing', async () => {
    const port = await freePort();
    const sockets: Socket[] = [];
    const server = createServer((s) => sockets.push(s));
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    cleanups.push(() => server.close());
    const lost: string[] = [];
    const links = new WatchLinks((to) => lost.push(to), () => performance.now());
    const address = `127.0.0.1:${port}`;
    const targets = [address];
    links.update(targets);
    await until(() => sockets.length === 1);
    links.update(targets); // the same array: nothing to do
    expect(links.opened).toBe(1);
    links.update([]);
    await until(() => sockets[0]!.destroyed || sockets[0]!.readableEnded);
    links.update([address]);
    await until(() => sockets.length === 2);
    links.close();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(lost).toEqual([]);
    // A peer's side closing the link (its idle timeout) is reported: the driver answers with one beat.
    const again = new WatchLinks((to) => lost.push(to), () => performance.now());
    cleanups.push(() => again.close());
    again.update([address]);
    await until(() => sockets.length === 3);
    sockets[2]!.end();
    await until(() => lost.length === 1);
    await until(() => sockets.length === 4);
  });
});
