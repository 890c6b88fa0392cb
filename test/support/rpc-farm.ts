// A farm for component RPC tests, in process: each test node gets a port for
// connectComponentRpc; calls are routed to the handlers the node's bridge registered,
// bodies cross as JSON as on the wire, an unknown service or node is refused like
// FarmRpc refuses it, and calls time out. It also answers the farm's own services on
// every node, as the farm service does: farm.members (the list given), farm.resolve
// { landscape } (the map given) and farm.publish { events } (recorded per node). A test
// can make the next answers of a service vanish after the handler ran (a lost
// acknowledgement), which is what makes a sender retry what was already done.
import type { ComponentRpcFarm } from '../../src/farm/components/host/component-rpc-bridge.js';

type Handler = (from: { id: string }, body: unknown) => Promise<unknown>;

export interface FarmMemberStub {
  readonly id: string;
  readonly address: string;
  readonly status: 'alive' | 'suspect' | 'dead' | 'left';
  readonly tags: Readonly<Record<string, string>>;
}

function coded(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

export class RpcFarm {
  readonly handlers = new Map<string, Map<string, Handler>>();
  readonly calls: Array<{ from: string; node: string; service: string }> = [];
  readonly published = new Map<string, unknown[]>();
  members: FarmMemberStub[] = [];
  landscapes = new Map<string, string[]>();
  /** Per service: answers still to lose (the handler runs, the caller gets a timeout). */
  readonly loseAnswers = new Map<string, number>();

  port(selfId: string): ComponentRpcFarm {
    const own = new Map<string, Handler>();
    this.handlers.set(selfId, own);
    return {
      selfId,
      call: (node, service, body, timeoutMs) => this.call(selfId, node, service, body, timeoutMs),
      handle: (service, handler) => own.set(service, handler),
      unhandle: (service) => own.delete(service),
    };
  }

  private async call(from: string, node: string, service: string, body: unknown, timeoutMs: number): Promise<unknown> {
    this.calls.push({ from, node, service });
    const wire = <T>(value: T): T => JSON.parse(JSON.stringify(value ?? null)) as T;
    if (node === from && service.startsWith('farm.')) return wire(this.farmService(node, service, wire(body)));
    const handler = this.handlers.get(node)?.get(service);
    if (handler === undefined) throw coded('GALAXY_RPC_UNKNOWN_SERVICE', `no service "${service}" on ${node}`);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(coded('GALAXY_RPC_TIMEOUT', `no answer from ${node}`)), timeoutMs)));
    try {
      const answer = await Promise.race([handler({ id: from }, wire(body)), timeout]);
      const lose = this.loseAnswers.get(service) ?? 0;
      if (lose > 0) {
        this.loseAnswers.set(service, lose - 1);
        throw coded('GALAXY_RPC_TIMEOUT', `the answer from ${node} was lost`);
      }
      return wire(answer);
    } finally {
      clearTimeout(timer);
    }
  }

  private farmService(node: string, service: string, body: unknown): unknown {
    switch (service) {
      case 'farm.members':
        return this.members;
      case 'farm.resolve': {
        const landscape = (body as { landscape?: string }).landscape ?? '';
        const nodes = this.landscapes.get(landscape);
        if (nodes === undefined) throw coded('GALAXY_LANDSCAPE_UNKNOWN', `no landscape "${landscape}"`);
        return nodes;
      }
      case 'farm.publish': {
        const list = this.published.get(node) ?? [];
        list.push(...(body as { events: unknown[] }).events);
        this.published.set(node, list);
        return { published: (body as { events: unknown[] }).events.length };
      }
      default:
        throw coded('GALAXY_RPC_UNKNOWN_SERVICE', `no service "${service}" on ${node}`);
    }
  }
}
