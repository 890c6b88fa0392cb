import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { lookup, Resolver } from 'node:dns/promises';
import { basename, dirname } from 'node:path';
import { canonicalSocketAddress } from '../transport/socket-address.js';
import { parseSeedFile } from './seed-file.js';
import { resolveSrvSeeds, type SrvResolver } from './srv-seeds.js';
import type { MulticastDiscovery } from './multicast-discovery.js';

/**
 * Where a new node finds the farm when it is not given seeds by hand (the paper's node
 * insertion starts by discovering the farm): a seed file and DNS SRV records, merged with
 * the --join list. `resolve()` asks every source once; `watch()` re-reads the file when
 * it changes (the folder is watched, so a file replaced by rename is seen too, and it is
 * re-read every refreshIntervalMs in case an event was missed) and re-resolves SRV every
 * refreshIntervalMs, and reports the seed set whenever it differs from the last one.
 */
export interface SeedDiscoveryOptions {
  /** Seeds given by hand (--join), canonical; always part of the result. */
  readonly join: readonly string[];
  readonly seedsFile: string | null;
  /** SRV name, e.g. "_galaxy._udp.farm.example.". */
  readonly seedsSrv: string | null;
  /** DNS servers ("ip" or "ip:port") for SRV and host names; empty: the system's. */
  readonly dnsServers: readonly string[];
  /** This node's own address, never a seed of its own. */
  readonly self: string;
  /** Seeds heard on the LAN multicast group (--discovery-multicast), opened by the caller; a new one is reported at once. */
  readonly multicast?: MulticastDiscovery | null;
  /** How often SRV is re-resolved and the file re-read while watching, ms. */
  readonly refreshIntervalMs?: number;
}

export interface DiscoveredSeeds {
  /** Canonical addresses: --join first, then the file's, then SRV's, then multicast's; without self and duplicates. */
  readonly addresses: readonly string[];
  /** Whether a source named this node itself: it is one of the farm's seeds, so it may start the farm alone. */
  readonly selfListed: boolean;
  /** What a source could not give ("seeds file …: ENOENT", "SRV …: ENOTFOUND"); logged, not fatal. */
  readonly problems: readonly string[];
}

export const kDiscoveryRefreshIntervalMsDefault = 30_000;
/** File events come in bursts (truncate, write, rename): one re-read after this quiet time. */
const kFileSettleMs = 50;
/** The result holds at most this many seeds: enough to find the farm through. */
export const kDiscoveredSeedsMax = 1024;

export class SeedDiscovery {
  private readonly options: SeedDiscoveryOptions;
  private readonly resolver: (SrvResolver & Pick<Resolver, 'resolve4' | 'resolve6'>) | null;
  private watcher: FSWatcher | null = null;
  private timer: NodeJS.Timeout | null = null;
  private settleTimer: NodeJS.Timeout | null = null;
  private last = '';
  private refreshing: Promise<void> | null = null;
  private closed = false;

  constructor(options: SeedDiscoveryOptions) {
    this.options = options;
    if (options.dnsServers.length > 0) {
      const resolver = new Resolver({ timeout: 2000, tries: 2 });
      resolver.setServers([...options.dnsServers]);
      this.resolver = resolver;
    } else {
      this.resolver = null;
    }
  }

  /** Whether any source beyond --join is configured. */
  get active(): boolean {
    return this.options.seedsFile !== null || this.options.seedsSrv !== null || (this.options.multicast ?? null) !== null;
  }

  async resolve(): Promise<DiscoveredSeeds> {
    const problems: string[] = [];
    const found: string[] = [...this.options.join];
    if (this.options.seedsFile !== null) found.push(...(await this.fromFile(this.options.seedsFile, problems)));
    if (this.options.seedsSrv !== null) {
      try {
        const srv = await resolveSrvSeeds(this.options.seedsSrv, this.resolver ?? new Resolver({ timeout: 2000, tries: 2 }));
        found.push(...srv.addresses);
        problems.push(...srv.problems.map((p) => `SRV ${this.options.seedsSrv} target ${p}`));
      } catch (error) {
        problems.push(`SRV ${this.options.seedsSrv}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
      }
    }
    if (this.options.multicast != null) found.push(...this.options.multicast.seeds());
    const addresses = [...new Set(found)].filter((a) => a !== this.options.self).slice(0, kDiscoveredSeedsMax);
    return { addresses, selfListed: found.includes(this.options.self), problems };
  }

  /** Calls onChange with each seed set that differs from the previous one (the first included). */
  watch(onChange: (seeds: DiscoveredSeeds) => void): void {
    // A request that finds a refresh under way runs once more after it: a multicast seed
    // heard during a slow SRV lookup must not wait for the next periodic refresh.
    let again = false;
    const refresh = (): void => {
      if (this.closed) return;
      if (this.refreshing !== null) {
        again = true;
        return;
      }
      again = false;
      this.refreshing = this.resolve()
        .then((seeds) => {
          const key = seeds.addresses.join(',');
          if (this.closed || key === this.last) return;
          this.last = key;
          onChange(seeds);
        })
        .finally(() => {
          this.refreshing = null;
          if (again) refresh();
        });
    };
    const file = this.options.seedsFile;
    if (file !== null) {
      try {
        this.watcher = watch(dirname(file), (_event, name) => {
          if (name !== null && name !== basename(file)) return;
          if (this.settleTimer !== null) clearTimeout(this.settleTimer);
          this.settleTimer = setTimeout(refresh, kFileSettleMs);
        });
        this.watcher.on('error', () => {});
      } catch {
        // The folder may not exist yet: the periodic re-read finds the file once it does.
      }
    }
    this.options.multicast?.onChange(() => refresh());
    this.timer = setInterval(refresh, this.options.refreshIntervalMs ?? kDiscoveryRefreshIntervalMsDefault);
    this.timer.unref();
    refresh();
  }

  close(): void {
    this.closed = true;
    this.watcher?.close();
    if (this.timer !== null) clearInterval(this.timer);
    if (this.settleTimer !== null) clearTimeout(this.settleTimer);
  }

  private async fromFile(file: string, problems: string[]): Promise<string[]> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      problems.push(`seeds file ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
      return [];
    }
    const entries = parseSeedFile(text);
    problems.push(...entries.problems.map((p) => `seeds file ${file} ${p}`));
    const addresses = [...entries.addresses];
    for (const { host, port } of entries.names) {
      try {
        for (const ip of await this.resolveHost(host)) {
          const text = canonicalSocketAddress(ip, port);
          if (text !== null) addresses.push(text);
        }
      } catch (error) {
        problems.push(`seeds file ${file}: ${host}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
      }
    }
    return addresses;
  }

  /** A host name's addresses: through the configured DNS servers, else the system's resolver (with /etc/hosts). */
  private async resolveHost(host: string): Promise<string[]> {
    if (this.resolver === null) return (await lookup(host, { all: true })).map((entry) => entry.address);
    try {
      const v4 = await this.resolver.resolve4(host);
      if (v4.length > 0) return v4;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENODATA' && (error as NodeJS.ErrnoException).code !== 'ENOTFOUND') throw error;
    }
    return this.resolver.resolve6(host);
  }
}
