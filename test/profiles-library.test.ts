// Proves the rules of the profile library and the Cluster Designer on one node's real
// farm data (FarmData: a real FMIDB replica, driven in this thread by InProcessFmidb as
// the agent's worker drives it, and the landscape engine; no network), fast:
//  - an import is all or nothing, composes against the stored profiles plus the other
//    files given, refuses a text over the stored bound and a full FMIDB subject with a
//    clear reason, and a version is immutable;
//  - lookups by range take the highest version; unknown names list what is stored;
//  - rm is refused while a stored profile composes from the version; imports and
//    removals are events naming who made them; imports and removals run one at a time;
//  - the designer places only nodes membership sees alive, runs placement SQL on the
//    FMIDB mirror, turns a known cluster (currentOf) into an upgrade plan, and the
//    apply step refuses a blocked or unnamed plan and hands a good one over.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ClusterDesigner } from '../src/cluster/designer/cluster-designer.js';
import { ApiClient } from '../src/surface/client/api-client.js';
import { applyClusterPlan, type ClusterApplyRequest } from '../src/cluster/designer/cluster-plan-apply.js';
import { agentCatalog } from '../src/cluster/profiles/package-catalog.js';
import { ProfileError } from '../src/cluster/profiles/profile-error.js';
import { kStoredProfileBytesMax, ProfileLibrary } from '../src/cluster/profiles/profile-library.js';
import { FarmData } from '../src/farm/data/farm-data.js';
import type { FmidbOptions } from '../src/core/fmidb/config.js';
import { DomainError } from '../src/core/util/domain-error.js';
import { InProcessFmidb } from '../src/node/driver/in-process-fmidb.js';
import { packageRoot } from '../src/core/platform/package-root.js';
import { silentAgentLogger } from '../src/node/util/agent-logger.js';
import type { MemberView } from '../src/core/membership/member-view.js';
import type { ApiEvent } from '../src/core/util/api-event.js';

const kProfiles = join(packageRoot(), 'profiles');
const shipped = (name: string) => ({ file: `profiles/${name}.yaml`, text: readFileSync(join(kProfiles, `${name}.yaml`), 'utf8') });
const kSelf = '00000000000000a1';
const opened: Array<{ data: FarmData; link: InProcessFmidb }> = [];

afterEach(async () => {
  for (const { data, link } of opened.splice(0)) {
    await data.close();
    link.close();
  }
});

async function farm(fmidb: FmidbOptions = {}): Promise<{ data: FarmData; library: ProfileLibrary; events: ApiEvent[] }> {
  const link = new InProcessFmidb({ selfId: kSelf, tickMs: 10 });
  const data = new FarmData({ selfId: kSelf, link, publish: () => {}, logger: silentAgentLogger(), fmidb });
  opened.push({ data, link });
  // The replica's updates arrive a turn later, as the worker's do.
  await new Promise((resolve) => setTimeout(resolve, 0));
  const events: ApiEvent[] = [];
  return { data, events, library: new ProfileLibrary({ data, catalog: () => agentCatalog('0.1.0', []), publish: (event) => events.push(event) }) };
}

async function problemsOf(fn: () => unknown): Promise<string[]> {
  try {
    await fn();
  } catch (error) {
    if (error instanceof ProfileError) return error.problems.map((p) => `${p.code} ${p.file} ${p.path}: ${p.reason}`);
    throw error;
  }
  throw new Error('expected a ProfileError');
}

const kWeb = (version: string, extra = '') => ({
  file: `web-${version}.yaml`,
  text: `apiVersion: galaxy/v1\nkind: ClusterProfile\nname: web\nversion: ${version}\nextends: base@^1\n${extra}`,
});

describe('ProfileLibrary (a real FMIDB replica)', () => {
  it('imports all or nothing, composing against the stored profiles and the other files given', async () => {
    const { library } = await farm();
    const problems = await problemsOf(() => library.importProfiles([shipped('base'), kWeb('1.0.0'), { file: 'bad.yaml', text: 'kind: [\n' }]));
    expect(problems[0]).toMatch(/^GALAXY_PROFILE_YAML bad\.yaml /);
    expect(library.list()).toEqual([]);
    // The child before its parent in the list: still composes.
    const imported = await library.importProfiles([kWeb('1.0.0'), shipped('base')]);
    expect(imported.map((p) => `${p.ref} ${p.written}`)).toEqual(['web@1.0.0 true', 'base@1.0.0 true']);
    // A later import composes against what is stored.
    expect((await library.importProfiles([kWeb('1.1.0')]))[0]).toMatchObject({ ref: 'web@1.1.0', written: true, missing: [] });
    expect(library.show('web').ref).toBe('web@1.1.0');
    expect(library.show('web@~1.0').ref).toBe('web@1.0.0');
    expect((await problemsOf(() => library.show('web@^2')))[0]).toBe('GALAXY_PROFILE_UNKNOWN profile/web : no version of web in range ^2 (stored: 1.0.0, 1.1.0)');
    expect((await problemsOf(() => library.show('nope')))[0]).toBe('GALAXY_PROFILE_UNKNOWN profile/nope : no profile nope in the FMIDB (stored: base@1.0.0, web@1.0.0, web@1.1.0)');
    // Immutable: other content under a stored name@version is refused, the same content is a no-op.
    expect((await problemsOf(() => library.importProfiles([kWeb('1.0.0', 'description: other\n')])))[0]).toMatch(/web@1\.0\.0 is already in the FMIDB with other content/);
    expect((await library.importProfiles([kWeb('1.0.0')]))[0]!.written).toBe(false);
    expect(library.exportText('web@1.0.0').text).toBe(kWeb('1.0.0').text);
  });

  it('runs imports and removals one at a time, so a check is never stale when its write lands', async () => {
    const { library } = await farm();
    await library.importProfiles([shipped('base')]);
    // Two imports of web@1.0.0 with different texts at once: the second checks after the first wrote.
    const [first, second] = await Promise.allSettled([library.importProfiles([kWeb('1.0.0')]), library.importProfiles([kWeb('1.0.0', 'description: other\n')])]);
    expect(first.status).toBe('fulfilled');
    expect(second.status === 'rejected' && (second.reason as Error).message).toMatch(/web@1\.0\.0 is already in the FMIDB with other content/);
    expect(library.exportText('web@1.0.0').text).toBe(kWeb('1.0.0').text);
    // A removal queued behind an import sees what the import wrote.
    await Promise.all([library.importProfiles([kWeb('1.1.0')]), library.remove('web', '1.1.0')]);
    expect(library.list().map((v) => `${v.name}@${v.version}`)).toEqual(['base@1.0.0', 'web@1.0.0']);
  });

  it('refuses texts over the stored bound and a full FMIDB subject with the way out', async () => {
    const { library } = await farm({ keysPerNodeMax: 6 });
    await library.importProfiles([shipped('base')]);
    const big = kWeb('1.0.0', `description: ${'x'.repeat(kStoredProfileBytesMax)}\n`);
    expect((await problemsOf(() => library.importProfiles([big])))[0]).toMatch(/^GALAXY_PROFILE_TOO_LARGE web-1\.0\.0\.yaml : is \d+ bytes; the FMIDB stores profiles of at most 196608 bytes/);
    // Each version takes a part and a meta key: three fit in six keys, the fourth does not.
    for (const v of ['1.0.0', '1.0.1', '1.0.2']) await library.importProfiles([kWeb(v)]);
    expect((await problemsOf(() => library.importProfiles([kWeb('1.0.3')])))[0]).toMatch(/the FMIDB subject profile\/web is full \(6 keys.*galaxy profile rm/);
    // A removal leaves tombstones, which hold their keys until reaped: the same version
    // can come back at once (its keys exist), a new one only after the reap.
    await library.remove('web', '1.0.0');
    expect(library.list().map((v) => `${v.name}@${v.version}`)).toEqual(['base@1.0.0', 'web@1.0.1', 'web@1.0.2']);
    expect((await problemsOf(() => library.importProfiles([kWeb('1.0.3')])))[0]).toMatch(/free again once the FMIDB reaps the deletions \(after 300 s\)/);
    expect((await library.importProfiles([kWeb('1.0.0')]))[0]!.written).toBe(true);
  });

  it('refuses rm of a version another stored profile composes from', async () => {
    const { library, events } = await farm();
    await library.importProfiles([shipped('base'), shipped('mixin-fast-failover'), shipped('primary-backup')], 'ops-token');
    expect((await problemsOf(() => library.remove('base', '1.0.0')))[0]).toMatch(/base@1\.0\.0 is composed into primary-backup@1\.0\.0: remove those first/);
    expect((await problemsOf(() => library.remove('base', '9.9.9')))[0]).toMatch(/^GALAXY_PROFILE_UNKNOWN .*base@9\.9\.9 is not stored/);
    await library.remove('primary-backup', '1.0.0');
    await library.remove('fast-failover', '1.0.0');
    await library.remove('base', '1.0.0');
    expect(library.list()).toEqual([]);
    // Each import and removal is an event, with who did it.
    expect(events.map((e) => `${e.kind} ${e.type} ${JSON.stringify(e.body)}`)).toEqual([
      'profile imported {"profiles":["base@1.0.0","fast-failover@1.0.0","primary-backup@1.0.0"],"by":"ops-token"}',
      'profile removed {"profile":"primary-backup@1.0.0","by":"local"}',
      'profile removed {"profile":"fast-failover@1.0.0","by":"local"}',
      'profile removed {"profile":"base@1.0.0","by":"local"}',
    ]);
  });
});

describe('ClusterDesigner (real farm data of one node)', () => {
  const ids = ['00000000000000b1', '00000000000000b2', '00000000000000b3', '00000000000000b4'];
  const profile = {
    file: 'db.yaml',
    text: `apiVersion: galaxy/v1
kind: ClusterProfile
name: db
version: 1.0.0
extends: base@^1
roles:
  member: null
  primary:
    count: 1
    placement: { sql: "SELECT node FROM nodes WHERE disk = 'ssd'" }
    components: [{ package: measurement, version: ^0.1.0 }]
  replica:
    count: { min: 1, max: 3 }
    after: [primary]
    components: [{ package: measurement, version: ^0.1.0 }, { package: galaxy-db, version: ^1.0.0 }]
`,
  };

  async function designer(status: Record<string, MemberView['status']>, current: ReturnType<ClusterDesigner['plan']>['members'] | null = null) {
    const { data, library } = await farm();
    await library.importProfiles([shipped('base'), profile]);
    for (const [i, id] of ids.entries()) await data.setAttributes(id, { address: `10.0.0.${i + 1}`, disk: i % 2 === 0 ? 'ssd' : 'hdd' });
    const members = () => ids.map((id) => ({ id, address: '', status: status[id] ?? 'alive', incarnation: 1, self: false, tags: {} }));
    return new ClusterDesigner({
      library,
      data,
      members,
      catalog: () => agentCatalog('0.1.0', [{ name: 'galaxy-db', version: '1.2.0' }]),
      currentOf: (name) => (name === 'known' && current !== null ? current.map((m) => ({ node: m.node, role: m.role, components: [{ package: 'measurement', version: '0.0.9' }] })) : null),
    });
  }

  it('places by SQL on the mirror and only nodes membership sees alive', async () => {
    const all = (await designer({})).preview({ profile: { ref: 'db' } });
    expect(all.placement.members.map((m) => `${m.role} ${m.node}`)).toEqual([`primary ${ids[0]}`, `replica ${ids[1]}`, `replica ${ids[2]}`, `replica ${ids[3]}`]);
    const dead = (await designer({ [ids[0]!]: 'dead', [ids[1]!]: 'left' })).preview({ profile: { ref: 'db' } });
    expect(dead.placement.members.map((m) => `${m.role} ${m.node}`)).toEqual([`primary ${ids[2]}`, `replica ${ids[3]}`]);
    expect(dead.placement.roles.find((r) => r.role === 'primary')!.excluded.map((g) => g.nodes).flat()).toContain(ids[0]);
  });

  it('plans a create, an upgrade of a known cluster, and hands a plan to apply', async () => {
    const first = await designer({});
    const created = first.plan({ profile: { ref: 'db@1' }, name: 'orders' });
    expect(created).toMatchObject({ operation: 'create', command: 'galaxy cluster create orders --profile db@1.0.0', blocked: [] });
    expect(created.actions.filter((a) => a.kind === 'install' && a.package === 'galaxy-db').map((a) => (a.kind === 'install' ? a.version : null))).toEqual(['1.2.0', '1.2.0', '1.2.0']);
    const upgrade = (await designer({}, created.members)).plan({ profile: { ref: 'db' }, name: 'known' });
    expect(upgrade.operation).toBe('upgrade');
    expect(upgrade.command).toBe('galaxy cluster upgrade known --profile db@1.0.0');
    expect(upgrade.lines.filter((l) => l.includes('~ upgrade measurement 0.0.9 → 0.1.0'))).toHaveLength(4);
    expect(upgrade.actions.some((a) => a.kind === 'add-member')).toBe(false);

    const requests: ClusterApplyRequest[] = [];
    // The applier gets the CLI's connection; this one records the request and never calls the agent.
    const client = new ApiClient({ url: 'http://127.0.0.1:9', token: 'unused' });
    await applyClusterPlan(created, async (request) => requests.push(request), client);
    expect(requests).toEqual([{ operation: 'create', name: 'orders', profile: 'db@1.0.0', on: null, members: created.members }]);
    const unnamed = first.plan({ profile: { ref: 'db' } });
    await expect(applyClusterPlan(unnamed, async () => {}, client)).rejects.toMatchObject({ code: 'GALAXY_DESIGNER_NO_NAME' });
    const blocked = (await designer({ [ids[0]!]: 'dead', [ids[2]!]: 'dead' })).plan({ profile: { ref: 'db' }, name: 'orders' });
    expect(blocked.blocked[0]).toMatch(/primary/);
    await expect(applyClusterPlan(blocked, async () => {}, client)).rejects.toBeInstanceOf(DomainError);
    expect(() => first.plan({ profile: { ref: 'db' }, name: 'Bad' })).toThrow(/a cluster name is 1 to 63/);
    expect(() => first.preview({ profile: { ref: 'db' }, on: 'nowhere' })).toThrow(/no landscape "nowhere" \(landscapes: none\)/);
  });
});
