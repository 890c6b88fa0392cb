// Proves that the native UDP socket (native/udp_socket.cc behind
// src/native/native-udp-socket.ts) is a correct datagram socket on this machine:
// two sockets exchange 1,000 datagrams each way in batches, all arriving
// byte-exact, over IPv4 and IPv6 loopback; a datagram to a closed loopback port
// comes back within a second as an ICMP (type 3 code 3, ECONNREFUSED) or ICMPv6
// (type 1 code 4) error record naming that port, read from the socket error
// queue by a poll wake-up; bad destinations, oversized and truncated datagrams are
// counted, never thrown; sends of one tick coalesce into few sendmmsg calls;
// close() is idempotent and later use throws GALAXY_NATIVE_CLOSED; and a process
// exits by itself after closing (or unref-ing) its socket, while an exception in
// a handler reaches process 'uncaughtException'. Real sockets on loopback, no
// mocks; waits are event driven with a deadline, never fixed sleeps. Skipped
// (with the reason) where the addon is not expected to build.
import { spawn, spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { describe, it, expect, afterEach } from 'vitest';
import { loadNativeFrom, type NativeStatus } from '../src/node/native/loader.js';
import {
  NativeUdpError,
  NativeUdpSocket,
  type NativeUdpErrorRecord,
  type NativeUdpHandlers,
  type NativeUdpSocketOptions,
} from '../src/node/native/native-udp-socket.js';
import { Prng } from '../src/core/util/prng.js';
import { closedLoopbackPort, ipv6LoopbackUnavailable } from './support/net.js';

const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const addonPath = path.join(packageRoot, 'build', 'Release', 'galaxy_native.node');

function hasCompiler(): boolean {
  return ['c++', 'g++', 'clang++'].some((compiler) => spawnSync(compiler, ['--version']).status === 0);
}

const nativeExpected = process.platform === 'linux' && hasCompiler();
const nativeSkipNote = `native addon not expected here (platform ${process.platform})`;

// An empty environment, so GALAXY_NO_NATIVE=1 in a shell cannot hide a broken build.
const nativeStatus: NativeStatus = loadNativeFrom({}, packageRoot);

const kDatagramCount = 1_000;
const kBurst = 100;
const kDeadlineMs = 5_000;
const kIcmpDeadlineMs = 1_000;

const openSockets: NativeUdpSocket[] = [];
afterEach(() => {
  for (const socket of openSockets.splice(0)) socket.close();
});

function open(options: NativeUdpSocketOptions, handlers: NativeUdpHandlers): NativeUdpSocket {
  const socket = NativeUdpSocket.open(options, handlers, nativeStatus);
  openSockets.push(socket);
  return socket;
}

/** Resolves when `done()` holds, checked after every event that calls `check`; rejects at the deadline. */
function eventually(done: () => boolean, deadlineMs: number, what: () => string): { promise: Promise<void>; check: () => void } {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<void>((onResolve, onReject) => {
    resolve = onResolve;
    reject = onReject;
  });
  const timer = setTimeout(() => reject(new Error(`not done within ${deadlineMs} ms: ${what()}`)), deadlineMs);
  const check = (): void => {
    if (!done()) return;
    clearTimeout(timer);
    resolve();
  };
  return { promise, check };
}


/** Deterministic datagrams: a 4-byte index, then 0..1199 PRNG bytes. */
function makeDatagrams(seed: number): Uint8Array[] {
  const prng = new Prng(seed);
  const datagrams: Uint8Array[] = [];
  for (let index = 0; index < kDatagramCount; index++) {
    const bytes = new Uint8Array(4 + prng.nextInt(1200));
    new DataView(bytes.buffer).setUint32(0, index);
    for (let offset = 4; offset < bytes.length; offset++) bytes[offset] = prng.nextInt(256);
    datagrams.push(bytes);
  }
  return datagrams;
}

function sameBytes(actual: Uint8Array | undefined, expected: Uint8Array): boolean {
  return actual !== undefined && Buffer.compare(actual, expected) === 0;
}

function indexOf(bytes: Uint8Array): number {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0);
}

/** Sends in bursts of kBurst with setImmediate between them, so the receiver's loop runs too. */
async function sendInBursts(socket: NativeUdpSocket, to: string, datagrams: readonly Uint8Array[]): Promise<void> {
  for (let start = 0; start < datagrams.length; start += kBurst) {
    for (const datagram of datagrams.slice(start, start + kBurst)) expect(socket.send(to, datagram)).toBe(true);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

async function exchange(ipv6: boolean): Promise<void> {
  const host = ipv6 ? '::1' : '127.0.0.1';
  const outbound = makeDatagrams(1);
  const inbound = makeDatagrams(2);
  const receivedByB = new Map<number, Uint8Array>();
  const receivedByA = new Map<number, Uint8Array>();
  const sourcesSeenByB = new Set<string>();
  const done = eventually(
    () => receivedByA.size === kDatagramCount && receivedByB.size === kDatagramCount,
    kDeadlineMs,
    () => `A received ${receivedByA.size}, B received ${receivedByB.size}`,
  );
  // Copies are required: the bytes are a view into the reused receive buffer.
  const a = open({ host, ipv6 }, { onMessage: (_from, bytes) => (receivedByA.set(indexOf(bytes), bytes.slice()), done.check()) });
  const b = open(
    { host, ipv6 },
    {
      onMessage: (from, bytes) => {
        sourcesSeenByB.add(from);
        receivedByB.set(indexOf(bytes), bytes.slice());
        done.check();
      },
    },
  );
  expect(a.localAddress).toMatch(ipv6 ? /^\[::1\]:\d+$/ : /^127\.0\.0\.1:\d+$/);
  await Promise.all([sendInBursts(a, b.localAddress, outbound), sendInBursts(b, a.localAddress, inbound)]);
  await done.promise;

  // One comparison per datagram, reported as a list: toEqual on 2,000 typed arrays
  // compares element by element and takes seconds.
  const mismatches = (received: Map<number, Uint8Array>, sent: readonly Uint8Array[]): number[] =>
    sent.flatMap((bytes, index) => (sameBytes(received.get(index), bytes) ? [] : [index]));
  expect(mismatches(receivedByB, outbound)).toEqual([]);
  expect(mismatches(receivedByA, inbound)).toEqual([]);
  expect([...sourcesSeenByB]).toEqual([a.localAddress]);
  for (const socket of [a, b]) {
    const stats = socket.stats;
    expect(stats.sent).toBe(kDatagramCount);
    expect(stats.received).toBe(kDatagramCount);
    expect(stats.sendDropped).toBe(0);
    expect(stats.truncated).toBe(0);
    // Bursts of 100 leave as a full batch of 64 plus a flush of 36: 20 sendmmsg calls, not 1,000.
    expect(stats.sendBatches).toBe(2 * (kDatagramCount / kBurst));
    expect(stats.receiveBatches).toBeLessThanOrEqual(stats.received);
  }
}

async function expectUnreachable(ipv6: boolean): Promise<void> {
  const closedPort = await closedLoopbackPort(ipv6 ? 'udp6' : 'udp4');
  const host = ipv6 ? '::1' : '127.0.0.1';
  const records: NativeUdpErrorRecord[] = [];
  const done = eventually(() => records.length > 0, kIcmpDeadlineMs, () => 'no error-queue record');
  const socket = open({ host, ipv6 }, { onMessage: () => undefined, onErrors: (batch) => (records.push(...batch), done.check()) });
  const peer = ipv6 ? `[::1]:${closedPort}` : `127.0.0.1:${closedPort}`;
  const sentAt = performance.now();
  expect(socket.send(peer, new Uint8Array([0x47]))).toBe(true);
  await done.promise;
  const elapsedMs = performance.now() - sentAt;

  expect(records).toHaveLength(1);
  expect(records[0]).toEqual({
    address: host,
    port: closedPort,
    peer,
    errno: os.constants.errno.ECONNREFUSED,
    origin: ipv6 ? 'icmp6' : 'icmp',
    icmpType: ipv6 ? 1 : 3,
    icmpCode: ipv6 ? 4 : 3,
    info: 0,
    offender: host,
  });
  expect(os.constants.errno.ECONNREFUSED).toBe(111);
  const stats = socket.stats;
  expect(stats.errQueueRecords).toBe(1);
  expect(stats.errorsUnknown).toBe(0);
  // The error reached JavaScript through a poll wake-up: a bare POLLERR arrives as
  // READABLE|PRIORITIZED, POLLERR together with data as a UV_EBADF status (re-armed).
  expect(stats.pollPrioritizedWakeUps + stats.pollErrorWakeUps).toBeGreaterThanOrEqual(1);
  console.info(`${ipv6 ? 'ICMPv6' : 'ICMPv4'} port unreachable reached onErrors after ${elapsedMs.toFixed(2)} ms`);
}

/** Runs a CommonJS snippet in a fresh node with `addon` bound; resolves with how it ended. */
/**
 * Runs `source` in a child with the addon loaded and SIGKILLs it at `deadlineMs`, counted from the start or,
 * with `afterMark`, from the moment the child writes that text to stderr (so a slow start on a loaded machine
 * is not mistaken for a child that stayed alive).
 */
function runChild(
  source: string,
  deadlineMs: number,
  afterMark?: string,
): Promise<{ code: number | null; signal: string | null; elapsedMs: number; stderr: string; timedOut: boolean }> {
  const program = `const addon = require(${JSON.stringify(addonPath)});\n${source}`;
  const child = spawn(process.execPath, ['-e', program], { stdio: ['ignore', 'ignore', 'pipe'] });
  const started = performance.now();
  let stderr = '';
  return new Promise((resolve) => {
    let timedOut = false;
    let timer: NodeJS.Timeout | undefined;
    const arm = (): void => {
      timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, deadlineMs);
    };
    if (afterMark === undefined) arm();
    else timer = setTimeout(() => child.kill('SIGKILL'), 120_000); // the mark never came: fail, do not hang
    child.stderr.on('data', (chunk: Buffer) => {
      const before = stderr;
      stderr += chunk.toString();
      if (afterMark !== undefined && !before.includes(afterMark) && stderr.includes(afterMark)) {
        clearTimeout(timer);
        arm();
      }
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, elapsedMs: performance.now() - started, stderr, timedOut });
    });
  });
}

describe('native UDP socket', () => {
  it('is available on Linux with the addon built', (context) => {
    if (!nativeExpected) context.skip(nativeSkipNote);
    expect(NativeUdpSocket.available(nativeStatus)).toEqual({ available: true });
  });

  it('exchanges 1,000 datagrams each way over IPv4, byte-exact, in batches', async (context) => {
    if (!nativeExpected) context.skip(nativeSkipNote);
    await exchange(false);
  });

  it('exchanges 1,000 datagrams each way over IPv6 (::1), byte-exact, in batches', async (context) => {
    if (!nativeExpected) context.skip(nativeSkipNote);
    const unavailable = await ipv6LoopbackUnavailable();
    if (unavailable !== undefined) context.skip(unavailable);
    await exchange(true);
  });

  it('reports an ICMP port unreachable for a closed 127.0.0.1 port within a second', async (context) => {
    if (!nativeExpected) context.skip(nativeSkipNote);
    await expectUnreachable(false);
  });

  it('reports an ICMPv6 port unreachable for a closed ::1 port within a second', async (context) => {
    if (!nativeExpected) context.skip(nativeSkipNote);
    const unavailable = await ipv6LoopbackUnavailable();
    if (unavailable !== undefined) context.skip(unavailable);
    await expectUnreachable(true);
  });

  it('keeps receiving after an ICMP error and a datagram are pending at the same wake-up', async (context) => {
    if (!nativeExpected) context.skip(nativeSkipNote);
    // With data and an error queued together, libuv 1.46 reports UV_EBADF and stops
    // the poll handle; the socket must re-arm it or it would go deaf from then on.
    const closedPort = await closedLoopbackPort('udp4');
    const kRounds = 5;
    let received = 0;
    let errors = 0;
    // Each round makes its own waiter; none exists before the first (an unawaited one would
    // reject at its deadline after the test, as an unhandled rejection).
    let waiting: { check: () => void; promise: Promise<void> } = { check: () => undefined, promise: Promise.resolve() };
    const a = open(
      { host: '127.0.0.1' },
      { onMessage: () => (received++, waiting.check()), onErrors: (records) => ((errors += records.length), waiting.check()) },
    );
    const b = open({ host: '127.0.0.1' }, { onMessage: () => undefined });
    for (let round = 1; round <= kRounds; round++) {
      waiting = eventually(() => received === round && errors === round, kDeadlineMs, () => `round ${round}: received ${received}, errors ${errors}`);
      a.send(`127.0.0.1:${closedPort}`, new Uint8Array([1]));
      a.flush();
      b.send(a.localAddress, new Uint8Array([2]));
      b.flush();
      await waiting.promise;
    }
    const stats = a.stats;
    expect(stats.received).toBe(kRounds);
    expect(stats.errQueueRecords).toBe(kRounds);
    console.info(`wake-ups with an error pending: ${stats.pollErrorWakeUps} as UV_EBADF (re-armed), ${stats.pollPrioritizedWakeUps} as READABLE|PRIORITIZED`);
  });

  it('counts invalid destinations and oversized datagrams instead of throwing', (context) => {
    if (!nativeExpected) context.skip(nativeSkipNote);
    const socket = open({ host: '127.0.0.1' }, { onMessage: () => undefined });
    const byte = new Uint8Array([1]);
    const invalid = ['not-an-address', '127.0.0.1', '127.0.0.1:0', '127.0.0.1:65536', '[::1]:80', '::1:80', '256.0.0.1:80', ''];
    for (const address of invalid) expect(socket.send(address, byte)).toBe(false);
    expect(socket.send('127.0.0.1:9', new Uint8Array(70_000))).toBe(false);
    const stats = socket.stats;
    expect(stats.sendInvalidAddress).toBe(invalid.length);
    expect(stats.sendTooLarge).toBe(1);
    expect(stats.sendQueued).toBe(0);
    expect(stats.sent).toBe(0);
  });

  it('drops datagrams longer than slotBytes as truncated and delivers the rest in place', async (context) => {
    if (!nativeExpected) context.skip(nativeSkipNote);
    const received: Uint8Array[] = [];
    const done = eventually(() => received.length === 2, kDeadlineMs, () => `received ${received.length}`);
    const receiver = open({ host: '127.0.0.1', slotBytes: 64 }, { onMessage: (_from, bytes) => (received.push(bytes.slice()), done.check()) });
    const sender = open({ host: '127.0.0.1' }, { onMessage: () => undefined });
    // One batch: a fitting datagram, an oversized one, another fitting one.
    sender.send(receiver.localAddress, new Uint8Array(64).fill(1));
    sender.send(receiver.localAddress, new Uint8Array(65).fill(2));
    sender.send(receiver.localAddress, new Uint8Array(3).fill(3));
    await done.promise;
    expect(received).toEqual([new Uint8Array(64).fill(1), new Uint8Array(3).fill(3)]);
    expect(receiver.stats.truncated).toBe(1);
    expect(receiver.stats.received).toBe(2);
  });

  it('names each of 150 peers by its own address, batch after batch, in one reused sources array', async (context) => {
    if (!nativeExpected) context.skip(nativeSkipNote);
    // The addon keeps each peer's address text (a table that grows from 64 entries as peers
    // arrive) and hands the same sources array to every batch: 150 peers make it grow
    // twice, and their second datagrams are named from the table.
    const kPeers = 150;
    const named: string[][] = Array.from({ length: kPeers }, () => []);
    const arrays = new Set<readonly string[]>();
    let received = 0;
    let waiting = eventually(() => received === kPeers, kDeadlineMs * 4, () => `received ${received} of ${kPeers}`);
    const receiver = open(
      { host: '127.0.0.1', recvBatch: 16 },
      {
        onMessage: () => undefined,
        onRawBatch: (count, buffer, _lengths, sources) => {
          arrays.add(sources);
          for (let i = 0; i < count; i++) {
            const at = i * receiver.config.slotBytes;
            named[buffer[at]! | (buffer[at + 1]! << 8)]!.push(sources[i]!);
            received++;
          }
          waiting.check();
        },
      },
    );
    // Small senders: one send slot each (64 KiB arena) and a 16-byte receive area.
    const senders = Array.from({ length: kPeers }, () => open({ host: '127.0.0.1', recvBatch: 1, slotBytes: 16, sendBatch: 1, socketBufferBytes: 0 }, { onMessage: () => undefined }));
    for (let round = 1; round <= 2; round++) {
      senders.forEach((sender, index) => sender.send(receiver.localAddress, new Uint8Array([index & 0xff, index >> 8])));
      await waiting.promise;
      if (round === 1) waiting = eventually(() => received === 2 * kPeers, kDeadlineMs * 4, () => `received ${received} of ${2 * kPeers}`);
    }
    senders.forEach((sender, index) => expect(named[index]).toEqual([sender.localAddress, sender.localAddress]));
    expect(arrays.size).toBe(1);
  });

  it('coalesces the sends of one tick into ceil(n / sendBatch) sendmmsg calls', async (context) => {
    if (!nativeExpected) context.skip(nativeSkipNote);
    const socket = open({ host: '127.0.0.1' }, { onMessage: () => undefined });
    const sink = open({ host: '127.0.0.1', socketBufferBytes: 4 << 20 }, { onMessage: () => undefined });
    for (let index = 0; index < 200; index++) socket.send(sink.localAddress, new Uint8Array(16));
    expect(socket.stats.sendBatches).toBe(3); // full batches flushed by queue()
    await Promise.resolve();
    expect(socket.stats.sendBatches).toBe(4); // the remaining 8, flushed by the microtask
    expect(socket.stats.sent).toBe(200);
  });

  it('is closed idempotently and throws GALAXY_NATIVE_CLOSED afterwards', (context) => {
    if (!nativeExpected) context.skip(nativeSkipNote);
    const socket = NativeUdpSocket.open({ host: '127.0.0.1' }, { onMessage: () => undefined }, nativeStatus);
    socket.close();
    socket.close();
    expect(socket.closed).toBe(true);
    const closedCode = (operation: () => unknown): string | undefined => {
      try {
        operation();
      } catch (error) {
        expect(error).toBeInstanceOf(NativeUdpError);
        return (error as NativeUdpError).code;
      }
      return undefined;
    };
    expect(closedCode(() => socket.send('127.0.0.1:9', new Uint8Array(1)))).toBe('GALAXY_NATIVE_CLOSED');
    expect(closedCode(() => socket.flush())).toBe('GALAXY_NATIVE_CLOSED');
    expect(closedCode(() => socket.kernelBufferBytes)).toBe('GALAXY_NATIVE_CLOSED');
    expect(socket.stats.sent).toBe(0);

    // The raw addon object behaves the same at its side of the boundary.
    const UdpSocket = nativeStatus.loaded ? nativeStatus.addon.UdpSocket : undefined;
    if (UdpSocket === undefined) throw new Error('UdpSocket missing from the addon');
    const raw = new UdpSocket({ host: '127.0.0.1', port: 0, ipv6: false }, () => undefined, () => undefined);
    raw.close();
    raw.close();
    expect(() => raw.flush()).toThrow(expect.objectContaining({ code: 'GALAXY_NATIVE_CLOSED' }));
    expect(() => raw.queue('127.0.0.1:9', new Uint8Array(1), 0, 1)).toThrow(expect.objectContaining({ code: 'GALAXY_NATIVE_CLOSED' }));
    expect(() => raw.receiveBuffer).toThrow(expect.objectContaining({ code: 'GALAXY_NATIVE_CLOSED' }));
  });

  it('rejects bad options with coded errors on both sides of the boundary', async (context) => {
    if (!nativeExpected) context.skip(nativeSkipNote);
    const noop = { onMessage: () => undefined };
    expect(() => NativeUdpSocket.open({ recvBatch: 300 }, noop, nativeStatus)).toThrow(
      expect.objectContaining({ code: 'GALAXY_NATIVE_BAD_OPTIONS', message: 'options.recvBatch must be an integer in 1..256' }),
    );
    expect(() => NativeUdpSocket.open({ host: '::1', ipv6: false }, noop, nativeStatus)).toThrow(
      expect.objectContaining({ code: 'GALAXY_NATIVE_BAD_ADDRESS' }),
    );
    const UdpSocket = nativeStatus.loaded ? nativeStatus.addon.UdpSocket : undefined;
    if (UdpSocket === undefined) throw new Error('UdpSocket missing from the addon');
    expect(() => new UdpSocket({ host: '127.0.0.1', port: 0, ipv6: false, recvBatch: 300 }, () => undefined, () => undefined)).toThrow(
      expect.objectContaining({ code: 'GALAXY_NATIVE_BAD_OPTIONS' }),
    );
    const taken = open({ host: '127.0.0.1' }, noop);
    const port = Number(taken.localAddress.split(':')[1]);
    let bindError: unknown;
    try {
      NativeUdpSocket.open({ host: '127.0.0.1', port }, noop, nativeStatus);
    } catch (error) {
      bindError = error;
    }
    expect(bindError).toBeInstanceOf(NativeUdpError);
    expect(bindError).toMatchObject({ code: 'GALAXY_NATIVE_BIND', errno: os.constants.errno.EADDRINUSE, syscall: 'bind' });
  });

  it('says why it is unavailable when the addon is disabled, and refuses to open', () => {
    const disabled = loadNativeFrom({ GALAXY_NO_NATIVE: '1' }, packageRoot);
    expect(NativeUdpSocket.available(disabled)).toEqual({ available: false, reason: 'disabled by GALAXY_NO_NATIVE=1' });
    expect(() => NativeUdpSocket.open({}, { onMessage: () => undefined }, disabled)).toThrow(
      expect.objectContaining({ code: 'GALAXY_NATIVE_UNAVAILABLE', message: 'disabled by GALAXY_NO_NATIVE=1' }),
    );
  });
});

describe('native UDP socket and the process lifetime', () => {
  const options = "{ host: '127.0.0.1', port: 0, ipv6: false }";

  it('lets the process exit by itself after close()', async (context) => {
    if (!nativeExpected) context.skip(nativeSkipNote);
    // The socket receives one datagram from itself, then closes inside the callback.
    const result = await runChild(
      `const socket = new addon.UdpSocket(${options}, (count) => { socket.close(); }, () => {});
       socket.queue(socket.localAddress, Buffer.from('bye'), 0, 3);
       socket.flush();`,
      30_000,
    );
    expect(result.stderr).toBe('');
    expect(result.timedOut).toBe(false);
    expect(result.code).toBe(0);
  });

  it('keeps the process alive while open, and not after unref()', async (context) => {
    if (!nativeExpected) context.skip(nativeSkipNote);
    // 'opened' on stderr proves the child got as far as opening before it was killed.
    const open = await runChild(`new addon.UdpSocket(${options}, () => {}, () => {}); process.stderr.write('opened');`, 1_000, 'opened');
    expect(open.stderr).toBe('opened');
    expect(open.timedOut).toBe(true);
    // An unref'd socket lets the child exit by itself; 30 s is far past any start on a loaded machine.
    const unref = await runChild(`new addon.UdpSocket(${options}, () => {}, () => {}).unref();`, 30_000);
    expect(unref.timedOut).toBe(false);
    expect(unref.code).toBe(0);
  });

  it('reports an exception thrown by onMessages as uncaught', async (context) => {
    if (!nativeExpected) context.skip(nativeSkipNote);
    const result = await runChild(
      `process.on('uncaughtException', (error) => { process.stderr.write('caught: ' + error.message); process.exit(3); });
       const socket = new addon.UdpSocket(${options}, () => { throw new Error('handler failed'); }, () => {});
       socket.queue(socket.localAddress, Buffer.from('x'), 0, 1);
       socket.flush();`,
      30_000,
    );
    expect(result.stderr).toBe('caught: handler failed');
    expect(result.code).toBe(3);
  });
});
