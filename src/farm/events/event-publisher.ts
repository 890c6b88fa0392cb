import type { FarmEvent } from './farm-event.js';

/**
 * Hands the events a management node stores to the agent, which streams them to API
 * clients (the WebSocket at /v1/events). The mechanism is a farm service call on this
 * node, 'farm.publish' { events: FarmEvent[] }, answered by the agent: it is not
 * ctx.raise, because the agent forwards what components raise back into events.post,
 * which would store every stored event again.
 *
 * Best effort, like the stream itself: the store is the record, and a client that
 * missed something queries it. One call at a time, at most kPublishBatchMax events per
 * call; events waiting beyond kPublishQueueMax are dropped (oldest first) and counted.
 */
export const kPublishService = 'farm.publish';
export const kPublishQueueMax = 1000;
export const kPublishBatchMax = 100;
/** How long a publish call may take; the agent answers at once. */
export const kPublishTimeoutMs = 5000;

export type PublishCall = (body: { events: FarmEvent[] }) => Promise<unknown>;

export class EventPublisher {
  private queue: FarmEvent[] = [];
  private sending = false;
  private closed = false;
  readonly counters = { published: 0, dropped: 0, failed: 0 };

  constructor(
    private readonly call: PublishCall,
    private readonly warn: (message: string) => void,
  ) {}

  publish(events: readonly FarmEvent[]): void {
    if (this.closed || events.length === 0) return;
    this.queue.push(...events);
    const excess = this.queue.length - kPublishQueueMax;
    if (excess > 0) {
      this.queue.splice(0, excess);
      this.counters.dropped += excess;
    }
    if (!this.sending) void this.drain();
  }

  close(): void {
    this.closed = true;
    this.counters.dropped += this.queue.length;
    this.queue = [];
  }

  private async drain(): Promise<void> {
    this.sending = true;
    try {
      while (!this.closed && this.queue.length > 0) {
        const events = this.queue.splice(0, kPublishBatchMax);
        try {
          await this.call({ events });
          this.counters.published += events.length;
        } catch (error) {
          // The first failure and then every power of two: visible without a line per batch.
          if ((++this.counters.failed & (this.counters.failed - 1)) === 0) this.warn(`stored events not streamed (${this.counters.failed} failed publishes): ${(error as Error).message}`);
        }
      }
    } finally {
      this.sending = false;
    }
  }
}
