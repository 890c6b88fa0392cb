// Proves the event service's two SQLite tables on real database files: the outbox keeps
// events in order per management node (a cursor each), deletes only what every node
// acknowledged, lets a new node start at the oldest event kept, drops the oldest beyond
// its bound and counts them across a reopen, and bounds a batch's JSON; the store keeps
// each event once however often a batch is delivered, survives being closed and
// reopened with nothing lost, answers queries by time, node, type (or prefix) and node
// set with the newest `limit` events oldest first, and applies its retention policy.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkEventsFilter } from '../src/farm/events/event-filter.js';
import { EventOutbox, kOutboxSchema } from '../src/farm/events/event-outbox.js';
import { EventStore, kStoreSchema } from '../src/farm/events/event-store.js';
import { openEventsDatabase } from '../src/farm/events/events-database.js';
import { makeEvent, type FarmEvent } from '../src/farm/events/farm-event.js';

const root = mkdtempSync(join(tmpdir(), 'galaxy-events-store-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const kNode = '0000000000000001';
const kMgmt1 = '00000000000000a1';
const kMgmt2 = '00000000000000a2';
const kT0 = Date.parse('2025-06-01T12:00:00.000Z');
const kYears = { maxAgeMs: 3650 * 86_400_000, maxRows: 1_000_000 };

function events(count: number, fields: Partial<{ node: string; type: string; atMs: number; body: Record<string, unknown> }> = {}): FarmEvent[] {
  return Array.from({ length: count }, (_, i) => makeEvent({ node: fields.node ?? kNode, source: 'test', type: fields.type ?? 'test.event', severity: 'info', body: fields.body ?? { i } }, (fields.atMs ?? kT0) + i));
}

describe('outbox', () => {
  it('delivers in order per node and deletes only what every node has', () => {
    const db = openEventsDatabase(join(root, 'outbox-1.sqlite'), kOutboxSchema);
    const outbox = new EventOutbox(db, 1000);
    const sent = events(5);
    outbox.add(sent);
    outbox.add(sent.slice(0, 2)); // the same ids again: ignored
    expect(outbox.size).toBe(5);
    expect(outbox.batch(kMgmt1, 10, 1 << 20)).toBeNull(); // not a destination yet

    outbox.setDestinations([kMgmt1, kMgmt2]);
    const first = outbox.batch(kMgmt1, 3, 1 << 20)!;
    expect(first.events.map((e) => e.id)).toEqual(sent.slice(0, 3).map((e) => e.id));
    outbox.ack(kMgmt1, first.lastSeq);
    expect(outbox.size).toBe(5); // kMgmt2 has none yet
    expect(outbox.pendingFor(kMgmt1)).toBe(2);
    const all = outbox.batch(kMgmt2, 10, 1 << 20)!;
    expect(all.events).toHaveLength(5);
    outbox.ack(kMgmt2, all.lastSeq);
    expect(outbox.size).toBe(2);
    // A management node gone from the farm no longer holds events back; a new one starts at the oldest kept.
    outbox.setDestinations([kMgmt2, '00000000000000a3']);
    expect(outbox.size).toBe(2);
    expect(outbox.batch('00000000000000a3', 10, 1 << 20)!.events.map((e) => e.id)).toEqual(sent.slice(3).map((e) => e.id));
    outbox.setDestinations([kMgmt2]);
    expect(outbox.size).toBe(0);
    outbox.add(events(2, { atMs: kT0 + 100 }));
    // Acknowledging an older batch again never moves a cursor back.
    outbox.ack(kMgmt2, 1);
    expect(outbox.pendingFor(kMgmt2)).toBe(2);
    db.close();
  });

  it('drops the oldest beyond its bound, counts them across a reopen, and bounds a batch', () => {
    const path = join(root, 'outbox-2.sqlite');
    let db = openEventsDatabase(path, kOutboxSchema);
    let outbox = new EventOutbox(db, 100);
    const sent = events(130);
    expect(outbox.add(sent.slice(0, 100))).toBe(0);
    expect(outbox.add(sent.slice(100))).toBe(30);
    expect(outbox.size).toBe(100);
    expect(outbox.dropped).toBe(30);
    db.close();
    db = openEventsDatabase(path, kOutboxSchema);
    outbox = new EventOutbox(db, 100);
    expect(outbox.size).toBe(100);
    expect(outbox.dropped).toBe(30);
    outbox.setDestinations([kMgmt1]);
    const batch = outbox.batch(kMgmt1, 1000, 1000)!;
    expect(batch.events[0]!.id).toBe(sent[30]!.id);
    expect(batch.events.length).toBeGreaterThan(1);
    expect(JSON.stringify(batch.events).length).toBeLessThanOrEqual(1000);
    // One event larger than the bound still goes, alone.
    expect(outbox.batch(kMgmt1, 1000, 10)!.events).toHaveLength(1);
    db.close();
  });
});

describe('store', () => {
  it('stores each event once across redeliveries and a reopen', () => {
    const path = join(root, 'store-1.sqlite');
    let db = openEventsDatabase(path, kStoreSchema);
    let store = new EventStore(db, kYears);
    const batch = events(50);
    expect(store.insert(batch, kT0)).toMatchObject({ duplicates: 0, expired: 0 });
    expect(store.insert(batch, kT0)).toMatchObject({ stored: [], duplicates: 50 });
    db.close();

    db = openEventsDatabase(path, kStoreSchema);
    store = new EventStore(db, kYears);
    expect(store.size).toBe(50);
    const outcome = store.insert([...batch.slice(40), ...events(5, { atMs: kT0 + 1000 })], kT0);
    expect(outcome.stored).toHaveLength(5);
    expect(outcome.duplicates).toBe(10);
    const page = store.query(checkEventsFilter({ limit: 10_000 }), null, 1 << 20);
    expect(page.events).toHaveLength(55);
    expect(new Set(page.events.map((e) => e.id)).size).toBe(55);
    expect(page.events.slice(0, 50)).toEqual(batch);
    db.close();
  });

  it('answers queries by time, node, type, node set and limit', () => {
    const db = openEventsDatabase(join(root, 'store-2.sqlite'), kStoreSchema);
    const store = new EventStore(db, kYears);
    store.insert([...events(3, { type: 'disk.full' }), ...events(3, { type: 'disk.slow', atMs: kT0 + 10_000 }), ...events(3, { type: 'load.high', node: kMgmt1, atMs: kT0 + 20_000 })], kT0);
    const query = (filter: object, nodes: string[] | null = null, length = 1 << 20) => store.query(checkEventsFilter(filter), nodes, length);
    expect(query({ type: 'disk.full' }).events.map((e) => e.type)).toEqual(['disk.full', 'disk.full', 'disk.full']);
    expect(query({ type: 'disk.*' }).events).toHaveLength(6);
    expect(query({ node: kMgmt1 }).events).toHaveLength(3);
    expect(query({}, [kMgmt1, kMgmt2]).events).toHaveLength(3);
    expect(query({ since: new Date(kT0 + 10_000).toISOString(), until: new Date(kT0 + 20_000).toISOString() }).events.map((e) => e.type)).toEqual(['disk.slow', 'disk.slow', 'disk.slow', 'load.high']);
    const newest = query({ limit: 4 });
    expect(newest.truncated).toBe(true);
    expect(newest.events.map((e) => e.time)).toEqual([kT0 + 10_002, kT0 + 20_000, kT0 + 20_001, kT0 + 20_002].map((ms) => new Date(ms).toISOString()));
    expect(query({ limit: 9 }).truncated).toBe(false);
    const small = query({}, null, 1000);
    expect(small.truncated).toBe(true);
    expect(small.events.length).toBeGreaterThan(0);
    expect(small.events.length).toBeLessThan(9);
    expect(small.events.at(-1)!.time).toBe(new Date(kT0 + 20_002).toISOString());
    db.close();
  });

  it('applies its retention policy', () => {
    const db = openEventsDatabase(join(root, 'store-3.sqlite'), kStoreSchema);
    const store = new EventStore(db, { maxAgeMs: 60_000, maxRows: 100 });
    const nowMs = kT0 + 120_000;
    expect(store.insert(events(10, { atMs: kT0 }), nowMs).expired).toBe(10); // arrived already too old
    store.insert(events(10, { atMs: nowMs - 30_000 }), nowMs);
    store.insert(events(150, { atMs: nowMs - 10_000 }), nowMs);
    expect(store.size).toBe(160);
    expect(store.prune(nowMs)).toBe(60);
    expect(store.size).toBe(100);
    expect(store.query(checkEventsFilter({ limit: 10_000 }), null, 1 << 20).events[0]!.time).toBe(new Date(nowMs - 10_000 + 50).toISOString());
    expect(store.prune(nowMs + 60_000)).toBe(100);
    expect(store.size).toBe(0);
    db.close();
  });
});
