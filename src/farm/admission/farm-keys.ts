import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { z } from 'zod';
import { Keyring } from '../../node/security/keyring.js';
import { writeFileAtomic } from '../../node/util/atomic-file.js';
import { readJsonFile } from '../../node/util/json-file.js';

/**
 * This node's copy of the farm keyring and its epoch, kept in step with the agent
 * worker (which seals and opens with it) and written to disk on every change, so a
 * restart comes back with the keys the farm uses now, not the ones it was started with.
 *
 * Removing the primary is deferred, not refused: gossip may bring a "remove" before
 * the "use" that makes another key primary, and the removal is then applied after it.
 */
export interface FarmKeysStore {
  save(keys: readonly string[], epoch: number): void;
}

/** A key's fingerprint as `galaxy keys list` shows it: 16 lowercase hex digits. */
export const kKeyFingerprintPattern = /^[0-9a-f]{16}$/;

export function keyFingerprint(key: string): string {
  return createHash('sha256').update(Buffer.from(key, 'base64')).digest('hex').slice(0, 16);
}

export class FarmKeys {
  private keyring: Keyring | null;
  private epochValue: number;
  private readonly deferredRemovals = new Set<string>();

  constructor(
    keys: readonly string[],
    epoch: number,
    private readonly store: FarmKeysStore,
    private readonly apply: (keys: readonly string[]) => void,
  ) {
    this.keyring = keys.length === 0 ? null : new Keyring(keys);
    this.epochValue = epoch;
  }

  get epoch(): number {
    return this.epochValue;
  }

  get held(): boolean {
    return this.keyring !== null;
  }

  list(): string[] {
    return this.keyring?.list() ?? [];
  }

  has(fingerprint: string): boolean {
    return this.list().some((k) => keyFingerprint(k) === fingerprint);
  }

  /** The whole keyring from a grant, when newer than what is held. */
  replace(keys: readonly string[], epoch: number, force = false): boolean {
    if (!force && this.keyring !== null && epoch < this.epochValue) return false;
    if (this.keyring === null) this.keyring = new Keyring(keys);
    else this.keyring.replace(keys);
    this.epochValue = epoch;
    this.commit();
    return true;
  }

  install(key: string, epoch: number): void {
    this.mustHold().install(key);
    this.bump(epoch);
  }

  /** Makes the key with this fingerprint primary; false when it is not installed here. */
  use(fingerprint: string, epoch: number): boolean {
    const key = this.list().find((k) => keyFingerprint(k) === fingerprint);
    if (key === undefined) return false;
    this.mustHold().use(key);
    for (const pending of [...this.deferredRemovals]) {
      const removable = this.list().slice(1).find((k) => keyFingerprint(k) === pending);
      if (removable !== undefined) this.mustHold().remove(removable);
      if (pending !== fingerprint) this.deferredRemovals.delete(pending);
    }
    this.bump(epoch);
    return true;
  }

  /** Removes a key; the primary's removal waits for the next use. Returns what happened. */
  remove(fingerprint: string, epoch: number): 'removed' | 'deferred' | 'absent' {
    const keys = this.list();
    const index = keys.findIndex((k) => keyFingerprint(k) === fingerprint);
    if (index < 0) return 'absent';
    if (index === 0) {
      this.deferredRemovals.add(fingerprint);
      return 'deferred';
    }
    this.mustHold().remove(keys[index]!);
    this.bump(epoch);
    return 'removed';
  }

  private bump(epoch: number): void {
    this.epochValue = Math.max(this.epochValue, epoch);
    this.commit();
  }

  private commit(): void {
    const keys = this.list();
    this.store.save(keys, this.epochValue);
    this.apply(keys);
  }

  private mustHold(): Keyring {
    if (this.keyring === null) throw new Error('this node holds no farm keyring yet');
    return this.keyring;
  }
}

/** keyring.json of a farm run on pre-shared keys (--key): it wins over the flags once written, as the newer truth. */
export const kStaticKeyringFileName = 'keyring.json';
const kStaticSchema = z.object({ keys: z.array(z.string()).min(1).max(16), epoch: z.number().int().min(0) }).strict();

export function readStaticKeyring(dataDir: string): { keys: string[]; epoch: number } | null {
  return readJsonFile(join(dataDir, kStaticKeyringFileName), kStaticSchema, 'keyring file');
}

export function staticKeyringStore(dataDir: string): FarmKeysStore {
  return { save: (keys, epoch) => writeFileAtomic(join(dataDir, kStaticKeyringFileName), `${JSON.stringify({ keys, epoch })}\n`) };
}
