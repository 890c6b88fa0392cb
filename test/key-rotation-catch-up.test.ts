// The keyring core catching up with steps that passed it by: a member announcing a newer
// keyring epoch makes it fetch (from that member on a static-keys farm, or from a
// controller), not more often than kCatchUpRetryMs; a fetched keyring is taken only when
// newer; a grant older than the keyring held (a late duplicate answer to an admission
// request) no longer undoes the steps taken since; and a step sent twice (broadcast, and
// straight to a controller) applies once.
import { describe, expect, it } from 'vitest';
import { KeyRotation, kCatchUpRetryMs, type KeyRotationOutput } from '../src/farm/admission/key-rotation.js';
import { keyFingerprint } from '../src/farm/admission/farm-keys.js';
import { Keyring } from '../src/node/security/keyring.js';
import { Prng } from '../src/core/util/prng.js';

function drain(rotation: KeyRotation): KeyRotationOutput[] {
  const out = [...rotation.ready()];
  rotation.advance();
  return out;
}

describe('KeyRotation catching up', () => {
  const oldKey = Keyring.generateKey();
  const newKey = Keyring.generateKey();

  it('a grant older than the keyring held is kept out; a newer one replaces it', () => {
    const rotation = new KeyRotation({ keys: [oldKey], epoch: 1 }, null, new Prng(1));
    rotation.step({ t: 'control', message: { op: 'key-install', key: newKey, epoch: 2, by: 'op' } });
    rotation.step({ t: 'control', message: { op: 'key-use', fingerprint: keyFingerprint(newKey), epoch: 3, by: 'op' } });
    drain(rotation);
    // The late second answer to the node's first admission request: epoch 1, the old key alone.
    rotation.step({ t: 'grant', keys: [oldKey], epoch: 1 });
    expect(drain(rotation)).toEqual([]);
    expect(rotation.list()).toEqual([newKey, oldKey]);
    expect(rotation.epoch).toBe(3);
    // The farm's word at a newer epoch still wins.
    rotation.step({ t: 'grant', keys: [newKey], epoch: 4 });
    expect(rotation.list()).toEqual([newKey]);
    expect(drain(rotation)).toEqual([{ t: 'keyring', keys: [newKey], epoch: 4 }]);
  });

  it('a member announcing a newer epoch makes it fetch, again only after kCatchUpRetryMs while it still lags', () => {
    const rotation = new KeyRotation({ keys: [oldKey], epoch: 1 }, null, new Prng(1));
    rotation.tick(1_000);
    rotation.step({ t: 'peer-epoch', from: 'b', epoch: 1 });
    expect(drain(rotation)).toEqual([]);
    rotation.step({ t: 'peer-epoch', from: 'b', epoch: 3 });
    expect(drain(rotation)).toEqual([{ t: 'fetch', epoch: 3, peer: 'b' }]);
    rotation.step({ t: 'peer-epoch', from: 'c', epoch: 3 });
    expect(drain(rotation)).toEqual([]);
    // A newer epoch than the one asked for is asked for at once.
    rotation.step({ t: 'peer-epoch', from: 'c', epoch: 4 });
    expect(drain(rotation)).toEqual([{ t: 'fetch', epoch: 4, peer: 'c' }]);
    rotation.tick(1_000 + kCatchUpRetryMs);
    rotation.step({ t: 'peer-epoch', from: 'b', epoch: 4 });
    expect(drain(rotation)).toEqual([{ t: 'fetch', epoch: 4, peer: 'b' }]);
    // Caught up: nothing more to ask.
    rotation.step({ t: 'state', keys: [newKey, oldKey], epoch: 4 });
    expect(drain(rotation)).toEqual([{ t: 'keyring', keys: [newKey, oldKey], epoch: 4 }]);
    rotation.tick(1_000 + 3 * kCatchUpRetryMs);
    rotation.step({ t: 'peer-epoch', from: 'b', epoch: 4 });
    expect(drain(rotation)).toEqual([]);
  });

  it('takes a fetched keyring only when newer, and never before it holds one', () => {
    const rotation = new KeyRotation({ keys: [oldKey], epoch: 5 }, null, new Prng(1));
    rotation.step({ t: 'state', keys: [newKey], epoch: 5 });
    rotation.step({ t: 'state', keys: [newKey], epoch: 4 });
    expect(drain(rotation)).toEqual([]);
    expect(rotation.list()).toEqual([oldKey]);
    const fresh = new KeyRotation({ keys: [], epoch: 0 }, null, new Prng(1));
    fresh.step({ t: 'state', keys: [newKey], epoch: 9 });
    fresh.step({ t: 'peer-epoch', from: 'b', epoch: 9 });
    expect(drain(fresh)).toEqual([]);
    expect(fresh.held).toBe(false);
  });

  it('a step sent straight to a controller besides the broadcast applies once (newerOnly)', () => {
    const third = Keyring.generateKey();
    const rotation = new KeyRotation({ keys: [oldKey, newKey, third], epoch: 1 }, null, new Prng(1));
    const useNew = { op: 'key-use', fingerprint: keyFingerprint(newKey), epoch: 2, by: 'op' } as const;
    const useThird = { op: 'key-use', fingerprint: keyFingerprint(third), epoch: 3, by: 'op' } as const;
    rotation.step({ t: 'control', message: useNew });
    rotation.step({ t: 'control', message: useThird });
    // The straight copy of the first step arrives last: it must not make newKey primary again.
    rotation.step({ t: 'control', message: useNew, newerOnly: true });
    expect(rotation.list()[0]).toBe(third);
    // Without newerOnly (the broadcast path as it always was) it would.
    rotation.step({ t: 'control', message: useNew });
    expect(rotation.list()[0]).toBe(newKey);
  });
});
