import type { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { ApiEvent } from '../../core/util/api-event.js';
import type { ApiBackend } from './api-backend.js';
import type { ApiStreamAttach } from '../../surface/api/api-route.js';
import type { ApiCounters } from './api-counters.js';
import { ApiHttpError } from './api-http-error.js';
import type { ApiLimitsFilled } from './api-limits.js';
import type { ApiLogger } from './api-logger.js';

/**
 * The event stream behind GET /v1/events: backend events as JSON text messages to every
 * WebSocket client whose kind filter matches. The server authenticates and validates
 * the upgrade first; this class only accepts, fans out and bounds.
 *
 * One backend subscription serves every client (taken with the first client, dropped
 * with the last), and each event is serialized once however many clients receive it.
 * A client that cannot keep up is disconnected once more than webSocketBufferedBytesMax
 * would be queued for it: buffering for it without bound would let one stalled
 * dashboard exhaust the agent's memory. It is terminated, not sent a close frame, since
 * a close frame would only queue behind the backlog it is not reading.
 */
interface Client {
  readonly socket: WebSocket;
  readonly caller: string;
  /** Event kinds it asked for; null: all. */
  readonly kinds: ReadonlySet<string> | null;
}

/** Clients only listen; anything they send beyond a control frame's size is refused by ws (close 1009). */
const kClientMessageBytesMax = 1024;
/** TCP keepalive on stream sockets, so a client that vanished without a FIN frees its slot. */
const kKeepAliveDelayMs = 30_000;
/** How long close() waits for clients to acknowledge the close frame before cutting them off. */
const kCloseGraceMs = 500;

export interface ApiEventStreamOptions {
  readonly backend: ApiBackend;
  readonly limits: ApiLimitsFilled;
  readonly counters: ApiCounters;
  readonly logger: ApiLogger;
}

export class ApiEventStream {
  private readonly options: ApiEventStreamOptions;
  private readonly server: WebSocketServer;
  private readonly clients = new Set<Client>();
  /** Clients of routes' own streams (ApiRoute.stream). */
  private readonly routeClients = new Set<WebSocket>();
  private unsubscribe: (() => void) | null = null;
  private closed = false;

  constructor(options: ApiEventStreamOptions) {
    this.options = options;
    // Compression is off: a zlib context per client costs memory, and events are small.
    this.server = new WebSocketServer({ noServer: true, clientTracking: false, perMessageDeflate: false, maxPayload: kClientMessageBytesMax });
  }

  /**
   * Completes the upgrade of an authenticated, validated request. Throws a 503
   * ApiHttpError when webSocketClientsMax clients are connected or the server is closing.
   * `onOpen` runs once the handshake succeeded (ws answers a malformed one with 400 itself).
   */
  accept(request: IncomingMessage, socket: Duplex, head: Buffer, caller: string, kinds: readonly string[] | undefined, onOpen: () => void): void {
    if (this.closed) throw new ApiHttpError(503, 'GALAXY_API_BUSY', 'the API is shutting down');
    if (this.clients.size >= this.options.limits.webSocketClientsMax) {
      throw new ApiHttpError(503, 'GALAXY_API_BUSY', `${this.options.limits.webSocketClientsMax} event-stream clients are connected, the limit; try again later`);
    }
    if (socket instanceof Socket) socket.setKeepAlive(true, kKeepAliveDelayMs);
    this.server.handleUpgrade(request, socket, head, (webSocket) => {
      onOpen();
      this.add({ socket: webSocket, caller, kinds: kinds === undefined ? null : new Set(kinds) });
    });
  }

  /**
   * Completes the upgrade for a route's own stream (a channel's deliveries): the route
   * sends and paces itself (ApiStreamSocket's `written`), so no buffered bound cuts it
   * off here. It counts against webSocketClientsMax with the event-stream clients.
   */
  acceptRoute(request: IncomingMessage, socket: Duplex, head: Buffer, caller: string, attach: ApiStreamAttach, onOpen: () => void): void {
    if (this.closed) throw new ApiHttpError(503, 'GALAXY_API_BUSY', 'the API is shutting down');
    if (this.clients.size + this.routeClients.size >= this.options.limits.webSocketClientsMax) {
      throw new ApiHttpError(503, 'GALAXY_API_BUSY', `${this.options.limits.webSocketClientsMax} WebSocket clients are connected, the limit; try again later`);
    }
    if (socket instanceof Socket) {
      socket.setKeepAlive(true, kKeepAliveDelayMs);
      // A stream of small frames: each goes out at once.
      socket.setNoDelay(true);
    }
    this.server.handleUpgrade(request, socket, head, (webSocket) => {
      onOpen();
      if (this.closed) {
        webSocket.terminate();
        return;
      }
      this.routeClients.add(webSocket);
      this.options.counters.webSocketClients = this.clients.size + this.routeClients.size;
      webSocket.on('close', () => {
        this.routeClients.delete(webSocket);
        this.options.counters.webSocketClients = this.clients.size + this.routeClients.size;
      });
      webSocket.on('error', (error) => this.options.logger.debug({ caller, err: error }, 'route stream client error'));
      attach({
        send: (text, written) => webSocket.send(text, { binary: false }, written),
        get bufferedAmount() {
          return webSocket.bufferedAmount;
        },
        close: (code, reason) => webSocket.close(code, reason),
        onClose: (listener) => void webSocket.on('close', listener),
      });
    });
  }

  /** Closes every client (1001, going away), then cuts off those that do not answer in time. */
  async close(): Promise<void> {
    this.closed = true;
    const clients = [...[...this.clients].map((c) => c.socket), ...this.routeClients];
    await Promise.all(clients.map((client) => closeClient(client)));
    this.server.close();
  }

  private add(client: Client): void {
    if (this.closed) {
      client.socket.terminate();
      return;
    }
    this.clients.add(client);
    this.options.counters.webSocketClients = this.clients.size;
    client.socket.on('close', () => this.remove(client));
    client.socket.on('error', (error) => this.options.logger.debug({ caller: client.caller, err: error }, 'event-stream client error'));
    if (this.unsubscribe === null) this.unsubscribe = this.options.backend.subscribe((event) => this.publish(event));
    this.options.logger.debug({ caller: client.caller, kinds: client.kinds === null ? 'all' : [...client.kinds] }, 'event-stream client connected');
  }

  private remove(client: Client): void {
    if (!this.clients.delete(client)) return;
    this.options.counters.webSocketClients = this.clients.size;
    if (this.clients.size === 0 && this.unsubscribe !== null) {
      this.unsubscribe();
      this.unsubscribe = null;
    }
  }

  private publish(event: ApiEvent): void {
    let message: Buffer | null = null;
    for (const client of this.clients) {
      if (client.kinds !== null && !client.kinds.has(event.kind)) continue;
      message ??= serialize(event, this.options.logger);
      if (message === null) return;
      if (client.socket.bufferedAmount + message.length > this.options.limits.webSocketBufferedBytesMax) {
        this.drop(client);
        continue;
      }
      client.socket.send(message, { binary: false });
    }
  }

  private drop(client: Client): void {
    this.options.counters.webSocketDropped++;
    this.options.logger.warn(
      { caller: client.caller, bufferedBytes: client.socket.bufferedAmount, limitBytes: this.options.limits.webSocketBufferedBytesMax },
      'event-stream client disconnected: it reads too slowly',
    );
    this.remove(client);
    client.socket.terminate();
  }
}

/** The event as UTF-8 JSON, or null (logged) when the backend handed something JSON cannot carry. */
function serialize(event: ApiEvent, logger: ApiLogger): Buffer | null {
  try {
    return Buffer.from(JSON.stringify(event), 'utf8');
  } catch (error) {
    logger.error({ err: error, kind: event.kind, type: event.type }, 'an API event could not be serialized; it was not sent');
    return null;
  }
}

function closeClient(socket: WebSocket): Promise<void> {
  if (socket.readyState === socket.CLOSED) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => socket.terminate(), kCloseGraceMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.close(1001, 'the agent API is shutting down');
  });
}
