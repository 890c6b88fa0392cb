import { ApiConfigError } from './api-config-error.js';

/**
 * Every bound the API server holds itself to. A caller sets any of them (ApiLimits);
 * the server works with the filled, validated copy (ApiLimitsFilled), so no code path
 * ever meets an undefined limit.
 */
export interface ApiLimitsFilled {
  /**
   * Largest request body read, bytes. The biggest legitimate body is a remote script
   * (`galaxy script run`): up to 32 Ki characters, which JSON escaping can make a few
   * times longer, plus its options. A larger body is refused with 413 as soon as its
   * Content-Length (or the bytes received so far) says so, without buffering the rest.
   */
  readonly bodyBytesMax: number;
  /**
   * Open TCP connections at most, WebSocket clients included (an upgraded socket stays
   * a connection of the server). Beyond it a new connection is closed at accept and
   * counted: the agent must not run out of file descriptors because of its API.
   * Must exceed webSocketClientsMax so event-stream clients cannot starve plain requests.
   */
  readonly connectionsMax: number;
  /** Time to receive a whole request (headers and body), ms; then 408 and the connection closes. */
  readonly requestTimeoutMs: number;
  /**
   * Time to receive the request headers, ms; at most requestTimeoutMs. Short, because a
   * client that trickles headers (slowloris) holds a connection slot while it does.
   */
  readonly headersTimeoutMs: number;
  /** Event-stream (WebSocket) clients at once; the next upgrade gets 503. */
  readonly webSocketClientsMax: number;
  /**
   * Bytes queued for one WebSocket client at most. A consumer that reads slower than
   * events arrive would otherwise make the agent buffer without end; beyond this it is
   * disconnected and counted (webSocketDropped). 1 MiB holds thousands of events.
   */
  readonly webSocketBufferedBytesMax: number;
}

export type ApiLimits = Partial<ApiLimitsFilled>;

const kKiB = 1024;
const kMiB = 1024 * kKiB;

export const kApiLimitsDefault: ApiLimitsFilled = Object.freeze({
  bodyBytesMax: 256 * kKiB,
  connectionsMax: 256,
  requestTimeoutMs: 10_000,
  headersTimeoutMs: 5_000,
  webSocketClientsMax: 64,
  webSocketBufferedBytesMax: kMiB,
});

/** Ranges a limit may take; outside them a setting is surely a mistake (units confused, a typo). */
const kRanges: Readonly<Record<keyof ApiLimitsFilled, readonly [number, number]>> = {
  bodyBytesMax: [1, 16 * kMiB],
  connectionsMax: [2, 65_536],
  requestTimeoutMs: [1, 600_000],
  headersTimeoutMs: [1, 600_000],
  webSocketClientsMax: [1, 65_535],
  webSocketBufferedBytesMax: [kKiB, 256 * kMiB],
};

/**
 * The limits with defaults filled in, validated with a message that names the option.
 * headersTimeoutMs defaults to the smaller of its default and requestTimeoutMs.
 */
export function fillApiLimits(limits: ApiLimits = {}): ApiLimitsFilled {
  for (const key of Object.keys(limits)) if (!(key in kRanges)) throw new ApiConfigError('GALAXY_API_LIMIT_INVALID', `limits.${key} is not a limit; known: ${Object.keys(kRanges).join(', ')}`);
  const requestTimeoutMs = limits.requestTimeoutMs ?? kApiLimitsDefault.requestTimeoutMs;
  const filled: ApiLimitsFilled = {
    ...kApiLimitsDefault,
    headersTimeoutMs: Math.min(kApiLimitsDefault.headersTimeoutMs, requestTimeoutMs),
    ...definedOnly(limits),
  };
  for (const key of Object.keys(kRanges) as Array<keyof ApiLimitsFilled>) {
    const value = filled[key];
    const [min, max] = kRanges[key];
    if (!Number.isSafeInteger(value) || value < min || value > max) throw new ApiConfigError('GALAXY_API_LIMIT_INVALID', `limits.${key} must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
  if (filled.headersTimeoutMs > filled.requestTimeoutMs) throw new ApiConfigError('GALAXY_API_LIMIT_INVALID', `limits.headersTimeoutMs (${filled.headersTimeoutMs}) must not exceed limits.requestTimeoutMs (${filled.requestTimeoutMs})`);
  if (filled.webSocketClientsMax >= filled.connectionsMax) throw new ApiConfigError('GALAXY_API_LIMIT_INVALID', `limits.webSocketClientsMax (${filled.webSocketClientsMax}) must be below limits.connectionsMax (${filled.connectionsMax}), or event-stream clients could take every connection`);
  return Object.freeze(filled);
}

function definedOnly(limits: ApiLimits): ApiLimits {
  return Object.fromEntries(Object.entries(limits).filter(([, value]) => value !== undefined));
}
