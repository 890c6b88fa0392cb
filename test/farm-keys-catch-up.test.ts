// Proves that a member a rotation step passed by catches up (real agents: worker threads,
// real sockets, a farm on pre-shared keys). Nodes A and B make a new key primary; node C
// holds both keys but never saw the "use" (it starts afterwards with the old key primary,
// as if the broadcast had missed it: an epidemic broadcast can miss a node for good). C
// reads A's announced keyring epoch in its tags, fetches A's keyring (farm RPC
// keyring.state), and seals with the new key; the old key is then removed and C is still
// a live member everywhere. Without the catch-up C would keep sealing with the removed key
// and be declared dead.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { keyFingerprint } from '../src/farm/admission/farm-keys.js';
import { kKeyringEpochTag } from '../src/farm/service/farm-admission.js';
import { FarmService } from '../src/farm/service/farm-service.js';
import { Keyring } from '../src/node/security/keyring.js';
import { until } from './support/until.js';

const root = mkdtempSync(join(tmpdir(), 'galaxy-keys-catch-up-'));
const services: FarmService[] = [];
const kWaitMs = 30_000;

afterAll(async () => {
  await Promise.all(services.map((s) => s.close().catch(() => {})));
});

async function start(name: string, keys: string[], join: string[]): Promise<FarmService> {
  const service = await FarmService.start({ agent: { bind: '127.0.0.1:0', preset: 'local', keys, join }, dataDir: `${root}/${name}`, mode: 'static-keys', roles: [] });
  services.push(service);
  return service;
}

describe('a member a keyring step passed by', () => {
  it('catches up from the epoch a member announces, and stays in the farm when the old key goes', async () => {
    const oldKey = Keyring.generateKey();
    const newKey = Keyring.generateKey();
    const a = await start('a', [oldKey], []);
    const b = await start('b', [oldKey], [a.host.address]);
    await until('A and B see each other', () => a.members().filter((m) => m.status === 'alive').length === 2 && b.members().filter((m) => m.status === 'alive').length === 2, kWaitMs);
    await a.keyOperation('install', newKey, 'test');
    // As an operator does: the key is installed everywhere before it is used.
    await until('B holds the new key', () => b.keyViews().length === 2, kWaitMs);
    await a.keyOperation('use', keyFingerprint(newKey), 'test');
    await until('B holds the new key as primary', () => b.keyViews()[0]!.fingerprint === keyFingerprint(newKey), kWaitMs);
    expect(a.host.tagsOf(a.host.id)[kKeyringEpochTag]).toBe('3');

    // C holds both keys, the old one primary, at epoch 1: the "use" passed it by.
    const c = await start('c', [oldKey, newKey], [a.host.address]);
    expect(c.keyViews()[0]!.fingerprint).toBe(keyFingerprint(oldKey));
    await until('C caught up: the new key primary at epoch 3', () => c.keyEpoch === 3 && c.keyViews()[0]!.fingerprint === keyFingerprint(newKey), kWaitMs);

    await a.keyOperation('remove', keyFingerprint(oldKey), 'test');
    const everyoneLive = () => [a, b, c].every((s) => s.members().filter((m) => m.status === 'alive').length === 3);
    await until('the old key is gone everywhere and all three are live members', () => [a, b, c].every((s) => s.keyViews().length === 1) && everyoneLive(), kWaitMs);
    // Still live a few probe rounds later (C seals with the new key).
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(everyoneLive()).toBe(true);
    expect(c.keyViews()).toEqual([{ fingerprint: keyFingerprint(newKey), primary: true }]);
  }, 120_000);
});
