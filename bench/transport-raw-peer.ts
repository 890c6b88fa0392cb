/**
 * One side of the raw transport benchmark (bench/transport-raw.ts forks this file):
 *
 *   transport-raw-peer.js receiver <dgram|native>
 *   transport-raw-peer.js sender <dgram|native> <a.b.c.d:port> <durationMs> <payloadBytes> <burst>
 *
 * A receiver counts datagrams and reports the count and its CPU time since the last
 * 'reset'. A sender blasts constant datagrams in bursts, yielding to the event loop
 * with setImmediate between bursts (so timers, completions and the receive side of a
 * real agent would still run), and reports what it sent and the CPU time it took.
 * The parent talks to both over the fork IPC channel.
 */
import dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { NativeUdpSocket } from '../src/node/native/native-udp-socket.js';

export type PeerKind = 'dgram' | 'native';

export type ParentMessage = { readonly type: 'reset' } | { readonly type: 'report' } | { readonly type: 'start' } | { readonly type: 'exit' };

export type PeerMessage =
  | { readonly type: 'ready'; readonly address: string }
  | { readonly type: 'reset' }
  | { readonly type: 'report'; readonly received: number; readonly cpuMicroseconds: number }
  | {
      readonly type: 'done';
      readonly attempted: number;
      readonly sent: number;
      readonly failed: number;
      readonly wallMs: number;
      readonly cpuMicroseconds: number;
    };

/** Both receivers and senders ask the kernel for the same socket buffers. */
const kSocketBufferBytes = 1 << 20;
const kHost = '127.0.0.1';

function post(message: PeerMessage): void {
  process.send?.(message);
}

function cpuMicrosecondsSince(start: NodeJS.CpuUsage): number {
  const usage = process.cpuUsage(start);
  return usage.user + usage.system;
}

function onParent(handler: (message: ParentMessage) => void): void {
  process.on('message', (message) => handler(message as ParentMessage));
}

async function runReceiver(kind: PeerKind): Promise<void> {
  let received = 0;
  let cpuStart = process.cpuUsage();
  let close: () => void;
  let address: string;
  if (kind === 'native') {
    const socket = NativeUdpSocket.open({ host: kHost, socketBufferBytes: kSocketBufferBytes }, { onMessage: () => void received++ });
    address = socket.localAddress;
    close = () => socket.close();
  } else {
    const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: kSocketBufferBytes });
    socket.on('message', () => void received++);
    await new Promise<void>((resolve) => socket.bind(0, kHost, resolve));
    address = `${kHost}:${socket.address().port}`;
    close = () => socket.close();
  }
  onParent((message) => {
    if (message.type === 'reset') {
      received = 0;
      cpuStart = process.cpuUsage();
      post({ type: 'reset' });
    } else if (message.type === 'report') {
      post({ type: 'report', received, cpuMicroseconds: cpuMicrosecondsSince(cpuStart) });
    } else if (message.type === 'exit') {
      close();
      process.disconnect();
    }
  });
  post({ type: 'ready', address });
}

interface Blaster {
  /** Sends one burst; returns how many datagrams were handed over. */
  burst(): number;
  /** Resolves when everything handed over has left (or failed); returns [sent, failed]. */
  drain(): Promise<[number, number]>;
  close(): void;
}

function nativeBlaster(target: string, payload: Uint8Array, burst: number): Blaster {
  const socket = NativeUdpSocket.open({ host: kHost, socketBufferBytes: kSocketBufferBytes, sendBatch: burst }, { onMessage: () => undefined });
  return {
    // The sends of one burst leave together in one sendmmsg, flushed by a microtask
    // when this macrotask ends.
    burst: () => {
      for (let index = 0; index < burst; index++) socket.send(target, payload);
      return burst;
    },
    drain: async () => {
      socket.flush();
      const stats = socket.stats;
      return [stats.sent, stats.sendDropped + stats.sendFailed + stats.sendTooLarge + stats.sendInvalidAddress];
    },
    close: () => socket.close(),
  };
}

async function dgramBlaster(target: string, payload: Uint8Array, burst: number): Promise<Blaster> {
  const socket = dgram.createSocket({ type: 'udp4', sendBufferSize: kSocketBufferBytes });
  await new Promise<void>((resolve) => socket.bind(0, kHost, resolve));
  const separator = target.lastIndexOf(':');
  const host = target.slice(0, separator);
  const port = Number(target.slice(separator + 1));
  let sent = 0;
  let failed = 0;
  const onSent = (error: Error | null): void => {
    if (error === null) sent++;
    else failed++;
  };
  return {
    burst: () => {
      for (let index = 0; index < burst; index++) socket.send(payload, port, host, onSent);
      return burst;
    },
    drain: async () => {
      while (socket.getSendQueueCount() > 0) await new Promise<void>((resolve) => setImmediate(resolve));
      await new Promise<void>((resolve) => setImmediate(resolve));
      return [sent, failed];
    },
    close: () => socket.close(),
  };
}

async function runSender(kind: PeerKind, target: string, durationMs: number, payloadBytes: number, burst: number): Promise<void> {
  const payload = new Uint8Array(payloadBytes).fill(0x5a);
  const blaster = kind === 'native' ? nativeBlaster(target, payload, burst) : await dgramBlaster(target, payload, burst);
  onParent((message) => {
    if (message.type === 'exit') {
      blaster.close();
      process.disconnect();
      return;
    }
    if (message.type !== 'start') return;
    const cpuStart = process.cpuUsage();
    const started = performance.now();
    const deadline = started + durationMs;
    let attempted = 0;
    const step = (): void => {
      attempted += blaster.burst();
      if (performance.now() < deadline) {
        setImmediate(step);
        return;
      }
      void blaster.drain().then(([sent, failed]) => {
        post({ type: 'done', attempted, sent, failed, wallMs: performance.now() - started, cpuMicroseconds: cpuMicrosecondsSince(cpuStart) });
      });
    };
    step();
  });
  post({ type: 'ready', address: '' });
}

function positiveInteger(text: string | undefined, name: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer, got ${String(text)}`);
  return value;
}

function peerKind(text: string | undefined): PeerKind {
  if (text !== 'dgram' && text !== 'native') throw new Error(`peer kind must be dgram or native, got ${String(text)}`);
  return text;
}

const [role, kindText, target, durationText, payloadText, burstText] = process.argv.slice(2);
if (role === 'receiver') {
  await runReceiver(peerKind(kindText));
} else if (role === 'sender') {
  if (target === undefined) throw new Error('sender needs a target address');
  await runSender(
    peerKind(kindText),
    target,
    positiveInteger(durationText, 'durationMs'),
    positiveInteger(payloadText, 'payloadBytes'),
    positiveInteger(burstText, 'burst'),
  );
} else {
  throw new Error(`role must be receiver or sender, got ${String(role)}`);
}
