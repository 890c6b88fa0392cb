import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import { WebSocket } from 'ws';
import { kFingerprintPrefix, parseFingerprint } from './certificate-fingerprint.js';
import { pinnedRequest, PinnedRequestError } from './pinned-https-request.js';

/**
 * A client of the agent's HTTP API, for the CLI and scripts: JSON in and out, the
 * bearer token on every request, and every failure as an ApiClientError carrying the
 * server's status and stable code, so a caller can branch on `code` and print
 * `message` as it is. Uses the global fetch (undici); with a pinned certificate
 * fingerprint, node:https through pinned-https-request.ts.
 */
export interface ApiClientOptions {
  /** Base URL of the agent API, e.g. http://127.0.0.1:7600. */
  readonly url: string;
  readonly token: string;
  /**
   * Pin the server's TLS certificate by its SHA-256 fingerprint ("SHA256:AB:…", as the
   * agent prints it) instead of trusting it through a CA: for an agent serving a
   * self-signed certificate. The URL must then be https.
   */
  readonly fingerprint?: string;
  /** How long one request may take, connect to last byte, ms. */
  readonly timeoutMs?: number;
  /** Largest response body read, bytes; a larger one is an error rather than a memory spike. */
  readonly responseBytesMax?: number;
}

export const kApiClientTimeoutMsDefault = 30_000;
export const kApiClientResponseBytesMaxDefault = 16 * 1024 * 1024;

export type ApiClientErrorCode = 'GALAXY_API_UNREACHABLE' | 'GALAXY_API_FINGERPRINT_MISMATCH' | 'GALAXY_API_TIMEOUT' | 'GALAXY_API_BAD_URL' | 'GALAXY_API_BAD_RESPONSE' | 'GALAXY_API_RESPONSE_TOO_LARGE' | (string & {});

export class ApiClientError extends Error {
  /** The HTTP status, or undefined when no answer came (unreachable, timeout, bad URL). */
  readonly status: number | undefined;
  /** The server's error code (e.g. GALAXY_API_FORBIDDEN), or one of the client's own. */
  readonly code: ApiClientErrorCode;

  constructor(status: number | undefined, code: ApiClientErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ApiClientError';
    this.status = status;
    this.code = code;
  }
}

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

export class ApiClient {
  readonly url: string;
  private readonly token: string;
  /** Canonical pinned fingerprint, or null to trust through the system's CAs. */
  readonly fingerprint: string | null;
  private readonly timeoutMs: number;
  private readonly responseBytesMax: number;

  constructor(options: ApiClientOptions) {
    this.url = checkBaseUrl(options.url);
    this.token = options.token;
    this.fingerprint = options.fingerprint === undefined ? null : parseFingerprint(options.fingerprint);
    if (this.fingerprint === null && options.fingerprint !== undefined) throw new ApiClientError(undefined, 'GALAXY_API_BAD_URL', `a certificate fingerprint is "SHA256:" and 32 bytes of hex, got "${options.fingerprint}"`);
    if (this.fingerprint !== null && !this.url.startsWith('https:')) throw new ApiClientError(undefined, 'GALAXY_API_BAD_URL', `a certificate fingerprint pins a TLS certificate: the agent API URL must be https, got "${this.url}"`);
    this.timeoutMs = options.timeoutMs ?? kApiClientTimeoutMsDefault;
    this.responseBytesMax = options.responseBytesMax ?? kApiClientResponseBytesMaxDefault;
    if (!Number.isSafeInteger(this.timeoutMs) || this.timeoutMs <= 0) throw new RangeError(`options.timeoutMs must be a positive integer, got ${String(options.timeoutMs)}`);
    if (!Number.isSafeInteger(this.responseBytesMax) || this.responseBytesMax <= 0) throw new RangeError(`options.responseBytesMax must be a positive integer, got ${String(options.responseBytesMax)}`);
  }

  get(path: string): Promise<unknown> {
    return this.request('GET', path, undefined);
  }

  post(path: string, body: unknown = {}): Promise<unknown> {
    return this.request('POST', path, body);
  }

  put(path: string, body: unknown): Promise<unknown> {
    return this.request('PUT', path, body);
  }

  /** Resolves undefined on 204 No Content, the answer to a DELETE. */
  delete(path: string): Promise<unknown> {
    return this.request('DELETE', path, undefined);
  }

  /**
   * Opens a WebSocket route of the API (a channel's delivery stream) with the bearer
   * token; resolves with the open socket, or rejects with an ApiClientError carrying the
   * server's refusal (status and code, as for a request). With a pinned fingerprint the
   * TLS connection is checked against the pin before the upgrade request (and its
   * token) is written, as for requests. `onMessage` is attached before the handshake:
   * a frame the server sends at once can arrive in the same read as the 101 answer and
   * is emitted before a listener added after `open` would be. The caller may pause()
   * the socket (its TCP window then fills and the agent's writes wait).
   */
  openStream(path: string, onMessage: (data: Buffer) => void): Promise<WebSocket> {
    if (!path.startsWith('/')) throw new RangeError(`an API path starts with /, got "${path}"`);
    const target = (this.url + path).replace(/^http/, 'ws');
    const pin = this.fingerprint;
    const pinned = (options: { host?: string; port?: number | string; servername?: string }, done: (error: Error | null, socket?: Duplex) => void): undefined => {
      const host = String(options.host ?? '').replace(/^\[|\]$/g, '');
      const socket: TLSSocket = tlsConnect({ host, port: Number(options.port), rejectUnauthorized: false, ...(/^[\d.]+$|:/.test(host) ? {} : { servername: host }) });
      socket.once('error', (error) => done(error));
      socket.once('secureConnect', () => {
        const presented = `${kFingerprintPrefix}${socket.getPeerCertificate().fingerprint256}`;
        if (presented !== pin) {
          socket.destroy();
          done(new ApiClientError(undefined, 'GALAXY_API_FINGERPRINT_MISMATCH', `the agent API at ${this.url} presented a certificate with fingerprint ${presented}, not the pinned ${pin}: refusing to open the stream`));
          return;
        }
        done(null, socket);
      });
      return undefined;
    };
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(target, {
        headers: { Authorization: `Bearer ${this.token}` },
        perMessageDeflate: false,
        handshakeTimeout: this.timeoutMs,
        maxPayload: this.responseBytesMax,
        ...(pin === null ? {} : { createConnection: pinned as never }),
      });
      let settled = false;
      socket.on('message', onMessage);
      socket.once('open', () => {
        settled = true;
        resolve(socket);
      });
      socket.once('unexpected-response', (_request, response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          settled = true;
          reject(errorFromBody(response.statusCode ?? 0, Buffer.concat(chunks).toString('utf8'), target));
        });
      });
      socket.on('error', (error) => {
        if (settled) return;
        settled = true;
        reject(error instanceof ApiClientError ? error : this.transportError(error));
      });
    });
  }

  private async request(method: Method, path: string, body: unknown): Promise<unknown> {
    if (!path.startsWith('/')) throw new RangeError(`an API path starts with /, got "${path}"`);
    const target = this.url + path;
    const headers: Record<string, string> = { Authorization: `Bearer ${this.token}`, Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (this.fingerprint !== null) return this.pinned(method, target, headers, body);
    let response: Response;
    try {
      response = await fetch(target, { method, headers, body: body === undefined ? null : JSON.stringify(body), signal: AbortSignal.timeout(this.timeoutMs), redirect: 'error' });
    } catch (error) {
      throw this.transportError(error);
    }
    const text = await this.readText(response);
    if (response.ok) return parseSuccess(response.status, response.headers.get('content-type'), text, target);
    throw errorFromBody(response.status, text, target);
  }

  private async pinned(method: Method, target: string, headers: Record<string, string>, body: unknown): Promise<unknown> {
    let answer;
    try {
      answer = await pinnedRequest({ url: new URL(target), method, headers, body: body === undefined ? null : JSON.stringify(body), fingerprint: this.fingerprint!, timeoutMs: this.timeoutMs, responseBytesMax: this.responseBytesMax });
    } catch (error) {
      if (error instanceof PinnedRequestError) throw new ApiClientError(undefined, error.code, error.message, { cause: error });
      throw error;
    }
    if (answer.status >= 200 && answer.status < 300) return parseSuccess(answer.status, answer.contentType, answer.text, target);
    throw errorFromBody(answer.status, answer.text, target);
  }

  private transportError(error: unknown): ApiClientError {
    if (error instanceof DOMException && error.name === 'TimeoutError') {
      return new ApiClientError(undefined, 'GALAXY_API_TIMEOUT', `the agent API at ${this.url} did not answer within ${this.timeoutMs} ms`, { cause: error });
    }
    const hint = kCertificateTrustCodes.has(String((error as { cause?: { code?: unknown } }).cause?.code)) ? '; if the agent serves a self-signed certificate, pin it with --api-fingerprint SHA256:… (the agent prints it at start; env GALAXY_API_FINGERPRINT)' : '';
    return new ApiClientError(undefined, 'GALAXY_API_UNREACHABLE', `no agent API at ${this.url}: ${describeCause(error)}${hint}`, { cause: error });
  }

  /** The body as text, stopping at responseBytesMax. */
  private async readText(response: Response): Promise<string> {
    if (response.body === null) return '';
    const chunks: Uint8Array[] = [];
    let received = 0;
    const reader = response.body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        received += value.length;
        if (received > this.responseBytesMax) {
          await reader.cancel();
          throw new ApiClientError(response.status, 'GALAXY_API_RESPONSE_TOO_LARGE', `the agent API answered more than ${this.responseBytesMax} bytes`);
        }
        chunks.push(value);
      }
    } catch (error) {
      if (error instanceof ApiClientError) throw error;
      throw this.transportError(error);
    }
    return Buffer.concat(chunks, received).toString('utf8');
  }
}

/** TLS errors that mean "this certificate is not trusted through a CA". */
const kCertificateTrustCodes: ReadonlySet<string> = new Set(['DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_HAS_EXPIRED']);

/** The base URL without a trailing slash; http or https only. */
function checkBaseUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ApiClientError(undefined, 'GALAXY_API_BAD_URL', `"${url}" is not a URL; give the agent API as http://host:port`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new ApiClientError(undefined, 'GALAXY_API_BAD_URL', `the agent API URL must be http or https, got "${url}"`);
  if (parsed.search !== '' || parsed.hash !== '') throw new ApiClientError(undefined, 'GALAXY_API_BAD_URL', `the agent API URL takes no query or fragment, got "${url}"`);
  return parsed.href.replace(/\/+$/, '');
}

/** e.g. "ECONNREFUSED 127.0.0.1:7600", from the system error undici wraps in `cause`. */
function describeCause(error: unknown): string {
  const cause = (error as { cause?: unknown }).cause ?? error;
  const { code, address, port, message } = cause as { code?: unknown; address?: unknown; port?: unknown; message?: unknown };
  if (typeof code === 'string' && typeof address === 'string') return `${code} ${address}${typeof port === 'number' ? `:${port}` : ''}`;
  if (typeof code === 'string') return typeof message === 'string' ? `${code} (${message})` : code;
  return typeof message === 'string' ? message : String(cause);
}

/** JSON parsed; text (such as /metrics) as a string; nothing (204) as undefined. */
function parseSuccess(status: number, contentType: string | null, text: string, target: string): unknown {
  if (status === 204 || text === '') return undefined;
  if (contentType?.startsWith('text/') === true) return text;
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiClientError(status, 'GALAXY_API_BAD_RESPONSE', `the answer from ${target} is not JSON (HTTP ${status})`);
  }
}

/** The server's `{error: {code, message}}`, or a generic error naming the status when the body is something else (a proxy's page). */
function errorFromBody(status: number, text: string, target: string): ApiClientError {
  try {
    const { error } = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
    if (typeof error?.code === 'string' && typeof error.message === 'string') return new ApiClientError(status, error.code, error.message);
  } catch {
    // Not JSON: fall through to the generic error below.
  }
  return new ApiClientError(status, `GALAXY_API_HTTP_${status}`, `HTTP ${status} from ${target}`);
}
