import { z } from 'zod';
import { kEnvelopeCluster } from '../../core/cluster-channels/cluster-channels-envelope.js';
import { kMessageData, kMessageStable } from '../../core/cluster/cluster-wire.js';
import { splitAddress } from '../../core/messenger/member-directory.js';
import { parseSocketAddress } from '../../node/transport/socket-address.js';
import { kNodeIdPattern } from './cluster-name.js';

/**
 * Network selection at runtime (issue 19, item 1): a cluster made from a profile carries,
 * in its FMIDB definition, each member's address for each kind of traffic (the profile's
 * `networks:`, the placement's `networks` per member). Every member reads it, so every
 * member sends each kind of cluster traffic to the address its peer's profile choice
 * names, and accepts datagrams from those addresses.
 *
 * Which traffic is which kind (clusterTrafficKind):
 *  - failureDetection: the cluster core's view protocol and focused failure detector —
 *    heartbeats (with their acks), join, leave, newer, and the Paxos rounds of a view
 *    change (prepare, promise, accept, accepted, reject, install, installed);
 *  - components: what the channels carry — the group's data messages (reliable channel
 *    packs) and their stability reports, best-effort channel datagrams, slow-member reports;
 *  - admin: the lifecycle's administrative round trips with a member — install.apply and
 *    install.remove from the steward (installs, upgrades, rollbacks, removals, each with
 *    its start and settle window), their answers, and the package fetch an install
 *    triggers (install.have and chunks) — go over the member's extra network whose host
 *    is its admin selection (adminNetwork). Farm SWIM, the FMIDB, admission, farm
 *    control and every other farm RPC stay on the farm address.
 *
 * An address is a host (v4 or v6, no port); a member listens there on its farm port (the
 * agent's `--network NAME=HOST`). A host that is the member's farm host means the farm
 * socket, as without a selection.
 */
export const kClusterTrafficKinds = ['admin', 'components', 'failureDetection'] as const;
export type ClusterTrafficKind = (typeof kClusterTrafficKinds)[number];

/** A host address as a definition holds it: v4 dotted or v6 text, canonical (checkHost). */
const kHostSchema = z.string().max(64).refine((text) => canonicalHost(text) === text, { message: 'must be a host address in canonical form (a.b.c.d, or a v6 address with every group written out)' });

export const kMemberNetworksSchema = z.object({ admin: kHostSchema, components: kHostSchema, failureDetection: kHostSchema }).strict();
export type MemberNetworks = z.infer<typeof kMemberNetworksSchema>;

/** Per member node id, its hosts; members absent use their farm address for everything. */
export const kClusterNetworksSchema = z.record(z.string().regex(kNodeIdPattern), kMemberNetworksSchema).refine((map) => Object.keys(map).length <= 1024, 'names at most 1,024 members');
export type ClusterNetworks = z.infer<typeof kClusterNetworksSchema>;

/** The canonical text of a host address (as the transports write peers), or null when it is none (an interface name, a wildcard, garbage). */
export function canonicalHost(text: string): string | null {
  if (typeof text !== 'string' || text.length === 0 || text.length > 64) return null;
  const address = parseSocketAddress(text.includes(':') ? `[${text}]:1` : `${text}:1`);
  if (address === null) return null;
  if (address.family === 4 ? address.host === '0.0.0.0' : /^[0:]+$/.test(address.host)) return null;
  return address.host;
}

/**
 * Checks and canonicalises the networks of a cluster input: each member's three hosts
 * must be host addresses (a profile attribute holding an interface name, "eth1", cannot
 * be sent to: refused with the member and the kind). Throws a RangeError naming it.
 */
export function checkNetworks(networks: Readonly<Record<string, Readonly<Record<ClusterTrafficKind, string>>>>): ClusterNetworks {
  const out: Record<string, MemberNetworks> = {};
  for (const [node, kinds] of Object.entries(networks)) {
    if (!kNodeIdPattern.test(node)) throw new RangeError(`networks: a node id is 16 hex digits, got ${JSON.stringify(node)}`);
    const member: Partial<Record<ClusterTrafficKind, string>> = {};
    for (const kind of kClusterTrafficKinds) {
      const host = canonicalHost(kinds[kind] as string);
      if (host === null) throw new RangeError(`networks.${node}.${kind}: ${JSON.stringify(kinds[kind])} is not a host address (a v4 or v6 address the member listens on; interface names cannot be sent to)`);
      member[kind] = host;
    }
    out[node] = member as MemberNetworks;
  }
  return out;
}

/**
 * Which selection a cluster envelope (cluster-channels-envelope.ts) follows: the channels'
 * data is `components`, the view protocol and the failure detector `failureDetection`.
 */
export function clusterTrafficKind(envelope: Uint8Array): 'components' | 'failureDetection' {
  if (envelope.length === 0 || envelope[0] !== kEnvelopeCluster) return 'components';
  // 'C', then the cluster core's message: u8 version, u8 type, ...
  const type = envelope[2];
  return type === kMessageData || type === kMessageStable ? 'components' : 'failureDetection';
}

/**
 * Where a send to `peer` of `kind` goes: its selected host on the port of its farm
 * address, and the extra network of this node to send it from (the one whose host is this
 * node's own selection for that kind), or null when the farm address serves (no selection
 * for the peer, its selection is its farm host, or its farm address is unknown here).
 */
export function routeFor(networks: ClusterNetworks | null | undefined, selfId: string, peer: string, kind: ClusterTrafficKind, peerFarmAddress: string | undefined, selfNetworks: ReadonlyMap<string, string>): { address: string; via?: string } | null {
  const host = networks?.[peer]?.[kind];
  if (host === undefined || peerFarmAddress === undefined) return null;
  const farm = splitAddress(peerFarmAddress);
  if (farm === null || farm.host === host) return null;
  const address = host.includes(':') ? `[${host}]:${farm.port}` : `${host}:${farm.port}`;
  const own = networks?.[selfId]?.[kind];
  const via = own === undefined ? undefined : selfNetworks.get(own);
  return via === undefined ? { address } : { address, via };
}

/**
 * The hosts each member's datagrams may come from besides its farm address, over all the
 * given definitions' networks (its components and failureDetection hosts), this node excluded.
 */
export function aliasHosts(all: ReadonlyArray<ClusterNetworks | null | undefined>, selfId: string): Map<string, string[]> {
  const out = new Map<string, Set<string>>();
  for (const networks of all) {
    for (const [node, member] of Object.entries(networks ?? {})) {
      if (node === selfId) continue;
      let hosts = out.get(node);
      if (hosts === undefined) out.set(node, (hosts = new Set()));
      hosts.add(member.components);
      hosts.add(member.failureDetection);
    }
  }
  return new Map([...out].map(([node, hosts]) => [node, [...hosts].sort()]));
}

/**
 * The extra network (`galaxy agent --network NAME=HOST`, published as `net.NAME`) a
 * member's administrative traffic goes over: the NAME whose published host is the
 * member's `admin` selection in `networks`. Undefined when there is no selection, when it
 * is the member's farm host, or when no `net.NAME` of the member holds it (an admin
 * selection by another attribute names no network the install can be routed and fetched
 * over: it stays on the farm address).
 */
export function adminNetwork(networks: ClusterNetworks | null | undefined, node: string, farmAddress: string | undefined, attributes: ReadonlyArray<{ readonly key: string; readonly value: unknown }>): string | undefined {
  const host = networks?.[node]?.admin;
  if (host === undefined) return undefined;
  const farm = farmAddress === undefined ? null : splitAddress(farmAddress);
  if (farm !== null && farm.host === host) return undefined;
  const names = attributes
    .filter((a) => a.key.startsWith('net.') && a.key.length > 4 && typeof a.value === 'string' && canonicalHost(a.value) === host)
    .map((a) => a.key.slice(4))
    .sort();
  return names[0];
}
