// Proves the composition rules of README.md in src/cluster/profiles: maps merge deeply,
// roles merge by name, components by package (in place; new ones appended), channels
// by name, other lists and scalars later-wins, `null` deletes a key, `$remove: true`
// deletes a list item, mixins apply in order after the parent and before the profile's
// own fields, the head is never inherited, parents are found by version range; and the
// refusals: cycles (with the chain), missing parents and mixins (named, with what is
// known), kinds mixed up, duplicates, and a composed error naming the file that set
// the bad value. Also render (re-parses to the composed profile) and diff. How: small
// profiles as strings in a ListProfileSource, through the real composer and checker.
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { checkComposition } from '../src/cluster/profiles/profile-check.js';
import { composeProfile } from '../src/cluster/profiles/profile-composer.js';
import { diffProfiles, formatDiff } from '../src/cluster/profiles/profile-diff.js';
import { parseProfileDocument, type ProfileDocument } from '../src/cluster/profiles/profile-document.js';
import { ProfileError } from '../src/cluster/profiles/profile-error.js';
import { renderProfile } from '../src/cluster/profiles/profile-render.js';
import type { Profile } from '../src/cluster/profiles/profile-schema.js';
import { ListProfileSource } from '../src/cluster/profiles/profile-source.js';

const kHead = (kind: string, name: string, version = '1.0.0') => `apiVersion: galaxy/v1\nkind: ${kind}\nname: ${name}\nversion: ${version}\n`;

const kBase = `${kHead('ClusterProfile', 'base')}description: the base
failureDetector: { heartbeatIntervalMs: 500, timeoutMs: 3000 }
networks:
  admin: { attribute: address }
  components: { attribute: address }
  failureDetection: { attribute: address }
channels:
  - { name: control, reliability: reliable, ordering: fifo }
roles:
  member:
    count: { min: 1, max: 8 }
    components:
      - { package: measurement, version: '*', config: { periodMs: 1000, keep: [a, b] } }
      - { package: galaxy-log, version: ^1.0.0, channels: [control] }
`;

function source(texts: Record<string, string>): { source: ListProfileSource; documents: Map<string, ProfileDocument> } {
  const documents = new Map(Object.entries(texts).map(([file, text]) => [file, parseProfileDocument(file, text)]));
  return { source: new ListProfileSource([...documents.values()], 'the test'), documents };
}

function composed(texts: Record<string, string>, file: string): { profile: Profile; lineage: readonly string[]; rendered: string } {
  const { source: s, documents } = source(texts);
  const composition = composeProfile(documents.get(file)!, s);
  return { profile: checkComposition(composition), lineage: composition.lineage, rendered: renderProfile(composition) };
}

function refusal(texts: Record<string, string>, file: string): ProfileError {
  try {
    composed(texts, file);
  } catch (error) {
    if (error instanceof ProfileError) return error;
    throw error;
  }
  throw new Error('accepted');
}

describe('composition rules', () => {
  it('maps merge deeply, scalars later-wins, the head is the profile\'s own', () => {
    const child = `${kHead('ClusterProfile', 'child', '2.0.0')}extends: base\nfailureDetector: { timeoutMs: 2000 }\n`;
    const { profile } = composed({ 'base.yaml': kBase, 'child.yaml': child }, 'child.yaml');
    expect(profile.failureDetector).toEqual({ heartbeatIntervalMs: 500, timeoutMs: 2000 });
    expect([profile.name, profile.version, profile.description]).toEqual(['child', '2.0.0', undefined]);
    expect(profile).not.toHaveProperty('extends');
  });

  it('roles merge by name; components merge by package in place, new ones appended; config merges deeply; plain lists are replaced', () => {
    const child = `${kHead('ClusterProfile', 'child')}extends: base
roles:
  member:
    count: { max: 4 }
    components:
      - { package: galaxy-log, version: ^2.0.0 }
      - { package: measurement, config: { periodMs: 250, keep: [c] } }
      - { package: galaxy-lock-manager, version: ^1.0.0, after: [galaxy-log] }
  witness:
    count: 1
    components: []
`;
    const { profile } = composed({ 'base.yaml': kBase, 'child.yaml': child }, 'child.yaml');
    expect(Object.keys(profile.roles)).toEqual(['member', 'witness']);
    expect(profile.roles['member']!.count).toEqual({ min: 1, max: 4 });
    expect(profile.roles['member']!.components).toEqual([
      { package: 'measurement', version: '*', config: { periodMs: 250, keep: ['c'] } },
      { package: 'galaxy-log', version: '^2.0.0', channels: ['control'] },
      { package: 'galaxy-lock-manager', version: '^1.0.0', after: ['galaxy-log'] },
    ]);
  });

  it('null deletes a key (a role, a config setting); $remove deletes a component or a channel', () => {
    const child = `${kHead('ClusterProfile', 'child')}extends: base
channels:
  - { name: control, $remove: true }
  - { name: data, reliability: unreliable, ordering: none }
roles:
  member:
    components:
      - { package: galaxy-log, $remove: true }
      - { package: measurement, config: { keep: null } }
  gone: null
`;
    const base = kBase.replace('roles:\n', 'roles:\n  gone:\n    count: 1\n    components: []\n');
    const { profile } = composed({ 'base.yaml': base, 'child.yaml': child }, 'child.yaml');
    expect(Object.keys(profile.roles)).toEqual(['member']);
    expect(profile.roles['member']!.components).toEqual([{ package: 'measurement', version: '*', config: { periodMs: 1000 } }]);
    expect(profile.channels).toEqual([{ name: 'data', reliability: 'unreliable', ordering: 'none' }]);
  });

  it('mixins apply in order after the parent and before the profile\'s own fields', () => {
    const fast = `${kHead('ProfileMixin', 'fast')}failureDetector: { heartbeatIntervalMs: 100, timeoutMs: 600 }\n`;
    const faster = `${kHead('ProfileMixin', 'faster')}failureDetector: { heartbeatIntervalMs: 50 }\n`;
    const texts = { 'base.yaml': kBase, 'fast.yaml': fast, 'faster.yaml': faster };
    const plain = composed({ ...texts, 'c.yaml': `${kHead('ClusterProfile', 'c')}extends: base\nmixins: [fast, faster]\n` }, 'c.yaml');
    expect(plain.profile.failureDetector).toEqual({ heartbeatIntervalMs: 50, timeoutMs: 600 });
    expect(plain.lineage).toEqual(['base@1.0.0', 'fast@1.0.0', 'faster@1.0.0', 'c@1.0.0']);
    const reversed = composed({ ...texts, 'c.yaml': `${kHead('ClusterProfile', 'c')}extends: base\nmixins: [faster, fast]\n` }, 'c.yaml');
    expect(reversed.profile.failureDetector.heartbeatIntervalMs).toBe(100);
    const own = composed({ ...texts, 'c.yaml': `${kHead('ClusterProfile', 'c')}extends: base\nmixins: [fast, faster]\nfailureDetector: { heartbeatIntervalMs: 200, timeoutMs: 1000 }\n` }, 'c.yaml');
    expect(own.profile.failureDetector).toEqual({ heartbeatIntervalMs: 200, timeoutMs: 1000 });
  });

  it('a parent is found by version range: the highest in range', () => {
    const texts = {
      'b1.yaml': kBase,
      'b12.yaml': kBase.replace('version: 1.0.0', 'version: 1.2.0').replace('timeoutMs: 3000', 'timeoutMs: 3120'),
      'b2.yaml': kBase.replace('version: 1.0.0', 'version: 2.0.0').replace('timeoutMs: 3000', 'timeoutMs: 3200'),
    };
    const timeout = (ref: string) => composed({ ...texts, 'c.yaml': `${kHead('ClusterProfile', 'c')}extends: ${ref}\n` }, 'c.yaml').profile.failureDetector.timeoutMs;
    expect(timeout('base@^1')).toBe(3120);
    expect(timeout('base@1.0.0')).toBe(3000);
    expect(timeout('base')).toBe(3200);
    const error = refusal({ ...texts, 'c.yaml': `${kHead('ClusterProfile', 'c')}extends: base@^3\n` }, 'c.yaml');
    expect(error.code).toBe('GALAXY_PROFILE_NOT_FOUND');
    expect(error.message).toBe('c.yaml:5:10: extends: no version of base in range ^3 in the test (versions: 1.0.0, 1.2.0, 2.0.0)');
  });
});

describe('composition refusals', () => {
  it('an extends cycle, with the chain', () => {
    const a = `${kHead('ClusterProfile', 'a')}extends: b\n`;
    const b = `${kHead('ClusterProfile', 'b')}extends: c\n`;
    const c = `${kHead('ClusterProfile', 'c')}extends: a\n`;
    const error = refusal({ 'a.yaml': a, 'b.yaml': b, 'c.yaml': c }, 'a.yaml');
    expect(error.code).toBe('GALAXY_PROFILE_CYCLE');
    expect(error.message).toBe('c.yaml:5:10: extends: composition cycle: a@1.0.0 → b@1.0.0 → c@1.0.0 → a@1.0.0');
  });

  it('a profile extending itself, and a mixin cycle', () => {
    expect(refusal({ 'a.yaml': `${kHead('ClusterProfile', 'a')}extends: a\n` }, 'a.yaml').message).toContain('composition cycle: a@1.0.0 → a@1.0.0');
    const m1 = `${kHead('ProfileMixin', 'm1')}mixins: [m2]\n`;
    const m2 = `${kHead('ProfileMixin', 'm2')}mixins: [m1]\n`;
    const error = refusal({ 'base.yaml': kBase, 'm1.yaml': m1, 'm2.yaml': m2, 'p.yaml': `${kHead('ClusterProfile', 'p')}extends: base\nmixins: [m1]\n` }, 'p.yaml');
    expect(error.code).toBe('GALAXY_PROFILE_CYCLE');
    expect(error.problems[0]).toMatchObject({ file: 'm2.yaml', path: 'mixins[0]' });
    expect(error.message).toContain('composition cycle: m1@1.0.0 → m2@1.0.0 → m1@1.0.0');
  });

  it('the same mixin twice (a diamond) is not a cycle', () => {
    const m = `${kHead('ProfileMixin', 'm')}failureDetector: { timeoutMs: 5000 }\n`;
    const mid = `${kHead('ClusterProfile', 'mid')}extends: base\nmixins: [m]\n`;
    const { lineage } = composed({ 'base.yaml': kBase, 'm.yaml': m, 'mid.yaml': mid, 'p.yaml': `${kHead('ClusterProfile', 'p')}extends: mid\nmixins: [m]\n` }, 'p.yaml');
    expect(lineage).toEqual(['base@1.0.0', 'm@1.0.0', 'mid@1.0.0', 'm@1.0.0', 'p@1.0.0']);
  });

  it('a missing parent and a missing mixin are named, with what is known', () => {
    const noParent = refusal({ 'base.yaml': kBase, 'p.yaml': `${kHead('ClusterProfile', 'p')}extends: bsae\n` }, 'p.yaml');
    expect(noParent.code).toBe('GALAXY_PROFILE_NOT_FOUND');
    expect(noParent.message).toBe('p.yaml:5:10: extends: bsae not found in the test (known: base, p)');
    const noMixin = refusal({ 'base.yaml': kBase, 'p.yaml': `${kHead('ClusterProfile', 'p')}extends: base\nmixins: [fast]\n` }, 'p.yaml');
    expect(noMixin.problems[0]).toMatchObject({ file: 'p.yaml', path: 'mixins[0]', reason: 'fast not found in the test (known: base, p)' });
  });

  it('kinds: a profile cannot extend a mixin, nor list a profile as a mixin', () => {
    const m = `${kHead('ProfileMixin', 'm')}failureDetector: { timeoutMs: 5000 }\n`;
    const extendsMixin = refusal({ 'm.yaml': m, 'p.yaml': `${kHead('ClusterProfile', 'p')}extends: m\n` }, 'p.yaml');
    expect(extendsMixin.code).toBe('GALAXY_PROFILE_KIND');
    expect(extendsMixin.problems[0]).toMatchObject({ path: 'extends', reason: 'a ClusterProfile cannot extend m@1.0.0, a ProfileMixin' });
    const profileAsMixin = refusal({ 'base.yaml': kBase, 'p.yaml': `${kHead('ClusterProfile', 'p')}mixins: [base]\n` }, 'p.yaml');
    expect(profileAsMixin.problems[0]).toMatchObject({ path: 'mixins[0]', reason: 'base@1.0.0 is a ClusterProfile, not a ProfileMixin; a whole profile is used with extends' });
  });

  it('two files with the same name@version are refused', () => {
    expect(() => source({ 'a.yaml': kBase, 'b.yaml': kBase })).toThrow(/^b\.yaml: version: base@1\.0\.0 is also defined by a\.yaml$/);
  });

  it('a problem that appears only after composition names the file that set the value', () => {
    // The parent's lock manager starts after galaxy-log; the child removes galaxy-log.
    const parent = kBase.replace("- { package: galaxy-log, version: ^1.0.0, channels: [control] }", "- { package: galaxy-log, version: ^1.0.0, channels: [control] }\n      - { package: galaxy-lock, version: ^1.0.0, after: [galaxy-log] }");
    const child = `${kHead('ClusterProfile', 'child')}extends: base\nroles:\n  member:\n    components:\n      - { package: galaxy-log, $remove: true }\n`;
    const error = refusal({ 'base.yaml': parent, 'child.yaml': child }, 'child.yaml');
    expect(error.code).toBe('GALAXY_PROFILE_DEPENDENCY');
    expect(error.message).toBe('base.yaml: roles.member.components[1].after[0]: no component "galaxy-log" in role member (components: measurement, galaxy-lock)');
    // And a field deleted by the child is reported against the child.
    const deleted = refusal({ 'base.yaml': kBase, 'child.yaml': `${kHead('ClusterProfile', 'child')}extends: base\nnetworks: { admin: null }\n` }, 'child.yaml');
    expect(deleted.message).toBe('child.yaml:6:20: networks.admin: is required');
    // A composed value the profile itself set is given its line.
    const own = refusal({ 'base.yaml': kBase, 'child.yaml': `${kHead('ClusterProfile', 'child')}extends: base\nfailureDetector: { timeoutMs: 600 }\n` }, 'child.yaml');
    expect(own.message).toBe('child.yaml:6:31: failureDetector.timeoutMs: 600 ms is shorter than 2 heartbeats of 500 ms: one lost heartbeat would be a false death');
  });
});

describe('render and diff', () => {
  it('render is the composed profile as YAML, with where it came from', () => {
    const child = `${kHead('ClusterProfile', 'child')}extends: base\nfailureDetector: { timeoutMs: 2000 }\n`;
    const { profile, rendered } = composed({ 'base.yaml': kBase, 'child.yaml': child }, 'child.yaml');
    expect(rendered.split('\n')[0]).toBe('# child@1.0.0 composed from base@1.0.0 + child@1.0.0 (child.yaml)');
    expect(parse(rendered)).toEqual(profile);
    // A rendered profile is itself a valid profile, composed of nothing.
    const again = composed({ 'r.yaml': rendered }, 'r.yaml');
    expect(again.profile).toEqual(profile);
  });

  it('diff shows changes by path, components and channels by their key', () => {
    const v2 = kBase
      .replace('version: 1.0.0', 'version: 2.0.0')
      .replace('galaxy-log, version: ^1.0.0', 'galaxy-log, version: ^2.0.0')
      .replace('count: { min: 1, max: 8 }', 'count: { min: 3, max: 8 }')
      .replace('  - { name: control, reliability: reliable, ordering: fifo }', '  - { name: control, reliability: reliable, ordering: total }')
      .concat('      - { package: galaxy-lock, version: ^1.0.0 }\n');
    const a = composed({ 'a.yaml': kBase }, 'a.yaml').profile;
    const b = composed({ 'b.yaml': v2 }, 'b.yaml').profile;
    expect(formatDiff(diffProfiles(a, b))).toEqual([
      '~ channels[control].ordering: "fifo" → "total"',
      '+ roles.member.components[galaxy-lock]: {"package":"galaxy-lock","version":"^1.0.0"}',
      '~ roles.member.components[galaxy-log].version: "^1.0.0" → "^2.0.0"',
      '~ roles.member.count.min: 1 → 3',
      '~ version: "1.0.0" → "2.0.0"',
    ]);
    expect(diffProfiles(a, a)).toEqual([]);
  });
});
