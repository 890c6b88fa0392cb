// Proves the event service's pure parts and its rules against a real SQLite store,
// without processes: a threshold rule fires once per crossing (not on every sample
// beyond it), waits forMs when asked, re-arms when the value goes back, and ignores
// missing readings; a correlation rule raises exactly one event per window however many
// events follow (a second burst a window later raises again), counts only the nodes of
// its landscape, and keeps its once-per-window state across a reopened store; the
// configuration, the query filter, time arguments and posted events refuse bad input
// with messages naming the field.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { correlationEventId, correlationRaises, EventCorrelator } from '../src/farm/events/event-correlator.js';
import { checkEventsFilter, parseTimeArgument } from '../src/farm/events/event-filter.js';
import { EventStore, kStoreSchema } from '../src/farm/events/event-store.js';
import { parseEventsConfig, type CorrelationRule } from '../src/farm/events/events-config.js';
import { openEventsDatabase } from '../src/farm/events/events-database.js';
import { kFarmEventSchema, kPostedEventSchema, makeEvent, type FarmEvent } from '../src/farm/events/farm-event.js';
import { ThresholdWatcher } from '../src/farm/events/threshold-watcher.js';

const root = mkdtempSync(join(tmpdir(), 'galaxy-events-rules-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const kMgmt = '00000000000000aa';
const kRack = ['0000000000000001', '0000000000000002', '0000000000000003'];
const kOther = '00000000000000ff';
const kT0 = Date.parse('2025-06-01T12:00:00.000Z');

function diskFull(node: string, atMs: number): FarmEvent {
  return makeEvent({ node, source: 'threshold', type: 'disk.full', severity: 'error', body: { mount: '/' } }, atMs);
}

describe('threshold rules', () => {
  const rule = parseEventsConfig({ thresholds: [{ key: 'load1', op: '>', value: 4, type: 'load.high', severity: 'warning' }] }).thresholds;

  it('fire once per crossing and re-arm when the value goes back', () => {
    const watcher = new ThresholdWatcher(rule);
    const fired = [1, 5, 6, 7, 3, 4, 4.5, 9].map((load1, i) => watcher.observe({ load1 }, kT0 + i * 1000).length);
    expect(fired).toEqual([0, 1, 0, 0, 0, 0, 1, 0]);
    const firing = new ThresholdWatcher(rule).observe({ load1: 8 }, kT0)[0]!;
    expect(firing).toEqual({ type: 'load.high', severity: 'warning', body: { key: 'load1', op: '>', threshold: 4, value: 8, sinceMs: kT0, forMs: 0 } });
  });

  it('wait forMs of holding before they fire, and ignore samples without the key', () => {
    const watcher = new ThresholdWatcher(parseEventsConfig({ thresholds: [{ key: 'diskFreeBytes', op: '<', value: 100, type: 'disk.full', forMs: 5000 }] }).thresholds);
    const at = (seconds: number, values: Record<string, number | string>) => watcher.observe(values, kT0 + seconds * 1000).length;
    expect(at(0, { diskFreeBytes: 50 })).toBe(0);
    expect(at(3, { load1: 1 })).toBe(0); // no reading: neither a recovery nor a firing
    expect(at(4, { diskFreeBytes: 'n/a' })).toBe(0);
    expect(at(5, { diskFreeBytes: 40 })).toBe(1);
    expect(at(6, { diskFreeBytes: 40 })).toBe(0);
    expect(at(7, { diskFreeBytes: 500 })).toBe(0);
    expect(at(8, { diskFreeBytes: 10 })).toBe(0);
    expect(at(9, { diskFreeBytes: 500 })).toBe(0); // went back before forMs: no event
    expect(at(10, { diskFreeBytes: 10 })).toBe(0);
    expect(at(15, { diskFreeBytes: 10 })).toBe(1);
  });

  it('compare with every operator', () => {
    const ops = ['>', '>=', '<', '<=', '==', '!='] as const;
    const fires = ops.map((op) => new ThresholdWatcher(parseEventsConfig({ thresholds: [{ key: 'x', op, value: 2, type: 't' }] }).thresholds).observe({ x: 2 }, 0).length);
    expect(fires).toEqual([0, 1, 0, 1, 1, 0]);
  });
});

describe('correlation rules', () => {
  const rule: CorrelationRule = parseEventsConfig({ correlations: [{ type: 'disk.full', landscape: 'rack12', count: 3, windowMs: 600_000, raise: { type: 'disk.full.correlated', severity: 'critical' } }] }).correlations[0]!;

  it('decide once per window', () => {
    expect(correlationRaises(rule, kT0, 2, null)).toBe(false);
    expect(correlationRaises(rule, kT0, 3, null)).toBe(true);
    expect(correlationRaises(rule, kT0 + 599_999, 9, kT0)).toBe(false);
    expect(correlationRaises(rule, kT0 + 600_000, 3, kT0)).toBe(true);
    expect(correlationEventId('r', 'a')).toBe(correlationEventId('r', 'a'));
    expect(correlationEventId('r', 'a')).not.toBe(correlationEventId('r', 'b'));
  });

  it('raise exactly one warning per window, on the landscape\'s nodes only, across a reopened store', async () => {
    const path = join(root, 'correlation.sqlite');
    let db = openEventsDatabase(path, kStoreSchema);
    let store = new EventStore(db, { maxAgeMs: 3650 * 86_400_000, maxRows: 1_000_000 });
    let resolutions = 0;
    const landscapeNodes = async (landscape: string) => {
      resolutions++;
      expect(landscape).toBe('rack12');
      return kRack;
    };
    let correlator = new EventCorrelator([rule], store, kMgmt, landscapeNodes);
    const deliver = async (events: FarmEvent[], nowMs: number) => correlator.evaluate(store.insert(events, nowMs).stored, nowMs);

    // Two on the rack and two elsewhere: not yet.
    expect(await deliver([diskFull(kRack[0]!, kT0), diskFull(kOther, kT0 + 1000), diskFull(kOther, kT0 + 2000), diskFull(kRack[1]!, kT0 + 3000)], kT0 + 3000)).toEqual([]);
    // The third on the rack raises; the fourth, fifth and sixth in the same window do not.
    const raised = await deliver([diskFull(kRack[2]!, kT0 + 60_000)], kT0 + 60_000);
    expect(raised).toHaveLength(1);
    expect(raised[0]).toMatchObject({ node: kMgmt, source: 'correlation', type: 'disk.full.correlated', severity: 'critical', body: { rule: 'disk.full@rack12', count: 3, threshold: 3, landscape: 'rack12', windowMs: 600_000 } });
    expect([...(raised[0]!.body['nodes'] as string[])].sort()).toEqual([...kRack].sort());
    expect(kFarmEventSchema.safeParse(raised[0]).success).toBe(true);
    expect(await deliver([diskFull(kRack[0]!, kT0 + 120_000), diskFull(kRack[1]!, kT0 + 130_000)], kT0 + 130_000)).toEqual([]);

    // A management restart: the store is reopened; the window's raise is remembered.
    db.close();
    db = openEventsDatabase(path, kStoreSchema);
    store = new EventStore(db, { maxAgeMs: 3650 * 86_400_000, maxRows: 1_000_000 });
    correlator = new EventCorrelator([rule], store, kMgmt, landscapeNodes);
    expect(await deliver([diskFull(kRack[2]!, kT0 + 300_000)], kT0 + 300_000)).toEqual([]);
    // A window after the raise, a burst raises again, once.
    const again = await deliver([diskFull(kRack[0]!, kT0 + 700_000), diskFull(kRack[1]!, kT0 + 701_000), diskFull(kRack[2]!, kT0 + 702_000), diskFull(kRack[0]!, kT0 + 703_000)], kT0 + 703_000);
    expect(again).toHaveLength(1);
    expect(again[0]!.body['trigger']).not.toBe(raised[0]!.body['trigger']);
    const stored = store.query(checkEventsFilter({ type: 'disk.full.correlated' }), null, 1 << 20);
    expect(stored.events).toHaveLength(2);
    expect(resolutions).toBeGreaterThan(0);
    db.close();
  });
});

describe('input checks', () => {
  it('refuse a bad configuration naming the field', () => {
    expect(parseEventsConfig({})).toMatchObject({ management: false, thresholds: [], outboxMax: 100_000, retention: { maxAgeMs: 30 * 86_400_000 } });
    expect(() => parseEventsConfig({ thresholds: [{ key: 'load1', op: '=>', value: 4, type: 'x' }] })).toThrow(/thresholds\.0\.op/);
    expect(() => parseEventsConfig({ thresholds: [{ key: 'load1', op: '>', value: 4, type: 'Load High' }] })).toThrow(/thresholds\.0\.type/);
    expect(() => parseEventsConfig({ logs: [{ path: 'relative.log', pattern: 'x', type: 'x' }] })).toThrow(/logs\.0\.path/);
    expect(() => parseEventsConfig({ logs: [{ path: '/var/log/x', pattern: '(', type: 'x' }] })).toThrow(/logs\.0\.pattern: a log pattern must be a valid regular expression/);
    expect(() => parseEventsConfig({ correlations: [{ type: 'disk.full', count: 1, windowMs: 600_000, raise: { type: 'x' } }] })).toThrow(/correlations\.0\.count/);
    expect(() => parseEventsConfig({ retry: { initialMs: 1000, maxMs: 100 } })).toThrow(/retry/);
    expect(() => parseEventsConfig({ managment: true })).toThrow(/managment/);
  });

  it('check query filters and time arguments', () => {
    expect(checkEventsFilter({})).toEqual({ limit: 1000 });
    expect(checkEventsFilter({ type: 'disk.*', node: kMgmt, limit: 10 })).toEqual({ type: 'disk.*', node: kMgmt, limit: 10 });
    expect(() => checkEventsFilter({ limit: 10_001 })).toThrow(expect.objectContaining({ code: 'GALAXY_EVENTS_BAD_REQUEST', message: expect.stringContaining('limit') }));
    expect(() => checkEventsFilter({ node: 'nope' })).toThrow(/node/);
    expect(() => checkEventsFilter({ since: 'yesterday' })).toThrow(/since/);
    expect(() => checkEventsFilter({ since: '2025-02-01T00:00:00Z', until: '2025-01-01T00:00:00Z' })).toThrow(/since is after until/);
    expect(() => checkEventsFilter({ colour: 'red' })).toThrow(/colour/);
    expect(parseTimeArgument('10m', kT0)).toBe(new Date(kT0 - 600_000).toISOString());
    expect(parseTimeArgument('2d', kT0)).toBe(new Date(kT0 - 2 * 86_400_000).toISOString());
    expect(parseTimeArgument('2025-06-01T14:00:00+02:00', kT0)).toBe('2025-06-01T12:00:00.000Z');
    expect(() => parseTimeArgument('10 minutes', kT0, '--since')).toThrow(/--since is an ISO 8601 time/);
  });

  it('check events and posted events', () => {
    const event = diskFull(kRack[0]!, kT0);
    expect(kFarmEventSchema.parse(event)).toEqual(event);
    expect(event.id).toMatch(/^[0-9a-f]{32}$/);
    expect(kFarmEventSchema.safeParse({ ...event, severity: 'fatal' }).success).toBe(false);
    expect(kFarmEventSchema.safeParse({ ...event, body: { big: 'x'.repeat(9000) } }).success).toBe(false);
    expect(kFarmEventSchema.safeParse({ ...event, extra: 1 }).success).toBe(false);
    expect(kPostedEventSchema.parse({ type: 'deploy.done' })).toEqual({ type: 'deploy.done', severity: 'info', body: {} });
    expect(kPostedEventSchema.safeParse({ type: 'deploy.done', body: [1] }).success).toBe(false);
    expect(kPostedEventSchema.safeParse({ type: 'deploy.done', time: 'now' }).success).toBe(false);
  });
});
