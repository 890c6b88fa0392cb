// The channel fault scenario (test/faults/channel-faults.test.ts, root only) reads real
// agents' inboxes into a ChannelHistory (test/faults/support/channel-history-of.ts). This
// proves that reading on made-up lives, in `npm test`: a member cut out of the last view
// change whose next core had not installed a view when the logs were taken stopped in its
// view (it must have delivered a prefix of the survivors' sequence, and is not held to the
// whole of it), while real faults in the same shapes are still caught: two members passing
// together with different deliveries, and survivors of the newest view that differ.
import { describe, expect, it } from 'vitest';
import type { WireEntry } from '../src/cluster/service/channel-routes.js';
import { checkTotal, checkVirtualSynchrony } from '../src/sim/channels/channel-checkers.js';
import type { ChannelHistory, LogEntry } from '../src/sim/channels/channel-history.js';
import { channelHistoryOf, type RecordedLife, type SentText } from './faults/support/channel-history-of.js';

const kChannel = 'orders';

/** Builds lives and sends: each message is `sender#n` sent in `viewId` with seq n, delivered where listed. */
class Lives {
  readonly sent: SentText[] = [];
  private readonly entries = new Map<string, WireEntry[]>();
  private readonly at = new Map<string, number>();

  view(nodes: readonly string[], viewId: number, members: readonly string[]): this {
    for (const node of nodes) this.push(node, { kind: 'view', viewId, members: [...members] });
    return this;
  }

  /** `sender` (a member name, node/incarnation) sends seq 1..count in viewId; `at` lists who delivers how many of them, in order. */
  messages(sender: string, viewId: number, count: number, at: Record<string, number>): this {
    const node = sender.slice(0, sender.indexOf('/'));
    for (let seq = 1; seq <= count; seq++) {
      const text = `${node} v${viewId} #${seq}`;
      this.sent.push({ node, text, outcome: { ok: true, viewId, seq } });
      for (const [receiver, upTo] of Object.entries(at)) {
        if (seq <= upTo) this.push(receiver, { kind: 'message', viewId, sender, seq, base64: Buffer.from(text).toString('base64') });
      }
    }
    return this;
  }

  lives(ended: readonly string[] = []): RecordedLife[] {
    return [...this.entries].map(([node, entries]) => ({ node, entries, ended: ended.includes(node) }));
  }

  private push(node: string, entry: Omit<WireEntry, 'at'>): void {
    const at = (this.at.get(node) ?? 0) + 1;
    this.at.set(node, at);
    const list = this.entries.get(node) ?? [];
    list.push({ at, ...entry } as WireEntry);
    this.entries.set(node, list);
  }
}

const kThree = ['a/0', 'b/0', 'c/0'];

/** Views 15 and 16 of a, b, c with traffic in both; c delivered only 3 of a's 5 messages of 16 (it froze at its promise). */
function cutOutAtTheEnd(): Lives {
  return new Lives()
    .view(['a', 'b', 'c'], 15, kThree)
    .messages('b/0', 15, 4, { a: 4, b: 4, c: 4 })
    .view(['a', 'b', 'c'], 16, kThree)
    .messages('a/0', 16, 5, { a: 5, b: 5, c: 3 })
    .view(['a', 'b'], 17, ['a/0', 'b/0'])
    .messages('b/0', 17, 2, { a: 2, b: 2 });
}

function ok(history: ChannelHistory): { total: boolean; vs: boolean } {
  return { total: checkTotal(history, kChannel, { sequencerCrashExempt: true }).ok, vs: checkVirtualSynchrony(history, kChannel).ok };
}

describe('the channel fault scenario reads agents\' inboxes into member logs', () => {
  it('a member cut out of the last view change, its next core not yet in a view, stopped in its view (a prefix passes)', () => {
    const { history } = channelHistoryOf(kChannel, cutOutAtTheEnd().lives(), cutOutAtTheEnd().sent);
    const c = history.logs['c/0']!;
    expect(c[c.length - 1]).toEqual({ kind: 'stop' });
    expect(history.logs['a/0']![history.logs['a/0']!.length - 1]).toMatchObject({ kind: 'view', members: [] });
    expect(ok(history)).toEqual({ total: true, vs: true });
  });

  it('the old reading (a closing view for every running life) fails the same lives exactly as the run at load ~160 did', () => {
    const { history } = channelHistoryOf(kChannel, cutOutAtTheEnd().lives(), cutOutAtTheEnd().sent);
    const old = structuredClone(history);
    const c = old.logs['c/0']!;
    c[c.length - 1] = { kind: 'view', viewId: 16 + 1000, members: [] } satisfies LogEntry;
    const total = checkTotal(old, kChannel, { sequencerCrashExempt: true });
    expect(total.ok).toBe(false);
    // One survivor's sequence a prefix of the other's: they differ at the shorter's end.
    expect(total.violations[0]).toBe('view 16: a/0 and c/0 differ at delivery 3 of 5 / 3 (orders|a/0|16|4 vs end)');
  });

  it('a cut-out member that delivered more than the survivors in its view is still caught', () => {
    const lives = new Lives()
      .view(['a', 'b', 'c'], 16, kThree)
      .messages('a/0', 16, 5, { a: 3, b: 3, c: 4 })
      .view(['a', 'b'], 17, ['a/0', 'b/0'])
      .messages('b/0', 17, 1, { a: 1, b: 1 });
    const { history } = channelHistoryOf(kChannel, lives.lives(), lives.sent);
    // a is the sequencer and stays, so c gets no exemption: 4 is not a prefix of 3.
    expect(ok(history).total).toBe(false);
  });

  it('two members passing together from 16 to 17 with different deliveries are caught by both checkers', () => {
    const lives = new Lives()
      .view(['a', 'b', 'c'], 16, kThree)
      .messages('a/0', 16, 5, { a: 5, b: 5, c: 4 })
      .view(['a', 'b', 'c'], 17, kThree)
      .messages('b/0', 17, 2, { a: 2, b: 2, c: 2 });
    const { history } = channelHistoryOf(kChannel, lives.lives(), lives.sent);
    expect(ok(history)).toEqual({ total: false, vs: false });
  });

  it('running members that end in the newest view are judged there (one short is caught)', () => {
    const lives = new Lives()
      .view(['a', 'b', 'c'], 16, kThree)
      .messages('a/0', 16, 5, { a: 5, b: 5, c: 5 })
      .view(['a', 'b', 'c'], 17, kThree)
      .messages('b/0', 17, 3, { a: 3, b: 3, c: 2 });
    const { history } = channelHistoryOf(kChannel, lives.lives(), lives.sent);
    expect(ok(history)).toEqual({ total: false, vs: false });
  });

  it('a member back as a new incarnation in the same process: the old one stops, the new one is judged from its first view', () => {
    const lives = cutOutAtTheEnd()
      .view(['c'], 18, ['a/0', 'b/0', 'c/1'])
      .view(['a', 'b'], 18, ['a/0', 'b/0', 'c/1'])
      .messages('c/1', 18, 2, { a: 2, b: 2, c: 2 });
    const { history } = channelHistoryOf(kChannel, lives.lives(), lives.sent);
    expect(history.logs['c/0']!.at(-1)).toEqual({ kind: 'stop' });
    expect(history.logs['c/1']![0]).toMatchObject({ kind: 'view', viewId: 18 });
    expect(ok(history)).toEqual({ total: true, vs: true });
  });

  it('a killed process\'s life ends in a stop', () => {
    const { history } = channelHistoryOf(kChannel, cutOutAtTheEnd().lives(['a']), cutOutAtTheEnd().sent);
    expect(history.logs['a/0']!.at(-1)).toEqual({ kind: 'stop' });
  });
});
