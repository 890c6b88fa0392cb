// Proves the TCP frame transport against real loopback sockets: frames round-trip both
// ways; a frame on an inbound connection is delivered with a "tcp#n" key, and sending to
// that key answers over the same connection (the peer sees the reply as coming from the
// address it dialled); oversized, truncated and trickled frames from a raw misbehaving
// socket close only that connection and are counted, without an exception; connect failures, replies
// to closed connections, bad addresses and a full connection table are reported through
// onFailed and the counters, never thrown.
import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { StreamTransport, type StreamTransportOptions } from '../src/node/transport/stream-transport.js';

const open: StreamTransport[] = [];
const raw: Socket[] = [];

async function listen(options: StreamTransportOptions = {}): Promise<StreamTransport> {
  const transport = await StreamTransport.listen('127.0.0.1:0', options);
  open.push(transport);
  return transport;
}

function inbox(transport: StreamTransport): Array<{ from: string; bytes: Uint8Array }> {
  const frames: Array<{ from: string; bytes: Uint8Array }> = [];
  transport.onFrame((from, bytes) => frames.push({ from, bytes: bytes.slice() }));
  return frames;
}

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function rawSocket(address: string): Promise<Socket> {
  const [host, port] = address.split(':');
  const socket = connect({ host: host!, port: Number(port) });
  raw.push(socket);
  socket.on('error', () => {});
  await once(socket, 'connect');
  return socket;
}

async function closedPort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  server.close();
  await once(server, 'close');
  return port;
}

function header(length: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32LE(length, 0);
  return bytes;
}

afterEach(async () => {
  for (const socket of raw.splice(0)) socket.destroy();
  await Promise.all(open.splice(0).map((t) => t.close()));
});

describe('StreamTransport', () => {
  it('round-trips frames and routes replies back over the inbound connection', async () => {
    const a = await listen();
    const b = await listen();
    const atA = inbox(a);
    const atB = inbox(b);
    const big = new Uint8Array(3 * 1024 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = i * 7;
    const source = new Uint8Array([1, 2, 3, 4]);
    b.send(a.address, source);
    source.fill(0); // the transport copied it before send() returned
    b.send(a.address, big);
    b.send(a.address, new Uint8Array(0));
    await until(() => atA.length === 3);
    expect(atA[0]!.from).toMatch(/^tcp#\d+$/);
    expect(atA.every((f) => f.from === atA[0]!.from)).toBe(true); // one connection, reused
    expect([...atA[0]!.bytes]).toEqual([1, 2, 3, 4]);
    expect(Buffer.compare(atA[1]!.bytes, big)).toBe(0); // toEqual walks 3 Mi elements one by one
    expect(atA[2]!.bytes.length).toBe(0);

    a.send(atA[0]!.from, new Uint8Array([9, 8, 7]));
    await until(() => atB.length === 1);
    expect(atB[0]!.from).toBe(a.address);
    expect([...atB[0]!.bytes]).toEqual([9, 8, 7]);
    // And the dialler can answer the reply on the same outbound connection.
    b.send(atB[0]!.from, new Uint8Array([5]));
    await until(() => atA.length === 4);
    expect(atA[3]!.from).toBe(atA[0]!.from);
    expect(a.counters.connectionsAccepted).toBe(1);
    expect(b.counters.connectionsOpened).toBe(1);
    expect(a.counters.dropped + b.counters.dropped).toBe(0);
  });

  it('closes a connection whose length prefix is over the bound, counts it, and keeps serving', async () => {
    const a = await listen({ frameBytesMax: 1024 });
    const atA = inbox(a);
    const socket = await rawSocket(a.address);
    const closed = once(socket, 'close');
    socket.write(Buffer.concat([header(3), Buffer.from([1, 2, 3]), header(1025), Buffer.alloc(64)]));
    await closed;
    expect(atA.length).toBe(1); // the good frame before the bad prefix was delivered
    expect(a.counters.droppedOf('GALAXY_TRANSPORT_FRAME_TOO_LARGE')).toBe(1);
    await until(() => a.connectionCount === 0);

    const b = await listen();
    b.send(a.address, new Uint8Array([42]));
    await until(() => atA.length === 2);
    expect([...atA[1]!.bytes]).toEqual([42]);
  });

  it('counts a frame cut short by the peer closing, and one cut short by the idle timeout', async () => {
    const a = await listen({ idleTimeoutMs: 200 });
    const atA = inbox(a);
    const ending = await rawSocket(a.address);
    ending.end(Buffer.concat([header(100), Buffer.alloc(10)]));
    await until(() => a.counters.droppedOf('GALAXY_TRANSPORT_FRAME_TRUNCATED') === 1);

    const silent = await rawSocket(a.address);
    const closed = once(silent, 'close');
    silent.write(Buffer.concat([header(100), Buffer.alloc(10)]));
    await closed; // the transport hung up on the trickler
    await until(() => a.counters.droppedOf('GALAXY_TRANSPORT_FRAME_TRUNCATED') === 2);
    expect(a.counters.idleCloses).toBeGreaterThanOrEqual(1);
    expect(atA.length).toBe(0);
    await until(() => a.connectionCount === 0);
  });

  it('closes a peer that trickles a frame past frameTimeoutMs, though each byte resets the idle timeout, and counts it', async () => {
    const a = await listen({ idleTimeoutMs: 400, frameTimeoutMs: 600 });
    const atA = inbox(a);
    const trickler = await rawSocket(a.address);
    // Not events.once: it rejects on the 'error' (ECONNRESET) that a write racing the close may raise first.
    const closed = new Promise((resolve) => trickler.once('close', resolve));
    const started = Date.now();
    trickler.write(Buffer.concat([header(3), Buffer.from([1, 2, 3]), header(100)]));
    const drip = setInterval(() => trickler.write(Buffer.from([0])), 100);
    await closed;
    clearInterval(drip);
    expect(Date.now() - started).toBeGreaterThanOrEqual(550);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(atA.length).toBe(1); // the whole frame before the trickled one was delivered
    expect(a.counters.droppedOf('GALAXY_TRANSPORT_FRAME_TIMEOUT')).toBe(1);
    expect(a.counters.droppedOf('GALAXY_TRANSPORT_FRAME_TRUNCATED')).toBe(0);
    expect(a.counters.idleCloses).toBe(0);

    // Frames that keep coming whole are never cut, however long the connection lives.
    const steady = await rawSocket(a.address);
    for (let i = 0; i < 8; i++) {
      steady.write(Buffer.concat([header(1), Buffer.from([i])]));
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
    await until(() => atA.length === 9);
    expect(steady.destroyed).toBe(false);
    expect(a.counters.droppedOf('GALAXY_TRANSPORT_FRAME_TIMEOUT')).toBe(1);
  });

  it('reports a refused connection through onFailed with the address it was given', async () => {
    const b = await listen({ connectTimeoutMs: 2000 });
    const failed: string[] = [];
    b.onFailed((to) => failed.push(to));
    const to = `127.0.0.1:${await closedPort()}`;
    b.send(to, new Uint8Array([1]));
    await until(() => failed.length === 1);
    expect(failed).toEqual([to]);
    expect(b.counters.droppedOf('GALAXY_TRANSPORT_CONNECT_FAILED')).toBe(1);
    await until(() => b.connectionCount === 0);
  });

  it('reports, without throwing, what cannot be sent at all', async () => {
    const a = await listen({ frameBytesMax: 1000, connectionsMax: 2 });
    const failed: string[] = [];
    a.onFailed((to) => failed.push(to));
    expect(() => a.send('not an address', new Uint8Array(1))).not.toThrow();
    expect(() => a.send('tcp#99', new Uint8Array(1))).not.toThrow();
    expect(() => a.send('127.0.0.1:9', new Uint8Array(1001))).not.toThrow();
    expect(failed).toEqual(['not an address', 'tcp#99', '127.0.0.1:9']);
    expect(a.counters.droppedOf('GALAXY_TRANSPORT_BAD_ADDRESS')).toBe(1);
    expect(a.counters.droppedOf('GALAXY_TRANSPORT_NO_ROUTE_BACK')).toBe(1);
    expect(a.counters.droppedOf('GALAXY_TRANSPORT_TOO_LARGE')).toBe(1);
  });

  it('refuses connections beyond connectionsMax and counts them', async () => {
    const a = await listen({ connectionsMax: 2 });
    await rawSocket(a.address);
    await rawSocket(a.address);
    await until(() => a.connectionCount === 2);
    const third = await rawSocket(a.address);
    await once(third, 'close');
    expect(a.counters.droppedOf('GALAXY_TRANSPORT_CONNECTIONS_FULL')).toBe(1);
    expect(a.connectionCount).toBe(2);
  });

  it('counts sends after close instead of throwing', async () => {
    const a = await listen();
    await a.close();
    expect(() => a.send('127.0.0.1:9', new Uint8Array(1))).not.toThrow();
    expect(a.counters.droppedOf('GALAXY_TRANSPORT_CLOSED')).toBe(1);
  });

  it('rejects bad options with a message naming the option', async () => {
    await expect(StreamTransport.listen('127.0.0.1:0', { frameBytesMax: 1 << 25 })).rejects.toThrow(/options\.frameBytesMax must be at most/);
    await expect(StreamTransport.listen('127.0.0.1:0', { idleTimeoutMs: 0 })).rejects.toThrow(/options\.idleTimeoutMs must be a positive integer/);
    await expect(StreamTransport.listen('localhost:0')).rejects.toThrow(/bind address must be/);
  });
});
