// Proves that the allocation-free reply path (issue 14) sends exactly the bytes the
// allocating one did:
//  - Prober answers a ping with an ACK encoded once and patched per sequence number;
//    every answer, over sequence numbers from 0 to 2^32-1 and in any order, decodes to
//    exactly the ACK the codec would make for that sequence number.
//  - BroadcastQueue.takeInto, which writes into a reused list with stale entries past its
//    start, picks the same parts, in the same order, with the same retirements, as
//    take() on a twin queue, over a long random run.
//  - A broken variant (a patch that writes the sequence big-endian) is caught by the
//    first check, so the check can fail.
import { describe, expect, it } from 'vitest';
import { BroadcastQueue } from '../src/core/membership/broadcast-queue.js';
import { Prng } from '../src/core/util/prng.js';
import * as F from '../src/core/wire/format.js';
import { parseWireAddress } from '../src/core/wire/message.js';
import { PartsHarness } from './support/engine-parts.js';
import { addressOfName, idOfName } from './support/membership-transcript.js';

const kNoPayload = new Uint8Array(0);
const kSequences = [0, 1, 255, 256, 65_535, 65_536, 0x7fff_ffff, 0x8000_0000, 0xffff_fffe, 0xffff_ffff];

function answerPings(h: PartsHarness, seqs: readonly number[]): void {
  for (const seq of seqs) {
    const [m] = h.tapeOf([{ type: F.kTypePing, seq, target: idOfName('A'), source: idOfName('B'), sourceAddress: parseWireAddress(addressOfName('B')) }]);
    h.prober.receivePing(addressOfName('B'), m!, seq);
    const sent = h.drain();
    expect(sent).toHaveLength(1);
    const ack = sent[0]!.messages.find((message) => message.type === F.kTypeAck);
    expect(ack).toEqual({ type: F.kTypeAck, seq, source: idOfName('A'), payload: kNoPayload });
  }
}

describe('allocation-free ping answer', () => {
  it("answers every sequence number with the codec's ACK, in any order", () => {
    const h = new PartsHarness();
    h.adopt(['B', F.kStatusAlive, 1]);
    answerPings(h, kSequences);
    answerPings(h, [...kSequences].reverse());
  });

  it('the part patched in place is byte for byte the encoded ACK', () => {
    const h = new PartsHarness();
    const template = h.ctx.parts.ack(0, h.table, h.ctx.selfRow);
    for (const seq of kSequences) {
      const patched = Uint8Array.from(template);
      patched[1] = seq & 0xff;
      patched[2] = (seq >>> 8) & 0xff;
      patched[3] = (seq >>> 16) & 0xff;
      patched[4] = (seq >>> 24) & 0xff;
      expect(patched).toEqual(h.ctx.parts.ack(seq, h.table, h.ctx.selfRow));
    }
  });

  it('broken variant: a big-endian patch differs from the encoded ACK', () => {
    const h = new PartsHarness();
    const template = h.ctx.parts.ack(0, h.table, h.ctx.selfRow);
    const seq = 0x0102_0304;
    const wrong = Uint8Array.from(template);
    wrong[1] = seq >>> 24;
    wrong[2] = (seq >>> 16) & 0xff;
    wrong[3] = (seq >>> 8) & 0xff;
    wrong[4] = seq & 0xff;
    expect(wrong).not.toEqual(h.ctx.parts.ack(seq, h.table, h.ctx.selfRow));
  });
});

describe('BroadcastQueue.takeInto', () => {
  it('takes what take() takes from a twin queue, writing after stale entries it leaves alone', () => {
    const random = new Prng(1414);
    const reference = new BroadcastQueue(256);
    const candidate = new BroadcastQueue(256);
    const stale = new Uint8Array(1);
    const list: Uint8Array[] = new Array<Uint8Array>(F.kCompoundPartsMax).fill(stale);
    for (let step = 0; step < 5_000; step++) {
      const action = random.nextInt(4);
      if (action === 0) {
        const part = new Uint8Array(1 + random.nextInt(120)).fill(step & 0xff);
        const key = `n${random.nextInt(300)}`;
        reference.queueMembership(key, part);
        candidate.queueMembership(key, part);
      } else if (action === 1) {
        const part = new Uint8Array(1 + random.nextInt(200)).fill(step & 0xff);
        reference.queueUser(part);
        candidate.queueUser(part);
      } else {
        const budget = random.nextInt(1400);
        const start = random.nextInt(3);
        const partsMax = random.nextInt(F.kCompoundPartsMax - start);
        const limit = 1 + random.nextInt(6);
        const to = random.nextInt(2) === 0 ? '' : `m${random.nextInt(4)}`;
        const expected = reference.take(budget, partsMax, limit, 64, to);
        const end = candidate.takeInto(list, start, budget, partsMax, limit, 64, to);
        expect(list.slice(start, end)).toEqual([...expected]);
        for (let i = 0; i < start; i++) expect(list[i]).toBe(stale);
        list.fill(stale);
        expect(candidate.length).toBe(reference.length);
      }
    }
  });
});
