// Proves the channel core's parts without the simulator: the binary header codec
// round-trips every message kind and refuses each kind of malformed input with its own
// code (and random bytes only ever with a ChannelError); options are validated with
// coded errors; the token bucket's arithmetic is exact in injected time; and the layer,
// stepped by hand with a two-member view, fragments a message of the maximum size and
// reassembles it, holds data of a channel it does not know yet until the open arrives,
// refuses conflicting opens, and counts bad input instead of throwing.
import { describe, expect, it } from 'vitest';
import { ChannelError } from '../src/core/channels/channel-error.js';
import {
  channelIdOf, decodeFeedbackBody, decodeMessage, decodeOpenBody, decodeOrderBody, encodeFeedbackBody, encodeMessage, encodeOpenBody, encodeOrderBody,
  kHeaderBytes, kKindData, kKindOpen, kKindOrder, type ChannelHeader,
} from '../src/core/channels/channel-header.js';
import { ChannelLayer } from '../src/core/channels/channel-layer.js';
import type { ChannelOutput } from '../src/core/channels/channel-layer-io.js';
import { channelSettings } from '../src/core/channels/channel-options.js';
import { TokenBucket } from '../src/core/channels/token-bucket.js';
import { Prng } from '../src/core/util/prng.js';

const kLimits = { messageBytesMax: 1 << 20, fragmentBytes: 1024 };

function dataHeader(overrides: Partial<ChannelHeader> = {}): ChannelHeader {
  return {
    kind: kKindData, ordering: 'fifo', reliability: 'reliable', viewId: 7, channelId: 0xdeadbeef, seq: 3,
    fragmentIndex: 0, fragmentCount: 1, messageBytes: 10, clock: [], ...overrides,
  };
}

function codeOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (error instanceof ChannelError) return error.code;
    throw error;
  }
  return 'no error';
}

describe('channel header codec', () => {
  it('round-trips data with a vector clock, and the control bodies', () => {
    const header = dataHeader({ ordering: 'causal', clock: [1, 0, 4294967295], fragmentIndex: 2, fragmentCount: 3, messageBytes: 2048 + 5, seq: 9 });
    const body = new Uint8Array(5).fill(42);
    const bytes = encodeMessage(header, body);
    expect(bytes.length).toBe(kHeaderBytes + 12 + 5);
    const decoded = decodeMessage(bytes, kLimits);
    expect(decoded.header).toEqual(header);
    expect([...decoded.body]).toEqual([...body]);
    expect(decodeOrderBody(encodeOrderBody([{ senderRank: 3, seq: 7 }, { senderRank: 0, seq: 1 }]))).toEqual([{ senderRank: 3, seq: 7 }, { senderRank: 0, seq: 1 }]);
    const feedback = { received: [1, 2, 3], consumed: [0, 2, 1], orderReceived: 99 };
    expect(decodeFeedbackBody(encodeFeedbackBody(feedback))).toEqual(feedback);
    expect(decodeOpenBody(encodeOpenBody('jobs/ümlaut'))).toBe('jobs/ümlaut');
  });

  it('refuses each kind of malformed input with its code', () => {
    const good = encodeMessage(dataHeader(), new Uint8Array(10));
    const patched = (at: number, value: number): Uint8Array => {
      const copy = good.slice();
      copy[at] = value;
      return copy;
    };
    expect(codeOf(() => decodeMessage(good.subarray(0, kHeaderBytes - 1), kLimits))).toBe('GALAXY_CHANNEL_TRUNCATED');
    expect(codeOf(() => decodeMessage(patched(0, 2), kLimits))).toBe('GALAXY_CHANNEL_BAD_VERSION');
    expect(codeOf(() => decodeMessage(patched(1, 0), kLimits))).toBe('GALAXY_CHANNEL_BAD_KIND');
    expect(codeOf(() => decodeMessage(patched(1, 9), kLimits))).toBe('GALAXY_CHANNEL_BAD_KIND');
    expect(codeOf(() => decodeMessage(patched(2, 5), kLimits))).toBe('GALAXY_CHANNEL_BAD_CONFIG');
    expect(codeOf(() => decodeMessage(patched(2, 0x11), kLimits))).toBe('GALAXY_CHANNEL_BAD_CONFIG');
    expect(codeOf(() => decodeMessage(patched(3, 1), kLimits))).toBe('GALAXY_CHANNEL_BAD_FLAGS');
    expect(codeOf(() => decodeMessage(patched(26, 1), kLimits))).toBe('GALAXY_CHANNEL_BAD_FLAGS');
    expect(codeOf(() => decodeMessage(patched(24, 3), kLimits))).toBe('GALAXY_CHANNEL_TRUNCATED');
    expect(codeOf(() => decodeMessage(good.subarray(0, good.length - 1), kLimits))).toBe('GALAXY_CHANNEL_BAD_LENGTH');
    expect(codeOf(() => decodeMessage(encodeMessage(dataHeader({ messageBytes: 2048, fragmentCount: 1 }), new Uint8Array(1024)), kLimits))).toBe('GALAXY_CHANNEL_BAD_FRAGMENT');
    expect(codeOf(() => decodeMessage(encodeMessage(dataHeader({ messageBytes: 2048, fragmentCount: 2, fragmentIndex: 2 }), new Uint8Array(1024)), kLimits))).toBe('GALAXY_CHANNEL_BAD_FRAGMENT');
    expect(codeOf(() => decodeMessage(encodeMessage(dataHeader({ messageBytes: (1 << 20) + 1, fragmentCount: 1025 }), new Uint8Array(1024)), kLimits))).toBe('GALAXY_CHANNEL_TOO_LARGE');
    expect(codeOf(() => decodeMessage(encodeMessage(dataHeader({ seq: 0 }), new Uint8Array(10)), kLimits))).toBe('GALAXY_CHANNEL_BAD_FRAGMENT');
    expect(codeOf(() => decodeMessage(encodeMessage(dataHeader({ clock: [1, 2] }), new Uint8Array(10)), kLimits))).toBe('GALAXY_CHANNEL_BAD_CONFIG');
    expect(codeOf(() => decodeMessage(encodeMessage(dataHeader({ kind: kKindOrder, messageBytes: 0 }), new Uint8Array(0)), kLimits))).toBe('no error');
    expect(codeOf(() => decodeMessage(encodeMessage(dataHeader({ kind: kKindOrder, messageBytes: 4 }), new Uint8Array(0)), kLimits))).toBe('GALAXY_CHANNEL_BAD_FRAGMENT');
    expect(codeOf(() => decodeOrderBody(new Uint8Array([2, 0, 1, 0, 0, 0, 0, 0])))).toBe('GALAXY_CHANNEL_BAD_BODY');
    expect(codeOf(() => decodeFeedbackBody(new Uint8Array([1, 0, 0, 0])))).toBe('GALAXY_CHANNEL_BAD_BODY');
    expect(codeOf(() => decodeOpenBody(new Uint8Array([0xff, 0xfe])))).toBe('GALAXY_CHANNEL_BAD_BODY');
    expect(codeOf(() => decodeOpenBody(new Uint8Array(0)))).toBe('GALAXY_CHANNEL_BAD_BODY');
  });

  it('answers 20,000 random and mutated inputs only with results or ChannelErrors', () => {
    const prng = new Prng(5);
    const seedMessage = encodeMessage(dataHeader({ ordering: 'causal', clock: [1, 2], messageBytes: 1500, fragmentCount: 2, fragmentIndex: 1 }), new Uint8Array(476));
    let refused = 0;
    for (let i = 0; i < 20_000; i++) {
      let bytes: Uint8Array;
      if (i % 2 === 0) {
        bytes = new Uint8Array(prng.nextInt(64));
        for (let j = 0; j < bytes.length; j++) bytes[j] = prng.nextInt(256);
      } else {
        bytes = seedMessage.slice(0, seedMessage.length - (prng.chance(0.2) ? prng.nextInt(8) : 0));
        for (let flips = 1 + prng.nextInt(3); flips > 0; flips--) bytes[prng.nextInt(Math.min(bytes.length, 40))] = prng.nextInt(256);
      }
      const code = codeOf(() => decodeMessage(bytes, kLimits));
      if (code !== 'no error') refused++;
    }
    expect(refused).toBeGreaterThan(10_000);
  });
});

describe('channel options', () => {
  it('fills defaults and refuses bad options with GALAXY_CHANNEL_BAD_OPTIONS', () => {
    expect(channelSettings({ reliability: 'reliable', ordering: 'safe' }).windowMessages).toBe(64);
    for (const bad of [
      { reliability: 'unreliable', ordering: 'causal' },
      { reliability: 'unreliable', ordering: 'total' },
      { reliability: 'maybe', ordering: 'fifo' },
      { reliability: 'reliable', ordering: 'fifo', windowMessages: 0 },
      { reliability: 'reliable', ordering: 'fifo', rateMessagesPerSecond: 0 },
      { reliability: 'reliable', ordering: 'fifo', burstMessages: 1.5 },
      { reliability: 'reliable', ordering: 'fifo', slowReceiverPolicy: 'drop' },
    ]) {
      expect(codeOf(() => channelSettings(bad as never))).toBe('GALAXY_CHANNEL_BAD_OPTIONS');
    }
  });
});

describe('token bucket', () => {
  it('allows the burst, then the rate, in injected time; changes apply from then on', () => {
    const bucket = new TokenBucket(100, 5, 0);
    let taken = 0;
    while (bucket.take(0)) taken++;
    expect(taken).toBe(5);
    expect(bucket.waitMs(0)).toBeCloseTo(10);
    expect(bucket.take(9.9)).toBe(false);
    expect(bucket.take(10)).toBe(true);
    bucket.set(1000, 5, 10);
    expect(bucket.take(11)).toBe(true);
    expect(bucket.take(11)).toBe(false);
    expect(new TokenBucket(Infinity, 1, 0).take(0)).toBe(true);
  });
});

describe('channel layer stepped by hand', () => {
  const view = { id: 1, members: ['a', 'b'] };

  function drain(layer: ChannelLayer): ChannelOutput[] {
    const out = [...layer.ready()];
    layer.advance();
    return out;
  }

  /** Carries every multicast to every layer (self-delivery included, FIFO) until all are quiet; returns the app events. */
  function settle(layers: Record<string, ChannelLayer>): ChannelOutput[] {
    const events: ChannelOutput[] = [];
    for (let progress = true; progress; ) {
      progress = false;
      for (const [id, layer] of Object.entries(layers)) {
        for (const output of drain(layer)) {
          if (output.kind !== 'vsMulticast') {
            events.push(output);
            continue;
          }
          progress = true;
          for (const other of Object.values(layers)) other.step({ kind: 'vsDeliver', viewId: output.viewId, sender: id, bytes: output.bytes });
        }
      }
    }
    return events;
  }

  it('fragments a message of the maximum size and reassembles it at every member', () => {
    const a = new ChannelLayer({ self: 'a', messageBytesMax: 64 * 1024, fragmentBytes: 1000, autoConsume: true });
    const b = new ChannelLayer({ self: 'b', messageBytesMax: 64 * 1024, fragmentBytes: 1000, autoConsume: true });
    for (const layer of [a, b]) layer.step({ kind: 'vsViewInstalled', view });
    drain(a);
    drain(b);
    a.step({ kind: 'open', name: 'big', options: { reliability: 'reliable', ordering: 'total' } });
    const payload = new Uint8Array(64 * 1024).map((_, i) => (i * 7) & 0xff);
    a.step({ kind: 'send', sendId: 1, channel: 'big', payload });
    // No credit at b before b's first feedback of the view: only the open and a's own first feedback have gone out.
    expect(a.ready().filter((o) => o.kind === 'vsMulticast').length).toBe(2);
    const events = settle({ a, b });
    expect(a.channelCounters('big')!.fragmentsSent).toBe(66);
    expect(b.channelCounters('big')!.fragmentsReceived).toBe(66);
    const deliveries = events.filter((e) => e.kind === 'delivered');
    expect(deliveries.length).toBe(2);
    for (const d of deliveries) expect(d.kind === 'delivered' && Buffer.from(d.payload).equals(Buffer.from(payload))).toBe(true);
    expect(events.some((e) => e.kind === 'sendDone' && e.sendId === 1)).toBe(true);
  });

  it('holds data of an unknown channel until its open arrives; counts bad input; refuses conflicting opens', () => {
    const b = new ChannelLayer({ self: 'b' });
    b.step({ kind: 'vsViewInstalled', view });
    drain(b);
    const id = channelIdOf('late');
    const data = encodeMessage({ ...dataHeader({ channelId: id, viewId: 1, seq: 1, messageBytes: 3 }) }, new Uint8Array([1, 2, 3]));
    b.step({ kind: 'vsDeliver', viewId: 1, sender: 'a', bytes: data });
    expect(drain(b).filter((o) => o.kind === 'delivered')).toEqual([]);
    const open = encodeMessage({ ...dataHeader({ kind: kKindOpen, channelId: id, viewId: 1, seq: 0, messageBytes: 0 }) }, encodeOpenBody('late'));
    b.step({ kind: 'vsDeliver', viewId: 1, sender: 'a', bytes: open });
    const out = drain(b);
    expect(out.some((o) => o.kind === 'opened' && o.channel === 'late')).toBe(true);
    expect(out.filter((o) => o.kind === 'delivered').map((o) => o.kind === 'delivered' && [o.sender, o.seq])).toEqual([['a', 1]]);
    // Garbage, a wrong view and a stranger are counted, not thrown.
    b.step({ kind: 'vsDeliver', viewId: 1, sender: 'a', bytes: new Uint8Array([1, 2, 3]) });
    b.step({ kind: 'vsDeliver', viewId: 2, sender: 'a', bytes: data });
    b.step({ kind: 'vsDeliver', viewId: 1, sender: 'z', bytes: data });
    expect(b.counters.decodeErrorsByCode).toEqual({ GALAXY_CHANNEL_TRUNCATED: 1 });
    expect(b.counters.wrongView).toBe(1);
    expect(b.counters.unknownSender).toBe(1);
    expect(codeOf(() => b.step({ kind: 'open', name: 'late', options: { reliability: 'reliable', ordering: 'total' } }))).toBe('GALAXY_CHANNEL_CONFIG_CONFLICT');
    expect(codeOf(() => b.step({ kind: 'open', name: 'late', options: { reliability: 'reliable', ordering: 'fifo', windowMessages: 8 } }))).toBe('no error');
    expect(codeOf(() => b.step({ kind: 'consume', channel: 'nope', count: 1 }))).toBe('GALAXY_CHANNEL_UNKNOWN');
  });
});
