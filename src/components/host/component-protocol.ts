/**
 * The service control interface between the component host (in the agent process) and
 * one component (in a child process of its own). Messages go over the child's IPC
 * channel. The host drives: init, start, stop, configure, membership, peer; the
 * component answers each with a result, and may post values, events and peer messages.
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

export type HostToComponent =
  | { readonly type: 'init'; readonly seq: number; readonly init: ComponentInit }
  | { readonly type: 'start'; readonly seq: number }
  | { readonly type: 'stop'; readonly seq: number }
  | { readonly type: 'status'; readonly seq: number }
  | { readonly type: 'configure'; readonly seq: number; readonly config: Readonly<Record<string, unknown>> }
  | { readonly type: 'membership'; readonly peers: readonly ComponentPeer[] }
  | { readonly type: 'peer'; readonly from: string; readonly payload: Uint8Array };

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
  | { readonly type: 'fatal'; readonly error: string; readonly stack?: string };

/** The runner's exit code after an uncaught error in the component (BSD EX_SOFTWARE). */
export const kRunnerExitUncaught = 70;
/** The runner's exit code when it was started without an IPC channel or module path (EX_USAGE). */
export const kRunnerExitUsage = 64;
