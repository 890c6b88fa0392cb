import type { ComponentPeer } from './component-protocol.js';

export type { ComponentPeer };

/** What a component's lifecycle event says happened. */
export type ComponentEventType = 'started' | 'stopped' | 'crashed' | 'restarting' | 'failed' | 'configured';

/** The 'component' event of ComponentHost: one lifecycle change of one component. */
export interface ComponentLifecycleEvent {
  readonly name: string;
  readonly kind: string;
  readonly type: ComponentEventType;
  /** ISO 8601 time of the change. */
  readonly at: string;
  readonly detail: {
    /** The process's exit code, when it exited (crashed, stopped). */
    readonly exitCode: number | null;
    /** The signal that ended the process, when one did. */
    readonly signal: string | null;
    /** Why it crashed or failed: the component's own error when it reported one. */
    readonly error: string | null;
    /** Restarts so far; on 'restarting', the number this restart will be. */
    readonly restarts: number;
    /** On 'restarting': the backoff delay before the restart. */
    readonly delayMs: number | null;
  };
}

/** The 'event' event of ComponentHost: a farm event a component raised. */
export interface ComponentFarmEvent {
  readonly eventType: string;
  readonly severity: 'info' | 'warning' | 'error';
  readonly body: Readonly<Record<string, unknown>>;
}

/** A farm RPC call a component made: the 'rpc-call' event of ComponentHost. */
export interface ComponentRpcCall {
  /** The node to call (16 hex digits; may be this node). */
  readonly node: string;
  readonly service: string;
  /** A JSON value, checked against kRpcBodyJsonLengthMax. */
  readonly body: unknown;
  readonly timeoutMs: number;
}

/** How a call ended: the answer's body, or a stable code and a message. */
export type ComponentRpcOutcome = { readonly ok: true; readonly body: unknown } | { readonly ok: false; readonly code: string; readonly message: string };

/** Answers a component's call; only the first answer counts (a later one, or one after the timeout, is ignored). */
export type ComponentRpcReply = (outcome: ComponentRpcOutcome) => void;

export interface ComponentHostEvents {
  component: [ComponentLifecycleEvent];
  /** A component posted values for this node's row (component name, values). */
  values: [string, Readonly<Record<string, number | string>>];
  /** A component raised a farm event (component name, event). */
  event: [string, ComponentFarmEvent];
  /** A component sent a message to its peers on other nodes (kind, payload); the farm service carries it. */
  'peer-send': [string, Uint8Array];
  /**
   * The farm RPC services a component serves (component name, services): once it runs
   * with services declared, and [] when it stops or crashes (also between restarts).
   */
  services: [string, readonly string[]];
  /**
   * A component calls a farm RPC service (component name, call, reply). The listener
   * carries it (component-rpc-bridge.ts) and calls `reply` once; the host times the call
   * out itself. With no listener the call fails at once with GALAXY_RPC_UNAVAILABLE.
   */
  'rpc-call': [string, ComponentRpcCall, ComponentRpcReply];
}

/** Per component counts of what went wrong, for metrics and for tests. */
export interface ComponentCounters {
  readonly name: string;
  /** Crashes: exits not asked for, failed starts, unresponsive kills. */
  readonly crashes: number;
  /** Control messages not answered in time (each ends in a kill). */
  readonly unresponsive: number;
  /** Messages from the component dropped, by reason. */
  readonly dropped: { readonly malformed: number; readonly oversized: number; readonly rateLimited: number; readonly unsolicited: number };
  /** Peer messages for the component dropped: not running, oversized, or its IPC backlog full. */
  readonly peerDropped: number;
  /** stdout/stderr lines beyond the rate bound, not logged. */
  readonly outputLinesDropped: number;
  /** Errors thrown by the host's own listeners while handling this component's messages. */
  readonly listenerErrors: number;
  /** Farm RPC: calls the component made, requests delivered to it, and of both those refused or timed out. */
  readonly rpc: { readonly calls: number; readonly requests: number; readonly refused: number; readonly timeouts: number };
}

/** How a supervisor reports to its host. */
export interface ComponentSink {
  lifecycle(event: ComponentLifecycleEvent): void;
  values(name: string, values: Readonly<Record<string, number | string>>): void;
  farmEvent(name: string, event: ComponentFarmEvent): void;
  peerSend(kind: string, payload: Uint8Array): void;
  services(name: string, services: readonly string[]): void;
  rpcCall(name: string, call: ComponentRpcCall, reply: ComponentRpcReply): void;
}
