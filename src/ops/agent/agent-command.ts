import { homedir, networkInterfaces } from 'node:os';
import { dirname, resolve } from 'node:path';
import { kPresets, membershipConfig, type PresetName } from '../../core/membership/config.js';
import { Keyring } from '../../node/security/keyring.js';
import { isUnspecifiedAddress, parseSocketAddress } from '../../node/transport/socket-address.js';
import { parseNodeId } from '../../core/wire/message.js';
import { parseMetaPairs } from '../../node/driver/agent-meta.js';
import { agentSettings, type AgentOptions } from '../../node/driver/agent-options.js';
import { kLogLevels, type LogLevel } from '../../node/util/log-level.js';
import { readAgentConfigFile, type AgentConfigFile } from './config/agent-config-file.js';
import { defaultDataDir } from '../../node/util/agent-data-dir.js';
import { claimIdentity, type ClaimedIdentity } from './config/agent-identity.js';
import { AgentUsageError } from '../../node/util/agent-usage-error.js';
import type { ApiTlsSpec } from './config/api-tls-files.js';
import type { DiscoveryInvocation } from './agent-discovery.js';
import { kMulticastGroupDefault, parseMulticastGroup } from '../../node/discovery/multicast-discovery.js';
import { isIP } from 'node:net';
import { isLoopbackAddress } from '../api/api-bind.js';

export { AgentUsageError } from '../../node/util/agent-usage-error.js';

/** The flags of `galaxy agent` as commander hands them over; an empty list means "not given". */
export interface AgentFlags {
  bind?: string;
  /** Each element may itself be a comma-separated list (--join a,b --join c). */
  join?: readonly string[];
  preset?: string;
  meta?: readonly string[];
  /** Extra networks, NAME=HOST each; repeatable (issue 19's network selection). */
  network?: readonly string[];
  transport?: string;
  /** Farm keys, base64; the first is the primary. */
  key?: readonly string[];
  /** YAML config file (agent-config-file.ts). */
  config?: string;
  /** Data directory holding identity.json. */
  dataDir?: string;
  logLevel?: string;
  /** Roles to ask the farm for (controller, management, ...); repeatable or comma-separated. */
  role?: readonly string[];
  /** Create the farm when this controller holds none. */
  bootstrap?: boolean;
  /** Approve every admission request at once (demos and labs only). */
  autoApprove?: boolean;
  /** An open farm: no admission, no encryption. */
  insecure?: boolean;
  /** Fingerprint of the farm authority to accept on the first grant. */
  farmCa?: string;
  /** HTTP API bind address, or "off". */
  api?: string;
  /** PEM certificate file of the API's TLS (with apiTlsKey). */
  apiTlsCert?: string;
  /** PEM private key file of the API's TLS (with apiTlsCert). */
  apiTlsKey?: string;
  /** "self-signed": make (once) and serve a self-signed certificate kept in the data directory. */
  apiTls?: string;
  /** Serve the API in plain HTTP on a non-loopback address (trusted networks only). */
  apiInsecure?: boolean;
  /** A file of seed addresses, one per line, re-read when it changes. */
  seedsFile?: string;
  /** A DNS SRV name whose records name the seeds, re-resolved periodically. */
  seedsSrv?: string;
  /** DNS servers for --seeds-srv and host names in the seed file ("ip" or "ip:port"); repeatable. */
  dnsServer?: readonly string[];
  /** Listen for (and, on a controller, send) LAN multicast announcements: true for the default group, or "GROUP:PORT". */
  discoveryMulticast?: boolean | string;
}

/** The environment variables `galaxy agent` reads; an empty value counts as unset. */
export type AgentEnvironment = Readonly<Record<string, string | undefined>>;

/** Everything `galaxy agent` resolved from flags, environment, config file and defaults. */
export interface AgentInvocation {
  /** The agent options; the id is left to the data directory, the incarnation is the clock second. */
  readonly options: AgentOptions;
  /** Absolute path of the data directory. */
  readonly dataDir: string;
  readonly logLevel: LogLevel;
  readonly configPath: string | null;
  readonly farm: FarmInvocation;
  /** Where seeds come from beyond options.join. */
  readonly discovery: DiscoveryInvocation;
}

/** The farm-level settings of `galaxy agent`: security mode, roles, admission, API. */
export interface FarmInvocation {
  readonly mode: 'admission' | 'static-keys' | 'insecure';
  readonly roles: readonly string[];
  readonly bootstrap: boolean;
  readonly autoApprove: boolean;
  readonly farmCa: string | null;
  /** Canonical API bind address, or null when the API is off. */
  readonly api: string | null;
  /** The API's TLS certificate, or null for plain HTTP (loopback, or apiInsecure). */
  readonly apiTls: ApiTlsSpec | null;
  /** Plain HTTP on a non-loopback API address was asked for explicitly. */
  readonly apiInsecure: boolean;
  /**
   * The component kinds to run (GALAXY_COMPONENTS: comma-separated, or "none"), or null
   * for all: for many agents on one machine, where each component process counts.
   */
  readonly components: readonly string[] | null;
}

/** Where the API listens unless told otherwise: loopback only, a fixed port an operator's CLI finds. */
export { kDefaultApiBind } from '../../surface/cli/agent-files.js';
import { kDefaultApiBind } from '../../surface/cli/agent-files.js';
const kRolePattern = /^[a-z][a-z0-9-]{0,31}$/;

/** An AgentInvocation whose identity has been claimed from the data directory. */
export interface PreparedAgent extends AgentInvocation {
  readonly identity: ClaimedIdentity;
}

/** One resolved value and where it came from, for error messages ("--bind", "GALAXY_BIND", "bind in FILE"). */
interface Sourced<T> {
  readonly value: T;
  readonly source: string;
}

/**
 * Turns flags alone into agent options (no environment, no data directory), checking each
 * with a message that names the flag. The incarnation is the wall-clock second.
 */
/**
 * A --network value: a host address as given, or an interface of this machine, taken as
 * its first IPv4 address (else its first IPv6 one). The agent binds and publishes the
 * address (`net.NAME`), so a profile selects by attribute whichever way it was given.
 */
function hostOfNetwork(value: string, source: string): string {
  if (isIP(value) !== 0 || !/^[A-Za-z0-9_.:-]{1,15}$/.test(value)) return value;
  const addresses = networkInterfaces()[value];
  if (addresses === undefined) {
    // Not an address either: agentSettings refuses it, naming the host-address rule; say what interfaces exist too.
    if (/^[0-9.]+$/.test(value)) return value;
    throw new AgentUsageError(`${source}: "${value}" is neither a host address nor an interface of this machine (interfaces: ${Object.keys(networkInterfaces()).join(', ')})`);
  }
  const chosen = addresses.find((a) => a.family === 'IPv4') ?? addresses.find((a) => a.family === 'IPv6' && !a.address.startsWith('fe80:'));
  if (chosen === undefined) throw new AgentUsageError(`${source}: interface "${value}" has no usable address`);
  return chosen.address;
}

export function agentOptionsFromFlags(flags: AgentFlags, wallClockMs: number = Date.now()): AgentOptions {
  return agentInvocation(flags, {}, wallClockMs).options;
}

/**
 * Resolves every setting with the precedence flags > environment > config file > defaults,
 * and checks each with a message naming where the bad value came from. Reads the config
 * file; touches nothing else.
 */
export function agentInvocation(flags: AgentFlags, env: AgentEnvironment, wallClockMs: number = Date.now(), home: string = homedir()): AgentInvocation {
  const configPath = flags.config === undefined ? null : resolve(flags.config);
  const file: AgentConfigFile = configPath === null ? {} : readAgentConfigFile(configPath);
  const inFile = (key: string) => `${key} in ${configPath}`;
  const given = <T>(...candidates: Array<[T | undefined, string]>): Sourced<T> | undefined => {
    for (const [value, source] of candidates) if (value !== undefined) return { value, source };
    return undefined;
  };
  const list = (value: readonly string[] | undefined) => (value === undefined || value.length === 0 ? undefined : value);
  const variable = (name: string) => (env[name] === undefined || env[name] === '' ? undefined : env[name]);
  const commaList = (name: string) => variable(name)?.split(',');

  const bindText = given([flags.bind, '--bind'], [variable('GALAXY_BIND'), 'GALAXY_BIND'], [file.bind, inFile('bind')]);
  if (bindText === undefined) throw new AgentUsageError('--bind HOST:PORT is required (the address peers reach this agent at; or GALAXY_BIND, or bind in the config file)');
  const bind = parseSocketAddress(bindText.value);
  if (bind === null) throw new AgentUsageError(`${bindText.source} must be "a.b.c.d:port" or "[v6]:port" with a port from 1 to 65535, got "${bindText.value}"`);
  if (isUnspecifiedAddress(bind)) throw new AgentUsageError(`${bindText.source} must be an address peers can reach, not the wildcard "${bindText.value}"`);

  const joinList = given<readonly string[]>([list(flags.join), '--join'], [commaList('GALAXY_JOIN'), 'GALAXY_JOIN'], [file.join, inFile('join')]);
  const join: string[] = [];
  for (const text of (joinList?.value ?? []).flatMap((entry) => entry.split(','))) {
    const address = parseSocketAddress(text.trim());
    if (address === null) throw new AgentUsageError(`${joinList!.source} takes "a.b.c.d:port" or "[v6]:port" addresses separated by commas, got "${text}"`);
    join.push(address.text);
  }

  const preset = given([flags.preset, '--preset'], [variable('GALAXY_PRESET'), 'GALAXY_PRESET'], [file.preset, inFile('preset')]) ?? { value: 'lan', source: 'preset' };
  if (!Object.hasOwn(kPresets, preset.value)) throw new AgentUsageError(`${preset.source} must be one of ${Object.keys(kPresets).join(', ')}, got "${preset.value}"`);

  let meta: Record<string, string>;
  try {
    meta = list(flags.meta) !== undefined ? parseMetaPairs(flags.meta!) : { ...(file.meta ?? {}) };
  } catch (error) {
    throw new AgentUsageError((error as Error).message);
  }

  const networkList = given<readonly string[]>([list(flags.network), '--network'], [commaList('GALAXY_NETWORKS'), 'GALAXY_NETWORKS'], [file.networks === undefined ? undefined : Object.entries(file.networks).map(([name, host]) => `${name}=${host}`), inFile('networks')]);
  const networks: Record<string, string> = {};
  for (const pair of networkList?.value ?? []) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new AgentUsageError(`${networkList!.source} takes NAME=HOST or NAME=INTERFACE (e.g. data=10.78.0.3 or data=eth1), got "${pair}"`);
    const name = pair.slice(0, at).trim();
    if (Object.hasOwn(networks, name)) throw new AgentUsageError(`${networkList!.source} names network "${name}" twice`);
    networks[name] = hostOfNetwork(pair.slice(at + 1).trim(), networkList!.source);
  }

  const transport = given([flags.transport, '--transport'], [variable('GALAXY_TRANSPORT'), 'GALAXY_TRANSPORT'], [file.transport, inFile('transport')]) ?? { value: 'auto', source: 'transport' };
  if (transport.value !== 'auto' && transport.value !== 'native' && transport.value !== 'dgram') throw new AgentUsageError(`${transport.source} must be auto, native or dgram, got "${transport.value}"`);

  const keys = given<readonly string[]>([list(flags.key), '--key'], [commaList('GALAXY_KEYS'), 'GALAXY_KEYS'], [file.keys, inFile('keys')]);
  if (keys !== undefined) checked(keys.source, () => new Keyring([...keys.value]));

  const logLevel = given([flags.logLevel, '--log-level'], [variable('GALAXY_LOG_LEVEL'), 'GALAXY_LOG_LEVEL'], [file.logLevel, inFile('logLevel')]) ?? { value: 'info', source: 'logLevel' };
  if (!(kLogLevels as readonly string[]).includes(logLevel.value)) throw new AgentUsageError(`${logLevel.source} must be one of ${kLogLevels.join(', ')}, got "${logLevel.value}"`);

  // A relative dataDir in the config file is taken from the file's directory, so the file means the same from any cwd.
  const dataDirFromFile = file.dataDir === undefined ? undefined : resolve(dirname(configPath!), file.dataDir);
  const dataDir = resolve(given([flags.dataDir, '--data-dir'], [variable('GALAXY_DATA_DIR'), 'GALAXY_DATA_DIR'], [dataDirFromFile, inFile('dataDir')])?.value ?? defaultDataDir(bind.text, home));

  if (file.membership !== undefined) checked(`${configPath}`, () => membershipConfig(file.membership!, preset.value as PresetName), 'membership.');
  const options: AgentOptions = {
    bind: bind.text,
    join,
    preset: preset.value as PresetName,
    meta,
    incarnation: Math.floor(wallClockMs / 1000),
    transport: transport.value,
    keys: [...(keys?.value ?? [])],
    ...(Object.keys(networks).length === 0 ? {} : { networks }),
    ...(file.membership === undefined ? {} : { membership: file.membership }),
  };
  // The remaining checks (meta size against metaBytesMax, ...) are the options' own.
  checked('', () => agentSettings(options, wallClockMs));
  const inFileDir = (path: string | undefined) => (path === undefined ? undefined : resolve(dirname(configPath!), path));
  const farm = farmInvocation(flags, variable, { ...file, apiTlsCert: inFileDir(file.apiTlsCert), apiTlsKey: inFileDir(file.apiTlsKey) }, inFile, keys !== undefined);
  const discovery = discoveryInvocation(flags, variable, { ...file, seedsFile: inFileDir(file.seedsFile) });
  return { options, dataDir, logLevel: logLevel.value as LogLevel, configPath, farm, discovery };
}

const kSrvNamePattern = /^_[a-zA-Z0-9-]{1,62}\._(udp|tcp)(\.[a-zA-Z0-9_-]{1,63})+\.?$/;
const kDnsServersMax = 8;

function discoveryInvocation(flags: AgentFlags, variable: (name: string) => string | undefined, file: AgentConfigFile): DiscoveryInvocation {
  const seedsFile = flags.seedsFile ?? variable('GALAXY_SEEDS_FILE') ?? file.seedsFile;
  const seedsSrv = flags.seedsSrv ?? variable('GALAXY_SEEDS_SRV') ?? file.seedsSrv;
  if (seedsSrv !== undefined && !kSrvNamePattern.test(seedsSrv)) throw new AgentUsageError(`--seeds-srv takes an SRV name such as _galaxy._udp.farm.example., got "${seedsSrv}"`);
  const dnsServers = (flags.dnsServer !== undefined && flags.dnsServer.length > 0 ? flags.dnsServer : variable('GALAXY_DNS_SERVERS')?.split(',') ?? file.dnsServers ?? []).flatMap((entry) => entry.split(',')).map((entry) => entry.trim()).filter((entry) => entry !== '');
  if (dnsServers.length > kDnsServersMax) throw new AgentUsageError(`--dns-server: at most ${kDnsServersMax} servers`);
  for (const server of dnsServers) if (isIP(server) === 0 && parseSocketAddress(server) === null) throw new AgentUsageError(`--dns-server takes "a.b.c.d", "a.b.c.d:port" or "[v6]:port", got "${server}"`);
  const multicastText = flags.discoveryMulticast ?? variable('GALAXY_DISCOVERY_MULTICAST') ?? file.discoveryMulticast;
  const multicast = multicastText === undefined || multicastText === false || multicastText === '0' ? null : multicastText === true || multicastText === '1' ? kMulticastGroupDefault : parseMulticastGroup(multicastText);
  if (multicast === null && multicastText !== undefined && multicastText !== false && multicastText !== '0') throw new AgentUsageError(`--discovery-multicast takes an IPv4 multicast group and port such as ${kMulticastGroupDefault.group}:${kMulticastGroupDefault.port}, got "${String(multicastText)}"`);
  return { seedsFile: seedsFile === undefined ? null : resolve(seedsFile), seedsSrv: seedsSrv ?? null, dnsServers, multicast };
}

function farmInvocation(flags: AgentFlags, variable: (name: string) => string | undefined, file: AgentConfigFile, inFile: (key: string) => string, keysGiven: boolean): FarmInvocation {
  const roleList = flags.role !== undefined && flags.role.length > 0 ? { value: flags.role, source: '--role' } : variable('GALAXY_ROLES') !== undefined ? { value: [variable('GALAXY_ROLES')!], source: 'GALAXY_ROLES' } : file.roles !== undefined ? { value: file.roles, source: inFile('roles') } : { value: [], source: '' };
  const roles = [...new Set(roleList.value.flatMap((r) => r.split(',')).map((r) => r.trim()).filter((r) => r !== ''))].sort();
  for (const role of roles) if (!kRolePattern.test(role)) throw new AgentUsageError(`${roleList.source}: a role is 1 to 32 of a-z 0-9 - starting with a letter, got "${role}"`);
  if (roles.length > 8) throw new AgentUsageError(`${roleList.source}: at most 8 roles`);
  const insecure = flags.insecure === true || variable('GALAXY_INSECURE') === '1' || file.insecure === true;
  if (insecure && keysGiven) throw new AgentUsageError('--insecure runs an open farm without encryption: it cannot be combined with --key');
  const mode = insecure ? 'insecure' : keysGiven ? 'static-keys' : 'admission';
  const bootstrap = flags.bootstrap === true;
  if (bootstrap && mode !== 'admission') throw new AgentUsageError('--bootstrap creates a farm with admission control: it cannot be combined with --key or --insecure');
  if (bootstrap && !roles.includes('controller')) throw new AgentUsageError('--bootstrap needs --role controller: only a controller holds the farm authority');
  const autoApprove = flags.autoApprove === true;
  if (autoApprove && !roles.includes('controller')) throw new AgentUsageError('--auto-approve is a controller setting: add --role controller');
  const farmCa = flags.farmCa ?? variable('GALAXY_FARM_CA') ?? file.farmCa ?? null;
  if (farmCa !== null && !/^[0-9a-f]{16}$/.test(farmCa)) throw new AgentUsageError(`--farm-ca takes the authority fingerprint, 16 lowercase hex digits (galaxy node on a controller shows it), got "${farmCa}"`);
  const apiText = flags.api ?? variable('GALAXY_API_BIND') ?? file.api ?? kDefaultApiBind;
  let api: string | null = null;
  if (apiText !== 'off') {
    const address = parseSocketAddress(apiText);
    if (address === null && apiText.endsWith(':0') && parseSocketAddress(apiText.replace(/:0$/, ':1')) !== null) api = apiText;
    else if (address === null) throw new AgentUsageError(`--api takes "a.b.c.d:port" (port 0: any free port) or "off", got "${apiText}"`);
    else api = address.text;
  }
  const { apiTls, apiInsecure } = apiSecurity(flags, variable, file, api);
  const componentsText = variable('GALAXY_COMPONENTS')?.trim();
  const components = componentsText === undefined || componentsText === '' ? null : componentsText === 'none' ? [] : componentsText.split(',').map((kind) => kind.trim());
  if (components !== null && components.some((kind) => !kRolePattern.test(kind))) throw new AgentUsageError(`GALAXY_COMPONENTS takes component kinds separated by commas (measurement,events,jobs,scripts) or "none", got "${componentsText}"`);
  return { mode, roles, bootstrap, autoApprove, farmCa, api, apiTls, apiInsecure, components };
}

/**
 * TLS for the API, and the bind rule: a non-loopback API address needs TLS, or the
 * explicit --api-insecure, because bearer tokens cross every request. Checked here, so
 * that the mistake is a usage error before anything starts.
 */
function apiSecurity(flags: AgentFlags, variable: (name: string) => string | undefined, file: AgentConfigFile, api: string | null): { apiTls: ApiTlsSpec | null; apiInsecure: boolean } {
  const certFile = flags.apiTlsCert ?? variable('GALAXY_API_TLS_CERT') ?? file.apiTlsCert;
  const keyFile = flags.apiTlsKey ?? variable('GALAXY_API_TLS_KEY') ?? file.apiTlsKey;
  const mode = flags.apiTls ?? variable('GALAXY_API_TLS') ?? file.apiTls;
  const apiInsecure = flags.apiInsecure === true || variable('GALAXY_API_INSECURE') === '1' || file.apiInsecure === true;
  if (mode !== undefined && mode !== 'self-signed') throw new AgentUsageError(`--api-tls takes "self-signed" (a certificate made once and kept in the data directory); for your own certificate give --api-tls-cert FILE --api-tls-key FILE. Got "${mode}"`);
  if ((certFile === undefined) !== (keyFile === undefined)) throw new AgentUsageError('--api-tls-cert and --api-tls-key go together: the certificate (PEM) and its private key (PEM)');
  if (mode !== undefined && certFile !== undefined) throw new AgentUsageError('--api-tls self-signed and --api-tls-cert/--api-tls-key are two ways to the same thing: give one');
  const apiTls: ApiTlsSpec | null = certFile !== undefined ? { kind: 'files', certFile: resolve(certFile), keyFile: resolve(keyFile!) } : mode !== undefined ? { kind: 'self-signed' } : null;
  if (api === null) {
    if (apiTls !== null || apiInsecure) throw new AgentUsageError('the API is off (--api off): --api-tls, --api-tls-cert, --api-tls-key and --api-insecure have nothing to apply to');
    return { apiTls, apiInsecure };
  }
  if (apiTls !== null && apiInsecure) throw new AgentUsageError('--api-insecure allows plain HTTP beyond loopback; with TLS it is not needed: drop it');
  const address = parseSocketAddress(api.replace(/:0$/, ':1'));
  if (address !== null && !isLoopbackAddress(address) && apiTls === null && !apiInsecure) {
    throw new AgentUsageError(
      `refusing to serve the API on ${api} in plain HTTP: it is not a loopback address, and every request carries a bearer token. Serve TLS (--api-tls self-signed, then pin the fingerprint the agent prints with --api-fingerprint, or --api-tls-cert FILE --api-tls-key FILE), or bind to 127.0.0.1; on a trusted network only, --api-insecure allows plain HTTP`,
    );
  }
  return { apiTls, apiInsecure };
}

/** Runs a check that throws RangeError, turning its message into an AgentUsageError prefixed by where the value came from. */
function checked(source: string, check: () => unknown, optionsPrefix = ''): void {
  try {
    check();
  } catch (error) {
    const message = (error as Error).message.replace(/\boptions\./g, optionsPrefix);
    throw new AgentUsageError(source === '' ? message : `${source}: ${message}`);
  }
}

/**
 * Resolves the invocation, then claims the node's identity from the data directory: the
 * persisted random id, and an incarnation above every earlier life, written back before
 * the agent joins.
 */
export function prepareAgent(flags: AgentFlags, env: AgentEnvironment, wallClockMs: number = Date.now(), home: string = homedir()): PreparedAgent {
  const invocation = agentInvocation(flags, env, wallClockMs, home);
  const identity = claimIdentity(invocation.dataDir, wallClockMs);
  return { ...invocation, options: { ...invocation.options, id: parseNodeId(identity.id), incarnation: identity.incarnation }, identity };
}
