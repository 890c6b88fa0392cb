import { createHash } from 'node:crypto';
import { correlationName, type CorrelationRule } from './events-config.js';
import type { EventStore } from './event-store.js';
import { eventTimeMs, makeEvent, type FarmEvent } from './farm-event.js';

/** Nodes named in a raised event's body at most. */
export const kCorrelationNodesListedMax = 64;

/**
 * Whether a correlation rule raises for an event at `triggerMs`: `count` events in the
 * window (triggerMs - windowMs, triggerMs] reach the rule's count, and the rule has not
 * raised for an event less than one window earlier. So a burst raises once per window,
 * and a burst that goes on raises again once per window it lasts. Pure.
 */
export function correlationRaises(rule: Pick<CorrelationRule, 'count' | 'windowMs'>, triggerMs: number, count: number, lastRaisedMs: number | null): boolean {
  if (lastRaisedMs !== null && triggerMs < lastRaisedMs + rule.windowMs) return false;
  return count >= rule.count;
}

/**
 * The id of the event a rule raises for a trigger: derived, not random, so the same
 * trigger evaluated again (the component crashed between storing the trigger and
 * recording the raise) gives the same event, which the store keeps once.
 */
export function correlationEventId(rule: string, triggerId: string): string {
  return createHash('sha256').update(`correlation\0${rule}\0${triggerId}`).digest('hex').slice(0, 32);
}

/**
 * Correlation rules on a management node: each batch of newly stored events is checked
 * against the rules; a rule that raises stores an event of its own (source
 * "correlation", on this node) together with the time it raised, in one transaction.
 * The state is the store itself (the events in the window, the last raise), so a
 * restarted management node goes on where it stopped.
 *
 * The window ends at the trigger's own time: events that arrive out of order (a node
 * delivering late) count for windows evaluated after they arrived, not before.
 */
export class EventCorrelator {
  constructor(
    private readonly rules: readonly CorrelationRule[],
    private readonly store: EventStore,
    private readonly nodeId: string,
    private readonly landscapeNodes: (landscape: string) => Promise<readonly string[]>,
  ) {}

  /** Checks newly stored events; returns the events the rules raised (already stored). */
  async evaluate(stored: readonly FarmEvent[], nowMs: number): Promise<FarmEvent[]> {
    const raised: FarmEvent[] = [];
    for (const rule of this.rules) {
      const triggers = stored.filter((event) => event.type === rule.type).sort((a, b) => eventTimeMs(a) - eventTimeMs(b));
      if (triggers.length === 0) continue;
      const nodes = rule.landscape === undefined ? null : await this.landscapeNodes(rule.landscape);
      const members = nodes === null ? null : new Set(nodes);
      for (const trigger of triggers) {
        if (members !== null && !members.has(trigger.node)) continue;
        const event = this.check(rule, trigger, nodes, nowMs);
        if (event !== null) raised.push(event);
      }
    }
    return raised;
  }

  private check(rule: CorrelationRule, trigger: FarmEvent, nodes: readonly string[] | null, nowMs: number): FarmEvent | null {
    const name = correlationName(rule);
    const triggerMs = eventTimeMs(trigger);
    const fromMs = triggerMs - rule.windowMs;
    const lastRaisedMs = this.store.raisedAt(name);
    // Counting costs a query: only when the rule is not suppressed anyway.
    if (lastRaisedMs !== null && triggerMs < lastRaisedMs + rule.windowMs) return null;
    const count = this.store.countInWindow(rule.type, nodes, fromMs, triggerMs);
    if (!correlationRaises(rule, triggerMs, count, lastRaisedMs)) return null;
    const event = makeEvent(
      {
        id: correlationEventId(name, trigger.id),
        node: this.nodeId,
        source: 'correlation',
        type: rule.raise.type,
        severity: rule.raise.severity,
        body: {
          rule: name,
          type: rule.type,
          landscape: rule.landscape ?? null,
          count,
          threshold: rule.count,
          windowMs: rule.windowMs,
          from: new Date(fromMs).toISOString(),
          to: trigger.time,
          nodes: this.store.nodesInWindow(rule.type, nodes, fromMs, triggerMs, kCorrelationNodesListedMax),
          trigger: trigger.id,
        },
      },
      nowMs,
    );
    const outcome = this.store.insert([event], nowMs, () => this.store.setRaisedAt(name, triggerMs));
    return outcome.stored[0] ?? null;
  }
}
