import type { ComponentToHost, RpcFailure } from './component-protocol.js';

/**
 * Bounds on everything that crosses the component boundary, and the pure checks that
 * enforce them. Both ends check: the SDK context throws when a component exceeds a bound
 * (a bug in the component, so it fails loudly where it happened), and the host drops and
 * counts whatever still arrives out of bounds (a component that bypasses the SDK and
 * writes to its IPC channel directly cannot flood the agent or the farm).
 *
 * Lengths of strings are in UTF-16 code units (what `.length` says); sizes of JSON
 * documents are the length of their JSON text; payloads are in bytes.
 */

/** Keys in one values message: a node's row of the per-node table stays small. */
export const kValuesKeysMax = 256;
/** Characters in a value's key. */
export const kValueKeyLengthMax = 64;
/** Characters in a string value. */
export const kValueStringLengthMax = 256;
/**
 * Bytes in one peer message. Peer messages ride farm gossip as user broadcasts, which
 * share datagrams with membership traffic; 1 KiB keeps one message well inside a datagram.
 */
export const kPeerPayloadBytesMax = 1024;
/** Characters in a farm event's type, e.g. "measurement.sample-failed". */
export const kEventTypeLengthMax = 64;
/** JSON length of a farm event's body. */
export const kEventBodyJsonLengthMax = 4096;
/** Characters in one log message from a component; longer ones are cut, not dropped, since their start is still useful. */
export const kLogMessageLengthMax = 2048;
/** Characters of an error text carried in a result or a fatal report. */
export const kErrorLengthMax = 4096;
/** JSON length of the record a component's status handler returns. */
export const kStatusJsonLengthMax = 16 * 1024;
/** JSON length of a component's configuration. */
export const kConfigJsonLengthMax = 64 * 1024;
/** Peers in one membership message: beyond the largest farm the membership table holds. */
export const kMembershipPeersMax = 65_536;

/**
 * Farm RPC services one component may serve. A component is one service with a few
 * entry points; dozens would mean it should be several components.
 */
export const kServicesPerComponentMax = 32;
/**
 * A farm RPC service name: 1 to 64 of a-z 0-9 . - starting with a letter, as farm RPC
 * frames carry it (src/farm/farm-rpc.ts). By convention `<component kind>.<verb>`.
 */
export const kRpcServicePattern = /^[a-z][a-z0-9.-]{0,63}$/;
/** Services under this prefix belong to the farm service itself (farm.members, ...); components cannot declare them. */
export const kFarmServicePrefix = 'farm.';
/**
 * Every prefix a component cannot declare services under: the farm service's own
 * (farm.*) and the installation service's (install.apply would let a component decide
 * what every node runs). The host refuses such a declaration, and the RPC bridge checks
 * again before anything reaches the farm.
 */
export const kReservedServicePrefixes: readonly string[] = Object.freeze([kFarmServicePrefix, 'install.']);

/** Why a component may not serve `service` (a reserved namespace), or null. */
export function reservedServiceProblem(service: string): string | null {
  const prefix = kReservedServicePrefixes.find((p) => service.startsWith(p));
  return prefix === undefined ? null : `service "${service}": names under "${prefix}" belong to the farm service`;
}
/** A node id as the farm names nodes: 16 lowercase hex digits. */
export const kRpcNodePattern = /^[0-9a-f]{16}$/;
/** An error code carried by a failed call: fastify style, GALAXY_AREA_WHAT. */
export const kRpcErrorCodePattern = /^[A-Z][A-Z0-9_]{0,63}$/;
/**
 * JSON length of one RPC body, call or answer. A quarter of what farm RPC frames carry
 * (kRpcBodyBytesMax), leaving room for multi-byte characters; a component moving more
 * than a megabyte at once should page (the event service's queries do).
 */
export const kRpcBodyJsonLengthMax = 1024 * 1024;
/**
 * Calls one component may have outstanding, and requests the host may have outstanding
 * to one component (its handlers running at once). Beyond either the call is refused
 * with GALAXY_RPC_BUSY at once rather than queued: the caller retries or sheds load,
 * and neither side holds an unbounded backlog for a component that fell behind.
 */
export const kRpcCallsInFlightMax = 256;
export const kRpcRequestsInFlightMax = 256;
/** Timeout of a call when its caller gives none, as farm RPC's own default. */
export const kRpcTimeoutMsDefault = 10_000;
/** The longest a call may be given; longer work should answer at once and report later. */
export const kRpcTimeoutMsMax = 10 * 60_000;
/**
 * How much longer the component waits for a result than the timeout it asked for. The
 * host times the call out itself and answers GALAXY_RPC_TIMEOUT; this backstop only
 * ends calls whose answer the host could not deliver.
 */
export const kRpcTimeoutGraceMs = 1000;

/** Why the host dropped a message from a component; each reason has a counter. */
export type ComponentDropReason = 'malformed' | 'oversized' | 'rateLimited' | 'unsolicited';

export type MessageCheck = { readonly ok: true; readonly message: ComponentToHost } | { readonly ok: false; readonly reason: 'malformed' | 'oversized'; readonly detail: string };

const kValueKeyPattern = /^[A-Za-z0-9_.:-]+$/;
const kSeverities: ReadonlySet<string> = new Set(['info', 'warning', 'error']);
const kLogLevels: ReadonlySet<string> = new Set(['debug', 'info', 'warn', 'error']);

/** A plain object: what a config, a values row, an event body or a status record must be. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/** Why `values` cannot be posted, or null. `oversized` tells a bound from a type error. */
export function valuesProblem(values: unknown): { oversized: boolean; detail: string } | null {
  if (!isPlainObject(values)) return { oversized: false, detail: 'values must be a plain object' };
  const keys = Object.keys(values);
  if (keys.length > kValuesKeysMax) return { oversized: true, detail: `values have ${keys.length} keys (at most ${kValuesKeysMax})` };
  for (const key of keys) {
    if (key.length > kValueKeyLengthMax) return { oversized: true, detail: `value key "${key.slice(0, 16)}…" is longer than ${kValueKeyLengthMax} characters` };
    if (!kValueKeyPattern.test(key)) return { oversized: false, detail: `value key "${key}" must match ${kValueKeyPattern}` };
    const value = values[key];
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) return { oversized: false, detail: `value "${key}" is not a finite number` };
    } else if (typeof value === 'string') {
      if (value.length > kValueStringLengthMax) return { oversized: true, detail: `value "${key}" is longer than ${kValueStringLengthMax} characters` };
    } else {
      return { oversized: false, detail: `value "${key}" must be a number or a string` };
    }
  }
  return null;
}

/** Why `payload` cannot be sent to peers, or null. */
export function peerPayloadProblem(payload: unknown): { oversized: boolean; detail: string } | null {
  if (!(payload instanceof Uint8Array)) return { oversized: false, detail: 'a peer payload must be a Uint8Array' };
  if (payload.length > kPeerPayloadBytesMax) return { oversized: true, detail: `peer payload of ${payload.length} bytes (at most ${kPeerPayloadBytesMax})` };
  return null;
}

/** Why `value` is not a plain JSON object of at most `lengthMax` characters of JSON, or null. */
export function jsonObjectProblem(value: unknown, lengthMax: number, what: string): { oversized: boolean; detail: string } | null {
  if (!isPlainObject(value)) return { oversized: false, detail: `${what} must be a plain object` };
  let json: string;
  try {
    json = JSON.stringify(value);
  } catch (error) {
    return { oversized: false, detail: `${what} is not JSON: ${(error as Error).message}` };
  }
  if (json.length > lengthMax) return { oversized: true, detail: `${what} is ${json.length} characters of JSON (at most ${lengthMax})` };
  return null;
}

/**
 * Why `value` is not a JSON value of at most `lengthMax` characters of JSON text, or
 * null. Returns the JSON text when it is one, since callers that normalise the value
 * (JSON.parse of it) need it anyway.
 */
export function jsonValueProblem(value: unknown, lengthMax: number, what: string): { oversized: boolean; detail: string } | { json: string } {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (error) {
    return { oversized: false, detail: `${what} is not JSON: ${(error as Error).message}` };
  }
  if (json === undefined) return { oversized: false, detail: `${what} is not JSON (${typeof value})` };
  if (json.length > lengthMax) return { oversized: true, detail: `${what} is ${json.length} characters of JSON (at most ${lengthMax})` };
  return { json };
}

/** Why `services` cannot be declared, or null: a list of distinct valid names, none in a reserved namespace (farm., install.). */
export function servicesProblem(services: unknown): { oversized: boolean; detail: string } | null {
  if (!Array.isArray(services)) return { oversized: false, detail: 'services must be an array of names' };
  if (services.length > kServicesPerComponentMax) return { oversized: true, detail: `${services.length} services (at most ${kServicesPerComponentMax})` };
  const seen = new Set<string>();
  for (const service of services) {
    const problem = serviceNameProblem(service);
    if (problem !== null) return { oversized: false, detail: problem };
    const reserved = reservedServiceProblem(service);
    if (reserved !== null) return { oversized: false, detail: reserved };
    if (seen.has(service)) return { oversized: false, detail: `service "${service}" is declared twice` };
    seen.add(service);
  }
  return null;
}

/** Why `service` is not a service name, or null. */
export function serviceNameProblem(service: unknown): string | null {
  if (typeof service !== 'string' || !kRpcServicePattern.test(service)) return `service name "${String(service).slice(0, 70)}" must be 1 to 64 of a-z 0-9 . - starting with a letter`;
  return null;
}

/** Why `timeoutMs` is not a call timeout, or null. */
export function rpcTimeoutProblem(timeoutMs: unknown): string | null {
  if (!Number.isSafeInteger(timeoutMs) || (timeoutMs as number) < 1 || (timeoutMs as number) > kRpcTimeoutMsMax) return `an RPC timeout must be an integer from 1 to ${kRpcTimeoutMsMax} ms`;
  return null;
}

/** A failure as it may cross the boundary: a code of the right shape and a bounded message, or null. */
export function asRpcFailure(value: unknown): RpcFailure | null {
  if (!isPlainObject(value) || typeof value['code'] !== 'string' || !kRpcErrorCodePattern.test(value['code']) || typeof value['message'] !== 'string') return null;
  return { code: value['code'], message: cut(value['message'], kErrorLengthMax) };
}

/** Why a farm event cannot be raised, or null. */
export function eventProblem(eventType: unknown, severity: unknown, body: unknown): { oversized: boolean; detail: string } | null {
  if (typeof eventType !== 'string' || eventType.length === 0) return { oversized: false, detail: 'an event type must be a non-empty string' };
  if (eventType.length > kEventTypeLengthMax) return { oversized: true, detail: `event type longer than ${kEventTypeLengthMax} characters` };
  if (typeof severity !== 'string' || !kSeverities.has(severity)) return { oversized: false, detail: 'an event severity must be info, warning or error' };
  return jsonObjectProblem(body, kEventBodyJsonLengthMax, 'an event body');
}

function refuse(problem: { oversized: boolean; detail: string }): MessageCheck {
  return { ok: false, reason: problem.oversized ? 'oversized' : 'malformed', detail: problem.detail };
}

function malformed(detail: string): MessageCheck {
  return { ok: false, reason: 'malformed', detail };
}

/**
 * Checks one message a component process sent the host: its shape and its bounds. Log
 * messages and error texts longer than their bound are cut rather than refused.
 */
export function checkComponentMessage(message: unknown): MessageCheck {
  if (!isPlainObject(message) || typeof message['type'] !== 'string') return malformed('not an object with a type');
  const m = message;
  switch (m['type']) {
    case 'result': {
      if (!Number.isSafeInteger(m['seq']) || typeof m['ok'] !== 'boolean') return malformed('a result needs an integer seq and a boolean ok');
      if (m['error'] !== undefined && typeof m['error'] !== 'string') return malformed('a result error must be a string');
      if (m['status'] !== undefined) {
        const problem = jsonObjectProblem(m['status'], kStatusJsonLengthMax, 'a status record');
        if (problem !== null) return refuse(problem);
      }
      const error = m['error'] === undefined ? undefined : cut(m['error'] as string, kErrorLengthMax);
      return { ok: true, message: { type: 'result', seq: m['seq'] as number, ok: m['ok'] as boolean, error, status: m['status'] as Record<string, unknown> | undefined } };
    }
    case 'values': {
      const problem = valuesProblem(m['values']);
      if (problem !== null) return refuse(problem);
      return { ok: true, message: { type: 'values', values: m['values'] as Record<string, number | string> } };
    }
    case 'event': {
      const problem = eventProblem(m['eventType'], m['severity'], m['body']);
      if (problem !== null) return refuse(problem);
      return { ok: true, message: { type: 'event', eventType: m['eventType'] as string, severity: m['severity'] as 'info' | 'warning' | 'error', body: m['body'] as Record<string, unknown> } };
    }
    case 'peer-send': {
      const problem = peerPayloadProblem(m['payload']);
      if (problem !== null) return refuse(problem);
      return { ok: true, message: { type: 'peer-send', payload: m['payload'] as Uint8Array } };
    }
    case 'log': {
      if (typeof m['level'] !== 'string' || !kLogLevels.has(m['level']) || typeof m['message'] !== 'string') return malformed('a log needs a level and a string message');
      return { ok: true, message: { type: 'log', level: m['level'] as 'debug' | 'info' | 'warn' | 'error', message: cut(m['message'], kLogMessageLengthMax) } };
    }
    case 'fatal': {
      if (typeof m['error'] !== 'string') return malformed('a fatal report needs a string error');
      if (m['stack'] !== undefined && typeof m['stack'] !== 'string') return malformed('a fatal report\'s stack must be a string');
      const stack = m['stack'] === undefined ? undefined : cut(m['stack'], kErrorLengthMax);
      return { ok: true, message: { type: 'fatal', error: cut(m['error'], kErrorLengthMax), ...(stack === undefined ? {} : { stack }) } };
    }
    case 'rpc-serve': {
      const problem = servicesProblem(m['services']);
      if (problem !== null) return refuse(problem);
      return { ok: true, message: { type: 'rpc-serve', services: [...(m['services'] as string[])] } };
    }
    case 'rpc-call': {
      if (!Number.isSafeInteger(m['callId'])) return malformed('an rpc-call needs an integer callId');
      if (typeof m['node'] !== 'string' || !kRpcNodePattern.test(m['node'])) return malformed('an rpc-call needs a node id of 16 hex digits');
      const serviceProblem = serviceNameProblem(m['service']);
      if (serviceProblem !== null) return malformed(serviceProblem);
      const timeoutProblem = rpcTimeoutProblem(m['timeoutMs']);
      if (timeoutProblem !== null) return malformed(timeoutProblem);
      const body = jsonValueProblem(m['body'], kRpcBodyJsonLengthMax, 'an rpc-call body');
      if (!('json' in body)) return refuse(body);
      return { ok: true, message: { type: 'rpc-call', callId: m['callId'] as number, node: m['node'], service: m['service'] as string, body: m['body'], timeoutMs: m['timeoutMs'] as number } };
    }
    case 'rpc-answer': {
      if (!Number.isSafeInteger(m['requestId']) || typeof m['ok'] !== 'boolean') return malformed('an rpc-answer needs an integer requestId and a boolean ok');
      if (m['ok'] === false) {
        const error = asRpcFailure(m['error']);
        if (error === null) return malformed('a failed rpc-answer needs an error with a GALAXY_ style code and a message');
        return { ok: true, message: { type: 'rpc-answer', requestId: m['requestId'] as number, ok: false, error } };
      }
      const body = jsonValueProblem(m['body'] ?? null, kRpcBodyJsonLengthMax, 'an rpc-answer body');
      if (!('json' in body)) return refuse(body);
      return { ok: true, message: { type: 'rpc-answer', requestId: m['requestId'] as number, ok: true, body: m['body'] ?? null } };
    }
    default:
      return malformed(`unknown message type "${String(m['type']).slice(0, 32)}"`);
  }
}

function cut(text: string, lengthMax: number): string {
  return text.length <= lengthMax ? text : `${text.slice(0, lengthMax - 1)}…`;
}
