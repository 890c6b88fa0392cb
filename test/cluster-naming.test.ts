// The cluster service's pieces that need no agent: the one naming scheme
// (cluster/<name>/member/<node-id>/component/<kind>) builds what it parses and refuses
// what would not parse back; a definition read from the FMIDB is checked again (a peer's
// bad record defines nothing); member selection by landscape takes the first `size` in
// id order on every node; incarnations per cluster only grow, survive a reload, and
// restart at 0 for a cluster created again (a new uid). Plain function calls and a
// temporary file, no timers.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DomainError } from '../src/core/util/domain-error.js';
import { checkTuning, decodeDefinition, encodeDefinition, selectMembers, type ClusterDefinition } from '../src/cluster/service/cluster-definition.js';
import { ClusterIncarnations } from '../src/cluster/service/cluster-incarnations.js';
import { clusterName, parseClusterName } from '../src/cluster/service/cluster-name.js';

const kA = '0123456789abcdef';
const kB = 'fedcba9876543210';

function codeOf(f: () => unknown): string {
  try {
    f();
  } catch (error) {
    return error instanceof DomainError ? error.code : `not a DomainError: ${String(error)}`;
  }
  return 'no error';
}

const kDefinition: ClusterDefinition = {
  format: 1, name: 'web', uid: '00112233aabbccdd', nodes: [kB, kA], landscape: null, size: null, tuning: { suspectTimeoutMs: 300 }, profile: 'p',
  createdAtMs: 1, createdBy: kA, updatedAtMs: 1, deleted: false,
};

describe('cluster names', () => {
  it('builds and parses cluster, member and component names', () => {
    for (const parts of [{ cluster: 'web' }, { cluster: 'web-1.a_b', member: kA }, { cluster: 'W', member: kB, component: 'http-server' }]) {
      expect(parseClusterName(clusterName(parts))).toEqual(parts);
    }
    expect(clusterName({ cluster: 'web', member: kA, component: 'db' })).toBe(`cluster/web/member/${kA}/component/db`);
  });

  it('refuses parts that would not parse back, and parses nothing else', () => {
    expect(codeOf(() => clusterName({ cluster: 'a/b' }))).toBe('GALAXY_CLUSTER_BAD_NAME');
    expect(codeOf(() => clusterName({ cluster: '' }))).toBe('GALAXY_CLUSTER_BAD_NAME');
    expect(codeOf(() => clusterName({ cluster: 'x'.repeat(49) }))).toBe('GALAXY_CLUSTER_BAD_NAME');
    expect(codeOf(() => clusterName({ cluster: 'web', member: 'node-1' }))).toBe('GALAXY_CLUSTER_BAD_NAME');
    expect(codeOf(() => clusterName({ cluster: 'web', component: 'db' }))).toBe('GALAXY_CLUSTER_BAD_NAME');
    expect(codeOf(() => clusterName({ cluster: 'web', member: kA, component: 'Db' }))).toBe('GALAXY_CLUSTER_BAD_NAME');
    for (const text of ['web', 'cluster/', 'cluster/web/member', `cluster/web/node/${kA}`, `cluster/web/member/${kA}/component`, `cluster/web/member/${kA}/component/db/x`, 'landscape/web']) {
      expect(parseClusterName(text), text).toBeNull();
    }
  });
});

describe('cluster definitions', () => {
  it('round-trip through the FMIDB value and refuse a bad record', () => {
    expect(decodeDefinition(encodeDefinition(kDefinition))).toEqual(kDefinition);
    expect(decodeDefinition(42)).toBeNull();
    expect(decodeDefinition('{not json')).toBeNull();
    expect(decodeDefinition(JSON.stringify({ ...kDefinition, extra: 1 }))).toBeNull();
    expect(decodeDefinition(JSON.stringify({ ...kDefinition, landscape: 'l' }))).toBeNull();
    expect(decodeDefinition(JSON.stringify({ ...kDefinition, nodes: null }))).toBeNull();
    expect(decodeDefinition(JSON.stringify({ ...kDefinition, tuning: { heartbeatIntervalMs: 100, suspectTimeoutMs: 150 } }))).toBeNull();
    expect(decodeDefinition(JSON.stringify({ ...kDefinition, nodes: ['nope'] }))).toBeNull();
  });

  it('checks the tuning with the cluster core\'s own resolver', () => {
    expect(checkTuning({ heartbeatIntervalMs: 20, suspectTimeoutMs: 100 })).toEqual({ heartbeatIntervalMs: 20, suspectTimeoutMs: 100 });
    expect(codeOf(() => checkTuning({ heartbeatIntervalMs: 100, suspectTimeoutMs: 150 }))).toBe('GALAXY_CLUSTER_BAD_TUNING');
    expect(codeOf(() => checkTuning({ membersMax: 5000 }))).toBe('GALAXY_CLUSTER_BAD_TUNING');
    // relayEvidence and the adaptive timeout's ceiling (session 9) are tuning fields too, checked the same way.
    expect(checkTuning({ relayEvidence: false, suspectTimeoutMaxMs: 1200 })).toEqual({ relayEvidence: false, suspectTimeoutMaxMs: 1200 });
    expect(codeOf(() => checkTuning({ suspectTimeoutMs: 500, suspectTimeoutMaxMs: 450 }))).toBe('GALAXY_CLUSTER_BAD_TUNING');
    expect(codeOf(() => checkTuning({ relayEvidence: 'no' as unknown as boolean }))).toBe('GALAXY_CLUSTER_BAD_TUNING');
    expect(decodeDefinition(JSON.stringify({ ...kDefinition, tuning: { relayEvidence: false } }))?.tuning).toEqual({ relayEvidence: false });
    expect(decodeDefinition(JSON.stringify({ ...kDefinition, tuning: { relayEvidence: 1 } }))).toBeNull();
    expect(decodeDefinition(JSON.stringify({ ...kDefinition, tuning: { suspectTimeoutMaxMs: 100 } }))).toBeNull();
  });

  it('selects explicit nodes sorted, and a landscape\'s first `size` nodes in id order', () => {
    expect(selectMembers(kDefinition, () => [])).toEqual([kA, kB]);
    const byLandscape: ClusterDefinition = { ...kDefinition, nodes: null, landscape: 'web-nodes', size: 2 };
    const c = '1111111111111111';
    expect(selectMembers(byLandscape, () => [kB, c, kA])).toEqual([kA, c]);
    expect(selectMembers({ ...byLandscape, size: null }, () => [kB, c, kA])).toEqual([kA, c, kB]);
    expect(() => selectMembers(byLandscape, () => {
      throw new Error('unknown landscape');
    })).toThrow('unknown landscape');
  });
});

describe('cluster incarnations', () => {
  it('grow per cluster generation, survive a reload, and keep a leave', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'galaxy-cluster-inc-')), 'clusters.json');
    const first = new ClusterIncarnations(file);
    expect(first.take('web@1', 1)).toBe(0);
    expect(first.take('web@1', 2)).toBe(1);
    expect(first.take('web@2', 3)).toBe(0);
    first.markLeft('web@1', 4);
    const again = new ClusterIncarnations(file);
    expect(again.take('web@1', 5)).toBe(2);
    expect(again.hasLeft('web@1')).toBe(true);
    expect(again.hasLeft('web@2')).toBe(false);
    expect(JSON.parse(readFileSync(file, 'utf8')).format).toBe(1);
  });
});
