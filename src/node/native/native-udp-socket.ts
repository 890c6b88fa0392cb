/**
 * NativeUdpSocket: Galaxy's Linux UDP fast path, a typed wrapper around the addon's
 * UdpSocket (native/udp_socket.cc). Compared with node:dgram it receives in recvmmsg
 * batches, sends in sendmmsg batches and, above all, reports the ICMP errors the
 * kernel queues for it (IP_RECVERR): a crashed peer's "port unreachable" arrives
 * within microseconds of the probe, where a heartbeat-only detector waits for a
 * timeout (the paper's lesson 5).
 *
 * The addon is optional. `NativeUdpSocket.available()` says whether it can be used
 * here and, if not, why; callers then stay on node:dgram.
 *
 * Contract:
 *  - send() copies the bytes and never blocks. Sends made in one turn of the event
 *    loop are coalesced into one sendmmsg by a microtask (or by flush()).
 *  - Operating failures (a malformed destination, an oversized datagram, a full send
 *    buffer) are counted in `stats` and never thrown; misuse (bad options, use after
 *    close) throws a NativeUdpError with a stable code.
 *  - onMessage's `bytes` is a view into a receive buffer that the next batch
 *    overwrites: copy what must outlive the call.
 *  - Handlers run from the libuv poll callback. An exception thrown by a handler has
 *    no caller to return to and goes to process 'uncaughtException', as an exception
 *    thrown by a node:dgram 'message' listener does.
 *  - A socket still open when its environment is torn down (process.exit, a terminated
 *    worker) is closed by the addon; nothing is delivered into a stopping environment,
 *    and Node waits for the close to finish before it may unload the addon.
 */
import { ReceiveViews } from './receive-views.js';
import {
  loadNative,
  type NativeStatus,
  type NativeUdpErrorRecord,
  type NativeUdpSocketConstructor,
  type NativeUdpSocketHandle,
  type NativeUdpSocketStats,
} from './loader.js';

export type { NativeUdpErrorRecord, NativeUdpSocketStats } from './loader.js';

/**
 * Codes of NativeUdpError. The GALAXY_NATIVE_* codes thrown by the addon are the same
 * strings (native/udp_socket.cc). Logs and callers branch on them: ONLY APPEND.
 */
export const kNativeUdpErrorCodes = Object.freeze([
  /** The addon is disabled, not built, too old, or the kernel lacks a needed feature. */
  'GALAXY_NATIVE_UNAVAILABLE',
  /** An option is missing, of the wrong type or out of range. */
  'GALAXY_NATIVE_BAD_OPTIONS',
  /** A method was called with arguments of the wrong type (a bug in the caller). */
  'GALAXY_NATIVE_BAD_ARGUMENT',
  /** options.host is not a numeric address of the family options.ipv6 asks for. */
  'GALAXY_NATIVE_BAD_ADDRESS',
  /** socket(), setsockopt(IP_RECVERR) or getsockname() failed; errno and syscall say how. */
  'GALAXY_NATIVE_SOCKET',
  /** bind() failed, typically EADDRINUSE or EADDRNOTAVAIL; errno says which. */
  'GALAXY_NATIVE_BIND',
  /** libuv refused to watch the socket. */
  'GALAXY_NATIVE_POLL',
  /** The socket was used after close(). */
  'GALAXY_NATIVE_CLOSED',
  /** The addon was built for a platform without recvmmsg, sendmmsg and MSG_ERRQUEUE. */
  'GALAXY_NATIVE_UNSUPPORTED',
] as const);

export type NativeUdpErrorCode = (typeof kNativeUdpErrorCodes)[number];

export class NativeUdpError extends Error {
  readonly code: NativeUdpErrorCode;
  /** The OS errno for GALAXY_NATIVE_SOCKET and GALAXY_NATIVE_BIND. */
  readonly errno: number | undefined;
  readonly syscall: string | undefined;

  constructor(code: NativeUdpErrorCode, message: string, details: { cause?: unknown; errno?: number; syscall?: string } = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'NativeUdpError';
    this.code = code;
    this.errno = details.errno;
    this.syscall = details.syscall;
  }
}

function isNativeUdpErrorCode(value: unknown): value is NativeUdpErrorCode {
  return typeof value === 'string' && (kNativeUdpErrorCodes as readonly string[]).includes(value);
}

/** Re-types an error thrown by the addon; anything without one of our codes passes through unchanged. */
function translateAddonError(error: unknown): unknown {
  if (typeof error !== 'object' || error === null) return error;
  const { code, message, errno, syscall } = error as { code?: unknown; message?: unknown; errno?: unknown; syscall?: unknown };
  if (!isNativeUdpErrorCode(code)) return error;
  return new NativeUdpError(code, String(message), {
    cause: error,
    ...(typeof errno === 'number' ? { errno } : {}),
    ...(typeof syscall === 'string' ? { syscall } : {}),
  });
}

function callAddon<T>(operation: () => T): T {
  try {
    return operation();
  } catch (error) {
    throw translateAddonError(error);
  }
}

/** Options of NativeUdpSocket.open; every field is optional. */
export interface NativeUdpSocketOptions {
  /** Numeric address to bind. Default '127.0.0.1', or '::1' when ipv6 is true. */
  readonly host?: string;
  /** Port to bind; 0 lets the kernel choose (read it from localAddress). Default 0. */
  readonly port?: number;
  /** IPv6 socket? Default: true exactly when host contains ':'. */
  readonly ipv6?: boolean;
  /**
   * recvmmsg slots per batch, 1..256. Each batch is one onMessages crossing from C++
   * to JavaScript, so larger batches amortise that crossing when traffic is heavy.
   * Default 64.
   */
  readonly recvBatch?: number;
  /**
   * Bytes per receive slot, 16..65536. A longer datagram is truncated by the kernel,
   * counted in stats.truncated and dropped. Memory: recvBatch × slotBytes (128 KiB by
   * default). Default 2048, above Galaxy's largest frame on a 1500-byte MTU.
   */
  readonly slotBytes?: number;
  /** sendmmsg slots per flush, 1..1024; a full batch flushes at once. Default 64. */
  readonly sendBatch?: number;
  /**
   * SO_RCVBUF and SO_SNDBUF to request, 0..64 MiB; 0 keeps the kernel default. Best
   * effort: without CAP_NET_ADMIN the kernel caps it at net.core.rmem_max/wmem_max.
   * A bigger receive buffer absorbs longer bursts before the kernel drops. Default 1 MiB.
   */
  readonly socketBufferBytes?: number;
  /**
   * 'microtask': sends of one loop turn are flushed together by a queued microtask.
   * 'manual': nothing is sent until flush() (or a full batch). Default 'microtask'.
   */
  readonly flushMode?: 'microtask' | 'manual';
}

/** NativeUdpSocketOptions with every field filled in. */
export interface NativeUdpSocketConfig {
  readonly host: string;
  readonly port: number;
  readonly ipv6: boolean;
  readonly recvBatch: number;
  readonly slotBytes: number;
  readonly sendBatch: number;
  readonly socketBufferBytes: number;
  readonly flushMode: 'microtask' | 'manual';
}

/** Limits, the same numbers native/udp_socket.h enforces on its side of the boundary. */
export const kNativeUdpLimits = Object.freeze({
  recvBatchMax: 256,
  slotBytesMin: 16,
  slotBytesMax: 65_536,
  sendBatchMax: 1024,
  socketBufferBytesMax: 64 << 20,
});

const kDefaults = Object.freeze({
  port: 0,
  recvBatch: 64,
  slotBytes: 2048,
  sendBatch: 64,
  socketBufferBytes: 1 << 20,
  flushMode: 'microtask' as const,
});

export interface NativeUdpHandlers {
  /** One datagram. `bytes` is overwritten by the next batch: copy what must be kept. */
  onMessage(from: string, bytes: Uint8Array): void;
  /**
   * Called before the onMessage calls of one recvmmsg batch with their number: a
   * receiver can read the clock once per batch instead of once per datagram.
   */
  onBatch?(count: number): void;
  /**
   * Takes whole batches instead of onMessage/onBatch (NativeTransport opens a sealed
   * batch in one call this way): datagram k is buffer[k·slotBytes, +lengths[k]) from
   * sources[k]; everything is valid only during the call.
   */
  onRawBatch?(count: number, buffer: Uint8Array, lengths: Uint32Array, sources: readonly string[]): void;
  /** The error-queue records (ICMP port unreachable and the like) of one wake-up. */
  onErrors?(records: readonly NativeUdpErrorRecord[]): void;
}

export type NativeUdpAvailability = { readonly available: true } | { readonly available: false; readonly reason: string };

function badOption(message: string): NativeUdpError {
  return new NativeUdpError('GALAXY_NATIVE_BAD_OPTIONS', message);
}

function checkInteger(name: string, value: number, minimum: number, maximum: number): number {
  if (!Number.isInteger(value) || value < minimum || value > maximum) {
    throw badOption(`options.${name} must be an integer in ${minimum}..${maximum}`);
  }
  return value;
}

/** Fills in defaults and validates, so that a bad option fails here with a clear message. */
export function resolveNativeUdpOptions(options: NativeUdpSocketOptions = {}): NativeUdpSocketConfig {
  if (options.host !== undefined && typeof options.host !== 'string') throw badOption('options.host must be a string');
  if (options.ipv6 !== undefined && typeof options.ipv6 !== 'boolean') throw badOption('options.ipv6 must be a boolean');
  const ipv6 = options.ipv6 ?? (options.host?.includes(':') ?? false);
  const host = options.host ?? (ipv6 ? '::1' : '127.0.0.1');
  const flushMode = options.flushMode ?? kDefaults.flushMode;
  if (flushMode !== 'microtask' && flushMode !== 'manual') throw badOption("options.flushMode must be 'microtask' or 'manual'");
  return Object.freeze({
    host,
    ipv6,
    port: checkInteger('port', options.port ?? kDefaults.port, 0, 65_535),
    recvBatch: checkInteger('recvBatch', options.recvBatch ?? kDefaults.recvBatch, 1, kNativeUdpLimits.recvBatchMax),
    slotBytes: checkInteger('slotBytes', options.slotBytes ?? kDefaults.slotBytes, kNativeUdpLimits.slotBytesMin, kNativeUdpLimits.slotBytesMax),
    sendBatch: checkInteger('sendBatch', options.sendBatch ?? kDefaults.sendBatch, 1, kNativeUdpLimits.sendBatchMax),
    socketBufferBytes: checkInteger(
      'socketBufferBytes',
      options.socketBufferBytes ?? kDefaults.socketBufferBytes,
      0,
      kNativeUdpLimits.socketBufferBytesMax,
    ),
    flushMode,
  });
}

/** The kernel features the socket cannot work without; each must have probed true. */
const kRequiredCapabilities = ['recvmmsg', 'sendmmsg', 'errQueue'] as const;

function constructorOf(status: NativeStatus): NativeUdpSocketConstructor | string {
  if (!status.loaded) return status.reason;
  const constructor = status.addon.UdpSocket;
  if (typeof constructor !== 'function') {
    return 'the native addon was built before UdpSocket existed — run npm run build:native';
  }
  const missing = kRequiredCapabilities.filter((name) => !status.capabilities[name]);
  if (missing.length > 0) {
    const reasons = status.capabilities.reasons.filter((reason) => missing.some((name) => reason.startsWith(`${name}:`)));
    return `this kernel lacks ${missing.join(', ')}: ${reasons.join('; ')}`;
  }
  return constructor;
}

/**
 * The addon's onMessages callback: one batch's datagrams handed to `handlers` as reused
 * views (ReceiveViews), with no allocation per datagram. Exported so that bench:path
 * drives exactly this code with prepared batches.
 */
export function batchReceiver(slotBytes: number, handlers: Pick<NativeUdpHandlers, 'onMessage' | 'onBatch'>): (count: number, buffer: Uint8Array, lengths: Uint32Array, sources: readonly string[]) => void {
  const views = new ReceiveViews(slotBytes);
  const { onMessage, onBatch } = handlers;
  return (count, buffer, lengths, sources) => {
    views.use(buffer);
    onBatch?.(count);
    for (let index = 0; index < count; index++) onMessage(sources[index]!, views.view(index, lengths[index]!));
  };
}

export class NativeUdpSocket {
  readonly config: NativeUdpSocketConfig;
  readonly #handle: NativeUdpSocketHandle;
  #flushScheduled = false;
  #closed = false;
  /** Inside receiveBatch: sends wait for the batch's end and leave in one flush. */
  #inBatch = false;
  #sentInBatch = false;

  private constructor(config: NativeUdpSocketConfig, handle: NativeUdpSocketHandle) {
    this.config = config;
    this.#handle = handle;
  }

  /** Whether the native socket can be used here; `status` defaults to the process-wide loadNative(). */
  static available(status: NativeStatus = loadNative()): NativeUdpAvailability {
    const constructor = constructorOf(status);
    return typeof constructor === 'string' ? { available: false, reason: constructor } : { available: true };
  }

  /** Opens and binds a socket; throws NativeUdpError (GALAXY_NATIVE_UNAVAILABLE when available() is false). */
  static open(options: NativeUdpSocketOptions, handlers: NativeUdpHandlers, status: NativeStatus = loadNative()): NativeUdpSocket {
    const config = resolveNativeUdpOptions(options);
    if (typeof handlers?.onMessage !== 'function') throw badOption('handlers.onMessage must be a function');
    const constructor = constructorOf(status);
    if (typeof constructor === 'string') throw new NativeUdpError('GALAXY_NATIVE_UNAVAILABLE', constructor);

    const { onErrors } = handlers;
    const receive = handlers.onRawBatch ?? batchReceiver(config.slotBytes, handlers);
    let socket: NativeUdpSocket | undefined;
    const onMessages = (count: number, buffer: Uint8Array, lengths: Uint32Array, sources: readonly string[]): void => {
      if (socket === undefined) receive(count, buffer, lengths, sources);
      else socket.receiveBatch(receive, count, buffer, lengths, sources);
    };
    const onErrorRecords = (records: NativeUdpErrorRecord[]): void => {
      onErrors?.(records);
    };
    const handle = callAddon(
      () =>
        new constructor(
          {
            host: config.host,
            port: config.port,
            ipv6: config.ipv6,
            recvBatch: config.recvBatch,
            slotBytes: config.slotBytes,
            sendBatch: config.sendBatch,
            socketBufferBytes: config.socketBufferBytes,
          },
          onMessages,
          onErrorRecords,
        ),
    );
    socket = new NativeUdpSocket(config, handle);
    return socket;
  }

  /**
   * @internal What the addon's callback runs for one batch (bench:path calls it with
   * prepared batches): the datagrams go to `receive`, and the replies they cause leave in
   * one sendmmsg when the batch is done, not from a microtask: Node's queueMicrotask
   * allocates an async resource per call, which was the last allocation on a busy path.
   */
  receiveBatch(receive: (count: number, buffer: Uint8Array, lengths: Uint32Array, sources: readonly string[]) => void, count: number, buffer: Uint8Array, lengths: Uint32Array, sources: readonly string[]): void {
    this.#inBatch = true;
    try {
      receive(count, buffer, lengths, sources);
    } finally {
      this.#inBatch = false;
      if (this.#sentInBatch) {
        this.#sentInBatch = false;
        if (!this.#closed && this.config.flushMode !== 'manual') this.#handle.flush();
      }
    }
  }

  /** The bound address, "a.b.c.d:port" or "[v6]:port". */
  get localAddress(): string {
    return this.#handle.localAddress;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Counters; still readable after close() so final numbers can be logged. */
  get stats(): NativeUdpSocketStats {
    return this.#handle.stats();
  }

  /** SO_RCVBUF and SO_SNDBUF as the kernel reports them. */
  get kernelBufferBytes(): { readonly receive: number; readonly send: number } {
    return callAddon(() => this.#handle.kernelBufferBytes);
  }

  /**
   * Queues one datagram to `to` ("a.b.c.d:port" or "[v6]:port"); it leaves with the
   * other sends of this loop turn. Returns false when it was counted instead of queued
   * (invalid address, too large). Throws GALAXY_NATIVE_CLOSED after close().
   */
  send(to: string, bytes: Uint8Array): boolean {
    // Called once per datagram: the try is inline rather than through callAddon's closure.
    let queued: boolean;
    try {
      queued = this.#handle.queue(to, bytes, 0, bytes.byteLength);
    } catch (error) {
      throw translateAddonError(error);
    }
    if (queued) this.#scheduleFlush();
    return queued;
  }

  /** Sends everything queued now; returns how many datagrams the kernel accepted. */
  flush(): number {
    return callAddon(() => this.#handle.flush());
  }

  /** Flushes what is queued, then closes the socket; idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#handle.close();
  }

  /** Lets the process exit while this socket is open (like dgram's unref()). */
  unref(): void {
    callAddon(() => this.#handle.unref());
  }

  ref(): void {
    callAddon(() => this.#handle.ref());
  }

  #scheduleFlush(): void {
    if (this.#inBatch) {
      this.#sentInBatch = true;
      return;
    }
    if (this.#flushScheduled || this.config.flushMode === 'manual') return;
    this.#flushScheduled = true;
    queueMicrotask(this.#flushTask);
  }

  // An arrow property so the microtask needs no closure per scheduling.
  readonly #flushTask = (): void => {
    this.#flushScheduled = false;
    if (!this.#closed) this.#handle.flush();
  };
}
