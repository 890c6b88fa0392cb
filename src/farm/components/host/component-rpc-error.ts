import { CodedError } from '../../../core/util/coded-error.js';

/**
 * Codes of the farm RPC failures the component layer itself produces. A call can also
 * fail with any code the remote handler chose (GALAXY_EVENTS_..., GALAXY_JOBS_...) or
 * farm RPC's own (GALAXY_RPC_CLOSED, ...): those pass through unchanged, which is why
 * ComponentRpcError's code is a string and not this union alone.
 */
export const kComponentRpcErrorCodes = [
  /** A node id, service name, timeout or body that is not what a call needs. */
  'GALAXY_RPC_BAD_REQUEST',
  /** A body beyond kRpcBodyJsonLengthMax characters of JSON. */
  'GALAXY_RPC_TOO_LARGE',
  /** Too many calls or requests in flight for one component (kRpcCallsInFlightMax, kRpcRequestsInFlightMax). */
  'GALAXY_RPC_BUSY',
  /** No answer within the call's timeout. */
  'GALAXY_RPC_TIMEOUT',
  /** Nobody serves that service (on that node, or in that component). */
  'GALAXY_RPC_UNKNOWN_SERVICE',
  /** The component serving it is not running, or exited while handling the request. */
  'GALAXY_RPC_NOT_RUNNING',
  /** No farm is connected to the component host to carry the call. */
  'GALAXY_RPC_UNAVAILABLE',
  /** A service handler threw an error without a code of its own, or returned what is not JSON. */
  'GALAXY_RPC_HANDLER',
] as const;

export type ComponentRpcErrorCode = (typeof kComponentRpcErrorCodes)[number];

/** How a farm RPC call fails for a component or a host caller: `code` is stable, `message` is for people. */
export class ComponentRpcError extends CodedError<ComponentRpcErrorCode | (string & {})> {}
