import { asComponentDefinition, type CallOptions, type ComponentContext, type ComponentDefinition, type ComponentLog } from '../sdk.js';
import { ComponentError, errorText } from './component-error.js';
import { eventProblem, isPlainObject, jsonObjectProblem, kErrorLengthMax, kLogMessageLengthMax, kStatusJsonLengthMax, peerPayloadProblem, valuesProblem } from './component-limits.js';
import type { ComponentInit, ComponentToHost, HostToComponent } from './component-protocol.js';
import { ComponentRpcEndpoint } from './component-rpc-endpoint.js';

/**
 * The component's side of the service control interface, without the process around it
 * (workers/component-runner.ts wires it to process IPC), so it is tested in-process.
 *
 * Messages are handled one at a time in arrival order, so a component never sees a
 * configure before its start has finished, nor two handlers at once. Control messages
 * (init, start, stop, configure, status) are always queued: the host has few outstanding
 * and times each out. Peer and membership messages beyond kRuntimeQueueMax waiting are
 * dropped, since a component slow to take them would otherwise grow without bound.
 * Farm RPC messages (rpc-result, rpc-request) bypass the queue: see ComponentRpcEndpoint.
 */
export const kRuntimeQueueMax = 1024;

export type RuntimeSend = (message: ComponentToHost) => void;
/** Imports the component's module; resolves to its namespace. */
export type ModuleLoader = () => Promise<unknown>;

const kControlTypes: ReadonlySet<string> = new Set(['init', 'start', 'stop', 'status', 'configure']);

export class ComponentRuntime {
  private definition: ComponentDefinition | null = null;
  private context: RuntimeContext | null = null;
  private readonly queue: HostToComponent[] = [];
  private draining = false;
  private readonly rpc: ComponentRpcEndpoint;
  /** Peer and membership messages dropped because the queue was full. */
  droppedMessages = 0;

  constructor(
    private readonly send: RuntimeSend,
    private readonly load: ModuleLoader,
  ) {
    this.rpc = new ComponentRpcEndpoint(send);
  }

  /** Takes one message from the host; never throws. */
  receive(message: unknown): void {
    if (!isHostMessage(message)) {
      this.log('warn', 'the component runtime ignored a malformed message from the host');
      return;
    }
    if (message.type === 'rpc-result') {
      this.rpc.result(message);
      return;
    }
    if (message.type === 'rpc-request') {
      void this.rpc.serve(message, this.definition, this.context);
      return;
    }
    if (!kControlTypes.has(message.type) && this.queue.length >= kRuntimeQueueMax) {
      this.droppedMessages++;
      // Every power of two: the host learns of the backlog without a log line per message.
      if ((this.droppedMessages & (this.droppedMessages - 1)) === 0) this.log('warn', `component is slow: ${this.droppedMessages} peer/membership messages dropped so far`);
      return;
    }
    this.queue.push(message);
    if (!this.draining) void this.drain();
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      for (let message = this.queue.shift(); message !== undefined; message = this.queue.shift()) await this.handle(message);
    } finally {
      this.draining = false;
    }
  }

  private handle(message: HostToComponent): Promise<void> {
    switch (message.type) {
      case 'init':
        return this.answer(message.seq, () => this.init(message.init));
      case 'start':
        return this.answer(message.seq, async () => {
          const { definition, context } = this.initialised();
          await definition.start?.(context);
          // Before the start's result, so the host knows the services once it sees the component running.
          const services = Object.keys(definition.services ?? {});
          if (services.length > 0) this.send({ type: 'rpc-serve', services });
        });
      case 'stop':
        return this.answer(message.seq, async () => {
          const { definition, context } = this.initialised();
          await definition.stop?.(context);
        });
      case 'configure':
        return this.answer(message.seq, async () => {
          const { definition, context } = this.initialised();
          const config = Object.freeze({ ...message.config });
          await definition.configure?.(config, context);
          context.config = config;
        });
      case 'status':
        return this.answer(message.seq, async () => {
          const { definition, context } = this.initialised();
          const status = (await definition.status?.(context)) ?? {};
          const problem = jsonObjectProblem(status, kStatusJsonLengthMax, 'the status handler\'s result');
          if (problem !== null) throw new ComponentError('GALAXY_COMPONENT_LIMIT', problem.detail);
          return status;
        });
      case 'membership':
        return this.notify('membership', (definition, context) => definition.membership?.(message.peers, context));
      case 'peer':
        return this.notify('peer', (definition, context) => definition.peer?.(message.from, message.payload, context));
      case 'rpc-result':
      case 'rpc-request':
        // Taken in receive(), never queued.
        return Promise.resolve();
    }
  }

  private async init(init: ComponentInit): Promise<void> {
    if (this.definition !== null) throw new ComponentError('GALAXY_COMPONENT_FAILED', 'the component was initialised already');
    const namespace = await this.load();
    const definition = asComponentDefinition((namespace as { default?: unknown } | null)?.default);
    const context = new RuntimeContext(init, this.send, this.rpc);
    this.definition = definition;
    this.context = context;
    await definition.init?.(context);
  }

  private initialised(): { definition: ComponentDefinition; context: RuntimeContext } {
    if (this.definition === null || this.context === null) throw new ComponentError('GALAXY_COMPONENT_FAILED', 'the component is not initialised');
    return { definition: this.definition, context: this.context };
  }

  /** Runs a control handler and answers with its outcome: the host waits for every answer. */
  private async answer(seq: number, work: () => Promise<Readonly<Record<string, unknown>> | void>): Promise<void> {
    let status: Readonly<Record<string, unknown>> | void;
    try {
      status = await work();
    } catch (error) {
      this.send({ type: 'result', seq, ok: false, error: errorText(error, kErrorLengthMax) });
      return;
    }
    try {
      this.send(status === undefined ? { type: 'result', seq, ok: true } : { type: 'result', seq, ok: true, status });
    } catch (error) {
      // A status record that structured clone refuses (a function inside, say).
      this.send({ type: 'result', seq, ok: false, error: errorText(error, kErrorLengthMax) });
    }
  }

  /**
   * Runs a notification handler. Its errors are logged, not fatal: peer payloads come
   * from other nodes, and one malformed message from afar must not restart every
   * component of its kind in the farm.
   */
  private async notify(what: string, work: (definition: ComponentDefinition, context: ComponentContext) => void | Promise<void>): Promise<void> {
    if (this.definition === null || this.context === null) return;
    try {
      await work(this.definition, this.context);
    } catch (error) {
      this.log('error', `the ${what} handler threw: ${errorText(error)}`);
    }
  }

  private log(level: 'debug' | 'info' | 'warn' | 'error', message: string): void {
    try {
      this.send({ type: 'log', level, message });
    } catch {
      // The channel is gone; the runner exits on its own.
    }
  }
}

function limit(problem: { detail: string } | null): void {
  if (problem !== null) throw new ComponentError('GALAXY_COMPONENT_LIMIT', problem.detail);
}

/** The ComponentContext handed to the definition's handlers. */
class RuntimeContext implements ComponentContext {
  readonly name: string;
  readonly kind: string;
  readonly nodeId: string;
  readonly stateDir: string;
  config: Readonly<Record<string, unknown>>;
  readonly log: ComponentLog;

  constructor(
    init: ComponentInit,
    private readonly send: RuntimeSend,
    private readonly rpc: ComponentRpcEndpoint,
  ) {
    this.name = init.name;
    this.kind = init.kind;
    this.nodeId = init.nodeId;
    this.stateDir = init.stateDir;
    this.config = Object.freeze({ ...init.config });
    const line = (level: 'debug' | 'info' | 'warn' | 'error') => (message: string) => {
      const text = String(message);
      send({ type: 'log', level, message: text.length <= kLogMessageLengthMax ? text : `${text.slice(0, kLogMessageLengthMax - 1)}…` });
    };
    this.log = Object.freeze({ debug: line('debug'), info: line('info'), warn: line('warn'), error: line('error') });
  }

  postValues(values: Readonly<Record<string, number | string>>): void {
    limit(valuesProblem(values));
    this.send({ type: 'values', values: { ...values } });
  }

  raise(eventType: string, severity: 'info' | 'warning' | 'error', body: Readonly<Record<string, unknown>> = {}): void {
    limit(eventProblem(eventType, severity, body));
    this.send({ type: 'event', eventType, severity, body });
  }

  sendPeers(payload: Uint8Array): void {
    limit(peerPayloadProblem(payload));
    this.send({ type: 'peer-send', payload });
  }

  call(node: string, service: string, body: unknown, options?: CallOptions): Promise<unknown> {
    return this.rpc.call(node, service, body, options);
  }
}

/** The shape check of what the host sends: cheap, since the host is trusted; it guards against a runner/host version mismatch. */
function isHostMessage(message: unknown): message is HostToComponent {
  if (!isPlainObject(message) || typeof message['type'] !== 'string') return false;
  switch (message['type']) {
    case 'init':
      return Number.isSafeInteger(message['seq']) && isPlainObject(message['init']) && isPlainObject(message['init']['config']);
    case 'start':
    case 'stop':
    case 'status':
      return Number.isSafeInteger(message['seq']);
    case 'configure':
      return Number.isSafeInteger(message['seq']) && isPlainObject(message['config']);
    case 'membership':
      return Array.isArray(message['peers']);
    case 'peer':
      return typeof message['from'] === 'string' && message['payload'] instanceof Uint8Array;
    case 'rpc-result':
      return Number.isSafeInteger(message['callId']) && typeof message['ok'] === 'boolean';
    case 'rpc-request':
      return Number.isSafeInteger(message['requestId']) && typeof message['service'] === 'string' && typeof message['from'] === 'string';
    default:
      return false;
  }
}
