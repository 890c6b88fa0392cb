import type { SansIoCore } from '../../core/contract.js';
import { OutputQueue } from '../../core/contract.js';
import type { AdmissionMessage, GrantContent, RequestBody, Signed } from './admission-wire.js';
import { encodeAdmission, kRequestBodySchema, openBox } from './admission-wire.js';
import { credentialsFromGrant, type Credentials } from './credentials.js';
import { fingerprintOf, signText, type NodeKeys } from './node-keys.js';

/**
 * The node's side of admission: asks the farm controllers (found through the seeds,
 * which redirect, or through the controller tags of known members) for credentials,
 * again and again until a grant of at least the wanted keyring epoch arrives, or a
 * controller says rejected or revoked. Used for the first admission (the node waits,
 * pending, until an administrator approves it) and to fetch a newer keyring after a
 * rotation.
 *
 * It is a sans-I/O core (src/core/contract.ts): the wall clock comes in by tick (the
 * request carries it as its timestamp, and the retry schedule runs on it), replies and
 * the controllers known from member tags come in by step, and what it wants done (send
 * these bytes, here is a checked grant, the farm said rejected) comes out of ready().
 * It never touches a socket or a timer; `nextTickAtMs()` tells the driver when it next
 * has something to do.
 */
export interface AdmissionClientOptions {
  readonly id: string;
  readonly address: string;
  readonly roles: readonly string[];
  readonly keys: NodeKeys;
  readonly seeds: readonly string[];
  /** Fingerprint the farm authority must have (--farm-ca); null: trust the first grant, pin it after. */
  readonly pinnedCaFingerprint: string | null;
}

export type AdmissionClientInput =
  /** Ask until a grant of at least this keyring epoch arrives (0 or 1: any grant). */
  | { readonly t: 'want'; readonly epoch: number }
  /** An admission message from `from` (anything but a request, which is the controller's). */
  | { readonly t: 'reply'; readonly message: AdmissionMessage; readonly from: string }
  /** The controllers known from member tags right now (alive or suspect, never this node). */
  | { readonly t: 'controllers'; readonly addresses: readonly string[] }
  /** The seeds changed (the agent's discovery re-read its file or SRV): the whole new set replaces the old. */
  | { readonly t: 'seeds'; readonly addresses: readonly string[] };

export type AdmissionClientOutput =
  /** Send these admission bytes to this address. */
  | { readonly t: 'send'; readonly to: string; readonly bytes: Uint8Array }
  /** A grant that opened, checked and is not older than what is held. */
  | { readonly t: 'grant'; readonly credentials: Credentials; readonly content: GrantContent; readonly from: string }
  /** The farm's answer when it is not a grant. */
  | { readonly t: 'status'; readonly status: 'pending' | 'rejected' | 'revoked'; readonly from: string }
  /** A grant was refused: it does not open, is not for us, or comes from another authority. */
  | { readonly t: 'invalid'; readonly why: string; readonly from: string }
  /** A reply that was not for this node or not expected (counted by the caller). */
  | { readonly t: 'unexpected'; readonly from: string };

/** Resend interval while waiting: quick at first, then slower so a farm bring-up does not flood its controllers. */
const kRetryFirstMs = 250;
const kRetryFastMs = 1000;
const kRetrySlowMs = 5000;
const kFastPhaseMs = 30_000;
export const kRedirectsMax = 16;
/** Controllers taken from member tags at most (a farm has a handful). */
export const kControllersMax = 64;
/** Seeds asked at most per round (as many as a node joins through). */
export const kAdmissionSeedsMax = 1024;
/** Outputs of one batch at most: one round sends to the controllers, redirects and seeds. */
const kOutputsMax = 4096;

export class AdmissionClient implements SansIoCore<AdmissionClientInput, AdmissionClientOutput> {
  private wantedEpoch = 0;
  private heldEpoch: number;
  private pinnedCa: string | null;
  private nowMs = 0;
  private waitingSinceMs: number | null = null;
  private nextSendAtMs: number | null = null;
  private readonly redirects = new Set<string>();
  private controllers: readonly string[] = [];
  private seeds: readonly string[];
  private closed = false;
  private rounds = 0;
  private readonly out = new OutputQueue<AdmissionClientOutput>(kOutputsMax);

  constructor(private readonly options: AdmissionClientOptions, held: Credentials | null) {
    this.seeds = options.seeds.slice(0, kAdmissionSeedsMax);
    this.heldEpoch = held?.epoch ?? 0;
    this.pinnedCa = held?.ca ?? null;
  }

  step(input: AdmissionClientInput): void {
    if (this.closed) return;
    switch (input.t) {
      case 'want':
        this.wantedEpoch = Math.max(this.wantedEpoch, input.epoch);
        if (this.nextSendAtMs !== null) return;
        this.waitingSinceMs = this.nowMs;
        this.sendRound();
        return;
      case 'reply':
        if (!this.handle(input.message, input.from)) this.out.push({ t: 'unexpected', from: input.from });
        return;
      case 'controllers':
        this.controllers = input.addresses.slice(0, kControllersMax);
        return;
      case 'seeds':
        this.seeds = input.addresses.slice(0, kAdmissionSeedsMax);
        // A node waiting (perhaps on the slow 5 s pace, its old seeds unreachable) asks the
        // new seeds at its next tick rather than after its pause; the backoff is kept, so a
        // file rewritten often costs one round per rewrite at most.
        if (this.nextSendAtMs !== null) this.nextSendAtMs = Math.min(this.nextSendAtMs, this.nowMs);
        return;
    }
  }

  tick(nowMs: number): void {
    this.nowMs = Math.max(this.nowMs, nowMs);
    if (this.closed || this.nextSendAtMs === null || this.nowMs < this.nextSendAtMs) return;
    this.sendRound();
  }

  ready(): readonly AdmissionClientOutput[] {
    return this.out.ready();
  }

  advance(): void {
    this.out.advance();
  }

  /** When the next resend is due (null: not waiting for anything). */
  nextTickAtMs(): number | null {
    return this.nextSendAtMs;
  }

  get waiting(): boolean {
    return this.nextSendAtMs !== null;
  }

  /** Keyring epoch of the newest grant taken. */
  get epoch(): number {
    return this.heldEpoch;
  }

  close(): void {
    this.closed = true;
    this.stop();
  }

  /** The signed request as it would be sent now (the clock is the last tick's). */
  request(): Signed {
    const body: RequestBody = kRequestBodySchema.parse({
      id: this.options.id,
      address: this.options.address,
      roles: [...this.options.roles],
      ed: this.options.keys.signingPublicB64,
      x: this.options.keys.agreementPublicB64,
      epoch: this.heldEpoch,
      ts: Math.floor(this.nowMs),
    });
    const text = JSON.stringify(body);
    return { body: text, sig: signText(this.options.keys.signing, text) };
  }

  private handle(message: AdmissionMessage, from: string): boolean {
    switch (message.t) {
      case 'grant':
        return this.handleGrant(message, from);
      case 'pending':
      case 'rejected':
      case 'revoked':
        if (message.id !== this.options.id) return false;
        if (message.t !== 'pending') this.stop();
        this.out.push({ t: 'status', status: message.t, from });
        return true;
      case 'redirect':
        for (const controller of message.controllers) if (this.redirects.size < kRedirectsMax) this.redirects.add(controller);
        return true;
      case 'request':
        return false;
    }
  }

  private handleGrant(message: Extract<AdmissionMessage, { t: 'grant' }>, from: string): boolean {
    const keys = this.options.keys;
    const contentText = openBox(keys.agreement, keys.agreementPublicB64, message.box);
    if (contentText === null) {
      this.out.push({ t: 'invalid', why: 'grant box does not open with this node key', from });
      return false;
    }
    const checked = credentialsFromGrant(message.cert, contentText, { id: this.options.id, ed: keys.signingPublicB64, x: keys.agreementPublicB64 }, this.pinnedCa);
    if ('error' in checked) {
      this.out.push({ t: 'invalid', why: checked.error, from });
      return false;
    }
    if (this.pinnedCa === null && this.options.pinnedCaFingerprint !== null && fingerprintOf(checked.content.ca) !== this.options.pinnedCaFingerprint) {
      this.out.push({ t: 'invalid', why: `farm authority ${fingerprintOf(checked.content.ca)} is not the pinned ${this.options.pinnedCaFingerprint}`, from });
      return false;
    }
    this.pinnedCa = checked.content.ca;
    if (checked.credentials.epoch >= this.heldEpoch) {
      this.heldEpoch = checked.credentials.epoch;
      this.out.push({ t: 'grant', credentials: checked.credentials, content: checked.content, from });
    }
    if (this.heldEpoch >= this.wantedEpoch) this.stop();
    return true;
  }

  private sendRound(): void {
    const bytes = encodeAdmission({ t: 'request', request: this.request() });
    const targets = new Set([...this.controllers, ...this.redirects, ...this.seeds]);
    targets.delete(this.options.address);
    for (const to of targets) this.out.push({ t: 'send', to, bytes });
    // 250 ms, 500 ms, then every second for the first half minute, then every 5 s: a
    // node whose seed was starting too is admitted quickly, a long wait costs little.
    const waitedMs = this.nowMs - (this.waitingSinceMs ?? this.nowMs);
    this.rounds++;
    const delayMs = waitedMs >= kFastPhaseMs ? kRetrySlowMs : Math.min(kRetryFastMs, kRetryFirstMs * 2 ** (this.rounds - 1));
    this.nextSendAtMs = this.nowMs + delayMs;
  }

  private stop(): void {
    this.rounds = 0;
    this.nextSendAtMs = null;
    this.waitingSinceMs = null;
  }
}
