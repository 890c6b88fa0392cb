import { readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { z } from 'zod';
import { AgentUsageError } from '../../../node/util/agent-usage-error.js';

/** The log levels pino knows, quietest last. */
import { kLogLevels, type LogLevel } from '../../../node/util/log-level.js';
export { kLogLevels, type LogLevel };

/** A config file larger than this is refused before it is parsed: it is a mistake, not a config. */
const kConfigBytesMax = 1024 * 1024;
const kJoinAddressesMax = 1024;
const kKeysMax = 64;
const kMetaTagsMax = 64;

/**
 * The YAML config of `galaxy agent` (--config FILE). Every key is optional and an unknown
 * key is refused, so a typo ("joins:") is an error rather than a silently ignored line.
 * Only shapes are checked here; addresses, presets and membership values are checked by
 * agent-command.ts with the same messages as the flags, naming the file.
 */
const kConfigSchema = z
  .object({
    /** Address to bind and announce, as --bind. */
    bind: z.string(),
    /** Seeds, as --join. */
    join: z.array(z.string()).max(kJoinAddressesMax),
    /** Timer preset, as --preset. */
    preset: z.string(),
    /** Tags announced with this member, as --meta. */
    meta: z.record(z.string(), z.string()).refine((tags) => Object.keys(tags).length <= kMetaTagsMax, `at most ${kMetaTagsMax} tags`),
    /** Extra networks, name → host, as --network NAME=HOST. */
    networks: z.record(z.string(), z.string()),
    /** Datagram transport, as --transport. */
    transport: z.enum(['auto', 'native', 'dgram']),
    /** Farm keys (base64), primary first, as --key. */
    keys: z.array(z.string()).max(kKeysMax),
    /** Data directory, as --data-dir; a relative path is taken from the config file's directory. */
    dataDir: z.string().min(1),
    /** Log level of the stderr logs, as --log-level. */
    logLevel: z.enum(kLogLevels),
    /** Overrides of the preset's membership options (validated by membershipConfig). */
    membership: z.record(z.string(), z.number()),
    /** Roles this node asks the farm for, as --role. */
    roles: z.array(z.string()).max(8),
    /** The HTTP API address, as --api ("off" disables it). */
    api: z.string(),
    /** An open lab farm without admission or encryption, as --insecure. */
    insecure: z.boolean(),
    /** Fingerprint of the farm authority to accept, as --farm-ca. */
    farmCa: z.string(),
    /** The API's TLS certificate (PEM), as --api-tls-cert; relative to the config file's directory. */
    apiTlsCert: z.string().min(1),
    /** Its private key (PEM), as --api-tls-key; relative to the config file's directory. */
    apiTlsKey: z.string().min(1),
    /** "self-signed", as --api-tls. */
    apiTls: z.literal('self-signed'),
    /** Plain HTTP on a non-loopback API address, as --api-insecure. */
    apiInsecure: z.boolean(),
    /** A file of seed addresses, as --seeds-file; relative to the config file's directory. */
    seedsFile: z.string().min(1),
    /** An SRV name naming the seeds, as --seeds-srv. */
    seedsSrv: z.string().min(1),
    /** DNS servers for discovery, as --dns-server. */
    dnsServers: z.array(z.string()).max(8),
    /** LAN multicast discovery, as --discovery-multicast: true for the default group, or "GROUP:PORT". */
    discoveryMulticast: z.union([z.boolean(), z.string().min(1)]),
  })
  .partial()
  .strict();

export type AgentConfigFile = z.infer<typeof kConfigSchema>;

/** Reads and shape-checks a config file; throws AgentUsageError naming the file and the field. */
export function readAgentConfigFile(path: string): AgentConfigFile {
  let text: string;
  try {
    if (statSync(path).size > kConfigBytesMax) throw new Error(`larger than ${kConfigBytesMax} bytes`);
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new AgentUsageError(`--config ${path}: cannot read it: ${(error as Error).message}`);
  }
  let document: unknown;
  try {
    // yaml is loaded only for a config file (issue 14: what an agent without one holds).
    const { parse } = createRequire(import.meta.url)('yaml') as typeof import('yaml');
    document = parse(text);
  } catch (error) {
    throw new AgentUsageError(`${path}: not valid YAML: ${(error as Error).message}`);
  }
  // An empty file is an empty config.
  const parsed = kConfigSchema.safeParse(document ?? {});
  if (!parsed.success) throw new AgentUsageError(`${path}: ${parsed.error.issues.map(describeIssue).join('; ')}`);
  return parsed.data;
}

function describeIssue(issue: z.ZodIssue): string {
  if (issue.code === z.ZodIssueCode.unrecognized_keys) return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((key) => `"${key}"`).join(', ')} (known: ${Object.keys(kConfigSchema.shape).join(', ')})`;
  if (issue.path.length === 0) return `must be a mapping of config keys, ${issue.message.toLowerCase()}`;
  return `${issue.path.join('.')}: ${issue.message}`;
}
