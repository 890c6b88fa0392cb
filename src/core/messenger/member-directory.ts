import type { DeliveryMode } from './envelope.js';

/**
 * Who may send to this node, and where each member is: the messenger's view of the
 * farm's credentials. A node id gets into membership only through gossip sealed under
 * the farm key, so a member of the table is a node some key holder introduced;
 * revocations (farm control) are remembered here and win over membership, since a
 * revoked node stays in the table until it is declared dead. Addresses route sends by
 * node id and bind datagram senders to their source address.
 */
export type MemberStatus = 'alive' | 'suspect' | 'dead' | 'left';

export interface DirectoryEntry {
  readonly address: string;
  readonly status: MemberStatus;
}

/** Why a sender was refused; 'ok' when it was not. Values are metric labels: keep them stable. */
export type SenderVerdict = 'ok' | 'unknown-sender' | 'revoked-sender' | 'self-sender' | 'address-mismatch';

/** Other addresses one member may have (its extra networks). */
export const kAliasesMax = 8;

/** Revoked ids remembered at most: more than a farm revokes in its life, so the oldest go first. */
export const kRevokedIdsMax = 4096;

export class MemberDirectory {
  private readonly entries = new Map<string, DirectoryEntry>();
  private readonly revoked = new Set<string>();
  /** Per member, its hosts on other networks (on its farm port) a datagram may come from too. */
  private readonly aliases = new Map<string, ReadonlySet<string>>();

  /** membersMax bounds the table as it bounds membership's (entries past it are a bug upstream and are refused). */
  constructor(
    readonly selfId: string,
    readonly membersMax: number,
  ) {}

  /** Sets what membership says of one member; false when the directory is full and the id is new. */
  set(id: string, address: string, status: MemberStatus): boolean {
    if (!this.entries.has(id) && this.entries.size >= this.membersMax) return false;
    this.entries.set(id, { address, status });
    return true;
  }

  /** A reaped member: membership forgot it, so must we. */
  remove(id: string): void {
    this.entries.delete(id);
  }

  /**
   * The member's hosts on other networks, as the farm's configuration names them (issue
   * 19: a cluster's definition selects a network per member, and its datagrams come from
   * its address there, on its farm port): a datagram from one of them, on the port of the
   * member's farm address, passes the address rule too. An empty list removes them. At
   * most membersMax members hold some, each at most kAliasesMax.
   */
  setAliases(id: string, hosts: readonly string[]): boolean {
    if (hosts.length === 0) {
      this.aliases.delete(id);
      return true;
    }
    if (!this.aliases.has(id) && this.aliases.size >= this.membersMax) return false;
    this.aliases.set(id, new Set(hosts.slice(0, kAliasesMax)));
    return true;
  }

  aliasesOf(id: string): readonly string[] {
    return [...(this.aliases.get(id) ?? [])];
  }

  lookup(id: string): DirectoryEntry | undefined {
    return this.entries.get(id);
  }

  /** The farm revoked this node: nothing it sends is taken from now on. */
  revoke(id: string): void {
    if (this.revoked.has(id)) return;
    if (this.revoked.size >= kRevokedIdsMax) this.revoked.delete(this.revoked.values().next().value!);
    this.revoked.add(id);
  }

  isRevoked(id: string): boolean {
    return this.revoked.has(id);
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * The authentication rule, applied after the farm key opened the message: the claimed
   * sender must be a member of the table (any status: a dead member's broadcast may still
   * be relayed), not revoked, not this node (our own messages never come back over the
   * network), and a datagram must come from the member's own address (or one of its
   * aliases, setAliases). Streams are not
   * bound to an address: an inbound connection's port is the peer's ephemeral one.
   */
  check(sender: string, mode: DeliveryMode, peer: string): SenderVerdict {
    if (sender === this.selfId) return 'self-sender';
    if (this.revoked.has(sender)) return 'revoked-sender';
    const entry = this.entries.get(sender);
    if (entry === undefined) return 'unknown-sender';
    if (mode === 'datagram' && entry.address !== peer && !this.isAlias(sender, entry.address, peer)) return 'address-mismatch';
    return 'ok';
  }

  /** Whether `peer` is one of the member's alias hosts on the port of its farm address. */
  private isAlias(id: string, farmAddress: string, peer: string): boolean {
    const hosts = this.aliases.get(id);
    if (hosts === undefined) return false;
    const split = splitAddress(peer);
    return split !== null && hosts.has(split.host) && split.port === splitAddress(farmAddress)?.port;
  }
}

/** "a.b.c.d:port" or "[v6]:port" as host (no brackets) and port text; null without a port. */
export function splitAddress(address: string): { readonly host: string; readonly port: string } | null {
  const colon = address.lastIndexOf(':');
  if (colon <= 0) return null;
  const host = address.slice(0, colon);
  return { host: host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host, port: address.slice(colon + 1) };
}
