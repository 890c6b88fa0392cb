import type { ComponentHost } from './component-host.js';
import { errorText } from './component-error.js';
import type { ComponentRpcCall, ComponentRpcOutcome, ComponentRpcReply } from './component-events.js';
import { kErrorLengthMax, kRpcTimeoutMsMax, reservedServiceProblem } from './component-limits.js';

/**
 * What the bridge needs of the farm: farm RPC (src/farm/farm-rpc.ts) addressed by node
 * id. The farm service provides it over FarmRpc, mapping ids to addresses.
 */
export interface ComponentRpcFarm {
  /** This node's id: calls to it are served locally. */
  readonly selfId: string;
  /**
   * Calls `service` on the node `node`. Must also serve `node === selfId` for the
   * services no local component serves, without the network: the farm service's own
   * (farm.members, farm.resolve, farm.values, ...). Rejects with an Error carrying `code`.
   * `caller` names the local component that calls (the farm's own services may be one
   * component's alone).
   */
  call(node: string, service: string, body: unknown, timeoutMs: number, caller?: string): Promise<unknown>;
  /** Makes `service` reachable from other nodes (FarmRpc.handle). */
  handle(service: string, handler: (from: { id: string }, body: unknown) => Promise<unknown>): void;
  /** Withdraws it (FarmRpc.unhandle); without it, a withdrawn service answers GALAXY_RPC_NOT_RUNNING instead of GALAXY_RPC_UNKNOWN_SERVICE. */
  unhandle?(service: string): void;
}

export interface ComponentRpcBridgeOptions {
  /**
   * How long a request from another node may wait for the local component's answer, ms.
   * The remote caller times out on its own clock; this only bounds how long the request
   * holds a slot here when the component does not answer.
   */
  readonly requestTimeoutMs?: number;
  /**
   * Services that only this node's agent calls (a component serves them for the agent,
   * e.g. the jobs component's jobs.events): a component's call to one, on this node or
   * any other, is refused (GALAXY_RPC_FORBIDDEN) and counted. Without this a local
   * component's call would reach them carrying this node's id, as the agent's does.
   */
  readonly agentOnlyServices?: readonly string[];
}

export const kBridgeRequestTimeoutMsDefault = 60_000;

/** What the bridge refused, for metrics and tests. */
export interface ComponentRpcBridgeCounters {
  /**
   * Service declarations never registered with the farm: a name in a reserved namespace
   * (farm., install.; the host refuses those already, this is the second check), or one
   * the farm refused (served by the farm itself or by something else already).
   */
  servicesRefused: number;
  /** Declarations ignored because another component on this node serves the name. */
  servicesShadowed: number;
  /** Components' calls to an agent-only service (options.agentOnlyServices), refused. */
  callsForbidden: number;
}

/** Disconnects the bridge again; its counters ride along. */
export interface ComponentRpcBridge {
  (): void;
  readonly counters: ComponentRpcBridgeCounters;
}

/**
 * Connects a component host's farm RPC to the farm: the calls components make go to
 * `farm.call` (or, for a service a component on this node serves, straight to that
 * component: a node's components talk to each other without the network), and each
 * service a component declares is registered with `farm.handle` while it runs, so other
 * nodes reach it. Returns the function that disconnects it again.
 *
 * One service, one component: when a second component declares a service another one
 * on this node serves already, the first keeps it and the second's is logged and ignored
 * (until the first withdraws it; then the next declaration takes it). A service in a
 * reserved namespace (farm., install.), or one the farm refuses to register (a name the
 * farm serves itself), is never registered: logged and counted.
 */
export function connectComponentRpc(host: ComponentHost, farm: ComponentRpcFarm, options: ComponentRpcBridgeOptions = {}): ComponentRpcBridge {
  const requestTimeoutMs = options.requestTimeoutMs ?? kBridgeRequestTimeoutMsDefault;
  if (!Number.isSafeInteger(requestTimeoutMs) || requestTimeoutMs < 1 || requestTimeoutMs > kRpcTimeoutMsMax) throw new RangeError(`options.requestTimeoutMs must be an integer from 1 to ${kRpcTimeoutMsMax}`);
  const logger = host.settings.logger;
  /** Service -> the local component serving it. */
  const servers = new Map<string, string>();
  const counters: ComponentRpcBridgeCounters = { servicesRefused: 0, servicesShadowed: 0, callsForbidden: 0 };
  const agentOnly = new Set(options.agentOnlyServices ?? []);

  const onCall = (name: string, call: ComponentRpcCall, reply: ComponentRpcReply): void => {
    if (agentOnly.has(call.service)) {
      counters.callsForbidden++;
      reply({ ok: false, code: 'GALAXY_RPC_FORBIDDEN', message: `${call.service} is called only by the agent, not by components (${name})` });
      return;
    }
    const local = call.node === farm.selfId ? servers.get(call.service) : undefined;
    let answer: Promise<unknown>;
    try {
      answer = local !== undefined ? host.request(local, call.service, farm.selfId, call.body, call.timeoutMs) : farm.call(call.node, call.service, call.body, call.timeoutMs, name);
    } catch (error) {
      answer = Promise.reject(error as Error);
    }
    answer.then(
      (body) => reply({ ok: true, body }),
      (error: unknown) => reply(failureOf(error)),
    );
  };

  const onServices = (name: string, services: readonly string[]): void => {
    for (const [service, owner] of [...servers]) {
      if (owner !== name || services.includes(service)) continue;
      servers.delete(service);
      farm.unhandle?.(service);
    }
    for (const service of services) {
      const owner = servers.get(service);
      if (owner === name) continue;
      if (owner !== undefined) {
        counters.servicesShadowed++;
        logger.warn({ component: name, service, servedBy: owner }, 'component service ignored: another component on this node serves it');
        continue;
      }
      const reserved = reservedServiceProblem(service);
      if (reserved !== null) {
        counters.servicesRefused++;
        logger.error({ component: name, service }, `component service refused: ${reserved}`);
        continue;
      }
      try {
        farm.handle(service, (from, body) => host.request(name, service, from.id, body, requestTimeoutMs));
      } catch (error) {
        counters.servicesRefused++;
        logger.error({ component: name, service, error: errorText(error, kErrorLengthMax) }, 'component service refused by the farm');
        continue;
      }
      servers.set(service, name);
    }
  };

  host.on('rpc-call', onCall);
  host.on('services', onServices);
  const disconnect = (): void => {
    host.off('rpc-call', onCall);
    host.off('services', onServices);
    for (const service of servers.keys()) farm.unhandle?.(service);
    servers.clear();
  };
  return Object.assign(disconnect, { counters });
}

/** The outcome of a failed call: the error's own code when it has one. */
function failureOf(error: unknown): ComponentRpcOutcome {
  const code = (error as { code?: unknown } | null)?.code;
  return { ok: false, code: typeof code === 'string' ? code : 'GALAXY_RPC_HANDLER', message: errorText(error, kErrorLengthMax) };
}
