// The agent's per-channel inbox (src/cluster/service/channel-inbox.ts): entries are
// numbered per channel, a read returns those after a position, the bound drops the
// oldest and counts them (a reader behind the bound sees `first` past its position),
// a view is recorded once however often it is reported, and a long-poll is woken by
// the next entry (or returns empty at its wait's end). Plain calls; the one wait is a
// long-poll's own bound of 20 ms, not a speed claim.
import { describe, expect, it } from 'vitest';
import { ChannelInbox, kInboxEntriesMax, kInboxWaitersMax } from '../src/cluster/service/channel-inbox.js';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

describe('ChannelInbox', () => {
  it('numbers entries, reads after a position, records a view once', () => {
    const inbox = new ChannelInbox();
    inbox.pushView(3, ['a/0', 'b/0']);
    inbox.pushView(3, ['a/0', 'b/0']);
    inbox.pushMessage('a/0', 3, 1, bytes('x'));
    inbox.pushMessage('b/0', 3, 1, bytes('y'));
    expect(inbox.last).toBe(3);
    expect(inbox.read(0).entries.map((e) => e.at)).toEqual([1, 2, 3]);
    expect(inbox.read(2).entries).toMatchObject([{ at: 3, kind: 'message', sender: 'b/0', viewId: 3, seq: 1 }]);
    expect(inbox.read(3).entries).toEqual([]);
    expect(inbox.delivered).toBe(2);
  });

  it('keeps at most kInboxEntriesMax entries, drops the oldest and counts them', () => {
    const inbox = new ChannelInbox();
    for (let i = 1; i <= kInboxEntriesMax + 10; i++) inbox.pushMessage('a/0', 1, i, bytes(String(i)));
    expect(inbox.length).toBe(kInboxEntriesMax);
    expect(inbox.dropped).toBe(10);
    const read = inbox.read(0, 5);
    expect(read.first).toBe(11);
    expect(read.entries.map((e) => e.at)).toEqual([11, 12, 13, 14, 15]);
  });

  it('wakes a long-poll with the next entry, returns empty at the end of its wait, and bounds its waiters', async () => {
    const inbox = new ChannelInbox();
    const waiting = inbox.wait(0, 60_000);
    inbox.pushMessage('a/0', 1, 1, bytes('x'));
    expect((await waiting).entries.map((e) => e.at)).toEqual([1]);
    expect((await inbox.wait(1, 20)).entries).toEqual([]);
    const many = Array.from({ length: kInboxWaitersMax }, () => inbox.wait(1, 60_000));
    await expect(inbox.wait(1, 60_000)).rejects.toThrow(/already wait/);
    inbox.wakeAll();
    expect((await Promise.all(many)).every((r) => r.entries.length === 0)).toBe(true);
  });
});
