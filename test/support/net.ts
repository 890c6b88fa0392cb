// Small helpers for tests on loopback sockets.
import { createSocket } from 'node:dgram';

/** Polls until `condition` holds, or throws after timeoutMs. */
export async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Whether this host can bind UDP on ::1. */
export async function hasIpv6Loopback(): Promise<boolean> {
  const socket = createSocket('udp6');
  return new Promise((resolve) => {
    socket.once('error', () => resolve(false));
    socket.bind(0, '::1', () => socket.close(() => resolve(true)));
  });
}

/** A loopback UDP port nothing listens on: bound to learn a free port, then closed. */
export async function closedLoopbackPort(type: 'udp4' | 'udp6'): Promise<number> {
  const socket = createSocket(type);
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, type === 'udp4' ? '127.0.0.1' : '::1', () => resolve());
  });
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

/** Why IPv6 loopback tests must be skipped here, or undefined when ::1 works. */
export async function ipv6LoopbackUnavailable(): Promise<string | undefined> {
  try {
    await closedLoopbackPort('udp6');
    return undefined;
  } catch (error) {
    return `no IPv6 loopback on this machine (binding ::1 failed: ${(error as Error).message})`;
  }
}
