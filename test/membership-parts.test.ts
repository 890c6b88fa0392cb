// Proves the five parts of the membership engine one at a time (test/support/engine-parts.ts
// wires them as MembershipEngine does; each test drives ONE part through its own methods
// and reads the table, the events and the decoded sends):
//  - Dissemination: a news item rides on at most retransmitLimit datagrams, every datagram
//    carries the heartbeat, gossip reaches at most gossipNodes members that are alive,
//    suspect or recently dead, user broadcasts are delivered and relayed once.
//  - MemberState: the incarnation rules as a table of (state, message) -> (state, events);
//    refutation; the suspicion window shrinking with each independent confirmation to
//    the exact Lifeguard deadline; tombstones reaped at tombstoneReapMs, not before.
//  - Prober: every member probed once per round (over seeds); a probe failing after
//    indirect probes suspects its target, and missing nacks raise the health score; a
//    relay passes acks back and nacks on silence; ICMP evidence and its confirmation.
//  - Watcher: heartbeat-only beats every watchIntervalMs to the two ring successors by
//    node id, the ring closing over a dead successor, none without ICMP evidence; a
//    death this node declares goes directly to every live member of a small farm (and
//    only to the gossip fanout above deathRelayDirectMax).
//  - AntiEntropy: equal summaries exchange no state, a differing bucket sends exactly
//    that bucket's members, a full state is merged (join and metadata) and answered.
import { describe, expect, it } from 'vitest';
import { retransmitLimit } from '../src/core/membership/config.js';
import { bucketOf, summarize } from '../src/core/membership/summary.js';
import { expectedConfirmations, suspicionMinMs, suspicionTimeoutMs } from '../src/core/membership/suspicion.js';
import { createRuntime } from '../src/core/kernels/create-runtime.js';
import { MembershipTable } from '../src/core/table/membership-table.js';
import * as F from '../src/core/wire/format.js';
import { parseWireAddress, type Message } from '../src/core/wire/message.js';
import { PartsHarness, type Sent } from './support/engine-parts.js';
import { addressOfName, idOfName, nameOfAddress, nameOfId } from './support/membership-transcript.js';
import { Watcher } from '../src/core/membership/watcher.js';

const { kStatusAlive: ALIVE, kStatusSuspect: SUSPECT, kStatusDead: DEAD, kStatusLeft: LEFT, kStatusEmpty: EMPTY } = F;
const kNoPayload = new Uint8Array(0);

function carries(sent: Sent, type: number): boolean {
  return sent.messages.some((m) => m.type === type);
}

function pingOf(sent: Sent[]): { to: string; seq: number } {
  const found = sent.flatMap((s) => s.messages.filter((m) => m.type === F.kTypePing).map((m) => ({ to: s.to, seq: (m as { seq: number }).seq })));
  expect(found.length, 'one ping sent').toBe(1);
  return found[0]!;
}

describe('Dissemination', () => {
  it('carries a news item on at most retransmitLimit datagrams; every datagram carries the heartbeat', () => {
    const h = new PartsHarness();
    h.adopt(['B', ALIVE, 1], ['C', ALIVE, 1]);
    h.dissemination.queueMembership(h.ctx.key(h.row('C')), h.ctx.parts.accusation(F.kTypeSuspect, 1, h.table, h.row('C'), h.row('B')));
    // Never twice in a row to the same member: ten datagrams to B carry it once.
    for (let i = 0; i < 10; i++) h.dissemination.sendTo(addressOfName('B'), []);
    expect(h.drain().filter((s) => carries(s, F.kTypeSuspect))).toHaveLength(1);
    for (let i = 0; i < 10; i++) h.dissemination.sendTo(addressOfName(i % 2 === 0 ? 'C' : 'B'), []);
    const sent = h.drain();
    expect(sent).toHaveLength(10);
    expect(sent.filter((s) => carries(s, F.kTypeSuspect))).toHaveLength(retransmitLimit(h.ctx.config, 3) - 1);
    expect(retransmitLimit(h.ctx.config, 3)).toBe(4);
    expect(sent.every((s) => s.messages.some((m) => m.type === F.kTypePushPullDigest && m.entries.length === 1 && nameOfId(m.entries[0]!.id) === 'A'))).toBe(true);
    // Never to itself, nor to an address-less member.
    h.dissemination.sendTo(addressOfName('A'), []);
    h.dissemination.sendTo('-', []);
    expect(h.drain()).toEqual([]);
  });

  it('gossips to at most gossipNodes members, alive, suspect or dead within gossipToTheDeadMs; not at all with nothing queued', () => {
    const h = new PartsHarness({ gossipNodes: 10, gossipToTheDeadMs: 1000 });
    h.at(5000);
    h.adopt(['B', ALIVE, 1], ['C', SUSPECT, 1], ['D', DEAD, 1], ['E', LEFT, 1]);
    const news = () => h.dissemination.queueMembership('x', h.ctx.parts.leave(1, h.table, h.row('E')));
    h.dissemination.gossip();
    expect(h.drain()).toEqual([]);
    news();
    h.dissemination.gossip();
    expect(h.drain().map((s) => s.to).sort()).toEqual(['B', 'C', 'D']);
    h.at(6000);
    news();
    h.dissemination.gossip();
    expect(h.drain().map((s) => s.to).sort()).toEqual(['B', 'C']);
    const few = new PartsHarness({ gossipNodes: 2 });
    few.adopt(['B', ALIVE, 1], ['C', ALIVE, 1], ['D', ALIVE, 1], ['E', ALIVE, 1]);
    few.dissemination.queueMembership('x', few.ctx.parts.leave(1, few.table, few.row('E')));
    few.dissemination.gossip();
    expect(few.drain()).toHaveLength(2);
  });

  it('delivers a user broadcast once and relays it once', () => {
    const h = new PartsHarness();
    h.adopt(['B', ALIVE, 1]);
    const framed = new Uint8Array(14);
    new DataView(framed.buffer).setUint32(4, 2, true); // origin B, sequence 0
    framed.set([104, 105], 12);
    for (let i = 0; i < 3; i++) h.dissemination.receiveUser(h.tapeOf([{ type: F.kTypeUser, payload: framed }])[0]!);
    const delivered = h.dissemination.drainUserMessages();
    expect(delivered.map((d) => new TextDecoder().decode(d))).toEqual(['hi']);
    expect(h.ctx.stats.userDelivered).toBe(1);
    for (let i = 0; i < 10; i++) h.dissemination.sendTo(addressOfName('B'), []);
    expect(h.drain().filter((s) => carries(s, F.kTypeUser))).toHaveLength(retransmitLimit(h.ctx.config, 2));
  });
});

describe('MemberState', () => {
  /** Feeds one message to the state part, as the engine's dispatcher does. */
  function feed(h: PartsHarness, message: Message): void {
    const [record] = h.tapeOf([message]);
    if (message.type === F.kTypeAlive) h.state.receiveAlive(record!);
    else h.state.receiveAccusation(addressOfName('C'), record!, message.type);
  }
  const alive = (inc: number): Message => ({ type: F.kTypeAlive, incarnation: inc, node: idOfName('B'), address: parseWireAddress(addressOfName('B')), meta: kNoPayload });
  const suspect = (inc: number): Message => ({ type: F.kTypeSuspect, incarnation: inc, node: idOfName('B'), from: idOfName('C') });
  const dead = (inc: number): Message => ({ type: F.kTypeDead, incarnation: inc, node: idOfName('B'), from: idOfName('C') });
  const leave = (inc: number): Message => ({ type: F.kTypeLeave, incarnation: inc, node: idOfName('B') });

  // [B's state before (or null: unknown), the message, B's state after, the events]
  const rules: Array<[string, [number, number] | null, Message, [number, number] | null, string[]]> = [
    ['an older ALIVE is ignored', [ALIVE, 2], alive(1), [ALIVE, 2], []],
    ['an older SUSPECT is ignored', [ALIVE, 2], suspect(1), [ALIVE, 2], []],
    ['an older DEAD is ignored', [ALIVE, 2], dead(1), [ALIVE, 2], []],
    ['SUSPECT at the same incarnation overrides ALIVE', [ALIVE, 2], suspect(2), [SUSPECT, 2], ['suspect']],
    ['a higher SUSPECT overrides ALIVE and takes its incarnation', [ALIVE, 2], suspect(5), [SUSPECT, 5], ['suspect']],
    ['ALIVE at the same incarnation does not clear SUSPECT', [SUSPECT, 2], alive(2), [SUSPECT, 2], []],
    ['a higher ALIVE clears SUSPECT', [SUSPECT, 2], alive(3), [ALIVE, 3], ['alive']],
    ['DEAD at the same incarnation overrides ALIVE', [ALIVE, 2], dead(2), [DEAD, 2], ['dead']],
    ['DEAD at the same incarnation overrides SUSPECT', [SUSPECT, 2], dead(2), [DEAD, 2], ['dead']],
    ['ALIVE at the same incarnation does not bring back the dead', [DEAD, 2], alive(2), [DEAD, 2], []],
    ['SUSPECT never touches the dead', [DEAD, 2], suspect(9), [DEAD, 2], []],
    ['a higher ALIVE brings back the dead as a rejoin', [DEAD, 2], alive(3), [ALIVE, 3], ['join']],
    ['LEAVE marks a member left', [ALIVE, 2], leave(2), [LEFT, 2], ['leave']],
    ['a higher ALIVE brings back a member that left', [LEFT, 2], alive(3), [ALIVE, 3], ['join']],
    ['news other than ALIVE about an unknown member is ignored', null, suspect(1), null, []],
    ['ALIVE about an unknown member is a join', null, alive(1), [ALIVE, 1], ['join']],
  ];
  for (const [name, before, message, after, events] of rules) {
    it(`incarnation rules: ${name}`, () => {
      const h = new PartsHarness();
      h.adopt(['C', ALIVE, 1]);
      if (before !== null) h.adopt(['B', before[0], before[1]]);
      feed(h, message);
      const row = h.row('B');
      expect(row < 0 ? null : [h.table.status[row], h.table.incarnation[row]]).toEqual(after);
      expect(h.state.drainEvents().map((e) => e.type)).toEqual(events);
    });
  }

  it('refutes news of its own suspicion or death with a higher incarnation; ignores older news', () => {
    const h = new PartsHarness();
    h.adopt(['B', ALIVE, 1]);
    h.state.suspect(h.ctx.selfRow, 1, h.row('B'), false);
    expect(h.ctx.incarnation).toBe(2);
    h.state.declareDead(h.ctx.selfRow, 5, h.row('B'));
    expect(h.ctx.incarnation).toBe(6);
    h.state.suspect(h.ctx.selfRow, 3, h.row('B'), false);
    expect(h.ctx.incarnation).toBe(6);
    expect(h.ctx.stats.refutations).toBe(2);
    expect(h.prober.awareness.health).toBe(2);
    expect(h.statusOf('A')).toBe(ALIVE);
  });

  it('shrinks the suspicion window with each independent confirmation, to the Lifeguard deadline exactly', () => {
    const h = new PartsHarness();
    h.adopt(['B', ALIVE, 1], ['C', ALIVE, 1], ['D', ALIVE, 1], ['E', ALIVE, 1], ['F', ALIVE, 1]);
    const config = h.ctx.config;
    const min = suspicionMinMs(config.suspicionMult, 6, config.probeIntervalMs);
    const max = min * config.suspicionMaxTimeoutMult;
    const k = expectedConfirmations(config.suspicionMult, 6);
    expect([min, max, k]).toEqual([4000, 24000, 2]);
    h.at(1000);
    const c = h.row('C');
    h.state.suspect(c, 1, h.row('B'), false);
    expect(h.table.deadlineMs[c]).toBe(1000 + max);
    h.at(1500);
    h.state.suspect(c, 1, h.row('D'), false);
    expect(h.table.deadlineMs[c]).toBe(1000 + suspicionTimeoutMs(1, k, min, max));
    expect(suspicionTimeoutMs(1, k, min, max)).toBe(11381);
    h.state.suspect(c, 1, h.row('D'), false); // the same member again: no confirmation
    expect(h.table.deadlineMs[c]).toBe(1000 + 11381);
    h.state.suspect(c, 1, h.row('E'), false);
    expect(h.table.deadlineMs[c]).toBe(1000 + min);
    expect(h.ctx.stats.suspicionConfirmations).toBe(2);
    h.at(1000 + min - 1);
    h.state.sweep();
    expect(h.statusOf('C')).toBe(SUSPECT);
    h.at(1000 + min);
    h.state.sweep();
    expect(h.statusOf('C')).toBe(DEAD);
    expect(h.state.drainEvents().map((e) => `${e.type}@${e.atMs}`)).toEqual(['suspect@1000', 'dead@5000']);
  });

  it('keeps a tombstone until tombstoneReapMs after the death, then reaps it', () => {
    const h = new PartsHarness({ tombstoneReapMs: 7000 });
    h.adopt(['B', ALIVE, 1], ['C', ALIVE, 1]);
    h.at(2000);
    h.state.declareDead(h.row('B'), 1, h.row('C'));
    h.at(8999);
    h.state.sweep();
    expect(h.statusOf('B')).toBe(DEAD);
    h.at(9000);
    h.state.sweep();
    expect(h.statusOf('B')).toBe(EMPTY);
    expect(h.state.drainEvents().map((e) => `${e.type}@${e.atMs}`)).toEqual(['dead@2000', 'reap@9000']);
  });
});

describe('Prober', () => {
  for (const seed of [1, 2, 3]) {
    it(`probes every member exactly once per round (seed ${seed})`, () => {
      const h = new PartsHarness({}, seed);
      const names = ['B', 'C', 'D', 'E', 'F', 'G', 'H'];
      h.adopt(...names.map((n): [string, number, number] => [n, ALIVE, 1]));
      const rounds: string[][] = [[], [], []];
      for (let i = 0; i < 3 * names.length; i++) {
        const t = i * h.ctx.config.probeIntervalMs;
        h.at(t);
        h.prober.tick(t);
        const ping = pingOf(h.drain());
        rounds[Math.floor(i / names.length)]!.push(ping.to);
        h.prober.receiveAck(ping.seq);
      }
      for (const round of rounds) expect(round.slice().sort()).toEqual(names);
      expect(rounds[0]).not.toEqual(rounds[1]); // reshuffled each round
      expect(h.prober.awareness.health).toBe(0);
    });
  }

  it('a probe unanswered directly and indirectly suspects its target; nacks keep health at 0, missing ones raise it', () => {
    for (const nacks of [2, 0]) {
      const h = new PartsHarness();
      h.adopt(['B', ALIVE, 1], ['C', ALIVE, 1], ['D', ALIVE, 1]);
      h.prober.tick(0);
      const ping = pingOf(h.drain());
      h.at(500);
      h.prober.tick(500);
      const indirect = h.drain();
      expect(indirect.filter((s) => s.kind === 'frame').map((s) => s.to)).toEqual([ping.to]);
      const helpers = indirect.filter((s) => s.kind === 'dgram' && carries(s, F.kTypeIndirectPing)).map((s) => s.to).sort();
      expect(helpers).toEqual(['B', 'C', 'D'].filter((n) => n !== ping.to));
      if (nacks > 0) {
        for (let i = 0; i < nacks; i++) h.prober.receiveNack(ping.seq);
        h.prober.streamFailed(addressOfName(ping.to));
        h.at(510);
        h.prober.tick(510); // nothing more can arrive: the probe ends now
      } else {
        h.at(1000);
        h.prober.tick(1000);
      }
      expect(h.statusOf(ping.to)).toBe(SUSPECT);
      expect(h.prober.awareness.health).toBe(2 - nacks);
      expect(h.ctx.stats.probesFailed).toBe(1);
    }
  });

  it('relays an indirect ping: the ack goes back under the origin sequence; silence earns a nack at 80% of the probe timeout', () => {
    const h = new PartsHarness();
    h.adopt(['B', ALIVE, 1], ['C', ALIVE, 1]);
    const ask = (seq: number): void => {
      const [m] = h.tapeOf([{ type: F.kTypeIndirectPing, seq, nack: true, target: idOfName('C'), targetAddress: parseWireAddress(addressOfName('C')), source: idOfName('B'), sourceAddress: parseWireAddress(addressOfName('B')) }]);
      h.prober.receiveIndirectPing(addressOfName('B'), m!, seq);
    };
    ask(7);
    const relayed = pingOf(h.drain());
    expect(relayed.to).toBe('C');
    h.prober.receiveAck(relayed.seq);
    const back = h.drain();
    expect(back.map((s) => [s.to, s.messages[0]])).toEqual([['B', { type: F.kTypeAck, seq: 7, source: idOfName('A'), payload: kNoPayload }]]);
    ask(8);
    h.drain();
    h.at(399);
    h.prober.tick(399);
    expect(h.drain().filter((s) => carries(s, F.kTypeNack))).toEqual([]);
    h.at(400);
    h.prober.tick(400);
    expect(h.drain().filter((s) => carries(s, F.kTypeNack)).map((s) => [s.to, s.messages[0]])).toEqual([['B', { type: F.kTypeNack, seq: 8, source: idOfName('A') }]]);
  });

  it('ICMP evidence suspects at once and confirms the death after unreachableConfirmMs of silence; an ack spares the member', () => {
    const h = new PartsHarness({ unreachableConfirmMs: 50 });
    h.adopt(['B', ALIVE, 1], ['C', ALIVE, 1]);
    h.prober.unreachable(addressOfName('C'));
    expect(h.statusOf('C')).toBe(SUSPECT);
    const urgent = h.drain().filter((s) => s.to === 'C' && carries(s, F.kTypePing));
    expect(urgent).toHaveLength(1);
    expect(urgent[0]!.messages[0]!.type).toBe(F.kTypeSuspect); // the accusation rides first, so C can refute
    h.at(49);
    h.prober.tick(49);
    expect(h.statusOf('C')).toBe(SUSPECT);
    h.at(50);
    h.prober.tick(50);
    expect(h.statusOf('C')).toBe(DEAD);
    h.prober.unreachable(addressOfName('B'));
    const ping = pingOf(h.drain().filter((s) => s.to === 'B'));
    h.prober.receiveAck(ping.seq);
    h.at(200);
    h.prober.tick(200);
    expect(h.statusOf('B')).toBe(SUSPECT);
    h.prober.unreachable('10.9.9.9:1'); // unknown address: nothing
    expect(h.ctx.stats.unreachableReports).toBe(3);
  });
});

describe('Watcher and the direct relay of a death', () => {
  const ringOrder = (names: readonly string[]): string[] => {
    const key = (n: string): bigint => {
      const id = idOfName(n);
      return (BigInt(id.high >>> 0) << 32n) | BigInt(id.low >>> 0);
    };
    const self = key('A');
    const distance = (n: string): bigint => (key(n) - self + (1n << 64n)) % (1n << 64n);
    return names.slice().sort((a, b) => (distance(a) < distance(b) ? -1 : 1));
  };
  const names = ['B', 'C', 'D', 'E', 'F', 'G'];

  it('beats every watchIntervalMs to the two ring successors by id, the heartbeat alone; the ring closes over a dead successor', () => {
    const h = new PartsHarness({ watchIntervalMs: 20, watchSuccessors: 2 });
    h.adopt(...names.map((n): [string, number, number] => [n, ALIVE, 1]));
    const ring = ringOrder(names);
    h.watcher.tick(0);
    const beats = h.drain();
    expect(beats.map((s) => s.to)).toEqual(ring.slice(0, 2));
    for (const beat of beats) expect(beat.messages.map((m) => m.type)).toEqual([F.kTypePushPullDigest]);
    h.at(19);
    h.watcher.tick(19);
    expect(h.drain()).toHaveLength(0);
    h.at(20);
    h.watcher.tick(20);
    expect(h.drain().map((s) => s.to)).toEqual(ring.slice(0, 2));
    h.state.declareDead(h.row(ring[0]!), 1, h.row(ring[1]!)); // learned from another member
    h.drain();
    h.at(40);
    h.watcher.tick(40);
    expect(h.drain().map((s) => s.to)).toEqual(ring.slice(1, 3));
    expect(h.ctx.stats.watchBeatsSent).toBe(6);
  });

  it('sends no beats without ICMP evidence or with watchIntervalMs 0', () => {
    for (const h of [new PartsHarness({ watchIntervalMs: 20 }, 1, [], false), new PartsHarness({ watchIntervalMs: 0 })]) {
      h.adopt(...names.map((n): [string, number, number] => [n, ALIVE, 1]));
      for (let t = 0; t <= 100; t += 5) {
        h.at(t);
        h.watcher.tick(t);
      }
      expect(h.drain()).toHaveLength(0);
      expect(h.watcher.active).toBe(false);
    }
  });

  it('with links: no beat on any timer; the targets are the two ring successors, the same array until the ring changes; a lost link sends one beat', () => {
    const h = new PartsHarness({ watchIntervalMs: 20, watchSuccessors: 2 });
    const watcher = new Watcher(h.ctx, true, true);
    h.adopt(...names.map((n): [string, number, number] => [n, ALIVE, 1]));
    const ring = ringOrder(names);
    expect(watcher.links).toBe(true);
    expect(watcher.nextDeadlineMs()).toBe(Infinity);
    for (let t = 0; t <= 200; t += 5) {
      h.at(t);
      watcher.tick(t);
    }
    expect(h.drain()).toHaveLength(0);
    const targets = watcher.watchTargets(200);
    expect(targets.map(nameOfAddress)).toEqual(ring.slice(0, 2));
    expect(watcher.watchTargets(201)).toBe(targets);
    // The refresh a second later finds the same successors: still the same array.
    expect(watcher.watchTargets(2_000)).toBe(targets);
    // A lost link: one beat to that member (the heartbeat alone), none to an address not watched.
    expect(watcher.linkLost(targets[0]!)).toBe(true);
    expect(watcher.linkLost(addressOfName('H'))).toBe(false);
    const beats = h.drain();
    expect(beats.map((b) => b.to)).toEqual([ring[0]]);
    expect(beats[0]!.messages.map((m) => m.type)).toEqual([F.kTypePushPullDigest]);
    // The first successor dies (learned from another member): the ring closes over it at once.
    h.state.declareDead(h.row(ring[0]!), 1, h.row(ring[1]!));
    h.drain();
    const next = watcher.watchTargets(2_001);
    expect(next).not.toBe(targets);
    expect(next.map(nameOfAddress)).toEqual(ring.slice(1, 3));
    expect(h.ctx.stats.watchBeatsSent).toBe(1);
  });

  it('broken variant: a watcher beating in links mode would be caught by the no-timer check', () => {
    // The beats watcher on the same farm does send on its timer: the check above can fail.
    const h = new PartsHarness({ watchIntervalMs: 20, watchSuccessors: 2 });
    const beats = new Watcher(h.ctx, true, false);
    h.adopt(...names.map((n): [string, number, number] => [n, ALIVE, 1]));
    for (let t = 0; t <= 200; t += 5) {
      h.at(t);
      beats.tick(t);
    }
    expect(h.drain().length).toBeGreaterThan(0);
    expect(beats.watchTargets(200)).toEqual([]);
  });

  it('a death this node declares goes directly to every live member; above deathRelayDirectMax only to the gossip fanout', () => {
    for (const direct of [true, false]) {
      const h = new PartsHarness({ deathRelayDirectMax: direct ? 128 : 4, gossipNodes: 3 });
      h.adopt(...names.map((n): [string, number, number] => [n, ALIVE, 1]), ['H', DEAD, 1]);
      h.state.declareDead(h.row('C'), 1, h.ctx.selfRow);
      const withDead = h.drain().filter((s) => s.messages.some((m) => m.type === F.kTypeDead));
      const receivers = new Set(withDead.map((s) => s.to));
      if (direct) {
        // Every live member but the dead one, directly (the gossip round may add C itself, so it can refute).
        for (const n of names.filter((n) => n !== 'C')) expect(receivers.has(n), n).toBe(true);
        expect(h.ctx.stats.deathRelays).toBe(names.length - 1);
        expect(receivers.has('H')).toBe(false);
      } else {
        expect(withDead.length).toBeLessThanOrEqual(3);
        expect(h.ctx.stats.deathRelays).toBe(0);
      }
    }
    // A death learned from another member is not relayed directly: the gossip round carries it.
    const h = new PartsHarness();
    h.adopt(...names.map((n): [string, number, number] => [n, ALIVE, 1]));
    h.state.declareDead(h.row('C'), 1, h.row('B'));
    expect(h.ctx.stats.deathRelays).toBe(0);
    expect(h.drain().length).toBeLessThanOrEqual(h.ctx.config.gossipNodes);
  });
});

describe('AntiEntropy', () => {
  const summaryOf = (table: MembershipTable, buckets: number, flags: number): Message => {
    const s = summarize(table, buckets);
    return { type: F.kTypePushPullSummary, flags, memberCount: s.memberCount, hashes: s.hashes };
  };
  const members = ['B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J'];

  it('equal summaries exchange no state; a differing bucket sends exactly its members', () => {
    const h = new PartsHarness();
    h.adopt(...members.map((n): [string, number, number] => [n, ALIVE, 1]));
    const frame = h.frameOf(summaryOf(h.table, 8, 0));
    h.antiEntropy.receiveFrame(addressOfName('B'), frame, F.kTypePushPullSummary);
    expect(h.drain().map((s) => [s.kind, s.to, s.messages[0]!.type])).toEqual([['frame', 'B', F.kTypePushPullSummary]]);
    // B's view differs from ours in one member: E at a higher incarnation.
    const theirs = MembershipTable.create(createRuntime({ backend: 'ts', memoryBytes: 1 << 20 }), 64);
    for (const n of ['A', ...members]) theirs.upsert(idOfName(n), parseWireAddress(addressOfName(n)), n === 'E' ? 2 : 1, ALIVE, 0);
    h.antiEntropy.receiveFrame(addressOfName('B'), h.frameOf(summaryOf(theirs, 8, F.kPushPullFlagReply)), F.kTypePushPullSummary);
    const sent = h.drain();
    expect(sent).toHaveLength(1); // a reply summary is not answered with another
    const state = sent[0]!.messages[0]!;
    expect(state.type === F.kTypePushPullState && state.flags).toBe(F.kPushPullFlagPartial | F.kPushPullFlagReply);
    const bucket = bucketOf(0, idOfName('E').low, 8);
    const expected = ['A', ...members].filter((n) => bucketOf(0, idOfName(n).low, 8) === bucket).sort();
    expect(state.type === F.kTypePushPullState ? state.entries.map((e) => nameOfId(e.id)).sort() : []).toEqual(expected);
    expect(expected).toContain('E');
  });

  it('merges a full state (joins with metadata, a refutation when it calls us suspect) and answers it with its own', () => {
    const h = new PartsHarness();
    h.adopt(['B', ALIVE, 1]);
    const entry = (name: string, status: number, incarnation: number, meta = ''): { id: ReturnType<typeof idOfName>; address: ReturnType<typeof parseWireAddress>; incarnation: number; heartbeat: number; status: number; meta: Uint8Array } => ({ id: idOfName(name), address: parseWireAddress(addressOfName(name)), incarnation, heartbeat: 0, status, meta: new TextEncoder().encode(meta) });
    const frame = h.frameOf({ type: F.kTypePushPullState, flags: 0, entries: [entry('B', ALIVE, 1), entry('C', ALIVE, 3, 'db'), entry('A', SUSPECT, 1)] });
    h.antiEntropy.receiveFrame(addressOfName('B'), frame, F.kTypePushPullState);
    expect(h.statusOf('C')).toBe(ALIVE);
    expect(h.ctx.incarnation).toBe(2);
    expect(h.state.drainEvents().map((e) => `${e.type} ${e.meta === undefined ? '' : new TextDecoder().decode(e.meta)}`)).toEqual(['join ', 'update db']);
    const replies = h.drain().filter((s) => s.kind === 'frame');
    expect(replies).toHaveLength(1);
    const reply = replies[0]!.messages[0]!;
    expect(reply.type === F.kTypePushPullState && [replies[0]!.to, reply.flags, reply.entries.map((e) => `${nameOfId(e.id)}/${e.incarnation}`).sort()]).toEqual(['B', F.kPushPullFlagReply, ['A/2', 'B/1', 'C/3']]);
    // A reply closes the exchange.
    h.antiEntropy.receiveFrame(addressOfName('B'), h.frameOf({ type: F.kTypePushPullState, flags: F.kPushPullFlagReply, entries: [entry('B', ALIVE, 1)] }), F.kTypePushPullState);
    expect(h.drain().filter((s) => s.kind === 'frame')).toEqual([]);
  });
});
