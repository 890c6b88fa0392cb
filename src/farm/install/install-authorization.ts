import type { RpcCaller } from './farm-peer.js';
import { kServiceApply, kServiceRemove } from './install-rpc.js';

/**
 * Who may tell this node what to run: the farm nodes whose role says they manage the
 * farm. install.apply and install.remove change what a node runs, so they are taken
 * only from members that announce `controller` or `management` in their `roles` tag;
 * install.have and the chunk channel (reading packages) stay open to every member.
 *
 * Where roles come from: `galaxy agent --role R` (or `roles:` in the config file) puts
 * them, sorted and comma-separated, in the member's `roles` tag (farm-service.ts), the
 * same tag the controllers are found by. A tag is the node's own claim, carried by
 * gossip sealed under the farm keyring: in an admission farm only admitted members can
 * make any claim at all, and a controller approves the roles a node asked for; in a
 * --key farm every key holder is trusted alike; an --insecure farm trusts everyone.
 * Checking the certificate's roles instead would need them carried with each request,
 * which the farm RPC frame does not do yet. The caller is found by the id its frame
 * names; a caller that is not a live member is refused.
 */
export const kInstallRoles: readonly string[] = Object.freeze(['controller', 'management']);
export const kGuardedInstallServices: readonly string[] = Object.freeze([kServiceApply, kServiceRemove]);

/** A member as the authorizer needs it (MemberView fits). */
export interface InstallMember {
  readonly id: string;
  readonly status: string;
  readonly tags: Readonly<Record<string, string>>;
}

/** The roles a member announces in its `roles` tag. */
export function memberRoles(member: Pick<InstallMember, 'tags'>): string[] {
  return (member.tags['roles'] ?? '').split(',').filter((role) => role !== '');
}

/**
 * An `authorize` for FarmInstall: true for a guarded service only when the caller is a
 * live member (alive or suspect) holding one of `roles`; true for every other service.
 */
export function installAuthorizer(members: () => readonly InstallMember[], roles: readonly string[] = kInstallRoles): (from: RpcCaller, service: string) => boolean {
  return (from, service) => {
    if (!kGuardedInstallServices.includes(service)) return true;
    const member = members().find((m) => m.id === from.id);
    if (member === undefined || (member.status !== 'alive' && member.status !== 'suspect')) return false;
    return memberRoles(member).some((role) => roles.includes(role));
  };
}
