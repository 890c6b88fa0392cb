import type { ComponentRpcCall, ComponentRpcOutcome, ComponentRpcReply } from './component-events.js';
import { jsonValueProblem, kErrorLengthMax, kRpcBodyJsonLengthMax, kRpcCallsInFlightMax, kRpcErrorCodePattern, kRpcRequestsInFlightMax, rpcTimeoutProblem, serviceNameProblem } from './component-limits.js';
import type { ComponentToHost, HostToComponent } from './component-protocol.js';
import { ComponentRpcError } from './component-rpc-error.js';

type RpcCallMessage = Extract<ComponentToHost, { type: 'rpc-call' }>;
type RpcAnswerMessage = Extract<ComponentToHost, { type: 'rpc-answer' }>;

/** Farm RPC counts of one component, kept across its processes (ComponentCounters.rpc). */
export interface RpcRelayCounters {
  calls: number;
  requests: number;
  refused: number;
  timeouts: number;
}

interface OutstandingRequest {
  readonly resolve: (body: unknown) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/**
 * The host's side of farm RPC for one process of one component: the calls it made that
 * await an answer from the farm, and the requests the host delivered to it that await
 * its answer. Each is bounded (kRpcCallsInFlightMax, kRpcRequestsInFlightMax) and timed
 * here, so neither a farm that never answers nor a component that never answers leaves
 * an entry behind. A process's relay ends with it: its requests fail at once with
 * GALAXY_RPC_NOT_RUNNING rather than at their timeouts.
 */
export class ComponentRpcRelay {
  /** The services the process declared ('rpc-serve'); null until it did. */
  services: readonly string[] | null = null;
  /** Whether the host announced them (its 'services' event), so they are withdrawn exactly once. */
  announced = false;
  private readonly calls = new Map<number, NodeJS.Timeout>();
  private readonly requests = new Map<number, OutstandingRequest>();
  private nextRequestId = 1;
  private ended = false;

  constructor(
    private readonly name: string,
    private readonly post: (message: HostToComponent) => boolean,
    private readonly counters: RpcRelayCounters,
  ) {}

  /**
   * Takes a call the component made: hands it to `forward` with a reply that answers it
   * once, and answers GALAXY_RPC_TIMEOUT itself at the call's deadline. Returns false
   * when the callId is outstanding already (a component bypassing the SDK), leaving the
   * caller to drop and count the message.
   */
  call(message: RpcCallMessage, forward: (call: ComponentRpcCall, reply: ComponentRpcReply) => void): boolean {
    const { callId, node, service, body, timeoutMs } = message;
    if (this.calls.has(callId)) return false;
    this.counters.calls++;
    if (this.ended) return true;
    if (this.calls.size >= kRpcCallsInFlightMax) {
      this.refuse(callId, 'GALAXY_RPC_BUSY', `${this.name} has ${kRpcCallsInFlightMax} calls outstanding already`);
      return true;
    }
    const timer = setTimeout(() => {
      if (!this.calls.delete(callId)) return;
      this.counters.timeouts++;
      this.post({ type: 'rpc-result', callId, ok: false, error: { code: 'GALAXY_RPC_TIMEOUT', message: `no answer from ${service} on ${node} within ${timeoutMs} ms` } });
    }, timeoutMs);
    this.calls.set(callId, timer);
    forward({ node, service, body, timeoutMs }, (outcome) => this.settle(callId, outcome));
    return true;
  }

  /** Answers a call at once with a failure, without tracking it (a call refused before it was taken). */
  refuse(callId: number, code: string, message: string): void {
    this.counters.refused++;
    this.post({ type: 'rpc-result', callId, ok: false, error: { code, message } });
  }

  /** Delivers a request for one of the component's services; resolves with its answer's body. */
  request(service: string, from: string, body: unknown, timeoutMs: number): Promise<unknown> {
    const refusal = this.requestProblem(service, from, timeoutMs);
    if (refusal !== null) return this.refused(refusal.code, refusal.message);
    const checked = jsonValueProblem(body, kRpcBodyJsonLengthMax, `the body of a request for ${service}`);
    if (!('json' in checked)) return this.refused(checked.oversized ? 'GALAXY_RPC_TOO_LARGE' : 'GALAXY_RPC_BAD_REQUEST', checked.detail);
    const requestId = this.nextRequestId++;
    this.counters.requests++;
    return new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (!this.requests.delete(requestId)) return;
        this.counters.timeouts++;
        reject(new ComponentRpcError('GALAXY_RPC_TIMEOUT', `${this.name} did not answer a request for ${service} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.requests.set(requestId, { resolve, reject, timer });
      if (!this.post({ type: 'rpc-request', requestId, service, from, body: JSON.parse(checked.json) as unknown })) {
        this.requests.delete(requestId);
        clearTimeout(timer);
        reject(new ComponentRpcError('GALAXY_RPC_NOT_RUNNING', `${this.name} cannot be reached: its IPC channel is closed`));
      }
    });
  }

  /** The component's answer to a request; false if that request is not outstanding (late, or never asked). */
  answer(message: RpcAnswerMessage): boolean {
    const request = this.requests.get(message.requestId);
    if (request === undefined) return false;
    this.requests.delete(message.requestId);
    clearTimeout(request.timer);
    if (message.ok) request.resolve(message.body ?? null);
    else request.reject(new ComponentRpcError(message.error?.code ?? 'GALAXY_RPC_HANDLER', message.error?.message ?? 'the handler failed'));
    return true;
  }

  /** The process is gone: its requests fail now, and answers to its calls have nowhere to go. */
  end(why: string): void {
    this.ended = true;
    for (const timer of this.calls.values()) clearTimeout(timer);
    this.calls.clear();
    for (const request of this.requests.values()) {
      clearTimeout(request.timer);
      request.reject(new ComponentRpcError('GALAXY_RPC_NOT_RUNNING', `${this.name} ${why} while handling the request`));
    }
    this.requests.clear();
  }

  private settle(callId: number, outcome: ComponentRpcOutcome): void {
    const timer = this.calls.get(callId);
    if (timer === undefined) return;
    this.calls.delete(callId);
    clearTimeout(timer);
    if (!outcome.ok) {
      const code = typeof outcome.code === 'string' && kRpcErrorCodePattern.test(outcome.code) ? outcome.code : 'GALAXY_RPC_HANDLER';
      const text = String(outcome.message);
      this.post({ type: 'rpc-result', callId, ok: false, error: { code, message: text.length <= kErrorLengthMax ? text : `${text.slice(0, kErrorLengthMax - 1)}…` } });
      return;
    }
    // The farm carries up to 4 MiB; the component takes at most what it could have sent.
    const checked = jsonValueProblem(outcome.body ?? null, kRpcBodyJsonLengthMax, 'the answer');
    if (!('json' in checked)) {
      this.post({ type: 'rpc-result', callId, ok: false, error: { code: checked.oversized ? 'GALAXY_RPC_TOO_LARGE' : 'GALAXY_RPC_HANDLER', message: checked.detail } });
      return;
    }
    this.post({ type: 'rpc-result', callId, ok: true, body: outcome.body ?? null });
  }

  private requestProblem(service: string, from: string, timeoutMs: number): { code: string; message: string } | null {
    if (this.ended) return { code: 'GALAXY_RPC_NOT_RUNNING', message: `${this.name} is not running` };
    const nameProblem = serviceNameProblem(service);
    if (nameProblem !== null) return { code: 'GALAXY_RPC_BAD_REQUEST', message: nameProblem };
    if (typeof from !== 'string' || from.length === 0 || from.length > 64) return { code: 'GALAXY_RPC_BAD_REQUEST', message: 'the calling node must be a node id' };
    const timeoutProblem = rpcTimeoutProblem(timeoutMs);
    if (timeoutProblem !== null) return { code: 'GALAXY_RPC_BAD_REQUEST', message: timeoutProblem };
    if (this.services === null || !this.services.includes(service)) return { code: 'GALAXY_RPC_UNKNOWN_SERVICE', message: `component ${this.name} does not serve "${service}"` };
    if (this.requests.size >= kRpcRequestsInFlightMax) return { code: 'GALAXY_RPC_BUSY', message: `${this.name} has ${kRpcRequestsInFlightMax} requests outstanding already` };
    return null;
  }

  private refused(code: string, message: string): Promise<never> {
    this.counters.refused++;
    return Promise.reject(new ComponentRpcError(code, message));
  }
}
