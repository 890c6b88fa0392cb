// Proves that profiles live in the FMIDB of real agents (issue 19, item 2): two agent
// processes of a keyed farm, each with its API, driven through the `galaxy` CLI and
// the HTTP API.
//  - `galaxy profile import` on A stores the shipped profiles; B lists, shows and
//    exports them after replication, and the export is byte for byte the file;
//    `render` and `diff` of stored names give what the files give;
//  - bad imports are refused with file, path (and line) and reason, and nothing of a
//    refused import is stored (all or nothing): a parent missing, bad YAML, a schema
//    error, other content under an existing name@version, two files with one
//    name@version;
//  - `rm` is refused while another stored profile composes from the version, and a
//    removal replicates;
//  - imports and removals are `profile` events on the agent's stream;
//  - the API answers bad requests with 400s (and unknown names with 404s) and reasons.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { ApiEvent } from '../src/core/util/api-event.js';
import type { StoredVersion } from '../src/cluster/profiles/profile-library.js';
import { packageRoot } from '../src/core/platform/package-root.js';
import { freePort, killAllAgents } from './support/agents.js';
import { call, cli, eventually, galaxy, startApiAgent as start, type ApiAgent as Node } from './support/api-agents.js';

const kProfiles = join(packageRoot(), 'profiles');
// The farm's own components are not needed here: the agents only carry the FMIDB.
process.env['GALAXY_COMPONENTS'] = 'none';

afterAll(() => killAllAgents());

const list = async (node: Node) => (await call(node, 'GET', '/v1/profiles')).json as StoredVersion[];

describe('profiles in the FMIDB (real agent processes)', () => {
  it('imports, lists, shows, exports, renders, diffs and removes profiles farm-wide; refuses bad ones whole', async () => {
    const key = randomBytes(32).toString('base64');
    const seed = `127.0.0.1:${await freePort()}`;
    const a = await start(seed, [], key);
    const b = await start(`127.0.0.1:${await freePort()}`, [seed], key);
    const dir = mkdtempSync(join(tmpdir(), 'galaxy-profiles-store-'));
    const events: ApiEvent[] = [];
    const socket = new WebSocket(`${a.url.replace(/^http/, 'ws')}/v1/events?kind=profile`, { headers: { authorization: `Bearer ${a.token}` } });
    socket.on('message', (data) => events.push(JSON.parse(String(data)) as ApiEvent));
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));

    // A child without its parent: refused, naming the file, the line and the names stored.
    const orphan = galaxy(a, 'profile', 'import', join(kProfiles, 'primary-backup.yaml'));
    expect(orphan.status).toBe(2);
    expect(orphan.stderr).toMatch(/primary-backup\.yaml:\d+:\d+: extends: base not found/);
    expect(orphan.stderr).toContain('GALAXY_PROFILE_NOT_FOUND');
    expect(orphan.stderr).toContain(`hint: a parent or mixin is not stored yet: import it in the same command, or give --profiles-dir ${kProfiles} to take it from disk`);
    expect(await list(a)).toEqual([]);

    // Everything shipped at once, in any order: parents and mixins compose from the same import.
    const files = ['primary-backup.yaml', 'mixin-fast-failover.yaml', 'base.yaml', 'mixin-dual-network.yaml', 'cloned-service.yaml', 'game-server.yaml'].map((f) => join(kProfiles, f));
    const imported = galaxy(a, 'profile', 'import', ...files);
    expect(imported.status, imported.stderr).toBe(0);
    expect(imported.stdout).toMatch(/imported\s+primary-backup@1\.0\.0/);
    expect(imported.stdout).toMatch(/NOT deployable yet: missing galaxy-distributed-log/);
    // The same again changes nothing.
    const again = galaxy(a, 'profile', 'import', join(kProfiles, 'base.yaml'));
    expect(again.status, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/unchanged base@1\.0\.0/);
    // One event on A's stream for the import that wrote something, with the token's name.
    await eventually('the import is an event on A', async () => events, (list) => list.length >= 1);
    expect(events[0]).toMatchObject({ kind: 'profile', type: 'imported', body: { by: 'admin' } });
    expect(events[0]!.body['profiles']).toHaveLength(6);

    // B holds them all once replicated: ls with versions, extends, mixins and missing components.
    const onB = await eventually('B holds the six profiles', () => list(b), (l) => l.filter((v) => v.valid).length === 6);
    expect(onB.map((v) => `${v.name}@${v.version}`)).toEqual(['base@1.0.0', 'cloned-service@1.0.0', 'dual-network@1.0.0', 'fast-failover@1.0.0', 'game-server@1.0.0', 'primary-backup@1.0.0']);
    expect(onB.find((v) => v.name === 'primary-backup')).toMatchObject({ kind: 'ClusterProfile', extends: 'base@^1', mixins: ['fast-failover@^1'], valid: true });
    expect(onB.find((v) => v.name === 'primary-backup')!.missing.map((m) => m.package)).toContain('galaxy-lock-manager');
    // base runs only the farm's measurement component at the agent's version: nothing missing.
    expect(onB.find((v) => v.name === 'base')!.missing).toEqual([]);
    const ls = galaxy(b, 'profile', 'ls');
    expect(ls.status, ls.stderr).toBe(0);
    expect(ls.stdout).toMatch(/^NAME\s+VERSION\s+KIND\s+EXTENDS\s+MIXINS\s+STATUS\s+MISSING COMPONENTS$/m);
    expect(ls.stdout).toMatch(/^primary-backup\s+1\.0\.0\s+ClusterProfile\s+base@\^1\s+fast-failover@\^1\s+ok\s+galaxy-distributed-log/m);
    expect(ls.stdout).toMatch(/^base\s+1\.0\.0\s+ClusterProfile\s+-\s+-\s+ok\s+none$/m);

    // show and export on B give back A's file, byte for byte.
    const shown = galaxy(b, 'profile', 'show', 'primary-backup@^1');
    expect(shown.status, shown.stderr).toBe(0);
    expect(shown.stdout).toContain('composed from: base@1.0.0 + fast-failover@1.0.0 + primary-backup@1.0.0');
    expect(shown.stdout).toContain(readFileSync(join(kProfiles, 'primary-backup.yaml'), 'utf8').trimEnd());
    const exported = join(dir, 'pb.yaml');
    const exportRun = galaxy(b, 'profile', 'export', 'primary-backup', '-o', exported);
    expect(exportRun.status, exportRun.stderr).toBe(0);
    expect(readFileSync(exported, 'utf8')).toBe(readFileSync(join(kProfiles, 'primary-backup.yaml'), 'utf8'));
    const toStdout = galaxy(b, 'profile', 'export', 'game-server@1.0.0');
    expect(toStdout.stdout).toBe(readFileSync(join(kProfiles, 'game-server.yaml'), 'utf8'));

    // render of a stored name is the render of the file (after the header comment, which names where it came from).
    const storedRender = galaxy(b, 'profile', 'render', 'primary-backup');
    const fileRender = spawnSync(process.execPath, [cli, 'profile', 'render', join(kProfiles, 'primary-backup.yaml')], { encoding: 'utf8' });
    expect(storedRender.status, storedRender.stderr).toBe(0);
    expect(storedRender.stdout.split('\n').slice(1)).toEqual(fileRender.stdout.split('\n').slice(1));
    // diff: two stored names, and a file against a stored name.
    const diff = galaxy(b, 'profile', 'diff', 'cloned-service', 'primary-backup');
    expect(diff.status, diff.stderr).toBe(0);
    expect(diff.stdout).toMatch(/^~ failureDetector\.heartbeatIntervalMs: 500 → 150$/m);
    const v2 = readFileSync(join(kProfiles, 'primary-backup.yaml'), 'utf8').replace('version: 1.0.0', 'version: 2.0.0').replace('heartbeatIntervalMs: 150', 'heartbeatIntervalMs: 100');
    writeFileSync(join(dir, 'pb2.yaml'), v2);
    const fileDiff = galaxy(b, 'profile', 'diff', 'primary-backup@1', join(dir, 'pb2.yaml'));
    expect(fileDiff.status, fileDiff.stderr).toBe(0);
    expect(fileDiff.stdout).toMatch(/~ version: "1\.0\.0" → "2\.0\.0"/);
    const unknownDiff = galaxy(b, 'profile', 'diff', 'nosuch', 'base');
    expect(unknownDiff.status).toBe(2);
    expect(unknownDiff.stderr).toMatch(/no profile nosuch in the FMIDB \(stored: base@1\.0\.0, /);

    // Bad imports: every problem named, and nothing of the import stored.
    writeFileSync(join(dir, 'good.yaml'), 'apiVersion: galaxy/v1\nkind: ClusterProfile\nname: good\nversion: 1.0.0\nextends: base@^1\n');
    writeFileSync(join(dir, 'yaml.yaml'), 'apiVersion: galaxy/v1\nkind: [ClusterProfile\n');
    writeFileSync(join(dir, 'schema.yaml'), 'apiVersion: galaxy/v1\nkind: ClusterProfile\nname: schema\nversion: 1.0.0\nextends: base@^1\nroles:\n  member:\n    count: 100\n    components:\n      - { package: measurement, version: latest }\n');
    const bad = galaxy(a, 'profile', 'import', join(dir, 'good.yaml'), join(dir, 'yaml.yaml'), join(dir, 'schema.yaml'));
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/yaml\.yaml:\d+:\d+: /);
    expect(bad.stderr).toMatch(/schema\.yaml:10:\d+: roles\.member\.components\[0\]\.version: "latest" is not a version range/);
    const conflict = galaxy(a, 'profile', 'import', join(dir, 'good.yaml'), join(dir, 'pb-other.yaml'));
    expect(conflict.status).toBe(2); // pb-other.yaml does not exist: refused before anything is sent
    writeFileSync(join(dir, 'pb-other.yaml'), readFileSync(join(kProfiles, 'primary-backup.yaml'), 'utf8').replace('One primary serves', 'One primary, changed,'));
    const immutable = galaxy(a, 'profile', 'import', join(dir, 'good.yaml'), join(dir, 'pb-other.yaml'));
    expect(immutable.status).toBe(2);
    expect(immutable.stderr).toMatch(/pb-other\.yaml: version: primary-backup@1\.0\.0 is already in the FMIDB with other content/);
    const twins = galaxy(a, 'profile', 'import', join(dir, 'good.yaml'), join(dir, 'good.yaml'));
    expect(twins.status).toBe(2);
    expect(twins.stderr).toMatch(/good@1\.0\.0 is also defined by/);
    expect((await list(a)).map((v) => v.name)).not.toContain('good');

    // --profiles-dir: parents the FMIDB does not hold come from disk, transitively.
    const family = mkdtempSync(join(tmpdir(), 'galaxy-profiles-family-'));
    writeFileSync(join(family, 'grand.yaml'), 'apiVersion: galaxy/v1\nkind: ClusterProfile\nname: grand\nversion: 1.2.0\nextends: base@^1\n');
    writeFileSync(join(family, 'parent.yaml'), 'apiVersion: galaxy/v1\nkind: ClusterProfile\nname: parent\nversion: 1.0.0\nextends: grand@^1\n');
    writeFileSync(join(dir, 'child.yaml'), 'apiVersion: galaxy/v1\nkind: ClusterProfile\nname: child\nversion: 1.0.0\nextends: parent@^1\n');
    const withParents = galaxy(a, 'profile', 'import', join(dir, 'child.yaml'), '--profiles-dir', family);
    expect(withParents.status, withParents.stderr).toBe(0);
    expect(withParents.stdout).toContain(`with parent@1.0.0 from ${join(family, 'parent.yaml')}`);
    expect(withParents.stdout).toContain(`with grand@1.2.0 from ${join(family, 'grand.yaml')}`);
    expect(withParents.stdout).toMatch(/imported\s+child@1\.0\.0/);
    expect((await list(a)).filter((v) => ['child', 'parent', 'grand'].includes(v.name)).map((v) => v.valid)).toEqual([true, true, true]);

    // rm: refused while composed into another stored profile; a leaf goes, everywhere.
    const inUse = galaxy(a, 'profile', 'rm', 'fast-failover@1.0.0');
    expect(inUse.status).toBe(2);
    expect(inUse.stderr).toMatch(/fast-failover@1\.0\.0 is composed into primary-backup@1\.0\.0: remove those first/);
    expect(galaxy(a, 'profile', 'rm', 'game-server@1.0.0').status).toBe(0);
    await eventually('B no longer holds game-server', () => list(b), (l) => !l.some((v) => v.name === 'game-server'));
    expect(galaxy(b, 'profile', 'show', 'game-server').status).toBe(2);

    // The API: bad requests are 400s with reasons, unknown names 404s.
    const noBody = await call(a, 'POST', '/v1/profiles', {});
    expect(noBody.status).toBe(400);
    expect(noBody.json.error.message).toMatch(/profiles/);
    const notText = await call(a, 'POST', '/v1/profiles', { profiles: [{ file: 'x.yaml', text: 42 }] });
    expect(notText.status).toBe(400);
    const schema = await call(a, 'POST', '/v1/profiles', { profiles: [{ file: 'api.yaml', text: readFileSync(join(dir, 'schema.yaml'), 'utf8') }] });
    expect(schema).toMatchObject({ status: 400, json: { error: { code: 'GALAXY_PROFILE_SCHEMA' } } });
    expect(schema.json.error.message).toMatch(/^api\.yaml:10:\d+: roles\.member\.components\[0\]\.version: /m);
    expect((await call(a, 'GET', '/v1/profiles/Bad!Name')).status).toBe(400);
    expect(await call(a, 'GET', '/v1/profiles/nosuch')).toMatchObject({ status: 404, json: { error: { code: 'GALAXY_PROFILE_UNKNOWN' } } });
    expect((await call(a, 'DELETE', '/v1/profiles/base')).status).toBe(400);
    const render = await call(a, 'POST', '/v1/profiles/render', { profile: { ref: 'primary-backup', text: 'x' } });
    expect(render.status).toBe(400);
    expect((await call(a, 'POST', '/v1/profiles/diff', { a: { ref: 'base' } })).status).toBe(400);
    expect(events.map((e) => e.type)).toEqual(['imported', 'imported', 'removed']);
    socket.close();
  }, 180_000);
});
