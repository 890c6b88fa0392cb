// Proves the messenger's envelope codec and channel table: an envelope's bytes are
// pinned (golden bytes, so a change to the layout fails here before it splits a farm),
// every malformed envelope is refused with its stable code, and channel ids are
// unique and never reassigned (the table is append-only).
import { describe, expect, it } from 'vitest';
import { decodeEnvelope, encodeEnvelope, isEnvelope, kEnvelopeHeaderBytes, kEnvelopeVersion } from '../src/core/messenger/envelope.js';
import { channelById, channelByName, kChannelTable } from '../src/core/messenger/channel-table.js';
import { jsonCodec } from '../src/core/messenger/channel-codec.js';
import { MessengerError } from '../src/core/messenger/messenger-error.js';
import { z } from 'zod';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

function codeOf(action: () => unknown): string {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(MessengerError);
    return (error as MessengerError).code;
  }
  throw new Error('expected a MessengerError');
}

describe('messenger envelope', () => {
  it('writes the pinned layout: version, mode, channel id (LE), sender id, payload', () => {
    const bytes = encodeEnvelope('stream', 0x0103, '0123456789abcdef', Uint8Array.of(0xaa, 0xbb));
    expect(hex(bytes)).toBe('81' + '02' + '0301' + '0123456789abcdef' + 'aabb');
    expect(hex(encodeEnvelope('datagram', 5, 'ffffffffffffffff', new Uint8Array(0)))).toBe('8101' + '0500' + 'ffffffffffffffff');
    expect(hex(encodeEnvelope('broadcast', 1, '00000000000000a1', Uint8Array.of(7)))).toBe('8103' + '0100' + '00000000000000a1' + '07');
    expect(kEnvelopeHeaderBytes).toBe(12);
  });

  it('round-trips, and the payload is a view of the input', () => {
    const bytes = encodeEnvelope('datagram', 5, 'feedfeedfeedfeed', Uint8Array.of(1, 2, 3));
    const envelope = decodeEnvelope(bytes);
    expect(envelope).toMatchObject({ mode: 'datagram', channelId: 5, sender: 'feedfeedfeedfeed' });
    expect([...envelope.payload]).toEqual([1, 2, 3]);
    expect(envelope.payload.buffer).toBe(bytes.buffer);
    expect(isEnvelope(bytes)).toBe(true);
    // The membership wire format starts with its version, 1: never taken for an envelope.
    expect(isEnvelope(Uint8Array.of(1, 0, 0))).toBe(false);
  });

  it('refuses malformed envelopes with stable codes', () => {
    const good = encodeEnvelope('stream', 3, '0123456789abcdef', Uint8Array.of(9));
    expect(codeOf(() => decodeEnvelope(good.subarray(0, 11)))).toBe('GALAXY_MESSENGER_SHORT');
    expect(codeOf(() => decodeEnvelope(new Uint8Array(0)))).toBe('GALAXY_MESSENGER_SHORT');
    const version = good.slice();
    version[0] = 0xf6; // the FMIDB's old magic byte is not an envelope
    expect(codeOf(() => decodeEnvelope(version))).toBe('GALAXY_MESSENGER_VERSION');
    for (const mode of [0, 4, 255]) {
      const bad = good.slice();
      bad[1] = mode;
      expect(codeOf(() => decodeEnvelope(bad))).toBe('GALAXY_MESSENGER_MODE');
    }
    const channel = good.slice();
    channel[2] = 0;
    channel[3] = 0;
    expect(codeOf(() => decodeEnvelope(channel))).toBe('GALAXY_MESSENGER_UNKNOWN_CHANNEL');
    const sender = good.slice();
    sender.fill(0, 4, 12);
    expect(codeOf(() => decodeEnvelope(sender))).toBe('GALAXY_MESSENGER_SENDER');
  });

  it('refuses bad arguments at the sender (caller bugs)', () => {
    expect(() => encodeEnvelope('stream', 0, '0123456789abcdef', new Uint8Array(0))).toThrow(RangeError);
    expect(() => encodeEnvelope('stream', 65536, '0123456789abcdef', new Uint8Array(0))).toThrow(RangeError);
    expect(() => encodeEnvelope('stream', 1, '0123456789ABCDEF', new Uint8Array(0))).toThrow(RangeError);
    expect(() => encodeEnvelope('stream', 1, 'x', new Uint8Array(0))).toThrow(RangeError);
  });
});

describe('channel table', () => {
  it('pins every channel id (ONLY APPEND: changing one breaks the protocol)', () => {
    expect(kChannelTable.map((c) => [c.name, c.id])).toEqual([
      ['farm-control', 1],
      ['component', 2],
      ['rpc', 3],
      ['install-chunks', 4],
      ['fmidb', 5],
      ['jobs-coordination', 6],
      ['cluster', 7],
    ]);
    expect(new Set(kChannelTable.map((c) => c.id)).size).toBe(kChannelTable.length);
    expect(channelById(3)?.name).toBe('rpc');
    expect(channelById(999)).toBeUndefined();
    expect(codeOf(() => channelByName('nope'))).toBe('GALAXY_MESSENGER_UNKNOWN_CHANNEL');
  });

  it('a JSON codec refuses what is not JSON, what its schema refuses, and what is too large', () => {
    const codec = jsonCodec(z.object({ n: z.number() }).strict(), 32);
    expect(codec.decode(codec.encode({ n: 4 }))).toEqual({ n: 4 });
    expect(codeOf(() => codec.decode(Uint8Array.of(0x7b)))).toBe('GALAXY_MESSENGER_DECODE');
    expect(codeOf(() => codec.decode(new TextEncoder().encode('{"n":"x"}')))).toBe('GALAXY_MESSENGER_DECODE');
    expect(codeOf(() => codec.decode(Uint8Array.of(0xff, 0xfe)))).toBe('GALAXY_MESSENGER_DECODE');
    expect(codeOf(() => codec.decode(new Uint8Array(33)))).toBe('GALAXY_MESSENGER_TOO_LARGE');
    expect(codeOf(() => jsonCodec(z.object({ s: z.string() }), 32).encode({ s: 'x'.repeat(32) }))).toBe('GALAXY_MESSENGER_TOO_LARGE');
  });
});
