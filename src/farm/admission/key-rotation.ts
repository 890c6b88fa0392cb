import type { SansIoCore } from '../../core/contract.js';
import { OutputQueue } from '../../core/contract.js';
import { DomainError } from '../../core/util/domain-error.js';
import type { Prng } from '../../core/util/prng.js';
import { Keyring, kKeyringKeysMax, type KeyringError } from '../../node/security/keyring.js';
import { FarmKeys, keyFingerprint, kKeyFingerprintPattern } from './farm-keys.js';

/**
 * Key rotation: this node's farm keyring and its epochs as they change across the farm.
 *
 *  - As a member it applies the rotation steps farm control brings (install, use,
 *    remove, each with an epoch), and asks a controller for the keyring when it missed
 *    a key or when another node was revoked (after a random delay, so the controllers
 *    are not all asked at once). A grant's keyring replaces whatever is held.
 *  - As a controller it carries out the rotation of a revocation: the new key is
 *    installed at once but not used; once every live member other than the revoked one
 *    fetched it (or a deadline passed) it becomes primary (`key-use`), and a little later
 *    the old keys go (`key-remove`). The revoked node never gets the new key, so from
 *    then on it can neither read nor send farm traffic.
 *  - An operator's rotation step (install, use, remove) is applied here and spread.
 *
 * It is a sans-I/O core (src/core/contract.ts): time comes in by tick, randomness from
 * the seeded Prng it is given, the members still lagging behind a rotation by step; what
 * it wants done (hand this keyring to the transport and store it, broadcast this control
 * message, fetch the keyring of this epoch, tell the API) comes out of ready(), in the
 * order to act on it. On a controller it also keeps the farm authority's copy of the
 * keyring in step (its driver writes the authority's file after each step, authority-file.ts).
 */
export interface RotationAuthority {
  readonly epoch: number;
  keys(): string[];
  useKey(key: string): void;
  removeKey(key: string): void;
  adoptKeyring(keys: readonly string[], epoch: number): void;
}

/**
 * A keyring step as farm control carries it (farm-control.ts's schema checks it on the
 * way in); declared here so this folder does not import the service above it.
 */
export type KeyStep =
  | { readonly op: 'key-install'; readonly key: string; readonly epoch: number; readonly by: string }
  | { readonly op: 'key-use'; readonly fingerprint: string; readonly epoch: number; readonly by: string }
  | { readonly op: 'key-remove'; readonly fingerprint: string; readonly epoch: number; readonly by: string };

export type KeyRotationInput =
  /**
   * A rotation step from farm control (sent by another node). `newerOnly`: taken only
   * when its epoch is newer than the keyring held (a second copy of a step, sent straight
   * to a controller besides the broadcast, must not apply twice).
   */
  | { readonly t: 'control'; readonly message: KeyStep; readonly newerOnly?: boolean }
  /** Another node was revoked: the farm's keyring moves to this epoch. */
  | { readonly t: 'revoked'; readonly id: string; readonly epoch: number }
  /** A controller's grant: its keyring is the farm's word and replaces ours. */
  | { readonly t: 'grant'; readonly keys: readonly string[]; readonly epoch: number }
  /** This controller revoked a node (admission-controller.ts `rotate`). */
  | { readonly t: 'rotate'; readonly revokedId: string; readonly newKey: string; readonly oldKeys: readonly string[]; readonly by: string }
  /** How many live members other than the revoked one hold less than the rotation's epoch (answer to `awaiting()`). */
  | { readonly t: 'laggards'; readonly revokedId: string; readonly count: number }
  /**
   * A live member announces (its `keyring` tag) that it holds this keyring epoch. Newer
   * than ours means a rotation step passed us by (an epidemic broadcast can miss a node):
   * catch up by a fetch.
   */
  | { readonly t: 'peer-epoch'; readonly from: string; readonly epoch: number }
  /** A peer's whole keyring, fetched to catch up (a static-keys farm, where every member is the farm's word): taken when newer. */
  | { readonly t: 'state'; readonly keys: readonly string[]; readonly epoch: number };

export type KeyRotationOutput =
  /** The keyring changed: seal and open with these keys from now on, and store them with the epoch. */
  | { readonly t: 'keyring'; readonly keys: readonly string[]; readonly epoch: number }
  /** Broadcast on the farm-control channel. */
  | { readonly t: 'control'; readonly message: KeyStep }
  /**
   * Ask for the keyring of at least this epoch: from a controller (the admission client),
   * or, on a static-keys farm, from `peer` (a member that announced it; absent when the
   * fetch follows a revocation or a missed key, which only controllers answer).
   */
  | { readonly t: 'fetch'; readonly epoch: number; readonly peer?: string }
  /** A keyring event for the API. */
  | { readonly t: 'event'; readonly type: string; readonly body: Record<string, unknown> }
  /** A revocation's rotation finished: the old keys are gone. */
  | { readonly t: 'rotated'; readonly revokedId: string; readonly epoch: number; readonly primary: string };

/** How long a revocation waits for every live member to fetch the new keyring before making it primary anyway. */
export const kRevocationFetchTimeoutMs = 20_000;
/** How long after the new key becomes primary the old ones are removed: the "use" must have spread. */
export const kRevocationRemoveDelayMs = 3_000;
/** How often a revocation looks again at who still lags behind. */
export const kLaggardPollMs = 250;
/** Members fetch a rotated keyring after a random delay up to this, so controllers are not hit all at once. */
export const kFetchJitterMs = 1_000;
/** Keyring fetches waiting for their delay at most; more revocations in a burst raise the last one's epoch. */
export const kFetchesPendingMax = 64;
/** Revocations rotating at once at most (each is an operator's act). */
export const kRotationsMax = 16;
/** A catch-up fetch for a newer epoch a member announced is asked again after this, while we still lag. */
export const kCatchUpRetryMs = 3_000;
const kOutputsMax = 1024;

interface Rotation {
  readonly revokedId: string;
  readonly newKey: string;
  readonly oldKeys: readonly string[];
  readonly by: string;
  readonly wanted: number;
  readonly deadlineMs: number;
  phase: 'fetching' | 'removing';
  nextAtMs: number;
  laggards: number | null;
}

export class KeyRotation implements SansIoCore<KeyRotationInput, KeyRotationOutput> {
  private readonly keyring: FarmKeys;
  private authority: RotationAuthority | null;
  private nowMs = 0;
  private readonly fetches: { atMs: number; epoch: number }[] = [];
  private readonly rotations: Rotation[] = [];
  /** The last catch-up asked for (peer-epoch): its epoch and when, so announcements do not ask again and again. */
  private catchUp: { epoch: number; atMs: number } | null = null;
  private readonly out = new OutputQueue<KeyRotationOutput>(kOutputsMax);

  /** `held`: the keyring this node starts with (its credentials, or the static keys); none before its first grant. */
  constructor(
    held: { readonly keys: readonly string[]; readonly epoch: number },
    authority: RotationAuthority | null,
    private readonly prng: Prng,
  ) {
    const emit = (keys: readonly string[], epoch: number) => this.out.push({ t: 'keyring', keys: [...keys], epoch });
    this.keyring = new FarmKeys(held.keys, held.epoch, { save: emit }, () => {});
    this.authority = authority;
  }

  /** Whether this node holds a farm keyring (false before its first grant). */
  get held(): boolean {
    return this.keyring.held;
  }

  /** This node became a controller: its copy of the authority follows the keyring from now on. */
  adoptAuthority(authority: RotationAuthority): void {
    this.authority ??= authority;
  }

  get epoch(): number {
    return this.keyring.epoch;
  }

  /** The keyring held here, primary first (base64); empty before the first grant. */
  list(): string[] {
    return this.keyring.list();
  }

  /** Revocation rotations under way here (a new one is refused at kRotationsMax). */
  get rotating(): number {
    return this.rotations.length;
  }

  step(input: KeyRotationInput): void {
    switch (input.t) {
      case 'control':
        if (input.newerOnly === true && input.message.epoch <= this.keyring.epoch) return;
        this.applyControl(input.message);
        return;
      case 'revoked':
        if (input.epoch > this.keyring.epoch) this.scheduleFetch(input.epoch);
        return;
      case 'grant':
        // A grant older than the keyring held (a late duplicate answer, or a controller
        // that has not heard of a step yet) would undo rotation steps taken since: kept out.
        if (this.keyring.held && input.epoch < this.keyring.epoch) return;
        this.authority?.adoptKeyring(input.keys, input.epoch);
        this.keyring.replace(input.keys, input.epoch, true);
        return;
      case 'peer-epoch':
        this.catchUpTo(input.epoch, input.from);
        return;
      case 'state':
        if (!this.keyring.held || input.epoch <= this.keyring.epoch || input.keys.length === 0) return;
        this.keyring.replace(input.keys, input.epoch);
        this.authority?.adoptKeyring(this.keyring.list(), this.keyring.epoch);
        return;
      case 'rotate':
        this.startRotation(input);
        return;
      case 'laggards':
        for (const rotation of this.rotations) if (rotation.revokedId === input.revokedId) rotation.laggards = input.count;
        return;
    }
  }

  tick(nowMs: number): void {
    this.nowMs = Math.max(this.nowMs, nowMs);
    for (let i = 0; i < this.fetches.length; ) {
      const fetch = this.fetches[i]!;
      if (fetch.atMs > this.nowMs) {
        i++;
        continue;
      }
      this.fetches.splice(i, 1);
      this.out.push({ t: 'fetch', epoch: fetch.epoch });
    }
    for (const rotation of [...this.rotations]) if (rotation.nextAtMs <= this.nowMs) this.advanceRotation(rotation);
  }

  ready(): readonly KeyRotationOutput[] {
    return this.out.ready();
  }

  advance(): void {
    this.out.advance();
  }

  /** When the core next has something to do (null: nothing scheduled). */
  nextTickAtMs(): number | null {
    let next: number | null = null;
    for (const fetch of this.fetches) next = next === null ? fetch.atMs : Math.min(next, fetch.atMs);
    for (const rotation of this.rotations) next = next === null ? rotation.nextAtMs : Math.min(next, rotation.nextAtMs);
    return next;
  }

  /** Rotations waiting for members to fetch their keyring: answer each with a `laggards` step before the next tick. */
  awaiting(): { revokedId: string; epoch: number }[] {
    return this.rotations.filter((r) => r.phase === 'fetching').map((r) => ({ revokedId: r.revokedId, epoch: r.wanted }));
  }

  /**
   * An operator's rotation step, applied here and spread to every member; throws
   * DomainError when it cannot be done. The `control` output comes before the `keyring`
   * output of the change, so the step leaves sealed under the keyring it changes.
   */
  operate(op: 'install' | 'use' | 'remove', key: string, by: string): void {
    if (!this.keyring.held) throw new DomainError('conflict', 'GALAXY_KEYS_NONE', 'this node holds no farm keyring yet (not admitted)');
    // use and remove need only to name the key: by the fingerprint `keys list` shows (all
    // an operator of a farm created by admission ever sees), or by the key itself.
    const byFingerprint = op !== 'install' && kKeyFingerprintPattern.test(key);
    if (!byFingerprint) {
      try {
        new Keyring([key]);
      } catch (error) {
        throw new DomainError('invalid', (error as KeyringError).code ?? 'GALAXY_KEYRING_BAD_KEY', (error as Error).message);
      }
    }
    const fingerprint = byFingerprint ? key : keyFingerprint(key);
    const epoch = this.keyring.epoch + 1;
    switch (op) {
      case 'install':
        if (this.keyring.list().length >= kKeyringKeysMax && !this.keyring.has(fingerprint)) throw new DomainError('conflict', 'GALAXY_KEYRING_FULL', `the keyring holds ${kKeyringKeysMax} keys: remove one first`);
        this.out.push({ t: 'control', message: { op: 'key-install', key, epoch, by } });
        this.keyring.install(key, epoch);
        break;
      case 'use':
        if (!this.keyring.has(fingerprint)) throw new DomainError('conflict', 'GALAXY_KEYRING_UNKNOWN_KEY', 'install the key across the farm before using it as primary');
        this.out.push({ t: 'control', message: { op: 'key-use', fingerprint, epoch, by } });
        this.keyring.use(fingerprint, epoch);
        break;
      case 'remove':
        if (!this.keyring.has(fingerprint)) throw new DomainError('not-found', 'GALAXY_KEYRING_UNKNOWN_KEY', 'no such key in the keyring');
        if (keyFingerprint(this.keyring.list()[0]!) === fingerprint) throw new DomainError('conflict', 'GALAXY_KEYRING_PRIMARY', 'the primary key cannot be removed; use another key first');
        this.out.push({ t: 'control', message: { op: 'key-remove', fingerprint, epoch, by } });
        this.keyring.remove(fingerprint, epoch);
        break;
    }
    this.authority?.adoptKeyring(this.keyring.list(), this.keyring.epoch);
    this.out.push({ t: 'event', type: op, body: { fingerprint, by, epoch: this.keyring.epoch } });
  }

  private applyControl(message: KeyStep): void {
    switch (message.op) {
      case 'key-install':
        this.keyring.install(message.key, message.epoch);
        break;
      case 'key-use':
        if (!this.keyring.use(message.fingerprint, message.epoch)) {
          // We missed the key (down, or a revocation we must fetch): ask a controller.
          this.out.push({ t: 'fetch', epoch: message.epoch });
          return;
        }
        break;
      case 'key-remove':
        this.keyring.remove(message.fingerprint, message.epoch);
        break;
    }
    this.authority?.adoptKeyring(this.keyring.list(), this.keyring.epoch);
  }

  /** A member holds a newer epoch: fetch it, unless asked for it (or newer) within kCatchUpRetryMs. */
  private catchUpTo(epoch: number, from: string): void {
    if (!this.keyring.held || epoch <= this.keyring.epoch) return;
    const last = this.catchUp;
    if (last !== null && last.epoch >= epoch && this.nowMs - last.atMs < kCatchUpRetryMs) return;
    this.catchUp = { epoch, atMs: this.nowMs };
    this.out.push({ t: 'fetch', epoch, peer: from });
  }

  private scheduleFetch(epoch: number): void {
    const atMs = this.nowMs + this.prng.nextFloat() * kFetchJitterMs;
    if (this.fetches.length >= kFetchesPendingMax) {
      const last = this.fetches[this.fetches.length - 1]!;
      last.epoch = Math.max(last.epoch, epoch);
      return;
    }
    this.fetches.push({ atMs, epoch });
  }

  private startRotation(input: Extract<KeyRotationInput, { t: 'rotate' }>): void {
    const authority = this.authority;
    if (authority === null) throw new Error('a rotation needs the farm authority');
    if (this.rotations.length >= kRotationsMax) throw new DomainError('conflict', 'GALAXY_ROTATIONS_FULL', `${kRotationsMax} revocations are rotating the keyring already: wait for one to finish`);
    // This controller takes the new key now (installed, not yet primary).
    this.keyring.replace(authority.keys(), authority.epoch);
    this.rotations.push({
      revokedId: input.revokedId,
      newKey: input.newKey,
      oldKeys: [...input.oldKeys],
      by: input.by,
      wanted: authority.epoch,
      deadlineMs: this.nowMs + kRevocationFetchTimeoutMs,
      phase: 'fetching',
      nextAtMs: this.nowMs,
      laggards: null,
    });
  }

  private advanceRotation(rotation: Rotation): void {
    const authority = this.authority!;
    if (rotation.phase === 'fetching') {
      if (rotation.laggards !== 0 && this.nowMs < rotation.deadlineMs) {
        rotation.laggards = null;
        rotation.nextAtMs = Math.min(this.nowMs + kLaggardPollMs, rotation.deadlineMs);
        return;
      }
      authority.useKey(rotation.newKey);
      this.keyring.replace(authority.keys(), authority.epoch);
      this.out.push({ t: 'control', message: { op: 'key-use', fingerprint: keyFingerprint(rotation.newKey), epoch: authority.epoch, by: rotation.by } });
      rotation.phase = 'removing';
      rotation.nextAtMs = this.nowMs + kRevocationRemoveDelayMs;
      return;
    }
    for (const old of rotation.oldKeys) {
      authority.removeKey(old);
      this.out.push({ t: 'control', message: { op: 'key-remove', fingerprint: keyFingerprint(old), epoch: authority.epoch, by: rotation.by } });
    }
    this.keyring.replace(authority.keys(), authority.epoch);
    this.rotations.splice(this.rotations.indexOf(rotation), 1);
    this.out.push({ t: 'rotated', revokedId: rotation.revokedId, epoch: authority.epoch, primary: keyFingerprint(rotation.newKey) });
  }
}
