import { ComponentError } from './host/component-error.js';
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
 * crash without harming the agent; the host restarts it. Handlers are called one at a
 * time, in the order the host sent the messages, and never re-entered: a handler that
 * awaits holds back the next message. Every handler is optional.
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
  readonly log: ComponentLog;
}

const kHandlerNames: ReadonlySet<string> = new Set(['init', 'start', 'stop', 'configure', 'membership', 'peer', 'status']);

/**
 * Checks that `value` is a component definition: an object whose own properties are all
 * known handlers, each a function. An unknown name is refused because it is most likely
 * a typo ("stat" for "status") that would otherwise be silently never called.
 */
export function asComponentDefinition(value: unknown): ComponentDefinition {
  if (typeof value !== 'object' || value === null) throw new ComponentError('GALAXY_COMPONENT_BAD_DEFINITION', 'a component definition must be an object (the module\'s default export)');
  for (const [key, handler] of Object.entries(value)) {
    if (!kHandlerNames.has(key)) throw new ComponentError('GALAXY_COMPONENT_BAD_DEFINITION', `unknown component handler "${key}" (known: ${[...kHandlerNames].join(', ')})`);
    if (handler !== undefined && typeof handler !== 'function') throw new ComponentError('GALAXY_COMPONENT_BAD_DEFINITION', `component handler "${key}" must be a function`);
  }
  return value as ComponentDefinition;
}

/** Declares a component: checks the definition and freezes it. Use as the module's default export. */
export function defineComponent<T extends ComponentDefinition>(definition: T): Readonly<T> {
  asComponentDefinition(definition);
  return Object.freeze(definition);
}
