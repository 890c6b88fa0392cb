// The agent's per-channel inbox (src/cluster/service/channel-inbox.ts): entries are
// numbered per channel, a read returns those after a position, the bound drops the
// oldest and counts them (a reader behind the bound sees `first` past its position),
// a view is recorded once however often it is reported, and a long-poll is woken by
// the next entry (or returns empty at its wait's end). Plain calls; the one wait is a
// long-poll's own bound of 20 ms, not a speed claim. With a stream attached (the
// WebSocket delivery stream's cursor), nothing is dropped past the bound, a delivery is
// consumed only once every stream has written it, and detaching the last stream
// consumes what it held.
import { describe, expect, it } from 'vitest';
import { ChannelInbox, kInboxEntriesMax, kInboxWaitersMax, type InboxCursor } from '../src/cluster/service/channel-inbox.js';

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

  it('with a stream attached, keeps what the stream has not written, consumes only what every stream wrote', () => {
    const inbox = new ChannelInbox();
    const noop = (): void => undefined;
    expect(inbox.pushMessage('a/0', 1, 1, bytes('before'))).toBe(true);
    const fast: InboxCursor = { after: 0 };
    const slow: InboxCursor = { after: 1 };
    let pushes = 0;
    inbox.attach(fast, () => pushes++);
    inbox.attach(slow, noop);
    inbox.pushView(2, ['a/0', 'b/0']);
    const total = kInboxEntriesMax + 100;
    for (let i = 1; i <= total; i++) expect(inbox.pushMessage('b/0', 2, i, bytes(String(i)))).toBe(false);
    expect(pushes).toBe(total + 1);
    // Nothing fell off: the streams have written none of it.
    expect(inbox.dropped).toBe(0);
    expect(inbox.length).toBe(total + 2);
    // The fast stream wrote everything; nothing is consumed until the slow one has.
    expect(inbox.advance(fast, inbox.last)).toBe(0);
    expect(inbox.advance(slow, 11)).toBe(9);
    expect(inbox.advance(slow, 11)).toBe(0);
    // Detaching the slow stream leaves the fast one, which wrote everything: the rest is consumed.
    expect(inbox.detach(slow, noop)).toBe(total - 9);
    // Now at most the bound is kept (everything was written by the one stream left).
    expect(inbox.length).toBeLessThanOrEqual(kInboxEntriesMax);
    expect(inbox.detach(fast, noop)).toBe(0);
    expect(inbox.pushMessage('a/0', 2, 1, bytes('after'))).toBe(true);
  });
});
