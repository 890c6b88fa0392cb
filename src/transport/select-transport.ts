import { NativeUdpSocket } from '../native/native-udp-socket.js';
import type { DatagramTransport } from './datagram-transport.js';
import { DgramTransport, type DgramTransportOptions } from './dgram-transport.js';
import { NativeTransport } from './native-transport.js';

export type TransportChoice = 'auto' | 'native' | 'dgram';

/** Which datagram transport would run, and why, without opening a socket. */
export function transportDecision(choice: TransportChoice, env: Readonly<Record<string, string | undefined>> = process.env): { kind: 'native' | 'dgram'; reason: string } {
  if (choice === 'dgram') return { kind: 'dgram', reason: 'node:dgram requested (--transport dgram): no ICMP evidence, detection by SWIM probes' };
  if (env.GALAXY_NO_NATIVE === '1') {
    if (choice === 'native') throw new Error('--transport native, but GALAXY_NO_NATIVE=1 disables the addon');
    return { kind: 'dgram', reason: 'native addon disabled by GALAXY_NO_NATIVE=1: node:dgram, detection by SWIM probes' };
  }
  const availability = NativeUdpSocket.available();
  if (!availability.available) {
    if (choice === 'native') throw new Error(`--transport native, but the native socket is unavailable: ${availability.reason}`);
    return { kind: 'dgram', reason: `native socket unavailable (${availability.reason}): node:dgram, detection by SWIM probes` };
  }
  return { kind: 'native', reason: 'native batched socket (recvmmsg/sendmmsg) with the ICMP error queue' };
}

/** Opens the chosen datagram transport on `bind`. */
export async function openDatagramTransport(bind: string, choice: TransportChoice, options: DgramTransportOptions = {}): Promise<{ transport: DatagramTransport; reason: string }> {
  const decision = transportDecision(choice);
  if (decision.kind === 'native') return { transport: NativeTransport.open(bind), reason: decision.reason };
  return { transport: await DgramTransport.open(bind, options), reason: decision.reason };
}
