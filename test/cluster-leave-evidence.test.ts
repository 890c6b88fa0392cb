// Transition tests of the two cluster-core fixes of issue 17 (src/core/cluster/cluster-member.ts),
// scripted on the hand-driven network (src/sim/cluster/scripted-network.ts) and judged by
// the safety checkers of src/sim/cluster/cluster-checkers.ts. They prove:
// 1. a leaver stays an acceptor of its view until a view without it is installed, so the
//    majority of the old view, counted with the leaver's vote, decides the view without
//    it: a 2-member view's survivor installs a 1-member primary view; 3 -> 2 -> 1 by
//    leaves (the second leaver being the coordinator); a leave during a running view
//    change (the leaver is taken into the next view, then removed); a leave racing a
//    silent crash. With the broken variant leaverStopsVoting (the old behaviour) the
//    survivor is stranded in 'minority', which the same scripts catch.
// 2. farm evidence against a node of a partition's minority, which never crashed, is
//    lifted when that incarnation asks to join in a later view: after the heal it joins
//    once and stays (with keepDeadEvidence, the old behaviour, it joins and is evicted in
//    a loop, which the script catches); false evidence that a non-coordinator carried
//    into the next view is lifted by the member's messages of that view, so data is
//    resent to it again (kept, it never is: caught); evidence against a really dead
//    member is not lifted by its stale messages, and it stays out.
import { describe, expect, it } from 'vitest';
import type { ClusterMemberOptions } from '../src/core/cluster/cluster-config.js';
import type { ClusterOutput } from '../src/core/cluster/cluster-io.js';
import { checkSafety, describeViolations } from '../src/sim/cluster/cluster-checkers.js';
import { ScriptedNetwork, type ScriptedMessage } from '../src/sim/cluster/scripted-network.js';

function form(ids: readonly string[], options: ClusterMemberOptions = {}): ScriptedNetwork {
  const net = new ScriptedNetwork();
  for (const id of ids) net.add(id, ids, options);
  net.tick(1);
  net.settle();
  for (const id of ids) net.take(id);
  return net;
}

function membersOf(net: ScriptedNetwork, id: string): string {
  const view = net.core(id).currentView();
  return view === null ? '-' : `${view.id}:${view.members.map((m) => `${m.nodeId}#${m.incarnation}`).join(',')}`;
}

function installs(outputs: readonly ClusterOutput[]): string[] {
  return outputs.flatMap((o) => (o.kind === 'viewInstalled' ? [`${o.view.id}:${o.view.members.map((m) => m.nodeId).join(',')}`] : []));
}

function expectSafe(net: ScriptedNetwork): void {
  expect(describeViolations(checkSafety(net.history, 'web'))).toBe('');
}

describe('a graceful leave never strands the rest (issue 17, bug 1)', () => {
  for (const leaverStopsVoting of [false, true]) {
    const suffix = leaverStopsVoting ? ' (leaverStopsVoting: caught)' : '';

    it(`2-member view, one leaves: the survivor installs a 1-member primary view${suffix}`, () => {
      const net = form(['a', 'b'], { broken: { leaverStopsVoting } });
      net.step('b', { kind: 'leave' });
      net.run(1000);
      if (leaverStopsVoting) {
        expect(net.core('a').status()).toBe('minority');
        expect(membersOf(net, 'a')).toBe('1:a#0,b#0');
        return;
      }
      expect(membersOf(net, 'a')).toBe('2:a#0');
      expect(net.core('a').status()).toBe('member');
      expect(net.core('a').canMulticast()).toBe(true);
      // The leaver took the install without it and stopped; its upper layer heard only 'left'.
      expect(net.core('b').lingering()).toBe(false);
      expect(net.take('b').map((o) => o.kind)).toEqual(['status']);
      expectSafe(net);
    });

    it(`3 -> 2 -> 1 by leaves, the second leaver being the coordinator${suffix}`, () => {
      const net = form(['a', 'b', 'c'], { broken: { leaverStopsVoting } });
      net.step('c', { kind: 'leave' });
      net.run(100);
      // A majority of three without c's vote: the broken variant gets here too.
      expect(membersOf(net, 'a')).toBe('2:a#0,b#0');
      net.step('a', { kind: 'leave' });
      net.run(1000);
      if (leaverStopsVoting) {
        expect(net.core('b').status()).toBe('minority');
        return;
      }
      expect(membersOf(net, 'b')).toBe('3:b#0');
      expect(net.core('b').status()).toBe('member');
      expect(installs(net.take('b'))).toEqual(['2:a,b', '3:b']);
      expectSafe(net);
    });

    it(`a leave racing a silent crash: the last one installs its own view with the leaver's vote${suffix}`, () => {
      for (const [leaver, crashed, survivor] of [
        ['c', 'b', 'a'],
        ['a', 'c', 'b'],
      ] as const) {
        const net = form(['a', 'b', 'c'], { broken: { leaverStopsVoting } });
        net.crash(crashed); // no evidence: only silence tells
        net.step(leaver, { kind: 'leave' });
        net.run(1000);
        if (leaverStopsVoting) {
          expect(net.core(survivor).status()).toBe('minority');
          continue;
        }
        expect(membersOf(net, survivor)).toBe(`2:${survivor}#0`);
        expect(net.core(survivor).status()).toBe('member');
        expect(net.core(leaver).lingering()).toBe(false);
        expectSafe(net);
      }
    });
  }

  it('a leave during a view change: the leaver is taken into the next view, says again that it leaves, and is removed', () => {
    const net = form(['a', 'b', 'c']);
    for (const id of ['a', 'b', 'c']) net.step(id, { kind: 'definitionChanged', members: ['a', 'b', 'c', 'd'] });
    net.add('d', ['a', 'b', 'c', 'd'], {}, 1);
    net.tick(1); // d asks to join
    net.deliver(); // a hears it and prepares
    net.deliver(); // b and c promise
    expect(net.core('c').status()).toBe('blocked');
    net.step('c', { kind: 'leave' }); // its promise is already on its way
    net.take('c');
    net.settle(); // a proposes [a, b, c, d] (c promised before a heard its leave), c accepts, a decides
    net.run(300);
    expect(membersOf(net, 'a')).toBe('3:a#0,b#0,d#1');
    for (const id of ['b', 'd']) expect(membersOf(net, id)).toBe('3:a#0,b#0,d#1');
    expect(installs(net.take('b'))).toEqual(['2:a,b,c,d', '3:a,b,d']);
    // The leaver took view 2 silently (its upper layer had already been told 'left') and stopped at view 3.
    expect(net.take('c')).toEqual([]);
    expect(net.core('c').lingering()).toBe(false);
    expect(net.core('c').status()).toBe('left');
    expectSafe(net);
  });

  it('a leaver past its linger stops answering: a 2-member survivor is then a minority, as after a crash', () => {
    const net = form(['a', 'b'], { leaveLingerMs: 100 });
    net.step('b', { kind: 'leave' });
    net.run(150, 5, (m) => m.to !== 'b'); // nothing reaches b while it lingers
    expect(net.core('b').lingering()).toBe(false);
    net.run(1000);
    expect(net.core('a').status()).toBe('minority');
    expect(membersOf(net, 'a')).toBe('1:a#0,b#0');
  });
});

describe('farm evidence is scoped to the incarnation it was about (issue 17, bug 2)', () => {
  for (const keepDeadEvidence of [false, true]) {
    it(`a minority declared dead in a partition, which never crashed, joins once at the heal and stays${keepDeadEvidence ? ' (keepDeadEvidence: caught)' : ''}`, () => {
      const ids = ['a', 'b', 'c', 'd', 'e'];
      const net = form(ids, { broken: { keepDeadEvidence } });
      const minority = new Set(['a', 'b']);
      const cut = (m: ScriptedMessage): boolean => minority.has(m.from) === minority.has(m.to);
      net.run(20, 5, cut);
      // The farm declares the minority dead on the majority's side.
      for (const id of ['c', 'd', 'e']) for (const dead of minority) net.step(id, { kind: 'suspect', nodeId: dead });
      net.run(1500, 5, cut);
      expect(membersOf(net, 'c')).toBe('2:c#0,d#0,e#0');
      expect(net.core('a').status()).toBe('minority');
      net.take('c');
      net.run(3000); // healed
      const views = installs(net.take('c'));
      if (keepDeadEvidence) {
        // Admitted with the same incarnation, suspected again at once, evicted, again and again.
        expect(views.length).toBeGreaterThan(4);
        expect(views.some((v) => v.endsWith(':c,d,e'))).toBe(true);
        return;
      }
      expect(views).toEqual(['3:c,d,e,a,b']);
      for (const id of ids) expect(membersOf(net, id)).toBe('3:c#0,d#0,e#0,a#0,b#0');
      expectSafe(net);
    });
  }

  for (const keepDeadEvidence of [false, true]) {
    it(`false evidence carried into the next view at a non-coordinator is lifted by the member's messages of that view, so data reaches it again${keepDeadEvidence ? ' (keepDeadEvidence: caught)' : ''}`, () => {
      // Evidence at d alone: d does not relay it to the coordinator here (relayEvidence off), as a farm's flapping dead may reach one member only.
      const options = { relayEvidence: false, broken: { keepDeadEvidence } };
      const net = form(['a', 'b', 'c', 'd'], options);
      for (const id of ['a', 'b', 'c', 'd']) net.step(id, { kind: 'definitionChanged', members: ['a', 'b', 'c', 'd', 'e'] });
      net.add('e', ['a', 'b', 'c', 'd', 'e'], options, 1);
      net.tick(1); // e asks to join
      net.deliver(); // a prepares
      // A flapping farm tells d that c is dead (it is not) while the change runs.
      net.step('d', { kind: 'suspect', nodeId: 'c' });
      net.settle();
      expect(membersOf(net, 'a')).toBe('2:a#0,b#0,c#0,d#0,e#1');
      expect(membersOf(net, 'd')).toBe('2:a#0,b#0,c#0,d#0,e#1');
      net.run(600); // c's heartbeats of view 2 reach d
      net.take('c');
      net.step('d', { kind: 'multicast', payload: new TextEncoder().encode('d1') });
      net.deliver((m) => !(m.type === 'data' && m.to === 'c')); // the first copy to c is lost
      net.run(300);
      const delivered = net.take('c').filter((o) => o.kind === 'deliver').length;
      // d resends only to members it does not suspect.
      expect(delivered).toBe(keepDeadEvidence ? 0 : 1);
      expect(membersOf(net, 'a')).toBe('2:a#0,b#0,c#0,d#0,e#1');
      if (!keepDeadEvidence) expectSafe(net);
    });
  }

  it('a really dead member stays out: its stale messages do not lift the evidence', () => {
    const ids = ['a', 'b', 'c', 'd', 'e'];
    const net = form(ids);
    net.run(60); // heartbeats of view 1 are in flight
    net.tick(50);
    const stale = net.inFlight.filter((m) => m.from === 'e');
    expect(stale.length).toBeGreaterThan(0);
    net.crash('e');
    for (const id of ['a', 'b', 'c', 'd']) net.step(id, { kind: 'suspect', nodeId: 'e' });
    net.run(600);
    expect(membersOf(net, 'a')).toBe('2:a#0,b#0,c#0,d#0');
    // Old heartbeats of e (tagged with view 1) come back late.
    net.inFlight.push(...stale);
    net.settle();
    net.run(2000);
    for (const id of ['a', 'b', 'c', 'd']) expect(membersOf(net, id)).toBe('2:a#0,b#0,c#0,d#0');
    expectSafe(net);
  });
});
