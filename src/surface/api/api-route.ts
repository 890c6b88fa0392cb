import type { z, ZodTypeAny } from 'zod';
import type { ApiRole } from './api-roles.js';
import { kNoQuerySchema } from './api-schemas.js';

/**
 * The contract of an API route, as a feature folder declares it (src/farm/jobs/jobs-routes.ts,
 * src/farm/events/events-routes.ts, ...): method, path pattern, the least role it needs,
 * the schemas of its parameters, query and body, and a handler. The server in src/ops/api
 * does authentication, validation, limits and the mapping of errors to HTTP statuses the
 * same way for every route, so a route is only its contract and a call. A handler fails
 * with a DomainError (src/core/util/domain-error.ts); only the server turns its kind into
 * a status.
 */
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface RoutePattern {
  readonly method: HttpMethod;
  readonly pattern: string;
}

/** What a route answers: JSON for the API, text for /metrics, or no content. */
export type ApiReply =
  | { readonly status: number; readonly json: unknown }
  | { readonly status: number; readonly text: string; readonly contentType: string }
  | { readonly status: 204 };

export interface ApiCaller {
  /** The token's name: it goes into the backend's `by`, so audit records say who decided. */
  readonly name: string;
  readonly role: ApiRole;
}

export interface RouteInput<P = unknown, Q = unknown, B = unknown> {
  readonly params: P;
  readonly query: Q;
  readonly body: B;
  /** Null only on routes that need no token. */
  readonly caller: ApiCaller | null;
}

/**
 * A WebSocket a route streams to (issue 18: the channel delivery stream). The server owns
 * the upgrade, its limits and the socket; the route only sends text and hears the close.
 */
export interface ApiStreamSocket {
  /** Sends one text message; `written` runs once ws has handed it to the socket (or failed): a sender that waits for it is paced by TCP. */
  send(text: string, written: (error?: Error | null) => void): void;
  /** Bytes queued for this client and not yet written. */
  readonly bufferedAmount: number;
  close(code: number, reason: string): void;
  onClose(listener: () => void): void;
}

/** What a streaming route returns once it accepted the request: called with the socket after the handshake. */
export type ApiStreamAttach = (socket: ApiStreamSocket) => void;

export interface ApiRoute extends RoutePattern {
  /** Least role that may call it; null: no token needed. */
  readonly role: ApiRole | null;
  readonly params: ZodTypeAny;
  readonly query: ZodTypeAny;
  /** Schema of the JSON body; null: the route reads no body. */
  readonly body: ZodTypeAny | null;
  /** Whether the body may be left out (it is then validated as `{}`). */
  readonly bodyOptional: boolean;
  /** Whether the route is served as a WebSocket upgrade (a plain GET gets 426). */
  readonly webSocket: boolean;
  /**
   * A WebSocket route of its own (not the event stream): validates the request and
   * returns what to do with the socket, or throws (a DomainError) to refuse the upgrade.
   * Null: the route's upgrade is the event stream's.
   */
  readonly stream: ((input: RouteInput) => ApiStreamAttach) | null;
  handle(input: RouteInput): Promise<ApiReply>;
}

export interface RouteDefinition<P extends ZodTypeAny, Q extends ZodTypeAny, B extends ZodTypeAny> {
  readonly method: HttpMethod;
  readonly pattern: string;
  readonly role: ApiRole | null;
  readonly params?: P;
  readonly query?: Q;
  readonly body?: B;
  readonly bodyOptional?: boolean;
  readonly webSocket?: boolean;
  readonly stream?: (input: RouteInput<z.output<P>, z.output<Q>, z.output<B>>) => ApiStreamAttach;
  handle(input: RouteInput<z.output<P>, z.output<Q>, z.output<B>>): Promise<ApiReply> | ApiReply;
}

const kNoParamsSchema = kNoQuerySchema;

/** Ties a definition's schemas to its handler's argument types, then erases them for the table. */
export function route<P extends ZodTypeAny = typeof kNoParamsSchema, Q extends ZodTypeAny = typeof kNoQuerySchema, B extends ZodTypeAny = ZodTypeAny>(definition: RouteDefinition<P, Q, B>): ApiRoute {
  return {
    method: definition.method,
    pattern: definition.pattern,
    role: definition.role,
    params: definition.params ?? kNoParamsSchema,
    query: definition.query ?? kNoQuerySchema,
    body: definition.body ?? null,
    bodyOptional: definition.bodyOptional ?? false,
    webSocket: definition.webSocket ?? definition.stream !== undefined,
    stream: definition.stream === undefined ? null : (input) => definition.stream!(input as RouteInput<z.output<P>, z.output<Q>, z.output<B>>),
    handle: async (input) => definition.handle(input as RouteInput<z.output<P>, z.output<Q>, z.output<B>>),
  };
}

/** The caller's name for the backend's `by`; a route that needs a token always has a caller. */
export function by(caller: ApiCaller | null): string {
  if (caller === null) throw new Error('an authenticated route ran without a caller');
  return caller.name;
}

export const ok = (json: unknown): ApiReply => ({ status: 200, json });
