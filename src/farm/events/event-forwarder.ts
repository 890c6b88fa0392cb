import type { AgentLogger } from '../../node/util/agent-logger.js';
import { kPostedEventSchema, type PostedEvent } from './farm-event.js';

/**
 * Carries what happens in the agent into this node's event service (the `events`
 * component), which keeps it in its outbox and delivers it to the management nodes:
 *
 * - events (component lifecycle failures, the events components raise with ctx.raise)
 *   go to `events.post`. They wait here, at most kPendingEventsMax of them, while the
 *   event service is not running (starting, restarting after a crash: its own crash is
 *   posted once it runs again), and are retried with a capped backoff on other
 *   failures. The oldest are dropped beyond the bound, counted and logged.
 * - values samples (the Measurement service's, for the threshold rules) go to
 *   `events.values`, one call at a time: samples arriving meanwhile are merged into the
 *   next call (the newest value of each key wins), so a slow event service sees fewer,
 *   fuller samples rather than a queue. A sample while the service is down is dropped,
 *   counted: a threshold is judged on the next one.
 *
 * Events are checked against the posted-event schema before they are kept, so one
 * malformed event (a component raising "Disk Full") cannot make a whole batch refused.
 */
export const kPendingEventsMax = 1000;
/** Events per events.post call (the service takes up to 1000). */
export const kPostBatchMax = 100;
export const kForwardTimeoutMs = 10_000;
const kRetryInitialMs = 500;
const kRetryMaxMs = 30_000;

/** Codes that mean "the event service cannot take it now", as opposed to "never". */
const kTransientCodes: ReadonlySet<string> = new Set(['GALAXY_RPC_NOT_RUNNING', 'GALAXY_RPC_UNKNOWN_SERVICE', 'GALAXY_RPC_TIMEOUT', 'GALAXY_RPC_BUSY', 'GALAXY_RPC_UNAVAILABLE', 'GALAXY_EVENTS_CLOSED', 'GALAXY_COMPONENT_UNKNOWN']);

export interface EventForwarderCounters {
  posted: number;
  postFailures: number;
  /** Events dropped: malformed, refused by the service, or beyond the pending bound. */
  dropped: number;
  valuesForwarded: number;
  valuesDropped: number;
}

export type EventsServiceCall = (service: string, body: unknown, timeoutMs: number) => Promise<unknown>;

export class EventForwarder {
  readonly counters: EventForwarderCounters = { posted: 0, postFailures: 0, dropped: 0, valuesForwarded: 0, valuesDropped: 0 };
  private pending: PostedEvent[] = [];
  private posting = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private failures = 0;
  private valuesInFlight = false;
  private valuesWaiting: Record<string, number | string> | null = null;
  private closed = false;

  constructor(
    private readonly call: EventsServiceCall,
    private readonly logger: AgentLogger,
  ) {}

  get pendingEvents(): number {
    return this.pending.length;
  }

  /** Keeps an event for the event service and sends it as soon as it can. */
  post(event: PostedEvent): void {
    if (this.closed) return;
    const parsed = kPostedEventSchema.safeParse(event);
    if (!parsed.success) {
      this.drop(1, `event refused before posting: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'event'}: ${i.message}`).join('; ')}`);
      return;
    }
    this.pending.push(event);
    const excess = this.pending.length - kPendingEventsMax;
    if (excess > 0) {
      this.pending.splice(0, excess);
      this.drop(excess, `more than ${kPendingEventsMax} events wait for the event service; the oldest were dropped`);
    }
    void this.drain();
  }

  /** The event service runs (again): send what waits now rather than at the end of a backoff. */
  resume(): void {
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.failures = 0;
    void this.drain();
  }

  /** One sample of this node's values for the threshold rules. */
  values(values: Readonly<Record<string, number | string>>): void {
    if (this.closed) return;
    this.valuesWaiting = { ...(this.valuesWaiting ?? {}), ...values };
    if (!this.valuesInFlight) void this.sendValues();
  }

  close(): void {
    this.closed = true;
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  private async drain(): Promise<void> {
    if (this.posting || this.retryTimer !== null) return;
    this.posting = true;
    try {
      while (!this.closed && this.pending.length > 0) {
        const batch = this.pending.slice(0, kPostBatchMax);
        try {
          await this.call('events.post', { events: batch }, kForwardTimeoutMs);
        } catch (error) {
          if (this.failed(error, batch.length)) continue;
          return;
        }
        this.pending.splice(0, batch.length);
        this.counters.posted += batch.length;
        this.failures = 0;
      }
    } finally {
      this.posting = false;
    }
  }

  /** Handles a failed post; true when the batch was dropped and draining goes on, false when it waits for a retry. */
  private failed(error: unknown, size: number): boolean {
    const code = (error as { code?: unknown }).code;
    this.counters.postFailures++;
    if (typeof code !== 'string' || !kTransientCodes.has(code)) {
      // Refused for what it is (the service checked it and said no): retrying cannot help.
      this.pending.splice(0, size);
      this.drop(size, `the event service refused ${size} events: ${String(code)}: ${(error as Error).message}`);
      return true;
    }
    this.failures++;
    if (code !== 'GALAXY_RPC_NOT_RUNNING' && (this.failures & (this.failures - 1)) === 0) this.logger.warn({ code, error: (error as Error).message, failures: this.failures, pending: this.pending.length }, 'events not yet handed to the event service; retrying');
    const delayMs = Math.min(kRetryMaxMs, kRetryInitialMs * 2 ** Math.min(this.failures - 1, 16));
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.drain();
    }, delayMs);
    return false;
  }

  private async sendValues(): Promise<void> {
    this.valuesInFlight = true;
    try {
      while (!this.closed && this.valuesWaiting !== null) {
        const values = this.valuesWaiting;
        this.valuesWaiting = null;
        try {
          await this.call('events.values', { values }, kForwardTimeoutMs);
          this.counters.valuesForwarded++;
        } catch (error) {
          const dropped = ++this.counters.valuesDropped;
          const code = (error as { code?: unknown }).code;
          if (code !== 'GALAXY_RPC_NOT_RUNNING' && (dropped & (dropped - 1)) === 0) this.logger.warn({ code, error: (error as Error).message, dropped }, 'values sample not given to the threshold rules');
        }
      }
    } finally {
      this.valuesInFlight = false;
    }
  }

  private drop(count: number, why: string): void {
    const before = this.counters.dropped;
    this.counters.dropped += count;
    // Logged when the count crosses a power of two: visible, never a line per event.
    if (Math.floor(Math.log2(this.counters.dropped)) > Math.floor(Math.log2(Math.max(before, 1))) || before === 0) this.logger.warn({ dropped: this.counters.dropped, why }, 'farm events dropped');
  }
}
