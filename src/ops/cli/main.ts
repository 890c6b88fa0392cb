#!/usr/bin/env node
// First: V8's young generation for the agent, before the modules below load (see the file).
import './agent-heap-flags.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { AgentUsageError, prepareAgent, type AgentFlags } from '../agent/agent-command.js';
import { runFarmAgent } from '../agent/run-farm-agent.js';
import { createAgentLogger } from '../../node/util/agent-logger.js';
import { kPresets } from '../../core/membership/config.js';
import { packageRoot } from '../../core/platform/package-root.js';

const version = (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;

const program = new Command()
  .name('galaxy')
    .description('Galaxy: farm management (SWIM + Lifeguard membership, admission, the FMIDB, SQL landscapes, farm service components), clusters with consensus views (galaxy cluster) and ordered channels (galaxy channel), cluster profiles with the Cluster Designer (galaxy profile, galaxy cluster design), and clusters built from profiles (components installed per role; members replaced and grown, upgraded one at a time with rollback, deleted: galaxy cluster create --profile, upgrade, delete)')
  .version(version);

/**
 * The `agent` command. `galaxy agent` loads only what an agent runs: the other commands'
 * modules (the API client, the simulator, profiles, the designer...) are imported only
 * for the other commands and for the top-level help (./commands.ts), which keeps an
 * agent's start-up CPU and memory down (issue 14 item 7).
 */
function registerAgentCommand(program: Command): void {
  program
    .command('agent')
    .description('run one farm member over UDP and TCP: join through seeds and log every membership change as a JSON line on stdout (structured logs go to stderr); SIGTERM or SIGINT leaves gracefully. Settings come from flags, then GALAXY_* environment variables, then --config, then defaults')
    .option('--bind <host:port>', 'address to bind and announce, "a.b.c.d:port" or "[v6]:port" (env GALAXY_BIND)')
    .option('--join <host:port,...>', 'seeds to join through, comma-separated; repeatable (env GALAXY_JOIN)', (value: string, previous: string[]) => [...previous, value], [] as string[])
    .option('--seeds-file <path>', 'seeds from a file: one address per line ("a.b.c.d:port", "[v6]:port" or "host:port"), # comments; re-read when it changes (env GALAXY_SEEDS_FILE)')
    .option('--seeds-srv <name>', 'seeds from DNS SRV records, e.g. _galaxy._udp.farm.example.; re-resolved every 30 s (env GALAXY_SEEDS_SRV)')
    .option('--discovery-multicast [group:port]', 'find controllers by LAN multicast (TTL 1): listen on the group, and announce to it every 2 s on a controller (default 239.255.77.1:7945; env GALAXY_DISCOVERY_MULTICAST=1 or the group)')
    .option('--dns-server <ip[:port]>', 'DNS server for --seeds-srv and seed-file host names; repeatable (default the system\'s; env GALAXY_DNS_SERVERS)', (value: string, previous: string[]) => [...previous, value], [] as string[])
    .option('--preset <name>', `timer preset: ${Object.keys(kPresets).join(', ')} (default lan; env GALAXY_PRESET)`)
    .option('--meta <key=value...>', 'tags announced with this member')
    .option('--network <name=host>', 'an extra network of this node (HOST: an address, or an interface whose address is taken): bind UDP and TCP at HOST on the farm port, take cluster traffic there, publish the attribute net.NAME=HOST for profiles to select; repeatable (env GALAXY_NETWORKS, comma-separated)', (value: string, previous: string[]) => [...previous, value], [] as string[])
    .option('--key <base64>', 'farm key (AES-256, base64); repeat to install several, the first encrypts (env GALAXY_KEYS, comma-separated)', (value: string, previous: string[]) => [...previous, value], [] as string[])
    .option('--transport <kind>', 'datagram transport: auto (native when built), native (ICMP-aware, batched) or dgram (default auto; env GALAXY_TRANSPORT)')
    .option('--config <file>', 'YAML config file: bind, join, preset, meta, networks, transport, keys, dataDir, logLevel, membership, roles, api, apiTls, apiTlsCert, apiTlsKey, apiInsecure, seedsFile, seedsSrv, dnsServers, discoveryMulticast, insecure, farmCa')
    .option('--data-dir <dir>', 'directory holding identity.json (node id and last incarnation); default ~/.galaxy/<bind> (env GALAXY_DATA_DIR)')
    .option('--log-level <level>', 'level of the JSON logs on stderr: fatal, error, warn, info, debug, trace, silent (default info; env GALAXY_LOG_LEVEL)')
    .option('--role <role>', 'role to ask the farm for: controller, management, ...; repeatable or comma-separated (env GALAXY_ROLES)', (value: string, previous: string[]) => [...previous, value], [] as string[])
    .option('--bootstrap', 'create a new farm (its authority and keyring) on this controller when it holds none; needs --role controller')
    .option('--auto-approve', 'approve every node that asks to join (demos and labs only); needs --role controller')
    .option('--farm-ca <fingerprint>', 'accept credentials only from the farm authority with this fingerprint (galaxy node on a controller shows it)')
    .option('--insecure', 'an open lab farm: no admission and no encryption (env GALAXY_INSECURE=1)')
    .option('--api <host:port>', `HTTP API address, loopback by default (default ${'127.0.0.1:7600'}; "off" disables it; env GALAXY_API_BIND). Beyond loopback it needs TLS or --api-insecure`)
    .option('--api-tls-cert <file>', 'serve the API over HTTPS/WSS with this PEM certificate (with --api-tls-key; env GALAXY_API_TLS_CERT)')
    .option('--api-tls-key <file>', 'the PEM private key of --api-tls-cert (env GALAXY_API_TLS_KEY)')
    .option('--api-tls <self-signed>', 'serve the API over HTTPS/WSS with a self-signed certificate made once in the data directory; the agent prints its fingerprint for --api-fingerprint (env GALAXY_API_TLS)')
    .option('--api-insecure', 'allow a non-loopback API address in plain HTTP: tokens cross the network in clear (trusted networks only; env GALAXY_API_INSECURE=1)')
    .action(async (flags: AgentFlags, command: Command) => {
      let prepared;
      try {
        prepared = prepareAgent(flags, process.env);
      } catch (error) {
        if (!(error instanceof AgentUsageError)) throw error;
        command.error(`error: ${error.message}`, { exitCode: error.exitCode, code: error.code });
      }
      const logger = createAgentLogger(prepared.logLevel);
      let code: number;
      try {
        code = await runFarmAgent(prepared, undefined, logger, version);
      } catch (error) {
        logger.error({ error: (error as Error).message }, 'agent failed to start');
        console.error(`galaxy agent: ${(error as Error).message}`);
        code = 1;
      }
      // At once, not when the loop drains: a natural exit first closes the signal handlers
      // (the default action is back) and then tears V8 down for tens of ms, a window in which
      // one more Ctrl-C or SIGTERM ended the process with a signal status (test/agent-signals.test.ts).
      process.exit(code);
    });
}

async function main(): Promise<void> {
  if (process.argv[2] === 'agent') registerAgentCommand(program);
  else {
    const { registerCommands } = await import('./commands.js');
    registerCommands(program, version, registerAgentCommand);
  }
  await program.parseAsync(process.argv);
}

// Not a top-level await: the program is also bundled as CommonJS (scripts/bundle.mjs),
// and a rejection still ends the process with its error, as an unhandled one does.
void main();
