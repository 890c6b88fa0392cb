// Proves placement preview and the dry-run plan (pure functions): roles placed in
// start order, a node holding one role, landscapes and SQL results as given, missing
// network attributes disqualifying, hard anti-affinity by rack skipping nodes (with
// who holds the rack) and soft anti-affinity only sharing a rack when no other is left,
// max reached, not enough nodes as a coded error naming the role and why nodes were
// left out, determinism (input order does not matter), current members kept; and the
// plan from a current cluster to a profile: add, install in start order, upgrade only
// out of range, downgrade, remove in reverse order, move, blocked by missing packages.
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { componentStartOrder, formatPlan, planCluster, type CurrentMember } from '../src/cluster/profiles/cluster-plan.js';
import { catalogOf } from '../src/cluster/profiles/package-catalog.js';
import { checkComposition } from '../src/cluster/profiles/profile-check.js';
import { composeProfile } from '../src/cluster/profiles/profile-composer.js';
import { parseProfileDocument } from '../src/cluster/profiles/profile-document.js';
import { ProfileError } from '../src/cluster/profiles/profile-error.js';
import { assertPlaced, placeProfile, type FarmNode } from '../src/cluster/profiles/profile-placement.js';
import type { Profile } from '../src/cluster/profiles/profile-schema.js';
import { ListProfileSource } from '../src/cluster/profiles/profile-source.js';

const kProfile = `apiVersion: galaxy/v1
kind: ClusterProfile
name: pb
version: 2.0.0
failureDetector: { heartbeatIntervalMs: 200, timeoutMs: 1000 }
networks:
  admin: { attribute: address }
  components: { attribute: net.data }
  failureDetection: { attribute: net.data }
roles:
  backup:
    count: { min: 1, max: 2 }
    after: [primary]
    placement: { landscape: db, antiAffinity: { attribute: rack } }
    components:
      - { package: galaxy-lock-manager, version: ^2.0.0, after: [galaxy-log] }
      - { package: galaxy-log, version: ^1.0.0 }
  primary:
    count: 1
    placement: { landscape: db }
    components:
      - { package: galaxy-log, version: ^1.0.0 }
      - { package: galaxy-lock-manager, version: ^2.0.0, after: [galaxy-log] }
`;

function profileOf(text: string, edit: (p: any) => void = () => {}): Profile {
  const value = parse(text);
  edit(value);
  const document = parseProfileDocument('pb.yaml', stringify(value));
  return checkComposition(composeProfile(document, new ListProfileSource([document], 'the test')));
}

const id = (n: number) => n.toString(16).padStart(16, '0');

function node(n: number, rack: string | null, extra: Record<string, string | null> = {}): FarmNode {
  return { id: id(n), attributes: { address: `10.0.0.${n}`, 'net.data': `eth1`, ...(rack === null ? {} : { rack }), ...extra } };
}

const kNodes: FarmNode[] = [node(1, 'r1'), node(2, 'r1'), node(3, 'r2'), node(4, 'r2'), node(5, 'r3'), node(6, 'r3')];

describe('placement', () => {
  it('places roles in start order, one role per node, by id, with reasons', () => {
    const placement = placeProfile({ profile: profileOf(kProfile), nodes: kNodes, landscapes: { db: [id(1), id(2), id(3), id(5)] } });
    expect(placement.problems).toEqual([]);
    expect(placement.members.map((m) => [m.role, m.node])).toEqual([
      ['primary', id(1)],
      ['backup', id(2)],
      ['backup', id(3)],
    ]);
    expect(placement.members[0]!.networks).toEqual({ admin: '10.0.0.1', components: 'eth1', failureDetection: 'eth1' });
    expect(placement.decisions).toContainEqual({ role: 'primary', node: id(2), outcome: 'skipped', reason: 'count reached (1 of max 1)' });
    expect(placement.decisions).toContainEqual({ role: 'backup', node: id(3), outcome: 'chosen', reason: 'in landscape db; rack r2 not yet used by the role' });
    expect(placement.decisions).toContainEqual({ role: 'backup', node: id(5), outcome: 'skipped', reason: 'count reached (2 of max 2)' });
    const backup = placement.roles.find((r) => r.role === 'backup')!;
    expect(backup.excluded).toEqual([
      { reason: 'already member of role primary', nodes: [id(1)] },
      { reason: 'not in landscape db', nodes: [id(4), id(6)] },
    ]);
  });

  it('hard anti-affinity by rack: a second node of a rack is skipped, naming who holds it', () => {
    const placement = placeProfile({ profile: profileOf(kProfile), nodes: kNodes, landscapes: { db: [id(1), id(3), id(4)] } });
    expect(placement.members.filter((m) => m.role === 'backup').map((m) => m.node)).toEqual([id(3)]);
    expect(placement.decisions).toContainEqual({ role: 'backup', node: id(4), outcome: 'skipped', reason: `rack r2 already holds ${id(3)} (anti-affinity by rack)` });
    expect(placement.problems).toEqual([]);
  });

  it('anti-affinity with scope cluster also keeps away from racks of members placed for earlier roles', () => {
    const landscapes = { db: [id(1), id(2), id(3)] };
    const byRole = placeProfile({ profile: profileOf(kProfile), nodes: kNodes, landscapes });
    expect(byRole.members.filter((m) => m.role === 'backup').map((m) => m.node)).toEqual([id(2), id(3)]);
    const byCluster = placeProfile({ profile: profileOf(kProfile, (p) => (p.roles.backup.placement.antiAffinity.scope = 'cluster')), nodes: kNodes, landscapes });
    expect(byCluster.members.filter((m) => m.role === 'backup').map((m) => m.node)).toEqual([id(3)]);
    expect(byCluster.decisions).toContainEqual({ role: 'backup', node: id(2), outcome: 'skipped', reason: `rack r1 already holds ${id(1)} (anti-affinity by rack)` });
    expect(byCluster.decisions).toContainEqual({ role: 'backup', node: id(3), outcome: 'chosen', reason: 'in landscape db; rack r2 not yet used by the cluster' });
  });

  it('soft anti-affinity shares a rack only once every rack is used', () => {
    const profile = profileOf(kProfile, (p) => {
      p.roles.backup.count = { min: 1, max: 3 };
      p.roles.backup.placement.antiAffinity.hard = false;
    });
    const placement = placeProfile({ profile, nodes: kNodes, landscapes: { db: [id(1), id(2), id(3), id(4)] } });
    expect(placement.members.filter((m) => m.role === 'backup').map((m) => m.node)).toEqual([id(2), id(3), id(4)]);
    expect(placement.decisions.at(-1)).toEqual({ role: 'backup', node: id(4), outcome: 'chosen', reason: `in landscape db; shares rack r2 with ${id(3)}: no other rack left (soft anti-affinity)` });
  });

  it('not enough nodes is a clear coded error naming the role and why nodes were left out', () => {
    const profile = profileOf(kProfile, (p) => (p.roles.backup.count = { min: 2, max: 2 }));
    const placement = placeProfile({ profile, nodes: kNodes, landscapes: { db: [id(1), id(3), id(4)] } });
    expect(placement.problems).toEqual([`role backup needs 2 nodes, found 1 (left out: 1 already member of role primary; 3 not in landscape db; 1 skipped by anti-affinity)`]);
    let error: unknown;
    try {
      assertPlaced(placement, profile);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ProfileError);
    expect((error as ProfileError).code).toBe('GALAXY_PROFILE_PLACEMENT');
    expect((error as ProfileError).message).toBe('pb@2.0.0: roles.backup.count: not enough nodes: role backup needs 2 nodes, found 1 (left out: 1 already member of role primary; 3 not in landscape db; 1 skipped by anti-affinity)');
    expect(() => assertPlaced(placeProfile({ profile: profileOf(kProfile), nodes: kNodes, landscapes: { db: kNodes.map((n) => n.id) } }), profile)).not.toThrow();
  });

  it('dead nodes, nodes without a network attribute or the anti-affinity attribute, and an undefined landscape are left out with why', () => {
    const nodes = [{ ...node(1, 'r1'), alive: false }, node(2, 'r1', { 'net.data': null }), node(3, null), node(4, 'r4'), node(5, 'r5')];
    const placement = placeProfile({ profile: profileOf(kProfile), nodes, landscapes: { db: nodes.map((n) => n.id) } });
    expect(placement.members.map((m) => [m.role, m.node])).toEqual([
      ['primary', id(3)],
      ['backup', id(4)],
      ['backup', id(5)],
    ]);
    expect(placement.roles[0]!.excluded).toEqual([
      { reason: 'not alive', nodes: [id(1)] },
      { reason: 'no net.data attribute (network for components traffic)', nodes: [id(2)] },
    ]);
    const none = placeProfile({ profile: profileOf(kProfile), nodes, landscapes: {} });
    expect(none.problems[0]).toBe('role primary needs 1 node, found 0 (left out: 1 not alive; 4 landscape db is not defined)');
  });

  it('SQL placement uses the result given for the statement; within limits the cluster to its landscape', () => {
    const sql = "SELECT node FROM nodes WHERE rack = 'r3'";
    const profile = profileOf(kProfile, (p) => (p.roles.primary.placement = { sql }));
    const placement = placeProfile({ profile, nodes: kNodes, landscapes: { db: kNodes.map((n) => n.id) }, queries: { [sql]: [id(5), id(6)] }, within: [id(1), id(2), id(3), id(6)] });
    expect(placement.members.map((m) => [m.role, m.node])).toEqual([
      ['primary', id(6)],
      ['backup', id(1)],
      ['backup', id(3)],
    ]);
    expect(placement.roles[0]!.excluded).toContainEqual({ reason: "not in the cluster's landscape", nodes: [id(4), id(5)] });
    const unevaluated = placeProfile({ profile, nodes: kNodes, landscapes: {} });
    expect(unevaluated.problems[0]).toContain('6 placement SQL not evaluated');
  });

  it('is deterministic: the order nodes are given in does not matter', () => {
    const profile = profileOf(kProfile, (p) => (p.roles.backup.count = { min: 1, max: 3 }));
    const landscapes = { db: kNodes.map((n) => n.id).reverse() };
    const a = placeProfile({ profile, nodes: kNodes, landscapes });
    const b = placeProfile({ profile, nodes: [...kNodes].reverse(), landscapes });
    expect(b).toEqual(a);
  });

  it('refuses a node given twice and a member listed twice', () => {
    expect(() => placeProfile({ profile: profileOf(kProfile), nodes: [...kNodes, node(3, 'r9')], landscapes: {} })).toThrow(`nodes: node ${id(3)} is given twice`);
    expect(() => placeProfile({ profile: profileOf(kProfile), nodes: kNodes, landscapes: {}, current: [{ node: id(1), role: 'primary' }, { node: id(1), role: 'backup' }] })).toThrow(`current: node ${id(1)} is a member twice`);
  });

  it('current members keep their role while they qualify', () => {
    const placement = placeProfile({ profile: profileOf(kProfile), nodes: kNodes, landscapes: { db: kNodes.map((n) => n.id) }, current: [{ node: id(4), role: 'primary' }, { node: id(6), role: 'backup' }] });
    expect(placement.members.map((m) => [m.role, m.node])).toEqual([
      ['primary', id(4)],
      ['backup', id(6)],
      ['backup', id(1)],
    ]);
    expect(placement.decisions).toContainEqual({ role: 'primary', node: id(4), outcome: 'kept', reason: 'already member of role primary; in landscape db' });
  });
});

describe('plan', () => {
  it('components start in dependency order, the listed order on ties', () => {
    const profile = profileOf(kProfile);
    // backup lists the lock manager first, but it starts after the log.
    expect(componentStartOrder(profile.roles['backup']!)).toEqual(['galaxy-log', 'galaxy-lock-manager']);
    const three = profileOf(kProfile, (p) => p.roles.primary.components.unshift({ package: 'galaxy-vm', version: '^1.0.0', after: ['galaxy-lock-manager'] }));
    expect(componentStartOrder(three.roles['primary']!)).toEqual(['galaxy-log', 'galaxy-lock-manager', 'galaxy-vm']);
  });

  const catalog = catalogOf(['galaxy-log@1.0.0', 'galaxy-log@1.4.0', 'galaxy-lock-manager@1.9.0', 'galaxy-lock-manager@2.1.0', 'galaxy-lock-manager@2.0.0']);
  const landscapes = { db: [id(1), id(3), id(5)] };

  it('a create: members added in role start order, components installed in start order at the highest version in range', () => {
    const plan = planCluster({ profile: profileOf(kProfile), nodes: kNodes, landscapes, current: [], catalog });
    expect(plan.blocked).toEqual([]);
    expect(formatPlan(plan)).toEqual([
      `+ add member ${id(1)} as primary (in landscape db)`,
      `  + install galaxy-log@1.4.0 on ${id(1)}`,
      `  + install galaxy-lock-manager@2.1.0 on ${id(1)}`,
      `+ add member ${id(3)} as backup (in landscape db; rack r2 not yet used by the role)`,
      `  + install galaxy-log@1.4.0 on ${id(3)}`,
      `  + install galaxy-lock-manager@2.1.0 on ${id(3)}`,
      `+ add member ${id(5)} as backup (in landscape db; rack r3 not yet used by the role)`,
      `  + install galaxy-log@1.4.0 on ${id(5)}`,
      `  + install galaxy-lock-manager@2.1.0 on ${id(5)}`,
      'Plan for pb@2.0.0: 3 member(s) to add, 0 to move, 0 to remove; 6 install(s), 0 version change(s), 0 component removal(s).',
    ]);
  });

  it('an upgrade: only versions out of range change; extra components and members are removed in reverse order', () => {
    const current: CurrentMember[] = [
      { node: id(1), role: 'primary', components: [{ package: 'galaxy-log', version: '1.0.0' }, { package: 'galaxy-lock-manager', version: '1.9.0' }] },
      { node: id(3), role: 'backup', components: [{ package: 'galaxy-log', version: '1.0.0' }, { package: 'galaxy-lock-manager', version: '2.0.0' }, { package: 'galaxy-vm-replication', version: '1.0.0' }] },
      { node: id(2), role: 'witness', components: [{ package: 'galaxy-log', version: '1.0.0' }, { package: 'galaxy-lock-manager', version: '1.9.0' }] },
    ];
    const plan = planCluster({ profile: profileOf(kProfile, (p) => (p.roles.backup.count = { min: 1, max: 1 })), nodes: kNodes, landscapes, current, catalog });
    expect(plan.actions).toEqual([
      { kind: 'upgrade', node: id(1), role: 'primary', package: 'galaxy-lock-manager', range: '^2.0.0', from: '1.9.0', version: '2.1.0' },
      { kind: 'remove-component', node: id(3), package: 'galaxy-vm-replication', version: '1.0.0' },
      { kind: 'remove-component', node: id(2), package: 'galaxy-lock-manager', version: '1.9.0' },
      { kind: 'remove-component', node: id(2), package: 'galaxy-log', version: '1.0.0' },
      { kind: 'remove-member', node: id(2), role: 'witness', reason: 'role witness is not in the profile' },
    ]);
    expect(formatPlan(plan).at(-1)).toBe('Plan for pb@2.0.0: 0 member(s) to add, 0 to move, 1 to remove; 0 install(s), 1 version change(s), 3 component removal(s).');
  });

  it('a downgrade, a move to another role, and no changes', () => {
    const profile = profileOf(kProfile, (p) => (p.roles.primary.components[1].version = '~2.0.0'));
    const current: CurrentMember[] = [{ node: id(1), role: 'backup', components: [{ package: 'galaxy-log', version: '1.4.0' }, { package: 'galaxy-lock-manager', version: '2.1.0' }] }];
    const plan = planCluster({ profile, nodes: kNodes, landscapes: { db: [id(1)] }, current, catalog });
    expect(plan.actions.slice(0, 2)).toEqual([
      { kind: 'change-role', node: id(1), from: 'backup', role: 'primary', reason: 'in landscape db' },
      { kind: 'downgrade', node: id(1), role: 'primary', package: 'galaxy-lock-manager', range: '~2.0.0', from: '2.1.0', version: '2.0.0' },
    ]);
    const settled: CurrentMember[] = [
      { node: id(1), role: 'primary', components: [{ package: 'galaxy-log', version: '1.4.0' }, { package: 'galaxy-lock-manager', version: '2.1.0' }] },
      { node: id(3), role: 'backup', components: [{ package: 'galaxy-log', version: '1.0.0' }, { package: 'galaxy-lock-manager', version: '2.0.0' }] },
    ];
    const none = planCluster({ profile: profileOf(kProfile), nodes: kNodes, landscapes: { db: [id(1), id(3)] }, current: settled, catalog });
    expect(none.actions).toEqual([]);
    expect(formatPlan(none).at(-1)).toBe('No changes: the cluster matches the profile.');
  });

  it('is blocked when a component has no known version or a role is short', () => {
    const plan = planCluster({ profile: profileOf(kProfile), nodes: kNodes, landscapes: { db: [id(1)] }, current: [], catalog: catalogOf(['galaxy-log@1.0.0']) });
    expect(plan.blocked).toEqual([
      'role backup needs 1 node, found 0 (left out: 1 already member of role primary; 5 not in landscape db)',
      'galaxy-lock-manager ^2.0.0 (role primary) on 1 node: no known version in range',
    ]);
    expect(formatPlan(plan)).toContain(`  + install galaxy-lock-manager@^2.0.0 (no known version: missing) on ${id(1)}`);
  });
});

describe('placement at farm scale', () => {
  it('places on 10,000 nodes (the placement bound) with a landscape of half of them, all racks distinct per role', () => {
    const nodes = Array.from({ length: 10_000 }, (_, i) => node(i + 1, `r${i % 500}`));
    const landscapes = { db: nodes.filter((_, i) => i % 2 === 0).map((n) => n.id) };
    const profile = profileOf(kProfile, (p) => (p.roles.backup.count = { min: 1, max: 40 }));
    const placement = placeProfile({ profile, nodes, landscapes });
    const backups = placement.members.filter((m) => m.role === 'backup');
    expect(backups).toHaveLength(40);
    const racks = backups.map((m) => nodes.find((n) => n.id === m.node)!.attributes['rack']);
    expect(new Set(racks).size).toBe(40);
    expect(placement.roles[1]!.excluded.find((g) => g.reason === 'not in landscape db')!.nodes).toHaveLength(5000);
  });
});
