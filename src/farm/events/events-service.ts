import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { z } from 'zod';
import { valuesProblem } from '../components/host/component-limits.js';
import type { ComponentContext } from '../components/sdk.js';
import { EventCorrelator } from './event-correlator.js';
import { EventDelivery, type DeliverySettings } from './event-delivery.js';
import { checkEventsFilter, issues, kEventsPageJsonLengthMax, type EventsPage } from './event-filter.js';
import { EventOutbox, kOutboxSchema } from './event-outbox.js';
import { EventPublisher, kPublishService, kPublishTimeoutMs } from './event-publisher.js';
import { EventStore, kStoreSchema } from './event-store.js';
import type { EventsConfig, LogRule } from './events-config.js';
import { openEventsDatabase } from './events-database.js';
import { EventsError } from './events-error.js';
import { kFarmEventSchema, kPostedEventSchema, makeEvent, type FarmEvent } from './farm-event.js';
import { LandscapeNodes } from './landscape-nodes.js';
import { LogFollower, type LogLine, type LogPosition } from './log-follower.js';
import { kLogPositionsSchema, LogPositions } from './log-positions.js';
import { ThresholdWatcher } from './threshold-watcher.js';

/** Events one events.post may carry. */
export const kPostEventsMax = 1000;
/** Events one events.store batch may carry (senders send batchMax, at most 1000). */
export const kStoreBatchEventsMax = 1000;
/** Matching lines one log file may turn into events per poll; more are counted, not raised (a log storm must not flush the outbox). */
export const kLogEventsPerPollMax = 1000;
/** How often a management node applies its retention policy. */
export const kRetentionIntervalMs = 60_000;
/** Destinations shown in the status record at most (it is bounded to 16 KiB of JSON). */
const kStatusDestinationsMax = 16;

const kPostBodySchema = z.object({ events: z.array(kPostedEventSchema).min(1).max(kPostEventsMax) }).strict();
const kStoreBodySchema = z.object({ events: z.array(z.unknown()).max(kStoreBatchEventsMax) }).strict();
const kValuesBodySchema = z.object({ values: z.record(z.union([z.number(), z.string()])) }).strict();

interface Follower {
  readonly rule: LogRule;
  readonly pattern: RegExp;
  follower: LogFollower;
  /** The position last written to the database, to write only changes. */
  saved: LogPosition | null;
}

/** Characters of a log line in an event body: with the path and JSON escaping it stays under the 8 KiB body bound. */
const kLogLineInEventMax = 2048;
const kLogBodyJsonMax = 6 * 1024;

/** What a management node answers a delivered batch. */
export interface StoreAnswer {
  readonly stored: number;
  readonly duplicates: number;
  readonly expired: number;
  readonly refused: number;
}

/**
 * The event service of one node, inside its component process: it raises events
 * (threshold rules on the values the agent forwards, matching log lines, events posted
 * by local callers), keeps them in the outbox and delivers them to the management
 * nodes; on a management node it also stores the farm's events, answers queries, runs
 * the correlation rules and hands stored events to the agent's stream.
 *
 * Services (see events-component.ts for the bodies):
 *   events.post    local callers only: the agent (component lifecycle events, the API)
 *   events.values  local callers only: the agent forwards the Measurement values
 *   events.store   management nodes: a batch from a node's outbox
 *   events.query   any node: answered by a management node (others forward it)
 */
export class EventsService {
  private config: EventsConfig;
  private outboxDb: Database.Database | null = null;
  private outbox: EventOutbox | null = null;
  private positions: LogPositions | null = null;
  private storeDb: Database.Database | null = null;
  private store: EventStore | null = null;
  private correlator: EventCorrelator | null = null;
  private delivery: EventDelivery | null = null;
  private readonly publisher: EventPublisher;
  private readonly landscapes: LandscapeNodes;
  private watcher: ThresholdWatcher;
  private followers: Follower[] = [];
  private logTimer: NodeJS.Timeout | null = null;
  private retentionTimer: NodeJS.Timeout | null = null;
  /** Whether the outbox is dropping events; the warning event is raised once per such episode. */
  private overflowing = false;
  private closed = false;
  private readonly counters = { posted: 0, thresholdFired: 0, logMatched: 0, logSuppressed: 0, logFailures: 0, stored: 0, duplicates: 0, expired: 0, refused: 0, correlated: 0, correlationFailures: 0 };

  constructor(
    private readonly ctx: ComponentContext,
    config: EventsConfig,
  ) {
    this.config = config;
    this.watcher = new ThresholdWatcher(config.thresholds);
    this.publisher = new EventPublisher((body) => ctx.call(ctx.nodeId, kPublishService, body, { timeoutMs: kPublishTimeoutMs }), (message) => ctx.log.warn(message));
    this.landscapes = new LandscapeNodes((landscape) => ctx.call(ctx.nodeId, 'farm.resolve', { landscape }, { timeoutMs: this.config.callTimeoutMs }));
  }

  /** Opens the outbox (and the store on a management node); throws if the databases cannot be opened. */
  open(): void {
    this.outboxDb = openEventsDatabase(join(this.ctx.stateDir, 'outbox.sqlite'), kOutboxSchema + kLogPositionsSchema);
    this.outbox = new EventOutbox(this.outboxDb, this.config.outboxMax);
    this.positions = new LogPositions(this.outboxDb);
    if (this.config.management) this.openStore();
    this.delivery = new EventDelivery(this.outbox, (node, service, body, timeoutMs) => this.ctx.call(node, service, body, { timeoutMs }), this.ctx.nodeId, deliverySettings(this.config), this.ctx.log);
  }

  start(): void {
    this.delivery!.start();
    this.followLogs();
    this.armRetention();
  }

  stop(): void {
    this.closed = true;
    this.delivery?.stop();
    this.publisher.close();
    if (this.logTimer !== null) clearInterval(this.logTimer);
    if (this.retentionTimer !== null) clearInterval(this.retentionTimer);
    for (const { follower } of this.followers) follower.close();
    this.followers = [];
    this.closeStore();
    this.outboxDb?.close();
    this.outboxDb = null;
  }

  /** Applies a new configuration: rules rebuilt (thresholds re-armed), logs followed anew from their kept positions. */
  reconfigure(config: EventsConfig): void {
    const wasManagement = this.config.management;
    this.config = config;
    this.watcher = new ThresholdWatcher(config.thresholds);
    this.outbox?.setEventsMax(config.outboxMax);
    this.delivery?.setSettings(deliverySettings(config));
    if (config.management && !wasManagement) this.openStore();
    if (!config.management && wasManagement) this.closeStore();
    if (this.store !== null) {
      this.store.setRetention(config.retention);
      this.correlator = new EventCorrelator(config.correlations, this.store, this.ctx.nodeId, (landscape) => this.landscapes.nodes(landscape));
    }
    if (this.outboxDb !== null) {
      for (const { follower } of this.followers) follower.close();
      this.followers = [];
      this.followLogs();
      this.armRetention();
    }
  }

  status(): Record<string, unknown> {
    const destinations = this.delivery?.view() ?? [];
    return {
      management: this.config.management,
      outbox: { events: this.outbox?.size ?? 0, dropped: this.outbox?.dropped ?? 0, max: this.config.outboxMax },
      destinations: destinations.slice(0, kStatusDestinationsMax),
      destinationsTotal: destinations.length,
      store: this.store === null ? null : { events: this.store.size },
      rules: { thresholds: this.config.thresholds.length, logs: this.followers.length, correlations: this.config.correlations.length },
      counters: { ...this.counters },
      stream: { ...this.publisher.counters },
    };
  }

  // ---- services --------------------------------------------------------------------

  /** events.post { events: [{type, severity?, body?, time?, source?}] } -> { ids } */
  post(body: unknown, from: { node: string }): { ids: string[] } {
    this.mustBeOpen();
    this.localOnly(from, 'events.post');
    const parsed = kPostBodySchema.safeParse(body);
    if (!parsed.success) throw new EventsError('GALAXY_EVENTS_BAD_REQUEST', `bad events.post: ${issues(parsed.error)}`);
    const nowMs = Date.now();
    const events = parsed.data.events.map((posted) =>
      makeEvent({ node: this.ctx.nodeId, source: posted.source ?? 'post', type: posted.type, severity: posted.severity, body: posted.body, ...(posted.time === undefined ? {} : { time: new Date(Date.parse(posted.time)).toISOString() }) }, nowMs),
    );
    this.enqueue(events);
    this.counters.posted += events.length;
    return { ids: events.map((event) => event.id) };
  }

  /** events.values { values } -> { fired }: one sample of this node's values for the threshold rules. */
  values(body: unknown, from: { node: string }): { fired: number } {
    this.mustBeOpen();
    this.localOnly(from, 'events.values');
    const parsed = kValuesBodySchema.safeParse(body);
    if (!parsed.success) throw new EventsError('GALAXY_EVENTS_BAD_REQUEST', `bad events.values: ${issues(parsed.error)}`);
    const problem = valuesProblem(parsed.data.values);
    if (problem !== null) throw new EventsError('GALAXY_EVENTS_BAD_REQUEST', `bad events.values: ${problem.detail}`);
    const nowMs = Date.now();
    const events = this.watcher.observe(parsed.data.values, nowMs).map((firing) => makeEvent({ node: this.ctx.nodeId, source: 'threshold', type: firing.type, severity: firing.severity, body: firing.body }, nowMs));
    if (events.length > 0) this.enqueue(events);
    this.counters.thresholdFired += events.length;
    return { fired: events.length };
  }

  /**
   * events.store { events } -> StoreAnswer, on a management node. Events that are not
   * valid, or not of the sending node, are refused (counted) and the rest stored: a
   * sender never gets stuck retrying a batch that can never be taken whole.
   */
  async storeBatch(body: unknown, from: { node: string }): Promise<StoreAnswer> {
    this.mustBeOpen();
    const store = this.store;
    if (store === null) throw new EventsError('GALAXY_EVENTS_NOT_MANAGEMENT', `node ${this.ctx.nodeId} does not store events (its events component is not configured with management: true)`);
    const parsed = kStoreBodySchema.safeParse(body);
    if (!parsed.success) throw new EventsError('GALAXY_EVENTS_BAD_REQUEST', `bad events.store: ${issues(parsed.error)}`);
    const valid: FarmEvent[] = [];
    let refused = 0;
    for (const raw of parsed.data.events) {
      const event = kFarmEventSchema.safeParse(raw);
      if (event.success && event.data.node === from.node) valid.push(event.data);
      else if (++refused === 1) this.ctx.log.warn(`events.store from ${from.node} refused an event: ${event.success ? `it is of node ${event.data.node}` : issues(event.error)}`);
    }
    const nowMs = Date.now();
    const outcome = store.insert(valid, nowMs);
    this.counters.stored += outcome.stored.length;
    this.counters.duplicates += outcome.duplicates;
    this.counters.expired += outcome.expired;
    this.counters.refused += refused;
    this.publisher.publish(outcome.stored);
    await this.correlate(outcome.stored, nowMs);
    return { stored: outcome.stored.length, duplicates: outcome.duplicates, expired: outcome.expired, refused };
  }

  /** events.query { since?, until?, node?, type?, landscape?, limit? } -> EventsPage; a node without the store asks a management node. */
  async query(body: unknown): Promise<EventsPage> {
    this.mustBeOpen();
    const { forwarded, ...rest } = (typeof body === 'object' && body !== null && !Array.isArray(body) ? body : { body }) as { forwarded?: unknown };
    const filter = checkEventsFilter(rest);
    if (this.store === null) {
      if (forwarded === true) throw new EventsError('GALAXY_EVENTS_NOT_MANAGEMENT', `node ${this.ctx.nodeId} does not store events`);
      return this.forwardQuery(filter);
    }
    let nodes: readonly string[] | null = null;
    if (filter.landscape !== undefined) {
      try {
        nodes = await this.landscapes.nodes(filter.landscape);
      } catch (error) {
        throw new EventsError('GALAXY_EVENTS_RESOLVE_FAILED', `landscape ${filter.landscape} could not be resolved: ${(error as Error).message}`);
      }
    }
    this.mustBeOpen();
    if (this.store === null) throw new EventsError('GALAXY_EVENTS_NOT_MANAGEMENT', `node ${this.ctx.nodeId} no longer stores events`);
    return this.store.query(filter, nodes, kEventsPageJsonLengthMax);
  }

  // ---- inside ----------------------------------------------------------------------

  private async forwardQuery(filter: ReturnType<typeof checkEventsFilter>): Promise<EventsPage> {
    const targets = (this.delivery?.view() ?? []).filter((d) => d.reachable).map((d) => d.node);
    if (targets.length === 0) throw new EventsError('GALAXY_EVENTS_NO_MANAGEMENT', 'no management node is reachable to answer the query');
    let last: unknown = null;
    for (const node of targets) {
      try {
        return (await this.ctx.call(node, 'events.query', { ...filter, forwarded: true }, { timeoutMs: this.config.callTimeoutMs })) as EventsPage;
      } catch (error) {
        last = error;
        // A refusal of the query itself would be the same on every management node.
        if ((error as { code?: string }).code === 'GALAXY_EVENTS_BAD_REQUEST') throw error;
      }
    }
    throw last as Error;
  }

  /** Keeps events for delivery, with `also` (log positions) in the same transaction; reports an overflow. */
  private enqueue(events: readonly FarmEvent[], also?: () => void): void {
    const db = this.outboxDb;
    const outbox = this.outbox;
    if (db === null || outbox === null) throw new EventsError('GALAXY_EVENTS_CLOSED', 'the event service is not open');
    const dropped = db.transaction(() => {
      const count = outbox.add(events);
      also?.();
      return count;
    })();
    if (dropped > 0) this.overflowed(outbox, dropped);
    else if (this.overflowing && outbox.size < this.config.outboxMax / 2) this.overflowing = false;
    this.delivery?.kick();
  }

  private overflowed(outbox: EventOutbox, dropped: number): void {
    if (this.overflowing) return;
    this.overflowing = true;
    this.ctx.log.warn(`the event outbox is full (${this.config.outboxMax} events): the oldest are being dropped (${outbox.dropped} so far); no management node has taken them`);
    const warning = makeEvent({ node: this.ctx.nodeId, source: 'events', type: 'events.outbox-overflow', severity: 'warning', body: { outboxMax: this.config.outboxMax, dropped, droppedTotal: outbox.dropped } }, Date.now());
    outbox.add([warning]);
  }

  private async correlate(stored: readonly FarmEvent[], nowMs: number): Promise<void> {
    if (this.correlator === null || stored.length === 0) return;
    try {
      const raised = await this.correlator.evaluate(stored, nowMs);
      this.counters.correlated += raised.length;
      this.publisher.publish(raised);
    } catch (error) {
      if ((++this.counters.correlationFailures & (this.counters.correlationFailures - 1)) === 0) this.ctx.log.warn(`correlation rules not evaluated (${this.counters.correlationFailures} failures): ${(error as Error).message}`);
    }
  }

  private followLogs(): void {
    if (this.logTimer !== null) clearInterval(this.logTimer);
    this.logTimer = null;
    const positions = this.positions!;
    positions.keepOnly(this.config.logs.map((rule) => rule.path));
    this.followers = this.config.logs.map((rule) => {
      const saved = positions.get(rule.path);
      return { rule, pattern: new RegExp(rule.pattern, rule.flags), follower: new LogFollower(rule.path, saved), saved };
    });
    if (this.followers.length === 0) return;
    this.pollLogsSafely();
    this.logTimer = setInterval(() => this.pollLogsSafely(), this.config.logPollMs);
  }

  /**
   * One poll, its failure logged rather than thrown: an outbox that cannot be written
   * (a full disk) would otherwise crash the component on every poll. The followers go
   * back to their saved positions, so the lines read in the failed poll are read again.
   */
  private pollLogsSafely(): void {
    try {
      this.pollLogs();
    } catch (error) {
      if ((++this.counters.logFailures & (this.counters.logFailures - 1)) === 0) this.ctx.log.warn(`log files not read (${this.counters.logFailures} failed polls): ${(error as Error).message}`);
      for (const entry of this.followers) {
        entry.follower.close();
        entry.follower = new LogFollower(entry.rule.path, entry.saved);
      }
    }
  }

  /** Reads every followed file once; each file's events and its new position are kept together. */
  private pollLogs(): void {
    if (this.closed) return;
    const nowMs = Date.now();
    for (const entry of this.followers) {
      const { rule, pattern, follower } = entry;
      const matching = follower.poll().filter((line) => pattern.test(line.text));
      const kept = matching.slice(0, kLogEventsPerPollMax);
      this.counters.logSuppressed += matching.length - kept.length;
      this.counters.logMatched += kept.length;
      const events = kept.map((line) => this.logEvent(rule, line, nowMs));
      const position = follower.position();
      const moved = position !== null && (entry.saved === null || entry.saved.ino !== position.ino || entry.saved.offset !== position.offset);
      const save = moved ? () => this.positions!.set(rule.path, position) : undefined;
      if (events.length > 0) this.enqueue(events, save);
      else save?.();
      if (moved) entry.saved = position;
    }
  }

  private logEvent(rule: LogRule, line: LogLine, nowMs: number): FarmEvent {
    // JSON escaping can make a line of control characters six times longer: cut until it fits.
    let text = line.text.length > kLogLineInEventMax ? `${line.text.slice(0, kLogLineInEventMax - 1)}…` : line.text;
    while (JSON.stringify(text).length > kLogBodyJsonMax) text = `${text.slice(0, Math.floor(text.length / 2))}…`;
    return makeEvent({ node: this.ctx.nodeId, source: 'log', type: rule.type, severity: rule.severity, body: { path: rule.path, line: text, ...(line.cut || text !== line.text ? { cut: true } : {}) } }, nowMs);
  }

  private armRetention(): void {
    if (this.retentionTimer !== null) clearInterval(this.retentionTimer);
    this.retentionTimer = null;
    if (this.store === null) return;
    this.store.prune(Date.now());
    this.retentionTimer = setInterval(() => {
      try {
        this.store?.prune(Date.now());
      } catch (error) {
        this.ctx.log.warn(`retention failed: ${(error as Error).message}`);
      }
    }, kRetentionIntervalMs);
  }

  private openStore(): void {
    this.storeDb = openEventsDatabase(join(this.ctx.stateDir, 'store.sqlite'), kStoreSchema);
    this.store = new EventStore(this.storeDb, this.config.retention);
    this.correlator = new EventCorrelator(this.config.correlations, this.store, this.ctx.nodeId, (landscape) => this.landscapes.nodes(landscape));
  }

  private closeStore(): void {
    this.store = null;
    this.correlator = null;
    this.storeDb?.close();
    this.storeDb = null;
  }

  private localOnly(from: { node: string }, service: string): void {
    if (from.node !== this.ctx.nodeId) throw new EventsError('GALAXY_EVENTS_LOCAL_ONLY', `${service} takes calls from this node only, not from ${from.node}`);
  }

  private mustBeOpen(): void {
    if (this.closed || this.outboxDb === null) throw new EventsError('GALAXY_EVENTS_CLOSED', 'the event service is stopping');
  }
}

function deliverySettings(config: EventsConfig): DeliverySettings {
  return { batchMax: config.batchMax, retry: config.retry, membersRefreshMs: config.membersRefreshMs, callTimeoutMs: config.callTimeoutMs };
}
