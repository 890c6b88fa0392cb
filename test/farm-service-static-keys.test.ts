// Proves that the FarmService facade acts on KeyRotation's keyring outputs in a farm run
// on pre-shared keys (--key): a real agent (worker thread, real sockets) takes operator
// rotation steps, every change lands in keyring.json with its epoch, the keys the agent
// seals with follow, and a restart comes back with the rotated keyring, not the --key it
// was started with. A step that cannot be done is a coded DomainError and changes nothing.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { keyFingerprint, readStaticKeyring } from '../src/farm/admission/farm-keys.js';
import { FarmService } from '../src/farm/service/farm-service.js';
import { Keyring } from '../src/node/security/keyring.js';

const root = mkdtempSync(join(tmpdir(), 'galaxy-static-keys-'));
const services: FarmService[] = [];

afterAll(async () => {
  await Promise.all(services.map((s) => s.close().catch(() => {})));
});

async function start(keys: string[]): Promise<FarmService> {
  const service = await FarmService.start({ agent: { bind: '127.0.0.1:0', preset: 'local', keys }, dataDir: join(root, 'a'), mode: 'static-keys', roles: [] });
  services.push(service);
  return service;
}

describe('FarmService on static keys', () => {
  it('writes every rotation step to keyring.json and restarts with it', async () => {
    const first = Keyring.generateKey();
    const second = Keyring.generateKey();
    const service = await start([first]);
    expect(service.keyEpoch).toBe(1);
    expect(readStaticKeyring(join(root, 'a'))).toBeNull();

    await service.keyOperation('install', second, 'test');
    expect(readStaticKeyring(join(root, 'a'))).toEqual({ keys: [first, second], epoch: 2 });
    await service.keyOperation('use', second, 'test');
    expect(readStaticKeyring(join(root, 'a'))).toEqual({ keys: [second, first], epoch: 3 });
    await expect(service.keyOperation('remove', second, 'test')).rejects.toMatchObject({ kind: 'conflict', code: 'GALAXY_KEYRING_PRIMARY' });
    await service.keyOperation('remove', first, 'test');
    expect(readStaticKeyring(join(root, 'a'))).toEqual({ keys: [second], epoch: 4 });
    expect(service.keyViews()).toEqual([{ fingerprint: keyFingerprint(second), primary: true }]);
    await expect(service.keyOperation('use', first, 'test')).rejects.toMatchObject({ code: 'GALAXY_KEYRING_UNKNOWN_KEY' });
    expect(service.keyEpoch).toBe(4);
    await service.close();

    // Started again with the old --key: keyring.json is the newer truth.
    const again = await start([first]);
    expect(again.keyEpoch).toBe(4);
    expect(again.keyViews()).toEqual([{ fingerprint: keyFingerprint(second), primary: true }]);
  });
});
