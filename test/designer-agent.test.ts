// Proves the Cluster Designer on live FMIDB data of real agents (issue 19, item 4): three
// agent processes of a keyed farm with rack attributes set through `galaxy attr set`,
// two landscapes, and a stored profile whose workers must not share the lead's rack.
//  - non-interactive (`--profile --on --name --yes`): on the one-rack landscape the
//    profile cannot be placed (exit 2, the role and the anti-affinity reason named); on
//    the two-rack landscape it is, the ClusterPlan is written (-o), and the confirmed
//    plan is handed to the cluster lifecycle (applyClusterPlan), which creates it;
//  - `--dry-run` with `--current` plans an upgrade in terraform-plan style;
//  - an interactive run driven through a piped stdin: a landscape that cannot hold the
//    profile, another, a bad cluster name, confirmation (the cluster created); and one
//    stopped with `q`;
//  - the preview and plan API routes answer bad input with 400s naming the field or
//    the file, path and reason, and unknown names with 404s listing what exists;
//  - a SIGKILLed node is no longer placed (membership and the FMIDB drop it).
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ClusterPlanDocument, DesignPreview } from '../src/cluster/designer/cluster-designer.js';
import { packageRoot } from '../src/core/platform/package-root.js';
import { freePort, killAllAgents } from './support/agents.js';
import { call, cli, eventually, galaxy, startApiAgent, type ApiAgent } from './support/api-agents.js';

const kProfiles = join(packageRoot(), 'profiles');
// The agents run the farm components: a confirmed plan is applied (the cluster lifecycle
// checks that each member runs the profile's measurement and jobs).

afterAll(() => killAllAgents());

const kWebTier = `apiVersion: galaxy/v1
kind: ClusterProfile
name: web-tier
version: 1.0.0
extends: base@^1
roles:
  member: null
  lead:
    count: 1
    components:
      - { package: measurement, version: ^0.1.0 }
  worker:
    count: { min: 1, max: 2 }
    after: [lead]
    # A worker on the lead's rack would fail with it.
    placement: { antiAffinity: { attribute: rack, scope: cluster } }
    components:
      - { package: jobs, version: ^0.1.0, after: [measurement] }
      - { package: measurement, version: ^0.1.0 }
`;

function interactive(node: ApiAgent, input: string, ...args: string[]) {
  return spawnSync(process.execPath, [cli, 'cluster', 'design', ...args, '--data-dir', node.dir], { encoding: 'utf8', input });
}

describe('the Cluster Designer (real agent processes)', () => {
  it('previews, plans and confirms clusters from stored profiles on two landscapes; refuses bad input', async () => {
    const key = randomBytes(32).toString('base64');
    const seed = `127.0.0.1:${await freePort()}`;
    const a = await startApiAgent(seed, [], key);
    const b = await startApiAgent(`127.0.0.1:${await freePort()}`, [seed], key);
    const c = await startApiAgent(`127.0.0.1:${await freePort()}`, [seed], key);
    const dir = mkdtempSync(join(tmpdir(), 'galaxy-designer-'));
    writeFileSync(join(dir, 'web-tier.yaml'), kWebTier);

    // A and B on rack r1, C on r2; every node has the address the profile's networks name.
    for (const [node, rack] of [[a, 'r1'], [b, 'r1'], [c, 'r2']] as const) {
      const set = galaxy(a, 'attr', 'set', node.id, `rack=${rack}`, 'address=127.0.0.1');
      expect(set.status, set.stderr).toBe(0);
    }
    expect(galaxy(b, 'landscape', 'create', 'rack-r1', '--sql', "SELECT node FROM nodes WHERE rack = 'r1'").status).toBe(0);
    expect(galaxy(b, 'landscape', 'create', 'everywhere', '--sql', 'SELECT node FROM nodes WHERE rack IS NOT NULL').status).toBe(0);
    const imported = galaxy(b, 'profile', 'import', join(kProfiles, 'base.yaml'), join(dir, 'web-tier.yaml'));
    expect(imported.status, imported.stderr).toBe(0);
    // C's view: the attributes, landscapes and profiles have replicated to it.
    await eventually('C computes both landscapes', async () => [(await call(c, 'GET', '/v1/landscapes/rack-r1')).json, (await call(c, 'GET', '/v1/landscapes/everywhere')).json], ([r1, all]) => r1?.memberCount === 2 && all?.memberCount === 3);
    await eventually('C holds web-tier', async () => (await call(c, 'GET', '/v1/profiles/web-tier')).status, (status) => status === 200);
    const lead = [a, b, c].map((n) => n.id).sort()[0]!;
    const rackOf = new Map([[a.id, 'r1'], [b.id, 'r1'], [c.id, 'r2']]);

    // One rack: the worker cannot be placed away from the lead.
    const oneRack = galaxy(c, 'cluster', 'design', '--profile', 'web-tier', '--on', 'rack-r1', '--name', 'web', '--yes');
    expect(oneRack.status).toBe(2);
    expect(oneRack.stdout).toMatch(/role worker \(1 to 2 members\): 0 placed/);
    expect(oneRack.stdout).toMatch(/skipped .*rack/);
    expect(oneRack.stderr).toMatch(/not enough nodes: role worker needs 1 node/);

    // Two racks: placed, planned, written, and applied through the cluster lifecycle.
    const planFile = join(dir, 'web.plan.json');
    const twoRacks = galaxy(c, 'cluster', 'design', '--profile', 'web-tier', '--on', 'everywhere', '--name', 'web', '--yes', '-o', planFile);
    expect(twoRacks.status, twoRacks.stderr).toBe(0);
    expect(twoRacks.stdout).toContain('applying: galaxy cluster create web --profile web-tier@1.0.0 --on everywhere');
    expect(twoRacks.stdout).toMatch(/create of web: succeeded/);
    const plan = JSON.parse(readFileSync(planFile, 'utf8')) as ClusterPlanDocument;
    expect(plan).toMatchObject({ kind: 'ClusterPlan', operation: 'create', name: 'web', profile: 'web-tier@1.0.0', on: 'everywhere', blocked: [], command: 'galaxy cluster create web --profile web-tier@1.0.0 --on everywhere' });
    expect(plan.members.map((m) => m.role)).toEqual(['lead', 'worker']);
    expect(plan.members[0]!.node).toBe(lead);
    const worker = plan.members[1]!.node;
    expect(rackOf.get(worker)).not.toBe(rackOf.get(lead));
    // Components in start order: measurement before jobs on the worker; the lead gets only measurement.
    expect(plan.actions.filter((x) => x.node === worker).map((x) => (x.kind === 'install' ? `${x.package}@${x.version}` : x.kind))).toEqual(['add-member', 'measurement@0.1.0', 'jobs@0.1.0']);
    expect(plan.actions.filter((x) => x.node === lead).map((x) => (x.kind === 'install' ? `${x.package}@${x.version}` : x.kind))).toEqual(['add-member', 'measurement@0.1.0']);

    // --dry-run of an upgrade: the lead runs an old measurement; the worker is new.
    writeFileSync(join(dir, 'current.json'), JSON.stringify({ members: [{ node: lead, role: 'lead', components: [{ package: 'measurement', version: '0.0.1' }] }] }));
    const upgrade = galaxy(a, 'cluster', 'design', '--profile', 'web-tier@1', '--on', 'everywhere', '--name', 'web', '--current', join(dir, 'current.json'), '--dry-run');
    expect(upgrade.status, upgrade.stderr).toBe(0);
    expect(upgrade.stdout).toContain(`Upgrade plan for cluster web from web-tier@1.0.0 on landscape everywhere:`);
    expect(upgrade.stdout).toContain(`  ~ upgrade measurement 0.0.1 → 0.1.0 on ${lead}`);
    expect(upgrade.stdout).toContain(`+ add member ${worker} as worker`);
    expect(upgrade.stdout).toMatch(/Plan for web-tier@1\.0\.0: 1 member\(s\) to add, 0 to move, 0 to remove; 2 install\(s\), 1 version change\(s\)/);

    // `galaxy profile place|plan` of a stored name without --nodes: the same live data.
    const place = galaxy(a, 'profile', 'place', 'web-tier', '--on', 'everywhere');
    expect(place.status, place.stderr).toBe(0);
    expect(place.stdout).toMatch(new RegExp(`^worker\\s+${worker}\\s`, 'm'));
    const livePlan = galaxy(a, 'profile', 'plan', 'web-tier', '--on', 'rack-r1');
    expect(livePlan.status).toBe(2);
    expect(livePlan.stdout).toMatch(/^! blocked: .*worker/m);

    // Interactive, through a pipe: a landscape too small, another, a bad name, then confirmed.
    const dialogue = interactive(b, ['web-tier', 'rack-r1', 'l', 'everywhere', 'Bad Name', 'web2', 'y', ''].join('\n'));
    expect(dialogue.status, `${dialogue.stdout}\n${dialogue.stderr}`).toBe(0);
    expect(dialogue.stdout).toMatch(/profile \(number or NAME\[@RANGE\], q to quit\): web-tier\n/);
    expect(dialogue.stdout).toMatch(/^\d+\s+web-tier@1\.0\.0\s+base@\^1\s+none$/m);
    expect(dialogue.stdout).toMatch(/^\d+\s+rack-r1\s+2\s+SELECT node FROM nodes WHERE rack = 'r1'$/m);
    expect(dialogue.stdout).toContain('cannot be placed: choose another (p)rofile or (l)andscape, or q: l');
    expect(dialogue.stdout).toContain('a cluster name is 1 to 63 of a-z 0-9 -, starting with a letter');
    expect(dialogue.stdout).toContain(`apply this plan to create cluster web2? [y/N] y`);
    expect(dialogue.stdout).toContain('applying: galaxy cluster create web2 --profile web-tier@1.0.0 --on everywhere');
    expect(dialogue.stdout).toMatch(/create of web2: succeeded/);
    // Not confirmed, and stopped at the first question.
    const declined = interactive(b, 'web-tier\neverywhere\nweb3\nn\n');
    expect(declined.status).toBe(1);
    expect(declined.stdout).toContain('not confirmed; nothing done');
    const stopped = interactive(b, 'q\n');
    expect(stopped.status).toBe(1);
    expect(stopped.stderr).toContain('stopped; nothing planned');

    // The API: a preview with reasons; bad input 400 with reasons; unknown names 404.
    const preview = await call(a, 'POST', '/v1/designer/preview', { profile: { ref: 'web-tier' }, on: 'everywhere' });
    expect(preview.status).toBe(200);
    const shown = preview.json as DesignPreview;
    expect(shown).toMatchObject({ profile: 'web-tier@1.0.0', on: 'everywhere', placeable: true });
    expect(shown.placement.decisions.find((d) => d.node === lead && d.role === 'lead')).toMatchObject({ outcome: 'chosen' });
    const text = await call(a, 'POST', '/v1/designer/preview', { profile: { file: 'draft.yaml', text: kWebTier.replace('count: 1\n', 'count: 1\n    placement: { landscape: rack-r1 }\n') }, on: null });
    expect(text.status).toBe(200);
    expect(rackOf.get((text.json as DesignPreview).placement.members[0]!.node)).toBe('r1');
    const bad = async (path: string, body: unknown, status: number, pattern: RegExp) => {
      const answer = await call(a, 'POST', path, body);
      expect(answer.status, JSON.stringify(answer.json)).toBe(status);
      expect(answer.json.error.message).toMatch(pattern);
    };
    await bad('/v1/designer/preview', {}, 400, /profile/);
    await bad('/v1/designer/preview', { profile: 'web-tier' }, 400, /profile/);
    await bad('/v1/designer/preview', { profile: { ref: 'web-tier' }, on: 'no such!' }, 400, /landscape name/);
    await bad('/v1/designer/preview', { profile: { ref: 'web-tier' }, extra: 1 }, 400, /extra/);
    await bad('/v1/designer/preview', { profile: { file: 'draft.yaml', text: 'kind: [ClusterProfile\n' } }, 400, /^draft\.yaml:\d+:\d+: /);
    await bad('/v1/designer/preview', { profile: { file: 'draft.yaml', text: kWebTier.replace('count: 1\n', 'count: 1\n    placement: { sql: "DELETE FROM nodes" }\n') } }, 400, /roles\.lead\.placement\.sql/);
    await bad('/v1/designer/preview', { profile: { ref: 'web-tier' }, on: 'nowhere' }, 404, /no landscape "nowhere" \(landscapes: .*everywhere.*rack-r1/);
    await bad('/v1/designer/preview', { profile: { ref: 'nosuch' } }, 404, /no profile nosuch in the FMIDB \(stored: base@1\.0\.0, web-tier@1\.0\.0\)/);
    await bad('/v1/designer/plan', { profile: { ref: 'web-tier' }, name: 'Bad Name' }, 400, /name/);
    await bad('/v1/designer/plan', { profile: { ref: 'web-tier' }, current: [{ node: 'zz', role: 'lead' }] }, 400, /current\.0\.node/);
    await bad('/v1/designer/plan', { profile: { ref: 'web-tier' }, current: [{ node: lead, role: 'lead', components: [{ package: 'measurement', version: 'new' }] }] }, 400, /semantic version/);

    // C killed: membership and the FMIDB drop it, and the designer no longer places it.
    c.agent.child.kill('SIGKILL');
    const after = await eventually(
      'A no longer places C',
      async () => (await call(a, 'POST', '/v1/designer/preview', { profile: { ref: 'web-tier' }, on: 'everywhere' })).json as DesignPreview,
      (p) => !p.placement.members.some((m) => m.node === c.id) && !p.placement.decisions.some((d) => d.node === c.id && d.outcome !== 'skipped'),
    );
    expect(after.placement.members.every((m) => m.node !== c.id)).toBe(true);
  }, 240_000);
});
