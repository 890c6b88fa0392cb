// Proves that every bad profile is refused with an error naming the file, the path
// inside it and the reason (and the line and column where the file says it), with a
// stable code: YAML syntax, wrong types, unknown fields, bounds, and the semantic rules
// (counts, failure-detector timing, placement selectors, dependencies and their
// cycles, undeclared channels). How: each case edits one valid single-file profile, runs
// the real parser, composer and checker, and matches the ProfileError's problems.
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { checkComposition } from '../src/cluster/profiles/profile-check.js';
import { composeProfile } from '../src/cluster/profiles/profile-composer.js';
import { parseProfileDocument } from '../src/cluster/profiles/profile-document.js';
import { ProfileError, type ProfileErrorCode } from '../src/cluster/profiles/profile-error.js';
import { kProfileBytesMax } from '../src/cluster/profiles/profile-limits.js';
import { ListProfileSource } from '../src/cluster/profiles/profile-source.js';
import { clusterTuningOf } from '../src/cluster/lifecycle/cluster-lifecycle.js';
import { checkTuning } from '../src/cluster/service/cluster-definition.js';

const kGood = `apiVersion: galaxy/v1
kind: ClusterProfile
name: pb
version: 1.0.0
failureDetector:
  heartbeatIntervalMs: 200
  timeoutMs: 1000
networks:
  admin: { attribute: address }
  components: { attribute: net.data }
  failureDetection: { attribute: net.data }
channels:
  - { name: log, reliability: reliable, ordering: total }
roles:
  primary:
    count: 1
    placement: { landscape: web, antiAffinity: { attribute: rack } }
    components:
      - { package: galaxy-log, version: ^1.0.0, channels: [log] }
      - { package: galaxy-lock-manager, version: ^1.0.0, after: [galaxy-log], config: { leaseMs: 500 } }
  backup:
    count: { min: 1, max: 3 }
    after: [primary]
    components:
      - { package: galaxy-log, version: ^1.0.0 }
`;

/** Compose and check one file on its own; returns the error it must raise. */
function refusal(text: string, file = 'pb.yaml'): ProfileError {
  try {
    const document = parseProfileDocument(file, text);
    checkComposition(composeProfile(document, new ListProfileSource([document], 'the test')));
  } catch (error) {
    if (error instanceof ProfileError) return error;
    throw error;
  }
  throw new Error('the profile was accepted');
}

/** kGood with `edit` applied to its data. */
function edited(edit: (profile: any) => void): string {
  const profile = parse(kGood);
  edit(profile);
  return stringify(profile);
}

interface Case {
  readonly name: string;
  readonly text: string;
  readonly code: ProfileErrorCode;
  readonly path: string;
  readonly reason: RegExp;
}

const kCases: Case[] = [
  { name: 'wrong apiVersion', text: edited((p) => (p.apiVersion = 'v2')), code: 'GALAXY_PROFILE_SCHEMA', path: 'apiVersion', reason: /must be "galaxy\/v1"/ },
  { name: 'unknown kind', text: edited((p) => (p.kind = 'Cluster')), code: 'GALAXY_PROFILE_SCHEMA', path: 'kind', reason: /must be one of ClusterProfile, ProfileMixin/ },
  { name: 'upper-case name', text: edited((p) => (p.name = 'Primary')), code: 'GALAXY_PROFILE_SCHEMA', path: 'name', reason: /1 to 63 of a-z 0-9/ },
  { name: 'version not semver', text: edited((p) => (p.version = '1.0')), code: 'GALAXY_PROFILE_SCHEMA', path: 'version', reason: /"1.0" is not a semantic version/ },
  { name: 'missing version', text: edited((p) => delete p.version), code: 'GALAXY_PROFILE_SCHEMA', path: 'version', reason: /is required/ },
  { name: 'unknown top-level field', text: edited((p) => (p.rolez = {})), code: 'GALAXY_PROFILE_SCHEMA', path: '', reason: /unknown field "rolez"/ },
  { name: 'unknown role field', text: edited((p) => (p.roles.primary.cuont = 2)), code: 'GALAXY_PROFILE_SCHEMA', path: 'roles.primary', reason: /unknown field "cuont"/ },
  { name: 'count of the wrong type', text: edited((p) => (p.roles.primary.count = 'three')), code: 'GALAXY_PROFILE_SCHEMA', path: 'roles.primary.count', reason: /whole number of members \(0 to 64\) or \{min, max\}/ },
  { name: 'count too large', text: edited((p) => (p.roles.primary.count = 100)), code: 'GALAXY_PROFILE_SCHEMA', path: 'roles.primary.count', reason: /must be at most 64 members/ },
  { name: 'count range min above max', text: edited((p) => (p.roles.backup.count = { min: 3, max: 1 })), code: 'GALAXY_PROFILE_SEMANTICS', path: 'roles.backup.count', reason: /min 3 is larger than max 1/ },
  { name: 'count range without max', text: edited((p) => (p.roles.backup.count = { min: 1 })), code: 'GALAXY_PROFILE_SCHEMA', path: 'roles.backup.count', reason: /or \{min, max\}/ },
  { name: 'missing count', text: edited((p) => delete p.roles.backup.count), code: 'GALAXY_PROFILE_SCHEMA', path: 'roles.backup.count', reason: /is required/ },
  { name: 'bad version range', text: edited((p) => (p.roles.primary.components[1].version = 'latest')), code: 'GALAXY_PROFILE_SCHEMA', path: 'roles.primary.components[1].version', reason: /"latest" is not a version range/ },
  { name: 'component without package', text: edited((p) => delete p.roles.primary.components[0].package), code: 'GALAXY_PROFILE_SCHEMA', path: 'roles.primary.components[0].package', reason: /is required/ },
  { name: 'component without version', text: edited((p) => delete p.roles.primary.components[0].version), code: 'GALAXY_PROFILE_SCHEMA', path: 'roles.primary.components[0].version', reason: /is required/ },
  { name: 'bad package name', text: edited((p) => (p.roles.primary.components[0].package = 'Galaxy_Log')), code: 'GALAXY_PROFILE_SCHEMA', path: 'roles.primary.components[0].package', reason: /1 to 63 of a-z/ },
  { name: 'package listed twice', text: edited((p) => (p.roles.primary.components[1].package = 'galaxy-log')), code: 'GALAXY_PROFILE_SCHEMA', path: 'roles.primary.components[1].package', reason: /"galaxy-log" is listed twice \(also at roles.primary.components\[0\]\)/ },
  { name: 'config not a map', text: edited((p) => (p.roles.primary.components[1].config = 3)), code: 'GALAXY_PROFILE_SCHEMA', path: 'roles.primary.components[1].config', reason: /must be a map of settings/ },
  { name: '$remove not true', text: edited((p) => (p.roles.primary.components[0].$remove = false)), code: 'GALAXY_PROFILE_SCHEMA', path: 'roles.primary.components[0].$remove', reason: /either absent or true/ },
  { name: 'channel ordering unknown', text: edited((p) => (p.channels[0].ordering = 'ordered')), code: 'GALAXY_PROFILE_SCHEMA', path: 'channels[0].ordering', reason: /'none' \| 'fifo' \| 'causal' \| 'total' \| 'safe'/ },
  { name: 'channel reliability unknown', text: edited((p) => (p.channels[0].reliability = 'best-effort')), code: 'GALAXY_PROFILE_SCHEMA', path: 'channels[0].reliability', reason: /'unreliable' \| 'reliable'/ },
  { name: 'channel declared twice', text: edited((p) => p.channels.push({ ...p.channels[0] })), code: 'GALAXY_PROFILE_SCHEMA', path: 'channels[1].name', reason: /"log" is listed twice/ },
  { name: 'heartbeat too fast', text: edited((p) => (p.failureDetector.heartbeatIntervalMs = 5)), code: 'GALAXY_PROFILE_SCHEMA', path: 'failureDetector.heartbeatIntervalMs', reason: /at least 10 ms/ },
  { name: 'heartbeat not whole', text: edited((p) => (p.failureDetector.heartbeatIntervalMs = 20.5)), code: 'GALAXY_PROFILE_SCHEMA', path: 'failureDetector.heartbeatIntervalMs', reason: /whole number of ms/ },
  { name: 'timeout too long', text: edited((p) => (p.failureDetector.timeoutMs = 10_000_000)), code: 'GALAXY_PROFILE_SCHEMA', path: 'failureDetector.timeoutMs', reason: /at most 600000 ms/ },
  { name: 'timeout shorter than two heartbeats', text: edited((p) => (p.failureDetector.timeoutMs = 300)), code: 'GALAXY_PROFILE_SEMANTICS', path: 'failureDetector.timeoutMs', reason: /300 ms is shorter than 2 heartbeats of 200 ms/ },
  { name: 'adaptive timeout ceiling below the timeout', text: edited((p) => (p.failureDetector.timeoutMaxMs = 800)), code: 'GALAXY_PROFILE_SEMANTICS', path: 'failureDetector.timeoutMaxMs', reason: /800 ms is shorter than timeoutMs \(1000 ms\)/ },
  { name: 'adaptive timeout ceiling not whole', text: edited((p) => (p.failureDetector.timeoutMaxMs = 1500.5)), code: 'GALAXY_PROFILE_SCHEMA', path: 'failureDetector.timeoutMaxMs', reason: /whole number of ms/ },
  { name: 'relayEvidence not a boolean', text: edited((p) => (p.failureDetector.relayEvidence = 'yes')), code: 'GALAXY_PROFILE_SCHEMA', path: 'failureDetector.relayEvidence', reason: /must be true or false/ },
  { name: 'unknown failure-detector field', text: edited((p) => (p.failureDetector.relayEvidences = false)), code: 'GALAXY_PROFILE_SCHEMA', path: 'failureDetector', reason: /unknown field "relayEvidences"/ },
  { name: 'network missing', text: edited((p) => delete p.networks.failureDetection), code: 'GALAXY_PROFILE_SCHEMA', path: 'networks.failureDetection', reason: /is required/ },
  { name: 'network attribute not a key', text: edited((p) => (p.networks.admin.attribute = 'bad key!')), code: 'GALAXY_PROFILE_SCHEMA', path: 'networks.admin.attribute', reason: /must be an FMIDB attribute key/ },
  { name: 'unknown traffic kind', text: edited((p) => (p.networks.storage = { attribute: 'x' })), code: 'GALAXY_PROFILE_SCHEMA', path: 'networks', reason: /unknown field "storage"/ },
  { name: 'landscape and sql both', text: edited((p) => (p.roles.primary.placement.sql = 'SELECT node FROM nodes')), code: 'GALAXY_PROFILE_SEMANTICS', path: 'roles.primary.placement', reason: /both landscape and sql/ },
  { name: 'landscape name bad', text: edited((p) => (p.roles.primary.placement.landscape = 'web farm')), code: 'GALAXY_PROFILE_SCHEMA', path: 'roles.primary.placement.landscape', reason: /must be a landscape name/ },
  { name: 'empty sql', text: edited((p) => (p.roles.primary.placement = { sql: '' })), code: 'GALAXY_PROFILE_SCHEMA', path: 'roles.primary.placement.sql', reason: /must not be empty/ },
  { name: 'anti-affinity without attribute', text: edited((p) => (p.roles.primary.placement.antiAffinity = { hard: true })), code: 'GALAXY_PROFILE_SCHEMA', path: 'roles.primary.placement.antiAffinity.attribute', reason: /is required/ },
  { name: 'dependency on a component not in the role', text: edited((p) => (p.roles.primary.components[1].after = ['galaxy-vm'])), code: 'GALAXY_PROFILE_DEPENDENCY', path: 'roles.primary.components[1].after[0]', reason: /no component "galaxy-vm" in role primary/ },
  { name: 'dependency on itself', text: edited((p) => (p.roles.primary.components[1].after = ['galaxy-lock-manager'])), code: 'GALAXY_PROFILE_DEPENDENCY', path: 'roles.primary.components[1].after[0]', reason: /cannot start after itself/ },
  { name: 'dependency cycle', text: edited((p) => (p.roles.primary.components[0].after = ['galaxy-lock-manager'])), code: 'GALAXY_PROFILE_DEPENDENCY', path: 'roles.primary.components', reason: /start-order cycle: galaxy-log → galaxy-lock-manager → galaxy-log/ },
  { name: 'undeclared channel', text: edited((p) => (p.roles.primary.components[1].channels = ['locks'])), code: 'GALAXY_PROFILE_SEMANTICS', path: 'roles.primary.components[1].channels[0]', reason: /channel "locks" is not declared in channels \(declared: log\)/ },
  { name: 'role after an unknown role', text: edited((p) => (p.roles.backup.after = ['leader'])), code: 'GALAXY_PROFILE_DEPENDENCY', path: 'roles.backup.after[0]', reason: /no role "leader" \(roles: primary, backup\)/ },
  { name: 'role cycle', text: edited((p) => (p.roles.primary.after = ['backup'])), code: 'GALAXY_PROFILE_DEPENDENCY', path: 'roles', reason: /role start-order cycle: primary → backup → primary/ },
  { name: 'no roles', text: edited((p) => (p.roles = {})), code: 'GALAXY_PROFILE_SEMANTICS', path: 'roles', reason: /has no roles/ },
  { name: 'roles missing', text: edited((p) => delete p.roles), code: 'GALAXY_PROFILE_SCHEMA', path: 'roles', reason: /is required/ },
  { name: 'roles a list', text: edited((p) => (p.roles = [p.roles.primary])), code: 'GALAXY_PROFILE_SCHEMA', path: 'roles', reason: /must be a map, not a list/ },
  { name: 'bad role name', text: edited((p) => (p.roles.Primary = p.roles.primary)), code: 'GALAXY_PROFILE_SCHEMA', path: 'roles.Primary', reason: /1 to 63 of a-z/ },
  { name: 'every count 0', text: edited((p) => ((p.roles.primary.count = 0), (p.roles.backup.count = 0))), code: 'GALAXY_PROFILE_SEMANTICS', path: 'roles', reason: /the cluster would be empty/ },
  { name: 'too many members', text: edited((p) => ((p.roles.primary.count = 40), (p.roles.backup.count = { min: 40, max: 40 }))), code: 'GALAXY_PROFILE_SEMANTICS', path: 'roles', reason: /at least 80 members; a cluster has at most 64/ },
  { name: 'extends not a reference', text: edited((p) => (p.extends = 'Base@@1')), code: 'GALAXY_PROFILE_SCHEMA', path: 'extends', reason: /"Base@@1" is not a profile reference/ },
  { name: 'mixins not a list', text: edited((p) => (p.mixins = 'fast')), code: 'GALAXY_PROFILE_SCHEMA', path: 'mixins', reason: /must be a list, not string/ },
  { name: 'a mixin is not deployed', text: edited((p) => (p.kind = 'ProfileMixin')), code: 'GALAXY_PROFILE_KIND', path: 'kind', reason: /is a ProfileMixin: it is composed into profiles, not deployed/ },
];

describe('bad profiles', () => {
  it.each(kCases)('$name', ({ text, code, path, reason }) => {
    const error = refusal(text);
    expect(error.code).toBe(code);
    const problem = error.problems.find((p) => p.path === path && reason.test(p.reason));
    expect(problem, `expected ${path}: ${reason} among:\n${error.message}`).toBeDefined();
    expect(problem!.file).toBe('pb.yaml');
    expect(error.message).toContain(`pb.yaml`);
    expect(error.message).toContain(path === '' ? problem!.reason : `${path}: ${problem!.reason}`);
  });

  it('the failure detector\'s optional relayEvidence and timeoutMaxMs reach the cluster definition\'s tuning, checked by the cluster core\'s resolver', () => {
    const document = parseProfileDocument('pb.yaml', edited((p) => ((p.failureDetector.relayEvidence = false), (p.failureDetector.timeoutMaxMs = 2500))));
    const profile = checkComposition(composeProfile(document, new ListProfileSource([document], 'the test')));
    expect(profile.failureDetector).toEqual({ heartbeatIntervalMs: 200, timeoutMs: 1000, timeoutMaxMs: 2500, relayEvidence: false });
    const tuning = clusterTuningOf(profile);
    expect(tuning).toEqual({ heartbeatIntervalMs: 200, suspectTimeoutMs: 1000, suspectTimeoutMaxMs: 2500, relayEvidence: false });
    expect(checkTuning(tuning)).toEqual(tuning);
    const plain = parseProfileDocument('pb.yaml', kGood);
    expect(clusterTuningOf(checkComposition(composeProfile(plain, new ListProfileSource([plain], 'the test'))))).toEqual({ heartbeatIntervalMs: 200, suspectTimeoutMs: 1000 });
  });

  it('the valid profile these cases edit is accepted, with its start order of roles and components kept', () => {
    const document = parseProfileDocument('pb.yaml', kGood);
    const profile = checkComposition(composeProfile(document, new ListProfileSource([document], 'the test')));
    expect(Object.keys(profile.roles)).toEqual(['primary', 'backup']);
    expect(profile.roles['primary']!.components[1]!.config).toEqual({ leaseMs: 500 });
  });

  it('gives line and column of the offending value', () => {
    const error = refusal(kGood.replace('version: ^1.0.0, after', 'version: latest, after'));
    expect(error.problems[0]).toMatchObject({ path: 'roles.primary.components[1].version', line: 20, column: 50 });
    expect(error.message).toMatch(/^pb\.yaml:20:50: roles\.primary\.components\[1\]\.version: "latest" is not a version range/);
  });

  it('reports every schema problem of a file at once', () => {
    const error = refusal(edited((p) => ((p.version = 'one'), (p.failureDetector.timeoutMs = -1), (p.roles.primary.components[0].version = 'x.y'))));
    expect(error.problems.map((p) => p.path).sort()).toEqual(['failureDetector.timeoutMs', 'roles.primary.components[0].version', 'version']);
  });

  it('YAML syntax errors carry line and column', () => {
    const error = refusal('apiVersion: galaxy/v1\nkind: ClusterProfile\nroles: [unclosed\nname: x\n');
    expect(error.code).toBe('GALAXY_PROFILE_YAML');
    expect(error.problems[0]!.line).toBeGreaterThanOrEqual(3);
    expect(error.message).toMatch(/^pb\.yaml:\d+:\d+: /);
  });

  it('a key given twice is a YAML error at its line', () => {
    const error = refusal(kGood.replace('name: pb\n', 'name: pb\nname: pc\n'));
    expect(error.code).toBe('GALAXY_PROFILE_YAML');
    expect(error.problems[0]).toMatchObject({ line: 4 });
    expect(error.problems[0]!.reason).toMatch(/unique/i);
  });

  it('refuses an empty file, several documents, a list, and a file over the size bound', () => {
    expect(refusal('').message).toMatch(/^pb\.yaml: is empty/);
    expect(refusal(`${kGood}---\n${kGood}`).message).toMatch(/^pb\.yaml: holds 2 YAML documents/);
    expect(refusal('- a\n- b\n').message).toMatch(/^pb\.yaml: must be a map/);
    const big = refusal(`${kGood}# ${'x'.repeat(kProfileBytesMax)}\n`);
    expect(big.code).toBe('GALAXY_PROFILE_TOO_LARGE');
    expect(big.message).toBe(`pb.yaml: is larger than ${kProfileBytesMax} bytes`);
    expect(big.kind).toBe('too-large');
    expect(refusal('').kind).toBe('invalid');
  });
});
