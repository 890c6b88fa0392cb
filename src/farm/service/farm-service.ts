import { DomainError, type FailureKind } from '../../core/util/domain-error.js';
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import { decodeAdmission, encodeAdmission, kRequestBodySchema, parseSignedBody, type AdmissionMessage, type GrantContent } from '../admission/admission-wire.js';
import { readCredentials, writeCredentials, type Credentials } from '../admission/credentials.js';
import { AdmissionError, FarmAuthority, type AuthorityRecord } from '../admission/farm-authority.js';
import { fingerprintOf, loadOrCreateNodeKeys, publicKeyOf, verifyText, type NodeKeys } from '../admission/node-keys.js';
import { AgentHost } from '../../node/driver/agent-host.js';
import type { AgentOptions } from '../../node/driver/agent-options.js';
import { ensureDataDir } from '../../node/util/agent-data-dir.js';
import { silentAgentLogger, type AgentLogger } from '../../node/util/agent-logger.js';
import { type AdmissionRecord, type ApiEvent, type KeyView, type MemberView, type NodeSummary } from '../../surface/api/api-backend.js';
import type { MembershipEvent } from '../../core/membership/membership-event.js';
import { Keyring, KeyringError } from '../../node/security/keyring.js';
import { AdmissionClient } from '../admission/admission-client.js';
import { FarmRpc, kRpcCodec } from './farm-rpc.js';
import { kComponentCodec, kControlCodec, type ComponentMessage, type ControlMessage } from './farm-control.js';
import { Messenger } from '../../node/messenger/messenger.js';
import type { MessengerChannel } from '../../node/messenger/messenger-channel.js';
import { FarmKeys, keyFingerprint, kKeyFingerprintPattern, readStaticKeyring, staticKeyringStore } from '../admission/farm-keys.js';

/**
 * The farm service of one node (paper section 2): membership through the agent worker,
 * admission (the node waits until a controller grants it credentials; a controller
 * answers other nodes), the farm keyring and its rotations, and farm control messages.
 * The HTTP API, the component host and the metrics sit on top of it (farm-node.ts).
 *
 * Security modes:
 *  - admission (default): nothing is gossiped until the farm approved this node; the
 *    keyring comes boxed to this node's key from a controller and is kept in
 *    credentials.json; a controller holds the farm authority (farm-authority.json).
 *  - static keys (--key): a pre-shared keyring (keyring.json once rotated), no admission.
 *  - insecure (--insecure): an open lab farm, plaintext.
 */
export type SecurityMode = 'admission' | 'static-keys' | 'insecure';

export interface FarmServiceOptions {
  readonly agent: AgentOptions;
  readonly dataDir: string;
  readonly mode: SecurityMode;
  /** Roles this node asks for (controller, management, ...). */
  readonly roles: readonly string[];
  /** Create the farm (authority and keyring) when this controller has none. */
  readonly bootstrap?: boolean;
  /** Approve every request at once (demos, labs): only behind an explicit flag. */
  readonly autoApprove?: boolean;
  /** Fingerprint of the farm authority to accept on the first grant (--farm-ca). */
  readonly farmCaFingerprint?: string | null;
  readonly logger?: AgentLogger;
  readonly version?: string;
}

/** How long a revocation waits for every live member to fetch the new keyring before making it primary anyway. */
const kRevocationFetchTimeoutMs = 20_000;
/** How long after the new key becomes primary the old ones are removed: the "use" must have spread. */
const kRevocationRemoveDelayMs = 3_000;
/** Members fetch a rotated keyring after a random delay up to this, so controllers are not hit all at once. */
const kFetchJitterMs = 1_000;
const kAuthorityFileName = 'farm-authority.json';

interface FarmServiceEvents {
  api: [ApiEvent];
  /** Farm-wide message for a component kind: kind, the authenticated sender's node id, payload. */
  component: [string, string, Uint8Array];
}

export interface FarmCounters {
  admissionInvalid: number;
  admissionBadSignature: number;
  keyRotations: number;
}

export class FarmService extends EventEmitter<FarmServiceEvents> {
  readonly host: AgentHost;
  readonly dataDir: string;
  readonly mode: SecurityMode;
  readonly roles: readonly string[];
  readonly counters: FarmCounters = { admissionInvalid: 0, admissionBadSignature: 0, keyRotations: 0 };
  readonly startedAt = new Date().toISOString();
  private readonly logger: AgentLogger;
  private readonly nodeKeys: NodeKeys | null;
  private authority: FarmAuthority | null;
  private credentials: Credentials | null;
  private readonly keys: FarmKeys;
  private client: AdmissionClient | null = null;
  /** All node-to-node traffic above membership: node-id addressed, sender authenticated, named channels. */
  readonly messenger: Messenger;
  /** Request/response to other nodes' services over the messenger's rpc channel. */
  readonly rpc: FarmRpc;
  private readonly control: MessengerChannel<ControlMessage>;
  private readonly component: MessengerChannel<ComponentMessage>;
  private admission: NodeSummary['admission'];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly version: string;
  private closed = false;

  private constructor(host: AgentHost, options: FarmServiceOptions, state: { nodeKeys: NodeKeys | null; authority: FarmAuthority | null; credentials: Credentials | null; keys: FarmKeys }) {
    super();
    this.host = host;
    this.dataDir = options.dataDir;
    this.mode = options.mode;
    this.roles = [...options.roles];
    this.logger = options.logger ?? silentAgentLogger();
    this.nodeKeys = state.nodeKeys;
    this.authority = state.authority;
    this.credentials = state.credentials;
    this.keys = state.keys;
    this.version = options.version ?? '0.0.0';
    const config = host.settings.config;
    this.messenger = new Messenger({
      selfId: host.id,
      transport: host,
      membersMax: config.membersMax,
      broadcastBytesMax: config.userPayloadBytesMax,
      lookupMember: (id) => host.members().find((m) => m.id === id && !m.self),
    });
    // Before any other listener: a message must find its sender in the directory as soon as membership knows it.
    host.on('event', (event) => this.messenger.memberEvent(event));
    this.messenger.syncMembers(host.members());
    this.rpc = FarmRpc.over(this.messenger.channel('rpc', kRpcCodec), host.id);
    this.control = this.messenger.channel('farm-control', kControlCodec);
    this.component = this.messenger.channel('component', kComponentCodec);
    this.admission = options.mode !== 'admission' ? 'approved' : state.credentials?.status === 'revoked' ? 'revoked' : state.credentials !== null ? 'approved' : 'pending';
  }

  /**
   * Starts the node: loads (or makes) its keys and credentials, binds the sockets, and
   * either gossips at once (credentials held, static keys, insecure) or waits for a
   * controller's grant.
   */
  static async start(options: FarmServiceOptions): Promise<FarmService> {
    const logger = options.logger ?? silentAgentLogger();
    const roles = [...new Set(options.roles)].sort();
    let nodeKeys: NodeKeys | null = null;
    let authority: FarmAuthority | null = null;
    let credentials: Credentials | null = null;
    let initialKeys: string[] = [];
    let epoch = 0;
    ensureDataDir(options.dataDir);
    if (options.mode === 'admission') {
      nodeKeys = loadOrCreateNodeKeys(options.dataDir).keys;
      if (roles.includes('controller')) {
        authority = FarmAuthority.load(join(options.dataDir, kAuthorityFileName));
        if (authority === null && options.bootstrap === true) {
          authority = FarmAuthority.create(join(options.dataDir, kAuthorityFileName));
          logger.info({ farm: authority.farm, authority: authority.fingerprint }, 'bootstrapped a new farm: this controller holds its authority');
        }
        if (authority !== null) authority.autoApprove = options.autoApprove === true;
      } else if (options.bootstrap === true) {
        throw new DomainError('invalid', 'GALAXY_BOOTSTRAP_NOT_CONTROLLER', '--bootstrap needs --role controller: only a controller holds the farm authority');
      }
      credentials = readCredentials(options.dataDir);
      if (credentials !== null && credentials.status === 'approved') {
        initialKeys = [...credentials.keys];
        epoch = credentials.epoch;
      }
    } else if (options.mode === 'static-keys') {
      const stored = readStaticKeyring(options.dataDir);
      initialKeys = stored?.keys ?? [...(options.agent.keys ?? [])];
      epoch = stored?.epoch ?? 1;
      if (stored !== null) logger.info({ file: join(options.dataDir, 'keyring.json') }, 'keyring.json holds the farm keys (it wins over --key once written)');
    }
    const meta = { ...(options.agent.meta ?? {}), ...(roles.length > 0 ? { roles: roles.join(',') } : {}) };
    const host = await AgentHost.start({ ...options.agent, meta, keys: initialKeys, secure: options.mode !== 'insecure' });
    let service: FarmService | null = null;
    const store = {
      save: (keys: readonly string[], keyEpoch: number) => service?.persistKeys(keys, keyEpoch),
    };
    const keys = new FarmKeys(initialKeys, epoch, options.mode === 'static-keys' ? staticKeyringStore(options.dataDir) : store, (list) => host.setKeys(list));
    service = new FarmService(host, { ...options, roles }, { nodeKeys, authority, credentials, keys });
    service.wire(options);
    return service;
  }

  private wire(options: FarmServiceOptions): void {
    this.host.on('user', (payload) => this.messenger.receiveBroadcast(payload));
    this.host.on('app', (messages) => this.messenger.receive(messages));
    this.control.onMessage((message) => this.applyControl(message.value));
    this.component.onMessage((message) => this.emit('component', message.value.kind, message.from, message.value.payload));
    this.host.on('admission', (from, bytes) => this.onAdmission(from, bytes));
    this.host.on('event', (event) => this.onMembership(event));
    if (this.mode !== 'admission') return;
    this.client = new AdmissionClient(
      {
        id: this.host.id,
        address: this.host.address,
        roles: this.roles,
        keys: this.nodeKeys!,
        seeds: this.host.settings.join,
        pinnedCaFingerprint: options.farmCaFingerprint ?? null,
        send: (to, bytes) => this.host.sendAdmission(to, bytes),
        controllers: () => this.controllerAddresses(),
        onGrant: (credentials, content) => this.onGrant(credentials, content),
        onStatus: (status, from) => this.onAdmissionStatus(status, from),
        onInvalid: (why, from) => {
          this.counters.admissionInvalid++;
          this.logger.warn({ from, why }, 'refused an admission grant');
        },
      },
      this.credentials,
    );
    if (this.authority !== null) {
      // A controller admits itself: its grant comes from its own authority.
      const request = parseSignedBody(this.client.request(), kRequestBodySchema)!;
      this.authority.admitSelf(request, Date.now());
      const grant = this.authority.handleRequest(request, Date.now());
      if (grant !== null) this.client.handle(grant, this.host.address);
      if (this.admission === 'approved') this.admission = 'bootstrap';
    } else if (this.admission === 'revoked') {
      this.host.suspend();
      this.logger.error('this node was revoked by the farm: it takes no part (start it with a fresh data directory to ask again)');
    } else {
      // Approved nodes fetch the current keyring (it may have rotated while they were
      // down); new nodes ask to be admitted and wait.
      if (this.credentials === null) this.logger.info({ id: this.host.id, fingerprint: fingerprintOf(this.nodeKeys!.signingPublicB64), seeds: this.host.settings.join }, 'asking the farm controllers to admit this node; waiting for approval');
      this.client.want(this.credentials === null ? 1 : this.credentials.epoch);
    }
  }

  // ---- admission ----------------------------------------------------------------

  private onAdmission(from: string, bytes: Uint8Array): void {
    const message = decodeAdmission(bytes);
    if (message === null) {
      this.counters.admissionInvalid++;
      return;
    }
    if (message.t === 'request') {
      this.answerRequest(from, message);
      return;
    }
    if (this.client === null || !this.client.handle(message, from)) this.counters.admissionInvalid++;
  }

  private answerRequest(from: string, message: Extract<AdmissionMessage, { t: 'request' }>): void {
    const body = parseSignedBody(message.request, kRequestBodySchema);
    if (body === null) {
      this.counters.admissionInvalid++;
      return;
    }
    if (!verifyText(publicKeyOf('ed25519', body.ed), message.request.body, message.request.sig)) {
      this.counters.admissionBadSignature++;
      return;
    }
    if (this.authority === null) {
      // Not a controller: point the node at the ones we know.
      const controllers = this.controllerAddresses();
      if (controllers.length > 0) this.host.sendAdmission(from, encodeAdmission({ t: 'redirect', controllers: controllers.slice(0, 16) }));
      return;
    }
    const before = this.authority.record(body.id);
    const reply = this.authority.handleRequest(body, Date.now());
    const after = this.authority.record(body.id);
    if (after !== undefined && before?.status !== after.status) {
      this.publish('admission', after.status, { ...this.view(after) });
      if (after.status === 'pending') this.logger.info({ id: body.id, address: body.address, fingerprint: fingerprintOf(body.ed), roles: body.roles }, 'node asks to join: pending approval (galaxy nodes approve ID)');
      else this.broadcastControl({ op: 'decision', record: after });
    }
    if (reply !== null) this.host.sendAdmission(from, encodeAdmission(reply));
  }

  private onGrant(credentials: Credentials, content: GrantContent): void {
    const first = this.credentials === null;
    this.credentials = credentials;
    if (this.authority === null && content.caPrivate !== undefined && this.roles.includes('controller')) {
      this.authority = FarmAuthority.fromGrant(join(this.dataDir, kAuthorityFileName), content);
      this.logger.info({ farm: content.farm }, 'approved as a controller: this node now holds the farm authority too');
    }
    this.authority?.adoptKeyring(content.keys, content.epoch);
    // A controller's grant is the farm's word on the keyring: it replaces ours.
    this.keys.replace(content.keys, content.epoch, true);
    if (first || this.admission === 'pending') {
      this.admission = this.authority !== null && this.admission === 'bootstrap' ? 'bootstrap' : 'approved';
      this.logger.info({ farm: content.farm, epoch: content.epoch, roles: credentials.certificate.roles }, 'admitted: credentials received, gossiping');
      this.publish('admission', 'admitted', { id: this.host.id, farm: content.farm });
    }
  }

  private onAdmissionStatus(status: 'pending' | 'rejected' | 'revoked', from: string): void {
    if (status === 'pending') {
      if (this.admission !== 'pending') return;
      return;
    }
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
    this.publish('admission', status, { id: this.host.id });
  }

  private persistKeys(keys: readonly string[], epoch: number): void {
    if (this.credentials === null) return;
    this.credentials = { ...this.credentials, keys: [...keys], epoch };
    writeCredentials(this.dataDir, this.credentials);
  }

  /** Controllers this node knows: alive members tagged with the controller role (never itself). */
  private controllerAddresses(): string[] {
    const out: string[] = [];
    for (const member of this.host.members()) {
      if (member.self || (member.status !== 'alive' && member.status !== 'suspect')) continue;
      if ((this.host.tagsOf(member.id)['roles'] ?? '').split(',').includes('controller')) out.push(member.address);
    }
    return out;
  }

  // ---- farm control ------------------------------------------------------------

  private applyControl(message: ControlMessage): void {
    switch (message.op) {
      case 'key-install':
        this.keys.install(message.key, message.epoch);
        this.authority?.adoptKeyring(this.keys.list(), this.keys.epoch);
        break;
      case 'key-use':
        if (!this.keys.use(message.fingerprint, message.epoch)) {
          // We missed the key (down, or a revocation we must fetch): ask a controller.
          this.client?.want(message.epoch);
          break;
        }
        this.authority?.adoptKeyring(this.keys.list(), this.keys.epoch);
        break;
      case 'key-remove':
        this.keys.remove(message.fingerprint, message.epoch);
        this.authority?.adoptKeyring(this.keys.list(), this.keys.epoch);
        break;
      case 'revoked':
        this.messenger.revoke(message.id);
        if (message.id === this.host.id) {
          this.onAdmissionStatus('revoked', 'farm');
          return;
        }
        // Fetch the new keyring from a controller after a random delay.
        if (message.epoch > this.keys.epoch) this.later(Math.random() * kFetchJitterMs, () => this.client?.want(message.epoch));
        break;
      case 'decision':
        if (message.record.status === 'revoked' && message.record.id !== this.host.id) this.messenger.revoke(message.record.id);
        this.authority?.applyDecision(message.record);
        break;
    }
    if (message.op === 'decision') this.publish('admission', `decision.${message.record.status}`, { ...this.view(message.record) });
    else if (message.op === 'revoked') this.publish('admission', 'revoked-elsewhere', { id: message.id, epoch: message.epoch, by: message.by });
    else this.publish('keyring', message.op, { epoch: message.epoch, by: message.by, fingerprint: 'key' in message ? keyFingerprint(message.key) : message.fingerprint });
  }

  private broadcastControl(message: ControlMessage): void {
    if (this.mode === 'insecure' && message.op.startsWith('key')) return;
    try {
      this.control.broadcast(message);
    } catch (error) {
      this.logger.error({ op: message.op, error: (error as Error).message }, 'farm control message not sent');
    }
  }

  /** Sends a component's message to every node (carried by gossip, sealed like all farm traffic). */
  broadcastComponent(kind: string, payload: Uint8Array): void {
    this.component.broadcast({ kind, payload });
  }

  // ---- the API's view ----------------------------------------------------------

  node(): NodeSummary {
    return {
      id: this.host.id,
      address: this.host.address,
      incarnation: this.host.incarnation,
      roles: this.roles,
      admission: this.admission,
      farmId: this.authority?.farm ?? this.credentials?.farm ?? null,
      transport: this.host.transport.kind,
      backend: this.host.backend,
      version: this.version,
      startedAt: this.startedAt,
    };
  }

  members(): MemberView[] {
    return this.host.members().map((m) => ({ ...m, tags: { ...this.host.tagsOf(m.id) } }));
  }

  admissions(): AdmissionRecord[] {
    return (this.authority?.list() ?? []).map((record) => this.view(record));
  }

  async approve(id: string, roles: readonly string[] | undefined, by: string): Promise<AdmissionRecord> {
    const record = this.decide(() => this.mustAuthority().approve(id, roles, by, Date.now()));
    this.logger.info({ id, roles: record.roles, by }, 'node approved');
    return record;
  }

  async reject(id: string, by: string): Promise<AdmissionRecord> {
    const record = this.decide(() => this.mustAuthority().reject(id, by, Date.now()));
    this.logger.info({ id, by }, 'node rejected');
    return record;
  }

  /**
   * Revokes a node: every other member fetches a new keyring from a controller (boxed to
   * its own key, never gossiped, so the revoked node cannot read it), then the new key
   * becomes primary and the old ones are removed. From then on the revoked node can
   * neither read nor send farm traffic: what it sends fails authentication and is counted.
   */
  async revoke(id: string, by: string): Promise<AdmissionRecord> {
    const authority = this.mustAuthority();
    if (id === this.host.id) throw new DomainError('conflict', 'GALAXY_ADMISSION_SELF', 'a controller cannot revoke itself');
    let revoked: ReturnType<FarmAuthority['revoke']>;
    try {
      revoked = authority.revoke(id, by, Date.now());
    } catch (error) {
      throw asDomainError(error);
    }
    this.logger.warn({ id, by, epoch: authority.epoch }, 'node revoked: rotating the farm keyring');
    this.publish('admission', 'revoked', { ...this.view(revoked.record) });
    this.broadcastControl({ op: 'decision', record: revoked.record });
    this.broadcastControl({ op: 'revoked', id, epoch: authority.epoch, by });
    // This controller takes the new key now (installed, not yet primary).
    this.keys.replace(authority.keys(), authority.epoch);
    void this.finishRotation(id, revoked.newKey, revoked.oldKeys, by);
    return this.view(revoked.record);
  }

  private async finishRotation(revokedId: string, newKey: string, oldKeys: readonly string[], by: string): Promise<void> {
    const authority = this.authority!;
    const wanted = authority.epoch;
    const deadline = Date.now() + kRevocationFetchTimeoutMs;
    while (!this.closed && Date.now() < deadline) {
      const laggards = this.host.members().filter((m) => !m.self && m.id !== revokedId && (m.status === 'alive' || m.status === 'suspect') && (authority.record(m.id)?.epochGranted ?? 0) < wanted);
      if (laggards.length === 0) break;
      await this.sleep(250);
    }
    if (this.closed) return;
    authority.useKey(newKey);
    this.keys.replace(authority.keys(), authority.epoch);
    this.broadcastControl({ op: 'key-use', fingerprint: keyFingerprint(newKey), epoch: authority.epoch, by });
    await this.sleep(kRevocationRemoveDelayMs);
    if (this.closed) return;
    for (const old of oldKeys) {
      authority.removeKey(old);
      this.broadcastControl({ op: 'key-remove', fingerprint: keyFingerprint(old), epoch: authority.epoch, by });
    }
    this.keys.replace(authority.keys(), authority.epoch);
    this.counters.keyRotations++;
    this.logger.info({ revoked: revokedId, epoch: authority.epoch }, 'keyring rotated after revocation: old keys removed');
    this.publish('keyring', 'rotated', { revoked: revokedId, epoch: authority.epoch, primary: keyFingerprint(newKey) });
  }

  keyViews(): KeyView[] {
    return this.keys.list().map((key, i) => ({ fingerprint: keyFingerprint(key), primary: i === 0 }));
  }

  /** An operator rotation step, applied here and spread to every member. */
  async keyOperation(op: 'install' | 'use' | 'remove', key: string, by: string): Promise<KeyView[]> {
    if (this.mode === 'insecure') throw new DomainError('conflict', 'GALAXY_KEYS_INSECURE', 'this farm runs without encryption (--insecure): there is no keyring');
    if (!this.keys.held) throw new DomainError('conflict', 'GALAXY_KEYS_NONE', 'this node holds no farm keyring yet (not admitted)');
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
    const epoch = this.keys.epoch + 1;
    switch (op) {
      case 'install':
        if (this.keys.list().length >= 16 && !this.keys.has(fingerprint)) throw new DomainError('conflict', 'GALAXY_KEYRING_FULL', 'the keyring holds 16 keys: remove one first');
        this.broadcastControl({ op: 'key-install', key, epoch, by });
        this.keys.install(key, epoch);
        break;
      case 'use':
        if (!this.keys.has(fingerprint)) throw new DomainError('conflict', 'GALAXY_KEYRING_UNKNOWN_KEY', 'install the key across the farm before using it as primary');
        this.broadcastControl({ op: 'key-use', fingerprint, epoch, by });
        this.keys.use(fingerprint, epoch);
        break;
      case 'remove':
        if (!this.keys.has(fingerprint)) throw new DomainError('not-found', 'GALAXY_KEYRING_UNKNOWN_KEY', 'no such key in the keyring');
        if (this.keyViews()[0]!.fingerprint === fingerprint) throw new DomainError('conflict', 'GALAXY_KEYRING_PRIMARY', 'the primary key cannot be removed; use another key first');
        this.broadcastControl({ op: 'key-remove', fingerprint, epoch, by });
        this.keys.remove(fingerprint, epoch);
        break;
    }
    this.authority?.adoptKeyring(this.keys.list(), this.keys.epoch);
    this.logger.info({ op, fingerprint, by, epoch: this.keys.epoch }, 'keyring changed across the farm');
    this.publish('keyring', op, { fingerprint, by, epoch: this.keys.epoch });
    return this.keyViews();
  }

  /** Keyring epoch held here (the grant or rotation last applied). */
  get keyEpoch(): number {
    return this.keys.epoch;
  }

  get admissionState(): NodeSummary['admission'] {
    return this.admission;
  }

  /** Counters for /metrics besides the agent's stats. */
  authorityCounters(): Record<string, number> | null {
    return this.authority === null ? null : { ...this.authority.counters, pending: this.authority.list().filter((r) => r.status === 'pending').length };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.client?.close();
    this.rpc.close();
    this.messenger.close();
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await this.host.stop();
  }

  // ---- helpers ------------------------------------------------------------------

  private onMembership(event: MembershipEvent): void {
    this.publish('membership', event.type, { id: event.id, address: event.address, incarnation: event.incarnation });
  }

  publish(kind: string, type: string, body: Record<string, unknown>): void {
    this.emit('api', { kind, type, time: new Date().toISOString(), body });
  }

  private decide(action: () => AuthorityRecord): AdmissionRecord {
    let record: AuthorityRecord;
    try {
      record = action();
    } catch (error) {
      throw asDomainError(error);
    }
    this.publish('admission', record.status, { ...this.view(record) });
    this.broadcastControl({ op: 'decision', record });
    return this.view(record);
  }

  private view(record: AuthorityRecord): AdmissionRecord {
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

  private mustAuthority(): FarmAuthority {
    if (this.authority === null) throw new DomainError('conflict', 'GALAXY_NOT_CONTROLLER', 'this node is not a farm controller: ask a node with the controller role');
    return this.authority;
  }

  private later(delayMs: number, action: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.closed) action();
    }, delayMs);
    this.timers.add(timer);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.later(ms, resolve));
  }
}

function asDomainError(error: unknown): Error {
  if (error instanceof AdmissionError) {
    const kind = error.code === 'GALAXY_ADMISSION_UNKNOWN_NODE' ? 'not-found' : 'conflict';
    return new DomainError(kind, error.code, error.message);
  }
  return error as Error;
}
