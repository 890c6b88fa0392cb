import type { PreparedAgent } from '../../ops/agent/agent-command.js';
import { silentAgentLogger, type AgentLogger } from '../../node/util/agent-logger.js';
import { FarmNode } from './farm-node.js';
import { SeedDiscovery } from '../../node/discovery/seed-discovery.js';
import { discoverSeeds } from './agent-discovery.js';
import { MulticastDiscovery, multicastInterfaceOf } from '../../node/discovery/multicast-discovery.js';

/**
 * Signals after the first that end the agent without waiting for the graceful leave: the
 * second is taken for the first arriving again (a terminal and a supervisor both sending).
 */
const kSignalsToForceExit = 2;

/** Writes one JSON line. */
export type LineWriter = (line: string) => void;

/**
 * Runs `galaxy agent` until SIGTERM or SIGINT, then leaves gracefully. Logs one JSON line
 * per membership and admission event on stdout, after a "started" line and before a
 * "stopped" line; structured logs go to the logger (stderr). Resolves with the exit
 * status: 0 after a graceful stop, 1 when the agent worker died.
 */
export async function runFarmAgent(given: PreparedAgent, write: LineWriter = (line) => process.stdout.write(`${line}\n`), logger: AgentLogger = silentAgentLogger(), version = '0.0.0'): Promise<number> {
  let prepared = given;
  const identity = prepared.identity;
  if (identity.created) logger.info({ id: identity.id, identityFile: identity.path }, 'new node identity');
  if (identity.clockBehind) logger.warn({ incarnation: identity.incarnation, identityFile: identity.path }, 'wall clock is not past the last incarnation (clock stepped back, or a restart within a second): took last + 1');
  if (prepared.farm.mode === 'insecure') logger.warn('insecure farm: no admission control and no encryption (lab use only)');
  if (prepared.farm.autoApprove) logger.warn('auto-approval is on: every node that asks is admitted (demo and lab use only)');
  // The handlers go in before the node starts, which can take seconds (components spawn):
  // a signal then stops the node gracefully once it is up, instead of killing the process
  // with a half-started worker. A shell's Ctrl-C reaches every process of the foreground
  // group, and a supervisor (the demo, a process manager) often forwards a signal of its
  // own, so the second signal is taken for the first arriving twice and must not cut the
  // graceful leave short; only a third means the operator will not wait. Even then the
  // exit is orderly: Node tears the worker and its native socket down (native/udp_socket.h).
  let firstSignal: NodeJS.Signals | null = null;
  let signalsAfterFirst = 0;
  let onFirstSignal: (signal: NodeJS.Signals) => void = () => {};
  const onProcessSignal = (signal: NodeJS.Signals): void => {
    if (firstSignal === null) {
      firstSignal = signal;
      onFirstSignal(signal);
      return;
    }
    signalsAfterFirst++;
    if (signalsAfterFirst < kSignalsToForceExit) {
      logger.info({ signal }, 'already leaving gracefully; one more signal exits without waiting');
      return;
    }
    logger.warn({ signal }, 'signal while leaving: exiting without waiting');
    process.exit(1);
  };
  process.on('SIGTERM', onProcessSignal);
  process.on('SIGINT', onProcessSignal);
  const group = prepared.discovery.multicast;
  const multicast = group === null ? null : new MulticastDiscovery({ group, interfaceAddress: multicastInterfaceOf(prepared.options.bind ?? ''), farmCa: prepared.farm.farmCa, self: prepared.options.bind ?? '' });
  const discovery = new SeedDiscovery({ ...prepared.discovery, multicast, join: prepared.options.join ?? [], self: prepared.options.bind ?? '' });
  try {
    await multicast?.open();
    if (discovery.active) {
      const stop = new AbortController();
      onFirstSignal = () => stop.abort();
      const seeds = await discoverSeeds(discovery, prepared.farm.bootstrap, logger, stop.signal);
      if (seeds === null) return 0;
      prepared = { ...prepared, options: { ...prepared.options, join: seeds } };
    }
    const node = await FarmNode.start({ prepared, logger, version });
    const host = node.service.host;
    const self = host.address;
    const log = (record: Record<string, unknown>): void => write(JSON.stringify({ t: new Date().toISOString(), ...record }));
    logger.info({ bind: host.address, id: host.id, incarnation: host.incarnation, transport: host.transport.kind, transportReason: host.transport.reason, backend: host.backend, preset: host.settings.preset, join: host.settings.join, dataDir: prepared.dataDir, api: node.api?.url ?? null, apiFingerprint: node.api?.fingerprint ?? null, mode: prepared.farm.mode, roles: prepared.farm.roles }, 'agent started');
    if ((prepared.options.transport ?? 'auto') === 'auto' && host.transport.kind !== 'native') logger.warn({ transport: host.transport.kind, reason: host.transport.reason }, 'native transport unavailable: crashed peers are found by probes only');
    host.on('event', (event) => log({ event: event.type, id: event.id, address: event.address, incarnation: event.incarnation, self }));
    node.subscribe((event) => {
      if (event.kind === 'admission') log({ event: `admission.${event.type}`, self, ...event.body });
      else if (event.kind === 'keyring') log({ event: `keyring.${event.type}`, self, ...event.body });
      else if (event.kind === 'component' && event.type !== 'started') log({ event: `component.${event.type}`, self, ...event.body });
    });
    const outcomePromise = new Promise<{ signal: NodeJS.Signals } | { failure: string }>((resolve) => {
      if (firstSignal !== null) resolve({ signal: firstSignal });
      onFirstSignal = (signal) => resolve({ signal });
      host.once('error', (error) => resolve({ failure: error.stack ?? error.message }));
      host.once('exit', (code) => resolve({ failure: `agent worker exited with code ${code}` }));
    });
    log({ event: 'started', id: host.id, address: host.address, incarnation: host.incarnation, self, preset: host.settings.preset, join: host.settings.join, backend: host.backend, transport: host.transport.kind, transportReason: host.transport.reason, admission: node.service.admissionState, api: node.api?.url ?? null, ...(node.api?.fingerprint == null ? {} : { apiFingerprint: node.api.fingerprint }), mode: prepared.farm.mode });
    // A changed seed set is logged for the operator and handed to the running node (its
    // membership, and its admission client if it still waits for a grant): one
    // that has lost every member (or never met one) joins through it at once, a connected
    // one re-contacts the seeds it does not hold alive on its reconnect timer, so a file
    // rewritten on every machine of a healthy farm does not set off a burst of full-state
    // exchanges (MembershipEngine.replaceSeeds). The watch's first report is the set the
    // node started with: nothing new to hand over.
    // Only a node holding the farm authority announces (see multicast-discovery.ts); one
    // approved as a controller later starts then, since the fingerprint is asked each time.
    multicast?.announce(() => {
      const farmCa = node.service.authorityFingerprint;
      return farmCa === null ? null : { farmCa, gossip: self };
    });
    let handed = JSON.stringify(host.settings.join);
    if (discovery.active) {
      discovery.watch((seeds) => {
        log({ event: 'discovery.seeds', self, seeds: seeds.addresses });
        const key = JSON.stringify(seeds.addresses);
        if (key === handed) return;
        handed = key;
        try {
          node.service.join(seeds.addresses);
        } catch (error) {
          logger.warn({ seeds: seeds.addresses, error: (error as Error).message }, 'seed discovery: the new seeds were not taken');
        }
      });
    }
    const outcome = await outcomePromise;
    discovery.close();
    // A signal from now on is one more after the first.
    firstSignal ??= 'SIGTERM';
    if ('failure' in outcome) {
      log({ event: 'failed', self, error: outcome.failure });
      logger.error({ error: outcome.failure }, 'agent worker failed');
      await node.close().catch(() => {});
      return 1;
    }
    await node.close();
    log({ event: 'stopped', self, signal: outcome.signal });
    logger.info({ signal: outcome.signal }, 'agent stopped');
    return 0;
  } finally {
    discovery.close();
    multicast?.close();
    process.off('SIGTERM', onProcessSignal);
    process.off('SIGINT', onProcessSignal);
    // Until the process exits (galaxy agent calls process.exit at once), a late signal
    // must find a handler: without one its default action would end the process with a
    // signal status. Signal handlers do not keep the loop alive.
    if (!process.listeners('SIGTERM').includes(ignoreAfterStop)) process.on('SIGTERM', ignoreAfterStop);
    if (!process.listeners('SIGINT').includes(ignoreAfterStop)) process.on('SIGINT', ignoreAfterStop);
  }
}

/** Installed once the agent has stopped: the process is on its way out already. */
function ignoreAfterStop(): void {}
