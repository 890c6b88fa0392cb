// Proves the farm control channel (src/farm/service/farm-control-channel.ts) over real
// messengers linked by an in-memory fabric (the one test/messenger.test.ts uses): a
// well-formed control message reaches every other member with its authenticated sender;
// a table of malformed ones, injected as a key holder could put them in a sealed
// broadcast, never reaches the handler and is counted under the channel as `decode`;
// a farm without encryption never sends keyring steps; a message the messenger will not
// take is counted and logged, never thrown into the protocol that made it. The same
// table run through a channel whose codec checks nothing is caught delivering them.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { jsonCodec, type ChannelCodec } from '../src/core/messenger/channel-codec.js';
import { kChannelTable } from '../src/core/messenger/channel-table.js';
import { encodeEnvelope } from '../src/core/messenger/envelope.js';
import { Messenger } from '../src/node/messenger/messenger.js';
import type { MessengerTransport } from '../src/node/messenger/messenger-transport.js';
import { silentAgentLogger } from '../src/node/util/agent-logger.js';
import { kControlCodec, type ControlMessage } from '../src/farm/service/farm-control.js';
import { FarmControlChannel } from '../src/farm/service/farm-control-channel.js';

interface Node {
  readonly id: string;
  readonly messenger: Messenger;
  readonly control: FarmControlChannel;
  readonly got: Array<{ message: ControlMessage; from: string }>;
}

function fabric(count: number, options: { insecure?: boolean; codec?: ChannelCodec<ControlMessage> } = {}): Node[] {
  const nodes: Node[] = [];
  for (let i = 0; i < count; i++) {
    const id = `${i + 1}`.repeat(16);
    const transport: MessengerTransport = {
      sendApp: () => {},
      broadcast: (payload) => {
        for (const n of nodes) if (n.id !== id) n.messenger.receiveBroadcast(payload.slice());
      },
    };
    const messenger = new Messenger({ selfId: id, transport, membersMax: 16, broadcastBytesMax: 1024 });
    const control = new FarmControlChannel(messenger.channel('farm-control', options.codec ?? kControlCodec), options.insecure === true, silentAgentLogger());
    const got: Node['got'] = [];
    control.onMessage((message, from) => got.push({ message, from }));
    nodes.push({ id, messenger, control, got });
  }
  for (const n of nodes) n.messenger.syncMembers(nodes.map((m, j) => ({ id: m.id, address: `10.0.0.${j + 1}:7946`, status: 'alive' as const, self: m.id === n.id })));
  return nodes;
}

const kKey = Buffer.alloc(32, 7).toString('base64');
const kChannelId = kChannelTable.find((c) => c.name === 'farm-control')!.id;

const kMalformed: Array<[string, string]> = [
  ['not JSON', '{"op":"key-use",'],
  ['an unknown op', '{"op":"reboot","epoch":2,"by":"x"}'],
  ['a key that is not 32 bytes of base64', JSON.stringify({ op: 'key-install', key: 'c2hvcnQ=', epoch: 2, by: 'x' })],
  ['epoch 0', JSON.stringify({ op: 'key-use', fingerprint: '0123456789abcdef', epoch: 0, by: 'x' })],
  ['a fractional epoch', JSON.stringify({ op: 'key-remove', fingerprint: '0123456789abcdef', epoch: 2.5, by: 'x' })],
  ['a fingerprint in capitals', JSON.stringify({ op: 'key-use', fingerprint: '0123456789ABCDEF', epoch: 2, by: 'x' })],
  ['a revoked id that is no node id', JSON.stringify({ op: 'revoked', id: 'node-7', epoch: 2, by: 'x' })],
  ['a field the schema does not know', JSON.stringify({ op: 'revoked', id: '0123456789abcdef', epoch: 2, by: 'x', also: 1 })],
  ['a decision without its record', JSON.stringify({ op: 'decision' })],
  ['a decision of an unknown status', JSON.stringify({ op: 'decision', record: { id: '0123456789abcdef', address: 'a:1', status: 'maybe', roles: [], ed: kKey, x: kKey, requestedAt: 1, decidedAt: null, decidedBy: null, epochGranted: 0 } })],
  ['a `by` over 64 characters', JSON.stringify({ op: 'key-use', fingerprint: '0123456789abcdef', epoch: 2, by: 'x'.repeat(65) })],
  ['over the 1000-byte bound', JSON.stringify({ op: 'key-use', fingerprint: '0123456789abcdef', epoch: 2, by: 'x', pad: 'y'.repeat(1000) })],
];

/** Puts raw bytes on the farm-control channel as member `from` could inside a sealed broadcast. */
function inject(target: Node, from: Node, text: string): void {
  target.messenger.receiveBroadcast(encodeEnvelope('broadcast', kChannelId, from.id, new TextEncoder().encode(text)));
}

describe('farm control channel', () => {
  it('delivers a well-formed control message to every other member, naming its sender', () => {
    const [a, b, c] = fabric(3);
    a!.control.broadcast({ op: 'revoked', id: '0123456789abcdef', epoch: 3, by: 'op' });
    for (const n of [b!, c!]) expect(n.got).toEqual([{ message: { op: 'revoked', id: '0123456789abcdef', epoch: 3, by: 'op' }, from: a!.id }]);
    expect(a!.got).toEqual([]);
    expect(a!.control.counters).toMatchObject({ sent: 1, failed: 0 });
    expect(b!.control.counters.received).toBe(1);
  });

  it.each(kMalformed)('refuses %s before any handler sees it, and counts it', (_why, text) => {
    const [a, b] = fabric(2);
    inject(b!, a!, text);
    expect(b!.got).toEqual([]);
    expect(b!.messenger.snapshot()['farm-control']!.dropped).toEqual({ decode: 1 });
  });

  it('a channel whose codec checks nothing is caught delivering the malformed table', () => {
    const permissive = jsonCodec(z.any(), 1 << 16) as ChannelCodec<ControlMessage>;
    const [a, b] = fabric(2, { codec: permissive });
    let delivered = 0;
    for (const [, text] of kMalformed) {
      const before = b!.got.length;
      inject(b!, a!, text);
      if (b!.got.length > before) delivered++;
    }
    // Everything that is JSON gets through: the check above would have failed on it.
    expect(delivered).toBe(kMalformed.length - 1);
  });

  it('never sends keyring steps in a farm without encryption, but sends decisions', () => {
    const [a, b] = fabric(2, { insecure: true });
    a!.control.broadcast({ op: 'key-install', key: kKey, epoch: 2, by: 'op' });
    a!.control.broadcast({ op: 'key-use', fingerprint: '0123456789abcdef', epoch: 3, by: 'op' });
    a!.control.broadcast({ op: 'revoked', id: '0123456789abcdef', epoch: 3, by: 'op' });
    expect(b!.got.map((g) => g.message.op)).toEqual(['revoked']);
    expect(a!.control.counters).toMatchObject({ sent: 1, skippedInsecure: 2 });
  });

  it('counts a message the messenger will not take instead of throwing', () => {
    const [a, b] = fabric(2);
    expect(() => a!.control.broadcast({ op: 'key-use', fingerprint: '0123456789abcdef', epoch: 2, by: 'x'.repeat(2000) })).not.toThrow();
    expect(a!.control.counters).toMatchObject({ sent: 0, failed: 1 });
    expect(b!.got).toEqual([]);
  });
});
