import type { ServerResponse } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { ApiError } from './api-error.js';
import { ApiHttpError } from './api-http-error.js';
import { DomainError, type FailureKind } from '../../core/util/domain-error.js';
import type { ApiReply } from '../../surface/api/api-route.js';
import { TokenStoreError, type TokenStoreErrorCode } from './token-store.js';


/** Headers on every answer: nothing the API returns may be cached or sniffed into another type. */
const kCommonHeaders: Readonly<Record<string, string>> = Object.freeze({
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
});

const kJsonContentType = 'application/json; charset=utf-8';

/** Domain failures as HTTP statuses: the one place a kind becomes a status. */
const kStatusOfKind: Readonly<Record<FailureKind, number>> = {
  invalid: 400,
  forbidden: 403,
  'not-found': 404,
  conflict: 409,
  'too-large': 413,
  failed: 500,
  'upstream-failed': 502,
  unavailable: 503,
  timeout: 504,
};

/** Token store failures as HTTP statuses: a name conflict or the last admin is 409, a missing token 404. */
const kTokenStoreStatus: Readonly<Record<TokenStoreErrorCode, number>> = {
  GALAXY_TOKEN_STORE_CORRUPT: 500,
  GALAXY_TOKEN_NAME_INVALID: 400,
  GALAXY_TOKEN_ROLE_INVALID: 400,
  GALAXY_TOKEN_NAME_TAKEN: 409,
  GALAXY_TOKEN_NOT_FOUND: 404,
  GALAXY_TOKEN_STORE_FULL: 409,
  GALAXY_TOKEN_LAST_ADMIN: 409,
};

export function writeReply(response: ServerResponse, reply: ApiReply): void {
  if ('json' in reply) return writeBody(response, reply.status, kJsonContentType, JSON.stringify(reply.json), {});
  if ('text' in reply) return writeBody(response, reply.status, reply.contentType, reply.text, {});
  response.writeHead(reply.status, kCommonHeaders);
  response.end();
}

export function writeError(response: ServerResponse, error: ApiError): void {
  const headers = error instanceof ApiHttpError ? error.headers : {};
  writeBody(response, error.status, kJsonContentType, errorBody(error), headers);
}

/** Answers a refused WebSocket upgrade in plain HTTP/1.1 and closes the socket. */
export function writeUpgradeRefusal(socket: Duplex, error: ApiError): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = errorBody(error);
  const headers: Record<string, string> = {
    ...kCommonHeaders,
    ...(error instanceof ApiHttpError ? error.headers : {}),
    'Content-Type': kJsonContentType,
    'Content-Length': String(Buffer.byteLength(body)),
    Connection: 'close',
  };
  const head = [`HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? 'Error'}`, ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`)];
  socket.end(`${head.join('\r\n')}\r\n\r\n${body}`);
}

/**
 * The ApiError to answer with, or null when the error is not one the API expected
 * (a bug or an outage below it): the caller then answers 500 with a generic message
 * and logs the real one, so internals never leak to a client.
 */
export function toApiError(error: unknown): ApiError | null {
  if (error instanceof ApiError) return validStatus(error.status) ? error : null;
  if (error instanceof DomainError) return new ApiError(kStatusOfKind[error.kind], error.code, error.message);
  if (error instanceof TokenStoreError) return new ApiError(kTokenStoreStatus[error.code], error.code, error.message);
  return null;
}

export const kInternalError = new ApiHttpError(500, 'GALAXY_API_INTERNAL', 'internal error; the agent log has the details');

function errorBody(error: ApiError): string {
  return JSON.stringify({ error: { code: error.code, message: error.message } });
}

/** A backend may only choose an error status: anything else would be a confusing answer to a failure. */
function validStatus(status: number): boolean {
  return Number.isInteger(status) && status >= 400 && status <= 599;
}

function writeBody(response: ServerResponse, status: number, contentType: string, body: string, headers: Readonly<Record<string, string>>): void {
  response.writeHead(status, { ...kCommonHeaders, ...headers, 'Content-Type': contentType, 'Content-Length': String(Buffer.byteLength(body)) });
  response.end(body);
}
