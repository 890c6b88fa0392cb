// Proves the seam of the ClusterChannels core (src/core/cluster-channels): the envelope
// codec round-trips and refuses malformed input with a coded error; member names carry
// the incarnation; the constructor refuses a cluster payload bound that a channel
// message could exceed; in the simulator, when a member stops acknowledging, the
// multicast backlog fills to its bound, application sends are then refused with
// GALAXY_CLUSTER_CHANNELS_BACKLOG_FULL (nothing reliable is dropped), and after the heal
// the backlog drains and every delivery passes the integrity and FIFO checkers; and a
// member whose application consumes too slowly, keeping a 'remove' channel's window
// closed while its cluster core stays healthy, is reported by the layer and removed from
// the view through the slow-member path. Packing: the pack codec round-trips and refuses
// 20,000 random mutations with a coded error or decodes them, never anything else; a
// flooding sender's channel messages travel many to a cluster multicast and the total
// order, FIFO and integrity checkers still hold under loss and reordering; a corked
// burst goes as one pack and a tick lifts a forgotten cork. All in
// simulated time, from fixed seeds.
import { describe, expect, it } from 'vitest';
import { Prng } from '../src/core/util/prng.js';
import { ClusterChannels, memberName, parseMemberName } from '../src/core/cluster-channels/cluster-channels.js';
import { decodeEnvelope, encodeClusterEnvelope, encodeDatagramEnvelope, encodeSlowMemberEnvelope, peekEnvelopeCluster } from '../src/core/cluster-channels/cluster-channels-envelope.js';
import { ClusterChannelsError } from '../src/core/cluster-channels/cluster-channels-error.js';
import { decodePack, encodePack } from '../src/core/cluster-channels/cluster-channels-pack.js';
import { checkFifo, checkIntegrity, checkTotal } from '../src/sim/channels/channel-checkers.js';
import { ClusterChannelsSimulation } from '../src/sim/cluster-channels/cluster-channels-simulation.js';

describe('the envelope', () => {
  it('round-trips the three kinds and routes by cluster', () => {
    const body = new Uint8Array([1, 2, 3]);
    const d = decodeEnvelope(encodeDatagramEnvelope('web', 7, 2, body));
    expect(d).toEqual({ kind: 'datagram', cluster: 'web', viewId: 7, senderIncarnation: 2, bytes: body });
    expect(decodeEnvelope(encodeSlowMemberEnvelope('web', 9, '00000000000000a1', 3))).toEqual({ kind: 'slowMember', cluster: 'web', viewId: 9, nodeId: '00000000000000a1', incarnation: 3 });
    const c = decodeEnvelope(encodeClusterEnvelope(body));
    expect(c.kind).toBe('cluster');
    expect(peekEnvelopeCluster(encodeDatagramEnvelope('db', 1, 0, body))).toBe('db');
  });

  it('refuses malformed envelopes with a coded error', () => {
    const bad = [new Uint8Array([]), new Uint8Array([0x99]), new Uint8Array([0x44, 3, 0x61]), encodeSlowMemberEnvelope('w', 1, 'n', 0).subarray(0, 9)];
    for (const bytes of bad) {
      expect(() => decodeEnvelope(bytes)).toThrow(ClusterChannelsError);
      try {
        decodeEnvelope(bytes);
      } catch (error) {
        expect((error as ClusterChannelsError).code).toBe('GALAXY_CLUSTER_CHANNELS_ENVELOPE_MALFORMED');
      }
    }
  });
});

describe('packs', () => {
  it('round-trip records of every varint length', () => {
    const records = [1, 127, 128, 16_383, 16_384, 70_000].map((n, i) => new Uint8Array(n).fill(i + 1));
    const decoded = decodePack(encodePack(records), 1000);
    expect(decoded.map((r) => r.length)).toEqual(records.map((r) => r.length));
    for (let i = 0; i < records.length; i++) expect(decoded[i]).toEqual(records[i]);
    expect(() => encodePack([new Uint8Array(0)])).toThrow(RangeError);
  });

  it('decode 20,000 random mutations to records or a coded refusal, never anything else', () => {
    const random = new Prng(18);
    const base = encodePack([new Uint8Array([1, 2, 3]), new Uint8Array(200).fill(9), new Uint8Array([7])]);
    let refused = 0;
    for (let i = 0; i < 20_000; i++) {
      const bytes = random.chance(0.2) ? new Uint8Array(random.nextInt(12)).map(() => random.nextInt(256)) : base.slice(0, random.nextInt(base.length + 1));
      for (let k = random.nextInt(4); k > 0 && bytes.length > 0; k--) bytes[random.nextInt(bytes.length)] = random.nextInt(256);
      try {
        const records = decodePack(bytes, 3);
        expect(records.length).toBeGreaterThan(0);
        expect(records.length).toBeLessThanOrEqual(3);
        for (const r of records) expect(r.length).toBeGreaterThan(0);
      } catch (error) {
        expect(error).toBeInstanceOf(ClusterChannelsError);
        expect((error as ClusterChannelsError).code).toBe('GALAXY_CLUSTER_CHANNELS_PACK_MALFORMED');
        refused++;
      }
    }
    expect(refused).toBeGreaterThan(1000);
  });

  it('carry a flooding sender many to a cluster multicast, with total order, FIFO and integrity intact under loss and reordering', () => {
    const s = new ClusterChannelsSimulation({
      seed: 18,
      nodeCount: 5,
      workload: {
        channel: 't', options: { reliability: 'reliable', ordering: 'total', windowMessages: 512 }, sendEveryMs: 0, sendUntilMs: 900, bigRate: 0, replyRate: 0,
        payloadBytes: 100, floodQueue: 64,
      },
      membership: { sendWindowMax: 32, payloadBytesMax: 16 * 1024 },
      sim: { tickMs: 1, lossRate: 0.02, reorderRate: 0.05, reorderMsMax: 5 },
    });
    expect(s.sim.runUntil(() => s.host(0)?.core.currentView() !== null, 3000, 5)).toBeGreaterThanOrEqual(0);
    s.host(0)!.open();
    const nodes = [0, 1, 2, 3, 4];
    expect(s.awaitCommonView(nodes, 3000)).toBeGreaterThanOrEqual(0);
    s.sim.runUntil(() => s.sim.nowMs() > 1000, 5000, 10);
    s.sim.runFor(1000);
    expect(s.hasCommonView(nodes)).toBe(true);
    let packs = 0;
    let packed = 0;
    for (const i of nodes) {
      packs += s.host(i)!.core.counters.multicasts;
      packed += s.host(i)!.core.counters.packedMessages;
    }
    expect(packed / packs).toBeGreaterThan(4);
    const history = s.recorder.history;
    expect(history.sends.length).toBeGreaterThan(5000);
    expect(checkIntegrity(history, 't').violations).toEqual([]);
    expect(checkFifo(history, 't').violations).toEqual([]);
    expect(checkTotal(history, 't').violations).toEqual([]);
    for (const log of Object.values(history.logs)) expect(log.filter((e) => e.kind === 'deliver').length).toBe(history.sends.length);
  });
});

describe('the cork', () => {
  it('holds a burst of sends back until uncork and sends it as one pack; a tick lifts a forgotten cork', () => {
    const s = new ClusterChannelsSimulation({
      seed: 5,
      nodeCount: 3,
      workload: { channel: 'c', options: { reliability: 'reliable', ordering: 'fifo', windowMessages: 1024 }, sendEveryMs: 0, sendUntilMs: 0, bigRate: 0, replyRate: 0, payloadBytes: 100 },
      membership: { sendWindowMax: 256 },
      sim: { tickMs: 1 },
    });
    expect(s.sim.runUntil(() => s.host(0)?.core.currentView() !== null, 3000, 5)).toBeGreaterThanOrEqual(0);
    s.host(0)!.open();
    expect(s.awaitCommonView([0, 1, 2], 3000)).toBeGreaterThanOrEqual(0);
    s.sim.runFor(50);
    const host = s.host(0)!;
    const counters = host.core.counters;
    const burst = (corked: boolean): { packs: number; messages: number } => {
      const packs = counters.multicasts;
      const messages = counters.packedMessages;
      if (corked) host.command({ kind: 'cork' });
      for (let i = 0; i < 50; i++) host.send(new Uint8Array(100));
      return { packs: counters.multicasts - packs, messages: counters.packedMessages - messages };
    };
    // Uncorked, each send goes at once, alone (the layer's feedback, due at its own pace, goes alone too).
    host.send(new Uint8Array(100));
    s.sim.runFor(20);
    const uncorked = burst(false);
    expect(uncorked.packs).toBe(uncorked.messages);
    expect(uncorked.packs).toBeGreaterThanOrEqual(50);
    // Corked, nothing goes until uncork, then the 50 go as one pack.
    expect(burst(true)).toEqual({ packs: 0, messages: 0 });
    const before = { packs: counters.multicasts, messages: counters.packedMessages };
    host.command({ kind: 'uncork' });
    expect({ packs: counters.multicasts - before.packs, messages: counters.packedMessages - before.messages }).toEqual({ packs: 1, messages: 50 });
    // A cork nobody lifts ends at the next tick.
    expect(burst(true).packs).toBe(0);
    s.sim.runFor(2);
    s.sim.runFor(200);
    for (const i of [0, 1, 2]) expect(s.host(i)!.deliveredCount).toBe(151);
    expect(checkFifo(s.recorder.history, 'c').violations).toEqual([]);
  });
});

describe('member names and bounds', () => {
  it('names a member by node and incarnation, so a restart is a new member', () => {
    expect(memberName({ nodeId: 'ab', incarnation: 0 })).not.toBe(memberName({ nodeId: 'ab', incarnation: 1 }));
    expect(parseMemberName(memberName({ nodeId: 'ab', incarnation: 4 }))).toEqual({ nodeId: 'ab', incarnation: 4 });
    expect(parseMemberName('nonsense')).toBeNull();
  });

  it('refuses a cluster payload bound under the layer largest message', () => {
    const init = { cluster: 'c', nodeId: 'a', incarnation: 0, definition: ['a'], random: new Prng(1), nowMs: 0 };
    expect(() => new ClusterChannels({ ...init, membership: { payloadBytesMax: 1024 }, layer: { fragmentBytes: 1024 } })).toThrow(/payloadBytesMax/);
    expect(() => new ClusterChannels({ ...init, membership: { payloadBytesMax: 4096 }, layer: { fragmentBytes: 1024, orderEntriesMax: 256 } })).not.toThrow();
  });
});

describe('flow through the seam in the simulator', () => {
  it('fills the backlog to its bound, refuses sends there, drops nothing, and drains after the heal', () => {
    const s = new ClusterChannelsSimulation({
      seed: 7,
      nodeCount: 3,
      workload: { channel: 'w', options: { reliability: 'reliable', ordering: 'fifo', windowMessages: 10_000 }, sendEveryMs: 1, sendUntilMs: 1500, bigRate: 0, replyRate: 0 },
      // The cluster core must not remove the silent member: a slow detector, a small window.
      membership: { payloadBytesMax: 4096, sendWindowMax: 4, suspectTimeoutMs: 60_000 },
      layer: { fragmentBytes: 1024, orderEntriesMax: 256, sendQueueMessagesMax: 100_000 },
      multicastBacklogMax: 16,
      sim: { tickMs: 2 },
    });
    expect(s.sim.runUntil(() => s.host(0)?.core.currentView() !== null, 3000, 5)).toBeGreaterThanOrEqual(0);
    s.host(0)!.open();
    expect(s.awaitCommonView([0, 1, 2], 3000)).toBeGreaterThanOrEqual(0);
    const viewId = s.host(0)!.core.currentView()!.id;
    s.sim.partition([s.addresses[0]!, s.addresses[1]!], [s.addresses[2]!]);
    s.sim.runFor(500);
    const core = s.host(0)!.core;
    expect(core.backlogLength()).toBe(16);
    expect(core.counters.backlogLengthMax).toBe(16);
    expect(core.counters.sendsRefusedBacklogFull).toBeGreaterThan(0);
    expect(s.host(0)!.outcomes.get('GALAXY_CLUSTER_CHANNELS_BACKLOG_FULL')).toBe(core.counters.sendsRefusedBacklogFull);
    s.sim.heal();
    s.sim.runUntil(() => s.sim.nowMs() > 1600, 5000, 10);
    s.sim.runFor(500);
    for (const i of [0, 1, 2]) {
      expect(s.host(i)!.core.backlogLength()).toBe(0);
      // No view change happened: the backlog was waiting, not dropped.
      expect(s.host(i)!.core.currentView()!.id).toBe(viewId);
      expect(s.host(i)!.core.counters.backlogDroppedAtViewEnd).toBe(0);
    }
    const history = s.recorder.history;
    expect(checkIntegrity(history, 'w').ok).toBe(true);
    const fifo = checkFifo(history, 'w');
    expect(fifo.violations).toEqual([]);
    // Every member delivered every message sent (all in the one view).
    for (const log of Object.values(history.logs)) expect(log.filter((e) => e.kind === 'deliver').length).toBe(history.sends.length);
    expect(history.sends.length).toBeGreaterThan(100);
  });

  it('removes a member that keeps a remove-policy window closed, through the slow-member reports', () => {
    const s = new ClusterChannelsSimulation({
      seed: 11,
      nodeCount: 5,
      workload: { channel: 'w', options: { reliability: 'reliable', ordering: 'total', slowReceiverPolicy: 'remove', windowMessages: 16, slowReceiverBoundMs: 100 }, sendEveryMs: 2, sendUntilMs: 2000, bigRate: 0, replyRate: 0 },
      membership: { payloadBytesMax: 4096 },
      layer: { fragmentBytes: 1024, orderEntriesMax: 256 },
      // Node 3's application takes one delivery every 20 ms: 50/s against about 2,500/s sent.
      consumeEveryMs: new Map([[3, 20]]),
      sim: { tickMs: 2 },
    });
    expect(s.sim.runUntil(() => s.host(0)?.core.currentView() !== null, 3000, 5)).toBeGreaterThanOrEqual(0);
    s.host(0)!.open();
    expect(s.awaitCommonView([0, 1, 2, 3, 4], 3000)).toBeGreaterThanOrEqual(0);
    // Node 3's cluster core is healthy (it heartbeats and acknowledges), so only the
    // layer's slow-member report, passed on as a suspicion, can remove it.
    const tookMs = s.awaitCommonView([0, 1, 2, 4], 1000);
    expect(tookMs, s.describe([0, 1, 2, 3, 4])).toBeGreaterThanOrEqual(0);
    expect(tookMs).toBeLessThan(600);
    const reported = [0, 1, 2, 4].reduce((n, i) => n + (s.host(i)!.core.layer.channelCounters('w')?.slowMembersReported ?? 0), 0);
    expect(reported).toBeGreaterThan(0);
    const reportsSent = [0, 1, 2, 4].reduce((n, i) => n + s.host(i)!.core.counters.slowReportsSent, 0);
    expect(reportsSent).toBeGreaterThan(0);
  });
});
