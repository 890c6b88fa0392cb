// Transition tests of the cluster-membership core (src/core/cluster/cluster-member.ts):
// small readable scripts drive a few cores through one exact interleaving on a
// hand-driven network (src/sim/cluster/scripted-network.ts) where the script decides
// when time passes and which messages arrive or are lost. They prove: a first view forms
// in one exchange; multicast is FIFO and refused with coded errors when it cannot go;
// a full send window reopens on the receivers' prompt acks without waiting for a
// heartbeat (and waits for one with them off), and the sender's stable message frees the
// receivers' copies; malformed input is dropped with a code,
// never thrown; external evidence starts a view change at once and the flush delivers
// a message only one survivor had, before the next view; a minority stops and says so while the majority goes on, and the heal merges; a
// coordinator that decided and died before its install reached anyone is followed by one
// that adopts its value (and the ignoreAcceptedValue variant is caught by the agreement
// checker); acceptors that hear a majority accepted install without the coordinator's
// INSTALL (learnFromAcceptors), and wait for it with the switch off; a learner that
// installed on fewer than a majority's acceptances (learnWithoutMajority) is caught by
// the agreement checker; a sender facing a frozen member stops within two windows (bounded buffers);
// a leave and a restart as a new incarnation. The checkers of
// src/sim/cluster/cluster-checkers.ts judge every script's history.
import { describe, expect, it } from 'vitest';
import type { ClusterMemberOptions } from '../src/core/cluster/cluster-config.js';
import { ClusterError } from '../src/core/cluster/cluster-error.js';
import type { ClusterOutput } from '../src/core/cluster/cluster-io.js';
import { checkSafety, checkViewAgreement, checkVirtualSynchrony, describeViolations } from '../src/sim/cluster/cluster-checkers.js';
import { ScriptedNetwork, type ScriptedMessage } from '../src/sim/cluster/scripted-network.js';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

function form(ids: readonly string[], options: ClusterMemberOptions = {}): ScriptedNetwork {
  const net = new ScriptedNetwork();
  for (const id of ids) net.add(id, ids, options);
  net.tick(1);
  net.settle();
  for (const id of ids) net.take(id);
  return net;
}

function kinds(outputs: readonly ClusterOutput[]): string[] {
  return outputs.map((o) => (o.kind === 'deliver' ? `deliver ${o.sender}:${o.seq}` : o.kind === 'viewInstalled' ? `view ${o.view.id}` : o.kind === 'status' ? `status ${o.status}` : `${o.kind} ${'viewId' in o ? o.viewId : ''}`.trim()));
}

function membersOf(net: ScriptedNetwork, id: string): string {
  const view = net.core(id).currentView();
  return view === null ? '-' : `${view.id}:${view.members.map((m) => `${m.nodeId}#${m.incarnation}`).join(',')}`;
}

function expectSafe(net: ScriptedNetwork): void {
  expect(describeViolations(checkSafety(net.history, 'web'))).toBe('');
}

function expectCode(fn: () => void, code: string): void {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ClusterError);
    expect((error as ClusterError).code).toBe(code);
    return;
  }
  throw new Error(`expected ${code}`);
}

describe('cluster member transitions', () => {
  it('three fresh members form view 1 in one exchange', () => {
    const net = new ScriptedNetwork();
    for (const id of ['a', 'b', 'c']) net.add(id, ['a', 'b', 'c']);
    expect(net.core('a').status()).toBe('joining');
    net.tick(1); // a, first in the definition, prepares
    expect(net.inFlight.map((m) => `${m.type}>${m.to}`).filter((t) => t.startsWith('prepare'))).toEqual(['prepare>b', 'prepare>c']);
    net.settle();
    for (const id of ['a', 'b', 'c']) {
      expect(kinds(net.take(id))).toEqual(['status joining', 'view 1', 'status member']);
      expect(membersOf(net, id)).toBe('1:a#0,b#0,c#0');
    }
    expectSafe(net);
  });

  it('multicast is FIFO per sender, and refused with coded errors when it cannot go', () => {
    const net = new ScriptedNetwork();
    for (const id of ['a', 'b', 'c']) net.add(id, ['a', 'b', 'c'], { payloadBytesMax: 8, sendWindowMax: 2 });
    expect(net.core('a').canMulticast()).toBe(false);
    expectCode(() => net.step('a', { kind: 'multicast', payload: text('x') }), 'GALAXY_CLUSTER_BLOCKED');
    net.tick(1);
    net.settle();
    expectCode(() => net.step('a', { kind: 'multicast', payload: text('123456789') }), 'GALAXY_CLUSTER_PAYLOAD_TOO_LARGE');
    net.step('a', { kind: 'multicast', payload: text('x1') });
    net.step('a', { kind: 'multicast', payload: text('x2') });
    // Two unstable messages fill a window of two until the heartbeats' acks come back.
    expectCode(() => net.step('a', { kind: 'multicast', payload: text('x3') }), 'GALAXY_CLUSTER_WINDOW_FULL');
    net.take('b');
    // x2 overtakes x1: b holds it back until x1 arrives.
    const [x1, x2] = net.inFlight.filter((m) => m.to === 'b' && m.type === 'data');
    net.inFlight = [x2!, x1!];
    net.deliver();
    expect(kinds(net.take('b'))).toEqual(['deliver a:1', 'deliver a:2']);
    net.run(120);
    expect(net.core('a').canMulticast()).toBe(true);
    expectSafe(net);
  });

  it('a full window reopens on prompt acks within a round trip, not at the next heartbeat; with them off it waits', () => {
    for (const ackEveryMessages of [undefined, 0]) {
      const net = form(['a', 'b', 'c'], { sendWindowMax: 8, ackEveryMessages, heartbeatIntervalMs: 1000, suspectTimeoutMs: 4000 });
      for (let i = 1; i <= 8; i++) net.step('a', { kind: 'multicast', payload: text(`m${i}`) });
      expect(net.core('a').canMulticast()).toBe(false);
      // No time passes: only the data and whatever the receivers answer at once.
      net.settle();
      const prompt = ackEveryMessages === undefined;
      // A quarter window (2) per ack: 4 acks from each of b and c, to a alone.
      expect(net.core('a').canMulticast()).toBe(prompt);
      // The sender told the view its stable prefix, so the receivers dropped what they delivered without a heartbeat.
      expect(['a', 'b', 'c'].map((id) => net.core(id).heldCount())).toEqual(prompt ? [0, 0, 0] : [8, 8, 8]);
      if (!prompt) {
        net.run(1100);
        expect(net.core('a').canMulticast()).toBe(true);
        // Receivers free their copies at a heartbeat after hearing every member's.
        net.run(1000);
        expect(['a', 'b', 'c'].map((id) => net.core(id).heldCount())).toEqual([0, 0, 0]);
      }
      expectSafe(net);
    }
  });

  it('a lost data message is sent again until acknowledged', () => {
    const net = form(['a', 'b', 'c']);
    net.step('a', { kind: 'multicast', payload: text('lost once') });
    net.deliver((m) => !(m.type === 'data' && m.to === 'b'));
    expect(kinds(net.take('b'))).toEqual([]);
    net.run(200);
    expect(kinds(net.take('b'))).toEqual(['deliver a:1']);
    expectSafe(net);
  });

  it('malformed or misdirected input is dropped with a code, never thrown', () => {
    const net = form(['a', 'b']);
    net.step('a', { kind: 'receive', from: 'b', bytes: new Uint8Array([1, 99, 0]) });
    net.step('a', { kind: 'receive', from: 'b', bytes: new Uint8Array([7]) });
    const other = new ScriptedNetwork('db');
    other.add('b', ['a', 'b']);
    other.tick(1);
    const foreign = other.inFlight.find((m) => m.to === 'a')!;
    net.step('a', { kind: 'receive', from: 'b', bytes: foreign.bytes });
    const dropped = net.take('a').filter((o) => o.kind === 'dropped');
    expect(dropped.map((o) => (o.kind === 'dropped' ? o.code : ''))).toEqual(['GALAXY_CLUSTER_WIRE_MALFORMED', 'GALAXY_CLUSTER_WIRE_MALFORMED', 'GALAXY_CLUSTER_WRONG_CLUSTER']);
    expect(membersOf(net, 'a')).toBe('1:a#0,b#0');
  });

  for (const skipFlush of [false, true]) {
    it(`evidence starts a view change at once, and the flush delivers what only one survivor had${skipFlush ? ' (skipFlush: caught)' : ''}`, () => {
      const net = form(['a', 'b', 'c'], { broken: { skipFlush } });
      net.step('c', { kind: 'multicast', payload: text('c1') });
      net.deliver((m) => !(m.type === 'data' && m.to === 'b')); // only a gets c1
      net.crash('c');
      net.take('a');
      net.take('b');
      net.step('a', { kind: 'suspect', nodeId: 'c' }); // ICMP: c's process is dead
      net.tick(1);
      net.settle();
      expect(net.nowMs).toBeLessThan(10); // no timeout was waited for
      expect(membersOf(net, 'b')).toBe('2:a#0,b#0');
      const expected = skipFlush ? ['blocked 1', 'status blocked', 'viewEnding 1', 'view 2', 'status member'] : ['blocked 1', 'status blocked', 'deliver c:1', 'viewEnding 1', 'view 2', 'status member'];
      expect(kinds(net.take('b'))).toEqual(expected);
      expect(checkVirtualSynchrony(net.history, 'web').violations.length).toBe(skipFlush ? 1 : 0);
    });
  }

  for (const leaveOutSlowPromisers of [false, true]) {
    it(`a promise late by more than a round timeout, from a member still heard, is waited for: the member is not cut out${leaveOutSlowPromisers ? ' (leaveOutSlowPromisers: caught)' : ''}`, () => {
      const net = form(['a', 'b', 'c', 'd', 'e'], { broken: { leaveOutSlowPromisers } });
      net.crash('e');
      net.step('a', { kind: 'suspect', nodeId: 'e' }); // evidence: a coordinates the change at once
      // d is slow: its promises are lost for 200 ms (more than roundTimeoutMs, 150) while its heartbeats arrive.
      const slow = (m: ScriptedMessage): boolean => !(m.type === 'promise' && m.from === 'd');
      net.settle(slow);
      net.take('a');
      net.run(200, 5, slow);
      net.run(300, 5);
      const views = net.take('a').flatMap((o) => (o.kind === 'viewInstalled' ? [`${o.view.id}:${o.view.members.map((m) => m.nodeId).join(',')}`] : []));
      // Cut out, d would come back only through a join and one more view change.
      expect(views[0]).toBe(leaveOutSlowPromisers ? '2:a,b,c' : '2:a,b,c,d');
      if (!leaveOutSlowPromisers) expect(views).toEqual(['2:a,b,c,d']);
      expectSafe(net);
    });
  }

  for (const leaveOutStalledPromisers of [false, true]) {
    it(`a member stalled (silent) past a round timeout but not yet suspected is waited for, not cut out${leaveOutStalledPromisers ? ' (leaveOutStalledPromisers: caught)' : ''}`, () => {
      const net = form(['a', 'b', 'c', 'd', 'e'], { broken: { leaveOutStalledPromisers } });
      net.run(30); // between heartbeats: d was last heard before the round begins
      net.crash('e');
      net.paused.add('d'); // descheduled for 250 ms: more than roundTimeoutMs (150), less than suspectTimeoutMs (400)
      net.step('a', { kind: 'suspect', nodeId: 'e' });
      net.settle();
      net.take('a');
      net.run(250);
      net.paused.delete('d');
      net.run(600);
      const views = net.take('a').flatMap((o) => (o.kind === 'viewInstalled' ? [`${o.view.id}:${o.view.members.map((m) => m.nodeId).join(',')}`] : []));
      // Cut out, d comes back only through a join and one more view change.
      expect(views[0]).toBe(leaveOutStalledPromisers ? '2:a,b,c' : '2:a,b,c,d');
      if (!leaveOutStalledPromisers) expect(views).toEqual(['2:a,b,c,d']);
      else expect(views).toEqual(['2:a,b,c', '3:a,b,c,d']);
      expectSafe(net);
    });
  }

  for (const suspectAcrossOwnStall of [false, true]) {
    it(`a member waking from its own stall does not take the stall for its peers' silence${suspectAcrossOwnStall ? ' (suspectAcrossOwnStall: caught)' : ''}`, () => {
      const net = form(['a', 'b', 'c', 'd', 'e'], { broken: { suspectAcrossOwnStall } });
      net.take('c');
      // What the others send c is lost for 100 ms, then c stalls 350 ms (the others heard
      // it until then, so they never suspect it). When it runs again the others' messages
      // wait in its socket buffer, handed over after its first tick.
      net.run(100, 5, (m) => m.to !== 'c');
      net.paused.add('c');
      net.run(350);
      net.paused.delete('c');
      net.tick(5);
      const prepared = net.inFlight.some((m) => m.from === 'c' && m.type === 'prepare');
      net.settle();
      net.run(600);
      const views = ['a', 'c'].flatMap((id) => net.take(id)).filter((o) => o.kind === 'viewInstalled' || o.kind === 'blocked');
      // Counted as silence, the 450 ms make c suspect a and b, coordinate, and freeze the view with a prepare: a needless change.
      expect(prepared).toBe(suspectAcrossOwnStall);
      expect(views.length > 0).toBe(suspectAcrossOwnStall);
      expect(membersOf(net, 'a')).toBe(suspectAcrossOwnStall ? '2:a#0,b#0,c#0,d#0,e#0' : '1:a#0,b#0,c#0,d#0,e#0');
      expectSafe(net);
    });
  }

  for (const adaptive of [true, false]) {
    it(`a live member whose heartbeats came with long gaps is given longer before suspicion: a 450 ms stall is no view change${adaptive ? '' : ' (suspectTimeoutMaxMs = suspectTimeoutMs: a view change)'}`, () => {
      const net = form(['a', 'b', 'c'], adaptive ? {} : { suspectTimeoutMaxMs: 400 });
      // c stalls 200 ms (a gap a and b hear: their timeout for c grows to 4 x 200 ms, at most 800), runs 1 s, then stalls 450 ms.
      net.paused.add('c');
      net.run(200);
      net.paused.delete('c');
      net.run(1000);
      net.take('a');
      net.paused.add('c');
      net.run(450);
      net.paused.delete('c');
      net.run(500);
      const views = net.take('a').filter((o) => o.kind === 'viewInstalled');
      expect(views.length).toBe(adaptive ? 0 : 2); // fixed: c is left out, then rejoins
      expect(membersOf(net, 'a')).toBe(adaptive ? '1:a#0,b#0,c#0' : '3:a#0,b#0,c#0');
      expectSafe(net);
    });
  }

  for (const unboundedSuspectTimeout of [false, true]) {
    it(`the adaptive suspect timeout stops at suspectTimeoutMaxMs: a member that stalled longer and longer, then crashed, is still found in time${unboundedSuspectTimeout ? ' (unboundedSuspectTimeout: caught)' : ''}`, () => {
      const net = form(['a', 'b', 'c'], { broken: { unboundedSuspectTimeout } });
      // Stalls of 300 then 700 ms, each under the timeout of its moment (400, then 4 x 300 capped at 800), the second heard as a 700+ ms gap.
      for (const stallMs of [300, 700]) {
        net.paused.add('c');
        net.run(stallMs);
        net.paused.delete('c');
        net.run(300);
      }
      expect(membersOf(net, 'a')).toBe('1:a#0,b#0,c#0');
      net.crash('c');
      let tookMs = -1;
      for (let t = 0; t <= 1500 && tookMs < 0; t += 5) {
        if (membersOf(net, 'a') === '2:a#0,b#0' && membersOf(net, 'b') === '2:a#0,b#0') tookMs = t;
        else net.run(5);
      }
      // Capped, the silent crash takes suspectTimeoutMaxMs (800) and a round trip; uncapped, 4 x 700 ms.
      if (unboundedSuspectTimeout) expect(tookMs).toBe(-1);
      else {
        expect(tookMs).toBeGreaterThanOrEqual(700);
        expect(tookMs).toBeLessThanOrEqual(900);
      }
      expectSafe(net);
    });
  }

  for (const relayEvidence of [true, false]) {
    it(`evidence one survivor was given reaches the next coordinator: the coordinator's crash takes no timeout${relayEvidence ? '' : ' (relayEvidence off: the suspect timeout)'}`, () => {
      const net = form(['a', 'b', 'c', 'd', 'e'], { relayEvidence });
      net.crash('a'); // the coordinator
      net.step('d', { kind: 'suspect', nodeId: 'a' }); // only d hears of it; b, next in view order, has nothing
      let tookMs = -1;
      for (let t = 0; t < 1000 && tookMs < 0; t += 5) {
        net.settle();
        if (['b', 'c', 'd', 'e'].every((id) => membersOf(net, id) === '2:b#0,c#0,d#0,e#0')) tookMs = t;
        else net.tick(5);
      }
      // Relayed, b starts the change in the same instant (no time passes in settle); without it, b waits out 400 ms of a's silence.
      if (relayEvidence) expect(tookMs).toBe(0);
      else expect(tookMs).toBeGreaterThanOrEqual(400);
      expectSafe(net);
    });
  }

  it('a minority stops and says so, the majority goes on, and the heal merges', () => {
    const ids = ['a', 'b', 'c', 'd', 'e'];
    const net = form(ids);
    const minority = new Set(['a', 'b']);
    const cut = (m: ScriptedMessage): boolean => minority.has(m.from) === minority.has(m.to);
    net.run(1000, 5, cut);
    expect(net.core('a').status()).toBe('minority');
    expect(net.core('b').status()).toBe('minority');
    expect(kinds(net.take('a')).filter((k) => k.startsWith('view'))).toEqual([]);
    expect(membersOf(net, 'c')).toBe('2:c#0,d#0,e#0');
    expectCode(() => net.step('a', { kind: 'multicast', payload: text('x') }), 'GALAXY_CLUSTER_BLOCKED');
    net.run(1000);
    const merged = membersOf(net, 'a');
    expect(merged.split(':')[1]!.split(',').sort()).toEqual(['a#0', 'b#0', 'c#0', 'd#0', 'e#0']);
    for (const id of ids) expect(membersOf(net, id)).toBe(merged);
    expectSafe(net);
  });

  for (const learnFromAcceptors of [true, false]) {
    it(`acceptors ${learnFromAcceptors ? 'learn the decision from one another and install without the coordinator\'s INSTALL' : 'wait for the INSTALL (learnFromAcceptors off)'}`, () => {
      const ids = ['a', 'b', 'c', 'd', 'e'];
      const net = form(ids, { learnFromAcceptors });
      net.crash('e');
      net.step('a', { kind: 'suspect', nodeId: 'e' });
      net.tick(1); // a prepares
      net.deliver(); // b, c, d promise
      net.deliver(); // a chooses [a, b, c, d] and sends accepts
      net.deliver(); // b, c, d accept: ACCEPTED to a (and, learning, to one another)
      net.deliver((m) => m.type !== 'install'); // a decides; its INSTALL is lost
      expect(membersOf(net, 'a')).toBe('2:a#0,b#0,c#0,d#0');
      for (const id of ['b', 'c', 'd']) expect(membersOf(net, id)).toBe(learnFromAcceptors ? '2:a#0,b#0,c#0,d#0' : '1:a#0,b#0,c#0,d#0,e#0');
      net.settle();
      for (const id of ['b', 'c', 'd']) expect(membersOf(net, id)).toBe('2:a#0,b#0,c#0,d#0');
      expectSafe(net);
    });
  }

  for (const learnWithoutMajority of [false, true]) {
    it(`a learner installs only what a majority accepted${learnWithoutMajority ? ' (learnWithoutMajority: caught)' : ''}`, () => {
      const ids = ['a', 'b', 'c', 'd', 'e'];
      const net = form(ids, { broken: { learnWithoutMajority } });
      const fromB = (m: ScriptedMessage) => m.from !== 'b';
      net.step('a', { kind: 'suspect', nodeId: 'e' }); // false evidence: e lives
      net.tick(1); // a prepares
      net.deliver(); // b, c, d, e promise
      net.deliver(); // a proposes [a, b, c, d]
      net.deliver((m) => !(m.type === 'accept' && m.to !== 'b')); // only b gets the ACCEPT; it accepts, and has heard a and itself
      net.crash('a');
      // b is cut off from here on; c, d and e (a majority of view 1) go on without it.
      net.deliver(fromB);
      for (const id of ['c', 'd', 'e']) {
        net.step(id, { kind: 'suspect', nodeId: 'a' });
        net.step(id, { kind: 'suspect', nodeId: 'b' });
      }
      net.run(400, 5, fromB);
      const agreement = checkViewAgreement(net.history, 'web');
      if (learnWithoutMajority) {
        expect(membersOf(net, 'b')).toBe('2:a#0,b#0,c#0,d#0');
        expect(agreement.violations.length).toBeGreaterThan(0);
      } else {
        // b never installed a's value (it heard two of five accept it); the majority's view 2 cut it out.
        expect(membersOf(net, 'b')).not.toBe('2:a#0,b#0,c#0,d#0');
        expect(membersOf(net, 'c')).toBe('2:c#0,d#0,e#0');
        expect(agreement.violations).toEqual([]);
      }
    });
  }

  for (const ignoreAcceptedValue of [false, true]) {
    it(`a coordinator that decided and died unheard is followed by one that adopts its value${ignoreAcceptedValue ? ' (ignoreAcceptedValue: caught)' : ''}`, () => {
      const ids = ['a', 'b', 'c', 'd', 'e'];
      const net = form(ids, { broken: { ignoreAcceptedValue } });
      net.crash('e');
      net.step('a', { kind: 'suspect', nodeId: 'e' });
      net.tick(1); // a prepares
      net.deliver(); // b, c, d promise
      net.deliver(); // a chooses [a, b, c, d] and sends accepts
      net.deliver((m) => !(m.type === 'accept' && m.to === 'd')); // only b and c accept
      net.deliver((m) => !(m.type === 'accepted' && m.to !== 'a')); // a decides, installs view 2 itself, sends installs… (b's and c's acceptances to each other and to d are lost: nobody else learns)
      expect(membersOf(net, 'a')).toBe('2:a#0,b#0,c#0,d#0');
      net.crash('a'); // …which die with it
      for (const id of ['b', 'c', 'd']) {
        net.step(id, { kind: 'suspect', nodeId: 'a' });
        net.step(id, { kind: 'suspect', nodeId: 'e' });
      }
      net.tick(1); // b, now first, has prepared; b and c report the accepted value
      net.settle();
      const agreement = checkViewAgreement(net.history, 'web');
      if (ignoreAcceptedValue) {
        expect(agreement.violations.length).toBeGreaterThan(0);
        expect(agreement.violations[0]).toContain('view 2');
      } else {
        expect(agreement.violations).toEqual([]);
        // a's value is adopted as view 2; the evidence about a outlives that change, so b drops a at once in view 3.
        const installs = net.take('d').filter((o) => o.kind === 'viewInstalled');
        expect(installs.map((o) => (o.kind === 'viewInstalled' ? `${o.view.id}:${o.view.members.map((m) => m.nodeId).join(',')}` : ''))).toEqual(['2:a,b,c,d', '3:b,c,d']);
        expectSafe(net);
      }
    });
  }

  it('a sender facing a frozen member stops within two windows: the frozen buffer stays bounded', () => {
    const net = form(['a', 'b', 'c'], { sendWindowMax: 4 });
    for (const id of ['a', 'b', 'c']) net.step(id, { kind: 'definitionChanged', members: ['a', 'b', 'c', 'd'] });
    net.add('d', ['a', 'b', 'c', 'd'], { sendWindowMax: 4 }, 1);
    // c never hears a prepare and nobody hears an accept: a and b stay frozen, c goes on.
    const keep = (m: ScriptedMessage): boolean => !(m.type === 'prepare' && m.to === 'c') && m.type !== 'accept';
    net.run(120, 5, keep); // d asks to join; a prepares
    expect(net.core('b').status()).toBe('blocked');
    expect(net.core('c').status()).toBe('member');
    let sent = 0;
    for (let k = 0; k < 50; k++) {
      if (net.core('c').canMulticast()) {
        net.step('c', { kind: 'multicast', payload: text(`c${k}`) });
        sent++;
      }
      net.run(20, 5, keep);
    }
    expect(net.core('b').status()).toBe('blocked');
    expect(sent).toBeLessThanOrEqual(8);
    expect(sent).toBeGreaterThanOrEqual(4);
  });

  it('a leave takes no timeout, and the leaver refuses further commands', () => {
    const net = form(['a', 'b', 'c']);
    net.step('c', { kind: 'leave' });
    expect(net.core('c').status()).toBe('left');
    expectCode(() => net.step('c', { kind: 'multicast', payload: text('x') }), 'GALAXY_CLUSTER_LEFT');
    net.settle();
    net.tick(1);
    net.settle();
    expect(membersOf(net, 'a')).toBe('2:a#0,b#0');
    expect(membersOf(net, 'b')).toBe('2:a#0,b#0');
  });

  it('a restarted node returns as a new incarnation in a new view, and cannot vote in the first view', () => {
    const net = form(['a', 'b', 'c']);
    net.crash('c');
    const again = net.add('c', ['a', 'b', 'c'], {}, 1);
    expect(again.status()).toBe('joining');
    net.run(100);
    // Its join is evidence that incarnation 0 is gone: one change drops c#0 and adds c#1.
    expect(membersOf(net, 'a')).toBe('2:a#0,b#0,c#1');
    expect(membersOf(net, 'c')).toBe('2:a#0,b#0,c#1');
    expectSafe(net);
    // On its own a restarted node never forms a view: it is no acceptor of view 0.
    const lonely = new ScriptedNetwork();
    lonely.add('a', ['a', 'b', 'c'], {}, 3);
    lonely.run(1000);
    expect(lonely.core('a').status()).toBe('joining');
    expect(lonely.inFlight.concat().every((m) => m.type !== 'prepare')).toBe(true);
  });

  it('a definition change drops a node, which then stays out', () => {
    const net = form(['a', 'b', 'c']);
    for (const id of ['a', 'b', 'c']) net.step(id, { kind: 'definitionChanged', members: ['a', 'b'] });
    net.run(50);
    expect(membersOf(net, 'a')).toBe('2:a#0,b#0');
    expect(net.core('c').status()).toBe('joining');
    net.run(500);
    expect(membersOf(net, 'a')).toBe('2:a#0,b#0');
  });
});
