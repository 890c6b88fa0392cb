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
