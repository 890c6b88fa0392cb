import type { ComponentPeer } from '../src/farm/components/host/component-protocol.js';
import type { FarmNode } from '../src/ops/agent/farm-node.js';
import type { MemberView } from '../src/core/membership/member-view.js';

/**
 * Issue 14's starting point for the main thread's membership readers, kept verbatim (from
 * FarmNode.peersChanged and notifyPeers) so that bench:path can measure them beside the
 * readers that apply deltas: on every turn of the event loop with membership events, the
 * whole member list rebuilt from the shared table (AgentHost.members, with every member's
 * tags copied by FarmService.members), handed to the FMIDB, and scanned into the peer lists
 * of every component kind. Attached beside the agent's own listeners; returns the detach.
 */
export function attachBaselineMemberReaders(node: FarmNode, hostKinds: () => readonly string[]): () => void {
  let pending = false;
  let attached = true;
  const notifyPeers = (members: readonly MemberView[]): void => {
    const peers = new Map<string, ComponentPeer[]>();
    for (const member of members) {
      if (member.self || (member.status !== 'alive' && member.status !== 'suspect')) continue;
      for (const kind of (member.tags['components'] ?? '').split(',')) {
        if (kind === '') continue;
        const list = peers.get(kind) ?? [];
        list.push({ id: member.id, address: member.address, status: member.status });
        peers.set(kind, list);
      }
    }
    for (const kind of hostKinds()) node.componentHost.membership(kind, peers.get(kind) ?? []);
  };
  const listener = (): void => {
    if (pending) return;
    pending = true;
    setImmediate(() => {
      pending = false;
      if (!attached) return;
      const members = node.service.members();
      node.data.membersChanged(members);
      notifyPeers(members);
    });
  };
  node.service.host.on('event', listener);
  return () => {
    attached = false;
    node.service.host.off('event', listener);
  };
}
