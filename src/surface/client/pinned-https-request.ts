import { request } from 'node:https';
import { connect, type TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import { kFingerprintPrefix } from './certificate-fingerprint.js';

/**
 * One HTTPS request to a server whose certificate is pinned by its SHA-256 fingerprint
 * instead of trusted through a CA: the way to reach an agent serving a self-signed
 * certificate. The TLS connection is made first and its certificate compared with the
 * pin; only on a match is the socket handed to node:https and the request (with its
 * bearer token) written. A mismatch closes the socket before a byte of the request leaves.
 */
export interface PinnedRequest {
  readonly url: URL;
  readonly method: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string | null;
  /** Canonical "SHA256:AB:…" (certificate-fingerprint.ts). */
  readonly fingerprint: string;
  readonly timeoutMs: number;
  readonly responseBytesMax: number;
}

export interface PinnedAnswer {
  readonly status: number;
  readonly contentType: string | null;
  readonly text: string;
}

/** Why a pinned request failed without an answer; `code` says which. */
export class PinnedRequestError extends Error {
  constructor(
    readonly code: 'GALAXY_API_FINGERPRINT_MISMATCH' | 'GALAXY_API_TIMEOUT' | 'GALAXY_API_RESPONSE_TOO_LARGE' | 'GALAXY_API_UNREACHABLE',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'PinnedRequestError';
  }
}

export function pinnedRequest(options: PinnedRequest): Promise<PinnedAnswer> {
  const { url } = options;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = url.port === '' ? 443 : Number(url.port);
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (error: PinnedRequestError): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      reject(error);
    };
    const timer = setTimeout(() => fail(new PinnedRequestError('GALAXY_API_TIMEOUT', `the agent API at ${url.origin} did not answer within ${options.timeoutMs} ms`)), options.timeoutMs);
    // No agent: node:https then uses createConnection for this one request. The
    // certificate is checked against the pin, not a CA: rejectUnauthorized is off
    // because a self-signed certificate has no chain, and the pin is the stronger check.
    const createConnection = (_options: unknown, done: (error: Error | null, socket?: Duplex) => void): undefined => {
      const socket: TLSSocket = connect({ host, port, rejectUnauthorized: false, ...(/^[\d.]+$|:/.test(host) ? {} : { servername: host }) });
      socket.once('error', (error) => done(error));
      socket.once('secureConnect', () => {
        const presented = `${kFingerprintPrefix}${socket.getPeerCertificate().fingerprint256}`;
        if (presented !== options.fingerprint) {
          socket.destroy();
          fail(new PinnedRequestError('GALAXY_API_FINGERPRINT_MISMATCH', `the agent API at ${url.origin} presented a certificate with fingerprint ${presented}, not the pinned ${options.fingerprint}: refusing to send the request (a different agent, a regenerated certificate, or someone in between; check the fingerprint the agent printed at start)`));
          return;
        }
        done(null, socket);
      });
      return undefined;
    };
    const req = request(url, { method: options.method, headers: options.headers, createConnection: createConnection as never }, (response) => {
      const chunks: Buffer[] = [];
      let received = 0;
      response.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received > options.responseBytesMax) {
          fail(new PinnedRequestError('GALAXY_API_RESPONSE_TOO_LARGE', `the agent API answered more than ${options.responseBytesMax} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      response.on('error', (error) => fail(unreachable(url, error)));
      response.on('end', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({ status: response.statusCode ?? 0, contentType: response.headers['content-type'] ?? null, text: Buffer.concat(chunks, received).toString('utf8') });
      });
    });
    req.on('error', (error) => fail(unreachable(url, error)));
    req.end(options.body ?? undefined);
  });
}

function unreachable(url: URL, error: Error): PinnedRequestError {
  const { code, message } = error as NodeJS.ErrnoException;
  return new PinnedRequestError('GALAXY_API_UNREACHABLE', `no agent API at ${url.origin}: ${code ?? message}${code !== undefined && code !== message ? ` (${message})` : ''}`, { cause: error });
}
