import type { RpcHandler } from '../service/farm-rpc.js';

/** Another node of the farm, as the install service reaches it: its id (what FarmRpc.call and the chunk channel take) and its gossip address. */
export interface FarmPeer {
  readonly id: string;
  readonly address: string;
}

/** The part of FarmRpc the install service uses. */
export interface RpcEndpoint {
  handle(service: string, handler: RpcHandler): void;
  call(to: string, service: string, body: unknown, timeoutMs?: number): Promise<unknown>;
}

/** Who called a service: the caller's node id and the transport's name for the connection (not its gossip address). */
export type RpcCaller = Parameters<RpcHandler>[0];
