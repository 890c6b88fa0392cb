// Proves the cluster core's wire codec (src/core/cluster/cluster-wire.ts): every message
// type survives an encode/decode round trip; every truncation of every message, 20,000
// seeded random mutations and random garbage are refused with a ClusterError coded
// GALAXY_CLUSTER_WIRE_MALFORMED (never another error, never a crash); counts over their
// bounds are refused before anything is allocated; peekClusterName routes by cluster.
import { describe, expect, it } from 'vitest';
import { ClusterError } from '../src/core/cluster/cluster-error.js';
import * as W from '../src/core/cluster/cluster-wire.js';
import { Prng } from '../src/core/util/prng.js';

const bounds: W.WireBounds = { membersMax: 64, payloadBytesMax: 1024, nodeIdBytesMax: 64, carriedMessagesMax: 1024 };
const head = { cluster: 'web', incarnation: 3, viewId: 7 };
const value: W.ViewValue = { viewId: 8, prevViewId: 7, members: [{ nodeId: '00000000000000a1', incarnation: 0 }, { nodeId: '00000000000000b2', incarnation: 2 }], cut: [4, 0, 9] };
const carried: W.CarriedMessage[] = [{ senderRank: 2, seq: 9, payload: new Uint8Array([1, 2, 3]) }];
const ballot = { round: 5, rank: 1 };

const samples: W.WireMessage[] = [
  { ...head, type: W.kMessageHeartbeat, ownSeq: 12, acks: [1, 2, 3] },
  { ...head, type: W.kMessageData, seq: 13, payload: new Uint8Array([9, 8, 7]) },
  { ...head, type: W.kMessageStable, stable: 11 },
  { ...head, type: W.kMessageSuspect, rank: 2, suspectIncarnation: 4 },
  { ...head, type: W.kMessageJoin },
  { ...head, type: W.kMessageNewer },
  { ...head, type: W.kMessageLeave },
  { ...head, type: W.kMessageInstalled },
  { ...head, type: W.kMessagePrepare, ballot },
  { ...head, type: W.kMessageAccepted, ballot },
  { ...head, type: W.kMessageReject, ballot },
  { ...head, type: W.kMessagePromise, ballot, accepted: { ballot: { round: 4, rank: 0 }, value }, contiguous: [4, 0, 9], messages: carried },
  { ...head, type: W.kMessagePromise, ballot, accepted: null, contiguous: [], messages: [] },
  { ...head, type: W.kMessageAccept, ballot, value, messages: carried },
  { ...head, type: W.kMessageInstall, value, messages: carried },
];

function expectMalformed(bytes: Uint8Array): void {
  try {
    W.decodeMessage(bytes, bounds);
  } catch (error) {
    expect(error).toBeInstanceOf(ClusterError);
    expect((error as ClusterError).code).toBe('GALAXY_CLUSTER_WIRE_MALFORMED');
    return;
  }
  throw new Error(`decoded ${Array.from(bytes).join(',')}`);
}

describe('cluster wire codec', () => {
  it('round-trips every message type', () => {
    for (const message of samples) expect(W.decodeMessage(W.encodeMessage(message), bounds)).toEqual(message);
  });

  it('refuses every truncation and any trailing byte', () => {
    for (const message of samples) {
      const bytes = W.encodeMessage(message);
      for (let n = 0; n < bytes.length; n++) expectMalformed(bytes.subarray(0, n));
      const longer = new Uint8Array(bytes.length + 1);
      longer.set(bytes);
      expectMalformed(longer);
    }
  });

  it('refuses an unknown version or type, a view that does not follow, and counts over their bounds', () => {
    const join = W.encodeMessage(samples[2]!);
    expectMalformed(Uint8Array.from([2, ...join.subarray(1)]));
    expectMalformed(Uint8Array.from([1, 0, ...join.subarray(2)]));
    expectMalformed(Uint8Array.from([1, 200, ...join.subarray(2)]));
    expectMalformed(W.encodeMessage({ ...head, type: W.kMessageInstall, value: { ...value, viewId: 10 }, messages: [] }));
    expectMalformed(W.encodeMessage({ ...head, type: W.kMessageHeartbeat, ownSeq: 1, acks: new Array(65).fill(0) }));
    expectMalformed(W.encodeMessage({ ...head, type: W.kMessageData, seq: 1, payload: new Uint8Array(1025) }));
    expectMalformed(W.encodeMessage({ ...head, type: W.kMessageData, seq: 0, payload: new Uint8Array(1) }));
    expectMalformed(W.encodeMessage({ ...head, type: W.kMessageSuspect, rank: 64, suspectIncarnation: 0 }));
    const twice = { ...value, members: [value.members[0]!, value.members[0]!] };
    expectMalformed(W.encodeMessage({ ...head, type: W.kMessageInstall, value: twice, messages: [] }));
    // A count of 4 billion carried messages is refused from its header, without allocating.
    const install = W.encodeMessage({ ...head, type: W.kMessageInstall, value, messages: [] });
    install.set([0xff, 0xff, 0xff, 0xff], install.length - 4);
    expectMalformed(install);
  });

  it('answers 20,000 random mutations and garbage with a decoded message or a coded refusal only', () => {
    const random = new Prng(17);
    let refused = 0;
    for (let i = 0; i < 20_000; i++) {
      let bytes: Uint8Array;
      if (i % 4 === 0) {
        bytes = new Uint8Array(random.nextInt(64));
        for (let k = 0; k < bytes.length; k++) bytes[k] = random.nextInt(256);
      } else {
        bytes = W.encodeMessage(samples[random.nextInt(samples.length)]!).slice();
        for (let k = 0; k < 1 + random.nextInt(3); k++) bytes[random.nextInt(bytes.length)] = random.nextInt(256);
      }
      try {
        W.decodeMessage(bytes, bounds);
      } catch (error) {
        if (!(error instanceof ClusterError) || error.code !== 'GALAXY_CLUSTER_WIRE_MALFORMED') throw error;
        refused++;
      }
    }
    expect(refused).toBeGreaterThan(5_000);
  });

  it('peeks the cluster name so a host can route to one of several cores', () => {
    expect(W.peekClusterName(W.encodeMessage({ ...samples[0]!, cluster: 'db' }))).toBe('db');
    expect(() => W.peekClusterName(new Uint8Array([1]))).toThrow(ClusterError);
  });
});
