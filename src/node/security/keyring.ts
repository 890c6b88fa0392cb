import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { loadNative, type NativeGcmKeyringHandle } from '../native/loader.js';
import { CodedError } from '../../core/util/coded-error.js';

/**
 * The farm keyring: AES-256-GCM over every datagram and stream frame. The primary key
 * encrypts; every installed key decrypts, so a key can be rotated across a live farm
 * without losing a member (install everywhere, then use, then remove the old one).
 *
 * Sealed message: u8 version (1), 12-byte random nonce, ciphertext, 16-byte tag. The
 * version byte is authenticated as additional data. A message that no installed key
 * opens is refused and counted, and never reaches a parser.
 *
 * Two ways to use it. open() and seal() return fresh buffers the caller owns (node:crypto,
 * a new cipher per message). openView() and sealView() are the datagram hot path: with
 * the native addon they run on OpenSSL EVP contexts made once per key and write into
 * buffers this keyring reuses, so the result is a view valid only until the next call of
 * the same method (copy it to keep it); a wrong key is a return value, never an
 * exception. Without the addon (or with GALAXY_NO_NATIVE=1, or `native: false`) they
 * fall back to open() and seal(). Both give the same bytes for the same nonce, and each
 * opens what the other seals (test/keyring-native.test.ts runs both).
 */
export const kKeyBytes = 32;
export const kSealVersion = 1;
export const kNonceBytes = 12;
export const kTagBytes = 16;
export const kSealOverheadBytes = 1 + kNonceBytes + kTagBytes;
/** Keys held at once: enough for a rotation in progress, bounded so a bad operator script cannot grow it. */
export const kKeyringKeysMax = 16;

export class KeyringError extends CodedError<string> {}

/** Options of the Keyring constructor. */
export interface KeyringOptions {
  /** Use the native addon's contexts for openView/sealView when it is loaded (default true). */
  native?: boolean;
}

/** The largest message openView/sealView handle natively (a UDP payload); larger ones take node:crypto. */
export const kNativeMessageBytesMax = 65536;
/**
 * Views of the reused output buffers are cached per length up to this many bytes (every
 * datagram size), so the hot path allocates no view; longer results get a fresh view.
 */
const kCachedViewBytesMax = 2048;
const kNativeOpenMalformed = -1;
const kNativeOpenNotAuthenticated = -2;
/** openBatch results for a message too short or of another version, and for one no key opens. */
export const kOpenMalformed = kNativeOpenMalformed;
export const kOpenNotAuthenticated = kNativeOpenNotAuthenticated;
/** sealBatch result for a message whose sealed form would not fit its slot (the addon's kResultBadBuffer). */
export const kSealTooLarge = -3;

/** The native side of a keyring: the addon's contexts, the reused output buffers and their views. */
class NativeSealing {
  readonly handle: NativeGcmKeyringHandle;
  readonly opened = new Uint8Array(kNativeMessageBytesMax);
  readonly sealed = new Uint8Array(kNativeMessageBytesMax + kSealOverheadBytes);
  private readonly openedViews: Array<Uint8Array | undefined> = [];
  private readonly sealedViews: Array<Uint8Array | undefined> = [];

  constructor(handle: NativeGcmKeyringHandle) {
    this.handle = handle;
  }

  openedView(length: number): Uint8Array {
    return viewOf(this.opened, this.openedViews, length);
  }

  sealedView(length: number): Uint8Array {
    return viewOf(this.sealed, this.sealedViews, length);
  }
}

function viewOf(buffer: Uint8Array, views: Array<Uint8Array | undefined>, length: number): Uint8Array {
  if (length > kCachedViewBytesMax) return buffer.subarray(0, length);
  let view = views[length];
  if (view === undefined) views[length] = view = buffer.subarray(0, length);
  return view;
}

export interface KeyringCounters {
  sealed: number;
  opened: number;
  /** Messages too short to hold a sealed envelope, or of another version. */
  malformed: number;
  /** Messages no installed key authenticates (forged, corrupted, or sealed with a removed key). */
  authenticationFailed: number;
}

export class Keyring {
  readonly counters: KeyringCounters = { sealed: 0, opened: 0, malformed: 0, authenticationFailed: 0 };
  private keys: Buffer[] = [];
  private readonly nativeWanted: boolean;
  /** The native contexts for the current keys; undefined until first needed after a change, null when unavailable. */
  private nativeSealing: NativeSealing | null | undefined;

  /** A keyring holding `keys` (base64 or raw 32-byte buffers); the first is the primary. */
  constructor(keys: ReadonlyArray<string | Uint8Array>, options: KeyringOptions = {}) {
    if (keys.length === 0) throw new KeyringError('GALAXY_KEYRING_EMPTY', 'a keyring needs at least one key');
    this.nativeWanted = options.native ?? true;
    for (const key of keys) this.install(key);
  }

  /** Whether openView and sealView run on the native addon's contexts. */
  get native(): boolean {
    return this.sealing() !== null;
  }

  /** A fresh random key, base64. */
  static generateKey(): string {
    return randomBytes(kKeyBytes).toString('base64');
  }

  /** Installs a key for decryption (no-op when present). */
  install(key: string | Uint8Array): void {
    const bytes = toKey(key);
    if (this.indexOf(bytes) >= 0) return;
    if (this.keys.length >= kKeyringKeysMax) throw new KeyringError('GALAXY_KEYRING_FULL', `a keyring holds at most ${kKeyringKeysMax} keys`);
    this.keys.push(bytes);
    this.nativeSealing = undefined;
  }

  /** Makes an installed key the primary (the one that encrypts). */
  use(key: string | Uint8Array): void {
    const index = this.indexOf(toKey(key));
    if (index < 0) throw new KeyringError('GALAXY_KEYRING_UNKNOWN_KEY', 'install a key before using it as primary');
    const [primary] = this.keys.splice(index, 1);
    this.keys.unshift(primary!);
    this.nativeSealing = undefined;
  }

  /** Removes a key; the primary cannot be removed (use another first). */
  remove(key: string | Uint8Array): void {
    const index = this.indexOf(toKey(key));
    if (index < 0) throw new KeyringError('GALAXY_KEYRING_UNKNOWN_KEY', 'no such key in the keyring');
    if (index === 0) throw new KeyringError('GALAXY_KEYRING_PRIMARY', 'the primary key cannot be removed; use another key first');
    this.keys.splice(index, 1);
    this.nativeSealing = undefined;
  }

  /**
   * Replaces the whole keyring at once (primary first), keeping the counters: how a
   * member applies the keyring a controller granted. All keys are checked before any
   * is changed.
   */
  replace(keys: ReadonlyArray<string | Uint8Array>): void {
    if (keys.length === 0) throw new KeyringError('GALAXY_KEYRING_EMPTY', 'a keyring needs at least one key');
    if (keys.length > kKeyringKeysMax) throw new KeyringError('GALAXY_KEYRING_FULL', `a keyring holds at most ${kKeyringKeysMax} keys`);
    const next: Buffer[] = [];
    for (const key of keys) {
      const bytes = toKey(key);
      if (!next.some((k) => k.equals(bytes))) next.push(bytes);
    }
    this.keys = next;
    this.nativeSealing = undefined;
  }

  /** The installed keys, base64, primary first. */
  list(): string[] {
    return this.keys.map((k) => k.toString('base64'));
  }

  /** Encrypts with the primary key, into a new buffer. */
  seal(plaintext: Uint8Array): Buffer {
    return this.sealWithNonce(plaintext, randomBytes(kNonceBytes));
  }

  /** @internal seal() with a given nonce: tests compare the native bytes with these. */
  sealWithNonce(plaintext: Uint8Array, nonce: Uint8Array): Buffer {
    const header = Buffer.of(kSealVersion);
    const cipher = createCipheriv('aes-256-gcm', this.keys[0]!, nonce);
    cipher.setAAD(header);
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    this.counters.sealed++;
    return Buffer.concat([header, nonce, body, cipher.getAuthTag()]);
  }

  /** Decrypts with whichever installed key authenticates the message; null (counted) when none does. */
  open(sealed: Uint8Array): Buffer | null {
    if (sealed.length < kSealOverheadBytes || sealed[0] !== kSealVersion) {
      this.counters.malformed++;
      return null;
    }
    const input = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
    const nonce = input.subarray(1, 1 + kNonceBytes);
    const body = input.subarray(1 + kNonceBytes, input.length - kTagBytes);
    const tag = input.subarray(input.length - kTagBytes);
    for (const key of this.keys) {
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, nonce);
        decipher.setAAD(input.subarray(0, 1));
        decipher.setAuthTag(tag);
        const plaintext = Buffer.concat([decipher.update(body), decipher.final()]);
        this.counters.opened++;
        return plaintext;
      } catch {
        // Not this key: try the next one.
      }
    }
    this.counters.authenticationFailed++;
    return null;
  }

  /**
   * Decrypts like open(), into a buffer this keyring reuses: the view is valid until the
   * next openView() call. Natively, one EVP context per key, no exception for a wrong key.
   */
  openView(sealed: Uint8Array): Uint8Array | null {
    const native = this.sealing();
    if (native === null || sealed.length > kNativeMessageBytesMax) return this.open(sealed);
    const length = native.handle.open(sealed, native.opened);
    if (length >= 0) {
      this.counters.opened++;
      return native.openedView(length);
    }
    if (length === kNativeOpenMalformed) this.counters.malformed++;
    else if (length === kNativeOpenNotAuthenticated) this.counters.authenticationFailed++;
    else throw new KeyringError('GALAXY_KEYRING_NATIVE', `native open of ${sealed.length} bytes returned ${length}`);
    return null;
  }

  /**
   * Opens a whole receive batch in one call (issue 14: one native crossing per recvmmsg
   * batch, on the reused EVP contexts): message i is area[i·slotBytes] with lengths[i]
   * bytes, its plaintext goes to out[i·slotBytes], and results[i] is its plaintext length
   * or kOpenMalformed / kOpenNotAuthenticated (counted as openView counts them). Without
   * the addon each message is opened with open(), giving the same results and bytes.
   * Returns how many opened.
   */
  openBatch(area: Uint8Array, count: number, slotBytes: number, lengths: Uint32Array, results: Int32Array, out: Uint8Array): number {
    if (count > lengths.length || count > results.length || count * slotBytes > area.length || count * slotBytes > out.length) {
      throw new KeyringError('GALAXY_KEYRING_BATCH', `a batch of ${count} slots of ${slotBytes} bytes does not fit its buffers`);
    }
    const native = this.sealing();
    let opened = 0;
    if (native !== null) {
      opened = native.handle.openBatch(area, count, slotBytes, lengths, results, out);
      for (let i = 0; i < count; i++) {
        const result = results[i]!;
        if (result === kNativeOpenMalformed) this.counters.malformed++;
        else if (result === kNativeOpenNotAuthenticated) this.counters.authenticationFailed++;
        else if (result < 0) throw new KeyringError('GALAXY_KEYRING_NATIVE', `native open of slot ${i} returned ${result}`);
      }
      this.counters.opened += opened;
      return opened;
    }
    for (let i = 0; i < count; i++) {
      const at = i * slotBytes;
      const length = lengths[i]!;
      const sealed = area.subarray(at, at + length);
      const before = this.counters.malformed;
      const plaintext = length > slotBytes ? null : this.open(sealed);
      if (plaintext === null) {
        if (length > slotBytes) this.counters.malformed++;
        results[i] = this.counters.malformed !== before ? kOpenMalformed : kOpenNotAuthenticated;
        continue;
      }
      out.set(plaintext, at);
      results[i] = plaintext.length;
      opened++;
    }
    return opened;
  }

  /**
   * Seals a whole send batch in one call (issue 14: one native crossing per batch, on the
   * reused primary-key EVP context): message i is area[i·slotBytes] with lengths[i]
   * bytes, its sealed form goes to out[i·slotBytes], and results[i] is its sealed length,
   * or kSealTooLarge when it would not fit its slot (kSealOverheadBytes more than the
   * plaintext). Without the addon (or a build without sealBatch) each message is sealed
   * with seal(): the same bytes for the same nonces. `nonces` (12 bytes per message) is
   * for tests; otherwise nonces are generated as seal() and sealView() generate them.
   * Returns how many sealed.
   */
  sealBatch(area: Uint8Array, count: number, slotBytes: number, lengths: Uint32Array, results: Int32Array, out: Uint8Array, nonces?: Uint8Array): number {
    if (count > lengths.length || count > results.length || count * slotBytes > area.length || count * slotBytes > out.length) {
      throw new KeyringError('GALAXY_KEYRING_BATCH', `a batch of ${count} slots of ${slotBytes} bytes does not fit its buffers`);
    }
    if (nonces !== undefined && nonces.length < count * kNonceBytes) throw new KeyringError('GALAXY_KEYRING_BATCH', `sealBatch needs ${kNonceBytes} nonce bytes per message`);
    const native = this.sealing();
    if (native !== null && native.handle.sealBatch !== undefined) {
      const sealed = native.handle.sealBatch(area, count, slotBytes, lengths, results, out, nonces);
      this.counters.sealed += sealed;
      return sealed;
    }
    let sealed = 0;
    for (let i = 0; i < count; i++) {
      const at = i * slotBytes;
      const length = lengths[i]!;
      if (length + kSealOverheadBytes > slotBytes) {
        results[i] = kSealTooLarge;
        continue;
      }
      const plaintext = area.subarray(at, at + length);
      const bytes = nonces === undefined ? this.seal(plaintext) : this.sealWithNonce(plaintext, nonces.subarray(i * kNonceBytes, (i + 1) * kNonceBytes));
      out.set(bytes, at);
      results[i] = bytes.length;
      sealed++;
    }
    return sealed;
  }

  /** Encrypts like seal(), into a buffer this keyring reuses: the view is valid until the next sealView() call. */
  sealView(plaintext: Uint8Array): Uint8Array {
    const native = this.sealing();
    if (native === null || plaintext.length > kNativeMessageBytesMax) return this.seal(plaintext);
    const length = native.handle.seal(plaintext, native.sealed);
    if (length < 0) throw new KeyringError('GALAXY_KEYRING_NATIVE', `native seal of ${plaintext.length} bytes returned ${length}`);
    this.counters.sealed++;
    return native.sealedView(length);
  }

  /** The native contexts for the current keys, made on first use after a change; null without the addon. */
  private sealing(): NativeSealing | null {
    if (this.nativeSealing !== undefined) return this.nativeSealing;
    const constructor = this.nativeWanted ? nativeKeyringConstructor() : undefined;
    this.nativeSealing = constructor === undefined ? null : new NativeSealing(new constructor(this.keys.map((key) => new Uint8Array(key))));
    return this.nativeSealing;
  }

  private indexOf(key: Buffer): number {
    return this.keys.findIndex((k) => k.equals(key));
  }
}

function toKey(key: string | Uint8Array): Buffer {
  const bytes = typeof key === 'string' ? Buffer.from(key, 'base64') : Buffer.from(key);
  if (bytes.length !== kKeyBytes) throw new KeyringError('GALAXY_KEYRING_BAD_KEY', `a key must be ${kKeyBytes} bytes (base64: 44 characters), got ${bytes.length} bytes`);
  return bytes;
}

function nativeKeyringConstructor(): (new (keys: Uint8Array[]) => NativeGcmKeyringHandle) | undefined {
  const status = loadNative();
  return status.loaded ? status.addon.GcmKeyring : undefined;
}
