import type { CallOptions, ComponentContext, ComponentDefinition } from '../sdk.js';
import { errorText } from './component-error.js';
import { jsonValueProblem, kErrorLengthMax, kRpcBodyJsonLengthMax, kRpcCallsInFlightMax, kRpcErrorCodePattern, kRpcNodePattern, kRpcRequestsInFlightMax, kRpcTimeoutGraceMs, kRpcTimeoutMsDefault, rpcTimeoutProblem, serviceNameProblem } from './component-limits.js';
import type { ComponentToHost, HostToComponent, RpcFailure } from './component-protocol.js';
import { ComponentRpcError } from './component-rpc-error.js';

type RpcResult = Extract<HostToComponent, { type: 'rpc-result' }>;
type RpcRequest = Extract<HostToComponent, { type: 'rpc-request' }>;

interface OutstandingCall {
  readonly resolve: (body: unknown) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/**
 * The component's end of farm RPC, inside its process: the calls it makes (ctx.call)
 * waiting for their results, and the requests for its services it is handling. Kept
 * apart from the lifecycle queue of ComponentRuntime on purpose: a result must reach a
 * start handler that awaits a call (a queued result would wait behind that very
 * handler, a deadlock), and a slow service handler must not hold back a stop.
 *
 * Both directions check their bounds here, where a mistake is the component's own: an
 * oversized or non-JSON body, a bad node id or service name is refused before it is
 * sent, and the host checks again (component-limits.ts) for components that bypass this.
 */
export class ComponentRpcEndpoint {
  private readonly calls = new Map<number, OutstandingCall>();
  private nextCallId = 1;
  private serving = 0;

  constructor(private readonly send: (message: ComponentToHost) => void) {}

  /** ctx.call: see ComponentContext.call. Never throws; every failure is a rejection. */
  call(node: string, service: string, body: unknown, options: CallOptions = {}): Promise<unknown> {
    const timeoutMs = options.timeoutMs ?? kRpcTimeoutMsDefault;
    if (typeof node !== 'string' || !kRpcNodePattern.test(node)) return refused('GALAXY_RPC_BAD_REQUEST', `node "${String(node).slice(0, 70)}" is not a node id (16 lowercase hex digits)`);
    const serviceProblem = serviceNameProblem(service);
    if (serviceProblem !== null) return refused('GALAXY_RPC_BAD_REQUEST', serviceProblem);
    const timeoutProblem = rpcTimeoutProblem(timeoutMs);
    if (timeoutProblem !== null) return refused('GALAXY_RPC_BAD_REQUEST', timeoutProblem);
    const checked = jsonValueProblem(body, kRpcBodyJsonLengthMax, `the body of a call of ${service}`);
    if (!('json' in checked)) return refused(checked.oversized ? 'GALAXY_RPC_TOO_LARGE' : 'GALAXY_RPC_BAD_REQUEST', checked.detail);
    if (this.calls.size >= kRpcCallsInFlightMax) return refused('GALAXY_RPC_BUSY', `${kRpcCallsInFlightMax} calls outstanding already`);
    const callId = this.nextCallId++;
    return new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (!this.calls.delete(callId)) return;
        reject(new ComponentRpcError('GALAXY_RPC_TIMEOUT', `no answer to the call of ${service} on ${node} within ${timeoutMs} ms`));
      }, timeoutMs + kRpcTimeoutGraceMs);
      this.calls.set(callId, { resolve, reject, timer });
      try {
        // The body goes as the JSON value it stands for, so a callee in this process and
        // one across the farm see the same thing (a Date as its string, no undefined).
        this.send({ type: 'rpc-call', callId, node, service, body: JSON.parse(checked.json) as unknown, timeoutMs });
      } catch (error) {
        this.calls.delete(callId);
        clearTimeout(timer);
        reject(new ComponentRpcError('GALAXY_RPC_UNAVAILABLE', `the call could not be sent to the host: ${errorText(error)}`));
      }
    });
  }

  /** The host's answer to one of this component's calls; a late one (after the backstop) is ignored. */
  result(message: RpcResult): void {
    const call = this.calls.get(message.callId);
    if (call === undefined) return;
    this.calls.delete(message.callId);
    clearTimeout(call.timer);
    if (message.ok) call.resolve(message.body ?? null);
    else call.reject(new ComponentRpcError(message.error?.code ?? 'GALAXY_RPC_HANDLER', message.error?.message ?? 'the call failed'));
  }

  /**
   * Handles one request for a service and answers it, whatever happens. `definition` and
   * `context` are null until the component was initialised.
   */
  async serve(message: RpcRequest, definition: ComponentDefinition | null, context: ComponentContext | null): Promise<void> {
    if (definition === null || context === null) return this.fail(message.requestId, { code: 'GALAXY_RPC_NOT_RUNNING', message: 'the component is not initialised' });
    const handler = definition.services !== undefined && Object.hasOwn(definition.services, message.service) ? definition.services[message.service] : undefined;
    if (handler === undefined) return this.fail(message.requestId, { code: 'GALAXY_RPC_UNKNOWN_SERVICE', message: `component ${context.name} does not serve "${message.service}"` });
    if (this.serving >= kRpcRequestsInFlightMax) return this.fail(message.requestId, { code: 'GALAXY_RPC_BUSY', message: `component ${context.name} is handling ${kRpcRequestsInFlightMax} requests already` });
    this.serving++;
    let answer: unknown;
    try {
      answer = await handler(message.body, Object.freeze({ node: message.from }), context);
    } catch (error) {
      return this.fail(message.requestId, failureOf(error));
    } finally {
      this.serving--;
    }
    const checked = jsonValueProblem(answer ?? null, kRpcBodyJsonLengthMax, `the answer of ${message.service}`);
    if (!('json' in checked)) return this.fail(message.requestId, { code: checked.oversized ? 'GALAXY_RPC_TOO_LARGE' : 'GALAXY_RPC_HANDLER', message: checked.detail });
    this.post({ type: 'rpc-answer', requestId: message.requestId, ok: true, body: JSON.parse(checked.json) as unknown });
  }

  private fail(requestId: number, error: RpcFailure): void {
    this.post({ type: 'rpc-answer', requestId, ok: false, error });
  }

  private post(message: ComponentToHost): void {
    try {
      this.send(message);
    } catch {
      // The channel is gone; the runner exits on its own and the host fails the request.
    }
  }
}

function refused(code: string, message: string): Promise<never> {
  return Promise.reject(new ComponentRpcError(code, message));
}

/** The code and message a thrown error gives the caller: its own GALAXY_ style code if it has one. */
function failureOf(error: unknown): RpcFailure {
  const code = (error as { code?: unknown } | null)?.code;
  return { code: typeof code === 'string' && kRpcErrorCodePattern.test(code) ? code : 'GALAXY_RPC_HANDLER', message: errorText(error, kErrorLengthMax) };
}
