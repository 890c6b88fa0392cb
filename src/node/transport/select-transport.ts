import { loadNative, type NativeStatus } from '../native/loader.js';
import { NativeUdpSocket } from '../native/native-udp-socket.js';
import type { DatagramTransport } from './datagram-transport.js';
import { DgramTransport, type DgramTransportOptions } from './dgram-transport.js';
import { NativeTransport, NativeTransportOpenError, type NativeTransportOptions } from './native-transport.js';

/**
 * 'native': the addon's batched socket with the ICMP error queue, or fail; 'dgram':
 * node:dgram; 'auto': native when the addon is built, has UdpSocket, the kernel has what
 * it needs and GALAXY_NO_NATIVE is not 1, else node:dgram.
 */
export type TransportChoice = 'auto' | 'native' | 'dgram';

/** Which datagram transport runs, and one line saying why. */
export interface TransportDecision {
  readonly kind: 'native' | 'dgram';
  readonly reason: string;
}

export interface SelectedTransport {
  readonly transport: DatagramTransport;
  readonly reason: string;
}

const kNativeReason = 'native socket (recvmmsg/sendmmsg batches, ICMP error queue: a crashed peer is known dead from its port unreachable)';
const kDgramConsequence = 'node:dgram, no ICMP evidence, deaths found by SWIM probes alone';

/**
 * Which transport `choice` gives here, without opening a socket (doctor prints this).
 * Throws when 'native' was asked for and cannot be had, since the operator said so.
 */
export function transportDecision(
  choice: TransportChoice,
  env: Readonly<Record<string, string | undefined>> = process.env,
  status: NativeStatus = loadNative(),
): TransportDecision {
  if (choice === 'dgram') return { kind: 'dgram', reason: `--transport dgram: ${kDgramConsequence}` };
  if (env['GALAXY_NO_NATIVE'] === '1') {
    if (choice === 'native') throw new Error('--transport native, but GALAXY_NO_NATIVE=1 disables the native addon');
    return { kind: 'dgram', reason: `GALAXY_NO_NATIVE=1: ${kDgramConsequence}` };
  }
  const availability = NativeUdpSocket.available(status);
  if (!availability.available) {
    if (choice === 'native') throw new Error(`--transport native, but the native socket is unavailable: ${availability.reason}`);
    return { kind: 'dgram', reason: `native socket unavailable (${availability.reason}): ${kDgramConsequence}` };
  }
  return { kind: 'native', reason: choice === 'native' ? `--transport native: ${kNativeReason}` : kNativeReason };
}

/**
 * Opens the chosen transport on `bind`. Under 'auto', a native socket that fails to open
 * for a reason other than the address (a setsockopt the kernel refuses, say) falls back to
 * node:dgram and the reason says so; a bind failure is thrown as is, since node:dgram
 * would fail the same way.
 */
export async function openDatagramTransport(
  bind: string,
  choice: TransportChoice,
  options: DgramTransportOptions = {},
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<SelectedTransport> {
  const decision = transportDecision(choice, env);
  if (decision.kind === 'dgram') return { transport: await DgramTransport.open(bind, options), reason: decision.reason };
  try {
    return { transport: NativeTransport.open(bind, nativeOptionsOf(options)), reason: decision.reason };
  } catch (error) {
    const addressProblem = error instanceof NativeTransportOpenError && (error.code === 'GALAXY_NATIVE_BIND' || error.code === 'GALAXY_NATIVE_BAD_ADDRESS');
    if (choice === 'native' || addressProblem || !(error instanceof NativeTransportOpenError)) throw error;
    return { transport: await DgramTransport.open(bind, options), reason: `native socket failed to open (${error.message}): ${kDgramConsequence}` };
  }
}

/**
 * The native transport's options from the datagram options both transports share.
 * sendBufferBytes has no counterpart: the native socket sizes both buffers alike.
 */
function nativeOptionsOf(options: DgramTransportOptions): NativeTransportOptions {
  const native: NativeTransportOptions = {};
  if (options.datagramBytesMax !== undefined) native.datagramBytesMax = options.datagramBytesMax;
  if (options.receiveBufferBytes !== undefined) native.socketBufferBytes = options.receiveBufferBytes;
  if (options.addressCacheEntriesMax !== undefined) native.addressCacheEntriesMax = options.addressCacheEntriesMax;
  return native;
}
