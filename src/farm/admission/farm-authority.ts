import { randomBytes, generateKeyPairSync, createPublicKey, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { Keyring } from '../../node/security/keyring.js';
import { kGrantKeysMax, sealBox, type AdmissionMessage, type CertificateBody, type GrantContent, type RequestBody } from './admission-wire.js';
import { exportPrivate, fingerprintOf, importPrivate, rawPublic, signText } from './node-keys.js';
import { CodedError } from '../../core/util/coded-error.js';

/**
 * The farm authority, held by the nodes with the controller role: the farm's signing key
 * (it certifies node identities), the farm keyring with its epoch, and every admission
 * record (pending, approved, rejected, revoked). All of it is written to one file before
 * any answer leaves, so the pending queue and every decision survive a restart.
 *
 * It decides nothing by itself except under auto-approval; the operator approves,
 * rejects and revokes. It is plain state and touches no file: every change marks it
 * unsaved, and the caller of the step that changed it (farm-admission.ts) writes it
 * through authority-file.ts before acting on that step's outputs. So the admission
 * controller's step, which changes the authority, stays free of I/O.
 */
export type AdmissionStatus = 'pending' | 'approved' | 'rejected' | 'revoked';

export interface AuthorityRecord {
  id: string;
  address: string;
  status: AdmissionStatus;
  roles: string[];
  ed: string;
  x: string;
  requestedAt: number;
  decidedAt: number | null;
  decidedBy: string | null;
  /** Keyring epoch last granted to this node (0: never). */
  epochGranted: number;
}

/** Bound of the pending queue: a flood of requests cannot grow the file without end. */
export const kPendingMax = 1024;
/** Bound of all records (a large farm plus its history). */
export const kRecordsMax = 200_000;

const kRecordSchema = z
  .object({
    id: z.string().regex(/^[0-9a-f]{16}$/),
    address: z.string().max(64),
    status: z.enum(['pending', 'approved', 'rejected', 'revoked']),
    roles: z.array(z.string()).max(8),
    ed: z.string(),
    x: z.string(),
    requestedAt: z.number(),
    decidedAt: z.number().nullable(),
    decidedBy: z.string().nullable(),
    epochGranted: z.number().int().min(0),
  })
  .strict();

export const kAuthorityFileSchema = z
  .object({
    version: z.literal(1),
    farm: z.string().regex(/^[0-9a-f]{16}$/),
    caPrivate: z.string(),
    keys: z.array(z.string()).min(1).max(16),
    epoch: z.number().int().min(1),
    serial: z.number().int().min(0),
    records: z.array(kRecordSchema),
  })
  .strict();

export type AuthorityFileContent = z.infer<typeof kAuthorityFileSchema>;

export class AdmissionError extends CodedError<string> {}

export interface AuthorityCounters {
  requests: number;
  granted: number;
  pendingRefused: number;
  keyMismatch: number;
}

export class FarmAuthority {
  readonly farm: string;
  readonly counters: AuthorityCounters = { requests: 0, granted: 0, pendingRefused: 0, keyMismatch: 0 };
  autoApprove = false;
  private readonly caPrivate: KeyObject;
  readonly caPublic: string;
  private keyring: Keyring;
  private epochValue: number;
  private serial: number;
  private readonly records = new Map<string, AuthorityRecord>();
  /** Changes made since the file was last written; the caller writes them (authority-file.ts). */
  private unsavedChanges = 0;

  constructor(file: AuthorityFileContent) {
    this.farm = file.farm;
    this.caPrivate = importPrivate(file.caPrivate);
    this.caPublic = rawPublic(createPublicKey(this.caPrivate));
    this.keyring = new Keyring(file.keys);
    this.epochValue = file.epoch;
    this.serial = file.serial;
    for (const record of file.records) this.records.set(record.id, { ...record });
  }

  /** A new farm: a fresh authority key, a fresh keyring of one key, no records (unsaved). */
  static create(): FarmAuthority {
    const authority = new FarmAuthority({
      version: 1,
      farm: randomBytes(8).toString('hex'),
      caPrivate: exportPrivate(generateKeyPairSync('ed25519').privateKey),
      keys: [Keyring.generateKey()],
      epoch: 1,
      serial: 0,
      records: [],
    });
    authority.markChanged();
    return authority;
  }

  /** Another controller's copy, made from the grant that approved this node as a controller (unsaved). */
  static fromGrant(grant: GrantContent): FarmAuthority {
    if (grant.caPrivate === undefined) throw new AdmissionError('GALAXY_ADMISSION_NOT_CONTROLLER', 'the grant carries no authority key: this node was not approved as a controller');
    const authority = new FarmAuthority({ version: 1, farm: grant.farm, caPrivate: grant.caPrivate, keys: grant.keys, epoch: grant.epoch, serial: 0, records: [] });
    authority.markChanged();
    return authority;
  }

  get epoch(): number {
    return this.epochValue;
  }

  /** The farm keyring, primary first (base64). */
  keys(): string[] {
    return this.keyring.list();
  }

  list(): AuthorityRecord[] {
    return [...this.records.values()].map((r) => ({ ...r, roles: [...r.roles] }));
  }

  record(id: string): AuthorityRecord | undefined {
    const record = this.records.get(id);
    return record === undefined ? undefined : { ...record, roles: [...record.roles] };
  }

  /** The controller's own node: approved at once (it holds the authority). */
  admitSelf(request: RequestBody, nowMs: number): void {
    const existing = this.records.get(request.id);
    if (existing?.status === 'approved') return;
    this.records.set(request.id, { id: request.id, address: request.address, status: 'approved', roles: [...request.roles], ed: request.ed, x: request.x, requestedAt: nowMs, decidedAt: nowMs, decidedBy: 'bootstrap', epochGranted: this.epochValue });
    this.markChanged();
  }

  /**
   * Answers a request whose signature the caller has checked: queues a new node as
   * pending (or approves it under auto-approval), and grants approved nodes the current
   * credentials. Null: refused without an answer (counted).
   */
  handleRequest(request: RequestBody, nowMs: number): AdmissionMessage | null {
    this.counters.requests++;
    let record = this.records.get(request.id);
    if (record !== undefined && record.ed !== request.ed) {
      // Someone else claims a known id: only the key that first asked speaks for it.
      this.counters.keyMismatch++;
      return null;
    }
    if (record === undefined) {
      if (this.countPending() >= kPendingMax || this.records.size >= kRecordsMax) {
        this.counters.pendingRefused++;
        return null;
      }
      record = { id: request.id, address: request.address, status: 'pending', roles: [...request.roles], ed: request.ed, x: request.x, requestedAt: nowMs, decidedAt: null, decidedBy: null, epochGranted: 0 };
      this.records.set(record.id, record);
      if (this.autoApprove) this.decide(record, 'approved', nowMs, 'auto-approve');
      this.markChanged();
    } else if (record.status === 'pending' && record.address !== request.address) {
      record.address = request.address;
      this.markChanged();
    }
    switch (record.status) {
      case 'pending':
        return { t: 'pending', id: record.id };
      case 'rejected':
        return { t: 'rejected', id: record.id };
      case 'revoked':
        return { t: 'revoked', id: record.id };
      case 'approved':
        return this.grant(record, nowMs);
    }
  }

  approve(id: string, roles: readonly string[] | undefined, by: string, nowMs: number): AuthorityRecord {
    const record = this.mustGet(id);
    if (record.status !== 'pending' && record.status !== 'approved') throw new AdmissionError('GALAXY_ADMISSION_DECIDED', `node ${id} is ${record.status}; a rejected or revoked node is never approved again (it must start as a new node)`);
    if (roles !== undefined) record.roles = [...roles];
    this.decide(record, 'approved', nowMs, by);
    this.markChanged();
    return { ...record };
  }

  reject(id: string, by: string, nowMs: number): AuthorityRecord {
    const record = this.mustGet(id);
    if (record.status !== 'pending') throw new AdmissionError('GALAXY_ADMISSION_DECIDED', `node ${id} is ${record.status}; only a pending node can be rejected (revoke an approved one)`);
    this.decide(record, 'rejected', nowMs, by);
    this.markChanged();
    return { ...record };
  }

  /**
   * Revokes an approved node and starts a keyring rotation it cannot follow: a new key
   * is installed (not yet primary) under a new epoch. The caller then gets every other
   * member to fetch the new keyring, makes the key primary, and removes the old ones.
   */
  revoke(id: string, by: string, nowMs: number): { record: AuthorityRecord; newKey: string; oldKeys: string[] } {
    const record = this.mustGet(id);
    if (record.status !== 'approved') throw new AdmissionError('GALAXY_ADMISSION_DECIDED', `node ${id} is ${record.status}; only an approved node can be revoked`);
    this.decide(record, 'revoked', nowMs, by);
    const oldKeys = this.keyring.list();
    const newKey = Keyring.generateKey();
    // The new key goes last: members learn it, but keep sealing with the old primary
    // until every member has it.
    this.keyring.install(newKey);
    this.epochValue++;
    this.markChanged();
    return { record: { ...record }, newKey, oldKeys };
  }

  /** A decision made by another controller, carried by farm gossip. */
  applyDecision(record: AuthorityRecord): boolean {
    const mine = this.records.get(record.id);
    if (mine !== undefined && (mine.decidedAt ?? 0) >= (record.decidedAt ?? 0)) return false;
    this.records.set(record.id, { ...record, roles: [...record.roles] });
    this.markChanged();
    return true;
  }

  /** Keyring operations (operator rotation, or the steps of a revocation); each bumps the epoch. */
  installKey(key: string): void {
    this.keyring.install(key);
    this.epochValue++;
    this.markChanged();
  }

  useKey(key: string): void {
    this.keyring.use(key);
    this.epochValue++;
    this.markChanged();
  }

  removeKey(key: string): void {
    this.keyring.remove(key);
    this.epochValue++;
    this.markChanged();
  }

  /** Adopts a newer keyring learnt as a member (another controller rotated). */
  adoptKeyring(keys: readonly string[], epoch: number): void {
    if (epoch <= this.epochValue) return;
    this.keyring = new Keyring(keys);
    this.epochValue = epoch;
    this.markChanged();
  }

  /** The grant of an approved node: its certificate and the keyring, boxed to its X25519 key. */
  private grant(record: AuthorityRecord, nowMs: number): AdmissionMessage {
    const body: CertificateBody = { farm: this.farm, id: record.id, ed: record.ed, x: record.x, roles: record.roles, serial: ++this.serial, issuedAt: nowMs };
    const certText = JSON.stringify(body);
    const content: GrantContent = {
      farm: this.farm,
      ca: this.caPublic,
      keys: this.keyring.list().slice(0, kGrantKeysMax),
      epoch: this.epochValue,
      ...(record.roles.includes('controller') ? { caPrivate: exportPrivate(this.caPrivate) } : {}),
    };
    // Tracked in memory only (rotation progress): writing the file once per grant would
    // cost a whole-file write per member during a rotation.
    record.epochGranted = this.epochValue;
    this.counters.granted++;
    return { t: 'grant', cert: { body: certText, sig: signText(this.caPrivate, certText) }, box: sealBox(record.x, JSON.stringify(content)) };
  }

  /** The fingerprint of the authority key, what a new node may pin with --farm-ca. */
  get fingerprint(): string {
    return fingerprintOf(this.caPublic);
  }

  private decide(record: AuthorityRecord, status: AdmissionStatus, nowMs: number, by: string): void {
    record.status = status;
    record.decidedAt = nowMs;
    record.decidedBy = by;
  }

  private mustGet(id: string): AuthorityRecord {
    const record = this.records.get(id);
    if (record === undefined) throw new AdmissionError('GALAXY_ADMISSION_UNKNOWN_NODE', `no node ${id} has asked to join this farm`);
    return record;
  }

  private countPending(): number {
    // Rare (a request from an unknown node), so a scan is cheaper than keeping a count right.
    let n = 0;
    for (const record of this.records.values()) if (record.status === 'pending') n++;
    return n;
  }

  /** Whether a change waits to be written: the caller writes fileText() and calls saved(). */
  get unsaved(): boolean {
    return this.unsavedChanges > 0;
  }

  /** The whole authority as its file holds it. */
  fileText(): string {
    return `${JSON.stringify({ version: 1, farm: this.farm, caPrivate: exportPrivate(this.caPrivate), keys: this.keyring.list(), epoch: this.epochValue, serial: this.serial, records: [...this.records.values()] })}\n`;
  }

  /** The text last taken from fileText() is on disk. */
  saved(): void {
    this.unsavedChanges = 0;
  }

  /** Marks a change for the caller to write; it does no I/O. */
  private markChanged(): void {
    this.unsavedChanges++;
  }
}
