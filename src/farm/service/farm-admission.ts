import { randomInt } from 'node:crypto';
import { join } from 'node:path';
import { DomainError } from '../../core/util/domain-error.js';
import { Prng } from '../../core/util/prng.js';
import { AdmissionClient } from '../admission/admission-client.js';
import { AdmissionController } from '../admission/admission-controller.js';
import { decodeAdmission, encodeAdmission, type GrantContent } from '../admission/admission-wire.js';
import { writeCredentials, type Credentials } from '../admission/credentials.js';
import { AuthorityFile } from '../admission/authority-file.js';
import { FarmAuthority } from '../admission/farm-authority.js';
import { keyFingerprint, kKeyFingerprintPattern, type FarmKeysStore } from '../admission/farm-keys.js';
import { KeyRotation, kRotationsMax, type KeyStep } from '../admission/key-rotation.js';
import type { RevokedSenders } from '../admission/revoked-senders.js';
import { fingerprintOf, type NodeKeys } from '../admission/node-keys.js';
import type { AgentHost } from '../../node/driver/agent-host.js';
import type { AgentLogger } from '../../node/util/agent-logger.js';
import type { AdmissionRecord, KeyView } from '../admission/admission-record.js';
import type { NodeSummary } from './node-summary.js';
import type { ControlMessage } from './farm-control.js';
import type { FarmControlChannel } from './farm-control-channel.js';

/** How a farm is secured (see FarmService): admission by approval, pre-shared keys, or none. */
export type SecurityMode = 'admission' | 'static-keys' | 'insecure';

export interface FarmCounters {
  admissionInvalid: number;
  admissionBadSignature: number;
  keyRotations: number;
}

/** What FarmAdmission acts through: the node's agent, the control channel, the messenger's sender directory, the API's event stream. */
export interface FarmAdmissionPorts {
  readonly host: AgentHost;
  readonly control: FarmControlChannel;
  /** A revoked node's id is no longer an authenticated sender (the messenger's directory). */
  readonly revokeSender: (id: string) => void;
  readonly publish: (kind: string, type: string, body: Record<string, unknown>) => void;
  readonly logger: AgentLogger;
  /** Sends a keyring step straight to one node (farm RPC `keyring.step`): a controller must not miss an operator's step. */
  readonly sendKeyStep: (to: string, step: KeyStep) => Promise<void>;
  /** Asks a member for its whole keyring (farm RPC `keyring.state`, served on static-keys farms only). */
  readonly askKeyring: (peer: string) => Promise<{ keys: string[]; epoch: number }>;
}

/** The member tag that announces the keyring epoch a node holds (so a node a rotation step passed by catches up). */
export const kKeyringEpochTag = 'keyring';
/** How often the members' announced keyring epochs are looked over for one newer than ours (besides each membership event). */
const kCatchUpScanMs = 3_000;

export interface FarmAdmissionState {
  readonly dataDir: string;
  readonly mode: SecurityMode;
  readonly roles: readonly string[];
  readonly nodeKeys: NodeKeys | null;
  readonly authority: FarmAuthority | null;
  readonly credentials: Credentials | null;
  /** The keyring this node starts with and its epoch (credentials, keyring.json or --key). */
  readonly keys: readonly string[];
  readonly epoch: number;
  /** Where a static-keys farm writes its keyring (keyring.json); null: into the credentials, as granted. */
  readonly staticKeyStore: FarmKeysStore | null;
  /** The senders this node learnt the farm revoked, from its data directory (admission farms; null elsewhere). */
  readonly revokedSenders: RevokedSenders | null;
}

export const kAuthorityFileName = 'farm-authority.json';
/** Rounds of handing outputs between the cores in one pump at most: a real exchange takes two or three. */
const kPumpRoundsMax = 64;

/**
 * This node's admission and farm keyring, the part of FarmService that is protocol: it
 * composes the three admission cores (admission-controller.ts, admission-client.ts,
 * key-rotation.ts), drives them with the wall clock and one timer, feeds them what
 * arrives (admission datagrams, farm control messages, operator commands) and what they
 * ask about (the controllers and laggards among the members), and acts on their outputs
 * through the node: admission datagrams, farm control broadcasts, the keyring handed to
 * the worker and written to disk, credentials, API events and logs.
 */
export class FarmAdmission {
  readonly counters: FarmCounters = { admissionInvalid: 0, admissionBadSignature: 0, keyRotations: 0 };
  private readonly host: AgentHost;
  private readonly control: FarmControlChannel;
  private readonly logger: AgentLogger;
  private readonly dataDir: string;
  private readonly mode: SecurityMode;
  private readonly roles: readonly string[];
  private readonly nodeKeys: NodeKeys | null;
  private credentials: Credentials | null;
  private readonly keyStore: FarmKeysStore;
  private readonly controller: AdmissionController;
  /** Where the authority's changes go: written after each step that made them, before its outputs are acted on. */
  private readonly authorityFile: AuthorityFile;
  /** Revocations learnt from the farm, kept on disk so they outlive a restart (every member, not only controllers). */
  private readonly revokedSenders: RevokedSenders | null;
  private client: AdmissionClient | null = null;
  private readonly rotation: KeyRotation;
  private admission: NodeSummary['admission'];
  private timer: NodeJS.Timeout | null = null;
  private scanTimer: NodeJS.Timeout | null = null;
  private pumping = false;
  private closed = false;

  constructor(
    private readonly ports: FarmAdmissionPorts,
    state: FarmAdmissionState,
  ) {
    this.host = ports.host;
    this.control = ports.control;
    this.logger = ports.logger;
    this.dataDir = state.dataDir;
    this.mode = state.mode;
    this.roles = state.roles;
    this.nodeKeys = state.nodeKeys;
    this.credentials = state.credentials;
    this.controller = new AdmissionController(this.host.id, state.authority);
    this.authorityFile = new AuthorityFile(join(state.dataDir, kAuthorityFileName));
    this.revokedSenders = state.revokedSenders;
    // The fetch jitter only spreads load on the controllers: a fresh seed per process is enough.
    this.rotation = new KeyRotation({ keys: state.keys, epoch: state.epoch }, state.authority, new Prng(randomInt(0x7fffffff)));
    this.keyStore = state.staticKeyStore ?? { save: (keys, epoch) => this.persistKeys(keys, epoch) };
    this.admission = state.mode !== 'admission' ? 'approved' : state.credentials?.status === 'revoked' ? 'revoked' : state.credentials !== null ? 'approved' : 'pending';
  }

  /**
   * Starts admission: a controller admits itself from its own authority; a revoked node
   * stays suspended; any other node asks the controllers (for its first grant, or for
   * the current keyring when it comes back with credentials).
   */
  start(farmCaFingerprint: string | null): void {
    if (this.mode !== 'insecure') {
      this.announceEpoch();
      this.scanTimer = setInterval(() => this.scanPeerEpochs(), kCatchUpScanMs);
      this.scanTimer.unref?.();
    }
    if (this.mode !== 'admission') return;
    const client = new AdmissionClient(
      {
        id: this.host.id,
        address: this.host.address,
        roles: this.roles,
        keys: this.nodeKeys!,
        seeds: this.host.settings.join,
        pinnedCaFingerprint: farmCaFingerprint,
      },
      this.credentials,
    );
    this.client = client;
    this.tickCores();
    // The nodes the farm revoked that this node heard of stay refused senders across a
    // restart, on every member: its revoked-senders file (see revoked-senders.ts).
    for (const id of this.revokedSenders?.ids ?? []) if (id !== this.host.id) this.ports.revokeSender(id);
    if (this.controller.authority !== null) {
      // The nodes its authority revoked stay refused senders across a restart: the
      // messengers' directories keep revocations in memory only, and a revoked node may
      // still hold a key the rotation has not yet removed everywhere.
      for (const record of this.controller.authority.list()) if (record.status === 'revoked' && record.id !== this.host.id) this.ports.revokeSender(record.id);
      // A controller admits itself: its grant comes from its own authority.
      const grant = this.controller.admitSelf(client.request());
      this.authorityFile.persist(this.controller.authority);
      if (grant !== null) client.step({ t: 'reply', message: grant, from: this.host.address });
      this.pump();
      if (this.admission === 'approved') this.admission = 'bootstrap';
    } else if (this.admission === 'revoked') {
      this.host.suspend();
      this.logger.error('this node was revoked by the farm: it takes no part (start it with a fresh data directory to ask again)');
    } else {
      // Approved nodes fetch the current keyring (it may have rotated while they were
      // down); new nodes ask to be admitted and wait.
      if (this.credentials === null) this.logger.info({ id: this.host.id, fingerprint: fingerprintOf(this.nodeKeys!.signingPublicB64), seeds: this.host.settings.join }, 'asking the farm controllers to admit this node; waiting for approval');
      this.want(this.credentials === null ? 1 : this.credentials.epoch);
    }
  }

  // ---- driving the cores ---------------------------------------------------------

  /** Hands the wall clock to every core (they take only its advance). */
  private tickCores(): void {
    const nowMs = Date.now();
    this.controller.tick(nowMs);
    this.client?.tick(nowMs);
    this.rotation.tick(nowMs);
  }

  /** The seeds changed while running: a node waiting for admission asks the new ones at once. */
  setSeeds(seeds: readonly string[]): void {
    const client = this.client;
    if (client === null || this.closed) return;
    client.step({ t: 'seeds', addresses: seeds });
    client.tick(Date.now());
    this.pump();
  }

  /** Asks the admission client to fetch credentials of at least this keyring epoch. */
  private want(epoch: number): void {
    const client = this.client;
    if (client === null || this.closed) return;
    client.tick(Date.now());
    if (!client.waiting) client.step({ t: 'controllers', addresses: this.controllerAddresses() });
    client.step({ t: 'want', epoch });
    this.pump();
  }

  /**
   * Acts on what the cores asked for, until none has anything left (one core's output
   * is often another's input: a grant rekeys, a revocation rotates, a missed key
   * fetches), then sets the timer for the earliest deadline among them.
   */
  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      for (let round = 0; round < kPumpRoundsMax; round++) {
        const acted = this.drainController() + this.drainClient() + this.drainRotation();
        if (acted === 0) break;
      }
    } finally {
      this.pumping = false;
    }
    this.schedule();
  }

  private drainController(): number {
    // The step that queued these outputs may have changed the authority: on disk first.
    this.authorityFile.persist(this.controller.authority);
    const batch = [...this.controller.ready()];
    this.controller.advance();
    for (const output of batch) {
      switch (output.t) {
        case 'send':
          this.host.sendAdmission(output.to, encodeAdmission(output.message));
          break;
        case 'decision':
          this.control.broadcast({ op: 'decision', record: output.record });
          break;
        case 'revoked':
          // The revoking controller refuses the node's messages at once too: its own
          // broadcast never comes back to it, so it is not told by the control channel.
          if (output.id !== this.host.id) this.ports.revokeSender(output.id);
          this.control.broadcast({ op: 'revoked', id: output.id, epoch: output.epoch, by: output.by });
          break;
        case 'rotate':
          this.tickCores();
          this.rotation.step({ t: 'rotate', revokedId: output.revokedId, newKey: output.newKey, oldKeys: output.oldKeys, by: output.by });
          break;
        case 'event':
          this.ports.publish('admission', output.type, { ...output.record });
          break;
        case 'asks':
          this.logger.info({ id: output.id, address: output.address, fingerprint: output.fingerprint, roles: output.roles }, 'node asks to join: pending approval (galaxy nodes approve ID)');
          break;
        case 'refused':
          if (output.reason === 'invalid') this.counters.admissionInvalid++;
          else this.counters.admissionBadSignature++;
          break;
      }
    }
    return batch.length;
  }

  private drainClient(): number {
    const client = this.client;
    if (client === null) return 0;
    const batch = [...client.ready()];
    client.advance();
    for (const output of batch) {
      switch (output.t) {
        case 'send':
          this.host.sendAdmission(output.to, output.bytes);
          break;
        case 'grant':
          this.onGrant(output.credentials, output.content);
          break;
        case 'status':
          this.onAdmissionStatus(output.status, output.from);
          break;
        case 'invalid':
          this.counters.admissionInvalid++;
          this.logger.warn({ from: output.from, why: output.why }, 'refused an admission grant');
          break;
        case 'unexpected':
          this.counters.admissionInvalid++;
          break;
      }
    }
    return batch.length;
  }

  private drainRotation(): number {
    // A rotation step keeps the authority's copy of the keyring in step: on disk first.
    this.authorityFile.persist(this.controller.authority);
    const batch = [...this.rotation.ready()];
    this.rotation.advance();
    for (const output of batch) {
      switch (output.t) {
        case 'keyring':
          this.host.setKeys(output.keys);
          this.keyStore.save(output.keys, output.epoch);
          this.announceEpoch();
          break;
        case 'control':
          this.control.broadcast(output.message);
          this.tellControllers(output.message);
          break;
        case 'fetch':
          if (output.peer !== undefined && this.mode === 'static-keys') this.fetchFromPeer(output.peer);
          else this.want(output.epoch);
          break;
        case 'event':
          this.ports.publish('keyring', output.type, output.body);
          break;
        case 'rotated':
          this.counters.keyRotations++;
          this.logger.info({ revoked: output.revokedId, epoch: output.epoch }, 'keyring rotated after revocation: old keys removed');
          this.ports.publish('keyring', 'rotated', { revoked: output.revokedId, epoch: output.epoch, primary: output.primary });
          break;
      }
    }
    return batch.length;
  }

  /** One timer for the earliest deadline of the client and the rotation. */
  private schedule(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (this.closed) return;
    const deadlines = [this.client?.nextTickAtMs() ?? null, this.rotation.nextTickAtMs()].filter((d): d is number => d !== null);
    if (deadlines.length === 0) return;
    const delayMs = Math.max(0, Math.min(...deadlines) - Date.now());
    this.timer = setTimeout(() => this.onTimer(), delayMs);
    this.timer.unref?.();
  }

  private onTimer(): void {
    this.timer = null;
    if (this.closed) return;
    const nowMs = Date.now();
    const client = this.client;
    if (client !== null && (client.nextTickAtMs() ?? Infinity) <= nowMs) client.step({ t: 'controllers', addresses: this.controllerAddresses() });
    const authority = this.controller.authority;
    for (const { revokedId, epoch } of this.rotation.awaiting()) {
      const count = this.host.members().filter((m) => !m.self && m.id !== revokedId && (m.status === 'alive' || m.status === 'suspect') && (authority?.record(m.id)?.epochGranted ?? 0) < epoch).length;
      this.rotation.step({ t: 'laggards', revokedId, count });
    }
    this.tickCores();
    this.pump();
  }

  // ---- admission ----------------------------------------------------------------

  /** An admission datagram from `from` (a request to answer, or a reply to this node's client). */
  onAdmission(from: string, bytes: Uint8Array): void {
    const message = decodeAdmission(bytes);
    if (message === null) {
      this.counters.admissionInvalid++;
      return;
    }
    this.tickCores();
    if (message.t === 'request') {
      const controllers = this.controller.authority === null ? this.controllerAddresses() : [];
      this.controller.step({ t: 'request', from, request: message.request, controllers });
    } else if (this.client === null) {
      this.counters.admissionInvalid++;
      return;
    } else {
      this.client.step({ t: 'reply', message, from });
    }
    this.pump();
  }

  private onGrant(credentials: Credentials, content: GrantContent): void {
    const first = this.credentials === null;
    this.credentials = credentials;
    if (this.controller.authority === null && content.caPrivate !== undefined && this.roles.includes('controller')) {
      const authority = FarmAuthority.fromGrant(content);
      this.authorityFile.persist(authority);
      this.controller.adoptAuthority(authority);
      this.rotation.adoptAuthority(authority);
      this.logger.info({ farm: content.farm }, 'approved as a controller: this node now holds the farm authority too');
    }
    // A controller's grant is the farm's word on the keyring: it replaces ours.
    this.rotation.step({ t: 'grant', keys: content.keys, epoch: content.epoch });
    if (first || this.admission === 'pending') {
      this.admission = this.controller.authority !== null && this.admission === 'bootstrap' ? 'bootstrap' : 'approved';
      this.logger.info({ farm: content.farm, epoch: content.epoch, roles: credentials.certificate.roles }, 'admitted: credentials received, gossiping');
      this.ports.publish('admission', 'admitted', { id: this.host.id, farm: content.farm });
    }
  }

  private onAdmissionStatus(status: 'pending' | 'rejected' | 'revoked', from: string): void {
    if (status === 'pending') return;
    if (this.admission === status) return;
    this.admission = status;
    this.logger.error({ from }, status === 'rejected' ? 'the farm rejected this node: it will not join' : 'the farm revoked this node: it takes no further part');
    if (status === 'revoked') {
      this.host.suspend();
      if (this.credentials !== null) {
        this.credentials = { ...this.credentials, status: 'revoked' };
        writeCredentials(this.dataDir, this.credentials);
      }
    }
    this.ports.publish('admission', status, { id: this.host.id });
  }

  private persistKeys(keys: readonly string[], epoch: number): void {
    if (this.credentials === null) return;
    this.credentials = { ...this.credentials, keys: [...keys], epoch };
    writeCredentials(this.dataDir, this.credentials);
  }

  /** Whether a member announces the controller role in its tags. */
  private isController(id: string): boolean {
    return (this.host.tagsOf(id)['roles'] ?? '').split(',').includes('controller');
  }

  /** Controllers this node knows: alive members tagged with the controller role (never itself). */
  private controllerAddresses(): string[] {
    const out: string[] = [];
    for (const member of this.host.members()) {
      if (member.self || (member.status !== 'alive' && member.status !== 'suspect')) continue;
      if (this.isController(member.id)) out.push(member.address);
    }
    return out;
  }

  // ---- farm control ------------------------------------------------------------

  /** A farm control message from another node (already checked by the channel's codec). */
  applyControl(message: ControlMessage): void {
    this.tickCores();
    switch (message.op) {
      case 'key-install':
      case 'key-use':
      case 'key-remove':
        this.rotation.step({ t: 'control', message });
        this.ports.publish('keyring', message.op, { epoch: message.epoch, by: message.by, fingerprint: 'key' in message ? keyFingerprint(message.key) : message.fingerprint });
        break;
      case 'revoked':
        this.revokeSender(message.id);
        if (message.id === this.host.id) {
          this.onAdmissionStatus('revoked', 'farm');
          return;
        }
        // Members fetch the new keyring from a controller after a random delay.
        this.rotation.step({ t: 'revoked', id: message.id, epoch: message.epoch });
        this.ports.publish('admission', 'revoked-elsewhere', { id: message.id, epoch: message.epoch, by: message.by });
        break;
      case 'decision':
        if (message.record.status === 'revoked' && message.record.id !== this.host.id) this.revokeSender(message.record.id);
        this.controller.step({ t: 'decision', record: message.record });
        break;
    }
    this.pump();
  }

  /** The farm revoked a node: written to the revoked-senders file (unless it is this node, whose credentials say so), then refused as a sender. */
  private revokeSender(id: string): void {
    if (id !== this.host.id) this.revokedSenders?.add(id);
    this.ports.revokeSender(id);
  }

  // ---- operator commands and views ------------------------------------------------

  get state(): NodeSummary['admission'] {
    return this.admission;
  }

  /** The farm this node belongs to (null before its first grant). */
  get farmId(): string | null {
    return this.controller.authority?.farm ?? this.credentials?.farm ?? null;
  }

  /** The authority's fingerprint while this node holds it (a controller, or one approved as a controller), else null. */
  get authorityFingerprint(): string | null {
    return this.controller.authority?.fingerprint ?? null;
  }

  /** Keyring epoch held here (the grant or rotation last applied). */
  get keyEpoch(): number {
    return this.rotation.epoch;
  }

  records(): AdmissionRecord[] {
    return this.controller.records();
  }

  authorityCounters(): Record<string, number> | null {
    return this.controller.counters();
  }

  approve(id: string, roles: readonly string[] | undefined, by: string): AdmissionRecord {
    this.tickCores();
    const record = this.controller.approve(id, roles, by);
    this.pump();
    this.logger.info({ id, roles: record.roles, by }, 'node approved');
    return record;
  }

  reject(id: string, by: string): AdmissionRecord {
    this.tickCores();
    const record = this.controller.reject(id, by);
    this.pump();
    this.logger.info({ id, by }, 'node rejected');
    return record;
  }

  revoke(id: string, by: string): AdmissionRecord {
    if (this.rotation.rotating >= kRotationsMax) throw new DomainError('conflict', 'GALAXY_ROTATIONS_FULL', `${kRotationsMax} revocations are rotating the keyring already: wait for one to finish`);
    this.tickCores();
    const record = this.controller.revoke(id, by);
    this.logger.warn({ id, by, epoch: this.controller.authority?.epoch }, 'node revoked: rotating the farm keyring');
    this.pump();
    return record;
  }

  /** The keyring held here, primary first (base64). */
  keyList(): string[] {
    return this.rotation.list();
  }

  keyViews(): KeyView[] {
    return this.rotation.list().map((key, i) => ({ fingerprint: keyFingerprint(key), primary: i === 0 }));
  }

  keyOperation(op: 'install' | 'use' | 'remove', key: string, by: string): KeyView[] {
    if (this.mode === 'insecure') throw new DomainError('conflict', 'GALAXY_KEYS_INSECURE', 'this farm runs without encryption (--insecure): there is no keyring');
    this.tickCores();
    this.rotation.operate(op, key, by);
    this.pump();
    this.logger.info({ op, fingerprint: op !== 'install' && kKeyFingerprintPattern.test(key) ? key : keyFingerprint(key), by, epoch: this.rotation.epoch }, 'keyring changed across the farm');
    return this.keyViews();
  }

  // ---- keeping up with the farm's keyring -------------------------------------------

  /**
   * Announces the keyring epoch held here in this node's tags (membership spreads tags
   * and repairs them by anti-entropy, unlike a broadcast, which can miss a node for good).
   */
  private announceEpoch(): void {
    if (this.mode === 'insecure' || !this.rotation.held || this.closed) return;
    const tags = this.host.tagsOf(this.host.id);
    const epoch = String(this.rotation.epoch);
    if (tags[kKeyringEpochTag] === epoch) return;
    try {
      this.host.setMeta({ ...tags, [kKeyringEpochTag]: epoch });
    } catch (error) {
      this.logger.warn({ error: (error as Error).message }, 'could not announce the keyring epoch in the tags (too many tags?): a missed rotation step is caught up only by a controller fetch');
    }
  }

  /** The epoch a member announces in its tags (null: none, or not a number). */
  private announcedEpoch(id: string): number | null {
    const text = this.host.tagsOf(id)[kKeyringEpochTag];
    if (text === undefined || !/^\d{1,15}$/.test(text)) return null;
    return Number(text);
  }

  /** A member's tags may have changed: a newer keyring epoch there means a step passed us by. */
  onMemberTags(id: string): void {
    if (this.closed || this.mode === 'insecure' || id === this.host.id) return;
    const epoch = this.announcedEpoch(id);
    if (epoch === null || epoch <= this.rotation.epoch) return;
    this.tickCores();
    this.rotation.step({ t: 'peer-epoch', from: id, epoch });
    this.pump();
  }

  /** Every kCatchUpScanMs: the newest epoch a live member announces, if newer than ours (a fetch that failed is asked again). */
  private scanPeerEpochs(): void {
    if (this.closed) return;
    let newest: { id: string; epoch: number } | null = null;
    for (const member of this.host.members()) {
      if (member.self || member.status !== 'alive') continue;
      const epoch = this.announcedEpoch(member.id);
      if (epoch !== null && epoch > this.rotation.epoch && (newest === null || epoch > newest.epoch)) newest = { id: member.id, epoch };
    }
    if (newest !== null) this.onMemberTags(newest.id);
  }

  /** A static-keys farm has no controllers: a member that holds the newer keyring hands it over. */
  private fetchFromPeer(peer: string): void {
    this.ports.askKeyring(peer).then(
      ({ keys, epoch }) => {
        if (this.closed) return;
        this.tickCores();
        this.rotation.step({ t: 'state', keys, epoch });
        this.pump();
        this.logger.info({ from: peer, epoch }, 'caught up with the farm keyring from a member');
      },
      (error: Error) => this.logger.warn({ from: peer, error: error.message }, 'could not fetch the keyring from a member: asked again at the next look'),
    );
  }

  /**
   * A keyring step made here goes to every live controller straight too (farm RPC): the
   * controllers answer the members that fetch the keyring, so they must not be the ones
   * a broadcast missed.
   */
  private tellControllers(message: ControlMessage): void {
    if (this.mode !== 'admission' || !message.op.startsWith('key-')) return;
    for (const member of this.host.members()) {
      if (member.self || member.status !== 'alive') continue;
      if (!this.isController(member.id)) continue;
      this.ports.sendKeyStep(member.id, message as KeyStep).catch((error: Error) => this.logger.warn({ to: member.id, op: message.op, error: error.message }, 'a keyring step did not reach a controller straight (it still has the broadcast and the epoch tags)'));
    }
  }

  /** A keyring step sent straight to this node (farm RPC): applied unless this node holds its epoch already. */
  applyKeyStep(step: KeyStep): { epoch: number } {
    if (this.mode === 'insecure') throw new DomainError('conflict', 'GALAXY_KEYS_INSECURE', 'this farm runs without encryption (--insecure): there is no keyring');
    this.tickCores();
    this.rotation.step({ t: 'control', message: step, newerOnly: true });
    this.pump();
    return { epoch: this.rotation.epoch };
  }

  close(): void {
    this.closed = true;
    if (this.scanTimer !== null) clearInterval(this.scanTimer);
    this.scanTimer = null;
    this.client?.close();
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}
