import type { MetricFamily } from '../../core/util/metric-family.js';

/** Responses are counted by the first digit of their status: enough to alert on, bounded in label values. */
export const kStatusClasses = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;
export type StatusClass = (typeof kStatusClasses)[number];

/**
 * Why node:http gave up on a connection before any route saw a request: the headers or
 * the whole request took too long (a slow client), the bytes were not HTTP, or the
 * client reset the connection mid-request. A bounded set, so it can label a metric.
 */
export const kClientErrorReasons = ['timeout', 'malformed', 'reset', 'other'] as const;
export type ClientErrorReason = (typeof kClientErrorReasons)[number];

/** The reason for a node:http clientError, from its error code. */
export function clientErrorReason(code: string | undefined): ClientErrorReason {
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return 'timeout';
  if (code !== undefined && code.startsWith('HPE_')) return 'malformed';
  if (code === 'ECONNRESET' || code === 'EPIPE') return 'reset';
  return 'other';
}

/** What the API server counts about itself; read live from ApiServer.counters and served on /metrics. */
export interface ApiCounters {
  /** Responses sent, by status class (WebSocket upgrades accepted count as 1xx). */
  readonly requests: Record<StatusClass, number>;
  /** Requests and upgrades refused with 401: no bearer token, or one the store does not know. */
  authFailures: number;
  /** Bodies refused unread or unparsed: over bodyBytesMax (413), not JSON by content type (415) or by content (400). */
  rejectedBodies: number;
  /** Connections closed at accept because connectionsMax were open. */
  connectionsRejected: number;
  /** Connections closed by node:http before a request was whole (408 for a slow client, 400 for bytes that are not HTTP). */
  readonly clientErrors: Record<ClientErrorReason, number>;
  /** Event-stream clients connected now. */
  webSocketClients: number;
  /** Event-stream clients disconnected for falling more than webSocketBufferedBytesMax behind. */
  webSocketDropped: number;
}

export function createApiCounters(): ApiCounters {
  return { requests: { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 }, authFailures: 0, rejectedBodies: 0, connectionsRejected: 0, clientErrors: { timeout: 0, malformed: 0, reset: 0, other: 0 }, webSocketClients: 0, webSocketDropped: 0 };
}

export function countResponse(counters: ApiCounters, status: number): void {
  const statusClass = kStatusClasses[Math.floor(status / 100) - 1];
  if (statusClass !== undefined) counters.requests[statusClass]++;
}

/** The counters as Prometheus families, appended to the backend's on /metrics. */
export function apiMetricFamilies(counters: ApiCounters): MetricFamily[] {
  return [
    {
      name: 'galaxy_api_requests_total',
      help: 'HTTP API responses sent, by status class.',
      type: 'counter',
      samples: kStatusClasses.map((code) => ({ labels: { code }, value: counters.requests[code] })),
    },
    { name: 'galaxy_api_auth_failures_total', help: 'API requests refused for a missing or unknown bearer token.', type: 'counter', samples: [{ value: counters.authFailures }] },
    { name: 'galaxy_api_rejected_bodies_total', help: 'API request bodies refused: too large, not JSON, or malformed.', type: 'counter', samples: [{ value: counters.rejectedBodies }] },
    { name: 'galaxy_api_connections_rejected_total', help: 'API connections closed at accept because the connection limit was reached.', type: 'counter', samples: [{ value: counters.connectionsRejected }] },
    {
      name: 'galaxy_api_client_errors_total',
      help: 'API connections closed before a request was whole: too slow (timeout), not HTTP (malformed), reset by the client, or other.',
      type: 'counter',
      samples: kClientErrorReasons.map((reason) => ({ labels: { reason }, value: counters.clientErrors[reason] })),
    },
    { name: 'galaxy_api_websocket_clients', help: 'Event-stream (WebSocket) clients connected.', type: 'gauge', samples: [{ value: counters.webSocketClients }] },
    { name: 'galaxy_api_websocket_dropped_total', help: 'Event-stream clients disconnected for reading too slowly.', type: 'counter', samples: [{ value: counters.webSocketDropped }] },
  ];
}
