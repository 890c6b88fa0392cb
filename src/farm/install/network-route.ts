import type { Route } from '../../node/messenger/messenger-channel.js';
import type { NetworkRoute } from './farm-peer.js';

/**
 * Members' addresses on an extra network (issue 19: administrative traffic on the admin
 * network a profile selects): a member running `galaxy agent --network NAME=HOST`
 * listens at HOST on its farm port and publishes `net.NAME=HOST` in the FMIDB. The route
 * to it over NAME is that host on the port of its farm address, sent from this node's
 * own socket on NAME when it has one (else from the farm socket, to that host).
 */
export interface NetworkRouteSources {
  /** This node's extra networks, by name. */
  readonly ownNetworks: () => ReadonlySet<string>;
  /** An attribute of a node in the FMIDB (`net.NAME`), or undefined. */
  readonly attribute: (node: string, key: string) => string | undefined;
  /** A member's farm address ("host:port" or "[v6]:port"), or undefined when it is not a live member. */
  readonly farmAddress: (node: string) => string | undefined;
}

export function networkRoute(sources: NetworkRouteSources): NetworkRoute {
  return (peer: string, network: string): Route | null => {
    const host = sources.attribute(peer, `net.${network}`);
    const farm = sources.farmAddress(peer);
    if (host === undefined || host.length === 0 || farm === undefined) return null;
    const colon = farm.lastIndexOf(':');
    if (colon <= 0) return null;
    const port = farm.slice(colon + 1);
    const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    return sources.ownNetworks().has(network) ? { address, via: network } : { address };
  };
}
