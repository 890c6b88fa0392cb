// Loads the optional galaxy_native addon. Galaxy treats the addon as an
// accelerator: when it is disabled, missing or broken, loadNative() explains
// why instead of throwing, and callers stay on the TypeScript/Wasm paths.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Socket features of this machine, each true only if compiled in and probed successfully. */
export interface Capabilities {
  readonly addonVersion: number;
  readonly platform: string;
  readonly ipRecvErr: boolean;
  readonly ipv6RecvErr: boolean;
  readonly recvmmsg: boolean;
  readonly sendmmsg: boolean;
  readonly errQueue: boolean;
  readonly soTimestampNs: boolean;
  /** One sentence for every capability that is false. */
  readonly reasons: readonly string[];
}

/** A decoded ICMP (or local) error read back from the socket error queue. */
export interface ErrorQueueProbeSuccess {
  readonly ok: true;
  readonly errno: number;
  readonly origin: 'none' | 'local' | 'icmp' | 'icmp6' | 'timestamping' | 'zerocopy' | 'txtime' | 'unknown';
  readonly icmpType: number;
  readonly icmpCode: number;
  /** The original destination of the datagram that failed. */
  readonly address: string;
  readonly port: number;
  /** The node that sent the ICMP error, or '' when the kernel gave none. */
  readonly offender: string;
  /** Microseconds from sendto() until the error queue signalled POLLERR. */
  readonly elapsedUs: number;
}

export interface ErrorQueueProbeFailure {
  readonly ok: false;
  readonly reason: string;
}

export type ErrorQueueProbe = ErrorQueueProbeSuccess | ErrorQueueProbeFailure;

/** Options of the native UdpSocket constructor (native/udp_socket.cc); limits are checked there. */
export interface NativeUdpSocketAddonOptions {
  /** A numeric address of the family given by ipv6: '127.0.0.1', '0.0.0.0', '::1', '::'. */
  readonly host: string;
  /** 0 lets the kernel choose; read the result from localAddress. */
  readonly port: number;
  readonly ipv6: boolean;
  /** recvmmsg slots per batch, 1..256, default 64. */
  readonly recvBatch?: number;
  /** Bytes per receive slot, 16..65536, default 2048; longer datagrams are counted as truncated and dropped. */
  readonly slotBytes?: number;
  /** sendmmsg slots per flush, 1..1024, default 64; queue() flushes by itself when they are full. */
  readonly sendBatch?: number;
  /** Requested SO_RCVBUF and SO_SNDBUF, 0..64 MiB, default 1 MiB, best effort; 0 keeps the kernel default. */
  readonly socketBufferBytes?: number;
}

/** One error-queue record as the native UdpSocket reports it. */
export interface NativeUdpErrorRecord {
  /** Host of the datagram that failed ('' if the kernel gave none); IPv4-mapped IPv6 is written as IPv4. */
  readonly address: string;
  readonly port: number;
  /** "a.b.c.d:port" or "[v6]:port", the same form as message sources; '' if unknown. */
  readonly peer: string;
  readonly errno: number;
  readonly origin: 'local' | 'icmp' | 'icmp6';
  readonly icmpType: number;
  readonly icmpCode: number;
  /** ee_info: the next-hop MTU for "fragmentation needed" / "packet too big". */
  readonly info: number;
  /** The node that sent the ICMP error, or ''. */
  readonly offender: string;
}

/** Counters of one native UdpSocket; all monotonic except sendQueued. */
export interface NativeUdpSocketStats {
  readonly received: number;
  readonly receiveBatches: number;
  readonly truncated: number;
  readonly sent: number;
  readonly sendBatches: number;
  readonly sendDropped: number;
  readonly sendInvalidAddress: number;
  readonly sendTooLarge: number;
  readonly sendFailed: number;
  readonly errQueueRecords: number;
  readonly errorsUnknown: number;
  readonly eagain: number;
  readonly pollWakeUps: number;
  readonly pollErrorWakeUps: number;
  readonly pollPrioritizedWakeUps: number;
  readonly sendQueued: number;
}

/** An instance of the native UdpSocket class. */
export interface NativeUdpSocketHandle {
  /** The receive slots, reused by every batch; valid only during onMessages. */
  readonly receiveBuffer: Buffer;
  /** The bound address, "a.b.c.d:port" or "[v6]:port". */
  readonly localAddress: string;
  readonly closed: boolean;
  /** SO_RCVBUF and SO_SNDBUF as the kernel reports them (twice what it grants to payload). */
  readonly kernelBufferBytes: { readonly receive: number; readonly send: number };
  /** Copies data[offset, offset + length) into the send batch; false if counted as invalid or too large. */
  queue(address: string, data: Uint8Array, offset: number, length: number): boolean;
  /** Sends the batch with sendmmsg; returns how many datagrams the kernel accepted. */
  flush(): number;
  stats(): NativeUdpSocketStats;
  /** Flushes, then closes; idempotent. */
  close(): void;
  ref(): void;
  unref(): void;
}

export type NativeUdpMessagesCallback = (count: number, buffer: Buffer, lengths: Uint32Array, sources: string[]) => void;
export type NativeUdpErrorsCallback = (records: NativeUdpErrorRecord[]) => void;

export type NativeUdpSocketConstructor = new (
  options: NativeUdpSocketAddonOptions,
  onMessages: NativeUdpMessagesCallback,
  onErrors: NativeUdpErrorsCallback,
) => NativeUdpSocketHandle;

/**
 * The addon's AES-256-GCM keyring (native/gcm_keyring.cc): EVP contexts made once per
 * key, the wire format of src/security/keyring.ts. Results: a length, or -1 malformed,
 * -2 authenticated by no key, -3 a buffer too small.
 */
export interface NativeGcmKeyringHandle {
  /** Opens `sealed` into out[0..]; out must not overlap sealed. */
  open(sealed: Uint8Array, out: Uint8Array): number;
  /** Seals `plaintext` into out[0..] with a random nonce (or `nonce`, for tests). */
  seal(plaintext: Uint8Array, out: Uint8Array, nonce?: Uint8Array): number;
  /** Opens message i at buffer[i·slotBytes] (lengths[i] bytes) into out[i·slotBytes]; results[i] as open(). Returns how many opened. */
  openBatch(buffer: Uint8Array, count: number, slotBytes: number, lengths: Uint32Array, results: Int32Array, out: Uint8Array): number;
  /**
   * Seals message i at buffer[i·slotBytes] (lengths[i] bytes) into out[i·slotBytes] with
   * the primary key; results[i] is the sealed length or -3 when it would not fit its slot;
   * `nonces` (12 bytes per message) is for tests. Returns how many sealed. Absent in
   * builds made before it existed.
   */
  sealBatch?(buffer: Uint8Array, count: number, slotBytes: number, lengths: Uint32Array, results: Int32Array, out: Uint8Array, nonces?: Uint8Array): number;
}

export type NativeGcmKeyringConstructor = new (keys: Uint8Array[]) => NativeGcmKeyringHandle;

/** The JavaScript surface of build/Release/galaxy_native.node. */
export interface NativeAddon {
  readonly addonVersion: number;
  capabilities(): Capabilities;
  /** Sends one byte to a closed loopback port (found by the addon unless given) and decodes the ICMP error. */
  probeErrQueue(ipv6: boolean, closedPort?: number): ErrorQueueProbe;
  /** Absent in builds made before the native UDP socket existed. */
  readonly UdpSocket?: NativeUdpSocketConstructor;
  /** Absent in builds made before the native keyring existed. */
  readonly GcmKeyring?: NativeGcmKeyringConstructor;
}

export type NativeStatus =
  | { readonly loaded: true; readonly addon: NativeAddon; readonly capabilities: Capabilities; readonly path: string }
  | { readonly loaded: false; readonly reason: string };

/** Must match galaxy::kAddonVersion in native/capabilities.h; a mismatch means a stale build. */
const expectedAddonVersion = 1;
const packageName = 'galaxy-farm';
const addonRelativePath = path.join('build', 'Release', 'galaxy_native.node');
const notBuiltReason = 'addon not built (no compiler at install?) — run npm run build:native';

let memoisedStatus: NativeStatus | undefined;

/**
 * Finds the installed galaxy-farm directory, which works both from src/ under
 * a test runner and from dist/ after compilation.
 */
function findPackageRoot(startDirectory: string): string | undefined {
  let directory = startDirectory;
  for (;;) {
    const manifestPath = path.join(directory, 'package.json');
    if (existsSync(manifestPath)) {
      try {
        const manifest: unknown = JSON.parse(readFileSync(manifestPath, 'utf8'));
        if (typeof manifest === 'object' && manifest !== null && (manifest as { name?: unknown }).name === packageName) {
          return directory;
        }
      } catch {
        // A malformed package.json of some other package is not ours; keep walking.
      }
    }
    const parent = path.dirname(directory);
    if (parent === directory) return undefined;
    directory = parent;
  }
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function looksLikeAddon(value: unknown): value is NativeAddon {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Record<string, unknown>;
  return typeof candidate['capabilities'] === 'function' && typeof candidate['probeErrQueue'] === 'function';
}

/**
 * The unmemoised core of loadNative, exposed so tests can try other
 * environments and package roots without touching process state.
 */
export function loadNativeFrom(
  environment: Readonly<Record<string, string | undefined>>,
  packageRoot: string | undefined,
): NativeStatus {
  if (environment['GALAXY_NO_NATIVE'] === '1') {
    return { loaded: false, reason: 'disabled by GALAXY_NO_NATIVE=1' };
  }
  if (packageRoot === undefined) {
    return { loaded: false, reason: `could not find the ${packageName} package root above ${fileURLToPath(import.meta.url)}` };
  }
  const addonPath = path.join(packageRoot, addonRelativePath);
  if (!existsSync(addonPath)) {
    return { loaded: false, reason: notBuiltReason };
  }

  let addon: unknown;
  try {
    addon = createRequire(import.meta.url)(addonPath);
  } catch (error) {
    return { loaded: false, reason: describeError(error) };
  }
  if (!looksLikeAddon(addon)) {
    return { loaded: false, reason: `${addonPath} does not export capabilities() and probeErrQueue()` };
  }
  if (addon.addonVersion !== expectedAddonVersion) {
    return {
      loaded: false,
      reason: `addon version ${String(addon.addonVersion)} does not match the expected ${expectedAddonVersion} — run npm run build:native`,
    };
  }

  // Probing is part of loading: an addon whose probes throw cannot be trusted.
  try {
    return { loaded: true, addon, capabilities: addon.capabilities(), path: addonPath };
  } catch (error) {
    return { loaded: false, reason: `capabilities() failed: ${describeError(error)}` };
  }
}

/** Loads the addon once per process; later calls return the same status. */
export function loadNative(): NativeStatus {
  memoisedStatus ??= loadNativeFrom(process.env, findPackageRoot(path.dirname(fileURLToPath(import.meta.url))));
  return memoisedStatus;
}
