// Proves the allocation-free receive hand-over (issue 14): ReceiveViews gives each
// datagram a view of exactly its slot and length, the same view object again for the
// same (slot, length), a fresh set after the addon's area changes, and never more than
// its bound of views (the cache is emptied and refilled); batchReceiver announces each
// batch before its datagrams, with their number. Then the real thing on loopback: a
// NativeTransport that receives bursts delivers every datagram byte-exact, each after
// a batch start, and the batch counts add up to the datagrams delivered; replies sent
// while a batch is handled leave together when it ends (at most one sendmmsg per receive
// batch, counted by the addon), and every one arrives.
import { describe, expect, it } from 'vitest';
import { until } from './support/net.js';
import { batchReceiver, NativeUdpSocket } from '../src/node/native/native-udp-socket.js';
import { ReceiveViews } from '../src/node/native/receive-views.js';
import { NativeTransport } from '../src/node/transport/native-transport.js';

const kSlotBytes = 64;

function area(slots: number): Uint8Array {
  const bytes = new Uint8Array(slots * kSlotBytes);
  for (let i = 0; i < bytes.length; i++) bytes[i] = i & 0xff;
  return bytes;
}

describe('ReceiveViews', () => {
  it('views exactly the slot and length, and reuses the view for the same pair', () => {
    const views = new ReceiveViews(kSlotBytes);
    const bytes = area(4);
    views.use(bytes);
    const a = views.view(2, 10);
    expect(Array.from(a)).toEqual(Array.from(bytes.subarray(128, 138)));
    expect(a).not.toBeInstanceOf(Buffer);
    expect(views.view(2, 10)).toBe(a);
    expect(views.view(2, 11)).not.toBe(a);
    expect(views.view(3, 10)).not.toBe(a);
    // The area is reused: a view shows what the next batch wrote there.
    bytes[128] = 0xee;
    expect(a[0]).toBe(0xee);
    expect(views.cached).toBe(3);
  });

  it('drops its views when the area changes', () => {
    const views = new ReceiveViews(kSlotBytes);
    const first = area(2);
    views.use(first);
    const a = views.view(1, 5);
    views.use(first);
    expect(views.view(1, 5)).toBe(a);
    const second = area(2);
    second[64] = 0x99;
    views.use(second);
    const b = views.view(1, 5);
    expect(b).not.toBe(a);
    expect(b[0]).toBe(0x99);
    expect(views.cached).toBe(1);
  });

  it('never holds more than its bound of views', () => {
    const views = new ReceiveViews(kSlotBytes, 8);
    views.use(area(4));
    for (let length = 1; length <= 40; length++) {
      const view = views.view(length % 4, length);
      expect(view.length).toBe(length);
      expect(views.cached).toBeLessThanOrEqual(8);
    }
  });

  it('batchReceiver announces each batch, then hands over its datagrams in order', () => {
    const log: string[] = [];
    const receive = batchReceiver(kSlotBytes, { onBatch: (count) => log.push(`batch ${count}`), onMessage: (from, bytes) => log.push(`${from} ${bytes.length} ${bytes[0]}`) });
    const bytes = area(3);
    receive(3, bytes, Uint32Array.of(1, 2, 3), ['a', 'b', 'c']);
    receive(1, bytes, Uint32Array.of(7, 0, 0), ['d']);
    expect(log).toEqual(['batch 3', 'a 1 0', 'b 2 64', 'c 3 128', 'batch 1', 'd 7 0']);
  });
});

describe('NativeTransport batches on loopback', () => {
  it.skipIf(!NativeUdpSocket.available().available)('delivers bursts byte-exact, each datagram after its batch start', async () => {
    const receiver = NativeTransport.open('127.0.0.1:0');
    const sender = NativeTransport.open('127.0.0.1:0');
    try {
      let announced = 0;
      let left = 0;
      const received: number[] = [];
      receiver.onBatch((count) => {
        expect(left).toBe(0);
        announced += count;
        left = count;
      });
      receiver.onMessage((from, bytes) => {
        expect(left).toBeGreaterThan(0);
        left--;
        expect(from).toBe(sender.address);
        expect(bytes.length).toBe(1 + (bytes[0]! % 200));
        expect(bytes.every((b, i) => i === 0 || b === ((bytes[0]! + i) & 0xff))).toBe(true);
        received.push(bytes[0]!);
      });
      const kDatagrams = 200;
      for (let i = 0; i < kDatagrams; i++) {
        const bytes = new Uint8Array(1 + (i % 200));
        for (let j = 0; j < bytes.length; j++) bytes[j] = (i + j) & 0xff;
        sender.send(receiver.address, bytes);
        if (i % 50 === 49) await new Promise((resolve) => setImmediate(resolve));
      }
      await until(() => received.length === kDatagrams, 5_000);
      expect(announced).toBe(kDatagrams);
      expect(received).toEqual(Array.from({ length: kDatagrams }, (_, i) => i & 0xff));
    } finally {
      await Promise.all([receiver.close(), sender.close()]);
    }
  });
});

describe('NativeUdpSocket flushes the replies of a batch at its end', () => {
  it.skipIf(!NativeUdpSocket.available().available)('sends at most one batch of replies per receive batch, and loses none', async () => {
    let echo: NativeUdpSocket | undefined;
    echo = NativeUdpSocket.open({ host: '127.0.0.1' }, { onMessage: (from, bytes) => echo!.send(from, bytes) });
    const replies: number[] = [];
    const client = NativeUdpSocket.open({ host: '127.0.0.1' }, { onMessage: (_from, bytes) => replies.push(bytes[0]!) });
    try {
      const kDatagrams = 256;
      for (let i = 0; i < kDatagrams; i++) {
        client.send(echo.localAddress, Uint8Array.of(i & 0xff, 1, 2, 3));
        if (i % 64 === 63) await new Promise((resolve) => setImmediate(resolve));
      }
      await until(() => replies.length === kDatagrams, 5_000);
      const stats = echo.stats;
      expect(stats.received).toBe(kDatagrams);
      expect(stats.sent).toBe(kDatagrams);
      expect(stats.sendBatches).toBeLessThanOrEqual(stats.receiveBatches);
      expect([...replies].sort((a, b) => a - b)).toEqual(Array.from({ length: kDatagrams }, (_, i) => i & 0xff).sort((a, b) => a - b));
    } finally {
      echo.close();
      client.close();
    }
  });
});

