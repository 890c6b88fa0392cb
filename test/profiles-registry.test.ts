// Proves the FMIDB registry of profiles against real FMIDB replicas (two FmidbReplica
// wired by hand with a manual clock, as in test/fmidb-replica.test.ts): a profile
// imported on one node is exported byte for byte on the other; texts larger than one
// FMIDB value are cut into parts (never inside a character) and joined again; the
// shipped profiles compose and validate with the registry as their source; a version is
// immutable (same text: nothing written; other text: refused); a version whose parts are
// missing or corrupt is pending, not used (the digest check catching it); remove deletes
// it everywhere; bad profiles and names too long for an FMIDB subject are refused.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { catalogOf } from '../src/cluster/profiles/package-catalog.js';
import { ProfileError } from '../src/cluster/profiles/profile-error.js';
import { ProfileRegistry, type ProfileStore } from '../src/cluster/profiles/profile-registry.js';
import { validateProfile } from '../src/cluster/profiles/profile-validation.js';
import { resolveFmidbConfig, type FmidbOptions } from '../src/core/fmidb/config.js';
import { FmidbMemory } from '../src/core/fmidb/fmidb-memory.js';
import { createFmidbRuntime } from '../src/core/kernels/fmidb-runtime.js';
import { FmidbReplica } from '../src/core/fmidb/fmidb-replica.js';
import { Prng } from '../src/core/util/prng.js';
import { packageRoot } from '../src/core/platform/package-root.js';

const kOptions: FmidbOptions = { originsMax: 16, streamFrameBytesMax: 8192, gossipIntervalMs: 100, syncIntervalMs: 0, announceBatchMin: 1, valueBytesMax: 1024 };
const kProfiles = join(packageRoot(), 'profiles');

/** Two replicas, A and B, delivering to each other synchronously. */
function pair(): { a: FmidbReplica; b: FmidbReplica; settle: () => void } {
  const config = resolveFmidbConfig(kOptions);
  const memory = new FmidbMemory(createFmidbRuntime(config, 4), config);
  let nowMs = 1_000_000;
  const replicas = new Map<string, FmidbReplica>();
  for (const [id, seed] of [['aaaaaaaaaaaaaaaa', 1], ['bbbbbbbbbbbbbbbb', 2]] as const) replicas.set(id, new FmidbReplica({ selfId: id, config: kOptions, random: new Prng(seed), nowMs: () => nowMs, memory }));
  const ids = [...replicas.keys()];
  for (const r of replicas.values()) r.peersChanged(ids);
  const deliver = () => {
    for (let round = 0; round < 1000; round++) {
      const mail: Array<{ from: string; to: string; bytes: Uint8Array; stream: boolean }> = [];
      for (const [id, r] of replicas) for (const m of r.drainOutbox()) mail.push({ from: id, to: m.to, bytes: m.bytes.slice(), stream: m.stream });
      if (mail.length === 0) return;
      for (const m of mail) replicas.get(m.to)?.receive(m.from, m.bytes, m.stream);
    }
    throw new Error('the replicas never went quiet');
  };
  const settle = () => {
    for (let t = 0; t < 2000; t += 50) {
      nowMs += 50;
      for (const r of replicas.values()) r.tick();
      deliver();
    }
  };
  return { a: replicas.get(ids[0]!)!, b: replicas.get(ids[1]!)!, settle };
}

/** A replica as the registry's store: reads straight from it, a write applied at once (as FarmData resolves once its view has the change). */
function storeOf(replica: FmidbReplica): ProfileStore {
  return { config: replica.config, view: replica, write: async (writes) => replica.setMany(writes) };
}

const shipped = (file: string) => readFileSync(join(kProfiles, file), 'utf8');

describe('profile registry in the FMIDB', async () => {
  it('a profile imported on one node is exported byte for byte on another, cut into parts when large', async () => {
    const { a, b, settle } = pair();
    const text = `${shipped('base.yaml')}# ${'é'.repeat(700)} 🚀 ${'x'.repeat(900)}\n`;
    expect(Buffer.byteLength(text)).toBeGreaterThan(3 * 1024);
    const imported = await new ProfileRegistry(storeOf(a)).importProfile('base.yaml', text);
    expect(imported.written).toBe(true);
    settle();
    const onB = new ProfileRegistry(storeOf(b));
    expect(onB.exportProfile('base', '1.0.0')).toBe(text);
    expect(onB.list()).toEqual([{ name: 'base', version: '1.0.0', kind: 'ClusterProfile', bytes: Buffer.byteLength(text), complete: true }]);
    const parts = b.entriesOf('profile/base').filter((e) => e.key !== '1.0.0#meta');
    expect(parts.length).toBeGreaterThanOrEqual(4);
    for (const part of parts) expect(Buffer.byteLength(String(part.value))).toBeLessThanOrEqual(1024);
  });

  it('the shipped profiles compose and validate with the registry as source; errors name the FMIDB entry', async () => {
    const { a, b, settle } = pair();
    const registry = new ProfileRegistry(storeOf(a));
    for (const file of ['primary-backup.yaml', 'mixin-fast-failover.yaml', 'base.yaml']) await registry.importProfile(file, shipped(file));
    settle();
    const onB = new ProfileRegistry(storeOf(b));
    expect(onB.names()).toEqual(['base', 'fast-failover', 'primary-backup']);
    const result = validateProfile(onB.versionsOf('primary-backup')[0]!, onB, catalogOf([]));
    expect(result.composition.lineage).toEqual(['base@1.0.0', 'fast-failover@1.0.0', 'primary-backup@1.0.0']);
    expect(result.profile!.failureDetector.heartbeatIntervalMs).toBe(150);
    expect(result.file).toBe('fmidb:profile/primary-backup@1.0.0');
    // Without its mixin, composition names the registry entry and where it looked.
    await onB.remove('fast-failover', '1.0.0');
    let error: unknown;
    try {
      validateProfile(onB.versionsOf('primary-backup')[0]!, onB, catalogOf([]));
    } catch (caught) {
      error = caught;
    }
    expect((error as ProfileError).message).toBe('fmidb:profile/primary-backup@1.0.0:9:10: mixins[0]: fast-failover not found in the FMIDB (known: base, primary-backup)');
  });

  it('a version is immutable: the same text writes nothing, other text is refused', async () => {
    const { a } = pair();
    const registry = new ProfileRegistry(storeOf(a));
    const text = shipped('mixin-fast-failover.yaml');
    expect((await registry.importProfile('f.yaml', text)).written).toBe(true);
    expect((await registry.importProfile('f.yaml', text)).written).toBe(false);
    await expect(registry.importProfile('g.yaml', text.replace('timeoutMs: 1000', 'timeoutMs: 900'))).rejects.toThrow(
      /^g\.yaml: fast-failover@1\.0\.0 is already in the FMIDB with other content; a profile version is immutable: publish a new version$/,
    );
    expect((await registry.importProfile('h.yaml', text.replace('version: 1.0.0', 'version: 1.1.0').replace('timeoutMs: 1000', 'timeoutMs: 900'))).written).toBe(true);
    expect(registry.versionsOf('fast-failover').map((d) => d.version)).toEqual(['1.0.0', '1.1.0']);
  });

  it('a version with a part missing or corrupt is pending and not used; the digest check catches the corruption', async () => {
    const { a, b, settle } = pair();
    const text = `${shipped('base.yaml')}# ${'x'.repeat(2000)}\n`;
    await new ProfileRegistry(storeOf(a)).importProfile('base.yaml', text);
    settle();
    const onB = new ProfileRegistry(storeOf(b));
    expect(onB.versionsOf('base')).toHaveLength(1);
    // A corrupt part (a bad write by any node) replicates like any entry.
    a.set('profile/base', '1.0.0#1', 'tampered');
    settle();
    expect(onB.list()[0]!.complete).toBe(false);
    expect(onB.exportProfile('base', '1.0.0')).toBeNull();
    expect(onB.versionsOf('base')).toEqual([]);
    // A meta whose parts have not arrived.
    b.set('profile/lonely', '1.0.0#meta', JSON.stringify({ kind: 'ClusterProfile', bytes: 10, parts: 2, sha256: '0'.repeat(64) }));
    expect(onB.list().find((e) => e.name === 'lonely')).toEqual({ name: 'lonely', version: '1.0.0', kind: 'ClusterProfile', bytes: 10, complete: false });
    expect(onB.names()).toEqual([]);
  });

  it('remove deletes a version everywhere, after which it may be imported anew', async () => {
    const { a, b, settle } = pair();
    const registry = new ProfileRegistry(storeOf(a));
    const text = shipped('mixin-dual-network.yaml');
    await registry.importProfile('d.yaml', text);
    settle();
    expect(await new ProfileRegistry(storeOf(b)).remove('dual-network', '1.0.0')).toBe(true);
    expect(await new ProfileRegistry(storeOf(b)).remove('dual-network', '9.9.9')).toBe(false);
    settle();
    expect(registry.exportProfile('dual-network', '1.0.0')).toBeNull();
    expect(registry.list()).toEqual([]);
    expect((await registry.importProfile('d.yaml', text.replace('description:', '# edited\ndescription:'))).written).toBe(true);
  });

  it('refuses bad profiles (with file and path) and names that do not fit an FMIDB subject', async () => {
    const { a } = pair();
    const registry = new ProfileRegistry(storeOf(a));
    await expect(registry.importProfile('bad.yaml', 'apiVersion: galaxy/v1\nkind: ClusterProfile\nname: x\nversion: one\n')).rejects.toThrow(/^bad\.yaml:4:10: version: "one" is not a semantic version/);
    const long = shipped('mixin-dual-network.yaml').replace('name: dual-network', `name: ${'n'.repeat(60)}`);
    let error: unknown;
    try {
      await registry.importProfile('long.yaml', long);
    } catch (caught) {
      error = caught;
    }
    expect((error as ProfileError).code).toBe('GALAXY_PROFILE_REGISTRY');
    expect((error as ProfileError).message).toMatch(/^long\.yaml: the FMIDB subject profile\/n{60} is longer than 64 bytes: use a shorter name$/);
  });
});
