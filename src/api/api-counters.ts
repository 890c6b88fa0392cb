import type { MetricFamily } from './api-backend.js';

/** Responses are counted by the first digit of their status: enough to alert on, bounded in label values. */
export const kStatusClasses = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;
export type StatusClass = (typeof kStatusClasses)[number];

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
  /** Event-stream clients connected now. */
  webSocketClients: number;
  /** Event-stream clients disconnected for falling more than webSocketBufferedBytesMax behind. */
  webSocketDropped: number;
}

export function createApiCounters(): ApiCounters {
  return { requests: { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 }, authFailures: 0, rejectedBodies: 0, connectionsRejected: 0, webSocketClients: 0, webSocketDropped: 0 };
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
    { name: 'galaxy_api_websocket_clients', help: 'Event-stream (WebSocket) clients connected.', type: 'gauge', samples: [{ value: counters.webSocketClients }] },
    { name: 'galaxy_api_websocket_dropped_total', help: 'Event-stream clients disconnected for reading too slowly.', type: 'counter', samples: [{ value: counters.webSocketDropped }] },
  ];
}
