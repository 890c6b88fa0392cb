// Proves batch opening (issue 14, item 2): Keyring.openBatch opens a receive batch in one
// call with the same results, plaintexts and counters natively and in the TypeScript
// fallback (sealed with the primary key, with a second installed key, with a foreign key,
// truncated, and an unsealed admission-like datagram). Then on loopback: a NativeTransport
// that opens its batches with a keyring delivers every sealed datagram's plaintext
// byte-exact, hands the unsealed ones to onUnsealed as sent, and drops (and counts) the
// forged ones. A broken variant (a keyring without the sender's key) delivers nothing,
// so the delivery check can fail.
import { describe, expect, it } from 'vitest';
import { until } from './support/net.js';
import { NativeUdpSocket } from '../src/node/native/native-udp-socket.js';
import { Keyring, kOpenMalformed, kOpenNotAuthenticated } from '../src/node/security/keyring.js';
import { NativeTransport } from '../src/node/transport/native-transport.js';

const kSlotBytes = 1400;
const k1 = Keyring.generateKey();
const k2 = Keyring.generateKey();
const foreign = Keyring.generateKey();
const admission = Uint8Array.of(0x47, 0x58, 0x41, 0x31, 123, 34, 125);

function plaintextOf(i: number): Uint8Array {
  return Uint8Array.from({ length: 1 + ((i * 37) % 900) }, (_, j) => (i * 7 + j) & 0xff);
}

/** Datagram i of the batch: kind i % 5 (primary, second key, foreign key, truncated, unsealed). */
function batchOf(count: number): { area: Uint8Array; lengths: Uint32Array } {
  const sealers = [new Keyring([k1], { native: false }), new Keyring([k2], { native: false }), new Keyring([foreign], { native: false })];
  const area = new Uint8Array(count * kSlotBytes);
  const lengths = new Uint32Array(count);
  for (let i = 0; i < count; i++) {
    const kind = i % 5;
    let bytes: Uint8Array = kind === 4 ? admission : sealers[Math.min(kind, 2)]!.seal(plaintextOf(i));
    if (kind === 3) bytes = bytes.subarray(0, 10);
    area.set(bytes, i * kSlotBytes);
    lengths[i] = bytes.length;
  }
  return { area, lengths };
}

function expectedResult(i: number): number {
  const kind = i % 5;
  if (kind === 0 || kind === 1) return plaintextOf(i).length;
  return kind === 2 ? kOpenNotAuthenticated : kOpenMalformed;
}

describe('Keyring.openBatch', () => {
  for (const native of [true, false]) {
    it(`opens a batch as open() would one by one (${native ? 'native' : 'TypeScript fallback'})`, () => {
      const keyring = new Keyring([k1, k2], { native });
      if (native && !keyring.native) return;
      const count = 40;
      const { area, lengths } = batchOf(count);
      const results = new Int32Array(count);
      const out = new Uint8Array(count * kSlotBytes);
      const opened = keyring.openBatch(area, count, kSlotBytes, lengths, results, out);
      for (let i = 0; i < count; i++) {
        expect(results[i], `slot ${i}`).toBe(expectedResult(i));
        if (results[i]! >= 0) expect(out.subarray(i * kSlotBytes, i * kSlotBytes + results[i]!)).toEqual(plaintextOf(i));
      }
      expect(opened).toBe(16);
      expect(keyring.counters).toEqual({ sealed: 0, opened: 16, malformed: 16, authenticationFailed: 8 });
    });
  }

  it('refuses a batch that does not fit its buffers', () => {
    const keyring = new Keyring([k1]);
    expect(() => keyring.openBatch(new Uint8Array(10), 2, kSlotBytes, new Uint32Array(2), new Int32Array(2), new Uint8Array(10))).toThrow(/does not fit/);
  });
});

async function deliverThrough(opener: Keyring): Promise<{ plaintexts: Map<number, Uint8Array>; unsealed: Uint8Array[]; transport: NativeTransport }> {
  const receiver = NativeTransport.open('127.0.0.1:0');
  const sender = NativeTransport.open('127.0.0.1:0');
  const plaintexts = new Map<number, Uint8Array>();
  const unsealed: Uint8Array[] = [];
  receiver.openBatchesWith(opener, (from, bytes) => {
    expect(from).toBe(sender.address);
    unsealed.push(Uint8Array.from(bytes));
  });
  receiver.onMessage((from, bytes) => {
    expect(from).toBe(sender.address);
    // Plaintext i starts with (i * 7) & 0xff and is 1 + (i * 37) % 900 bytes long: find i.
    for (let i = 0; i < 100; i++) if (bytes.length === plaintextOf(i).length && bytes[0] === ((i * 7) & 0xff)) plaintexts.set(i, Uint8Array.from(bytes));
  });
  const sealer = new Keyring([k1, k2]);
  const stranger = new Keyring([foreign]);
  for (let i = 0; i < 100; i++) {
    const kind = i % 3;
    sender.send(receiver.address, kind === 0 ? sealer.seal(plaintextOf(i)) : kind === 1 ? stranger.seal(plaintextOf(i)) : admission);
    if (i % 25 === 24) await new Promise((resolve) => setImmediate(resolve));
  }
  await until(() => receiver.counters.received >= 100, 5_000);
  await sender.close();
  return { plaintexts, unsealed, transport: receiver };
}

describe('NativeTransport.openBatchesWith on loopback', () => {
  it.skipIf(!NativeUdpSocket.available().available)('delivers plaintexts, hands over unsealed datagrams, drops forged ones', async () => {
    const opener = new Keyring([k2, k1]);
    const { plaintexts, unsealed, transport } = await deliverThrough(opener);
    try {
      const sealedSent = Array.from({ length: 100 }, (_, i) => i).filter((i) => i % 3 === 0);
      expect([...plaintexts.keys()].sort((a, b) => a - b)).toEqual(sealedSent);
      for (const i of sealedSent) expect(plaintexts.get(i)).toEqual(plaintextOf(i));
      expect(unsealed).toHaveLength(33);
      for (const bytes of unsealed) expect(bytes).toEqual(admission);
      expect(opener.counters.opened).toBe(34);
      expect(opener.counters.authenticationFailed).toBe(33);
    } finally {
      await transport.close();
    }
  });

  it.skipIf(!NativeUdpSocket.available().available)('broken variant: a keyring without the senders key delivers no plaintext', async () => {
    const { plaintexts, transport } = await deliverThrough(new Keyring([foreign]));
    try {
      // Only the stranger's datagrams open; none of the farm's.
      expect([...plaintexts.keys()].filter((i) => i % 3 === 0)).toEqual([]);
    } finally {
      await transport.close();
    }
  });
});
