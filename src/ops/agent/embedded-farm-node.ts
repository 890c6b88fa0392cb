import { EventEmitter } from 'node:events';
import { AgentUsageError, prepareAgent, type AgentFlags } from '../../ops/agent/agent-command.js';
import { silentAgentLogger, type AgentLogger } from '../../node/util/agent-logger.js';
import type { MemberView } from '../../core/membership/member-view.js';
import type { NodeValues } from '../../farm/data/node-values.js';
import type { NodeSummary } from '../../farm/service/node-summary.js';
import type { MembershipEventType } from '../../core/membership/membership-event.js';
import type { QueryResult } from '../../farm/data/landscape/landscape-engine.js';
import type { NodeAttributes } from '../../farm/data/farm-data.js';
import { FarmNode } from '../../ops/agent/farm-node.js';

/**
 * The options of an embedded farm node: the flags of `galaxy agent`, by the same names and
 * with the same checks (bind is required; insecure, key, role, bootstrap, autoApprove,
 * join, preset, meta, dataDir, api...), plus what only a library user chooses.
 */
export interface FarmNodeOptions extends AgentFlags {
  /** "a.b.c.d:port" peers reach this node at; port 0 takes any free port (then dataDir is required). */
  readonly bind: string;
  /**
   * The component kinds to run as child processes (measurement, events, jobs, scripts);
   * default none: an embedding process usually wants the membership and the FMIDB only.
   */
  readonly components?: readonly string[];
  /** Where the node's structured logs go; default nowhere. */
  readonly logger?: AgentLogger;
  /** The API is off unless asked for (`api: '127.0.0.1:0'`, any free port). */
  readonly api?: string;
}

/** One membership change as this node saw it: the names of the agent's JSON lines and of the API's event stream. */
export interface FarmMembershipEvent {
  /** join, update (tags or address), suspect, alive (refuted), dead, leave (graceful), reap (tombstone removed). */
  readonly type: MembershipEventType;
  /** The member's node id, 16 hex digits. */
  readonly id: string;
  /** "a.b.c.d:port" or "[v6]:port". */
  readonly address: string;
  readonly incarnation: number;
}

interface FarmNodeHandleEvents {
  membership: [FarmMembershipEvent];
}

/**
 * A farm node running in this process (`galaxy agent` without the process): its engine in
 * a worker thread with its own sockets, the FMIDB replica and landscapes on this thread.
 * Membership changes are 'membership' events, or an async iterator (`for await (const
 * event of node.membershipEvents())`). close() leaves the farm gracefully.
 */
export class FarmNodeHandle extends EventEmitter<FarmNodeHandleEvents> {
  private readonly node: FarmNode;
  private closing: Promise<void> | null = null;
  /** How to end each open async iterator, called by close(). */
  private readonly iterators = new Set<() => void>();

  private constructor(node: FarmNode) {
    super();
    this.node = node;
    node.service.host.on('event', (event) => this.emit('membership', { type: event.type, id: event.id, address: event.address, incarnation: event.incarnation }));
  }

  /** Starts a node: the options are checked as `galaxy agent` checks its flags (AgentUsageError names the bad one). */
  static async start(options: FarmNodeOptions): Promise<FarmNodeHandle> {
    const { components, logger, ...flags } = options;
    // Port 0 (any free port) suits a library: the worker binds it and retries when TCP
    // finds that port taken. The checks of `galaxy agent` want a real port, so they see
    // port 1 in its place; the data directory must be named, since by default it is
    // named after the port.
    const ephemeral = flags.bind !== undefined && /:0$/.test(flags.bind);
    if (ephemeral && flags.dataDir === undefined) throw new AgentUsageError('bind with port 0 (any free port) needs dataDir: the default data directory is named after the port');
    const checked = prepareAgent({ ...flags, bind: ephemeral ? flags.bind!.replace(/:0$/, ':1') : flags.bind, api: flags.api ?? 'off' }, {});
    const prepared = ephemeral ? { ...checked, options: { ...checked.options, bind: flags.bind! } } : checked;
    const node = await FarmNode.start({ prepared, logger: logger ?? silentAgentLogger(), components: components ?? [] });
    return new FarmNodeHandle(node);
  }

  /** This node's id, 16 hex digits. */
  get id(): string {
    return this.node.service.host.id;
  }

  /** The address peers reach it at (the port the OS chose for port 0). */
  get address(): string {
    return this.node.service.host.address;
  }

  /** The API's URL when it was asked for, else null. */
  get apiUrl(): string | null {
    return this.node.api?.url ?? null;
  }

  /** What `GET /v1/node` answers. */
  summary(): NodeSummary {
    return this.node.node();
  }

  /** Every member this node knows (the dead and left until reaped), as `GET /v1/members` answers. */
  members(): MemberView[] {
    return this.node.members();
  }

  /**
   * Membership events as an async iterator, from now on; it ends when the node closes. An
   * iterator that falls kIteratorEventsQueuedMax events behind loses the oldest ones
   * (`dropped` counts them): a reader that stalls must not grow the process without bound.
   */
  membershipEvents(): AsyncIterableIterator<FarmMembershipEvent> & { readonly dropped: number } {
    const queued: FarmMembershipEvent[] = [];
    let waiting: ((result: IteratorResult<FarmMembershipEvent>) => void) | null = null;
    let ended = this.closing !== null;
    let dropped = 0;
    const listener = (event: FarmMembershipEvent): void => {
      if (waiting !== null) {
        const wake = waiting;
        waiting = null;
        wake({ done: false, value: event });
        return;
      }
      if (queued.length >= kIteratorEventsQueuedMax) {
        queued.shift();
        dropped++;
      }
      queued.push(event);
    };
    const end = (): void => {
      ended = true;
      this.off('membership', listener);
      this.iterators.delete(end);
      if (waiting !== null) waiting({ done: true, value: undefined });
      waiting = null;
    };
    if (!ended) {
      this.on('membership', listener);
      this.iterators.add(end);
    }
    const iterator = {
      get dropped() {
        return dropped;
      },
      next: (): Promise<IteratorResult<FarmMembershipEvent>> => {
        if (queued.length > 0) return Promise.resolve({ done: false, value: queued.shift()! });
        if (ended) return Promise.resolve({ done: true, value: undefined });
        return new Promise((resolve) => (waiting = resolve));
      },
      return: (): Promise<IteratorResult<FarmMembershipEvent>> => {
        end();
        queued.length = 0;
        return Promise.resolve({ done: true, value: undefined });
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  /** Sets attributes of a node in the FMIDB (null deletes a key); they replicate farm-wide. */
  setAttributes(node: string, values: Readonly<Record<string, string | number | null>>): Promise<NodeAttributes> {
    return this.node.data.setAttributes(node, values);
  }

  /** The attributes this node's replica holds, of one node or all. */
  attributes(node?: string): NodeAttributes[] {
    return this.node.data.attributes(node);
  }

  /** The values components posted, of one node or all. */
  values(node?: string): NodeValues[] {
    return this.node.data.values(node);
  }

  /** A read-only SELECT over the replica (the landscapes' tables). */
  query(sql: string): QueryResult {
    return this.node.data.query(sql);
  }

  /** Leaves the farm gracefully and stops everything; idempotent. */
  close(): Promise<void> {
    this.closing ??= this.node.close().then(() => {
      // The events of the leave itself are delivered first, then the iterators end.
      for (const end of [...this.iterators]) end();
      this.removeAllListeners('membership');
    });
    return this.closing;
  }
}

/** Events an async iterator of membershipEvents() holds for a reader that lags; older ones are dropped. */
const kIteratorEventsQueuedMax = 65_536;

/** Starts a farm node in this process; see FarmNodeHandle. */
export function startFarmNode(options: FarmNodeOptions): Promise<FarmNodeHandle> {
  return FarmNodeHandle.start(options);
}
