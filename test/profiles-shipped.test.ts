// Proves the profiles shipped in profiles/ (the paper's Table 1): every file parses,
// composes and passes the checks; each of the eight profiles lists the components of
// its Table 1 row (as package names) and no others, besides the farm components it
// uses; `validate` reports as missing exactly the components that are not farm
// components (none of the cluster component packages exist yet), so no profile
// pretends to be deployable; render re-parses to the composed profile and renders
// again to the same text; each profile places on a farm of 64 nodes in 8 racks.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { kFarmComponentPackages, catalogOf } from '../src/cluster/profiles/package-catalog.js';
import { checkComposition } from '../src/cluster/profiles/profile-check.js';
import { composeProfile } from '../src/cluster/profiles/profile-composer.js';
import { parseProfileDocument } from '../src/cluster/profiles/profile-document.js';
import { readProfileDirectory } from '../src/cluster/profiles/profile-files.js';
import { assertPlaced, placeProfile, type FarmNode } from '../src/cluster/profiles/profile-placement.js';
import { renderProfile } from '../src/cluster/profiles/profile-render.js';
import { ListProfileSource } from '../src/cluster/profiles/profile-source.js';
import { validateProfile } from '../src/cluster/profiles/profile-validation.js';
import { packageRoot } from '../src/core/platform/package-root.js';

const kDir = join(packageRoot(), 'profiles');

/** Table 1 of the paper, row by row, as the package names the profiles use. */
const kTable1: Record<string, readonly string[]> = {
  // Process & job control, install & versioning, debugging and distributed logging, Visual Studio integration, resource measurement.
  'application-development': ['jobs', 'galaxy-version-service', 'galaxy-debug-service', 'galaxy-distributed-log', 'galaxy-ide-bridge', 'measurement'],
  // Component runtime, component & factory membership, debugging, logging and monitoring, isolation; state management,
  // global snapshots & checkpointing, synchronization, consensus, voting, shared data structures.
  'component-management': [
    'galaxy-component-runtime', 'galaxy-component-membership', 'galaxy-debug-service', 'events', 'measurement', 'galaxy-isolation-service',
    'galaxy-state-manager', 'galaxy-snapshot-service', 'galaxy-sync-service', 'galaxy-consensus-service', 'galaxy-voting-service', 'galaxy-shared-data',
  ],
  // Client management, application level request routing, specialized measurement, synchronization, state sharing, shared VM.
  'game-server': ['galaxy-client-manager', 'galaxy-request-router', 'galaxy-game-measurement', 'galaxy-sync-service', 'galaxy-state-sharing', 'galaxy-shared-vm', 'measurement'],
  // Distributed log, VM replication, transaction service, lock manager, fail-over & reconfiguration.
  'primary-backup': ['galaxy-distributed-log', 'galaxy-vm-replication', 'galaxy-transaction-service', 'galaxy-lock-manager', 'galaxy-failover-manager'],
  // Fail-over manager, resource manager & controllers, node manager, membership manager, event processor, database manager,
  // object manager, global update manager, checkpoint manager, log manager.
  'mscs-compatible': [
    'galaxy-failover-manager', 'galaxy-resource-manager', 'galaxy-node-manager', 'galaxy-membership-manager', 'galaxy-event-processor',
    'galaxy-database-manager', 'galaxy-object-manager', 'galaxy-global-update-manager', 'galaxy-checkpoint-manager', 'galaxy-log-manager', 'measurement',
  ],
  // Fail-over & reconfiguration, version & install, multicast file transfer, cache control.
  'cloned-service': ['galaxy-failover-manager', 'galaxy-version-service', 'galaxy-multicast-file-transfer', 'galaxy-cache-control', 'measurement'],
  // Client request redirector, distributed log, synchronization, transaction service, lock manager, shared state manager, fail-over.
  'partitioned-service': ['galaxy-request-redirector', 'galaxy-distributed-log', 'galaxy-sync-service', 'galaxy-transaction-service', 'galaxy-lock-manager', 'galaxy-shared-state', 'galaxy-failover-manager', 'measurement'],
  // Job queuing manager, process & job control, synchronization, logging & debugging.
  'parallel-computing': ['galaxy-job-queue', 'jobs', 'scripts', 'galaxy-sync-service', 'galaxy-distributed-log', 'galaxy-debug-service', 'measurement'],
};

const kFarmCatalog = catalogOf(kFarmComponentPackages.map((name) => `${name}@0.1.0`));

function shipped() {
  const { source, skipped } = readProfileDirectory(kDir);
  return { source, skipped, documents: source.names().flatMap((name) => source.versionsOf(name)) };
}

/** 64 nodes, 8 per rack, each with an address and a data network, all in landscape `all`. */
function farm(): { nodes: FarmNode[]; landscapes: Record<string, string[]> } {
  const nodes = Array.from({ length: 64 }, (_, i) => ({ id: (i + 1).toString(16).padStart(16, '0'), attributes: { address: `10.0.${i >> 3}.${i & 7}`, 'net.data': `192.168.${i >> 3}.${i & 7}`, rack: `r${i % 8}` } }));
  return { nodes, landscapes: { all: nodes.map((n) => n.id) } };
}

describe('shipped profiles', () => {
  it('the folder holds the eight profiles of Table 1, the base and the mixins, and every file parses', () => {
    const { source, skipped } = shipped();
    expect(skipped).toEqual([]);
    expect(readdirSync(kDir).filter((f) => f.endsWith('.yaml')).length).toBe(source.names().length);
    for (const name of Object.keys(kTable1)) expect(source.names()).toContain(name);
  });

  it.each(Object.keys(kTable1))('%s validates, lists its Table 1 components, and says which are missing', (name) => {
    const { source } = shipped();
    const document = source.versionsOf(name)[0]!;
    const result = validateProfile(document, source, kFarmCatalog);
    expect(result.profile).not.toBeNull();
    const packages = new Set(Object.values(result.profile!.roles).flatMap((role) => role.components.map((c) => c.package)));
    expect([...packages].sort()).toEqual([...new Set(kTable1[name])].sort());
    // No cluster component package exists yet: everything but the farm components is missing.
    const expectedMissing = [...packages].filter((p) => !(kFarmComponentPackages as readonly string[]).includes(p)).sort();
    expect([...new Set(result.missing.map((m) => m.package))].sort()).toEqual(expectedMissing);
    expect(result.deployable).toBe(false);
    expect(result.composition.lineage[0]).toBe('base@1.0.0');
  });

  it('the base profile alone uses only farm components and is deployable; mixins compose but are not deployed', () => {
    const { source } = shipped();
    expect(validateProfile(source.versionsOf('base')[0]!, source, kFarmCatalog).deployable).toBe(true);
    for (const mixin of ['fast-failover', 'dual-network']) {
      const result = validateProfile(source.versionsOf(mixin)[0]!, source, kFarmCatalog);
      expect([result.profile, result.deployable]).toEqual([null, false]);
    }
    // With every package present, a profile is deployable.
    const pb = source.versionsOf('primary-backup')[0]!;
    const all = catalogOf(kTable1['primary-backup']!.map((p) => `${p}@1.0.0`));
    expect(validateProfile(pb, source, all).deployable).toBe(true);
  });

  it.each(Object.keys(kTable1))('%s renders to YAML that is itself a valid profile equal to the composition', (name) => {
    const { source } = shipped();
    const composition = composeProfile(source.versionsOf(name)[0]!, source);
    const profile = checkComposition(composition);
    const text = renderProfile(composition);
    expect(parse(text)).toEqual(profile);
    const again = parseProfileDocument(`${name}.rendered.yaml`, text);
    const recomposed = composeProfile(again, new ListProfileSource([again], 'rendered'));
    expect(checkComposition(recomposed)).toEqual(profile);
    expect(renderProfile(recomposed).split('\n').slice(1)).toEqual(text.split('\n').slice(1));
  });

  it.each(Object.keys(kTable1))('%s places on 64 nodes in 8 racks', (name) => {
    const { source } = shipped();
    const profile = checkComposition(composeProfile(source.versionsOf(name)[0]!, source));
    const placement = placeProfile({ profile, ...farm() });
    expect(placement.problems).toEqual([]);
    expect(() => assertPlaced(placement, profile)).not.toThrow();
    expect(new Set(placement.members.map((m) => m.node)).size).toBe(placement.members.length);
  });
});
