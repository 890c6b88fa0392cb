import type { AdmissionMessage, RequestBody, Signed } from '../admission/admission-wire.js';
import { encodeAdmission, kRequestBodySchema } from '../admission/admission-wire.js';
import { openBox } from '../admission/admission-wire.js';
import { credentialsFromGrant, type Credentials } from '../admission/credentials.js';
import type { GrantContent } from '../admission/admission-wire.js';
import { fingerprintOf, signText, type NodeKeys } from '../admission/node-keys.js';

/**
 * The node's side of admission: asks the farm controllers (found through the seeds,
 * which redirect, or through the controller tags of known members) for credentials,
 * again and again until a grant of at least the wanted keyring epoch arrives, or a
 * controller says rejected or revoked. Used for the first admission (the node waits,
 * pending, until an administrator approves it) and to fetch a newer keyring after a
 * rotation. It sends through a callback and is fed replies; it never touches a socket.
 */
export interface AdmissionClientOptions {
  readonly id: string;
  readonly address: string;
  readonly roles: readonly string[];
  readonly keys: NodeKeys;
  readonly seeds: readonly string[];
  /** Fingerprint the farm authority must have (--farm-ca); null: trust the first grant, pin it after. */
  readonly pinnedCaFingerprint: string | null;
  readonly send: (to: string, bytes: Uint8Array) => void;
  /** Controllers known from member tags right now. */
  readonly controllers: () => string[];
  readonly onGrant: (credentials: Credentials, content: GrantContent) => void;
  readonly onStatus: (status: 'pending' | 'rejected' | 'revoked', from: string) => void;
  readonly onInvalid: (why: string, from: string) => void;
  readonly wallClockMs?: () => number;
}

/** Resend interval while waiting: quick at first, then slower so a farm bring-up does not flood its controllers. */
const kRetryFirstMs = 250;
const kRetryFastMs = 1000;
const kRetrySlowMs = 5000;
const kFastPhaseMs = 30_000;
const kRedirectsMax = 16;

export class AdmissionClient {
  private wantedEpoch = 0;
  private heldEpoch: number;
  private pinnedCa: string | null;
  private waitingSinceMs: number | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly redirects = new Set<string>();
  private closed = false;
  private rounds = 0;

  constructor(private readonly options: AdmissionClientOptions, held: Credentials | null) {
    this.heldEpoch = held?.epoch ?? 0;
    this.pinnedCa = held?.ca ?? null;
  }

  /** Asks until a grant of at least `epoch` arrives (0: any grant). */
  want(epoch: number): void {
    if (this.closed) return;
    this.wantedEpoch = Math.max(this.wantedEpoch, epoch);
    if (this.timer !== null) return;
    this.waitingSinceMs = Date.now();
    this.sendRound();
  }

  get waiting(): boolean {
    return this.timer !== null;
  }

  /** Handles a reply; returns false when it was not for us or not expected. */
  handle(message: AdmissionMessage, from: string): boolean {
    switch (message.t) {
      case 'grant':
        return this.handleGrant(message, from);
      case 'pending':
      case 'rejected':
      case 'revoked':
        if (message.id !== this.options.id) return false;
        if (message.t !== 'pending') this.stop();
        this.options.onStatus(message.t, from);
        return true;
      case 'redirect':
        for (const controller of message.controllers) if (this.redirects.size < kRedirectsMax) this.redirects.add(controller);
        return true;
      case 'request':
        return false;
    }
  }

  close(): void {
    this.closed = true;
    this.stop();
  }

  /** The signed request, as sent. */
  request(): Signed {
    const body: RequestBody = kRequestBodySchema.parse({
      id: this.options.id,
      address: this.options.address,
      roles: [...this.options.roles],
      ed: this.options.keys.signingPublicB64,
      x: this.options.keys.agreementPublicB64,
      epoch: this.heldEpoch,
      ts: Math.floor((this.options.wallClockMs ?? Date.now)()),
    });
    const text = JSON.stringify(body);
    return { body: text, sig: signText(this.options.keys.signing, text) };
  }

  private handleGrant(message: Extract<AdmissionMessage, { t: 'grant' }>, from: string): boolean {
    const keys = this.options.keys;
    const contentText = openBox(keys.agreement, keys.agreementPublicB64, message.box);
    if (contentText === null) {
      this.options.onInvalid('grant box does not open with this node key', from);
      return false;
    }
    const checked = credentialsFromGrant(message.cert, contentText, { id: this.options.id, ed: keys.signingPublicB64, x: keys.agreementPublicB64 }, this.pinnedCa);
    if ('error' in checked) {
      this.options.onInvalid(checked.error, from);
      return false;
    }
    if (this.pinnedCa === null && this.options.pinnedCaFingerprint !== null && fingerprintOf(checked.content.ca) !== this.options.pinnedCaFingerprint) {
      this.options.onInvalid(`farm authority ${fingerprintOf(checked.content.ca)} is not the pinned ${this.options.pinnedCaFingerprint}`, from);
      return false;
    }
    this.pinnedCa = checked.content.ca;
    if (checked.credentials.epoch >= this.heldEpoch) {
      this.heldEpoch = checked.credentials.epoch;
      this.options.onGrant(checked.credentials, checked.content);
    }
    if (this.heldEpoch >= this.wantedEpoch) this.stop();
    return true;
  }

  private sendRound(): void {
    if (this.closed) return;
    const bytes = encodeAdmission({ t: 'request', request: this.request() });
    const targets = new Set([...this.options.controllers(), ...this.redirects, ...this.options.seeds]);
    targets.delete(this.options.address);
    for (const to of targets) this.options.send(to, bytes);
    // 250 ms, 500 ms, then every second for the first half minute, then every 5 s: a
    // node whose seed was starting too is admitted quickly, a long wait costs little.
    const waitedMs = Date.now() - (this.waitingSinceMs ?? Date.now());
    this.rounds++;
    const delayMs = waitedMs >= kFastPhaseMs ? kRetrySlowMs : Math.min(kRetryFastMs, kRetryFirstMs * 2 ** (this.rounds - 1));
    this.timer = setTimeout(() => this.sendRound(), delayMs);
    this.timer.unref?.();
  }

  private stop(): void {
    this.rounds = 0;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.waitingSinceMs = null;
  }
}
