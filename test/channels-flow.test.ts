// Proves flow and rate control in the deterministic simulator (sim time, not wall
// time): with a slow member, the credit window bounds what that member's application
// holds unconsumed, the sender is paced by it and every message still arrives ('block');
// with policy 'remove' the slow member is reported after the bound, removed from the
// view, and the others go on. The token bucket holds a sender to its share of the
// channel's rate plus the burst, and a rate changed at runtime takes effect. Sends over
// the size bound or beyond the send queue fail with coded errors.
import { describe, expect, it } from 'vitest';
import type { ChannelOptions } from '../src/core/channels/channel-options.js';
import { checkFifo, checkIntegrity, checkVirtualSynchrony } from '../src/sim/channels/channel-checkers.js';
import { ReferenceVsGroup } from '../src/sim/channels/reference-vs-group.js';

function payload(size: number, fill: number): Uint8Array {
  return new Uint8Array(size).fill(fill & 0xff);
}

function slowGroup(seed: number, options: ChannelOptions, slowDelayMs = 2): ReferenceVsGroup {
  const group = new ReferenceVsGroup({ seed, members: 4, consumeDelayMs: { m3: slowDelayMs }, layer: { sendQueueMessagesMax: 1024 } });
  group.open('m0', 'flow', options);
  group.runFor(10);
  return group;
}

function deliveredCount(group: ReferenceVsGroup, member: string): number {
  return group.recorder.history.logs[member]!.filter((e) => e.kind === 'deliver' && e.channel === 'flow').length;
}

describe('flow control', () => {
  it("'block': the window bounds a slow member's backlog and paces the sender; nothing is lost", () => {
    const group = slowGroup(11, { reliability: 'reliable', ordering: 'fifo', windowMessages: 16 });
    const start = group.nowMs;
    const ids = Array.from({ length: 300 }, (_, i) => group.send('m0', 'flow', payload(100, i)));
    expect(group.settle(10_000)).toBe(true);
    for (const member of ['m0', 'm1', 'm2', 'm3']) expect(deliveredCount(group, member)).toBe(300);
    for (const id of ids) expect(group.sendStatus.get(id)).toBe('done');
    // m3's application never held more than one window of m0's messages.
    expect(group.unconsumedMax.get('m3|flow')).toBeLessThanOrEqual(16);
    expect(group.unconsumedMax.get('m3|flow')).toBeGreaterThanOrEqual(8);
    // The sender waited for m3: 300 messages at 2 ms each take at least 600 ms of sim time.
    expect(group.nowMs - start).toBeGreaterThanOrEqual(580);
    expect(group.layerOf('m0').channelCounters('flow')!.windowBlocked).toBeGreaterThan(0);
    expect(group.slowReports).toEqual([]);
  });

  it("'remove': the slow member is reported after the bound and removed; the others get everything", () => {
    for (const seed of [12, 13, 14, 15]) removeCase(seed);
  });

  function removeCase(seed: number): void {
    // m3 takes 5 ms a message; the others keep up within network jitter, which the bound must exceed.
    const group = slowGroup(seed, { reliability: 'reliable', ordering: 'total', windowMessages: 16, slowReceiverPolicy: 'remove', slowReceiverBoundMs: 150 }, 5);
    for (let i = 0; i < 300; i++) group.send('m0', 'flow', payload(100, i));
    expect(group.settle(10_000)).toBe(true);
    expect(group.slowReports.map((r) => `${r.reporter} reports ${r.member}`), `seed ${seed}`).toEqual(['m0 reports m3']);
    expect(group.view()).toEqual(['m0', 'm1', 'm2']);
    for (const member of ['m0', 'm1', 'm2']) expect(deliveredCount(group, member)).toBe(300);
    expect(deliveredCount(group, 'm3')).toBeLessThan(300);
    group.requestViewChange();
    expect(group.settle(1_000)).toBe(true);
    const history = group.recorder.history;
    for (const result of [checkIntegrity(history, 'flow'), checkFifo(history, 'flow'), checkVirtualSynchrony(history, 'flow')]) expect(result.violations).toEqual([]);
    expect(group.layerOf('m0').channelCounters('flow')!.slowMembersReported).toBeGreaterThanOrEqual(1);
  }
});

describe('rate control', () => {
  it('a sender gets its share of the channel rate plus the burst, and a new rate applies at once', () => {
    const group = new ReferenceVsGroup({ seed: 13, members: 5 });
    // 1,000 msg/s for the channel over 5 members: 200 msg/s for m0, after a burst of 10.
    group.open('m0', 'rated', { reliability: 'reliable', ordering: 'fifo', rateMessagesPerSecond: 1000, burstMessages: 10, windowMessages: 1024 });
    group.runFor(10);
    for (let i = 0; i < 500; i++) group.send('m0', 'rated', payload(10, i));
    const counters = group.layerOf('m0').channelCounters('rated')!;
    group.runFor(100);
    expect(counters.messagesSent).toBeGreaterThanOrEqual(10 + 20 - 1);
    expect(counters.messagesSent).toBeLessThanOrEqual(10 + 20 + 1);
    expect(counters.rateBlocked).toBeGreaterThan(0);
    group.setRate('m0', 'rated', 10_000); // 2,000 msg/s for m0
    const before = counters.messagesSent;
    group.runFor(50);
    expect(counters.messagesSent - before).toBeGreaterThanOrEqual(100 - 2);
    expect(counters.messagesSent - before).toBeLessThanOrEqual(100 + 2);
    // The sender's own cap wins when it is lower than its share.
    group.layerOf('m0').step({ kind: 'setRate', channel: 'rated', senderRateMessagesPerSecond: 100 });
    const capped = counters.messagesSent;
    group.runFor(100);
    expect(counters.messagesSent - capped).toBeGreaterThanOrEqual(10 - 1);
    expect(counters.messagesSent - capped).toBeLessThanOrEqual(10 + 1);
  });
});

describe('send bounds', () => {
  it('refuses a message over messageBytesMax and a send beyond the queue, with codes and counters', () => {
    const group = new ReferenceVsGroup({ seed: 14, members: 2, layer: { messageBytesMax: 4096, sendQueueMessagesMax: 4, fragmentBytes: 1024 } });
    group.open('m0', 'small', { reliability: 'reliable', ordering: 'fifo', windowMessages: 1 });
    group.runFor(10);
    const big = group.send('m0', 'small', payload(4097, 1));
    expect(group.sendStatus.get(big)).toEqual({ failed: 'GALAXY_CHANNEL_MESSAGE_TOO_LARGE' });
    // Window 1: one message in flight, four queued, the sixth refused.
    const ids = Array.from({ length: 6 }, (_, i) => group.send('m0', 'small', payload(4096, i)));
    expect(group.sendStatus.get(ids[5]!)).toEqual({ failed: 'GALAXY_CHANNEL_SEND_QUEUE_FULL' });
    expect(group.layerOf('m0').channelCounters('small')!.sendsRefused).toBe(1);
    expect(group.settle(1_000)).toBe(true);
    for (const id of ids.slice(0, 5)) expect(group.sendStatus.get(id)).toBe('done');
    // Each 4,096-byte message went as four fragments and came back whole.
    expect(group.layerOf('m1').channelCounters('small')!.fragmentsReceived).toBe(20);
    expect(checkIntegrity(group.recorder.history, 'small').violations).toEqual([]);
  });
});
