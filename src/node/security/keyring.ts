import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { CodedError } from '../../core/util/coded-error.js';

/**
 * The farm keyring: AES-256-GCM over every datagram and stream frame. The primary key
 * encrypts; every installed key decrypts, so a key can be rotated across a live farm
 * without losing a member (install everywhere, then use, then remove the old one).
 *
 * Sealed message: u8 version (1), 12-byte random nonce, ciphertext, 16-byte tag. The
 * version byte is authenticated as additional data. A message that no installed key
 * opens is refused and counted, and never reaches a parser.
 */
export const kKeyBytes = 32;
export const kSealVersion = 1;
export const kNonceBytes = 12;
export const kTagBytes = 16;
export const kSealOverheadBytes = 1 + kNonceBytes + kTagBytes;
/** Keys held at once: enough for a rotation in progress, bounded so a bad operator script cannot grow it. */
export const kKeyringKeysMax = 16;

export class KeyringError extends CodedError<string> {}

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

  /** A keyring holding `keys` (base64 or raw 32-byte buffers); the first is the primary. */
  constructor(keys: ReadonlyArray<string | Uint8Array>) {
    if (keys.length === 0) throw new KeyringError('GALAXY_KEYRING_EMPTY', 'a keyring needs at least one key');
    for (const key of keys) this.install(key);
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
  }

  /** Makes an installed key the primary (the one that encrypts). */
  use(key: string | Uint8Array): void {
    const index = this.indexOf(toKey(key));
    if (index < 0) throw new KeyringError('GALAXY_KEYRING_UNKNOWN_KEY', 'install a key before using it as primary');
    const [primary] = this.keys.splice(index, 1);
    this.keys.unshift(primary!);
  }

  /** Removes a key; the primary cannot be removed (use another first). */
  remove(key: string | Uint8Array): void {
    const index = this.indexOf(toKey(key));
    if (index < 0) throw new KeyringError('GALAXY_KEYRING_UNKNOWN_KEY', 'no such key in the keyring');
    if (index === 0) throw new KeyringError('GALAXY_KEYRING_PRIMARY', 'the primary key cannot be removed; use another key first');
    this.keys.splice(index, 1);
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
  }

  /** The installed keys, base64, primary first. */
  list(): string[] {
    return this.keys.map((k) => k.toString('base64'));
  }

  /** Encrypts with the primary key. */
  seal(plaintext: Uint8Array): Buffer {
    const nonce = randomBytes(kNonceBytes);
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

  private indexOf(key: Buffer): number {
    return this.keys.findIndex((k) => k.equals(key));
  }
}

function toKey(key: string | Uint8Array): Buffer {
  const bytes = typeof key === 'string' ? Buffer.from(key, 'base64') : Buffer.from(key);
  if (bytes.length !== kKeyBytes) throw new KeyringError('GALAXY_KEYRING_BAD_KEY', `a key must be ${kKeyBytes} bytes (base64: 44 characters), got ${bytes.length} bytes`);
  return bytes;
}
