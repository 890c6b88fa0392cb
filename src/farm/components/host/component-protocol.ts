/**
 * The service control interface between the component host (in the agent process) and
 * one component (in a child process of its own). Messages go over the child's IPC
 * channel. The host drives: init, start, stop, configure, membership, peer; the
 * component answers each with a result, and may post values, events and peer messages.
 *
 * Farm RPC rides the same channel, in both directions and independently of the control
 * messages: a component declares the services it serves ('rpc-serve', once per process,
 * after its start handler succeeded), calls services anywhere in the farm ('rpc-call',
 * answered by 'rpc-result' with the same callId), and is asked for its own services
 * ('rpc-request', answered by 'rpc-answer' with the same requestId). Bodies are JSON
 * values of at most kRpcBodyJsonLengthMax characters (component-limits.ts).
 */

/** Where the component's peers (same kind, other nodes) are active. */
export interface ComponentPeer {
  readonly id: string;
  readonly address: string;
  readonly status: 'alive' | 'suspect';
}

export interface ComponentInit {
  readonly name: string;
  readonly kind: string;
  readonly nodeId: string;
  /** A directory the component may keep state in (created by the host). */
  readonly stateDir: string;
  readonly config: Readonly<Record<string, unknown>>;
}

/** A failed farm RPC as it crosses the boundary: a stable code and a message for people. */
export interface RpcFailure {
  /** e.g. GALAXY_RPC_TIMEOUT, GALAXY_RPC_UNKNOWN_SERVICE, or the remote handler's own code. */
  readonly code: string;
  readonly message: string;
}

export type HostToComponent =
  | { readonly type: 'init'; readonly seq: number; readonly init: ComponentInit }
  | { readonly type: 'start'; readonly seq: number }
  | { readonly type: 'stop'; readonly seq: number }
  | { readonly type: 'status'; readonly seq: number }
  | { readonly type: 'configure'; readonly seq: number; readonly config: Readonly<Record<string, unknown>> }
  | { readonly type: 'membership'; readonly peers: readonly ComponentPeer[] }
  | { readonly type: 'peer'; readonly from: string; readonly payload: Uint8Array }
  /** The outcome of the component's 'rpc-call' of the same callId: `body` when ok, else `error`. */
  | { readonly type: 'rpc-result'; readonly callId: number; readonly ok: boolean; readonly body?: unknown; readonly error?: RpcFailure }
  /** A call of one of the component's services; `from` is the calling node's id (this node's own for local callers). */
  | { readonly type: 'rpc-request'; readonly requestId: number; readonly service: string; readonly from: string; readonly body: unknown };

export type ComponentToHost =
  | { readonly type: 'result'; readonly seq: number; readonly ok: boolean; readonly error?: string; readonly status?: Readonly<Record<string, unknown>> }
  /** Dynamic values for this node's row of the per-node table (flat key -> number | string). */
  | { readonly type: 'values'; readonly values: Readonly<Record<string, number | string>> }
  /** A farm event raised by the component (the event service will carry it farm-wide). */
  | { readonly type: 'event'; readonly eventType: string; readonly severity: 'info' | 'warning' | 'error'; readonly body: Readonly<Record<string, unknown>> }
  /** A message to every peer of the same kind (bounded; carried by the farm service). */
  | { readonly type: 'peer-send'; readonly payload: Uint8Array }
  | { readonly type: 'log'; readonly level: 'debug' | 'info' | 'warn' | 'error'; readonly message: string }
  /**
   * The component threw where nobody could catch it (a timer, an unhandled rejection);
   * the runner sends this, then exits with kRunnerExitUncaught, so the host can report
   * the error itself rather than only an exit code.
   */
  | { readonly type: 'fatal'; readonly error: string; readonly stack?: string }
  /** The farm RPC services the component serves; sent once per process, after its start succeeded. */
  | { readonly type: 'rpc-serve'; readonly services: readonly string[] }
  /** A call of `service` on the node `node` (16 hex digits, this node's own included). */
  | { readonly type: 'rpc-call'; readonly callId: number; readonly node: string; readonly service: string; readonly body: unknown; readonly timeoutMs: number }
  /** The answer to the host's 'rpc-request' of the same requestId: `body` when ok, else `error`. */
  | { readonly type: 'rpc-answer'; readonly requestId: number; readonly ok: boolean; readonly body?: unknown; readonly error?: RpcFailure };

/** The runner's exit code after an uncaught error in the component (BSD EX_SOFTWARE). */
export const kRunnerExitUncaught = 70;
/** The runner's exit code when it was started without an IPC channel or module path (EX_USAGE). */
export const kRunnerExitUsage = 64;
