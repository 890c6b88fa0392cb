// Proves the codecs of the channels moved onto the messenger (rpc, component,
// farm-control): their bytes are pinned (golden), they round-trip, and malformed input
// is refused with a coded error, which the messenger turns into a counted 'decode' drop.
import { describe, expect, it } from 'vitest';
import { kRpcCodec } from '../src/farm/service/farm-rpc.js';
import { kComponentCodec, kControlCodec } from '../src/farm/service/farm-control.js';
import { MessengerError } from '../src/core/messenger/messenger-error.js';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

function codeOf(action: () => unknown): string {
  try {
    action();
  } catch (error) {
    return (error as MessengerError).code;
  }
  throw new Error('expected a coded error');
}

describe('channel codecs', () => {
  it('rpc: kind, status, 8-byte id, service, JSON body', () => {
    const frame = { kind: 1, status: 0, id: '0011223344556677', service: 'a.b', body: { n: 1 } };
    const bytes = kRpcCodec.encode(frame);
    expect(hex(bytes)).toBe('0100' + '0011223344556677' + '03' + hex(Buffer.from('a.b')) + hex(Buffer.from('{"n":1}')));
    expect(kRpcCodec.decode(bytes)).toEqual(frame);
    expect(codeOf(() => kRpcCodec.decode(bytes.subarray(0, 10)))).toBe('GALAXY_MESSENGER_DECODE');
    expect(codeOf(() => kRpcCodec.decode(Uint8Array.of(3, ...bytes.subarray(1))))).toBe('GALAXY_MESSENGER_DECODE');
    expect(codeOf(() => kRpcCodec.decode(Uint8Array.of(...bytes.subarray(0, 10), 200, 0x61)))).toBe('GALAXY_MESSENGER_DECODE');
    expect(codeOf(() => kRpcCodec.decode(Uint8Array.of(...bytes.subarray(0, 14), 0x7b)))).toBe('GALAXY_MESSENGER_DECODE');
  });

  it('component: kind length, kind, payload', () => {
    const bytes = kComponentCodec.encode({ kind: 'probe', payload: Uint8Array.of(9, 8) });
    expect(hex(bytes)).toBe('05' + hex(Buffer.from('probe')) + '0908');
    expect(kComponentCodec.decode(bytes)).toEqual({ kind: 'probe', payload: Uint8Array.of(9, 8) });
    expect(kComponentCodec.decode(bytes.subarray(0, 6))).toEqual({ kind: 'probe', payload: new Uint8Array(0) });
    expect(codeOf(() => kComponentCodec.decode(bytes.subarray(0, 5)))).toBe('GALAXY_MESSENGER_DECODE');
    expect(codeOf(() => kComponentCodec.decode(Uint8Array.of(0, 1)))).toBe('GALAXY_MESSENGER_DECODE');
    expect(codeOf(() => kComponentCodec.decode(new Uint8Array(0)))).toBe('GALAXY_MESSENGER_DECODE');
  });

  it('farm-control: JSON of the control schema only', () => {
    const message = { op: 'key-remove' as const, fingerprint: '0123456789abcdef', epoch: 3, by: 'ops' };
    const bytes = kControlCodec.encode(message);
    expect(Buffer.from(bytes).toString()).toBe('{"op":"key-remove","fingerprint":"0123456789abcdef","epoch":3,"by":"ops"}');
    expect(kControlCodec.decode(bytes)).toEqual(message);
    expect(codeOf(() => kControlCodec.decode(Buffer.from('{"op":"key-remove","fingerprint":"x","epoch":3,"by":"ops"}')))).toBe('GALAXY_MESSENGER_DECODE');
    expect(codeOf(() => kControlCodec.decode(Buffer.from('{"op":"self-destruct"}')))).toBe('GALAXY_MESSENGER_DECODE');
    expect(codeOf(() => kControlCodec.decode(Buffer.from('not json')))).toBe('GALAXY_MESSENGER_DECODE');
  });
});
