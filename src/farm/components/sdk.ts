import { ComponentError } from './host/component-error.js';
import { isPlainObject, servicesProblem } from './host/component-limits.js';
import type { ComponentPeer } from './host/component-protocol.js';

export type { ComponentPeer } from './host/component-protocol.js';

/**
 * What a farm service component is written against (Galaxy paper, section 6: "Farm
 * service component must implement a service control interface used by the farm service
 * process to control the service components and to establish a communication mechanism
 * for components to communicate or exchange state").
 *
 * A component is an ES module whose default export is a definition:
 *
 *     export default defineComponent({
 *       async init(ctx) { ... },      // read ctx.config, open files under ctx.stateDir
 *       start(ctx) { ... },           // begin work: timers, sockets
 *       stop(ctx) { ... },            // end it; the process exits after
 *       configure(config, ctx) { ... } // throw to refuse; the caller gets the error
 *     });
 *
 * It runs in a child process of its own (see ComponentHost), so it may block, leak or
 * crash without harming the agent; the host restarts it. Lifecycle handlers (all but
 * `services`) are called one at a time, in the order the host sent the messages, and
 * never re-entered: a handler that awaits holds back the next message. Every handler is
 * optional.
 *
 * Farm RPC: `services` names the requests this component serves to the whole farm
 * (`'events.store': (body, from, ctx) => ...`), and `ctx.call` asks any node's services,
 * this node's included. Service handlers are NOT serialised like lifecycle handlers:
 * they run as requests arrive, concurrently with each other and with a lifecycle handler
 * that is awaiting (at most kRpcRequestsInFlightMax at once; more are refused with
 * GALAXY_RPC_BUSY). A lifecycle handler may itself await ctx.call, even of its own
 * services. The services are offered once start has succeeded and withdrawn when the
 * component stops or crashes; a handler may still be finishing while stop runs.
 */
export interface ComponentDefinition {
  /** Once per process, before start; throwing fails the start (the host retries with backoff). */
  init?(ctx: ComponentContext): void | Promise<void>;
  /** Throwing fails the start, like init. */
  start?(ctx: ComponentContext): void | Promise<void>;
  /** Graceful stop; the process exits after it (timers left running are cut short). */
  stop?(ctx: ComponentContext): void | Promise<void>;
  /**
   * A new configuration at runtime. Throwing refuses it: the error message goes back to
   * whoever asked (an operator through the API) and ctx.config keeps the old one. Without
   * this handler every configuration is accepted and the component sees it in ctx.config.
   */
  configure?(config: Readonly<Record<string, unknown>>, ctx: ComponentContext): void | Promise<void>;
  /** Where the peers of this component's kind are active on other nodes; sent after start and on every change. */
  membership?(peers: readonly ComponentPeer[], ctx: ComponentContext): void | Promise<void>;
  /** A message from a peer of the same kind on another node ('' when the farm does not know the sender). */
  peer?(from: string, payload: Uint8Array, ctx: ComponentContext): void | Promise<void>;
  /** Component-specific status for operators; also the host's liveness probe, so keep it cheap. */
  status?(ctx: ComponentContext): Readonly<Record<string, unknown>> | void | Promise<Readonly<Record<string, unknown>> | void>;
  /**
   * Farm RPC services this component serves, by name (1 to 64 of a-z 0-9 . - starting
   * with a letter, at most kServicesPerComponentMax, none under "farm." or "install."): any node's
   * components, and the agent itself, call them through ctx.call. A handler gets the
   * request's JSON body and the calling node, and returns the answer's body (JSON, at
   * most kRpcBodyJsonLengthMax characters) or throws; an error's `code` (GALAXY_...)
   * reaches the caller, else GALAXY_RPC_HANDLER. Handlers run concurrently: see above.
   * Delivery is at least once across the farm (farm RPC resends until answered and
   * answers a resent request from memory), so a handler with effects should make them
   * idempotent by an id in the body when a duplicate would matter.
   */
  services?: Readonly<Record<string, ServiceHandler>>;
}

/** Serves one farm RPC service; `from.node` is the calling node's id (this node's own for local callers). */
export type ServiceHandler = (body: unknown, from: { readonly node: string }, ctx: ComponentContext) => unknown | Promise<unknown>;

/** Options of one ctx.call. */
export interface CallOptions {
  /** How long to wait for the answer, 1 ms to kRpcTimeoutMsMax (default kRpcTimeoutMsDefault, 10 s). */
  readonly timeoutMs?: number;
}

export interface ComponentLog {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/**
 * The component's view of the farm service. The posting functions check the IPC bounds
 * (component-limits.ts) and throw ComponentError GALAXY_COMPONENT_LIMIT when exceeded.
 */
export interface ComponentContext {
  readonly name: string;
  readonly kind: string;
  readonly nodeId: string;
  /** A directory that is the component's alone, kept across restarts; also its working directory. */
  readonly stateDir: string;
  /** The configuration in force: the one given at init, then each one the component accepted. */
  readonly config: Readonly<Record<string, unknown>>;
  /** Dynamic values for this node's row of the farm information table (flat key -> number | string). */
  postValues(values: Readonly<Record<string, number | string>>): void;
  /** A farm event, carried farm-wide by the event service. */
  raise(eventType: string, severity: 'info' | 'warning' | 'error', body?: Readonly<Record<string, unknown>>): void;
  /** A message to every peer of the same kind, carried by farm gossip (at most kPeerPayloadBytesMax bytes). */
  sendPeers(payload: Uint8Array): void;
  /**
   * Calls `service` on `node` (16 hex digits; ctx.nodeId for this node, whose components'
   * services are reached without the network, and where the farm service answers the
   * farm.* services: farm.members, farm.resolve, farm.values). Resolves with the answer's
   * body (JSON). Rejects with a ComponentRpcError whose `code` says why: GALAXY_RPC_TIMEOUT,
   * GALAXY_RPC_UNKNOWN_SERVICE, GALAXY_RPC_TOO_LARGE (body beyond kRpcBodyJsonLengthMax),
   * GALAXY_RPC_BUSY (kRpcCallsInFlightMax outstanding), GALAXY_RPC_BAD_REQUEST, or the
   * remote handler's own code. The body is sent as JSON, so the callee sees what
   * JSON.parse(JSON.stringify(body)) gives, wherever it runs.
   */
  call(node: string, service: string, body: unknown, options?: CallOptions): Promise<unknown>;
  readonly log: ComponentLog;
}

const kHandlerNames: ReadonlySet<string> = new Set(['init', 'start', 'stop', 'configure', 'membership', 'peer', 'status']);

/**
 * Checks that `value` is a component definition: an object whose own properties are all
 * known handlers, each a function, and optionally `services`, a plain object of service
 * handlers with valid names. An unknown name is refused because it is most likely a typo
 * ("stat" for "status") that would otherwise be silently never called.
 */
export function asComponentDefinition(value: unknown): ComponentDefinition {
  if (typeof value !== 'object' || value === null) bad('a component definition must be an object (the module\'s default export)');
  for (const [key, handler] of Object.entries(value)) {
    if (key === 'services') {
      checkServices(handler);
      continue;
    }
    if (!kHandlerNames.has(key)) bad(`unknown component handler "${key}" (known: ${[...kHandlerNames].join(', ')}, services)`);
    if (handler !== undefined && typeof handler !== 'function') bad(`component handler "${key}" must be a function`);
  }
  return value as ComponentDefinition;
}

function checkServices(services: unknown): void {
  if (services === undefined) return;
  if (!isPlainObject(services)) bad('services must be a plain object of service handlers');
  const problem = servicesProblem(Object.keys(services));
  if (problem !== null) bad(problem.detail);
  for (const [name, handler] of Object.entries(services)) if (typeof handler !== 'function') bad(`service "${name}" must be a function`);
}

function bad(message: string): never {
  throw new ComponentError('GALAXY_COMPONENT_BAD_DEFINITION', message);
}

/** Declares a component: checks the definition and freezes it. Use as the module's default export. */
export function defineComponent<T extends ComponentDefinition>(definition: T): Readonly<T> {
  asComponentDefinition(definition);
  return Object.freeze(definition);
}
