// Proves that the agent's component peer lists kept one membership event at a time
// (ComponentPeers, used by FarmNode on the main thread) equal the lists the agent used to
// recompute from the whole member list on every turn with events (issue 14's starting
// point, kept here verbatim as the reference): 4,000 seeded random events (joins, status
// changes, updates with changed tags, reaps, events about this node) over 300 members,
// the lists of every kind compared after each turn of 1 to 20 events (the turn FarmNode
// tells the components in), and the changed
// kinds reported cover every list that differs. A broken index that never drops a dead
// member is caught by the same comparison.
import { describe, expect, it } from 'vitest';
import { Prng } from '../src/core/util/prng.js';
import type { MembershipEventType } from '../src/core/membership/membership-event.js';
import { ComponentPeers, statusAfter, type PeerMember } from '../src/ops/agent/component-peers.js';

type Status = PeerMember['status'];
const kKinds = ['measurement', 'events', 'jobs', 'scripts', 'custom'];
const kTypes: MembershipEventType[] = ['join', 'update', 'suspect', 'alive', 'dead', 'leave', 'reap'];
const kSelf = 'ffffffffffffffff';

/** Issue 14's FarmNode.notifyPeers, verbatim but for returning the lists. */
function fullScan(members: readonly PeerMember[]): Map<string, { id: string; address: string; status: string }[]> {
  const peers = new Map<string, { id: string; address: string; status: string }[]>();
  for (const member of members) {
    if (member.self || (member.status !== 'alive' && member.status !== 'suspect')) continue;
    for (const kind of (member.tags['components'] ?? '').split(',')) {
      if (kind === '') continue;
      const list = peers.get(kind) ?? [];
      list.push({ id: member.id, address: member.address, status: member.status });
      peers.set(kind, list);
    }
  }
  return peers;
}

function sorted<T extends { id: string }>(list: readonly T[]): T[] {
  return [...list].sort((a, b) => (a.id < b.id ? -1 : 1));
}

interface Run {
  readonly mismatches: number;
  readonly unreported: number;
}

function run(seed: number, broken: boolean): Run {
  const random = new Prng(seed);
  // The table as the worker holds it (what the old code read) and what this thread knows from events.
  const table = new Map<string, PeerMember>();
  const peers = new ComponentPeers();
  let mismatches = 0;
  let unreported = 0;
  let before = fullScan([]);
  for (let turn = 0; turn < 400; turn++) {
    for (let n = 1 + random.nextInt(20); n > 0; n--) {
      const id = random.nextInt(60) === 0 ? kSelf : (0x1000 + random.nextInt(300)).toString(16).padStart(16, '0');
      const type = kTypes[random.nextInt(kTypes.length)]!;
      const previous = table.get(id);
      if (previous === undefined && type !== 'join') continue; // the engine's first word of a member is a join
      const kinds = kKinds.filter(() => random.nextInt(3) === 0);
      const tags = type === 'join' || type === 'update' ? { components: kinds.join(','), roles: 'x' } : { ...(previous?.tags ?? {}) };
      const address = type === 'update' && random.nextInt(2) === 0 ? `10.0.${random.nextInt(4)}.1:7946` : (previous?.address ?? `10.0.0.${random.nextInt(250)}:7946`);
      const status = statusAfter(type, previous?.status);
      if (status === null) table.delete(id);
      else table.set(id, { id, address, status, self: id === kSelf, tags });
      // What FarmNode does on each event: the member's new state, status from the event.
      if (id === kSelf) continue;
      const known = statusAfter(type, peers.statusOf(id));
      if (broken && known === 'dead') continue;
      peers.set(id, address, known, tags);
    }
    const reported = new Set(peers.takeChanged());
    const expected = fullScan([...table.values()]);
    for (const kind of kKinds) {
      const want = sorted(expected.get(kind) ?? []);
      if (JSON.stringify(sorted(peers.peersOf(kind))) !== JSON.stringify(want)) mismatches++;
      if (JSON.stringify(sorted(before.get(kind) ?? [])) !== JSON.stringify(want) && !reported.has(kind)) unreported++;
    }
    before = expected;
  }
  return { mismatches, unreported };
}

describe('ComponentPeers (the main thread\'s peer lists from membership deltas)', () => {
  it('equals the full recomputation after every turn, and reports every kind whose list changed', () => {
    for (const seed of [1, 2, 3, 14]) expect(run(seed, false), `seed ${seed}`).toEqual({ mismatches: 0, unreported: 0 });
  });

  it('catches a broken index that keeps dead members', () => {
    expect(run(1, true).mismatches).toBeGreaterThan(0);
  });

  it('keeps the status of an update from the event before it', () => {
    expect(statusAfter('update', 'suspect')).toBe('suspect');
    expect(statusAfter('update', undefined)).toBe('alive');
    expect(statusAfter('reap', 'dead')).toBeNull();
  });
});
