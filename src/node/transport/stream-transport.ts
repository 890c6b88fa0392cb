import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import * as F from '../../core/wire/format.js';
import { encodeFrame, FrameDecoder, kFrameHeaderBytes } from './frame-decoder.js';
import { canonicalSocketAddress, parseBindAddress, parseSocketAddress } from './socket-address.js';
import { TransportCounters, type TransportCountersSnapshot } from './transport-counters.js';
import { sendErrorCode, type TransportErrorCode } from './transport-error.js';

/** Options of StreamTransport.listen; every field is optional (see kStreamTransportDefaults). */
export interface StreamTransportOptions {
  /** Largest frame sent or accepted, bytes (without its 4-byte length prefix); the protocol's limit by default. */
  frameBytesMax?: number;
  /**
   * Time allowed to establish an outbound connection, ms. A push-pull to a host that is
   * down waits this long before the engine hears streamFailed; it bounds how long a
   * dead seed holds a connection slot.
   */
  connectTimeoutMs?: number;
  /**
   * A connection with no traffic either way for this long is closed, ms. Push-pull is
   * one or two frames each way, so connections are short-lived; the bound frees slots
   * held by peers that connect and go quiet.
   */
  idleTimeoutMs?: number;
  /**
   * Time a frame may take to arrive whole, ms, counted from the end of the previous
   * frame on its connection (or from the connection's first byte) while part of it is
   * read. A peer that trickles a frame a byte at a time resets idleTimeoutMs with each
   * byte; this bound closes it anyway. 16 MiB at 10 Mbit/s takes 13 s.
   */
  frameTimeoutMs?: number;
  /**
   * Connections open at once, inbound and outbound together; more are refused and
   * counted. The default (256) leaves room for a member of a 64-member cluster: up to
   * 63 inbound closed-connection links from its peers (cluster-links.ts), 63 outbound
   * messenger streams (a 64-member view change's ACCEPT and INSTALL, about 1,650 bytes,
   * exceed a sealed datagram and go over the stream) and the farm's own (push-pull, the
   * watch ring's links, farm RPC, chunks). At 128 a 64-member coordinator was at the bound.
   */
  connectionsMax?: number;
  /**
   * Unsent bytes allowed per connection. A peer that stops reading makes writes
   * pile up in memory; past this bound further frames to it are dropped and reported
   * as failed.
   */
  writeBufferBytesMax?: number;
  /**
   * Bytes of partial frames held across all connections; the connection that would
   * exceed it is closed. Bounds the memory that many peers trickling large frames at
   * once could pin (connectionsMax x frameBytesMax would be 2 GiB).
   */
  readBufferBytesMax?: number;
}

export interface StreamTransportSettings {
  readonly frameBytesMax: number;
  readonly connectTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly frameTimeoutMs: number;
  readonly connectionsMax: number;
  readonly writeBufferBytesMax: number;
  readonly readBufferBytesMax: number;
}

export const kStreamTransportDefaults: StreamTransportSettings = Object.freeze({
  frameBytesMax: F.kFrameBytesMax,
  connectTimeoutMs: 3000,
  idleTimeoutMs: 10_000,
  frameTimeoutMs: 30_000,
  connectionsMax: 256,
  writeBufferBytesMax: 2 * (F.kFrameBytesMax + kFrameHeaderBytes),
  readBufferBytesMax: 4 * (F.kFrameBytesMax + kFrameHeaderBytes),
});

/** The prefix of the keys naming inbound connections, routable for replies. */
export const kInboundKeyPrefix = 'tcp#';

/** Stream counters: the transport's, plus connection life cycles. */
export class StreamCounters extends TransportCounters {
  connectionsAccepted = 0;
  connectionsOpened = 0;
  idleCloses = 0;

  override snapshot(): StreamCountersSnapshot {
    return { ...super.snapshot(), connectionsAccepted: this.connectionsAccepted, connectionsOpened: this.connectionsOpened, idleCloses: this.idleCloses };
  }
}

export interface StreamCountersSnapshot extends TransportCountersSnapshot {
  readonly connectionsAccepted: number;
  readonly connectionsOpened: number;
  readonly idleCloses: number;
}

interface Connection {
  /** `tcp#n` for an inbound connection; the peer's address for an outbound one. */
  readonly key: string;
  readonly socket: Socket;
  readonly decoder: FrameDecoder;
  readonly outbound: boolean;
  established: boolean;
  /** Set once the connection was reported failed or closed on purpose, so nothing is counted twice. */
  settled: boolean;
  connectTimer: NodeJS.Timeout | null;
  /** Running while part of a frame has been read: the frame must be whole before it fires. */
  frameTimer: NodeJS.Timeout | null;
}

/**
 * Push-pull frames over TCP, listening on the same port number as the UDP socket (as
 * memberlist does), so one address names both.
 *
 *  - send(address, bytes) opens a connection (or reuses an open one), writes the frame
 *    and keeps reading: frames coming back on it are delivered with from = that address.
 *  - Frames on inbound connections are delivered with from = "tcp#n"; send("tcp#n", ...)
 *    answers over the same connection. The engine answers a frame by sending to the
 *    `from` it was given, so replies find their way without knowing about connections.
 *  - Nothing a peer does can throw here: oversized or truncated frames close that
 *    connection and are counted; failures to deliver call onFailed(to).
 */
export class StreamTransport {
  readonly counters = new StreamCounters();
  readonly address: string;
  readonly settings: StreamTransportSettings;
  private readonly server: Server;
  private readonly connections = new Map<string, Connection>();
  private frameCallback: (from: string, bytes: Uint8Array) => void = () => {};
  private failedCallback: (to: string) => void = () => {};
  private inboundSequence = 0;
  private readBufferedBytes = 0;
  private closed = false;

  private constructor(server: Server, settings: StreamTransportSettings) {
    this.server = server;
    this.settings = settings;
    const bound = server.address();
    if (bound === null || typeof bound === 'string') throw new Error('TCP listener has no address after listen');
    this.address = canonicalSocketAddress(bound.address, bound.port) ?? `${bound.address}:${bound.port}`;
    server.on('connection', (socket) => this.accept(socket));
    // After listen, a server error (EMFILE on accept) is an operating failure.
    server.on('error', (error: NodeJS.ErrnoException) => this.drop('GALAXY_TRANSPORT_CONNECT_FAILED', `listener error: ${error.code ?? error.message}`));
  }

  /** Listens on `bind` ("a.b.c.d:port" or "[v6]:port"; port 0 lets the OS choose). */
  static async listen(bind: string, options: StreamTransportOptions = {}): Promise<StreamTransport> {
    const settings = validateStreamOptions(options);
    const address = parseBindAddress(bind);
    const server = createServer({ noDelay: true });
    try {
      await new Promise<void>((resolve, reject) => {
        const onError = (error: Error): void => {
          server.off('listening', onListening);
          reject(error);
        };
        const onListening = (): void => {
          server.off('error', onError);
          resolve();
        };
        server.once('error', onError);
        server.once('listening', onListening);
        server.listen({ host: address.host, port: address.port, ipv6Only: address.family === 6, exclusive: true });
      });
    } catch (error) {
      server.close();
      throw new Error(`cannot listen on TCP ${bind}: ${(error as Error).message}`);
    }
    return new StreamTransport(server, settings);
  }

  /** Connections open now, inbound and outbound. */
  get connectionCount(): number {
    return this.connections.size;
  }

  /** Sets the receiver of frames (one receiver). `bytes` is only valid during the call. */
  onFrame(callback: (from: string, bytes: Uint8Array) => void): void {
    this.frameCallback = callback;
  }

  /** Sets the receiver of delivery failures: `to` as given to send(). */
  onFailed(callback: (to: string) => void): void {
    this.failedCallback = callback;
  }

  /** Sends one frame; never throws. `bytes` is copied before this returns. */
  send(to: string, bytes: Uint8Array): void {
    if (this.closed) return this.fail(to, 'GALAXY_TRANSPORT_CLOSED', `frame to ${to} after close`);
    if (bytes.length > this.settings.frameBytesMax) return this.fail(to, 'GALAXY_TRANSPORT_TOO_LARGE', `${bytes.length}-byte frame to ${to} exceeds frameBytesMax ${this.settings.frameBytesMax}`);
    const connection = to.startsWith(kInboundKeyPrefix) ? this.inbound(to) : this.outbound(to);
    if (connection === null) return;
    if (connection.socket.writableLength + kFrameHeaderBytes + bytes.length > this.settings.writeBufferBytesMax) {
      return this.fail(to, 'GALAXY_TRANSPORT_BACKPRESSURE', `${connection.socket.writableLength} bytes unsent to ${to}`);
    }
    connection.socket.write(encodeFrame(bytes));
    this.counters.recordSent(bytes.length);
  }

  /** Stops listening and closes every connection; frames in flight are lost. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const closed = once(this.server, 'close');
    this.server.close();
    for (const connection of [...this.connections.values()]) {
      connection.settled = true;
      connection.socket.destroy();
    }
    await closed;
  }

  private inbound(key: string): Connection | null {
    const connection = this.connections.get(key);
    if (connection === undefined || !usable(connection)) {
      this.fail(key, 'GALAXY_TRANSPORT_NO_ROUTE_BACK', `reply to ${key}, which is closed`);
      return null;
    }
    return connection;
  }

  private outbound(to: string): Connection | null {
    const existing = this.connections.get(to);
    if (existing !== undefined && usable(existing)) return existing;
    const address = parseSocketAddress(to);
    if (address === null) {
      this.fail(to, 'GALAXY_TRANSPORT_BAD_ADDRESS', `bad destination "${to}"`);
      return null;
    }
    if (this.connections.size >= this.settings.connectionsMax) {
      this.fail(to, 'GALAXY_TRANSPORT_CONNECTIONS_FULL', `no slot for a connection to ${to} (connectionsMax ${this.settings.connectionsMax})`);
      return null;
    }
    const socket = connect({ host: address.host, port: address.port, noDelay: true });
    const connection = this.track(to, socket, true);
    this.counters.connectionsOpened++;
    connection.connectTimer = setTimeout(() => {
      connection.connectTimer = null;
      this.failConnection(connection, 'GALAXY_TRANSPORT_CONNECT_TIMEOUT', `no connection to ${to} within ${this.settings.connectTimeoutMs} ms`);
    }, this.settings.connectTimeoutMs);
    socket.once('connect', () => {
      if (connection.connectTimer !== null) clearTimeout(connection.connectTimer);
      connection.connectTimer = null;
      connection.established = true;
      socket.setTimeout(this.settings.idleTimeoutMs);
    });
    return connection;
  }

  private accept(socket: Socket): void {
    if (this.closed || this.connections.size >= this.settings.connectionsMax) {
      this.drop('GALAXY_TRANSPORT_CONNECTIONS_FULL', `refused a connection from ${socket.remoteAddress} (connectionsMax ${this.settings.connectionsMax})`);
      socket.destroy();
      return;
    }
    this.counters.connectionsAccepted++;
    const connection = this.track(`${kInboundKeyPrefix}${++this.inboundSequence}`, socket, false);
    connection.established = true;
    socket.setTimeout(this.settings.idleTimeoutMs);
  }

  private track(key: string, socket: Socket, outbound: boolean): Connection {
    const connection: Connection = { key, socket, decoder: new FrameDecoder(this.settings.frameBytesMax), outbound, established: false, settled: false, connectTimer: null, frameTimer: null };
    this.connections.set(key, connection);
    socket.on('data', (chunk: Buffer) => this.read(connection, chunk));
    socket.on('timeout', () => {
      this.counters.idleCloses++;
      socket.destroy();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => this.broken(connection, error));
    socket.on('close', () => this.closedConnection(connection));
    return connection;
  }

  private read(connection: Connection, chunk: Buffer): void {
    const decoder = connection.decoder;
    const before = decoder.bufferedBytes;
    const ok = decoder.push(chunk, (frame) => {
      this.stopFrameTimer(connection);
      this.counters.recordReceived(frame.length);
      this.frameCallback(connection.key, frame);
    });
    if (decoder.midFrame && connection.frameTimer === null && !connection.settled) {
      connection.frameTimer = setTimeout(() => {
        connection.frameTimer = null;
        this.reject(connection, 'GALAXY_TRANSPORT_FRAME_TIMEOUT', `${this.describe(connection)} sent ${connection.decoder.bufferedBytes} bytes of a frame in ${this.settings.frameTimeoutMs} ms (frameTimeoutMs)`);
      }, this.settings.frameTimeoutMs);
    }
    this.readBufferedBytes += decoder.bufferedBytes - before;
    if (!ok) return this.reject(connection, 'GALAXY_TRANSPORT_FRAME_TOO_LARGE', `length prefix from ${this.describe(connection)} exceeds frameBytesMax ${this.settings.frameBytesMax}`);
    if (this.readBufferedBytes > this.settings.readBufferBytesMax) {
      this.reject(connection, 'GALAXY_TRANSPORT_READ_BUFFER_FULL', `${this.readBufferedBytes} bytes of partial frames (readBufferBytesMax ${this.settings.readBufferBytesMax})`);
    }
  }

  /** Closes a connection whose peer broke the framing; the rest of its bytes are unreadable. */
  private reject(connection: Connection, code: TransportErrorCode, detail: string): void {
    if (connection.settled) return;
    connection.settled = true;
    this.drop(code, detail);
    connection.socket.destroy();
  }

  private broken(connection: Connection, error: NodeJS.ErrnoException): void {
    if (connection.settled) return;
    const code = connection.established ? 'GALAXY_TRANSPORT_STREAM_BROKEN' : connectErrorCode(error.code);
    const detail = `${this.describe(connection)}: ${error.code ?? error.message}`;
    // Only the sender of an outbound frame can do anything about it (the engine counts it).
    if (connection.outbound) this.failConnection(connection, code, detail);
    else this.reject(connection, code, detail);
  }

  private failConnection(connection: Connection, code: TransportErrorCode, detail: string): void {
    if (connection.settled) return;
    connection.settled = true;
    this.fail(connection.key, code, detail);
    connection.socket.destroy();
  }

  private stopFrameTimer(connection: Connection): void {
    if (connection.frameTimer !== null) clearTimeout(connection.frameTimer);
    connection.frameTimer = null;
  }

  private closedConnection(connection: Connection): void {
    if (connection.connectTimer !== null) clearTimeout(connection.connectTimer);
    connection.connectTimer = null;
    this.stopFrameTimer(connection);
    if (this.connections.get(connection.key) === connection) this.connections.delete(connection.key);
    this.readBufferedBytes -= connection.decoder.bufferedBytes;
    if (connection.decoder.midFrame && !connection.settled && !this.closed) {
      this.drop('GALAXY_TRANSPORT_FRAME_TRUNCATED', `${this.describe(connection)} closed after ${connection.decoder.bufferedBytes} bytes of a frame`);
    }
    connection.settled = true;
  }

  private describe(connection: Connection): string {
    return connection.outbound ? connection.key : `${connection.key} (${connection.socket.remoteAddress}:${connection.socket.remotePort})`;
  }

  private fail(to: string, code: TransportErrorCode, detail: string): void {
    this.drop(code, detail);
    if (!this.closed) this.failedCallback(to);
  }

  private drop(code: TransportErrorCode, detail: string): void {
    this.counters.recordDropped(code, detail);
  }
}

/**
 * Whether frames written now can still reach the peer: not destroyed, and not half-closed
 * by a FIN (the peer's idle timeout may close a connection we were about to reuse).
 */
function usable(connection: Connection): boolean {
  return !connection.socket.destroyed && connection.socket.writable && !connection.settled;
}

function connectErrorCode(systemCode: string | undefined): TransportErrorCode {
  const code = sendErrorCode(systemCode);
  return code === 'GALAXY_TRANSPORT_NO_ROUTE' ? code : 'GALAXY_TRANSPORT_CONNECT_FAILED';
}

function validateStreamOptions(options: StreamTransportOptions): StreamTransportSettings {
  const settings = { ...kStreamTransportDefaults };
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) continue;
    if (!(key in kStreamTransportDefaults)) throw new RangeError(`unknown stream transport option "${key}"`);
    (settings as Record<string, number>)[key] = value as number;
  }
  for (const [key, value] of Object.entries(settings)) {
    if (!Number.isInteger(value) || value < 1) throw new RangeError(`options.${key} must be a positive integer, got ${String(value)}`);
  }
  if (settings.frameBytesMax > F.kFrameBytesMax) throw new RangeError(`options.frameBytesMax must be at most ${F.kFrameBytesMax} (the protocol's limit), got ${settings.frameBytesMax}`);
  // Node's timers overflow above 2^31-1 ms and fire at once.
  for (const key of ['connectTimeoutMs', 'idleTimeoutMs', 'frameTimeoutMs'] as const) {
    if (settings[key] > 0x7fffffff) throw new RangeError(`options.${key} must be at most ${0x7fffffff}, got ${settings[key]}`);
  }
  if (settings.writeBufferBytesMax < settings.frameBytesMax + kFrameHeaderBytes) {
    throw new RangeError(`options.writeBufferBytesMax (${settings.writeBufferBytesMax}) must hold one whole frame (frameBytesMax + ${kFrameHeaderBytes} = ${settings.frameBytesMax + kFrameHeaderBytes})`);
  }
  if (settings.readBufferBytesMax < settings.frameBytesMax + kFrameHeaderBytes) {
    throw new RangeError(`options.readBufferBytesMax (${settings.readBufferBytesMax}) must hold one whole frame (frameBytesMax + ${kFrameHeaderBytes} = ${settings.frameBytesMax + kFrameHeaderBytes})`);
  }
  return Object.freeze(settings);
}
