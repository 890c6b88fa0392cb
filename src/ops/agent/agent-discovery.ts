import type { AgentLogger } from '../../node/util/agent-logger.js';
import type { SeedDiscovery } from '../../node/discovery/seed-discovery.js';
import type { MulticastGroup } from '../../node/discovery/multicast-discovery.js';

/**
 * The discovery settings of `galaxy agent`: a seed file (--seeds-file), DNS SRV
 * (--seeds-srv), the DNS servers to ask (--dns-server; default the system's) and the LAN
 * multicast group (--discovery-multicast).
 */
export interface DiscoveryInvocation {
  readonly seedsFile: string | null;
  readonly seedsSrv: string | null;
  readonly dnsServers: readonly string[];
  /** The group to listen on (and, on a controller, announce to), or null: no multicast discovery. */
  readonly multicast: MulticastGroup | null;
}

/** First pause between two rounds of discovery that found no seed; doubled up to kDiscoveryRetryMsMax. */
const kDiscoveryRetryMsMin = 500;
const kDiscoveryRetryMsMax = 10_000;

/**
 * The seeds to join through at start. A node that creates the farm (--bootstrap), or
 * that a source names among the seeds itself, starts with whatever was found, possibly
 * none (it is the farm's first member, or will be joined by the others); any other waits until a source names at
 * least one seed (the provisioning may write the file or the DNS records after the
 * machine boots), asking again with a backoff, and logs what each source lacked. Returns
 * null as soon as `stop` aborts (a signal arrived): a supervisor stopping a waiting agent
 * must not wait for the backoff.
 */
export async function discoverSeeds(discovery: SeedDiscovery, bootstrap: boolean, logger: AgentLogger, stop: AbortSignal): Promise<readonly string[] | null> {
  let pauseMs = kDiscoveryRetryMsMin;
  let reported = '';
  for (;;) {
    const seeds = await discovery.resolve();
    const problems = seeds.problems.join('; ');
    if (problems !== '' && problems !== reported) logger.warn({ problems: seeds.problems }, 'seed discovery: a source gave nothing');
    reported = problems;
    if (seeds.addresses.length > 0 || seeds.selfListed || bootstrap) {
      logger.info({ seeds: seeds.addresses }, 'seed discovery: joining through these seeds');
      return seeds.addresses;
    }
    if (stop.aborted) return null;
    if (pauseMs === kDiscoveryRetryMsMin) logger.info('seed discovery: no seed yet; waiting for the seed file, the SRV records or a multicast announcement to name one');
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, pauseMs);
      function done(): void {
        clearTimeout(timer);
        stop.removeEventListener('abort', done);
        resolve();
      }
      stop.addEventListener('abort', done);
    });
    if (stop.aborted) return null;
    pauseMs = Math.min(kDiscoveryRetryMsMax, pauseMs * 2);
  }
}
