import type { PreparedAgent } from '../../ops/agent/agent-command.js';
import { silentAgentLogger, type AgentLogger } from '../../node/util/agent-logger.js';
import { FarmNode } from './farm-node.js';

/** Writes one JSON line. */
export type LineWriter = (line: string) => void;

/**
 * Runs `galaxy agent` until SIGTERM or SIGINT, then leaves gracefully. Logs one JSON line
 * per membership and admission event on stdout, after a "started" line and before a
 * "stopped" line; structured logs go to the logger (stderr). Resolves with the exit
 * status: 0 after a graceful stop, 1 when the agent worker died.
 */
export async function runFarmAgent(prepared: PreparedAgent, write: LineWriter = (line) => process.stdout.write(`${line}\n`), logger: AgentLogger = silentAgentLogger(), version = '0.0.0'): Promise<number> {
  const identity = prepared.identity;
  if (identity.created) logger.info({ id: identity.id, identityFile: identity.path }, 'new node identity');
  if (identity.clockBehind) logger.warn({ incarnation: identity.incarnation, identityFile: identity.path }, 'wall clock is not past the last incarnation (clock stepped back, or a restart within a second): took last + 1');
  if (prepared.farm.mode === 'insecure') logger.warn('insecure farm: no admission control and no encryption (lab use only)');
  if (prepared.farm.autoApprove) logger.warn('auto-approval is on: every node that asks is admitted (demo and lab use only)');
  const node = await FarmNode.start({ prepared, logger, version });
  const host = node.service.host;
  const self = host.address;
  const log = (record: Record<string, unknown>): void => write(JSON.stringify({ t: new Date().toISOString(), ...record }));
  logger.info({ bind: host.address, id: host.id, incarnation: host.incarnation, transport: host.transport.kind, transportReason: host.transport.reason, backend: host.backend, preset: host.settings.preset, join: host.settings.join, dataDir: prepared.dataDir, api: node.api?.url ?? null, mode: prepared.farm.mode, roles: prepared.farm.roles }, 'agent started');
  if ((prepared.options.transport ?? 'auto') === 'auto' && host.transport.kind !== 'native') logger.warn({ transport: host.transport.kind, reason: host.transport.reason }, 'native transport unavailable: crashed peers are found by probes only');
  host.on('event', (event) => log({ event: event.type, id: event.id, address: event.address, incarnation: event.incarnation, self }));
  node.subscribe((event) => {
    if (event.kind === 'admission') log({ event: `admission.${event.type}`, self, ...event.body });
    else if (event.kind === 'keyring') log({ event: `keyring.${event.type}`, self, ...event.body });
    else if (event.kind === 'component' && event.type !== 'started') log({ event: `component.${event.type}`, self, ...event.body });
  });
  // The signal handlers go in before the "started" line: a supervisor may send SIGTERM as
  // soon as it reads that line, and a signal without a handler kills the process outright.
  let onSignal: (signal: NodeJS.Signals) => void = () => {};
  const outcomePromise = new Promise<{ signal: NodeJS.Signals } | { failure: string }>((resolve) => {
    onSignal = (signal) => resolve({ signal });
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    host.once('error', (error) => resolve({ failure: error.stack ?? error.message }));
    host.once('exit', (code) => resolve({ failure: `agent worker exited with code ${code}` }));
  });
  log({ event: 'started', id: host.id, address: host.address, incarnation: host.incarnation, self, preset: host.settings.preset, join: host.settings.join, backend: host.backend, transport: host.transport.kind, transportReason: host.transport.reason, admission: node.service.admissionState, api: node.api?.url ?? null, mode: prepared.farm.mode });
  const outcome = await outcomePromise;
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
  if ('failure' in outcome) {
    log({ event: 'failed', self, error: outcome.failure });
    logger.error({ error: outcome.failure }, 'agent worker failed');
    await node.close().catch(() => {});
    return 1;
  }
  // A second signal while leaving means the operator does not want to wait.
  const force = (): void => {
    logger.warn('second signal while leaving: exiting without waiting');
    process.exit(1);
  };
  process.once('SIGTERM', force);
  process.once('SIGINT', force);
  await node.close();
  process.off('SIGTERM', force);
  process.off('SIGINT', force);
  log({ event: 'stopped', self, signal: outcome.signal });
  logger.info({ signal: outcome.signal }, 'agent stopped');
  return 0;
}
