import { kPresets, type PresetName } from '../gossip/config.js';
import { isUnspecifiedAddress, parseSocketAddress } from '../transport/socket-address.js';
import { AgentHost } from './agent-host.js';
import { parseMetaPairs } from './agent-meta.js';
import { agentSettings, type AgentOptions } from './agent-options.js';

/** The flags of `galaxy agent` as commander hands them over. */
export interface AgentFlags {
  bind?: string;
  /** Each element may itself be a comma-separated list (--join a,b --join c). */
  join?: readonly string[];
  preset?: string;
  meta?: readonly string[];
  transport?: string;
  /** Farm keys, base64; the first is the primary. */
  key?: readonly string[];
}

/** A mistake in the flags: the CLI prints the message and exits with status 2. */
export class AgentUsageError extends Error {
  readonly exitCode = 2;

  constructor(message: string) {
    super(message);
    this.name = 'AgentUsageError';
  }
}

/**
 * Turns flags into agent options, checking each with a message that names the flag. The
 * node id is derived from the bind address (stable across restarts) and the incarnation
 * is the wall-clock second, so a restarted agent always rejoins with a higher one.
 */
export function agentOptionsFromFlags(flags: AgentFlags, wallClockMs: number = Date.now()): AgentOptions {
  if (flags.bind === undefined) throw new AgentUsageError('--bind HOST:PORT is required (the address peers reach this agent at)');
  const bind = parseSocketAddress(flags.bind);
  if (bind === null) throw new AgentUsageError(`--bind must be "a.b.c.d:port" or "[v6]:port" with a port from 1 to 65535, got "${flags.bind}"`);
  if (isUnspecifiedAddress(bind)) throw new AgentUsageError(`--bind must be an address peers can reach, not the wildcard "${flags.bind}"`);
  const join: string[] = [];
  for (const text of (flags.join ?? []).flatMap((list) => list.split(','))) {
    const address = parseSocketAddress(text.trim());
    if (address === null) throw new AgentUsageError(`--join takes "a.b.c.d:port" or "[v6]:port" addresses separated by commas, got "${text}"`);
    join.push(address.text);
  }
  const preset = flags.preset ?? 'lan';
  if (!Object.hasOwn(kPresets, preset)) throw new AgentUsageError(`--preset must be one of ${Object.keys(kPresets).join(', ')}, got "${preset}"`);
  let meta: Record<string, string>;
  try {
    meta = parseMetaPairs(flags.meta ?? []);
  } catch (error) {
    throw new AgentUsageError((error as Error).message);
  }
  const transport = flags.transport ?? 'auto';
  if (transport !== 'auto' && transport !== 'native' && transport !== 'dgram') throw new AgentUsageError(`--transport must be auto, native or dgram, got "${transport}"`);
  const options: AgentOptions = { bind: bind.text, join, preset: preset as PresetName, meta, incarnation: Math.floor(wallClockMs / 1000), transport, keys: [...(flags.key ?? [])] };
  // The remaining checks (meta size against metaBytesMax, ...) are the options' own.
  try {
    agentSettings(options, wallClockMs);
  } catch (error) {
    throw new AgentUsageError((error as Error).message.replace(/^options\./, ''));
  }
  return options;
}

/** Writes one JSON line. */
export type LineWriter = (line: string) => void;

/**
 * Runs an agent until SIGTERM or SIGINT, then leaves gracefully. Logs one JSON line per
 * membership event, after a "started" line and before a "stopped" line. Resolves with
 * the exit status: 0 after a graceful stop, 1 when the worker died.
 */
export async function runAgent(options: AgentOptions, write: LineWriter = (line) => process.stdout.write(`${line}\n`)): Promise<number> {
  const host = await AgentHost.start(options);
  const self = host.address;
  const log = (record: Record<string, unknown>): void => write(JSON.stringify({ t: new Date().toISOString(), ...record }));
  log({ event: 'started', id: host.id, address: host.address, incarnation: host.incarnation, self, preset: host.settings.preset, join: host.settings.join, backend: host.backend, transport: host.transport.kind, transportReason: host.transport.reason });
  host.on('event', (event) => log({ event: event.type, id: event.id, address: event.address, incarnation: event.incarnation, self }));

  let onSignal: (signal: NodeJS.Signals) => void = () => {};
  const outcome = await new Promise<{ signal: NodeJS.Signals } | { failure: string }>((resolve) => {
    onSignal = (signal) => resolve({ signal });
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    host.once('error', (error) => resolve({ failure: error.stack ?? error.message }));
    host.once('exit', (code) => resolve({ failure: `agent worker exited with code ${code}` }));
  });
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
  if ('failure' in outcome) {
    log({ event: 'failed', self, error: outcome.failure });
    return 1;
  }
  // A second signal while leaving means the operator does not want to wait.
  const force = (): void => process.exit(1);
  process.once('SIGTERM', force);
  process.once('SIGINT', force);
  await host.stop();
  process.off('SIGTERM', force);
  process.off('SIGINT', force);
  log({ event: 'stopped', self, signal: outcome.signal });
  return 0;
}
