import type { Resolver } from 'node:dns/promises';
import { isIP } from 'node:net';
import { canonicalSocketAddress } from '../transport/socket-address.js';

/**
 * Seeds from DNS SRV records (`galaxy agent --seeds-srv _galaxy._udp.farm.example.`):
 * each record names a target host and the gossip port; targets are resolved to
 * addresses (A, then AAAA) through the same resolver. Records come back in RFC 2782
 * order: lowest priority first, then higher weight first, so the seeds a farm's DNS
 * prefers are tried first. The agent joins through all of them, so weights only order.
 */
export interface SrvSeeds {
  /** Canonical "ip:port" addresses. */
  readonly addresses: readonly string[];
  /** Targets that did not resolve, "host: why". */
  readonly problems: readonly string[];
}

/** An SRV answer with more records than this is cut here. */
export const kSrvRecordsMax = 256;

/** The subset of node:dns/promises' Resolver used here; a test points it at its own server. */
export type SrvResolver = Pick<Resolver, 'resolveSrv' | 'resolve4' | 'resolve6'>;

export async function resolveSrvSeeds(name: string, resolver: SrvResolver): Promise<SrvSeeds> {
  const records = (await resolver.resolveSrv(name)).sort((a, b) => a.priority - b.priority || b.weight - a.weight).slice(0, kSrvRecordsMax);
  const addresses: string[] = [];
  const problems: string[] = [];
  for (const record of records) {
    let hosts: string[];
    try {
      hosts = await resolveTarget(record.name, resolver);
    } catch (error) {
      problems.push(`${record.name}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
      continue;
    }
    for (const host of hosts) {
      const text = canonicalSocketAddress(host, record.port);
      if (text !== null && !addresses.includes(text)) addresses.push(text);
    }
  }
  return { addresses, problems };
}

async function resolveTarget(target: string, resolver: SrvResolver): Promise<string[]> {
  if (isIP(target) !== 0) return [target];
  try {
    const v4 = await resolver.resolve4(target);
    if (v4.length > 0) return v4;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENODATA' && (error as NodeJS.ErrnoException).code !== 'ENOTFOUND') throw error;
  }
  return resolver.resolve6(target);
}
