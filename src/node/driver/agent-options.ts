import { Keyring, kSealOverheadBytes } from '../security/keyring.js';
import type { TransportChoice } from '../transport/select-transport.js';
import { kPresets, membershipConfig, type MembershipConfig, type MembershipOptions, type PresetName } from '../../core/membership/config.js';
import { kSeedsMax } from '../../core/membership/membership-engine.js';
import type { DgramTransportOptions } from '../transport/dgram-transport.js';
import { isUnspecifiedAddress, parseBindAddress, parseSocketAddress } from '../transport/socket-address.js';
import type { StreamTransportOptions } from '../transport/stream-transport.js';
import type { NodeId } from '../../core/wire/message.js';
import { encodeMeta } from './agent-meta.js';

/** Options of AgentHost.start; every field is optional (see kAgentDefaults). */
export interface AgentOptions {
  /**
   * Address to bind UDP and TCP to, and to advertise: "a.b.c.d:port" or "[v6]:port".
   * It must be one peers can send to (not 0.0.0.0 or ::), since members know each other
   * by the address they announce. Port 0 lets the OS choose (tests); the node id then
   * changes with every start unless `id` is given.
   */
  bind?: string;
  /** Seeds to join through. Empty: this node starts a farm of its own and waits to be joined. */
  join?: readonly string[];
  /** Timer preset the membership options are merged over. */
  preset?: PresetName;
  /** Overrides of the preset's membership configuration (validated by membershipConfig). */
  membership?: MembershipOptions;
  /** Tags announced with this member (agent-meta.ts), at most metaBytesMax bytes encoded. */
  meta?: Readonly<Record<string, string>>;
  /** The node id; by default nodeIdOf(bound address), so restarts keep their identity. */
  id?: NodeId;
  /**
   * Starting incarnation; by default the wall-clock second, so a restart always comes
   * back with a higher incarnation than its previous life and overrides its tombstone.
   */
  incarnation?: number;
  /**
   * Shortest gap between two wake-ups of the worker, ms. The worker sleeps until the
   * engine's next deadline (MembershipEngine.nextDeadlineMs) and never wakes more often
   * than this, so timers fire at most this late when the node is busy.
   */
  tickIntervalMs?: number;
  /** How long stop() keeps gossiping after the LEAVE before it closes the sockets, ms. */
  leaveFlushMs?: number;
  /** Bytes of the shared memory holding the table and the engine's scratch (a multiple of 64 KiB). */
  memoryBytes?: number;
  /** Kernel backend; 'auto' takes Wasm unless GALAXY_NO_WASM=1. */
  backend?: 'auto' | 'wasm' | 'ts';
  /**
   * How long start() waits for the worker to bind and report ready, ms. Generous on
   * purpose: twenty agents and their components booting at once on a loaded 2-core host
   * (load average 60) left five workers unready after 10 s, and those agents exited, so
   * the farm never converged (the flake of test/agent-native.test.ts). A slow start is
   * better than none; a worker that never starts still fails after this bound.
   */
  startTimeoutMs?: number;
  /** How long stop() waits for the worker to leave and exit before terminating it, ms. */
  stopTimeoutMs?: number;
  datagram?: DgramTransportOptions;
  stream?: StreamTransportOptions;
  /**
   * Datagram transport: 'native' (recvmmsg/sendmmsg and the ICMP error queue, so a
   * crashed peer is known dead in milliseconds), 'dgram' (node:dgram, probes only), or
   * 'auto' (native when the addon is built and not disabled by GALAXY_NO_NATIVE=1).
   */
  transport?: TransportChoice;
  /**
   * The farm keyring (base64 AES-256 keys, primary first). When given, every datagram and
   * frame is sealed with AES-256-GCM, and what no key opens is dropped and counted.
   */
  keys?: readonly string[];
  /**
   * A secure farm (the default whenever keys are given): only sealed traffic is parsed,
   * and admission datagrams go to the admission handler. With secure and no keys the
   * node starts waiting for admission: its sockets are bound but it does not gossip
   * until setKeys(). False with no keys: an open lab farm, plaintext.
   */
  secure?: boolean;
  /**
   * Extra networks of this node, name → its host address on that network (issue 19's
   * network selection): the agent also binds UDP and TCP at that address on its farm
   * port, takes the messenger's envelopes (cluster traffic) there, and its farm node
   * publishes the FMIDB attribute `net.<name>` = the address, so a profile can select
   * the network. Membership (SWIM) and the FMIDB stay on `bind`.
   */
  networks?: Readonly<Record<string, string>>;
}

/** One extra network of a node (AgentOptions.networks). */
export interface AgentNetwork {
  /** Lower-case letters, digits, '-' and '_', at most 32: the attribute is `net.<name>`. */
  readonly name: string;
  /** The host address (no port): the agent binds it on its farm port. */
  readonly host: string;
}

/** A network's name: what `net.<name>` allows. */
export const kNetworkNamePattern = /^[a-z0-9][a-z0-9_-]{0,31}$/;
/** Extra networks one agent takes at most. */
export const kNetworksMax = 8;

/** AgentOptions filled and validated. */
export interface AgentSettings {
  /** Canonical bind address. */
  readonly bind: string;
  /** Canonical seed addresses. */
  readonly join: readonly string[];
  readonly preset: PresetName;
  readonly config: MembershipConfig;
  readonly meta: Uint8Array;
  readonly id: NodeId | null;
  readonly incarnation: number;
  readonly tickIntervalMs: number;
  readonly leaveFlushMs: number;
  readonly memoryBytes: number;
  readonly backend: 'auto' | 'wasm' | 'ts';
  readonly startTimeoutMs: number;
  readonly stopTimeoutMs: number;
  readonly datagram: DgramTransportOptions;
  readonly stream: StreamTransportOptions;
  readonly transport: TransportChoice;
  readonly keys: readonly string[];
  readonly secure: boolean;
  /** Extra networks, sorted by name (empty: the farm address only). */
  readonly networks: readonly AgentNetwork[];
}

export const kAgentDefaults = Object.freeze({
  bind: '127.0.0.1:7946',
  join: Object.freeze([]) as readonly string[],
  preset: 'lan' as PresetName,
  tickIntervalMs: 5,
  leaveFlushMs: 200,
  memoryBytes: 64 * 1024 * 1024,
  backend: 'auto' as const,
  startTimeoutMs: 60_000,
  stopTimeoutMs: 5_000,
});

const kOptionNames: ReadonlySet<string> = new Set<keyof AgentOptions>([
  'bind', 'join', 'preset', 'membership', 'meta', 'id', 'incarnation', 'tickIntervalMs', 'leaveFlushMs',
  'memoryBytes', 'backend', 'startTimeoutMs', 'stopTimeoutMs', 'datagram', 'stream', 'transport', 'keys', 'secure', 'networks',
]);
const kTickIntervalMsMax = 1000;
const kFlushMsMax = 60_000;
const kTimeoutMsMax = 600_000;
const kIncarnationMax = 0xffffffff;
/** The seeds a node takes, at start or later (the engine's bound). */
const kJoinAddressesMax = kSeedsMax;

/** Fills and validates agent options; throws a RangeError naming the bad option. */
export function agentSettings(options: AgentOptions = {}, wallClockMs: number = Date.now()): AgentSettings {
  for (const key of Object.keys(options)) if (!kOptionNames.has(key)) throw new RangeError(`unknown agent option "${key}"`);
  const bind = validateBind(options.bind ?? kAgentDefaults.bind);
  const join = validateJoin(options.join ?? kAgentDefaults.join);
  const preset = options.preset ?? kAgentDefaults.preset;
  if (!Object.hasOwn(kPresets, preset)) throw new RangeError(`options.preset must be one of ${Object.keys(kPresets).join(', ')}, got "${String(preset)}"`);
  const sealed = (options.keys ?? []).length > 0 || options.secure === true;
  if (options.secure === false && (options.keys ?? []).length > 0) throw new RangeError('options.secure cannot be false when keys are given');
  // A sealed datagram carries kSealOverheadBytes more, so the engine's must leave room.
  const config = membershipConfig({ ...(sealed ? { datagramBytesMax: 1400 - kSealOverheadBytes } : {}), ...(options.membership ?? {}) }, preset);
  const meta = encodeMeta(options.meta ?? {}, config.metaBytesMax);
  const incarnation = options.incarnation ?? Math.floor(wallClockMs / 1000);
  if (!Number.isInteger(incarnation) || incarnation < 1 || incarnation > kIncarnationMax) throw new RangeError(`options.incarnation must be an integer from 1 to ${kIncarnationMax}, got ${incarnation}`);
  const settings: AgentSettings = {
    bind,
    join,
    preset,
    config,
    meta,
    id: options.id ?? null,
    incarnation,
    tickIntervalMs: integerIn('tickIntervalMs', options.tickIntervalMs ?? kAgentDefaults.tickIntervalMs, 1, kTickIntervalMsMax),
    leaveFlushMs: integerIn('leaveFlushMs', options.leaveFlushMs ?? kAgentDefaults.leaveFlushMs, 0, kFlushMsMax),
    memoryBytes: options.memoryBytes ?? kAgentDefaults.memoryBytes,
    backend: options.backend ?? kAgentDefaults.backend,
    startTimeoutMs: integerIn('startTimeoutMs', options.startTimeoutMs ?? kAgentDefaults.startTimeoutMs, 1, kTimeoutMsMax),
    stopTimeoutMs: integerIn('stopTimeoutMs', options.stopTimeoutMs ?? kAgentDefaults.stopTimeoutMs, 1, kTimeoutMsMax),
    datagram: Object.freeze({ ...options.datagram }),
    stream: Object.freeze({ ...options.stream }),
    transport: validateTransport(options.transport ?? 'auto'),
    keys: Object.freeze([...(options.keys ?? [])]),
    secure: sealed,
    networks: validateNetworks(options.networks ?? {}, bind),
  };
  if (settings.keys.length > 0) new Keyring(settings.keys); // validates each key with a clear message
  if (settings.id !== null && !isNodeId(settings.id)) throw new RangeError('options.id must be { high, low } with two unsigned 32-bit integers');
  // memoryBytes and backend are validated by createRuntime, the transports' options by the transports.
  return Object.freeze(settings);
}

function validateTransport(choice: string): TransportChoice {
  if (choice !== 'auto' && choice !== 'native' && choice !== 'dgram') throw new RangeError(`options.transport must be auto, native or dgram, got "${choice}"`);
  return choice;
}

/** Checks the extra networks: a name kNetworkNamePattern allows, a reachable host other than the farm address's, each host once. */
export function validateNetworks(networks: Readonly<Record<string, string>>, bind: string): readonly AgentNetwork[] {
  if (typeof networks !== 'object' || networks === null || Array.isArray(networks)) throw new RangeError('options.networks must be an object of network name → host address');
  const names = Object.keys(networks).sort();
  if (names.length > kNetworksMax) throw new RangeError(`options.networks names ${names.length} networks, more than ${kNetworksMax}`);
  const farm = parseBindAddress(bind);
  const hosts = new Set<string>([farm.host]);
  return Object.freeze(
    names.map((name) => {
      if (!kNetworkNamePattern.test(name)) throw new RangeError(`options.networks: a network name is lower-case letters, digits, '-' and '_' (at most 32, starting with a letter or digit), got "${name}"`);
      const text = networks[name];
      const address = typeof text === 'string' ? parseSocketAddress(text.includes(':') && !text.startsWith('[') ? `[${text}]:1` : `${text}:1`) : null;
      if (address === null || isUnspecifiedAddress(address)) throw new RangeError(`options.networks.${name} must be a host address peers can reach on that network (a.b.c.d or a v6 address, no port), got "${String(text)}"`);
      if (address.family !== farm.family) throw new RangeError(`options.networks.${name} (${text}) must be of the farm address's family (${farm.host})`);
      if (hosts.has(address.host)) throw new RangeError(`options.networks.${name}: ${address.host} is the farm address or another network's`);
      hosts.add(address.host);
      return Object.freeze({ name, host: address.host });
    }),
  );
}

/** The socket address of a host on a port, as the transports write it. */
export function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

function validateBind(text: string): string {
  const address = parseBindAddress(text);
  if (isUnspecifiedAddress(address)) throw new RangeError(`options.bind must be an address peers can reach, not the wildcard "${text}": members know each other by the address they announce`);
  return address.text;
}

/** Checks a seed list ("a.b.c.d:port" or "[v6]:port", at most kJoinAddressesMax) and returns it canonical. */
export function validateJoin(join: readonly string[]): readonly string[] {
  if (!Array.isArray(join)) throw new RangeError('options.join must be an array of "a.b.c.d:port" or "[v6]:port" strings');
  if (join.length > kJoinAddressesMax) throw new RangeError(`options.join holds ${join.length} addresses, more than ${kJoinAddressesMax}`);
  return Object.freeze(
    join.map((text, i) => {
      const address = typeof text === 'string' ? parseSocketAddress(text) : null;
      if (address === null) throw new RangeError(`options.join[${i}] must be "a.b.c.d:port" or "[v6]:port" with a port from 1 to 65535, got "${String(text)}"`);
      return address.text;
    }),
  );
}

function integerIn(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) throw new RangeError(`options.${name} must be an integer from ${min} to ${max}, got ${value}`);
  return value;
}

function isNodeId(id: NodeId): boolean {
  const u32 = (v: number) => Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
  return typeof id === 'object' && u32(id.high) && u32(id.low);
}
