import type { Route } from '../../node/messenger/messenger-channel.js';
import type { RpcHandler } from '../service/farm-rpc.js';

/** Another node of the farm, as the install service reaches it: its id (what FarmRpc.call and the chunk channel take) and its gossip address. */
export interface FarmPeer {
  readonly id: string;
  readonly address: string;
}

/** The part of FarmRpc the install service uses. */
export interface RpcEndpoint {
  /** `networks: true`: answered on the node's extra networks too (farm-rpc.ts). */
  handle(service: string, handler: RpcHandler, options?: { readonly networks?: boolean }): void;
  /** With a route: sent to route.address from the extra network route.via, answered on that connection. */
  call(to: string, service: string, body: unknown, timeoutMs?: number, route?: Route): Promise<unknown>;
}

/**
 * A member's address on an extra network of this node, for traffic routed there (issue
 * 19: the admin network): its `net.<network>` host on its farm port, and `via` the
 * network's name when this node has a socket there. Null when the member publishes no
 * such network (or this node cannot tell).
 */
export type NetworkRoute = (peer: string, network: string) => Route | null;

/** Who called a service: the caller's node id and the transport's name for the connection (not its gossip address). */
export type RpcCaller = Parameters<RpcHandler>[0];
