import { DomainError } from '../../core/util/domain-error.js';
import { Prng } from '../../core/util/prng.js';
import { randomInt } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import { decodeAdmission, encodeAdmission, type GrantContent } from '../admission/admission-wire.js';
import { readCredentials, writeCredentials, type Credentials } from '../admission/credentials.js';
import { FarmAuthority } from '../admission/farm-authority.js';
import { fingerprintOf, loadOrCreateNodeKeys, type NodeKeys } from '../admission/node-keys.js';
import { AgentHost } from '../../node/driver/agent-host.js';
import type { AgentOptions } from '../../node/driver/agent-options.js';
import { ensureDataDir } from '../../node/util/agent-data-dir.js';
import { silentAgentLogger, type AgentLogger } from '../../node/util/agent-logger.js';
import { type AdmissionRecord, type ApiEvent, type KeyView, type MemberView, type NodeSummary } from '../../surface/api/api-backend.js';
import type { MembershipEvent } from '../../core/membership/membership-event.js';
import { Keyring, KeyringError } from '../../node/security/keyring.js';
import { AdmissionClient } from '../admission/admission-client.js';
import { AdmissionController } from '../admission/admission-controller.js';
import { KeyRotation, kRotationsMax } from '../admission/key-rotation.js';
import { FarmRpc, kRpcCodec } from './farm-rpc.js';
import { kComponentCodec, kControlCodec, type ComponentMessage, type ControlMessage } from './farm-control.js';
import { FarmControlChannel } from './farm-control-channel.js';
import { Messenger } from '../../node/messenger/messenger.js';
import type { MessengerChannel } from '../../node/messenger/messenger-channel.js';
import { keyFingerprint, readStaticKeyring, staticKeyringStore, type FarmKeysStore } from '../admission/farm-keys.js';

/**
 * The farm service of one node (paper section 2): membership through the agent worker,
 * admission (the node waits until a controller grants it credentials; a controller
 * answers other nodes), the farm keyring and its rotations, and farm control messages.
 * The HTTP API, the component host and the metrics sit on top of it (farm-node.ts).
 *
 * It is a facade over four parts, and the driver of the three that are protocols:
 *  - the admission controller (../admission/admission-controller.ts): requests, the
 *    pending queue, decisions, grants, redirects, revocation;
 *  - the admission client (../admission/admission-client.ts): this node asking the
 *    farm for credentials and checking the grant;
 *  - key rotation (../admission/key-rotation.ts): keyring epochs, the rotation of a
 *    revocation, fetching a newer keyring from a controller;
 *  - the control channel (./farm-control-channel.ts): farm control broadcasts.
 * The three cores are sans-I/O (src/core/contract.ts); this class feeds them the wall
 * clock, what arrives and what they ask about, acts on their outputs (sockets, the
 * messenger, files, logs, API events), and runs one timer for their next deadline.
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

const kAuthorityFileName = 'farm-authority.json';
/** Rounds of handing outputs between the cores in one pump at most: a real exchange takes two or three. */
const kPumpRoundsMax = 64;

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
  private credentials: Credentials | null;
  /** All node-to-node traffic above membership: node-id addressed, sender authenticated, named channels. */
  readonly messenger: Messenger;
  /** Request/response to other nodes' services over the messenger's rpc channel. */
  readonly rpc: FarmRpc;
  private readonly controller: AdmissionController;
  private client: AdmissionClient | null = null;
  private readonly rotation: KeyRotation;
  private readonly control: FarmControlChannel;
  private readonly component: MessengerChannel<ComponentMessage>;
  private admission: NodeSummary['admission'];
  private timer: NodeJS.Timeout | null = null;
  private pumping = false;
  private readonly version: string;
  private closed = false;

  /** Where the keyring is written on every change: keyring.json (static keys) or the credentials. */
  private readonly keyStore: FarmKeysStore;

  private constructor(host: AgentHost, options: FarmServiceOptions, state: { nodeKeys: NodeKeys | null; authority: FarmAuthority | null; credentials: Credentials | null; keys: readonly string[]; epoch: number }) {
    super();
    this.host = host;
    this.dataDir = options.dataDir;
    this.mode = options.mode;
    this.roles = [...options.roles];
    this.logger = options.logger ?? silentAgentLogger();
    this.nodeKeys = state.nodeKeys;
    this.credentials = state.credentials;
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
    this.control = new FarmControlChannel(this.messenger.channel('farm-control', kControlCodec), options.mode === 'insecure', this.logger);
    this.component = this.messenger.channel('component', kComponentCodec);
    this.controller = new AdmissionController(host.id, state.authority);
    // The fetch jitter only spreads load on the controllers: a fresh seed per process is enough.
    this.rotation = new KeyRotation({ keys: state.keys, epoch: state.epoch }, state.authority, new Prng(randomInt(0x7fffffff)));
    this.keyStore = options.mode === 'static-keys' ? staticKeyringStore(options.dataDir) : { save: (keys, epoch) => this.persistKeys(keys, epoch) };
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
    const service = new FarmService(host, { ...options, roles }, { nodeKeys, authority, credentials, keys: initialKeys, epoch });
    service.wire(options);
    return service;
  }

  private wire(options: FarmServiceOptions): void {
    this.host.on('user', (payload) => this.messenger.receiveBroadcast(payload));
    this.host.on('app', (messages) => this.messenger.receive(messages));
    this.control.onMessage((message) => this.applyControl(message));
    this.component.onMessage((message) => this.emit('component', message.value.kind, message.from, message.value.payload));
    this.host.on('admission', (from, bytes) => this.onAdmission(from, bytes));
    this.host.on('event', (event) => this.onMembership(event));
    if (this.mode !== 'admission') return;
    const client = new AdmissionClient(
      {
        id: this.host.id,
        address: this.host.address,
        roles: this.roles,
        keys: this.nodeKeys!,
        seeds: this.host.settings.join,
        pinnedCaFingerprint: options.farmCaFingerprint ?? null,
      },
      this.credentials,
    );
    this.client = client;
    this.tickCores();
    if (this.controller.authority !== null) {
      // A controller admits itself: its grant comes from its own authority.
      const grant = this.controller.admitSelf(client.request());
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
          this.control.broadcast({ op: 'revoked', id: output.id, epoch: output.epoch, by: output.by });
          break;
        case 'rotate':
          this.tickCores();
          this.rotation.step({ t: 'rotate', revokedId: output.revokedId, newKey: output.newKey, oldKeys: output.oldKeys, by: output.by });
          break;
        case 'event':
          this.publish('admission', output.type, { ...output.record });
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
    const batch = [...this.rotation.ready()];
    this.rotation.advance();
    for (const output of batch) {
      switch (output.t) {
        case 'keyring':
          this.host.setKeys(output.keys);
          this.keyStore.save(output.keys, output.epoch);
          break;
        case 'control':
          this.control.broadcast(output.message);
          break;
        case 'fetch':
          this.want(output.epoch);
          break;
        case 'event':
          this.publish('keyring', output.type, output.body);
          break;
        case 'rotated':
          this.counters.keyRotations++;
          this.logger.info({ revoked: output.revokedId, epoch: output.epoch }, 'keyring rotated after revocation: old keys removed');
          this.publish('keyring', 'rotated', { revoked: output.revokedId, epoch: output.epoch, primary: output.primary });
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

  private onAdmission(from: string, bytes: Uint8Array): void {
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
      const authority = FarmAuthority.fromGrant(join(this.dataDir, kAuthorityFileName), content);
      this.controller.adoptAuthority(authority);
      this.rotation.adoptAuthority(authority);
      this.logger.info({ farm: content.farm }, 'approved as a controller: this node now holds the farm authority too');
    }
    // A controller's grant is the farm's word on the keyring: it replaces ours.
    this.rotation.step({ t: 'grant', keys: content.keys, epoch: content.epoch });
    if (first || this.admission === 'pending') {
      this.admission = this.controller.authority !== null && this.admission === 'bootstrap' ? 'bootstrap' : 'approved';
      this.logger.info({ farm: content.farm, epoch: content.epoch, roles: credentials.certificate.roles }, 'admitted: credentials received, gossiping');
      this.publish('admission', 'admitted', { id: this.host.id, farm: content.farm });
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
    this.tickCores();
    switch (message.op) {
      case 'key-install':
      case 'key-use':
      case 'key-remove':
        this.rotation.step({ t: 'control', message });
        this.publish('keyring', message.op, { epoch: message.epoch, by: message.by, fingerprint: 'key' in message ? keyFingerprint(message.key) : message.fingerprint });
        break;
      case 'revoked':
        this.messenger.revoke(message.id);
        if (message.id === this.host.id) {
          this.onAdmissionStatus('revoked', 'farm');
          return;
        }
        // Members fetch the new keyring from a controller after a random delay.
        this.rotation.step({ t: 'revoked', id: message.id, epoch: message.epoch });
        this.publish('admission', 'revoked-elsewhere', { id: message.id, epoch: message.epoch, by: message.by });
        break;
      case 'decision':
        if (message.record.status === 'revoked' && message.record.id !== this.host.id) this.messenger.revoke(message.record.id);
        this.controller.step({ t: 'decision', record: message.record });
        break;
    }
    this.pump();
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
      farmId: this.controller.authority?.farm ?? this.credentials?.farm ?? null,
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
    return this.controller.records();
  }

  async approve(id: string, roles: readonly string[] | undefined, by: string): Promise<AdmissionRecord> {
    this.tickCores();
    const record = this.controller.approve(id, roles, by);
    this.pump();
    this.logger.info({ id, roles: record.roles, by }, 'node approved');
    return record;
  }

  async reject(id: string, by: string): Promise<AdmissionRecord> {
    this.tickCores();
    const record = this.controller.reject(id, by);
    this.pump();
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
    if (this.rotation.rotating >= kRotationsMax) throw new DomainError('conflict', 'GALAXY_ROTATIONS_FULL', `${kRotationsMax} revocations are rotating the keyring already: wait for one to finish`);
    this.tickCores();
    const record = this.controller.revoke(id, by);
    this.logger.warn({ id, by, epoch: this.controller.authority?.epoch }, 'node revoked: rotating the farm keyring');
    this.pump();
    return record;
  }

  keyViews(): KeyView[] {
    return this.rotation.list().map((key, i) => ({ fingerprint: keyFingerprint(key), primary: i === 0 }));
  }

  /** An operator rotation step, applied here and spread to every member. */
  async keyOperation(op: 'install' | 'use' | 'remove', key: string, by: string): Promise<KeyView[]> {
    if (this.mode === 'insecure') throw new DomainError('conflict', 'GALAXY_KEYS_INSECURE', 'this farm runs without encryption (--insecure): there is no keyring');
    this.tickCores();
    this.rotation.operate(op, key, by);
    this.pump();
    this.logger.info({ op, fingerprint: keyFingerprint(key), by, epoch: this.rotation.epoch }, 'keyring changed across the farm');
    return this.keyViews();
  }

  /** Keyring epoch held here (the grant or rotation last applied). */
  get keyEpoch(): number {
    return this.rotation.epoch;
  }

  get admissionState(): NodeSummary['admission'] {
    return this.admission;
  }

  /** Counters for /metrics besides the agent's stats. */
  authorityCounters(): Record<string, number> | null {
    return this.controller.counters();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.client?.close();
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.rpc.close();
    this.messenger.close();
    await this.host.stop();
  }

  // ---- helpers ------------------------------------------------------------------

  private onMembership(event: MembershipEvent): void {
    this.publish('membership', event.type, { id: event.id, address: event.address, incarnation: event.incarnation });
  }

  publish(kind: string, type: string, body: Record<string, unknown>): void {
    this.emit('api', { kind, type, time: new Date().toISOString(), body });
  }
}
