// A loopback port for an agent under test or benchmark, shared by bench/ and test/support/.
import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';

/**
 * Ports are picked below Linux's ephemeral range (32768-60999 by default). A port the
 * kernel hands out for `bind(0)` is one it also hands to outgoing connections, and other
 * agents open TCP connections all the time: between the check and the agent's own bind
 * one of them took the port (EADDRINUSE in CI, agent-signals). Below the range only
 * another explicit pick can collide, and picks are random.
 */
const kPortLow = 20_000;
const kPortHigh = 32_767;
const kAttemptsMax = 50;
/**
 * Ports this process handed out already: never twice. A port handed out is free when
 * checked but not yet bound (its agent starts later), so two picks of the same number a
 * moment apart both pass the check (about 1.5% for 20 agents among 12,768 ports).
 */
const handedOut = new Set<number>();

/** A port free for both UDP and TCP on 127.0.0.1 (an agent binds both), not in `taken`. */
export async function freePort(taken: ReadonlySet<number> = new Set()): Promise<number> {
  for (let attempt = 0; attempt < kAttemptsMax; attempt++) {
    const port = randomInt(kPortLow, kPortHigh + 1);
    if (taken.has(port) || handedOut.has(port)) continue;
    const udp = createSocket('udp4');
    const udpOk = await new Promise<boolean>((resolve) => {
      udp.once('error', () => resolve(false));
      udp.bind(port, '127.0.0.1', () => resolve(true));
    });
    if (!udpOk) {
      udp.close();
      continue;
    }
    const tcp = createServer();
    const ok = await new Promise<boolean>((resolve) => {
      tcp.once('error', () => resolve(false));
      tcp.listen(port, '127.0.0.1', () => resolve(true));
    });
    udp.close();
    if (ok) {
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
      handedOut.add(port);
      return port;
    }
  }
  throw new Error('no port free for both UDP and TCP');
}
