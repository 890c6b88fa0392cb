// Proves `galaxy profile validate|render|diff|place|plan` as the CLI runs them: the
// commands registered on a commander program (as src/ops/cli/main.ts does), fed argv, with
// output and the exit code captured (the approach of test/jobs-cli.test.ts). Exit 0 on
// success, 2 on a bad profile (file, line, column, path and reason printed), on bad
// flags or input files, not enough nodes, or a blocked plan, 1 for missing components
// with --require-components; placement SQL is evaluated over the nodes file on the
// landscape engine's mirror.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { registerProfileCommands } from '../src/cluster/profiles/profile-commands.js';
import { packageRoot } from '../src/core/platform/package-root.js';

const kProfiles = join(packageRoot(), 'profiles');
const dirs: string[] = [];

afterEach(() => {
  process.exitCode = undefined;
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function galaxy(...args: string[]): Promise<{ out: string[]; err: string[]; exitCode: number }> {
  const out: string[] = [];
  const err: string[] = [];
  const program = new Command().exitOverride();
  registerProfileCommands(program, { print: (line) => out.push(line), printError: (line) => err.push(line) });
  process.exitCode = undefined;
  await program.parseAsync(['node', 'galaxy', ...args]);
  const exitCode = Number(process.exitCode ?? 0);
  process.exitCode = undefined;
  return { out, err, exitCode };
}

function scratch(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'galaxy-profiles-cli-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

const id = (n: number) => n.toString(16).padStart(16, '0');
const kNodes = {
  nodes: [1, 2, 3, 4, 5].map((n) => ({ id: id(n), attributes: { address: `10.0.0.${n}`, rack: `r${(n + 1) >> 1}`, disk: n * 100 } })),
  landscapes: { db: [id(1), id(2), id(3)], small: [id(1)] },
};

describe('galaxy profile', () => {
  it('validate: every shipped profile is valid (exit 0) and says which components are missing', async () => {
    const files = ['base', 'mixin-fast-failover', 'primary-backup', 'parallel-computing'].map((f) => join(kProfiles, `${f}.yaml`));
    const result = await galaxy('profile', 'validate', ...files);
    expect(result.exitCode).toBe(0);
    expect(result.out).toContain(`ok  ${files[0]}  base@1.0.0`);
    expect(result.out).toContain('    deployable: every component is available');
    expect(result.out).toContain(`ok  ${files[1]}  fast-failover@1.0.0: a mixin; composes into profiles`);
    expect(result.out).toContain(`ok  ${files[2]}  primary-backup@1.0.0 (base@1.0.0 + fast-failover@1.0.0 + primary-backup@1.0.0)`);
    expect(result.out).toContain('    NOT deployable: 5 components missing');
    expect(result.out).toContain('      galaxy-lock-manager ^1.0.0 (roles primary, backup): no such package');
    const strict = await galaxy('profile', 'validate', '--require-components', files[2]!);
    expect(strict.exitCode).toBe(1);
    const known = await galaxy('profile', 'validate', '--require-components', '--packages', 'galaxy-distributed-log@1.0.0,galaxy-vm-replication@1.1.0', '--packages', 'galaxy-lock-manager@1.0.0,galaxy-transaction-service@1.0.0,galaxy-failover-manager@1.2.0', files[2]!);
    expect(known.exitCode).toBe(0);
    expect(known.out).toContain('    deployable: every component is available');
  });

  it('validate: a package store directory counts as known packages; --json', async () => {
    const store = scratch({});
    const { mkdirSync } = await import('node:fs');
    mkdirSync(join(store, 'galaxy-job-queue', '1.0.3'), { recursive: true });
    const result = await galaxy('profile', 'validate', '--json', '--package-store', store, join(kProfiles, 'parallel-computing.yaml'));
    const [report] = JSON.parse(result.out.join('\n'));
    expect(report.valid).toBe(true);
    expect(report.missing.map((m: { package: string }) => m.package)).toEqual(['galaxy-sync-service', 'galaxy-distributed-log', 'galaxy-debug-service']);
  });

  it('validate: a bad profile exits 2 naming file, line, column, path and reason; the good ones are still reported', async () => {
    const bad = `apiVersion: galaxy/v1\nkind: ClusterProfile\nname: broken\nversion: 1.0.0\nextends: base\nroles:\n  primary:\n    count: 1\n    components:\n      - { package: galaxy-log, version: latest }\n`;
    const dir = scratch({ 'broken.yaml': bad, 'orphan.yaml': bad.replace('name: broken', 'name: orphan').replace('latest', '^1.0.0') });
    const result = await galaxy('profile', 'validate', '--profiles-dir', kProfiles, join(dir, 'broken.yaml'), join(kProfiles, 'base.yaml'));
    expect(result.exitCode).toBe(2);
    expect(result.out).toContain(`bad ${join(dir, 'broken.yaml')}:10:41: roles.primary.components[0].version: "latest" is not a version range (^1.2.0, ~1.2, 1.x, >=1.0.0 <2, ...)`);
    expect(result.out).toContain(`ok  ${join(kProfiles, 'base.yaml')}  base@1.0.0`);
    const missingParent = await galaxy('profile', 'validate', join(dir, 'orphan.yaml'));
    expect(missingParent.exitCode).toBe(2);
    expect(missingParent.out).toEqual([`bad ${join(dir, 'orphan.yaml')}:5:10: extends: base not found in directory ${dir} (known: orphan)`]);
    const unreadable = await galaxy('profile', 'validate', join(dir, 'nope.yaml'));
    expect(unreadable.exitCode).toBe(2);
    expect(unreadable.out[0]).toMatch(/^bad .*nope\.yaml: ENOENT/);
  });

  it('render prints the composed profile; diff compares two versions by file or name@version', async () => {
    const rendered = await galaxy('profile', 'render', join(kProfiles, 'primary-backup.yaml'));
    expect(rendered.exitCode).toBe(0);
    const profile = parse(rendered.out.join('\n'));
    expect(profile.failureDetector).toEqual({ heartbeatIntervalMs: 150, timeoutMs: 1000 });
    expect(Object.keys(profile.roles)).toEqual(['primary', 'backup']);
    const v2 = `apiVersion: galaxy/v1\nkind: ClusterProfile\nname: primary-backup\nversion: 2.0.0\nextends: primary-backup@^1\nroles:\n  backup:\n    count: { max: 3 }\n    components:\n      - { package: galaxy-lock-manager, version: ^2.0.0 }\n`;
    const dir = scratch({ 'pb2.yaml': v2 });
    const byFile = await galaxy('profile', 'diff', '--profiles-dir', kProfiles, join(kProfiles, 'primary-backup.yaml'), join(dir, 'pb2.yaml'));
    expect(byFile.exitCode).toBe(0);
    expect(byFile.out).toEqual([
      '- description: "One primary serves, backups replicate its log and VM state and take over on failure."',
      '~ roles.backup.components[galaxy-lock-manager].version: "^1.0.0" → "^2.0.0"',
      '~ roles.backup.count.max: 2 → 3',
      '~ version: "1.0.0" → "2.0.0"',
    ]);
    const byName = await galaxy('profile', 'diff', '--profiles-dir', kProfiles, 'cloned-service@1', 'partitioned-service');
    expect(byName.exitCode).toBe(0);
    expect(byName.out).toContain('~ name: "cloned-service" → "partitioned-service"');
    expect(byName.out.filter((line) => line.startsWith('+ roles.') || line.startsWith('- roles.')).map((line) => line.split(':')[0])).toEqual(['- roles.member', '+ roles.partition', '+ roles.redirector']);
    const unknown = await galaxy('profile', 'diff', '--profiles-dir', kProfiles, 'nosuch', 'base');
    expect(unknown.exitCode).toBe(2);
    expect(unknown.err[0]).toMatch(/^galaxy: nosuch: neither a \.yaml file nor a profile in directory .*profiles \(known: application-development, base, /);
  });

  it('place: which node gets which role and why; not enough nodes exits 2 with why', async () => {
    const dir = scratch({ 'nodes.json': JSON.stringify(kNodes) });
    const result = await galaxy('profile', 'place', join(kProfiles, 'primary-backup.yaml'), '--nodes', join(dir, 'nodes.json'), '--on', 'db');
    expect(result.exitCode).toBe(0);
    expect(result.out.slice(0, 3)).toEqual([
      'ROLE     NODE              ADMIN     COMPONENTS  FAILURE DETECTION',
      `primary  ${id(1)}  10.0.0.1  10.0.0.1    10.0.0.1`,
      `backup   ${id(3)}  10.0.0.3  10.0.0.3    10.0.0.3`,
    ]);
    expect(result.out).toContain(`    skipped ${id(2)}  rack r1 already holds ${id(1)} (anti-affinity by rack)`);
    const short = await galaxy('profile', 'place', join(kProfiles, 'primary-backup.yaml'), '--nodes', join(dir, 'nodes.json'), '--on', 'small');
    expect(short.exitCode).toBe(2);
    expect(short.err).toEqual([`galaxy: not enough nodes: role backup needs 1 node, found 0 (left out: 1 already member of role primary; 4 not in the cluster's landscape)`]);
    const json = await galaxy('profile', 'place', join(kProfiles, 'mscs-compatible.yaml'), '--nodes', join(dir, 'nodes.json'), '--json');
    // mscs-compatible uses the dual-network mixin: these nodes have no net.data attribute.
    expect(json.exitCode).toBe(2);
    expect(JSON.parse(json.out.join('\n')).roles[0].excluded).toEqual([{ reason: 'no net.data attribute (network for components traffic)', nodes: [1, 2, 3, 4, 5].map(id) }]);
  });

  it('place: placement SQL is evaluated over the nodes file', async () => {
    const profile = `apiVersion: galaxy/v1\nkind: ClusterProfile\nname: big-disks\nversion: 1.0.0\nextends: base\nroles:\n  member:\n    count: { min: 1, max: 8 }\n    placement: { sql: "SELECT node FROM nodes WHERE disk >= 300" }\n`;
    const dir = scratch({ 'big-disks.yaml': profile, 'nodes.json': JSON.stringify(kNodes) });
    const result = await galaxy('profile', 'place', '--profiles-dir', kProfiles, join(dir, 'big-disks.yaml'), '--nodes', join(dir, 'nodes.json'), '--json');
    expect(result.exitCode).toBe(0);
    expect(JSON.parse(result.out.join('\n')).members.map((m: { node: string }) => m.node)).toEqual([id(3), id(4), id(5)]);
    const bad = scratch({ 'bad-sql.yaml': profile.replace('disk >= 300', 'nosuchcolumn = 1'), 'nodes.json': JSON.stringify(kNodes) });
    const refused = await galaxy('profile', 'place', '--profiles-dir', kProfiles, join(bad, 'bad-sql.yaml'), '--nodes', join(bad, 'nodes.json'));
    expect(refused.exitCode).toBe(2);
    expect(refused.err[0]).toMatch(/^galaxy: big-disks@1\.0\.0: roles\.member\.placement\.sql: GALAXY_LANDSCAPE_SQL_INVALID: .*nosuchcolumn/);
  });

  it('plan: the dry-run actions from a current cluster; blocked plans exit 2; bad input files exit 2', async () => {
    const current = { members: [{ node: id(1), role: 'primary', components: [{ package: 'galaxy-distributed-log', version: '0.9.0' }] }] };
    const dir = scratch({ 'nodes.json': JSON.stringify(kNodes), 'cluster.json': JSON.stringify(current), 'bad.json': '{"nodes": [{"id": "xyz"}]}' });
    const packages = ['galaxy-distributed-log@1.0.0', 'galaxy-vm-replication@1.0.0', 'galaxy-lock-manager@1.0.0', 'galaxy-transaction-service@1.0.0', 'galaxy-failover-manager@1.0.0'].join(',');
    const plan = await galaxy('profile', 'plan', join(kProfiles, 'primary-backup.yaml'), '--nodes', join(dir, 'nodes.json'), '--current', join(dir, 'cluster.json'), '--on', 'db', '--packages', packages);
    expect(plan.exitCode).toBe(0);
    expect(plan.out.slice(0, 3)).toEqual([`  ~ upgrade galaxy-distributed-log 0.9.0 → 1.0.0 on ${id(1)}`, `  + install galaxy-vm-replication@1.0.0 on ${id(1)}`, `  + install galaxy-lock-manager@1.0.0 on ${id(1)}`]);
    expect(plan.out).toContain(`+ add member ${id(3)} as backup (in the cluster's landscape; rack r2 not yet used by the cluster)`);
    expect(plan.out.at(-1)).toBe('Plan for primary-backup@1.0.0: 1 member(s) to add, 0 to move, 0 to remove; 9 install(s), 1 version change(s), 0 component removal(s).');
    const blocked = await galaxy('profile', 'plan', join(kProfiles, 'primary-backup.yaml'), '--nodes', join(dir, 'nodes.json'));
    expect(blocked.exitCode).toBe(2);
    expect(blocked.out).toContain('! blocked: galaxy-vm-replication ^1.0.0 (role backup) on 2 nodes: no known version in range');
    const badNodes = await galaxy('profile', 'plan', join(kProfiles, 'primary-backup.yaml'), '--nodes', join(dir, 'bad.json'));
    expect(badNodes.exitCode).toBe(2);
    expect(badNodes.err[0]).toBe(`galaxy: nodes file ${join(dir, 'bad.json')}: nodes.0.id: must be a node id (16 lower-case hex digits)`);
    const badFlag = await galaxy('profile', 'validate', '--packages', 'nonsense', join(kProfiles, 'base.yaml'));
    expect(badFlag.exitCode).toBe(2);
    expect(badFlag.err[0]).toBe('galaxy: --packages: expected NAME@VERSION, got "nonsense"');
  });
});
