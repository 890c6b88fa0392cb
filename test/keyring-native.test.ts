// Proves that the keyring's hot path (openView/sealView on the addon's reused OpenSSL
// EVP contexts, native/gcm_keyring.cc) and its node:crypto fallback are the same
// keyring: for the same nonce they produce identical bytes (fast-check, random
// plaintexts from empty to a full UDP payload); each opens what the other seals; during
// a rotation a message under a key the receiver lacks is refused and counted without an
// exception, and opens once the key is installed; malformed, truncated and tampered
// messages are refused and counted alike; openBatch opens a whole receive batch in one
// call with the same results; sealBatch seals a whole send batch in one call, byte for
// byte what seal() gives with the same nonces, natively and in the fallback, and both
// open what it seals (a slot too small is refused, not overrun); the views returned are reused (the point: no allocation),
// so a later call overwrites them. Every case that is not about the addon runs on both
// paths. The addon is required on Linux (the suite fails there if it is not built).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadNativeFrom } from '../src/node/native/loader.js';
import { Keyring, kNonceBytes, kSealOverheadBytes } from '../src/node/security/keyring.js';
import { packageRoot } from '../src/core/platform/package-root.js';

// An empty environment, so GALAXY_NO_NATIVE=1 in a shell cannot hide a broken build.
const status = loadNativeFrom({}, packageRoot());
const nativeSwitchedOff = process.env['GALAXY_NO_NATIVE'] === '1';
const GcmKeyring = status.loaded ? status.addon.GcmKeyring : undefined;
const k1 = Keyring.generateKey();
const k2 = Keyring.generateKey();
const text = (bytes: Uint8Array | null): string | null => (bytes === null ? null : new TextDecoder().decode(bytes));
const encode = (value: string): Uint8Array => new TextEncoder().encode(value);

describe('native keyring', () => {
  it('is built and loaded on Linux', () => {
    if (process.platform !== 'linux') return;
    expect(GcmKeyring, status.loaded ? 'addon built before GcmKeyring: npm run build:native' : status.reason).toBeTypeOf('function');
    // GALAXY_NO_NATIVE=1 turns the keyring's native path off like the rest of the addon.
    expect(new Keyring([k1]).native).toBe(!nativeSwitchedOff);
    expect(new Keyring([k1], { native: false }).native).toBe(false);
  });

  it('seals the same bytes as node:crypto for the same nonce, and each opens the other', () => {
    if (GcmKeyring === undefined) return;
    const key = Buffer.from(k1, 'base64');
    const handle = new GcmKeyring([new Uint8Array(key)]);
    const ts = new Keyring([k1], { native: false });
    const out = new Uint8Array(70_000);
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 65_536 }), fc.uint8Array({ minLength: kNonceBytes, maxLength: kNonceBytes }), (plaintext, nonce) => {
        const length = handle.seal(plaintext, out, nonce);
        const expected = ts.sealWithNonce(plaintext, nonce);
        expect(length).toBe(plaintext.length + kSealOverheadBytes);
        expect(Buffer.from(out.subarray(0, length)).equals(expected)).toBe(true);
        const opened = new Uint8Array(65_536);
        expect(handle.open(expected, opened)).toBe(plaintext.length);
        expect(Buffer.from(opened.subarray(0, plaintext.length)).equals(Buffer.from(plaintext))).toBe(true);
      }),
      { numRuns: 200, seed: 14 },
    );
    // fast-check favours short arrays: the block boundaries and the largest sizes explicitly.
    for (const size of [0, 1, 15, 16, 17, 1_371, 1_400, 65_536]) {
      const plaintext = new Uint8Array(size).map((_, i) => (i * 31) & 0xff);
      const nonce = new Uint8Array(kNonceBytes).fill(size & 0xff);
      const length = handle.seal(plaintext, out, nonce);
      expect(Buffer.from(out.subarray(0, length)).equals(ts.sealWithNonce(plaintext, nonce)), `size ${size}`).toBe(true);
    }
  });

  for (const native of [true, false]) {
    describe(native ? 'openView/sealView on the addon' : 'openView/sealView on node:crypto', () => {
      it('interoperates with the other path in both directions', () => {
        const a = new Keyring([k1], { native });
        const other = new Keyring([k1], { native: !native });
        expect(text(other.openView(Uint8Array.from(a.sealView(encode('ping')))))).toBe('ping');
        expect(text(a.openView(other.seal(encode('ack'))))).toBe('ack');
        expect(text(a.openView(Uint8Array.from(a.sealView(new Uint8Array(0)))))).toBe('');
        expect(a.counters).toEqual({ sealed: 2, opened: 2, malformed: 0, authenticationFailed: 0 });
      });

      it('refuses a key it lacks during a rotation without throwing, then opens once installed', () => {
        const sender = new Keyring([k1], { native });
        sender.install(k2);
        sender.use(k2);
        const receiver = new Keyring([k1], { native });
        const sealed = Uint8Array.from(sender.sealView(encode('rotated')));
        expect(() => receiver.openView(sealed)).not.toThrow();
        expect(receiver.openView(sealed)).toBeNull();
        expect(receiver.counters.authenticationFailed).toBe(2);
        receiver.install(k2);
        expect(text(receiver.openView(sealed))).toBe('rotated');
        // Messages under the old primary still open at the sender (second key).
        expect(text(sender.openView(new Keyring([k1], { native: !native }).seal(encode('old'))))).toBe('old');
        sender.remove(k1);
        expect(sender.openView(new Keyring([k1], { native: !native }).seal(encode('old')))).toBeNull();
      });

      it('refuses and counts malformed, truncated and tampered messages', () => {
        const a = new Keyring([k1], { native });
        const sealed = Uint8Array.from(a.sealView(encode('heartbeat')));
        expect(a.openView(sealed.subarray(0, kSealOverheadBytes - 1))).toBeNull();
        const wrongVersion = Uint8Array.from(sealed);
        wrongVersion[0] = 2;
        expect(a.openView(wrongVersion)).toBeNull();
        expect(a.counters.malformed).toBe(2);
        for (const at of [1, 14, sealed.length - 1]) {
          const tampered = Uint8Array.from(sealed);
          tampered[at]! ^= 1;
          expect(a.openView(tampered)).toBeNull();
        }
        expect(a.openView(sealed.subarray(0, sealed.length - 1))).toBeNull();
        expect(a.counters.authenticationFailed).toBe(4);
      });

      it('returns views that the next call reuses (copy to keep)', () => {
        const a = new Keyring([k1], { native });
        const first = a.openView(a.seal(encode('one!')))!;
        const kept = Uint8Array.from(first);
        a.openView(a.seal(encode('two!')));
        expect(text(kept)).toBe('one!');
        if (a.native) expect(text(first)).toBe('two!');
      });
    });
  }

  it('openBatch opens a receive batch in one call, as open() would one by one', () => {
    if (GcmKeyring === undefined) return;
    const slotBytes = 2048;
    const handle = new GcmKeyring([new Uint8Array(Buffer.from(k1, 'base64')), new Uint8Array(Buffer.from(k2, 'base64'))]);
    const sealers = [new Keyring([k1], { native: false }), new Keyring([k2], { native: false }), new Keyring([Keyring.generateKey()], { native: false })];
    const count = 48;
    const buffer = new Uint8Array(count * slotBytes);
    const lengths = new Uint32Array(count);
    const plaintexts: Uint8Array[] = [];
    for (let i = 0; i < count; i++) {
      const plaintext = encode(`datagram ${i} `.repeat(1 + (i % 9)));
      plaintexts.push(plaintext);
      let sealed = sealers[i % 3]!.seal(plaintext);
      if (i % 7 === 0) sealed = sealed.subarray(0, 5);
      buffer.set(sealed, i * slotBytes);
      lengths[i] = sealed.length;
    }
    const results = new Int32Array(count);
    const out = new Uint8Array(count * slotBytes);
    const opened = handle.openBatch(buffer, count, slotBytes, lengths, results, out);
    let expectedOpened = 0;
    for (let i = 0; i < count; i++) {
      const single = new Uint8Array(slotBytes);
      const expected = handle.open(buffer.subarray(i * slotBytes, i * slotBytes + lengths[i]!), single);
      expect(results[i]).toBe(expected);
      if (i % 7 === 0) expect(expected).toBe(-1);
      else if (i % 3 === 2) expect(expected).toBe(-2);
      else {
        expectedOpened++;
        expect(text(out.subarray(i * slotBytes, i * slotBytes + results[i]!))).toBe(text(plaintexts[i]!));
      }
    }
    expect(opened).toBe(expectedOpened);
  });

  for (const native of [true, false]) {
    it(`sealBatch seals a send batch in one call, as seal() would one by one (${native ? 'native' : 'node:crypto fallback'})`, () => {
      if (native && GcmKeyring === undefined) return;
      const slotBytes = 1400;
      const keyring = new Keyring([k1], { native });
      if (native) expect(keyring.native).toBe(!nativeSwitchedOff);
      const reference = new Keyring([k1], { native: false });
      const count = 40;
      const area = new Uint8Array(count * slotBytes);
      const lengths = new Uint32Array(count);
      const nonces = new Uint8Array(count * kNonceBytes);
      for (let i = 0; i < nonces.length; i++) nonces[i] = (i * 131 + 7) & 0xff;
      const plaintexts: Uint8Array[] = [];
      for (let i = 0; i < count; i++) {
        // The last message is one byte too long to fit its slot once sealed.
        const plaintext = i === count - 1 ? new Uint8Array(slotBytes - kSealOverheadBytes + 1).fill(9) : encode(`reply ${i} `.repeat(i % 11));
        plaintexts.push(plaintext);
        area.set(plaintext, i * slotBytes);
        lengths[i] = plaintext.length;
      }
      const results = new Int32Array(count);
      const out = new Uint8Array(count * slotBytes);
      const sealedBefore = keyring.counters.sealed;
      expect(keyring.sealBatch(area, count, slotBytes, lengths, results, out, nonces)).toBe(count - 1);
      expect(keyring.counters.sealed - sealedBefore).toBe(count - 1);
      expect(results[count - 1]).toBe(-3);
      expect([...out.subarray((count - 1) * slotBytes, count * slotBytes)].every((b) => b === 0)).toBe(true);
      for (let i = 0; i < count - 1; i++) {
        const sealed = out.subarray(i * slotBytes, i * slotBytes + results[i]!);
        const expected = reference.sealWithNonce(plaintexts[i]!, nonces.subarray(i * kNonceBytes, (i + 1) * kNonceBytes));
        expect(Buffer.from(sealed).equals(expected)).toBe(true);
        expect(text(reference.open(sealed))).toBe(text(plaintexts[i]!));
      }
      // Generated nonces: every message opens, and no two share a nonce.
      keyring.sealBatch(area, count - 1, slotBytes, lengths, results, out);
      const seen = new Set<string>();
      for (let i = 0; i < count - 1; i++) {
        const sealed = out.subarray(i * slotBytes, i * slotBytes + results[i]!);
        expect(text(new Keyring([k1]).open(sealed))).toBe(text(plaintexts[i]!));
        seen.add(Buffer.from(sealed.subarray(1, 1 + kNonceBytes)).toString('hex'));
      }
      expect(seen.size).toBe(count - 1);
    });
  }
});
