import { DomainError } from '../../core/util/domain-error.js';
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import { readCredentials, type Credentials } from '../admission/credentials.js';
import { AuthorityFile } from '../admission/authority-file.js';
import { RevokedSenders } from '../admission/revoked-senders.js';
import { FarmAuthority } from '../admission/farm-authority.js';
import { loadOrCreateNodeKeys, type NodeKeys } from '../admission/node-keys.js';
import { AgentHost } from '../../node/driver/agent-host.js';
import { agentSettings, type AgentOptions } from '../../node/driver/agent-options.js';
import { ensureDataDir } from '../../node/util/agent-data-dir.js';
import { silentAgentLogger, type AgentLogger } from '../../node/util/agent-logger.js';
import type { MemberView } from '../../core/membership/member-view.js';
import type { ApiEvent } from '../../core/util/api-event.js';
import type { AdmissionRecord, KeyView } from '../admission/admission-record.js';
import type { NodeSummary } from './node-summary.js';
import type { MembershipEvent } from '../../core/membership/membership-event.js';
import { FarmRpc, kRpcCodec } from './farm-rpc.js';
import { decodeKeyringState, kComponentCodec, kControlCodec, kControlSchema, kKeyringRpcTimeoutMs, kServiceKeyringState, kServiceKeyringStep, type ComponentMessage } from './farm-control.js';
import type { KeyStep } from '../admission/key-rotation.js';
import { FarmControlChannel } from './farm-control-channel.js';
import { FarmAdmission, kAuthorityFileName, kKeyringEpochTag, type FarmCounters, type SecurityMode } from './farm-admission.js';
import { Messenger } from '../../node/messenger/messenger.js';
import type { MessengerChannel } from '../../node/messenger/messenger-channel.js';
import { readStaticKeyring, staticKeyringStore } from '../admission/farm-keys.js';

export type { FarmCounters, SecurityMode } from './farm-admission.js';

/**
 * The farm service of one node (paper section 2): membership through the agent worker,
 * admission (the node waits until a controller grants it credentials; a controller
 * answers other nodes), the farm keyring and its rotations, and farm control messages.
 * The HTTP API, the component host and the metrics sit on top of it (farm-node.ts).
 *
 * It is a facade: it loads the node's state, starts the agent, and composes
 *  - the messenger with its channels (farm RPC, component messages, and the control
 *    channel, ./farm-control-channel.ts: farm control broadcasts);
 *  - FarmAdmission (./farm-admission.ts), which drives the three admission protocols,
 *    each a sans-I/O core (src/core/contract.ts): the admission controller
 *    (../admission/admission-controller.ts: requests, pending queue, decisions, grants,
 *    redirects, revocation), the admission client (../admission/admission-client.ts:
 *    this node asking for credentials and checking the grant) and key rotation
 *    (../admission/key-rotation.ts: keyring epochs, the rotation of a revocation,
 *    fetching a newer keyring).
 *
 * Security modes:
 *  - admission (default): nothing is gossiped until the farm approved this node; the
 *    keyring comes boxed to this node's key from a controller and is kept in
 *    credentials.json; a controller holds the farm authority (farm-authority.json).
 *  - static keys (--key): a pre-shared keyring (keyring.json once rotated), no admission.
 *  - insecure (--insecure): an open lab farm, plaintext.
 */
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

interface FarmServiceEvents {
  api: [ApiEvent];
  /** Farm-wide message for a component kind: kind, the authenticated sender's node id, payload. */
  component: [string, string, Uint8Array];
}

interface LoadedState {
  readonly nodeKeys: NodeKeys | null;
  readonly authority: FarmAuthority | null;
  readonly credentials: Credentials | null;
  readonly keys: readonly string[];
  readonly epoch: number;
  readonly revokedSenders: RevokedSenders | null;
}

export class FarmService extends EventEmitter<FarmServiceEvents> {
  readonly host: AgentHost;
  readonly dataDir: string;
  readonly mode: SecurityMode;
  readonly roles: readonly string[];
  readonly counters: FarmCounters;
  readonly startedAt = new Date().toISOString();
  /** All node-to-node traffic above membership: node-id addressed, sender authenticated, named channels. */
  readonly messenger: Messenger;
  /** Request/response to other nodes' services over the messenger's rpc channel. */
  readonly rpc: FarmRpc;
  private readonly control: FarmControlChannel;
  private readonly component: MessengerChannel<ComponentMessage>;
  private readonly admission: FarmAdmission;
  private readonly version: string;

  private constructor(host: AgentHost, options: FarmServiceOptions, state: LoadedState) {
    super();
    this.host = host;
    this.dataDir = options.dataDir;
    this.mode = options.mode;
    this.roles = [...options.roles];
    const logger = options.logger ?? silentAgentLogger();
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
    this.control = new FarmControlChannel(this.messenger.channel('farm-control', kControlCodec), options.mode === 'insecure', logger);
    this.component = this.messenger.channel('component', kComponentCodec);
    this.admission = new FarmAdmission(
      { host, control: this.control, revokeSender: (id) => {
          this.messenger.revoke(id);
          host.revokeSender(id);
        }, publish: (kind, type, body) => this.publish(kind, type, body), logger,
        sendKeyStep: async (to, step) => {
          await this.rpc.call(to, kServiceKeyringStep, step, kKeyringRpcTimeoutMs);
        },
        askKeyring: async (peer) => decodeKeyringState(await this.rpc.call(peer, kServiceKeyringState, {}, kKeyringRpcTimeoutMs)),
      },
      {
        ...state,
        dataDir: options.dataDir,
        mode: options.mode,
        roles: this.roles,
        staticKeyStore: options.mode === 'static-keys' ? staticKeyringStore(options.dataDir) : null,
      },
    );
    this.counters = this.admission.counters;
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
    let revokedSenders: RevokedSenders | null = null;
    let initialKeys: string[] = [];
    let epoch = 0;
    ensureDataDir(options.dataDir);
    if (options.mode === 'admission') {
      nodeKeys = loadOrCreateNodeKeys(options.dataDir).keys;
      if (roles.includes('controller')) {
        const authorityFile = new AuthorityFile(join(options.dataDir, kAuthorityFileName));
        authority = authorityFile.load();
        if (authority === null && options.bootstrap === true) {
          authority = FarmAuthority.create();
          authorityFile.persist(authority);
          logger.info({ farm: authority.farm, authority: authority.fingerprint }, 'bootstrapped a new farm: this controller holds its authority');
        }
        if (authority !== null) authority.autoApprove = options.autoApprove === true;
      } else if (options.bootstrap === true) {
        throw new DomainError('invalid', 'GALAXY_BOOTSTRAP_NOT_CONTROLLER', '--bootstrap needs --role controller: only a controller holds the farm authority');
      }
      credentials = readCredentials(options.dataDir);
      revokedSenders = RevokedSenders.load(options.dataDir);
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
    // The keyring epoch held at start is announced from the first alive message on
    // (FarmAdmission keeps the tag in step afterwards), not by a tag change that would
    // bump the incarnation a restarted node rejoins with.
    const keyringTag: Record<string, string> = options.mode !== 'insecure' && initialKeys.length > 0 ? { [kKeyringEpochTag]: String(epoch) } : {};
    const base = { ...(options.agent.meta ?? {}), ...(roles.length > 0 ? { roles: roles.join(',') } : {}) };
    // Tags already at metaBytesMax: started without the epoch (FarmAdmission then logs that it cannot announce it).
    const meta = fits(options.agent, { ...base, ...keyringTag }) ? { ...base, ...keyringTag } : base;
    const host = await AgentHost.start({ ...options.agent, meta, keys: initialKeys, secure: options.mode !== 'insecure' });
    const service = new FarmService(host, { ...options, roles }, { nodeKeys, authority, credentials, keys: initialKeys, epoch, revokedSenders });
    service.wire(options);
    return service;
  }

  private wire(options: FarmServiceOptions): void {
    this.host.on('user', (payload) => this.messenger.receiveBroadcast(payload));
    this.host.on('app', (messages) => this.messenger.receive(messages));
    this.control.onMessage((message) => this.admission.applyControl(message));
    this.component.onMessage((message) => this.emit('component', message.value.kind, message.from, message.value.payload));
    this.host.on('admission', (from, bytes) => this.admission.onAdmission(from, bytes));
    this.host.on('event', (event) => this.onMembership(event));
    if (options.mode !== 'insecure') {
      // A keyring step straight from the node that made it (admission.tellControllers):
      // the same trust as the farm-control broadcast that carries it too.
      this.rpc.handle(kServiceKeyringStep, (_from, body) => {
        const step = kControlSchema.safeParse(body);
        if (!step.success || !step.data.op.startsWith('key-')) throw new DomainError('invalid', 'GALAXY_KEYRING_STEP', 'not a keyring step');
        return this.admission.applyKeyStep(step.data as KeyStep);
      });
    }
    if (options.mode === 'static-keys') {
      // Pre-shared keys: every member is the farm's word on the keyring (no controllers, no
      // revocation), so a member a step passed by takes the keyring from one that has it.
      // Never served on an admission farm: there only a controller hands out keys, which
      // it refuses to a revoked node.
      this.rpc.handle(kServiceKeyringState, () => ({ keys: this.admission.keyList(), epoch: this.admission.keyEpoch }));
    }
    this.admission.start(options.farmCaFingerprint ?? null);
  }

  /** Sends a component's message to every node (carried by gossip, sealed like all farm traffic). */
  /**
   * A changed seed list (the agent's discovery): membership takes it (AgentHost.join: a
   * node alone joins through it at once) and so does admission (a node still waiting for
   * its grant asks the new seeds).
   */
  join(seeds: readonly string[]): void {
    this.host.join(seeds);
    this.admission.setSeeds(seeds);
  }

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
      admission: this.admission.state,
      farmId: this.admission.farmId,
      farmCa: this.admission.authorityFingerprint,
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
    return this.admission.records();
  }

  async approve(id: string, roles: readonly string[] | undefined, by: string): Promise<AdmissionRecord> {
    return this.admission.approve(id, roles, by);
  }

  async reject(id: string, by: string): Promise<AdmissionRecord> {
    return this.admission.reject(id, by);
  }

  /**
   * Revokes a node: every other member fetches a new keyring from a controller (boxed to
   * its own key, never gossiped, so the revoked node cannot read it), then the new key
   * becomes primary and the old ones are removed. From then on the revoked node can
   * neither read nor send farm traffic: what it sends fails authentication and is counted.
   */
  async revoke(id: string, by: string): Promise<AdmissionRecord> {
    return this.admission.revoke(id, by);
  }

  keyViews(): KeyView[] {
    return this.admission.keyViews();
  }

  /** An operator rotation step, applied here and spread to every member. */
  async keyOperation(op: 'install' | 'use' | 'remove', key: string, by: string): Promise<KeyView[]> {
    return this.admission.keyOperation(op, key, by);
  }

  /** Keyring epoch held here (the grant or rotation last applied). */
  get keyEpoch(): number {
    return this.admission.keyEpoch;
  }

  /** The farm authority's fingerprint when this node holds the authority (a controller), else null. */
  get authorityFingerprint(): string | null {
    return this.admission.authorityFingerprint;
  }

  get admissionState(): NodeSummary['admission'] {
    return this.admission.state;
  }

  /** Counters for /metrics besides the agent's stats. */
  authorityCounters(): Record<string, number> | null {
    return this.admission.authorityCounters();
  }

  async close(): Promise<void> {
    this.admission.close();
    this.rpc.close();
    this.messenger.close();
    await this.host.stop();
  }

  // ---- helpers ------------------------------------------------------------------

  private onMembership(event: MembershipEvent): void {
    if (event.meta !== undefined) this.admission.onMemberTags(event.id);
    this.publish('membership', event.type, { id: event.id, address: event.address, incarnation: event.incarnation });
  }

  publish(kind: string, type: string, body: Record<string, unknown>): void {
    this.emit('api', { kind, type, time: new Date().toISOString(), body });
  }
}

/** Whether the agent takes these tags (within metaBytesMax, with its other options as given). */
function fits(agent: AgentOptions, meta: Record<string, string>): boolean {
  try {
    agentSettings({ ...agent, meta });
    return true;
  } catch {
    return false;
  }
}
