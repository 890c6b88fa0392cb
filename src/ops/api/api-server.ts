import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import type { SocketAddress } from '../../node/transport/socket-address.js';
import type { ApiError } from './api-error.js';
import type { ApiBackend } from './api-backend.js';
import { authenticate, authorize } from './api-auth.js';
import { kApiBindDefault, resolveApiBind } from './api-bind.js';
import { clientErrorReason, countResponse, createApiCounters, type ApiCounters, type ClientErrorReason } from './api-counters.js';
import { ApiEventStream } from './api-event-stream.js';
import { ApiHttpError } from './api-http-error.js';
import { parseInput, queryObject, splitTarget } from './api-input.js';
import { fillApiLimits, type ApiLimits, type ApiLimitsFilled } from './api-limits.js';
import { kSilentApiLogger, type ApiLogger } from './api-logger.js';
import { hasBody, readJsonBody } from './api-request-body.js';
import { kInternalError, toApiError, writeError, writeReply, writeUpgradeRefusal } from './api-response.js';
import { ApiRouter, type RouteMatch } from './api-router.js';
import { apiRoutes } from './api-routes.js';
import type { ApiCaller, ApiRoute } from '../../surface/api/api-route.js';
import type { TokenStore } from './token-store.js';
import { certificateFingerprint } from '../../surface/client/certificate-fingerprint.js';

/**
 * The agent's HTTP API on node:http: JSON routes under /v1, Prometheus text on
 * /metrics, the WebSocket event stream on /v1/events, and the WebSocket streams routes
 * own (ApiRoute.stream: a channel's deliveries). Every request goes through
 * the same steps, in an order chosen so that an unauthenticated caller costs as little
 * as possible: route (404/405), token (401), role (403), path and query (400), and only
 * then the body, bounded (415/413/400), then the backend. Errors from the backend keep
 * their ApiError status; anything else is a 500 with a generic message, logged.
 */
export interface ApiServerOptions {
  readonly backend: ApiBackend;
  readonly tokens: TokenStore;
  /** "a.b.c.d:port" or "[v6]:port"; port 0 lets the OS choose. Default kApiBindDefault (loopback). */
  readonly bind?: string;
  /**
   * Allow a non-loopback bind address without TLS (`galaxy agent --api-insecure`). Off by
   * default: tokens would cross the network in clear. With `tls` a remote bind needs no
   * such permission.
   */
  readonly allowRemote?: boolean;
  /**
   * Serve HTTPS (and WSS for /v1/events) with this certificate and key, PEM. Clients
   * either trust it through a CA or pin its SHA-256 fingerprint (`fingerprint` below).
   */
  readonly tls?: ApiTls;
  readonly limits?: ApiLimits;
  readonly logger?: ApiLogger;
  /**
   * More routes, mounted beside the built-in ones and served through the same pipeline
   * (token, role, validation, errors): the farm components' (events, jobs, scripts,
   * installation). A method and path defined twice, here or against a built-in route,
   * is refused at start, before the server listens.
   */
  readonly routes?: readonly ApiRoute[];
}

export interface ApiTls {
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
}

export interface ApiServerAddress {
  readonly host: string;
  readonly port: number;
  readonly family: 4 | 6;
}

/**
 * How often node checks requests against requestTimeoutMs and headersTimeoutMs: a
 * quarter of the headers timeout, within bounds, so a timeout fires close to when it
 * is due without a timer per request.
 */
function connectionsCheckingIntervalMs(limits: ApiLimitsFilled): number {
  return Math.min(1000, Math.max(50, Math.floor(limits.headersTimeoutMs / 4)));
}

/** What node:http itself answers to each kind of client error (lib/_http_server.js), which a 'clientError' listener must now send. */
const kClientErrorAnswers: Readonly<Record<ClientErrorReason, string | null>> = {
  timeout: 'HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n',
  malformed: 'HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n',
  reset: null,
  other: 'HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n',
};

/**
 * Counts a connection node:http gave up on (a slow client past headersTimeoutMs or
 * requestTimeoutMs, bytes that are not HTTP, a reset), answers as node would, and closes
 * it. As node does, nothing is written when a response is already under way on it.
 */
function refuseClient(counters: ApiCounters, reason: ClientErrorReason, socket: Duplex): void {
  counters.clientErrors[reason]++;
  const answer = kClientErrorAnswers[reason];
  const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } | null })._httpMessage;
  if (answer !== null && socket.writable && (inFlight === undefined || inFlight === null || inFlight.headersSent !== true)) socket.write(answer);
  socket.destroy();
}

export class ApiServer {
  /** Base URL of the API, e.g. http://127.0.0.1:7600 or https://10.0.0.5:7600 (no trailing slash). */
  readonly url: string;
  /** SHA-256 fingerprint of the TLS certificate ("SHA256:AB:…"), or null on plain HTTP. */
  readonly fingerprint: string | null;
  readonly address: ApiServerAddress;
  /** Live counters; also served on /metrics. */
  readonly counters: ApiCounters;
  readonly limits: ApiLimitsFilled;
  private readonly server: Server;
  private readonly router: ApiRouter<ApiRoute>;
  private readonly tokens: TokenStore;
  private readonly events: ApiEventStream;
  private readonly logger: ApiLogger;
  private closing: Promise<void> | null = null;

  private constructor(server: Server, address: ApiServerAddress, options: ApiServerOptions, limits: ApiLimitsFilled, counters: ApiCounters, router: ApiRouter<ApiRoute>) {
    this.server = server;
    this.address = address;
    this.url = `${options.tls === undefined ? 'http' : 'https'}://${address.family === 6 ? `[${address.host}]` : address.host}:${address.port}`;
    this.fingerprint = options.tls === undefined ? null : certificateFingerprint(options.tls.cert);
    this.counters = counters;
    this.limits = limits;
    this.tokens = options.tokens;
    this.logger = options.logger ?? kSilentApiLogger;
    this.router = router;
    this.events = new ApiEventStream({ backend: options.backend, limits, counters, logger: this.logger });
    server.on('request', (request: IncomingMessage, response: ServerResponse) => void this.handle(request, response));
    server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => this.upgrade(request, socket, head));
  }

  /** Validates the options, listens, and resolves once the API accepts connections. */
  static async start(options: ApiServerOptions): Promise<ApiServer> {
    const limits = fillApiLimits(options.limits);
    const bind = resolveApiBind(options.bind ?? kApiBindDefault, options.tls !== undefined || (options.allowRemote ?? false));
    const counters = createApiCounters();
    // Built first: a route defined twice throws here, before anything listens.
    const router = new ApiRouter([...apiRoutes({ backend: options.backend, tokens: options.tokens, counters }), ...(options.routes ?? [])]);
    const httpOptions = {
      requestTimeout: limits.requestTimeoutMs,
      headersTimeout: limits.headersTimeoutMs,
      connectionsCheckingInterval: connectionsCheckingIntervalMs(limits),
    };
    // https.Server is an http.Server over TLS: the same request, upgrade and clientError
    // paths serve HTTPS and WSS. A bad certificate or key throws here, before listening.
    const server: Server = options.tls === undefined ? createServer(httpOptions) : createTlsServer({ ...httpOptions, cert: options.tls.cert, key: options.tls.key, minVersion: 'TLSv1.2' });
    // A failed handshake (a client that does not trust the certificate, a scanner) is a
    // client error too; node closes the socket itself.
    if (options.tls !== undefined) server.on('tlsClientError', () => counters.clientErrors.other++);
    server.maxConnections = limits.connectionsMax;
    server.on('drop', () => counters.connectionsRejected++);
    server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => refuseClient(counters, clientErrorReason(error.code), socket));
    await listen(server, bind);
    const port = (server.address() as { port: number }).port;
    const api = new ApiServer(server, { host: bind.host, port, family: bind.family }, options, limits, counters, router);
    api.logger.info({ url: api.url }, 'API listening');
    return api;
  }

  /** Stops accepting, closes event-stream clients and open connections; idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
      await this.events.close();
      this.server.closeAllConnections();
      await closed;
    })();
    return this.closing;
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    let caller: ApiCaller | null = null;
    try {
      const { match, caller: authenticated, query } = this.admit(request);
      caller = authenticated;
      const params = parseInput('path', match.route.params, match.params);
      const body = await this.readBody(request, match.route);
      const reply = await match.route.handle({ params, query, body, caller });
      this.count(request, reply.status, caller);
      writeReply(response, reply);
    } catch (error) {
      this.fail(request, response, error, caller);
    }
  }

  /**
   * The steps a plain request and a WebSocket upgrade share: route, token, role, query.
   * Path parameters are checked by the caller after this, so a bad id from an
   * unauthenticated caller is still a 401.
   */
  private admit(request: IncomingMessage): { match: RouteMatch<ApiRoute>; caller: ApiCaller | null; query: unknown } {
    const target = splitTarget(request.url ?? '/');
    const match = this.router.match(request.method ?? '', target.pathname);
    let caller: ApiCaller | null = null;
    if (match.route.role !== null) {
      caller = authenticate(request.headers.authorization, this.tokens);
      authorize(caller, match.route.role);
    }
    const query = parseInput('query', match.route.query, queryObject(target.search));
    return { match, caller, query };
  }

  /** The validated body; routes without a body schema read none (node discards one if sent). */
  private async readBody(request: IncomingMessage, route: ApiRoute): Promise<unknown> {
    if (route.body === null) return undefined;
    let value: unknown;
    try {
      value = await readJsonBody(request, this.limits.bodyBytesMax);
    } catch (error) {
      if (error instanceof ApiHttpError) this.counters.rejectedBodies++;
      throw error;
    }
    if (value === undefined) {
      if (!route.bodyOptional) throw new ApiHttpError(400, 'GALAXY_API_BODY_MISSING', `${route.method} ${route.pattern} needs a JSON body`);
      value = {};
    }
    return parseInput('body', route.body, value);
  }

  private fail(request: IncomingMessage, response: ServerResponse, error: unknown, caller: ApiCaller | null): void {
    const apiError = this.toAnswer(request, error, caller);
    if (response.headersSent) {
      response.destroy();
      return;
    }
    // A body left unread is not drained for a refused request: the connection closes instead.
    if (hasBody(request) && !request.complete) response.setHeader('Connection', 'close');
    writeError(response, apiError);
  }

  /** The error to answer with, counted and logged; unexpected errors become a generic 500. */
  private toAnswer(request: IncomingMessage, error: unknown, caller: ApiCaller | null): ApiError {
    const apiError = toApiError(error);
    if (apiError === null) {
      this.logger.error({ err: error, method: request.method, url: request.url, caller: caller?.name }, 'API request failed');
      this.count(request, kInternalError.status, caller);
      return kInternalError;
    }
    if (apiError.status === 401) this.counters.authFailures++;
    this.count(request, apiError.status, caller);
    return apiError;
  }

  private upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    try {
      const { match, caller, query } = this.admit(request);
      if (!match.route.webSocket || caller === null) throw new ApiHttpError(400, 'GALAXY_API_NOT_WEBSOCKET', `${match.route.pattern} does not accept a WebSocket upgrade`);
      if (match.route.stream !== null) {
        // A route's own stream: its parameters are checked and the route accepts (or refuses) before the handshake.
        const params = parseInput('path', match.route.params, match.params);
        const attach = match.route.stream({ params, query, body: undefined, caller });
        this.events.acceptRoute(request, socket, head, caller.name, attach, () => this.count(request, 101, caller));
        return;
      }
      this.events.accept(request, socket, head, caller.name, (query as { kind?: string[] }).kind, () => this.count(request, 101, caller));
    } catch (error) {
      writeUpgradeRefusal(socket, this.toAnswer(request, error, null));
    }
  }

  private count(request: IncomingMessage, status: number, caller: ApiCaller | null): void {
    countResponse(this.counters, status);
    this.logger.debug({ method: request.method, url: request.url, status, caller: caller?.name }, 'API request');
  }
}

function listen(server: Server, address: SocketAddress): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => reject(new Error(`the API cannot listen on ${address.text}: ${error.message}`, { cause: error }));
    server.once('error', onError);
    server.listen(address.port, address.host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}
