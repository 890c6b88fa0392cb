import type { SansIoCore } from '../../core/contract.js';
import { OutputQueue } from '../../core/contract.js';
import { DomainError } from '../../core/util/domain-error.js';
import type { AdmissionRecord } from './admission-record.js';
import { kRequestBodySchema, parseSignedBody, type AdmissionMessage, type Signed } from './admission-wire.js';
import { AdmissionError, type AuthorityRecord, type FarmAuthority } from './farm-authority.js';
import { fingerprintOf, publicKeyOf, verifyText } from './node-keys.js';

/**
 * The controller's side of admission: answers requests (a new node goes pending, an
 * approved one gets its grant, a node that is not a controller redirects to the ones it
 * knows), takes the operator's decisions (approve, reject, revoke) and the decisions
 * other controllers spread, and says when a revocation must rotate the keyring.
 *
 * The farm authority (farm-authority.ts) is its state: the pending queue, every record,
 * the authority key and the keyring, written to its file before any answer leaves. This
 * core decides with it; it owns no socket, timer or clock (time comes in by tick, so
 * record times are the driver's wall clock), and what it wants done comes out of ready():
 * an admission message to send, a farm control message to broadcast, an event for the
 * API, a rotation to start. A node without the authority runs it too, to redirect.
 */
export type AdmissionControllerInput =
  /** An admission request that arrived from `from`, with the controllers this node knows now. */
  | { readonly t: 'request'; readonly from: string; readonly request: Signed; readonly controllers: readonly string[] }
  /** A decision another controller made, carried by farm control. */
  | { readonly t: 'decision'; readonly record: AuthorityRecord };

export type AdmissionControllerOutput =
  | { readonly t: 'send'; readonly to: string; readonly message: AdmissionMessage }
  /** Broadcast on the farm-control channel, so every controller holds every decision. */
  | { readonly t: 'decision'; readonly record: AuthorityRecord }
  /** A node was revoked: members fetch the keyring of this epoch from a controller. */
  | { readonly t: 'revoked'; readonly id: string; readonly epoch: number; readonly by: string }
  /** Start the keyring rotation of a revocation (key-rotation.ts carries it out). */
  | { readonly t: 'rotate'; readonly revokedId: string; readonly newKey: string; readonly oldKeys: readonly string[]; readonly by: string }
  /** An admission event for the API (`type`: pending, approved, rejected, revoked, decision.X). */
  | { readonly t: 'event'; readonly type: string; readonly record: AdmissionRecord }
  /** A new node asks to join and waits for an operator. */
  | { readonly t: 'asks'; readonly id: string; readonly address: string; readonly fingerprint: string; readonly roles: readonly string[] }
  /** A request refused without an answer: it does not parse, or its signature is wrong. */
  | { readonly t: 'refused'; readonly reason: 'invalid' | 'bad-signature'; readonly from: string };

/** Controllers named in one redirect at most (the admission wire's bound). */
export const kRedirectControllersMax = 16;
/** Outputs of one batch at most: a request or a decision makes a handful. */
const kOutputsMax = 1024;

export class AdmissionController implements SansIoCore<AdmissionControllerInput, AdmissionControllerOutput> {
  private authorityValue: FarmAuthority | null;
  private nowMs = 0;
  private readonly out = new OutputQueue<AdmissionControllerOutput>(kOutputsMax);

  constructor(
    private readonly selfId: string,
    authority: FarmAuthority | null,
  ) {
    this.authorityValue = authority;
  }

  /** The farm authority held here; null on a node that is not (yet) a controller. */
  get authority(): FarmAuthority | null {
    return this.authorityValue;
  }

  /** This node became a controller (its grant carried the authority key). */
  adoptAuthority(authority: FarmAuthority): void {
    this.authorityValue ??= authority;
  }

  step(input: AdmissionControllerInput): void {
    switch (input.t) {
      case 'request':
        this.answer(input.from, input.request, input.controllers);
        return;
      case 'decision':
        this.authorityValue?.applyDecision(input.record);
        this.out.push({ t: 'event', type: `decision.${input.record.status}`, record: admissionView(input.record) });
        return;
    }
  }

  tick(nowMs: number): void {
    this.nowMs = Math.max(this.nowMs, nowMs);
  }

  ready(): readonly AdmissionControllerOutput[] {
    return this.out.ready();
  }

  advance(): void {
    this.out.advance();
  }

  /**
   * A controller admits itself from its own authority: the record goes approved and the
   * grant comes back for this node's admission client (null when there is no authority).
   */
  admitSelf(request: Signed): AdmissionMessage | null {
    const authority = this.authorityValue;
    const body = parseSignedBody(request, kRequestBodySchema);
    if (authority === null || body === null) return null;
    authority.admitSelf(body, this.nowMs);
    return authority.handleRequest(body, this.nowMs);
  }

  approve(id: string, roles: readonly string[] | undefined, by: string): AdmissionRecord {
    return this.decide(() => this.mustAuthority().approve(id, roles, by, this.nowMs));
  }

  reject(id: string, by: string): AdmissionRecord {
    return this.decide(() => this.mustAuthority().reject(id, by, this.nowMs));
  }

  /**
   * Revokes a node: the decision and the revocation are broadcast, and a rotation to a
   * key the revoked node never gets starts (the `rotate` output).
   */
  revoke(id: string, by: string): AdmissionRecord {
    const authority = this.mustAuthority();
    if (id === this.selfId) throw new DomainError('conflict', 'GALAXY_ADMISSION_SELF', 'a controller cannot revoke itself');
    let revoked: ReturnType<FarmAuthority['revoke']>;
    try {
      revoked = authority.revoke(id, by, this.nowMs);
    } catch (error) {
      throw asDomainError(error);
    }
    const view = admissionView(revoked.record);
    this.out.push({ t: 'event', type: 'revoked', record: view });
    this.out.push({ t: 'decision', record: revoked.record });
    this.out.push({ t: 'revoked', id, epoch: authority.epoch, by });
    this.out.push({ t: 'rotate', revokedId: id, newKey: revoked.newKey, oldKeys: revoked.oldKeys, by });
    return view;
  }

  /** Every admission record this controller holds (none on a node that is not one). */
  records(): AdmissionRecord[] {
    return (this.authorityValue?.list() ?? []).map(admissionView);
  }

  /** Counters for /metrics: the authority's, and the pending queue's length. */
  counters(): Record<string, number> | null {
    const authority = this.authorityValue;
    return authority === null ? null : { ...authority.counters, pending: authority.list().filter((r) => r.status === 'pending').length };
  }

  private answer(from: string, request: Signed, controllers: readonly string[]): void {
    const body = parseSignedBody(request, kRequestBodySchema);
    if (body === null) {
      this.out.push({ t: 'refused', reason: 'invalid', from });
      return;
    }
    if (!verifyText(publicKeyOf('ed25519', body.ed), request.body, request.sig)) {
      this.out.push({ t: 'refused', reason: 'bad-signature', from });
      return;
    }
    const authority = this.authorityValue;
    if (authority === null) {
      // Not a controller: point the node at the ones we know.
      if (controllers.length > 0) this.out.push({ t: 'send', to: from, message: { t: 'redirect', controllers: controllers.slice(0, kRedirectControllersMax) } });
      return;
    }
    const before = authority.record(body.id);
    const reply = authority.handleRequest(body, this.nowMs);
    const after = authority.record(body.id);
    if (after !== undefined && before?.status !== after.status) {
      this.out.push({ t: 'event', type: after.status, record: admissionView(after) });
      if (after.status === 'pending') this.out.push({ t: 'asks', id: body.id, address: body.address, fingerprint: fingerprintOf(body.ed), roles: body.roles });
      else this.out.push({ t: 'decision', record: after });
    }
    if (reply !== null) this.out.push({ t: 'send', to: from, message: reply });
  }

  private decide(action: () => AuthorityRecord): AdmissionRecord {
    let record: AuthorityRecord;
    try {
      record = action();
    } catch (error) {
      throw asDomainError(error);
    }
    const view = admissionView(record);
    this.out.push({ t: 'event', type: record.status, record: view });
    this.out.push({ t: 'decision', record });
    return view;
  }

  private mustAuthority(): FarmAuthority {
    if (this.authorityValue === null) throw new DomainError('conflict', 'GALAXY_NOT_CONTROLLER', 'this node is not a farm controller: ask a node with the controller role');
    return this.authorityValue;
  }
}

/** How the API shows a record: the key as its fingerprint, times as ISO strings. */
export function admissionView(record: AuthorityRecord): AdmissionRecord {
  return {
    id: record.id,
    address: record.address,
    status: record.status,
    roles: record.roles,
    fingerprint: fingerprintOf(record.ed),
    requestedAt: new Date(record.requestedAt).toISOString(),
    decidedAt: record.decidedAt === null ? null : new Date(record.decidedAt).toISOString(),
    decidedBy: record.decidedBy,
  };
}

function asDomainError(error: unknown): Error {
  if (error instanceof AdmissionError) {
    const kind = error.code === 'GALAXY_ADMISSION_UNKNOWN_NODE' ? 'not-found' : 'conflict';
    return new DomainError(kind, error.code, error.message);
  }
  return error as Error;
}
