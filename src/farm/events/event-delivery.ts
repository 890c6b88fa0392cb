import type { ComponentLog } from '../components/sdk.js';
import type { EventOutbox } from './event-outbox.js';

/**
 * Delivers the outbox to every management node: the nodes the farm lists (farm.members)
 * with "management" among their roles tag. Per node, one batch at a time, in order:
 * 'events.store' { events } until acknowledged; a failure (an error, a timeout, a node
 * restarting) retries the same batch after a capped exponential backoff. The receiving
 * store dedupes by event id, so a batch whose acknowledgement was lost and is sent again
 * is stored once: delivery is at least once, storage exactly once.
 *
 * Nodes listed but not alive (dead, left: a management node restarting) keep their
 * cursor, so events wait for them, but are not tried until listed alive again. Before
 * the first membership answer, the nodes remembered in the outbox are used, so a
 * restarted node resumes at once.
 */
export const kStoreService = 'events.store';
/** JSON characters of one batch: under the component RPC body bound (1 MiB) with room for the envelope. */
export const kDeliveryBatchJsonLengthMax = 900 * 1024;
/** How long new events wait for company before a batch goes: a burst becomes one batch, not hundreds. */
export const kDeliveryGatherMs = 20;
/** Management nodes at most: beyond any sensible farm; bounds the per-node state. */
export const kDestinationsMax = 64;

export interface DeliverySettings {
  readonly batchMax: number;
  readonly retry: { readonly initialMs: number; readonly maxMs: number };
  readonly membersRefreshMs: number;
  readonly callTimeoutMs: number;
}

export type FarmCall = (node: string, service: string, body: unknown, timeoutMs: number) => Promise<unknown>;

/** Where delivery to one management node stands, for the component's status. */
export interface DestinationView {
  readonly node: string;
  readonly reachable: boolean;
  readonly pending: number;
  readonly failures: number;
  readonly delivered: number;
  readonly lastError: string | null;
}

interface Destination {
  reachable: boolean;
  sending: boolean;
  failures: number;
  delivered: number;
  timer: NodeJS.Timeout | null;
  lastError: string | null;
}

/** Delay before retry number `failures` (1, 2, ...): initialMs doubling, capped at maxMs. Pure. */
export function retryDelayMs(failures: number, initialMs: number, maxMs: number): number {
  return Math.min(maxMs, initialMs * 2 ** Math.min(Math.max(failures - 1, 0), 30));
}

/** The management nodes in a farm.members answer: all listed, and those alive or suspect. Null if it is not a member list. */
export function managementNodes(members: unknown): { all: string[]; reachable: Set<string> } | null {
  if (!Array.isArray(members)) return null;
  const all: string[] = [];
  const reachable = new Set<string>();
  for (const member of members as Array<{ id?: unknown; status?: unknown; tags?: Record<string, unknown> }>) {
    if (typeof member?.id !== 'string' || !/^[0-9a-f]{16}$/.test(member.id)) continue;
    const roles = typeof member.tags?.['roles'] === 'string' ? member.tags['roles'].split(',') : [];
    if (!roles.includes('management')) continue;
    if (all.length >= kDestinationsMax) break;
    all.push(member.id);
    if (member.status === 'alive' || member.status === 'suspect') reachable.add(member.id);
  }
  return { all, reachable };
}

export class EventDelivery {
  private readonly destinations = new Map<string, Destination>();
  private membersTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private membersFailures = 0;

  constructor(
    private readonly outbox: EventOutbox,
    private readonly call: FarmCall,
    private readonly selfId: string,
    private settings: DeliverySettings,
    private readonly log: ComponentLog,
  ) {}

  start(): void {
    this.update(this.outbox.destinations(), null);
    void this.refreshMembers();
  }

  stop(): void {
    this.closed = true;
    if (this.membersTimer !== null) clearTimeout(this.membersTimer);
    this.membersTimer = null;
    for (const destination of this.destinations.values()) if (destination.timer !== null) clearTimeout(destination.timer);
  }

  setSettings(settings: DeliverySettings): void {
    this.settings = settings;
  }

  /** New events are in the outbox: send them to every idle destination soon. */
  kick(): void {
    for (const node of this.destinations.keys()) this.schedule(node, kDeliveryGatherMs);
  }

  view(): DestinationView[] {
    return [...this.destinations].map(([node, d]) => ({ node, reachable: d.reachable, pending: this.outbox.pendingFor(node), failures: d.failures, delivered: d.delivered, lastError: d.lastError }));
  }

  private async refreshMembers(): Promise<void> {
    try {
      const members = managementNodes(await this.call(this.selfId, 'farm.members', {}, this.settings.callTimeoutMs));
      if (members === null) throw new Error('farm.members did not answer a member list');
      if (this.closed) return;
      this.membersFailures = 0;
      this.outbox.setDestinations(members.all);
      this.update(members.all, members.reachable);
    } catch (error) {
      if (this.closed) return;
      if ((++this.membersFailures & (this.membersFailures - 1)) === 0) this.log.warn(`cannot learn the management nodes (${this.membersFailures} failures): ${(error as Error).message}`);
    }
    if (!this.closed) this.membersTimer = setTimeout(() => void this.refreshMembers(), this.settings.membersRefreshMs);
  }

  /** Takes the current destinations; `reachable` null means all of them are. */
  private update(nodes: readonly string[], reachable: ReadonlySet<string> | null): void {
    for (const [node, destination] of this.destinations) {
      if (nodes.includes(node)) continue;
      if (destination.timer !== null) clearTimeout(destination.timer);
      this.destinations.delete(node);
    }
    for (const node of nodes) {
      let destination = this.destinations.get(node);
      if (destination === undefined) {
        destination = { reachable: true, sending: false, failures: 0, delivered: 0, timer: null, lastError: null };
        this.destinations.set(node, destination);
      }
      const wasReachable = destination.reachable;
      destination.reachable = reachable === null || reachable.has(node);
      // Back from a restart: try now rather than at the end of a long backoff.
      if (destination.reachable && !wasReachable && destination.timer !== null) {
        clearTimeout(destination.timer);
        destination.timer = null;
        destination.failures = 0;
      }
    }
    this.kick();
  }

  private schedule(node: string, delayMs: number): void {
    const destination = this.destinations.get(node);
    if (this.closed || destination === undefined || destination.timer !== null || destination.sending || !destination.reachable) return;
    destination.timer = setTimeout(() => {
      destination.timer = null;
      void this.send(node, destination);
    }, delayMs);
  }

  private async send(node: string, destination: Destination): Promise<void> {
    if (this.closed || this.destinations.get(node) !== destination || !destination.reachable) return;
    const batch = this.outbox.batch(node, this.settings.batchMax, kDeliveryBatchJsonLengthMax);
    if (batch === null) return;
    destination.sending = true;
    try {
      await this.call(node, kStoreService, { events: batch.events }, this.settings.callTimeoutMs);
    } catch (error) {
      destination.sending = false;
      if (this.closed) return;
      destination.failures++;
      destination.lastError = `${(error as { code?: string }).code ?? 'ERROR'}: ${(error as Error).message}`;
      if ((destination.failures & (destination.failures - 1)) === 0) this.log.warn(`delivery to management node ${node} failed ${destination.failures} times in a row: ${destination.lastError}`);
      this.schedule(node, retryDelayMs(destination.failures, this.settings.retry.initialMs, this.settings.retry.maxMs));
      return;
    }
    destination.sending = false;
    if (this.closed) return;
    // The destination may have been forgotten meanwhile; its cursor is gone then and this is a no-op.
    this.outbox.ack(node, batch.lastSeq);
    destination.failures = 0;
    destination.lastError = null;
    destination.delivered += batch.events.length;
    this.schedule(node, 0);
  }
}
