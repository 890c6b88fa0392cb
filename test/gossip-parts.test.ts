// Proves the engine's pure parts without a clock or network: Lifeguard's suspicion
// timer maths, local health awareness, the transmit-limited broadcast queue (limits,
// replacement, bound, room for user broadcasts), config presets and their validation,
// the phi threshold, and push-pull summaries (equal views give equal hashes, a changed
// member changes exactly its bucket).
import { describe, expect, it } from 'vitest';
import { Awareness } from '../src/core/membership/awareness.js';
import { BroadcastQueue } from '../src/core/membership/broadcast-queue.js';
import { kLanConfig, kLocalConfig, kWanConfig, membershipConfig, pushPullIntervalFor, retransmitLimit } from '../src/core/membership/config.js';
import { normalQuantile, phiKSquared } from '../src/core/membership/failure-detector.js';
import { bucketOf, mismatchedBuckets, summarize, summaryBucketsFor } from '../src/core/membership/summary.js';
import { expectedConfirmations, remainingSuspicionMs, suspicionMinMs, suspicionTimeoutMs } from '../src/core/membership/suspicion.js';
import { createRuntime } from '../src/core/kernels/create-runtime.js';
import { MembershipTable } from '../src/core/table/membership-table.js';
import * as F from '../src/core/wire/format.js';

describe('suspicion maths', () => {
  it('starts at the maximum and shrinks to the minimum with confirmations', () => {
    const min = suspicionMinMs(4, 100, 1000);
    expect(min).toBe(8000);
    const max = 6 * min;
    expect(suspicionTimeoutMs(0, 2, min, max)).toBe(max);
    expect(suspicionTimeoutMs(1, 2, min, max)).toBeLessThan(max);
    expect(suspicionTimeoutMs(1, 2, min, max)).toBeGreaterThan(min);
    expect(suspicionTimeoutMs(2, 2, min, max)).toBe(min);
    expect(suspicionTimeoutMs(9, 2, min, max)).toBe(min);
    expect(remainingSuspicionMs(0, 2, max + 5, min, max)).toBe(0);
    expect(expectedConfirmations(4, 3)).toBe(1);
    expect(expectedConfirmations(4, 1000)).toBe(2);
  });

  it('awareness stretches timeouts and stays within bounds', () => {
    const a = new Awareness(8);
    a.apply(-3);
    expect(a.scale(500)).toBe(500);
    a.apply(20);
    expect(a.health).toBe(8);
    expect(a.scale(500)).toBe(4500);
  });
});

describe('broadcast queue', () => {
  const part = (n: number, size = 10) => new Uint8Array(size).fill(n);

  it('sends each item at most `limit` times, fewest-sent and newest first', () => {
    const q = new BroadcastQueue(100);
    q.queueMembership('a', part(1));
    q.queueMembership('b', part(2));
    expect(q.take(1000, 64, 2, 0).map((p) => p[0])).toEqual([2, 1]);
    q.queueMembership('c', part(3));
    expect(q.take(1000, 64, 2, 0).map((p) => p[0])).toEqual([3, 2, 1]);
    expect(q.length).toBe(1);
    expect(q.take(1000, 64, 2, 0).map((p) => p[0])).toEqual([3]);
    expect(q.length).toBe(0);
  });

  it('replaces older news about the same node and stays bounded', () => {
    const q = new BroadcastQueue(3);
    q.queueMembership('a', part(1));
    q.queueMembership('a', part(9));
    expect(q.length).toBe(1);
    for (const k of ['b', 'c', 'd']) q.queueMembership(k, part(2));
    expect(q.length).toBe(3);
    expect(q.dropped).toBe(1);
  });

  it('keeps room for user broadcasts when membership news is queued too', () => {
    const q = new BroadcastQueue(100);
    for (let i = 0; i < 20; i++) q.queueMembership(`n${i}`, part(1, 50));
    q.queueUser(part(7, 100));
    const taken = q.take(400, 64, 10, 110);
    expect(taken.some((p) => p[0] === 7)).toBe(true);
    expect(taken.reduce((n, p) => n + p.length + 2, 0)).toBeLessThanOrEqual(400);
  });
});

describe('config', () => {
  it('derives WAN and local from LAN and validates with clear messages', () => {
    expect(kWanConfig.indirectChecks).toBe(kLanConfig.indirectChecks);
    expect(kLocalConfig.probeIntervalMs).toBeLessThan(kLanConfig.probeIntervalMs);
    expect(membershipConfig({ gossipNodes: 5 }).gossipNodes).toBe(5);
    expect(() => membershipConfig({ probeIntervalMs: -1 })).toThrow('options.probeIntervalMs must be a positive number, got -1');
    expect(() => membershipConfig({ probeTimeoutMs: 2000 })).toThrow(/must be less than options.probeIntervalMs/);
    expect(() => membershipConfig({ metaBytesMax: 4096 })).toThrow(/at most 512/);
    expect(() => membershipConfig({ bogus: 1 } as never)).toThrow('unknown membership option "bogus"');
    expect(() => membershipConfig({}, 'mars' as never)).toThrow(/preset must be one of lan, wan, local/);
  });

  it('scales push-pull with log N and retransmits with log10 N', () => {
    expect(pushPullIntervalFor(kLanConfig, 10)).toBe(30_000);
    expect(pushPullIntervalFor(kLanConfig, 10_000)).toBe(300_000);
    expect(retransmitLimit(kLanConfig, 9)).toBe(4);
    expect(retransmitLimit(kLanConfig, 10_000)).toBe(20);
  });
});

describe('phi threshold', () => {
  it('matches the normal quantile', () => {
    expect(normalQuantile(0.975)).toBeCloseTo(1.959964, 5);
    expect(normalQuantile(0.5)).toBeCloseTo(0, 9);
    expect(Math.sqrt(phiKSquared(8))).toBeCloseTo(5.612, 2);
    expect(() => phiKSquared(0)).toThrow(/phi threshold/);
  });
});

describe('push-pull summaries', () => {
  it('equal views hash equal; one changed member changes exactly its bucket', () => {
    const tables = [0, 1].map(() => MembershipTable.create(createRuntime({ backend: 'ts', memoryBytes: 4 << 20 }), 256));
    // Insert in different orders: the summary must not depend on row order.
    for (const [t, order] of [[tables[0]!, [...Array(200).keys()]], [tables[1]!, [...Array(200).keys()].reverse()]] as const) {
      for (const i of order) t.upsert({ high: 5, low: i }, { family: 0, bytes: new Uint8Array(16), port: 0 }, 1, F.kStatusAlive, 0);
    }
    const buckets = summaryBucketsFor(200);
    expect(buckets).toBe(32);
    const a = summarize(tables[0]!, buckets);
    expect(mismatchedBuckets(a, summarize(tables[1]!, buckets).hashes).every((d) => d === 0)).toBe(true);
    tables[1]!.incarnation[tables[1]!.find({ high: 5, low: 77 })] = 2;
    const differ = mismatchedBuckets(a, summarize(tables[1]!, buckets).hashes);
    expect(differ.reduce((n, d) => n + d, 0)).toBe(1);
    expect(differ[bucketOf(5, 77, buckets)]).toBe(1);
  });
});
